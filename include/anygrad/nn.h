/*
 * anygrad/nn.h — neural-network modules with named parameters.
 *
 * A module owns its parameters (f32 leaves that require grad), its buffers
 * (running statistics) and its children. Names follow PyTorch's state-dict
 * convention: a Sequential's children are "0", "1", ...; a parameter is named
 * by its path, e.g. "features.0.weight", so files line up with PyTorch models.
 *
 * Constructors create the module's tensors on `dev` with PyTorch's default
 * initialisation drawn from anygrad's global generator (ag_manual_seed), and
 * return NULL on failure. The caller owns the returned module and frees it with
 * ag_module_free; a module added to a container belongs to the container.
 * Module tensors are not owned by any scope.
 */
#ifndef ANYGRAD_NN_H
#define ANYGRAD_NN_H

#include "io.h"
#include "ops.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ag_module ag_module;

/* ---- Every module --------------------------------------------------------- */

/* Runs the module. The result belongs to the current scope. NULL on error. */
AG_API ag_tensor *ag_module_forward(ag_module *m, const ag_tensor *x);
/* Switches training mode (dropout, batch-norm statistics) for m and its children. */
AG_API void ag_module_train(ag_module *m, bool training);
AG_API bool ag_module_is_training(const ag_module *m);
/* Type name, e.g. "Linear", "Sequential". */
AG_API const char *ag_module_type(const ag_module *m);
/* Frees the module, its children and its tensors. NULL is a no-op. A module
 * that belongs to a container is freed with it: freeing it alone is
 * AG_ERR_INVALID and does nothing. */
AG_API void ag_module_free(ag_module *m);

/* Named tensors of the module tree, in registration order (depth first).
 * Parameters only, or parameters and buffers (the state dict). Writes up to
 * `max` entries; returns the total count. The names and tensors are owned by
 * the module (valid until it is freed). */
AG_API int ag_module_parameters(const ag_module *m, const char **names, ag_tensor **tensors,
                                int max);
AG_API int ag_module_state(const ag_module *m, const char **names, ag_tensor **tensors, int max);
/* Number of scalar parameters (like sum(p.numel() for p in m.parameters())). */
AG_API int64_t ag_module_num_parameters(const ag_module *m);
/* A named tensor of the state ("0.weight"), or NULL. */
AG_API ag_tensor *ag_module_get(const ag_module *m, const char *name);
/* Clears the gradients of every parameter. */
AG_API void ag_module_zero_grad(ag_module *m);

/* A new state dict (caller frees) referencing every parameter and buffer under
 * its dotted name — save it with ag_safetensors_save. NULL on error. */
AG_API ag_state_dict *ag_module_state_dict(const ag_module *m);
/* Copies a state dict's entries into the module's tensors, checking names,
 * dtypes and shapes first (nothing changes on a mismatch; the error lists each
 * problem). With `strict`, extra entries in `sd` are errors too. */
AG_API ag_status ag_module_load_state_dict(ag_module *m, const ag_state_dict *sd, bool strict);

/* ---- Containers ----------------------------------------------------------- */

/* A Sequential over `n` modules, which it takes ownership of (also on failure). */
AG_API ag_module *ag_nn_sequential(int n, ag_module *const *modules);
/* Appends a module (taking ownership). A module that already belongs to a
 * container, or one that contains seq (a cycle), is AG_ERR_INVALID and stays
 * where it was. */
AG_API ag_status ag_nn_sequential_append(ag_module *seq, ag_module *m);

/* ---- Layers ---------------------------------------------------------------- */

/* x [..., in] → [..., out]; weight [out, in], bias [out]; kaiming-uniform init. */
AG_API ag_module *ag_nn_linear(ag_device *dev, int64_t in_features, int64_t out_features,
                               bool bias);
/* weight [out, in/groups, kh, kw]; opts may be NULL (stride 1, no padding). */
AG_API ag_module *ag_nn_conv2d(ag_device *dev, int64_t in_channels, int64_t out_channels,
                               int kernel_h, int kernel_w, const ag_conv2d_opts *opts, bool bias);
/* weight [in, out/groups, kh, kw]. */
AG_API ag_module *ag_nn_conv_transpose2d(ag_device *dev, int64_t in_channels,
                                         int64_t out_channels, int kernel_h, int kernel_w,
                                         const ag_conv2d_opts *opts, bool bias);
/* Parameters weight/bias [C]; buffers running_mean, running_var [C] and
 * num_batches_tracked (i32 scalar). 1d: [N, C] or [N, C, L]; 2d: [N, C, H, W].
 * momentum in [0, 1] (PyTorch's default 0.1), or AG_MOMENTUM_CUMULATIVE for
 * PyTorch's momentum=None: the running statistics are the cumulative average
 * of every training batch, factor 1 / num_batches_tracked after its
 * increment (computed on the device). Other values are AG_ERR_INVALID. */
#define AG_MOMENTUM_CUMULATIVE (-1.0)
AG_API ag_module *ag_nn_batch_norm1d(ag_device *dev, int64_t num_features, double eps,
                                     double momentum);
AG_API ag_module *ag_nn_batch_norm2d(ag_device *dev, int64_t num_features, double eps,
                                     double momentum);
/* Normalises the last dim of size `dim` (weight, bias [dim]). */
AG_API ag_module *ag_nn_layer_norm(ag_device *dev, int64_t dim, double eps);
AG_API ag_module *ag_nn_rms_norm(ag_device *dev, int64_t dim, double eps);
AG_API ag_module *ag_nn_dropout(double p);
/* weight [num, dim] ~ N(0, 1); input i32 indices. */
AG_API ag_module *ag_nn_embedding(ag_device *dev, int64_t num, int64_t dim);
/* nn.Embedding(num, dim, padding_idx=p): row p (in [-num, num), negative
 * from the end) starts at zero and never gets a gradient
 * (ag_embedding_padded), so it stays zero under plain SGD/Adam updates. */
AG_API ag_module *ag_nn_embedding_padded(ag_device *dev, int64_t num, int64_t dim,
                                         int64_t padding_idx);
AG_API ag_module *ag_nn_max_pool2d(const ag_pool2d_opts *opts);
AG_API ag_module *ag_nn_avg_pool2d(const ag_pool2d_opts *opts);
AG_API ag_module *ag_nn_adaptive_avg_pool2d(int64_t out_h, int64_t out_w);
/* Flattens dims start..end (PyTorch's nn.Flatten default: 1, -1). */
AG_API ag_module *ag_nn_flatten(int start_dim, int end_dim);

/* Activations as modules. */
AG_API ag_module *ag_nn_relu(void);
AG_API ag_module *ag_nn_leaky_relu(double negative_slope);
AG_API ag_module *ag_nn_gelu(bool tanh_approximation);
AG_API ag_module *ag_nn_silu(void);
AG_API ag_module *ag_nn_sigmoid(void);
AG_API ag_module *ag_nn_tanh(void);
AG_API ag_module *ag_nn_softplus(double beta, double threshold);

/* ---- Attention --------------------------------------------------------------- */

/* Self-attention over x [N, L, E] (batch_first) with `heads` heads:
 * in_proj_weight [3E, E], in_proj_bias [3E], out_proj.weight [E, E],
 * out_proj.bias [E] — PyTorch's nn.MultiheadAttention layout. */
AG_API ag_module *ag_nn_multihead_attention(ag_device *dev, int64_t embed_dim, int64_t heads,
                                            double dropout);
/* Runs attention with separate query/key/value and an optional mask (see
 * ag_scaled_dot_product_attention). When query, key and value are the same
 * tensor (self-attention) the input is projected once with the whole
 * in_proj_weight, like PyTorch's packed projection: the same math in one
 * product, so results may differ from three products in the last bits. */
AG_API ag_tensor *ag_nn_multihead_attention_forward(ag_module *mha, const ag_tensor *query,
                                                    const ag_tensor *key, const ag_tensor *value,
                                                    const ag_tensor *attn_mask, bool is_causal);
/* Pre-norm encoder layer (norm_first=True, batch_first=True, ReLU):
 * x = x + drop(attn(norm1(x))); x = x + drop(linear2(drop(relu(linear1(norm2(x))))))
 * Children: self_attn, linear1, linear2, norm1, norm2. */
AG_API ag_module *ag_nn_transformer_encoder_layer(ag_device *dev, int64_t d_model, int64_t nhead,
                                                  int64_t dim_feedforward, double dropout);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_NN_H */
