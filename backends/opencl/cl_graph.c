/* backends/opencl/cl_graph.c — pre-built kernel lists for graphs. Building
 * a list runs the ops' host code once in recording mode: each launch becomes
 * a step with its arguments, and running the list only enqueues them, in
 * order, on the in-order queue. CLBlast GEMMs are library calls, not
 * launches: they are steps that call the op again.
 *
 * A step can be enqueued two ways, and drivers differ in which costs the
 * host less: a kernel object of its own with its arguments set once (PoCL),
 * or the device's shared kernel object with the arguments set again (cheap
 * where a driver charges for many kernel objects: NVIDIA's OpenCL replayed a
 * CNN step slower through its own objects than the eager step). The first
 * LIST_TRIALS runs alternate the two and time the host's enqueue loop; the
 * faster serves the later runs. Both enqueue the same kernels with the same
 * arguments, so results do not depend on the choice.
 * AG_OPENCL_LIST=objects|args fixes it. */
#include "cl_internal.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LIST_TRIALS 4
enum { MODE_OBJECTS, MODE_ARGS };

typedef struct cl_step {
    cl_kernel kern;   /* NULL: call agcl_exec(record) */
    agi_kernel k;
    agcl_kernel_id id;
    cl_uint dims;
    size_t g[3], l[3];
    bool has_local;
    int nargs;
    size_t *arg_size;        /* nargs sizes */
    unsigned char **arg_val; /* nargs copies (NULL: local memory of that size) */
} cl_step;

struct agi_kernel_list {
    cl_step *steps;
    int n, cap;
    agi_buffer **keep;
    int n_keep, cap_keep;
    ag_status failed; /* the host ran out of memory keeping a temporary */
    int runs;         /* runs so far */
    double best_ns[2]; /* fastest enqueue loop per mode in the trials */
    int mode;          /* after the trials: MODE_OBJECTS or MODE_ARGS */
};

static cl_step *step_new(agi_kernel_list *l)
{
    if (agi_grow((void **)&l->steps, &l->cap, l->n + 1, sizeof *l->steps) != AG_OK) return NULL;
    cl_step *s = &l->steps[l->n++];
    memset(s, 0, sizeof *s);
    return s;
}

ag_status agcl_rec_launch(agi_backend_device *dev, agcl_kernel_id id, int dims, const size_t *g,
                          const size_t *l, int nargs, const agcl_arg *args)
{
    cl_step *s = step_new(dev->rec);
    if (!s) return AG_ERR_OOM;
    cl_int err;
    s->kern = clCreateKernel(dev->program, agcl_kernel_name(id), &err);
    if (!s->kern) {
        dev->rec->n--;
        return agcl_fail(err, "clCreateKernel");
    }
    s->id = id;
    s->arg_size = calloc((size_t)nargs + 1, sizeof *s->arg_size);
    s->arg_val = calloc((size_t)nargs + 1, sizeof *s->arg_val);
    if (!s->arg_size || !s->arg_val) return agi_set_error(AG_ERR_OOM, "opencl: host out of memory building a kernel list");
    s->nargs = nargs;
    for (int i = 0; i < nargs; i++) {
        err = clSetKernelArg(s->kern, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) return agcl_fail(err, "clSetKernelArg");
        s->arg_size[i] = args[i].size;
        if (args[i].ptr) {
            if (!(s->arg_val[i] = malloc(args[i].size)))
                return agi_set_error(AG_ERR_OOM, "opencl: host out of memory building a kernel list");
            memcpy(s->arg_val[i], args[i].ptr, args[i].size);
        }
    }
    s->dims = (cl_uint)dims;
    for (int d = 0; d < dims; d++) {
        s->g[d] = g[d];
        if (l) s->l[d] = l[d];
    }
    s->has_local = l != NULL;
    return AG_OK;
}

/* A temporary released while recording: the list owns it from now on. When
 * the host cannot note it, the build fails (the list is discarded unrun) and
 * the caller frees the buffer at once. */
ag_status agcl_rec_keep(agi_backend_device *dev, agi_buffer *buf)
{
    agi_kernel_list *l = dev->rec;
    if (agi_grow((void **)&l->keep, &l->cap_keep, l->n_keep + 1, sizeof *l->keep) == AG_OK) {
        l->keep[l->n_keep++] = buf;
        return AG_OK;
    }
    if (l->failed == AG_OK)
        l->failed = agi_set_error(AG_ERR_OOM, "opencl: host out of memory building a kernel list");
    return l->failed;
}

static void list_destroy(agi_backend_device *dev, agi_kernel_list *l)
{
    for (int i = 0; i < l->n; i++) {
        cl_step *s = &l->steps[i];
        if (s->kern) clReleaseKernel(s->kern);
        for (int a = 0; s->arg_val && a < s->nargs; a++) free(s->arg_val[a]);
        free(s->arg_val);
        free(s->arg_size);
    }
    free(l->steps);
    for (int i = 0; i < l->n_keep; i++) agcl_free_locked(dev, l->keep[i]);
    free(l->keep);
    free(l);
}

ag_status agcl_list_build(agi_backend_device *dev, const agi_kernel *ks, int n, agi_kernel_list **out)
{
    *out = NULL;
    agi_kernel_list *l = calloc(1, sizeof *l);
    if (!l) return agi_set_error(AG_ERR_OOM, "opencl: host out of memory");
    ag_status st = AG_OK;
    for (int i = 0; i < n && st == AG_OK; i++) {
        if (ks[i].op == AGI_K_GEMM) { /* CLBlast (16-bit data: through f32 scratch), called at each run */
            cl_step *s = step_new(l);
            if (!s) st = agi_set_error(AG_ERR_OOM, "opencl: host out of memory building a kernel list");
            else s->k = ks[i];
            continue;
        }
        dev->rec = l;
        st = agcl_exec_any(dev, &ks[i]);
        dev->rec = NULL;
    }
    if (st == AG_OK) st = l->failed;
    if (st != AG_OK) {
        list_destroy(dev, l);
        return st;
    }
    *out = l;
    return AG_OK;
}

static double now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e9 + (double)t.tv_nsec;
}

/* The mode of this run: forced, a trial (alternating), or the trials' winner. */
static int run_mode(agi_kernel_list *l)
{
    const char *env = getenv("AG_OPENCL_LIST");
    if (env && strcmp(env, "objects") == 0) return MODE_OBJECTS;
    if (env && strcmp(env, "args") == 0) return MODE_ARGS;
    if (l->runs < LIST_TRIALS) return l->runs % 2 ? MODE_ARGS : MODE_OBJECTS;
    return l->mode;
}

static ag_status enqueue_step(agi_backend_device *dev, const cl_step *s, int mode)
{
    cl_kernel kern = s->kern;
    if (mode == MODE_ARGS) {
        kern = dev->kernels[s->id];
        for (int a = 0; a < s->nargs; a++) {
            cl_int err = clSetKernelArg(kern, (cl_uint)a, s->arg_size[a], s->arg_val[a]);
            if (err != CL_SUCCESS) return agcl_fail(err, "clSetKernelArg");
        }
    }
    cl_int err = clEnqueueNDRangeKernel(dev->queue, kern, s->dims, NULL, s->g, s->has_local ? s->l : NULL, 0,
                                        NULL, NULL);
    if (err != CL_SUCCESS) return agcl_fail(err, "clEnqueueNDRangeKernel");
    dev->n_dispatches++;
    dev->drained = false;
    return AG_OK;
}

ag_status agcl_list_run(agi_backend_device *dev, agi_kernel_list *l)
{
    int mode = run_mode(l);
    double t0 = now_ns();
    for (int i = 0; i < l->n; i++) {
        cl_step *s = &l->steps[i];
        ag_status st = s->kern ? enqueue_step(dev, s, mode) : agcl_exec_any(dev, &s->k);
        if (st != AG_OK) return st;
    }
    if (l->runs < LIST_TRIALS) {
        double dt = now_ns() - t0;
        if (l->runs < 2 || dt < l->best_ns[mode]) l->best_ns[mode] = dt;
        if (l->runs == LIST_TRIALS - 1)
            l->mode = l->best_ns[MODE_ARGS] < l->best_ns[MODE_OBJECTS] ? MODE_ARGS : MODE_OBJECTS;
    }
    l->runs++;
    return AG_OK;
}

void agcl_list_free(agi_backend_device *dev, agi_kernel_list *l)
{
    if (!l) return;
    clFinish(dev->queue);
    list_destroy(dev, l);
}
