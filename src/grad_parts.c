/* src/grad_parts.c — a gradient assembled from slice pieces during the
 * backward walk.
 *
 * The backward of a slice, narrow or select is zeros of the input's shape with
 * the gradient copied into the sub-view (src/ops/views.c). When several such
 * views of one tensor pass gradients back (the q, k and v of a packed
 * projection, the rows of a weight narrowed three ways), that is one fill and
 * one copy per view plus the additions of the full-size results. Instead the
 * walk copies each piece straight into one buffer of the input's shape, and
 * zeroes only what no piece covered when the gradient is used:
 *
 *   x [.., S, ..]: pieces [a0, a0+n0), [a1, a1+n1) ... along one dim, disjoint
 *   buffer[.., a_i : a_i+n_i, ..] = g_i          one copy per piece
 *   buffer[gaps] = 0                             one fill per gap, at the end
 *
 * The values equal the zero-fill-and-add result (x + 0 = x) except that a
 * piece's -0 stays -0.
 */
#include "internal.h"

#include <stdlib.h>

/* The slice geometry of a slice/narrow/select node with step 1. */
static bool unit_slice(const agi_node *node, int *dim, int64_t *start, int64_t *len, bool *drop)
{
    if (!agi_node_is_slice(node)) return false;
    if (node->i[2] != 1) return false; /* a strided slice leaves holes in its own range */
    *dim = (int)node->i[0];
    *start = node->i[1];
    *len = node->i[4] ? 1 : node->i[3];
    *drop = node->i[4] != 0;
    return true;
}

bool agi_grad_parts_take(agi_grad_parts *p, bool dense, const agi_node *node, ag_tensor *g,
                         ag_status *st)
{
    const ag_tensor *in = node->inputs[0];
    int dim;
    int64_t start, len;
    bool drop;
    *st = AG_OK;
    if (dense || !unit_slice(node, &dim, &start, &len, &drop)) return false;
    if (g->dtype != AG_F32 || in->dtype != AG_F32) return false;
    if (p->buf) {
        if (p->dim != dim || p->n == AGI_GRAD_PARTS_MAX) return false;
        for (int i = 0; i < p->n; i++)
            if (start < p->hi[i] && p->lo[i] < start + len) return false; /* overlap: add */
    }
    if (!p->buf) {
        p->buf = agi_tensor_new("ag_backward", in->storage->dev, AG_F32, in->ndim, in->shape);
        if (!p->buf) {
            *st = ag_last_status();
            return true;
        }
        p->dim = dim;
        p->n = 0;
    }
    if (len == 0) return true; /* an empty view: its input's gradient is zeros */
    ag_tensor *part = drop ? ag_select(p->buf, dim, start) : ag_narrow(p->buf, dim, start, len);
    *st = part ? ag_copy_(part, g) : ag_last_status();
    p->lo[p->n] = start;
    p->hi[p->n] = start + len;
    p->n++;
    return true;
}

ag_status agi_grad_parts_finish(agi_grad_parts *p, ag_tensor **out)
{
    *out = NULL;
    if (!p->buf) return AG_OK;
    /* zero the gaps between the pieces, in order along the dim */
    int64_t at = 0, size = p->buf->shape[p->dim];
    while (at < size) {
        int64_t next = size; /* the start of the first piece at or after `at` */
        int64_t end = -1;
        for (int i = 0; i < p->n; i++) {
            if (p->lo[i] <= at && at < p->hi[i]) end = p->hi[i];
            else if (p->lo[i] > at && p->lo[i] < next) next = p->lo[i];
        }
        if (end >= 0) {
            at = end;
            continue;
        }
        ag_tensor *gap = ag_narrow(p->buf, p->dim, at, next - at);
        ag_status st = gap ? ag_fill_(gap, 0.0) : ag_last_status();
        if (st != AG_OK) return st;
        at = next;
    }
    *out = p->buf;
    p->buf = NULL;
    p->n = 0;
    return AG_OK;
}
