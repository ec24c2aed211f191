/* src/ops/matmul.c — torch.matmul and F.linear on the AGI_K_GEMM kernel.
 *
 * GEMM takes A [B, M, K] @ B [B, K, N] → C [B, M, N] where each operand
 * matrix is row- or column-major (one unit stride) and the batch dims have
 * collapsed into one stride (0 broadcasts). So transposed operands need no
 * copy; only operands with no unit stride or with batch dims that do not
 * collapse are copied (expanded to the full batch shape and made contiguous).
 * When the right operand has no batch dims, the left operand's batch dims are
 * folded into its rows, giving one large GEMM instead of many small ones.
 */
#include "internal.h"

#include <string.h>

/* A view of t with its last two dims exchanged (no copy). */
static ag_tensor *mT(const ag_tensor *t)
{
    int n = t->ndim;
    int64_t shape[AG_MAX_DIMS], strides[AG_MAX_DIMS];
    memcpy(shape, t->shape, sizeof shape);
    memcpy(strides, t->strides, sizeof strides);
    shape[n - 2] = t->shape[n - 1];
    shape[n - 1] = t->shape[n - 2];
    strides[n - 2] = t->strides[n - 1];
    strides[n - 1] = t->strides[n - 2];
    return agi_tensor_view(t, n, shape, strides, t->offset);
}

/* Row/column strides (rs, cs) of an [r, c] matrix usable by GEMM: one of
 * them 1 and the other at least the matrix's leading extent. Size-1 dims get
 * the stride that makes the layout valid. False when no unit stride exists. */
static bool matrix_strides(int64_t r, int64_t c, int64_t *rs, int64_t *cs)
{
    bool rowm = (c == 1 || *cs == 1) && (r == 1 || *rs >= c);
    bool colm = (r == 1 || *rs == 1) && (c == 1 || *cs >= r);
    if (rowm) {
        *cs = 1;
        if (r == 1) *rs = c;
    } else if (colm) {
        *rs = 1;
        if (c == 1) *cs = r;
    } else {
        return false;
    }
    return true;
}

/* The GEMM view [nbatch, r, c] of t ([..., r, c], ndim >= 2) broadcast over
 * the batch shape bshape (nb dims). False when t needs a copy first. */
static bool operand_view(const ag_tensor *t, int nb, const int64_t *bshape, agi_view *v)
{
    int nd = t->ndim, tb = nd - 2;
    int64_t r = t->shape[nd - 2], c = t->shape[nd - 1];
    int64_t rs = t->strides[nd - 2], cs = t->strides[nd - 1];
    if (!matrix_strides(r, c, &rs, &cs)) return false;
    /* Batch dims of size > 1 must collapse into one stride. */
    int64_t sz[AG_MAX_DIMS], st[AG_MAX_DIMS], count = 1;
    int m = 0;
    for (int d = 0; d < nb; d++) {
        count *= bshape[d];
        if (bshape[d] == 1) continue;
        int td = d - (nb - tb);
        sz[m] = bshape[d];
        st[m] = td >= 0 && t->shape[td] != 1 ? t->strides[td] : 0;
        m++;
    }
    for (int i = 0; i + 1 < m; i++)
        if (st[i] != st[i + 1] * sz[i + 1]) return false;
    *v = agi_view_of(t);
    v->ndim = 3;
    v->shape[0] = count;
    v->shape[1] = r;
    v->shape[2] = c;
    v->strides[0] = m ? st[m - 1] : 0;
    v->strides[1] = rs;
    v->strides[2] = cs;
    return true;
}

/* The GEMM view of t, copying t (expanded to the full batch shape) when its
 * layout does not fit. *copy receives the copy to drop, if any. */
static bool operand(const char *op, const ag_tensor *t, int nb, const int64_t *bshape,
                    agi_view *v, ag_tensor **copy)
{
    *copy = NULL;
    if (operand_view(t, nb, bshape, v)) return true;
    int64_t shape[AG_MAX_DIMS], strides[AG_MAX_DIMS];
    int tb = t->ndim - 2;
    for (int d = 0; d < nb; d++) {
        int td = d - (nb - tb);
        shape[d] = bshape[d];
        strides[d] = td >= 0 && t->shape[td] != 1 ? t->strides[td] : 0;
    }
    for (int d = 0; d < 2; d++) {
        shape[nb + d] = t->shape[tb + d];
        strides[nb + d] = t->strides[tb + d];
    }
    ag_tensor *e = agi_tensor_view(t, nb + 2, shape, strides, t->offset);
    *copy = e ? ag_contiguous(e) : NULL;
    agi_discard(e);
    if (!*copy) return false;
    if (operand_view(*copy, nb, bshape, v)) return true;
    agi_error(AG_ERR_INVALID, op, "internal: no GEMM layout after copy");
    return false;
}

/* If t's dims before the last collapse into one row stride (and the last dim
 * has a unit stride), the [rows, cols] GEMM view of t as one matrix. */
static bool folded_view(const ag_tensor *t, agi_view *v)
{
    int nd = t->ndim;
    int64_t c = t->shape[nd - 1], cs = t->strides[nd - 1];
    if (c != 1 && cs != 1) return false;
    int64_t rows = 1, rs = 0, prev_stride = 0;
    bool any = false;
    for (int d = 0; d < nd - 1; d++) {
        rows *= t->shape[d];
        if (t->shape[d] == 1) continue;
        if (any && prev_stride != t->strides[d] * t->shape[d]) return false;
        prev_stride = t->strides[d];
        rs = t->strides[d];
        any = true;
    }
    if (rows == 1) rs = c;
    if (rs < c) return false; /* overlapping rows (stride 0) */
    *v = agi_view_of(t);
    v->ndim = 3;
    v->shape[0] = 1;
    v->shape[1] = rows;
    v->shape[2] = c;
    v->strides[0] = 0;
    v->strides[1] = rs;
    v->strides[2] = 1;
    return true;
}

/* Queues dst = alpha * src0 @ src1 (+ dst when beta = 1) for prepared views. */
static ag_status gemm(const char *op, ag_device *dev, agi_view a, agi_view b, agi_view c,
                      double alpha, double beta)
{
    agi_kernel k = {.op = AGI_K_GEMM};
    k.dst = c;
    k.src[0] = a;
    k.src[1] = b;
    k.p.s.f[0] = alpha;
    k.p.s.f[1] = beta;
    return agi_exec(op, dev, &k);
}

/* The row-major [nbatch, m, n] view of a contiguous tensor. */
static agi_view out_view(const ag_tensor *t, int64_t nbatch, int64_t m, int64_t n)
{
    agi_view v = agi_view_of(t);
    v.ndim = 3;
    v.shape[0] = nbatch;
    v.shape[1] = m;
    v.shape[2] = n;
    v.strides[0] = m * n;
    v.strides[1] = n;
    v.strides[2] = 1;
    return v;
}

/* alpha * a [..., M, K] @ b [..., K, N] (f32, ndim >= 2, shapes already
 * checked) → a new contiguous [batch..., M, N]. Records nothing. */
static ag_tensor *matmul_core(const char *op, const ag_tensor *a, const ag_tensor *b, double alpha)
{
    if (!a || !b) return NULL; /* an operand's op failed (error set) */
    int nb;
    int64_t shape[AG_MAX_DIMS];
    if (!agi_broadcast_shapes(op, a->ndim - 2, a->shape, b->ndim - 2, b->shape, &nb, shape))
        return NULL;
    int64_t M = a->shape[a->ndim - 2], K = a->shape[a->ndim - 1], N = b->shape[b->ndim - 1];
    int64_t nbatch = agi_numel(nb, shape);
    shape[nb] = M;
    shape[nb + 1] = N;
    ag_device *dev = a->storage->dev;
    ag_tensor *out = agi_tensor_new(op, dev, a->dtype, nb + 2, shape);
    if (!out || ag_numel(out) == 0) return out;
    if (K == 0) {
        if (ag_fill_(out, 0.0) == AG_OK) return out;
        agi_discard(out);
        return NULL;
    }
    agi_view va, vb;
    ag_tensor *ca = NULL, *cb = NULL;
    ag_status st;
    if (b->ndim == 2 && a->ndim > 2 && folded_view(a, &va) &&
        operand_view(b, 0, NULL, &vb)) {
        /* [batch..., M, K] as one [batch*M, K] matrix. */
        st = gemm(op, dev, va, vb, out_view(out, 1, nbatch * M, N), alpha, 0.0);
    } else if (operand(op, a, nb, shape, &va, &ca) && operand(op, b, nb, shape, &vb, &cb)) {
        st = gemm(op, dev, va, vb, out_view(out, nbatch, M, N), alpha, 0.0);
    } else {
        st = ag_last_status();
    }
    agi_discard(ca);
    agi_discard(cb);
    if (st != AG_OK) {
        agi_discard(out);
        return NULL;
    }
    return out;
}

/* Whether matmul_core would copy operand a or b of a product that needs a
 * gradient, where a contiguous copy of the operand alone would do (its batch
 * dims already have the product's batch shape). Such a copy is better made
 * once, as an autograd op ahead of the product: its backward then reads the
 * copy instead of copying the operand again. */
static void copies_needed(const ag_tensor *a, const ag_tensor *b, bool *ca, bool *cb)
{
    *ca = *cb = false;
    if (a->ndim < 2 || b->ndim < 2 || a->dtype != b->dtype) return;
    int nb;
    int64_t shape[AG_MAX_DIMS];
    if (!agi_broadcast_shapes("ag_matmul", a->ndim - 2, a->shape, b->ndim - 2, b->shape, &nb, shape))
        return;
    agi_view v;
    if (b->ndim == 2 && a->ndim > 2 && folded_view(a, &v) && operand_view(b, 0, NULL, &v)) return;
    const ag_tensor *t[2] = {a, b};
    bool *need[2] = {ca, cb};
    for (int i = 0; i < 2; i++)
        *need[i] = t[i]->ndim - 2 == nb &&
                   memcmp(t[i]->shape, shape, (size_t)nb * sizeof *shape) == 0 &&
                   !operand_view(t[i], nb, shape, &v);
}

/* ---- matmul ------------------------------------------------------------------- */

/* 1-D operands promoted to matrices: a [K] → [1, K], b [K] → [K, 1]. */
static ag_tensor *promote(const ag_tensor *t, bool left)
{
    if (t->ndim != 1) {
        ag_tensor *same = ag_retain((ag_tensor *)t);
        return agi_scope_track(same);
    }
    int64_t shape[2] = {left ? 1 : t->shape[0], left ? t->shape[0] : 1};
    int64_t strides[2] = {left ? t->shape[0] * t->strides[0] : t->strides[0], left ? t->strides[0] : 1};
    return agi_tensor_view(t, 2, shape, strides, t->offset);
}

/* The matmul result's shape (promoted dims removed) of the promoted product. */
static int result_shape(const ag_tensor *a, const ag_tensor *b, const ag_tensor *out2,
                        int64_t *shape)
{
    int n = 0;
    for (int d = 0; d < out2->ndim - 2; d++) shape[n++] = out2->shape[d];
    if (a->ndim != 1) shape[n++] = out2->shape[out2->ndim - 2];
    if (b->ndim != 1) shape[n++] = out2->shape[out2->ndim - 1];
    return n;
}

static ag_status matmul_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const char *op = node->name;
    const ag_tensor *a = node->inputs[0], *b = node->inputs[1];
    /* The product's dtype (as the forward computed it): an integer operand
     * (never requiring grad) enters the other's gradient as f32, 16-bit
     * operands keep their dtype, g is brought to it. */
    ag_dtype ct = agi_float_dtype(a->dtype, b->dtype);
    ag_tensor *af = agi_as_dtype(a, ct);
    ag_tensor *bf = agi_as_dtype(b, ct);
    g = agi_as_dtype(g, ct);
    if (!g) return ag_last_status();
    ag_tensor *a2 = af ? promote(af, true) : NULL, *b2 = bf ? promote(bf, false) : NULL;
    if (!a2 || !b2) return ag_last_status();
    /* g: result shape → [batch..., M, N] (re-insert the promoted dims). */
    int nb;
    int64_t gshape[AG_MAX_DIMS];
    if (!agi_broadcast_shapes(op, a2->ndim - 2, a2->shape, b2->ndim - 2, b2->shape, &nb, gshape))
        return ag_last_status();
    gshape[nb] = a2->shape[a2->ndim - 2];
    gshape[nb + 1] = b2->shape[b2->ndim - 1];
    ag_tensor *g2 = ag_reshape(g, nb + 2, gshape);
    if (!g2) return ag_last_status();
    bool fold = b2->ndim == 2 && a2->ndim > 2;
    agi_view gv;
    if (a->requires_grad && b->requires_grad &&
        !(fold ? folded_view(g2, &gv) : operand_view(g2, nb, gshape, &gv))) {
        /* both products would copy g: copy it once */
        g2 = ag_contiguous(g2);
        if (!g2) return ag_last_status();
    }
    if (a->requires_grad) {
        /* dA = dC @ Bᵀ, summed over the batch dims A was broadcast along. */
        ag_tensor *ga = agi_sum_to_shape(matmul_core(op, g2, mT(b2), node->f[0]), a2->ndim, a2->shape);
        grads[0] = ag_reshape(ga, a->ndim, a->shape);
        if (!grads[0]) return ag_last_status();
    }
    if (b->requires_grad) {
        ag_tensor *gb;
        if (fold) {
            /* dB = Aᵀ @ dC with A's batch dims folded into rows: [K, R] @ [R, N]. */
            int64_t K = a2->shape[a2->ndim - 1], N = gshape[nb + 1];
            ag_tensor *af = ag_reshape(a2, 2, (int64_t[]){-1, K});
            ag_tensor *gf = ag_reshape(g2, 2, (int64_t[]){-1, N});
            gb = af && gf ? matmul_core(op, mT(af), gf, node->f[0]) : NULL;
        } else {
            gb = agi_sum_to_shape(matmul_core(op, mT(a2), g2, node->f[0]), b2->ndim, b2->shape);
        }
        grads[1] = ag_reshape(gb, b->ndim, b->shape);
        if (!grads[1]) return ag_last_status();
    }
    return AG_OK;
}

/* alpha * (a @ b) as one GEMM; its backward scales its GEMMs by alpha too. */
static ag_tensor *matmul_op(const char *op, const ag_tensor *a, const ag_tensor *b, double alpha)
{
    ag_dtype low = AGI_AUTOCAST_LOWERS(a, b);
    if (low != AG_F32) /* autocast: the 16-bit product (f32 accumulation) */
        AGI_AUTOCAST_LOW_CALL(
            matmul_op(op, agi_autocast_cast(a, low), agi_autocast_cast(b, low), alpha));
    if (!agi_check_tensor(op, a, "a") || !agi_check_tensor(op, b, "b")) return NULL;
    if (!agi_check_same_device(op, a, b)) return NULL;
    char sa[192], sb[192];
    agi_fmt_shape(sa, a->ndim, a->shape);
    agi_fmt_shape(sb, b->ndim, b->shape);
    if (a->ndim == 0 || b->ndim == 0) {
        agi_error(AG_ERR_INVALID, op, "both operands need at least 1 dim: %s @ %s", sa, sb);
        return NULL;
    }
    int64_t ka = a->shape[a->ndim - 1], kb = b->shape[b->ndim == 1 ? 0 : b->ndim - 2];
    if (ka != kb) {
        agi_error(AG_ERR_INVALID, op, "inner dims differ: %s @ %s", sa, sb);
        return NULL;
    }
    int abd = a->ndim > 2 ? a->ndim - 2 : 0, bbd = b->ndim > 2 ? b->ndim - 2 : 0;
    for (int i = 0; i < (abd > bbd ? abd : bbd); i++) {
        int ai = abd - 1 - i, bi = bbd - 1 - i;
        int64_t x = ai >= 0 ? a->shape[ai] : 1, y = bi >= 0 ? b->shape[bi] : 1;
        if (x != y && x != 1 && y != 1) {
            agi_error(AG_ERR_INVALID, op, "batch dims cannot broadcast: %s @ %s", sa, sb);
            return NULL;
        }
    }

    bool ca = false, cb = false;
    if (AGI_NEEDS_GRAD(a, b)) copies_needed(a, b, &ca, &cb);
    if (ca || cb) {
        /* the product of the contiguous copies, which the backward reads too */
        ag_scope_begin();
        ag_tensor *ac = ca ? ag_contiguous(a) : (ag_tensor *)a;
        ag_tensor *bc = cb ? ag_contiguous(b) : (ag_tensor *)b;
        return agi_scope_return(op, ac && bc ? matmul_op(op, ac, bc, alpha) : NULL);
    }

    ag_tensor *out = NULL;
    ag_scope_begin();
    ag_no_grad_begin();
    /* f32, or f16 / bf16 when both operands are (GEMM accumulates in f32) */
    ag_dtype ct = agi_float_dtype(a->dtype, b->dtype);
    ag_tensor *af = agi_as_dtype(a, ct);
    ag_tensor *bf = agi_as_dtype(b, ct);
    ag_tensor *a2 = af ? promote(af, true) : NULL, *b2 = bf ? promote(bf, false) : NULL;
    ag_tensor *out2 = a2 && b2 ? matmul_core(op, a2, b2, alpha) : NULL;
    if (out2) {
        int64_t shape[AG_MAX_DIMS], strides[AG_MAX_DIMS];
        int n = result_shape(a, b, out2, shape);
        agi_contiguous_strides(n, shape, strides);
        out = agi_tensor_view(out2, n, shape, strides, out2->offset);
    }
    ag_no_grad_end();
    ag_retain(out);
    ag_scope_end();
    if (!(out = agi_scope_track(out))) return NULL;
    if (AGI_NEEDS_GRAD(a, b)) {
        agi_node *node = agi_node_new(op, matmul_backward, 2, (const ag_tensor *[]){a, b});
        if (node) node->f[0] = alpha;
        /* a's gradient reads b, b's reads a */
        agi_node_reads(node, (b->requires_grad ? 1u : 0u) | (a->requires_grad ? 2u : 0u));
        out = agi_attach(out, node);
    }
    return out;
}

ag_tensor *ag_matmul(const ag_tensor *a, const ag_tensor *b) { return matmul_op("ag_matmul", a, b, 1.0); }

ag_tensor *agi_matmul_scaled(const ag_tensor *a, const ag_tensor *b, double alpha)
{
    if (!a || !b || a->dtype != AG_F32 || b->dtype != AG_F32 || AGI_AUTOCAST_LOWERS(a, b) != AG_F32)
        return ag_mul_scalar(ag_matmul(a, b), alpha); /* the 16-bit paths keep their rounding */
    return matmul_op("ag_matmul", a, b, alpha);
}

/* ---- linear ----------------------------------------------------------------- */

/* x: [..., in] as rows [R, in]; g: [..., out] as [R, out]. */
/* The dtype linear computes in: f16 / bf16 when x, the weight and the bias
 * (if any) all have it (16-bit GEMM, f32 accumulation, bias added before the
 * one rounding), else f32. */
static ag_dtype linear_dtype(const ag_tensor *x, const ag_tensor *w, const ag_tensor *bias)
{
    if (!x || !w || (x->dtype != AG_F16 && x->dtype != AG_BF16)) return AG_F32;
    if (w->dtype != x->dtype || (bias && bias->dtype != x->dtype)) return AG_F32;
    return x->dtype;
}

/* t as an operand of linear in dtype dt (t itself when it has dt). */
static ag_tensor *linear_operand(const char *op, const ag_tensor *t, ag_dtype dt)
{
    return dt == AG_F32 ? agi_as_f32(op, t) : (ag_tensor *)t;
}

static ag_status linear_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const char *op = node->name;
    const ag_tensor *x = node->inputs[0], *w = node->inputs[1], *bias = node->inputs[2];
    int64_t in = w->shape[1], outf = w->shape[0];
    ag_dtype dt = linear_dtype(x, w, bias);
    ag_tensor *xf = linear_operand(op, x, dt);
    ag_tensor *wf = linear_operand(op, w, dt);
    ag_tensor *x2 = xf ? ag_reshape(xf, 2, (int64_t[]){-1, in}) : NULL;
    ag_tensor *g2 = ag_reshape(g, 2, (int64_t[]){-1, outf});
    if (!x2 || !g2) return ag_last_status();
    if (x->requires_grad) {
        /* dx = dy @ W: [R, out] @ [out, in] */
        grads[0] = wf ? ag_reshape(matmul_core(op, g2, wf, 1.0), x->ndim, x->shape) : NULL;
        if (!grads[0]) return ag_last_status();
    }
    if (w->requires_grad) {
        /* dW = dyᵀ @ x: [out, R] @ [R, in] */
        grads[1] = matmul_core(op, mT(g2), x2, 1.0);
        if (!grads[1]) return ag_last_status();
    }
    if (bias && bias->requires_grad) {
        grads[2] = ag_sum(g2, 1, (const int[]){0}, false);
        if (!grads[2]) return ag_last_status();
    }
    return AG_OK;
}

ag_tensor *ag_linear(const ag_tensor *x, const ag_tensor *weight, const ag_tensor *bias)
{
    const char *op = "ag_linear";
    ag_dtype low = AGI_AUTOCAST_LOWERS(x, weight, bias);
    if (low != AG_F32) /* autocast: 16-bit operands and GEMM, f32 accumulation, one rounding */
        AGI_AUTOCAST_LOW_CALL(ag_linear(agi_autocast_cast(x, low), agi_autocast_cast(weight, low),
                                        agi_autocast_cast(bias, low)));
    /* Mixed or other 16-bit inputs: f32 arithmetic on their values, the
     * result rounded once. All of one 16-bit dtype: a 16-bit GEMM below
     * (f32 accumulation; the bias, copied into the output first, is added
     * with beta = 1 before the one rounding), which gives the same bits. */
    ag_dtype dt = linear_dtype(x, weight, bias);
    if (dt == AG_F32)
        AGI_HALF_VIA_F32(ag_linear(AGI_F32(x), AGI_F32(weight), AGI_F32(bias)), x, weight, bias);
    if (!agi_check_tensor(op, x, "x") || !agi_check_tensor(op, weight, "weight")) return NULL;
    if (!agi_check_same_device(op, x, weight)) return NULL;
    if (bias && !agi_check_same_device(op, x, bias)) return NULL;
    char sx[192], sw[192], sb[192];
    agi_fmt_shape(sx, x->ndim, x->shape);
    agi_fmt_shape(sw, weight->ndim, weight->shape);
    if (weight->ndim != 2) {
        agi_error(AG_ERR_INVALID, op, "weight must be 2-D [out, in], got %s (x %s)", sw, sx);
        return NULL;
    }
    if (x->ndim == 0 || x->shape[x->ndim - 1] != weight->shape[1]) {
        agi_error(AG_ERR_INVALID, op, "input features differ: x %s, weight %s", sx, sw);
        return NULL;
    }
    int64_t in = weight->shape[1], outf = weight->shape[0];
    if (bias && (bias->ndim != 1 || bias->shape[0] != outf)) {
        agi_error(AG_ERR_INVALID, op, "bias %s must be [%lld] for weight %s",
                  agi_fmt_shape(sb, bias->ndim, bias->shape), (long long)outf, sw);
        return NULL;
    }
    ag_device *dev = x->storage->dev;
    int64_t shape[AG_MAX_DIMS];
    memcpy(shape, x->shape, sizeof shape);
    shape[x->ndim - 1] = outf;
    int64_t rows = ag_numel(x) / (in ? in : 1);
    if (in == 0) rows = agi_numel(x->ndim - 1, x->shape);

    ag_tensor *y = NULL;
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *xf = linear_operand(op, x, dt);
    ag_tensor *wf = linear_operand(op, weight, dt);
    ag_tensor *bf = bias ? linear_operand(op, bias, dt) : NULL;
    ag_tensor *x2 = xf ? ag_reshape(xf, 2, (int64_t[]){rows, in}) : NULL; /* [R, in] */
    ag_tensor *out = x2 && wf && (bf || !bias)
                         ? agi_tensor_new(op, dev, dt, x->ndim, shape)
                         : NULL;
    ag_status st = out ? AG_OK : ag_last_status();
    if (out && ag_numel(out) > 0) {
        /* y = bias (broadcast over rows), then y += x2 @ Wᵀ with beta = 1. */
        if (bf) {
            agi_kernel k = {.op = AGI_K_COPY};
            k.dst = out_view(out, 1, rows, outf);
            k.src[0] = k.dst;
            k.src[0].buf = bf->storage->buf;
            k.src[0].offset = bf->offset;
            k.src[0].strides[0] = 0;
            k.src[0].strides[1] = 0;
            k.src[0].strides[2] = outf == 1 ? 0 : bf->strides[0];
            st = agi_exec(op, dev, &k);
        } else if (in == 0) {
            st = ag_fill_(out, 0.0);
        }
        agi_view va, vw;
        ag_tensor *cx = NULL, *cw = NULL;
        if (st == AG_OK && in > 0) {
            ag_tensor *wt = mT(wf); /* [in, out] */
            if (wt && operand(op, x2, 0, NULL, &va, &cx) && operand(op, wt, 0, NULL, &vw, &cw))
                st = gemm(op, dev, va, vw, out_view(out, 1, rows, outf), 1.0, bf ? 1.0 : 0.0);
            else
                st = ag_last_status();
        }
        agi_discard(cx);
        agi_discard(cw);
    }
    if (st == AG_OK) y = out;
    ag_no_grad_end();
    ag_retain(y);
    ag_scope_end();
    if (!(y = agi_scope_track(y))) return NULL;
    if (AGI_NEEDS_GRAD(x, weight, bias)) {
        agi_node *node =
            agi_node_new(op, linear_backward, 3, (const ag_tensor *[]){x, weight, bias});
        /* x's gradient reads the weight, the weight's reads x; the bias is not read */
        agi_node_reads(node, (weight->requires_grad ? 1u : 0u) | (x->requires_grad ? 2u : 0u));
        y = agi_attach(y, node);
    }
    return y;
}
