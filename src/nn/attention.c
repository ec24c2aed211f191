/* src/nn/attention.c — MultiheadAttention and a pre-norm TransformerEncoderLayer. */
#include "module.h"

#include <math.h>
#include <string.h>

/* [N, L, E] → [N, H, L, D] */
static ag_tensor *split_heads(const ag_tensor *x, int64_t heads)
{
    if (!x) return NULL;
    int64_t n = x->shape[0], l = x->shape[1], e = x->shape[2];
    return ag_transpose(ag_reshape(x, 4, (int64_t[]){n, l, heads, e / heads}), 1, 2);
}

/* [N, L, 3E] → [N, L, 3, H, D] (a view) */
static ag_tensor *split_packed(const ag_tensor *x, int64_t heads)
{
    if (!x) return NULL;
    int64_t n = x->shape[0], l = x->shape[1], e = x->shape[2] / 3;
    return ag_reshape(x, 5, (int64_t[]){n, l, 3, heads, e / heads});
}

/* [N, H, L, D] → [N, L, E] */
static ag_tensor *merge_heads(const ag_tensor *x)
{
    if (!x) return NULL;
    int64_t n = x->shape[0], h = x->shape[1], l = x->shape[2], d = x->shape[3];
    return ag_reshape(ag_transpose(x, 1, 2), 3, (int64_t[]){n, l, h * d});
}

/* Checks the module, query/key/value and the mask the way
 * ag_scaled_dot_product_attention checks its own (the dropout path does not
 * go through it). */
static bool check_qkv(const ag_module *m, const ag_tensor *q, const ag_tensor *k, const ag_tensor *v,
                      const ag_tensor *mask, bool is_causal)
{
    const char *op = "ag_nn_multihead_attention_forward";
    if (strcmp(m->type, "MultiheadAttention") != 0) { /* its fields mean other things */
        agi_error(AG_ERR_INVALID, op, "module is a %s, not a MultiheadAttention", m->type);
        return false;
    }
    if (!agi_check_tensor(op, q, "query") || !agi_check_tensor(op, k, "key") ||
        !agi_check_tensor(op, v, "value"))
        return false;
    int64_t e = m->i[0];
    const ag_tensor *all[3] = {q, k, v};
    for (int i = 0; i < 3; i++) {
        if (all[i]->ndim != 3 || all[i]->shape[2] != e) {
            char buf[192];
            agi_error(AG_ERR_INVALID, op, "expected [N, L, %lld] (batch first), got %s",
                      (long long)e, agi_fmt_shape(buf, all[i]->ndim, all[i]->shape));
            return false;
        }
    }
    if (k->shape[1] != v->shape[1] || q->shape[0] != k->shape[0] || k->shape[0] != v->shape[0]) {
        char a[192], b[192], c[192];
        agi_error(AG_ERR_INVALID, op, "query %s, key %s and value %s do not agree",
                  agi_fmt_shape(a, 3, q->shape), agi_fmt_shape(b, 3, k->shape),
                  agi_fmt_shape(c, 3, v->shape));
        return false;
    }
    if (!mask) return true;
    char a[192], b[192];
    if (!agi_check_tensor(op, mask, "attn_mask") || !agi_check_same_device(op, q, mask))
        return false;
    if (is_causal) {
        agi_error(AG_ERR_INVALID, op, "attn_mask %s must be NULL when is_causal is set",
                  agi_fmt_shape(a, mask->ndim, mask->shape));
        return false;
    }
    if (mask->dtype != AG_U8 && mask->dtype != AG_F32) {
        agi_error(AG_ERR_INVALID, op, "attn_mask must be u8 (keep) or f32 (additive), got %s %s",
                  ag_dtype_name(mask->dtype), agi_fmt_shape(a, mask->ndim, mask->shape));
        return false;
    }
    /* scores are [N, heads, L, S] */
    int64_t scores[4] = {q->shape[0], m->i[1], q->shape[1], k->shape[1]}, out[AG_MAX_DIMS];
    int nd;
    if (!agi_broadcast_shapes(op, mask->ndim, mask->shape, 4, scores, &nd, out) || nd != 4 ||
        memcmp(out, scores, sizeof scores) != 0) {
        agi_error(AG_ERR_INVALID, op, "attn_mask %s does not broadcast to attention scores %s",
                  agi_fmt_shape(a, mask->ndim, mask->shape), agi_fmt_shape(b, 4, scores));
        return false;
    }
    return true;
}

ag_tensor *ag_nn_multihead_attention_forward(ag_module *m, const ag_tensor *query,
                                             const ag_tensor *key, const ag_tensor *value,
                                             const ag_tensor *attn_mask, bool is_causal)
{
    if (!m) {
        agi_error(AG_ERR_INVALID, "ag_nn_multihead_attention_forward", "module is NULL");
        return NULL;
    }
    if (!check_qkv(m, query, key, value, attn_mask, is_causal)) return NULL;
    int64_t e = m->i[0], heads = m->i[1];
    ag_tensor *w = agi_module_tensor(m, "in_proj_weight"); // [3E, E]
    ag_tensor *b = agi_module_tensor(m, "in_proj_bias");   // [3E]
    ag_tensor *q, *k, *v;
    if (query == key && key == value) {
        /* self-attention: one projection onto [N, L, 3E], split as views */
        ag_tensor *qkv = split_packed(ag_linear(query, w, b), heads); // [N, L, 3, H, D]
        q = ag_transpose(ag_select(qkv, 2, 0), 1, 2);                  // [N, H, L, D]
        k = ag_transpose(ag_select(qkv, 2, 1), 1, 2);
        v = ag_transpose(ag_select(qkv, 2, 2), 1, 2);
    } else {
        q = split_heads(ag_linear(query, ag_narrow(w, 0, 0, e), ag_narrow(b, 0, 0, e)), heads);
        k = split_heads(ag_linear(key, ag_narrow(w, 0, e, e), ag_narrow(b, 0, e, e)), heads);
        v = split_heads(ag_linear(value, ag_narrow(w, 0, 2 * e, e), ag_narrow(b, 0, 2 * e, e)),
                        heads); // [N, H, S, D]
    }
    double p = m->f[0];
    ag_tensor *attn;
    if (m->training && p > 0) {
        /* Dropout on the attention weights needs them explicitly: the same
         * masked, safe softmax as ag_scaled_dot_product_attention. */
        double scale = 1.0 / sqrt((double)(e / heads));
        ag_tensor *weights = agi_attention_weights(q, k, attn_mask, is_causal, scale); // [N,H,L,S]
        attn = ag_matmul(ag_dropout(weights, p, true), v);
    } else {
        attn = ag_scaled_dot_product_attention(q, k, v, attn_mask, is_causal, 0.0);
    }
    return ag_module_forward(agi_module_child(m, "out_proj"), merge_heads(attn));
}

static ag_tensor *mha_self_forward(ag_module *m, const ag_tensor *x)
{
    return ag_nn_multihead_attention_forward(m, x, x, x, NULL, false);
}

ag_module *ag_nn_multihead_attention(ag_device *dev, int64_t embed_dim, int64_t heads,
                                     double dropout)
{
    const char *op = "ag_nn_multihead_attention";
    if (!dev) {
        agi_error(AG_ERR_INVALID, op, "device is NULL");
        return NULL;
    }
    if (embed_dim <= 0 || heads <= 0 || embed_dim % heads) {
        agi_error(AG_ERR_INVALID, op, "embed_dim %lld must be a positive multiple of heads %lld",
                  (long long)embed_dim, (long long)heads);
        return NULL;
    }
    if (!(dropout >= 0.0 && dropout <= 1.0)) {
        agi_error(AG_ERR_INVALID, op, "dropout must be in [0, 1], got %g", dropout);
        return NULL;
    }
    ag_module *m = agi_module_new("MultiheadAttention", mha_self_forward);
    if (!m) return NULL;
    m->i[0] = embed_dim;
    m->i[1] = heads;
    m->f[0] = dropout;
    /* xavier_uniform over [3E, E]: bound sqrt(6 / (E + 3E)); biases zero. */
    double bound = sqrt(6.0 / (double)(4 * embed_dim));
    ag_module *out = ag_nn_linear(dev, embed_dim, embed_dim, true);
    if (agi_module_add_tensor(m, "in_proj_weight",
                              agi_param_uniform(dev, 2, (int64_t[]){3 * embed_dim, embed_dim}, bound),
                              true) ||
        agi_module_add_tensor(m, "in_proj_bias",
                              agi_param_full(dev, AG_F32, 1, (int64_t[]){3 * embed_dim}, 0.0, true),
                              true) ||
        agi_module_add_child(m, "out_proj", out) ||
        ag_fill_(agi_module_tensor(out, "bias"), 0.0)) {
        agi_error_in(op);
        ag_module_free(m);
        return NULL;
    }
    return m;
}

static ag_tensor *encoder_forward(ag_module *m, const ag_tensor *x)
{
    // x: [N, L, E]
    ag_module *attn = agi_module_child(m, "self_attn");
    ag_tensor *h = ag_module_forward(agi_module_child(m, "norm1"), x);
    h = ag_nn_multihead_attention_forward(attn, h, h, h, NULL, false);
    ag_tensor *x1 = ag_add(x, ag_module_forward(agi_module_child(m, "dropout1"), h));
    h = ag_module_forward(agi_module_child(m, "norm2"), x1);
    h = ag_relu(ag_module_forward(agi_module_child(m, "linear1"), h));
    h = ag_module_forward(agi_module_child(m, "dropout"), h);
    h = ag_module_forward(agi_module_child(m, "linear2"), h);
    return ag_add(x1, ag_module_forward(agi_module_child(m, "dropout2"), h));
}

ag_module *ag_nn_transformer_encoder_layer(ag_device *dev, int64_t d_model, int64_t nhead,
                                           int64_t dim_feedforward, double dropout)
{
    ag_module *m = agi_module_new("TransformerEncoderLayer", encoder_forward);
    if (!m) return NULL;
    if (agi_module_add_child(m, "self_attn", ag_nn_multihead_attention(dev, d_model, nhead, dropout)) ||
        agi_module_add_child(m, "linear1", ag_nn_linear(dev, d_model, dim_feedforward, true)) ||
        agi_module_add_child(m, "dropout", ag_nn_dropout(dropout)) ||
        agi_module_add_child(m, "linear2", ag_nn_linear(dev, dim_feedforward, d_model, true)) ||
        agi_module_add_child(m, "norm1", ag_nn_layer_norm(dev, d_model, 1e-5)) ||
        agi_module_add_child(m, "norm2", ag_nn_layer_norm(dev, d_model, 1e-5)) ||
        agi_module_add_child(m, "dropout1", ag_nn_dropout(dropout)) ||
        agi_module_add_child(m, "dropout2", ag_nn_dropout(dropout))) {
        agi_error_in("ag_nn_transformer_encoder_layer");
        ag_module_free(m);
        return NULL;
    }
    return m;
}
