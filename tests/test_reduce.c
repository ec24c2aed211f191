/* tests/test_reduce.c — sum, mean, max, min, argmax, argmin, var, std,
 * logsumexp, softmax and log_softmax: hand values, PyTorch golden values and
 * gradients (tests/golden/gen_reduce.py), gradcheck, strided inputs, special
 * cases (0-dim, empty, integer, ±inf) and error paths, on every backend. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "reduce.txt"
#define TOL 1e-4

typedef enum { R_SUM, R_MEAN, R_MAX, R_MIN, R_VAR, R_STD, R_LSE, R_SOFTMAX, R_LOG_SOFTMAX } rkind;

/* One reduction call: op, dims (dims[0] is the dim for softmax), keepdim, correction. */
typedef struct rcall {
    const char *name; /* golden case */
    rkind kind;
    int ndims;
    int dims[3];
    bool keepdim;
    int correction;
} rcall;

static ag_tensor *apply(const rcall *c, const ag_tensor *x)
{
    switch (c->kind) {
    case R_SUM: return ag_sum(x, c->ndims, c->dims, c->keepdim);
    case R_MEAN: return ag_mean(x, c->ndims, c->dims, c->keepdim);
    case R_MAX: return ag_max(x, c->ndims, c->dims, c->keepdim);
    case R_MIN: return ag_min(x, c->ndims, c->dims, c->keepdim);
    case R_VAR: return ag_var(x, c->ndims, c->dims, c->correction, c->keepdim);
    case R_STD: return ag_std(x, c->ndims, c->dims, c->correction, c->keepdim);
    case R_LSE: return ag_logsumexp(x, c->ndims, c->dims, c->keepdim);
    case R_SOFTMAX: return ag_softmax(x, c->dims[0]);
    case R_LOG_SOFTMAX: return ag_log_softmax(x, c->dims[0]);
    }
    return NULL;
}

/* Every differentiable golden case (names as in gen_reduce.py). */
static const rcall CASES[] = {
    {"sum_all", R_SUM, 0, {0}, false, 0},
    {"sum_d02", R_SUM, 2, {0, 2}, false, 0},
    {"sum_d1_keep", R_SUM, 1, {1}, true, 0},
    {"sum_dm1", R_SUM, 1, {-1}, false, 0},
    {"mean_all", R_MEAN, 0, {0}, false, 0},
    {"mean_d12_keep", R_MEAN, 2, {1, 2}, true, 0},
    {"mean_d0", R_MEAN, 1, {0}, false, 0},
    {"max_all", R_MAX, 0, {0}, false, 0},
    {"max_d1", R_MAX, 1, {1}, false, 0},
    {"max_d02_keep", R_MAX, 2, {0, 2}, true, 0},
    {"min_dm1", R_MIN, 1, {-1}, false, 0},
    {"min_all", R_MIN, 0, {0}, false, 0},
    {"max_ties_all", R_MAX, 0, {0}, false, 0},
    {"max_ties_d1", R_MAX, 1, {1}, false, 0},
    {"min_ties_d0_keep", R_MIN, 1, {0}, true, 0},
    {"var_all", R_VAR, 0, {0}, false, 1},
    {"var_d1_c0", R_VAR, 1, {1}, false, 0},
    {"var_d02_keep", R_VAR, 2, {0, 2}, true, 1},
    {"std_all", R_STD, 0, {0}, false, 1},
    {"std_dm1", R_STD, 1, {-1}, false, 1},
    {"std_d0_c0_keep", R_STD, 1, {0}, true, 0},
    {"lse_all", R_LSE, 3, {0, 1, 2}, false, 0},
    {"lse_d1", R_LSE, 1, {1}, false, 0},
    {"lse_d02_keep", R_LSE, 2, {0, 2}, true, 0},
    {"lse_big_dm1", R_LSE, 1, {-1}, false, 0},
    {"softmax_d0", R_SOFTMAX, 1, {0}, false, 0},
    {"softmax_d1", R_SOFTMAX, 1, {1}, false, 0},
    {"softmax_d2", R_SOFTMAX, 1, {2}, false, 0},
    {"softmax_dm1", R_SOFTMAX, 1, {-1}, false, 0},
    {"log_softmax_d0", R_LOG_SOFTMAX, 1, {0}, false, 0},
    {"log_softmax_d1", R_LOG_SOFTMAX, 1, {1}, false, 0},
    {"log_softmax_d2", R_LOG_SOFTMAX, 1, {2}, false, 0},
    {"log_softmax_dm1", R_LOG_SOFTMAX, 1, {-1}, false, 0},
    {"softmax_big_d1", R_SOFTMAX, 1, {1}, false, 0},
    {"log_softmax_big_d1", R_LOG_SOFTMAX, 1, {1}, false, 0},
};
#define NCASES ((int)(sizeof CASES / sizeof CASES[0]))

/* ---- Hand-checked values --------------------------------------------------------- */

START_TEST(test_sum_mean_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 3] = [[1, 2, 3], [4, 5, 6]]
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *y = ag_sum(x, 0, NULL, false);
    agt_assert_shape(y, 0, NULL, "sum all shape");
    agt_assert_close(y, (float[]){21}, 1, 1e-5, 1e-5, "sum all");
    agt_assert_close(ag_sum(x, AG_DIMS(0), false), (float[]){5, 7, 9}, 3, 1e-5, 1e-5, "sum d0");
    y = ag_sum(x, AG_DIMS(1), true);
    agt_assert_shape(y, AG_SHAPE(2, 1), "sum d1 keepdim shape");
    agt_assert_close(y, (float[]){6, 15}, 2, 1e-5, 1e-5, "sum d1 keepdim");
    agt_assert_close(ag_sum(x, AG_DIMS(-1, 0), false), (float[]){21}, 1, 1e-5, 1e-5, "sum d-1,0");
    y = ag_sum(x, AG_DIMS(0, 1), true);
    agt_assert_shape(y, AG_SHAPE(1, 1), "sum all keepdim shape");
    agt_assert_close(ag_mean(x, AG_DIMS(1), false), (float[]){2, 5}, 2, 1e-5, 1e-5, "mean d1");
    agt_assert_close(ag_mean(x, 0, NULL, false), (float[]){3.5f}, 1, 1e-5, 1e-5, "mean all");

    /* backward: sum spreads ones, mean spreads 1/n */
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ck_assert_int_eq(ag_backward(ag_sum(x, AG_DIMS(0), false),
                                 agt_tensor(dev, AG_SHAPE(3), (float[]){1, 2, 3})),
                     AG_OK);
    agt_assert_close(ag_grad(x), (float[]){1, 2, 3, 1, 2, 3}, 6, 1e-6, 1e-6, "sum d0 grad");
    ag_zero_grad(x);
    ck_assert_int_eq(ag_backward(ag_mean(x, AG_DIMS(1), true),
                                 agt_tensor(dev, AG_SHAPE(2, 1), (float[]){3, 6})),
                     AG_OK);
    agt_assert_close(ag_grad(x), (float[]){1, 1, 1, 2, 2, 2}, 6, 1e-6, 1e-6, "mean d1 grad");

    /* broadcast (stride-0) input: [1, 3] expanded to [4, 3]; the gradient
     * flows back through the expand */
    ag_tensor *row = agt_tensor(dev, AG_SHAPE(1, 3), (float[]){1, -2, 0.5f});
    ck_assert_int_eq(ag_set_requires_grad(row, true), AG_OK);
    ag_tensor *ex = ag_expand(row, AG_SHAPE(4, 3));
    agt_assert_close(ag_sum(ex, AG_DIMS(0), false), (float[]){4, -8, 2}, 3, 1e-6, 1e-6,
                     "sum expanded");
    agt_assert_close(ag_max(ex, AG_DIMS(1), false), (float[]){1, 1, 1, 1}, 4, 0, 0,
                     "max expanded");
    agt_assert_close(ag_softmax(ex, 0), (float[]){.25f, .25f, .25f, .25f, .25f, .25f, .25f,
                                                  .25f, .25f, .25f, .25f, .25f},
                     12, 1e-6, 1e-6, "softmax expanded");
    ck_assert_int_eq(ag_backward(ag_mean(ex, 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(row), (float[]){1.f / 3, 1.f / 3, 1.f / 3}, 3, 1e-6, 1e-6,
                     "mean expanded grad");

    /* a size-1 reduced dim is a plain copy; a 0-dim tensor reduces nothing */
    ag_tensor *x1 = agt_tensor(dev, AG_SHAPE(2, 1, 2), (float[]){1, 2, 3, 4});
    y = ag_sum(x1, AG_DIMS(1), false);
    agt_assert_shape(y, AG_SHAPE(2, 2), "sum size-1 dim shape");
    agt_assert_close(y, (float[]){1, 2, 3, 4}, 4, 0, 0, "sum size-1 dim");
    ag_tensor *s = ag_scalar(dev, AG_F32, 2.5);
    agt_assert_close(ag_sum(s, 0, NULL, false), (float[]){2.5f}, 1, 0, 0, "sum 0-dim");
    agt_assert_close(ag_mean(s, AG_DIMS(-1), true), (float[]){2.5f}, 1, 0, 0, "mean 0-dim");
    agt_assert_shape(ag_sum(s, AG_DIMS(0), true), 0, NULL, "sum 0-dim shape");

    /* integers are summed as f32 (documented), exactly for small values */
    ag_tensor *xi = agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){1, -2, 30, 4});
    y = ag_sum(xi, 0, NULL, false);
    ck_assert_int_eq(ag_tensor_dtype(y), AG_F32);
    agt_assert_close(y, (float[]){33}, 1, 0, 0, "sum i32");
    agt_assert_close(ag_mean(xi, AG_DIMS(0), false), (float[]){15.5f, 1}, 2, 1e-6, 1e-6,
                     "mean i32");

    /* empty tensors: sum 0, mean NaN (like PyTorch) */
    ag_tensor *e = ag_zeros(dev, AG_F32, AG_SHAPE(0, 3));
    agt_assert_close(ag_sum(e, AG_DIMS(0), false), (float[]){0, 0, 0}, 3, 0, 0, "sum empty");
    agt_assert_close(ag_mean(e, 0, NULL, false), (float[]){NAN}, 1, 0, 0, "mean empty");
    agt_assert_shape(ag_sum(e, AG_DIMS(1), false), AG_SHAPE(0), "sum of an empty tensor");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_max_min_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 3] = [[1, 5, 5], [-2, 0, -2]]
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 5, 5, -2, 0, -2});
    agt_assert_close(ag_max(x, 0, NULL, false), (float[]){5}, 1, 0, 0, "max all");
    agt_assert_close(ag_min(x, 0, NULL, false), (float[]){-2}, 1, 0, 0, "min all");
    agt_assert_close(ag_max(x, AG_DIMS(0), false), (float[]){1, 5, 5}, 3, 0, 0, "max d0");
    ag_tensor *y = ag_min(x, AG_DIMS(1), true);
    agt_assert_shape(y, AG_SHAPE(2, 1), "min d1 keepdim shape");
    agt_assert_close(y, (float[]){1, -2}, 2, 0, 0, "min d1 keepdim");

    /* ties share the gradient evenly (torch.amax / torch.amin) */
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ck_assert_int_eq(ag_backward(ag_max(x, 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){0, 0.5f, 0.5f, 0, 0, 0}, 6, 1e-6, 1e-6, "max grad");
    ag_zero_grad(x);
    ck_assert_int_eq(ag_backward(ag_min(x, AG_DIMS(1), false),
                                 agt_tensor(dev, AG_SHAPE(2), (float[]){1, 4})),
                     AG_OK);
    agt_assert_close(ag_grad(x), (float[]){1, 0, 0, 2, 0, 2}, 6, 1e-6, 1e-6, "min d1 grad");

    /* argmax / argmin: i32, first occurrence */
    y = ag_argmax(x, 1, false);
    ck_assert_int_eq(ag_tensor_dtype(y), AG_I32);
    agt_assert_close(y, (float[]){1, 1}, 2, 0, 0, "argmax d1");
    agt_assert_close(ag_argmin(x, -1, false), (float[]){0, 0}, 2, 0, 0, "argmin d-1");
    y = ag_argmax(x, 0, true);
    agt_assert_shape(y, AG_SHAPE(1, 3), "argmax keepdim shape");
    agt_assert_close(y, (float[]){0, 0, 0}, 3, 0, 0, "argmax d0");
    agt_assert_close(ag_argmin(x, 0, false), (float[]){1, 1, 1}, 3, 0, 0, "argmin d0");
    ag_tensor *s = ag_scalar(dev, AG_F32, -3);
    y = ag_argmax(s, 0, false);
    agt_assert_shape(y, 0, NULL, "argmax 0-dim shape");
    agt_assert_close(y, (float[]){0}, 1, 0, 0, "argmax 0-dim");
    agt_assert_close(ag_max(s, 0, NULL, false), (float[]){-3}, 1, 0, 0, "max 0-dim");

    /* integer inputs keep their dtype; -inf and +inf take part */
    ag_tensor *xi = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){-7, 12, 3});
    y = ag_max(xi, 0, NULL, false);
    ck_assert_int_eq(ag_tensor_dtype(y), AG_I32);
    agt_assert_close(y, (float[]){12}, 1, 0, 0, "max i32");
    agt_assert_close(ag_argmin(xi, 0, false), (float[]){0}, 1, 0, 0, "argmin i32");
    ag_tensor *xinf = agt_tensor(dev, AG_SHAPE(3), (float[]){-INFINITY, 1, INFINITY});
    agt_assert_close(ag_max(xinf, 0, NULL, false), (float[]){INFINITY}, 1, 0, 0, "max +inf");
    agt_assert_close(ag_min(xinf, 0, NULL, false), (float[]){-INFINITY}, 1, 0, 0, "min -inf");

    /* NaN propagates like in PyTorch: max/min give NaN, argmax/argmin its index */
    ag_tensor *xn = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, NAN, 3, 2, 0, 1});
    agt_assert_close(ag_max(xn, AG_DIMS(1), false), (float[]){NAN, 2}, 2, 0, 0, "max NaN");
    agt_assert_close(ag_min(xn, AG_DIMS(1), false), (float[]){NAN, 0}, 2, 0, 0, "min NaN");
    agt_assert_close(ag_argmax(xn, 1, false), (float[]){1, 0}, 2, 0, 0, "argmax NaN");
    agt_assert_close(ag_argmin(xn, 1, false), (float[]){1, 1}, 2, 0, 0, "argmin NaN");

    /* reducing the non-empty dims of an empty tensor is fine */
    ag_tensor *e = ag_zeros(dev, AG_F32, AG_SHAPE(0, 3));
    agt_assert_shape(ag_max(e, AG_DIMS(1), false), AG_SHAPE(0), "max of empty rows");
    agt_assert_shape(ag_argmax(e, 1, false), AG_SHAPE(0), "argmax of empty rows");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_var_std_lse_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 3] = [[1, 2, 3], [2, 4, 6]]: row variances 1 and 4 (unbiased)
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 2, 4, 6});
    agt_assert_close(ag_var(x, AG_DIMS(1), 1, false), (float[]){1, 4}, 2, 1e-5, 1e-5, "var");
    agt_assert_close(ag_var(x, AG_DIMS(1), 0, false), (float[]){2.f / 3, 8.f / 3}, 2, 1e-5, 1e-5,
                     "var c0");
    agt_assert_close(ag_std(x, AG_DIMS(1), 1, true), (float[]){1, 2}, 2, 1e-5, 1e-5, "std");
    agt_assert_shape(ag_std(x, AG_DIMS(1), 1, true), AG_SHAPE(2, 1), "std keepdim shape");
    /* one element with correction 1: 0/0 = NaN, like PyTorch */
    ag_tensor *one = agt_tensor(dev, AG_SHAPE(1), (float[]){3});
    agt_assert_close(ag_var(one, 0, NULL, 1, false), (float[]){NAN}, 1, 0, 0, "var of one");
    /* integers become f32 */
    ag_tensor *xi = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){1, 2, 3});
    agt_assert_close(ag_var(xi, 0, NULL, 1, false), (float[]){1}, 1, 1e-6, 1e-6, "var i32");

    // logsumexp: [[0, 0], [ln 3, 0]] → [ln 2, ln 4]
    ag_tensor *l = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){0, 0, logf(3), 0});
    agt_assert_close(ag_logsumexp(l, AG_DIMS(1), false), (float[]){logf(2), logf(4)}, 2, 1e-5,
                     1e-5, "logsumexp");
    /* rows of -inf give -inf, a +inf gives +inf; huge values do not overflow */
    ag_tensor *inf = agt_tensor(dev, AG_SHAPE(3, 2),
                                (float[]){-INFINITY, -INFINITY, 1, INFINITY, 1000, 1000});
    agt_assert_close(ag_logsumexp(inf, AG_DIMS(1), false),
                     (float[]){-INFINITY, INFINITY, 1000 + logf(2)}, 3, 1e-3, 1e-6,
                     "logsumexp inf");
    ck_assert_int_eq(ag_set_requires_grad(l, true), AG_OK);
    ck_assert_int_eq(ag_backward(ag_logsumexp(l, AG_DIMS(1), false),
                                 agt_tensor(dev, AG_SHAPE(2), (float[]){1, 2})),
                     AG_OK);
    /* d/dx = g * softmax(x) */
    agt_assert_close(ag_grad(l), (float[]){0.5f, 0.5f, 1.5f, 0.5f}, 4, 1e-5, 1e-5,
                     "logsumexp grad");
    /* empty: -inf */
    ag_tensor *e = ag_zeros(dev, AG_F32, AG_SHAPE(2, 0));
    agt_assert_close(ag_logsumexp(e, AG_DIMS(1), false), (float[]){-INFINITY, -INFINITY}, 2, 0,
                     0, "logsumexp empty");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_softmax_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 2] = [[0, ln 3], [ln 3, 0]]: softmax rows (1/4, 3/4) and (3/4, 1/4)
    float l3 = logf(3);
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){0, l3, l3, 0});
    agt_assert_close(ag_softmax(x, 1), (float[]){0.25f, 0.75f, 0.75f, 0.25f}, 4, 1e-6, 1e-5,
                     "softmax d1");
    agt_assert_close(ag_softmax(x, 0), (float[]){0.25f, 0.75f, 0.75f, 0.25f}, 4, 1e-6, 1e-5,
                     "softmax d0");
    agt_assert_close(ag_log_softmax(x, -1),
                     (float[]){logf(0.25f), logf(0.75f), logf(0.75f), logf(0.25f)}, 4, 1e-5,
                     1e-5, "log_softmax");
    /* -inf entries get probability 0; huge logits do not overflow */
    ag_tensor *xi = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){-INFINITY, 0, 1e4f, 1e4f});
    agt_assert_close(ag_softmax(xi, 1), (float[]){0, 1, 0.5f, 0.5f}, 4, 1e-6, 1e-6,
                     "softmax -inf/huge");
    /* 0-dim: softmax 1, log_softmax 0; integers become f32 */
    ag_tensor *s = ag_scalar(dev, AG_F32, 7);
    agt_assert_close(ag_softmax(s, 0), (float[]){1}, 1, 0, 0, "softmax 0-dim");
    agt_assert_close(ag_log_softmax(s, -1), (float[]){0}, 1, 0, 0, "log_softmax 0-dim");
    ag_tensor *ii = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){0, 0});
    agt_assert_close(ag_softmax(ii, 0), (float[]){0.5f, 0.5f}, 2, 1e-6, 1e-6, "softmax i32");
    /* the output is contiguous in x's shape even for an inner dim */
    ag_tensor *x3 = agt_randn(dev, AG_SHAPE(2, 3, 4), 9, 1.0);
    ag_tensor *y3 = ag_softmax(x3, 1);
    agt_assert_shape(y3, AG_SHAPE(2, 3, 4), "softmax d1 shape");
    ck_assert(ag_is_contiguous(y3));
    agt_assert_tensors_close(ag_sum(y3, AG_DIMS(1), false), ag_ones(dev, AG_F32, AG_SHAPE(2, 4)),
                             1e-5, 1e-5, "softmax sums to 1");
    /* empty */
    agt_assert_shape(ag_softmax(ag_zeros(dev, AG_F32, AG_SHAPE(0, 3)), 1), AG_SHAPE(0, 3),
                     "softmax empty");
    /* backward: softmax of a constant row has gradient g - mean(g) scaled by 1/n */
    ag_tensor *c = agt_tensor(dev, AG_SHAPE(1, 2), (float[]){0, 0});
    ck_assert_int_eq(ag_set_requires_grad(c, true), AG_OK);
    ck_assert_int_eq(ag_backward(ag_softmax(c, 1), agt_tensor(dev, AG_SHAPE(1, 2), (float[]){1, 3})),
                     AG_OK);
    agt_assert_close(ag_grad(c), (float[]){-0.5f, 0.5f}, 2, 1e-6, 1e-6, "softmax grad");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- PyTorch golden values ------------------------------------------------------- */

/* Runs every golden case on x as stored and on a strided copy of it (with a
 * strided upstream gradient too): forward values and input gradients. */
START_TEST(test_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    for (int i = 0; i < NCASES; i++) {
        const rcall *c = &CASES[i];
        for (int strided = 0; strided < 2; strided++) {
            char what[128];
            snprintf(what, sizeof what, "%s%s", c->name, strided ? " (strided)" : "");
            ag_scope_begin();
            ag_tensor *x = agt_golden_tensor(g, dev, c->name, "x");
            ag_tensor *go = agt_golden_tensor(g, dev, c->name, "go");
            if (strided) {
                x = agt_noncontiguous(x);
                ck_assert(!ag_is_contiguous(x));
                if (ag_ndim(go) >= 2) go = agt_noncontiguous(go);
            }
            ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
            ag_tensor *y = apply(c, x);
            ag_tensor *want = agt_golden_tensor(g, dev, c->name, "y");
            agt_assert_shape(y, ag_ndim(want), ag_shape(want), what);
            agt_assert_tensors_close(y, want, TOL, TOL, what);
            ck_assert_msg(ag_backward(y, go) == AG_OK, "%s: backward: %s", what, ag_last_error());
            ck_assert_msg(ag_grad(x) != NULL, "%s: no gradient", what);
            agt_assert_tensors_close(ag_grad(x), agt_golden_tensor(g, dev, c->name, "gx"), TOL,
                                     TOL, what);
            ag_scope_end();
        }
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_golden_forward_only)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    /* logsumexp with -inf entries and a row of -inf */
    const char *c = "lse_ninf_fwd";
    agt_assert_tensors_close(ag_logsumexp(agt_golden_tensor(g, dev, c, "x"), AG_DIMS(1), false),
                             agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    /* argmax / argmin, first occurrence on ties */
    struct { const char *name; int dim; bool keepdim; bool max; } args[] = {
        {"argmax_d1", 1, false, true},     {"argmax_d0_keep", 0, true, true},
        {"argmin_dm1", -1, false, false},  {"argmax_3d_d1", 1, false, true},
        {"argmin_3d_d2", 2, false, false},
    };
    for (size_t i = 0; i < sizeof args / sizeof args[0]; i++) {
        ag_tensor *x = agt_golden_tensor(g, dev, args[i].name, "x");
        for (int strided = 0; strided < 2; strided++) {
            ag_tensor *xx = strided ? agt_noncontiguous(x) : x;
            ag_tensor *y = args[i].max ? ag_argmax(xx, args[i].dim, args[i].keepdim)
                                       : ag_argmin(xx, args[i].dim, args[i].keepdim);
            ag_tensor *want = agt_golden_tensor(g, dev, args[i].name, "y");
            agt_assert_shape(y, ag_ndim(want), ag_shape(want), args[i].name);
            ck_assert_int_eq(ag_tensor_dtype(y), AG_I32);
            agt_assert_tensors_close(y, want, 0, 0, args[i].name);
        }
    }
    /* integer sum and mean */
    c = "int_sum_d0";
    agt_assert_tensors_close(ag_sum(agt_golden_tensor(g, dev, c, "x"), AG_DIMS(0), false),
                             agt_golden_tensor(g, dev, c, "y"), 0, 0, c);
    c = "int_mean_all";
    agt_assert_tensors_close(ag_mean(agt_golden_tensor(g, dev, c, "x"), 0, NULL, false),
                             agt_golden_tensor(g, dev, c, "y"), 1e-6, 1e-6, c);
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* ---- Gradcheck ---------------------------------------------------------------------- */

static ag_tensor *fn_call(ag_tensor *const *in, void *ctx)
{
    return apply((const rcall *)ctx, in[0]);
}

/* Distinct values at least 0.1 apart (no ties within eps for max/min). */
static ag_tensor *spread(ag_device *dev)
{
    float v[24];
    for (int i = 0; i < 24; i++) v[i] = 0.1f * (float)((i * 7) % 24) - 1.2f;
    return agt_tensor(dev, AG_SHAPE(2, 3, 4), v);
}

START_TEST(test_gradcheck)
{
    ag_device *dev = agt_open(_i);
    static const rcall calls[] = {
        {"sum d0,2", R_SUM, 2, {0, 2}, false, 0},
        {"sum all keepdim", R_SUM, 0, {0}, true, 0},
        {"mean d1", R_MEAN, 1, {1}, false, 0},
        {"mean all", R_MEAN, 0, {0}, false, 0},
        {"max d-1", R_MAX, 1, {-1}, false, 0},
        {"max d0,1 keepdim", R_MAX, 2, {0, 1}, true, 0},
        {"min all", R_MIN, 0, {0}, false, 0},
        {"min d1", R_MIN, 1, {1}, true, 0},
        {"var d1", R_VAR, 1, {1}, false, 1},
        {"var all c0", R_VAR, 0, {0}, false, 0},
        {"std d2 keepdim", R_STD, 1, {2}, true, 1},
        {"logsumexp d0,2", R_LSE, 2, {0, 2}, false, 0},
        {"logsumexp d-1 keepdim", R_LSE, 1, {-1}, true, 0},
        {"softmax d0", R_SOFTMAX, 1, {0}, false, 0},
        {"softmax d1", R_SOFTMAX, 1, {1}, false, 0},
        {"softmax d-1", R_SOFTMAX, 1, {-1}, false, 0},
        {"log_softmax d1", R_LOG_SOFTMAX, 1, {1}, false, 0},
        {"log_softmax d2", R_LOG_SOFTMAX, 1, {2}, false, 0},
    };
    for (size_t i = 0; i < sizeof calls / sizeof calls[0]; i++) {
        for (int strided = 0; strided < 2; strided++) {
            ag_scope_begin();
            ag_tensor *x = spread(dev);
            if (strided) x = agt_noncontiguous(x);
            ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
            char what[96];
            snprintf(what, sizeof what, "%s%s", calls[i].name, strided ? " (strided)" : "");
            agt_gradcheck(fn_call, 1, (ag_tensor *[]){x}, (void *)&calls[i], 1e-2, 1e-2, 1e-2,
                          what);
            ag_scope_end();
        }
    }
    agt_close(dev);
}
END_TEST

/* ---- Larger shapes against host references ------------------------------------------ */

/* Sizes past typical workgroup and tile widths, odd on purpose. */
START_TEST(test_large_vs_host)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    enum { R = 37, C = 1031 };
    ag_tensor *x = agt_randn(dev, AG_SHAPE(R, C), 42, 1.0);
    float *h = agt_read_f32(x);
    float *rs = malloc(R * sizeof *rs), *rmax = malloc(R * sizeof *rmax);
    float *rarg = malloc(R * sizeof *rarg), *cs = malloc(C * sizeof *cs);
    float *sm = malloc((size_t)R * C * sizeof *sm), *lsm = malloc((size_t)R * C * sizeof *lsm);
    float *smc = malloc((size_t)R * C * sizeof *smc);
    double total = 0;
    for (int j = 0; j < C; j++) cs[j] = 0;
    for (int i = 0; i < R; i++) {
        double s = 0, m = -INFINITY;
        int arg = 0;
        for (int j = 0; j < C; j++) {
            double v = h[i * C + j];
            s += v;
            cs[j] += (float)v;
            if (v > m) {
                m = v;
                arg = j;
            }
        }
        double z = 0;
        for (int j = 0; j < C; j++) z += exp(h[i * C + j] - m);
        for (int j = 0; j < C; j++) {
            sm[i * C + j] = (float)(exp(h[i * C + j] - m) / z);
            lsm[i * C + j] = (float)(h[i * C + j] - m - log(z));
        }
        rs[i] = (float)s;
        rmax[i] = (float)m;
        rarg[i] = (float)arg;
        total += s;
    }
    for (int j = 0; j < C; j++) { /* softmax down the columns (dim 0) */
        double m = -INFINITY, z = 0;
        for (int i = 0; i < R; i++) m = fmax(m, h[i * C + j]);
        for (int i = 0; i < R; i++) z += exp(h[i * C + j] - m);
        for (int i = 0; i < R; i++) smc[i * C + j] = (float)(exp(h[i * C + j] - m) / z);
    }
    agt_assert_close(ag_sum(x, AG_DIMS(1), false), rs, R, 1e-3, 1e-4, "sum rows");
    agt_assert_close(ag_sum(x, AG_DIMS(0), false), cs, C, 1e-3, 1e-4, "sum cols");
    float mean = (float)(total / (R * C));
    agt_assert_close(ag_mean(x, 0, NULL, false), &mean, 1, 1e-4, 1e-4, "mean all");
    agt_assert_close(ag_max(x, AG_DIMS(-1), false), rmax, R, 0, 0, "max rows");
    agt_assert_close(ag_argmax(x, 1, false), rarg, R, 0, 0, "argmax rows");
    agt_assert_close(ag_softmax(x, 1), sm, (int64_t)R * C, 1e-6, 1e-4, "softmax rows");
    agt_assert_close(ag_log_softmax(x, 1), lsm, (int64_t)R * C, 1e-4, 1e-4, "log_softmax rows");
    agt_assert_close(ag_softmax(x, 0), smc, (int64_t)R * C, 1e-6, 1e-4, "softmax cols");
    /* the strided (transposed) view reduces to the same values */
    ag_tensor *xt = ag_t(x); /* [C, R] */
    agt_assert_close(ag_sum(xt, AG_DIMS(0), false), rs, R, 1e-3, 1e-4, "sum transposed");
    agt_assert_close(ag_max(xt, AG_DIMS(0), true), rmax, R, 0, 0, "max transposed");
    free(h);
    free(rs);
    free(rmax);
    free(rarg);
    free(cs);
    free(sm);
    free(lsm);
    free(smc);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Errors -------------------------------------------------------------------------- */

START_TEST(test_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3), 1, 1.0);
    agt_assert_error(ag_sum(x, AG_DIMS(2), false), "ag_sum", "[2,3]", "sum dim out of range");
    agt_assert_error(ag_mean(x, AG_DIMS(-3), false), "ag_mean", "[2,3]", "mean dim -3");
    agt_assert_error(ag_max(x, AG_DIMS(1, -1), false), "ag_max", "more than once", "max dup dims");
    agt_assert_error(ag_min(x, 1, NULL, false), "ag_min", "[2,3]", "min NULL dims");
    agt_assert_error(ag_var(x, -1, NULL, 1, false), "ag_var", "[2,3]", "var bad ndims");
    agt_assert_error(ag_std(x, AG_DIMS(5), 1, false), "ag_std", "[2,3]", "std dim");
    agt_assert_error(ag_logsumexp(x, AG_DIMS(0, 0), false), "ag_logsumexp", "more than once",
                     "logsumexp dup");
    agt_assert_error(ag_argmax(x, 2, false), "ag_argmax", "[2,3]", "argmax dim");
    agt_assert_error(ag_argmin(x, -3, true), "ag_argmin", "[2,3]", "argmin dim");
    agt_assert_error(ag_softmax(x, 2), "ag_softmax", "[2,3]", "softmax dim");
    agt_assert_error(ag_log_softmax(x, -3), "ag_log_softmax", "[2,3]", "log_softmax dim");
    agt_assert_error(ag_sum(ag_scalar(dev, AG_F32, 1), AG_DIMS(1), false), "ag_sum", "[]",
                     "sum 0-dim dim 1");
    ag_tensor *e = ag_zeros(dev, AG_F32, AG_SHAPE(0, 3));
    agt_assert_error(ag_max(e, AG_DIMS(0), false), "ag_max", "[0,3]", "max over empty dim");
    agt_assert_error(ag_min(e, 0, NULL, false), "ag_min", "empty", "min of empty");
    agt_assert_error(ag_argmax(e, 0, false), "ag_argmax", "[0,3]", "argmax over empty dim");
    const ag_tensor *null = NULL;
    ag_clear_error();
    agt_assert_error(ag_sum(null, 0, NULL, false), "ag_sum", "NULL", "sum NULL");
    ag_clear_error();
    agt_assert_error(ag_mean(null, 0, NULL, false), "ag_mean", "NULL", "mean NULL");
    ag_clear_error();
    agt_assert_error(ag_max(null, 0, NULL, false), "ag_max", "NULL", "max NULL");
    ag_clear_error();
    agt_assert_error(ag_min(null, 0, NULL, false), "ag_min", "NULL", "min NULL");
    ag_clear_error();
    agt_assert_error(ag_argmax(null, 0, false), "ag_argmax", "NULL", "argmax NULL");
    ag_clear_error();
    agt_assert_error(ag_argmin(null, 0, false), "ag_argmin", "NULL", "argmin NULL");
    ag_clear_error();
    agt_assert_error(ag_var(null, 0, NULL, 1, false), "ag_var", "NULL", "var NULL");
    ag_clear_error();
    agt_assert_error(ag_std(null, 0, NULL, 1, false), "ag_std", "NULL", "std NULL");
    ag_clear_error();
    agt_assert_error(ag_logsumexp(null, 0, NULL, false), "ag_logsumexp", "NULL", "lse NULL");
    ag_clear_error();
    agt_assert_error(ag_softmax(null, 0), "ag_softmax", "NULL", "softmax NULL");
    ag_clear_error();
    agt_assert_error(ag_log_softmax(null, 0), "ag_log_softmax", "NULL", "log_softmax NULL");
    /* a NULL produced upstream keeps the upstream message */
    ag_tensor *bad = ag_sum(ag_softmax(x, 7), 0, NULL, false);
    agt_assert_error(bad, "ag_softmax", "[2,3]", "chained NULL");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

static Suite *reduce_suite(void)
{
    Suite *s = suite_create("reduce");
    TCase *tc = tcase_create("reduce");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_sum_mean_hand);
    AGT_ADD_LOOP(tc, test_max_min_hand);
    AGT_ADD_LOOP(tc, test_var_std_lse_hand);
    AGT_ADD_LOOP(tc, test_softmax_hand);
    AGT_ADD_LOOP(tc, test_golden);
    AGT_ADD_LOOP(tc, test_golden_forward_only);
    AGT_ADD_LOOP(tc, test_gradcheck);
    AGT_ADD_LOOP(tc, test_large_vs_host);
    AGT_ADD_LOOP(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(reduce_suite()); }
