/*
 * anygrad/amp.h — mixed precision: autocast and dynamic loss scaling.
 *
 * Like torch.autocast and torch.amp.GradScaler. Parameters stay f32 (the
 * master weights the optimizer updates); inside an autocast region the ops
 * that profit from 16-bit data get 16-bit copies of their operands, and the
 * ops that need range or precision get f32:
 *
 *     ag_grad_scaler *scaler = ag_grad_scaler_new(NULL);   // f16 only
 *     for (...) {
 *         ag_autocast_begin(AG_F16);                       // or AG_BF16
 *         ag_tensor *loss = ag_cross_entropy(ag_module_forward(model, x), y, NULL);
 *         ag_autocast_end();
 *         ag_optimizer_zero_grad(opt);
 *         ag_backward(ag_grad_scaler_scale(scaler, loss), NULL);
 *         ag_grad_scaler_step(scaler, opt, NULL);          // skipped on inf / NaN
 *         ag_grad_scaler_update(scaler);
 *     }
 *
 * bf16 has f32's exponent range and usually needs no loss scaling; f16's
 * gradients underflow without it.
 *
 * ---- Autocast ----------------------------------------------------------------
 *
 * Inside ag_autocast_begin(dt) .. ag_autocast_end() on the calling thread
 * (dt AG_F16 or AG_BF16):
 *   - 16-bit ops: ag_matmul, ag_linear, ag_conv2d, ag_conv_transpose2d and
 *     ag_scaled_dot_product_attention's products cast their float operands
 *     to dt (differentiably) and answer in dt, accumulating in f32 and
 *     rounding the result once (bias included);
 *   - f32 ops: softmax, log_softmax, logsumexp, layer_norm, rms_norm,
 *     batch_norm, var, std, the losses, pooling, dropout, max / min /
 *     argmax / argmin, where, gather, index_select and scatter_add widen 16-bit
 *     inputs to f32 and answer in f32;
 *   - every other op runs in its inputs' dtype by the usual promotion
 *     (relu of an f16 tensor is f16; f16 + f32 is f32).
 * Gradients flow through the casts: a parameter's gradient is f32, a 16-bit
 * intermediate's gradient has its dtype. Run ag_backward after
 * ag_autocast_end (the backward computes each op in the dtypes its forward
 * used either way). Regions nest; ag_autocast_begin(AG_F32) turns autocast
 * off inside a region. Graph capture records autocast steps like any other.
 *
 * Where a backend has no 16-bit fast path for an op, it converts 16-bit
 * operands to f32 through a staging buffer (the CPU and OpenCL backends'
 * GEMM, every backend's convolution; Vulkan converts GEMM, softmax and
 * layer norm in registers, see docs/ARCHITECTURE.md): autocast then gives
 * the numerics of the 16-bit op, not its speed.
 */
#ifndef ANYGRAD_AMP_H
#define ANYGRAD_AMP_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ag_optimizer ag_optimizer;

/* Opens an autocast region on the calling thread: AG_F16 or AG_BF16, or
 * AG_F32 to turn autocast off inside an enclosing region. Regions nest up
 * to 64 deep. AG_ERR_INVALID for another dtype or too deep a nesting. */
AG_API ag_status ag_autocast_begin(ag_dtype dtype);
/* Closes the innermost region (AG_ERR_INVALID when none is open). */
AG_API ag_status ag_autocast_end(void);
/* The calling thread's autocast dtype: AG_F16 or AG_BF16 inside a region,
 * AG_F32 outside (or inside ag_autocast_begin(AG_F32)). */
AG_API ag_dtype ag_autocast_dtype(void);

/* ---- Dynamic loss scaling ----------------------------------------------------
 *
 * The loss is multiplied by the scale before ag_backward, so small f16
 * gradients do not flush to zero; the step divides the gradients by the
 * scale again. When any gradient is inf or NaN the step is skipped and the
 * scale multiplied by backoff_factor; after growth_interval steps in a row
 * without one, the scale is multiplied by growth_factor. Checking the
 * gradients reads one number back from the device per step (not
 * capturable in a graph). */
typedef struct ag_grad_scaler ag_grad_scaler;

typedef struct ag_grad_scaler_opts {
    double init_scale;     /* 0: 65536 */
    double growth_factor;  /* 0: 2.0 (> 1) */
    double backoff_factor; /* 0: 0.5 (in (0, 1)) */
    int growth_interval;   /* 0: 2000 (steps) */
    bool disabled;         /* true: scale 1, steps never skipped, nothing read back */
} ag_grad_scaler_opts;

/* NULL opts: the defaults. NULL with the error set for invalid options. */
AG_API ag_grad_scaler *ag_grad_scaler_new(const ag_grad_scaler_opts *opts);
AG_API void ag_grad_scaler_free(ag_grad_scaler *s);
/* loss * scale (differentiable; a new tensor in the scope). */
AG_API ag_tensor *ag_grad_scaler_scale(ag_grad_scaler *s, const ag_tensor *loss);
/* Divides the gradients of the optimizer's parameters by the scale, in
 * place, and records whether any of them holds inf or NaN. At most once per
 * step (a second call before ag_grad_scaler_update is AG_ERR_INVALID); call
 * it before clipping gradients. */
AG_API ag_status ag_grad_scaler_unscale(ag_grad_scaler *s, ag_optimizer *opt);
/* Unscales (unless done already this step), then runs ag_optimizer_step
 * unless a gradient was inf or NaN. *stepped (may be NULL) tells which. At
 * most once per step: a second call before ag_grad_scaler_update is
 * AG_ERR_INVALID (it would apply the same gradients twice). */
AG_API ag_status ag_grad_scaler_step(ag_grad_scaler *s, ag_optimizer *opt, bool *stepped);
/* Adjusts the scale after a step (backoff after a skipped step, growth after
 * growth_interval good ones) and starts the next step. */
AG_API ag_status ag_grad_scaler_update(ag_grad_scaler *s);
/* The current scale (NAN for NULL). */
AG_API double ag_grad_scaler_get_scale(const ag_grad_scaler *s);
/* Steps skipped so far because of inf / NaN gradients (-1 for NULL). */
AG_API int64_t ag_grad_scaler_skipped(const ag_grad_scaler *s);

#ifdef __cplusplus
}
#endif

#endif /* ANYGRAD_AMP_H */
