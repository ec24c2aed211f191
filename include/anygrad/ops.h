/*
 * anygrad/ops.h — math on tensors, named after their PyTorch counterparts.
 *
 * All ops follow PyTorch's broadcasting rules and type promotion (i32 and u8
 * inputs to float math become f32; f16 with bf16 gives f32; a 16-bit float
 * with an integer keeps the float). f16 and bf16 tensors keep their dtype
 * through every float op: the unary, binary and scalar ops, matmul, softmax,
 * log_softmax, sum, mean, layer_norm and linear (x, weight and bias of one
 * 16-bit dtype) have 16-bit kernels; linear with mixed dtypes, convolution,
 * pooling, the other norms and reductions, the losses, where, dropout and
 * the index ops run their f32 kernels on the 16-bit values. Either
 * way the arithmetic and accumulation are f32 and each result is rounded
 * once to the 16-bit dtype. 16-bit tensors are differentiable (a tensor's
 * gradient has its dtype; a cast between float dtypes passes gradients
 * back). Mixed-precision training with f32 parameters: anygrad/amp.h.
 * Every op returns a new tensor owned by the
 * innermost scope (or the caller), or NULL on failure with ag_last_error()
 * naming the op and the shapes; a NULL input gives a NULL output. Ops marked
 * "differentiable" record an autograd node when an input requires grad.
 * Inputs of one op must live on the same device.
 */
#ifndef ANYGRAD_OPS_H
#define ANYGRAD_OPS_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- Unary (differentiable; f32 result, or the input's 16-bit dtype) ----- */
/* Integer inputs are converted to f32 first (so ag_neg of an i32 gives f32).
 * Gradients follow PyTorch at special points: d|x|/dx and relu'(x) are 0 at
 * x = 0. */

AG_API ag_tensor *ag_neg(const ag_tensor *x);
AG_API ag_tensor *ag_abs(const ag_tensor *x);
AG_API ag_tensor *ag_exp(const ag_tensor *x);
AG_API ag_tensor *ag_log(const ag_tensor *x);
AG_API ag_tensor *ag_sqrt(const ag_tensor *x);
AG_API ag_tensor *ag_rsqrt(const ag_tensor *x);
AG_API ag_tensor *ag_square(const ag_tensor *x);
AG_API ag_tensor *ag_reciprocal(const ag_tensor *x);
AG_API ag_tensor *ag_sin(const ag_tensor *x);
AG_API ag_tensor *ag_cos(const ag_tensor *x);
AG_API ag_tensor *ag_tanh(const ag_tensor *x);
AG_API ag_tensor *ag_sigmoid(const ag_tensor *x);
AG_API ag_tensor *ag_relu(const ag_tensor *x);
AG_API ag_tensor *ag_leaky_relu(const ag_tensor *x, double negative_slope);
/* Exact GELU: x * Phi(x). */
AG_API ag_tensor *ag_gelu(const ag_tensor *x);
/* GELU with the tanh approximation (approximate="tanh" in PyTorch). */
AG_API ag_tensor *ag_gelu_tanh(const ag_tensor *x);
AG_API ag_tensor *ag_silu(const ag_tensor *x);
/* log(1 + exp(beta*x)) / beta, linear above `threshold` (PyTorch defaults 1, 20). */
AG_API ag_tensor *ag_softplus(const ag_tensor *x, double beta, double threshold);
/* Clamps into [min, max]; pass -INFINITY / INFINITY for a one-sided clamp.
 * NaN bounds are an error; min > max gives max everywhere (like PyTorch).
 * The gradient passes where min <= x <= max (1 at the bounds themselves, the
 * subgradient PyTorch's clamp_backward takes) and is 0 outside, for NaN x and
 * when min > max (tests/golden/parity.txt). */
AG_API ag_tensor *ag_clamp(const ag_tensor *x, double min, double max);
/* x ** exponent for a scalar exponent (powf semantics). The gradient is
 * exponent * x^(exponent-1), exactly 0 for exponent 0. */
AG_API ag_tensor *ag_pow_scalar(const ag_tensor *x, double exponent);

/* ---- Binary (broadcasting; differentiable for f32) ---------------------- */

AG_API ag_tensor *ag_add(const ag_tensor *a, const ag_tensor *b);
AG_API ag_tensor *ag_sub(const ag_tensor *a, const ag_tensor *b);
AG_API ag_tensor *ag_mul(const ag_tensor *a, const ag_tensor *b);
/* Result dtype: the larger of a's and b's in u8 < i32 < f32 (add, sub, mul,
 * maximum, minimum keep integers; u8 arithmetic wraps like PyTorch's). */
/* True division (integer inputs give f32). */
AG_API ag_tensor *ag_div(const ag_tensor *a, const ag_tensor *b);
/* a ** b elementwise; always f32 (integer inputs are converted). Gradient for
 * a is 0 where b == 0; for b it is 0 where a == 0 and b >= 0 (PyTorch's). */
AG_API ag_tensor *ag_pow(const ag_tensor *a, const ag_tensor *b);
/* Elementwise max / min. Where a == b the gradient is split 0.5 / 0.5, like
 * torch.maximum / torch.minimum. */
AG_API ag_tensor *ag_maximum(const ag_tensor *a, const ag_tensor *b);
AG_API ag_tensor *ag_minimum(const ag_tensor *a, const ag_tensor *b);
/* Scalar forms: a op s, and s op a for the reversed ones. An integer tensor
 * with an integral s keeps its dtype for add, sub, rsub, mul, maximum and
 * minimum; otherwise the result is f32. maximum/minimum_scalar split the
 * gradient 0.5 at ties like ag_maximum with a 0-dim tensor. */
AG_API ag_tensor *ag_add_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_sub_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_rsub_scalar(const ag_tensor *a, double s); /* s - a */
AG_API ag_tensor *ag_mul_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_div_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_rdiv_scalar(const ag_tensor *a, double s); /* s / a */
AG_API ag_tensor *ag_maximum_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_minimum_scalar(const ag_tensor *a, double s);

/* ---- Comparisons (broadcasting; u8 mask of 0/1; not differentiable) ------ */
/* Mixed dtypes compare after promotion (u8 < i32 < f32); the scalar forms
 * compare an integer tensor exactly when s is integral. */

AG_API ag_tensor *ag_eq(const ag_tensor *a, const ag_tensor *b);
AG_API ag_tensor *ag_ne(const ag_tensor *a, const ag_tensor *b);
AG_API ag_tensor *ag_lt(const ag_tensor *a, const ag_tensor *b);
AG_API ag_tensor *ag_le(const ag_tensor *a, const ag_tensor *b);
AG_API ag_tensor *ag_gt(const ag_tensor *a, const ag_tensor *b);
AG_API ag_tensor *ag_ge(const ag_tensor *a, const ag_tensor *b);
AG_API ag_tensor *ag_eq_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_ne_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_lt_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_le_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_gt_scalar(const ag_tensor *a, double s);
AG_API ag_tensor *ag_ge_scalar(const ag_tensor *a, double s);
/* cond ? a : b elementwise, all three broadcast; cond must be u8 (non-zero
 * selects a). The result has the promoted dtype of a and b. Differentiable in
 * a and b. */
AG_API ag_tensor *ag_where(const ag_tensor *cond, const ag_tensor *a, const ag_tensor *b);

/* ---- Reductions (differentiable where it makes sense) ------------------- */
/* `dims` lists the dims to reduce (negative counts from the end; a dim listed
 * twice is an error); ndims == 0 reduces every dim. With keepdim the reduced
 * dims stay with size 1. A 0-dim x accepts dims 0 and -1 and reduces nothing.
 * Integer inputs are converted to f32 first (exact below 2^24). */

/* Sum; f32 result for every input dtype (PyTorch gives int64 for integers).
 * The sum over an empty dim is 0. */
AG_API ag_tensor *ag_sum(const ag_tensor *x, int ndims, const int *dims, bool keepdim);
/* Mean; f32 result. The mean over an empty dim is NaN (like PyTorch). */
AG_API ag_tensor *ag_mean(const ag_tensor *x, int ndims, const int *dims, bool keepdim);
/* Maximum / minimum over the dims: torch.amax / torch.amin (values only).
 * The result keeps x's dtype. Backward shares the gradient evenly among tied
 * extremes of each reduced group (as amax/amin and the full torch.max(x)
 * do; torch.max(x, dim) instead routes it to the returned index). A NaN in a
 * group gives NaN, like PyTorch. Reducing over an empty dim is an error. */
AG_API ag_tensor *ag_max(const ag_tensor *x, int ndims, const int *dims, bool keepdim);
AG_API ag_tensor *ag_min(const ag_tensor *x, int ndims, const int *dims, bool keepdim);
/* Index (i32) of the first maximum / minimum along one dim (dim = -1 for the
 * last; a NaN counts as the extreme, like PyTorch); not differentiable. A
 * 0-dim x gives 0; an empty dim is an error. */
AG_API ag_tensor *ag_argmax(const ag_tensor *x, int dim, bool keepdim);
AG_API ag_tensor *ag_argmin(const ag_tensor *x, int dim, bool keepdim);
/* Variance / standard deviation with `correction` (1 = unbiased, PyTorch's
 * default): sum((x - mean)^2) / max(0, N - correction), so N <= correction
 * gives NaN or inf like PyTorch. f32 result; composed from mean, sub, square
 * and sum, so gradients flow through those ops. */
AG_API ag_tensor *ag_var(const ag_tensor *x, int ndims, const int *dims, int correction,
                         bool keepdim);
AG_API ag_tensor *ag_std(const ag_tensor *x, int ndims, const int *dims, int correction,
                         bool keepdim);
/* log(sum(exp(x))), computed as log(sum(exp(x - m))) + m with m the maximum
 * (m taken as 0 where it is infinite): a group of all -inf gives -inf, any
 * +inf gives +inf, an empty group -inf. Gradient g * exp(x - y). */
AG_API ag_tensor *ag_logsumexp(const ag_tensor *x, int ndims, const int *dims, bool keepdim);
/* Numerically stable, fused softmax / log-softmax along `dim` (any dim; a
 * non-last dim costs a transposed copy in and out). f32 result, contiguous,
 * x's shape; a 0-dim x gives 1 / 0. */
AG_API ag_tensor *ag_softmax(const ag_tensor *x, int dim);
AG_API ag_tensor *ag_log_softmax(const ag_tensor *x, int dim);

/* ---- Linear algebra ----------------------------------------------------- */

/* torch.matmul: 1-D·1-D dot (0-dim result), 2-D matrix product, batched with
 * broadcasting batch dims, 1-D operands promoted ([K] → [1, K] on the left,
 * [K, 1] on the right) and the added dim removed from the result. Transposed
 * operands (ag_t, ag_transpose views) are used without a copy. Integer
 * operands are converted to f32. Errors name both shapes, e.g.
 * "ag_matmul: inner dims differ: [64,784] @ [512,10]". Differentiable. */
AG_API ag_tensor *ag_matmul(const ag_tensor *a, const ag_tensor *b);
/* x: [..., in], weight: [out, in], bias: [out] or NULL → [..., out] = x·Wᵀ + b,
 * one GEMM over all leading dims of x (x 1-D gives [out]). Differentiable in
 * x, weight and bias. */
AG_API ag_tensor *ag_linear(const ag_tensor *x, const ag_tensor *weight, const ag_tensor *bias);

/* ---- Convolution and pooling (NCHW) ------------------------------------- */

typedef struct ag_conv2d_opts {
    int stride[2];   /* default {1,1} (0 means 1) */
    int padding[2];  /* default {0,0} */
    int dilation[2]; /* default {1,1} (0 means 1) */
    int groups;      /* default 1 (0 means 1) */
    int output_padding[2]; /* conv_transpose2d only */
} ag_conv2d_opts;

/* x: [N, C, H, W] (or unbatched [C, H, W]), weight: [O, C/groups, kh, kw],
 * bias: [O] or NULL → [N, O, OH, OW] with OH = (H + 2*ph - dh*(kh-1) - 1)/sh + 1.
 * `opts` may be NULL for the defaults. Integer inputs are promoted to f32.
 * Fails when groups does not divide C and O, when weight's channels differ
 * from C/groups, or when the dilated kernel is larger than the padded input.
 * Differentiable in x, weight and bias. */
AG_API ag_tensor *ag_conv2d(const ag_tensor *x, const ag_tensor *weight, const ag_tensor *bias,
                            const ag_conv2d_opts *opts);
/* x: [N, C, H, W] (or [C, H, W]), weight: [C, O/groups, kh, kw], bias: [O] or
 * NULL → [N, O, OH, OW] with OH = (H-1)*sh - 2*ph + dh*(kh-1) + output_padding + 1;
 * output_padding must be smaller than the stride or the dilation. The adjoint
 * of ag_conv2d (PyTorch's conv_transpose2d). Differentiable in all three. */
AG_API ag_tensor *ag_conv_transpose2d(const ag_tensor *x, const ag_tensor *weight,
                                      const ag_tensor *bias, const ag_conv2d_opts *opts);

typedef struct ag_pool2d_opts {
    int kernel[2];
    int stride[2];   /* 0 means = kernel (PyTorch's default) */
    int padding[2];
    int dilation[2]; /* max pool only; 0 means 1 */
    bool ceil_mode;
    /* Avg pool only. The zero value is PyTorch's default count_include_pad =
     * True (padding counts in the divisor); set exclude_pad for PyTorch's
     * count_include_pad = False. (The field is named for the non-default so
     * a zero-initialised struct can only mean the default.) */
    bool exclude_pad;
} ag_pool2d_opts;

/* Pooling of x: [N, C, H, W] or [C, H, W] (integer x is promoted to f32);
 * opts is required (kernel > 0, padding at most half the kernel). Output size
 * as PyTorch: (H + 2*p - d*(k-1) - 1)/s + 1, rounded up with ceil_mode, where
 * a last window that would start in the right padding is dropped. Max pooling
 * sends the gradient to the first maximum of each window. Differentiable. */
AG_API ag_tensor *ag_max_pool2d(const ag_tensor *x, const ag_pool2d_opts *opts);
AG_API ag_tensor *ag_avg_pool2d(const ag_tensor *x, const ag_pool2d_opts *opts);
/* Output [N, C, out_h, out_w] with PyTorch's adaptive windows (window i along
 * H is [floor(i*H/out_h), ceil((i+1)*H/out_h))). Differentiable. */
AG_API ag_tensor *ag_adaptive_avg_pool2d(const ag_tensor *x, int64_t out_h, int64_t out_w);

/* ---- Indexing ----------------------------------------------------------- */

/* out[i][j] = x[index[i][j]][j] (dim 0) etc.; index is i32 with x's rank and
 * index.size(d) <= x.size(d) for d != dim; out has index's shape and x's
 * dtype (f32 or i32). Differentiable in x (f32). */
AG_API ag_tensor *ag_gather(const ag_tensor *x, int dim, const ag_tensor *index);
/* A copy of x with src added at index along dim (torch.scatter_add); x and src
 * f32, index i32 of their rank, no larger than src (and than x except along
 * dim); only src's index-shaped leading part is used. Differentiable in x and
 * src (src's unused entries get a zero gradient). */
AG_API ag_tensor *ag_scatter_add(const ag_tensor *x, int dim, const ag_tensor *index,
                                 const ag_tensor *src);
/* Selects entries of a 1-D (or 0-D) i32 `index` along dim; x f32 or i32.
 * Differentiable in x. */
AG_API ag_tensor *ag_index_select(const ag_tensor *x, int dim, const ag_tensor *index);
/* weight: [V, D], index: i32 of any shape → [..., D]. Differentiable in weight. */
AG_API ag_tensor *ag_embedding(const ag_tensor *index, const ag_tensor *weight);
/* ag_embedding with PyTorch's padding_idx (F.embedding(..., padding_idx=p)):
 * the output is the same, but row p of weight gets no gradient (its entries
 * of the weight gradient are 0). p in [-V, V); negative counts from the end.
 * Out of range is AG_ERR_INVALID. */
AG_API ag_tensor *ag_embedding_padded(const ag_tensor *index, const ag_tensor *weight,
                                      int64_t padding_idx);
/* i32 labels [...] → [..., num_classes] of dtype i32 (PyTorch gives int64).
 * num_classes must be >= 1: PyTorch's -1 (infer from the data) would need a
 * device-to-host read. Computed as labels[..., None] == arange(num_classes). */
AG_API ag_tensor *ag_one_hot(const ag_tensor *labels, int64_t num_classes);
/* Out-of-range indices are errors on every device. On the CPU the op reads
 * the index and fails at once (AG_ERR_INVALID naming the op, the index and
 * the shape). On a GPU the kernels never go out of bounds (a bad index reads
 * 0 or is skipped) and set a device-side error word; the next
 * ag_device_sync, ag_tensor_read or ag_item on that device fails with
 * AG_ERR_INVALID "<op>: index out of range on <device> (found by <call>...)"
 * and clears it, so the computation since then must be discarded. */

/* ---- Normalisation and dropout ----------------------------------------- */
/* Integer inputs are promoted to f32. Each fails (NULL, error naming the op
 * and the shapes) when a parameter's shape or device does not fit x. */

/* Normalises over the last `ndims` dims given by `shape` (x must end with
 * them), with the biased variance: (x - mean) / sqrt(var + eps) * weight +
 * bias; weight and bias of that shape or NULL; eps finite and >= 0. One
 * fused kernel per call (statistics accumulated in f32, the mean shifted by
 * each row's first value so a large offset does not cancel); its gradient
 * is exact (not higher-order differentiable). */
AG_API ag_tensor *ag_layer_norm(const ag_tensor *x, int ndims, const int64_t *shape,
                                const ag_tensor *weight, const ag_tensor *bias, double eps);
/* Composed from the ops above (their gradients come from autograd).
 * x: [N, C, ...]. In training mode normalises with the batch statistics over
 * every dim but C (biased variance) and, when given, updates
 * running_mean/running_var in place (r = (1-momentum) r + momentum s, with the
 * unbiased variance; not recorded by autograd; momentum in [0, 1], the
 * cumulative average of momentum=None is the nn module's, see
 * AG_MOMENTUM_CUMULATIVE); fails when a channel has only
 * one value. In eval mode uses the running statistics, which are then
 * required. weight/bias: [C] or NULL; running stats: f32 [C] or NULL; eps
 * finite and >= 0. */
AG_API ag_tensor *ag_batch_norm(const ag_tensor *x, ag_tensor *running_mean,
                                ag_tensor *running_var, const ag_tensor *weight,
                                const ag_tensor *bias, bool training, double momentum,
                                double eps);
/* x / sqrt(mean(x², last ndims) + eps) * weight (weight of `shape` or NULL;
 * eps finite and >= 0). */
AG_API ag_tensor *ag_rms_norm(const ag_tensor *x, int ndims, const int64_t *shape,
                              const ag_tensor *weight, double eps);
/* Zeroes elements with probability p and scales the rest by 1/(1-p) when
 * training; returns x (new reference) otherwise or when p == 0; p == 1 gives
 * x * 0. The mask is ag_rand(x's shape) >= p from the global Philox generator
 * (it consumes numel(x) counters): identical on every backend for the same
 * seed. p outside [0, 1] is an error. */
AG_API ag_tensor *ag_dropout(const ag_tensor *x, double p, bool training);

/* ---- Losses ------------------------------------------------------------- */
/* Composed from the ops above (their gradients come from autograd, for every
 * f32 input). Mean and sum reductions give a 0-dim tensor; none keeps the
 * elementwise shape. */

typedef enum ag_reduction { AG_REDUCTION_MEAN = 0, AG_REDUCTION_SUM = 1, AG_REDUCTION_NONE = 2 } ag_reduction;

typedef struct ag_cross_entropy_opts {
    ag_reduction reduction; /* default mean */
    int64_t ignore_index;   /* targets equal to it are skipped. 0 means PyTorch's
                             * default, -100, unless has_ignore_index is set:
                             * a zero-initialised struct never skips class 0 */
    double label_smoothing; /* 0 for none */
    const ag_tensor *weight; /* f32 [C] per-class weights on the input's device, or
                              * NULL (all 1): PyTorch's `weight` argument */
    bool has_ignore_index;  /* true: use ignore_index as given, 0 included */
} ag_cross_entropy_opts;

/* logits: [N, C] (or [N, C, d...], or [C] with a 0-dim target), target: i32
 * class indices [N] (or [N, d...]); numerically stable through log_softmax.
 * Per element: (1 - ls) * -log p[target] + ls / C * sum_c -log p[c]; targets
 * equal to ignore_index give 0, and the mean divides by the number of the
 * others (NaN when every target is ignored, like PyTorch). An out-of-range
 * target is an error: at once on the CPU, at the next sync or read on a GPU
 * ("ag_cross_entropy: index out of range ...", see the index ops above).
 * target may also be f32 class probabilities with the logits' shape:
 * -sum_c t'[c] log p[c] with t' = (1 - ls) t + ls / C, mean over the N (and
 * d...) elements, differentiable in the target too; ignore_index unused.
 * With a class weight w (PyTorch semantics): an element's loss is scaled by
 * w[target] (the smoothing term by w[c] inside its sum over c) and the mean
 * divides by the sum of w[target] over the non-ignored targets (a weighted
 * mean; NaN when that sum is 0). For probability targets the term of class
 * c is scaled by w[c] and the mean still divides by the number of elements.
 * `opts` NULL means PyTorch's defaults (mean, ignore_index -100, no smoothing,
 * no weight). */
AG_API ag_tensor *ag_cross_entropy(const ag_tensor *logits, const ag_tensor *target,
                                   const ag_cross_entropy_opts *opts);
/* log_probs: [N, C] (or [N, C, d...]), target: i32 [N] (or [N, d...]) only.
 * Same options and rules (label_smoothing unused). */
AG_API ag_tensor *ag_nll_loss(const ag_tensor *log_probs, const ag_tensor *target,
                              const ag_cross_entropy_opts *opts);
/* (input - target)², |input - target| and smooth L1 (|d| < beta ? 0.5 d²/beta
 * : |d| - 0.5 beta; beta 0 is L1, beta < 0 an error); input and target
 * broadcast against each other. */
AG_API ag_tensor *ag_mse_loss(const ag_tensor *input, const ag_tensor *target,
                              ag_reduction reduction);
AG_API ag_tensor *ag_l1_loss(const ag_tensor *input, const ag_tensor *target,
                             ag_reduction reduction);
AG_API ag_tensor *ag_smooth_l1_loss(const ag_tensor *input, const ag_tensor *target,
                                    ag_reduction reduction, double beta);
/* (1 - y) x + w softplus(-x) with w = 1 + (pos_weight - 1) y: stable for any
 * |x|. target has the shape of logits; pos_weight (NULL for 1) broadcasts to
 * it, e.g. [C] for logits [N, C]. */
AG_API ag_tensor *ag_binary_cross_entropy_with_logits(const ag_tensor *logits,
                                                      const ag_tensor *target,
                                                      const ag_tensor *pos_weight,
                                                      ag_reduction reduction);

/* ---- Attention ---------------------------------------------------------- */

/* q: [..., L, E], k: [..., S, E], v: [..., S, Ev] → [..., L, Ev]; the batch
 * dims of q, k and v broadcast. softmax(q kᵀ * scale + mask) v, composed from
 * matmul, where and softmax (differentiable in q, k and v).
 * attn_mask: NULL, a u8 mask (1 = keep, 0 = -inf) or an f32 additive mask
 * broadcastable to [..., L, S]. is_causal keeps key j for query i when j <= i
 * (top-left aligned, like torch.tril) and excludes attn_mask. A query row with
 * every key masked gives 0 (and zero gradients), like PyTorch's safe softmax.
 * scale <= 0 means 1/sqrt(E). */
AG_API ag_tensor *ag_scaled_dot_product_attention(const ag_tensor *q, const ag_tensor *k,
                                                  const ag_tensor *v, const ag_tensor *attn_mask,
                                                  bool is_causal, double scale);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_OPS_H */
