/*
 * anygrad/tensor.h — creating tensors, views, reading and writing data.
 *
 * A tensor is a strided view (shape, strides, offset, dtype) of a device
 * buffer. Views share the buffer without copying. Shapes are int64_t with at
 * most AG_MAX_DIMS dims; a 0-dim tensor is a scalar. Dims are >= 0 and the
 * product of the non-zero dims is at most 2^40 (so [0, 2^32, 2^32] is refused
 * like [1, 2^32, 2^32]): AG_ERR_INVALID "shape [...] has too many elements".
 *
 * Ownership: every function that returns a new ag_tensor* gives one reference
 * to the innermost open scope, or to the caller when no scope is open. Returns
 * NULL on failure (see ag_last_error) and when any tensor argument is NULL.
 */
#ifndef ANYGRAD_TENSOR_H
#define ANYGRAD_TENSOR_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

#define AG_MAX_DIMS 8

typedef struct ag_tensor ag_tensor;

/* AG_SHAPE(64, 784) expands to the pair `ndim, shape` that shape arguments take:
 *   ag_zeros(dev, AG_F32, AG_SHAPE(64, 784)) */
#define AG_SHAPE(...)                                                                              \
    (int)(sizeof((const int64_t[]){__VA_ARGS__}) / sizeof(int64_t)), (const int64_t[]){__VA_ARGS__}
/* AG_DIMS(0, 2) expands to the pair `ndims, dims` for reductions. */
#define AG_DIMS(...)                                                                               \
    (int)(sizeof((const int[]){__VA_ARGS__}) / sizeof(int)), (const int[]){__VA_ARGS__}

/* ---- References --------------------------------------------------------- */

/* Adds a reference so the tensor outlives its scope. Returns `t`. */
AG_API ag_tensor *ag_retain(ag_tensor *t);

/* Drops one reference; the tensor is freed with its last one. NULL is a no-op.
 * Misuse is an error, not memory corruption: releasing a tensor more often
 * than it was referenced, or using one after the scope that owned it ended,
 * sets AG_ERR_INVALID "... is not a live tensor (released more often than it
 * was retained, or used after the scope that owned it ended)" and the call
 * does nothing (ops return NULL). Freed tensors and devices carry a dead
 * magic word and their memory is held back for the next 1024 frees, so this
 * is detected for recent misuse; older dangling handles are undefined. */
AG_API void ag_release(ag_tensor *t);

/* ---- Creation ----------------------------------------------------------- */

/* Uninitialised contents (whatever the device memory holds). */
AG_API ag_tensor *ag_empty(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape);
AG_API ag_tensor *ag_zeros(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape);
AG_API ag_tensor *ag_ones(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape);
/* `value` converted to dtype: rounded to nearest even for f16 / bf16,
 * truncated toward zero for i32 and u8, where NaN or a value out of the
 * dtype's range is AG_ERR_INVALID (as in ag_scalar, the *_like and ag_fill_). */
AG_API ag_tensor *ag_full(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape,
                          double value);
/* A 0-dim tensor holding `value`. */
AG_API ag_tensor *ag_scalar(ag_device *dev, ag_dtype dtype, double value);
/* 1-D [start, start+step, ...) up to but excluding `end`, like torch.arange. */
AG_API ag_tensor *ag_arange(ag_device *dev, ag_dtype dtype, double start, double end, double step);
/* [n, m] identity-like matrix (ones on the main diagonal). */
AG_API ag_tensor *ag_eye(ag_device *dev, ag_dtype dtype, int64_t n, int64_t m);
/* Copies `ndata` elements' worth of host memory (row-major, `dtype`) into a new
 * tensor. Fails if the product of `shape` differs from what `nbytes` holds. */
AG_API ag_tensor *ag_from_data(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape,
                               const void *data, size_t nbytes);
/* Uniform in [0, 1) and standard normal, from the global Philox generator. */
AG_API ag_tensor *ag_rand(ag_device *dev, int ndim, const int64_t *shape);
AG_API ag_tensor *ag_randn(ag_device *dev, int ndim, const int64_t *shape);
/* Uniform in [low, high). */
AG_API ag_tensor *ag_uniform(ag_device *dev, int ndim, const int64_t *shape, double low,
                             double high);
/* Tensors shaped like `t` (same device and dtype unless given). */
AG_API ag_tensor *ag_zeros_like(const ag_tensor *t);
AG_API ag_tensor *ag_ones_like(const ag_tensor *t);
AG_API ag_tensor *ag_full_like(const ag_tensor *t, double value);

/* ---- Properties --------------------------------------------------------- */

AG_API int ag_ndim(const ag_tensor *t);             /* -1 for NULL */
AG_API int64_t ag_size(const ag_tensor *t, int dim); /* negative dims count from the end; -1 on error */
AG_API const int64_t *ag_shape(const ag_tensor *t); /* ndim entries, owned by the tensor */
AG_API const int64_t *ag_strides(const ag_tensor *t); /* in elements */
AG_API int64_t ag_numel(const ag_tensor *t);
AG_API ag_dtype ag_tensor_dtype(const ag_tensor *t);
AG_API ag_device *ag_tensor_device(const ag_tensor *t);
AG_API bool ag_is_contiguous(const ag_tensor *t);
/* How many times the tensor's memory was written in place (ag_copy_,
 * ag_fill_, ag_tensor_write, an optimizer step, gradient clipping or
 * unscaling, a collective, a state-dict load), like torch's _version. Views
 * share their base's counter. ag_backward fails with AG_ERR_INVALID, naming
 * the op and the tensor, when a value its gradient needs changed after the
 * op ran, instead of computing a wrong gradient. -1 for NULL or a released
 * tensor. */
AG_API int64_t ag_tensor_version(const ag_tensor *t);
/* Writes "[2,3,4]" into buf (always NUL-terminated). Returns buf. */
AG_API char *ag_shape_str(const ag_tensor *t, char *buf, size_t cap);

/* ---- Host transfer ------------------------------------------------------ */

/* Copies the tensor's elements (row-major, its own dtype) into `dst`, which
 * holds `nbytes`. Waits for pending work. Fails if nbytes is too small, and
 * with AG_ERR_INVALID when a kernel on the device met an out-of-range index
 * since the last sync or read (the data is copied; see ops.h). ag_item
 * returns NAN then. */
AG_API ag_status ag_tensor_read(const ag_tensor *t, void *dst, size_t nbytes);
/* Copies host data into the tensor (which may be a view, but not an expanded
 * one whose elements share memory: AG_ERR_INVALID). */
AG_API ag_status ag_tensor_write(ag_tensor *t, const void *src, size_t nbytes);
/* The value of a one-element tensor as double. Returns NAN on error. */
AG_API double ag_item(const ag_tensor *t);
/* Prints shape, dtype and (up to a few) values to stdout, for debugging. */
AG_API void ag_print(const ag_tensor *t, const char *label);

/* ---- Copies, casts and devices ----------------------------------------- */

/* A new tensor with `t`'s values converted to `dtype` (f32→int truncates
 * toward zero; →u8 keeps the low 8 bits; →f16 / bf16 rounds to nearest
 * even, f16 overflowing to inf; from f16 / bf16 is exact). Differentiable
 * between float dtypes (the gradient is cast back to t's dtype). */
AG_API ag_tensor *ag_cast(const ag_tensor *t, ag_dtype dtype);
/* A copy of `t` on another device (differentiable). */
AG_API ag_tensor *ag_to_device(const ag_tensor *t, ag_device *dev);
/* A contiguous copy (or `t` itself, with a new reference, if already contiguous). */
AG_API ag_tensor *ag_contiguous(const ag_tensor *t);
/* A contiguous copy that never shares storage. */
AG_API ag_tensor *ag_clone(const ag_tensor *t);
/* Copies `src` (broadcast to dst's shape, converted to dst's dtype) into
 * `dst`, which may be a view, but not an expanded one whose elements share
 * memory (AG_ERR_INVALID, like PyTorch). Not recorded by autograd. */
AG_API ag_status ag_copy_(ag_tensor *dst, const ag_tensor *src);
/* Fills `dst` (possibly a view) with `value`, converted as in ag_full (NaN or
 * an out-of-range value for an integer dtype: AG_ERR_INVALID, dst unchanged).
 * Not recorded by autograd. */
AG_API ag_status ag_fill_(ag_tensor *dst, double value);

/* ---- Views (no copy; differentiable) ------------------------------------ */
/* Each returns a new tensor sharing `t`'s storage (writes through ag_copy_ or
 * ag_fill_ on a view change `t`). Negative dims count from the end. The
 * gradient of a view is the inverse view; of expand, the sum over the
 * broadcast dims; of slice/narrow/select, the gradient placed into zeros. */

/* New shape with the same number of elements; one dim may be -1. Copies only
 * when the strides make a view impossible (like torch.reshape). */
AG_API ag_tensor *ag_reshape(const ag_tensor *t, int ndim, const int64_t *shape);
/* Like reshape but fails instead of copying (torch.view). */
AG_API ag_tensor *ag_view(const ag_tensor *t, int ndim, const int64_t *shape);
AG_API ag_tensor *ag_permute(const ag_tensor *t, int ndim, const int *dims);
AG_API ag_tensor *ag_transpose(const ag_tensor *t, int dim0, int dim1);
/* 2-D transpose shortcut (t.T for matrices). */
AG_API ag_tensor *ag_t(const ag_tensor *t);
/* Broadcasts size-1 dims to `shape` with stride 0 (-1 keeps a size); new
 * leading dims may be added. */
AG_API ag_tensor *ag_expand(const ag_tensor *t, int ndim, const int64_t *shape);
/* Elements start, start+step, ... < end along `dim` (python slicing t[start:end:step];
 * negative start/end count from the end and are clamped; step > 0). */
AG_API ag_tensor *ag_slice(const ag_tensor *t, int dim, int64_t start, int64_t end, int64_t step);
/* torch.narrow: `length` elements from `start` along dim. */
AG_API ag_tensor *ag_narrow(const ag_tensor *t, int dim, int64_t start, int64_t length);
/* Removes dim `dim` selecting index `index` (t[..., index, ...]). */
AG_API ag_tensor *ag_select(const ag_tensor *t, int dim, int64_t index);
/* Removes size-1 dim `dim` (a view of `t` unchanged when that dim is not 1,
 * like torch.squeeze); or every size-1 dim with ag_squeeze_all. */
AG_API ag_tensor *ag_squeeze(const ag_tensor *t, int dim);
AG_API ag_tensor *ag_squeeze_all(const ag_tensor *t);
AG_API ag_tensor *ag_unsqueeze(const ag_tensor *t, int dim);
/* Merges dims start_dim..end_dim (inclusive) into one (a 0-dim tensor gives
 * shape [1]). A view when the strides allow it, else a copy (like reshape). */
AG_API ag_tensor *ag_flatten(const ag_tensor *t, int start_dim, int end_dim);

/* ---- Joining and splitting (differentiable) ----------------------------- */

/* Concatenates along an existing dim; the other dims must match. The result
 * has the promoted dtype (u8 < i32 < f32) and is a new tensor. */
AG_API ag_tensor *ag_cat(int n, ag_tensor *const *tensors, int dim);
/* Stacks along a new dim (-ndim-1 <= dim <= ndim); all shapes must match. */
AG_API ag_tensor *ag_stack(int n, ag_tensor *const *tensors, int dim);
/* Splits into pieces of `split_size` along dim (the last may be smaller).
 * Writes up to `max_out` views into `out`; returns the number of pieces, or a
 * negative ag_status. */
AG_API int ag_split(const ag_tensor *t, int64_t split_size, int dim, ag_tensor **out,
                    int max_out);
/* Splits into `chunks` nearly equal pieces (like torch.chunk: pieces of
 * ceil(size/chunks), so there may be fewer than `chunks`). Same return. The
 * pieces are views (differentiable); each new reference is the caller's or
 * the scope's like any result. */
AG_API int ag_chunk(const ag_tensor *t, int chunks, int dim, ag_tensor **out, int max_out);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_TENSOR_H */
