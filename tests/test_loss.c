/* tests/test_loss.c — cross entropy, NLL, MSE, L1, smooth L1 and binary cross
 * entropy with logits: hand values, PyTorch golden values and gradients
 * (tests/golden/gen_nn_ops.py), gradcheck, broadcasting, strided inputs and
 * error paths, on every backend under test. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define GOLDEN "nn_ops.txt"
#define TOL 1e-4

static void check_grad(agt_golden *g, ag_device *dev, const ag_tensor *x, const char *c,
                       const char *l)
{
    agt_assert_grad_golden(g, dev, x, c, l, TOL, TOL, c);
}

static const ag_reduction REDS[3] = {AG_REDUCTION_MEAN, AG_REDUCTION_SUM, AG_REDUCTION_NONE};
static const char *const RED_NAMES[3] = {"mean", "sum", "none"};

/* ---- Cross entropy / NLL --------------------------------------------------------- */

START_TEST(test_cross_entropy_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // logits: [2, 3], target: [2]
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){0, 0, 0, 1, 2, 3});
    ag_tensor *t = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){0, 2});
    float l0 = logf(3.0f), l1 = logf(expf(1) + expf(2) + expf(3)) - 3.0f;
    agt_assert_close(ag_cross_entropy(x, t, NULL), (float[]){(l0 + l1) / 2}, 1, 1e-5, 1e-5,
                     "ce default mean");
    ag_cross_entropy_opts o = {AG_REDUCTION_SUM, -100, 0.0};
    agt_assert_close(ag_cross_entropy(x, t, &o), (float[]){l0 + l1}, 1, 1e-5, 1e-5, "ce sum");
    o.reduction = AG_REDUCTION_NONE;
    ag_tensor *none = ag_cross_entropy(x, t, &o);
    agt_assert_shape(none, AG_SHAPE(2), "ce none shape");
    agt_assert_close(none, (float[]){l0, l1}, 2, 1e-5, 1e-5, "ce none");
    /* ignore_index: the ignored row contributes 0 and is not counted by the mean */
    ag_tensor *ti = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){-100, 2});
    agt_assert_close(ag_cross_entropy(x, ti, NULL), (float[]){l1}, 1, 1e-5, 1e-5, "ce ignore");
    agt_assert_close(ag_cross_entropy(x, ti, &o), (float[]){0, l1}, 2, 1e-5, 1e-5,
                     "ce ignore none");
    /* a zero-initialised opts struct keeps PyTorch's default (-100): class 0
     * counts; has_ignore_index makes 0 the ignored class */
    ag_tensor *t0 = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){0, 2});
    agt_assert_tensors_close(ag_cross_entropy(x, t0, &(ag_cross_entropy_opts){0}),
                             ag_cross_entropy(x, t0, NULL), 0, 0, "ce zero opts keep class 0");
    agt_assert_close(ag_cross_entropy(x, t0, &(ag_cross_entropy_opts){.has_ignore_index = true}),
                     (float[]){l1}, 1, 1e-5, 1e-5, "ce ignore class 0");
    /* every target ignored: mean is 0/0 = NaN like PyTorch */
    ag_tensor *tall = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){-100, -100});
    agt_assert_close(ag_cross_entropy(x, tall, NULL), (float[]){NAN}, 1, 0, 0, "ce all ignored");
    /* label smoothing: (1-e) nll + e/C * sum_c -lp */
    ag_cross_entropy_opts os = {AG_REDUCTION_NONE, -100, 0.3};
    float lse1 = logf(expf(1) + expf(2) + expf(3));
    float s1 = (3 * lse1 - 6) / 3.0f;
    agt_assert_close(ag_cross_entropy(x, t, &os),
                     (float[]){logf(3.0f), 0.7f * l1 + 0.3f * s1}, 2, 1e-5, 1e-5, "ce smoothing");
    /* unbatched: logits [C], target 0-dim */
    ag_tensor *xu = agt_tensor(dev, AG_SHAPE(3), (float[]){1, 2, 3});
    ag_tensor *tu = ag_from_data(dev, AG_I32, 0, NULL, (int32_t[]){2}, 4);
    agt_assert_close(ag_cross_entropy(xu, tu, NULL), (float[]){l1}, 1, 1e-5, 1e-5,
                     "ce unbatched");
    agt_assert_shape(ag_cross_entropy(xu, tu, &o), 0, NULL, "ce unbatched none");
    /* nll_loss on log-probabilities */
    ag_tensor *lp = ag_log_softmax(x, 1);
    agt_assert_close(ag_nll_loss(lp, t, NULL), (float[]){(l0 + l1) / 2}, 1, 1e-5, 1e-5, "nll");
    /* one-hot probabilities give the class-index loss */
    ag_tensor *oh = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 0, 0, 0, 0, 1});
    agt_assert_close(ag_cross_entropy(x, oh, NULL), (float[]){(l0 + l1) / 2}, 1, 1e-5, 1e-5,
                     "ce one-hot probabilities");
    /* strided logits */
    agt_assert_close(ag_cross_entropy(agt_noncontiguous(x), t, &o), (float[]){l0, l1}, 2, 1e-5,
                     1e-5, "ce strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Runs a cross-entropy golden case with the given options. */
static void ce_case(agt_golden *g, ag_device *dev, const char *c, const ag_cross_entropy_opts *o,
                    bool nll)
{
    ag_tensor *x = agt_golden_input(g, dev, c, "x", true);
    ag_tensor *t = agt_golden_input(g, dev, c, "t", false);
    ag_tensor *y = nll ? ag_nll_loss(x, t, o) : ag_cross_entropy(x, t, o);
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
    check_grad(g, dev, x, c, "dx");
}

START_TEST(test_cross_entropy_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    for (int r = 0; r < 3; r++) {
        char name[32];
        snprintf(name, sizeof name, "ce_%s", RED_NAMES[r]);
        ag_cross_entropy_opts o = {REDS[r], -100, 0.0};
        ce_case(g, dev, name, &o, false);
    }
    ce_case(g, dev, "ce_ignore_smooth", &(ag_cross_entropy_opts){AG_REDUCTION_MEAN, -100, 0.1},
            false);
    ce_case(g, dev, "ce_ignore3_none", &(ag_cross_entropy_opts){AG_REDUCTION_NONE, 3, 0.2},
            false);
    ce_case(g, dev, "ce_spatial", NULL, false);
    ce_case(g, dev, "nll_mean", NULL, true);
    /* class probabilities (differentiable in the target too) */
    const char *pc[2] = {"ce_probs", "ce_probs_spatial_none"};
    ag_cross_entropy_opts po[2] = {{AG_REDUCTION_MEAN, -100, 0.1}, {AG_REDUCTION_NONE, -100, 0}};
    for (int i = 0; i < 2; i++) {
        ag_tensor *x = agt_golden_input(g, dev, pc[i], "x", true), *t = agt_golden_input(g, dev, pc[i], "t", true);
        ag_tensor *y = ag_cross_entropy(x, t, &po[i]);
        agt_assert_tensors_close(y, agt_golden_tensor(g, dev, pc[i], "y"), TOL, TOL, pc[i]);
        ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, pc[i], "gy")), AG_OK);
        check_grad(g, dev, x, pc[i], "dx");
        check_grad(g, dev, t, pc[i], "dt");
    }
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

typedef struct ce_ctx {
    ag_tensor *target;
    ag_cross_entropy_opts opts;
} ce_ctx;

static ag_tensor *fn_ce(ag_tensor *const *in, void *ctx)
{
    ce_ctx *c = ctx;
    return ag_cross_entropy(in[0], c->target, &c->opts);
}

static ag_tensor *fn_ce_probs(ag_tensor *const *in, void *ctx)
{
    (void)ctx;
    return ag_cross_entropy(in[0], in[1], &(ag_cross_entropy_opts){AG_REDUCTION_SUM, -100, 0.2});
}

static ag_tensor *fn_nll(ag_tensor *const *in, void *ctx)
{
    ce_ctx *c = ctx;
    return ag_nll_loss(in[0], c->target, &c->opts);
}

START_TEST(test_cross_entropy_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(4, 5), 41, 1.0);
    ag_set_requires_grad(x, true);
    ce_ctx c = {agt_tensor_i32(dev, AG_SHAPE(4), (int32_t[]){4, -1, 0, 2}),
                {AG_REDUCTION_MEAN, -1, 0.15}};
    agt_gradcheck(fn_ce, 1, (ag_tensor *[]){x}, &c, 1e-2, 1e-2, 1e-2, "ce smooth ignore");
    c.opts.reduction = AG_REDUCTION_NONE;
    agt_gradcheck(fn_ce, 1, (ag_tensor *[]){x}, &c, 1e-2, 1e-2, 1e-2, "ce none");
    /* strided logits, spatial [N, C, d] */
    ag_tensor *xs = agt_noncontiguous(agt_randn(dev, AG_SHAPE(2, 3, 2), 42, 1.0));
    ag_set_requires_grad(xs, true);
    ce_ctx cs = {agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){0, 2, 1, 1}),
                 {AG_REDUCTION_SUM, -100, 0.0}};
    agt_gradcheck(fn_ce, 1, (ag_tensor *[]){xs}, &cs, 1e-2, 1e-2, 1e-2, "ce spatial strided");
    /* probability targets, gradients for logits and target */
    ag_tensor *pt = agt_tensor(dev, AG_SHAPE(4, 5), (float[]){0.1f, 0.2f, 0.3f, 0.4f, 0,
                                                           1, 0, 0, 0, 0,
                                                           0.2f, 0.2f, 0.2f, 0.2f, 0.2f,
                                                           0, 0.5f, 0, 0.5f, 0});
    ag_set_requires_grad(pt, true);
    agt_gradcheck(fn_ce_probs, 2, (ag_tensor *[]){x, pt}, NULL, 1e-2, 1e-2, 1e-2, "ce probs");
    /* nll_loss on arbitrary inputs (it only picks entries) */
    ce_ctx cn = {agt_tensor_i32(dev, AG_SHAPE(4), (int32_t[]){3, 3, -100, 1}),
                 {AG_REDUCTION_MEAN, -100, 0.0}};
    agt_gradcheck(fn_nll, 1, (ag_tensor *[]){x}, &cn, 1e-2, 1e-2, 1e-2, "nll");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Per-class weights, PyTorch semantics (nll_loss / cross_entropy `weight`):
 * element loss w[t] * -lp[t] (smoothing: eps / C * sum_c w[c] * -lp[c]),
 * mean = sum / sum of w[t] over the non-ignored targets. The reference is
 * that formula in double on the host. */
static double weighted_ref(const float *x, int n, int c, const int32_t *t, const float *w,
                           double eps, int ignore, ag_reduction red, bool logits, double *each)
{
    double total = 0, wsum = 0;
    for (int i = 0; i < n; i++) {
        double m = -INFINITY, z = 0, lp[8];
        for (int k = 0; k < c; k++) m = fmax(m, x[i * c + k]);
        for (int k = 0; k < c; k++) z += exp(x[i * c + k] - m);
        for (int k = 0; k < c; k++) lp[k] = logits ? x[i * c + k] - m - log(z) : x[i * c + k];
        double li = 0;
        if (t[i] != ignore) {
            double smooth = 0;
            for (int k = 0; k < c; k++) smooth -= w[k] * lp[k];
            li = (1 - eps) * -w[t[i]] * lp[t[i]] + eps / c * smooth;
            wsum += w[t[i]];
        }
        each[i] = li;
        total += li;
    }
    return red == AG_REDUCTION_MEAN ? total / wsum : total;
}

START_TEST(test_cross_entropy_class_weight)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    enum { N = 4, C = 3 };
    const float xs[N * C] = {0.5f, -1, 2, 1, 0, -0.5f, -2, 1.5f, 0.25f, 3, 1, -1};
    const float ws[C] = {1, 2.5f, 0.5f};
    const int32_t ts[N] = {2, 0, 1, -7};
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(N, C), xs);
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(C), ws);
    for (int ignore = 0; ignore < 2; ignore++)
        for (int sm = 0; sm < 2; sm++)
            for (int r = 0; r < 3; r++)
                for (int lg = 0; lg < 2; lg++) {
                    int32_t t[N];
                    for (int i = 0; i < N; i++) t[i] = ts[i] == -7 ? (ignore ? -7 : 1) : ts[i];
                    double eps = lg && sm ? 0.2 : 0.0, each[N];
                    double want = weighted_ref(xs, N, C, t, ws, eps, -7, REDS[r], lg, each);
                    ag_cross_entropy_opts o = {REDS[r], -7, eps, w};
                    ag_tensor *tt = agt_tensor_i32(dev, AG_SHAPE(N), t);
                    ag_tensor *got = lg ? ag_cross_entropy(x, tt, &o) : ag_nll_loss(x, tt, &o);
                    char what[96];
                    snprintf(what, sizeof what, "%s weighted %s ignore=%d smooth=%d",
                             lg ? "ce" : "nll", RED_NAMES[r], ignore, sm);
                    float fe[N];
                    for (int i = 0; i < N; i++) fe[i] = (float)each[i];
                    if (REDS[r] == AG_REDUCTION_NONE) agt_assert_close(got, fe, N, 1e-5, 1e-5, what);
                    else agt_assert_close(got, (float[]){(float)want}, 1, 1e-5, 1e-5, what);
                }
    /* The weighted mean divides by the weights, not the count: all weights
     * 2 give the unweighted mean. */
    ag_tensor *t = agt_tensor_i32(dev, AG_SHAPE(N), (int32_t[]){2, 0, 1, 1});
    ag_tensor *two = ag_full(dev, AG_F32, AG_SHAPE(C), 2.0);
    agt_assert_tensors_close(ag_cross_entropy(x, t, &(ag_cross_entropy_opts){.ignore_index = -100, .weight = two}),
                             ag_cross_entropy(x, t, NULL), 1e-6, 1e-6, "weights 2 = unweighted mean");
    /* Gradients of the weighted loss (logits and smoothing). */
    ag_set_requires_grad(x, true);
    ce_ctx c = {t, {AG_REDUCTION_MEAN, -100, 0.1, w}};
    agt_gradcheck(fn_ce, 1, (ag_tensor *[]){x}, &c, 1e-2, 1e-2, 1e-2, "ce weighted");
    /* Probability targets: class c's term scaled by w[c], mean over N. */
    ag_tensor *p = agt_tensor(dev, AG_SHAPE(1, C), (float[]){0.25f, 0.5f, 0.25f});
    ag_tensor *x1 = agt_tensor(dev, AG_SHAPE(1, C), xs);
    double m = 2, z = exp(0.5 - m) + exp(-1 - m) + exp(2 - m), lz = log(z) + m;
    double want = -(0.25 * 1 * (0.5 - lz) + 0.5 * 2.5 * (-1 - lz) + 0.25 * 0.5 * (2 - lz));
    agt_assert_close(ag_cross_entropy(x1, p, &(ag_cross_entropy_opts){.weight = w}),
                     (float[]){(float)want}, 1, 1e-5, 1e-5, "ce probs weighted");
    /* Bad weights. */
    agt_assert_error(ag_cross_entropy(x, t, &(ag_cross_entropy_opts){.weight = ag_full(dev, AG_F32, AG_SHAPE(4), 1.0)}),
                     "ag_cross_entropy", "weight must be f32 [3]", "weight shape");
    agt_assert_error(ag_nll_loss(x, t, &(ag_cross_entropy_opts){.weight = t}), "ag_nll_loss",
                     "got i32 [4]", "weight dtype");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_cross_entropy_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 5), 1, 1.0);
    ag_tensor *t3 = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){0, 1, 2});
    ag_tensor *tf = agt_tensor(dev, AG_SHAPE(2), (float[]){0, 1});
    ag_tensor *t = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){0, 1});
    agt_assert_error(ag_cross_entropy(x, t3, NULL), "ag_cross_entropy", "[2,5]", "target shape");
    agt_assert_error(ag_cross_entropy(x, tf, NULL), "ag_cross_entropy", "[2,5]",
                     "probability target shape");
    ag_tensor *tu8 = ag_from_data(dev, AG_U8, AG_SHAPE(2), (uint8_t[]){0, 1}, 2);
    agt_assert_error(ag_cross_entropy(x, tu8, NULL), "ag_cross_entropy", "i32", "target dtype");
    ag_tensor *probs = agt_randn(dev, AG_SHAPE(2, 5), 9, 1.0);
    agt_assert_error(ag_nll_loss(x, probs, NULL), "ag_nll_loss", "i32", "nll f32 target");
    agt_assert_error(ag_nll_loss(x, t3, NULL), "ag_nll_loss", "[3]", "nll target shape");
    agt_assert_error(ag_cross_entropy(x, t, &(ag_cross_entropy_opts){(ag_reduction)7, -100, 0}),
                     "ag_cross_entropy", "reduction", "bad reduction");
    agt_assert_error(ag_cross_entropy(x, t, &(ag_cross_entropy_opts){AG_REDUCTION_MEAN, -100, 2}),
                     "ag_cross_entropy", "label_smoothing", "bad smoothing");
    if (ag_device_get_info(dev)->backend == AG_BACKEND_CPU) {
        /* index tensors on the CPU are range-checked */
        ag_tensor *bad = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){0, 5});
        agt_assert_error(ag_cross_entropy(x, bad, NULL), "ag_cross_entropy", "[2,5]",
                         "target out of range");
    }
    ag_clear_error();
    agt_assert_error(ag_cross_entropy(NULL, t, NULL), "ag_cross_entropy", "NULL", "NULL logits");
    ag_clear_error();
    agt_assert_error(ag_cross_entropy(x, NULL, NULL), "ag_cross_entropy", "NULL", "NULL target");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Regression losses ----------------------------------------------------------- */

typedef ag_tensor *(*pair_loss)(const ag_tensor *, const ag_tensor *, ag_reduction);

static ag_tensor *smooth_l1_07(const ag_tensor *a, const ag_tensor *b, ag_reduction r)
{
    return ag_smooth_l1_loss(a, b, r, 0.7);
}

START_TEST(test_regression_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // input, target: [2, 2]; differences -2, 0.5, 1, -0.25
    ag_tensor *a = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){3, 1.5f, 2, 4.25f});
    agt_assert_close(ag_mse_loss(a, b, AG_REDUCTION_NONE), (float[]){4, 0.25f, 1, 0.0625f}, 4,
                     1e-6, 1e-6, "mse none");
    agt_assert_close(ag_mse_loss(a, b, AG_REDUCTION_MEAN), (float[]){5.3125f / 4}, 1, 1e-6, 1e-6,
                     "mse mean");
    agt_assert_close(ag_l1_loss(a, b, AG_REDUCTION_SUM), (float[]){3.75f}, 1, 1e-6, 1e-6,
                     "l1 sum");
    /* beta 1: |d| < 1 → 0.5 d², else |d| - 0.5 */
    agt_assert_close(ag_smooth_l1_loss(a, b, AG_REDUCTION_NONE, 1.0),
                     (float[]){1.5f, 0.125f, 0.5f, 0.03125f}, 4, 1e-6, 1e-6, "smooth_l1");
    /* beta 0 is L1 */
    agt_assert_close(ag_smooth_l1_loss(a, b, AG_REDUCTION_NONE, 0.0),
                     (float[]){2, 0.5f, 1, 0.25f}, 4, 1e-6, 1e-6, "smooth_l1 beta 0");
    /* broadcasting target [2] against input [2, 2], and strided input */
    ag_tensor *row = agt_tensor(dev, AG_SHAPE(2), (float[]){1, 1});
    agt_assert_close(ag_mse_loss(a, row, AG_REDUCTION_NONE), (float[]){0, 1, 4, 9}, 4, 1e-6, 1e-6,
                     "mse broadcast");
    agt_assert_close(ag_l1_loss(agt_noncontiguous(a), b, AG_REDUCTION_NONE),
                     (float[]){2, 0.5f, 1, 0.25f}, 4, 1e-6, 1e-6, "l1 strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_regression_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *kinds[3] = {"mse", "l1", "smooth_l1"};
    pair_loss fns[3] = {ag_mse_loss, ag_l1_loss, smooth_l1_07};
    for (int k = 0; k < 3; k++) {
        for (int r = 0; r < 3; r++) {
            char c[48];
            snprintf(c, sizeof c, "%s_%s", kinds[k], RED_NAMES[r]);
            ag_tensor *a = agt_golden_input(g, dev, c, "a", true), *b = agt_golden_input(g, dev, c, "c", true);
            ag_tensor *y = fns[k](a, b, REDS[r]);
            agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
            ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
            check_grad(g, dev, a, c, "da");
            check_grad(g, dev, b, c, "dc");
        }
    }
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *fn_pair(ag_tensor *const *in, void *ctx)
{
    return ((pair_loss)(uintptr_t)ctx)(in[0], in[1], AG_REDUCTION_MEAN);
}

START_TEST(test_regression_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    /* differences kept away from 0 and from ±0.7 (the kinks) */
    ag_tensor *a = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){0.1f, -1.2f, 2.0f, 0.4f, 1.1f, -0.3f});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(3), (float[]){0.5f, 0.3f, -0.5f});
    ag_set_requires_grad(a, true);
    ag_set_requires_grad(b, true);
    pair_loss fns[3] = {ag_mse_loss, ag_l1_loss, smooth_l1_07};
    for (int k = 0; k < 3; k++) {
        agt_gradcheck(fn_pair, 2, (ag_tensor *[]){a, b}, (void *)(uintptr_t)fns[k], 1e-2, 1e-2,
                      1e-2, "regression broadcast");
        ag_tensor *an = agt_noncontiguous(ag_detach(a));
        ag_set_requires_grad(an, true);
        agt_gradcheck(fn_pair, 2, (ag_tensor *[]){an, b}, (void *)(uintptr_t)fns[k], 1e-2, 1e-2,
                      1e-2, "regression strided");
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_regression_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *a = agt_randn(dev, AG_SHAPE(3, 4), 1, 1.0);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(5), 2, 1.0);
    agt_assert_error(ag_mse_loss(a, b, AG_REDUCTION_MEAN), "ag_mse_loss", "[3,4]", "mse shapes");
    agt_assert_error(ag_l1_loss(a, b, AG_REDUCTION_MEAN), "ag_l1_loss", "[5]", "l1 shapes");
    agt_assert_error(ag_smooth_l1_loss(a, b, AG_REDUCTION_MEAN, 1.0), "ag_smooth_l1_loss", "[3,4]",
                     "smooth_l1 shapes");
    agt_assert_error(ag_smooth_l1_loss(a, a, AG_REDUCTION_MEAN, -1.0), "ag_smooth_l1_loss",
                     "beta", "smooth_l1 beta");
    agt_assert_error(ag_mse_loss(a, a, (ag_reduction)9), "ag_mse_loss", "reduction",
                     "mse reduction");
    ag_clear_error();
    agt_assert_error(ag_mse_loss(NULL, a, AG_REDUCTION_MEAN), "ag_mse_loss", "NULL", "mse NULL");
    ag_clear_error();
    agt_assert_error(ag_l1_loss(a, NULL, AG_REDUCTION_MEAN), "ag_l1_loss", "NULL", "l1 NULL");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Binary cross entropy with logits --------------------------------------------- */

START_TEST(test_bce_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // logits, targets: [4]; includes large |x| where a naive log(sigmoid) overflows
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(4), (float[]){0, 2, -100, 100});
    ag_tensor *t = agt_tensor(dev, AG_SHAPE(4), (float[]){1, 0, 1, 1});
    float l0 = logf(2.0f), l1 = 2.0f + logf(1.0f + expf(-2.0f));
    agt_assert_close(ag_binary_cross_entropy_with_logits(x, t, NULL, AG_REDUCTION_NONE),
                     (float[]){l0, l1, 100, 0}, 4, 1e-5, 1e-5, "bce");
    ag_tensor *pw = agt_tensor(dev, AG_SHAPE(4), (float[]){3, 3, 1, 1});
    agt_assert_close(ag_binary_cross_entropy_with_logits(x, t, pw, AG_REDUCTION_SUM),
                     (float[]){3 * l0 + l1 + 100}, 1, 1e-4, 1e-5, "bce pos_weight");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_bce_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    for (int r = 0; r < 4; r++) {
        char c[32];
        if (r < 3) snprintf(c, sizeof c, "bce_%s", RED_NAMES[r]);
        else snprintf(c, sizeof c, "bce_pos_weight");
        ag_tensor *x = agt_golden_input(g, dev, c, "x", true), *t = agt_golden_input(g, dev, c, "t", true);
        ag_tensor *pw = r == 3 ? agt_golden_input(g, dev, c, "pw", false) : NULL;
        ag_tensor *y = ag_binary_cross_entropy_with_logits(x, t, pw, r < 3 ? REDS[r] : AG_REDUCTION_MEAN);
        agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
        ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
        check_grad(g, dev, x, c, "dx");
        check_grad(g, dev, t, c, "dt");
    }
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *fn_bce(ag_tensor *const *in, void *ctx)
{
    (void)ctx;
    return ag_binary_cross_entropy_with_logits(in[0], in[1], in[2], AG_REDUCTION_MEAN);
}

START_TEST(test_bce_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(3, 4), 51, 2.0);
    ag_tensor *t = agt_tensor(dev, AG_SHAPE(3, 4),
                              (float[]){0, 1, 0.5f, 0.2f, 1, 1, 0, 0.7f, 0.1f, 0.9f, 0, 1});
    ag_tensor *pw = agt_tensor(dev, AG_SHAPE(4), (float[]){0.5f, 1, 2, 4}); /* broadcast */
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(t, true);
    agt_gradcheck(fn_bce, 3, (ag_tensor *[]){x, t, pw}, NULL, 1e-2, 1e-2, 1e-2, "bce");
    ag_tensor *xn = agt_noncontiguous(ag_detach(x));
    ag_set_requires_grad(xn, true);
    agt_gradcheck(fn_bce, 3, (ag_tensor *[]){xn, t, NULL}, NULL, 1e-2, 1e-2, 1e-2, "bce strided");
    /* errors */
    ag_tensor *t2 = agt_randn(dev, AG_SHAPE(4, 3), 52, 1.0);
    agt_assert_error(ag_binary_cross_entropy_with_logits(x, t2, NULL, AG_REDUCTION_MEAN),
                     "ag_binary_cross_entropy_with_logits", "[4,3]", "bce target shape");
    ag_tensor *pw5 = agt_randn(dev, AG_SHAPE(5), 53, 1.0);
    agt_assert_error(ag_binary_cross_entropy_with_logits(x, t, pw5, AG_REDUCTION_MEAN),
                     "ag_binary_cross_entropy_with_logits", "[5]", "bce pos_weight shape");
    ag_clear_error();
    agt_assert_error(ag_binary_cross_entropy_with_logits(NULL, t, NULL, AG_REDUCTION_MEAN),
                     "ag_binary_cross_entropy_with_logits", "NULL", "bce NULL");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

static Suite *loss_suite(void)
{
    Suite *s = suite_create("loss");
    TCase *tc = tcase_create("loss");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_cross_entropy_hand);
    AGT_ADD_LOOP(tc, test_cross_entropy_golden);
    AGT_ADD_LOOP(tc, test_cross_entropy_gradcheck);
    AGT_ADD_LOOP(tc, test_cross_entropy_class_weight);
    AGT_ADD_LOOP(tc, test_cross_entropy_errors);
    AGT_ADD_LOOP(tc, test_regression_hand);
    AGT_ADD_LOOP(tc, test_regression_golden);
    AGT_ADD_LOOP(tc, test_regression_gradcheck);
    AGT_ADD_LOOP(tc, test_regression_errors);
    AGT_ADD_LOOP(tc, test_bce_hand);
    AGT_ADD_LOOP(tc, test_bce_golden);
    AGT_ADD_LOOP(tc, test_bce_gradcheck);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(loss_suite()); }
