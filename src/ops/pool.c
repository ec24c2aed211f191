/*
 * src/ops/pool.c — 2-D max, average and adaptive average pooling (NCHW).
 *
 * Inputs are [N, C, H, W] or unbatched [C, H, W] (treated as N = 1). Each op
 * is one kernel forward (AGI_K_MAXPOOL2D / AGI_K_AVGPOOL2D) and one fused
 * kernel backward (AGI_K_MAXPOOL2D_BWD with the argmax indices saved by the
 * forward, AGI_K_AVGPOOL2D_BWD with the same geometry).
 *
 * Output sizes follow PyTorch (pooling_output_shape):
 *   out = floor_or_ceil((in + 2*pad - dil*(k-1) - 1) / stride) + 1
 *   and with ceil_mode, the last window must start inside the input or the
 *   left padding: if (out-1)*stride >= in + pad then out -= 1.
 */
#include "internal.h"

#include <string.h>

/* A 4-D contiguous view of t with the geometry [n, c, h, w] (t may be 3-D). */
static agi_view view_nchw(const ag_tensor *t, int64_t n, int64_t c, int64_t h, int64_t w)
{
    agi_view v = {0};
    v.buf = t->storage->buf;
    v.dtype = t->dtype;
    v.ndim = 4;
    v.offset = t->offset;
    const int64_t shape[4] = {n, c, h, w};
    int64_t stride = 1;
    for (int d = 3; d >= 0; d--) {
        v.shape[d] = shape[d];
        v.strides[d] = shape[d] == 1 ? 0 : stride;
        stride *= shape[d];
    }
    return v;
}

static void params_store(agi_node *node, const agi_pool_params *p)
{
    const int64_t v[14] = {p->n, p->c, p->h, p->w, p->oh, p->ow, p->kh,
                           p->kw, p->sh, p->sw, p->ph, p->pw, p->dh, p->dw};
    memcpy(node->i, v, sizeof v);
    node->i[14] = (int64_t)p->ceil_mode | (int64_t)p->count_include_pad << 1 |
                  (int64_t)p->adaptive << 2;
}

static agi_pool_params params_load(const agi_node *node)
{
    const int64_t *v = node->i;
    agi_pool_params p = {.n = v[0], .c = v[1], .h = v[2], .w = v[3], .oh = v[4], .ow = v[5],
                         .kh = v[6], .kw = v[7], .sh = v[8], .sw = v[9], .ph = v[10],
                         .pw = v[11], .dh = v[12], .dw = v[13]};
    p.ceil_mode = (int32_t)(v[14] & 1);
    p.count_include_pad = (int32_t)(v[14] >> 1 & 1);
    p.adaptive = (int32_t)(v[14] >> 2 & 1);
    return p;
}

/* PyTorch's pooling_output_shape. */
static int64_t pool_out(int64_t in, int64_t k, int64_t pad, int64_t stride, int64_t dil,
                        bool ceil_mode)
{
    int64_t num = in + 2 * pad - dil * (k - 1) - 1 + (ceil_mode ? stride - 1 : 0);
    int64_t out = (num >= 0 ? num / stride : -((-num + stride - 1) / stride)) + 1;
    if (ceil_mode && (out - 1) * stride >= in + pad) out--;
    return out;
}

/* Checks x (NULL, rank 3/4) and fills the image part of p. */
static bool check_x(const char *op, const ag_tensor *x, agi_pool_params *p)
{
    if (!agi_check_tensor(op, x, "x")) return false;
    if (x->ndim != 3 && x->ndim != 4) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "expected input [N,C,H,W] or [C,H,W], got %s",
                  agi_fmt_shape(a, x->ndim, x->shape));
        return false;
    }
    int b = x->ndim - 3;
    p->n = b ? x->shape[0] : 1;
    p->c = x->shape[b];
    p->h = x->shape[b + 1];
    p->w = x->shape[b + 2];
    return true;
}

/* Reads and checks the window options; `a` names the input in messages
 * (its shape, or "[N,C,H,W]" when there is no input yet). */
static bool window_opts(const char *op, const char *a, const ag_pool2d_opts *opts, bool dilation,
                        agi_pool_params *p)
{
    if (!opts) {
        agi_error(AG_ERR_INVALID, op, "options (kernel size) are required, input %s", a);
        return false;
    }
    p->kh = opts->kernel[0], p->kw = opts->kernel[1];
    p->sh = opts->stride[0] ? opts->stride[0] : p->kh;
    p->sw = opts->stride[1] ? opts->stride[1] : p->kw;
    p->ph = opts->padding[0], p->pw = opts->padding[1];
    p->dh = dilation && opts->dilation[0] ? opts->dilation[0] : 1;
    p->dw = dilation && opts->dilation[1] ? opts->dilation[1] : 1;
    p->ceil_mode = opts->ceil_mode;
    if (!dilation && (opts->dilation[0] > 1 || opts->dilation[1] > 1)) {
        agi_error(AG_ERR_INVALID, op, "dilation (%d,%d) is for max pooling only, input %s",
                  opts->dilation[0], opts->dilation[1], a);
        return false;
    }
    if (p->kh <= 0 || p->kw <= 0) {
        agi_error(AG_ERR_INVALID, op, "kernel size must be positive, got (%lld,%lld) for input %s",
                  (long long)p->kh, (long long)p->kw, a);
        return false;
    }
    if (p->sh <= 0 || p->sw <= 0 || p->dh <= 0 || p->dw <= 0) {
        agi_error(AG_ERR_INVALID, op,
                  "stride and dilation must be positive, got stride (%lld,%lld) dilation "
                  "(%lld,%lld) for input %s",
                  (long long)p->sh, (long long)p->sw, (long long)p->dh, (long long)p->dw, a);
        return false;
    }
    if (p->ph < 0 || p->pw < 0 || p->ph > p->kh / 2 || p->pw > p->kw / 2) {
        agi_error(AG_ERR_INVALID, op,
                  "padding (%lld,%lld) must be non-negative and at most half of kernel size "
                  "(%lld,%lld), input %s",
                  (long long)p->ph, (long long)p->pw, (long long)p->kh, (long long)p->kw, a);
        return false;
    }
    return true;
}

bool agi_pool_opts_check(const char *op, const ag_pool2d_opts *opts, bool max_pool)
{
    agi_pool_params p;
    return window_opts(op, "[N,C,H,W]", opts, max_pool, &p);
}

/* Checks the window options and computes the output size. */
static bool read_window(const char *op, const ag_tensor *x, const ag_pool2d_opts *opts,
                        bool dilation, agi_pool_params *p)
{
    char a[192];
    if (!window_opts(op, agi_fmt_shape(a, x->ndim, x->shape), opts, dilation, p)) return false;
    p->oh = pool_out(p->h, p->kh, p->ph, p->sh, p->dh, p->ceil_mode);
    p->ow = pool_out(p->w, p->kw, p->pw, p->sw, p->dw, p->ceil_mode);
    if (p->oh < 1 || p->ow < 1) {
        agi_error(AG_ERR_INVALID, op,
                  "output size %lldx%lld is too small: input %s, kernel (%lld,%lld), padding "
                  "(%lld,%lld), dilation (%lld,%lld)",
                  (long long)p->oh, (long long)p->ow, agi_fmt_shape(a, x->ndim, x->shape),
                  (long long)p->kh, (long long)p->kw, (long long)p->ph, (long long)p->pw,
                  (long long)p->dh, (long long)p->dw);
        return false;
    }
    return true;
}

/* Output shape: x's batch dims with [oh, ow] as the last two. */
static void out_shape(const ag_tensor *x, const agi_pool_params *p, int64_t *shape)
{
    memcpy(shape, x->shape, (size_t)x->ndim * sizeof *shape);
    shape[x->ndim - 2] = p->oh;
    shape[x->ndim - 1] = p->ow;
}

/* ---- max_pool2d ---------------------------------------------------------------- */

/* saved[0] = indices [N, C, OH, OW] i32. */
static ag_status max_pool_backward(agi_node *node, ag_tensor *grad, ag_tensor **grads)
{
    const char *op = "ag_max_pool2d";
    agi_pool_params p = params_load(node);
    const ag_tensor *x = node->inputs[0];
    ag_tensor *dy = ag_contiguous(grad);
    if (!dy) return ag_last_status();
    ag_tensor *dx = agi_tensor_new(op, dy->storage->dev, AG_F32, x->ndim, x->shape);
    if (!dx) return ag_last_status();
    agi_kernel k = {.op = AGI_K_MAXPOOL2D_BWD};
    k.src[0] = view_nchw(dy, p.n, p.c, p.oh, p.ow);
    k.src[1] = view_nchw(node->saved[0], p.n, p.c, p.oh, p.ow);
    k.dst = view_nchw(dx, p.n, p.c, p.h, p.w);
    k.p.pool = p;
    if (agi_exec(op, dx->storage->dev, &k) != AG_OK) return ag_last_status();
    grads[0] = dx;
    return AG_OK;
}

ag_tensor *ag_max_pool2d(const ag_tensor *x, const ag_pool2d_opts *opts)
{
    AGI_HALF_VIA_F32(ag_max_pool2d(AGI_F32(x), opts), x);
    const char *op = "ag_max_pool2d";
    agi_pool_params p = {0};
    if (!check_x(op, x, &p) || !read_window(op, x, opts, true, &p)) return NULL;
    int64_t shape[4];
    out_shape(x, &p, shape);
    ag_device *dev = x->storage->dev;
    ag_tensor *xc = agi_f32_contiguous(op, x);
    ag_tensor *y = agi_tensor_new(op, dev, AG_F32, x->ndim, shape);
    ag_tensor *idx = agi_tensor_new(op, dev, AG_I32, x->ndim, shape);
    if (!xc || !y || !idx) goto fail;
    agi_kernel k = {.op = AGI_K_MAXPOOL2D};
    k.src[0] = view_nchw(xc, p.n, p.c, p.h, p.w);
    k.dst = view_nchw(y, p.n, p.c, p.oh, p.ow);
    k.dst2 = view_nchw(idx, p.n, p.c, p.oh, p.ow);
    k.p.pool = p;
    if (agi_exec(op, dev, &k) != AG_OK) goto fail;
    if (AGI_NEEDS_GRAD(x)) {
        agi_node *node =
            agi_node_reads_none(agi_node_new(op, max_pool_backward, 1, (const ag_tensor *[]){x}));
        if (node) {
            params_store(node, &p);
            agi_node_save(node, 0, idx);
        }
        y = agi_attach(y, node);
    }
    agi_discard(idx);
    agi_discard(xc);
    return y;
fail:
    agi_discard(idx);
    agi_discard(y);
    agi_discard(xc);
    return NULL;
}

/* ---- avg_pool2d and adaptive_avg_pool2d ---------------------------------------- */

static ag_status avg_pool_backward(agi_node *node, ag_tensor *grad, ag_tensor **grads)
{
    agi_pool_params p = params_load(node);
    const char *op = p.adaptive ? "ag_adaptive_avg_pool2d" : "ag_avg_pool2d";
    const ag_tensor *x = node->inputs[0];
    ag_tensor *dy = ag_contiguous(grad);
    if (!dy) return ag_last_status();
    ag_tensor *dx = agi_tensor_new(op, dy->storage->dev, AG_F32, x->ndim, x->shape);
    if (!dx) return ag_last_status();
    agi_kernel k = {.op = AGI_K_AVGPOOL2D_BWD};
    k.src[0] = view_nchw(dy, p.n, p.c, p.oh, p.ow);
    k.dst = view_nchw(dx, p.n, p.c, p.h, p.w);
    k.p.pool = p;
    if (agi_exec(op, dx->storage->dev, &k) != AG_OK) return ag_last_status();
    grads[0] = dx;
    return AG_OK;
}

static ag_tensor *avg_pool(const char *op, const ag_tensor *x, const agi_pool_params *p)
{
    int64_t shape[4];
    out_shape(x, p, shape);
    ag_device *dev = x->storage->dev;
    ag_tensor *xc = agi_f32_contiguous(op, x);
    ag_tensor *y = agi_tensor_new(op, dev, AG_F32, x->ndim, shape);
    if (!xc || !y) goto fail;
    agi_kernel k = {.op = AGI_K_AVGPOOL2D};
    k.src[0] = view_nchw(xc, p->n, p->c, p->h, p->w);
    k.dst = view_nchw(y, p->n, p->c, p->oh, p->ow);
    k.p.pool = *p;
    if (agi_exec(op, dev, &k) != AG_OK) goto fail;
    if (AGI_NEEDS_GRAD(x)) {
        agi_node *node =
            agi_node_reads_none(agi_node_new(op, avg_pool_backward, 1, (const ag_tensor *[]){x}));
        if (node) params_store(node, p);
        y = agi_attach(y, node);
    }
    agi_discard(xc);
    return y;
fail:
    agi_discard(y);
    agi_discard(xc);
    return NULL;
}

ag_tensor *ag_avg_pool2d(const ag_tensor *x, const ag_pool2d_opts *opts)
{
    AGI_HALF_VIA_F32(ag_avg_pool2d(AGI_F32(x), opts), x);
    const char *op = "ag_avg_pool2d";
    agi_pool_params p = {0};
    if (!check_x(op, x, &p) || !read_window(op, x, opts, false, &p)) return NULL;
    p.count_include_pad = !opts->exclude_pad;
    return avg_pool(op, x, &p);
}

ag_tensor *ag_adaptive_avg_pool2d(const ag_tensor *x, int64_t out_h, int64_t out_w)
{
    AGI_HALF_VIA_F32(ag_adaptive_avg_pool2d(AGI_F32(x), out_h, out_w), x);
    const char *op = "ag_adaptive_avg_pool2d";
    agi_pool_params p = {0};
    if (!check_x(op, x, &p)) return NULL;
    if (out_h < 1 || out_w < 1) {
        char a[192];
        agi_error(AG_ERR_INVALID, op, "output size must be positive, got %lldx%lld for input %s",
                  (long long)out_h, (long long)out_w, agi_fmt_shape(a, x->ndim, x->shape));
        return NULL;
    }
    p.oh = out_h, p.ow = out_w;
    p.adaptive = 1;
    p.kh = p.kw = p.sh = p.sw = p.dh = p.dw = 1; /* unused by adaptive windows */
    return avg_pool(op, x, &p);
}
