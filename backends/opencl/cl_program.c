/* backends/opencl/cl_program.c — builds the one program holding every kernel
 * in shaders/opencl (embedded at build time), with the device binary cached on
 * disk keyed by device, driver, build options and source. The cache is best
 * effort: any failure falls back to building from source. */
#include "cl_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

struct agcl_source {
    const char *name;
    const char *text;
};
extern const struct agcl_source agcl_embedded_sources[];
extern const int agcl_embedded_source_count;

static const char *const kernel_names[AGCL_K_COUNT] = {
#define AGCL_NAME(name) #name,
    AGCL_KERNELS(AGCL_NAME)
#undef AGCL_NAME
#define AGI_UNARY(E, name, ...) [AGCL_K_UNARY0 + E] = "unary_" #name,
#include "kernel_ops.def"
#define AGI_BINARY(E, name, ...) [AGCL_K_BINARY0 + E] = "binary_" #name,
#include "kernel_ops.def"
};

const char *agcl_kernel_name(agcl_kernel_id id)
{
    if ((unsigned)id >= AGCL_K_COUNT) return "clblast_gemm";
    return kernel_names[id] ? kernel_names[id] : "?";
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t n)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < n; i++) {
        h ^= p[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

char *agcl_program_source(void)
{
    size_t total = 1;
    for (int i = 0; i < agcl_embedded_source_count; i++)
        total += strlen(agcl_embedded_sources[i].text) + 64 + strlen(agcl_embedded_sources[i].name);
    char *src = malloc(total);
    if (!src) return NULL;
    size_t len = 0;
    for (int i = 0; i < agcl_embedded_source_count; i++)
        len += (size_t)snprintf(src + len, total - len, "\n/* ---- %s ---- */\n%s",
                                agcl_embedded_sources[i].name, agcl_embedded_sources[i].text);
    return src;
}

/* Directory for cached binaries (the shared one), unless AG_OPENCL_NO_CACHE. */
static bool cache_dir(char *out, size_t cap)
{
    const char *env = getenv("AG_OPENCL_NO_CACHE");
    if (env && env[0] && strcmp(env, "0") != 0) return false;
    return agi_cache_dir(out, cap);
}

/* File: magic, u64 length, u64 FNV-1a of the binary, the binary. */
static const char cache_magic[8] = {'A', 'G', 'C', 'L', 'B', 'I', 'N', '2'};

static unsigned char *cache_load(const char *path, size_t *len)
{
    size_t n = 0;
    unsigned char *file = agi_cache_read(path, ((size_t)1 << 31) + 24, &n);
    unsigned char *data = NULL;
    uint64_t want = 0, sum = 0;
    if (file && n > 24 && memcmp(file, cache_magic, 8) == 0) {
        memcpy(&want, file + 8, 8);
        memcpy(&sum, file + 16, 8);
        if (want == n - 24 && fnv1a(0xcbf29ce484222325ull, file + 24, n - 24) == sum) {
            data = malloc(n - 24);
            if (data) memcpy(data, file + 24, n - 24);
        }
    }
    free(file);
    if (data) *len = n - 24;
    return data;
}

static void cache_store(const char *path, const unsigned char *data, size_t len)
{
    unsigned char head[24];
    uint64_t n = len, sum = fnv1a(0xcbf29ce484222325ull, data, len);
    memcpy(head, cache_magic, 8);
    memcpy(head + 8, &n, 8);
    memcpy(head + 16, &sum, 8);
    (void)agi_cache_write(path, head, sizeof head, data, len);
}

/* Removes this device's binaries other than `keep` (best effort). */
static void cache_remove_stale(const char *dir, const char *prefix, const char *keep)
{
    DIR *d = opendir(dir);
    if (!d) return;
    size_t plen = strlen(prefix);
    struct dirent *e;
    char path[1400];
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (strncmp(e->d_name, prefix, plen) != 0 || n < 4 || strcmp(e->d_name + n - 4, ".bin") != 0)
            continue;
        snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
        if (strcmp(path, keep) != 0) remove(path);
    }
    closedir(d);
}

static ag_status build_log_error(agi_backend_device *dev, cl_program prog, cl_int err)
{
    size_t len = 0;
    clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, 0, NULL, &len);
    char *log = len ? malloc(len + 1) : NULL;
    if (log) {
        if (clGetProgramBuildInfo(prog, dev->device, CL_PROGRAM_BUILD_LOG, len, log, NULL) !=
            CL_SUCCESS)
            len = 0;
        log[len] = '\0';
    }
    ag_status st = agi_set_error(AG_ERR_DEVICE, "opencl: building kernels failed: %s (%d): %.700s",
                                 agcl_error_name(err), (int)err, log ? log : "");
    free(log);
    return st;
}

void agcl_build_options(int major, int minor, bool correctly_rounded_div_sqrt, char *out,
                        size_t cap)
{
    snprintf(out, cap, "%s%s", (major > 1 || minor >= 2) ? "-cl-std=CL1.2 " : "",
             correctly_rounded_div_sqrt ? "-cl-fp32-correctly-rounded-divide-sqrt" : "");
}

ag_status agcl_build_program(agi_backend_device *dev)
{
    char options[256];
    char cver[128] = "";
    clGetDeviceInfo(dev->device, CL_DEVICE_OPENCL_C_VERSION, sizeof cver, cver, NULL);
    cver[sizeof cver - 1] = '\0';
    int major = 1, minor = 0;
    if (sscanf(cver, "OpenCL C %d.%d", &major, &minor) != 2) major = 1, minor = 0;
    cl_device_fp_config fp = 0;
    clGetDeviceInfo(dev->device, CL_DEVICE_SINGLE_FP_CONFIG, sizeof fp, &fp, NULL);
    agcl_build_options(major, minor, (fp & CL_FP_CORRECTLY_ROUNDED_DIVIDE_SQRT) != 0, options,
                       sizeof options);

    char *src = agcl_program_source();
    if (!src) return agi_set_error(AG_ERR_OOM, "opencl: host out of memory");
    char plat_ver[256] = "";
    clGetPlatformInfo(dev->platform, CL_PLATFORM_VERSION, sizeof plat_ver, plat_ver, NULL);
    plat_ver[sizeof plat_ver - 1] = '\0';
    /* File name: opencl-<device key>-<program key>.bin; a new program (new
     * sources or options) replaces the device's older binaries. */
    uint64_t hd = 0xcbf29ce484222325ull;
    hd = fnv1a(hd, dev->info.name, strlen(dev->info.name) + 1);
    hd = fnv1a(hd, dev->info.driver, strlen(dev->info.driver) + 1);
    hd = fnv1a(hd, plat_ver, strlen(plat_ver) + 1);
    uint64_t h = fnv1a(hd, options, strlen(options) + 1);
    h = fnv1a(h, src, strlen(src));

    char dir[1100], path[1200], prefix[64];
    bool use_cache = cache_dir(dir, sizeof dir);
    snprintf(prefix, sizeof prefix, "opencl-%016llx-", (unsigned long long)hd);
    if (use_cache)
        snprintf(path, sizeof path, "%s/%s%016llx.bin", dir, prefix, (unsigned long long)h);

    cl_int err = CL_SUCCESS;
    cl_program prog = NULL;
    if (use_cache) {
        size_t len = 0;
        unsigned char *bin = cache_load(path, &len);
        if (bin) {
            const unsigned char *bins[1] = {bin};
            cl_int bstatus = CL_SUCCESS;
            prog = clCreateProgramWithBinary(dev->ctx, 1, &dev->device, &len, bins, &bstatus, &err);
            if (prog && (err != CL_SUCCESS || bstatus != CL_SUCCESS ||
                         clBuildProgram(prog, 1, &dev->device, options, NULL, NULL) != CL_SUCCESS)) {
                clReleaseProgram(prog);
                prog = NULL;
            }
            free(bin);
        }
    }
    bool from_source = prog == NULL;
    if (!prog) {
        const char *srcs[1] = {src};
        prog = clCreateProgramWithSource(dev->ctx, 1, srcs, NULL, &err);
        if (!prog) {
            free(src);
            return agcl_fail(err, "clCreateProgramWithSource");
        }
        err = clBuildProgram(prog, 1, &dev->device, options, NULL, NULL);
        if (err != CL_SUCCESS) {
            ag_status st = build_log_error(dev, prog, err);
            clReleaseProgram(prog);
            free(src);
            return st;
        }
    }
    free(src);
    if (from_source && use_cache) {
        size_t len = 0;
        if (clGetProgramInfo(prog, CL_PROGRAM_BINARY_SIZES, sizeof len, &len, NULL) == CL_SUCCESS &&
            len > 0) {
            unsigned char *bin = malloc(len);
            unsigned char *bins[1] = {bin};
            if (bin && clGetProgramInfo(prog, CL_PROGRAM_BINARIES, sizeof bins, bins, NULL) ==
                           CL_SUCCESS) {
                cache_remove_stale(dir, prefix, path);
                cache_store(path, bin, len);
            }
            free(bin);
        }
    }
    dev->program = prog;
    for (int i = 0; i < AGCL_K_COUNT; i++) {
        if (!kernel_names[i]) continue; /* an empty slot (a comparison's binary_<name>) */
        dev->kernels[i] = clCreateKernel(prog, kernel_names[i], &err);
        if (!dev->kernels[i])
            return agi_set_error(AG_ERR_DEVICE, "opencl: kernel %s missing: %s (%d)",
                                 kernel_names[i], agcl_error_name(err), (int)err);
        size_t wg = 0;
        if (clGetKernelWorkGroupInfo(dev->kernels[i], dev->device, CL_KERNEL_WORK_GROUP_SIZE,
                                     sizeof wg, &wg, NULL) != CL_SUCCESS || wg == 0)
            wg = dev->max_wg;
        dev->kernel_wg[i] = wg;
    }
    /* Tree reductions index outputs by group: their group size must fit every
     * reduction kernel (a power of two). */
    static const agcl_kernel_id tree[] = {
        AGCL_K_reduce_wg_f32,      AGCL_K_reduce_part_f32,     AGCL_K_argreduce_wg_f32,
        AGCL_K_softmax_wg_f32,     AGCL_K_softmax_bwd_wg_f32,  AGCL_K_layer_norm_wg_f32,
        AGCL_K_softmax_wg_f16,     AGCL_K_softmax_bwd_wg_f16,  AGCL_K_layer_norm_wg_f16,
        AGCL_K_softmax_wg_bf16,    AGCL_K_softmax_bwd_wg_bf16, AGCL_K_layer_norm_wg_bf16};
    for (size_t i = 0; i < sizeof tree / sizeof tree[0]; i++)
        while (dev->red_local > 1 && dev->red_local > dev->kernel_wg[tree[i]]) dev->red_local /= 2;
    return AG_OK;
}
