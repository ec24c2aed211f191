/* src/ops/unary.c — elementwise unary math: one AGI_K_UNARY kernel per op,
 * f32 results (integer inputs are cast first), backward formulas with the
 * fused AGI_B_*_BWD kernels where backend.h has them. */
#include "internal.h"

#include <math.h>

/* ---- Kernels ----------------------------------------------------------------- */

/* dx = fused_bwd(dy, s) for same-shaped float dy and s (x or the output y),
 * in their promoted dtype (f32 arithmetic; a 16-bit result rounded once). */
static ag_tensor *bwd_kernel(const char *op, const ag_tensor *dy, const ag_tensor *s, int sub,
                             double f0, double f1)
{
    ag_dtype dt = agi_float_dtype(dy->dtype, s->dtype);
    dy = agi_as_dtype(dy, dt);
    s = agi_as_dtype(s, dt);
    ag_tensor *out = dy && s ? agi_tensor_new(op, dy->storage->dev, dt, dy->ndim, dy->shape) : NULL;
    if (!out) return NULL;
    agi_kernel k = {.op = AGI_K_BINARY, .sub = sub};
    k.dst = agi_view_of(out);
    k.src[0] = agi_view_of(dy);
    k.src[1] = agi_view_of(s);
    k.p.s.f[0] = f0;
    k.p.s.f[1] = f1;
    agi_view *views[3] = {&k.dst, &k.src[0], &k.src[1]};
    agi_views_coalesce(views, 3);
    if (agi_exec(op, dy->storage->dev, &k) != AG_OK) {
        agi_discard(out);
        return NULL;
    }
    return out;
}

/* ---- Op table ------------------------------------------------------------------ */

typedef enum save_kind { SAVE_NONE, SAVE_X, SAVE_Y } save_kind;

typedef struct unary_def {
    const char *name;
    int sub;
    save_kind save; /* what the backward reads besides the inputs */
    agi_backward_fn backward;
} unary_def;

/* node->saved[0]: x (always), saved[1]: a detached view of y when SAVE_Y
 * (a view without grad_fn, so the output and its node form no cycle).
 * node->f[0..1]: the op's parameters. */
#define X(node) ((node)->saved[0])
#define Y(node) ((node)->saved[1])

static ag_status done(ag_tensor **grads, ag_tensor *g)
{
    grads[0] = g;
    return g ? AG_OK : ag_last_status();
}

static ag_status neg_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr) { return done(gr, ag_neg(g)); }
static ag_status abs_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_tensor *sign = agi_unary_kernel("ag_abs", X(n), AGI_U_SIGN, 0, 0); /* sign(0) = 0 like PyTorch */
    return done(gr, sign ? ag_mul(g, sign) : NULL);
}
static ag_status exp_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr) { return done(gr, ag_mul(g, Y(n))); }
static ag_status log_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr) { return done(gr, ag_div(g, X(n))); }
static ag_status sqrt_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, ag_div(g, ag_mul_scalar(Y(n), 2.0))); /* g / (2 sqrt x) */
}
static ag_status rsqrt_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_tensor *y = Y(n); /* -0.5 x^-1.5 = -0.5 y^3 */
    return done(gr, ag_mul(g, ag_mul_scalar(ag_mul(ag_square(y), y), -0.5)));
}
static ag_status square_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, ag_mul(g, ag_mul_scalar(X(n), 2.0)));
}
static ag_status recip_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, ag_neg(ag_mul(g, ag_square(Y(n))))); /* -g / x^2 */
}
static ag_status sin_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr) { return done(gr, ag_mul(g, ag_cos(X(n)))); }
static ag_status cos_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, ag_neg(ag_mul(g, ag_sin(X(n)))));
}
static ag_status tanh_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, bwd_kernel("ag_tanh", g, Y(n), AGI_B_TANH_BWD, 0, 0));
}
static ag_status sigmoid_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, bwd_kernel("ag_sigmoid", g, Y(n), AGI_B_SIGMOID_BWD, 0, 0));
}
static ag_status relu_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, bwd_kernel("ag_relu", g, X(n), AGI_B_RELU_BWD, 0, 0));
}
static ag_status leaky_relu_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, bwd_kernel("ag_leaky_relu", g, X(n), AGI_B_LEAKY_RELU_BWD, n->f[0], 0));
}
static ag_status gelu_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, bwd_kernel("ag_gelu", g, X(n), AGI_B_GELU_BWD, 0, 0));
}
static ag_status gelu_tanh_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, bwd_kernel("ag_gelu_tanh", g, X(n), AGI_B_GELU_TANH_BWD, 0, 0));
}
static ag_status silu_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, bwd_kernel("ag_silu", g, X(n), AGI_B_SILU_BWD, 0, 0));
}
static ag_status softplus_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    return done(gr, bwd_kernel("ag_softplus", g, X(n), AGI_B_SOFTPLUS_BWD, n->f[0], n->f[1]));
}
/* Gradient flows where min <= x <= max (the subgradient 1 at the bounds, as
 * PyTorch's clamp_backward); 0 outside, for NaN x and when min > max. */
static ag_status clamp_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    ag_tensor *x = X(n);
    ag_tensor *zero = ag_scalar(x->storage->dev, AG_F32, 0.0);
    ag_tensor *in = ag_where(ag_ge_scalar(x, n->f[0]), g, zero);
    return done(gr, ag_where(ag_le_scalar(x, n->f[1]), in, zero));
}
/* p * x^(p-1) * g; exactly 0 for p == 0 (PyTorch's rule). */
static ag_status pow_bwd(agi_node *n, ag_tensor *g, ag_tensor **gr)
{
    double p = n->f[0];
    if (p == 0.0) return done(gr, ag_zeros_like(g));
    return done(gr, ag_mul(g, ag_mul_scalar(ag_pow_scalar(X(n), p - 1.0), p)));
}

/* Runs one unary op: cast integer x to f32, queue the kernel, record the node. */
static ag_tensor *run(const unary_def *def, const ag_tensor *x, double f0, double f1)
{
    if (!agi_check_tensor(def->name, x, "x")) return NULL;
    ag_tensor *out;
    if (!agi_dtype_is_float(x->dtype)) {
        /* Integer input: cast in an inner scope, keep only the result. */
        ag_scope_begin();
        ag_tensor *xf = ag_cast(x, AG_F32);
        out = xf ? ag_retain(agi_unary_kernel(def->name, xf, def->sub, f0, f1)) : NULL;
        ag_scope_end();
        return agi_scope_track(out); /* integers never require grad */
    }
    out = agi_unary_kernel(def->name, x, def->sub, f0, f1);
    if (out && AGI_NEEDS_GRAD(x)) {
        agi_node *node = agi_node_new(def->name, def->backward, 1, (const ag_tensor *[]){x});
        if (node) {
            node->f[0] = f0;
            node->f[1] = f1;
            agi_node_save(node, 0, x);
            if (def->save == SAVE_Y) {
                ag_tensor *y = ag_detach(out);
                if (!y) {
                    agi_node_release(node);
                    agi_discard(out);
                    return NULL;
                }
                agi_node_save(node, 1, y);
                agi_discard(y);
            }
        }
        out = agi_attach(out, node);
    }
    return out;
}

#define UNARY(fn, sub, save, bwd)                                                                  \
    ag_tensor *ag_##fn(const ag_tensor *x)                                                         \
    {                                                                                              \
        static const unary_def def = {"ag_" #fn, sub, save, bwd};                                  \
        return run(&def, x, 0, 0);                                                                 \
    }

UNARY(neg, AGI_U_NEG, SAVE_NONE, neg_bwd)
UNARY(abs, AGI_U_ABS, SAVE_X, abs_bwd)
UNARY(exp, AGI_U_EXP, SAVE_Y, exp_bwd)
UNARY(log, AGI_U_LOG, SAVE_X, log_bwd)
UNARY(sqrt, AGI_U_SQRT, SAVE_Y, sqrt_bwd)
UNARY(rsqrt, AGI_U_RSQRT, SAVE_Y, rsqrt_bwd)
UNARY(square, AGI_U_SQUARE, SAVE_X, square_bwd)
UNARY(reciprocal, AGI_U_RECIP, SAVE_Y, recip_bwd)
UNARY(sin, AGI_U_SIN, SAVE_X, sin_bwd)
UNARY(cos, AGI_U_COS, SAVE_X, cos_bwd)
UNARY(tanh, AGI_U_TANH, SAVE_Y, tanh_bwd)
UNARY(sigmoid, AGI_U_SIGMOID, SAVE_Y, sigmoid_bwd)
UNARY(relu, AGI_U_RELU, SAVE_X, relu_bwd)
UNARY(gelu, AGI_U_GELU, SAVE_X, gelu_bwd)
UNARY(gelu_tanh, AGI_U_GELU_TANH, SAVE_X, gelu_tanh_bwd)
UNARY(silu, AGI_U_SILU, SAVE_X, silu_bwd)

ag_tensor *ag_leaky_relu(const ag_tensor *x, double negative_slope)
{
    static const unary_def def = {"ag_leaky_relu", AGI_U_LEAKY_RELU, SAVE_X, leaky_relu_bwd};
    return run(&def, x, negative_slope, 0);
}

ag_tensor *ag_softplus(const ag_tensor *x, double beta, double threshold)
{
    static const unary_def def = {"ag_softplus", AGI_U_SOFTPLUS, SAVE_X, softplus_bwd};
    if (x && !(beta != 0 && isfinite(beta))) {
        char a[192];
        agi_error(AG_ERR_INVALID, def.name, "beta must be finite and non-zero, got %g for %s",
                  beta, agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    return run(&def, x, beta, threshold);
}

ag_tensor *ag_clamp(const ag_tensor *x, double min, double max)
{
    static const unary_def def = {"ag_clamp", AGI_U_CLAMP, SAVE_X, clamp_bwd};
    if (x && (isnan(min) || isnan(max))) {
        char a[192];
        agi_error(AG_ERR_INVALID, def.name, "NaN bound for %s", agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    if (min > max) min = max; /* PyTorch: every element becomes max */
    return run(&def, x, min, max);
}

ag_tensor *ag_pow_scalar(const ag_tensor *x, double exponent)
{
    static const unary_def def = {"ag_pow_scalar", AGI_U_POW, SAVE_X, pow_bwd};
    return run(&def, x, exponent, 0);
}
