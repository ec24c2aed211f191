/* src/ops/join.c — cat, stack, split and chunk. cat copies each input into a
 * narrow view of its output (one AGI_K_COPY each); its backward narrows the
 * gradient. split and chunk return narrow views. */
#include "internal.h"

#include <stdlib.h>
#include <stdio.h>
#include <string.h>

/* node->i[0] = dim; each input's gradient is its slice of g along dim. */
static ag_status cat_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    int dim = (int)node->i[0];
    int64_t off = 0;
    for (int k = 0; k < node->n_inputs; k++) {
        const ag_tensor *in = node->inputs[k];
        if (in->requires_grad) {
            grads[k] = ag_narrow(g, dim, off, in->shape[dim]);
            if (!grads[k]) return ag_last_status();
        }
        off += in->shape[dim];
    }
    return AG_OK;
}

/* The tensor list of cat/stack: n >= 1, the array and every entry set. */
static bool check_list(const char *op, int n, ag_tensor *const *ts)
{
    if (n <= 0) {
        agi_error(AG_ERR_INVALID, op, "needs at least one tensor, got %d", n);
        return false;
    }
    if (!ts) {
        agi_error(AG_ERR_INVALID, op, "the tensor array is NULL (n = %d)", n);
        return false;
    }
    for (int k = 0; k < n; k++) {
        char arg[32];
        snprintf(arg, sizeof arg, "tensors[%d]", k);
        if (!agi_check_tensor(op, ts[k], arg)) return false;
    }
    return true;
}

/* A 1-D tensor of shape [0]: cat skips it whatever the others' shapes (as
 * PyTorch does with such "legacy" empty tensors). */
static bool legacy_empty(const ag_tensor *t) { return t->ndim == 1 && t->shape[0] == 0; }

/* Validates the inputs of cat; sets *d (normalised dim) and *dtype. Legacy
 * empty tensors join the dtype promotion and device check, not the shape
 * check. */
static bool check_cat(const char *op, int n, ag_tensor *const *ts, int dim, int *d, ag_dtype *dtype)
{
    if (!check_list(op, n, ts)) return false;
    int first = 0;
    while (first < n - 1 && legacy_empty(ts[first])) first++;
    const ag_tensor *t0 = ts[first];
    char a[192], b[192];
    if (t0->ndim == 0) {
        agi_error(AG_ERR_INVALID, op, "cannot concatenate 0-dim tensors %s", agi_fmt_shape(a, 0, NULL));
        return false;
    }
    if (!agi_norm_dim(op, t0, dim, d)) return false;
    *dtype = t0->dtype;
    for (int k = 0; k < n; k++) {
        const ag_tensor *t = ts[k];
        if (!agi_check_same_device(op, t0, t)) return false;
        *dtype = agi_promote(*dtype, t->dtype);
        if (legacy_empty(t)) continue;
        bool same = t->ndim == t0->ndim;
        for (int i = 0; same && i < t->ndim; i++) same = i == *d || t->shape[i] == t0->shape[i];
        if (!same) {
            agi_error(AG_ERR_INVALID, op, "tensor %d has shape %s, tensor %d has %s (dim %d)", k,
                      agi_fmt_shape(a, t->ndim, t->shape), first,
                      agi_fmt_shape(b, t0->ndim, t0->shape), dim);
            return false;
        }
    }
    return true;
}

static ag_tensor *cat_impl(const char *op, int n, ag_tensor *const *ts, int d, ag_dtype dtype);

/* A cat node holds at most AGI_NODE_MAX_INPUTS inputs: with more inputs that
 * need gradients, cat groups first and then cat the group results. */
static ag_tensor *cat_grouped(const char *op, int n, ag_tensor *const *ts, int d, ag_dtype dtype)
{
    ag_tensor *parts[AGI_NODE_MAX_INPUTS];
    int per = (n + AGI_NODE_MAX_INPUTS - 1) / AGI_NODE_MAX_INPUTS, np = 0;
    ag_scope_begin();
    ag_tensor *out = NULL;
    bool ok = true;
    for (int k = 0; k < n && ok; k += per, np++) {
        int m = n - k < per ? n - k : per;
        parts[np] = m == 1 ? ts[k] : cat_impl(op, m, ts + k, d, dtype);
        ok = parts[np] != NULL;
    }
    if (ok) out = ag_retain(cat_impl(op, np, parts, d, dtype));
    ag_scope_end();
    return agi_scope_track(out);
}

static ag_tensor *cat_impl(const char *op, int n, ag_tensor *const *ts, int d, ag_dtype dtype)
{
    bool grad = agi_dtype_is_float(dtype) && agi_needs_grad(n, (const ag_tensor *const *)ts);
    if (grad && n > AGI_NODE_MAX_INPUTS) return cat_grouped(op, n, ts, d, dtype);
    const ag_tensor *t0 = ts[0];
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, t0->shape, sizeof shape);
    shape[d] = 0;
    for (int k = 0; k < n; k++) shape[d] += ts[k]->shape[d];
    ag_device *dev = t0->storage->dev;
    ag_tensor *out = agi_tensor_new(op, dev, dtype, t0->ndim, shape);
    if (!out) return NULL;
    // out: [..., sum of sizes along d, ...]; input k goes to [off, off + size) along d
    int64_t off = 0;
    for (int k = 0; k < n; k++) {
        const ag_tensor *t = ts[k];
        if (agi_numel(t->ndim, t->shape) > 0) {
            agi_kernel kr = {.op = AGI_K_COPY};
            kr.dst = agi_view_of(out);
            kr.dst.offset += off * out->strides[d];
            kr.dst.shape[d] = t->shape[d];
            kr.dst.strides[d] = t->shape[d] == 1 ? 0 : out->strides[d];
            kr.src[0] = agi_view_of(t);
            agi_view *views[2] = {&kr.dst, &kr.src[0]};
            agi_views_coalesce(views, 2);
            if (agi_exec(op, dev, &kr) != AG_OK) {
                agi_discard(out);
                return NULL;
            }
        }
        off += t->shape[d];
    }
    if (grad) {
        agi_node *node =
            agi_node_reads_none(agi_node_new(op, cat_backward, n, (const ag_tensor *const *)ts));
        if (node) node->i[0] = d;
        out = agi_attach(out, node);
    }
    return out;
}

ag_tensor *ag_cat(int n, ag_tensor *const *tensors, int dim)
{
    const char *op = "ag_cat";
    int d;
    ag_dtype dtype;
    if (!check_cat(op, n, tensors, dim, &d, &dtype)) return NULL;
    int kept = 0;
    for (int k = 0; k < n; k++) kept += !legacy_empty(tensors[k]);
    if (kept == n || kept == 0) return cat_impl(op, n, tensors, d, dtype);
    ag_tensor **ts = agi_malloc((size_t)kept * sizeof *ts);
    if (!ts) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    kept = 0;
    for (int k = 0; k < n; k++)
        if (!legacy_empty(tensors[k])) ts[kept++] = tensors[k];
    ag_tensor *out = cat_impl(op, kept, ts, d, dtype);
    free(ts);
    return out;
}

ag_tensor *ag_stack(int n, ag_tensor *const *tensors, int dim)
{
    const char *op = "ag_stack";
    if (!check_list(op, n, tensors)) return NULL;
    const ag_tensor *t0 = tensors[0];
    char a[192], b[192];
    for (int k = 1; k < n; k++) {
        const ag_tensor *t = tensors[k];
        if (!agi_check_same_device(op, t0, t)) return NULL;
        if (t->ndim != t0->ndim ||
            (t->ndim && memcmp(t->shape, t0->shape, (size_t)t->ndim * sizeof *t->shape) != 0)) {
            agi_error(AG_ERR_INVALID, op, "tensor %d has shape %s, tensor 0 has %s", k,
                      agi_fmt_shape(a, t->ndim, t->shape), agi_fmt_shape(b, t0->ndim, t0->shape));
            return NULL;
        }
    }
    if (dim < -(t0->ndim + 1) || dim > t0->ndim || t0->ndim >= AG_MAX_DIMS) {
        agi_error(AG_ERR_INVALID, op, "dim %d out of range for stacking %s", dim,
                  agi_fmt_shape(a, t0->ndim, t0->shape));
        return NULL;
    }
    int d = dim < 0 ? dim + t0->ndim + 1 : dim;
    ag_tensor **views = agi_malloc((size_t)n * sizeof *views);
    if (!views) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    ag_scope_begin();
    bool ok = true;
    for (int k = 0; k < n && ok; k++) ok = (views[k] = ag_unsqueeze(tensors[k], d)) != NULL;
    ag_tensor *out = NULL;
    ag_dtype dtype;
    int nd;
    if (ok && check_cat(op, n, views, d, &nd, &dtype))
        out = ag_retain(cat_impl(op, n, views, nd, dtype));
    ag_scope_end();
    free(views);
    return agi_scope_track(out);
}

/* Writes narrow views of sizes[k] along dim (in order) into out[0..max_out). */
static int split_views(const char *op, const ag_tensor *t, int d, int count, int64_t piece,
                       ag_tensor **out, int max_out)
{
    char a[192];
    if (max_out < 0 || (max_out > 0 && !out))
        return agi_error(AG_ERR_INVALID, op, "%s (max_out %d) for %s",
                         max_out < 0 ? "max_out is negative" : "out is NULL", max_out,
                         agi_fmt_shape(a, t->ndim, t->shape));
    int64_t size = t->shape[d], start = 0;
    for (int k = 0; k < count && k < max_out; k++) {
        int64_t len = size - start < piece ? size - start : piece;
        out[k] = ag_narrow(t, d, start, len);
        if (!out[k]) {
            for (int j = 0; j < k; j++) {
                agi_discard(out[j]);
                out[j] = NULL;
            }
            return ag_last_status();
        }
        start += len;
    }
    return count;
}

int ag_split(const ag_tensor *t, int64_t split_size, int dim, ag_tensor **out, int max_out)
{
    const char *op = "ag_split";
    int d;
    if (!agi_check_tensor(op, t, "t")) return ag_last_status();
    char a[192];
    if (t->ndim == 0)
        return agi_error(AG_ERR_INVALID, op, "cannot split a 0-dim tensor %s", agi_fmt_shape(a, 0, NULL));
    if (!agi_norm_dim(op, t, dim, &d)) return ag_last_status();
    int64_t size = t->shape[d];
    if (split_size < 0 || (split_size == 0 && size > 0))
        return agi_error(AG_ERR_INVALID, op, "split_size %lld invalid for dim %d of %s",
                         (long long)split_size, dim, agi_fmt_shape(a, t->ndim, t->shape));
    /* ceil(size / split_size) without overflow for a split_size near INT64_MAX */
    int64_t count = split_size == 0 || size == 0 ? 1 : (size - 1) / split_size + 1;
    if (count > 1 << 30)
        return agi_error(AG_ERR_INVALID, op, "%lld pieces are too many", (long long)count);
    return split_views(op, t, d, (int)count, split_size, out, max_out);
}

int ag_chunk(const ag_tensor *t, int chunks, int dim, ag_tensor **out, int max_out)
{
    const char *op = "ag_chunk";
    int d;
    if (!agi_check_tensor(op, t, "t")) return ag_last_status();
    char a[192];
    if (t->ndim == 0)
        return agi_error(AG_ERR_INVALID, op, "cannot chunk a 0-dim tensor %s", agi_fmt_shape(a, 0, NULL));
    if (!agi_norm_dim(op, t, dim, &d)) return ag_last_status();
    if (chunks <= 0)
        return agi_error(AG_ERR_INVALID, op, "chunks must be positive, got %d for %s", chunks,
                         agi_fmt_shape(a, t->ndim, t->shape));
    int64_t size = t->shape[d];
    if (size == 0) return split_views(op, t, d, chunks, 0, out, max_out); /* chunks empty pieces */
    int64_t piece = (size + chunks - 1) / chunks;
    int count = (int)((size + piece - 1) / piece);
    return split_views(op, t, d, count, piece, out, max_out);
}
