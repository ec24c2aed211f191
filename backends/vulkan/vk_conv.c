/* backends/vulkan/vk_conv.c — IM2COL, COL2IM, MAXPOOL2D(+indices) and its
 * backward, AVGPOOL2D (plain and adaptive) and its backward. All views are
 * contiguous [N, C, H, W]-style tensors; one invocation per output element. */
#include "vk_internal.h"

#include <string.h>

typedef struct conv_pc {
    uint32_t zbase;
    int32_t n, c, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
    int32_t ceil_mode, count_include_pad, adaptive;
    uint32_t doff, soff, ioff, d2off;
} conv_pc;

static bool fits(int64_t x) { return x >= 0 && x <= INT32_MAX; }

static ag_status check_view(const agi_kernel *k, const agi_view *v, ag_dtype dt, const char *what,
                            int64_t a, int64_t b, int64_t c, int64_t d)
{
    if (!v->buf || v->dtype != dt)
        return agi_set_error(v->buf && v->dtype != dt ? AG_ERR_UNSUPPORTED : AG_ERR_INVALID,
                             "vulkan: %s: %s must be a %s tensor", agi_kernel_op_name(k->op), what,
                             ag_dtype_name(dt));
    int64_t want[4] = {a, b, c, d};
    int64_t n = 1;
    for (int i = 0; i < v->ndim; i++) n *= v->shape[i];
    if (n != a * b * c * d || !agi_view_is_contiguous(v) || (v->ndim == 4 && (v->shape[0] != want[0] || v->shape[1] != want[1] || v->shape[2] != want[2] || v->shape[3] != want[3])))
        return agi_set_error(AG_ERR_INVALID, "vulkan: %s: %s must be contiguous [%lld, %lld, %lld, %lld]",
                             agi_kernel_op_name(k->op), what, (long long)a, (long long)b, (long long)c,
                             (long long)d);
    return AG_OK;
}

/* IM2COL and COL2IM whose two views share one 16-bit dtype run natively
 * (conv.comp under HALF); other 16-bit conv and pooling records are staged
 * through f32 scratch (stage16.c). */
bool vk_conv_native16(const agi_kernel *k)
{
    if (k->op != AGI_K_IM2COL && k->op != AGI_K_COL2IM) return false;
    ag_dtype t = k->dst.dtype;
    return (t == AG_F16 || t == AG_BF16) && k->src[0].dtype == t;
}

ag_status vk_conv(agi_backend_device *d, const agi_kernel *k)
{
    conv_pc pc;
    memset(&pc, 0, sizeof pc);
    vk_dispatch disp;
    memset(&disp, 0, sizeof disp);
    ag_status st;
    int64_t total, xw, yh, planes;
    bool conv = k->op == AGI_K_IM2COL || k->op == AGI_K_COL2IM;
    if (conv) {
        const agi_conv_params *p = &k->p.conv;
        int64_t vals[14] = {p->n, p->c, p->h, p->w, p->kh, p->kw, p->oh, p->ow, p->sh, p->sw, p->ph, p->pw, p->dh, p->dw};
        for (int i = 0; i < 14; i++)
            if (!fits(vals[i]) || (i != 10 && i != 11 && vals[i] < 1))
                return agi_set_error(AG_ERR_INVALID, "vulkan: %s: bad geometry", agi_kernel_op_name(k->op));
        int32_t *dst = &pc.n;
        for (int i = 0; i < 14; i++) dst[i] = (int32_t)vals[i];
        int64_t rows = p->c * p->kh * p->kw, L = p->oh * p->ow;
        ag_dtype dt = vk_conv_native16(k) ? k->dst.dtype : AG_F32;
        int h = dt == AG_F32 ? -1 : (int)d->has_s16 * 2 + (dt == AG_BF16); /* {f16, bf16, f16_s16, bf16_s16} */
        if (k->op == AGI_K_IM2COL) {
            static const int im2col16[4] = {AGVK_SH_im2col_f16, AGVK_SH_im2col_bf16, AGVK_SH_im2col_f16_s16,
                                            AGVK_SH_im2col_bf16_s16};
            if ((st = check_view(k, &k->src[0], dt, "x", p->n, p->c, p->h, p->w)) != AG_OK) return st;
            if ((st = check_view(k, &k->dst, dt, "cols", p->n, rows, L, 1)) != AG_OK) return st;
            total = p->n * p->c * L; /* one invocation per (n, c, output position) */
            xw = p->ow;
            yh = p->oh;
            disp.shader = h < 0 ? AGVK_SH_im2col : im2col16[h];
        } else {
            static const int col2im16[4] = {AGVK_SH_col2im_f16, AGVK_SH_col2im_bf16, AGVK_SH_col2im_f16_s16,
                                            AGVK_SH_col2im_bf16_s16};
            if ((st = check_view(k, &k->src[0], dt, "cols", p->n, rows, L, 1)) != AG_OK) return st;
            if ((st = check_view(k, &k->dst, dt, "x", p->n, p->c, p->h, p->w)) != AG_OK) return st;
            total = p->n * p->c * p->h * p->w;
            xw = p->w;
            yh = p->h;
            disp.shader = h < 0 ? AGVK_SH_col2im : col2im16[h];
        }
    } else {
        const agi_pool_params *p = &k->p.pool;
        bool adaptive = p->adaptive && (k->op == AGI_K_AVGPOOL2D || k->op == AGI_K_AVGPOOL2D_BWD);
        bool maxp = k->op == AGI_K_MAXPOOL2D || k->op == AGI_K_MAXPOOL2D_BWD;
        int64_t vals[14] = {p->n, p->c, p->h, p->w, p->kh, p->kw, p->oh, p->ow, p->sh, p->sw, p->ph, p->pw,
                            maxp ? p->dh : 1, maxp ? p->dw : 1};
        for (int i = 0; i < 14; i++) {
            bool need = i < 4 || i == 6 || i == 7 || (!adaptive && i != 10 && i != 11);
            if (!fits(vals[i]) || (need && vals[i] < 1))
                return agi_set_error(AG_ERR_INVALID, "vulkan: %s: bad geometry", agi_kernel_op_name(k->op));
        }
        int32_t *dst = &pc.n;
        for (int i = 0; i < 14; i++) dst[i] = (int32_t)vals[i];
        pc.ceil_mode = p->ceil_mode;
        pc.count_include_pad = p->count_include_pad;
        pc.adaptive = adaptive;
        int64_t N = p->n, C = p->c;
        switch (k->op) {
        case AGI_K_MAXPOOL2D:
            if ((st = check_view(k, &k->src[0], AG_F32, "x", N, C, p->h, p->w)) != AG_OK ||
                (st = check_view(k, &k->dst, AG_F32, "y", N, C, p->oh, p->ow)) != AG_OK ||
                (st = check_view(k, &k->dst2, AG_I32, "indices", N, C, p->oh, p->ow)) != AG_OK)
                return st;
            total = N * C * p->oh * p->ow;
            xw = p->ow;
            yh = p->oh;
            disp.shader = AGVK_SH_maxpool;
            break;
        case AGI_K_MAXPOOL2D_BWD:
            if ((st = check_view(k, &k->src[0], AG_F32, "dy", N, C, p->oh, p->ow)) != AG_OK ||
                (st = check_view(k, &k->src[1], AG_I32, "indices", N, C, p->oh, p->ow)) != AG_OK ||
                (st = check_view(k, &k->dst, AG_F32, "dx", N, C, p->h, p->w)) != AG_OK)
                return st;
            total = N * C * p->h * p->w;
            xw = p->w;
            yh = p->h;
            disp.shader = AGVK_SH_maxpool_bwd;
            /* Non-overlapping windows that each hold an image element (padding
             * at most half the window): zero dx, then one invocation per
             * output stores its gradient; far fewer memory accesses. */
            if ((p->kh - 1) * p->dh + 1 <= p->sh && (p->kw - 1) * p->dw + 1 <= p->sw &&
                2 * p->ph <= p->kh && 2 * p->pw <= p->kw) {
                agi_kernel z = {.op = AGI_K_FILL};
                z.dst = k->dst;
                if ((st = vk_exec(d, &z)) != AG_OK) return st;
                xw = p->ow;
                yh = p->oh;
                disp.shader = AGVK_SH_maxpool_bwd_scatter;
            }
            break;
        case AGI_K_AVGPOOL2D:
            if ((st = check_view(k, &k->src[0], AG_F32, "x", N, C, p->h, p->w)) != AG_OK ||
                (st = check_view(k, &k->dst, AG_F32, "y", N, C, p->oh, p->ow)) != AG_OK)
                return st;
            total = N * C * p->oh * p->ow;
            xw = p->ow;
            yh = p->oh;
            disp.shader = AGVK_SH_avgpool;
            break;
        default:
            if ((st = check_view(k, &k->src[0], AG_F32, "dy", N, C, p->oh, p->ow)) != AG_OK ||
                (st = check_view(k, &k->dst, AG_F32, "dx", N, C, p->h, p->w)) != AG_OK)
                return st;
            total = N * C * p->h * p->w;
            xw = p->w;
            yh = p->h;
            disp.shader = AGVK_SH_avgpool_bwd;
            break;
        }
    }
    if (!fits(total)) return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s too large", agi_kernel_op_name(k->op));
    planes = conv ? k->p.conv.n * k->p.conv.c : k->p.pool.n * k->p.pool.c;
    if (yh > (int64_t)d->props.limits.maxComputeWorkGroupCount[1])
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s: %lld rows exceed the device's grid",
                             agi_kernel_op_name(k->op), (long long)yh);
    if ((st = vk_bind_view(d, &k->dst, true, &disp.bind[0], &pc.doff)) != AG_OK) return st;
    if ((st = vk_bind_view(d, &k->src[0], false, &disp.bind[1], &pc.soff)) != AG_OK) return st;
    if (k->op == AGI_K_MAXPOOL2D_BWD && (st = vk_bind_view(d, &k->src[1], false, &disp.bind[2], &pc.ioff)) != AG_OK)
        return st;
    if (k->op == AGI_K_MAXPOOL2D && (st = vk_bind_view(d, &k->dst2, true, &disp.bind[3], &pc.d2off)) != AG_OK)
        return st;
    if (k->op == AGI_K_IM2COL && k->dst.dtype == AG_F32 && k->p.conv.ow % 4 == 0 && pc.doff % 4 == 0) {
        disp.spec[1] = 1; /* vec4 stores of 4 output columns */
        xw = k->p.conv.ow / 4;
    }
    uint32_t wg = 64;
    while (wg > 8 && (int64_t)wg / 2 >= xw) wg /= 2;
    wg = vk_wg(d, wg);
    disp.spec[0] = wg;
    uint32_t zmax = d->props.limits.maxComputeWorkGroupCount[2];
    if (zmax > 65535) zmax = 65535;
    for (int64_t z0 = 0; z0 < planes; z0 += zmax) {
        pc.zbase = (uint32_t)z0;
        disp.groups[0] = (uint32_t)((xw + wg - 1) / wg);
        disp.groups[1] = (uint32_t)yh;
        disp.groups[2] = (uint32_t)(planes - z0 < zmax ? planes - z0 : zmax);
        memcpy(disp.push, &pc, sizeof pc);
        disp.push_bytes = sizeof pc;
        if ((st = vk_dispatch_run(d, &disp)) != AG_OK) return st;
    }
    return AG_OK;
}
