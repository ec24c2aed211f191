/* tests/test_inplace.c — in-place writes and autograd: every path that
 * changes an existing tensor's values counts a version (ag_tensor_version,
 * shared by views), and ag_backward refuses a node whose gradient would read
 * a value changed after the op ran, instead of computing a wrong gradient.
 * Writes the gradient does not read stay allowed (as in PyTorch). On every
 * backend under test. */
#include "harness.h"

#include <stdlib.h>
#include <string.h>

static float grad_at(const ag_tensor *t, int64_t i)
{
    ck_assert_msg(ag_grad(t) != NULL, "no gradient");
    float *g = agt_read_f32(ag_grad(t));
    float v = g[i];
    free(g);
    return v;
}

/* Asserts ag_backward(loss) failed with AG_ERR_INVALID naming `op` and the
 * in-place change, and that no leaf in `leaves` got a gradient. */
static void assert_refused(ag_status st, const char *op, ag_tensor *const *leaves, int n,
                           const char *what)
{
    ck_assert_msg(st == AG_ERR_INVALID, "%s: backward returned %d (%s)", what, st, ag_last_error());
    const char *e = ag_last_error();
    ck_assert_msg(strstr(e, "ag_backward") && strstr(e, op) && strstr(e, "modified in place"),
                  "%s: message: %s", what, e);
    for (int i = 0; i < n; i++)
        ck_assert_msg(ag_grad(leaves[i]) == NULL, "%s: leaf %d got a gradient", what, i);
}

START_TEST(test_version_counts_writes)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ck_assert_int_eq(ag_tensor_version(x), 0);
    ck_assert_int_eq(ag_tensor_version(NULL), -1);
    /* out-of-place ops and reads leave it alone */
    ag_tensor *y = ag_exp(ag_add(x, x));
    ck_assert_ptr_nonnull(y);
    float *h = agt_read_f32(x);
    free(h);
    ck_assert_int_eq(ag_tensor_version(x), 0);
    ck_assert_int_eq(ag_fill_(x, 2.0), AG_OK);
    ck_assert_int_eq(ag_tensor_version(x), 1);
    ck_assert_int_eq(ag_copy_(x, y), AG_OK);
    ck_assert_int_eq(ag_tensor_version(x), 2);
    float data[6] = {0};
    ck_assert_int_eq(ag_tensor_write(x, data, sizeof data), AG_OK);
    ck_assert_int_eq(ag_tensor_version(x), 3);
    /* views share the counter both ways, including a non-contiguous write */
    ag_tensor *col = ag_select(x, 1, 2);
    ck_assert_int_eq(ag_tensor_version(col), 3);
    ck_assert_int_eq(ag_tensor_write(col, (float[]){7, 8}, 2 * sizeof(float)), AG_OK);
    ck_assert_int_gt(ag_tensor_version(x), 3);
    int64_t v = ag_tensor_version(x);
    ck_assert_int_eq(ag_fill_(ag_transpose(x, 0, 1), 1.0), AG_OK);
    ck_assert_int_eq(ag_tensor_version(col), v + 1);
    /* a clone has its own counter */
    ag_tensor *c = ag_clone(x);
    ck_assert_int_eq(ag_tensor_version(c), 0);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* y = sum(x * w): each gradient reads the other operand. */
START_TEST(test_changed_operand_refused)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(3), (float[]){1, 2, 3});
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(3), (float[]){4, 5, 6});
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(w, true);
    ag_tensor *loss = ag_sum(ag_mul(x, w), 0, NULL, false);
    ck_assert_int_eq(ag_fill_(w, 0.0), AG_OK);
    assert_refused(ag_backward(loss, NULL), "ag_mul", (ag_tensor *[]){x, w}, 2, "mul, w filled");
    /* through a view of the operand, with a host write */
    ag_tensor *loss2 = ag_sum(ag_mul(x, w), 0, NULL, false);
    ck_assert_int_eq(ag_tensor_write(ag_slice(x, 0, 1, 2, 1), (float[]){9}, sizeof(float)), AG_OK);
    assert_refused(ag_backward(loss2, NULL), "ag_mul", (ag_tensor *[]){x, w}, 2, "mul, x view written");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* exp's gradient reads its output: changing the output is refused. */
START_TEST(test_changed_output_refused)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2), (float[]){0, 1});
    ag_set_requires_grad(x, true);
    ag_tensor *y = ag_exp(x);
    ag_tensor *loss = ag_sum(y, 0, NULL, false);
    ck_assert_int_eq(ag_copy_(y, ag_zeros_like(y)), AG_OK);
    assert_refused(ag_backward(loss, NULL), "ag_exp", (ag_tensor *[]){x}, 1, "exp output zeroed");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Writes the gradient does not read are allowed and the gradient is exact. */
START_TEST(test_unread_changes_allowed)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(3), (float[]){1, 2, 3});
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(3), (float[]){4, 5, 6});
    ag_set_requires_grad(w, true);
    /* add reads neither operand */
    ag_tensor *loss = ag_sum(ag_add(x, w), 0, NULL, false);
    ck_assert_int_eq(ag_fill_(x, 100.0), AG_OK);
    ck_assert_int_eq(ag_fill_(w, 100.0), AG_OK);
    ck_assert_int_eq(ag_backward(loss, NULL), AG_OK);
    ck_assert_float_eq(grad_at(w, 0), 1.0f);
    ag_zero_grad(w);
    /* mul with only w requiring grad: w's gradient reads x, never w */
    ag_fill_(x, 2.0);
    ag_tensor *loss2 = ag_sum(ag_mul(x, w), 0, NULL, false);
    ck_assert_int_eq(ag_fill_(w, -1.0), AG_OK);
    ck_assert_int_eq(ag_backward(loss2, NULL), AG_OK);
    ck_assert_float_eq(grad_at(w, 2), 2.0f);
    /* ...but a change of x is refused */
    ag_zero_grad(w);
    ag_tensor *loss3 = ag_sum(ag_mul(x, w), 0, NULL, false);
    ck_assert_int_eq(ag_fill_(x, 3.0), AG_OK);
    assert_refused(ag_backward(loss3, NULL), "ag_mul", (ag_tensor *[]){w}, 1, "mul, x changed");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* An optimizer step between the forward and the backward: the first layer's
 * weight gradient reads the (unchanged) input, so a one-layer model still
 * trains; the second layer's input gradient reads its stepped weight, which
 * is refused. After a fresh forward, everything works again. */
START_TEST(test_optimizer_step_before_backward)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, -1, 0, 1});
    ag_tensor *w1 = agt_randn(dev, AG_SHAPE(4, 3), 11, 0.5);
    ag_tensor *w2 = agt_randn(dev, AG_SHAPE(1, 4), 12, 0.5);
    ag_set_requires_grad(w1, true);
    ag_set_requires_grad(w2, true);
    ag_optimizer *opt = ag_optim_sgd((ag_tensor *[]){w1, w2}, 2, &(ag_sgd_opts){.lr = 0.1});
    ck_assert_ptr_nonnull(opt);

    ag_tensor *one = ag_sum(ag_linear(x, w1, NULL), 0, NULL, false);
    ck_assert_int_eq(ag_backward(one, NULL), AG_OK);
    int64_t v = ag_tensor_version(w1);
    ck_assert_int_eq(ag_optimizer_step(opt), AG_OK);
    ck_assert_int_eq(ag_tensor_version(w1), v + 1);
    ag_optimizer_zero_grad(opt);

    ag_tensor *stale = ag_sum(ag_linear(x, w1, NULL), 0, NULL, false);
    ag_tensor *two = ag_sum(ag_linear(ag_relu(ag_linear(x, w1, NULL)), w2, NULL), 0, NULL, false);
    ag_tensor *prep = ag_sum(ag_linear(ag_relu(ag_linear(x, w1, NULL)), w2, NULL), 0, NULL, false);
    ck_assert_int_eq(ag_backward(prep, NULL), AG_OK); /* gradients of both to step with */
    ck_assert_ptr_nonnull(ag_grad(w2));
    v = ag_tensor_version(w2);
    ck_assert_int_eq(ag_optimizer_step(opt), AG_OK);
    ck_assert_int_eq(ag_tensor_version(w2), v + 1);
    ag_optimizer_zero_grad(opt);
    ck_assert_int_eq(ag_backward(stale, NULL), AG_OK); /* reads x only */
    ag_optimizer_zero_grad(opt);
    assert_refused(ag_backward(two, NULL), "ag_linear", (ag_tensor *[]){w1, w2}, 2,
                   "two layers after a step");

    ag_tensor *fresh = ag_sum(ag_linear(ag_relu(ag_linear(x, w1, NULL)), w2, NULL), 0, NULL, false);
    ck_assert_int_eq(ag_backward(fresh, NULL), AG_OK);
    ck_assert_ptr_nonnull(ag_grad(w1));
    ck_assert_ptr_nonnull(ag_grad(w2));
    ag_optimizer_free(opt);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* A gradient computed after an in-place change of an unread input equals
 * the one computed before (views, sums, reshapes read no values). */
START_TEST(test_views_and_sums_read_nothing)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ag_set_requires_grad(x, true);
    ag_tensor *loss = ag_sum(ag_mul_scalar(ag_transpose(ag_reshape(x, AG_SHAPE(3, 2)), 0, 1), 3.0),
                             0, NULL, false);
    ck_assert_int_eq(ag_fill_(x, -7.0), AG_OK);
    ck_assert_int_eq(ag_backward(loss, NULL), AG_OK);
    for (int i = 0; i < 6; i++) ck_assert_float_eq(grad_at(x, i), 3.0f);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

static Suite *inplace_suite(void)
{
    Suite *s = suite_create("inplace");
    TCase *tc = tcase_create("inplace");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_version_counts_writes);
    AGT_ADD_LOOP(tc, test_changed_operand_refused);
    AGT_ADD_LOOP(tc, test_changed_output_refused);
    AGT_ADD_LOOP(tc, test_unread_changes_allowed);
    AGT_ADD_LOOP(tc, test_optimizer_step_before_backward);
    AGT_ADD_LOOP(tc, test_views_and_sums_read_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(inplace_suite()); }
