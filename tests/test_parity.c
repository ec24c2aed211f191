/* tests/test_parity.c — behaviours checked against PyTorch golden values
 * (tests/golden/gen_parity.py → parity.txt): clamp at its bounds, GELU-tanh
 * saturation, class-weighted cross entropy and NLL, embedding padding_idx,
 * batch norm with momentum=None, and avg pooling's default divisor, on every
 * backend under test. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

#define GOLDEN "parity.txt"
#define TOL 1e-5

static float scalar_of(agt_golden *g, ag_device *dev, const char *c, const char *l)
{
    float *v = agt_read_f32(agt_golden_tensor(g, dev, c, l));
    float out = v[0];
    free(v);
    return out;
}

/* sum(y * go) backward (go of y's shape; all ones when the case has none). */
static void backward_with(agt_golden *g, ag_device *dev, const char *c, ag_tensor *y, bool go)
{
    ag_tensor *w = go ? agt_golden_tensor(g, dev, c, "go") : ag_ones_like(y);
    ck_assert_msg(ag_backward(ag_sum(ag_mul(y, w), 0, NULL, false), NULL) == AG_OK, "%s: %s", c,
                  ag_last_error());
}

START_TEST(test_parity_clamp_bounds)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *cases[] = {"clamp_bounds", "clamp_upper", "clamp_inverted"};
    for (int k = 0; k < 3; k++) {
        ag_tensor *x = agt_golden_input(g, dev, cases[k], "x", true);
        ag_tensor *y = ag_clamp(x, scalar_of(g, dev, cases[k], "lo"),
                                scalar_of(g, dev, cases[k], "hi"));
        agt_assert_tensors_close(y, agt_golden_tensor(g, dev, cases[k], "y"), 0, 0, cases[k]);
        backward_with(g, dev, cases[k], y, false);
        agt_assert_grad_golden(g, dev, x, cases[k], "gx", 0, 0, cases[k]);
    }
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_parity_gelu_tanh_saturation)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *c = "gelu_tanh_saturation";
    ag_tensor *x = agt_golden_input(g, dev, c, "x", true);
    ag_tensor *y = ag_gelu_tanh(x);
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), 1e-6, TOL, c);
    backward_with(g, dev, c, y, false);
    agt_assert_grad_golden(g, dev, x, c, "gx", 1e-6, TOL, c);
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_parity_class_weight)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const ag_reduction reds[3] = {AG_REDUCTION_MEAN, AG_REDUCTION_SUM, AG_REDUCTION_NONE};
    const char *names[3] = {"mean", "sum", "none"};
    for (int r = 0; r < 3; r++)
        for (int k = 0; k < 3; k++) { /* smoothing 0, 0.2; then nll */
            char c[64];
            if (k < 2) snprintf(c, sizeof c, "ce_weight_%s_%d", names[r], k * 2);
            else snprintf(c, sizeof c, "nll_weight_%s", names[r]);
            ag_tensor *x = agt_golden_input(g, dev, c, "x", true);
            ag_tensor *t = agt_golden_tensor(g, dev, c, "t");
            ag_cross_entropy_opts o = {reds[r], -7, k == 1 ? 0.2 : 0.0,
                                       agt_golden_tensor(g, dev, c, "w")};
            ag_tensor *y = k < 2 ? ag_cross_entropy(x, t, &o) : ag_nll_loss(x, t, &o);
            agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
            backward_with(g, dev, c, y, reds[r] == AG_REDUCTION_NONE);
            agt_assert_grad_golden(g, dev, x, c, "gx", TOL, TOL, c);
        }
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_parity_embedding_padding)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *cases[2] = {"embedding_padding_2", "embedding_padding_neg"};
    const int64_t pads[2] = {2, -1};
    for (int k = 0; k < 2; k++) {
        ag_tensor *w = agt_golden_input(g, dev, cases[k], "w", true);
        ag_tensor *y = ag_embedding_padded(agt_golden_tensor(g, dev, cases[k], "idx"), w, pads[k]);
        agt_assert_tensors_close(y, agt_golden_tensor(g, dev, cases[k], "y"), 0, 0, cases[k]);
        backward_with(g, dev, cases[k], y, true);
        agt_assert_grad_golden(g, dev, w, cases[k], "gw", TOL, TOL, cases[k]);
    }
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_parity_batch_norm_cumulative)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    const char *c = "bn_cumulative";
    ag_module *bn = ag_nn_batch_norm1d(dev, 3, 1e-5, AG_MOMENTUM_CUMULATIVE);
    ck_assert_msg(bn != NULL, "%s", ag_last_error());
    ag_scope_begin();
    ag_tensor *y = NULL;
    const char *xs[3] = {"x0", "x1", "x2"};
    for (int k = 0; k < 3; k++) y = ag_module_forward(bn, agt_golden_tensor(g, dev, c, xs[k]));
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y2"), TOL, TOL, "bn output");
    agt_assert_tensors_close(ag_module_get(bn, "running_mean"),
                             agt_golden_tensor(g, dev, c, "running_mean"), TOL, TOL, "running_mean");
    agt_assert_tensors_close(ag_module_get(bn, "running_var"),
                             agt_golden_tensor(g, dev, c, "running_var"), TOL, TOL, "running_var");
    ck_assert(ag_item(ag_module_get(bn, "num_batches_tracked")) ==
              ag_item(agt_golden_tensor(g, dev, c, "batches")));
    ag_scope_end();
    ag_module_free(bn);
    agt_assert_error(ag_nn_batch_norm1d(dev, 3, 1e-5, -0.5), "BatchNorm1d", "momentum -0.5",
                     "bad momentum");
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_parity_avg_pool_default)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    /* A zero-initialised opts struct means PyTorch's defaults. */
    ag_pool2d_opts o = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
    const char *cases[2] = {"avg_pool_default_pad", "avg_pool_exclude_pad"};
    for (int k = 0; k < 2; k++) {
        o.exclude_pad = k == 1;
        ag_tensor *x = agt_golden_input(g, dev, cases[k], "x", true);
        ag_tensor *y = ag_avg_pool2d(x, &o);
        agt_assert_tensors_close(y, agt_golden_tensor(g, dev, cases[k], "y"), TOL, TOL, cases[k]);
        backward_with(g, dev, cases[k], y, false);
        agt_assert_grad_golden(g, dev, x, cases[k], "gx", TOL, TOL, cases[k]);
    }
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("parity");
    TCase *tc = tcase_create("parity");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_parity_clamp_bounds);
    AGT_ADD_LOOP(tc, test_parity_gelu_tanh_saturation);
    AGT_ADD_LOOP(tc, test_parity_class_weight);
    AGT_ADD_LOOP(tc, test_parity_embedding_padding);
    AGT_ADD_LOOP(tc, test_parity_batch_norm_cumulative);
    AGT_ADD_LOOP(tc, test_parity_avg_pool_default);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
