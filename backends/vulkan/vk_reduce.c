/* backends/vulkan/vk_reduce.c — REDUCE (sum, max, min, argmax, argmin over
 * any set of dims) and row-wise SOFTMAX / LOG_SOFTMAX with their backward. */
#include "vk_internal.h"

#include <string.h>

typedef struct red_pc {
    uint32_t nout, rcount, soff, doff, chunks, clen;
    uint32_t ksize[4], ksrc[4], kdst[4];
    uint32_t rsize[4], rsrc[4];
} red_pc;

typedef struct red_geom {
    int nk, nr;
    int64_t ksize[AG_MAX_DIMS], ksrc[AG_MAX_DIMS], kdst[AG_MAX_DIMS];
    int64_t rsize[AG_MAX_DIMS], rsrc[AG_MAX_DIMS];
} red_geom;

/* Splits src's dims into kept and reduced groups, merging neighbours whose
 * strides allow it. */
static ag_status red_plan(const agi_view *x, const agi_view *y, red_geom *g)
{
    memset(g, 0, sizeof *g);
    for (int i = 0; i < x->ndim; i++) {
        if (x->shape[i] == 1) continue;
        if (y->shape[i] == x->shape[i]) {
            if (g->nk && g->ksrc[g->nk - 1] == x->strides[i] * x->shape[i] &&
                g->kdst[g->nk - 1] == y->strides[i] * x->shape[i]) {
                g->ksize[g->nk - 1] *= x->shape[i];
                g->ksrc[g->nk - 1] = x->strides[i];
                g->kdst[g->nk - 1] = y->strides[i];
            } else {
                g->ksize[g->nk] = x->shape[i];
                g->ksrc[g->nk] = x->strides[i];
                g->kdst[g->nk] = y->strides[i];
                g->nk++;
            }
        } else if (y->shape[i] == 1) {
            if (g->nr && g->rsrc[g->nr - 1] == x->strides[i] * x->shape[i]) {
                g->rsize[g->nr - 1] *= x->shape[i];
                g->rsrc[g->nr - 1] = x->strides[i];
            } else {
                g->rsize[g->nr] = x->shape[i];
                g->rsrc[g->nr] = x->strides[i];
                g->nr++;
            }
        } else {
            return agi_set_error(AG_ERR_INVALID, "vulkan: reduce: dst dim %d is %lld, src %lld", i,
                                 (long long)y->shape[i], (long long)x->shape[i]);
        }
    }
    if (g->nk == 0) {
        g->nk = 1;
        g->ksize[0] = 1;
    }
    if (g->nr == 0) {
        g->nr = 1;
        g->rsize[0] = 1;
    }
    return AG_OK;
}

/* REDUCE records over f16 / bf16 values (to the same dtype, or i32 indices)
 * run natively: the reduce kernels' 16-bit variants read the values and
 * round the result once; other 16-bit records are staged (stage16.c). */
bool vk_reduce_native16(const agi_kernel *k)
{
    if (k->op != AGI_K_REDUCE) return false;
    ag_dtype t = k->src[0].dtype;
    bool arg = k->sub == AGI_R_ARGMAX || k->sub == AGI_R_ARGMIN;
    return (t == AG_F16 || t == AG_BF16) && k->dst.dtype == (arg ? AG_I32 : t);
}

/* The reduce kernel `base` (0 wg, 1 wg_sg, 2 thread) for source dtype t. */
static int reduce_shader(const agi_backend_device *d, int base, ag_dtype t)
{
    static const int ids[3][5] = {
        {AGVK_SH_reduce_wg, AGVK_SH_reduce_wg_f16, AGVK_SH_reduce_wg_bf16, AGVK_SH_reduce_wg_f16_s16,
         AGVK_SH_reduce_wg_bf16_s16},
        {AGVK_SH_reduce_wg_sg, AGVK_SH_reduce_wg_sg_f16, AGVK_SH_reduce_wg_sg_bf16, AGVK_SH_reduce_wg_sg_f16_s16,
         AGVK_SH_reduce_wg_sg_bf16_s16},
        {AGVK_SH_reduce_thread, AGVK_SH_reduce_thread_f16, AGVK_SH_reduce_thread_bf16,
         AGVK_SH_reduce_thread_f16_s16, AGVK_SH_reduce_thread_bf16_s16},
    };
    if (t == AG_F32) return ids[base][0];
    return ids[base][(t == AG_BF16 ? 2 : 1) + (d->has_s16 ? 2 : 0)];
}

ag_status vk_reduce(agi_backend_device *d, const agi_kernel *k)
{
    int sub = k->sub;
    if (sub < 0 || sub >= AGI_R_COUNT)
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: reduce op %d unsupported", sub);
    bool arg = sub == AGI_R_ARGMAX || sub == AGI_R_ARGMIN;
    bool half = vk_reduce_native16(k);
    ag_dtype xt = half ? k->src[0].dtype : AG_F32; /* the values' dtype */
    if (!half && (k->src[0].dtype != AG_F32 || k->dst.dtype != (arg ? AG_I32 : AG_F32)))
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: reduce dtypes %s -> %s unsupported",
                             ag_dtype_name(k->src[0].dtype), ag_dtype_name(k->dst.dtype));
    if (k->src[0].ndim != k->dst.ndim)
        return agi_set_error(AG_ERR_INVALID, "vulkan: reduce: ranks differ");
    agi_view x = k->src[0];
    red_geom g;
    ag_status st = red_plan(&x, &k->dst, &g);
    if (st != AG_OK) return st;
    agi_buffer *tmp = NULL;
    if (g.nk > 4 || g.nr > 4) {
        /* Make the source contiguous: then at most 4 groups of each remain. */
        uint32_t n;
        if ((st = vk_count(&x, &n)) != AG_OK) return st;
        if ((st = vk_buffer_new(d, (size_t)n * (half ? 2 : 4), false, &tmp)) != AG_OK) return st;
        agi_kernel c = {.op = AGI_K_COPY};
        c.src[0] = x;
        c.dst = x;
        c.dst.buf = tmp;
        c.dst.offset = 0;
        agi_view tv = c.dst;
        int64_t s = 1;
        for (int i = x.ndim - 1; i >= 0; i--) {
            tv.strides[i] = s;
            s *= x.shape[i];
        }
        c.dst = tv;
        st = vk_exec(d, &c);
        x = tv;
        if (st == AG_OK) st = red_plan(&x, &k->dst, &g);
        if (st == AG_OK && (g.nk > 4 || g.nr > 4))
            st = agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: reduce over this destination layout unsupported");
        if (st != AG_OK) goto done;
    }
    red_pc pc;
    memset(&pc, 0, sizeof pc);
    int64_t nout = 1, rcount = 1;
    for (int i = 0; i < g.nk; i++) {
        nout *= g.ksize[i];
        pc.ksize[i] = (uint32_t)g.ksize[i];
        pc.ksrc[i] = (uint32_t)g.ksrc[i];
        pc.kdst[i] = (uint32_t)g.kdst[i];
    }
    for (int i = 0; i < g.nr; i++) {
        rcount *= g.rsize[i];
        pc.rsize[i] = (uint32_t)g.rsize[i];
        pc.rsrc[i] = (uint32_t)g.rsrc[i];
    }
    if (nout > UINT32_MAX || rcount > UINT32_MAX) {
        st = agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: reduce too large");
        goto done;
    }
    pc.nout = (uint32_t)nout;
    pc.rcount = (uint32_t)rcount;
    vk_dispatch disp;
    memset(&disp, 0, sizeof disp);
    if ((st = vk_bind_view(d, &k->dst, true, &disp.bind[0], &pc.doff)) != AG_OK) goto done;
    if ((st = vk_bind_view(d, &x, false, &disp.bind[1], &pc.soff)) != AG_OK) goto done;
    /* A workgroup per output (shared-memory tree) suits GPUs; on CPU-type
     * devices barriers are costly, so one invocation per output is used
     * unless there are too few outputs to keep the threads busy. On GPUs a
     * contiguous reduced run (row sums) always takes a workgroup per output:
     * one invocation per row would read with a row-sized stride across the
     * subgroup, a few percent of the memory bandwidth. */
    bool contiguous_run = pc.rsrc[g.nr - 1] == 1 && pc.rsize[g.nr - 1] >= 32;
    bool per_wg = d->is_cpu ? nout < 16 && rcount >= 256
                            : rcount >= 64 && ((nout < 4096 && rcount * 2 >= nout) || contiguous_run);
    /* Few outputs over many elements: split each output's range into chunks
     * reduced by separate workgroups, then combine the partials. */
    uint64_t chunks = 1, clen = (uint64_t)rcount;
    if (per_wg && rcount >= 32768 && nout < 64) {
        /* enough workgroups to fill the device: a few per CPU thread on
         * CPU-type devices, a few hundred on GPUs */
        uint64_t want = (d->is_cpu ? 16 : 512) / (uint64_t)nout;
        if (want < 2) want = 2;
        clen = ((uint64_t)rcount + want - 1) / want;
        if (clen < 8192) clen = 8192;
        clen = (clen + 3) & ~(uint64_t)3;
        chunks = ((uint64_t)rcount + clen - 1) / clen;
    }
    uint32_t wg = 256;
    while (wg > 32 && (int64_t)wg / 2 >= rcount) wg /= 2;
    /* subgroup arithmetic for SUM/MAX/MIN where the device has it */
    int wg_shader = reduce_shader(d, d->subgroup_arith && !arg ? 1 : 0, xt);
    /* 16-bit values: read by passes over the source, written by the last */
    disp.spec[6] = half;
    disp.spec[7] = half && !arg;
    /* vec4 loads: one contiguous reduced run, 16-byte aligned for every output */
    bool vec = g.nr == 1 && pc.rsrc[0] == 1 && pc.soff % 4 == 0;
    for (int i = 0; i < g.nk && vec; i++) vec = g.ksize[i] == 1 || pc.ksrc[i] % 4 == 0;
    disp.spec[5] = vec;
    if (chunks > 1) {
        agi_buffer *part = NULL, *pidx = NULL;
        size_t np = (size_t)(nout * chunks);
        st = vk_buffer_new(d, np * 4, false, &part);
        if (st == AG_OK) st = vk_buffer_new(d, np * 4, false, &pidx);
        if (st == AG_OK) {
            pc.chunks = (uint32_t)chunks;
            pc.clen = (uint32_t)clen;
            uint32_t doff = pc.doff;
            pc.doff = 0;
            disp.bind[0] = (vk_binding){.buf = part, .off = 0, .range = part->alloc, .write = true};
            disp.bind[3] = (vk_binding){.buf = pidx, .off = 0, .range = pidx->alloc, .write = true};
            disp.shader = wg_shader;
            disp.spec[0] = vk_wg(d, wg);
            disp.spec[1] = (uint32_t)g.nk;
            disp.spec[2] = (uint32_t)g.nr;
            disp.spec[3] = (uint32_t)sub;
            disp.spec[4] = 1;
            disp.spec[7] = 0; /* f32 partials */
            vk_grid(d, (uint64_t)np, disp.groups);
            memcpy(disp.push, &pc, sizeof pc);
            disp.push_bytes = sizeof pc;
            st = vk_dispatch_run(d, &disp);
            if (st == AG_OK) {
                /* combine: kept geometry unchanged (dst), source = partials */
                pc.doff = doff;
                pc.soff = 0;
                if ((st = vk_bind_view(d, &k->dst, true, &disp.bind[0], &pc.doff)) == AG_OK) {
                    disp.bind[1] = (vk_binding){.buf = part, .off = 0, .range = part->alloc, .write = false};
                    disp.bind[2] = (vk_binding){.buf = pidx, .off = 0, .range = pidx->alloc, .write = false};
                    disp.bind[3] = (vk_binding){0};
                    uint32_t tw = vk_wg(d, 64);
                    disp.shader = reduce_shader(d, 2, xt);
                    disp.spec[0] = tw;
                    disp.spec[4] = 2;
                    disp.spec[5] = 0;
                    disp.spec[6] = 0; /* reads the f32 partials */
                    disp.spec[7] = half && !arg;
                    vk_grid(d, ((uint64_t)nout + tw - 1) / tw, disp.groups);
                    memcpy(disp.push, &pc, sizeof pc);
                    st = vk_dispatch_run(d, &disp);
                }
            }
        }
        if (part) vk_buffer_release(d, part);
        if (pidx) vk_buffer_release(d, pidx);
        goto done;
    }
    if (per_wg) {
        wg = vk_wg(d, wg);
        disp.shader = wg_shader;
        disp.spec[5] = vec;
        vk_grid(d, (uint64_t)nout, disp.groups);
    } else {
        wg = vk_wg(d, 64);
        disp.shader = reduce_shader(d, 2, xt);
        vk_grid(d, ((uint64_t)nout + wg - 1) / wg, disp.groups);
    }
    disp.spec[0] = wg;
    disp.spec[1] = (uint32_t)g.nk;
    disp.spec[2] = (uint32_t)g.nr;
    disp.spec[3] = (uint32_t)sub;
    memcpy(disp.push, &pc, sizeof pc);
    disp.push_bytes = sizeof pc;
    st = vk_dispatch_run(d, &disp);
done:
    if (tmp) vk_buffer_release(d, tmp);
    return st;
}

typedef struct sm_pc {
    uint32_t rows, n, doff, xoff, goff;
} sm_pc;

/* The shader id of a row kernel: f32, or its f16 / bf16 variant with 16-bit
 * storage or packed words. ids: {f32, f16, bf16, f16_s16, bf16_s16}. */
static int row_shader(const agi_backend_device *d, ag_dtype t, const int ids[5])
{
    if (t == AG_F32) return ids[0];
    return ids[(t == AG_BF16 ? 2 : 1) + (d->has_s16 ? 2 : 0)];
}

ag_status vk_softmax(agi_backend_device *d, const agi_kernel *k)
{
    bool bwd = k->op == AGI_K_SOFTMAX_BWD;
    if (k->sub != AGI_SOFTMAX && k->sub != AGI_LOG_SOFTMAX)
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: softmax kind %d unsupported", k->sub);
    const agi_view *v[3] = {&k->dst, &k->src[0], bwd ? &k->src[1] : NULL};
    for (int i = 0; i < 3; i++) {
        if (!v[i]) continue;
        if (v[i]->dtype != AG_F32 && !(agi_rownorm_half(k) != AG_F32))
            return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s: non-f32 data unsupported",
                                 agi_kernel_op_name(k->op));
        if (v[i]->ndim != 2 || !agi_view_is_contiguous(v[i]) || v[i]->shape[0] != k->dst.shape[0] ||
            v[i]->shape[1] != k->dst.shape[1])
            return agi_set_error(AG_ERR_INVALID, "vulkan: %s: views must be contiguous [rows, n]",
                                 agi_kernel_op_name(k->op));
    }
    sm_pc pc;
    memset(&pc, 0, sizeof pc);
    int64_t rows = k->dst.shape[0], n = k->dst.shape[1];
    if (rows > UINT32_MAX || n > UINT32_MAX) return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: softmax too large");
    pc.rows = (uint32_t)rows;
    pc.n = (uint32_t)n;
    vk_dispatch disp;
    memset(&disp, 0, sizeof disp);
    ag_status st;
    if ((st = vk_bind_view(d, &k->dst, true, &disp.bind[0], &pc.doff)) != AG_OK) return st;
    if ((st = vk_bind_view(d, &k->src[0], false, &disp.bind[1], &pc.xoff)) != AG_OK) return st;
    if (bwd && (st = vk_bind_view(d, &k->src[1], false, &disp.bind[2], &pc.goff)) != AG_OK) return st;
    uint32_t wg = 256;
    while (wg > 8 && (int64_t)wg / 2 >= n) wg /= 2;
    if (d->subgroup_arith) {
        /* CPU-type devices: one subgroup per row, no barriers at all */
        uint32_t sg = d->subgroup_size;
        if (d->is_cpu || wg < sg) wg = sg;
        static const int fwd_sg[5] = {AGVK_SH_softmax_fwd_sg, AGVK_SH_softmax_fwd_sg_f16,
                                      AGVK_SH_softmax_fwd_sg_bf16, AGVK_SH_softmax_fwd_sg_f16_s16,
                                      AGVK_SH_softmax_fwd_sg_bf16_s16};
        static const int bwd_sg[5] = {AGVK_SH_softmax_bwd_sg, AGVK_SH_softmax_bwd_sg_f16,
                                      AGVK_SH_softmax_bwd_sg_bf16, AGVK_SH_softmax_bwd_sg_f16_s16,
                                      AGVK_SH_softmax_bwd_sg_bf16_s16};
        disp.shader = row_shader(d, k->dst.dtype, bwd ? bwd_sg : fwd_sg);
    } else {
        static const int fwd[5] = {AGVK_SH_softmax_fwd, AGVK_SH_softmax_fwd_f16, AGVK_SH_softmax_fwd_bf16,
                                   AGVK_SH_softmax_fwd_f16_s16, AGVK_SH_softmax_fwd_bf16_s16};
        static const int bwdv[5] = {AGVK_SH_softmax_bwd, AGVK_SH_softmax_bwd_f16, AGVK_SH_softmax_bwd_bf16,
                                    AGVK_SH_softmax_bwd_f16_s16, AGVK_SH_softmax_bwd_bf16_s16};
        disp.shader = row_shader(d, k->dst.dtype, bwd ? bwdv : fwd);
    }
    disp.spec[0] = vk_wg(d, wg);
    disp.spec[1] = (uint32_t)k->sub;
    vk_grid(d, (uint64_t)rows, disp.groups);
    memcpy(disp.push, &pc, sizeof pc);
    disp.push_bytes = sizeof pc;
    return vk_dispatch_run(d, &disp);
}

typedef struct ln_pc {
    uint32_t rows, n, yoff, xoff, woff, boff, soff;
    float eps;
} ln_pc;

/* A contiguous f32 view of exactly `n` elements (weights, bias, stats). */
static bool flat_ok(const agi_view *v, int64_t n)
{
    return v->dtype == AG_F32 && agi_view_is_contiguous(v) && agi_view_numel(v) == n;
}

ag_status vk_layer_norm(agi_backend_device *d, const agi_kernel *k)
{
    const agi_view *y = &k->dst, *x = &k->src[0];
    bool half = (agi_rownorm_half(k) != AG_F32);
    if (!half && (y->dtype != AG_F32 || x->dtype != AG_F32))
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: layer_norm: non-f32 data unsupported");
    if (y->ndim != 2 || x->ndim != 2 || !agi_view_is_contiguous(y) || !agi_view_is_contiguous(x) ||
        x->shape[0] != y->shape[0] || x->shape[1] != y->shape[1])
        return agi_set_error(AG_ERR_INVALID, "vulkan: layer_norm: x and y must be contiguous [rows, n]");
    int64_t rows = y->shape[0], n = y->shape[1];
    if (!half && ((k->src[1].buf && !flat_ok(&k->src[1], n)) || (k->src[2].buf && !flat_ok(&k->src[2], n)) ||
                  (k->dst2.buf && !flat_ok(&k->dst2, 2 * rows))))
        return agi_set_error(AG_ERR_INVALID,
                             "vulkan: layer_norm: weight and bias must be contiguous f32 [n], stats [rows, 2]");
    if (!(k->p.s.f[0] >= 0.0))
        return agi_set_error(AG_ERR_INVALID, "vulkan: layer_norm: eps %g must be >= 0", k->p.s.f[0]);
    if (rows > UINT32_MAX || n > UINT32_MAX)
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: layer_norm too large");
    ln_pc pc = {.rows = (uint32_t)rows, .n = (uint32_t)n, .eps = (float)k->p.s.f[0]};
    vk_dispatch disp;
    memset(&disp, 0, sizeof disp);
    ag_status st;
    if ((st = vk_bind_view(d, y, true, &disp.bind[0], &pc.yoff)) != AG_OK) return st;
    if ((st = vk_bind_view(d, x, false, &disp.bind[1], &pc.xoff)) != AG_OK) return st;
    if (k->src[1].buf && (st = vk_bind_view(d, &k->src[1], false, &disp.bind[2], &pc.woff)) != AG_OK)
        return st;
    if (k->src[2].buf && (st = vk_bind_view(d, &k->src[2], false, &disp.bind[3], &pc.boff)) != AG_OK)
        return st;
    if (k->dst2.buf && (st = vk_bind_view(d, &k->dst2, true, &disp.bind[4], &pc.soff)) != AG_OK)
        return st;
    /* as softmax: a workgroup per row, one subgroup on CPU-type devices */
    uint32_t wg = 256;
    while (wg > 8 && (int64_t)wg / 2 >= n) wg /= 2;
    if (d->subgroup_arith) {
        uint32_t sg = d->subgroup_size;
        if (d->is_cpu || wg < sg) wg = sg;
        static const int sg_ids[5] = {AGVK_SH_layer_norm_sg, AGVK_SH_layer_norm_sg_f16,
                                      AGVK_SH_layer_norm_sg_bf16, AGVK_SH_layer_norm_sg_f16_s16,
                                      AGVK_SH_layer_norm_sg_bf16_s16};
        disp.shader = row_shader(d, y->dtype, sg_ids);
    } else {
        static const int ids[5] = {AGVK_SH_layer_norm, AGVK_SH_layer_norm_f16, AGVK_SH_layer_norm_bf16,
                                   AGVK_SH_layer_norm_f16_s16, AGVK_SH_layer_norm_bf16_s16};
        disp.shader = row_shader(d, y->dtype, ids);
    }
    disp.spec[0] = vk_wg(d, wg);
    disp.spec[1] = k->src[1].buf != NULL;
    disp.spec[2] = k->src[2].buf != NULL;
    disp.spec[3] = k->dst2.buf != NULL;
    vk_grid(d, (uint64_t)rows, disp.groups);
    memcpy(disp.push, &pc, sizeof pc);
    disp.push_bytes = sizeof pc;
    return vk_dispatch_run(d, &disp);
}
