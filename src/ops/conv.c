/*
 * src/ops/conv.c — 2-D convolution and transposed convolution (NCHW).
 *
 * conv2d is IM2COL + one batched GEMM per group:
 *   cols = im2col(x)                      // [N, C*kh*kw, OH*OW]
 *   y[:, g] = W_g · cols_g                // W_g: [O/G, C/G*kh*kw] shared by the batch
 * The bias is broadcast-copied into y first and the GEMM accumulates on top
 * (beta = 1), which is the broadcasting add without a temporary.
 *
 * conv_transpose2d is the input-gradient of a conv2d:
 *   cols_g = W_gᵀ · x_g;  y = col2im(cols) (+ bias)
 *
 * Backward (both ops) is made of the same three pieces:
 *   - "data" path:  GEMM with the weight (transposed or not), then COL2IM or not;
 *   - "weight" path: per-sample GEMM dy_g · cols_gᵀ summed over the batch;
 *   - bias: the sum of dy over N, H, W.
 * The forward's columns are recomputed in the backward instead of being kept
 * alive in the graph (they are kh*kw times larger than the input), and every
 * pass works on slices of the batch (see "Batch chunks"). A 1x1 kernel with
 * stride 1 and no padding uses the image as its own columns.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Geometry ------------------------------------------------------------- */

typedef struct conv_geom {
    int64_t n, c, h, w;     /* input image */
    int64_t o;              /* output channels */
    int64_t kh, kw;         /* kernel */
    int64_t oh, ow;         /* output spatial size */
    int64_t sh, sw, ph, pw, dh, dw, oph, opw;
    int64_t g;              /* groups */
} conv_geom;

/* IM2COL/COL2IM parameters for images [n, c, h, w] whose conv output is [oh, ow]. */
static agi_conv_params conv_params(const conv_geom *q, int64_t n, int64_t c, int64_t h,
                                   int64_t w, int64_t oh, int64_t ow)
{
    agi_conv_params p = {.n = n, .c = c, .h = h, .w = w, .kh = q->kh, .kw = q->kw,
                         .oh = oh, .ow = ow, .sh = q->sh, .sw = q->sw, .ph = q->ph,
                         .pw = q->pw, .dh = q->dh, .dw = q->dw};
    return p;
}

/* Stores / loads the geometry in a node's integer slots. */
static void geom_store(agi_node *node, const conv_geom *q)
{
    const int64_t v[16] = {q->n, q->c, q->h, q->w, q->o, q->kh, q->kw, q->oh,
                           q->ow, q->sh, q->sw, q->ph, q->pw, q->dh, q->dw, q->g};
    memcpy(node->i, v, sizeof v);
}

static conv_geom geom_load(const agi_node *node)
{
    const int64_t *v = node->i;
    conv_geom q = {.n = v[0], .c = v[1], .h = v[2], .w = v[3], .o = v[4], .kh = v[5],
                   .kw = v[6], .oh = v[7], .ow = v[8], .sh = v[9], .sw = v[10], .ph = v[11],
                   .pw = v[12], .dh = v[13], .dw = v[14], .g = v[15]};
    return q;
}

/* ---- Kernel helpers --------------------------------------------------------- */

/* A 3-D strided view of t's buffer at element offset `off` (relative to t). */
static agi_view view3(const ag_tensor *t, int64_t off, int64_t b, int64_t r, int64_t c,
                      int64_t sb, int64_t sr, int64_t sc)
{
    agi_view v = {0};
    v.buf = t->storage->buf;
    v.dtype = t->dtype;
    v.ndim = 3;
    v.offset = t->offset + off;
    v.shape[0] = b, v.shape[1] = r, v.shape[2] = c;
    v.strides[0] = sb, v.strides[1] = sr, v.strides[2] = sc;
    return v;
}

/* A 4-D view with explicit strides (shape/strides of 4 entries). */
static agi_view view4(const ag_tensor *t, const int64_t *shape, const int64_t *strides)
{
    agi_view v = {0};
    v.buf = t->storage->buf;
    v.dtype = t->dtype;
    v.ndim = 4;
    v.offset = t->offset;
    for (int d = 0; d < 4; d++) {
        v.shape[d] = shape[d];
        v.strides[d] = shape[d] == 1 ? 0 : strides[d];
    }
    return v;
}

/* Zero-fills a view (the value of an empty sum). */
static ag_status fill_zero(const char *op, ag_device *dev, agi_view v)
{
    agi_kernel k = {.op = AGI_K_FILL};
    k.dst = v;
    return agi_exec(op, dev, &k);
}

/* c = a · b + beta c. An empty inner dimension (no input channels) gives
 * c = beta c without a GEMM. */
static ag_status gemm(const char *op, ag_device *dev, agi_view a, agi_view b, agi_view c,
                      double beta)
{
    if (a.shape[2] == 0) return beta != 0.0 ? AG_OK : fill_zero(op, dev, c);
    agi_kernel k = {.op = AGI_K_GEMM};
    k.src[0] = a;
    k.src[1] = b;
    k.dst = c;
    k.p.s.f[0] = 1.0;
    k.p.s.f[1] = beta;
    return agi_exec(op, dev, &k);
}

static ag_status im2col(const char *op, ag_tensor *cols, const ag_tensor *img, agi_conv_params p)
{
    agi_kernel k = {.op = AGI_K_IM2COL};
    k.src[0] = agi_view_of(img);
    k.dst = agi_view_of(cols);
    k.p.conv = p;
    return agi_exec(op, img->storage->dev, &k);
}

static ag_status col2im(const char *op, ag_tensor *img, const ag_tensor *cols, agi_conv_params p)
{
    agi_kernel k = {.op = AGI_K_COL2IM};
    k.src[0] = agi_view_of(cols);
    k.dst = agi_view_of(img);
    k.p.conv = p;
    return agi_exec(op, img->storage->dev, &k);
}

#define CHUNK_ELEMS ((int64_t)1 << 24) /* 64 MiB of f32: see "Batch chunks" */

/* Products with a long inner dim and a small output (the weight gradient of
 * a convolution over large images: K = OH*OW) are split along K into chunks
 * of about this many elements, so that the device gets chunks x batch
 * independent products instead of a few very long ones; the chunks' partial
 * results are summed with the batch's. The split depends on the shapes only,
 * so every backend sums in the same order. */
#define SPLIT_K_CHUNK 4096
#define SPLIT_K_MAX_OUTPUT 65536 /* rows*cols above this parallelise well unsplit */
#define SPLIT_K_MAX 64

/* dst[rows, cols] (contiguous, at element `off` of `dst`) = Σ_b a[b] · b[b].
 * With one batch entry (and no split) the GEMM writes dst directly;
 * otherwise the partial products go to temporaries that are summed. */
static ag_status gemm_batch_sum(const char *op, ag_device *dev, agi_view a, agi_view b,
                                ag_tensor *dst, int64_t off)
{
    int64_t nb = a.shape[0], rows = a.shape[1], cols = b.shape[2], k = a.shape[2];
    agi_view d = view3(dst, off, 1, rows, cols, rows * cols, cols, 1);
    if (nb == 0 || k == 0) return fill_zero(op, dev, d);
    int64_t splits = 1;
    if (rows * cols <= SPLIT_K_MAX_OUTPUT && k >= 2 * SPLIT_K_CHUNK) {
        splits = (k + SPLIT_K_CHUNK - 1) / SPLIT_K_CHUNK;
        if (splits > SPLIT_K_MAX) splits = SPLIT_K_MAX;
        while (splits > 1 && splits * nb * rows * cols > CHUNK_ELEMS) splits--;
    }
    if (nb == 1 && splits == 1) return gemm(op, dev, a, b, d, 0.0);
    /* Each chunk's products go to a temporary of its own: GEMMs writing
     * different buffers carry no hazard between them, so a GPU runs the
     * chunks at once (one shared buffer would order them behind barriers, and
     * splitting would gain nothing). Each temporary is summed over the batch
     * into its row of `part` [splits, rows, cols], summed in turn into dst. */
    ag_tensor *tmp[SPLIT_K_MAX] = {0};
    ag_tensor *part = splits > 1 ? agi_tensor_new(op, dev, AG_F32, 3, (int64_t[]){splits, rows, cols})
                                 : NULL;
    ag_status st = splits > 1 && !part ? ag_last_status() : AG_OK;
    int64_t kc = (k + splits - 1) / splits;
    for (int64_t s = 0; s < splits && st == AG_OK; s++) {
        int64_t k0 = s * kc, kn = k - k0 < kc ? k - k0 : kc;
        agi_view as = a, bs = b;
        as.offset += k0 * a.strides[2];
        as.shape[2] = kn;
        bs.offset += k0 * b.strides[1];
        bs.shape[1] = kn;
        tmp[s] = agi_tensor_new(op, dev, AG_F32, 3, (int64_t[]){nb, rows, cols});
        st = tmp[s] ? gemm(op, dev, as, bs, agi_view_of(tmp[s]), 0.0) : ag_last_status();
    }
    for (int64_t s = 0; s < splits && st == AG_OK; s++) {
        agi_kernel r = {.op = AGI_K_REDUCE, .sub = AGI_R_SUM};
        r.src[0] = agi_view_of(tmp[s]);
        r.dst = part ? view3(part, s * rows * cols, 1, rows, cols, rows * cols, cols, 1) : d;
        st = agi_exec(op, dev, &r);
    }
    if (st == AG_OK && part) {
        agi_kernel r = {.op = AGI_K_REDUCE, .sub = AGI_R_SUM};
        r.src[0] = agi_view_of(part);
        r.dst = d;
        st = agi_exec(op, dev, &r);
    }
    for (int64_t s = 0; s < splits; s++) agi_discard(tmp[s]);
    agi_discard(part);
    return st;
}

/* The bias gradient: db[o] = Σ_{n,h,w} dy[n, o, h, w]. dy contiguous [N, O, H, W]. */
static ag_tensor *bias_grad(const char *op, const ag_tensor *dy)
{
    int64_t o = dy->shape[1];
    ag_tensor *db = agi_tensor_new(op, dy->storage->dev, AG_F32, 1, &o);
    if (!db) return NULL;
    agi_kernel k = {.op = AGI_K_REDUCE, .sub = AGI_R_SUM};
    k.src[0] = agi_view_of(dy);
    k.dst = view4(db, (int64_t[]){1, o, 1, 1}, (int64_t[]){o, 1, 1, 1});
    ag_status st = ag_numel(dy) == 0 ? fill_zero(op, dy->storage->dev, k.dst)
                                     : agi_exec(op, dy->storage->dev, &k);
    if (st != AG_OK) {
        agi_discard(db);
        return NULL;
    }
    return db;
}

/* ---- Validation ------------------------------------------------------------- */

/* Reads the options (NULL → defaults) into q; checks signs. `what` names the
 * operands in messages ("input [..], weight [..]"). */
static bool read_opts(const char *op, const ag_conv2d_opts *opts, bool transposed, conv_geom *q,
                      const char *what)
{
    ag_conv2d_opts o = opts ? *opts : (ag_conv2d_opts){0};
    for (int i = 0; i < 2; i++) {
        if (o.stride[i] == 0) o.stride[i] = 1;
        if (o.dilation[i] == 0) o.dilation[i] = 1;
    }
    if (o.groups == 0) o.groups = 1;
    if (o.stride[0] < 0 || o.stride[1] < 0) {
        agi_error(AG_ERR_INVALID, op, "stride must be positive, got (%d,%d) for %s",
                  o.stride[0], o.stride[1], what);
        return false;
    }
    if (o.padding[0] < 0 || o.padding[1] < 0) {
        agi_error(AG_ERR_INVALID, op, "padding must be non-negative, got (%d,%d) for %s",
                  o.padding[0], o.padding[1], what);
        return false;
    }
    if (o.dilation[0] < 0 || o.dilation[1] < 0) {
        agi_error(AG_ERR_INVALID, op, "dilation must be positive, got (%d,%d) for %s",
                  o.dilation[0], o.dilation[1], what);
        return false;
    }
    if (o.groups < 0) {
        agi_error(AG_ERR_INVALID, op, "groups must be positive, got %d for %s", o.groups, what);
        return false;
    }
    if (!transposed && (o.output_padding[0] != 0 || o.output_padding[1] != 0)) {
        agi_error(AG_ERR_INVALID, op,
                  "output_padding is for conv_transpose2d only, got (%d,%d) for %s",
                  o.output_padding[0], o.output_padding[1], what);
        return false;
    }
    if (transposed) {
        for (int i = 0; i < 2; i++) {
            if (o.output_padding[i] < 0 ||
                (o.output_padding[i] >= o.stride[i] && o.output_padding[i] >= o.dilation[i])) {
                agi_error(AG_ERR_INVALID, op,
                          "output_padding (%d,%d) must be non-negative and smaller than either "
                          "stride (%d,%d) or dilation (%d,%d) for %s",
                          o.output_padding[0], o.output_padding[1], o.stride[0], o.stride[1],
                          o.dilation[0], o.dilation[1], what);
                return false;
            }
        }
    }
    q->sh = o.stride[0], q->sw = o.stride[1];
    q->ph = o.padding[0], q->pw = o.padding[1];
    q->dh = o.dilation[0], q->dw = o.dilation[1];
    q->oph = o.output_padding[0], q->opw = o.output_padding[1];
    q->g = o.groups;
    return true;
}

/* "input [..], weight [..]" into buf (at least 400 bytes), for read_opts. */
static const char *operands(char *buf, const ag_tensor *x, const ag_tensor *weight)
{
    char a[192], b[192];
    snprintf(buf, 400, "input %s, weight %s", agi_fmt_shape(a, x->ndim, x->shape),
             agi_fmt_shape(b, weight->ndim, weight->shape));
    return buf;
}

bool agi_conv_opts_check(const char *op, const ag_conv2d_opts *opts, bool transposed)
{
    conv_geom q;
    return read_opts(op, opts, transposed, &q, "input [N,C,H,W]");
}

/* Common checks: NULLs, devices, ranks 4/4, bias rank 1. */
static bool check_inputs(const char *op, const ag_tensor *x, const ag_tensor *weight,
                         const ag_tensor *bias)
{
    if (!agi_check_tensor(op, x, "x") || !agi_check_tensor(op, weight, "weight")) return false;
    if (!agi_check_same_device(op, x, weight)) return false;
    if (bias && !agi_check_same_device(op, x, bias)) return false;
    char a[192], b[192];
    if (x->ndim != 4) {
        agi_error(AG_ERR_INVALID, op, "expected input [N,C,H,W] (or [C,H,W]), got %s",
                  agi_fmt_shape(a, x->ndim, x->shape));
        return false;
    }
    if (weight->ndim != 4) {
        agi_error(AG_ERR_INVALID, op, "expected a 4-D weight, got %s for input %s",
                  agi_fmt_shape(a, weight->ndim, weight->shape),
                  agi_fmt_shape(b, x->ndim, x->shape));
        return false;
    }
    return true;
}

static bool check_kernel(const char *op, const ag_tensor *weight)
{
    if (weight->shape[2] > 0 && weight->shape[3] > 0) return true;
    char a[192];
    agi_error(AG_ERR_INVALID, op, "kernel size must be positive, got weight %s",
              agi_fmt_shape(a, weight->ndim, weight->shape));
    return false;
}

static bool check_bias(const char *op, const ag_tensor *bias, int64_t o, const ag_tensor *weight)
{
    if (!bias) return true;
    if (bias->ndim != 1 || bias->shape[0] != o) {
        char a[192], b[192];
        agi_error(AG_ERR_INVALID, op, "bias %s does not match %lld output channels of weight %s",
                  agi_fmt_shape(a, bias->ndim, bias->shape), (long long)o,
                  agi_fmt_shape(b, weight->ndim, weight->shape));
        return false;
    }
    return true;
}

/* ---- Shared GEMM passes --------------------------------------------------------
 * All tensors here are contiguous f32. For group g:
 *   x_g:  rows [g*Cg, (g+1)*Cg) of the image (or of dy) seen as [N, Cg, L]
 *   W_g:  rows [g*Og, ...) of the weight seen as [Og, Cg*kk]               */

/* out[N, M, L] rows of group g = A_g · in_g, where A_g is the weight block
 * [rows_a, k] (transposed when `wt`), in_g is [N, k, L] at channel offset. */
static ag_status weight_times(const char *op, const ag_tensor *w, bool wt, int64_t g,
                              int64_t wrows, int64_t wcols, const ag_tensor *in, int64_t in_ch,
                              ag_tensor *out, int64_t out_ch, int64_t l, double beta)
{
    int64_t n = in->shape[0];
    int64_t woff = g * wrows * wcols;
    agi_view a = wt ? view3(w, woff, n, wcols, wrows, 0, 1, wcols)
                    : view3(w, woff, n, wrows, wcols, 0, wcols, 1);
    int64_t k = wt ? wrows : wcols, m = wt ? wcols : wrows;
    agi_view b = view3(in, g * k * l, n, k, l, in_ch * l, l, 1);
    agi_view c = view3(out, g * m * l, n, m, l, out_ch * l, l, 1);
    return gemm(op, in->storage->dev, a, b, c, beta);
}

/* dw rows of group g [rows, cols] = Σ_n lhs_g[n] [rows, L] · rhs_g[n]ᵀ [L, cols]. */
static ag_status weight_grad_group(const char *op, const ag_tensor *lhs, int64_t lhs_ch,
                                   const ag_tensor *rhs, int64_t rhs_ch, int64_t g, int64_t rows,
                                   int64_t cols, int64_t l, ag_tensor *dw)
{
    int64_t n = lhs->shape[0];
    agi_view a = view3(lhs, g * rows * l, n, rows, l, lhs_ch * l, l, 1);
    agi_view b = view3(rhs, g * cols * l, n, l, cols, rhs_ch * l, 1, l);
    return gemm_batch_sum(op, lhs->storage->dev, a, b, dw, g * rows * cols);
}

/* ---- Batch chunks -----------------------------------------------------------------
 * The column buffers hold kh*kw copies of the image, so they are built for a
 * slice of the batch at a time: no buffer exceeds CHUNK_ELEMS elements (nor
 * the device's largest buffer, 128 MiB on lavapipe) and the peak memory stays
 * bounded. Each chunk's temporaries live in a scope of their own. The limit
 * can be lowered with the environment variable AG_CONV_CHUNK_ELEMS (tests use
 * it to exercise several chunks). */


/* Samples per chunk when one sample needs `per_sample` elements of temporaries. */
static int64_t chunk_size(const ag_device *dev, int64_t n, int64_t per_sample)
{
    int64_t limit = CHUNK_ELEMS;
    const char *env = getenv("AG_CONV_CHUNK_ELEMS");
    if (env && atoll(env) > 0) limit = atoll(env);
    int64_t dev_limit = (int64_t)(dev->info.max_buffer_bytes / sizeof(float));
    if (dev_limit > 0 && dev_limit < limit) limit = dev_limit;
    int64_t nc = per_sample > 0 ? limit / per_sample : n;
    if (nc < 1) nc = 1;
    return nc < n ? nc : n;
}

/* A 1x1 kernel with stride 1 and no padding: the columns are the image itself
 * ([N, C, H*W]), so IM2COL and COL2IM are skipped. */
static bool pointwise(const conv_geom *q)
{
    return q->kh == 1 && q->kw == 1 && q->sh == 1 && q->sw == 1 && q->ph == 0 && q->pw == 0;
}

/* Samples [n0, n0+nb) of a contiguous [N, ...] tensor (a view in the current scope). */
static ag_tensor *batch_slice(const ag_tensor *t, int64_t n0, int64_t nb)
{
    int64_t shape[AG_MAX_DIMS], strides[AG_MAX_DIMS];
    memcpy(shape, t->shape, (size_t)t->ndim * sizeof *shape);
    shape[0] = nb;
    agi_contiguous_strides(t->ndim, shape, strides);
    int64_t per = agi_numel(t->ndim - 1, t->shape + 1);
    return agi_tensor_view(t, t->ndim, shape, strides, t->offset + n0 * per);
}

/* dst = a + b (same shapes): sums the weight gradients of successive chunks. */
static ag_status add_into(const char *op, ag_tensor *dst, const ag_tensor *a, const ag_tensor *b)
{
    agi_kernel k = {.op = AGI_K_BINARY, .sub = AGI_B_ADD};
    k.dst = agi_view_of(dst);
    k.src[0] = agi_view_of(a);
    k.src[1] = agi_view_of(b);
    return agi_exec(op, dst->storage->dev, &k);
}

/* ---- conv2d ---------------------------------------------------------------------- */

/* y (+)= conv(x), chunk by chunk: cols = im2col(x_c); y_c[:, g] = W_g · cols_g. */
static ag_status conv2d_fwd(const char *op, const conv_geom *q, const ag_tensor *x,
                            const ag_tensor *w, ag_tensor *y, double beta)
{
    ag_device *dev = x->storage->dev;
    int64_t l = q->oh * q->ow, kk = q->kh * q->kw, cg = q->c / q->g, og = q->o / q->g;
    bool direct = pointwise(q);
    int64_t nc = chunk_size(dev, q->n, direct ? 0 : q->c * kk * l);
    ag_status st = AG_OK;
    for (int64_t n0 = 0; st == AG_OK && n0 < q->n; n0 += nc) {
        int64_t nb = q->n - n0 < nc ? q->n - n0 : nc;
        ag_scope_begin();
        ag_tensor *xs = batch_slice(x, n0, nb), *ys = batch_slice(y, n0, nb);
        ag_tensor *cols = direct ? xs : agi_tensor_new(op, dev, AG_F32, 3,
                                                         (int64_t[]){nb, q->c * kk, l});
        st = xs && ys && cols ? AG_OK : ag_last_status();
        if (st == AG_OK && !direct)
            st = im2col(op, cols, xs, conv_params(q, nb, q->c, q->h, q->w, q->oh, q->ow));
        for (int64_t g = 0; st == AG_OK && g < q->g; g++)
            st = weight_times(op, w, false, g, og, cg * kk, cols, q->c * kk, ys, q->o, l, beta);
        ag_scope_end();
    }
    return st;
}

/* dx = col2im(Wᵀ · dy) and dw = Σ_n dy · colsᵀ, chunk by chunk. dx or *dw may
 * be NULL when not wanted; *dw is replaced by the accumulated sum. */
static ag_status conv2d_bwd(const char *op, const conv_geom *q, const ag_tensor *x,
                            const ag_tensor *w, const ag_tensor *dy, ag_tensor *dx,
                            ag_tensor **dw)
{
    ag_device *dev = x->storage->dev;
    int64_t l = q->oh * q->ow, kk = q->kh * q->kw, cg = q->c / q->g, og = q->o / q->g;
    bool direct = pointwise(q);
    int64_t per = q->c * kk * l > og * cg * kk ? q->c * kk * l : og * cg * kk;
    int64_t nc = chunk_size(dev, q->n, per);
    if (*dw && q->n == 0) return fill_zero(op, dev, agi_view_of(*dw));
    ag_status st = AG_OK;
    for (int64_t n0 = 0; st == AG_OK && n0 < q->n; n0 += nc) {
        int64_t nb = q->n - n0 < nc ? q->n - n0 : nc;
        agi_conv_params p = conv_params(q, nb, q->c, q->h, q->w, q->oh, q->ow);
        ag_tensor *acc = *dw && n0 > 0 ? agi_tensor_new(op, dev, AG_F32, 4, w->shape) : NULL;
        if (*dw && n0 > 0 && !acc) return ag_last_status();
        ag_scope_begin();
        ag_tensor *dys = batch_slice(dy, n0, nb);
        if (!dys) st = ag_last_status();
        if (st == AG_OK && dx) { // dcols_g = W_gᵀ · dy_g ; dx = col2im(dcols)
            ag_tensor *dxs = batch_slice(dx, n0, nb);
            ag_tensor *dcols = direct ? dxs : agi_tensor_new(op, dev, AG_F32, 3,
                                                               (int64_t[]){nb, q->c * kk, l});
            if (!dcols || !dxs) st = ag_last_status();
            for (int64_t g = 0; st == AG_OK && g < q->g; g++)
                st = weight_times(op, w, true, g, og, cg * kk, dys, q->o, dcols, q->c * kk, l, 0.0);
            if (st == AG_OK && !direct) st = col2im(op, dxs, dcols, p);
        }
        if (st == AG_OK && *dw) { // dW_g = Σ_n dy_g[n] · cols_g[n]ᵀ
            ag_tensor *part = n0 ? agi_tensor_new(op, dev, AG_F32, 4, w->shape) : *dw;
            ag_tensor *xs = batch_slice(x, n0, nb);
            ag_tensor *cols = direct ? xs : agi_tensor_new(op, dev, AG_F32, 3,
                                                             (int64_t[]){nb, q->c * kk, l});
            st = part && cols && xs ? AG_OK : ag_last_status();
            if (st == AG_OK && !direct) st = im2col(op, cols, xs, p);
            for (int64_t g = 0; st == AG_OK && g < q->g; g++)
                st = weight_grad_group(op, dys, q->o, cols, q->c * kk, g, og, cg * kk, l, part);
            if (st == AG_OK && acc) st = add_into(op, acc, *dw, part);
        }
        ag_scope_end();
        if (acc) *dw = acc;
    }
    return st;
}

typedef ag_status (*conv_bwd_fn)(const char *op, const conv_geom *q, const ag_tensor *x,
                                  const ag_tensor *w, const ag_tensor *dy, ag_tensor *dx,
                                  ag_tensor **dw);

/* The autograd side of both convolutions: allocates the gradients the inputs
 * need, runs `bwd` over the batch, and reduces dy for the bias.
 * saved[0] = x, saved[1] = weight (contiguous f32). */
static ag_status conv_node_backward(const char *op, conv_bwd_fn bwd, agi_node *node,
                                    ag_tensor *grad, ag_tensor **grads)
{
    conv_geom q = geom_load(node);
    ag_tensor *x = node->saved[0], *w = node->saved[1];
    ag_device *dev = x->storage->dev;
    ag_tensor *dy = ag_contiguous(grad); // [N, O, OH, OW]
    if (!dy) return ag_last_status();
    ag_tensor *dx = NULL, *dw = NULL;
    if (node->inputs[0]->requires_grad) {
        dx = agi_tensor_new(op, dev, AG_F32, 4, (int64_t[]){q.n, q.c, q.h, q.w});
        if (!dx) return ag_last_status();
    }
    if (node->inputs[1]->requires_grad) {
        dw = agi_tensor_new(op, dev, AG_F32, 4, w->shape);
        if (!dw) return ag_last_status();
    }
    if ((dx || dw) && bwd(op, &q, x, w, dy, dx, &dw) != AG_OK) return ag_last_status();
    grads[0] = dx;
    grads[1] = dw;
    if (node->inputs[2] && node->inputs[2]->requires_grad) {
        grads[2] = bias_grad(op, dy);
        if (!grads[2]) return ag_last_status();
    }
    return AG_OK;
}

static ag_status conv2d_backward(agi_node *node, ag_tensor *grad, ag_tensor **grads)
{
    return conv_node_backward("ag_conv2d", conv2d_bwd, node, grad, grads);
}

static ag_tensor *conv2d_4d(const ag_tensor *x, const ag_tensor *weight, const ag_tensor *bias,
                            const ag_conv2d_opts *opts)
{
    const char *op = "ag_conv2d";
    if (!check_inputs(op, x, weight, bias)) return NULL;
    conv_geom q = {0};
    char what[400];
    if (!read_opts(op, opts, false, &q, operands(what, x, weight))) return NULL;
    if (!check_kernel(op, weight)) return NULL;
    char a[192], b[192];
    q.n = x->shape[0], q.c = x->shape[1], q.h = x->shape[2], q.w = x->shape[3];
    q.o = weight->shape[0], q.kh = weight->shape[2], q.kw = weight->shape[3];
    if (q.c % q.g != 0 || q.o % q.g != 0) {
        agi_error(AG_ERR_INVALID, op,
                  "groups=%lld must divide input channels and output channels: input %s, "
                  "weight %s",
                  (long long)q.g, agi_fmt_shape(a, x->ndim, x->shape),
                  agi_fmt_shape(b, weight->ndim, weight->shape));
        return NULL;
    }
    if (weight->shape[1] * q.g != q.c) {
        agi_error(AG_ERR_INVALID, op,
                  "weight %s with groups=%lld expects %lld input channels, got input %s",
                  agi_fmt_shape(a, weight->ndim, weight->shape), (long long)q.g,
                  (long long)(weight->shape[1] * q.g), agi_fmt_shape(b, x->ndim, x->shape));
        return NULL;
    }
    if (!check_bias(op, bias, q.o, weight)) return NULL;
    int64_t ekh = q.dh * (q.kh - 1) + 1, ekw = q.dw * (q.kw - 1) + 1;
    if (q.h + 2 * q.ph < ekh || q.w + 2 * q.pw < ekw) {
        agi_error(AG_ERR_INVALID, op,
                  "kernel %lldx%lld (dilated %lldx%lld) is larger than the padded input %lldx%lld: "
                  "input %s, weight %s",
                  (long long)q.kh, (long long)q.kw, (long long)ekh, (long long)ekw,
                  (long long)(q.h + 2 * q.ph), (long long)(q.w + 2 * q.pw),
                  agi_fmt_shape(a, x->ndim, x->shape),
                  agi_fmt_shape(b, weight->ndim, weight->shape));
        return NULL;
    }
    q.oh = (q.h + 2 * q.ph - ekh) / q.sh + 1;
    q.ow = (q.w + 2 * q.pw - ekw) / q.sw + 1;

    ag_device *dev = x->storage->dev;
    ag_tensor *xc = agi_f32_contiguous(op, x), *wc = agi_f32_contiguous(op, weight);
    ag_tensor *bc = bias ? agi_f32_contiguous(op, bias) : NULL;
    ag_tensor *y = NULL;
    if (!xc || !wc || (bias && !bc)) goto fail;
    y = agi_tensor_new(op, dev, AG_F32, 4, (int64_t[]){q.n, q.o, q.oh, q.ow}); // [N, O, OH, OW]
    if (!y) goto fail;
    if (bc) { // y = bias broadcast over N, OH, OW; the GEMMs add on top
        agi_kernel k = {.op = AGI_K_COPY};
        k.dst = agi_view_of(y);
        k.src[0] = view4(bc, y->shape, (int64_t[]){0, 1, 0, 0});
        if (agi_exec(op, dev, &k) != AG_OK) goto fail;
    }
    if (conv2d_fwd(op, &q, xc, wc, y, bc ? 1.0 : 0.0) != AG_OK) goto fail;
    if (AGI_NEEDS_GRAD(x, weight, bias)) {
        agi_node *node = agi_node_reads_none(
            agi_node_new(op, conv2d_backward, 3, (const ag_tensor *[]){x, weight, bias}));
        if (node) {
            geom_store(node, &q);
            agi_node_save(node, 0, xc);
            agi_node_save(node, 1, wc);
        }
        y = agi_attach(y, node);
    }
    agi_discard(xc);
    agi_discard(wc);
    agi_discard(bc);
    return y;
fail:
    agi_discard(y);
    agi_discard(xc);
    agi_discard(wc);
    agi_discard(bc);
    return NULL;
}

/* Unbatched [C, H, W] inputs run as a batch of one (like PyTorch). */
static ag_tensor *unbatched(ag_tensor *(*fn)(const ag_tensor *, const ag_tensor *,
                                             const ag_tensor *, const ag_conv2d_opts *),
                            const ag_tensor *x, const ag_tensor *weight, const ag_tensor *bias,
                            const ag_conv2d_opts *opts)
{
    ag_scope_begin();
    ag_tensor *y = ag_squeeze(fn(ag_unsqueeze(x, 0), weight, bias, opts), 0);
    ag_retain(y);
    ag_scope_end();
    return agi_scope_track(y);
}

ag_tensor *ag_conv2d(const ag_tensor *x, const ag_tensor *weight, const ag_tensor *bias,
                     const ag_conv2d_opts *opts)
{
    ag_dtype low = AGI_AUTOCAST_LOWERS(x, weight, bias);
    if (low != AG_F32) /* autocast: 16-bit operands, f32 arithmetic, one rounding */
        AGI_AUTOCAST_LOW_CALL(agi_autocast_cast(
            ag_conv2d(agi_autocast_round(x, low), agi_autocast_round(weight, low),
                      agi_autocast_round(bias, low), opts),
            low));
    /* 16-bit inputs: f32 arithmetic on their values, the result rounded once */
    AGI_HALF_VIA_F32(ag_conv2d(AGI_F32(x), AGI_F32(weight), AGI_F32(bias), opts), x, weight, bias);
    if (x && x->ndim == 3) return unbatched(conv2d_4d, x, weight, bias, opts);
    return conv2d_4d(x, weight, bias, opts);
}

/* ---- conv_transpose2d ------------------------------------------------------------
 * x: [N, Cin, H, W], weight: [Cin, Cout/G, kh, kw] → y: [N, Cout, OH, OW] with
 * OH = (H-1)*sh - 2*ph + dh*(kh-1) + oph + 1. In geometry terms the image of
 * the underlying conv is y (channels q.o, size oh×ow) and its columns have
 * x's spatial size. */

/* img = col2im(Wᵀ · x), chunk by chunk. */
static ag_status conv_t_fwd(const char *op, const conv_geom *q, const ag_tensor *x,
                            const ag_tensor *w, ag_tensor *img)
{
    ag_device *dev = x->storage->dev;
    int64_t l = q->h * q->w, kk = q->kh * q->kw, cg = q->c / q->g, og = q->o / q->g;
    bool direct = pointwise(q) && q->oph == 0 && q->opw == 0;
    int64_t nc = chunk_size(dev, q->n, direct ? 0 : q->o * kk * l);
    ag_status st = AG_OK;
    for (int64_t n0 = 0; st == AG_OK && n0 < q->n; n0 += nc) {
        int64_t nb = q->n - n0 < nc ? q->n - n0 : nc;
        ag_scope_begin();
        ag_tensor *xs = batch_slice(x, n0, nb), *imgs = batch_slice(img, n0, nb);
        ag_tensor *cols = direct ? imgs : agi_tensor_new(op, dev, AG_F32, 3,
                                                           (int64_t[]){nb, q->o * kk, l});
        if (!xs || !imgs || !cols) st = ag_last_status();
        // cols_g [nb, Og*kk, L] = W_gᵀ · x_g, W_g = weight rows of group g: [Cg, Og*kk]
        for (int64_t g = 0; st == AG_OK && g < q->g; g++)
            st = weight_times(op, w, true, g, cg, og * kk, xs, q->c, cols, q->o * kk, l, 0.0);
        if (st == AG_OK && !direct)
            st = col2im(op, imgs, cols, conv_params(q, nb, q->o, q->oh, q->ow, q->h, q->w));
        ag_scope_end();
    }
    return st;
}

/* dcols = im2col(dy); dx = W · dcols; dw = Σ_n x · dcolsᵀ, chunk by chunk. */
static ag_status conv_t_bwd(const char *op, const conv_geom *q, const ag_tensor *x,
                            const ag_tensor *w, const ag_tensor *dy, ag_tensor *dx,
                            ag_tensor **dw)
{
    ag_device *dev = x->storage->dev;
    int64_t l = q->h * q->w, kk = q->kh * q->kw, cg = q->c / q->g, og = q->o / q->g;
    bool direct = pointwise(q) && q->oph == 0 && q->opw == 0;
    int64_t per = q->o * kk * l > cg * og * kk ? q->o * kk * l : cg * og * kk;
    int64_t nc = chunk_size(dev, q->n, per);
    if (*dw && q->n == 0) return fill_zero(op, dev, agi_view_of(*dw));
    ag_status st = AG_OK;
    for (int64_t n0 = 0; st == AG_OK && n0 < q->n; n0 += nc) {
        int64_t nb = q->n - n0 < nc ? q->n - n0 : nc;
        ag_tensor *acc = *dw && n0 > 0 ? agi_tensor_new(op, dev, AG_F32, 4, w->shape) : NULL;
        if (*dw && n0 > 0 && !acc) return ag_last_status();
        ag_scope_begin();
        ag_tensor *dys = batch_slice(dy, n0, nb);
        ag_tensor *dcols = direct ? dys : agi_tensor_new(op, dev, AG_F32, 3,
                                                           (int64_t[]){nb, q->o * kk, l});
        st = dys && dcols ? AG_OK : ag_last_status();
        if (st == AG_OK && !direct)
            st = im2col(op, dcols, dys, conv_params(q, nb, q->o, q->oh, q->ow, q->h, q->w));
        if (st == AG_OK && dx) { // dx_g [nb, Cg, L] = W_g [Cg, Og*kk] · dcols_g
            ag_tensor *dxs = batch_slice(dx, n0, nb);
            if (!dxs) st = ag_last_status();
            for (int64_t g = 0; st == AG_OK && g < q->g; g++)
                st = weight_times(op, w, false, g, cg, og * kk, dcols, q->o * kk, dxs, q->c, l, 0.0);
        }
        if (st == AG_OK && *dw) { // dW_g [Cg, Og*kk] = Σ_n x_g[n] · dcols_g[n]ᵀ
            ag_tensor *part = n0 ? agi_tensor_new(op, dev, AG_F32, 4, w->shape) : *dw;
            ag_tensor *xs = batch_slice(x, n0, nb);
            if (!part || !xs) st = ag_last_status();
            for (int64_t g = 0; st == AG_OK && g < q->g; g++)
                st = weight_grad_group(op, xs, q->c, dcols, q->o * kk, g, cg, og * kk, l, part);
            if (st == AG_OK && acc) st = add_into(op, acc, *dw, part);
        }
        ag_scope_end();
        if (acc) *dw = acc;
    }
    return st;
}

static ag_status conv_t_backward(agi_node *node, ag_tensor *grad, ag_tensor **grads)
{
    return conv_node_backward("ag_conv_transpose2d", conv_t_bwd, node, grad, grads);
}

static ag_tensor *conv_t_4d(const ag_tensor *x, const ag_tensor *weight, const ag_tensor *bias,
                            const ag_conv2d_opts *opts)
{
    const char *op = "ag_conv_transpose2d";
    if (!check_inputs(op, x, weight, bias)) return NULL;
    conv_geom q = {0};
    char what[400];
    if (!read_opts(op, opts, true, &q, operands(what, x, weight))) return NULL;
    if (!check_kernel(op, weight)) return NULL;
    char a[192], b[192];
    q.n = x->shape[0], q.c = x->shape[1], q.h = x->shape[2], q.w = x->shape[3];
    q.kh = weight->shape[2], q.kw = weight->shape[3];
    q.o = weight->shape[1] * q.g;
    if (weight->shape[0] != q.c) {
        agi_error(AG_ERR_INVALID, op, "weight %s expects %lld input channels, got input %s",
                  agi_fmt_shape(a, weight->ndim, weight->shape), (long long)weight->shape[0],
                  agi_fmt_shape(b, x->ndim, x->shape));
        return NULL;
    }
    if (q.c % q.g != 0) {
        agi_error(AG_ERR_INVALID, op, "groups=%lld must divide the input channels of %s",
                  (long long)q.g, agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    if (!check_bias(op, bias, q.o, weight)) return NULL;
    q.oh = (q.h - 1) * q.sh - 2 * q.ph + q.dh * (q.kh - 1) + q.oph + 1;
    q.ow = (q.w - 1) * q.sw - 2 * q.pw + q.dw * (q.kw - 1) + q.opw + 1;
    if (q.oh < 1 || q.ow < 1) {
        agi_error(AG_ERR_INVALID, op,
                  "output size %lldx%lld is too small (padding too large): input %s, weight %s",
                  (long long)q.oh, (long long)q.ow, agi_fmt_shape(a, x->ndim, x->shape),
                  agi_fmt_shape(b, weight->ndim, weight->shape));
        return NULL;
    }

    ag_device *dev = x->storage->dev;
    ag_tensor *xc = agi_f32_contiguous(op, x), *wc = agi_f32_contiguous(op, weight);
    ag_tensor *bc = bias ? agi_f32_contiguous(op, bias) : NULL;
    ag_tensor *img = NULL, *y = NULL;
    if (!xc || !wc || (bias && !bc)) goto fail;
    img = agi_tensor_new(op, dev, AG_F32, 4, (int64_t[]){q.n, q.o, q.oh, q.ow});
    if (!img || conv_t_fwd(op, &q, xc, wc, img) != AG_OK) goto fail;
    if (bc) { // y = img + bias[None, :, None, None]
        y = agi_tensor_new(op, dev, AG_F32, 4, img->shape);
        if (!y) goto fail;
        agi_kernel k = {.op = AGI_K_BINARY, .sub = AGI_B_ADD};
        k.dst = agi_view_of(y);
        k.src[0] = agi_view_of(img);
        k.src[1] = view4(bc, y->shape, (int64_t[]){0, 1, 0, 0});
        if (agi_exec(op, dev, &k) != AG_OK) goto fail;
        agi_discard(img);
        img = NULL;
    } else {
        y = img;
        img = NULL;
    }
    if (AGI_NEEDS_GRAD(x, weight, bias)) {
        agi_node *node = agi_node_reads_none(
            agi_node_new(op, conv_t_backward, 3, (const ag_tensor *[]){x, weight, bias}));
        if (node) {
            geom_store(node, &q);
            agi_node_save(node, 0, xc);
            agi_node_save(node, 1, wc);
        }
        y = agi_attach(y, node);
    }
    agi_discard(xc);
    agi_discard(wc);
    agi_discard(bc);
    return y;
fail:
    agi_discard(img);
    agi_discard(y);
    agi_discard(xc);
    agi_discard(wc);
    agi_discard(bc);
    return NULL;
}

ag_tensor *ag_conv_transpose2d(const ag_tensor *x, const ag_tensor *weight, const ag_tensor *bias,
                               const ag_conv2d_opts *opts)
{
    ag_dtype low = AGI_AUTOCAST_LOWERS(x, weight, bias);
    if (low != AG_F32) /* autocast: 16-bit operands, f32 arithmetic, one rounding */
        AGI_AUTOCAST_LOW_CALL(agi_autocast_cast(
            ag_conv_transpose2d(agi_autocast_round(x, low), agi_autocast_round(weight, low),
                      agi_autocast_round(bias, low), opts),
            low));
    /* 16-bit inputs: f32 arithmetic on their values, the result rounded once */
    AGI_HALF_VIA_F32(ag_conv_transpose2d(AGI_F32(x), AGI_F32(weight), AGI_F32(bias), opts), x, weight, bias);
    if (x && x->ndim == 3) return unbatched(conv_t_4d, x, weight, bias, opts);
    return conv_t_4d(x, weight, bias, opts);
}
