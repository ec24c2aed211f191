/* tests/test_pool.c — max_pool2d, avg_pool2d and adaptive_avg_pool2d:
 * hand-checked values, PyTorch golden values and gradients
 * (tests/golden/gen_pool.py), gradcheck, strided and unbatched inputs and
 * error paths, on every backend. */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>

#define GOLDEN "pool.txt"
#define TOL 1e-5

typedef ag_tensor *(*pool_fn)(const ag_tensor *x, const void *ctx);

static ag_tensor *max_fn(const ag_tensor *x, const void *ctx) { return ag_max_pool2d(x, ctx); }
static ag_tensor *avg_fn(const ag_tensor *x, const void *ctx) { return ag_avg_pool2d(x, ctx); }
static ag_tensor *adaptive_fn(const ag_tensor *x, const void *ctx)
{
    const int64_t *s = ctx;
    return ag_adaptive_avg_pool2d(x, s[0], s[1]);
}

/* One golden case: forward, then backward with the stored dy. */
static void golden_case(ag_device *dev, agt_golden *g, const char *c, pool_fn fn, const void *ctx,
                        bool noncontig)
{
    ag_scope_begin();
    ag_tensor *x = agt_golden_tensor(g, dev, c, "x");
    if (noncontig) {
        x = agt_noncontiguous(x);
        ck_assert(!ag_is_contiguous(x));
    }
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ag_tensor *y = fn(x, ctx);
    ck_assert_msg(y != NULL, "%s: %s", c, ag_last_error());
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    ck_assert_msg(ag_backward(y, agt_golden_tensor(g, dev, c, "dy")) == AG_OK, "%s: %s", c,
                  ag_last_error());
    char what[128];
    snprintf(what, sizeof what, "%s dx", c);
    ck_assert_msg(ag_grad(x) != NULL, "%s: no gradient", what);
    agt_assert_tensors_close(ag_grad(x), agt_golden_tensor(g, dev, c, "dx"), TOL, TOL, what);
    ag_scope_end();
}

static ag_tensor *range(ag_device *dev, int64_t h, int64_t w)
{
    ag_tensor *r = ag_arange(dev, AG_F32, 1, (double)(h * w + 1), 1);
    return ag_reshape(r, AG_SHAPE(1, 1, h, w));
}

/* ---- max_pool2d --------------------------------------------------------------------- */

START_TEST(test_max_pool_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = range(dev, 4, 4); // 1..16
    ag_pool2d_opts k2 = {.kernel = {2, 2}};
    ag_tensor *y = ag_max_pool2d(x, &k2);
    agt_assert_shape(y, AG_SHAPE(1, 1, 2, 2), "max k2 shape");
    agt_assert_close(y, (float[]){6, 8, 14, 16}, 4, 0, 0, "max k2");
    ag_pool2d_opts p = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}};
    agt_assert_close(ag_max_pool2d(x, &p), (float[]){6, 8, 14, 16}, 4, 0, 0, "max pad");
    // ceil_mode keeps the partial last window: 5x5, k2 → 3x3
    ag_pool2d_opts c = {.kernel = {2, 2}, .ceil_mode = true};
    y = ag_max_pool2d(range(dev, 5, 5), &c);
    agt_assert_shape(y, AG_SHAPE(1, 1, 3, 3), "ceil shape");
    agt_assert_close(y, (float[]){7, 9, 10, 17, 19, 20, 22, 24, 25}, 9, 0, 0, "max ceil");
    // ceil_mode never starts a window in the right padding: 5 wide, k2 s2 p1 → 3 (not 4)
    ag_pool2d_opts cp = {.kernel = {2, 2}, .padding = {1, 1}, .ceil_mode = true};
    y = ag_max_pool2d(range(dev, 5, 5), &cp);
    agt_assert_shape(y, AG_SHAPE(1, 1, 3, 3), "ceil pad shape");
    agt_assert_close(y, (float[]){1, 3, 5, 11, 13, 15, 21, 23, 25}, 9, 0, 0, "ceil pad");
    // dilation 2: the 2x2 kernel reads the corners of a 3x3 block
    ag_pool2d_opts d = {.kernel = {2, 2}, .stride = {1, 1}, .dilation = {2, 2}};
    agt_assert_close(ag_max_pool2d(x, &d), (float[]){11, 12, 15, 16}, 4, 0, 0, "max dilation");
    // unbatched [C, H, W]
    y = ag_max_pool2d(ag_reshape(x, AG_SHAPE(1, 4, 4)), &k2);
    agt_assert_shape(y, AG_SHAPE(1, 2, 2), "unbatched shape");
    agt_assert_close(y, (float[]){6, 8, 14, 16}, 4, 0, 0, "unbatched");
    // backward: the gradient goes to the (first) maximum of each window
    ag_tensor *xg = agt_tensor(dev, AG_SHAPE(1, 1, 2, 4), (float[]){1, 5, 5, 2, 3, 0, 0, 4});
    ag_set_requires_grad(xg, true);
    ag_pool2d_opts s1 = {.kernel = {2, 2}, .stride = {1, 1}};
    y = ag_max_pool2d(xg, &s1); // windows: max 5 (at 1), 5 (at 1, first), 5 (at 2)
    agt_assert_close(y, (float[]){5, 5, 5}, 3, 0, 0, "ties forward");
    ck_assert_int_eq(ag_backward(ag_sum(y, 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(xg), (float[]){0, 2, 1, 0, 0, 0, 0, 0}, 8, 0, 0, "ties backward");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_max_pool_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_pool2d_opts o1 = {.kernel = {2, 2}};
    golden_case(dev, g, "max_basic", max_fn, &o1, false);
    golden_case(dev, g, "max_basic", max_fn, &o1, true);
    ag_pool2d_opts o2 = {.kernel = {3, 2}, .stride = {2, 2}, .padding = {1, 1},
                         .dilation = {2, 1}, .ceil_mode = true};
    golden_case(dev, g, "max_pad_dil_ceil", max_fn, &o2, false);
    golden_case(dev, g, "max_pad_dil_ceil", max_fn, &o2, true);
    ag_pool2d_opts o3 = {.kernel = {3, 3}, .stride = {1, 1}, .padding = {1, 1}};
    golden_case(dev, g, "max_overlap", max_fn, &o3, false);
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *grad_fn(ag_tensor *const *in, void *ctx)
{
    const void *const *c = ctx;
    return ((pool_fn)(uintptr_t)c[0])(in[0], c[1]);
}

/* Gradcheck of one pooling fn on contiguous and strided random input. */
static void pool_gradcheck(ag_device *dev, pool_fn fn, const void *opts, const int64_t *shape,
                           double eps, const char *what)
{
    ag_scope_begin();
    const void *ctx[2] = {(const void *)(uintptr_t)fn, opts};
    ag_tensor *x = agt_randn(dev, 4, shape, 51, 1.0);
    ag_set_requires_grad(x, true);
    agt_gradcheck(grad_fn, 1, (ag_tensor *[]){x}, (void *)ctx, eps, 1e-2, 1e-2, what);
    ag_tensor *xn = agt_noncontiguous(agt_randn(dev, 4, shape, 52, 1.0));
    ag_set_requires_grad(xn, true);
    agt_gradcheck(grad_fn, 1, (ag_tensor *[]){xn}, (void *)ctx, eps, 1e-2, 1e-2, what);
    ag_scope_end();
}

START_TEST(test_max_pool_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_pool2d_opts o = {.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1}, .ceil_mode = true};
    pool_gradcheck(dev, max_fn, &o, (int64_t[]){2, 2, 5, 4}, 1e-3, "max_pool2d");
    agt_close(dev);
}
END_TEST

/* ---- avg_pool2d --------------------------------------------------------------------- */

START_TEST(test_avg_pool_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = range(dev, 4, 4);
    ag_pool2d_opts k2 = {.kernel = {2, 2}};
    agt_assert_close(ag_avg_pool2d(x, &k2), (float[]){3.5f, 5.5f, 11.5f, 13.5f}, 4, 1e-6, 1e-6,
                     "avg k2");
    // padding counted (PyTorch's default) or not
    ag_tensor *ones = ag_ones(dev, AG_F32, AG_SHAPE(1, 1, 2, 2));
    ag_pool2d_opts inc = {.kernel = {2, 2}, .stride = {1, 1}, .padding = {1, 1},
                          .exclude_pad = false};
    agt_assert_close(ag_avg_pool2d(ones, &inc),
                     (float[]){0.25f, 0.5f, 0.25f, 0.5f, 1, 0.5f, 0.25f, 0.5f, 0.25f}, 9, 1e-6,
                     1e-6, "avg include pad");
    ag_pool2d_opts exc = inc;
    exc.exclude_pad = true;
    agt_assert_close(ag_avg_pool2d(ones, &exc), (float[]){1, 1, 1, 1, 1, 1, 1, 1, 1}, 9, 1e-6,
                     1e-6, "avg exclude pad");
    // ceil_mode: the overhang of the last window is never counted
    ag_pool2d_opts c = {.kernel = {2, 2}, .ceil_mode = true, .exclude_pad = false};
    ag_tensor *y = ag_avg_pool2d(range(dev, 3, 3), &c);
    agt_assert_shape(y, AG_SHAPE(1, 1, 2, 2), "avg ceil shape");
    agt_assert_close(y, (float[]){3, 4.5f, 7.5f, 9}, 4, 1e-6, 1e-6, "avg ceil");
    // backward: each input gets dy / window size from every window covering it
    ag_tensor *xg = range(dev, 2, 3);
    ag_set_requires_grad(xg, true);
    ag_pool2d_opts s1 = {.kernel = {2, 2}, .stride = {1, 1}};
    ck_assert_int_eq(ag_backward(ag_sum(ag_avg_pool2d(xg, &s1), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(xg), (float[]){0.25f, 0.5f, 0.25f, 0.25f, 0.5f, 0.25f}, 6, 1e-6,
                     1e-6, "avg backward");
    // i32 input is promoted to f32
    ag_tensor *xi = ag_cast(x, AG_I32);
    agt_assert_close(ag_avg_pool2d(xi, &k2), (float[]){3.5f, 5.5f, 11.5f, 13.5f}, 4, 1e-6, 1e-6,
                     "avg i32");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_avg_pool_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_pool2d_opts o1 = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1},
                         .exclude_pad = false};
    golden_case(dev, g, "avg_basic", avg_fn, &o1, false);
    golden_case(dev, g, "avg_basic", avg_fn, &o1, true);
    ag_pool2d_opts o2 = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1},
                         .ceil_mode = true, .exclude_pad = true};
    golden_case(dev, g, "avg_ceil_nopadcount", avg_fn, &o2, false);
    ag_pool2d_opts o3 = o2;
    o3.exclude_pad = false;
    golden_case(dev, g, "avg_ceil_padcount", avg_fn, &o3, false);
    golden_case(dev, g, "avg_ceil_padcount", avg_fn, &o3, true);
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_avg_pool_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_pool2d_opts o = {.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1},
                        .ceil_mode = true, .exclude_pad = false};
    pool_gradcheck(dev, avg_fn, &o, (int64_t[]){2, 2, 6, 3}, 1e-2, "avg_pool2d");
    o.exclude_pad = true;
    pool_gradcheck(dev, avg_fn, &o, (int64_t[]){1, 2, 5, 4}, 1e-2, "avg_pool2d no pad count");
    agt_close(dev);
}
END_TEST

/* ---- adaptive_avg_pool2d -------------------------------------------------------------- */

START_TEST(test_adaptive_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = range(dev, 4, 4);
    agt_assert_close(ag_adaptive_avg_pool2d(x, 2, 2), (float[]){3.5f, 5.5f, 11.5f, 13.5f}, 4, 1e-6,
                     1e-6, "adaptive 2x2");
    ag_tensor *g1 = ag_adaptive_avg_pool2d(x, 1, 1);
    agt_assert_shape(g1, AG_SHAPE(1, 1, 1, 1), "global shape");
    agt_assert_close(g1, (float[]){8.5f}, 1, 1e-6, 1e-6, "global average");
    // 4 → 3: windows [0,2) [1,3) [2,4) along both dims
    agt_assert_close(ag_adaptive_avg_pool2d(x, 3, 3),
                     (float[]){3.5f, 4.5f, 5.5f, 7.5f, 8.5f, 9.5f, 11.5f, 12.5f, 13.5f}, 9, 1e-6,
                     1e-6, "adaptive 3x3");
    // unbatched
    agt_assert_shape(ag_adaptive_avg_pool2d(ag_reshape(x, AG_SHAPE(1, 4, 4)), 2, 1),
                     AG_SHAPE(1, 2, 1), "unbatched");
    ag_tensor *xg = range(dev, 2, 2);
    ag_set_requires_grad(xg, true);
    ck_assert_int_eq(ag_backward(ag_sum(ag_adaptive_avg_pool2d(xg, 1, 1), 0, NULL, false), NULL),
                     AG_OK);
    agt_assert_close(ag_grad(xg), (float[]){0.25f, 0.25f, 0.25f, 0.25f}, 4, 1e-6, 1e-6,
                     "adaptive backward");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_adaptive_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    golden_case(dev, g, "adaptive_3x2", adaptive_fn, (int64_t[]){3, 2}, false);
    golden_case(dev, g, "adaptive_3x2", adaptive_fn, (int64_t[]){3, 2}, true);
    golden_case(dev, g, "adaptive_up", adaptive_fn, (int64_t[]){4, 5}, false);
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_adaptive_gradcheck)
{
    ag_device *dev = agt_open(_i);
    pool_gradcheck(dev, adaptive_fn, (int64_t[]){3, 2}, (int64_t[]){2, 2, 5, 5}, 1e-2,
                   "adaptive_avg_pool2d");
    agt_close(dev);
}
END_TEST

START_TEST(test_pool_empty)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(0, 3, 5, 5));
    ag_set_requires_grad(x, true);
    ag_pool2d_opts k2 = {.kernel = {2, 2}};
    ag_tensor *y = ag_max_pool2d(x, &k2);
    agt_assert_shape(y, AG_SHAPE(0, 3, 2, 2), "max empty");
    ck_assert_int_eq(ag_backward(ag_sum(y, 0, NULL, false), NULL), AG_OK);
    agt_assert_shape(ag_grad(x), AG_SHAPE(0, 3, 5, 5), "max empty grad");
    agt_assert_shape(ag_avg_pool2d(x, &k2), AG_SHAPE(0, 3, 2, 2), "avg empty");
    agt_assert_shape(ag_adaptive_avg_pool2d(x, 3, 1), AG_SHAPE(0, 3, 3, 1), "adaptive empty");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- errors ---------------------------------------------------------------------------- */

START_TEST(test_pool_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(1, 2, 3, 3));
    ag_pool2d_opts k2 = {.kernel = {2, 2}};
    ag_clear_error();
    agt_assert_error(ag_max_pool2d(NULL, &k2), "ag_max_pool2d", "is NULL", "max NULL");
    ag_clear_error();
    agt_assert_error(ag_avg_pool2d(NULL, &k2), "ag_avg_pool2d", "is NULL", "avg NULL");
    ag_clear_error();
    agt_assert_error(ag_adaptive_avg_pool2d(NULL, 1, 1), "ag_adaptive_avg_pool2d", "is NULL",
                     "adaptive NULL");
    ag_clear_error();
    agt_assert_error(ag_max_pool2d(x, NULL), "ag_max_pool2d", "[1,2,3,3]", "NULL opts");
    ag_tensor *x2 = ag_zeros(dev, AG_F32, AG_SHAPE(3, 3));
    agt_assert_error(ag_max_pool2d(x2, &k2), "ag_max_pool2d", "[3,3]", "2-D input");
    agt_assert_error(ag_avg_pool2d(x2, &k2), "ag_avg_pool2d", "[3,3]", "avg 2-D input");
    agt_assert_error(ag_adaptive_avg_pool2d(x2, 1, 1), "ag_adaptive_avg_pool2d", "[3,3]",
                     "adaptive 2-D input");
    ag_pool2d_opts k0 = {.kernel = {0, 2}};
    agt_assert_error(ag_max_pool2d(x, &k0), "ag_max_pool2d", "kernel", "zero kernel");
    ag_pool2d_opts pad = {.kernel = {2, 2}, .padding = {2, 0}};
    agt_assert_error(ag_max_pool2d(x, &pad), "ag_max_pool2d", "padding", "padding > k/2");
    agt_assert_error(ag_avg_pool2d(x, &pad), "ag_avg_pool2d", "padding", "avg padding > k/2");
    ag_pool2d_opts neg = {.kernel = {2, 2}, .stride = {-1, 1}};
    agt_assert_error(ag_avg_pool2d(x, &neg), "ag_avg_pool2d", "stride", "negative stride");
    agt_assert_error(ag_avg_pool2d(x, &(ag_pool2d_opts){.kernel = {2, 2}, .dilation = {2, 1}}),
                     "ag_avg_pool2d", "dilation", "avg dilation");
    ag_pool2d_opts big = {.kernel = {4, 4}};
    agt_assert_error(ag_max_pool2d(x, &big), "ag_max_pool2d", "[1,2,3,3]", "kernel too large");
    ag_pool2d_opts dil = {.kernel = {2, 2}, .dilation = {3, 1}};
    agt_assert_error(ag_max_pool2d(x, &dil), "ag_max_pool2d", "too small", "dilated too large");
    agt_assert_error(ag_adaptive_avg_pool2d(x, 0, 2), "ag_adaptive_avg_pool2d", "[1,2,3,3]",
                     "adaptive zero size");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- against the CPU backend on larger shapes ---------------------------------------------- */

static void vs_cpu(ag_device *dev, pool_fn fn, const void *ctx, const char *what)
{
    ag_device *cpu = ag_device_open("cpu");
    ck_assert_ptr_nonnull(cpu);
    ag_scope_begin();
    ag_tensor *x[2], *y[2];
    for (int d = 0; d < 2; d++) {
        ag_device *on = d ? cpu : dev;
        x[d] = agt_randn(on, AG_SHAPE(4, 6, 17, 13), 111, 1.0);
        ag_set_requires_grad(x[d], true);
        y[d] = fn(x[d], ctx);
        ck_assert_msg(y[d] != NULL, "%s: %s", what, ag_last_error());
        ag_tensor *dy = agt_randn(on, ag_ndim(y[d]), ag_shape(y[d]), 112, 1.0);
        ck_assert_msg(ag_backward(y[d], dy) == AG_OK, "%s: %s", what, ag_last_error());
    }
    agt_assert_tensors_close(y[0], y[1], 1e-5, 1e-5, what);
    char w[128];
    snprintf(w, sizeof w, "%s dx", what);
    agt_assert_tensors_close(ag_grad(x[0]), ag_grad(x[1]), 1e-5, 1e-5, w);
    ag_scope_end();
    ag_device_close(cpu);
}

START_TEST(test_pool_vs_cpu)
{
    ag_device *dev = agt_open(_i);
    ag_pool2d_opts m = {.kernel = {3, 3}, .stride = {2, 2}, .padding = {1, 1}, .dilation = {1, 2},
                        .ceil_mode = true};
    vs_cpu(dev, max_fn, &m, "max_pool2d vs cpu");
    ag_pool2d_opts a = {.kernel = {3, 2}, .stride = {2, 1}, .padding = {1, 1}, .ceil_mode = true};
    vs_cpu(dev, avg_fn, &a, "avg_pool2d (count_include_pad) vs cpu");
    a.exclude_pad = true;
    vs_cpu(dev, avg_fn, &a, "avg_pool2d exclude_pad vs cpu");
    vs_cpu(dev, adaptive_fn, (int64_t[]){5, 4}, "adaptive_avg_pool2d vs cpu");
    agt_close(dev);
}
END_TEST

static Suite *pool_suite(void)
{
    Suite *s = suite_create("pool");
    TCase *tc = tcase_create("pool");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_max_pool_hand);
    AGT_ADD_LOOP(tc, test_max_pool_golden);
    AGT_ADD_LOOP(tc, test_max_pool_gradcheck);
    AGT_ADD_LOOP(tc, test_avg_pool_hand);
    AGT_ADD_LOOP(tc, test_avg_pool_golden);
    AGT_ADD_LOOP(tc, test_avg_pool_gradcheck);
    AGT_ADD_LOOP(tc, test_adaptive_hand);
    AGT_ADD_LOOP(tc, test_adaptive_golden);
    AGT_ADD_LOOP(tc, test_adaptive_gradcheck);
    AGT_ADD_LOOP(tc, test_pool_errors);
    AGT_ADD_LOOP(tc, test_pool_empty);
    AGT_ADD_LOOP(tc, test_pool_vs_cpu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(pool_suite()); }
