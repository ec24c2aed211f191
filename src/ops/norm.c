/* src/ops/norm.c — layer norm, RMS norm and batch norm, composed from
 * front-end ops (their backward comes from the ops they are built of).
 *
 * Each op validates its arguments itself (so errors name it and the shapes),
 * then builds the result inside a private scope: intermediates not kept by the
 * autograd graph are freed before returning, and only the result is handed to
 * the caller's scope. */
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Ends the private scope opened by an op, handing `out` (if any) to the
 * enclosing scope. A failure inside is reported under the op's name. */
/* Float view of x for the math (integer inputs are promoted to f32). */
static ag_tensor *as_float(const ag_tensor *x)
{
    return x->dtype == AG_F32 ? (ag_tensor *)x : ag_cast(x, AG_F32);
}

/* Checks an optional affine parameter: same device as x and exactly `shape`. */
static bool check_param(const char *op, const ag_tensor *x, const ag_tensor *p, const char *arg,
                        int ndim, const int64_t *shape)
{
    if (!p) return true;
    if (!agi_check_same_device(op, x, p)) return false;
    if (p->ndim != ndim || memcmp(p->shape, shape, (size_t)ndim * sizeof *shape) != 0) {
        char a[192], b[192];
        agi_error(AG_ERR_INVALID, op, "%s %s must have shape %s", arg,
                  agi_fmt_shape(a, p->ndim, p->shape), agi_fmt_shape(b, ndim, shape));
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

ag_tensor *ag_layer_norm(const ag_tensor *x, int ndims, const int64_t *shape,
                         const ag_tensor *weight, const ag_tensor *bias, double eps)
{
    const char *op = "ag_layer_norm";
    int dims[AG_MAX_DIMS];
    if (!agi_check_tensor(op, x, "x")) return NULL;
    if (!check_normalized(op, x, ndims, shape, dims)) return NULL;
    if (!check_param(op, x, weight, "weight", ndims, shape)) return NULL;
    if (!check_param(op, x, bias, "bias", ndims, shape)) return NULL;

    ag_scope_begin();
    // x: [..., *shape]; statistics over the trailing dims, kept for broadcasting
    ag_tensor *xf = as_float(x);
    ag_tensor *mean = ag_mean(xf, ndims, dims, true);
    ag_tensor *xc = ag_sub(xf, mean);
    ag_tensor *var = ag_mean(ag_square(xc), ndims, dims, true); /* biased */
    ag_tensor *y = ag_mul(xc, ag_rsqrt(ag_add_scalar(var, eps)));
    if (weight) y = ag_mul(y, weight);
    if (bias) y = ag_add(y, bias);
    return agi_scope_return(op, y);
}

/* ---- RMS norm ------------------------------------------------------------ */

ag_tensor *ag_rms_norm(const ag_tensor *x, int ndims, const int64_t *shape,
                       const ag_tensor *weight, double eps)
{
    const char *op = "ag_rms_norm";
    int dims[AG_MAX_DIMS];
    if (!agi_check_tensor(op, x, "x")) return NULL;
    if (!check_normalized(op, x, ndims, shape, dims)) return NULL;
    if (!check_param(op, x, weight, "weight", ndims, shape)) return NULL;

    ag_scope_begin();
    // x: [..., *shape]; y = x / sqrt(mean(x^2) + eps) * weight
    ag_tensor *xf = as_float(x);
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
    const char *op = "ag_batch_norm";
    if (!(momentum >= 0.0 && momentum <= 1.0)) {
        agi_error(AG_ERR_INVALID, op, "momentum %g is not in [0, 1]", momentum);
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
    ag_tensor *xf = as_float(x);
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
