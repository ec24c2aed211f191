/* src/ops/copy.c — contiguous, clone, cast, copy_ and moving between devices. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Queues dst = convert(src) where src already has dst's shape. */
static ag_status copy_kernel(const char *op, ag_tensor *dst, const ag_tensor *src)
{
    agi_kernel k = {.op = AGI_K_COPY};
    k.dst = agi_view_of(dst);
    k.src[0] = agi_view_of(src);
    agi_view *views[2] = {&k.dst, &k.src[0]};
    agi_views_coalesce(views, 2);
    return agi_exec(op, dst->storage->dev, &k);
}

static ag_status identity_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    (void)node;
    grads[0] = g;
    return AG_OK;
}

/* Makes a contiguous copy of t in `dtype`, recording an identity node when t
 * requires grad and both dtypes are float (the engine rounds the gradient to
 * t's dtype, so a cast's backward is the cast back). */
static ag_tensor *copy_as(const char *op, const ag_tensor *t, ag_dtype dtype)
{
    ag_tensor *out = agi_tensor_new(op, t->storage->dev, dtype, t->ndim, t->shape);
    if (!out) return NULL;
    if (copy_kernel(op, out, t) != AG_OK) {
        agi_discard(out);
        return NULL;
    }
    if (agi_dtype_is_float(dtype) && agi_dtype_is_float(t->dtype) && AGI_NEEDS_GRAD(t))
        out = agi_attach(out, agi_node_reads_none(agi_node_new(op, identity_backward, 1,
                                                               (const ag_tensor *[]){t})));
    return out;
}

ag_tensor *ag_contiguous(const ag_tensor *t)
{
    if (!agi_check_tensor("ag_contiguous", t, "t")) return NULL;
    if (ag_is_contiguous(t)) {
        ag_tensor *same = ag_retain((ag_tensor *)t);
        return agi_scope_track(same);
    }
    return copy_as("ag_contiguous", t, t->dtype);
}

ag_tensor *ag_clone(const ag_tensor *t)
{
    if (!agi_check_tensor("ag_clone", t, "t")) return NULL;
    return copy_as("ag_clone", t, t->dtype);
}

ag_tensor *ag_cast(const ag_tensor *t, ag_dtype dtype)
{
    if (!agi_check_tensor("ag_cast", t, "t")) return NULL;
    if (ag_dtype_size(dtype) == 0) {
        char a[192];
        agi_error(AG_ERR_INVALID, "ag_cast", "invalid dtype %d for %s %s", (int)dtype,
                  ag_dtype_name(t->dtype), agi_fmt_shape(a, t->ndim, t->shape));
        return NULL;
    }
    return copy_as("ag_cast", t, dtype);
}

/* Whether two views of one storage may share an element: their element
 * ranges intersect and they are not the same view (copying a view onto
 * itself changes nothing). Strides are >= 0. */
static bool views_overlap(const ag_tensor *a, const ag_tensor *b)
{
    if (a->storage != b->storage) return false;
    if (a->offset == b->offset && a->ndim == b->ndim &&
        memcmp(a->shape, b->shape, (size_t)a->ndim * sizeof *a->shape) == 0 &&
        memcmp(a->strides, b->strides, (size_t)a->ndim * sizeof *a->strides) == 0)
        return false;
    int64_t ahi = a->offset, bhi = b->offset;
    for (int d = 0; d < a->ndim; d++) {
        if (a->shape[d] == 0) return false;
        ahi += a->strides[d] * (a->shape[d] - 1);
    }
    for (int d = 0; d < b->ndim; d++) {
        if (b->shape[d] == 0) return false;
        bhi += b->strides[d] * (b->shape[d] - 1);
    }
    return a->offset <= bhi && b->offset <= ahi;
}

static ag_status copy_into(const char *op, ag_tensor *dst, const ag_tensor *src);

ag_status ag_copy_(ag_tensor *dst, const ag_tensor *src)
{
    const char *op = "ag_copy_";
    if (!agi_check_tensor(op, dst, "dst") || !agi_check_tensor(op, src, "src") ||
        !agi_check_writable(op, dst))
        return ag_last_status();
    agi_tensor_bump(dst);
    if (!views_overlap(dst, src)) return copy_into(op, dst, src);
    /* A source sharing memory with the destination (a shifted or transposed
     * view of the same tensor) is read in full first: kernels read and write
     * elements in no particular order. */
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *tmp = ag_clone(src);
    ag_no_grad_end();
    ag_status st = tmp ? copy_into(op, dst, tmp) : agi_error_in(op);
    ag_scope_end();
    return st;
}

static ag_status copy_into(const char *op, ag_tensor *dst, const ag_tensor *src)
{
    if (!agi_check_same_device(op, dst, src)) return ag_last_status();
    int nd;
    int64_t shape[AG_MAX_DIMS];
    if (!agi_broadcast_shapes(op, dst->ndim, dst->shape, src->ndim, src->shape, &nd, shape))
        return ag_last_status();
    if (nd != dst->ndim || memcmp(shape, dst->shape, (size_t)nd * sizeof *shape) != 0) {
        char a[192], b[192];
        return agi_error(AG_ERR_INVALID, op, "source %s does not broadcast to destination %s",
                         agi_fmt_shape(a, src->ndim, src->shape),
                         agi_fmt_shape(b, dst->ndim, dst->shape));
    }
    agi_kernel k = {.op = AGI_K_COPY};
    k.dst = agi_view_of(dst);
    /* Broadcast src to dst's shape with zero strides. */
    agi_view s = agi_view_of(src);
    agi_view b = k.dst;
    b.buf = s.buf;
    b.dtype = s.dtype;
    b.offset = s.offset;
    for (int d = 0; d < nd; d++) {
        int sd = d - (nd - src->ndim);
        b.strides[d] = sd >= 0 && src->shape[sd] != 1 ? src->strides[sd] : 0;
    }
    k.src[0] = b;
    agi_view *views[2] = {&k.dst, &k.src[0]};
    agi_views_coalesce(views, 2);
    return agi_exec(op, dst->storage->dev, &k);
}

/* ---- Across devices ------------------------------------------------------ */

static ag_status to_device_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    grads[0] = ag_to_device(g, node->inputs[0]->storage->dev);
    return grads[0] ? AG_OK : ag_last_status();
}

ag_tensor *ag_to_device(const ag_tensor *t, ag_device *dev)
{
    const char *op = "ag_to_device";
    if (!agi_check_tensor(op, t, "t")) return NULL;
    if (!dev) {
        agi_error(AG_ERR_INVALID, op, "device is NULL");
        return NULL;
    }
    if (!agi_device_alive(op, dev)) return NULL;
    if (t->storage->dev == dev) return ag_clone(t);
    size_t nbytes = (size_t)ag_numel(t) * ag_dtype_size(t->dtype);
    void *host = agi_malloc(nbytes ? nbytes : 1);
    if (!host) {
        agi_error(AG_ERR_OOM, op, "host out of memory (%zu bytes)", nbytes);
        return NULL;
    }
    ag_tensor *out = NULL;
    if (ag_tensor_read(t, host, nbytes) == AG_OK)
        out = ag_from_data(dev, t->dtype, t->ndim, t->shape, host, nbytes);
    free(host);
    if (out && agi_dtype_is_float(t->dtype) && AGI_NEEDS_GRAD(t))
        out = agi_attach(out, agi_node_reads_none(agi_node_new(op, to_device_backward, 1,
                                                               (const ag_tensor *[]){t})));
    return out;
}
