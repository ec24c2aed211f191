/* tests/test_elementwise.c — unary, binary, scalar-form, comparison and where
 * ops: hand values, PyTorch golden values and gradients
 * (tests/golden/gen_elementwise.py), gradcheck, broadcasting, strided inputs,
 * dtype promotion and error paths, on every backend under test. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "elementwise.txt"

/* Compares x's accumulated gradient with golden entry `l` of case `c`. */
static void check_grad(agt_golden *g, ag_device *dev, const ag_tensor *x, const char *c,
                       const char *l, double tol, const char *what)
{
    agt_assert_grad_golden(g, dev, x, c, l, tol, tol, what);
}

/* ---- Unary table -------------------------------------------------------------- */

static ag_tensor *leaky(const ag_tensor *x) { return ag_leaky_relu(x, 0.1); }
static ag_tensor *softplus(const ag_tensor *x) { return ag_softplus(x, 2.0, 3.0); }
static ag_tensor *clamp(const ag_tensor *x) { return ag_clamp(x, -0.5, 1.0); }
static ag_tensor *pow25(const ag_tensor *x) { return ag_pow_scalar(x, 2.5); }
static ag_tensor *add_s(const ag_tensor *x) { return ag_add_scalar(x, 1.5); }
static ag_tensor *sub_s(const ag_tensor *x) { return ag_sub_scalar(x, 1.5); }
static ag_tensor *rsub_s(const ag_tensor *x) { return ag_rsub_scalar(x, 1.5); }
static ag_tensor *mul_s(const ag_tensor *x) { return ag_mul_scalar(x, -2.5); }
static ag_tensor *div_s(const ag_tensor *x) { return ag_div_scalar(x, 4.0); }
static ag_tensor *rdiv_s(const ag_tensor *x) { return ag_rdiv_scalar(x, 3.0); }
static ag_tensor *max_s(const ag_tensor *x) { return ag_maximum_scalar(x, 0.25); }
static ag_tensor *min_s(const ag_tensor *x) { return ag_minimum_scalar(x, 0.25); }

typedef struct unary_case {
    const char *name; /* golden case */
    ag_tensor *(*fn)(const ag_tensor *);
    double tol;       /* forward/backward vs PyTorch */
    bool kink;        /* non-smooth: gradcheck only on the golden inputs' smooth side */
} unary_case;

static const unary_case UNARY[] = {
    {"neg", ag_neg, 1e-6, false},          {"abs", ag_abs, 1e-6, true},
    {"exp", ag_exp, 1e-5, false},          {"log", ag_log, 1e-5, false},
    {"sqrt", ag_sqrt, 1e-5, false},        {"rsqrt", ag_rsqrt, 1e-5, false},
    {"square", ag_square, 1e-5, false},    {"reciprocal", ag_reciprocal, 1e-5, false},
    {"sin", ag_sin, 1e-5, false},          {"cos", ag_cos, 1e-5, false},
    {"tanh", ag_tanh, 1e-5, false},        {"sigmoid", ag_sigmoid, 1e-5, false},
    {"relu", ag_relu, 1e-6, true},         {"leaky_relu", leaky, 1e-6, true},
    {"gelu", ag_gelu, 1e-5, false},        {"gelu_tanh", ag_gelu_tanh, 1e-5, false},
    {"silu", ag_silu, 1e-5, false},        {"softplus", softplus, 1e-5, true},
    {"clamp", clamp, 1e-6, true},          {"pow_scalar", pow25, 1e-5, false},
    {"add_scalar", add_s, 1e-6, false},    {"sub_scalar", sub_s, 1e-6, false},
    {"rsub_scalar", rsub_s, 1e-6, false},  {"mul_scalar", mul_s, 1e-6, false},
    {"div_scalar", div_s, 1e-6, false},    {"rdiv_scalar", rdiv_s, 1e-5, false},
    {"maximum_scalar", max_s, 1e-6, true}, {"minimum_scalar", min_s, 1e-6, true},
};
#define N_UNARY ((int)(sizeof UNARY / sizeof UNARY[0]))

static ag_tensor *unary_fn(ag_tensor *const *in, void *ctx)
{
    return ((const unary_case *)ctx)->fn(in[0]);
}

START_TEST(test_unary_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(4), (float[]){-2, 0, 1, 4});
    ag_tensor *p = agt_tensor(dev, AG_SHAPE(3), (float[]){1, 4, 0.25f});
    agt_assert_close(ag_neg(x), (float[]){2, 0, -1, -4}, 4, 0, 0, "neg");
    agt_assert_close(ag_abs(x), (float[]){2, 0, 1, 4}, 4, 0, 0, "abs");
    agt_assert_close(ag_square(x), (float[]){4, 0, 1, 16}, 4, 0, 0, "square");
    agt_assert_close(ag_relu(x), (float[]){0, 0, 1, 4}, 4, 0, 0, "relu");
    agt_assert_close(ag_leaky_relu(x, 0.5), (float[]){-1, 0, 1, 4}, 4, 0, 0, "leaky_relu");
    agt_assert_close(ag_clamp(x, -1, 2), (float[]){-1, 0, 1, 2}, 4, 0, 0, "clamp");
    agt_assert_close(ag_clamp(x, -INFINITY, 0.5), (float[]){-2, 0, 0.5f, 0.5f}, 4, 0, 0,
                     "clamp max only");
    agt_assert_close(ag_clamp(x, 3, 1), (float[]){1, 1, 1, 1}, 4, 0, 0, "clamp min > max");
    agt_assert_close(ag_exp(x), (float[]){expf(-2), 1, expf(1), expf(4)}, 4, 1e-6, 1e-6, "exp");
    agt_assert_close(ag_log(p), (float[]){0, logf(4), logf(0.25f)}, 3, 1e-6, 1e-6, "log");
    agt_assert_close(ag_sqrt(p), (float[]){1, 2, 0.5f}, 3, 1e-6, 1e-6, "sqrt");
    agt_assert_close(ag_rsqrt(p), (float[]){1, 0.5f, 2}, 3, 1e-6, 1e-6, "rsqrt");
    agt_assert_close(ag_reciprocal(p), (float[]){1, 0.25f, 4}, 3, 1e-6, 1e-6, "reciprocal");
    agt_assert_close(ag_pow_scalar(p, 0.5), (float[]){1, 2, 0.5f}, 3, 1e-6, 1e-6, "pow_scalar");
    agt_assert_close(ag_sin(x), (float[]){sinf(-2), 0, sinf(1), sinf(4)}, 4, 1e-6, 1e-5, "sin");
    agt_assert_close(ag_cos(x), (float[]){cosf(-2), 1, cosf(1), cosf(4)}, 4, 1e-6, 1e-5, "cos");
    agt_assert_close(ag_tanh(x), (float[]){tanhf(-2), 0, tanhf(1), tanhf(4)}, 4, 1e-6, 1e-5, "tanh");
    float s1 = 1 / (1 + expf(-1.0f));
    agt_assert_close(ag_sigmoid(x), (float[]){1 / (1 + expf(2)), 0.5f, s1, 1 / (1 + expf(-4))}, 4,
                     1e-6, 1e-5, "sigmoid");
    agt_assert_close(ag_silu(x), (float[]){-2 / (1 + expf(2)), 0, s1, 4 / (1 + expf(-4))}, 4,
                     1e-6, 1e-5, "silu");
    // gelu(1) = 0.5 (1 + erf(1/sqrt 2)) = 0.841345
    agt_assert_close(ag_gelu(x), (float[]){-2 * 0.5f * (1 + erff(-2 / sqrtf(2))), 0, 0.8413447f,
                                           4 * 0.5f * (1 + erff(4 / sqrtf(2)))},
                     4, 1e-6, 1e-5, "gelu");
    agt_assert_close(ag_gelu_tanh(ag_slice(x, 0, 1, 3, 1)), (float[]){0, 0.8411920f}, 2, 1e-6,
                     1e-5, "gelu_tanh");
    // softplus with beta 1, threshold 20: log(1 + e^x); linear above threshold/beta
    agt_assert_close(ag_softplus(x, 1, 20), (float[]){log1pf(expf(-2)), logf(2), log1pf(expf(1)),
                                                     log1pf(expf(4))},
                     4, 1e-6, 1e-5, "softplus");
    agt_assert_close(ag_softplus(x, 2, 3), (float[]){log1pf(expf(-4)) / 2, logf(2) / 2,
                                                 log1pf(expf(2)) / 2, 4}, 4,
                     1e-6, 1e-5, "softplus beta 2 threshold 3");
    /* integer inputs give f32 */
    ag_tensor *xi = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){-1, 0, 2});
    ag_tensor *yi = ag_neg(xi);
    ck_assert_int_eq(ag_tensor_dtype(yi), AG_F32);
    agt_assert_close(yi, (float[]){1, 0, -2}, 3, 0, 0, "neg i32");
    agt_assert_close(ag_exp(xi), (float[]){expf(-1), 1, expf(2)}, 3, 1e-6, 1e-6, "exp i32");
    /* 0-dim and empty tensors */
    agt_assert_close(ag_exp(ag_scalar(dev, AG_F32, 0)), (float[]){1}, 1, 0, 0, "exp 0-dim");
    agt_assert_shape(ag_relu(ag_zeros(dev, AG_F32, AG_SHAPE(0, 3))), AG_SHAPE(0, 3), "relu empty");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Forward and backward of every unary op and scalar form vs PyTorch, on a
 * contiguous and on a transposed (strided) input. */
START_TEST(test_unary_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    for (int k = 0; k < N_UNARY; k++) {
        const unary_case *u = &UNARY[k];
        for (int strided = 0; strided < 2; strided++) {
            ag_scope_begin();
            char what[96];
            snprintf(what, sizeof what, "%s%s", u->name, strided ? " strided" : "");
            ag_tensor *x = agt_golden_input(g, dev, u->name, "x", false);
            if (strided) x = agt_noncontiguous(x);
            ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
            ag_tensor *y = u->fn(x);
            agt_assert_tensors_close(y, agt_golden_input(g, dev, u->name, "y", false), u->tol, u->tol, what);
            ck_assert_int_eq(ag_backward(y, agt_golden_input(g, dev, u->name, "go", false)), AG_OK);
            check_grad(g, dev, x, u->name, "gx", u->tol * 10, what);
            ag_scope_end();
        }
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_unary_gradcheck)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    for (int k = 0; k < N_UNARY; k++) {
        ag_scope_begin();
        const unary_case *u = &UNARY[k];
        /* The golden inputs sit at least ~1e-2 from every kink except the
         * deliberate ties of maximum/minimum_scalar, where a central difference
         * gives PyTorch's 0.5 split. */
        ag_tensor *x = agt_golden_input(g, dev, u->name, "x", true);
        agt_gradcheck(unary_fn, 1, &x, (void *)u, 1e-3, 1e-2, 1e-2, u->name);
        ag_scope_end();
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* Backward formulas that PyTorch fixes at special points. */
START_TEST(test_unary_special_grads)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(3), (float[]){-1, 0, 2});
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    /* d|x|/dx at 0 is 0; relu'(0) = 0 */
    ck_assert_int_eq(ag_backward(ag_sum(ag_abs(x), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){-1, 0, 1}, 3, 0, 0, "abs grad");
    ag_zero_grad(x);
    ck_assert_int_eq(ag_backward(ag_sum(ag_relu(x), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){0, 0, 1}, 3, 0, 0, "relu grad");
    ag_zero_grad(x);
    /* clamp passes the gradient on [min, max], bounds included (PyTorch:
     * torch.clamp(tensor([-1., 0, 2]), -1, 0) gives [1, 1, 0]; tests/test_parity.c
     * checks the golden values) */
    ck_assert_int_eq(ag_backward(ag_sum(ag_clamp(x, -1, 0), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){1, 1, 0}, 3, 0, 0, "clamp grad at bounds");
    ag_zero_grad(x);
    ck_assert_int_eq(ag_backward(ag_sum(ag_clamp(x, -2, 1), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){1, 1, 0}, 3, 0, 0, "clamp grad");
    ag_zero_grad(x);
    ck_assert_int_eq(ag_backward(ag_sum(ag_clamp(x, 0, 2), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){0, 1, 1}, 3, 0, 0, "clamp grad at both bounds");
    ag_zero_grad(x);
    ck_assert_int_eq(ag_backward(ag_sum(ag_clamp(x, 3, 1), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){0, 0, 0}, 3, 0, 0, "clamp grad min > max");
    ag_zero_grad(x);
    /* x^0 has gradient 0 everywhere */
    ck_assert_int_eq(ag_backward(ag_sum(ag_pow_scalar(x, 0), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){0, 0, 0}, 3, 0, 0, "pow 0 grad");
    ag_zero_grad(x);
    /* maximum with a scalar splits ties */
    ck_assert_int_eq(ag_backward(ag_sum(ag_maximum_scalar(x, 0), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){0, 0.5f, 1}, 3, 0, 0, "maximum_scalar grad");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Binary -------------------------------------------------------------------- */

typedef struct binary_case {
    const char *name;
    ag_tensor *(*fn)(const ag_tensor *, const ag_tensor *);
    double tol;
} binary_case;

static const binary_case BINARY[] = {
    {"add", ag_add, 1e-6},         {"sub", ag_sub, 1e-6},         {"mul", ag_mul, 1e-6},
    {"div", ag_div, 1e-5},         {"pow", ag_pow, 1e-5},         {"maximum", ag_maximum, 1e-6},
    {"minimum", ag_minimum, 1e-6},
};
#define N_BINARY ((int)(sizeof BINARY / sizeof BINARY[0]))

static ag_tensor *binary_fn(ag_tensor *const *in, void *ctx)
{
    return ((const binary_case *)ctx)->fn(in[0], in[1]);
}

START_TEST(test_binary_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // a: [2, 3], b: [3] broadcast over rows, c: [2, 1] broadcast over columns
    ag_tensor *a = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(3), (float[]){10, 20, 30});
    ag_tensor *c = agt_tensor(dev, AG_SHAPE(2, 1), (float[]){2, -1});
    agt_assert_close(ag_add(a, b), (float[]){11, 22, 33, 14, 25, 36}, 6, 0, 0, "add");
    agt_assert_close(ag_sub(a, c), (float[]){-1, 0, 1, 5, 6, 7}, 6, 0, 0, "sub");
    agt_assert_close(ag_mul(c, b), (float[]){20, 40, 60, -10, -20, -30}, 6, 0, 0, "mul [2,1]*[3]");
    agt_assert_shape(ag_mul(c, b), AG_SHAPE(2, 3), "mul shape");
    agt_assert_close(ag_div(a, c), (float[]){0.5f, 1, 1.5f, -4, -5, -6}, 6, 0, 0, "div");
    agt_assert_close(ag_pow(a, c), (float[]){1, 4, 9, 0.25f, 0.2f, 1.0f / 6}, 6, 1e-6, 1e-6, "pow");
    agt_assert_close(ag_maximum(a, ag_full(dev, AG_F32, AG_SHAPE(3), 3)), (float[]){3, 3, 3, 4, 5, 6},
                     6, 0, 0, "maximum");
    agt_assert_close(ag_minimum(a, ag_full(dev, AG_F32, AG_SHAPE(3), 3)), (float[]){1, 2, 3, 3, 3, 3},
                     6, 0, 0, "minimum");
    /* 0-dim operand, strided operand */
    agt_assert_close(ag_add(a, ag_scalar(dev, AG_F32, 1)), (float[]){2, 3, 4, 5, 6, 7}, 6, 0, 0,
                     "add 0-dim");
    agt_assert_close(ag_sub(ag_t(a), ag_t(a)), (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0, "sub strided");
    agt_assert_close(ag_add(ag_t(a), ag_transpose(ag_unsqueeze(b, 0), 0, 1)),
                     (float[]){11, 14, 22, 25, 33, 36}, 6, 0, 0, "add strided [3,2]+[3,1]");
    /* scalar forms */
    agt_assert_close(ag_add_scalar(a, 1), (float[]){2, 3, 4, 5, 6, 7}, 6, 0, 0, "add_scalar");
    agt_assert_close(ag_rsub_scalar(a, 1), (float[]){0, -1, -2, -3, -4, -5}, 6, 0, 0, "rsub_scalar");
    agt_assert_close(ag_rdiv_scalar(a, 6), (float[]){6, 3, 2, 1.5f, 1.2f, 1}, 6, 1e-6, 1e-6,
                     "rdiv_scalar");
    agt_assert_close(ag_div_scalar(a, 2), (float[]){0.5f, 1, 1.5f, 2, 2.5f, 3}, 6, 0, 0, "div_scalar");
    agt_assert_close(ag_maximum_scalar(a, 3.5), (float[]){3.5f, 3.5f, 3.5f, 4, 5, 6}, 6, 0, 0,
                     "maximum_scalar");
    agt_assert_close(ag_minimum_scalar(a, 3.5), (float[]){1, 2, 3, 3.5f, 3.5f, 3.5f}, 6, 0, 0,
                     "minimum_scalar");
    /* empty broadcast */
    agt_assert_shape(ag_add(ag_zeros(dev, AG_F32, AG_SHAPE(0, 3)), b), AG_SHAPE(0, 3), "add empty");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_binary_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    for (int k = 0; k < N_BINARY; k++) {
        const binary_case *bc = &BINARY[k];
        for (int variant = 0; variant < 3; variant++) {
            /* 0: a [3,4] b [4]; 1: the same with a strided; 2: a [2,1,3] b [4,1] */
            char c[64], what[96];
            snprintf(c, sizeof c, "%s%s", bc->name, variant == 2 ? "_bcast" : "");
            snprintf(what, sizeof what, "%s%s", c, variant == 1 ? " strided" : "");
            ag_scope_begin();
            ag_tensor *a = agt_golden_input(g, dev, c, "a", false), *b = agt_golden_input(g, dev, c, "b", true);
            if (variant == 1) a = agt_noncontiguous(a);
            ck_assert_int_eq(ag_set_requires_grad(a, true), AG_OK);
            ag_tensor *y = bc->fn(a, b);
            agt_assert_tensors_close(y, agt_golden_input(g, dev, c, "y", false), bc->tol, bc->tol, what);
            ck_assert_int_eq(ag_backward(y, agt_golden_input(g, dev, c, "go", false)), AG_OK);
            check_grad(g, dev, a, c, "ga", bc->tol * 10, what);
            check_grad(g, dev, b, c, "gb", bc->tol * 10, what);
            ag_scope_end();
        }
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_binary_gradcheck)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    for (int k = 0; k < N_BINARY; k++) {
        ag_scope_begin();
        char c[64];
        snprintf(c, sizeof c, "%s_bcast", BINARY[k].name);
        ag_tensor *in[2] = {agt_golden_input(g, dev, c, "a", true), agt_golden_input(g, dev, c, "b", true)};
        agt_gradcheck(binary_fn, 2, in, (void *)&BINARY[k], 1e-3, 1e-2, 1e-2, c);
        /* a strided [3,4] operand with b [4] */
        ag_tensor *in2[2] = {agt_noncontiguous(agt_golden_input(g, dev, BINARY[k].name, "a", false)),
                             agt_golden_input(g, dev, BINARY[k].name, "b", true)};
        ck_assert_int_eq(ag_set_requires_grad(in2[0], true), AG_OK);
        agt_gradcheck(binary_fn, 2, in2, (void *)&BINARY[k], 1e-3, 1e-2, 1e-2, BINARY[k].name);
        ag_scope_end();
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* Same tensor on both sides, and a gradient reaching one input twice. */
START_TEST(test_binary_shared_input)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(3), (float[]){1, -2, 3});
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ck_assert_int_eq(ag_backward(ag_sum(ag_mul(x, x), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){2, -4, 6}, 3, 0, 0, "d(x*x)");
    ag_zero_grad(x);
    /* maximum(x, x): ties everywhere, 0.5 + 0.5 */
    ck_assert_int_eq(ag_backward(ag_sum(ag_maximum(x, x), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){1, 1, 1}, 3, 0, 0, "d max(x,x)");
    ag_zero_grad(x);
    /* div by a broadcast 0-dim tensor that requires grad */
    ag_tensor *s = ag_scalar(dev, AG_F32, 2);
    ck_assert_int_eq(ag_set_requires_grad(s, true), AG_OK);
    ck_assert_int_eq(ag_backward(ag_sum(ag_div(x, s), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){0.5f, 0.5f, 0.5f}, 3, 0, 0, "d(x/s)/dx");
    agt_assert_shape(ag_grad(s), 0, NULL, "d(x/s)/ds shape");
    agt_assert_close(ag_grad(s), (float[]){-0.5f}, 1, 1e-6, 1e-6, "d(x/s)/ds"); // -sum(x)/4
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Dtypes ---------------------------------------------------------------------- */

START_TEST(test_dtype_promotion)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *c = "int_ops";
    ag_tensor *a = agt_golden_input(g, dev, c, "a", false), *b = agt_golden_input(g, dev, c, "b", false);
    static const struct {
        const char *label;
        ag_tensor *(*fn)(const ag_tensor *, const ag_tensor *);
    } ops[] = {{"add", ag_add}, {"sub", ag_sub}, {"mul", ag_mul}, {"maximum", ag_maximum},
               {"minimum", ag_minimum}};
    for (int k = 0; k < 5; k++) {
        ag_tensor *y = ops[k].fn(a, b);
        ck_assert_msg(ag_tensor_dtype(y) == AG_I32, "%s of i32 must stay i32", ops[k].label);
        agt_assert_tensors_close(y, agt_golden_input(g, dev, c, ops[k].label, false), 0, 0, ops[k].label);
    }
    ag_tensor *d = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){2, 4, -3});
    ag_tensor *q = ag_div(a, d);
    ck_assert_int_eq(ag_tensor_dtype(q), AG_F32);
    agt_assert_tensors_close(q, agt_golden_input(g, dev, c, "div", false), 1e-6, 1e-6, "div i32 -> f32");
    ag_tensor *m = ag_add(a, agt_tensor(dev, AG_SHAPE(3), (float[]){0.5f, 1.5f, -0.25f}));
    ck_assert_int_eq(ag_tensor_dtype(m), AG_F32);
    agt_assert_tensors_close(m, agt_golden_input(g, dev, c, "mixed", false), 0, 0, "i32 + f32");
    /* u8 stays u8 (wrapping like PyTorch); u8 with i32 gives i32 */
    uint8_t ub[3] = {250, 3, 7};
    ag_tensor *u = ag_from_data(dev, AG_U8, AG_SHAPE(3), ub, 3);
    ag_tensor *uu = ag_add(u, u);
    ck_assert_int_eq(ag_tensor_dtype(uu), AG_U8);
    agt_assert_close(uu, (float[]){244, 6, 14}, 3, 0, 0, "u8 + u8 wraps");
    ag_tensor *ui = ag_sub(u, d);
    ck_assert_int_eq(ag_tensor_dtype(ui), AG_I32);
    agt_assert_close(ui, (float[]){248, -1, 10}, 3, 0, 0, "u8 - i32");
    /* scalar forms keep an integer dtype for integral scalars */
    ag_tensor *as = ag_add_scalar(a, 2);
    ck_assert_int_eq(ag_tensor_dtype(as), AG_I32);
    agt_assert_close(as, (float[]){-1, 2, 9, 4, -3, 6}, 6, 0, 0, "i32 add_scalar");
    ag_tensor *rs = ag_rsub_scalar(a, 1);
    ck_assert_int_eq(ag_tensor_dtype(rs), AG_I32);
    agt_assert_close(rs, (float[]){4, 1, -6, -1, 6, -3}, 6, 0, 0, "i32 rsub_scalar");
    agt_assert_close(ag_maximum_scalar(a, 0), (float[]){0, 0, 7, 2, 0, 4}, 6, 0, 0,
                     "i32 maximum_scalar");
    ag_tensor *af = ag_add_scalar(a, 0.5);
    ck_assert_int_eq(ag_tensor_dtype(af), AG_F32);
    agt_assert_close(af, (float[]){-2.5f, 0.5f, 7.5f, 2.5f, -4.5f, 4.5f}, 6, 0, 0,
                     "i32 + 0.5 -> f32");
    ag_tensor *ds = ag_div_scalar(a, 2);
    ck_assert_int_eq(ag_tensor_dtype(ds), AG_F32);
    agt_assert_close(ds, (float[]){-1.5f, 0, 3.5f, 1, -2.5f, 2}, 6, 0, 0, "i32 / 2 -> f32");
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* ---- Comparisons and where -------------------------------------------------------- */

START_TEST(test_compare)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *c = "compare";
    ag_tensor *a = agt_golden_input(g, dev, c, "a", false), *b = agt_golden_input(g, dev, c, "b", false);
    static const struct {
        const char *label;
        ag_tensor *(*fn)(const ag_tensor *, const ag_tensor *);
    } ops[] = {{"eq", ag_eq}, {"ne", ag_ne}, {"lt", ag_lt}, {"le", ag_le}, {"gt", ag_gt}, {"ge", ag_ge}};
    for (int k = 0; k < 6; k++) {
        for (int strided = 0; strided < 2; strided++) {
            ag_tensor *y = ops[k].fn(strided ? agt_noncontiguous(a) : a, b);
            ck_assert_msg(ag_tensor_dtype(y) == AG_U8, "%s must give u8", ops[k].label);
            agt_assert_tensors_close(y, agt_golden_input(g, dev, c, ops[k].label, false), 0, 0, ops[k].label);
        }
    }
    agt_assert_tensors_close(ag_eq_scalar(a, 0.5), agt_golden_input(g, dev, c, "eq_s", false), 0, 0, "eq_scalar");
    agt_assert_tensors_close(ag_lt_scalar(a, 0.5), agt_golden_input(g, dev, c, "lt_s", false), 0, 0, "lt_scalar");
    agt_assert_tensors_close(ag_ge_scalar(a, 0.5), agt_golden_input(g, dev, c, "ge_s", false), 0, 0, "ge_scalar");
    /* hand values, integer and mixed dtypes */
    ag_tensor *i = agt_tensor_i32(dev, AG_SHAPE(4), (int32_t[]){-1, 0, 1, 2});
    ag_tensor *f = agt_tensor(dev, AG_SHAPE(4), (float[]){-1, 0.5f, 1, 3});
    agt_assert_close(ag_eq(i, f), (float[]){1, 0, 1, 0}, 4, 0, 0, "eq i32 f32");
    agt_assert_close(ag_lt(i, f), (float[]){0, 1, 0, 1}, 4, 0, 0, "lt i32 f32");
    agt_assert_close(ag_ne_scalar(i, 0), (float[]){1, 0, 1, 1}, 4, 0, 0, "ne_scalar i32");
    agt_assert_close(ag_gt_scalar(i, 0.5), (float[]){0, 0, 1, 1}, 4, 0, 0, "gt_scalar i32 0.5");
    agt_assert_close(ag_le_scalar(f, 1), (float[]){1, 1, 1, 0}, 4, 0, 0, "le_scalar");
    ag_tensor *m = ag_gt_scalar(i, 0);
    agt_assert_close(ag_eq(m, ag_ge_scalar(i, 1)), (float[]){1, 1, 1, 1}, 4, 0, 0, "u8 == u8");
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *where_fn(ag_tensor *const *in, void *ctx)
{
    return ag_where((const ag_tensor *)ctx, in[0], in[1]);
}

START_TEST(test_where)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *c = "where";
    ag_tensor *cond = agt_golden_input(g, dev, c, "cond", false);
    for (int strided = 0; strided < 2; strided++) {
        ag_tensor *a = agt_golden_input(g, dev, c, "a", false), *b = agt_golden_input(g, dev, c, "b", true);
        if (strided) a = agt_noncontiguous(a);
        ck_assert_int_eq(ag_set_requires_grad(a, true), AG_OK);
        ag_tensor *y = ag_where(cond, a, b);
        agt_assert_tensors_close(y, agt_golden_input(g, dev, c, "y", false), 0, 0, "where");
        ck_assert_int_eq(ag_backward(y, agt_golden_input(g, dev, c, "go", false)), AG_OK);
        check_grad(g, dev, a, c, "ga", 1e-6, "where ga");
        check_grad(g, dev, b, c, "gb", 1e-5, "where gb");
    }
    ag_tensor *in[2] = {agt_golden_input(g, dev, c, "a", true), agt_golden_input(g, dev, c, "b", true)};
    agt_gradcheck(where_fn, 2, in, cond, 1e-3, 1e-2, 1e-2, "where gradcheck");
    /* hand values: i32 branches stay i32, mixed promote to f32 */
    ag_tensor *m = ag_gt_scalar(agt_tensor(dev, AG_SHAPE(3), (float[]){1, -1, 2}), 0);
    ag_tensor *ai = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){1, 2, 3});
    ag_tensor *yi = ag_where(m, ai, ag_scalar(dev, AG_I32, -7));
    ck_assert_int_eq(ag_tensor_dtype(yi), AG_I32);
    agt_assert_close(yi, (float[]){1, -7, 3}, 3, 0, 0, "where i32");
    ag_tensor *yf = ag_where(m, ai, ag_scalar(dev, AG_F32, 0.5));
    ck_assert_int_eq(ag_tensor_dtype(yf), AG_F32);
    agt_assert_close(yf, (float[]){1, 0.5f, 3}, 3, 0, 0, "where mixed");
    ag_tensor *yu = ag_where(m, m, ag_scalar(dev, AG_U8, 9));
    ck_assert_int_eq(ag_tensor_dtype(yu), AG_U8);
    agt_assert_close(yu, (float[]){1, 9, 1}, 3, 0, 0, "where u8");
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* ---- Errors ------------------------------------------------------------------------ */

START_TEST(test_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *a = ag_zeros(dev, AG_F32, AG_SHAPE(3, 4));
    ag_tensor *b = ag_zeros(dev, AG_F32, AG_SHAPE(3));
    ag_clear_error();
    agt_assert_error(ag_add(a, NULL), "ag_add", "b is NULL", "add NULL");
    ag_clear_error();
    agt_assert_error(ag_exp(NULL), "ag_exp", "NULL", "exp NULL");
    ag_clear_error();
    agt_assert_error(ag_where(NULL, a, a), "ag_where", "NULL", "where NULL");
    ag_clear_error();
    agt_assert_error(ag_add_scalar(NULL, 1), "ag_add_scalar", "NULL", "add_scalar NULL");
    agt_assert_error(ag_add(a, b), "ag_add", "[3,4]", "add shapes");
    agt_assert_error(ag_mul(a, b), "ag_mul", "[3]", "mul shapes");
    agt_assert_error(ag_maximum(b, a), "ag_maximum", "[3,4]", "maximum shapes");
    agt_assert_error(ag_lt(a, b), "ag_lt", "[3,4]", "lt shapes");
    agt_assert_error(ag_where(ag_gt(a, a), a, b), "ag_where", "[3]", "where shapes");
    agt_assert_error(ag_where(a, a, a), "ag_where", "u8", "where f32 cond");
    agt_assert_error(ag_softplus(a, 0, 20), "ag_softplus", "beta", "softplus beta 0");
    agt_assert_error(ag_clamp(a, NAN, 1), "ag_clamp", "NaN", "clamp NaN");
    /* a NULL in a chain propagates the first error */
    ag_clear_error();
    agt_assert_error(ag_relu(ag_add(ag_mul(a, b), a)), "ag_mul", "[3,4]", "chain");
    /* tensors on two devices */
    ag_device *dev2 = ag_device_open(agt_backend_spec(_i));
    if (dev2 && dev2 != dev) {
        ag_tensor *o = ag_zeros(dev2, AG_F32, AG_SHAPE(3, 4));
        agt_assert_error(ag_sub(a, o), "ag_sub", "different devices", "sub devices");
        agt_assert_error(ag_eq(a, o), "ag_eq", "different devices", "eq devices");
        agt_assert_error(ag_where(ag_gt(a, a), a, o), "ag_where", "different devices", "where devices");
    }
    ag_scope_end();
    ag_device_close(dev2);
    agt_close(dev);
}
END_TEST

/* No leaks when no scope is open: every result belongs to the caller. */
START_TEST(test_no_scope_ownership)
{
    ag_device *dev = agt_open(_i);
    int32_t v[3] = {1, 2, 3};
    ag_tensor *a = ag_from_data(dev, AG_I32, AG_SHAPE(3), v, sizeof v);
    ag_tensor *mask = ag_lt_scalar(a, 2);
    ag_tensor *r[] = {ag_exp(a), ag_div(a, a), ag_add_scalar(a, 0.5), ag_lt_scalar(a, 2.5),
                      ag_where(mask, a, a), ag_neg(a), ag_maximum(a, a), ag_pow(a, a)};
    for (size_t k = 0; k < sizeof r / sizeof r[0]; k++) {
        ck_assert_msg(r[k] != NULL, "result %zu: %s", k, ag_last_error());
        ag_release(r[k]);
    }
    ag_release(mask);
    ag_release(a);
    agt_close(dev);
}
END_TEST

/* GELU (tanh approximation) saturates: at |x| = 20 and 1000 the output is
 * x or exactly 0 and the gradient 1 or 0, like PyTorch (a tanh that stops at
 * 0.99999994 used to leave -3e-5 at x = -1000 and a gradient of -6.4). The
 * middle values are the formula in double. */
START_TEST(test_gelu_tanh_saturates)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    enum { N = 8 };
    const float xs[N] = {-1000, -20, 20, 1000, -5, -0.5f, 0.5f, 3};
    float want_y[N], want_g[N];
    for (int i = 0; i < N; i++) {
        double x = xs[i], c = sqrt(2.0 / M_PI), u = c * (x + 0.044715 * x * x * x);
        double t = tanh(u);
        want_y[i] = (float)(0.5 * x * (1.0 + t));
        want_g[i] = (float)(0.5 * (1.0 + t) +
                            (fabs(u) > 20 ? 0.0 : 0.5 * x * (1.0 - t * t) * c * (1.0 + 3 * 0.044715 * x * x)));
    }
    ck_assert(want_y[0] == 0 && want_y[1] == 0 && want_y[2] == 20 && want_y[3] == 1000);
    ck_assert(want_g[0] == 0 && want_g[1] == 0 && want_g[2] == 1 && want_g[3] == 1);
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(N), xs);
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ag_tensor *y = ag_gelu_tanh(x);
    agt_assert_close(y, want_y, N, 1e-6, 1e-5, "gelu_tanh saturation");
    float *got = agt_read_f32(y);
    ck_assert_msg(got[0] == 0 && signbit(got[0]), "gelu_tanh(-1000) = %g, not -0", got[0]);
    free(got);
    ck_assert_int_eq(ag_backward(ag_sum(y, 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), want_g, N, 1e-6, 1e-5, "gelu_tanh gradient saturation");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("elementwise");
    TCase *tc = tcase_create("ops");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_unary_hand);
    AGT_ADD_LOOP(tc, test_unary_golden);
    AGT_ADD_LOOP(tc, test_unary_gradcheck);
    AGT_ADD_LOOP(tc, test_unary_special_grads);
    AGT_ADD_LOOP(tc, test_gelu_tanh_saturates);
    AGT_ADD_LOOP(tc, test_binary_hand);
    AGT_ADD_LOOP(tc, test_binary_golden);
    AGT_ADD_LOOP(tc, test_binary_gradcheck);
    AGT_ADD_LOOP(tc, test_binary_shared_input);
    AGT_ADD_LOOP(tc, test_dtype_promotion);
    AGT_ADD_LOOP(tc, test_compare);
    AGT_ADD_LOOP(tc, test_where);
    AGT_ADD_LOOP(tc, test_errors);
    AGT_ADD_LOOP(tc, test_no_scope_ownership);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
