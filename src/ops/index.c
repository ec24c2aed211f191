/*
 * src/ops/index.c — gather, scatter_add, index_select, embedding, one_hot.
 *
 * Everything is built from two kernels, AGI_K_GATHER and AGI_K_SCATTER_ADD,
 * which are each other's adjoint:
 *   gather       forward GATHER;      dx   = SCATTER_ADD(dy) into zeros
 *   scatter_add  forward COPY + SCATTER_ADD; dx = dy, dsrc = GATHER(dy)
 *   index_select GATHER with the 1-D index broadcast (stride 0) over the
 *                other dims; backward SCATTER_ADD into zeros
 *   embedding    index_select of weight rows for a flattened index [M] → [M, D]
 *   one_hot      labels[..., None] == arange(C) (u8), copied to i32
 *
 * Index range: when the index tensor lives on the CPU device the op reads it
 * and reports the first out-of-range entry ("ag_gather: index 7 out of range
 * for dim 1 of size 5"). On GPUs there is no host round trip; the kernels
 * read such entries as 0 and skip them on write (never out of bounds).
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* ---- Helpers --------------------------------------------------------------- */

/* t's view with its shape replaced by `shape` (same strides/offset); dims of
 * size 1 get stride 0 like agi_view_of. */
static agi_view view_shaped(const ag_tensor *t, int ndim, const int64_t *shape)
{
    agi_view v = agi_view_of(t);
    v.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        v.shape[d] = shape[d];
        v.strides[d] = shape[d] == 1 ? 0 : t->strides[d];
    }
    return v;
}

/* True when the index tensor lives on the CPU backend (where reading it is
 * cheap and synchronous, so the op can validate it). */
static bool on_cpu(const ag_tensor *t) { return t->storage->dev->be->kind == AG_BACKEND_CPU; }

/* Reports the first index outside [0, size) when `index` is on the CPU,
 * naming the shapes of the indexed tensor (`of`, or NULL) and of the index. */
static bool check_range(const char *op, const ag_tensor *index, int dim, int64_t size,
                        const ag_tensor *of)
{
    if (!on_cpu(index) || agi_capturing(index->storage->dev)) return true; /* the error word checks */
    int64_t n = ag_numel(index);
    if (n == 0) return true;
    int32_t *h = agi_malloc((size_t)n * sizeof *h);
    if (!h) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return false;
    }
    bool ok = ag_tensor_read(index, h, (size_t)n * sizeof *h) == AG_OK;
    for (int64_t i = 0; ok && i < n; i++) {
        if (h[i] < 0 || h[i] >= size) {
            char a[192], b[192];
            if (of)
                agi_error(AG_ERR_INVALID, op,
                          "index %d out of range for dim %d of size %lld (input %s, index %s)",
                          h[i], dim, (long long)size, agi_fmt_shape(a, of->ndim, of->shape),
                          agi_fmt_shape(b, index->ndim, index->shape));
            else
                agi_error(AG_ERR_INVALID, op, "index %d out of range [0, %lld) (index %s)", h[i],
                          (long long)size, agi_fmt_shape(b, index->ndim, index->shape));
            ok = false;
        }
    }
    free(h);
    return ok;
}

static bool check_index_dtype(const char *op, const ag_tensor *index)
{
    if (index->dtype == AG_I32) return true;
    char a[192];
    agi_error(AG_ERR_INVALID, op, "index must be i32, got %s %s", ag_dtype_name(index->dtype),
              agi_fmt_shape(a, index->ndim, index->shape));
    return false;
}

static bool check_data_dtype(const char *op, const ag_tensor *x, bool f32_only, const char *arg)
{
    if (x->dtype == AG_F32 || (!f32_only && x->dtype == AG_I32)) return true;
    char a[192];
    agi_error(AG_ERR_INVALID, op, "%s must be %s, got %s %s", arg, f32_only ? "f32" : "f32 or i32",
              ag_dtype_name(x->dtype), agi_fmt_shape(a, x->ndim, x->shape));
    return false;
}

static ag_status fill_zero(const char *op, ag_tensor *t)
{
    agi_kernel k = {.op = AGI_K_FILL};
    k.dst = agi_view_of(t);
    return agi_exec(op, t->storage->dev, &k);
}

/* dst (view of index's shape) = src[... index ... at dim]; `src` is seen
 * with index's shape except along dim (its own size there). */
static ag_status gather_kernel(const char *op, agi_view dst, const ag_tensor *src, int dim,
                               agi_view index)
{
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, index.shape, sizeof shape);
    shape[dim] = src->shape[dim];
    agi_kernel k = {.op = AGI_K_GATHER};
    k.dst = dst;
    k.src[0] = view_shaped(src, index.ndim, shape);
    k.src[1] = index;
    k.p.s.i[0] = dim;
    agi_index_guard(op, src->storage->dev, &k);
    return agi_exec(op, src->storage->dev, &k);
}

/* dst[... index ... at dim] += src; src is any view of index's shape; dst is
 * seen with index's shape except along dim. */
static ag_status scatter_kernel(const char *op, ag_tensor *dst, int dim, agi_view src,
                                agi_view index)
{
    if (agi_view_numel(&src) == 0) return AG_OK; /* nothing to add */
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, index.shape, sizeof shape);
    shape[dim] = dst->shape[dim];
    agi_kernel k = {.op = AGI_K_SCATTER_ADD};
    k.dst = view_shaped(dst, index.ndim, shape);
    k.src[0] = src;
    k.src[1] = index;
    k.p.s.i[0] = dim;
    agi_index_guard(op, dst->storage->dev, &k);
    return agi_exec(op, dst->storage->dev, &k);
}

/* Checks index.shape[d] <= t.shape[d] for every d (except `skip`, -1 for none). */
static bool check_fits(const char *op, const ag_tensor *index, const ag_tensor *t, int skip,
                       const char *what)
{
    for (int d = 0; d < t->ndim; d++) {
        if (d != skip && index->shape[d] > t->shape[d]) {
            char a[192], b[192];
            agi_error(AG_ERR_INVALID, op,
                      "index %s is larger than %s %s at dim %d", agi_fmt_shape(a, index->ndim, index->shape),
                      what, agi_fmt_shape(b, t->ndim, t->shape), d);
            return false;
        }
    }
    return true;
}

static bool check_same_rank(const char *op, const ag_tensor *index, const ag_tensor *t,
                            const char *what)
{
    if (index->ndim == t->ndim) return true;
    char a[192], b[192];
    agi_error(AG_ERR_INVALID, op, "index %s must have the rank of %s %s",
              agi_fmt_shape(a, index->ndim, index->shape), what,
              agi_fmt_shape(b, t->ndim, t->shape));
    return false;
}

/* ---- gather ---------------------------------------------------------------------- */

/* saved[0] = index; i[0] = dim. dx = zeros(x); dx[index] += dy. */
static ag_status gather_backward(agi_node *node, ag_tensor *grad, ag_tensor **grads)
{
    const char *op = "ag_gather";
    const ag_tensor *x = node->inputs[0];
    int dim = (int)node->i[0];
    ag_tensor *dx = agi_tensor_new(op, grad->storage->dev, AG_F32, x->ndim, x->shape);
    if (!dx || fill_zero(op, dx) != AG_OK) return ag_last_status();
    if (scatter_kernel(op, dx, dim, agi_view_of(grad), agi_view_of(node->saved[0])) != AG_OK)
        return ag_last_status();
    grads[0] = dx;
    return AG_OK;
}

ag_tensor *ag_gather(const ag_tensor *x, int dim, const ag_tensor *index)
{
    AGI_HALF_VIA_F32(ag_gather(AGI_F32(x), dim, index), x);
    const char *op = "ag_gather";
    if (!agi_check_tensor(op, x, "x") || !agi_check_tensor(op, index, "index")) return NULL;
    if (!agi_check_same_device(op, x, index)) return NULL;
    if (!check_data_dtype(op, x, false, "x") || !check_index_dtype(op, index)) return NULL;
    if (!agi_norm_dim(op, x, dim, &dim)) return NULL;
    if (!check_same_rank(op, index, x, "x") || !check_fits(op, index, x, dim, "x")) return NULL;
    if (!check_range(op, index, dim, x->shape[dim], x)) return NULL;
    ag_tensor *y = agi_tensor_new(op, x->storage->dev, x->dtype, index->ndim, index->shape);
    if (!y) return NULL;
    if (gather_kernel(op, agi_view_of(y), x, dim, agi_view_of(index)) != AG_OK) {
        agi_discard(y);
        return NULL;
    }
    if (agi_dtype_is_float(x->dtype) && AGI_NEEDS_GRAD(x)) {
        agi_node *node =
            agi_node_reads_none(agi_node_new(op, gather_backward, 1, (const ag_tensor *[]){x}));
        if (node) {
            node->i[0] = dim;
            agi_node_save(node, 0, index);
        }
        y = agi_attach(y, node);
    }
    return y;
}

/* ---- scatter_add ------------------------------------------------------------------ */

/* saved[0] = index; i[0] = dim. dx = dy; dsrc = dy gathered at index (zeros
 * where src is larger than index). */
static ag_status scatter_add_backward(agi_node *node, ag_tensor *grad, ag_tensor **grads)
{
    const char *op = "ag_scatter_add";
    int dim = (int)node->i[0];
    const ag_tensor *src = node->inputs[1], *index = node->saved[0];
    if (node->inputs[0]->requires_grad) grads[0] = grad;
    if (src->requires_grad) {
        ag_tensor *ds = agi_tensor_new(op, grad->storage->dev, AG_F32, src->ndim, src->shape);
        if (!ds) return ag_last_status();
        bool partial = memcmp(src->shape, index->shape, (size_t)src->ndim * sizeof *src->shape);
        if (partial && fill_zero(op, ds) != AG_OK) return ag_last_status();
        if (gather_kernel(op, view_shaped(ds, index->ndim, index->shape), grad, dim,
                          agi_view_of(index)) != AG_OK)
            return ag_last_status();
        grads[1] = ds;
    }
    return AG_OK;
}

ag_tensor *ag_scatter_add(const ag_tensor *x, int dim, const ag_tensor *index,
                          const ag_tensor *src)
{
    AGI_HALF_VIA_F32(ag_scatter_add(AGI_F32(x), dim, index, AGI_F32(src)), x, src);
    const char *op = "ag_scatter_add";
    if (!agi_check_tensor(op, x, "x") || !agi_check_tensor(op, index, "index") ||
        !agi_check_tensor(op, src, "src"))
        return NULL;
    if (!agi_check_same_device(op, x, index) || !agi_check_same_device(op, x, src)) return NULL;
    if (!check_data_dtype(op, x, true, "x") || !check_data_dtype(op, src, true, "src") ||
        !check_index_dtype(op, index))
        return NULL;
    if (!agi_norm_dim(op, x, dim, &dim)) return NULL;
    if (!check_same_rank(op, index, x, "x") || !check_same_rank(op, index, src, "src") ||
        !check_fits(op, index, x, dim, "x") || !check_fits(op, index, src, -1, "src"))
        return NULL;
    if (!check_range(op, index, dim, x->shape[dim], x)) return NULL;
    ag_device *dev = x->storage->dev;
    ag_tensor *y = agi_tensor_new(op, dev, AG_F32, x->ndim, x->shape);
    if (!y) return NULL;
    agi_kernel k = {.op = AGI_K_COPY};
    k.dst = agi_view_of(y);
    k.src[0] = agi_view_of(x);
    if (agi_exec(op, dev, &k) != AG_OK ||
        scatter_kernel(op, y, dim, view_shaped(src, index->ndim, index->shape),
                       agi_view_of(index)) != AG_OK) {
        agi_discard(y);
        return NULL;
    }
    if (AGI_NEEDS_GRAD(x, src)) {
        agi_node *node = agi_node_reads_none(
            agi_node_new(op, scatter_add_backward, 2, (const ag_tensor *[]){x, src}));
        if (node) {
            node->i[0] = dim;
            agi_node_save(node, 0, index);
        }
        y = agi_attach(y, node);
    }
    return y;
}

/* ---- index_select ------------------------------------------------------------------ */

/* The 1-D index as a view of `shape` (x's shape with dim replaced by the
 * index length): stride 0 everywhere except along dim. */
static agi_view index_expanded(const ag_tensor *index, int ndim, const int64_t *shape, int dim)
{
    agi_view v = agi_view_of(index);
    v.ndim = ndim;
    for (int d = 0; d < ndim; d++) {
        v.shape[d] = shape[d];
        v.strides[d] = 0;
    }
    if (index->ndim == 1 && shape[dim] > 1) v.strides[dim] = index->strides[0];
    return v;
}

/* saved[0] = index (1-D); i[0] = dim. */
static ag_status index_select_backward(agi_node *node, ag_tensor *grad, ag_tensor **grads)
{
    const char *op = "ag_index_select";
    const ag_tensor *x = node->inputs[0];
    int dim = (int)node->i[0];
    ag_tensor *dx = agi_tensor_new(op, grad->storage->dev, AG_F32, x->ndim, x->shape);
    if (!dx || fill_zero(op, dx) != AG_OK) return ag_last_status();
    agi_view iv = index_expanded(node->saved[0], grad->ndim, grad->shape, dim);
    if (scatter_kernel(op, dx, dim, agi_view_of(grad), iv) != AG_OK) return ag_last_status();
    grads[0] = dx;
    return AG_OK;
}

ag_tensor *ag_index_select(const ag_tensor *x, int dim, const ag_tensor *index)
{
    AGI_HALF_VIA_F32(ag_index_select(AGI_F32(x), dim, index), x);
    const char *op = "ag_index_select";
    if (!agi_check_tensor(op, x, "x") || !agi_check_tensor(op, index, "index")) return NULL;
    if (!agi_check_same_device(op, x, index)) return NULL;
    if (!check_data_dtype(op, x, false, "x") || !check_index_dtype(op, index)) return NULL;
    if (!agi_norm_dim(op, x, dim, &dim)) return NULL;
    if (index->ndim > 1) {
        char a[192], b[192];
        agi_error(AG_ERR_INVALID, op, "index must be 1-D, got %s for x %s",
                  agi_fmt_shape(a, index->ndim, index->shape), agi_fmt_shape(b, x->ndim, x->shape));
        return NULL;
    }
    if (!check_range(op, index, dim, x->shape[dim], x)) return NULL;
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
    shape[dim] = ag_numel(index);
    ag_tensor *y = agi_tensor_new(op, x->storage->dev, x->dtype, x->ndim, shape);
    if (!y) return NULL;
    agi_view iv = index_expanded(index, x->ndim, shape, dim);
    if (gather_kernel(op, agi_view_of(y), x, dim, iv) != AG_OK) {
        agi_discard(y);
        return NULL;
    }
    if (agi_dtype_is_float(x->dtype) && AGI_NEEDS_GRAD(x)) {
        agi_node *node = agi_node_reads_none(
            agi_node_new(op, index_select_backward, 1, (const ag_tensor *[]){x}));
        if (node) {
            node->i[0] = dim;
            agi_node_save(node, 0, index);
        }
        y = agi_attach(y, node);
    }
    return y;
}

/* ---- embedding ------------------------------------------------------------------- */

/* The flat index [M] (contiguous) as a [M, D] view with stride 0 along D. */
static agi_view index_rows(const ag_tensor *flat, int64_t m, int64_t d)
{
    agi_view v = agi_view_of(flat);
    v.ndim = 2;
    v.shape[0] = m, v.shape[1] = d;
    v.strides[0] = m == 1 ? 0 : 1;
    v.strides[1] = 0;
    return v;
}

/* A contiguous tensor seen as [m, d]. */
static agi_view rows_view(const ag_tensor *t, int64_t m, int64_t d)
{
    agi_view v = agi_view_of(t);
    v.ndim = 2;
    v.shape[0] = m, v.shape[1] = d;
    v.strides[0] = m == 1 ? 0 : d;
    v.strides[1] = d == 1 ? 0 : 1;
    return v;
}

/* inputs[0] = weight [V, D]; saved[0] = the contiguous index; i[0] = 1
 * when row i[1] (the padding index) gets no gradient. */
static ag_status embedding_backward(agi_node *node, ag_tensor *grad, ag_tensor **grads)
{
    const char *op = node->name;
    const ag_tensor *w = node->inputs[0], *flat = node->saved[0];
    int64_t m = ag_numel(flat), d = w->shape[1];
    ag_tensor *dw = agi_tensor_new(op, grad->storage->dev, AG_F32, 2, w->shape);
    ag_tensor *dy = ag_contiguous(grad); // [..., D]
    if (!dw || !dy || fill_zero(op, dw) != AG_OK) return ag_last_status();
    if (m > 0 && scatter_kernel(op, dw, 0, rows_view(dy, m, d), index_rows(flat, m, d)) != AG_OK)
        return ag_last_status();
    if (node->i[0]) { /* dw[padding_idx, :] = 0 */
        ag_tensor *row = agi_tensor_view(dw, 1, &d, (int64_t[]){1}, node->i[1] * d);
        ag_status st = row ? ag_fill_(row, 0.0) : ag_last_status();
        agi_discard(row);
        if (st != AG_OK) return st;
    }
    grads[0] = dw;
    return AG_OK;
}

static ag_tensor *embedding(const char *op, const ag_tensor *index, const ag_tensor *weight,
                            bool padded, int64_t padding_idx);

ag_tensor *ag_embedding(const ag_tensor *index, const ag_tensor *weight)
{
    AGI_HALF_VIA_F32(ag_embedding(index, AGI_F32(weight)), weight);
    return embedding("ag_embedding", index, weight, false, 0);
}

ag_tensor *ag_embedding_padded(const ag_tensor *index, const ag_tensor *weight,
                               int64_t padding_idx)
{
    const char *op = "ag_embedding_padded";
    AGI_HALF_VIA_F32(ag_embedding_padded(index, AGI_F32(weight), padding_idx), weight);
    if (!agi_check_tensor(op, index, "index") || !agi_check_tensor(op, weight, "weight"))
        return NULL;
    if (weight->ndim == 2 && (padding_idx < -weight->shape[0] || padding_idx >= weight->shape[0])) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "padding_idx %lld out of range for weight %s",
                  (long long)padding_idx, agi_fmt_shape(a, weight->ndim, weight->shape));
        return NULL;
    }
    if (weight->ndim == 2 && padding_idx < 0) padding_idx += weight->shape[0];
    return embedding(op, index, weight, true, padding_idx);
}

static ag_tensor *embedding(const char *op, const ag_tensor *index, const ag_tensor *weight,
                            bool padded, int64_t padding_idx)
{
    if (!agi_check_tensor(op, index, "index") || !agi_check_tensor(op, weight, "weight"))
        return NULL;
    if (!agi_check_same_device(op, index, weight)) return NULL;
    if (!check_index_dtype(op, index) || !check_data_dtype(op, weight, false, "weight"))
        return NULL;
    char a[192], b[192];
    if (weight->ndim != 2 || index->ndim >= AG_MAX_DIMS) {
        agi_error(AG_ERR_INVALID, op, "expected weight [V,D] and index of rank < %d, got %s and %s",
                  AG_MAX_DIMS, agi_fmt_shape(a, weight->ndim, weight->shape),
                  agi_fmt_shape(b, index->ndim, index->shape));
        return NULL;
    }
    if (!check_range(op, index, 0, weight->shape[0], weight)) return NULL;
    int64_t m = ag_numel(index), d = weight->shape[1];
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, index->shape, (size_t)index->ndim * sizeof *shape);
    shape[index->ndim] = d;
    ag_tensor *flat = ag_contiguous(index); // i32: never recorded
    ag_tensor *y = agi_tensor_new(op, weight->storage->dev, weight->dtype, index->ndim + 1, shape);
    if (!flat || !y) goto fail;
    if (m > 0 && gather_kernel(op, rows_view(y, m, d), weight, 0, index_rows(flat, m, d)) != AG_OK)
        goto fail;
    if (agi_dtype_is_float(weight->dtype) && AGI_NEEDS_GRAD(weight)) {
        agi_node *node = agi_node_reads_none(
            agi_node_new(op, embedding_backward, 1, (const ag_tensor *[]){weight}));
        if (node) {
            agi_node_save(node, 0, flat);
            node->i[0] = padded;
            node->i[1] = padding_idx;
        }
        y = agi_attach(y, node);
    }
    agi_discard(flat);
    return y;
fail:
    agi_discard(y);
    agi_discard(flat);
    return NULL;
}

/* ---- one_hot --------------------------------------------------------------------- */

ag_tensor *ag_one_hot(const ag_tensor *labels, int64_t num_classes)
{
    const char *op = "ag_one_hot";
    if (!agi_check_tensor(op, labels, "labels")) return NULL;
    char a[192];
    if (labels->dtype != AG_I32) {
        agi_error(AG_ERR_INVALID, op, "labels must be i32, got %s %s", ag_dtype_name(labels->dtype),
                  agi_fmt_shape(a, labels->ndim, labels->shape));
        return NULL;
    }
    if (num_classes < 1 || num_classes > INT32_MAX) {
        agi_error(AG_ERR_INVALID, op, "num_classes must be in [1, 2^31), got %lld for labels %s",
                  (long long)num_classes, agi_fmt_shape(a, labels->ndim, labels->shape));
        return NULL;
    }
    if (labels->ndim >= AG_MAX_DIMS) {
        agi_error(AG_ERR_INVALID, op, "labels %s have too many dims",
                  agi_fmt_shape(a, labels->ndim, labels->shape));
        return NULL;
    }
    if (!check_range(op, labels, labels->ndim, num_classes, NULL)) return NULL;
    ag_device *dev = labels->storage->dev;
    int nd = labels->ndim + 1;
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, labels->shape, (size_t)labels->ndim * sizeof *shape);
    shape[nd - 1] = num_classes;
    ag_tensor *classes = ag_arange(dev, AG_I32, 0, (double)num_classes, 1); // [C]
    ag_tensor *mask = agi_tensor_new(op, dev, AG_U8, nd, shape);
    ag_tensor *y = agi_tensor_new(op, dev, AG_I32, nd, shape);
    if (!classes || !mask || !y) goto fail;
    // mask[..., c] = labels[...] == c
    agi_kernel k = {.op = AGI_K_BINARY, .sub = AGI_B_EQ};
    k.dst = agi_view_of(mask);
    k.src[0] = view_shaped(labels, nd, shape);
    k.src[0].strides[nd - 1] = 0;
    k.src[1] = agi_view_of(mask);
    k.src[1].buf = classes->storage->buf;
    k.src[1].dtype = AG_I32;
    k.src[1].offset = classes->offset;
    for (int d = 0; d < nd - 1; d++) k.src[1].strides[d] = 0;
    k.src[1].strides[nd - 1] = num_classes == 1 ? 0 : classes->strides[0];
    if (agi_exec(op, dev, &k) != AG_OK) goto fail;
    agi_kernel c = {.op = AGI_K_COPY};
    c.dst = agi_view_of(y);
    c.src[0] = agi_view_of(mask);
    if (agi_exec(op, dev, &c) != AG_OK) goto fail;
    agi_discard(mask);
    agi_discard(classes);
    return y;
fail:
    agi_discard(y);
    agi_discard(mask);
    agi_discard(classes);
    return NULL;
}
