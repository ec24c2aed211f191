/* src/ops/norm.c — layer norm (one fused kernel, AGI_K_LAYER_NORM, with a
 * backward written in front-end ops), RMS norm and batch norm (composed from
 * front-end ops; their backward comes from the ops they are built of).
 *
 * Each op validates its arguments itself (so errors name it and the shapes),
 * then builds the result inside a private scope: intermediates not kept by the
 * autograd graph are freed before returning, and only the result is handed to
 * the caller's scope. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Ends the private scope opened by an op, handing `out` (if any) to the
 * enclosing scope. A failure inside is reported under the op's name. */
/* Float view of x for the math (integer inputs are promoted to f32). */
static ag_tensor *as_float(const char *op, const ag_tensor *x)
{
    return agi_as_f32(op, x);
}

/* eps finite and >= 0: a negative one makes sqrt(var + eps) NaN where the
 * variance is small, an infinite one zeroes the output. */
static bool check_eps(const char *op, const ag_tensor *x, double eps)
{
    if (eps >= 0.0 && !isinf(eps)) return true;
    char a[192];
    agi_error(AG_ERR_INVALID, op, "eps %g must be finite and >= 0 (input %s)", eps,
              agi_fmt_shape(a, x->ndim, x->shape));
    return false;
}

/* Checks an optional affine parameter: same device as x and exactly `shape`. */
static bool check_param(const char *op, const ag_tensor *x, const ag_tensor *p, const char *arg,
                        int ndim, const int64_t *shape)
{
    if (!p) return true;
    if (!agi_check_same_device(op, x, p)) return false;
    if (p->ndim != ndim || memcmp(p->shape, shape, (size_t)ndim * sizeof *shape) != 0) {
        char a[192], b[192], c[192];
        agi_error(AG_ERR_INVALID, op, "%s %s must have shape %s for input %s", arg,
                  agi_fmt_shape(a, p->ndim, p->shape), agi_fmt_shape(b, ndim, shape),
                  agi_fmt_shape(c, x->ndim, x->shape));
        return false;
    }
    return true;
}

/* Checks that x ends with the dims of `shape` (the normalised dims) and fills
 * dims[] with their (non-negative) indices. */
static bool check_normalized(const char *op, const ag_tensor *x, int ndims, const int64_t *shape,
                             int *dims)
{
    char a[192], b[192];
    if (ndims < 1 || ndims > x->ndim || !shape) {
        agi_error(AG_ERR_INVALID, op, "normalized shape of %d dims does not fit input %s", ndims,
                  agi_fmt_shape(a, x->ndim, x->shape));
        return false;
    }
    int lead = x->ndim - ndims;
    if (memcmp(x->shape + lead, shape, (size_t)ndims * sizeof *shape) != 0) {
        agi_error(AG_ERR_INVALID, op, "input %s does not end with normalized shape %s",
                  agi_fmt_shape(a, x->ndim, x->shape), agi_fmt_shape(b, ndims, shape));
        return false;
    }
    for (int d = 0; d < ndims; d++) dims[d] = lead + d;
    return true;
}

/* ---- Layer norm ---------------------------------------------------------- */

/* A [lead..., 1, ..., 1] view of column `col` of the [rows, 2] statistics
 * (mean, rstd), broadcasting against x over its `nd` normalised dims. */
static ag_tensor *stat_view(const ag_tensor *stats, const ag_tensor *x, int nd, int col)
{
    int64_t shape[AG_MAX_DIMS], strides[AG_MAX_DIMS], s = 2;
    for (int d = x->ndim - 1; d >= 0; d--) {
        bool norm = d >= x->ndim - nd;
        shape[d] = norm ? 1 : x->shape[d];
        strides[d] = norm ? 0 : s;
        if (!norm) s *= x->shape[d];
    }
    return agi_tensor_view(stats, x->ndim, shape, strides, stats->offset + col);
}

/* With xhat = (x - mean) * rstd and gw = g * w (g without weight), over the
 * normalised dims:  dx = rstd * (gw - mean(gw) - xhat * mean(gw * xhat)),
 * dw = Σ_lead g * xhat, db = Σ_lead g. */
static ag_status layer_norm_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const ag_tensor *x = node->inputs[0], *w = node->inputs[1], *b = node->inputs[2];
    const ag_tensor *xc = node->saved[0], *stats = node->saved[1];
    int nd = (int)node->i[0];
    int dims[AG_MAX_DIMS];
    for (int d = 0; d < nd; d++) dims[d] = x->ndim - nd + d;
    ag_tensor *rstd = stat_view(stats, x, nd, 1);
    ag_tensor *xhat = ag_mul(ag_sub(xc, stat_view(stats, x, nd, 0)), rstd);
    if (!xhat) return ag_last_status();
    if (x->requires_grad) {
        ag_tensor *gw = w ? ag_mul(g, w) : g;
        ag_tensor *m1 = ag_mean(gw, nd, dims, true);
        ag_tensor *m2 = ag_mean(ag_mul(gw, xhat), nd, dims, true);
        grads[0] = ag_mul(ag_sub(ag_sub(gw, m1), ag_mul(xhat, m2)), rstd);
        if (!grads[0]) return ag_last_status();
    }
    if (w && w->requires_grad && !(grads[1] = agi_sum_to_shape(ag_mul(g, xhat), w->ndim, w->shape)))
        return ag_last_status();
    if (b && b->requires_grad && !(grads[2] = agi_sum_to_shape(g, b->ndim, b->shape)))
        return ag_last_status();
    return AG_OK;
}

ag_tensor *ag_layer_norm(const ag_tensor *x, int ndims, const int64_t *shape,
                         const ag_tensor *weight, const ag_tensor *bias, double eps)
{
    AGI_AUTOCAST_VIA_F32(ag_layer_norm(AGI_F32(x), ndims, shape, AGI_F32(weight), AGI_F32(bias), eps), x, weight, bias);
    const char *op = "ag_layer_norm";
    int dims[AG_MAX_DIMS];
    if (!agi_check_tensor(op, x, "x")) return NULL;
    if (!check_normalized(op, x, ndims, shape, dims)) return NULL;
    if (!check_param(op, x, weight, "weight", ndims, shape)) return NULL;
    if (!check_param(op, x, bias, "bias", ndims, shape)) return NULL;
    if (!check_eps(op, x, eps)) return NULL;
    ag_device *dev = x->storage->dev;
    int64_t n = agi_numel(ndims, shape), rows = n ? ag_numel(x) / n : 0;
    bool need = AGI_NEEDS_GRAD(x, weight, bias);

    // x: [..., *shape] viewed as [rows, n]; one kernel writes y and, for the
    // backward, the per-row (mean, rstd)
    ag_tensor *y = NULL, *xc = NULL, *stats = NULL;
    ag_scope_begin();
    ag_no_grad_begin();
    /* f32, or x's 16-bit dtype (the kernel works in f32; weight and bias
     * take x's dtype, the per-row statistics stay f32) */
    ag_dtype ct = agi_float_dtype(x->dtype, x->dtype);
    xc = ag_contiguous(agi_as_dtype(x, ct));
    const ag_tensor *wc = weight ? ag_contiguous(agi_as_dtype(weight, ct)) : NULL;
    const ag_tensor *bc = bias ? ag_contiguous(agi_as_dtype(bias, ct)) : NULL;
    y = xc && (!weight || wc) && (!bias || bc) ? agi_tensor_new(op, dev, ct, x->ndim, x->shape)
                                               : NULL;
    stats = y && need ? agi_tensor_new(op, dev, AG_F32, 2, (int64_t[]){rows, 2}) : NULL;
    if (y && (!need || stats) && rows * n > 0) {
        agi_kernel k = {.op = AGI_K_LAYER_NORM};
        k.dst = agi_view_rows(y, rows, n);
        k.src[0] = agi_view_rows(xc, rows, n);
        if (wc) k.src[1] = agi_view_rows(wc, 1, n);
        if (bc) k.src[2] = agi_view_rows(bc, 1, n);
        if (stats) k.dst2 = agi_view_rows(stats, rows, 2);
        k.p.s.f[0] = eps;
        if (agi_exec(op, dev, &k) != AG_OK) y = NULL;
    }
    if (need && !stats) y = NULL;
    ag_no_grad_end();
    agi_node *node = NULL;
    if (y && need) {
        node = agi_node_new(op, layer_norm_backward, 3, (const ag_tensor *[]){x, weight, bias});
        if (node) {
            node->i[0] = ndims;
            agi_node_save(node, 0, xc);
            agi_node_save(node, 1, stats);
        } else {
            y = NULL;
        }
    }
    return agi_scope_return_node(op, y, node, need);
}

/* ---- RMS norm ------------------------------------------------------------ */

ag_tensor *ag_rms_norm(const ag_tensor *x, int ndims, const int64_t *shape,
                       const ag_tensor *weight, double eps)
{
    AGI_HALF_VIA_F32(ag_rms_norm(AGI_F32(x), ndims, shape, AGI_F32(weight), eps), x, weight);
    const char *op = "ag_rms_norm";
    int dims[AG_MAX_DIMS];
    if (!agi_check_tensor(op, x, "x")) return NULL;
    if (!check_normalized(op, x, ndims, shape, dims)) return NULL;
    if (!check_param(op, x, weight, "weight", ndims, shape)) return NULL;
    if (!check_eps(op, x, eps)) return NULL;

    ag_scope_begin();
    // x: [..., *shape]; y = x / sqrt(mean(x^2) + eps) * weight
    ag_tensor *xf = as_float(op, x);
    ag_tensor *ms = ag_mean(ag_square(xf), ndims, dims, true);
    ag_tensor *y = ag_mul(xf, ag_rsqrt(ag_add_scalar(ms, eps)));
    if (weight) y = ag_mul(y, weight);
    return agi_scope_return(op, y);
}

/* ---- Batch norm ---------------------------------------------------------- */

/* Checks a running-statistics buffer: f32 [C] on x's device. */
static bool check_running(const char *op, const ag_tensor *x, const ag_tensor *r, const char *arg,
                          int64_t c)
{
    if (!r) return true;
    if (!agi_check_same_device(op, x, r)) return false;
    if (!agi_check_dtype(op, r, AG_F32, arg)) return false;
    return check_param(op, x, r, arg, 1, (const int64_t[]){c});
}

/* Updates one running statistic in place: r = (1 - momentum) * r + momentum * s,
 * or r + factor * (s - r) with a device-side factor (a 0-dim f32 tensor). */
static bool update_running(ag_tensor *r, ag_tensor *s, double momentum, const ag_tensor *factor)
{
    ag_tensor *s1 = ag_reshape(s, 1, r->shape);
    ag_tensor *next = factor ? ag_add(r, ag_mul(ag_sub(s1, r), factor))
                             : ag_add(ag_mul_scalar(r, 1.0 - momentum), ag_mul_scalar(s1, momentum));
    return next && ag_copy_(r, next) == AG_OK;
}

static ag_tensor *batch_norm(const char *op, const ag_tensor *x, ag_tensor *running_mean,
                             ag_tensor *running_var, const ag_tensor *weight, const ag_tensor *bias,
                             bool training, double momentum, const ag_tensor *factor, double eps);

ag_tensor *ag_batch_norm(const ag_tensor *x, ag_tensor *running_mean, ag_tensor *running_var,
                         const ag_tensor *weight, const ag_tensor *bias, bool training,
                         double momentum, double eps)
{
    AGI_HALF_VIA_F32(ag_batch_norm(AGI_F32(x), running_mean, running_var, AGI_F32(weight), AGI_F32(bias), training, momentum, eps), x, weight, bias);
    const char *op = "ag_batch_norm";
    if (!agi_check_tensor(op, x, "x")) return NULL;
    if (!(momentum >= 0.0 && momentum <= 1.0)) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "momentum %g is not in [0, 1] (input %s)", momentum,
                  agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    return batch_norm(op, x, running_mean, running_var, weight, bias, training, momentum, NULL,
                      eps);
}

ag_tensor *agi_batch_norm_cumulative(const ag_tensor *x, ag_tensor *running_mean,
                                     ag_tensor *running_var, const ag_tensor *weight,
                                     const ag_tensor *bias, bool training,
                                     const ag_tensor *batches_tracked, double eps)
{
    const char *op = "ag_batch_norm";
    if (!training || !batches_tracked)
        return batch_norm(op, x, running_mean, running_var, weight, bias, training, 0.0, NULL, eps);
    ag_scope_begin();
    // factor: 0-dim f32 = 1 / (batches_tracked + 1), computed on the device
    ag_tensor *factor = ag_reciprocal(ag_add_scalar(ag_cast(batches_tracked, AG_F32), 1.0));
    ag_tensor *y = factor ? batch_norm(op, x, running_mean, running_var, weight, bias, true, 0.0,
                                       factor, eps)
                          : NULL;
    return agi_scope_return(op, y);
}

static ag_tensor *batch_norm(const char *op, const ag_tensor *x, ag_tensor *running_mean,
                             ag_tensor *running_var, const ag_tensor *weight, const ag_tensor *bias,
                             bool training, double momentum, const ag_tensor *factor, double eps)
{
    char a[192];
    if (!agi_check_tensor(op, x, "x")) return NULL;
    if (x->ndim < 2) {
        agi_error(AG_ERR_INVALID, op, "input %s must be [N, C, ...] (at least 2 dims)",
                  agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    int64_t c = x->shape[1];
    const int64_t cshape[1] = {c};
    if (!check_param(op, x, weight, "weight", 1, cshape)) return NULL;
    if (!check_param(op, x, bias, "bias", 1, cshape)) return NULL;
    if (!check_running(op, x, running_mean, "running_mean", c)) return NULL;
    if (!check_running(op, x, running_var, "running_var", c)) return NULL;
    if (!check_eps(op, x, eps)) return NULL;
    if (!training && (!running_mean || !running_var)) {
        agi_error(AG_ERR_INVALID, op,
                  "running_mean and running_var are required in eval mode (input %s)",
                  agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    /* Statistics run over every dim but the channel dim. */
    int dims[AG_MAX_DIMS], nd = 0;
    int64_t count = 1;
    for (int d = 0; d < x->ndim; d++) {
        if (d == 1) continue;
        dims[nd++] = d;
        count *= x->shape[d];
    }
    if (training && count <= 1) {
        agi_error(AG_ERR_INVALID, op, "expected more than 1 value per channel when training, got input %s",
                  agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    /* [1, C, 1, ...]: per-channel tensors broadcast against x. */
    int64_t bshape[AG_MAX_DIMS];
    for (int d = 0; d < x->ndim; d++) bshape[d] = d == 1 ? c : 1;

    ag_scope_begin();
    // x: [N, C, ...]
    ag_tensor *xf = as_float(op, x);
    ag_tensor *mean, *var; // [1, C, 1, ...]
    if (training) {
        mean = ag_mean(xf, nd, dims, true);
        var = ag_mean(ag_square(ag_sub(xf, mean)), nd, dims, true); /* biased */
        if (mean && var && (running_mean || running_var)) {
            ag_no_grad_begin();
            bool ok = true;
            if (running_mean) ok = update_running(running_mean, mean, momentum, factor);
            /* The running variance is unbiased: var * n / (n - 1). */
            if (ok && running_var)
                ok = update_running(running_var,
                                    ag_mul_scalar(var, (double)count / (double)(count - 1)),
                                    momentum, factor);
            ag_no_grad_end();
            if (!ok) return agi_scope_return(op, NULL);
        }
    } else {
        mean = ag_reshape(running_mean, x->ndim, bshape);
        var = ag_reshape(running_var, x->ndim, bshape);
    }
    ag_tensor *y = ag_mul(ag_sub(xf, mean), ag_rsqrt(ag_add_scalar(var, eps)));
    if (weight) y = ag_mul(y, ag_reshape(weight, x->ndim, bshape));
    if (bias) y = ag_add(y, ag_reshape(bias, x->ndim, bshape));
    return agi_scope_return(op, y);
}
