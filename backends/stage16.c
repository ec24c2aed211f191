/* backends/stage16.c — 16-bit float data for the ops kernel_ops.def marks
 * AGI_H_STAGED, on every backend, from the backend's own kernels: each f16 /
 * bf16 data view is widened (COPY, exact) into a contiguous f32 scratch
 * buffer, the op's f32 kernel runs on the scratch views (so every sum,
 * GEMM and norm accumulates in f32), and each view the op writes is rounded
 * back once (COPY, to nearest even). The result equals "cast to f32, run in
 * f32, cast back" bit for bit; the cost is the scratch traffic, until an op
 * gets kernels that convert in registers. */
#include "backend.h"

#include <string.h>

/* The views an op writes: dst and dst2, and an optimizer's state buffers. */
static bool writes(agi_kernel_op op, int v)
{
    if (v <= 1) return true;
    return (op == AGI_K_SGD || op == AGI_K_ADAM || op == AGI_K_RMSPROP) && v >= 3;
}

/* Whether the op reads view v before writing it: every source; dst for a
 * GEMM with beta != 0 and a SCATTER_ADD (which add to it) and an
 * optimizer. Pure outputs are not widened (their old contents are
 * undefined, and reading them would be wasted work). */
static bool reads(const agi_kernel *k, int v)
{
    if (v >= 2) return true;
    if (v == 1) return false;
    return (k->op == AGI_K_GEMM && k->p.s.f[1] != 0.0) || k->op == AGI_K_SCATTER_ADD || k->op == AGI_K_SGD ||
           k->op == AGI_K_ADAM || k->op == AGI_K_RMSPROP;
}

static bool is16(const agi_view *v) { return v->buf && (v->dtype == AG_F16 || v->dtype == AG_BF16); }

bool agi_kernel_staged16(const agi_kernel *k)
{
    if (agi_kernel_half_mode(k->op) != AGI_H_STAGED) return false;
    const agi_view *v[5] = {&k->dst, &k->dst2, &k->src[0], &k->src[1], &k->src[2]};
    for (int i = 0; i < 5; i++)
        if (is16(v[i])) return true;
    return false;
}

static ag_status copy(agi_backend_device *dev, const agi_stage_ops *ops, const agi_view *dst, const agi_view *src)
{
    agi_kernel c;
    memset(&c, 0, sizeof c);
    c.op = AGI_K_COPY;
    c.dst = *dst;
    c.src[0] = *src;
    return ops->exec(dev, &c);
}

ag_status agi_exec_staged16(agi_backend_device *dev, const agi_kernel *k, const agi_stage_ops *ops)
{
    agi_kernel w = *k;
    agi_view *wide[5] = {&w.dst, &w.dst2, &w.src[0], &w.src[1], &w.src[2]};
    const agi_view *orig[5] = {&k->dst, &k->dst2, &k->src[0], &k->src[1], &k->src[2]};
    agi_buffer *tmp[5] = {NULL, NULL, NULL, NULL, NULL};
    bool filled[5] = {false, false, false, false, false};
    ag_status st = AG_OK;
    for (int i = 0; i < 5 && st == AG_OK; i++) {
        if (!is16(orig[i])) continue;
        /* the same buffer and view seen twice (in place): one scratch */
        int same = -1;
        for (int j = 0; j < i; j++)
            if (tmp[j] && memcmp(orig[j], orig[i], sizeof *orig[i]) == 0) same = j;
        if (same >= 0) {
            *wide[i] = *wide[same];
            if (reads(k, i) && !filled[same]) {
                st = copy(dev, ops, wide[same], orig[same]);
                filled[same] = true;
            }
            continue;
        }
        agi_view s = *orig[i];
        int64_t n = agi_view_numel(&s);
        if ((st = ops->alloc(dev, (size_t)n * 4, &tmp[i])) != AG_OK) break;
        s.buf = tmp[i];
        s.dtype = AG_F32;
        s.offset = 0;
        int64_t stride = 1;
        for (int d = s.ndim - 1; d >= 0; d--) {
            s.strides[d] = stride;
            stride *= s.shape[d];
        }
        *wide[i] = s;
        if (reads(k, i)) {
            st = copy(dev, ops, wide[i], orig[i]);
            filled[i] = true;
        }
    }
    if (st == AG_OK) st = ops->exec(dev, &w);
    for (int i = 0; i < 5 && st == AG_OK; i++) {
        if (!tmp[i] || !writes(k->op, i)) continue;
        st = copy(dev, ops, orig[i], wide[i]);
    }
    for (int i = 0; i < 5; i++)
        if (tmp[i]) ops->release(dev, tmp[i]);
    return st;
}

static bool contiguous_rows(const agi_view *v, const agi_view *like)
{
    return v->ndim == 2 && agi_view_is_contiguous(v) && v->shape[0] == like->shape[0] &&
           v->shape[1] == like->shape[1];
}

ag_dtype agi_rownorm_half(const agi_kernel *k)
{
    ag_dtype t = k->dst.dtype;
    if (t != AG_F16 && t != AG_BF16) return AG_F32;
    const agi_view *y = &k->dst, *x = &k->src[0];
    if (x->dtype != t || !contiguous_rows(y, y) || !contiguous_rows(x, y)) return AG_F32;
    bool sm = k->sub == AGI_SOFTMAX || k->sub == AGI_LOG_SOFTMAX;
    switch (k->op) {
    case AGI_K_SOFTMAX: return sm ? t : AG_F32;
    case AGI_K_SOFTMAX_BWD: return sm && k->src[1].dtype == t && contiguous_rows(&k->src[1], y) ? t : AG_F32;
    case AGI_K_LAYER_NORM: {
        const agi_view *flat[3] = {&k->src[1], &k->src[2], &k->dst2}; /* stats stay f32 */
        int64_t need[3] = {y->shape[1], y->shape[1], 2 * y->shape[0]};
        for (int i = 0; i < 3; i++)
            if (flat[i]->buf && (flat[i]->dtype != (i == 2 ? AG_F32 : t) || !agi_view_is_contiguous(flat[i]) ||
                                 agi_view_numel(flat[i]) != need[i]))
                return AG_F32;
        return t;
    }
    default: return AG_F32;
    }
}
