/* src/ops/broadcast.c — agi_sum_to_shape: reduces a broadcast gradient back to
 * the shape of the input it was broadcast from. */
#include "internal.h"

#include <string.h>

static ag_status sum_to_shape_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    // g: target shape → expanded back to the broadcast shape of the input
    const ag_tensor *in = node->inputs[0];
    grads[0] = ag_expand(g, in->ndim, in->shape);
    return grads[0] ? AG_OK : ag_last_status();
}

/* grad: [..., broadcast shape] → [shape]. Sums the leading dims grad has in
 * excess and every dim where shape has 1 and grad more. One AGI_K_REDUCE SUM
 * kernel writes straight into a tensor of the target shape: the keep-dim
 * layout of the result and the target shape are the same row-major memory.
 * Returns a new reference in the current scope (grad itself, retained, when
 * the shapes already match); NULL with an error when grad cannot be reduced
 * to `shape`. */
ag_tensor *agi_sum_to_shape(ag_tensor *grad, int ndim, const int64_t *shape)
{
    const char *op = "agi_sum_to_shape";
    if (!agi_check_tensor(op, grad, "grad")) return NULL;
    if (!agi_check_shape(op, ndim, shape)) return NULL;
    if (grad->ndim == ndim && (ndim == 0 || memcmp(grad->shape, shape, (size_t)ndim * 8) == 0)) {
        ag_tensor *same = ag_retain(grad);
        return agi_scope_track(same);
    }
    char a[192], b[192];
    int lead = grad->ndim - ndim;
    /* keep: grad's rank with the reduced dims set to 1. */
    int64_t keep[AG_MAX_DIMS];
    bool ok = lead >= 0;
    for (int d = 0; ok && d < grad->ndim; d++) {
        int sd = d - lead;
        if (sd < 0) {
            keep[d] = 1;
        } else if (shape[sd] == grad->shape[d]) {
            keep[d] = shape[sd];
        } else if (shape[sd] == 1) {
            keep[d] = 1;
        } else {
            ok = false;
        }
    }
    if (!ok) {
        agi_error(AG_ERR_INVALID, op, "gradient %s cannot be summed to shape %s",
                  agi_fmt_shape(a, grad->ndim, grad->shape), agi_fmt_shape(b, ndim, shape));
        return NULL;
    }
    if (!agi_dtype_is_float(grad->dtype)) {
        agi_error(AG_ERR_INVALID, op, "grad must be a float tensor, got %s %s",
                  ag_dtype_name(grad->dtype), agi_fmt_shape(a, grad->ndim, grad->shape));
        return NULL;
    }
    ag_device *dev = grad->storage->dev;
    ag_tensor *out; /* grad's dtype (a 16-bit sum accumulates in f32, rounds once) */
    if (agi_numel(grad->ndim, grad->shape) == 0) {
        out = ag_zeros(dev, grad->dtype, ndim, shape); /* a sum over nothing */
    } else {
        out = agi_tensor_new(op, dev, grad->dtype, ndim, shape);
        if (!out) return NULL;
        agi_kernel k = {.op = AGI_K_REDUCE, .sub = AGI_R_SUM};
        k.src[0] = agi_view_of(grad);
        k.dst = agi_view_of(out);
        k.dst.ndim = grad->ndim;
        for (int d = 0; d < grad->ndim; d++) k.dst.shape[d] = keep[d];
        agi_contiguous_strides(grad->ndim, keep, k.dst.strides);
        for (int d = 0; d < grad->ndim; d++)
            if (keep[d] == 1) k.dst.strides[d] = 0;
        if (agi_exec(op, dev, &k) != AG_OK) {
            agi_discard(out);
            return NULL;
        }
    }
    if (out && AGI_NEEDS_GRAD(grad))
        out = agi_attach(out,
                         agi_node_reads_none(agi_node_new("agi_sum_to_shape", sum_to_shape_backward,
                                                          1, (const ag_tensor *[]){grad})));
    return out;
}
