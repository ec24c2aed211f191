/* src/ops/loss.c — loss functions, composed from front-end ops so their
 * gradients come from autograd: cross entropy / NLL (class-index targets,
 * ignore_index, label smoothing; cross entropy also takes probabilities), MSE, L1, smooth L1 and binary cross entropy
 * with logits.
 *
 * Every loss validates its arguments itself (errors name it and the shapes)
 * and builds the result inside a private scope, so intermediates the autograd
 * graph does not need are freed before returning. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Ends the private scope opened by a loss, handing `out` (if any) to the
 * enclosing scope. A failure inside is reported under the loss's name. */
static bool check_reduction(const char *op, ag_reduction r, const ag_tensor *input)
{
    if (r == AG_REDUCTION_MEAN || r == AG_REDUCTION_SUM || r == AG_REDUCTION_NONE) return true;
    char a[192];
    agi_error(AG_ERR_INVALID, op, "invalid reduction %d for input %s", (int)r,
              agi_fmt_shape(a, input->ndim, input->shape));
    return false;
}

/* Applies the reduction to an elementwise loss. */
static ag_tensor *reduce(ag_tensor *loss, ag_reduction r)
{
    switch (r) {
    case AG_REDUCTION_MEAN: return ag_mean(loss, 0, NULL, false);
    case AG_REDUCTION_SUM: return ag_sum(loss, 0, NULL, false);
    default: return loss;
    }
}

/* ---- Cross entropy and NLL ------------------------------------------------ */

/* Checks class-index targets against scores [N, C, d...] (or [C] with a 0-dim
 * target), or, when probs_ok, f32 class probabilities of the scores' shape.
 * On the CPU class indices are also range-checked (index tensors on the CPU
 * may be read; GPU execution stays asynchronous). */
static bool check_targets(const char *op, const ag_tensor *scores, const ag_tensor *target,
                          int64_t ignore_index, bool probs_ok)
{
    char a[192], b[192], c[192];
    if (!agi_check_same_device(op, scores, target)) return false;
    if (scores->ndim < 1) {
        agi_error(AG_ERR_INVALID, op, "input %s must be [N, C, ...] or [C]",
                  agi_fmt_shape(a, scores->ndim, scores->shape));
        return false;
    }
    if (target->dtype == AG_F32 && probs_ok) {
        /* class probabilities: the shape of the scores */
        if (target->ndim == scores->ndim &&
            memcmp(target->shape, scores->shape, (size_t)target->ndim * sizeof *target->shape) == 0)
            return true;
        agi_error(AG_ERR_INVALID, op, "f32 target (probabilities) %s must have the shape of input %s",
                  agi_fmt_shape(a, target->ndim, target->shape),
                  agi_fmt_shape(b, scores->ndim, scores->shape));
        return false;
    }
    if (target->dtype != AG_I32) {
        agi_error(AG_ERR_INVALID, op, "target must be i32 class indices%s, got %s %s (input %s)",
                  probs_ok ? " or f32 probabilities" : "", ag_dtype_name(target->dtype),
                  agi_fmt_shape(a, target->ndim, target->shape),
                  agi_fmt_shape(b, scores->ndim, scores->shape));
        return false;
    }
    /* target's shape is scores' shape without the class dim. */
    int cdim = scores->ndim == 1 ? 0 : 1;
    int64_t want[AG_MAX_DIMS];
    int wn = 0;
    for (int d = 0; d < scores->ndim; d++)
        if (d != cdim) want[wn++] = scores->shape[d];
    if (target->ndim != wn || memcmp(target->shape, want, (size_t)wn * sizeof *want) != 0) {
        agi_error(AG_ERR_INVALID, op, "target %s does not match input %s (expected target %s)",
                  agi_fmt_shape(a, target->ndim, target->shape),
                  agi_fmt_shape(b, scores->ndim, scores->shape), agi_fmt_shape(c, wn, want));
        return false;
    }
    if (scores->shape[cdim] < 1) {
        agi_error(AG_ERR_INVALID, op, "input %s has no classes",
                  agi_fmt_shape(a, scores->ndim, scores->shape));
        return false;
    }
    /* On the CPU backend the targets are checked here; elsewhere, and inside
     * a graph capture (no host reads), the device-side error word reports them. */
    if (target->storage->dev->info.backend != AG_BACKEND_CPU || agi_capturing(target->storage->dev))
        return true;
    int64_t n = ag_numel(target), classes = scores->shape[cdim];
    if (n == 0) return true;
    int32_t *host = agi_malloc((size_t)n * sizeof *host);
    if (!host) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return false;
    }
    bool ok = ag_tensor_read(target, host, (size_t)n * sizeof *host) == AG_OK;
    for (int64_t i = 0; ok && i < n; i++) {
        if (host[i] == ignore_index || (host[i] >= 0 && host[i] < classes)) continue;
        agi_error(AG_ERR_INVALID, op, "target %d at %lld out of range for %lld classes (input %s)",
                  (int)host[i], (long long)i, (long long)classes,
                  agi_fmt_shape(a, scores->ndim, scores->shape));
        ok = false;
    }
    free(host);
    return ok;
}

/* The shared core: lp are log-probabilities [N, C, d...] (f32), target i32
 * [N, d...]. Per element: (1 - eps) * -lp[target] + eps / C * -sum_c lp, zero
 * for ignored targets; mean divides by the number of non-ignored targets. */
/* The class weight [C] shaped to broadcast along dim 1 of lp [N, C, d...]:
 * [C, 1, ...] (ndim - 1 dims). */
static ag_tensor *weight_along_classes(const ag_tensor *w, const ag_tensor *lp)
{
    int64_t shape[AG_MAX_DIMS];
    shape[0] = w->shape[0];
    for (int d = 1; d < lp->ndim - 1; d++) shape[d] = 1;
    return ag_reshape(w, lp->ndim - 1, shape);
}

static ag_tensor *nll_core(ag_tensor *lp, const ag_tensor *target, const ag_cross_entropy_opts *o)
{
    ag_device *dev = lp->storage->dev;
    const ag_tensor *w = o->weight;
    // valid: u8 [N, d...]; safe: i32 [N, d...] with ignored targets replaced by 0
    ag_tensor *valid = ag_ne_scalar(target, (double)o->ignore_index);
    ag_tensor *safe = ag_where(valid, target, ag_scalar(dev, AG_I32, 0));
    // picked: [N, d...] = lp[n, target[n, ...], ...]
    ag_tensor *picked = ag_squeeze(ag_gather(lp, 1, ag_unsqueeze(safe, 1)), 1);
    // wt: [N, d...] = w[target], 0 where ignored (the weighted mean's divisor)
    ag_tensor *wt = NULL;
    if (w) {
        ag_tensor *flat = ag_reshape(safe, 1, (int64_t[]){-1});
        ag_tensor *picked_w = ag_index_select(w, 0, flat);
        wt = ag_where(valid, safe ? ag_reshape(picked_w, safe->ndim, safe->shape) : NULL,
                      ag_scalar(dev, AG_F32, 0.0));
    }
    ag_tensor *loss = w ? ag_neg(ag_mul(picked, wt)) : ag_neg(picked);
    double eps = o->label_smoothing;
    if (eps != 0.0) {
        double classes = (double)lp->shape[1];
        ag_tensor *terms = w ? ag_mul(lp, weight_along_classes(w, lp)) : lp;
        ag_tensor *smooth = ag_neg(ag_sum(terms, AG_DIMS(1), false));
        loss = ag_add(ag_mul_scalar(loss, 1.0 - eps), ag_mul_scalar(smooth, eps / classes));
    }
    loss = ag_where(valid, loss, ag_scalar(dev, AG_F32, 0.0));
    if (o->reduction == AG_REDUCTION_MEAN) {
        ag_tensor *count = ag_sum(w ? wt : ag_cast(valid, AG_F32), 0, NULL, false);
        return ag_div(ag_sum(loss, 0, NULL, false), count);
    }
    return reduce(loss, o->reduction);
}

/* Probability targets: t (f32, lp's shape), smoothed to (1 - eps) t + eps / C;
 * per element -sum_c t_c lp_c. The mean divides by the number of elements
 * (ignore_index does not apply), like PyTorch. */
static ag_tensor *prob_core(ag_tensor *lp, ag_tensor *t, const ag_cross_entropy_opts *o)
{
    double eps = o->label_smoothing;
    if (eps != 0.0) t = ag_add_scalar(ag_mul_scalar(t, 1.0 - eps), eps / (double)lp->shape[1]);
    if (o->weight) t = ag_mul(t, weight_along_classes(o->weight, lp));
    // loss: [N, d...]
    ag_tensor *loss = ag_neg(ag_sum(ag_mul(lp, t), AG_DIMS(1), false));
    return reduce(loss, o->reduction);
}

static const ag_cross_entropy_opts default_ce = {AG_REDUCTION_MEAN, -100, 0.0, NULL};

/* The class weight: f32 [C] on the input's device. */
static bool check_weight(const char *op, const ag_tensor *x, const ag_tensor *w)
{
    if (!w) return true;
    if (!agi_tensor_alive(op, w) || !agi_check_same_device(op, x, w)) return false;
    int64_t classes = x->ndim == 1 ? x->shape[0] : x->shape[1];
    if (w->dtype == AG_F32 && w->ndim == 1 && w->shape[0] == classes) return true;
    char a[192], b[192];
    agi_error(AG_ERR_INVALID, op, "weight must be f32 [%lld] (one per class of input %s), got %s %s",
              (long long)classes, agi_fmt_shape(a, x->ndim, x->shape), ag_dtype_name(w->dtype),
              agi_fmt_shape(b, w->ndim, w->shape));
    return false;
}

/* Shared by both entry points; `log_softmax` says whether x holds logits. */
static ag_tensor *class_loss(const char *op, const ag_tensor *x, const ag_tensor *target,
                             const ag_cross_entropy_opts *opts, bool logits)
{
    if (!agi_check_tensor(op, x, logits ? "logits" : "log_probs")) return NULL;
    if (!agi_check_tensor(op, target, "target")) return NULL;
    ag_cross_entropy_opts o = opts ? *opts : default_ce;
    if (!o.has_ignore_index && o.ignore_index == 0) o.ignore_index = default_ce.ignore_index;
    if (!logits) o.label_smoothing = 0.0;
    if (!check_reduction(op, o.reduction, x)) return NULL;
    if (!(o.label_smoothing >= 0.0 && o.label_smoothing <= 1.0)) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "label_smoothing %g is not in [0, 1] (input %s)",
                  o.label_smoothing, agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    if (!check_targets(op, x, target, o.ignore_index, logits)) return NULL;
    if (!check_weight(op, x, o.weight)) return NULL;

    ag_scope_begin();
    ag_tensor *xf = agi_as_f32(op, x);
    ag_tensor *tg = (ag_tensor *)target;
    bool unbatched = x->ndim == 1;
    if (unbatched) { /* [C] with a 0-dim target: a batch of one */
        xf = ag_unsqueeze(xf, 0);
        tg = ag_unsqueeze(tg, 0);
    }
    ag_tensor *lp = logits ? ag_log_softmax(xf, 1) : xf;
    const char *prev = agi_index_caller_set(op); /* an out-of-range target names this loss */
    ag_tensor *loss = !lp ? NULL : tg->dtype == AG_F32 ? prob_core(lp, tg, &o) : nll_core(lp, tg, &o);
    agi_index_caller_set(prev);
    if (unbatched && o.reduction == AG_REDUCTION_NONE) loss = ag_squeeze(loss, 0);
    return agi_scope_return(op, loss);
}

ag_tensor *ag_cross_entropy(const ag_tensor *logits, const ag_tensor *target,
                            const ag_cross_entropy_opts *opts)
{
    AGI_HALF_VIA_F32(ag_cross_entropy(AGI_F32(logits), AGI_F32(target), opts), logits, target);
    return class_loss("ag_cross_entropy", logits, target, opts, true);
}

ag_tensor *ag_nll_loss(const ag_tensor *log_probs, const ag_tensor *target,
                       const ag_cross_entropy_opts *opts)
{
    AGI_HALF_VIA_F32(ag_nll_loss(AGI_F32(log_probs), AGI_F32(target), opts), log_probs, target);
    return class_loss("ag_nll_loss", log_probs, target, opts, false);
}

/* ---- Regression losses ---------------------------------------------------- */

/* Common checks for (input, target) pairs that broadcast against each other. */
static bool check_pair(const char *op, const ag_tensor *input, const ag_tensor *target,
                       ag_reduction r)
{
    if (!agi_check_tensor(op, input, "input") || !agi_check_tensor(op, target, "target"))
        return false;
    if (!agi_check_same_device(op, input, target)) return false;
    if (!check_reduction(op, r, input)) return false;
    int nd;
    int64_t shape[AG_MAX_DIMS];
    return agi_broadcast_shapes(op, input->ndim, input->shape, target->ndim, target->shape, &nd,
                                shape);
}

ag_tensor *ag_mse_loss(const ag_tensor *input, const ag_tensor *target, ag_reduction reduction)
{
    AGI_HALF_VIA_F32(ag_mse_loss(AGI_F32(input), AGI_F32(target), reduction), input, target);
    const char *op = "ag_mse_loss";
    if (!check_pair(op, input, target, reduction)) return NULL;
    ag_scope_begin();
    ag_tensor *loss = ag_square(ag_sub(input, target));
    return agi_scope_return(op, reduce(loss, reduction));
}

ag_tensor *ag_l1_loss(const ag_tensor *input, const ag_tensor *target, ag_reduction reduction)
{
    AGI_HALF_VIA_F32(ag_l1_loss(AGI_F32(input), AGI_F32(target), reduction), input, target);
    const char *op = "ag_l1_loss";
    if (!check_pair(op, input, target, reduction)) return NULL;
    ag_scope_begin();
    ag_tensor *loss = ag_abs(ag_sub(input, target));
    return agi_scope_return(op, reduce(loss, reduction));
}

ag_tensor *ag_smooth_l1_loss(const ag_tensor *input, const ag_tensor *target,
                             ag_reduction reduction, double beta)
{
    AGI_HALF_VIA_F32(ag_smooth_l1_loss(AGI_F32(input), AGI_F32(target), reduction, beta), input, target);
    const char *op = "ag_smooth_l1_loss";
    if (!check_pair(op, input, target, reduction)) return NULL;
    if (!(beta >= 0.0)) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "beta %g must be >= 0 (input %s)", beta,
                  agi_fmt_shape(a, input->ndim, input->shape));
        return NULL;
    }
    ag_scope_begin();
    ag_tensor *d = ag_sub(input, target);
    ag_tensor *ad = ag_abs(d);
    ag_tensor *loss;
    if (beta == 0.0) {
        loss = ad; /* PyTorch: smooth L1 with beta 0 is L1 */
    } else {
        // |d| < beta ? 0.5 d^2 / beta : |d| - 0.5 beta
        ag_tensor *quad = ag_mul_scalar(ag_square(d), 0.5 / beta);
        ag_tensor *lin = ag_sub_scalar(ad, 0.5 * beta);
        loss = ag_where(ag_lt_scalar(ad, beta), quad, lin);
    }
    return agi_scope_return(op, reduce(loss, reduction));
}

ag_tensor *ag_binary_cross_entropy_with_logits(const ag_tensor *logits, const ag_tensor *target,
                                               const ag_tensor *pos_weight,
                                               ag_reduction reduction)
{
    AGI_HALF_VIA_F32(ag_binary_cross_entropy_with_logits(AGI_F32(logits), AGI_F32(target), AGI_F32(pos_weight), reduction), logits, target, pos_weight);
    const char *op = "ag_binary_cross_entropy_with_logits";
    char a[192], b[192];
    if (!agi_check_tensor(op, logits, "logits") || !agi_check_tensor(op, target, "target"))
        return NULL;
    if (!agi_check_same_device(op, logits, target)) return NULL;
    if (!check_reduction(op, reduction, logits)) return NULL;
    if (logits->ndim != target->ndim ||
        memcmp(logits->shape, target->shape, (size_t)logits->ndim * sizeof *logits->shape) != 0) {
        agi_error(AG_ERR_INVALID, op, "target %s must have the shape of logits %s",
                  agi_fmt_shape(a, target->ndim, target->shape),
                  agi_fmt_shape(b, logits->ndim, logits->shape));
        return NULL;
    }
    if (pos_weight) {
        int nd;
        int64_t shape[AG_MAX_DIMS];
        if (!agi_check_same_device(op, logits, pos_weight)) return NULL;
        if (!agi_broadcast_shapes(op, logits->ndim, logits->shape, pos_weight->ndim,
                                  pos_weight->shape, &nd, shape))
            return NULL;
        if (nd != logits->ndim ||
            memcmp(shape, logits->shape, (size_t)nd * sizeof *shape) != 0) {
            agi_error(AG_ERR_INVALID, op, "pos_weight %s does not broadcast to logits %s",
                      agi_fmt_shape(a, pos_weight->ndim, pos_weight->shape),
                      agi_fmt_shape(b, logits->ndim, logits->shape));
            return NULL;
        }
    }
    ag_scope_begin();
    // x, y: [...]. Stable form: (1 - y) x + w softplus(-x), w = 1 + (pw - 1) y,
    // since -log(sigmoid(x)) = softplus(-x) = max(-x, 0) + log1p(exp(-|x|)).
    ag_tensor *x = agi_as_f32(op, logits);
    ag_tensor *y = agi_as_f32(op, target);
    ag_tensor *nls = ag_softplus(ag_neg(x), 1.0, 20.0);
    if (pos_weight) {
        ag_tensor *w = ag_add_scalar(ag_mul(ag_sub_scalar(pos_weight, 1.0), y), 1.0);
        nls = ag_mul(w, nls);
    }
    ag_tensor *loss = ag_add(ag_mul(ag_rsub_scalar(y, 1.0), x), nls);
    return agi_scope_return(op, reduce(loss, reduction));
}
