/* tests/test_allocator.c — the device allocators and their counters, on every
 * backend under test:
 * - a training step in steady state (after warm-up) obtains no memory from
 *   the driver, gives none back, queues the same number of kernels each
 *   step and waits for the device at most once (the loss read back);
 * - memory freed while queued work still reads it is reused in stream order
 *   without corrupting that work (large buffers too, which take dedicated
 *   blocks);
 * - ag_device_empty_cache gives the cache back and the device keeps working. */
#include "harness.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

enum { N = 32, CLASSES = 3 };

static ag_device_counters counters(ag_device *dev)
{
    ag_device_counters c;
    ck_assert_int_eq(ag_device_get_counters(dev, &c), AG_OK);
    return c;
}

static bool is_cpu(ag_device *dev) { return ag_device_get_info(dev)->backend == AG_BACKEND_CPU; }

/* A CNN training step: conv, batch norm, relu, max pool, linear, cross
 * entropy, backward and an Adam step, on a batch uploaded from the host. */
typedef struct step_ctx {
    ag_device *dev;
    ag_module *model;
    ag_optimizer *opt;
    float x[N * 1 * 8 * 8];
    int32_t y[N];
} step_ctx;

static double train_step(step_ctx *s)
{
    ag_scope_begin();
    ag_tensor *x = agt_tensor(s->dev, AG_SHAPE(N, 1, 8, 8), s->x);
    ag_tensor *y = agt_tensor_i32(s->dev, AG_SHAPE(N), s->y);
    ag_optimizer_zero_grad(s->opt);
    ag_tensor *loss = ag_cross_entropy(ag_module_forward(s->model, x), y, NULL);
    ck_assert_msg(loss && ag_backward(loss, NULL) == AG_OK, "%s", ag_last_error());
    ck_assert_int_eq(ag_optimizer_step(s->opt), AG_OK);
    double v = ag_item(loss);
    ag_scope_end();
    return v;
}

START_TEST(test_steady_state_step_allocates_nothing)
{
    ag_device *dev = agt_open(_i);
    ag_manual_seed(3);
    step_ctx *s = calloc(1, sizeof *s);
    s->dev = dev;
    uint64_t r = 7;
    for (int i = 0; i < N; i++) {
        s->y[i] = i % CLASSES;
        for (int p = 0; p < 64; p++) {
            r = r * 6364136223846793005ULL + 1442695040888963407ULL;
            s->x[i * 64 + p] = (float)((r >> 40) & 0xFFFF) / 65536.0f + (p % 8 / 3 == s->y[i]);
        }
    }
    ag_pool2d_opts pool = {.kernel = {2, 2}};
    s->model = ag_nn_sequential(7, (ag_module *[]){
        ag_nn_conv2d(dev, 1, 6, 3, 3, &(ag_conv2d_opts){.padding = {1, 1}}, true),
        ag_nn_batch_norm2d(dev, 6, 1e-5, 0.1), ag_nn_relu(), ag_nn_max_pool2d(&pool),
        ag_nn_flatten(1, -1), ag_nn_linear(dev, 6 * 4 * 4, 16, true),
        ag_nn_linear(dev, 16, CLASSES, true)});
    ck_assert_msg(s->model != NULL, "%s", ag_last_error());
    ag_tensor *params[32];
    int np = ag_module_parameters(s->model, NULL, params, 32);
    s->opt = ag_optim_adam(params, np, &(ag_adam_opts){.lr = 0.01});
    ck_assert_msg(s->opt != NULL, "%s", ag_last_error());

    double first = train_step(s);
    for (int w = 0; w < 3; w++) train_step(s); /* warm-up: caches fill */
    ag_device_counters before = counters(dev), prev = before;
    uint64_t per_step = 0;
    double last = first;
    enum { STEPS = 8 };
    for (int step = 0; step < STEPS; step++) {
        last = train_step(s);
        ag_device_counters now = counters(dev);
        uint64_t disp = now.dispatches - prev.dispatches;
        ck_assert_msg(disp > 0, "step %d queued no kernel", step);
        if (step == 0) per_step = disp;
        ck_assert_msg(disp == per_step, "step %d queued %llu kernels, step 0 %llu", step,
                      (unsigned long long)disp, (unsigned long long)per_step);
        uint64_t waits = now.host_waits - prev.host_waits;
        ck_assert_msg(waits <= (is_cpu(dev) ? 0u : 1u), "step %d: the host waited %llu times", step,
                      (unsigned long long)waits);
        prev = now;
    }
    ag_device_counters after = counters(dev);
    ck_assert_msg(after.driver_allocs == before.driver_allocs,
                  "%llu driver allocations (%llu bytes) in %d steady-state steps",
                  (unsigned long long)(after.driver_allocs - before.driver_allocs),
                  (unsigned long long)(after.driver_alloc_bytes - before.driver_alloc_bytes), STEPS);
    ck_assert_msg(after.driver_frees == before.driver_frees, "%llu driver frees in steady state",
                  (unsigned long long)(after.driver_frees - before.driver_frees));
    ck_assert_msg(before.driver_allocs > 0 && before.driver_alloc_bytes > 0,
                  "the counters saw no allocation at all");
    ck_assert_msg(isfinite(last) && last < first, "loss did not fall: %g -> %g", first, last);
    ag_optimizer_free(s->opt);
    ag_module_free(s->model);
    free(s);
    agt_close(dev);
}
END_TEST

/* Each round makes a temporary t = base * k, queues a sum of it and frees t
 * at once (its scope ends), so round k+1's temporary is carved from memory
 * that round k's sum may still be reading. Every sum must see its own t. */
static void check_stream_reuse(ag_device *dev, int64_t rows, int64_t cols, const char *what)
{
    enum { ROUNDS = 12 };
    ag_tensor *base = ag_ones(dev, AG_F32, AG_SHAPE(rows, cols));
    ag_tensor *sums[ROUNDS];
    for (int k = 0; k < ROUNDS; k++) {
        ag_scope_begin();
        ag_tensor *t = ag_mul_scalar(base, (double)(k + 1));
        sums[k] = ag_sum(t, 0, NULL, false);
        ck_assert_msg(sums[k] != NULL, "%s: %s", what, ag_last_error());
        ag_retain(sums[k]);
        ag_scope_end();
    }
    double n = (double)rows * (double)cols;
    for (int k = 0; k < ROUNDS; k++) {
        double got = ag_item(sums[k]), want = n * (k + 1);
        ck_assert_msg(fabs(got - want) <= 1e-4 * want, "%s: round %d summed %.9g, expected %.9g", what,
                      k, got, want);
        ag_release(sums[k]);
    }
    ag_release(base);
}

START_TEST(test_stream_ordered_reuse)
{
    ag_device *dev = agt_open(_i);
    check_stream_reuse(dev, 64, 1000, "small buffers");
    /* 40 MiB: above half a Vulkan block, so a dedicated, cached block */
    check_stream_reuse(dev, 2560, 4096, "large buffers");
    agt_close(dev);
}
END_TEST

START_TEST(test_large_buffers_are_cached)
{
    ag_device *dev = agt_open(_i);
    ag_tensor *a = ag_ones(dev, AG_F32, AG_SHAPE(2560, 4096));
    ag_tensor *b = ag_full(dev, AG_F32, AG_SHAPE(2560, 4096), 2.0);
    ag_tensor *c = NULL;
    ag_device_counters before = counters(dev);
    for (int i = 0; i < 8; i++) {
        if (i == 2) before = counters(dev); /* after two warm-up rounds */
        ag_scope_begin();
        ag_tensor *t = ag_add(a, b);
        ag_tensor *sum = ag_sum(t, 0, NULL, false);
        ck_assert_msg(sum != NULL, "%s", ag_last_error());
        ag_release(c);
        c = ag_retain(sum);
        ag_scope_end();
    }
    ag_device_counters after = counters(dev);
    ck_assert_msg(after.driver_allocs == before.driver_allocs,
                  "%llu driver allocations for 6 same-sized 40 MiB results after warm-up",
                  (unsigned long long)(after.driver_allocs - before.driver_allocs));
    ck_assert_msg(fabs(ag_item(c) - 3.0 * 2560 * 4096) < 1.0, "sum %.9g", ag_item(c));
    ag_release(c);
    ag_release(a);
    ag_release(b);
    agt_close(dev);
}
END_TEST

START_TEST(test_empty_cache)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *keep = agt_tensor(dev, AG_SHAPE(4), (float[]){1, 2, 3, 4});
    for (int i = 0; i < 4; i++) { /* 40 MiB each: whole blocks or buffers of their own */
        ag_scope_begin();
        ck_assert_ptr_nonnull(ag_relu(ag_full(dev, AG_F32, AG_SHAPE(2560, 4096), (double)i)));
        ag_scope_end();
    }
    ag_device_counters full = counters(dev);
    ck_assert_msg(full.cached_bytes > 0, "freed tensors left nothing in the cache");
    ck_assert_int_eq(ag_device_empty_cache(dev), AG_OK);
    ag_device_counters empty = counters(dev);
    ck_assert_msg(empty.driver_frees > full.driver_frees, "empty_cache gave nothing back");
    ck_assert_msg(empty.cached_bytes < full.cached_bytes, "cache %llu -> %llu bytes",
                  (unsigned long long)full.cached_bytes, (unsigned long long)empty.cached_bytes);
    ck_assert_msg(empty.in_use_bytes > 0, "the live tensor's memory is not counted");
    agt_assert_close(ag_mul_scalar(keep, 2), (float[]){2, 4, 6, 8}, 4, 0, 0, "after empty_cache");
    ag_scope_end();
    ck_assert_int_eq(ag_device_get_counters(NULL, &full), AG_ERR_INVALID);
    ck_assert_int_eq(ag_device_get_counters(dev, NULL), AG_ERR_INVALID);
    ck_assert_int_eq(ag_device_empty_cache(NULL), AG_ERR_INVALID);
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("allocator");
    TCase *tc = tcase_create("allocator");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_steady_state_step_allocates_nothing);
    AGT_ADD_LOOP(tc, test_stream_ordered_reuse);
    AGT_ADD_LOOP(tc, test_large_buffers_are_cached);
    AGT_ADD_LOOP(tc, test_empty_cache);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
