/* tests/test_graph_count.c — how many kernels a captured transformer training
 * step queues per replay. The step is the bench's train_transformer case at a
 * small size (one pre-norm encoder layer, no dropout, MSE loss, Adam): the
 * kernel count does not depend on the sizes as long as no dim is 1. Counts
 * are asserted here (they are device-independent); timings never are.
 *
 * Measured (records of the capture → kernels of a fused replay):
 *   three in-projections, slice gradients zero-filled and added: 118 → 109
 *   packed self-attention projection, slice gradients assembled in
 *   one buffer, matmul operand copies shared with the backward:   85 → 79
 *   the attention scale as the GEMM's alpha:                        83 → 77
 *   fusion reads 1-D results through broadcast views (the scale of
 *   a mean after its reduction) and splits coalesced consumers:    83 → 73
 * Every backend must replay the same number of kernels, and its device
 * counter must see at most that many dispatches per replay. */
#include "harness.h"

#include <stdio.h>
#include <string.h>

enum { MAX_KERNELS = 73 };

typedef struct step_ctx {
    ag_module *model;
    ag_optimizer *opt;
    ag_tensor *x, *y;
} step_ctx;

static ag_status step(void *p)
{
    step_ctx *c = p;
    ag_scope_begin();
    ag_optimizer_zero_grad(c->opt);
    ag_tensor *loss = ag_mse_loss(ag_module_forward(c->model, c->x), c->y, AG_REDUCTION_MEAN);
    ag_status st = loss ? ag_backward(loss, NULL) : ag_last_status();
    if (st == AG_OK) st = ag_optimizer_step(c->opt);
    ag_scope_end();
    return st;
}

/* Captures the step (after one eager step that creates the optimizer state)
 * and returns its info; *dispatches gets the device's count for one replay. */
static ag_graph_info count_step(ag_device *dev, bool no_fusion, uint64_t *dispatches)
{
    step_ctx c = {0};
    ag_manual_seed(3);
    c.model = ag_nn_transformer_encoder_layer(dev, 16, 2, 32, 0.0);
    ck_assert_ptr_nonnull(c.model);
    ag_tensor *params[32];
    int n = ag_module_parameters(c.model, NULL, params, 32);
    c.opt = ag_optim_adam(params, n, &(ag_adam_opts){.lr = 1e-3});
    c.x = ag_randn(dev, AG_SHAPE(2, 6, 16)); // [N, L, E]
    c.y = ag_randn(dev, AG_SHAPE(2, 6, 16));
    ck_assert_ptr_nonnull(c.opt);
    ck_assert_int_eq(step(&c), AG_OK);
    ag_graph_opts opts = {.no_fusion = no_fusion};
    ag_graph *g = ag_graph_capture(dev, step, &c, &opts);
    ck_assert_msg(g != NULL, "capture failed: %s", ag_last_error());
    ag_graph_info info;
    ck_assert_int_eq(ag_graph_get_info(g, &info), AG_OK);
    ck_assert_int_eq(ag_graph_replay(g), AG_OK); /* the first replay builds the lists */
    ck_assert_int_eq(ag_device_sync(dev), AG_OK);
    ag_device_counters c0, c1;
    ag_device_get_counters(dev, &c0);
    ck_assert_int_eq(ag_graph_replay(g), AG_OK);
    ck_assert_int_eq(ag_device_sync(dev), AG_OK);
    ag_device_get_counters(dev, &c1);
    *dispatches = c1.dispatches - c0.dispatches;
    ag_graph_free(g);
    ag_release(c.x);
    ag_release(c.y);
    ag_optimizer_free(c.opt);
    ag_module_free(c.model);
    return info;
}

START_TEST(test_transformer_step_kernels)
{
    ag_device *dev = agt_open(_i);
    uint64_t d_fused, d_unfused;
    ag_graph_info fused = count_step(dev, false, &d_fused);
    ag_graph_info unfused = count_step(dev, true, &d_unfused);
    printf("transformer step on %s: %lld records, %lld kernels per replay unfused, "
           "%lld fused (device dispatches %llu / %llu)\n",
           agt_backend_spec(_i), (long long)unfused.records, (long long)unfused.kernels,
           (long long)fused.kernels, (unsigned long long)d_unfused, (unsigned long long)d_fused);
    ck_assert_int_eq(unfused.records, fused.records);
    ck_assert_msg(fused.kernels <= MAX_KERNELS, "%lld kernels per replay, at most %d expected",
                  (long long)fused.kernels, MAX_KERNELS);
    ck_assert_msg(d_fused <= (uint64_t)fused.kernels, "%llu device dispatches for %lld kernels",
                  (unsigned long long)d_fused, (long long)fused.kernels);
    agt_close(dev);
}
END_TEST

static Suite *graph_count_suite(void)
{
    Suite *s = suite_create("graph_count");
    TCase *tc = tcase_create("graph_count");
    tcase_set_timeout(tc, 300);
    AGT_ADD_LOOP(tc, test_transformer_step_kernels);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(graph_count_suite()); }
