/* src/ops/compare.c — broadcasting comparisons (u8 masks of 0/1) and where. */
#include "internal.h"

#include <math.h>

/* t's view broadcast (right-aligned, stride 0) to [nd: shape]. */
static agi_view broadcast_view(const ag_tensor *t, int nd, const int64_t *shape)
{
    agi_view b = agi_view_of(t);
    b.ndim = nd;
    for (int d = 0; d < nd; d++) {
        int sd = d - (nd - t->ndim);
        b.shape[d] = shape[d];
        b.strides[d] = sd >= 0 && t->shape[sd] != 1 ? t->strides[sd] : 0;
    }
    return b;
}

static ag_tensor *leave_scope(ag_tensor *out)
{
    ag_retain(out);
    ag_scope_end();
    return agi_scope_track(out);
}

/* ---- Comparisons --------------------------------------------------------------- */

static ag_tensor *compare(const char *op, int sub, const ag_tensor *a, const ag_tensor *b)
{
    if (!agi_check_tensor(op, a, "a") || !agi_check_tensor(op, b, "b")) return NULL;
    if (!agi_check_same_device(op, a, b)) return NULL;
    int nd;
    int64_t shape[AG_MAX_DIMS];
    if (!agi_broadcast_shapes(op, a->ndim, a->shape, b->ndim, b->shape, &nd, shape)) return NULL;
    /* The kernel compares two f32 or two i32 operands (16-bit floats compare
     * exactly in f32). */
    ag_dtype kt = agi_dtype_is_float(agi_promote(a->dtype, b->dtype)) ? AG_F32 : AG_I32;
    ag_scope_begin();
    const ag_tensor *ak = a->dtype == kt ? a : ag_cast(a, kt);
    const ag_tensor *bk = b->dtype == kt ? b : ag_cast(b, kt);
    ag_tensor *out = ak && bk ? agi_tensor_new(op, a->storage->dev, AG_U8, nd, shape) : NULL;
    if (out) {
        agi_kernel k = {.op = AGI_K_BINARY, .sub = sub};
        k.dst = agi_view_of(out);
        k.src[0] = broadcast_view(ak, nd, shape);
        k.src[1] = broadcast_view(bk, nd, shape);
        agi_view *views[3] = {&k.dst, &k.src[0], &k.src[1]};
        agi_views_coalesce(views, 3);
        if (agi_exec(op, a->storage->dev, &k) != AG_OK) out = NULL; /* the scope frees it */
    }
    return leave_scope(out);
}

/* a op s through a 0-dim tensor: i32 for an integer a and integral s (exact),
 * f32 otherwise. */
static ag_tensor *compare_scalar(const char *op, int sub, const ag_tensor *a, double s)
{
    if (!agi_check_tensor(op, a, "a")) return NULL;
    bool exact_int = a->dtype != AG_F32 && s == nearbyint(s) && fabs(s) < 2147483648.0;
    ag_scope_begin();
    ag_tensor *st = ag_scalar(a->storage->dev, exact_int ? AG_I32 : AG_F32, s);
    ag_tensor *out = st ? compare(op, sub, a, st) : NULL;
    return leave_scope(out);
}

#define COMPARE(fn, sub)                                                                           \
    ag_tensor *ag_##fn(const ag_tensor *a, const ag_tensor *b) { return compare("ag_" #fn, sub, a, b); } \
    ag_tensor *ag_##fn##_scalar(const ag_tensor *a, double s)                                     \
    {                                                                                              \
        return compare_scalar("ag_" #fn "_scalar", sub, a, s);                                     \
    }

COMPARE(eq, AGI_B_EQ)
COMPARE(ne, AGI_B_NE)
COMPARE(lt, AGI_B_LT)
COMPARE(le, AGI_B_LE)
COMPARE(gt, AGI_B_GT)
COMPARE(ge, AGI_B_GE)

/* ---- where ------------------------------------------------------------------------ */

/* inputs: cond, a, b. ga = where(cond, g, 0), gb = where(cond, 0, g), each
 * summed back to its input's shape. */
static ag_status where_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_tensor *cond = n->inputs[0];
    ag_tensor *zero = ag_scalar(g->storage->dev, AG_F32, 0.0);
    for (int i = 1; i <= 2; i++) {
        const ag_tensor *in = n->inputs[i];
        if (!in || !in->requires_grad) continue;
        ag_tensor *d = i == 1 ? ag_where(cond, g, zero) : ag_where(cond, zero, g);
        gr[i] = d ? agi_sum_to_shape(d, in->ndim, in->shape) : NULL;
        if (!gr[i]) return ag_last_status();
    }
    return AG_OK;
}

ag_tensor *ag_where(const ag_tensor *cond, const ag_tensor *a, const ag_tensor *b)
{
    AGI_HALF_VIA_F32(ag_where(cond, AGI_F32(a), AGI_F32(b)), a, b);
    const char *op = "ag_where";
    if (!agi_check_tensor(op, cond, "cond") || !agi_check_tensor(op, a, "a") ||
        !agi_check_tensor(op, b, "b"))
        return NULL;
    if (!agi_check_dtype(op, cond, AG_U8, "cond")) return NULL;
    if (!agi_check_same_device(op, cond, a) || !agi_check_same_device(op, cond, b)) return NULL;
    int nd0, nd;
    int64_t s0[AG_MAX_DIMS], shape[AG_MAX_DIMS];
    if (!agi_broadcast_shapes(op, a->ndim, a->shape, b->ndim, b->shape, &nd0, s0) ||
        !agi_broadcast_shapes(op, cond->ndim, cond->shape, nd0, s0, &nd, shape))
        return NULL;
    ag_dtype rt = agi_promote(a->dtype, b->dtype);
    ag_dtype kt = rt == AG_U8 ? AG_I32 : rt;
    ag_scope_begin();
    const ag_tensor *ak = a->dtype == kt ? a : ag_cast(a, kt);
    const ag_tensor *bk = b->dtype == kt ? b : ag_cast(b, kt);
    ag_tensor *out = ak && bk ? agi_tensor_new(op, a->storage->dev, kt, nd, shape) : NULL;
    if (out) {
        agi_kernel k = {.op = AGI_K_WHERE};
        k.dst = agi_view_of(out);
        k.src[0] = broadcast_view(cond, nd, shape);
        k.src[1] = broadcast_view(ak, nd, shape);
        k.src[2] = broadcast_view(bk, nd, shape);
        agi_view *views[4] = {&k.dst, &k.src[0], &k.src[1], &k.src[2]};
        agi_views_coalesce(views, 4);
        if (agi_exec(op, a->storage->dev, &k) != AG_OK) out = NULL;
    }
    if (out && rt != kt) out = ag_cast(out, rt);
    if (out && agi_dtype_is_float(rt) && AGI_NEEDS_GRAD(ak, bk)) {
        agi_node *node = agi_node_new(op, where_bwd, 3, (const ag_tensor *[]){cond, ak, bk});
        agi_node_reads(node, 1u); /* only the condition */
        out = agi_attach(out, node);
    }
    return leave_scope(out);
}
