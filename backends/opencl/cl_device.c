/* backends/opencl/cl_device.c — the OpenCL backend's vtable: device listing
 * and opening, the pooled buffer allocator, transfers and synchronisation. */
#include "cl_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *agcl_error_name(cl_int err)
{
    switch (err) {
    case CL_SUCCESS: return "CL_SUCCESS";
    case CL_DEVICE_NOT_FOUND: return "CL_DEVICE_NOT_FOUND";
    case CL_DEVICE_NOT_AVAILABLE: return "CL_DEVICE_NOT_AVAILABLE";
    case CL_COMPILER_NOT_AVAILABLE: return "CL_COMPILER_NOT_AVAILABLE";
    case CL_MEM_OBJECT_ALLOCATION_FAILURE: return "CL_MEM_OBJECT_ALLOCATION_FAILURE";
    case CL_OUT_OF_RESOURCES: return "CL_OUT_OF_RESOURCES";
    case CL_OUT_OF_HOST_MEMORY: return "CL_OUT_OF_HOST_MEMORY";
    case CL_BUILD_PROGRAM_FAILURE: return "CL_BUILD_PROGRAM_FAILURE";
    case CL_INVALID_VALUE: return "CL_INVALID_VALUE";
    case CL_INVALID_DEVICE: return "CL_INVALID_DEVICE";
    case CL_INVALID_CONTEXT: return "CL_INVALID_CONTEXT";
    case CL_INVALID_COMMAND_QUEUE: return "CL_INVALID_COMMAND_QUEUE";
    case CL_INVALID_MEM_OBJECT: return "CL_INVALID_MEM_OBJECT";
    case CL_INVALID_BINARY: return "CL_INVALID_BINARY";
    case CL_INVALID_BUILD_OPTIONS: return "CL_INVALID_BUILD_OPTIONS";
    case CL_INVALID_PROGRAM: return "CL_INVALID_PROGRAM";
    case CL_INVALID_PROGRAM_EXECUTABLE: return "CL_INVALID_PROGRAM_EXECUTABLE";
    case CL_INVALID_KERNEL_NAME: return "CL_INVALID_KERNEL_NAME";
    case CL_INVALID_KERNEL: return "CL_INVALID_KERNEL";
    case CL_INVALID_ARG_INDEX: return "CL_INVALID_ARG_INDEX";
    case CL_INVALID_ARG_VALUE: return "CL_INVALID_ARG_VALUE";
    case CL_INVALID_ARG_SIZE: return "CL_INVALID_ARG_SIZE";
    case CL_INVALID_KERNEL_ARGS: return "CL_INVALID_KERNEL_ARGS";
    case CL_INVALID_WORK_DIMENSION: return "CL_INVALID_WORK_DIMENSION";
    case CL_INVALID_WORK_GROUP_SIZE: return "CL_INVALID_WORK_GROUP_SIZE";
    case CL_INVALID_WORK_ITEM_SIZE: return "CL_INVALID_WORK_ITEM_SIZE";
    case CL_INVALID_GLOBAL_OFFSET: return "CL_INVALID_GLOBAL_OFFSET";
    case CL_INVALID_EVENT_WAIT_LIST: return "CL_INVALID_EVENT_WAIT_LIST";
    case CL_INVALID_OPERATION: return "CL_INVALID_OPERATION";
    case CL_INVALID_BUFFER_SIZE: return "CL_INVALID_BUFFER_SIZE";
    case CL_INVALID_GLOBAL_WORK_SIZE: return "CL_INVALID_GLOBAL_WORK_SIZE";
    case CL_INVALID_PLATFORM: return "CL_INVALID_PLATFORM";
    case CL_MISALIGNED_SUB_BUFFER_OFFSET: return "CL_MISALIGNED_SUB_BUFFER_OFFSET";
    case CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST:
        return "CL_EXEC_STATUS_ERROR_FOR_EVENTS_IN_WAIT_LIST";
    default: return "CL_ERROR";
    }
}

ag_status agcl_fail(cl_int err, const char *what)
{
    ag_status st = (err == CL_MEM_OBJECT_ALLOCATION_FAILURE || err == CL_OUT_OF_RESOURCES ||
                    err == CL_OUT_OF_HOST_MEMORY)
                       ? AG_ERR_OOM
                       : AG_ERR_DEVICE;
    return agi_set_error(st, "opencl: %s failed: %s (%d)", what, agcl_error_name(err), (int)err);
}

/* ---- Enumeration ----------------------------------------------------------- */

typedef struct {
    cl_platform_id platform;
    cl_device_id device;
    int p, d;
} dev_ref;

/* Lists every (platform, device) pair; returns the count (0 without an ICD). */
static int list_devices(dev_ref *out, int max)
{
    cl_uint np = 0;
    if (clGetPlatformIDs(0, NULL, &np) != CL_SUCCESS || np == 0) return 0;
    cl_platform_id *plats = calloc(np, sizeof *plats);
    if (!plats) return 0;
    if (clGetPlatformIDs(np, plats, NULL) != CL_SUCCESS) {
        free(plats);
        return 0;
    }
    int total = 0;
    for (cl_uint p = 0; p < np; p++) {
        cl_uint nd = 0;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 0, NULL, &nd) != CL_SUCCESS || nd == 0)
            continue;
        cl_device_id *devs = calloc(nd, sizeof *devs);
        if (!devs) continue;
        if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, nd, devs, NULL) == CL_SUCCESS) {
            for (cl_uint d = 0; d < nd; d++) {
                if (total < max && out) {
                    out[total].platform = plats[p];
                    out[total].device = devs[d];
                    out[total].p = (int)p;
                    out[total].d = (int)d;
                }
                total++;
            }
        }
        free(devs);
    }
    free(plats);
    return total;
}

static void dev_string(cl_device_id dev, cl_device_info what, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (clGetDeviceInfo(dev, what, cap, buf, NULL) != CL_SUCCESS) buf[0] = '\0';
    buf[cap - 1] = '\0';
}

static bool has_extension(cl_device_id dev, const char *ext)
{
    size_t len = 0;
    if (clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, 0, NULL, &len) != CL_SUCCESS || len == 0)
        return false;
    char *s = malloc(len + 1);
    if (!s) return false;
    bool found = false;
    if (clGetDeviceInfo(dev, CL_DEVICE_EXTENSIONS, len, s, NULL) == CL_SUCCESS) {
        s[len] = '\0';
        size_t el = strlen(ext);
        for (char *p = strstr(s, ext); p; p = strstr(p + 1, ext))
            if ((p == s || p[-1] == ' ') && (p[el] == ' ' || p[el] == '\0')) found = true;
    }
    free(s);
    return found;
}

static void fill_info(const dev_ref *r, ag_device_info *info)
{
    memset(info, 0, sizeof *info);
    cl_device_id dev = r->device;
    info->backend = AG_BACKEND_OPENCL;
    snprintf(info->spec, sizeof info->spec, "opencl:%d.%d", r->p, r->d);
    dev_string(dev, CL_DEVICE_NAME, info->name, sizeof info->name);
    dev_string(dev, CL_DEVICE_VENDOR, info->vendor, sizeof info->vendor);
    dev_string(dev, CL_DRIVER_VERSION, info->driver, sizeof info->driver);
    cl_device_type type = 0;
    clGetDeviceInfo(dev, CL_DEVICE_TYPE, sizeof type, &type, NULL);
    cl_bool unified = CL_FALSE;
    clGetDeviceInfo(dev, CL_DEVICE_HOST_UNIFIED_MEMORY, sizeof unified, &unified, NULL);
    if (type & CL_DEVICE_TYPE_CPU)
        info->type = AG_DEVICE_CPU;
    else if (type & CL_DEVICE_TYPE_GPU)
        info->type = unified ? AG_DEVICE_INTEGRATED_GPU : AG_DEVICE_DISCRETE_GPU;
    else
        info->type = AG_DEVICE_OTHER;
    cl_ulong mem = 0, maxalloc = 0;
    cl_uint cu = 0;
    clGetDeviceInfo(dev, CL_DEVICE_GLOBAL_MEM_SIZE, sizeof mem, &mem, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_MAX_MEM_ALLOC_SIZE, sizeof maxalloc, &maxalloc, NULL);
    clGetDeviceInfo(dev, CL_DEVICE_MAX_COMPUTE_UNITS, sizeof cu, &cu, NULL);
    info->memory_bytes = mem;
    info->max_buffer_bytes = maxalloc;
    info->compute_units = cu;
    info->subgroup_size = 0;
    info->fp16 = has_extension(dev, "cl_khr_fp16");
}

static int cl_enumerate(ag_device_info *out, int max)
{
    int n = list_devices(NULL, 0);
    if (n <= 0 || !out || max <= 0) return n > 0 ? n : 0;
    dev_ref *refs = calloc((size_t)n, sizeof *refs);
    if (!refs) return agi_set_error(AG_ERR_OOM, "opencl: host out of memory");
    n = list_devices(refs, n);
    for (int i = 0; i < n && i < max; i++) fill_info(&refs[i], &out[i]);
    free(refs);
    return n;
}

/* ---- Open / close -------------------------------------------------------------- */

static pthread_mutex_t g_open_lock = PTHREAD_MUTEX_INITIALIZER;
static int g_open_devices;

static void release_pool(agi_backend_device *dev)
{
    for (int c = 0; c < AGCL_NUM_CLASSES; c++) {
        agi_buffer *b = dev->free_lists[c];
        while (b) {
            agi_buffer *next = b->next;
            clReleaseMemObject(b->mem);
            dev->n_driver_frees++;
            dev->mem_used -= b->cap;
            free(b);
            b = next;
        }
        dev->free_lists[c] = NULL;
    }
    dev->pooled_bytes = 0;
}

/* Frees the host copies of writes; the queue must have completed them. */
static void drop_staged(agi_backend_device *dev)
{
    while (dev->staged) {
        agcl_staged *s = dev->staged;
        dev->staged = s->next;
        free(s);
    }
    dev->staged_bytes = 0;
    dev->drained = true;
}

static void print_profile(const agi_backend_device *dev)
{
    double total = 0;
    for (int i = 0; i <= AGCL_K_COUNT; i++) total += dev->prof_ms[i];
    fprintf(stderr, "anygrad opencl profile (%s): %.1f ms in kernels\n", dev->info.spec, total);
    for (int i = 0; i <= AGCL_K_COUNT; i++)
        if (dev->prof_calls[i])
            fprintf(stderr, "  %-24s %8ld calls %10.2f ms %8.3f ms/call\n",
                    agcl_kernel_name((agcl_kernel_id)i), dev->prof_calls[i], dev->prof_ms[i],
                    dev->prof_ms[i] / (double)dev->prof_calls[i]);
}

static void cl_close(agi_backend_device *dev)
{
    if (!dev) return;
    if (dev->queue) clFinish(dev->queue);
    if (dev->profile) print_profile(dev);
    drop_staged(dev);
    if (dev->gemm_temp) {
        agcl_free_locked(dev, dev->gemm_temp);
        dev->gemm_temp = NULL;
    }
    release_pool(dev);
    for (int i = 0; i < AGCL_K_COUNT; i++)
        if (dev->kernels[i]) clReleaseKernel(dev->kernels[i]);
    if (dev->program) clReleaseProgram(dev->program);
    if (dev->queue) clReleaseCommandQueue(dev->queue);
    pthread_mutex_lock(&g_open_lock);
    /* CLBlast keeps compiled programs (and so the context) in a process-wide
     * cache; drop it when the last device closes. */
    if (--g_open_devices == 0) agcl_gemm_release();
    pthread_mutex_unlock(&g_open_lock);
    if (dev->ctx) clReleaseContext(dev->ctx);
    pthread_mutex_destroy(&dev->lock);
    free(dev);
}

static ag_status cl_open(int index, agi_backend_device **out, ag_device_info *info)
{
    *out = NULL;
    int n = list_devices(NULL, 0);
    if (index < 0 || index >= n)
        return agi_set_error(AG_ERR_NOT_FOUND, "opencl: no device %d (%d found)", index, n);
    dev_ref *refs = calloc((size_t)n, sizeof *refs);
    if (!refs) return agi_set_error(AG_ERR_OOM, "opencl: host out of memory");
    n = list_devices(refs, n);
    if (index >= n) {
        free(refs);
        return agi_set_error(AG_ERR_NOT_FOUND, "opencl: device %d disappeared", index);
    }
    dev_ref r = refs[index];
    free(refs);

    agi_backend_device *dev = calloc(1, sizeof *dev);
    if (!dev) return agi_set_error(AG_ERR_OOM, "opencl: host out of memory");
    pthread_mutex_init(&dev->lock, NULL);
    pthread_mutex_lock(&g_open_lock);
    g_open_devices++;
    pthread_mutex_unlock(&g_open_lock);
    dev->platform = r.platform;
    dev->device = r.device;
    fill_info(&r, &dev->info);
    dev->is_cpu = dev->info.type == AG_DEVICE_CPU;
    /* AG_OPENCL_VARIANTS=gpu|cpu picks the kernel variants regardless of the
     * device type (to test the GPU variants on PoCL). */
    const char *variants = getenv("AG_OPENCL_VARIANTS");
    if (variants && strcmp(variants, "gpu") == 0) dev->is_cpu = false;
    if (variants && strcmp(variants, "cpu") == 0) dev->is_cpu = true;
    dev->mem_total = dev->info.memory_bytes;
    dev->max_alloc = dev->info.max_buffer_bytes;
    size_t maxwg = 0;
    clGetDeviceInfo(dev->device, CL_DEVICE_MAX_WORK_GROUP_SIZE, sizeof maxwg, &maxwg, NULL);
    if (maxwg == 0) maxwg = 1;
    dev->max_wg = maxwg;
    dev->ew_local = maxwg < 256 ? maxwg : 256;
    size_t red = dev->is_cpu ? 64 : 256;
    while (red > maxwg) red /= 2;
    dev->red_local = red;

    cl_int err;
    cl_context_properties props[] = {CL_CONTEXT_PLATFORM, (cl_context_properties)r.platform, 0};
    dev->ctx = clCreateContext(props, 1, &r.device, NULL, NULL, &err);
    if (!dev->ctx) {
        ag_status st = agcl_fail(err, "clCreateContext");
        cl_close(dev);
        return st;
    }
    const char *gemm_env = getenv("AG_OPENCL_GEMM");
    dev->gemm_naive_only = gemm_env && strcmp(gemm_env, "naive") == 0;
    const char *prof = getenv("AG_OPENCL_PROFILE");
    dev->profile = prof && prof[0] && strcmp(prof, "0") != 0;
    dev->queue = clCreateCommandQueue(dev->ctx, r.device,
                                      dev->profile ? CL_QUEUE_PROFILING_ENABLE : 0, &err);
    if (!dev->queue) {
        ag_status st = agcl_fail(err, "clCreateCommandQueue");
        cl_close(dev);
        return st;
    }
    ag_status st = agcl_build_program(dev);
    if (st != AG_OK) {
        cl_close(dev);
        return st;
    }
    *info = dev->info;
    *out = dev;
    return AG_OK;
}

/* ---- Memory ------------------------------------------------------------------- */

/* Size classes: 256 B minimum, then 2^k and 1.5 * 2^k (at most 33% slack). */
static int size_class(size_t nbytes, size_t *cap)
{
    size_t c = 256;
    int k = 0;
    while (c < nbytes) {
        size_t mid = c + c / 2;
        if (mid >= nbytes && mid > c) {
            *cap = mid;
            return 2 * k + 1;
        }
        if (c > SIZE_MAX / 2) break;
        c *= 2;
        k++;
    }
    *cap = c;
    return 2 * k;
}

ag_status agcl_alloc_locked(agi_backend_device *dev, size_t nbytes, agi_buffer **out)
{
    *out = NULL;
    size_t cap;
    int cls = size_class(nbytes, &cap);
    if (cls < 0 || cls >= AGCL_NUM_CLASSES || cap < nbytes)
        return agi_set_error(AG_ERR_OOM, "opencl: buffer of %zu bytes is too large", nbytes);
    agi_buffer *b = dev->free_lists[cls];
    if (b) {
        dev->free_lists[cls] = b->next;
        dev->pooled_bytes -= b->cap;
        b->next = NULL;
        b->nbytes = nbytes;
        *out = b;
        return AG_OK;
    }
    bool exact = false;
    if (cap > dev->max_alloc && nbytes <= dev->max_alloc) {
        cap = nbytes; /* exact, unpooled size */
        exact = true;
    }
    if (cap > dev->max_alloc)
        return agi_set_error(AG_ERR_OOM,
                             "opencl: buffer of %zu bytes exceeds the device's largest "
                             "allocation (%llu bytes)",
                             nbytes, (unsigned long long)dev->max_alloc);
    if (dev->mem_used + cap > dev->mem_total) release_pool(dev);
    if (dev->mem_used + cap > dev->mem_total)
        return agi_set_error(AG_ERR_OOM,
                             "opencl: out of device memory allocating %zu bytes (%llu of %llu "
                             "in use)",
                             nbytes, (unsigned long long)dev->mem_used,
                             (unsigned long long)dev->mem_total);
    b = calloc(1, sizeof *b);
    if (!b) return agi_set_error(AG_ERR_OOM, "opencl: host out of memory");
    cl_int err;
    b->mem = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, cap, NULL, &err);
    if (!b->mem && dev->pooled_bytes) {
        release_pool(dev);
        b->mem = clCreateBuffer(dev->ctx, CL_MEM_READ_WRITE, cap, NULL, &err);
    }
    if (!b->mem) {
        free(b);
        ag_status st = agcl_fail(err, "clCreateBuffer");
        if (st == AG_ERR_DEVICE && err == CL_INVALID_BUFFER_SIZE) st = AG_ERR_OOM;
        return agi_set_error(st, "opencl: cannot allocate %zu bytes: %s (%d)", nbytes,
                             agcl_error_name(err), (int)err);
    }
    b->cap = cap;
    b->nbytes = nbytes;
    b->cls = exact ? -1 : cls;
    dev->mem_used += cap;
    dev->n_driver_allocs++;
    dev->driver_alloc_bytes += cap;
    *out = b;
    return AG_OK;
}

void agcl_free_locked(agi_backend_device *dev, agi_buffer *buf)
{
    if (!buf) return;
    /* A temporary of a list being recorded stays with the list; if it
     * cannot, the list is discarded unrun and the buffer is freed now. */
    if (dev->rec && agcl_rec_keep(dev, buf) == AG_OK) return;
    int cls = buf->cls;
    if (cls < 0 || cls >= AGCL_NUM_CLASSES) {
        clReleaseMemObject(buf->mem);
        dev->n_driver_frees++;
        dev->mem_used -= buf->cap;
        free(buf);
        return;
    }
    buf->next = dev->free_lists[cls];
    dev->free_lists[cls] = buf;
    dev->pooled_bytes += buf->cap;
}

static ag_status cl_buffer_alloc(agi_backend_device *dev, size_t nbytes, agi_buffer **out)
{
    if (nbytes == 0) nbytes = 1;
    pthread_mutex_lock(&dev->lock);
    ag_status st = agcl_alloc_locked(dev, nbytes, out);
    pthread_mutex_unlock(&dev->lock);
    return st;
}

static void cl_buffer_free(agi_backend_device *dev, agi_buffer *buf)
{
    if (!buf) return;
    pthread_mutex_lock(&dev->lock);
    agcl_free_locked(dev, buf);
    pthread_mutex_unlock(&dev->lock);
}

/* ---- Transfers and sync ----------------------------------------------------------- */

/* Writes up to this size are staged in a host copy and queued without
 * waiting; larger ones block. */
#define AGCL_STAGE_MAX ((size_t)16 << 20)
#define AGCL_STAGE_TOTAL ((size_t)64 << 20)

static ag_status cl_write(agi_backend_device *dev, agi_buffer *buf, size_t offset, const void *src,
                          size_t nbytes)
{
    if (nbytes == 0) return AG_OK;
    if (!buf || !src || offset + nbytes > buf->cap || offset + nbytes < offset)
        return agi_set_error(AG_ERR_INVALID, "opencl: write of %zu bytes at %zu out of range",
                             nbytes, offset);
    pthread_mutex_lock(&dev->lock);
    cl_int err;
    agcl_staged *st = nbytes <= AGCL_STAGE_MAX ? malloc(sizeof *st + nbytes) : NULL;
    if (st) {
        memcpy(st + 1, src, nbytes);
        err = clEnqueueWriteBuffer(dev->queue, buf->mem, CL_FALSE, offset, nbytes, st + 1, 0, NULL,
                                   NULL);
        if (err == CL_SUCCESS) {
            dev->drained = false;
            st->nbytes = nbytes;
            st->next = dev->staged;
            dev->staged = st;
            dev->staged_bytes += nbytes;
            if (dev->staged_bytes > AGCL_STAGE_TOTAL) {
                dev->n_host_waits++;
                err = clFinish(dev->queue);
                if (err == CL_SUCCESS) drop_staged(dev);
            }
        } else {
            free(st);
        }
    } else {
        if (!dev->drained) dev->n_host_waits++;
        err = clEnqueueWriteBuffer(dev->queue, buf->mem, CL_TRUE, offset, nbytes, src, 0, NULL,
                                   NULL);
        if (err == CL_SUCCESS) drop_staged(dev); /* in order: all before it is done */
    }
    pthread_mutex_unlock(&dev->lock);
    return err == CL_SUCCESS ? AG_OK : agcl_fail(err, "clEnqueueWriteBuffer");
}

static ag_status cl_read(agi_backend_device *dev, agi_buffer *buf, size_t offset, void *dst,
                         size_t nbytes)
{
    if (nbytes == 0) return AG_OK;
    if (!buf || !dst || offset + nbytes > buf->cap || offset + nbytes < offset)
        return agi_set_error(AG_ERR_INVALID, "opencl: read of %zu bytes at %zu out of range",
                             nbytes, offset);
    pthread_mutex_lock(&dev->lock);
    if (!dev->drained) dev->n_host_waits++;
    cl_int err = clEnqueueReadBuffer(dev->queue, buf->mem, CL_TRUE, offset, nbytes, dst, 0, NULL,
                                     NULL);
    /* In-order queue: every earlier command (staged writes too) has finished. */
    if (err == CL_SUCCESS) drop_staged(dev);
    pthread_mutex_unlock(&dev->lock);
    return err == CL_SUCCESS ? AG_OK : agcl_fail(err, "clEnqueueReadBuffer");
}

static ag_status cl_sync(agi_backend_device *dev)
{
    pthread_mutex_lock(&dev->lock);
    if (!dev->drained) dev->n_host_waits++;
    cl_int err = clFinish(dev->queue);
    if (err == CL_SUCCESS) drop_staged(dev);
    pthread_mutex_unlock(&dev->lock);
    return err == CL_SUCCESS ? AG_OK : agcl_fail(err, "clFinish");
}

static void cl_counters(agi_backend_device *dev, ag_device_counters *out)
{
    pthread_mutex_lock(&dev->lock);
    out->driver_allocs = dev->n_driver_allocs;
    out->driver_alloc_bytes = dev->driver_alloc_bytes;
    out->driver_frees = dev->n_driver_frees;
    out->dispatches = dev->n_dispatches;
    out->host_waits = dev->n_host_waits;
    out->cached_bytes = dev->pooled_bytes;
    out->in_use_bytes = dev->mem_used - dev->pooled_bytes;
    pthread_mutex_unlock(&dev->lock);
}

static ag_status cl_empty_cache(agi_backend_device *dev)
{
    pthread_mutex_lock(&dev->lock);
    dev->n_host_waits++;
    cl_int err = clFinish(dev->queue);
    if (err == CL_SUCCESS) {
        drop_staged(dev);
        release_pool(dev);
    }
    pthread_mutex_unlock(&dev->lock);
    return err == CL_SUCCESS ? AG_OK : agcl_fail(err, "clFinish");
}

static size_t cl_buffer_bytes(const agi_buffer *buf) { return buf->nbytes; }

/* 16-bit data of staged ops, under the device lock (the queue is in order,
 * so a scratch buffer back in the pool is reused only after its kernels) */
static const agi_stage_ops cl_stage = {agcl_alloc_locked, agcl_free_locked, agcl_exec};

ag_status agcl_exec_any(agi_backend_device *dev, const agi_kernel *k)
{
    bool native = agi_rownorm_half(k) != AG_F32; /* row kernels convert 16-bit in registers */
    return agi_kernel_staged16(k) && !native ? agi_exec_staged16(dev, k, &cl_stage) : agcl_exec(dev, k);
}

static ag_status cl_exec(agi_backend_device *dev, const agi_kernel *k)
{
    ag_status vs = agi_kernel_validate("opencl", k, cl_buffer_bytes);
    if (vs != AG_OK) return vs;
    pthread_mutex_lock(&dev->lock);
    ag_status st = agcl_exec_any(dev, k);
    pthread_mutex_unlock(&dev->lock);
    return st;
}

static size_t cl_buffer_bytes(const agi_buffer *buf);

static ag_status cl_list_build(agi_backend_device *dev, const agi_kernel *ks, int n, agi_kernel_list **out)
{
    for (int i = 0; i < n; i++) { /* validated once, when built */
        ag_status vs = agi_kernel_validate("opencl", &ks[i], cl_buffer_bytes);
        if (vs != AG_OK) return vs;
    }
    pthread_mutex_lock(&dev->lock);
    ag_status st = agcl_list_build(dev, ks, n, out);
    pthread_mutex_unlock(&dev->lock);
    return st;
}

static ag_status cl_list_run(agi_backend_device *dev, agi_kernel_list *l)
{
    pthread_mutex_lock(&dev->lock);
    ag_status st = agcl_list_run(dev, l);
    pthread_mutex_unlock(&dev->lock);
    return st;
}

static void cl_list_free(agi_backend_device *dev, agi_kernel_list *l)
{
    pthread_mutex_lock(&dev->lock);
    agcl_list_free(dev, l);
    pthread_mutex_unlock(&dev->lock);
}

/* The OpenCL backend implements the whole vocabulary of kernel_ops.def. */
static bool cl_supports(agi_backend_device *dev, const agi_kernel_sig *sig)
{
    return agi_kernel_sig_ok(sig);
}

const agi_backend agi_backend_opencl = {
    .name = "opencl",
    .kind = AG_BACKEND_OPENCL,
    .enumerate = cl_enumerate,
    .open = cl_open,
    .close = cl_close,
    .buffer_alloc = cl_buffer_alloc,
    .buffer_free = cl_buffer_free,
    .write = cl_write,
    .read = cl_read,
    .exec = cl_exec,
    .supports = cl_supports,
    .sync = cl_sync,
    .counters = cl_counters,
    .empty_cache = cl_empty_cache,
    .list_build = cl_list_build,
    .list_run = cl_list_run,
    .list_free = cl_list_free,
};
