/* src/ops/binary.c — broadcasting arithmetic (add sub mul div pow maximum
 * minimum) and the scalar forms, with PyTorch's type promotion:
 * u8 < i32 < f32; add/sub/mul/maximum/minimum keep integer dtypes, div and
 * pow give f32. Gradients of broadcast inputs are summed back with
 * agi_sum_to_shape. */
#include "internal.h"

#include <math.h>

/* t's view broadcast (right-aligned, stride 0) to [nd: shape]. */
static agi_view broadcast_view(const ag_tensor *t, int nd, const int64_t *shape)
{
    agi_view v = agi_view_of(t);
    agi_view b = v;
    b.ndim = nd;
    for (int d = 0; d < nd; d++) {
        int sd = d - (nd - t->ndim);
        b.shape[d] = shape[d];
        b.strides[d] = sd >= 0 && t->shape[sd] != 1 ? t->strides[sd] : 0;
    }
    return b;
}

/* out[shape] = a (sub) b, a and b of one kernel dtype (f32 or i32). */
static ag_tensor *binary_kernel(const char *op, const ag_tensor *a, const ag_tensor *b, int sub,
                                int nd, const int64_t *shape)
{
    ag_tensor *out = agi_tensor_new(op, a->storage->dev, a->dtype, nd, shape);
    if (!out) return NULL;
    agi_kernel k = {.op = AGI_K_BINARY, .sub = sub};
    k.dst = agi_view_of(out);
    k.src[0] = broadcast_view(a, nd, shape);
    k.src[1] = broadcast_view(b, nd, shape);
    agi_view *views[3] = {&k.dst, &k.src[0], &k.src[1]};
    agi_views_coalesce(views, 3);
    if (agi_exec(op, a->storage->dev, &k) != AG_OK) {
        agi_discard(out);
        return NULL;
    }
    return out;
}

/* Moves `out` (made inside an inner scope) to the caller's scope and closes
 * the inner scope. */
static ag_tensor *leave_scope(ag_tensor *out)
{
    ag_retain(out);
    ag_scope_end();
    return agi_scope_track(out);
}

/* ---- Backward ---------------------------------------------------------------- */

/* Stores sum_to_shape(g) as the gradient of input i if it requires grad. */
static ag_status give(agi_node *n, ag_tensor **grads, int i, ag_tensor *g)
{
    if (!g) return ag_last_status();
    const ag_tensor *in = n->inputs[i];
    grads[i] = agi_sum_to_shape(g, in->ndim, in->shape);
    return grads[i] ? AG_OK : ag_last_status();
}

#define A(n) ((n)->inputs[0])
#define B(n) ((n)->inputs[1])
#define WANT(n, i) ((n)->inputs[i] && (n)->inputs[i]->requires_grad)

static ag_status add_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_status st = AG_OK;
    if (WANT(n, 0)) st = give(n, gr, 0, g);
    if (st == AG_OK && WANT(n, 1)) st = give(n, gr, 1, g);
    return st;
}

static ag_status sub_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_status st = AG_OK;
    if (WANT(n, 0)) st = give(n, gr, 0, g);
    if (st == AG_OK && WANT(n, 1)) st = give(n, gr, 1, ag_neg(g));
    return st;
}

static ag_status mul_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_status st = AG_OK;
    if (WANT(n, 0)) st = give(n, gr, 0, ag_mul(g, B(n)));
    if (st == AG_OK && WANT(n, 1)) st = give(n, gr, 1, ag_mul(g, A(n)));
    return st;
}

static ag_status div_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_status st = AG_OK;
    ag_tensor *ga = ag_div(g, B(n)); // g / b
    if (WANT(n, 0)) st = give(n, gr, 0, ga);
    // d/db (a / b) = -a / b^2: -(g / b) * a / b
    if (st == AG_OK && WANT(n, 1)) st = give(n, gr, 1, ag_neg(ag_div(ag_mul(ga, A(n)), B(n))));
    return st;
}

static ag_status pow_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_status st = AG_OK;
    ag_device *dev = A(n)->storage->dev;
    ag_tensor *zero = ag_scalar(dev, AG_F32, 0.0);
    if (WANT(n, 0)) {
        // b * a^(b-1) * g, exactly 0 where b == 0
        ag_tensor *d = ag_mul(ag_mul(g, B(n)), ag_pow(A(n), ag_sub_scalar(B(n), 1.0)));
        st = give(n, gr, 0, ag_where(ag_eq(B(n), zero), zero, d));
    }
    if (st == AG_OK && WANT(n, 1)) {
        // a^b * log(a) * g, 0 where a == 0 and b >= 0 (PyTorch's mask)
        ag_tensor *d = ag_mul(g, ag_mul(ag_pow(A(n), B(n)), ag_log(A(n))));
        ag_tensor *inner = ag_where(ag_ge(B(n), zero), zero, d);
        st = give(n, gr, 1, ag_where(ag_eq(A(n), zero), inner, d));
    }
    return st;
}

/* maximum/minimum: the winner takes g; ties split it 0.5 / 0.5 like PyTorch.
 * node->i[0] = 1 for maximum, 0 for minimum. */
static ag_status extremum_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_tensor *win = n->i[0] ? ag_gt(A(n), B(n)) : ag_lt(A(n), B(n));
    ag_tensor *w = ag_add(ag_cast(win, AG_F32), ag_mul_scalar(ag_cast(ag_eq(A(n), B(n)), AG_F32), 0.5));
    ag_tensor *ga = ag_mul(g, w);
    ag_status st = AG_OK;
    if (WANT(n, 0)) st = give(n, gr, 0, ga);
    if (st == AG_OK && WANT(n, 1)) st = give(n, gr, 1, ag_sub(g, ga));
    return st;
}

/* ---- Tensor ⊕ tensor ---------------------------------------------------------- */

/* Whose values a binary op's backward reads (agi_node_reads). */
typedef enum binary_reads {
    READS_NONE,  /* add, sub: the gradient is g */
    READS_OTHER, /* mul: a's gradient reads b and b's reads a */
    READS_BOTH,  /* div, pow, maximum, minimum */
} binary_reads;

typedef struct binary_def {
    const char *name;
    int sub;
    bool float_only; /* div, pow: integer inputs give f32 */
    agi_backward_fn backward;
    int64_t param;   /* node->i[0] */
    binary_reads reads;
} binary_def;

static ag_tensor *binary(const binary_def *def, const ag_tensor *a, const ag_tensor *b)
{
    const char *op = def->name;
    if (!agi_check_tensor(op, a, "a") || !agi_check_tensor(op, b, "b")) return NULL;
    if (!agi_check_same_device(op, a, b)) return NULL;
    int nd;
    int64_t shape[AG_MAX_DIMS];
    if (!agi_broadcast_shapes(op, a->ndim, a->shape, b->ndim, b->shape, &nd, shape)) return NULL;
    ag_dtype rt = agi_promote(a->dtype, b->dtype); /* result */
    if (def->float_only && !agi_dtype_is_float(rt)) rt = AG_F32;
    ag_dtype kt = rt == AG_U8 ? AG_I32 : rt;                              /* kernel */
    ag_scope_begin();
    const ag_tensor *ak = a->dtype == kt ? a : ag_cast(a, kt);
    const ag_tensor *bk = b->dtype == kt ? b : ag_cast(b, kt);
    ag_tensor *out = ak && bk ? binary_kernel(op, ak, bk, def->sub, nd, shape) : NULL;
    if (out && rt != kt) out = ag_cast(out, rt);
    if (out && agi_dtype_is_float(rt) && AGI_NEEDS_GRAD(ak, bk)) {
        agi_node *node = agi_node_new(op, def->backward, 2, (const ag_tensor *[]){ak, bk});
        if (node) node->i[0] = def->param;
        if (def->reads == READS_NONE) agi_node_reads(node, 0);
        if (def->reads == READS_OTHER)
            agi_node_reads(node, (bk->requires_grad ? 1u : 0u) | (ak->requires_grad ? 2u : 0u));
        out = agi_attach(out, node);
    }
    return leave_scope(out);
}

#define BINARY(fn, sub, float_only, bwd, param, reads)                                             \
    ag_tensor *ag_##fn(const ag_tensor *a, const ag_tensor *b)                                     \
    {                                                                                              \
        static const binary_def def = {"ag_" #fn, sub, float_only, bwd, param, reads};             \
        return binary(&def, a, b);                                                                 \
    }

BINARY(add, AGI_B_ADD, false, add_bwd, 0, READS_NONE)
BINARY(sub, AGI_B_SUB, false, sub_bwd, 0, READS_NONE)
BINARY(mul, AGI_B_MUL, false, mul_bwd, 0, READS_OTHER)
BINARY(div, AGI_B_DIV, true, div_bwd, 0, READS_BOTH)
BINARY(pow, AGI_B_POW, true, pow_bwd, 0, READS_BOTH)
BINARY(maximum, AGI_B_MAX, false, extremum_bwd, 1, READS_BOTH)
BINARY(minimum, AGI_B_MIN, false, extremum_bwd, 0, READS_BOTH)

/* ---- Tensor ⊕ scalar ---------------------------------------------------------- */

typedef enum scalar_kind { S_ADD, S_SUB, S_RSUB, S_MUL, S_DIV, S_RDIV, S_MAX, S_MIN } scalar_kind;

/* node->i[0] = kind, node->f[0] = s. */
static ag_status scalar_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    double s = n->f[0];
    ag_tensor *x = A(n), *d;
    switch ((scalar_kind)n->i[0]) {
    case S_ADD:
    case S_SUB: d = agi_scope_track(ag_retain(g)); break;
    case S_RSUB: d = ag_neg(g); break;
    case S_MUL: d = ag_mul_scalar(g, s); break;
    case S_DIV: d = ag_div_scalar(g, s); break;
    case S_RDIV: d = ag_mul_scalar(ag_div(g, ag_square(x)), -s); break; // -s / x^2
    default: {
        ag_tensor *win = n->i[0] == S_MAX ? ag_gt_scalar(x, s) : ag_lt_scalar(x, s);
        ag_tensor *w = ag_add(ag_cast(win, AG_F32),
                              ag_mul_scalar(ag_cast(ag_eq_scalar(x, s), AG_F32), 0.5));
        d = ag_mul(g, w);
    }
    }
    gr[0] = d;
    return d ? AG_OK : ag_last_status();
}

static ag_tensor *scalar_op(const char *op, const ag_tensor *a, double s, scalar_kind kind)
{
    if (!agi_check_tensor(op, a, "a")) return NULL;
    bool int_math = !agi_dtype_is_float(a->dtype) && s == nearbyint(s) && fabs(s) < 2147483648.0 &&
                    kind != S_DIV && kind != S_RDIV;
    ag_scope_begin();
    ag_tensor *out = NULL;
    if (int_math) {
        /* Integer tensor with an integral scalar: stays integer (a's dtype). */
        static const int subs[] = {AGI_B_ADD, AGI_B_SUB, AGI_B_SUB, AGI_B_MUL, 0, 0, AGI_B_MAX,
                                   AGI_B_MIN};
        ag_tensor *ai = a->dtype == AG_I32 ? (ag_tensor *)a : ag_cast(a, AG_I32);
        ag_tensor *si = ag_scalar(a->storage->dev, AG_I32, s);
        if (ai && si)
            out = kind == S_RSUB ? binary_kernel(op, si, ai, subs[kind], a->ndim, a->shape)
                                 : binary_kernel(op, ai, si, subs[kind], a->ndim, a->shape);
        if (out && a->dtype != AG_I32) out = ag_cast(out, a->dtype);
        return leave_scope(out);
    }
    /* f32, f16 and bf16 keep their dtype; integers compute in f32 */
    const ag_tensor *x = agi_dtype_is_float(a->dtype) ? a : ag_cast(a, AG_F32);
    if (x) {
        switch (kind) {
        case S_ADD: out = agi_unary_kernel(op, x, AGI_U_AFFINE, 1.0, s); break;
        case S_SUB: out = agi_unary_kernel(op, x, AGI_U_AFFINE, 1.0, -s); break;
        case S_RSUB: out = agi_unary_kernel(op, x, AGI_U_AFFINE, -1.0, s); break;
        case S_MUL: out = agi_unary_kernel(op, x, AGI_U_AFFINE, s, 0.0); break;
        case S_DIV: out = agi_unary_kernel(op, x, AGI_U_AFFINE, 1.0 / s, 0.0); break;
        case S_RDIV: out = agi_unary_kernel(op, x, AGI_U_RDIV, s, 0.0); break;
        case S_MAX: out = agi_unary_kernel(op, x, AGI_U_CLAMP, s, INFINITY); break;
        case S_MIN: out = agi_unary_kernel(op, x, AGI_U_CLAMP, -INFINITY, s); break;
        }
    }
    if (out && AGI_NEEDS_GRAD(x)) {
        agi_node *node = agi_node_new(op, scalar_bwd, 1, (const ag_tensor *[]){x});
        if (node) {
            node->i[0] = kind;
            node->f[0] = s;
        }
        agi_node_reads(node, kind == S_RDIV || kind == S_MAX || kind == S_MIN ? 1u : 0u);
        out = agi_attach(out, node);
    }
    return leave_scope(out);
}

ag_tensor *ag_add_scalar(const ag_tensor *a, double s) { return scalar_op("ag_add_scalar", a, s, S_ADD); }
ag_tensor *ag_sub_scalar(const ag_tensor *a, double s) { return scalar_op("ag_sub_scalar", a, s, S_SUB); }
ag_tensor *ag_rsub_scalar(const ag_tensor *a, double s) { return scalar_op("ag_rsub_scalar", a, s, S_RSUB); }
ag_tensor *ag_mul_scalar(const ag_tensor *a, double s) { return scalar_op("ag_mul_scalar", a, s, S_MUL); }
ag_tensor *ag_div_scalar(const ag_tensor *a, double s) { return scalar_op("ag_div_scalar", a, s, S_DIV); }
ag_tensor *ag_rdiv_scalar(const ag_tensor *a, double s) { return scalar_op("ag_rdiv_scalar", a, s, S_RDIV); }
ag_tensor *ag_maximum_scalar(const ag_tensor *a, double s)
{
    return scalar_op("ag_maximum_scalar", a, s, S_MAX);
}
ag_tensor *ag_minimum_scalar(const ag_tensor *a, double s)
{
    return scalar_op("ag_minimum_scalar", a, s, S_MIN);
}
