/* src/ops/kernels.c — small kernel shortcuts several op files share. */
#include "internal.h"

ag_tensor *agi_unary_kernel(const char *op, const ag_tensor *x, int sub, double f0, double f1)
{
    /* f32 in, f32 out; f16 / bf16 keep their dtype (computed in f32) */
    ag_dtype dt = agi_dtype_is_float(x->dtype) ? x->dtype : AG_F32;
    ag_tensor *out = agi_tensor_new(op, x->storage->dev, dt, x->ndim, x->shape);
    if (!out) return NULL;
    agi_kernel k = {.op = AGI_K_UNARY, .sub = sub};
    k.dst = agi_view_of(out);
    k.src[0] = agi_view_of(x);
    k.p.s.f[0] = f0;
    k.p.s.f[1] = f1;
    agi_view *views[2] = {&k.dst, &k.src[0]};
    agi_views_coalesce(views, 2);
    if (agi_exec(op, x->storage->dev, &k) != AG_OK) {
        agi_discard(out);
        return NULL;
    }
    return out;
}

ag_tensor *agi_as_f32(const char *op, const ag_tensor *t)
{
    if (!t) return NULL;
    if (t->dtype == AG_F32) return (ag_tensor *)t;
    if (agi_dtype_is_float(t->dtype)) {
        agi_error(AG_ERR_UNSUPPORTED, op, "%s input: this op has no %s kernels yet (cast to f32 first)",
                  ag_dtype_name(t->dtype), ag_dtype_name(t->dtype));
        return NULL;
    }
    return ag_cast(t, AG_F32);
}

ag_dtype agi_float_dtype(ag_dtype a, ag_dtype b)
{
    ag_dtype p = agi_promote(a, b);
    return agi_dtype_is_float(p) ? p : AG_F32;
}

ag_tensor *agi_as_dtype(const ag_tensor *t, ag_dtype dt)
{
    if (!t) return NULL;
    return t->dtype == dt ? (ag_tensor *)t : ag_cast(t, dt);
}

ag_tensor *agi_f32_contiguous(const char *op, const ag_tensor *t)
{
    if (agi_dtype_is_float(t->dtype) && t->dtype != AG_F32) return agi_as_f32(op, t);
    ag_no_grad_begin();
    ag_tensor *r = t->dtype == AG_F32 ? ag_contiguous(t) : ag_cast(t, AG_F32);
    ag_no_grad_end();
    return r;
}
