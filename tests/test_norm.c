/* tests/test_norm.c — layer norm, RMS norm, batch norm and dropout: hand values,
 * PyTorch golden values (tests/golden/gen_nn_ops.py), gradcheck, strided
 * inputs and error paths, on every backend under test. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>

#define GOLDEN "nn_ops.txt"
#define TOL 1e-4

/* Compares x's accumulated gradient with golden entry `l` of case `c`. */
static void check_grad(agt_golden *g, ag_device *dev, const ag_tensor *x, const char *c,
                       const char *l)
{
    agt_assert_grad_golden(g, dev, x, c, l, TOL, TOL, l);
}

/* ---- Layer norm ---------------------------------------------------------------- */

START_TEST(test_layer_norm_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 3]; rows (1,2,3) and (2,4,6) both normalise to (-a, 0, a), a = sqrt(3/2)
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 2, 4, 6});
    float a = sqrtf(1.5f);
    ag_tensor *y = ag_layer_norm(x, AG_SHAPE(3), NULL, NULL, 0.0);
    agt_assert_shape(y, AG_SHAPE(2, 3), "layer_norm shape");
    agt_assert_close(y, (float[]){-a, 0, a, -a, 0, a}, 6, 1e-5, 1e-5, "layer_norm");
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(3), (float[]){1, 2, 3});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(3), (float[]){0, 1, -1});
    y = ag_layer_norm(x, AG_SHAPE(3), w, b, 0.0);
    agt_assert_close(y, (float[]){-a, 1, 3 * a - 1, -a, 1, 3 * a - 1}, 6, 1e-5, 1e-5,
                     "layer_norm affine");
    /* integer input is promoted to f32 */
    ag_tensor *xi = agt_tensor_i32(dev, AG_SHAPE(2, 3), (int32_t[]){1, 2, 3, 2, 4, 6});
    agt_assert_close(ag_layer_norm(xi, AG_SHAPE(3), NULL, NULL, 0.0),
                     (float[]){-a, 0, a, -a, 0, a}, 6, 1e-5, 1e-5, "layer_norm i32");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_layer_norm_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *c = "layer_norm_affine";
    ag_tensor *x = agt_golden_input(g, dev, c, "x", true), *w = agt_golden_input(g, dev, c, "w", true),
              *b = agt_golden_input(g, dev, c, "b", true);
    ag_tensor *y = ag_layer_norm(x, AG_SHAPE(4), w, b, 1e-5);
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
    check_grad(g, dev, x, c, "dx");
    check_grad(g, dev, w, c, "dw");
    check_grad(g, dev, b, c, "db");

    c = "layer_norm_2d";
    x = agt_golden_input(g, dev, c, "x", true);
    y = ag_layer_norm(x, AG_SHAPE(3, 4), NULL, NULL, 1e-5);
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
    check_grad(g, dev, x, c, "dx");
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *fn_layer_norm(ag_tensor *const *in, void *ctx)
{
    (void)ctx;
    return ag_layer_norm(in[0], AG_SHAPE(4), in[1], in[2], 1e-5);
}

START_TEST(test_layer_norm_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(3, 4), 1, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(4), 2, 1.0);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(4), 3, 1.0);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(w, true);
    ag_set_requires_grad(b, true);
    agt_gradcheck(fn_layer_norm, 3, (ag_tensor *[]){x, w, b}, NULL, 1e-2, 1e-2, 1e-2,
                  "layer_norm");
    /* strided input: same values, same result, and gradcheck through it */
    ag_tensor *xn = agt_noncontiguous(x);
    ck_assert(!ag_is_contiguous(xn));
    agt_assert_tensors_close(ag_layer_norm(xn, AG_SHAPE(4), w, b, 1e-5),
                             ag_layer_norm(x, AG_SHAPE(4), w, b, 1e-5), 1e-5, 1e-5,
                             "layer_norm strided");
    ag_tensor *xl = agt_noncontiguous(agt_randn(dev, AG_SHAPE(3, 4), 4, 1.0));
    ag_set_requires_grad(xl, true);
    agt_gradcheck(fn_layer_norm, 3, (ag_tensor *[]){xl, w, b}, NULL, 1e-2, 1e-2, 1e-2,
                  "layer_norm strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_layer_norm_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3, 4), 1, 1.0);
    ag_tensor *w3 = agt_randn(dev, AG_SHAPE(3), 2, 1.0);
    agt_assert_error(ag_layer_norm(x, AG_SHAPE(3), NULL, NULL, 1e-5), "ag_layer_norm", "[2,3,4]",
                     "normalized shape mismatch");
    agt_assert_error(ag_layer_norm(x, AG_SHAPE(2, 2, 3, 4), NULL, NULL, 1e-5), "ag_layer_norm",
                     "[2,3,4]", "too many normalized dims");
    agt_assert_error(ag_layer_norm(x, AG_SHAPE(4), w3, NULL, 1e-5), "ag_layer_norm", "[3]",
                     "weight shape");
    agt_assert_error(ag_layer_norm(x, AG_SHAPE(4), NULL, w3, 1e-5), "ag_layer_norm", "[4]",
                     "bias shape");
    ag_clear_error();
    agt_assert_error(ag_layer_norm(NULL, AG_SHAPE(4), NULL, NULL, 1e-5), "ag_layer_norm", "NULL",
                     "NULL x");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- RMS norm ------------------------------------------------------------------ */

START_TEST(test_rms_norm_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 2]; rms of (3, 4) is sqrt(12.5), of (1, -1) is 1
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){3, 4, 1, -1});
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(2), (float[]){2, 0.5f});
    float r = sqrtf(12.5f);
    agt_assert_close(ag_rms_norm(x, AG_SHAPE(2), NULL, 0.0), (float[]){3 / r, 4 / r, 1, -1}, 4,
                     1e-5, 1e-5, "rms_norm");
    agt_assert_close(ag_rms_norm(x, AG_SHAPE(2), w, 0.0), (float[]){6 / r, 2 / r, 2, -0.5f}, 4,
                     1e-5, 1e-5, "rms_norm weight");
    agt_assert_close(ag_rms_norm(agt_noncontiguous(x), AG_SHAPE(2), w, 0.0),
                     (float[]){6 / r, 2 / r, 2, -0.5f}, 4, 1e-5, 1e-5, "rms_norm strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

static ag_tensor *fn_rms_norm(ag_tensor *const *in, void *ctx)
{
    (void)ctx;
    return ag_rms_norm(in[0], AG_SHAPE(4), in[1], 1e-6);
}

START_TEST(test_rms_norm_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *c = "rms_norm";
    ag_tensor *x = agt_golden_input(g, dev, c, "x", true), *w = agt_golden_input(g, dev, c, "w", true);
    ag_tensor *y = ag_rms_norm(x, AG_SHAPE(4), w, 1e-6);
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
    check_grad(g, dev, x, c, "dx");
    check_grad(g, dev, w, c, "dw");
    /* gradcheck, contiguous and strided */
    ag_tensor *x2 = agt_randn(dev, AG_SHAPE(3, 4), 5, 1.0);
    ag_set_requires_grad(x2, true);
    agt_gradcheck(fn_rms_norm, 2, (ag_tensor *[]){x2, w}, NULL, 1e-2, 1e-2, 1e-2, "rms_norm");
    ag_tensor *x3 = agt_noncontiguous(agt_randn(dev, AG_SHAPE(3, 4), 6, 1.0));
    ag_set_requires_grad(x3, true);
    agt_gradcheck(fn_rms_norm, 2, (ag_tensor *[]){x3, w}, NULL, 1e-2, 1e-2, 1e-2,
                  "rms_norm strided");
    /* errors */
    agt_assert_error(ag_rms_norm(x, AG_SHAPE(3), NULL, 1e-6), "ag_rms_norm", "[2,3,4]",
                     "rms_norm shape");
    agt_assert_error(ag_rms_norm(x, AG_SHAPE(4), x2, 1e-6), "ag_rms_norm", "[3,4]",
                     "rms_norm weight");
    ag_clear_error();
    agt_assert_error(ag_rms_norm(NULL, AG_SHAPE(4), NULL, 1e-6), "ag_rms_norm", "NULL",
                     "rms_norm NULL");
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* ---- Batch norm ---------------------------------------------------------------- */

START_TEST(test_batch_norm_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 2] (N=2, C=2): channel 0 = (1, 3), channel 1 = (10, 10)
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, 10, 3, 10});
    ag_tensor *rm = agt_tensor(dev, AG_SHAPE(2), (float[]){0, 1});
    ag_tensor *rv = agt_tensor(dev, AG_SHAPE(2), (float[]){1, 1});
    /* channel 0: mean 2, biased var 1 → ±1/sqrt(1 + eps); channel 1: constant → 0 */
    ag_tensor *y = ag_batch_norm(x, rm, rv, NULL, NULL, true, 0.5, 1e-5);
    float s = 1.0f / sqrtf(1.0f + 1e-5f);
    agt_assert_close(y, (float[]){-s, 0, s, 0}, 4, 1e-5, 1e-5, "batch_norm");
    /* running stats: mean 0.5*0 + 0.5*2 = 1, 0.5*1 + 0.5*10 = 5.5;
     * unbiased var: channel 0 = 2 → 0.5*1 + 0.5*2 = 1.5; channel 1 = 0 → 0.5 */
    agt_assert_close(rm, (float[]){1, 5.5f}, 2, 1e-5, 1e-5, "running_mean");
    agt_assert_close(rv, (float[]){1.5f, 0.5f}, 2, 1e-5, 1e-5, "running_var");
    ck_assert(!ag_requires_grad(rm) && !ag_requires_grad(rv));
    /* eval mode uses the running statistics */
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(2), (float[]){2, 1});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(2), (float[]){0, 1});
    y = ag_batch_norm(x, rm, rv, w, b, false, 0.1, 0.0);
    float r0 = 1.0f / sqrtf(1.5f), r1 = 1.0f / sqrtf(0.5f);
    agt_assert_close(y, (float[]){0, (10 - 5.5f) * r1 + 1, 2 * 2 * r0, (10 - 5.5f) * r1 + 1}, 4,
                     1e-5, 1e-5, "batch_norm eval");
    agt_assert_close(rm, (float[]){1, 5.5f}, 2, 0, 0, "eval leaves running_mean");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_batch_norm_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *c = "batch_norm_train";
    ag_tensor *x = agt_golden_input(g, dev, c, "x", true), *w = agt_golden_input(g, dev, c, "w", true),
              *b = agt_golden_input(g, dev, c, "b", true);
    ag_tensor *rm = agt_golden_input(g, dev, c, "rm0", false), *rv = agt_golden_input(g, dev, c, "rv0", false);
    ag_tensor *y = ag_batch_norm(x, rm, rv, w, b, true, 0.1, 1e-5);
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    agt_assert_tensors_close(rm, agt_golden_tensor(g, dev, c, "rm"), 1e-5, 1e-5, "running_mean");
    agt_assert_tensors_close(rv, agt_golden_tensor(g, dev, c, "rv"), 1e-5, 1e-5, "running_var");
    ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
    check_grad(g, dev, x, c, "dx");
    check_grad(g, dev, w, c, "dw");
    check_grad(g, dev, b, c, "db");

    c = "batch_norm_2d";
    x = agt_golden_input(g, dev, c, "x", true);
    y = ag_batch_norm(x, NULL, NULL, NULL, NULL, true, 0.1, 1e-5);
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
    check_grad(g, dev, x, c, "dx");

    c = "batch_norm_eval";
    x = agt_golden_input(g, dev, c, "x", true);
    w = agt_golden_input(g, dev, c, "w", true);
    b = agt_golden_input(g, dev, c, "b", true);
    rm = agt_golden_input(g, dev, c, "rm", false);
    rv = agt_golden_input(g, dev, c, "rv", false);
    y = ag_batch_norm(x, rm, rv, w, b, false, 0.1, 1e-5);
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
    check_grad(g, dev, x, c, "dx");
    check_grad(g, dev, w, c, "dw");
    check_grad(g, dev, b, c, "db");
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *fn_batch_norm(ag_tensor *const *in, void *ctx)
{
    (void)ctx;
    return ag_batch_norm(in[0], NULL, NULL, in[1], in[2], true, 0.1, 1e-5);
}

START_TEST(test_batch_norm_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [3, 2, 2]
    ag_tensor *x = agt_randn(dev, AG_SHAPE(3, 2, 2), 11, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(2), 12, 1.0);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(2), 13, 1.0);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(w, true);
    ag_set_requires_grad(b, true);
    agt_gradcheck(fn_batch_norm, 3, (ag_tensor *[]){x, w, b}, NULL, 1e-2, 1e-2, 1e-2,
                  "batch_norm");
    ag_tensor *xn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(4, 3), 14, 1.0));
    ag_tensor *w3 = agt_randn(dev, AG_SHAPE(3), 15, 1.0);
    ag_set_requires_grad(xn, true);
    ag_set_requires_grad(w3, true);
    agt_gradcheck(fn_batch_norm, 3, (ag_tensor *[]){xn, w3, NULL}, NULL, 1e-2, 1e-2, 1e-2,
                  "batch_norm strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_batch_norm_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(4, 3, 2), 1, 1.0);
    ag_tensor *c2 = agt_randn(dev, AG_SHAPE(2), 2, 1.0);
    ag_tensor *c3 = agt_randn(dev, AG_SHAPE(3), 3, 1.0);
    ag_tensor *i3 = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){0, 0, 0});
    agt_assert_error(ag_batch_norm(x, NULL, NULL, c2, NULL, true, 0.1, 1e-5), "ag_batch_norm",
                     "[2]", "weight shape");
    agt_assert_error(ag_batch_norm(x, c2, c3, NULL, NULL, true, 0.1, 1e-5), "ag_batch_norm",
                     "running_mean", "running_mean shape");
    agt_assert_error(ag_batch_norm(x, c3, i3, NULL, NULL, true, 0.1, 1e-5), "ag_batch_norm",
                     "running_var", "running_var dtype");
    agt_assert_error(ag_batch_norm(x, NULL, NULL, NULL, NULL, false, 0.1, 1e-5),
                     "ag_batch_norm", "eval", "eval without running stats");
    agt_assert_error(ag_batch_norm(c3, NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
                     "ag_batch_norm", "[3]", "1-D input");
    ag_tensor *one = agt_randn(dev, AG_SHAPE(1, 3), 4, 1.0);
    agt_assert_error(ag_batch_norm(one, NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
                     "ag_batch_norm", "[1,3]", "one value per channel");
    ag_clear_error();
    agt_assert_error(ag_batch_norm(NULL, NULL, NULL, NULL, NULL, true, 0.1, 1e-5),
                     "ag_batch_norm", "NULL", "NULL x");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Dropout ------------------------------------------------------------------- */

START_TEST(test_dropout_identity)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, -2, 3, NAN});
    ck_assert_ptr_eq(ag_dropout(x, 0.5, false), x);
    ck_assert_ptr_eq(ag_dropout(x, 0.0, true), x);
    ag_tensor *z = ag_dropout(x, 1.0, true);
    agt_assert_close(z, (float[]){0, 0, 0, NAN}, 4, 0, 0, "dropout p=1");
    agt_assert_error(ag_dropout(x, 1.5, true), "ag_dropout", "[2,2]", "p > 1");
    agt_assert_error(ag_dropout(x, -0.1, true), "ag_dropout", "[2,2]", "p < 0");
    ag_clear_error();
    agt_assert_error(ag_dropout(NULL, 0.5, true), "ag_dropout", "NULL", "NULL x");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_dropout_mask)
{
    ag_device *dev = agt_open(_i);
    ag_device *cpu = ag_device_open("cpu");
    ck_assert_ptr_nonnull(cpu);
    ag_scope_begin();
    const int64_t n = 2000;
    const double p = 0.3;
    ag_tensor *x = agt_randn(dev, AG_SHAPE(40, 50), 21, 1.0);
    ag_set_requires_grad(x, true);
    /* The mask is exactly uniform >= p from the global generator. */
    ag_manual_seed(77);
    ag_tensor *u = ag_rand(dev, AG_SHAPE(40, 50));
    ag_manual_seed(77);
    ag_tensor *y = ag_dropout(x, p, true);
    agt_assert_shape(y, AG_SHAPE(40, 50), "dropout shape");
    float *hu = agt_read_f32(u), *hx = agt_read_f32(x), *hy = agt_read_f32(y);
    int64_t dropped = 0;
    for (int64_t i = 0; i < n; i++) {
        float want = hu[i] >= p ? hx[i] / (float)(1 - p) : 0.0f;
        ck_assert_msg(fabsf(hy[i] - want) <= 1e-5f + 1e-5f * fabsf(want), "dropout[%lld]",
                      (long long)i);
        dropped += hu[i] < p;
    }
    ck_assert_msg(dropped > 0.25 * n && dropped < 0.35 * n, "dropped %lld of %lld",
                  (long long)dropped, (long long)n);
    /* Backward: the gradient is the mask scaled by 1/(1-p). */
    ck_assert_int_eq(ag_backward(y, ag_ones_like(y)), AG_OK);
    float *hg = agt_read_f32(ag_grad(x));
    for (int64_t i = 0; i < n; i++)
        ck_assert_float_eq_tol(hg[i], hu[i] >= p ? 1.0f / (float)(1 - p) : 0.0f, 1e-5f);
    /* The same seed gives the same mask on the CPU backend. */
    ag_tensor *xc = ag_to_device(ag_detach(x), cpu);
    ag_manual_seed(77);
    ag_tensor *yc = ag_dropout(xc, p, true);
    float *hc = agt_read_f32(yc);
    for (int64_t i = 0; i < n; i++)
        ck_assert_msg((hc[i] == 0.0f) == (hy[i] == 0.0f), "mask differs from cpu at %lld",
                      (long long)i);
    free(hu);
    free(hx);
    free(hy);
    free(hg);
    free(hc);
    ag_scope_end();
    ag_device_close(cpu);
    agt_close(dev);
}
END_TEST

static ag_tensor *fn_dropout(ag_tensor *const *in, void *ctx)
{
    (void)ctx;
    ag_manual_seed(5); /* the same mask for every evaluation */
    return ag_dropout(in[0], 0.4, true);
}

START_TEST(test_dropout_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(4, 5), 31, 1.0);
    ag_set_requires_grad(x, true);
    agt_gradcheck(fn_dropout, 1, (ag_tensor *[]){x}, NULL, 1e-2, 1e-2, 1e-2, "dropout");
    ag_tensor *xn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(4, 5), 32, 1.0));
    ag_set_requires_grad(xn, true);
    agt_gradcheck(fn_dropout, 1, (ag_tensor *[]){xn}, NULL, 1e-2, 1e-2, 1e-2, "dropout strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

static Suite *norm_suite(void)
{
    Suite *s = suite_create("norm");
    TCase *tc = tcase_create("norm");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_layer_norm_hand);
    AGT_ADD_LOOP(tc, test_layer_norm_golden);
    AGT_ADD_LOOP(tc, test_layer_norm_gradcheck);
    AGT_ADD_LOOP(tc, test_layer_norm_errors);
    AGT_ADD_LOOP(tc, test_rms_norm_hand);
    AGT_ADD_LOOP(tc, test_rms_norm_golden);
    AGT_ADD_LOOP(tc, test_batch_norm_hand);
    AGT_ADD_LOOP(tc, test_batch_norm_golden);
    AGT_ADD_LOOP(tc, test_batch_norm_gradcheck);
    AGT_ADD_LOOP(tc, test_batch_norm_errors);
    AGT_ADD_LOOP(tc, test_dropout_identity);
    AGT_ADD_LOOP(tc, test_dropout_mask);
    AGT_ADD_LOOP(tc, test_dropout_gradcheck);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(norm_suite()); }
