/*
 * anygrad/autograd.h — reverse-mode automatic differentiation.
 *
 * A dynamic tape like PyTorch's: each differentiable op on a tensor that
 * requires grad records a node; ag_backward walks the graph from a root and
 * accumulates gradients into the leaves' .grad.
 */
#ifndef ANYGRAD_AUTOGRAD_H
#define ANYGRAD_AUTOGRAD_H

#include "tensor.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a leaf float tensor (f32, f16, bf16) as requiring gradients. Returns
 * AG_ERR_INVALID for a non-leaf or an integer tensor. A gradient has its
 * tensor's dtype: the engine rounds what a backward computed in another
 * float dtype. (Optimizers update f32 parameters only.) */
AG_API ag_status ag_set_requires_grad(ag_tensor *t, bool requires_grad);
AG_API bool ag_requires_grad(const ag_tensor *t);
/* True for tensors not produced by a recorded op. */
AG_API bool ag_is_leaf(const ag_tensor *t);

/* Back-propagates from `root`. With grad_output NULL, root must have one
 * element (a scalar loss) and its gradient is 1; otherwise grad_output has
 * root's shape. Gradients accumulate (add) into .grad of leaves that require
 * grad and of tensors marked with ag_retain_grad. The graph is freed as its
 * tensors are released. */
AG_API ag_status ag_backward(ag_tensor *root, const ag_tensor *grad_output);

/* The accumulated gradient of `t`, or NULL when none. The tensor owns it:
 * the pointer is valid until the gradient is replaced or zeroed (retain it to
 * keep it longer). */
AG_API ag_tensor *ag_grad(const ag_tensor *t);
/* Drops the accumulated gradient (like setting .grad = None). */
AG_API void ag_zero_grad(ag_tensor *t);
/* Replaces the stored gradient with `grad` (retained), or clears it with NULL. */
AG_API ag_status ag_set_grad(ag_tensor *t, ag_tensor *grad);
/* Asks a non-leaf tensor to keep its gradient after ag_backward. */
AG_API ag_status ag_retain_grad(ag_tensor *t);
/* A view of `t` sharing its data but cut from the graph. */
AG_API ag_tensor *ag_detach(const ag_tensor *t);

/* Inside a no-grad block ops record nothing (for evaluation and updates).
 * Blocks nest; they are per thread. */
AG_API void ag_no_grad_begin(void);
AG_API void ag_no_grad_end(void);
AG_API bool ag_is_grad_enabled(void);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_AUTOGRAD_H */
