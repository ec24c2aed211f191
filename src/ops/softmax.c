/* src/ops/softmax.c — softmax and log_softmax along any dim.
 *
 * The fused AGI_K_SOFTMAX kernel works on contiguous rows [rows, n]. When
 * `dim` is not the last dim, it is swapped with the last one (a view) and the
 * swapped tensor made contiguous; the result is swapped back and made
 * contiguous again, so the output always has x's shape in row-major order.
 * The backward uses AGI_K_SOFTMAX_BWD on the same row layout.
 */
#include "internal.h"

#include <string.h>

/* A view of t with dims a and b exchanged (no copy). */
static ag_tensor *swap_view(const ag_tensor *t, int a, int b)
{
    int64_t shape[AG_MAX_DIMS], strides[AG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    memcpy(strides, t->strides, sizeof strides);
    shape[a] = t->shape[b];
    shape[b] = t->shape[a];
    strides[a] = t->strides[b];
    strides[b] = t->strides[a];
    return agi_tensor_view(t, t->ndim, shape, strides, t->offset);
}

/* t with `dim` moved last (swapped with the last dim) as a contiguous tensor. */
static ag_tensor *dim_last_contiguous(const ag_tensor *t, int dim)
{
    if (t->ndim == 0 || dim == t->ndim - 1) return ag_contiguous(t);
    return ag_contiguous(swap_view(t, dim, t->ndim - 1));
}

static ag_status softmax_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const ag_tensor *x = node->inputs[0];
    const ag_tensor *yt = node->saved[0]; /* forward output, dim last, contiguous */
    int dim = (int)node->i[0], last = x->ndim - 1;
    int64_t n = x->ndim ? x->shape[dim] : 1, rows = ag_numel(x) / (n ? n : 1);
    /* in the forward's dtype (f32, or x's 16-bit dtype) */
    ag_tensor *gc = agi_as_dtype(g, yt->dtype);
    ag_tensor *gt = gc ? dim_last_contiguous(gc, dim) : NULL;
    ag_tensor *dxt = gt ? agi_tensor_new(node->name, x->storage->dev, yt->dtype, yt->ndim, yt->shape)
                        : NULL;
    if (!dxt) return ag_last_status();
    agi_kernel k = {.op = AGI_K_SOFTMAX_BWD, .sub = (int)node->i[1]};
    k.dst = agi_view_rows(dxt, rows, n);
    k.src[0] = agi_view_rows(yt, rows, n);
    k.src[1] = agi_view_rows(gt, rows, n);
    ag_status st = agi_exec(node->name, x->storage->dev, &k);
    if (st != AG_OK) return st;
    grads[0] = x->ndim == 0 || dim == last ? dxt : swap_view(dxt, dim, last);
    return grads[0] ? AG_OK : ag_last_status();
}

static ag_tensor *softmax_any(const char *op, const ag_tensor *x, int dim, int sub)
{
    if (!agi_check_tensor(op, x, "x")) return NULL;
    int d;
    if (!agi_norm_dim(op, x, dim, &d)) return NULL;
    ag_device *dev = x->storage->dev;
    if (ag_numel(x) == 0)
        return agi_tensor_new(op, dev, agi_float_dtype(x->dtype, x->dtype), x->ndim, x->shape);
    int last = x->ndim - 1;
    bool moved = x->ndim > 0 && d != last;
    int64_t n = x->ndim ? x->shape[d] : 1, rows = ag_numel(x) / n;

    ag_tensor *y = NULL;
    agi_node *node = NULL;
    ag_scope_begin();
    ag_no_grad_begin();
    /* x: [..., n at d, ...] → xc: contiguous with d and the last dim swapped. */
    /* f32, f16 or bf16 (computed in f32); integers as f32 */
    ag_tensor *xf = agi_as_dtype(x, agi_float_dtype(x->dtype, x->dtype));
    ag_tensor *xc = xf ? dim_last_contiguous(xf, d) : NULL;
    ag_tensor *yt = xc ? agi_tensor_new(op, dev, xc->dtype, xc->ndim, xc->shape) : NULL;
    if (yt) {
        agi_kernel k = {.op = AGI_K_SOFTMAX, .sub = sub};
        k.dst = agi_view_rows(yt, rows, n);
        k.src[0] = agi_view_rows(xc, rows, n);
        if (agi_exec(op, dev, &k) == AG_OK)
            y = moved ? ag_contiguous(swap_view(yt, d, last)) : yt;
    }
    ag_no_grad_end();
    if (y && AGI_NEEDS_GRAD(x)) {
        node = agi_node_reads_none(agi_node_new(op, softmax_backward, 1, (const ag_tensor *[]){x}));
        if (node) {
            node->i[0] = d;
            node->i[1] = sub;
            /* A storage-sharing view, never y itself (y->grad_fn will be node). */
            agi_node_save(node, 0, agi_tensor_view(yt, yt->ndim, yt->shape, yt->strides,
                                                   yt->offset));
        }
    }
    return agi_scope_return_node(op, y, node, AGI_NEEDS_GRAD(x));
}

ag_tensor *ag_softmax(const ag_tensor *x, int dim)
{
    AGI_AUTOCAST_VIA_F32(ag_softmax(AGI_F32(x), dim), x);
    return softmax_any("ag_softmax", x, dim, AGI_SOFTMAX);
}

ag_tensor *ag_log_softmax(const ag_tensor *x, int dim)
{
    AGI_AUTOCAST_VIA_F32(ag_log_softmax(AGI_F32(x), dim), x);
    return softmax_any("ag_log_softmax", x, dim, AGI_LOG_SOFTMAX);
}
