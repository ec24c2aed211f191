/* backends/cpu/cpu_graph.c — graph lists on the CPU: a pre-built list is the
 * records, validated once, with their kernel functions resolved, called in
 * order. */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

struct agi_kernel_list {
    int n;
    agi_kernel *ks;
    cpu_kernel_fn *fns;
};

ag_status cpu_list_build(agi_backend_device *dev, const agi_kernel *ks, int n, agi_kernel_list **out)
{
    (void)dev;
    *out = NULL;
    agi_kernel_list *l = calloc(1, sizeof *l);
    if (l && n > 0) {
        l->ks = malloc((size_t)n * sizeof *l->ks);
        l->fns = malloc((size_t)n * sizeof *l->fns);
    }
    if (!l || (n > 0 && (!l->ks || !l->fns))) {
        cpu_list_free(dev, l);
        return agi_set_error(AG_ERR_OOM, "cpu: host out of memory");
    }
    for (int i = 0; i < n; i++) {
        ag_status st = agi_kernel_validate("cpu", &ks[i], cpu_buffer_bytes); /* once, when built */
        if (st != AG_OK) {
            cpu_list_free(dev, l);
            return st;
        }
        /* 16-bit data of staged ops runs through f32 scratch (stage16.c) */
        l->fns[i] = agi_kernel_staged16(&ks[i]) ? cpu_exec_staged16 : cpu_kernel_for(ks[i].op);
        if (!l->fns[i]) {
            cpu_list_free(dev, l);
            return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: kernel op %d unsupported", (int)ks[i].op);
        }
        l->ks[i] = ks[i];
    }
    l->n = n;
    *out = l;
    return AG_OK;
}

ag_status cpu_list_run(agi_backend_device *dev, agi_kernel_list *l)
{
    for (int i = 0; i < l->n; i++) {
        atomic_fetch_add(&dev->n_kernels, 1);
        ag_status st = l->fns[i](dev, &l->ks[i]);
        if (st != AG_OK) return st;
    }
    return AG_OK;
}

void cpu_list_free(agi_backend_device *dev, agi_kernel_list *l)
{
    (void)dev;
    if (!l) return;
    free(l->ks);
    free(l->fns);
    free(l);
}
