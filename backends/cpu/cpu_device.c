/* backends/cpu/cpu_device.c — the CPU device: enumeration, open/close,
 * 64-byte aligned host buffers with an optional memory cap, transfers, the
 * exec dispatch and the vtable.
 *
 * Environment (read when a device is opened):
 *   AG_NUM_THREADS       worker threads (default: online cores); when set, also
 *                        OpenBLAS's thread count (a process-wide setting). The
 *                        backend's own GEMMs call OpenBLAS single-threaded from
 *                        its pool (see cpu_gemm.c) and restore the count after.
 *   AG_CPU_GEMM=blocked  use the built-in blocked GEMM even when CBLAS exists
 *   AG_CPU_MEMORY_LIMIT  cap on live buffer bytes (to test out-of-memory)
 *   AG_CPU_CACHE_BYTES   bound on freed buffer bytes kept for reuse (default a
 *                        quarter of physical memory, at most 2 GiB; 0 = off) */
#include "cpu.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#ifdef AG_HAVE_CBLAS
#include <cblas.h>
#endif

/* ---- Enumeration ---------------------------------------------------------- */

/* Copies the value of "key : value" from /proc/cpuinfo. */
static bool cpuinfo_field(const char *key, char *out, size_t cap)
{
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return false;
    char line[512];
    size_t klen = strlen(key);
    bool found = false;
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, key, klen) != 0) continue;
        char *colon = strchr(line + klen, ':');
        if (!colon) continue;
        char *v = colon + 1;
        while (*v && isspace((unsigned char)*v)) v++;
        size_t n = strlen(v);
        while (n > 0 && isspace((unsigned char)v[n - 1])) v[--n] = '\0';
        if (n == 0) continue;
        snprintf(out, cap, "%s", v);
        found = true;
        break;
    }
    fclose(f);
    return found;
}

static int online_cores(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    return n > 0 ? (int)n : 1;
}

static void fill_info(ag_device_info *info)
{
    memset(info, 0, sizeof *info);
    info->backend = AG_BACKEND_CPU;
    info->type = AG_DEVICE_CPU;
    snprintf(info->spec, sizeof info->spec, "cpu");
    if (!cpuinfo_field("model name", info->name, sizeof info->name) &&
        !cpuinfo_field("Model", info->name, sizeof info->name))
        snprintf(info->name, sizeof info->name, "CPU");
    char vendor[64] = "";
    if (cpuinfo_field("vendor_id", vendor, sizeof vendor)) {
        if (strcmp(vendor, "GenuineIntel") == 0) snprintf(info->vendor, sizeof info->vendor, "Intel");
        else if (strcmp(vendor, "AuthenticAMD") == 0) snprintf(info->vendor, sizeof info->vendor, "AMD");
        else snprintf(info->vendor, sizeof info->vendor, "%s", vendor);
    } else if (cpuinfo_field("CPU implementer", vendor, sizeof vendor)) {
        snprintf(info->vendor, sizeof info->vendor, "implementer %.40s", vendor);
    } else {
        snprintf(info->vendor, sizeof info->vendor, "unknown");
    }
#ifdef AG_HAVE_CBLAS
    snprintf(info->driver, sizeof info->driver, "anygrad cpu (CBLAS: %s)", openblas_get_config());
#else
    snprintf(info->driver, sizeof info->driver, "anygrad cpu (blocked C GEMM)");
#endif
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    info->memory_bytes = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    info->compute_units = (uint32_t)online_cores();
    info->subgroup_size = 0;
    info->max_buffer_bytes = info->memory_bytes;
    info->fp16 = false;
}

static int cpu_enumerate(ag_device_info *out, int max)
{
    if (out && max >= 1) fill_info(&out[0]);
    return 1;
}

static void cache_release_locked(cpu_device *dev);

/* ---- Open / close ------------------------------------------------------------ */

static uint64_t env_u64(const char *name, uint64_t fallback)
{
    const char *s = getenv(name);
    if (!s || !*s) return fallback;
    char *end;
    unsigned long long v = strtoull(s, &end, 10);
    return end != s ? (uint64_t)v : fallback;
}

static ag_status cpu_open(int index, agi_backend_device **out, ag_device_info *info)
{
    if (index != 0)
        return agi_set_error(AG_ERR_NOT_FOUND, "cpu: no device %d (there is one CPU device)", index);
    cpu_device *dev = calloc(1, sizeof *dev);
    if (!dev) return agi_set_error(AG_ERR_OOM, "cpu: host out of memory");
    int threads = (int)env_u64("AG_NUM_THREADS", (uint64_t)online_cores());
    if (threads < 1) threads = 1;
    if (threads > 256) threads = 256;
    cpu_pool_init(&dev->pool, threads); /* on failure it runs with fewer threads */
#ifdef AG_HAVE_CBLAS
    /* An explicit thread count applies to CBLAS too (process-wide setting). */
    const char *nt = getenv("AG_NUM_THREADS");
    if (nt && *nt) openblas_set_num_threads(threads);
#endif
    const char *g = getenv("AG_CPU_GEMM");
    dev->gemm_blocked = g && strcmp(g, "blocked") == 0;
#ifndef AG_HAVE_CBLAS
    dev->gemm_blocked = true;
#endif
    dev->memory_limit = env_u64("AG_CPU_MEMORY_LIMIT", 0);
    atomic_init(&dev->live_bytes, 0);
    pthread_mutex_init(&dev->cache_mu, NULL);
    /* Default cache bound: a quarter of physical memory, at most 2 GiB. */
    long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
    uint64_t phys = pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
    uint64_t def = phys / 4 < (2ull << 30) ? phys / 4 : (2ull << 30);
    dev->cache_limit = (size_t)env_u64("AG_CPU_CACHE_BYTES", def);
    if (info) fill_info(info);
    *out = dev;
    return AG_OK;
}

static void cpu_close(agi_backend_device *dev)
{
    if (!dev) return;
    cpu_pool_destroy(&dev->pool);
    pthread_mutex_lock(&dev->cache_mu);
    cache_release_locked(dev);
    pthread_mutex_unlock(&dev->cache_mu);
    pthread_mutex_destroy(&dev->cache_mu);
    free(dev);
}

/* ---- Buffers ------------------------------------------------------------------ */

/* Memory-checker hooks: a cached block is off limits, a reused one undefined,
 * so valgrind and ASan see kernels that read stale or out-of-range bytes. */
#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define CPU_HAVE_VALGRIND 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define CPU_HAVE_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define CPU_HAVE_ASAN 1
#endif
#endif
#ifdef CPU_HAVE_ASAN
#include <sanitizer/asan_interface.h>
#endif

static void mem_noaccess(void *p, size_t n)
{
    if (!n) return;
#ifdef CPU_HAVE_VALGRIND
    VALGRIND_MAKE_MEM_NOACCESS(p, n);
#endif
#ifdef CPU_HAVE_ASAN
    ASAN_POISON_MEMORY_REGION(p, n);
#endif
    (void)p;
}

static void mem_undefined(void *p, size_t n)
{
    if (!n) return;
#ifdef CPU_HAVE_ASAN
    ASAN_UNPOISON_MEMORY_REGION(p, n);
#endif
#ifdef CPU_HAVE_VALGRIND
    VALGRIND_MAKE_MEM_UNDEFINED(p, n);
#endif
    (void)p;
}

/* Size classes: multiples of 64 bytes up to 4 KiB (classes 0..63), then
 * eight classes per power of two (at most 12.5% slack). Returns the class
 * and its capacity, or -1 (not cached; capacity = bytes rounded to 64). */
static int size_class(size_t nbytes, size_t *cap)
{
    size_t r = (nbytes + 63) / 64 * 64;
    if (r <= 4096) {
        *cap = r;
        return (int)(r / 64) - 1;
    }
    int e = 63 - __builtin_clzll((unsigned long long)(r - 1)); /* r in (2^e, 2^(e+1)] */
    size_t step = (size_t)1 << (e - 3);
    size_t q = (r + step - 1) / step; /* 9..16 */
    int cls = 64 + (e - 12) * 8 + (int)(q - 9);
    if (cls >= CPU_CACHE_CLASSES) {
        *cap = r;
        return -1;
    }
    *cap = q * step;
    return cls;
}

/* Frees every cached block. Caller holds cache_mu. */
static void cache_release_locked(cpu_device *dev)
{
    for (int c = 0; c < CPU_CACHE_CLASSES; c++) {
        agi_buffer *b = dev->cache[c];
        while (b) {
            agi_buffer *next = b->next;
            mem_undefined(b->data, b->cap);
            free(b->data);
            free(b);
            atomic_fetch_add(&dev->n_sys_frees, 1);
            b = next;
        }
        dev->cache[c] = NULL;
    }
    dev->cache_bytes = 0;
}

static ag_status cpu_buffer_alloc(agi_backend_device *dev, size_t nbytes, agi_buffer **out)
{
    *out = NULL;
    if (nbytes == 0) nbytes = 1;
    if (nbytes > SIZE_MAX / 2)
        return agi_set_error(AG_ERR_OOM, "cpu: cannot allocate %zu bytes", nbytes);
    size_t rounded = (nbytes + 63) / 64 * 64;
    if (dev->memory_limit) {
        uint64_t now = atomic_fetch_add(&dev->live_bytes, rounded) + rounded;
        if (now > dev->memory_limit) {
            atomic_fetch_sub(&dev->live_bytes, rounded);
            return agi_set_error(AG_ERR_OOM,
                                 "cpu: out of memory: %zu bytes requested, %llu of %llu in use "
                                 "(AG_CPU_MEMORY_LIMIT)",
                                 nbytes, (unsigned long long)(now - rounded),
                                 (unsigned long long)dev->memory_limit);
        }
    } else {
        atomic_fetch_add(&dev->live_bytes, rounded);
    }
    size_t cap;
    int cls = size_class(nbytes, &cap);
    agi_buffer *b = NULL;
    if (cls >= 0 && dev->cache_limit) {
        pthread_mutex_lock(&dev->cache_mu);
        b = dev->cache[cls];
        if (b) {
            dev->cache[cls] = b->next;
            dev->cache_bytes -= b->cap;
        }
        pthread_mutex_unlock(&dev->cache_mu);
    }
    if (b) {
        mem_undefined(b->data, b->cap);
    } else {
        b = malloc(sizeof *b);
        void *data = b ? aligned_alloc(64, cap) : NULL;
        if (!data && b) {
            /* Out of memory: give the cached blocks back and try once more. */
            pthread_mutex_lock(&dev->cache_mu);
            cache_release_locked(dev);
            pthread_mutex_unlock(&dev->cache_mu);
            data = aligned_alloc(64, cap);
        }
        if (!data) {
            free(b);
            atomic_fetch_sub(&dev->live_bytes, rounded);
            return agi_set_error(AG_ERR_OOM, "cpu: out of host memory allocating %zu bytes", nbytes);
        }
        b->data = data;
        b->cap = cap;
        b->cls = cls;
        atomic_fetch_add(&dev->n_sys_allocs, 1);
        atomic_fetch_add(&dev->sys_alloc_bytes, cap);
    }
    b->nbytes = nbytes;
    b->next = NULL;
    mem_noaccess((char *)b->data + rounded, b->cap - rounded);
    *out = b;
    return AG_OK;
}

static void cpu_buffer_free(agi_backend_device *dev, agi_buffer *buf)
{
    if (!buf) return;
    atomic_fetch_sub(&dev->live_bytes, (buf->nbytes + 63) / 64 * 64);
    if (buf->cls >= 0 && dev->cache_limit) {
        pthread_mutex_lock(&dev->cache_mu);
        bool keep = dev->cache_bytes + buf->cap <= dev->cache_limit;
        if (keep) {
            mem_noaccess(buf->data, buf->cap);
            buf->next = dev->cache[buf->cls];
            dev->cache[buf->cls] = buf;
            dev->cache_bytes += buf->cap;
        }
        pthread_mutex_unlock(&dev->cache_mu);
        if (keep) return;
    }
    mem_undefined(buf->data, buf->cap);
    free(buf->data);
    free(buf);
    atomic_fetch_add(&dev->n_sys_frees, 1);
}

static ag_status check_range(const char *what, agi_buffer *buf, size_t offset, size_t nbytes,
                             const void *host)
{
    if (!buf || (nbytes && !host))
        return agi_set_error(AG_ERR_INVALID, "cpu: %s: NULL buffer or host pointer", what);
    if (offset > buf->nbytes || nbytes > buf->nbytes - offset)
        return agi_set_error(AG_ERR_INVALID, "cpu: %s: bytes [%zu, %zu) outside buffer of %zu",
                             what, offset, offset + nbytes, buf->nbytes);
    return AG_OK;
}

static ag_status cpu_write(agi_backend_device *dev, agi_buffer *buf, size_t offset, const void *src,
                           size_t nbytes)
{
    ag_status st = check_range("write", buf, offset, nbytes, src);
    if (st == AG_OK && nbytes) memcpy((char *)buf->data + offset, src, nbytes);
    return st;
}

static ag_status cpu_read(agi_backend_device *dev, agi_buffer *buf, size_t offset, void *dst,
                          size_t nbytes)
{
    ag_status st = check_range("read", buf, offset, nbytes, dst);
    if (st == AG_OK && nbytes) memcpy(dst, (char *)buf->data + offset, nbytes);
    return st;
}

static ag_status cpu_sync(agi_backend_device *dev) { return AG_OK; }

static void cpu_counters(agi_backend_device *dev, ag_device_counters *out)
{
    out->driver_allocs = atomic_load(&dev->n_sys_allocs);
    out->driver_alloc_bytes = atomic_load(&dev->sys_alloc_bytes);
    out->driver_frees = atomic_load(&dev->n_sys_frees);
    out->dispatches = atomic_load(&dev->n_kernels);
    out->host_waits = 0;
    out->in_use_bytes = atomic_load(&dev->live_bytes);
    pthread_mutex_lock(&dev->cache_mu);
    out->cached_bytes = dev->cache_bytes;
    pthread_mutex_unlock(&dev->cache_mu);
}

static ag_status cpu_empty_cache(agi_backend_device *dev)
{
    pthread_mutex_lock(&dev->cache_mu);
    cache_release_locked(dev);
    pthread_mutex_unlock(&dev->cache_mu);
    return AG_OK;
}

/* ---- Coverage ------------------------------------------------------------------ */

/* The CPU backend implements the whole vocabulary of kernel_ops.def. */
static bool cpu_supports_vt(agi_backend_device *dev, const agi_kernel_sig *sig)
{
    return agi_kernel_sig_ok(sig);
}

size_t cpu_buffer_bytes(const agi_buffer *buf) { return buf->nbytes; }

/* ---- Exec ------------------------------------------------------------------------ */

cpu_kernel_fn cpu_kernel_for(agi_kernel_op op)
{
    switch (op) {
    case AGI_K_FILL: return cpu_fill;
    case AGI_K_COPY: return cpu_copy;
    case AGI_K_UNARY: return cpu_unary;
    case AGI_K_BINARY: return cpu_binary;
    case AGI_K_WHERE: return cpu_where;
    case AGI_K_REDUCE: return cpu_reduce;
    case AGI_K_SOFTMAX: return cpu_softmax;
    case AGI_K_SOFTMAX_BWD: return cpu_softmax_bwd;
    case AGI_K_LAYER_NORM: return cpu_layer_norm;
    case AGI_K_GEMM: return cpu_gemm;
    case AGI_K_IM2COL: return cpu_im2col;
    case AGI_K_COL2IM: return cpu_col2im;
    case AGI_K_MAXPOOL2D: return cpu_maxpool2d;
    case AGI_K_MAXPOOL2D_BWD: return cpu_maxpool2d_bwd;
    case AGI_K_AVGPOOL2D: return cpu_avgpool2d;
    case AGI_K_AVGPOOL2D_BWD: return cpu_avgpool2d_bwd;
    case AGI_K_GATHER: return cpu_gather;
    case AGI_K_SCATTER_ADD: return cpu_scatter_add;
    case AGI_K_RNG: return cpu_rng;
    case AGI_K_SGD:
    case AGI_K_ADAM:
    case AGI_K_RMSPROP: return cpu_optim;
    case AGI_K_EW_FUSED: return cpu_ew_fused;
    case AGI_K_COUNT: break;
    }
    return NULL;
}

/* A validated record. */
static ag_status cpu_exec_kernel(agi_backend_device *dev, const agi_kernel *k)
{
    cpu_kernel_fn fn = cpu_kernel_for(k->op);
    if (!fn) return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: kernel op %d unsupported", (int)k->op);
    atomic_fetch_add(&dev->n_kernels, 1);
    return fn(dev, k);
}

static const agi_stage_ops cpu_stage = {cpu_buffer_alloc, cpu_buffer_free, cpu_exec_kernel};

ag_status cpu_exec_staged16(cpu_device *dev, const agi_kernel *k) { return agi_exec_staged16(dev, k, &cpu_stage); }

static ag_status cpu_exec(agi_backend_device *dev, const agi_kernel *k)
{
    ag_status st = agi_kernel_validate("cpu", k, cpu_buffer_bytes);
    if (st != AG_OK) return st;
    if (agi_kernel_staged16(k)) return agi_exec_staged16(dev, k, &cpu_stage);
    return cpu_exec_kernel(dev, k);
}

const agi_backend agi_backend_cpu = {
    .name = "cpu",
    .kind = AG_BACKEND_CPU,
    .enumerate = cpu_enumerate,
    .open = cpu_open,
    .close = cpu_close,
    .buffer_alloc = cpu_buffer_alloc,
    .buffer_free = cpu_buffer_free,
    .write = cpu_write,
    .read = cpu_read,
    .exec = cpu_exec,
    .supports = cpu_supports_vt,
    .sync = cpu_sync,
    .counters = cpu_counters,
    .empty_cache = cpu_empty_cache,
    .list_build = cpu_list_build,
    .list_run = cpu_list_run,
    .list_free = cpu_list_free,
};
