/*
 * anygrad/optim.h — optimizers, learning-rate schedules and gradient clipping.
 *
 * An optimizer is created over an array of parameter tensors (f32 leaves,
 * contiguous; any device — each parameter is updated on its own device). It
 * is module-agnostic: the nn layer passes the parameters of a module in a
 * stable order, and the optimizer refers to them by their index in that array.
 *
 *   ag_tensor *params[] = {w, b};
 *   ag_optimizer *opt = ag_optim_adam(params, 2, &(ag_adam_opts){.lr = 1e-3});
 *   for (...) {
 *       ag_scope_begin();
 *       ag_optimizer_zero_grad(opt);
 *       ag_backward(loss(...), NULL);
 *       ag_optimizer_step(opt);
 *       ag_scope_end();
 *   }
 *   ag_optimizer_free(opt);
 *
 * Each update is ONE fused kernel per parameter (AGI_K_SGD, AGI_K_ADAM,
 * AGI_K_RMSPROP) queued on the parameter's device; ag_optimizer_step never
 * waits for the device. The formulas are PyTorch's (torch.optim.SGD, Adam,
 * AdamW, RMSprop with their default flags: no amsgrad, maximize, centered).
 *
 * State tensors (momentum buffers, exp_avg, exp_avg_sq, square_avg) are
 * allocated lazily on the first step that sees a gradient for the parameter,
 * on the parameter's device, and are owned by the optimizer (they belong to
 * no scope). The optimizer holds a reference to each parameter.
 */
#ifndef ANYGRAD_OPTIM_H
#define ANYGRAD_OPTIM_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ag_optimizer ag_optimizer;

/* ---- Options (zero-initialised fields take the PyTorch default noted) ---- */

typedef struct ag_sgd_opts {
    double lr;           /* required, > 0 */
    double momentum;     /* 0 */
    double dampening;    /* 0 */
    bool nesterov;       /* false; needs momentum > 0 and dampening == 0 */
    double weight_decay; /* 0 (L2 added to the gradient) */
} ag_sgd_opts;

typedef struct ag_adam_opts {
    double lr;           /* 0 → 1e-3 */
    double beta1, beta2; /* 0 → 0.9, 0.999 (use a tiny value for an actual 0) */
    double eps;          /* 0 → 1e-8 */
    double weight_decay; /* Adam: 0 (L2 added to the gradient);
                            AdamW: a 0 here means 0 too (PyTorch's AdamW default is
                            1e-2: pass it explicitly) — decoupled decay p *= 1 - lr*wd */
} ag_adam_opts;

typedef struct ag_rmsprop_opts {
    double lr;           /* 0 → 1e-2 */
    double alpha;        /* 0 → 0.99 (smoothing constant) */
    double eps;          /* 0 → 1e-8 */
    double weight_decay; /* 0 */
    double momentum;     /* 0 */
} ag_rmsprop_opts;

/* ---- Creation ------------------------------------------------------------ */

/* Creates an optimizer over `n` parameters (n >= 1; each an f32, contiguous,
 * non-NULL tensor; duplicates are rejected). `opts` may be NULL only for
 * Adam/AdamW/RMSprop (all defaults); SGD needs an lr. Returns NULL with an
 * error naming the function and the offending parameter index/shape. The
 * caller owns the result: ag_optimizer_free it. */
AG_API ag_optimizer *ag_optim_sgd(ag_tensor *const *params, int n, const ag_sgd_opts *opts);
AG_API ag_optimizer *ag_optim_adam(ag_tensor *const *params, int n, const ag_adam_opts *opts);
AG_API ag_optimizer *ag_optim_adamw(ag_tensor *const *params, int n, const ag_adam_opts *opts);
AG_API ag_optimizer *ag_optim_rmsprop(ag_tensor *const *params, int n,
                                      const ag_rmsprop_opts *opts);

/* Releases the state tensors and the references to the parameters. NULL is a
 * no-op. */
AG_API void ag_optimizer_free(ag_optimizer *opt);

/* ---- Training ------------------------------------------------------------ */

/* Applies one update to every parameter that has a gradient (ag_grad != NULL);
 * parameters without one are skipped (their state and step count unchanged).
 * Gradients must have the parameter's shape and device; a non-contiguous
 * gradient is first copied. Runs in no-grad mode; queues one fused kernel per
 * parameter and does not wait for the device. On error (e.g. the backend
 * lacks the kernel) returns a negative status; parameters already updated in
 * this call stay updated. Increments the optimizer's step count on success. */
AG_API ag_status ag_optimizer_step(ag_optimizer *opt);

/* Drops every parameter's gradient (like zero_grad(set_to_none=True)). */
AG_API void ag_optimizer_zero_grad(ag_optimizer *opt);

/* Learning rate used by the next step (schedules call set_lr each step). */
AG_API ag_status ag_optimizer_set_lr(ag_optimizer *opt, double lr);
AG_API double ag_optimizer_get_lr(const ag_optimizer *opt); /* NAN for NULL */

/* Number of successful ag_optimizer_step calls (restored from checkpoints). */
AG_API int64_t ag_optimizer_step_count(const ag_optimizer *opt); /* -1 for NULL */
AG_API ag_status ag_optimizer_set_step_count(ag_optimizer *opt, int64_t steps);

/* Number of parameters, and parameter i (borrowed; NULL when out of range). */
AG_API int ag_optimizer_param_count(const ag_optimizer *opt);
AG_API ag_tensor *ag_optimizer_param(const ag_optimizer *opt, int i);

/* Static name: "sgd", "adam", "adamw", "rmsprop". */
AG_API const char *ag_optimizer_kind(const ag_optimizer *opt);

/* ---- State export / import (for checkpoints) -------------------------------
 * The state is a list of named tensors, in a stable order (parameter index,
 * then the fixed buffer order of the algorithm):
 *   "state.<i>.step"             i32 0-dim: updates applied to parameter i
 *   "state.<i>.momentum_buffer"  SGD (momentum != 0), RMSprop (momentum != 0)
 *   "state.<i>.exp_avg"          Adam, AdamW
 *   "state.<i>.exp_avg_sq"       Adam, AdamW
 *   "state.<i>.square_avg"       RMSprop
 * Entries exist only for parameters whose state was created (a step with a
 * gradient, or an import). Names match PyTorch's optimizer.state_dict()
 * keys with the parameter's index.                                            */

/* Number of state entries currently present (0 before the first step). */
AG_API int ag_optimizer_state_count(const ag_optimizer *opt);

/* Entry `i` (0 <= i < state_count): writes its name into `name` (`cap` bytes,
 * always NUL-terminated; may be NULL) and returns its tensor as a new
 * reference in the current scope (the live buffer for tensors; a new tensor
 * on the parameter's device for the step). NULL on error, among them a step
 * past INT32_MAX, which the i32 entry cannot hold. */
AG_API ag_tensor *ag_optimizer_state_entry(const ag_optimizer *opt, int i, char *name,
                                           size_t cap);

/* Restores one entry by name: copies `value` (same shape as the parameter, f32,
 * any device; the step: any one-element tensor) into the optimizer's state,
 * allocating the buffer on the parameter's device if needed. Unknown names,
 * an out-of-range index, a buffer the algorithm does not use, or a wrong
 * shape/dtype → AG_ERR_INVALID naming the entry. Reads the step's value back
 * to the host (the only host round trip). */
AG_API ag_status ag_optimizer_state_set(ag_optimizer *opt, const char *name,
                                        const ag_tensor *value);

/* ---- Learning-rate schedules ---------------------------------------------
 * Pure functions of the step (or epoch) counter, matching PyTorch:
 *   ag_lr_step:    base * gamma^floor(step / step_size)        (StepLR)
 *   ag_lr_linear:  base * (start + (end-start) * min(step, total)/total)
 *                                                               (LinearLR)
 *   ag_lr_cosine:  linear warmup base * step / warmup for step < warmup
 *                  (starts at 0), then cosine annealing
 *                  eta_min + (base - eta_min) * (1 + cos(pi * t / T)) / 2
 *                  with t = step - warmup, T = total - warmup; eta_min for
 *                  step >= total. With warmup == 0 it equals PyTorch's
 *                  CosineAnnealingLR(T_max=total, eta_min) for step <= total.
 * Invalid arguments (step < 0, step_size <= 0, total <= 0, warmup >= total)
 * give NAN, which ag_optimizer_set_lr rejects.
 * Use: ag_optimizer_set_lr(opt, ag_lr_schedule_at(&sched, step)).          */

typedef enum ag_lr_kind {
    AG_LR_CONSTANT = 0,
    AG_LR_STEP = 1,
    AG_LR_LINEAR = 2,
    AG_LR_COSINE = 3,
} ag_lr_kind;

typedef struct ag_lr_schedule {
    ag_lr_kind kind;
    double base_lr;
    /* AG_LR_STEP */
    int64_t step_size;
    double gamma;
    /* AG_LR_LINEAR: factors of base_lr at step 0 and at step >= total */
    double start_factor, end_factor;
    /* AG_LR_LINEAR, AG_LR_COSINE */
    int64_t total_steps;
    /* AG_LR_COSINE */
    int64_t warmup_steps;
    double eta_min;
} ag_lr_schedule;

AG_API double ag_lr_step(double base_lr, int64_t step, int64_t step_size, double gamma);
AG_API double ag_lr_linear(double base_lr, int64_t step, int64_t total_steps, double start_factor,
                           double end_factor);
AG_API double ag_lr_cosine(double base_lr, int64_t step, int64_t total_steps,
                           int64_t warmup_steps, double eta_min);
/* The learning rate of `sched` at `step` (NAN for NULL or an invalid kind). */
AG_API double ag_lr_schedule_at(const ag_lr_schedule *sched, int64_t step);

/* ---- Gradient clipping ---------------------------------------------------- */

/* Scales the gradients of `params` (those with a gradient) in place so their
 * global L2 norm is at most max_norm, like torch.nn.utils.clip_grad_norm_:
 * coef = max_norm / (total_norm + 1e-6), applied when coef < 1. Returns the
 * total norm before clipping (0 when no parameter has a gradient), or a
 * negative value on error (see ag_last_error). Reads one scalar back per
 * device involved. Gradients are updated in place: a gradient tensor shared
 * with other code sees the change. */
AG_API double ag_clip_grad_norm(ag_tensor *const *params, int n, double max_norm);
/* The same clipping without a host read, so a training step that clips
 * never waits for the device and can be captured in a graph: the norm and
 * the coefficient stay on the device (f32), coef = min(1, max_norm /
 * (total_norm + 1e-6)) multiplies every gradient (by exactly 1 when no
 * clipping is needed). Every gradient must be f32 and on one device. Returns
 * the total norm before clipping as a new 0-dim f32 tensor on that device
 * (in the current scope), or NULL on error; a zero norm tensor on `dev` when
 * no parameter has a gradient. */
AG_API ag_tensor *ag_clip_grad_norm_device(ag_device *dev, ag_tensor *const *params, int n,
                                           double max_norm);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_OPTIM_H */
