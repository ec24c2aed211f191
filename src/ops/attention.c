/* src/ops/attention.c — scaled dot-product attention, composed from matmul,
 * where and softmax (the backward comes from those ops):
 *
 *   scores = q @ kᵀ * scale            [..., L, S]
 *   masked: keep-mask → -inf where 0; additive mask → + mask; causal → j <= i
 *   out    = softmax(scores, -1) @ v   [..., L, Ev]
 * A row with every key masked gives 0, like PyTorch's safe softmax.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Validates shapes and fills the scores' shape [batch..., L, S]. */
static bool check_shapes(const char *op, const ag_tensor *q, const ag_tensor *k,
                         const ag_tensor *v, const ag_tensor *mask, int *snd, int64_t *sshape)
{
    char a[192], b[192], c[192];
    if (!agi_check_same_device(op, q, k) || !agi_check_same_device(op, q, v)) return false;
    if (mask && !agi_check_same_device(op, q, mask)) return false;
    if (q->ndim < 2 || k->ndim < 2 || v->ndim < 2) {
        agi_error(AG_ERR_INVALID, op, "q %s, k %s and v %s need at least 2 dims",
                  agi_fmt_shape(a, q->ndim, q->shape), agi_fmt_shape(b, k->ndim, k->shape),
                  agi_fmt_shape(c, v->ndim, v->shape));
        return false;
    }
    int64_t L = q->shape[q->ndim - 2], E = q->shape[q->ndim - 1];
    int64_t S = k->shape[k->ndim - 2];
    if (k->shape[k->ndim - 1] != E || v->shape[v->ndim - 2] != S) {
        agi_error(AG_ERR_INVALID, op,
                  "shapes do not fit q [..., L, E], k [..., S, E], v [..., S, Ev]: q %s, k %s, v %s",
                  agi_fmt_shape(a, q->ndim, q->shape), agi_fmt_shape(b, k->ndim, k->shape),
                  agi_fmt_shape(c, v->ndim, v->shape));
        return false;
    }
    /* Batch dims of q, k and v broadcast together. */
    int nd;
    int64_t batch[AG_MAX_DIMS];
    if (!agi_broadcast_shapes(op, q->ndim - 2, q->shape, k->ndim - 2, k->shape, &nd, batch) ||
        !agi_broadcast_shapes(op, nd, batch, v->ndim - 2, v->shape, &nd, batch)) {
        agi_error(AG_ERR_INVALID, op, "batch dims do not broadcast: q %s, k %s, v %s",
                  agi_fmt_shape(a, q->ndim, q->shape), agi_fmt_shape(b, k->ndim, k->shape),
                  agi_fmt_shape(c, v->ndim, v->shape));
        return false;
    }
    if (nd + 2 > AG_MAX_DIMS) {
        agi_error(AG_ERR_INVALID, op, "too many dims: q %s, k %s",
                  agi_fmt_shape(a, q->ndim, q->shape), agi_fmt_shape(b, k->ndim, k->shape));
        return false;
    }
    memcpy(sshape, batch, (size_t)nd * sizeof *batch);
    sshape[nd] = L;
    sshape[nd + 1] = S;
    *snd = nd + 2;
    if (!mask) return true;
    if (mask->dtype != AG_U8 && mask->dtype != AG_F32) {
        agi_error(AG_ERR_INVALID, op, "attn_mask must be u8 (keep) or f32 (additive), got %s %s",
                  ag_dtype_name(mask->dtype), agi_fmt_shape(a, mask->ndim, mask->shape));
        return false;
    }
    int64_t m[AG_MAX_DIMS];
    int mnd;
    if (!agi_broadcast_shapes(op, mask->ndim, mask->shape, *snd, sshape, &mnd, m) ||
        mnd != *snd || memcmp(m, sshape, (size_t)mnd * sizeof *m) != 0) {
        agi_error(AG_ERR_INVALID, op, "attn_mask %s does not broadcast to attention scores %s",
                  agi_fmt_shape(a, mask->ndim, mask->shape), agi_fmt_shape(b, *snd, sshape));
        return false;
    }
    return true;
}

ag_tensor *agi_attention_weights(const ag_tensor *q, const ag_tensor *k,
                                 const ag_tensor *attn_mask, bool is_causal, double scale)
{
    if (!q || !k) return NULL;
    int64_t L = q->shape[q->ndim - 2], S = k->shape[k->ndim - 2];
    ag_device *dev = q->storage->dev;
    // scores: [..., L, S]
    ag_tensor *scores = agi_matmul_scaled(q, ag_transpose(k, -2, -1), scale);
    ag_tensor *keep = NULL; // u8, broadcast to [..., L, S]
    if (is_causal) {
        /* keep[i, j] = j <= i (top-left aligned, like torch.tril) */
        ag_tensor *rows = ag_unsqueeze(ag_arange(dev, AG_F32, 0, (double)L, 1), 1); // [L, 1]
        ag_tensor *cols = ag_arange(dev, AG_F32, 0, (double)S, 1);                 // [S]
        keep = ag_ge(rows, cols);
    } else if (attn_mask && attn_mask->dtype == AG_U8) {
        keep = (ag_tensor *)attn_mask;
    } else if (attn_mask) {
        scores = ag_add(scores, attn_mask);
    }
    /* -inf is a device scalar (a fill kernel): made only when a mask needs it */
    ag_tensor *ninf = keep || attn_mask ? ag_scalar(dev, AG_F32, -INFINITY) : NULL;
    if (keep) scores = ag_where(keep, scores, ninf);
    if (!attn_mask) return ag_softmax(scores, -1); /* causal rows always keep key 0 */
    /* Like PyTorch's safe softmax: a row whose keys are all masked gives 0
     * (not NaN), with a zero gradient. The row is zeroed before the softmax
     * too, so no NaN reaches the backward pass. */
    ag_tensor *zero = ag_scalar(dev, AG_F32, 0.0);
    ag_tensor *dead = ag_eq(ag_max(scores, AG_DIMS(-1), true), ninf); // [..., L, 1]
    return ag_where(dead, zero, ag_softmax(ag_where(dead, zero, scores), -1));
}

ag_tensor *ag_scaled_dot_product_attention(const ag_tensor *q, const ag_tensor *k,
                                           const ag_tensor *v, const ag_tensor *attn_mask,
                                           bool is_causal, double scale)
{
    const char *op = "ag_scaled_dot_product_attention";
    if (!agi_check_tensor(op, q, "q") || !agi_check_tensor(op, k, "k") ||
        !agi_check_tensor(op, v, "v"))
        return NULL;
    int snd;
    int64_t sshape[AG_MAX_DIMS];
    if (!check_shapes(op, q, k, v, attn_mask, &snd, sshape)) return NULL;
    if (attn_mask && is_causal) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "attn_mask %s must be NULL when is_causal is set",
                  agi_fmt_shape(a, attn_mask->ndim, attn_mask->shape));
        return NULL;
    }
    int64_t E = q->shape[q->ndim - 1];
    if (!(scale > 0.0)) scale = 1.0 / sqrt((double)(E > 0 ? E : 1));

    ag_scope_begin();
    ag_tensor *p = agi_attention_weights(q, k, attn_mask, is_causal, scale); // [..., L, S]
    ag_tensor *out = ag_matmul(p, v);
    return agi_scope_return(op, out);
}
