/* tests/test_memory.c — memory stays flat over a training loop, and device
 * out-of-memory is a recoverable error, on every backend under test. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define N 64   /* samples */
#define IN 8   /* features */
#define HID 16 /* hidden units */
#define OUT 4  /* classes */

/* Synthetic data with a learnable rule: the class is the sign pattern of two
 * linear features. x: [N, IN] f32, y: [N] i32 (host arrays). */
static void make_data(float *x, int32_t *y)
{
    uint64_t s = 99;
    for (int i = 0; i < N * IN; i++) {
        s = s * 6364136223846793005ULL + 1442695040888963407ULL;
        x[i] = (float)((double)(s >> 11) / 9007199254740992.0 * 2.0 - 1.0);
    }
    for (int i = 0; i < N; i++) {
        const float *r = x + i * IN;
        y[i] = (r[0] + r[1] > 0) * 2 + (r[2] - r[3] > 0);
    }
}

/* One SGD step on the 2-layer MLP; returns the loss (read back for the test). */
static double train_step(ag_tensor *x, ag_tensor *y, ag_tensor **params, int np, double lr)
{
    ag_scope_begin();
    // x: [N, IN] → h: [N, HID] → logits: [N, OUT]
    ag_tensor *h = ag_relu(ag_linear(x, params[0], params[1]));
    ag_tensor *logits = ag_linear(h, params[2], params[3]);
    ag_tensor *loss = ag_cross_entropy(logits, y, NULL);
    ck_assert_msg(loss != NULL, "forward failed: %s", ag_last_error());
    ck_assert_int_eq(ag_backward(loss, NULL), AG_OK);
    ag_no_grad_begin();
    for (int i = 0; i < np; i++) {
        ag_tensor *g = ag_grad(params[i]);
        ck_assert_msg(g != NULL, "parameter %d has no gradient", i);
        /* p <- p - lr * grad, written in place into the leaf */
        ag_tensor *next = ag_sub(params[i], ag_mul_scalar(g, lr));
        ck_assert_int_eq(ag_copy_(params[i], next), AG_OK);
        ag_zero_grad(params[i]);
    }
    ag_no_grad_end();
    double v = ag_item(loss);
    ag_scope_end();
    return v;
}

START_TEST(test_training_loop_memory)
{
    ag_device *dev = agt_open(_i);
    float hx[N * IN];
    int32_t hy[N];
    make_data(hx, hy);
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(N, IN), hx);
    ag_tensor *y = agt_tensor_i32(dev, AG_SHAPE(N), hy);
    ag_tensor *params[4] = {
        agt_randn(dev, AG_SHAPE(HID, IN), 1, 0.4), agt_randn(dev, AG_SHAPE(HID), 2, 0.1),
        agt_randn(dev, AG_SHAPE(OUT, HID), 3, 0.3), agt_randn(dev, AG_SHAPE(OUT), 4, 0.1)};
    for (int i = 0; i < 4; i++) ck_assert_int_eq(ag_set_requires_grad(params[i], true), AG_OK);

    int64_t tensors0 = ag_live_tensors(), buffers0 = ag_device_live_buffers(dev);
    double first = train_step(x, y, params, 4, 0.5);
    int64_t tensors1 = ag_live_tensors(), buffers1 = ag_device_live_buffers(dev);
    ck_assert_int_eq(tensors1, tensors0);
    ck_assert_int_eq(buffers1, buffers0);
    double last = first;
    for (int step = 1; step < 100; step++) {
        last = train_step(x, y, params, 4, 0.5);
        ck_assert_msg(ag_live_tensors() == tensors0, "step %d: %lld live tensors, expected %lld",
                      step, (long long)ag_live_tensors(), (long long)tensors0);
        ck_assert_msg(ag_device_live_buffers(dev) == buffers0,
                      "step %d: %lld live buffers, expected %lld", step,
                      (long long)ag_device_live_buffers(dev), (long long)buffers0);
    }
    ck_assert_msg(isfinite(first) && isfinite(last), "loss not finite: %g → %g", first, last);
    ck_assert_msg(last < 0.7 * first, "loss did not fall: %g → %g", first, last);

    for (int i = 0; i < 4; i++) ag_release(params[i]);
    ag_release(x);
    ag_release(y);
    agt_close(dev);
}
END_TEST

/* Allocates 64 KiB tensors until the device refuses, checks the error, frees
 * them all and computes again. On the CPU backend AG_CPU_MEMORY_LIMIT (1 MiB
 * here) makes the device small; on other devices a request far beyond any
 * device memory (2^39 floats) must fail with AG_ERR_OOM instead. */
START_TEST(test_out_of_memory)
{
    setenv("AG_CPU_MEMORY_LIMIT", "1048576", 1);
    ag_device *dev = agt_open(_i);
    unsetenv("AG_CPU_MEMORY_LIMIT");
    bool cpu = ag_device_get_info(dev)->backend == AG_BACKEND_CPU;
    ag_scope_begin();
    if (cpu) {
        int made = 0;
        ag_tensor *t = NULL, *last_ok = NULL;
        ag_clear_error();
        for (made = 0; made < 100; made++) {
            t = ag_full(dev, AG_F32, AG_SHAPE(128, 128), 1.0); /* 64 KiB */
            if (!t) break;
            last_ok = t;
        }
        ck_assert_msg(t == NULL && made >= 4 && made < 100, "made %d tensors before OOM", made);
        ck_assert_int_eq(ag_last_status(), AG_ERR_OOM);
        ck_assert_msg(strstr(ag_last_error(), "ag_full") && strstr(ag_last_error(), "memory"),
                      "OOM message: %s", ag_last_error());
        /* An op that needs a new buffer fails the same way, and NULL propagates. */
        ag_clear_error();
        ag_tensor *r = ag_relu(last_ok);
        ck_assert_ptr_null(r);
        ck_assert_int_eq(ag_last_status(), AG_ERR_OOM);
        ck_assert_msg(strstr(ag_last_error(), "ag_relu"), "OOM message: %s", ag_last_error());
        ck_assert_ptr_null(ag_sum(ag_mul(r, last_ok), 0, NULL, false));
        ck_assert_int_eq(ag_last_status(), AG_ERR_OOM);
        ck_assert_msg(strstr(ag_last_error(), "ag_relu"), "chained message: %s", ag_last_error());
    } else {
        ag_clear_error();
        ag_tensor *huge = ag_empty(dev, AG_F32, AG_SHAPE(INT64_C(1) << 20, INT64_C(1) << 19));
        ck_assert_msg(huge == NULL, "a 2 TiB tensor was allocated");
        ck_assert_int_eq(ag_last_status(), AG_ERR_OOM);
        ck_assert_msg(strstr(ag_last_error(), "ag_empty"), "OOM message: %s", ag_last_error());
    }
    ag_scope_end(); /* frees everything allocated above */
    ck_assert_int_eq(ag_device_live_buffers(dev), 0);

    /* The device keeps working after the failure. */
    ag_scope_begin();
    ag_tensor *a = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, 0, 0, 1});
    agt_assert_close(ag_sum(ag_matmul(a, b), 0, NULL, false), (float[]){10}, 1, 1e-5, 1e-5,
                     "compute after OOM");
    ag_tensor *big = ag_ones(dev, AG_F32, AG_SHAPE(256, 256)); /* 256 KiB fits again */
    agt_assert_close(ag_sum(big, 0, NULL, false), (float[]){65536}, 1, 0, 1e-6, "sum after OOM");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

static Suite *memory_suite(void)
{
    Suite *s = suite_create("memory");
    TCase *tc = tcase_create("memory");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_training_loop_memory);
    AGT_ADD_LOOP(tc, test_out_of_memory);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(memory_suite()); }
