/* tools/anygrad-info.c — lists every device anygrad can open, with all of
 * its ag_device_info fields (like `vulkaninfo --summary`, for anygrad).
 *
 *   $ anygrad-info
 *   anygrad 0.1.0: 2 devices
 *
 *   [0] cpu
 *       name ............ AMD EPYC
 *       ...
 */
#include "anygrad.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *backend_name(ag_backend_kind k)
{
    switch (k) {
    case AG_BACKEND_CPU: return "cpu";
    case AG_BACKEND_VULKAN: return "vulkan";
    case AG_BACKEND_OPENCL: return "opencl";
    }
    return "?";
}

static const char *type_name(ag_device_type t)
{
    switch (t) {
    case AG_DEVICE_CPU: return "cpu";
    case AG_DEVICE_INTEGRATED_GPU: return "integrated gpu";
    case AG_DEVICE_DISCRETE_GPU: return "discrete gpu";
    case AG_DEVICE_OTHER: return "other";
    }
    return "?";
}

/* "24.0 GiB (25769803776 bytes)" */
static const char *fmt_bytes(char *buf, size_t cap, uint64_t b)
{
    static const char *const units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    double v = (double)b;
    int u = 0;
    while (v >= 1024.0 && u < 4) {
        v /= 1024.0;
        u++;
    }
    if (u == 0) snprintf(buf, cap, "%llu B", (unsigned long long)b);
    else snprintf(buf, cap, "%.1f %s (%llu bytes)", v, units[u], (unsigned long long)b);
    return buf;
}

static void field(const char *label, const char *value)
{
    char dots[32];
    size_t n = strlen(label);
    size_t pad = n < 18 ? 18 - n : 1;
    memset(dots, '.', pad);
    dots[pad] = '\0';
    printf("    %s %s %s\n", label, dots, value && value[0] ? value : "(none)");
}

int main(int argc, char **argv)
{
    bool list = argc > 1 && strcmp(argv[1], "--list") == 0;
    if (argc > 2 || (argc > 1 && !list)) {
        printf("usage: %s [--list]\nLists the devices anygrad can use (all backends compiled in).\n"
               "--list prints one line per device for scripts: SPEC<TAB>TYPE<TAB>NAME, with TYPE\n"
               "one of discrete-gpu, integrated-gpu, other, cpu.\n"
               "AG_DEVICE selects the device \"auto\" opens; a backend name alone opens that\n"
               "backend's best device (a GPU before a CPU implementation).\n",
               argv[0]);
        return strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "--help") == 0 ? 0 : 2;
    }
    int n = ag_device_list(NULL, 0);
    if (n < 0) {
        fprintf(stderr, "anygrad-info: listing devices failed: %s\n", ag_last_error());
        return 1;
    }
    ag_device_info *infos = n > 0 ? calloc((size_t)n, sizeof *infos) : NULL;
    if (n > 0 && !infos) {
        fprintf(stderr, "anygrad-info: out of memory\n");
        return 1;
    }
    if (n > 0) {
        int cap = n;
        n = ag_device_list(infos, cap);
        if (n > cap) n = cap; /* a device appeared in between */
        if (n < 0) n = 0;
    }
    if (list) {
        for (int i = 0; i < n; i++) {
            const char *t = type_name(infos[i].type);
            printf("%s\t%s\t%s\n", infos[i].spec,
                   strcmp(t, "discrete gpu") == 0     ? "discrete-gpu"
                   : strcmp(t, "integrated gpu") == 0 ? "integrated-gpu"
                                                      : t,
                   infos[i].name);
        }
        free(infos);
        return 0;
    }
    printf("anygrad %s: %d device%s\n", ag_version(), n, n == 1 ? "" : "s");
    for (int i = 0; i < n; i++) {
        const ag_device_info *d = &infos[i];
        char buf[128];
        printf("\n[%d] %s\n", i, d->spec);
        field("name", d->name);
        field("vendor", d->vendor);
        field("backend", backend_name(d->backend));
        field("type", type_name(d->type));
        field("driver", d->driver);
        field("memory", fmt_bytes(buf, sizeof buf, d->memory_bytes));
        field("max buffer", fmt_bytes(buf, sizeof buf, d->max_buffer_bytes));
        snprintf(buf, sizeof buf, "%u", d->compute_units);
        field("compute units", buf);
        if (d->subgroup_size) snprintf(buf, sizeof buf, "%u", d->subgroup_size);
        else snprintf(buf, sizeof buf, "unknown");
        field("subgroup size", buf);
        field("fp16", d->fp16 ? "yes" : "no");
        field("matrix units", d->matrix_units ? "yes (f16 GEMM)" : "no");
    }
    /* Which device each spec without an index picks (auto honours AG_DEVICE). */
    printf("\n");
    static const char *const names[] = {"auto", "vulkan", "opencl", "cpu"};
    for (size_t k = 0; k < sizeof names / sizeof names[0]; k++) {
        char spec[32];
        if (ag_device_resolve(names[k], spec, sizeof spec) != AG_OK) {
            if (k == 0) printf("auto -> (none: %s)\n", ag_last_error());
            continue;
        }
        const char *name = "";
        for (int i = 0; i < n; i++)
            if (strcmp(infos[i].spec, spec) == 0) name = infos[i].name;
        printf("%-6s -> %s (%s)\n", names[k], spec, name);
    }
    free(infos);
    return 0;
}
