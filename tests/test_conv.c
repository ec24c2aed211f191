/* tests/test_conv.c — conv2d and conv_transpose2d: hand-checked values,
 * PyTorch golden values and gradients (tests/golden/gen_conv.py), gradcheck,
 * strided inputs, unbatched inputs and error paths, on every backend. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define GOLDEN "conv.txt"
#define TOL 1e-4

static void check_grad(agt_golden *g, ag_device *dev, const ag_tensor *x, const char *c,
                       const char *l)
{
    char what[128], label[32];
    snprintf(label, sizeof label, "d%s", l);
    snprintf(what, sizeof what, "%s %s", c, label);
    agt_assert_grad_golden(g, dev, x, c, label, TOL, TOL, what);
}

/* Runs one golden case: forward, then backward with the stored dy. */
static void golden_case(ag_device *dev, agt_golden *g, const char *c, bool transposed,
                        const ag_conv2d_opts *o, bool noncontig)
{
    ag_scope_begin();
    ag_tensor *x = agt_golden_tensor(g, dev, c, "x");
    ag_tensor *w = agt_golden_tensor(g, dev, c, "w");
    if (noncontig) {
        x = agt_noncontiguous(x);
        w = agt_noncontiguous(w);
        ck_assert(!ag_is_contiguous(x) && !ag_is_contiguous(w));
    }
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ck_assert_int_eq(ag_set_requires_grad(w, true), AG_OK);
    bool has_b = agt_golden_has(g, c, "b");
    ag_tensor *b = has_b ? agt_golden_input(g, dev, c, "b", true) : NULL;
    ag_tensor *y = transposed ? ag_conv_transpose2d(x, w, b, o) : ag_conv2d(x, w, b, o);
    ck_assert_msg(y != NULL, "%s: %s", c, ag_last_error());
    agt_assert_tensors_close(y, agt_golden_tensor(g, dev, c, "y"), TOL, TOL, c);
    ck_assert_msg(ag_backward(y, agt_golden_tensor(g, dev, c, "dy")) == AG_OK, "%s: %s", c,
                  ag_last_error());
    check_grad(g, dev, x, c, "x");
    check_grad(g, dev, w, c, "w");
    if (has_b) check_grad(g, dev, b, c, "b");
    ag_scope_end();
}

/* ---- conv2d ------------------------------------------------------------------------ */

START_TEST(test_conv2d_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [1, 1, 3, 3] = 1..9; w: [1, 1, 2, 2] = x[i][j] - x[i+1][j+1] → -4 everywhere
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(1, 1, 3, 3), (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(1, 1, 2, 2), (float[]){1, 0, 0, -1});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(1), (float[]){0.5f});
    ag_tensor *y = ag_conv2d(x, w, NULL, NULL);
    agt_assert_shape(y, AG_SHAPE(1, 1, 2, 2), "conv shape");
    agt_assert_close(y, (float[]){-4, -4, -4, -4}, 4, 1e-5, 1e-5, "conv diff");
    agt_assert_close(ag_conv2d(x, w, b, NULL), (float[]){-3.5f, -3.5f, -3.5f, -3.5f}, 4, 1e-5,
                     1e-5, "conv bias");
    // 3x3 box filter with padding 1 and stride 2 on 1..9: corners of the padded sums
    ag_tensor *box = ag_ones(dev, AG_F32, AG_SHAPE(1, 1, 3, 3));
    ag_conv2d_opts o = {.stride = {2, 2}, .padding = {1, 1}};
    y = ag_conv2d(x, box, NULL, &o);
    agt_assert_shape(y, AG_SHAPE(1, 1, 2, 2), "box shape");
    agt_assert_close(y, (float[]){12, 16, 24, 28}, 4, 1e-5, 1e-5, "box stride pad");
    // dilation 2: the 2x2 kernel touches the 4 corners of the 3x3 image
    ag_tensor *w4 = agt_tensor(dev, AG_SHAPE(1, 1, 2, 2), (float[]){1, 10, 100, 1000});
    ag_conv2d_opts od = {.dilation = {2, 2}};
    agt_assert_close(ag_conv2d(x, w4, NULL, &od), (float[]){1 + 30 + 700 + 9000}, 1, 1e-5, 1e-5,
                     "dilation");
    // two input channels, two groups: each output channel sees only its own input
    ag_tensor *x2 = agt_tensor(dev, AG_SHAPE(1, 2, 1, 2), (float[]){1, 2, 3, 4});
    ag_tensor *w2 = agt_tensor(dev, AG_SHAPE(2, 1, 1, 2), (float[]){1, 1, 1, -1});
    ag_conv2d_opts og = {.groups = 2};
    agt_assert_close(ag_conv2d(x2, w2, NULL, &og), (float[]){3, -1}, 2, 1e-5, 1e-5, "groups");
    // 1x1 kernel: a per-pixel channel mix
    ag_tensor *wm = agt_tensor(dev, AG_SHAPE(1, 2, 1, 1), (float[]){1, 10});
    agt_assert_close(ag_conv2d(x2, wm, NULL, NULL), (float[]){31, 42}, 2, 1e-5, 1e-5, "1x1");
    agt_assert_close(ag_conv_transpose2d(ag_conv2d(x2, wm, NULL, NULL), wm, NULL, NULL),
                     (float[]){31, 42, 310, 420}, 4, 1e-5, 1e-5, "1x1 transposed");
    // gradients: y = sum(conv(x, w)) → dx = number of windows covering each pixel · w
    ag_tensor *xg = agt_tensor(dev, AG_SHAPE(1, 1, 3, 3), (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    ag_tensor *wg = ag_ones(dev, AG_F32, AG_SHAPE(1, 1, 2, 2));
    ag_set_requires_grad(xg, true);
    ag_set_requires_grad(wg, true);
    ck_assert_int_eq(ag_backward(ag_sum(ag_conv2d(xg, wg, NULL, NULL), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(xg), (float[]){1, 2, 1, 2, 4, 2, 1, 2, 1}, 9, 1e-5, 1e-5, "hand dx");
    // dw[i][j] = sum of the 2x2 block of x starting at (i, j)
    agt_assert_close(ag_grad(wg), (float[]){12, 16, 24, 28}, 4, 1e-5, 1e-5, "hand dw");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_conv2d_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    golden_case(dev, g, "conv_basic", false, NULL, false);
    ag_conv2d_opts o1 = {.stride = {2, 1}, .padding = {1, 2}, .dilation = {2, 1}};
    golden_case(dev, g, "conv_stride_pad_dil", false, &o1, false);
    ag_conv2d_opts o2 = {.stride = {2, 2}, .padding = {1, 1}, .groups = 2};
    golden_case(dev, g, "conv_groups", false, &o2, false);
    golden_case(dev, g, "conv_1x1", false, NULL, false);
    // the same with strided (non-contiguous) inputs
    golden_case(dev, g, "conv_basic", false, NULL, true);
    golden_case(dev, g, "conv_groups", false, &o2, true);
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *conv_fn(ag_tensor *const *in, void *ctx)
{
    return ag_conv2d(in[0], in[1], in[2], ctx);
}

static ag_tensor *conv_nobias_fn(ag_tensor *const *in, void *ctx)
{
    return ag_conv2d(in[0], in[1], NULL, ctx);
}

START_TEST(test_conv2d_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 4, 5, 4], w: [4, 2, 3, 2] with 2 groups, stride (2,1), padding 1, dilation (1,2)
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 4, 5, 4), 11, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(4, 2, 3, 2), 12, 0.5);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(4), 13, 0.5);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(w, true);
    ag_set_requires_grad(b, true);
    ag_conv2d_opts o = {.stride = {2, 1}, .padding = {1, 1}, .dilation = {1, 2}, .groups = 2};
    agt_gradcheck(conv_fn, 3, (ag_tensor *[]){x, w, b}, &o, 1e-2, 1e-2, 1e-2, "conv2d");
    // strided inputs, no bias, defaults
    ag_tensor *xn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(1, 2, 4, 3), 14, 1.0));
    ag_tensor *wn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(3, 2, 2, 2), 15, 0.5));
    ag_set_requires_grad(xn, true);
    ag_set_requires_grad(wn, true);
    agt_gradcheck(conv_nobias_fn, 2, (ag_tensor *[]){xn, wn}, NULL, 1e-2, 1e-2, 1e-2,
                  "conv2d strided");
    // 1x1 kernels (the image is its own column buffer), grouped
    ag_tensor *x1 = agt_randn(dev, AG_SHAPE(2, 4, 3, 2), 16, 1.0);
    ag_tensor *w1 = agt_randn(dev, AG_SHAPE(6, 2, 1, 1), 17, 0.5);
    ag_set_requires_grad(x1, true);
    ag_set_requires_grad(w1, true);
    ag_conv2d_opts g2 = {.groups = 2};
    ag_tensor *b6 = agt_randn(dev, AG_SHAPE(6), 18, 0.5);
    ag_set_requires_grad(b6, true);
    agt_gradcheck(conv_fn, 3, (ag_tensor *[]){x1, w1, b6}, &g2, 1e-2, 1e-2, 1e-2, "conv2d 1x1");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_conv2d_unbatched)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // [C, H, W] input gives [O, OH, OW], equal to the batched result
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 4, 4), 21, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(3, 2, 3, 3), 22, 1.0);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(3), 23, 1.0);
    ag_set_requires_grad(x, true);
    ag_tensor *y = ag_conv2d(x, w, b, NULL);
    agt_assert_shape(y, AG_SHAPE(3, 2, 2), "unbatched shape");
    ag_tensor *yb = ag_conv2d(ag_unsqueeze(x, 0), w, b, NULL);
    agt_assert_tensors_close(y, ag_squeeze(yb, 0), 1e-5, 1e-5, "unbatched values");
    ck_assert_int_eq(ag_backward(ag_sum(y, 0, NULL, false), NULL), AG_OK);
    agt_assert_shape(ag_grad(x), AG_SHAPE(2, 4, 4), "unbatched grad shape");
    // conv_transpose2d too: [C, H, W] → [O, OH, OW]
    ag_tensor *wt = agt_randn(dev, AG_SHAPE(2, 3, 2, 2), 24, 1.0);
    ag_tensor *yt = ag_conv_transpose2d(x, wt, NULL, NULL);
    agt_assert_shape(yt, AG_SHAPE(3, 5, 5), "unbatched transposed shape");
    agt_assert_tensors_close(yt, ag_squeeze(ag_conv_transpose2d(ag_unsqueeze(x, 0), wt, NULL, NULL), 0),
                             1e-5, 1e-5, "unbatched transposed values");
    // integer input is promoted to f32
    ag_tensor *xi = ag_cast(ag_full(dev, AG_F32, AG_SHAPE(1, 1, 2, 2), 2.0), AG_I32);
    ag_tensor *wo = ag_ones(dev, AG_F32, AG_SHAPE(1, 1, 2, 2));
    agt_assert_close(ag_conv2d(xi, wo, NULL, NULL), (float[]){8}, 1, 1e-5, 1e-5, "i32 input");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_conv2d_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(2, 4, 5, 5));
    ag_tensor *w = ag_zeros(dev, AG_F32, AG_SHAPE(6, 4, 3, 3));
    ag_clear_error();
    agt_assert_error(ag_conv2d(NULL, w, NULL, NULL), "ag_conv2d", "is NULL", "NULL x");
    ag_clear_error();
    agt_assert_error(ag_conv2d(x, NULL, NULL, NULL), "ag_conv2d", "is NULL", "NULL weight");
    agt_assert_error(ag_conv2d(ag_zeros(dev, AG_F32, AG_SHAPE(4, 5)), w, NULL, NULL), "ag_conv2d",
                     "[4,5]", "2-D input");
    agt_assert_error(ag_conv2d(x, ag_zeros(dev, AG_F32, AG_SHAPE(6, 4, 3)), NULL, NULL),
                     "ag_conv2d", "[6,4,3]", "3-D weight");
    agt_assert_error(ag_conv2d(x, ag_zeros(dev, AG_F32, AG_SHAPE(6, 3, 3, 3)), NULL, NULL),
                     "ag_conv2d", "[2,4,5,5]", "channel mismatch");
    ag_conv2d_opts g3 = {.groups = 3};
    agt_assert_error(ag_conv2d(x, w, NULL, &g3), "ag_conv2d", "groups", "groups not dividing");
    ag_conv2d_opts g2 = {.groups = 2};
    agt_assert_error(ag_conv2d(x, w, NULL, &g2), "ag_conv2d", "[6,4,3,3]",
                     "weight channels vs groups");
    agt_assert_error(ag_conv2d(x, ag_zeros(dev, AG_F32, AG_SHAPE(6, 4, 6, 3)), NULL, NULL),
                     "ag_conv2d", "larger than the padded input", "kernel too large");
    ag_conv2d_opts dil = {.dilation = {3, 1}};
    agt_assert_error(ag_conv2d(x, w, NULL, &dil), "ag_conv2d", "larger", "dilated too large");
    agt_assert_error(ag_conv2d(x, w, ag_zeros(dev, AG_F32, AG_SHAPE(5)), NULL), "ag_conv2d",
                     "[5]", "bias shape");
    ag_conv2d_opts neg = {.stride = {-1, 1}};
    agt_assert_error(ag_conv2d(x, w, NULL, &neg), "ag_conv2d", "stride", "negative stride");
    ag_conv2d_opts pad = {.padding = {0, -2}};
    agt_assert_error(ag_conv2d(x, w, NULL, &pad), "ag_conv2d", "padding", "negative padding");
    ag_conv2d_opts op = {.output_padding = {1, 0}};
    agt_assert_error(ag_conv2d(x, w, NULL, &op), "ag_conv2d", "output_padding", "output_padding");
    // tensors on two different devices
    ag_device *other = ag_device_open("cpu");
    ck_assert_ptr_nonnull(other);
    ag_tensor *wo = ag_zeros(other, AG_F32, AG_SHAPE(6, 4, 3, 3));
    agt_assert_error(ag_conv2d(x, wo, NULL, NULL), "ag_conv2d", NULL, "devices differ");
    ag_scope_end();
    ag_device_close(other);
    agt_close(dev);
}
END_TEST

START_TEST(test_conv_empty)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // an empty batch gives an empty output and zero weight/bias gradients
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(0, 3, 5, 5));
    ag_tensor *w = ag_ones(dev, AG_F32, AG_SHAPE(2, 3, 3, 3));
    ag_tensor *b = ag_ones(dev, AG_F32, AG_SHAPE(2));
    ag_set_requires_grad(w, true);
    ag_set_requires_grad(b, true);
    ag_tensor *y = ag_conv2d(x, w, b, NULL);
    agt_assert_shape(y, AG_SHAPE(0, 2, 3, 3), "empty batch");
    ck_assert_int_eq(ag_backward(ag_sum(y, 0, NULL, false), NULL), AG_OK);
    float zeros[54] = {0};
    agt_assert_close(ag_grad(w), zeros, 54, 0, 0, "empty batch dw");
    agt_assert_close(ag_grad(b), zeros, 2, 0, 0, "empty batch db");
    agt_assert_shape(ag_conv_transpose2d(ag_zeros(dev, AG_F32, AG_SHAPE(0, 2, 3, 3)), w, NULL,
                                         NULL),
                     AG_SHAPE(0, 3, 5, 5), "convt empty batch");
    // no input channels: the output is the bias
    ag_tensor *x0 = ag_zeros(dev, AG_F32, AG_SHAPE(1, 0, 2, 2));
    ag_tensor *w0 = ag_zeros(dev, AG_F32, AG_SHAPE(2, 0, 1, 1));
    agt_assert_close(ag_conv2d(x0, w0, agt_tensor(dev, AG_SHAPE(2), (float[]){1, 2}), NULL),
                     (float[]){1, 1, 1, 1, 2, 2, 2, 2}, 8, 0, 0, "no input channels");
    agt_assert_error(ag_conv2d(x, ag_zeros(dev, AG_F32, AG_SHAPE(2, 3, 0, 3)), NULL, NULL),
                     "ag_conv2d", "[2,3,0,3]", "zero kernel");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- conv_transpose2d ------------------------------------------------------------------ */

START_TEST(test_conv_transpose2d_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [1, 1, 2, 2] = 1..4, w = ones [1, 1, 2, 2]: every input spreads onto a 2x2 block
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(1, 1, 2, 2), (float[]){1, 2, 3, 4});
    ag_tensor *w = ag_ones(dev, AG_F32, AG_SHAPE(1, 1, 2, 2));
    ag_tensor *y = ag_conv_transpose2d(x, w, NULL, NULL);
    agt_assert_shape(y, AG_SHAPE(1, 1, 3, 3), "convt shape");
    agt_assert_close(y, (float[]){1, 3, 2, 4, 10, 6, 3, 7, 4}, 9, 1e-5, 1e-5, "convt s1");
    // stride 2: non-overlapping blocks; bias adds everywhere; output_padding adds a zero row/col
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(1), (float[]){0.5f});
    ag_conv2d_opts o = {.stride = {2, 2}, .output_padding = {1, 0}};
    y = ag_conv_transpose2d(x, w, b, &o);
    agt_assert_shape(y, AG_SHAPE(1, 1, 5, 4), "convt s2 shape");
    float h = 0.5f;
    agt_assert_close(y,
                     (float[]){1 + h, 1 + h, 2 + h, 2 + h, 1 + h, 1 + h, 2 + h, 2 + h,
                               3 + h, 3 + h, 4 + h, 4 + h, 3 + h, 3 + h, 4 + h, 4 + h,
                               h, h, h, h},
                     20, 1e-5, 1e-5, "convt s2 bias outpad");
    // padding 1 crops one ring from the stride-1 result
    ag_conv2d_opts p = {.padding = {1, 1}};
    agt_assert_close(ag_conv_transpose2d(x, ag_ones(dev, AG_F32, AG_SHAPE(1, 1, 3, 3)), NULL, &p),
                     (float[]){10, 10, 10, 10}, 4, 1e-5, 1e-5, "convt pad");
    // it is the adjoint of conv2d: <conv(a, w), c> == <a, convt(c, w)>
    ag_tensor *a = agt_randn(dev, AG_SHAPE(1, 2, 5, 5), 31, 1.0);
    ag_tensor *wk = agt_randn(dev, AG_SHAPE(3, 2, 3, 3), 32, 1.0);
    ag_tensor *c = agt_randn(dev, AG_SHAPE(1, 3, 2, 2), 33, 1.0);
    ag_conv2d_opts s = {.stride = {2, 2}};
    float lhs = (float)ag_item(ag_sum(ag_mul(ag_conv2d(a, wk, NULL, &s), c), 0, NULL, false));
    float rhs = (float)ag_item(ag_sum(ag_mul(ag_conv_transpose2d(c, wk, NULL, &s), a), 0, NULL,
                                      false));
    ck_assert_msg(fabsf(lhs - rhs) <= 1e-3f * (1 + fabsf(lhs)), "adjoint %g vs %g", lhs, rhs);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_conv_transpose2d_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_conv2d_opts o1 = {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1}};
    golden_case(dev, g, "convt_basic", true, &o1, false);
    ag_conv2d_opts o2 = {.dilation = {2, 2}, .groups = 2};
    golden_case(dev, g, "convt_groups_dil", true, &o2, false);
    golden_case(dev, g, "convt_basic", true, &o1, true);
    golden_case(dev, g, "convt_groups_dil", true, &o2, true);
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *convt_fn(ag_tensor *const *in, void *ctx)
{
    return ag_conv_transpose2d(in[0], in[1], in[2], ctx);
}

START_TEST(test_conv_transpose2d_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 4, 3, 2], w: [4, 1, 3, 2] with 2 groups → 2 output channels
    ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 4, 3, 2), 41, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(4, 1, 3, 2), 42, 0.5);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(2), 43, 0.5);
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(w, true);
    ag_set_requires_grad(b, true);
    ag_conv2d_opts o = {.stride = {2, 1}, .padding = {1, 0}, .dilation = {1, 2},
                        .groups = 2, .output_padding = {1, 0}};
    agt_gradcheck(convt_fn, 3, (ag_tensor *[]){x, w, b}, &o, 1e-2, 1e-2, 1e-2, "convt");
    ag_tensor *xn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(1, 2, 3, 3), 44, 1.0));
    ag_tensor *wn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(2, 2, 2, 2), 45, 0.5));
    ag_set_requires_grad(xn, true);
    ag_set_requires_grad(wn, true);
    ag_conv2d_opts s = {.stride = {2, 2}};
    agt_gradcheck(convt_fn, 3, (ag_tensor *[]){xn, wn, NULL}, &s, 1e-2, 1e-2, 1e-2,
                  "convt strided");
    // 1x1 kernel, grouped (no column buffer); with output_padding it needs one
    ag_tensor *w1 = agt_randn(dev, AG_SHAPE(4, 3, 1, 1), 46, 0.5);
    ag_tensor *b1 = agt_randn(dev, AG_SHAPE(6), 47, 0.5);
    ag_set_requires_grad(w1, true);
    ag_set_requires_grad(b1, true);
    ag_conv2d_opts g2 = {.groups = 2};
    agt_gradcheck(convt_fn, 3, (ag_tensor *[]){x, w1, b1}, &g2, 1e-2, 1e-2, 1e-2, "convt 1x1");
    ag_conv2d_opts g2p = {.stride = {2, 1}, .groups = 2, .output_padding = {1, 0}};
    agt_gradcheck(convt_fn, 3, (ag_tensor *[]){x, w1, b1}, &g2p, 1e-2, 1e-2, 1e-2,
                  "convt 1x1 stride 2");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_conv_transpose2d_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    const char *op = "ag_conv_transpose2d";
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(1, 4, 3, 3));
    ag_tensor *w = ag_zeros(dev, AG_F32, AG_SHAPE(4, 2, 3, 3));
    ag_clear_error();
    agt_assert_error(ag_conv_transpose2d(NULL, w, NULL, NULL), op, NULL, "NULL x");
    ag_clear_error();
    agt_assert_error(ag_conv_transpose2d(x, NULL, NULL, NULL), op, NULL, "NULL w");
    agt_assert_error(ag_conv_transpose2d(x, ag_zeros(dev, AG_F32, AG_SHAPE(3, 2, 3, 3)), NULL,
                                         NULL),
                     op, "[1,4,3,3]", "channel mismatch");
    ag_conv2d_opts g3 = {.groups = 3};
    agt_assert_error(ag_conv_transpose2d(x, w, NULL, &g3), op, "groups", "groups");
    ag_conv2d_opts g2 = {.groups = 2};
    agt_assert_error(ag_conv_transpose2d(x, w, ag_zeros(dev, AG_F32, AG_SHAPE(2)), &g2), op,
                     "[2]", "bias vs groups*Cout");
    ag_conv2d_opts opad = {.stride = {2, 2}, .output_padding = {2, 0}};
    agt_assert_error(ag_conv_transpose2d(x, w, NULL, &opad), op, "output_padding", "opad");
    ag_conv2d_opts big = {.padding = {3, 3}};
    agt_assert_error(ag_conv_transpose2d(x, w, NULL, &big), op, "too small", "padding too large");
    agt_assert_error(ag_conv_transpose2d(ag_zeros(dev, AG_F32, AG_SHAPE(4)), w, NULL, NULL), op,
                     "[4]", "1-D x");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- against the CPU backend on larger shapes ---------------------------------------------- */

/* Runs conv (or its transpose) with backward on `dev` and on a separate CPU
 * device from the same data, and compares output and gradients. */
static void vs_cpu(ag_device *dev, bool transposed, const int64_t *xs, const int64_t *ws,
                   int64_t nb, const ag_conv2d_opts *o, const char *what)
{
    ag_device *cpu = ag_device_open("cpu");
    ck_assert_ptr_nonnull(cpu);
    ag_scope_begin();
    ag_tensor *in[2][3], *y[2];
    for (int d = 0; d < 2; d++) {
        ag_device *on = d ? cpu : dev;
        in[d][0] = agt_randn(on, 4, xs, 101, 1.0);
        in[d][1] = agt_randn(on, 4, ws, 102, 0.3);
        in[d][2] = agt_randn(on, 1, &nb, 103, 1.0);
        for (int k = 0; k < 3; k++) ag_set_requires_grad(in[d][k], true);
        y[d] = transposed ? ag_conv_transpose2d(in[d][0], in[d][1], in[d][2], o)
                          : ag_conv2d(in[d][0], in[d][1], in[d][2], o);
        ck_assert_msg(y[d] != NULL, "%s: %s", what, ag_last_error());
        ag_tensor *dy = agt_randn(on, ag_ndim(y[d]), ag_shape(y[d]), 104, 1.0);
        ck_assert_msg(ag_backward(y[d], dy) == AG_OK, "%s: %s", what, ag_last_error());
    }
    agt_assert_tensors_close(y[0], y[1], 1e-4, 1e-4, what);
    const char *names[3] = {"dx", "dw", "db"};
    for (int k = 0; k < 3; k++) {
        char w[128];
        snprintf(w, sizeof w, "%s %s", what, names[k]);
        agt_assert_tensors_close(ag_grad(in[0][k]), ag_grad(in[1][k]), 1e-3, 1e-4, w);
    }
    ag_scope_end();
    ag_device_close(cpu);
}

START_TEST(test_conv_vs_cpu)
{
    ag_device *dev = agt_open(_i);
    ag_conv2d_opts o = {.padding = {1, 1}, .groups = 2};
    vs_cpu(dev, false, (int64_t[]){4, 8, 13, 11}, (int64_t[]){16, 4, 3, 3}, 16, &o,
           "conv2d vs cpu");
    ag_conv2d_opts s = {.stride = {2, 2}, .padding = {2, 1}, .dilation = {2, 1}};
    vs_cpu(dev, false, (int64_t[]){3, 5, 16, 9}, (int64_t[]){7, 5, 5, 3}, 7, &s,
           "conv2d strided vs cpu");
    ag_conv2d_opts t = {.stride = {2, 2}, .padding = {1, 1}, .output_padding = {1, 1},
                        .groups = 2};
    vs_cpu(dev, true, (int64_t[]){3, 6, 7, 8}, (int64_t[]){6, 5, 4, 4}, 10, &t,
           "conv_transpose2d vs cpu");
    agt_close(dev);
}
END_TEST

/* Large batches are processed in slices (AG_CONV_CHUNK_ELEMS lowers the slice
 * size): the results must not depend on the slicing. */
START_TEST(test_conv_chunked)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(5, 4, 6, 5), 131, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(6, 2, 3, 3), 132, 0.5);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(6), 133, 0.5);
    ag_tensor *wt = agt_randn(dev, AG_SHAPE(4, 3, 2, 3), 134, 0.5);
    ag_conv2d_opts o = {.padding = {1, 0}, .groups = 2};
    ag_conv2d_opts ot = {.stride = {2, 1}, .groups = 2};
    ag_tensor *ins[3] = {x, w, wt};
    for (int k = 0; k < 3; k++) ag_set_requires_grad(ins[k], true);
    ag_tensor *y[2], *yt[2], *g[2][3];
    for (int chunked = 0; chunked < 2; chunked++) {
        if (chunked) setenv("AG_CONV_CHUNK_ELEMS", "400", 1); // one sample per slice
        y[chunked] = ag_conv2d(x, w, b, &o);
        yt[chunked] = ag_conv_transpose2d(x, wt, NULL, &ot);
        ag_tensor *loss = ag_add(ag_sum(ag_square(y[chunked]), 0, NULL, false),
                                 ag_sum(ag_square(yt[chunked]), 0, NULL, false));
        ag_status st = ag_backward(loss, NULL);
        unsetenv("AG_CONV_CHUNK_ELEMS");
        ck_assert_msg(st == AG_OK, "chunked backward: %s", ag_last_error());
        for (int k = 0; k < 3; k++) {
            g[chunked][k] = ag_retain(ag_grad(ins[k]));
            ag_zero_grad(ins[k]);
        }
    }
    agt_assert_tensors_close(y[1], y[0], 1e-5, 1e-5, "chunked conv2d");
    agt_assert_tensors_close(yt[1], yt[0], 1e-5, 1e-5, "chunked conv_transpose2d");
    const char *names[3] = {"chunked dx", "chunked dw", "chunked dw transposed"};
    for (int k = 0; k < 3; k++) {
        agt_assert_tensors_close(g[1][k], g[0][k], 1e-4, 1e-4, names[k]);
        ag_release(g[0][k]);
        ag_release(g[1][k]);
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* The weight gradient over large images (OH*OW >= 8192) sums products split
 * along the image (src/ops/conv.c, gemm_batch_sum): checked against a direct
 * sum on the host. */
START_TEST(test_conv_weight_grad_large_image)
{
    ag_device *dev = agt_open(_i);
    enum { NB = 2, C = 2, O = 3, H = 92, W = 92, KH = 3, KW = 3 };
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(NB, C, H, W), 141, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(O, C, KH, KW), 142, 0.5);
    ag_tensor *g = agt_randn(dev, AG_SHAPE(NB, O, H, W), 143, 1.0); /* dL/dy */
    ag_set_requires_grad(w, true);
    ag_conv2d_opts o = {.padding = {1, 1}};
    ag_tensor *loss = ag_sum(ag_mul(ag_conv2d(x, w, NULL, &o), g), 0, NULL, false);
    ck_assert_msg(loss && ag_backward(loss, NULL) == AG_OK, "%s", ag_last_error());
    float *hx = agt_read_f32(x), *hg = agt_read_f32(g), *dw = agt_read_f32(ag_grad(w));
    for (int oc = 0; oc < O; oc++)
        for (int c = 0; c < C; c++)
            for (int i = 0; i < KH; i++)
                for (int j = 0; j < KW; j++) {
                    double want = 0, mag = 0;
                    for (int n = 0; n < NB; n++)
                        for (int y = 0; y < H; y++)
                            for (int xx = 0; xx < W; xx++) {
                                int iy = y + i - 1, ix = xx + j - 1;
                                if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
                                double t = (double)hg[((n * O + oc) * H + y) * W + xx] *
                                           hx[((n * C + c) * H + iy) * W + ix];
                                want += t;
                                mag += fabs(t);
                            }
                    float got = dw[((oc * C + c) * KH + i) * KW + j];
                    ck_assert_msg(fabs(got - want) <= 1e-5 * mag + 1e-4,
                                  "dw[%d,%d,%d,%d] = %.7g, host sum %.7g", oc, c, i, j, got, want);
                }
    free(hx);
    free(hg);
    free(dw);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* A tiny CNN (conv → relu → max pool → linear → cross entropy) learns to tell
 * vertical from horizontal bars with plain gradient descent: the ops and their
 * gradients work together on every backend. */
START_TEST(test_conv_training)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    enum { B = 8 };
    float img[B * 36], lab[B];
    for (int b = 0; b < B; b++) {
        lab[b] = (float)(b % 2);
        for (int i = 0; i < 36; i++) {
            int r = i / 6, c = i % 6, pos = 1 + b % 4;
            img[b * 36 + i] = (b % 2 ? r == pos : c == pos) ? 1.0f : 0.0f;
        }
    }
    ag_tensor *x = ag_add(agt_tensor(dev, AG_SHAPE(B, 1, 6, 6), img),
                          agt_randn(dev, AG_SHAPE(B, 1, 6, 6), 141, 0.1));
    ag_tensor *y = ag_cast(agt_tensor(dev, AG_SHAPE(B), lab), AG_I32);
    ag_tensor *p[4] = {agt_randn(dev, AG_SHAPE(4, 1, 3, 3), 142, 0.5),
                       ag_zeros(dev, AG_F32, AG_SHAPE(4)),
                       agt_randn(dev, AG_SHAPE(2, 36), 143, 0.2),
                       ag_zeros(dev, AG_F32, AG_SHAPE(2))};
    for (int k = 0; k < 4; k++) ag_set_requires_grad(p[k], true);
    ag_conv2d_opts same = {.padding = {1, 1}};
    ag_pool2d_opts pool = {.kernel = {2, 2}};
    double first = 0, last = 0;
    for (int step = 0; step < 40; step++) {
        ag_scope_begin();
        ag_tensor *h = ag_max_pool2d(ag_relu(ag_conv2d(x, p[0], p[1], &same)), &pool); // [B,4,3,3]
        ag_tensor *logits = ag_linear(ag_flatten(h, 1, -1), p[2], p[3]);
        ag_tensor *loss = ag_cross_entropy(logits, y, NULL);
        ck_assert_msg(loss != NULL, "step %d: %s", step, ag_last_error());
        double l = ag_item(loss);
        if (step == 0) first = l;
        last = l;
        ck_assert_int_eq(ag_backward(loss, NULL), AG_OK);
        ag_no_grad_begin();
        for (int k = 0; k < 4; k++) {
            ck_assert_int_eq(ag_copy_(p[k], ag_sub(p[k], ag_mul_scalar(ag_grad(p[k]), 0.5))), AG_OK);
            ag_zero_grad(p[k]);
        }
        ag_no_grad_end();
        ag_scope_end();
    }
    ck_assert_msg(last < 0.25 * first, "loss %g → %g did not fall", first, last);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

static Suite *conv_suite(void)
{
    Suite *s = suite_create("conv");
    TCase *tc = tcase_create("conv");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_conv2d_hand);
    AGT_ADD_LOOP(tc, test_conv2d_golden);
    AGT_ADD_LOOP(tc, test_conv2d_gradcheck);
    AGT_ADD_LOOP(tc, test_conv2d_unbatched);
    AGT_ADD_LOOP(tc, test_conv2d_errors);
    AGT_ADD_LOOP(tc, test_conv_empty);
    AGT_ADD_LOOP(tc, test_conv_transpose2d_hand);
    AGT_ADD_LOOP(tc, test_conv_transpose2d_golden);
    AGT_ADD_LOOP(tc, test_conv_transpose2d_gradcheck);
    AGT_ADD_LOOP(tc, test_conv_transpose2d_errors);
    AGT_ADD_LOOP(tc, test_conv_vs_cpu);
    AGT_ADD_LOOP(tc, test_conv_chunked);
    AGT_ADD_LOOP(tc, test_conv_weight_grad_large_image);
    AGT_ADD_LOOP(tc, test_conv_training);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(conv_suite()); }
