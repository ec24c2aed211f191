/* backends/opencl/cl_exec.c — turns kernel records into OpenCL launches:
 * argument checks, view geometry, and one function per kernel op. Callers
 * hold dev->lock. Nothing here waits for the device. */
#include "cl_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const char *dtype_name(ag_dtype t)
{
    return t == AG_F32 ? "f32" : t == AG_I32 ? "i32" : t == AG_U8 ? "u8" : "?";
}

static size_t dtype_size(ag_dtype t) { return ag_dtype_size(t); }

static ag_status unsupported(const agi_kernel *k, const char *fmt_detail, const char *a,
                             const char *b)
{
    char detail[160];
    snprintf(detail, sizeof detail, fmt_detail, a ? a : "", b ? b : "");
    return agi_set_error(AG_ERR_UNSUPPORTED, "opencl: %s (sub %d) %s unsupported",
                         agi_kernel_op_name(k->op), k->sub, detail);
}

static ag_status invalid(const agi_kernel *k, const char *what)
{
    return agi_set_error(AG_ERR_INVALID, "opencl: %s: %s", agi_kernel_op_name(k->op), what);
}

ag_status agcl_check_view(const agi_kernel *k, const agi_view *v, const char *which, int dtype)
{
    char msg[128];
    if (!v->buf) {
        snprintf(msg, sizeof msg, "%s has no buffer", which);
        return invalid(k, msg);
    }
    if ((unsigned)v->dtype >= AG_DTYPE_COUNT) {
        snprintf(msg, sizeof msg, "%s has an invalid dtype", which);
        return invalid(k, msg);
    }
    if (dtype >= 0 && v->dtype != (ag_dtype)dtype) {
        snprintf(msg, sizeof msg, "%s is %s, needs %s", which, dtype_name(v->dtype),
                 dtype_name((ag_dtype)dtype));
        return unsupported(k, "%s%s", msg, NULL);
    }
    if (v->ndim < 0 || v->ndim > AG_MAX_DIMS || v->offset < 0) {
        snprintf(msg, sizeof msg, "%s has bad geometry", which);
        return invalid(k, msg);
    }
    int64_t last = v->offset;
    for (int d = 0; d < v->ndim; d++) {
        if (v->shape[d] < 1 || v->strides[d] < 0) {
            snprintf(msg, sizeof msg, "%s has shape %lld / stride %lld at dim %d", which,
                     (long long)v->shape[d], (long long)v->strides[d], d);
            return invalid(k, msg);
        }
        if (v->strides[d] > 0 && v->shape[d] - 1 > (INT64_MAX - last) / v->strides[d]) {
            snprintf(msg, sizeof msg, "%s overflows", which);
            return invalid(k, msg);
        }
        last += (v->shape[d] - 1) * v->strides[d];
    }
    size_t es = dtype_size(v->dtype);
    if ((uint64_t)last >= v->buf->cap / es) {
        snprintf(msg, sizeof msg, "%s reaches element %lld beyond its buffer (%zu bytes)", which,
                 (long long)last, v->buf->cap);
        return invalid(k, msg);
    }
    return AG_OK;
}

ag_status agcl_launch(agi_backend_device *dev, agcl_kernel_id id, int dims, const size_t *global,
                      const size_t *local, int nargs, const agcl_arg *args)
{
    cl_kernel kern = dev->kernels[id];
    for (int i = 0; i < nargs && !dev->rec; i++) {
        cl_int err = clSetKernelArg(kern, (cl_uint)i, args[i].size, args[i].ptr);
        if (err != CL_SUCCESS) return agcl_fail(err, "clSetKernelArg");
    }
    size_t g[3] = {1, 1, 1}, l[3] = {1, 1, 1};
    if (local) {
        /* Bounds-checked kernels: a smaller group than asked is fine when the
         * kernel's own limit is lower (first dim halves). */
        for (int d = 0; d < dims; d++) l[d] = local[d] ? local[d] : 1;
        while (l[0] > 1 && l[0] * l[1] * l[2] > dev->kernel_wg[id]) l[0] /= 2;
    }
    for (int d = 0; d < dims; d++) {
        g[d] = global[d] ? global[d] : 1;
        if (local && l[d] > 1) g[d] = (g[d] + l[d] - 1) / l[d] * l[d];
    }
    if (dev->rec) return agcl_rec_launch(dev, id, dims, g, local ? l : NULL, nargs, args);
    cl_event ev = NULL;
    cl_int err = clEnqueueNDRangeKernel(dev->queue, kern, (cl_uint)dims, NULL, g, local ? l : NULL,
                                        0, NULL, dev->profile ? &ev : NULL);
    if (err != CL_SUCCESS) return agcl_fail(err, "clEnqueueNDRangeKernel");
    dev->n_dispatches++;
    dev->drained = false;
    if (ev) {
        cl_ulong t0 = 0, t1 = 0;
        if (clWaitForEvents(1, &ev) == CL_SUCCESS &&
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_START, sizeof t0, &t0, NULL) ==
                CL_SUCCESS &&
            clGetEventProfilingInfo(ev, CL_PROFILING_COMMAND_END, sizeof t1, &t1, NULL) ==
                CL_SUCCESS) {
            dev->prof_ms[id] += (double)(t1 - t0) * 1e-6;
            dev->prof_calls[id]++;
        }
        clReleaseEvent(ev);
    }
    return AG_OK;
}

/* 1-D launch in groups of `local` (0: the elementwise group size). One fixed
 * elementwise group size keeps PoCL from compiling a variant per size. */
static ag_status launch1(agi_backend_device *dev, agcl_kernel_id id, size_t n, size_t local,
                         int nargs, const agcl_arg *args)
{
    size_t l = local ? local : dev->ew_local;
    return agcl_launch(dev, id, 1, &n, &l, nargs, args);
}

/* ---- Elementwise geometry -------------------------------------------------- */

static bool same_shape(const agi_view *a, const agi_view *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

/* Coalesces copies of the n views (view 0's shape) into g. Strided views on
 * CPU-type devices use row mode (see EW_BODY in 00_common.cl). */
#define EW_PER_ITEM 4
#define EW_PER_ITEM_MIN 4096

static void make_geom(agi_backend_device *dev, const agi_view *const *views, int n, agcl_geom *g)
{
    agi_view tmp[4];
    agi_view *ptrs[4];
    for (int v = 0; v < n; v++) {
        tmp[v] = *views[v];
        ptrs[v] = &tmp[v];
    }
    agi_views_coalesce(ptrs, n);
    memset(g, 0, sizeof *g);
    g->ndim = tmp[0].ndim;
    g->n = agi_view_numel(views[0]);
    for (int d = 0; d < tmp[0].ndim; d++) g->shape[d] = tmp[0].shape[d];
    g->contig = tmp[0].ndim <= 1;
    for (int v = 0; v < n; v++) {
        g->off[v] = views[v]->offset;
        for (int d = 0; d < tmp[v].ndim; d++) g->st[v * 8 + d] = tmp[v].strides[d];
        if (tmp[v].ndim == 1 && tmp[v].strides[0] != 1) g->contig = 0;
    }
    if (dev->is_cpu && !g->contig && g->ndim >= 2 && g->shape[g->ndim - 1] >= 4)
        g->rows = g->n / g->shape[g->ndim - 1];
    /* GPUs: contiguous launches of many elements take EW_PER_ITEM elements
     * per work-item, a grid apart (more loads in flight per work-item) */
    if (!dev->is_cpu && g->contig && g->n >= EW_PER_ITEM_MIN) g->contig = EW_PER_ITEM;
}

/* Work-items for an elementwise launch over g. */
static size_t ew_items(const agcl_geom *g)
{
    if (g->rows) return (size_t)g->rows;
    return (size_t)(g->contig > 1 ? (g->n + g->contig - 1) / g->contig : g->n);
}

/* ---- FILL / COPY / UNARY / BINARY / WHERE ------------------------------------ */

static ag_status op_fill(agi_backend_device *dev, const agi_kernel *k)
{
    ag_status st = agcl_check_view(k, &k->dst, "dst", -1);
    if (st) return st;
    const agi_view *vs[1] = {&k->dst};
    agcl_geom g;
    make_geom(dev, vs, 1, &g);
    cl_mem d = k->dst.buf->mem;
    cl_uint bits;
    double f = k->p.s.f[0];
    agcl_kernel_id id = AGCL_K_fill_u32;
    if (k->dst.dtype == AG_F32) {
        float x = (float)f;
        memcpy(&bits, &x, 4);
    } else if (k->dst.dtype == AG_F16 || k->dst.dtype == AG_BF16) {
        bits = k->dst.dtype == AG_F16 ? agi_f32_to_f16((float)f) : agi_f32_to_bf16((float)f);
        id = AGCL_K_fill_u16;
    } else {
        int32_t x = (isnan(f) || f >= 2147483648.0 || f < -2147483648.0) ? 0 : (int32_t)f;
        bits = (cl_uint)x;
        if (k->dst.dtype == AG_U8) {
            bits &= 0xffu;
            id = AGCL_K_fill_u8;
        }
    }
    agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(g), AGCL_ARG(bits)};
    return launch1(dev, id, ew_items(&g), 0, 3, a);
}

static ag_status op_copy(agi_backend_device *dev, const agi_kernel *k)
{
    ag_status st;
    if ((st = agcl_check_view(k, &k->dst, "dst", -1)) || (st = agcl_check_view(k, &k->src[0], "src0", -1)))
        return st;
    if (!same_shape(&k->dst, &k->src[0])) return invalid(k, "dst and src0 shapes differ");
    ag_dtype s = k->src[0].dtype, t = k->dst.dtype;
    agcl_kernel_id id;
    if (ag_dtype_size(s) == 2 || ag_dtype_size(t) == 2) {
        /* [src][dst]: elementwise_half.cl */
#define H(A, B, a, b) [AG_##A][AG_##B] = AGCL_K_copy_##a##_##b
        static const agcl_kernel_id half[AG_DTYPE_COUNT][AG_DTYPE_COUNT] = {
            H(F32, F16, f32, f16),   H(F32, BF16, f32, bf16),   H(I32, F16, i32, f16),
            H(I32, BF16, i32, bf16), H(U8, F16, u8, f16),       H(U8, BF16, u8, bf16),
            H(F16, F32, f16, f32),   H(F16, I32, f16, i32),     H(F16, U8, f16, u8),
            H(F16, F16, f16, f16),   H(F16, BF16, f16, bf16),   H(BF16, F32, bf16, f32),
            H(BF16, I32, bf16, i32), H(BF16, U8, bf16, u8),     H(BF16, F16, bf16, f16),
            H(BF16, BF16, bf16, bf16),
        };
#undef H
        id = half[s][t];
    } else if (s == t)
        id = s == AG_U8 ? AGCL_K_copy_u8_u8 : AGCL_K_copy_u32_u32;
    else if (s == AG_F32)
        id = t == AG_I32 ? AGCL_K_copy_f32_i32 : AGCL_K_copy_f32_u8;
    else if (s == AG_I32)
        id = t == AG_F32 ? AGCL_K_copy_i32_f32 : AGCL_K_copy_i32_u8;
    else
        id = t == AG_F32 ? AGCL_K_copy_u8_f32 : AGCL_K_copy_u8_i32;
    const agi_view *vs[2] = {&k->dst, &k->src[0]};
    agcl_geom g;
    make_geom(dev, vs, 2, &g);
    cl_mem d = k->dst.buf->mem, a0 = k->src[0].buf->mem;
    agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(a0), AGCL_ARG(g)};
    return launch1(dev, id, ew_items(&g), 0, 3, a);
}

static ag_status op_unary(agi_backend_device *dev, const agi_kernel *k)
{
    if (k->sub < 0 || k->sub >= AGI_U_COUNT) return unsupported(k, "unknown unary op%s%s", NULL, NULL);
    ag_status st;
    ag_dtype t = k->dst.dtype;
    if ((st = agcl_check_view(k, &k->dst, "dst", -1)) ||
        (st = agcl_check_view(k, &k->src[0], "src0", t)))
        return st;
    if (!agi_dtype_is_float(t)) return unsupported(k, "%s data%s", dtype_name(t), NULL);
    if (!same_shape(&k->dst, &k->src[0])) return invalid(k, "dst and src0 shapes differ");
    const agi_view *vs[2] = {&k->dst, &k->src[0]};
    agcl_geom g;
    make_geom(dev, vs, 2, &g);
    cl_mem d = k->dst.buf->mem, a0 = k->src[0].buf->mem;
    cl_float p0 = (float)k->p.s.f[0], p1 = (float)k->p.s.f[1];
    if (t != AG_F32) { /* 16-bit data: one kernel switching on the op */
        cl_int op = k->sub, bf = t == AG_BF16;
        agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(a0), AGCL_ARG(g), AGCL_ARG(p0), AGCL_ARG(p1), AGCL_ARG(op), AGCL_ARG(bf)};
        return launch1(dev, AGCL_K_unary_h16, ew_items(&g), 0, 7, a);
    }
    agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(a0), AGCL_ARG(g), AGCL_ARG(p0), AGCL_ARG(p1)};
    return launch1(dev, (agcl_kernel_id)(AGCL_K_UNARY0 + k->sub), ew_items(&g), 0, 5, a);
}


static ag_status op_binary(agi_backend_device *dev, const agi_kernel *k)
{
    int sub = k->sub;
    if (sub < 0 || sub >= AGI_B_COUNT) return unsupported(k, "unknown binary op%s%s", NULL, NULL);
    ag_status st;
    if ((st = agcl_check_view(k, &k->dst, "dst", -1)) ||
        (st = agcl_check_view(k, &k->src[0], "src0", -1)) ||
        (st = agcl_check_view(k, &k->src[1], "src1", k->src[0].dtype)))
        return st;
    if (!same_shape(&k->dst, &k->src[0]) || !same_shape(&k->dst, &k->src[1]))
        return invalid(k, "dst and source shapes differ");
    ag_dtype s = k->src[0].dtype, t = k->dst.dtype;
    agcl_kernel_id id;
    if (agi_binary_is_compare(sub)) {
        if (t != AG_U8 || (s != AG_F32 && s != AG_I32))
            return unsupported(k, "compare %s -> %s", dtype_name(s), dtype_name(t));
        id = s == AG_F32 ? AGCL_K_compare_f32 : AGCL_K_compare_i32;
    } else if (s == AG_F32 && t == AG_F32) {
        id = (agcl_kernel_id)(AGCL_K_BINARY0 + sub);
    } else if ((s == AG_F16 || s == AG_BF16) && t == s) {
        id = AGCL_K_binary_h16;
    } else if (s == AG_I32 && t == AG_I32 && agi_binary_has_dtype(sub, AG_I32)) {
        id = AGCL_K_binary_i32;
    } else {
        return unsupported(k, "%s -> %s", dtype_name(s), dtype_name(t));
    }
    const agi_view *vs[3] = {&k->dst, &k->src[0], &k->src[1]};
    agcl_geom g;
    make_geom(dev, vs, 3, &g);
    cl_mem d = k->dst.buf->mem, a0 = k->src[0].buf->mem, a1 = k->src[1].buf->mem;
    cl_int op = sub;
    cl_float p0 = (float)k->p.s.f[0], p1 = (float)k->p.s.f[1];
    if (s == AG_F32 && t == AG_F32) {
        agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(a0), AGCL_ARG(a1), AGCL_ARG(g), AGCL_ARG(p0),
                        AGCL_ARG(p1)};
        return launch1(dev, id, ew_items(&g), 0, 6, a);
    }
    if (id == AGCL_K_binary_h16) {
        cl_int bf = s == AG_BF16;
        agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(a0), AGCL_ARG(a1), AGCL_ARG(g), AGCL_ARG(p0),
                        AGCL_ARG(p1), AGCL_ARG(op), AGCL_ARG(bf)};
        return launch1(dev, id, ew_items(&g), 0, 8, a);
    }
    agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(a0), AGCL_ARG(a1), AGCL_ARG(g), AGCL_ARG(op)};
    return launch1(dev, id, ew_items(&g), 0, 5, a);
}

static ag_status op_where(agi_backend_device *dev, const agi_kernel *k)
{
    ag_status st;
    if ((st = agcl_check_view(k, &k->dst, "dst", -1)) ||
        (st = agcl_check_view(k, &k->src[0], "src0", AG_U8)) ||
        (st = agcl_check_view(k, &k->src[1], "src1", k->dst.dtype)) ||
        (st = agcl_check_view(k, &k->src[2], "src2", k->dst.dtype)))
        return st;
    if (k->dst.dtype == AG_U8) return unsupported(k, "u8 data%s%s", NULL, NULL);
    if (!same_shape(&k->dst, &k->src[0]) || !same_shape(&k->dst, &k->src[1]) ||
        !same_shape(&k->dst, &k->src[2]))
        return invalid(k, "dst and source shapes differ");
    const agi_view *vs[4] = {&k->dst, &k->src[0], &k->src[1], &k->src[2]};
    agcl_geom g;
    make_geom(dev, vs, 4, &g);
    cl_mem d = k->dst.buf->mem, c = k->src[0].buf->mem, a0 = k->src[1].buf->mem,
           a1 = k->src[2].buf->mem;
    agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(c), AGCL_ARG(a0), AGCL_ARG(a1), AGCL_ARG(g)};
    return launch1(dev, AGCL_K_where_u32, ew_items(&g), 0, 5, a);
}

/* ---- REDUCE ------------------------------------------------------------------- */

/* Merges consecutive dims of a (shape, stride...) list when contiguous in all. */
static int merge_dims(int n, cl_long *shape, cl_long *s1, cl_long *s2)
{
    if (n == 0) return 0;
    int kept = 0;
    for (int d = 1; d < n; d++) {
        bool ok = s1[kept] == s1[d] * shape[d] && (!s2 || s2[kept] == s2[d] * shape[d]);
        if (ok) {
            shape[kept] *= shape[d];
            s1[kept] = s1[d];
            if (s2) s2[kept] = s2[d];
        } else {
            kept++;
            shape[kept] = shape[d];
            s1[kept] = s1[d];
            if (s2) s2[kept] = s2[d];
        }
    }
    return kept + 1;
}

static ag_status reduce_launch(agi_backend_device *dev, cl_mem dm, cl_mem sm,
                               const agcl_rgeom *gp, cl_int op, bool arg)
{
    agcl_rgeom g = *gp;
    bool wg = g.nred > 64 && g.nout < 8192;
    if (!wg) {
        agcl_arg a[] = {AGCL_ARG(dm), AGCL_ARG(sm), AGCL_ARG(g), AGCL_ARG(op)};
        return launch1(dev, arg ? AGCL_K_argreduce_rows_f32 : AGCL_K_reduce_rows_f32,
                       (size_t)g.nout, 0, 4, a);
    }
    size_t l = dev->red_local, n = (size_t)g.nout * l;
    agcl_arg a[] = {AGCL_ARG(dm), AGCL_ARG(sm), AGCL_ARG(g), AGCL_ARG(op),
                    AGCL_LOCAL(l * sizeof(cl_float)), AGCL_LOCAL(l * sizeof(cl_long))};
    return agcl_launch(dev, arg ? AGCL_K_argreduce_wg_f32 : AGCL_K_reduce_wg_f32, 1, &n, &l,
                       arg ? 6 : 5, a);
}

static ag_status op_reduce(agi_backend_device *dev, const agi_kernel *k)
{
    int sub = k->sub;
    if (sub < 0 || sub >= AGI_R_COUNT) return unsupported(k, "unknown reduction%s%s", NULL, NULL);
    bool arg = sub == AGI_R_ARGMAX || sub == AGI_R_ARGMIN;
    ag_status st;
    if ((st = agcl_check_view(k, &k->dst, "dst", arg ? AG_I32 : AG_F32)) ||
        (st = agcl_check_view(k, &k->src[0], "src0", AG_F32)))
        return st;
    const agi_view *s = &k->src[0], *d = &k->dst;
    if (s->ndim != d->ndim) return invalid(k, "dst and src0 ranks differ");
    agcl_rgeom g;
    memset(&g, 0, sizeof g);
    int kn = 0, rn = 0;
    for (int i = 0; i < s->ndim; i++) {
        if (d->shape[i] == 1 && s->shape[i] > 1) {
            g.rshape[rn] = s->shape[i];
            g.rst[rn] = s->strides[i];
            rn++;
        } else if (d->shape[i] == s->shape[i]) {
            if (s->shape[i] == 1) continue;
            g.kshape[kn] = s->shape[i];
            g.kst_s[kn] = s->strides[i];
            g.kst_d[kn] = d->strides[i];
            kn++;
        } else {
            return invalid(k, "dst shape is neither 1 nor src0's along a dim");
        }
    }
    g.knd = merge_dims(kn, g.kshape, g.kst_s, g.kst_d);
    g.rnd = merge_dims(rn, g.rshape, g.rst, NULL);
    g.nout = 1;
    for (int i = 0; i < g.knd; i++) g.nout *= g.kshape[i];
    g.nred = 1;
    for (int i = 0; i < g.rnd; i++) g.nred *= g.rshape[i];
    g.s_off = s->offset;
    g.d_off = d->offset;
    cl_mem dm = d->buf->mem, sm = s->buf->mem;
    cl_int op = sub;
    /* Few outputs, long reductions: split each reduction over several work-
     * groups (fixed split for a given device and shape, so deterministic). */
    uint64_t groups = 8 * (uint64_t)(dev->info.compute_units ? dev->info.compute_units : 1);
    int64_t min_chunk = (int64_t)dev->red_local * 16;
    if (!arg && (uint64_t)g.nout < groups && g.nred >= 4 * min_chunk) {
        int64_t parts = (int64_t)((groups + (uint64_t)g.nout - 1) / (uint64_t)g.nout);
        if (parts > g.nred / min_chunk) parts = g.nred / min_chunk;
        if (parts > 1024) parts = 1024;
        if (parts >= 2) {
            cl_long chunk = (g.nred + parts - 1) / parts;
            cl_int nparts = (cl_int)((g.nred + chunk - 1) / chunk);
            agi_buffer *tmp;
            if ((st = agcl_alloc_locked(dev, (size_t)(g.nout * nparts) * sizeof(float), &tmp)))
                return st;
            size_t l = dev->red_local, n = (size_t)(g.nout * nparts) * l;
            agcl_arg a[] = {AGCL_ARG(tmp->mem), AGCL_ARG(sm),     AGCL_ARG(g),
                            AGCL_ARG(op),       AGCL_ARG(chunk), AGCL_ARG(nparts),
                            AGCL_LOCAL(l * sizeof(cl_float))};
            st = agcl_launch(dev, AGCL_K_reduce_part_f32, 1, &n, &l, 7, a);
            if (st == AG_OK) {
                /* parts: [nout, nparts] contiguous -> dst */
                agcl_rgeom g2 = g;
                cl_long stride = nparts;
                for (int i = g.knd - 1; i >= 0; i--) {
                    g2.kst_s[i] = stride;
                    stride *= g.kshape[i];
                }
                g2.rnd = 1;
                g2.rshape[0] = nparts;
                g2.rst[0] = 1;
                g2.s_off = 0;
                g2.nred = nparts;
                st = reduce_launch(dev, dm, tmp->mem, &g2, op, false);
            }
            /* back to the pool: later users are ordered after these kernels */
            agcl_free_locked(dev, tmp);
            return st;
        }
    }
    return reduce_launch(dev, dm, sm, &g, op, arg);
}

/* ---- SOFTMAX -------------------------------------------------------------------- */

/* dt: AG_F32, or the 16-bit dtype of a record agi_rownorm_half accepts */
static ag_status check_rows(const agi_kernel *k, const agi_view *v, const char *which,
                            const agi_view *like, ag_dtype dt)
{
    ag_status st = agcl_check_view(k, v, which, dt);
    if (st) return st;
    if (v->ndim != 2 || !agi_view_is_contiguous(v))
        return unsupported(k, "%s must be contiguous [rows, n]%s", which, NULL);
    if (like && !same_shape(v, like)) return invalid(k, "row shapes differ");
    return AG_OK;
}

/* A contiguous view of `dtype` with exactly `numel` elements (norm weights and
 * statistics, images and columns, optimizer buffers). */
static ag_status check_flat(const agi_kernel *k, const agi_view *v, const char *which, int dtype,
                            int64_t numel)
{
    ag_status st = agcl_check_view(k, v, which, dtype);
    if (st) return st;
    if (!agi_view_is_contiguous(v)) return unsupported(k, "non-contiguous %s%s", which, NULL);
    if (agi_view_numel(v) != numel) {
        char msg[128];
        snprintf(msg, sizeof msg, "%s has %lld elements, expected %lld", which,
                 (long long)agi_view_numel(v), (long long)numel);
        return invalid(k, msg);
    }
    return AG_OK;
}

/* Launches a row kernel of dtype dt (ids: {f32, f16, bf16}): the work-group
 * variant over gsz items in groups of l, whose last argument is the local
 * buffer, or the work-item variant (without it). */
static ag_status launch_rows(agi_backend_device *dev, ag_dtype dt, bool wg,
                             const agcl_kernel_id wg_ids[3], const agcl_kernel_id item_ids[3],
                             size_t gsz, size_t l, int nargs, const agcl_arg *a)
{
    int i = dt == AG_F16 ? 1 : dt == AG_BF16 ? 2 : 0;
    if (wg) return agcl_launch(dev, wg_ids[i], 1, &gsz, &l, nargs + 1, a);
    return launch1(dev, item_ids[i], gsz, 0, nargs, a);
}

static ag_status op_layer_norm(agi_backend_device *dev, const agi_kernel *k)
{
    ag_status st;
    ag_dtype dt = agi_rownorm_half(k); /* 16-bit data converted in registers */
    if ((st = check_rows(k, &k->dst, "dst", NULL, dt)) ||
        (st = check_rows(k, &k->src[0], "src0", &k->dst, dt)))
        return st;
    cl_long rows = k->dst.shape[0], n = k->dst.shape[1];
    if ((k->src[1].buf && (st = check_flat(k, &k->src[1], "src1 (weight)", dt, n))) ||
        (k->src[2].buf && (st = check_flat(k, &k->src[2], "src2 (bias)", dt, n))) ||
        (k->dst2.buf && (st = check_flat(k, &k->dst2, "dst2 (stats)", AG_F32, 2 * rows))))
        return st;
    if (!(k->p.s.f[0] >= 0.0)) return invalid(k, "eps must be >= 0");
    cl_mem y = k->dst.buf->mem, x = k->src[0].buf->mem;
    /* absent operands: any valid buffer, never read (flags say which exist) */
    cl_mem w = k->src[1].buf ? k->src[1].buf->mem : x, b = k->src[2].buf ? k->src[2].buf->mem : x;
    cl_mem s = k->dst2.buf ? k->dst2.buf->mem : y;
    cl_long yo = k->dst.offset, xo = k->src[0].offset;
    cl_long wo = k->src[1].buf ? k->src[1].offset : 0, bo = k->src[2].buf ? k->src[2].offset : 0;
    cl_long so = k->dst2.buf ? k->dst2.offset : 0;
    cl_float eps = (cl_float)k->p.s.f[0];
    cl_int flags = (k->src[1].buf ? 1 : 0) | (k->src[2].buf ? 2 : 0) | (k->dst2.buf ? 4 : 0);
    bool wg = n > 64 && (rows < 8192 || !dev->is_cpu);
    size_t l = dev->red_local, gsz = wg ? (size_t)rows * l : (size_t)rows;
    agcl_arg a[] = {AGCL_ARG(y),    AGCL_ARG(yo),  AGCL_ARG(x),   AGCL_ARG(xo),    AGCL_ARG(w),
                    AGCL_ARG(wo),   AGCL_ARG(b),   AGCL_ARG(bo),  AGCL_ARG(s),     AGCL_ARG(so),
                    AGCL_ARG(rows), AGCL_ARG(n),   AGCL_ARG(eps), AGCL_ARG(flags),
                    AGCL_LOCAL(l * sizeof(cl_float))};
    static const agcl_kernel_id wg_ids[3] = {AGCL_K_layer_norm_wg_f32, AGCL_K_layer_norm_wg_f16,
                                             AGCL_K_layer_norm_wg_bf16};
    static const agcl_kernel_id item_ids[3] = {AGCL_K_layer_norm_rows_f32, AGCL_K_layer_norm_rows_f16,
                                               AGCL_K_layer_norm_rows_bf16};
    return launch_rows(dev, dt, wg, wg_ids, item_ids, gsz, l, 14, a);
}

static ag_status op_softmax(agi_backend_device *dev, const agi_kernel *k)
{
    if (k->sub != AGI_SOFTMAX && k->sub != AGI_LOG_SOFTMAX)
        return unsupported(k, "unknown variant%s%s", NULL, NULL);
    bool bwd = k->op == AGI_K_SOFTMAX_BWD;
    ag_dtype dt = agi_rownorm_half(k); /* 16-bit data converted in registers */
    ag_status st;
    if ((st = check_rows(k, &k->dst, "dst", NULL, dt)) ||
        (st = check_rows(k, &k->src[0], "src0", &k->dst, dt)) ||
        (bwd && (st = check_rows(k, &k->src[1], "src1", &k->dst, dt))))
        return st;
    cl_long rows = k->dst.shape[0], n = k->dst.shape[1];
    cl_int logsm = k->sub == AGI_LOG_SOFTMAX;
    cl_mem y = k->dst.buf->mem, x = k->src[0].buf->mem;
    cl_long yo = k->dst.offset, xo = k->src[0].offset;
    bool wg = n > 64 && rows < 8192;
    size_t l = dev->red_local, gsz = wg ? (size_t)rows * l : (size_t)rows;
    if (!bwd) {
        agcl_arg a[] = {AGCL_ARG(y),    AGCL_ARG(yo), AGCL_ARG(x),     AGCL_ARG(xo),
                        AGCL_ARG(rows), AGCL_ARG(n),  AGCL_ARG(logsm), AGCL_LOCAL(l * sizeof(cl_float))};
        static const agcl_kernel_id wg_ids[3] = {AGCL_K_softmax_wg_f32, AGCL_K_softmax_wg_f16,
                                                 AGCL_K_softmax_wg_bf16};
        static const agcl_kernel_id item_ids[3] = {AGCL_K_softmax_rows_f32, AGCL_K_softmax_rows_f16,
                                                   AGCL_K_softmax_rows_bf16};
        return launch_rows(dev, dt, wg, wg_ids, item_ids, gsz, l, 7, a);
    }
    cl_mem dy = k->src[1].buf->mem;
    cl_long dyo = k->src[1].offset;
    agcl_arg a[] = {AGCL_ARG(y),  AGCL_ARG(yo),   AGCL_ARG(x),    AGCL_ARG(xo),
                    AGCL_ARG(dy), AGCL_ARG(dyo),  AGCL_ARG(rows), AGCL_ARG(n),
                    AGCL_ARG(logsm), AGCL_LOCAL(l * sizeof(cl_float))};
    static const agcl_kernel_id wg_ids[3] = {AGCL_K_softmax_bwd_wg_f32, AGCL_K_softmax_bwd_wg_f16,
                                             AGCL_K_softmax_bwd_wg_bf16};
    static const agcl_kernel_id item_ids[3] = {AGCL_K_softmax_bwd_rows_f32, AGCL_K_softmax_bwd_rows_f16,
                                               AGCL_K_softmax_bwd_rows_bf16};
    return launch_rows(dev, dt, wg, wg_ids, item_ids, gsz, l, 9, a);
}

/* ---- IM2COL / COL2IM / pooling ---------------------------------------------------- */


static ag_status op_im2col(agi_backend_device *dev, const agi_kernel *k)
{
    const agi_conv_params *p = &k->p.conv;
    if (p->n < 1 || p->c < 1 || p->h < 1 || p->w < 1 || p->kh < 1 || p->kw < 1 || p->oh < 1 ||
        p->ow < 1 || p->sh < 1 || p->sw < 1 || p->dh < 1 || p->dw < 1 || p->ph < 0 || p->pw < 0)
        return invalid(k, "bad convolution geometry");
    int64_t xn = p->n * p->c * p->h * p->w, cn = p->n * p->c * p->kh * p->kw * p->oh * p->ow;
    bool fwd = k->op == AGI_K_IM2COL;
    ag_status st;
    if ((st = check_flat(k, &k->dst, "dst", AG_F32, fwd ? cn : xn)) ||
        (st = check_flat(k, &k->src[0], "src0", AG_F32, fwd ? xn : cn)))
        return st;
    cl_mem d = k->dst.buf->mem, s = k->src[0].buf->mem;
    cl_long doff = k->dst.offset, soff = k->src[0].offset;
    agi_conv_params cp = *p;
    agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(doff), AGCL_ARG(s), AGCL_ARG(soff), AGCL_ARG(cp)};
    if (fwd && dev->is_cpu) {
        size_t R = (size_t)(p->c * p->kh * p->kw);
        size_t global[3] = {(size_t)p->oh, R, (size_t)p->n};
        return agcl_launch(dev, AGCL_K_im2col_rows_f32, 3, global, NULL, 5, a);
    }
    if (fwd) {
        size_t L = (size_t)(p->oh * p->ow), R = (size_t)(p->c * p->kh * p->kw);
        size_t lx = L >= 64 ? 64 : 16;
        size_t global[3] = {L, R, (size_t)p->n}, local[3] = {lx, 1, 1};
        return agcl_launch(dev, AGCL_K_im2col_f32, 3, global, local, 5, a);
    }
    if (dev->is_cpu) {
        size_t global[2] = {(size_t)p->h, (size_t)(p->n * p->c)};
        return agcl_launch(dev, AGCL_K_col2im_rows_f32, 2, global, NULL, 5, a);
    }
    return launch1(dev, AGCL_K_col2im_f32, (size_t)xn, 0, 5, a);
}

static ag_status op_pool(agi_backend_device *dev, const agi_kernel *k)
{
    const agi_pool_params *p = &k->p.pool;
    bool adaptive = p->adaptive && (k->op == AGI_K_AVGPOOL2D || k->op == AGI_K_AVGPOOL2D_BWD);
    if (p->n < 1 || p->c < 1 || p->h < 1 || p->w < 1 || p->oh < 1 || p->ow < 1 ||
        (!adaptive && (p->kh < 1 || p->kw < 1 || p->sh < 1 || p->sw < 1 || p->ph < 0 ||
                       p->pw < 0 || ((k->op == AGI_K_MAXPOOL2D || k->op == AGI_K_MAXPOOL2D_BWD) &&
                                     (p->dh < 1 || p->dw < 1)))))
        return invalid(k, "bad pooling geometry");
    int64_t xn = p->n * p->c * p->h * p->w, yn = p->n * p->c * p->oh * p->ow;
    agi_pool_params pp = *p;
    pp.adaptive = adaptive;
    ag_status st;
    cl_mem d = k->dst.buf ? k->dst.buf->mem : NULL, s0 = k->src[0].buf ? k->src[0].buf->mem : NULL;
    cl_long doff = k->dst.offset, s0off = k->src[0].offset;
    switch (k->op) {
    case AGI_K_MAXPOOL2D: {
        if ((st = check_flat(k, &k->dst, "dst", AG_F32, yn)) ||
            (st = check_flat(k, &k->dst2, "dst2", AG_I32, yn)) ||
            (st = check_flat(k, &k->src[0], "src0", AG_F32, xn)))
            return st;
        cl_mem i = k->dst2.buf->mem;
        cl_long ioff = k->dst2.offset;
        agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(doff), AGCL_ARG(i), AGCL_ARG(ioff),
                        AGCL_ARG(s0), AGCL_ARG(s0off), AGCL_ARG(pp)};
        if (dev->is_cpu) {
            size_t global[2] = {(size_t)p->oh, (size_t)(p->n * p->c)};
            return agcl_launch(dev, AGCL_K_maxpool2d_rows_f32, 2, global, NULL, 7, a);
        }
        return launch1(dev, AGCL_K_maxpool2d_f32, (size_t)yn, 0, 7, a);
    }
    case AGI_K_MAXPOOL2D_BWD: {
        if ((st = check_flat(k, &k->dst, "dst", AG_F32, xn)) ||
            (st = check_flat(k, &k->src[0], "src0", AG_F32, yn)) ||
            (st = check_flat(k, &k->src[1], "src1", AG_I32, yn)))
            return st;
        cl_mem i = k->src[1].buf->mem;
        cl_long ioff = k->src[1].offset;
        agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(doff), AGCL_ARG(s0), AGCL_ARG(s0off),
                        AGCL_ARG(i), AGCL_ARG(ioff), AGCL_ARG(pp)};
        return launch1(dev, AGCL_K_maxpool2d_bwd_f32, (size_t)xn, 0, 7, a);
    }
    case AGI_K_AVGPOOL2D: {
        if ((st = check_flat(k, &k->dst, "dst", AG_F32, yn)) ||
            (st = check_flat(k, &k->src[0], "src0", AG_F32, xn)))
            return st;
        agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(doff), AGCL_ARG(s0), AGCL_ARG(s0off), AGCL_ARG(pp)};
        return launch1(dev, AGCL_K_avgpool2d_f32, (size_t)yn, 0, 5, a);
    }
    default: {
        if ((st = check_flat(k, &k->dst, "dst", AG_F32, xn)) ||
            (st = check_flat(k, &k->src[0], "src0", AG_F32, yn)))
            return st;
        agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(doff), AGCL_ARG(s0), AGCL_ARG(s0off), AGCL_ARG(pp)};
        return launch1(dev, AGCL_K_avgpool2d_bwd_f32, (size_t)xn, 0, 5, a);
    }
    }
}

/* ---- GATHER / SCATTER_ADD ------------------------------------------------------------ */

static ag_status op_index(agi_backend_device *dev, const agi_kernel *k)
{
    bool gather = k->op == AGI_K_GATHER;
    ag_status st;
    if ((st = agcl_check_view(k, &k->dst, "dst", gather ? -1 : AG_F32)) ||
        (st = agcl_check_view(k, &k->src[0], "src0", k->dst.dtype)) ||
        (st = agcl_check_view(k, &k->src[1], "src1", AG_I32)))
        return st;
    if (k->dst.dtype == AG_U8) return unsupported(k, "u8 data%s%s", NULL, NULL);
    const agi_view *d = &k->dst, *s = &k->src[0], *ix = &k->src[1];
    int nd = d->ndim;
    int64_t dim = k->p.s.i[0];
    if (nd < 1 || s->ndim != nd || ix->ndim != nd || dim < 0 || dim >= nd)
        return invalid(k, "ranks or dim do not match");
    if (!same_shape(ix, gather ? d : s)) return invalid(k, "index shape mismatch");
    for (int i = 0; i < nd; i++)
        if (i != dim && (gather ? d->shape[i] != s->shape[i] : s->shape[i] > d->shape[i]))
            return invalid(k, "shapes differ outside dim");
    agcl_sgeom g;
    memset(&g, 0, sizeof g);
    for (int i = 0; i < nd; i++) {
        g.dshape[i] = d->shape[i];
        g.sshape[i] = s->shape[i];
        g.dst_st[i] = d->strides[i];
        g.src_st[i] = s->strides[i];
        g.idx_st[i] = ix->strides[i];
    }
    g.doff = d->offset;
    g.soff = s->offset;
    g.ioff = ix->offset;
    g.ndim = nd;
    g.dim = (cl_int)dim;
    cl_mem dm = d->buf->mem, sm = s->buf->mem, im = ix->buf->mem;
    agcl_kernel_id id;
    if (gather) {
        id = AGCL_K_gather_u32;
        g.n = agi_view_numel(d);
    } else if (k->deterministic) {
        id = AGCL_K_scatter_add_det_f32;
        g.n = agi_view_numel(s) / s->shape[dim];
    } else {
        id = AGCL_K_scatter_add_atomic_f32;
        g.n = agi_view_numel(s);
    }
    /* The error word (argument 4): dst stands in when there is none (never
     * written then: err_code 0). */
    cl_mem em = k->err ? k->err->mem : dm;
    g.err_code = k->err ? k->err_code : 0;
    agcl_arg a[] = {AGCL_ARG(dm), AGCL_ARG(sm), AGCL_ARG(im), AGCL_ARG(g), AGCL_ARG(em)};
    return launch1(dev, id, (size_t)g.n, 0, 5, a);
}

/* ---- RNG ---------------------------------------------------------------------------- */

static ag_status op_rng(agi_backend_device *dev, const agi_kernel *k)
{
    if (k->sub != AGI_RNG_UNIFORM && k->sub != AGI_RNG_NORMAL)
        return unsupported(k, "unknown distribution%s%s", NULL, NULL);
    ag_status st = agcl_check_view(k, &k->dst, "dst", AG_F32);
    if (st) return st;
    const agi_view *vs[1] = {&k->dst};
    agcl_geom g;
    make_geom(dev, vs, 1, &g);
    cl_mem d = k->dst.buf->mem;
    uint64_t seed = k->p.s.u[0], off = k->p.s.u[1];
    cl_uint slo = (cl_uint)seed, shi = (cl_uint)(seed >> 32), olo = (cl_uint)off,
            ohi = (cl_uint)(off >> 32);
    cl_int normal = k->sub == AGI_RNG_NORMAL;
    cl_float a0 = (float)k->p.s.f[0], a1 = (float)k->p.s.f[1];
    /* dst2: seed and offset read on the device (graph replays) */
    cl_int from_buf = k->dst2.buf != NULL;
    if (from_buf && (st = check_flat(k, &k->dst2, "dst2", AG_I32, 4))) return st;
    cl_mem pw = from_buf ? k->dst2.buf->mem : d;
    cl_long pwo = from_buf ? k->dst2.offset : 0;
    agcl_arg a[] = {AGCL_ARG(d),   AGCL_ARG(g),      AGCL_ARG(slo), AGCL_ARG(shi), AGCL_ARG(olo),
                    AGCL_ARG(ohi), AGCL_ARG(normal), AGCL_ARG(a0),  AGCL_ARG(a1),  AGCL_ARG(pw),
                    AGCL_ARG(pwo), AGCL_ARG(from_buf)};
    return launch1(dev, AGCL_K_rng_f32, ew_items(&g), 0, 12, a);
}

/* ---- Optimizers ----------------------------------------------------------------------- */


static ag_status op_optim(agi_backend_device *dev, const agi_kernel *k)
{
    const agi_optim_params *p = &k->p.optim;
    int64_t n = agi_view_numel(&k->dst);
    bool need1 = k->op == AGI_K_ADAM || k->op == AGI_K_RMSPROP || p->momentum != 0.0f;
    bool need2 = k->op == AGI_K_ADAM || (k->op == AGI_K_RMSPROP && p->momentum != 0.0f);
    ag_status st;
    if ((st = check_flat(k, &k->dst, "dst", AG_F32, n)) || (st = check_flat(k, &k->src[0], "src0", AG_F32, n)) ||
        (need1 && (st = check_flat(k, &k->src[1], "src1", AG_F32, n))) ||
        (need2 && (st = check_flat(k, &k->src[2], "src2", AG_F32, n))))
        return st;
    agcl_optim o = {p->lr,    p->weight_decay, p->momentum, p->dampening, p->beta1,
                    p->beta2, p->eps,          p->bias1,    p->bias2,     p->nesterov,
                    p->first_step, p->decoupled};
    cl_mem pm = k->dst.buf->mem, gm = k->src[0].buf->mem;
    cl_mem s1 = need1 ? k->src[1].buf->mem : pm, s2 = need2 ? k->src[2].buf->mem : pm;
    cl_long po = k->dst.offset, go = k->src[0].offset, o1 = need1 ? k->src[1].offset : 0,
            o2 = need2 ? k->src[2].offset : 0, nn = n;
    /* dst2: the step's parameters on the device (graph replays) */
    cl_int use_h = k->dst2.buf != NULL;
    if (use_h && (st = check_flat(k, &k->dst2, "dst2", AG_F32, 4))) return st;
    cl_mem hm = use_h ? k->dst2.buf->mem : pm;
    cl_long ho = use_h ? k->dst2.offset : 0;
    if (k->op == AGI_K_SGD) {
        agcl_arg a[] = {AGCL_ARG(pm), AGCL_ARG(po), AGCL_ARG(gm), AGCL_ARG(go),  AGCL_ARG(s1),
                        AGCL_ARG(o1), AGCL_ARG(nn), AGCL_ARG(o),  AGCL_ARG(hm), AGCL_ARG(ho),
                        AGCL_ARG(use_h)};
        return launch1(dev, AGCL_K_sgd_f32, (size_t)n, 0, 11, a);
    }
    agcl_arg a[] = {AGCL_ARG(pm), AGCL_ARG(po), AGCL_ARG(gm), AGCL_ARG(go), AGCL_ARG(s1),
                    AGCL_ARG(o1), AGCL_ARG(s2), AGCL_ARG(o2), AGCL_ARG(nn), AGCL_ARG(o),
                    AGCL_ARG(hm), AGCL_ARG(ho), AGCL_ARG(use_h)};
    return launch1(dev, k->op == AGI_K_ADAM ? AGCL_K_adam_f32 : AGCL_K_rmsprop_f32, (size_t)n, 0,
                   13, a);
}

/* ---- EW_FUSED ---------------------------------------------------------------------------- */

static ag_status op_ew_fused(agi_backend_device *dev, const agi_kernel *k)
{
    const agi_fused_params *f = &k->p.fused;
    /* absent sources reuse dst's geometry and buffer; the kernel never reads them */
    const agi_view *vs[4] = {&k->dst, &k->dst, &k->dst, &k->dst};
    for (int i = 0; i < f->nin; i++) vs[1 + i] = &k->src[i];
    agcl_geom g;
    make_geom(dev, vs, 4, &g);
    cl_mem d = k->dst.buf->mem, m[3];
    for (int i = 0; i < 3; i++) m[i] = vs[1 + i]->buf->mem;
    agi_fused_params prog = *f;
    agcl_arg a[] = {AGCL_ARG(d), AGCL_ARG(m[0]), AGCL_ARG(m[1]), AGCL_ARG(m[2]), AGCL_ARG(g),
                    AGCL_ARG(prog)};
    return launch1(dev, AGCL_K_ew_fused_f32, ew_items(&g), 0, 6, a);
}

/* ---- Dispatch ----------------------------------------------------------------------------- */

ag_status agcl_exec(agi_backend_device *dev, const agi_kernel *k)
{
    switch (k->op) {
    case AGI_K_FILL: return op_fill(dev, k);
    case AGI_K_COPY: return op_copy(dev, k);
    case AGI_K_UNARY: return op_unary(dev, k);
    case AGI_K_BINARY: return op_binary(dev, k);
    case AGI_K_WHERE: return op_where(dev, k);
    case AGI_K_REDUCE: return op_reduce(dev, k);
    case AGI_K_SOFTMAX:
    case AGI_K_SOFTMAX_BWD: return op_softmax(dev, k);
    case AGI_K_LAYER_NORM: return op_layer_norm(dev, k);
    case AGI_K_GEMM: return agcl_gemm(dev, k);
    case AGI_K_IM2COL:
    case AGI_K_COL2IM: return op_im2col(dev, k);
    case AGI_K_MAXPOOL2D:
    case AGI_K_MAXPOOL2D_BWD:
    case AGI_K_AVGPOOL2D:
    case AGI_K_AVGPOOL2D_BWD: return op_pool(dev, k);
    case AGI_K_GATHER:
    case AGI_K_SCATTER_ADD: return op_index(dev, k);
    case AGI_K_RNG: return op_rng(dev, k);
    case AGI_K_SGD:
    case AGI_K_ADAM:
    case AGI_K_RMSPROP: return op_optim(dev, k);
    case AGI_K_EW_FUSED: return op_ew_fused(dev, k);
    default: break;
    }
    return agi_set_error(AG_ERR_UNSUPPORTED, "opencl: kernel op %d unsupported", (int)k->op);
}
