/* src/nn/layers.c — Linear, Conv2d, ConvTranspose2d, norms, Dropout, Embedding,
 * pooling, Flatten and the activation modules. */
#include "module.h"

#include <math.h>
#include <string.h>

#define W(m) agi_module_tensor((m), "weight")
#define B(m) agi_module_tensor((m), "bias")

/* Adds weight and optional bias with PyTorch's kaiming_uniform(a=sqrt(5))
 * default: both U(-1/sqrt(fan_in), 1/sqrt(fan_in)). A failure is reported
 * as op's. */
static ag_module *with_weight_bias(const char *op, ag_module *m, ag_device *dev, int ndim,
                                   const int64_t *wshape, int64_t fan_in, int64_t bias_len,
                                   bool bias)
{
    if (!m) return NULL;
    double bound = fan_in > 0 ? 1.0 / sqrt((double)fan_in) : 0.0;
    if (agi_module_add_tensor(m, "weight", agi_param_uniform(dev, ndim, wshape, bound), true) != AG_OK ||
        (bias && agi_module_add_tensor(m, "bias", agi_param_uniform(dev, 1, (int64_t[]){bias_len}, bound),
                                       true) != AG_OK)) {
        agi_error_in(op);
        ag_module_free(m);
        return NULL;
    }
    return m;
}

/* The device a constructor creates its tensors on: open and not NULL. */
static bool check_device(const char *op, const ag_device *dev)
{
    if (dev) return agi_device_alive(op, dev);
    agi_error(AG_ERR_INVALID, op, "device is NULL");
    return false;
}

/* eps of a norm: finite and >= 0, like ag_layer_norm's. */
static bool check_eps(const char *op, const char *type, double eps)
{
    if (isfinite(eps) && eps >= 0) return true;
    agi_error(AG_ERR_INVALID, op, "%s eps must be finite and >= 0, got %g", type, eps);
    return false;
}

static bool check_positive(const char *op, int64_t a, int64_t b)
{
    if (a > 0 && b > 0) return true;
    agi_error(AG_ERR_INVALID, op, "sizes must be positive, got %lld and %lld", (long long)a,
              (long long)b);
    return false;
}

/* ---- Linear ---------------------------------------------------------------------- */

static ag_tensor *linear_forward(ag_module *m, const ag_tensor *x)
{
    return ag_linear(x, W(m), B(m)); // x: [..., in] → [..., out]
}

ag_module *ag_nn_linear(ag_device *dev, int64_t in_features, int64_t out_features, bool bias)
{
    const char *op = "ag_nn_linear";
    if (!check_device(op, dev) || !check_positive(op, in_features, out_features)) return NULL;
    return with_weight_bias(op, agi_module_new("Linear", linear_forward), dev, 2,
                            (int64_t[]){out_features, in_features}, in_features, out_features, bias);
}

/* ---- Convolutions ------------------------------------------------------------------ */

static ag_tensor *conv2d_forward(ag_module *m, const ag_tensor *x)
{
    return ag_conv2d(x, W(m), B(m), &m->conv); // x: [N, C, H, W]
}

static ag_tensor *conv_transpose2d_forward(ag_module *m, const ag_tensor *x)
{
    return ag_conv_transpose2d(x, W(m), B(m), &m->conv);
}

static ag_conv2d_opts conv_defaults(const ag_conv2d_opts *opts)
{
    ag_conv2d_opts o = opts ? *opts : (ag_conv2d_opts){0};
    if (o.groups <= 0) o.groups = 1;
    return o;
}

ag_module *ag_nn_conv2d(ag_device *dev, int64_t in_channels, int64_t out_channels, int kernel_h,
                        int kernel_w, const ag_conv2d_opts *opts, bool bias)
{
    const char *op = "ag_nn_conv2d";
    ag_conv2d_opts o = conv_defaults(opts);
    if (!check_device(op, dev) || !check_positive(op, in_channels, out_channels) ||
        !check_positive(op, kernel_h, kernel_w) || !agi_conv_opts_check(op, opts, false))
        return NULL;
    if (in_channels % o.groups || out_channels % o.groups) {
        agi_error(AG_ERR_INVALID, op, "channels %lld→%lld not divisible by groups %d",
                  (long long)in_channels, (long long)out_channels, o.groups);
        return NULL;
    }
    ag_module *m = agi_module_new("Conv2d", conv2d_forward);
    if (m) m->conv = o;
    int64_t cin = in_channels / o.groups;
    return with_weight_bias(op, m, dev, 4, (int64_t[]){out_channels, cin, kernel_h, kernel_w},
                            cin * kernel_h * kernel_w, out_channels, bias);
}

ag_module *ag_nn_conv_transpose2d(ag_device *dev, int64_t in_channels, int64_t out_channels,
                                  int kernel_h, int kernel_w, const ag_conv2d_opts *opts, bool bias)
{
    const char *op = "ag_nn_conv_transpose2d";
    ag_conv2d_opts o = conv_defaults(opts);
    if (!check_device(op, dev) || !check_positive(op, in_channels, out_channels) ||
        !check_positive(op, kernel_h, kernel_w) || !agi_conv_opts_check(op, opts, true))
        return NULL;
    if (in_channels % o.groups || out_channels % o.groups) {
        agi_error(AG_ERR_INVALID, op, "channels %lld→%lld not divisible by groups %d",
                  (long long)in_channels, (long long)out_channels, o.groups);
        return NULL;
    }
    ag_module *m = agi_module_new("ConvTranspose2d", conv_transpose2d_forward);
    if (m) m->conv = o;
    int64_t cout = out_channels / o.groups;
    /* PyTorch computes fan_in from weight.size(1) * kh * kw for transposed convs. */
    return with_weight_bias(op, m, dev, 4, (int64_t[]){in_channels, cout, kernel_h, kernel_w},
                            cout * kernel_h * kernel_w, out_channels, bias);
}

/* ---- Normalisation ------------------------------------------------------------------- */

static ag_tensor *batch_norm_forward(ag_module *m, const ag_tensor *x)
{
    int want = (int)m->i[0]; /* 1d: 2 or 3 dims, 2d: 4 dims */
    int nd = ag_ndim(x);
    if ((want == 1 && nd != 2 && nd != 3) || (want == 2 && nd != 4)) {
        char buf[192];
        agi_error(AG_ERR_INVALID, m->type, "expected %s input, got %s",
                  want == 1 ? "[N, C] or [N, C, L]" : "[N, C, H, W]",
                  agi_fmt_shape(buf, x->ndim, x->shape));
        return NULL;
    }
    ag_tensor *y;
    if (m->f[1] == AG_MOMENTUM_CUMULATIVE)
        y = agi_batch_norm_cumulative(x, agi_module_tensor(m, "running_mean"),
                                      agi_module_tensor(m, "running_var"), W(m), B(m), m->training,
                                      agi_module_tensor(m, "num_batches_tracked"), m->f[0]);
    else
        y = ag_batch_norm(x, agi_module_tensor(m, "running_mean"),
                          agi_module_tensor(m, "running_var"), W(m), B(m), m->training, m->f[1],
                          m->f[0]);
    if (y && m->training) {
        ag_tensor *count = agi_module_tensor(m, "num_batches_tracked");
        ag_no_grad_begin();
        ag_status st = ag_copy_(count, ag_add_scalar(count, 1.0));
        ag_no_grad_end();
        if (st != AG_OK) return NULL;
    }
    return y;
}

static ag_module *batch_norm(const char *op, const char *type, int kind, ag_device *dev, int64_t c,
                             double eps, double momentum)
{
    if (!check_device(op, dev) || !check_positive(op, c, 1) || !check_eps(op, type, eps))
        return NULL;
    if (!(momentum >= 0.0 && momentum <= 1.0) && momentum != AG_MOMENTUM_CUMULATIVE) {
        agi_error(AG_ERR_INVALID, op, "%s momentum %g is not in [0, 1] nor AG_MOMENTUM_CUMULATIVE",
                  type, momentum);
        return NULL;
    }
    ag_module *m = agi_module_new(type, batch_norm_forward);
    if (!m) return NULL;
    m->i[0] = kind;
    m->f[0] = eps;
    m->f[1] = momentum;
    int64_t shape[1] = {c};
    if (agi_module_add_tensor(m, "weight", agi_param_full(dev, AG_F32, 1, shape, 1.0, true), true) ||
        agi_module_add_tensor(m, "bias", agi_param_full(dev, AG_F32, 1, shape, 0.0, true), true) ||
        agi_module_add_tensor(m, "running_mean", agi_param_full(dev, AG_F32, 1, shape, 0.0, false), false) ||
        agi_module_add_tensor(m, "running_var", agi_param_full(dev, AG_F32, 1, shape, 1.0, false), false) ||
        agi_module_add_tensor(m, "num_batches_tracked", agi_param_full(dev, AG_I32, 0, NULL, 0.0, false),
                              false)) {
        agi_error_in(op);
        ag_module_free(m);
        return NULL;
    }
    return m;
}

ag_module *ag_nn_batch_norm1d(ag_device *dev, int64_t num_features, double eps, double momentum)
{
    return batch_norm("ag_nn_batch_norm1d", "BatchNorm1d", 1, dev, num_features, eps, momentum);
}

ag_module *ag_nn_batch_norm2d(ag_device *dev, int64_t num_features, double eps, double momentum)
{
    return batch_norm("ag_nn_batch_norm2d", "BatchNorm2d", 2, dev, num_features, eps, momentum);
}

static ag_tensor *layer_norm_forward(ag_module *m, const ag_tensor *x)
{
    return ag_layer_norm(x, 1, &m->i[0], W(m), B(m), m->f[0]);
}

static ag_tensor *rms_norm_forward(ag_module *m, const ag_tensor *x)
{
    return ag_rms_norm(x, 1, &m->i[0], W(m), m->f[0]);
}

static ag_module *norm_module(const char *op, const char *type, agi_forward_fn fwd,
                              ag_device *dev, int64_t dim, double eps, bool bias)
{
    if (!check_device(op, dev) || !check_positive(op, dim, 1) || !check_eps(op, type, eps))
        return NULL;
    ag_module *m = agi_module_new(type, fwd);
    if (!m) return NULL;
    m->i[0] = dim;
    m->f[0] = eps;
    int64_t shape[1] = {dim};
    if (agi_module_add_tensor(m, "weight", agi_param_full(dev, AG_F32, 1, shape, 1.0, true), true) ||
        (bias && agi_module_add_tensor(m, "bias", agi_param_full(dev, AG_F32, 1, shape, 0.0, true), true))) {
        agi_error_in(op);
        ag_module_free(m);
        return NULL;
    }
    return m;
}

ag_module *ag_nn_layer_norm(ag_device *dev, int64_t dim, double eps)
{
    return norm_module("ag_nn_layer_norm", "LayerNorm", layer_norm_forward, dev, dim, eps, true);
}

ag_module *ag_nn_rms_norm(ag_device *dev, int64_t dim, double eps)
{
    return norm_module("ag_nn_rms_norm", "RMSNorm", rms_norm_forward, dev, dim, eps, false);
}

/* ---- Dropout and Embedding ------------------------------------------------------------ */

static ag_tensor *dropout_forward(ag_module *m, const ag_tensor *x)
{
    return ag_dropout(x, m->f[0], m->training);
}

ag_module *ag_nn_dropout(double p)
{
    if (!(p >= 0.0 && p <= 1.0)) {
        agi_error(AG_ERR_INVALID, "ag_nn_dropout", "p must be in [0, 1], got %g", p);
        return NULL;
    }
    ag_module *m = agi_module_new("Dropout", dropout_forward);
    if (m) m->f[0] = p;
    return m;
}

/* f[0] = 1 with padding row f[1]. */
static ag_tensor *embedding_forward(ag_module *m, const ag_tensor *x)
{
    // x: i32 [...] → [..., dim]
    if (m->f[0] != 0) return ag_embedding_padded(x, W(m), (int64_t)m->f[1]);
    return ag_embedding(x, W(m));
}

static ag_module *embedding_new(const char *op, ag_device *dev, int64_t num, int64_t dim,
                                bool padded, int64_t padding_idx)
{
    if (!check_device(op, dev) || !check_positive(op, num, dim)) return NULL;
    if (padded && (padding_idx < -num || padding_idx >= num)) {
        agi_error(AG_ERR_INVALID, op, "padding_idx %lld out of range for %lld embeddings",
                  (long long)padding_idx, (long long)num);
        return NULL;
    }
    if (padding_idx < 0) padding_idx += num;
    ag_module *m = agi_module_new("Embedding", embedding_forward);
    if (!m) return NULL;
    m->f[0] = padded;
    m->f[1] = (double)padding_idx;
    ag_scope_begin();
    ag_tensor *w = ag_retain(ag_randn(dev, 2, (int64_t[]){num, dim}));
    if (w && padded) { /* the padding row starts at zero, like PyTorch */
        ag_tensor *row = ag_select(w, 0, padding_idx);
        if (!row || ag_fill_(row, 0.0) != AG_OK) {
            ag_release(w);
            w = NULL;
        }
    }
    ag_scope_end();
    if (w) ag_set_requires_grad(w, true);
    if (agi_module_add_tensor(m, "weight", w, true) != AG_OK) {
        agi_error_in(op);
        ag_module_free(m);
        return NULL;
    }
    return m;
}

ag_module *ag_nn_embedding(ag_device *dev, int64_t num, int64_t dim)
{
    return embedding_new("ag_nn_embedding", dev, num, dim, false, 0);
}

ag_module *ag_nn_embedding_padded(ag_device *dev, int64_t num, int64_t dim, int64_t padding_idx)
{
    return embedding_new("ag_nn_embedding_padded", dev, num, dim, true, padding_idx);
}

/* ---- Pooling and Flatten ---------------------------------------------------------------- */

static ag_tensor *max_pool_forward(ag_module *m, const ag_tensor *x) { return ag_max_pool2d(x, &m->pool); }
static ag_tensor *avg_pool_forward(ag_module *m, const ag_tensor *x) { return ag_avg_pool2d(x, &m->pool); }
static ag_tensor *adaptive_forward(ag_module *m, const ag_tensor *x)
{
    return ag_adaptive_avg_pool2d(x, m->i[0], m->i[1]);
}

static ag_module *pool_module(const char *op, const char *type, agi_forward_fn fwd,
                              const ag_pool2d_opts *opts)
{
    if (!agi_pool_opts_check(op, opts, fwd == max_pool_forward)) return NULL;
    ag_module *m = agi_module_new(type, fwd);
    if (m) m->pool = *opts;
    return m;
}

ag_module *ag_nn_max_pool2d(const ag_pool2d_opts *opts)
{
    return pool_module("ag_nn_max_pool2d", "MaxPool2d", max_pool_forward, opts);
}

ag_module *ag_nn_avg_pool2d(const ag_pool2d_opts *opts)
{
    return pool_module("ag_nn_avg_pool2d", "AvgPool2d", avg_pool_forward, opts);
}

ag_module *ag_nn_adaptive_avg_pool2d(int64_t out_h, int64_t out_w)
{
    if (!check_positive("ag_nn_adaptive_avg_pool2d", out_h, out_w)) return NULL;
    ag_module *m = agi_module_new("AdaptiveAvgPool2d", adaptive_forward);
    if (m) {
        m->i[0] = out_h;
        m->i[1] = out_w;
    }
    return m;
}

static ag_tensor *flatten_forward(ag_module *m, const ag_tensor *x)
{
    return ag_flatten(x, (int)m->i[0], (int)m->i[1]);
}

ag_module *ag_nn_flatten(int start_dim, int end_dim)
{
    ag_module *m = agi_module_new("Flatten", flatten_forward);
    if (m) {
        m->i[0] = start_dim;
        m->i[1] = end_dim;
    }
    return m;
}

/* ---- Activations --------------------------------------------------------------------------- */

static ag_tensor *relu_forward(ag_module *m, const ag_tensor *x) { return ag_relu(x); }
static ag_tensor *leaky_forward(ag_module *m, const ag_tensor *x) { return ag_leaky_relu(x, m->f[0]); }
static ag_tensor *gelu_forward(ag_module *m, const ag_tensor *x)
{
    return m->i[0] ? ag_gelu_tanh(x) : ag_gelu(x);
}
static ag_tensor *silu_forward(ag_module *m, const ag_tensor *x) { return ag_silu(x); }
static ag_tensor *sigmoid_forward(ag_module *m, const ag_tensor *x) { return ag_sigmoid(x); }
static ag_tensor *tanh_forward(ag_module *m, const ag_tensor *x) { return ag_tanh(x); }
static ag_tensor *softplus_forward(ag_module *m, const ag_tensor *x)
{
    return ag_softplus(x, m->f[0], m->f[1]);
}

ag_module *ag_nn_relu(void) { return agi_module_new("ReLU", relu_forward); }
ag_module *ag_nn_silu(void) { return agi_module_new("SiLU", silu_forward); }
ag_module *ag_nn_sigmoid(void) { return agi_module_new("Sigmoid", sigmoid_forward); }
ag_module *ag_nn_tanh(void) { return agi_module_new("Tanh", tanh_forward); }

ag_module *ag_nn_leaky_relu(double negative_slope)
{
    ag_module *m = agi_module_new("LeakyReLU", leaky_forward);
    if (m) m->f[0] = negative_slope;
    return m;
}

ag_module *ag_nn_gelu(bool tanh_approximation)
{
    ag_module *m = agi_module_new("GELU", gelu_forward);
    if (m) m->i[0] = tanh_approximation;
    return m;
}

ag_module *ag_nn_softplus(double beta, double threshold)
{
    if (!(beta != 0 && isfinite(beta))) { /* what ag_softplus refuses at forward */
        agi_error(AG_ERR_INVALID, "ag_nn_softplus", "beta must be finite and non-zero, got %g",
                  beta);
        return NULL;
    }
    ag_module *m = agi_module_new("Softplus", softplus_forward);
    if (m) {
        m->f[0] = beta;
        m->f[1] = threshold;
    }
    return m;
}
