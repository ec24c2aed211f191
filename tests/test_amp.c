/* tests/test_amp.c — mixed precision on every backend: gradients through
 * f16 / bf16 tensors, the autocast op lists, dynamic loss scaling, and
 * training under autocast.
 *
 * Tolerances, per dtype, relative: a 16-bit value is within 2^-11 (f16) or
 * 2^-8 (bf16) of the f32 one; a gradient computed through a few 16-bit
 * roundings gets 4e-3 (f16) and 3e-2 (bf16). */
#include "harness.h"
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

static const ag_dtype halfs[2] = {AG_F16, AG_BF16};

static double grad_rtol(ag_dtype t) { return t == AG_F16 ? 4e-3 : 3e-2; }

/* x random in [-scale, scale) as f32, its values representable in t. */
static ag_tensor *rounded(ag_device *dev, ag_dtype t, int ndim, const int64_t *shape, uint64_t seed,
                          double scale)
{
    ag_tensor *x = ag_cast(ag_cast(agt_randn(dev, ndim, shape, seed, scale), t), AG_F32);
    ck_assert_msg(x != NULL, "%s", ag_last_error());
    return x;
}

/* ---- Gradients through 16-bit tensors ------------------------------------------ */

typedef ag_tensor *(*op2)(ag_tensor *a, ag_tensor *b);

static ag_tensor *f_relu_mul(ag_tensor *a, ag_tensor *b) { return ag_mul(ag_relu(a), b); }
static ag_tensor *f_gelu_div(ag_tensor *a, ag_tensor *b) { return ag_div(ag_gelu(a), ag_add_scalar(ag_square(b), 1.0)); }
static ag_tensor *f_tanh_sigmoid(ag_tensor *a, ag_tensor *b) { return ag_sub(ag_tanh(a), ag_sigmoid(b)); }
static ag_tensor *f_silu_exp(ag_tensor *a, ag_tensor *b) { return ag_mul(ag_silu(a), ag_exp(ag_mul_scalar(b, 0.5))); }
static ag_tensor *f_matmul(ag_tensor *a, ag_tensor *b) { return ag_matmul(a, ag_transpose(b, 0, 1)); }
static ag_tensor *f_softmax(ag_tensor *a, ag_tensor *b) { return ag_mul(ag_softmax(a, 1), b); }
static ag_tensor *f_log_softmax(ag_tensor *a, ag_tensor *b) { return ag_mul(ag_log_softmax(a, 0), b); }
static ag_tensor *f_sum_mean(ag_tensor *a, ag_tensor *b)
{
    /* a row sum broadcast back over b, and a mean */
    return ag_add(ag_mul(ag_sum(a, 1, (int[]){1}, true), b), ag_mean(ag_mul(a, b), 0, NULL, false));
}
static ag_tensor *f_layer_norm(ag_tensor *a, ag_tensor *b)
{
    return ag_mul(ag_layer_norm(a, 1, (int64_t[]){12}, NULL, NULL, 1e-5), b);
}
static ag_tensor *f_views(ag_tensor *a, ag_tensor *b)
{
    ag_tensor *p = ag_reshape(ag_transpose(a, 0, 1), 2, (int64_t[]){12, 6});
    return ag_mul(ag_transpose(p, 0, 1), ag_contiguous(b));
}

/* For each op: the gradients of two 16-bit leaves (t) against those of f32
 * leaves holding the same values. The gradients have the leaves' dtype. */
START_TEST(test_half_gradients)
{
    static const struct { const char *name; op2 fn; } ops[] = {
        {"relu*", f_relu_mul}, {"gelu/", f_gelu_div}, {"tanh-sigmoid", f_tanh_sigmoid},
        {"silu*exp", f_silu_exp}, {"matmul", f_matmul}, {"softmax", f_softmax},
        {"log_softmax", f_log_softmax}, {"sum/mean", f_sum_mean}, {"layer_norm", f_layer_norm},
        {"views", f_views},
    };
    ag_device *dev = agt_open(_i);
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        for (size_t o = 0; o < sizeof ops / sizeof ops[0]; o++) {
            ag_scope_begin();
            ag_tensor *a = rounded(dev, t, AG_SHAPE(6, 12), 100 + o, 1.5);
            ag_tensor *b = rounded(dev, t, AG_SHAPE(6, 12), 200 + o, 1.5);
            ag_tensor *a16 = ag_cast(a, t), *b16 = ag_cast(b, t);
            ck_assert(ag_set_requires_grad(a, true) == AG_OK && ag_set_requires_grad(b, true) == AG_OK);
            ck_assert_msg(ag_set_requires_grad(a16, true) == AG_OK, "%s leaf: %s", ag_dtype_name(t),
                          ag_last_error());
            ck_assert(ag_set_requires_grad(b16, true) == AG_OK);
            ag_tensor *y = ops[o].fn(a, b), *y16 = ops[o].fn(a16, b16);
            ck_assert_msg(y16 != NULL, "%s %s forward: %s", ag_dtype_name(t), ops[o].name, ag_last_error());
            ck_assert_msg(ag_requires_grad(y16), "%s %s: the 16-bit result requires grad", ag_dtype_name(t),
                          ops[o].name);
            ck_assert_int_eq(ag_backward(ag_sum(y, 0, NULL, false), NULL), AG_OK);
            ck_assert_msg(ag_backward(ag_sum(y16, 0, NULL, false), NULL) == AG_OK, "%s %s backward: %s",
                          ag_dtype_name(t), ops[o].name, ag_last_error());
            ag_tensor *ga = ag_grad(a16), *gb = ag_grad(b16);
            ck_assert_msg(ga && gb, "%s %s: both leaves get a gradient", ag_dtype_name(t), ops[o].name);
            ck_assert_int_eq(ag_tensor_dtype(ga), t);
            ck_assert_int_eq(ag_tensor_dtype(gb), t);
            char what[96];
            snprintf(what, sizeof what, "%s %s d/da", ag_dtype_name(t), ops[o].name);
            agt_assert_tensors_close(ga, ag_grad(a), 2e-2, grad_rtol(t), what);
            snprintf(what, sizeof what, "%s %s d/db", ag_dtype_name(t), ops[o].name);
            agt_assert_tensors_close(gb, ag_grad(b), 2e-2, grad_rtol(t), what);
            ag_scope_end();
        }
    }
    /* integer tensors still cannot require grad */
    ag_scope_begin();
    ag_tensor *i = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){1, 2});
    ck_assert_int_eq(ag_set_requires_grad(i, true), AG_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ag_last_error(), "i32"));
    ag_scope_end();
    ck_assert_int_eq(ag_live_tensors(), 0);
    agt_close(dev);
}
END_TEST

/* A cast between float dtypes is differentiable: the gradient comes back
 * in the source's dtype (rounded where the cast rounded). */
START_TEST(test_cast_gradient)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(3), (float[]){1.0f, -2.0f, 0.5f});
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ag_tensor *h = ag_cast(x, AG_BF16);
    ck_assert(ag_requires_grad(h));
    /* d/dx sum(h * c) = c rounded to bf16 (1/3 is not a bf16 value) */
    ag_tensor *c = ag_full(dev, AG_BF16, AG_SHAPE(3), 1.0 / 3.0);
    ck_assert_int_eq(ag_backward(ag_sum(ag_mul(h, c), 0, NULL, false), NULL), AG_OK);
    ck_assert_int_eq(ag_tensor_dtype(ag_grad(x)), AG_F32);
    float third = 0.333984375f; /* 1/3 in bf16 */
    agt_assert_close(ag_grad(x), (float[]){third, third, third}, 3, 0, 0, "grad through bf16 cast");
    /* cast to an integer dtype records nothing */
    ck_assert(!ag_requires_grad(ag_cast(x, AG_I32)));
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Autocast ------------------------------------------------------------------- */

START_TEST(test_autocast_op_lists)
{
    ag_device *dev = agt_open(_i);
    ag_conv2d_opts same = {.padding = {1, 1}};
    ag_pool2d_opts pool = {.kernel = {2, 2}};
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_scope_begin();
        ag_tensor *x = agt_randn(dev, AG_SHAPE(4, 8), 1, 1.0), *w = agt_randn(dev, AG_SHAPE(5, 8), 2, 0.3);
        ag_tensor *b = agt_randn(dev, AG_SHAPE(5), 3, 0.1);
        ag_tensor *img = agt_randn(dev, AG_SHAPE(2, 3, 6, 6), 4, 1.0);
        ag_tensor *k = agt_randn(dev, AG_SHAPE(4, 3, 3, 3), 5, 0.3);
        ag_tensor *target = agt_tensor_i32(dev, AG_SHAPE(4), (int32_t[]){0, 4, 2, 1});
        ck_assert_int_eq(ag_autocast_dtype(), AG_F32);
        ck_assert_int_eq(ag_autocast_begin(t), AG_OK);
        ck_assert_int_eq(ag_autocast_dtype(), t);
        ag_tensor *mm = ag_matmul(x, ag_transpose(w, 0, 1));
        ag_tensor *lin = ag_linear(x, w, b);
        ag_tensor *cv = ag_conv2d(img, k, NULL, &same);
        ck_assert_msg(mm && lin && cv, "%s: %s", ag_dtype_name(t), ag_last_error());
        ck_assert_int_eq(ag_tensor_dtype(mm), t);
        ck_assert_int_eq(ag_tensor_dtype(lin), t);
        ck_assert_int_eq(ag_tensor_dtype(cv), t);
        /* others keep their inputs' dtype; the f32 list answers in f32 */
        ck_assert_int_eq(ag_tensor_dtype(ag_relu(lin)), t);
        ck_assert_int_eq(ag_tensor_dtype(ag_add(lin, b)), AG_F32);
        ck_assert_int_eq(ag_tensor_dtype(ag_softmax(lin, 1)), AG_F32);
        ck_assert_int_eq(ag_tensor_dtype(ag_layer_norm(lin, 1, (int64_t[]){5}, NULL, NULL, 1e-5)), AG_F32);
        ag_tensor *loss = ag_cross_entropy(lin, target, NULL);
        ck_assert_msg(loss != NULL, "%s cross_entropy: %s", ag_dtype_name(t), ag_last_error());
        ck_assert_int_eq(ag_tensor_dtype(loss), AG_F32);
        ag_tensor *mp = ag_max_pool2d(cv, &pool);
        ck_assert_msg(mp != NULL, "%s max_pool2d: %s", ag_dtype_name(t), ag_last_error());
        ck_assert_int_eq(ag_tensor_dtype(mp), AG_F32);
        /* autocast off inside */
        ck_assert_int_eq(ag_autocast_begin(AG_F32), AG_OK);
        ck_assert_int_eq(ag_tensor_dtype(ag_matmul(x, ag_transpose(w, 0, 1))), AG_F32);
        ck_assert_int_eq(ag_autocast_end(), AG_OK);
        ck_assert_int_eq(ag_autocast_end(), AG_OK);
        ck_assert_int_eq(ag_autocast_dtype(), AG_F32);
        /* outside: f32 again, and f32-kernel ops answer in their inputs' dtype */
        ck_assert_int_eq(ag_tensor_dtype(ag_linear(x, w, b)), AG_F32);
        ck_assert_int_eq(ag_tensor_dtype(ag_cross_entropy(lin, target, NULL)), t);
        ck_assert_int_eq(ag_tensor_dtype(ag_softmax(lin, 1)), t);
        /* values: the 16-bit results against f32 */
        agt_assert_tensors_close(mm, ag_matmul(x, ag_transpose(w, 0, 1)), 2e-2, 2 * grad_rtol(t), "matmul");
        agt_assert_tensors_close(lin, ag_linear(x, w, b), 2e-2, 2 * grad_rtol(t), "linear");
        agt_assert_tensors_close(cv, ag_conv2d(img, k, NULL, &same), 3e-2, 2 * grad_rtol(t), "conv2d");
        /* linear: one rounding of the f32 result on the rounded operands */
        ag_tensor *r = ag_cast(ag_linear(ag_cast(ag_cast(x, t), AG_F32), ag_cast(ag_cast(w, t), AG_F32),
                                         ag_cast(ag_cast(b, t), AG_F32)), t);
        agt_assert_tensors_close(lin, r, 0, 0, "linear rounds once");
        ag_scope_end();
    }
    /* errors */
    ck_assert_int_eq(ag_autocast_end(), AG_ERR_INVALID);
    ck_assert_int_eq(ag_autocast_begin(AG_I32), AG_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ag_last_error(), "i32"));
    int opened = 0;
    while (ag_autocast_begin(AG_BF16) == AG_OK) opened++;
    ck_assert_int_eq(opened, 64);
    while (opened--) ck_assert_int_eq(ag_autocast_end(), AG_OK);
    ck_assert_int_eq(ag_autocast_dtype(), AG_F32);
    ck_assert_int_eq(ag_live_tensors(), 0);
    agt_close(dev);
}
END_TEST

/* A small CNN step under autocast: the parameters' gradients are f32 and
 * close to the f32 step's. */
typedef struct cnn {
    ag_tensor *k, *kb, *w, *b;
} cnn;

static ag_tensor *cnn_loss(const cnn *m, ag_tensor *x, ag_tensor *target)
{
    ag_conv2d_opts same = {.padding = {1, 1}};
    ag_pool2d_opts pool = {.kernel = {2, 2}};
    ag_tensor *y = ag_max_pool2d(ag_relu(ag_conv2d(x, m->k, m->kb, &same)), &pool); /* [N, 4, 4, 4] */
    y = ag_linear(ag_flatten(y, 1, -1), m->w, m->b);                                  /* [N, 3] */
    return ag_cross_entropy(y, target, NULL);
}

static cnn cnn_new(ag_device *dev)
{
    cnn m = {agt_randn(dev, AG_SHAPE(4, 2, 3, 3), 11, 0.4), agt_randn(dev, AG_SHAPE(4), 12, 0.1),
             agt_randn(dev, AG_SHAPE(3, 64), 13, 0.2), agt_randn(dev, AG_SHAPE(3), 14, 0.1)};
    ag_tensor *all[4] = {m.k, m.kb, m.w, m.b};
    for (int i = 0; i < 4; i++) ck_assert_int_eq(ag_set_requires_grad(all[i], true), AG_OK);
    return m;
}

START_TEST(test_autocast_gradients)
{
    ag_device *dev = agt_open(_i);
    for (int h = 0; h < 2; h++) {
        ag_dtype t = halfs[h];
        ag_scope_begin();
        cnn m = cnn_new(dev);
        ag_tensor *x = agt_randn(dev, AG_SHAPE(5, 2, 8, 8), 15, 1.0);
        ag_tensor *target = agt_tensor_i32(dev, AG_SHAPE(5), (int32_t[]){0, 2, 1, 1, 0});
        ag_tensor *all[4] = {m.k, m.kb, m.w, m.b}, *ref[4];
        ck_assert_int_eq(ag_backward(cnn_loss(&m, x, target), NULL), AG_OK);
        for (int i = 0; i < 4; i++) {
            ref[i] = ag_clone(ag_grad(all[i]));
            ag_zero_grad(all[i]);
        }
        ck_assert_int_eq(ag_autocast_begin(t), AG_OK);
        ag_tensor *loss = cnn_loss(&m, x, target);
        ck_assert_int_eq(ag_autocast_end(), AG_OK);
        ck_assert_msg(loss != NULL, "%s: %s", ag_dtype_name(t), ag_last_error());
        ck_assert_int_eq(ag_tensor_dtype(loss), AG_F32);
        ck_assert_msg(ag_backward(loss, NULL) == AG_OK, "%s backward: %s", ag_dtype_name(t), ag_last_error());
        for (int i = 0; i < 4; i++) {
            ck_assert_int_eq(ag_tensor_dtype(ag_grad(all[i])), AG_F32);
            agt_assert_tensors_close(ag_grad(all[i]), ref[i], 1e-2, 8 * grad_rtol(t), "autocast grad");
        }
        ag_scope_end();
    }
    ck_assert_int_eq(ag_live_tensors(), 0);
    agt_close(dev);
}
END_TEST

/* ---- Loss scaling ------------------------------------------------------------------ */

START_TEST(test_grad_scaler)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *p = agt_tensor(dev, AG_SHAPE(3), (float[]){1.0f, 2.0f, -1.0f});
    ag_tensor *q = agt_tensor(dev, AG_SHAPE(3), (float[]){1.0f, 2.0f, -1.0f});
    ck_assert(ag_set_requires_grad(p, true) == AG_OK && ag_set_requires_grad(q, true) == AG_OK);
    ag_optimizer *op = ag_optim_sgd(&p, 1, &(ag_sgd_opts){.lr = 0.1});
    ag_optimizer *oq = ag_optim_sgd(&q, 1, &(ag_sgd_opts){.lr = 0.1});
    ag_grad_scaler *s = ag_grad_scaler_new(&(ag_grad_scaler_opts){.init_scale = 1024, .growth_interval = 2});
    ck_assert_ptr_nonnull(s);
    ck_assert_double_eq(ag_grad_scaler_get_scale(s), 1024);
    ag_tensor *c = agt_tensor(dev, AG_SHAPE(3), (float[]){0.3f, -0.7f, 1e-3f});
    for (int step = 0; step < 2; step++) {
        /* scaled and unscaled steps give the same bits (a power-of-two scale) */
        ag_scope_begin();
        ag_tensor *sl = ag_grad_scaler_scale(s, ag_sum(ag_mul(p, c), 0, NULL, false));
        ck_assert_double_eq_tol(ag_item(sl), ag_grad_scaler_get_scale(s) * ag_item(ag_sum(ag_mul(q, c), 0, NULL, false)), 1e-3);
        ag_optimizer_zero_grad(op);
        ag_optimizer_zero_grad(oq);
        ck_assert_int_eq(ag_backward(sl, NULL), AG_OK);
        ck_assert_int_eq(ag_backward(ag_sum(ag_mul(q, c), 0, NULL, false), NULL), AG_OK);
        bool stepped = false;
        ck_assert_int_eq(ag_grad_scaler_step(s, op, &stepped), AG_OK);
        ck_assert(stepped);
        ck_assert_int_eq(ag_optimizer_step(oq), AG_OK);
        agt_assert_tensors_close(ag_grad(p), ag_grad(q), 0, 0, "unscaled gradient");
        agt_assert_tensors_close(p, q, 0, 0, "scaled step");
        ck_assert_int_eq(ag_grad_scaler_update(s), AG_OK);
        ag_scope_end();
    }
    /* two good steps with growth_interval 2: the scale doubled */
    ck_assert_double_eq(ag_grad_scaler_get_scale(s), 2048);
    /* an inf gradient: the step is skipped, the scale backs off */
    float before[3];
    ck_assert_int_eq(ag_tensor_read(p, before, sizeof before), AG_OK);
    ag_optimizer_zero_grad(op);
    ck_assert_int_eq(ag_set_grad(p, agt_tensor(dev, AG_SHAPE(3), (float[]){1.0f, INFINITY, 0.0f})), AG_OK);
    bool stepped = true;
    ck_assert_int_eq(ag_grad_scaler_step(s, op, &stepped), AG_OK);
    ck_assert(!stepped);
    agt_assert_close(p, before, 3, 0, 0, "skipped step leaves the parameters");
    ck_assert_int_eq(ag_grad_scaler_update(s), AG_OK);
    ck_assert_double_eq(ag_grad_scaler_get_scale(s), 1024);
    ck_assert_int_eq(ag_grad_scaler_skipped(s), 1);
    /* NaN too */
    ck_assert_int_eq(ag_set_grad(p, agt_tensor(dev, AG_SHAPE(3), (float[]){NAN, 0.0f, 0.0f})), AG_OK);
    ck_assert_int_eq(ag_grad_scaler_step(s, op, &stepped), AG_OK);
    ck_assert(!stepped);
    ck_assert_int_eq(ag_grad_scaler_update(s), AG_OK);
    ck_assert_double_eq(ag_grad_scaler_get_scale(s), 512);
    /* misuse */
    ck_assert_int_eq(ag_grad_scaler_update(s), AG_ERR_INVALID);
    ck_assert_int_eq(ag_set_grad(p, agt_tensor(dev, AG_SHAPE(3), (float[]){1, 1, 1})), AG_OK);
    ck_assert_int_eq(ag_grad_scaler_unscale(s, op), AG_OK);
    ck_assert_int_eq(ag_grad_scaler_unscale(s, op), AG_ERR_INVALID);
    ck_assert_ptr_nonnull(strstr(ag_last_error(), "already"));
    agt_assert_close(ag_grad(p), (float[]){1.0f / 512, 1.0f / 512, 1.0f / 512}, 3, 0, 0, "unscaled once");
    ck_assert_int_eq(ag_grad_scaler_step(s, op, &stepped), AG_OK); /* uses the unscale above */
    ck_assert(stepped);
    /* a second step on the same gradients is refused and changes nothing */
    float once[3];
    ck_assert_int_eq(ag_tensor_read(p, once, sizeof once), AG_OK);
    ck_assert_int_eq(ag_grad_scaler_step(s, op, &stepped), AG_ERR_INVALID);
    ck_assert(!stepped);
    ck_assert_ptr_nonnull(strstr(ag_last_error(), "ag_grad_scaler_step"));
    agt_assert_close(p, once, 3, 0, 0, "one optimizer step per scaler step");
    ck_assert_int_eq(ag_grad_scaler_update(s), AG_OK);
    ck_assert_ptr_null(ag_grad_scaler_new(&(ag_grad_scaler_opts){.backoff_factor = 1.5}));
    ck_assert_ptr_nonnull(strstr(ag_last_error(), "backoff_factor"));
    ck_assert_ptr_null(ag_grad_scaler_new(&(ag_grad_scaler_opts){.init_scale = -1}));
    ck_assert_int_eq(ag_grad_scaler_step(NULL, op, NULL), AG_ERR_INVALID);
    /* disabled: scale 1, nothing skipped */
    ag_grad_scaler *d = ag_grad_scaler_new(&(ag_grad_scaler_opts){.disabled = true});
    ck_assert_double_eq(ag_grad_scaler_get_scale(d), 1);
    ck_assert_int_eq(ag_set_grad(p, agt_tensor(dev, AG_SHAPE(3), (float[]){INFINITY, 0, 0})), AG_OK);
    ck_assert_int_eq(ag_grad_scaler_step(d, op, &stepped), AG_OK);
    ck_assert(stepped);
    ck_assert_int_eq(ag_grad_scaler_update(d), AG_OK);
    ag_grad_scaler_free(d);
    ag_grad_scaler_free(s);
    ag_optimizer_free(op);
    ag_optimizer_free(oq);
    ag_scope_end();
    ck_assert_int_eq(ag_live_tensors(), 0);
    agt_close(dev);
}
END_TEST

/* f16 gradients that underflow without scaling train with it: a loss scaled
 * down by 2^-20 gives all-zero f16 gradients at the 16-bit layer, the
 * scaler's 2^16 brings them back. */
START_TEST(test_scaler_rescues_underflow)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(8, 16), 21, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(4, 16), 22, 0.3);
    ck_assert_int_eq(ag_set_requires_grad(w, true), AG_OK);
    for (int scaled = 0; scaled < 2; scaled++) {
        ag_scope_begin();
        ag_zero_grad(w);
        ag_grad_scaler *s = ag_grad_scaler_new(&(ag_grad_scaler_opts){.disabled = !scaled});
        ag_autocast_begin(AG_F16);
        ag_tensor *y = ag_linear(x, w, NULL);
        ag_autocast_end();
        ag_tensor *loss = ag_mul_scalar(ag_sum(ag_square(ag_cast(y, AG_F32)), 0, NULL, false), 0x1p-30);
        ck_assert_int_eq(ag_backward(ag_grad_scaler_scale(s, loss), NULL), AG_OK);
        ag_optimizer *opt = ag_optim_sgd(&w, 1, &(ag_sgd_opts){.lr = 1e-3});
        ck_assert_int_eq(ag_grad_scaler_unscale(s, opt), AG_OK);
        double gmax = ag_item(ag_max(ag_abs(ag_grad(w)), 0, NULL, false));
        if (scaled)
            ck_assert_msg(gmax > 1e-9, "scaled f16 gradients survive (max %g)", gmax);
        else
            ck_assert_msg(gmax == 0, "unscaled f16 gradients of a 2^-30 loss underflow (max %g)", gmax);
        ag_optimizer_free(opt);
        ag_grad_scaler_free(s);
        ag_scope_end();
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Twenty steps of the small CNN with Adam in f32, in bf16 autocast and in
 * f16 autocast with loss scaling: the 16-bit runs learn like the f32 run. */
START_TEST(test_autocast_training)
{
    ag_device *dev = agt_open(_i);
    ag_dtype modes[3] = {AG_F32, AG_BF16, AG_F16};
    double first[3], last[3];
    for (int mo = 0; mo < 3; mo++) {
        ag_scope_begin();
        cnn m = cnn_new(dev);
        ag_tensor *params[4] = {m.k, m.kb, m.w, m.b};
        ag_optimizer *opt = ag_optim_adam(params, 4, &(ag_adam_opts){.lr = 1e-2});
        ag_grad_scaler *s = ag_grad_scaler_new(&(ag_grad_scaler_opts){.disabled = modes[mo] != AG_F16});
        ag_tensor *x = agt_randn(dev, AG_SHAPE(12, 2, 8, 8), 31, 1.0);
        int32_t labels[12];
        for (int i = 0; i < 12; i++) labels[i] = i % 3;
        ag_tensor *target = agt_tensor_i32(dev, AG_SHAPE(12), labels);
        for (int step = 0; step < 20; step++) {
            ag_scope_begin();
            ck_assert_int_eq(ag_autocast_begin(modes[mo]), AG_OK);
            ag_tensor *loss = cnn_loss(&m, x, target);
            ck_assert_int_eq(ag_autocast_end(), AG_OK);
            ck_assert_msg(loss != NULL, "%s: %s", ag_dtype_name(modes[mo]), ag_last_error());
            double v = ag_item(loss);
            if (step == 0) first[mo] = v;
            last[mo] = v;
            ag_optimizer_zero_grad(opt);
            ck_assert_int_eq(ag_backward(ag_grad_scaler_scale(s, loss), NULL), AG_OK);
            ck_assert_int_eq(ag_grad_scaler_step(s, opt, NULL), AG_OK);
            ck_assert_int_eq(ag_grad_scaler_update(s), AG_OK);
            ag_scope_end();
        }
        /* f16: the first steps may overflow at 2^16 and back off (as
         * PyTorch's scaler does); each skip halves the scale */
        int64_t skipped = ag_grad_scaler_skipped(s);
        ck_assert_msg(skipped <= (modes[mo] == AG_F16 ? 4 : 0), "%s: %lld steps skipped",
                      ag_dtype_name(modes[mo]), (long long)skipped);
        if (modes[mo] == AG_F16)
            ck_assert_double_eq(ag_grad_scaler_get_scale(s), ldexp(65536.0, -(int)skipped));
        ag_grad_scaler_free(s);
        ag_optimizer_free(opt);
        ag_scope_end();
    }
    for (int mo = 0; mo < 3; mo++) {
        ck_assert_msg(last[mo] < 0.5 * first[mo], "%s: loss %g -> %g", ag_dtype_name(modes[mo]), first[mo],
                      last[mo]);
        ck_assert_msg(fabs(first[mo] - first[0]) < 0.02, "%s first loss %g vs f32 %g", ag_dtype_name(modes[mo]),
                      first[mo], first[0]);
        ck_assert_msg(fabs(last[mo] - last[0]) < 0.1 + 0.2 * last[0], "%s last loss %g vs f32 %g",
                      ag_dtype_name(modes[mo]), last[mo], last[0]);
    }
    ck_assert_int_eq(ag_live_tensors(), 0);
    agt_close(dev);
}
END_TEST

static Suite *amp_suite(void)
{
    Suite *s = suite_create("amp");
    TCase *tc = tcase_create("amp");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_half_gradients);
    AGT_ADD_LOOP(tc, test_cast_gradient);
    AGT_ADD_LOOP(tc, test_autocast_op_lists);
    AGT_ADD_LOOP(tc, test_autocast_gradients);
    AGT_ADD_LOOP(tc, test_grad_scaler);
    AGT_ADD_LOOP(tc, test_scaler_rescues_underflow);
    AGT_ADD_LOOP(tc, test_autocast_training);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(amp_suite()); }
