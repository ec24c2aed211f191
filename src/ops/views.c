/* src/ops/views.c — views that share storage: reshape, view, permute,
 * transpose, expand, slice, narrow, select, squeeze, unsqueeze, flatten.
 * Each is differentiable; its backward is the inverse view, or a sum (expand)
 * or a zero-filled scatter (slice, select) into the input's shape. */
#include "internal.h"

#include <string.h>

/* ---- Shared pieces -------------------------------------------------------- */

/* A view of t (new tensor in the scope); NULL on host OOM. */
static ag_tensor *make_view(const char *op, const ag_tensor *t, int ndim, const int64_t *shape,
                            const int64_t *strides, int64_t offset)
{
    ag_tensor *v = agi_tensor_view(t, ndim, shape, strides, offset);
    if (!v) agi_error(AG_ERR_OOM, op, "host out of memory");
    return v;
}

/* Backward of every view that only regroups elements: reshape g to the input. */
static ag_status reshape_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const ag_tensor *in = node->inputs[0];
    grads[0] = ag_reshape(g, in->ndim, in->shape);
    return grads[0] ? AG_OK : ag_last_status();
}

static ag_tensor *record_reshape(const char *op, ag_tensor *out, const ag_tensor *t)
{
    if (out && AGI_NEEDS_GRAD(t))
        out = agi_attach(out, agi_node_reads_none(
                                  agi_node_new(op, reshape_backward, 1, (const ag_tensor *[]){t})));
    return out;
}

/* Strides for viewing (shape, strides) as `nshape` without a copy, or false
 * when the memory layout does not allow it (the rule torch.view follows:
 * each group of merged/split dims must be contiguous within itself). */
static bool view_strides(int ndim, const int64_t *shape, const int64_t *strides, int nndim,
                         const int64_t *nshape, int64_t *nstrides)
{
    if (agi_numel(ndim, shape) == 0 || ndim == 0) {
        agi_contiguous_strides(nndim, nshape, nstrides);
        return true;
    }
    int vd = nndim - 1;
    int64_t base = strides[ndim - 1], tn = 1, vn = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        tn *= shape[d];
        if (d == 0 || (shape[d - 1] != 1 && strides[d - 1] != tn * base)) {
            while (vd >= 0 && (vn < tn || nshape[vd] == 1)) {
                nstrides[vd] = vn * base;
                vn *= nshape[vd];
                vd--;
            }
            if (vn != tn) return false;
            if (d > 0) {
                base = strides[d - 1];
                tn = 1;
                vn = 1;
            }
        }
    }
    return vd == -1;
}

/* Resolves a -1 entry and checks the element count. */
static bool infer_shape(const char *op, const ag_tensor *t, int ndim, const int64_t *shape,
                        int64_t *out)
{
    char a[192], b[192];
    if (ndim < 0 || ndim > AG_MAX_DIMS || (ndim > 0 && !shape)) {
        agi_error(AG_ERR_INVALID, op, "bad target rank %d for %s", ndim,
                  agi_fmt_shape(a, t->ndim, t->shape));
        return false;
    }
    int infer = -1;
    int64_t known = 1, nonzero = 1; /* nonzero: bounded like agi_check_shape, so no overflow */
    for (int d = 0; d < ndim; d++) {
        if (shape[d] == -1 && infer < 0) {
            infer = d;
            continue;
        }
        if (shape[d] < 0) {
            agi_error(AG_ERR_INVALID, op, "bad target shape %s for %s", agi_fmt_shape(a, ndim, shape),
                      agi_fmt_shape(b, t->ndim, t->shape));
            return false;
        }
        if (shape[d] > 0 && nonzero > (INT64_C(1) << 40) / shape[d]) {
            agi_error(AG_ERR_INVALID, op, "target shape %s for %s has too many elements",
                      agi_fmt_shape(a, ndim, shape), agi_fmt_shape(b, t->ndim, t->shape));
            return false;
        }
        if (shape[d] > 0) nonzero *= shape[d];
        known *= shape[d];
        out[d] = shape[d];
    }
    int64_t n = agi_numel(t->ndim, t->shape);
    if (infer >= 0) {
        if (known == 0 || n % known != 0) {
            agi_error(AG_ERR_INVALID, op, "cannot infer -1 in %s for %s",
                      agi_fmt_shape(a, ndim, shape), agi_fmt_shape(b, t->ndim, t->shape));
            return false;
        }
        out[infer] = n / known;
        known = n;
    }
    if (known != n) {
        agi_error(AG_ERR_INVALID, op, "shape %s is invalid for %s (%lld elements)",
                  agi_fmt_shape(a, ndim, shape), agi_fmt_shape(b, t->ndim, t->shape),
                  (long long)n);
        return false;
    }
    return true;
}

/* ---- reshape / view / flatten -------------------------------------------- */

static ag_tensor *reshape_impl(const char *op, const ag_tensor *t, int ndim, const int64_t *shape,
                               bool may_copy)
{
    if (!agi_check_tensor(op, t, "t")) return NULL;
    int64_t ns[AG_MAX_DIMS], st[AG_MAX_DIMS];
    if (!infer_shape(op, t, ndim, shape, ns)) return NULL;
    if (view_strides(t->ndim, t->shape, t->strides, ndim, ns, st))
        return record_reshape(op, make_view(op, t, ndim, ns, st, t->offset), t);
    if (!may_copy) {
        char a[192], b[192];
        agi_error(AG_ERR_INVALID, op,
                  "view %s is impossible for the strides of %s (use ag_reshape)",
                  agi_fmt_shape(a, ndim, ns), agi_fmt_shape(b, t->ndim, t->shape));
        return NULL;
    }
    /* The copy is recorded by ag_contiguous; the view on it by us. */
    ag_scope_begin();
    ag_tensor *c = ag_contiguous(t);
    ag_tensor *out = NULL;
    if (c) {
        agi_contiguous_strides(ndim, ns, st);
        out = ag_retain(record_reshape(op, make_view(op, c, ndim, ns, st, c->offset), c));
    }
    ag_scope_end();
    return agi_scope_track(out);
}

ag_tensor *ag_reshape(const ag_tensor *t, int ndim, const int64_t *shape)
{
    return reshape_impl("ag_reshape", t, ndim, shape, true);
}

ag_tensor *ag_view(const ag_tensor *t, int ndim, const int64_t *shape)
{
    return reshape_impl("ag_view", t, ndim, shape, false);
}

ag_tensor *ag_flatten(const ag_tensor *t, int start_dim, int end_dim)
{
    const char *op = "ag_flatten";
    if (!agi_check_tensor(op, t, "t")) return NULL;
    int s, e;
    if (!agi_norm_dim(op, t, start_dim, &s) || !agi_norm_dim(op, t, end_dim, &e)) return NULL;
    if (t->ndim == 0) return reshape_impl(op, t, 1, (int64_t[]){1}, true);
    if (s > e) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "start_dim %d after end_dim %d for %s", start_dim, end_dim,
                  agi_fmt_shape(a, t->ndim, t->shape));
        return NULL;
    }
    int64_t ns[AG_MAX_DIMS];
    int n = 0;
    for (int d = 0; d < s; d++) ns[n++] = t->shape[d];
    int64_t merged = 1;
    for (int d = s; d <= e; d++) merged *= t->shape[d];
    ns[n++] = merged;
    for (int d = e + 1; d < t->ndim; d++) ns[n++] = t->shape[d];
    return reshape_impl(op, t, n, ns, true);
}

/* ---- squeeze / unsqueeze --------------------------------------------------- */

ag_tensor *ag_squeeze(const ag_tensor *t, int dim)
{
    const char *op = "ag_squeeze";
    int d;
    if (!agi_check_tensor(op, t, "t") || !agi_norm_dim(op, t, dim, &d)) return NULL;
    int64_t ns[AG_MAX_DIMS], st[AG_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == d && t->shape[i] == 1) continue;
        ns[n] = t->shape[i];
        st[n++] = t->strides[i];
    }
    return record_reshape(op, make_view(op, t, n, ns, st, t->offset), t);
}

ag_tensor *ag_squeeze_all(const ag_tensor *t)
{
    const char *op = "ag_squeeze_all";
    if (!agi_check_tensor(op, t, "t")) return NULL;
    int64_t ns[AG_MAX_DIMS], st[AG_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (t->shape[i] == 1) continue;
        ns[n] = t->shape[i];
        st[n++] = t->strides[i];
    }
    return record_reshape(op, make_view(op, t, n, ns, st, t->offset), t);
}

ag_tensor *ag_unsqueeze(const ag_tensor *t, int dim)
{
    const char *op = "ag_unsqueeze";
    if (!agi_check_tensor(op, t, "t")) return NULL;
    char a[192];
    if (dim < -(t->ndim + 1) || dim > t->ndim || t->ndim >= AG_MAX_DIMS) {
        agi_error(AG_ERR_INVALID, op, "dim %d out of range for shape %s", dim,
                  agi_fmt_shape(a, t->ndim, t->shape));
        return NULL;
    }
    int d = dim < 0 ? dim + t->ndim + 1 : dim;
    int64_t ns[AG_MAX_DIMS], st[AG_MAX_DIMS];
    for (int i = 0, j = 0; i <= t->ndim; i++) {
        if (i == d) {
            ns[i] = 1;
            st[i] = d < t->ndim ? t->shape[d] * t->strides[d] : 1;
        } else {
            ns[i] = t->shape[j];
            st[i] = t->strides[j++];
        }
    }
    return record_reshape(op, make_view(op, t, t->ndim + 1, ns, st, t->offset), t);
}

/* ---- permute / transpose --------------------------------------------------- */

static ag_status permute_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    int inv[AG_MAX_DIMS];
    for (int d = 0; d < node->out_ndim; d++) inv[d] = (int)node->i[d];
    grads[0] = ag_permute(g, node->out_ndim, inv);
    return grads[0] ? AG_OK : ag_last_status();
}

static ag_tensor *permute_impl(const char *op, const ag_tensor *t, int ndim, const int *dims)
{
    char a[192];
    if (ndim != t->ndim || (ndim > 0 && !dims)) {
        agi_error(AG_ERR_INVALID, op, "%d dims given for shape %s", ndim,
                  agi_fmt_shape(a, t->ndim, t->shape));
        return NULL;
    }
    int p[AG_MAX_DIMS];
    bool seen[AG_MAX_DIMS] = {0};
    for (int d = 0; d < ndim; d++) {
        if (!agi_norm_dim(op, t, dims[d], &p[d])) return NULL;
        if (seen[p[d]]) {
            agi_error(AG_ERR_INVALID, op, "dim %d repeated for shape %s", dims[d],
                      agi_fmt_shape(a, t->ndim, t->shape));
            return NULL;
        }
        seen[p[d]] = true;
    }
    int64_t ns[AG_MAX_DIMS], st[AG_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
        ns[d] = t->shape[p[d]];
        st[d] = t->strides[p[d]];
    }
    ag_tensor *out = make_view(op, t, ndim, ns, st, t->offset);
    if (out && AGI_NEEDS_GRAD(t)) {
        agi_node *node =
            agi_node_reads_none(agi_node_new(op, permute_backward, 1, (const ag_tensor *[]){t}));
        if (node)
            for (int d = 0; d < ndim; d++) node->i[p[d]] = d; /* the inverse permutation */
        out = agi_attach(out, node);
    }
    return out;
}

ag_tensor *ag_permute(const ag_tensor *t, int ndim, const int *dims)
{
    if (!agi_check_tensor("ag_permute", t, "t")) return NULL;
    return permute_impl("ag_permute", t, ndim, dims);
}

ag_tensor *ag_transpose(const ag_tensor *t, int dim0, int dim1)
{
    const char *op = "ag_transpose";
    int a, b;
    if (!agi_check_tensor(op, t, "t") || !agi_norm_dim(op, t, dim0, &a) ||
        !agi_norm_dim(op, t, dim1, &b))
        return NULL;
    int p[AG_MAX_DIMS];
    for (int d = 0; d < t->ndim; d++) p[d] = d;
    if (t->ndim > 0) {
        p[a] = b;
        p[b] = a;
    }
    return permute_impl(op, t, t->ndim, p);
}

ag_tensor *ag_t(const ag_tensor *t)
{
    const char *op = "ag_t";
    if (!agi_check_tensor(op, t, "t")) return NULL;
    if (t->ndim > 2) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "expects a tensor with <= 2 dims, got %s",
                  agi_fmt_shape(a, t->ndim, t->shape));
        return NULL;
    }
    int p[2] = {1, 0};
    if (t->ndim < 2) p[0] = 0;
    return permute_impl(op, t, t->ndim, p);
}

/* ---- expand ------------------------------------------------------------------ */

static ag_status expand_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const ag_tensor *in = node->inputs[0];
    grads[0] = agi_sum_to_shape(g, in->ndim, in->shape);
    return grads[0] ? AG_OK : ag_last_status();
}

ag_tensor *ag_expand(const ag_tensor *t, int ndim, const int64_t *shape)
{
    const char *op = "ag_expand";
    if (!agi_check_tensor(op, t, "t")) return NULL;
    char a[192], b[192];
    if (ndim < t->ndim || ndim > AG_MAX_DIMS || (ndim > 0 && !shape)) {
        agi_error(AG_ERR_INVALID, op, "cannot expand %s to %d dims",
                  agi_fmt_shape(a, t->ndim, t->shape), ndim);
        return NULL;
    }
    int lead = ndim - t->ndim;
    int64_t ns[AG_MAX_DIMS], st[AG_MAX_DIMS];
    for (int d = 0; d < ndim; d++) {
        int sd = d - lead;
        bool ok;
        if (sd < 0) {
            ok = shape[d] >= 0;
            ns[d] = shape[d];
            st[d] = 0;
        } else if (shape[d] == -1 || shape[d] == t->shape[sd]) {
            ok = true;
            ns[d] = t->shape[sd];
            st[d] = t->strides[sd];
        } else {
            ok = t->shape[sd] == 1 && shape[d] >= 0;
            ns[d] = shape[d];
            st[d] = 0;
        }
        if (!ok) {
            agi_error(AG_ERR_INVALID, op, "cannot expand %s to %s",
                      agi_fmt_shape(a, t->ndim, t->shape), agi_fmt_shape(b, ndim, shape));
            return NULL;
        }
    }
    if (!agi_check_shape(op, ndim, ns)) return NULL; /* at most 2^40 elements, like any tensor */
    ag_tensor *out = make_view(op, t, ndim, ns, st, t->offset);
    if (out && AGI_NEEDS_GRAD(t))
        out = agi_attach(out, agi_node_reads_none(
                                  agi_node_new(op, expand_backward, 1, (const ag_tensor *[]){t})));
    return out;
}

/* ---- slice / narrow / select ----------------------------------------------- */

/* Gradient of a strided sub-view: zeros of the input's shape with g copied
 * into the same sub-view. node->i: dim, start, step, length, is_select. */
static ag_status slice_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const ag_tensor *in = node->inputs[0];
    ag_tensor *z = ag_zeros(in->storage->dev, AG_F32, in->ndim, in->shape);
    if (!z) return ag_last_status();
    int dim = (int)node->i[0];
    ag_tensor *part = node->i[4] ? ag_select(z, dim, node->i[1])
                                 : ag_slice(z, dim, node->i[1], node->i[1] + node->i[3] * node->i[2],
                                            node->i[2]);
    if (!part) return ag_last_status();
    ag_status st = ag_copy_(part, g);
    if (st != AG_OK) return st;
    grads[0] = z;
    return AG_OK;
}

bool agi_node_is_slice(const agi_node *node) { return node && node->backward == slice_backward; }

static ag_tensor *sub_view(const char *op, const ag_tensor *t, int d, int64_t start, int64_t len,
                           int64_t step, bool drop)
{
    int64_t ns[AG_MAX_DIMS], st[AG_MAX_DIMS];
    int n = 0;
    for (int i = 0; i < t->ndim; i++) {
        if (i == d && drop) continue;
        ns[n] = i == d ? len : t->shape[i];
        st[n++] = i == d ? t->strides[i] * step : t->strides[i];
    }
    int64_t off = t->offset + (len > 0 || drop ? start * t->strides[d] : 0);
    ag_tensor *out = make_view(op, t, n, ns, st, off);
    if (out && AGI_NEEDS_GRAD(t)) {
        agi_node *node =
            agi_node_reads_none(agi_node_new(op, slice_backward, 1, (const ag_tensor *[]){t}));
        if (node) {
            node->i[0] = d;
            node->i[1] = start;
            node->i[2] = step;
            node->i[3] = len;
            node->i[4] = drop;
        }
        out = agi_attach(out, node);
    }
    return out;
}

ag_tensor *ag_slice(const ag_tensor *t, int dim, int64_t start, int64_t end, int64_t step)
{
    const char *op = "ag_slice";
    int d;
    if (!agi_check_tensor(op, t, "t")) return NULL;
    char a[192];
    if (t->ndim == 0) {
        agi_error(AG_ERR_INVALID, op, "cannot slice a 0-dim tensor %s", agi_fmt_shape(a, 0, NULL));
        return NULL;
    }
    if (!agi_norm_dim(op, t, dim, &d)) return NULL;
    if (step <= 0) {
        agi_error(AG_ERR_INVALID, op, "step %lld must be positive (shape %s)", (long long)step,
                  agi_fmt_shape(a, t->ndim, t->shape));
        return NULL;
    }
    int64_t size = t->shape[d];
    if (start < 0) start = start + size < 0 ? 0 : start + size;
    if (end < 0) end = end + size < 0 ? 0 : end + size;
    if (start > size) start = size;
    if (end > size) end = size;
    /* ceil((end - start) / step) without overflow for a step near INT64_MAX */
    int64_t len = end > start ? (end - start - 1) / step + 1 : 0;
    return sub_view(op, t, d, start, len, step, false);
}

ag_tensor *ag_narrow(const ag_tensor *t, int dim, int64_t start, int64_t length)
{
    const char *op = "ag_narrow";
    int d;
    if (!agi_check_tensor(op, t, "t")) return NULL;
    char a[192];
    if (t->ndim == 0) {
        agi_error(AG_ERR_INVALID, op, "cannot narrow a 0-dim tensor %s", agi_fmt_shape(a, 0, NULL));
        return NULL;
    }
    if (!agi_norm_dim(op, t, dim, &d)) return NULL;
    int64_t size = t->shape[d];
    if (start < 0 && start >= -size) start += size;
    if (start < 0 || length < 0 || start > size || length > size - start) {
        agi_error(AG_ERR_INVALID, op, "start %lld + length %lld out of range for dim %d of %s",
                  (long long)start, (long long)length, dim, agi_fmt_shape(a, t->ndim, t->shape));
        return NULL;
    }
    return sub_view(op, t, d, start, length, 1, false);
}

ag_tensor *ag_select(const ag_tensor *t, int dim, int64_t index)
{
    const char *op = "ag_select";
    int d;
    if (!agi_check_tensor(op, t, "t")) return NULL;
    char a[192];
    if (t->ndim == 0) {
        agi_error(AG_ERR_INVALID, op, "cannot select from a 0-dim tensor %s",
                  agi_fmt_shape(a, 0, NULL));
        return NULL;
    }
    if (!agi_norm_dim(op, t, dim, &d)) return NULL;
    int64_t size = t->shape[d];
    if (index < -size || index >= size) {
        agi_error(AG_ERR_INVALID, op, "index %lld out of range for dim %d of %s",
                  (long long)index, dim, agi_fmt_shape(a, t->ndim, t->shape));
        return NULL;
    }
    if (index < 0) index += size;
    return sub_view(op, t, d, index, 1, 1, true);
}
