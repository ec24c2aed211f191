/* bench/ref_clblast.c — the OpenCL GEMM reference: CLBlastSgemm called directly
 * on the same OpenCL device, with its own context and queue. */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#ifdef AG_BENCH_HAVE_CLBLAST
#define CL_TARGET_OPENCL_VERSION 120
#include <CL/cl.h>
#include <clblast_c.h>

typedef struct cl_ctx {
    const gemm_shape *s;
    cl_command_queue queue;
    cl_mem a, b, c;
} cl_ctx;

static bool cl_run(void *p)
{
    cl_ctx *x = p;
    const gemm_shape *s = x->s;
    cl_event ev = NULL;
    CLBlastStatusCode st = CLBlastSgemm(
        CLBlastLayoutRowMajor, s->trans_a ? CLBlastTransposeYes : CLBlastTransposeNo,
        CLBlastTransposeNo, (size_t)s->m, (size_t)s->n, (size_t)s->k, 1.0f, x->a, 0,
        (size_t)(s->trans_a ? s->m : s->k), x->b, 0, (size_t)s->n, 0.0f, x->c, 0, (size_t)s->n,
        &x->queue, &ev);
    if (ev) clReleaseEvent(ev);
    return st == CLBlastSuccess;
}

static bool cl_sync(void *p) { return clFinish(((cl_ctx *)p)->queue) == CL_SUCCESS; }

/* Finds the cl_device_id for "opencl:P.D" (or "opencl" = 0.0). */
static cl_device_id find_device(const char *spec)
{
    unsigned p = 0, d = 0;
    if (strchr(spec, ':')) sscanf(strchr(spec, ':') + 1, "%u.%u", &p, &d);
    cl_platform_id plats[16];
    cl_uint np = 0;
    if (clGetPlatformIDs(16, plats, &np) != CL_SUCCESS || p >= np) return NULL;
    cl_device_id devs[16];
    cl_uint nd = 0;
    if (clGetDeviceIDs(plats[p], CL_DEVICE_TYPE_ALL, 16, devs, &nd) != CL_SUCCESS || d >= nd)
        return NULL;
    return devs[d];
}

void bench_reference_clblast(const bench_config *cfg, const char *spec, bench_emit emit, void *user)
{
    cl_device_id device = find_device(spec);
    if (!device) return;
    cl_int err;
    cl_context context = clCreateContext(NULL, 1, &device, NULL, NULL, &err);
    if (err != CL_SUCCESS) return;
    cl_command_queue queue = clCreateCommandQueue(context, device, 0, &err);
    char devname[128] = "";
    clGetDeviceInfo(device, CL_DEVICE_NAME, sizeof devname, devname, NULL);
    for (int i = 0; err == CL_SUCCESS && i < bench_gemm_shape_count; i++) {
        const gemm_shape *s = &bench_gemm_shapes[i];
        if (s->gpu_only || s->dtype != AG_F32 || (cfg->filter && !strstr(s->name, cfg->filter))) continue;
        if (cfg->quick && (s->m > 1024 && s->n > 1024)) continue;
        cl_ctx x = {s, queue};
        x.a = clCreateBuffer(context, CL_MEM_READ_WRITE, (size_t)s->m * s->k * 4, NULL, &err);
        x.b = clCreateBuffer(context, CL_MEM_READ_WRITE, (size_t)s->k * s->n * 4, NULL, &err);
        x.c = clCreateBuffer(context, CL_MEM_READ_WRITE, (size_t)s->m * s->n * 4, NULL, &err);
        float zero = 0.25f;
        if (x.a) clEnqueueFillBuffer(queue, x.a, &zero, 4, 0, (size_t)s->m * s->k * 4, 0, NULL, NULL);
        if (x.b) clEnqueueFillBuffer(queue, x.b, &zero, 4, 0, (size_t)s->k * s->n * 4, 0, NULL, NULL);
        bench_result r = {0};
        snprintf(r.name, sizeof r.name, "%s", s->name);
        snprintf(r.device, sizeof r.device, "clblast:%s", spec);
        snprintf(r.device_name, sizeof r.device_name, "CLBlast direct on %s", devname);
        if (x.a && x.b && x.c) {
            bench_timer t = {&x, cl_run, cl_sync};
            bench_time(cfg, &t, &r);
            if (!r.ok) snprintf(r.error, sizeof r.error, "CLBlastSgemm failed");
        }
        bench_set_throughput(&r, UNIT_GFLOPS, 2.0 * s->m * s->n * s->k);
        emit(&r, user);
        if (x.a) clReleaseMemObject(x.a);
        if (x.b) clReleaseMemObject(x.b);
        if (x.c) clReleaseMemObject(x.c);
        err = CL_SUCCESS;
    }
    clReleaseCommandQueue(queue);
    clReleaseContext(context);
}

/* The CLBlast headers' version (the library itself has no version query). */
const char *bench_clblast_version(void)
{
    static char buf[32];
    snprintf(buf, sizeof buf, "CLBlast %d.%d.%d", CLBLAST_VERSION_MAJOR, CLBLAST_VERSION_MINOR,
             CLBLAST_VERSION_PATCH);
    return buf;
}
#else
void bench_reference_clblast(const bench_config *cfg, const char *spec, bench_emit emit, void *user) {}
const char *bench_clblast_version(void) { return ""; }
#endif
