/* tests/test_attention.c — scaled dot-product attention: hand values, PyTorch
 * golden values and gradients (tests/golden/gen_nn_ops.py), gradcheck, masks,
 * causal masking, broadcasting, strided inputs and error paths, on every
 * backend under test. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>

#define GOLDEN "nn_ops.txt"
#define TOL 1e-4
#define OP "ag_scaled_dot_product_attention"

static void check_grad(agt_golden *g, ag_device *dev, const ag_tensor *x, const char *c,
                       const char *l)
{
    agt_assert_grad_golden(g, dev, x, c, l, TOL, TOL, c);
}

START_TEST(test_sdpa_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // q: [2, 1] (L=2, E=1), k: [2, 1] (S=2), v: [2, 2]
    ag_tensor *q = agt_tensor(dev, AG_SHAPE(2, 1), (float[]){0, 1});
    ag_tensor *k = agt_tensor(dev, AG_SHAPE(2, 1), (float[]){1, 2});
    ag_tensor *v = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, 0, 0, 1});
    /* row 0: scores (0, 0) → weights (1/2, 1/2); row 1: scores (1, 2) → softmax */
    float e = 1.0f / (1.0f + expf(1.0f)); /* weight of key 0 in row 1 */
    ag_tensor *y = ag_scaled_dot_product_attention(q, k, v, NULL, false, 0.0);
    agt_assert_shape(y, AG_SHAPE(2, 2), "sdpa shape");
    agt_assert_close(y, (float[]){0.5f, 0.5f, e, 1 - e}, 4, 1e-5, 1e-5, "sdpa");
    /* causal: row 0 sees only key 0 */
    y = ag_scaled_dot_product_attention(q, k, v, NULL, true, 1.0);
    agt_assert_close(y, (float[]){1, 0, e, 1 - e}, 4, 1e-5, 1e-5, "sdpa causal");
    /* u8 keep-mask dropping key 1 of row 1 */
    ag_tensor *keep = ag_from_data(dev, AG_U8, AG_SHAPE(2, 2), (uint8_t[]){1, 1, 1, 0}, 4);
    y = ag_scaled_dot_product_attention(q, k, v, keep, false, 1.0);
    agt_assert_close(y, (float[]){0.5f, 0.5f, 1, 0}, 4, 1e-5, 1e-5, "sdpa keep mask");
    /* additive mask: +1 on key 0 of row 1 makes its scores equal */
    ag_tensor *add = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){0, 0, 1, 0});
    y = ag_scaled_dot_product_attention(q, k, v, add, false, 1.0);
    agt_assert_close(y, (float[]){0.5f, 0.5f, 0.5f, 0.5f}, 4, 1e-5, 1e-5, "sdpa additive");
    /* scale 2 doubles the scores: row 1 (2, 4) */
    float e2 = 1.0f / (1.0f + expf(2.0f));
    y = ag_scaled_dot_product_attention(q, k, v, NULL, false, 2.0);
    agt_assert_close(y, (float[]){0.5f, 0.5f, e2, 1 - e2}, 4, 1e-5, 1e-5, "sdpa scale");
    /* a row with every key masked gives 0 (PyTorch's safe softmax) and no NaN gradient */
    ag_tensor *qg = ag_clone(q);
    ag_set_requires_grad(qg, true);
    ag_tensor *dead = ag_from_data(dev, AG_U8, AG_SHAPE(2, 2), (uint8_t[]){0, 0, 1, 1}, 4);
    y = ag_scaled_dot_product_attention(qg, k, v, dead, false, 1.0);
    agt_assert_close(y, (float[]){0, 0, e, 1 - e}, 4, 1e-5, 1e-5, "sdpa dead row");
    ck_assert_int_eq(ag_backward(ag_sum(y, 0, NULL, false), NULL), AG_OK);
    float *dq = agt_read_f32(ag_grad(qg));
    ck_assert_msg(dq[0] == 0.0f && isfinite(dq[1]), "dead-row gradient %g %g", dq[0], dq[1]);
    free(dq);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_sdpa_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    const char *cases[6] = {"sdpa_plain",  "sdpa_keep",      "sdpa_additive",
                            "sdpa_causal", "sdpa_keep_dead", "sdpa_additive_dead"};
    for (int i = 0; i < 6; i++) {
        const char *c = cases[i];
        ag_tensor *q = agt_golden_input(g, dev, c, "q", true), *k = agt_golden_input(g, dev, c, "k", true),
                  *v = agt_golden_input(g, dev, c, "v", true);
        ag_tensor *mask = agt_golden_has(g, c, "mask") ? agt_golden_input(g, dev, c, "mask", false) : NULL;
        double scale = i == 2 ? 0.3 : 0.0;
        ag_tensor *y = ag_scaled_dot_product_attention(q, k, v, mask, i == 3, scale);
        agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
        ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "gy")), AG_OK);
        check_grad(g, dev, q, c, "dq");
        check_grad(g, dev, k, c, "dk");
        check_grad(g, dev, v, c, "dv");
    }
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

typedef struct sdpa_ctx {
    ag_tensor *mask;
    bool causal;
} sdpa_ctx;

static ag_tensor *fn_sdpa(ag_tensor *const *in, void *ctx)
{
    sdpa_ctx *c = ctx;
    return ag_scaled_dot_product_attention(in[0], in[1], in[2], c->mask, c->causal, 0.0);
}

START_TEST(test_sdpa_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // q: [2, 3, 4], k: [1, 5, 4] (broadcast batch), v: [5, 2] (no batch)
    ag_tensor *q = agt_randn(dev, AG_SHAPE(2, 3, 4), 61, 1.0);
    ag_tensor *k = agt_randn(dev, AG_SHAPE(1, 5, 4), 62, 1.0);
    ag_tensor *v = agt_randn(dev, AG_SHAPE(5, 2), 63, 1.0);
    ag_set_requires_grad(q, true);
    ag_set_requires_grad(k, true);
    ag_set_requires_grad(v, true);
    sdpa_ctx plain = {NULL, false};
    agt_gradcheck(fn_sdpa, 3, (ag_tensor *[]){q, k, v}, &plain, 1e-2, 1e-2, 1e-2, "sdpa");
    agt_assert_shape(fn_sdpa((ag_tensor *[]){q, k, v}, &plain), AG_SHAPE(2, 3, 2),
                     "sdpa broadcast shape");
    sdpa_ctx causal = {NULL, true};
    agt_gradcheck(fn_sdpa, 3, (ag_tensor *[]){q, k, v}, &causal, 1e-2, 1e-2, 1e-2,
                  "sdpa causal");
    sdpa_ctx keep = {ag_from_data(dev, AG_U8, AG_SHAPE(3, 5),
                                  (uint8_t[]){1, 0, 1, 0, 1, 0, 1, 1, 1, 0, 1, 1, 0, 0, 0}, 15),
                     false};
    agt_gradcheck(fn_sdpa, 3, (ag_tensor *[]){q, k, v}, &keep, 1e-2, 1e-2, 1e-2, "sdpa keep");
    /* strided q and v give the same values and gradients */
    ag_tensor *qn = agt_noncontiguous(ag_detach(q));
    ag_tensor *vn = agt_noncontiguous(ag_detach(v));
    ck_assert(!ag_is_contiguous(qn) && !ag_is_contiguous(vn));
    agt_assert_tensors_close(fn_sdpa((ag_tensor *[]){qn, k, vn}, &plain),
                             fn_sdpa((ag_tensor *[]){q, k, v}, &plain), 1e-5, 1e-5,
                             "sdpa strided");
    ag_set_requires_grad(qn, true);
    ag_set_requires_grad(vn, true);
    agt_gradcheck(fn_sdpa, 3, (ag_tensor *[]){qn, k, vn}, &plain, 1e-2, 1e-2, 1e-2,
                  "sdpa strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_sdpa_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *q = agt_randn(dev, AG_SHAPE(2, 3, 4), 1, 1.0);
    ag_tensor *k = agt_randn(dev, AG_SHAPE(2, 5, 4), 2, 1.0);
    ag_tensor *v = agt_randn(dev, AG_SHAPE(2, 5, 3), 3, 1.0);
    ag_tensor *k3 = agt_randn(dev, AG_SHAPE(2, 5, 3), 4, 1.0);
    ag_tensor *v6 = agt_randn(dev, AG_SHAPE(2, 6, 3), 5, 1.0);
    ag_tensor *kb = agt_randn(dev, AG_SHAPE(3, 5, 4), 6, 1.0);
    ag_tensor *q1 = agt_randn(dev, AG_SHAPE(4), 7, 1.0);
    agt_assert_error(ag_scaled_dot_product_attention(q, k3, v, NULL, false, 0), OP, "[2,5,3]",
                     "E mismatch");
    agt_assert_error(ag_scaled_dot_product_attention(q, k, v6, NULL, false, 0), OP, "[2,6,3]",
                     "S mismatch");
    agt_assert_error(ag_scaled_dot_product_attention(q, kb, v, NULL, false, 0), OP, "[3,5,4]",
                     "batch mismatch");
    agt_assert_error(ag_scaled_dot_product_attention(q1, k, v, NULL, false, 0), OP, "[4]",
                     "1-D q");
    ag_tensor *m_bad = agt_randn(dev, AG_SHAPE(4, 5), 8, 1.0);
    agt_assert_error(ag_scaled_dot_product_attention(q, k, v, m_bad, false, 0), OP, "[4,5]",
                     "mask shape");
    ag_tensor *m_i32 = agt_tensor_i32(dev, AG_SHAPE(5), (int32_t[]){1, 1, 1, 1, 1});
    agt_assert_error(ag_scaled_dot_product_attention(q, k, v, m_i32, false, 0), OP, "i32",
                     "mask dtype");
    ag_tensor *m_ok = agt_randn(dev, AG_SHAPE(3, 5), 9, 1.0);
    agt_assert_error(ag_scaled_dot_product_attention(q, k, v, m_ok, true, 0), OP, "is_causal",
                     "mask with causal");
    ag_clear_error();
    agt_assert_error(ag_scaled_dot_product_attention(q, NULL, v, NULL, false, 0), OP, "NULL",
                     "NULL k");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* MultiheadAttention with dropout in training takes the explicit path (the
 * weights are dropped out): its mask checks and its safe softmax are
 * ag_scaled_dot_product_attention's. A query row with every key masked gives
 * the out_proj bias (0 here), not NaN, in training as in eval. */
START_TEST(test_mha_masks)
{
    ag_device *dev = agt_open(_i);
    ag_module *mha = ag_nn_multihead_attention(dev, 4, 2, 0.5);
    ck_assert_ptr_nonnull(mha);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(1, 2, 4), 1, 1.0);
    ag_tensor *kv = agt_randn(dev, AG_SHAPE(1, 3, 4), 2, 1.0);
    ag_tensor *mask = ag_from_data(dev, AG_U8, AG_SHAPE(2, 3), (uint8_t[]){1, 0, 1, 0, 0, 0}, 6);
    const char *op = "ag_nn_multihead_attention_forward";
    for (int training = 0; training < 2; training++) {
        ag_module_train(mha, training);
        ag_tensor *y = ag_nn_multihead_attention_forward(mha, x, kv, kv, mask, false);
        agt_assert_shape(y, AG_SHAPE(1, 2, 4), "masked attention");
        float *v = agt_read_f32(y);
        for (int j = 4; j < 8; j++)
            ck_assert_msg(v[j] == 0.0f, "training %d: fully masked row gives %g", training, v[j]);
        free(v);
        agt_assert_error(ag_nn_multihead_attention_forward(mha, x, kv, kv,
                                                           ag_zeros(dev, AG_U8, AG_SHAPE(2, 4)), false),
                         op, "[2,4]", "mask of the wrong shape");
        agt_assert_error(ag_nn_multihead_attention_forward(mha, x, kv, kv,
                                                           ag_zeros(dev, AG_I32, AG_SHAPE(2, 3)), false),
                         op, "i32", "i32 mask");
        agt_assert_error(ag_nn_multihead_attention_forward(mha, x, kv, kv, mask, true), op,
                         "is_causal", "mask with causal");
    }
    ag_scope_end();
    ag_module_free(mha);
    agt_close(dev);
}
END_TEST

static Suite *attention_suite(void)
{
    Suite *s = suite_create("attention");
    TCase *tc = tcase_create("attention");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_sdpa_hand);
    AGT_ADD_LOOP(tc, test_sdpa_golden);
    AGT_ADD_LOOP(tc, test_sdpa_gradcheck);
    AGT_ADD_LOOP(tc, test_sdpa_errors);
    AGT_ADD_LOOP(tc, test_mha_masks);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(attention_suite()); }
