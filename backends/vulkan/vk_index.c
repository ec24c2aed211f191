/* backends/vulkan/vk_index.c — GATHER, SCATTER_ADD (float atomics when the
 * device has them and determinism is off, otherwise an ordered per-destination
 * loop) and the fused optimizer updates. */
#include "vk_internal.h"

#include <string.h>

typedef struct idx_meta {
    uint32_t nd, dim, total, dimsize;
    uint32_t loop, doff, ioff, soff;
    uint32_t shape[8], lim[8];
    uint32_t sd[8], si[8], ss[8];
    uint32_t eoff, ecode; /* the error word (binding 3); ecode 0: none */
} idx_meta;

static bool fits(int64_t x) { return x >= 0 && x <= (int64_t)UINT32_MAX; }

ag_status vk_index(agi_backend_device *d, const agi_kernel *k)
{
    const agi_view *dst = &k->dst, *src = &k->src[0], *ix = &k->src[1];
    bool gather = k->op == AGI_K_GATHER;
    const char *kn = agi_kernel_op_name(k->op);
    if (ix->dtype != AG_I32) return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s: index must be i32", kn);
    if (gather ? (dst->dtype != src->dtype || (dst->dtype != AG_F32 && dst->dtype != AG_I32))
               : (dst->dtype != AG_F32 || src->dtype != AG_F32))
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s: dtypes %s <- %s unsupported", kn,
                             ag_dtype_name(dst->dtype), ag_dtype_name(src->dtype));
    int nd = dst->ndim;
    int64_t dim = k->p.s.i[0];
    if (src->ndim != nd || ix->ndim != nd || dim < 0 || dim >= (nd ? nd : 1) || nd > 8)
        return agi_set_error(AG_ERR_INVALID, "vulkan: %s: bad ranks or dim", kn);
    /* index has dst's shape (gather) or src's shape (scatter) */
    const agi_view *ishape = gather ? dst : src;
    for (int i = 0; i < nd; i++)
        if (ix->shape[i] != ishape->shape[i] ||
            (gather && i != dim && src->shape[i] != dst->shape[i]))
            return agi_set_error(AG_ERR_INVALID, "vulkan: %s: shapes do not match", kn);
    idx_meta m;
    memset(&m, 0, sizeof m);
    m.nd = (uint32_t)nd;
    m.dim = (uint32_t)dim;
    bool atomic = !gather && d->has_fatomic && !k->deterministic;
    const agi_view *iter = atomic ? src : dst;
    int64_t total = agi_view_numel(iter);
    if (!fits(total)) return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s too large", kn);
    m.total = (uint32_t)total;
    for (int i = 0; i < nd; i++) {
        m.shape[i] = (uint32_t)iter->shape[i];
        m.lim[i] = (uint32_t)(atomic ? dst->shape[i] : src->shape[i]);
        m.sd[i] = (uint32_t)dst->strides[i];
        m.si[i] = (uint32_t)ix->strides[i];
        m.ss[i] = (uint32_t)src->strides[i];
    }
    if (nd == 0) {
        m.nd = 1;
        m.shape[0] = m.lim[0] = 1;
    }
    m.dimsize = (uint32_t)(gather ? src->shape[dim] : dst->shape[dim]);
    m.loop = (uint32_t)src->shape[dim];
    if (nd == 0) m.dimsize = m.loop = 1;
    vk_dispatch disp;
    memset(&disp, 0, sizeof disp);
    ag_status st;
    if ((st = vk_bind_view(d, dst, true, &disp.bind[0], &m.doff)) != AG_OK) return st;
    if ((st = vk_bind_view(d, src, false, &disp.bind[1], &m.soff)) != AG_OK) return st;
    if ((st = vk_bind_view(d, ix, false, &disp.bind[2], &m.ioff)) != AG_OK) return st;
    if (k->err) { /* binding 3 stays the dummy buffer (never written) without one */
        agi_view ev = {.buf = k->err, .dtype = AG_I32, .ndim = 0};
        if ((st = vk_bind_view(d, &ev, true, &disp.bind[3], &m.eoff)) != AG_OK) return st;
        m.ecode = (uint32_t)k->err_code;
    }
    if ((st = vk_meta(d, &m, sizeof m, &disp.bind[4])) != AG_OK) return st;
    disp.shader = gather ? AGVK_SH_gather : atomic ? AGVK_SH_scatter_atomic : AGVK_SH_scatter_loop;
    uint32_t wg = vk_wg(d, 256);
    disp.spec[0] = wg;
    vk_grid(d, (m.total + wg - 1) / wg, disp.groups);
    return vk_dispatch_run(d, &disp);
}

typedef struct optim_pc {
    uint32_t n, op, o1, o2, o3;
    float lr, wd, momentum, dampening, beta1, beta2, eps, bias1, bias2;
    int32_t nesterov, first_step, decoupled;
    uint32_t oh;
    int32_t hyper;
} optim_pc;

ag_status vk_optim(agi_backend_device *d, const agi_kernel *k)
{
    const char *kn = agi_kernel_op_name(k->op);
    const agi_optim_params *p = &k->p.optim;
    bool need1 = k->op != AGI_K_SGD || p->momentum != 0.0f;
    bool need2 = k->op == AGI_K_ADAM || (k->op == AGI_K_RMSPROP && p->momentum != 0.0f);
    const agi_view *v[4] = {&k->dst, &k->src[0], need1 ? &k->src[1] : NULL, need2 ? &k->src[2] : NULL};
    int64_t n = agi_view_numel(&k->dst);
    for (int i = 0; i < 4; i++) {
        if (!v[i]) continue;
        if (!v[i]->buf) return agi_set_error(AG_ERR_INVALID, "vulkan: %s: missing buffer %d", kn, i);
        if (v[i]->dtype != AG_F32) return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s: f32 only", kn);
        if (!agi_view_is_contiguous(v[i]) || agi_view_numel(v[i]) != n)
            return agi_set_error(AG_ERR_INVALID, "vulkan: %s: views must be contiguous and equal in size", kn);
    }
    if (!fits(n)) return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s too large", kn);
    optim_pc pc = {
        .n = (uint32_t)n,
        .lr = p->lr, .wd = p->weight_decay, .momentum = p->momentum, .dampening = p->dampening,
        .beta1 = p->beta1, .beta2 = p->beta2, .eps = p->eps, .bias1 = p->bias1, .bias2 = p->bias2,
        .nesterov = p->nesterov, .first_step = p->first_step, .decoupled = p->decoupled,
    };
    vk_dispatch disp;
    memset(&disp, 0, sizeof disp);
    uint32_t *offs[4] = {&pc.op, &pc.o1, &pc.o2, &pc.o3};
    ag_status st;
    for (int i = 0; i < 4; i++)
        if (v[i] && (st = vk_bind_view(d, v[i], i != 1, &disp.bind[i], offs[i])) != AG_OK) return st;
    if (k->dst2.buf) { /* the step's parameters, read on the device */
        if (k->dst2.dtype != AG_F32 || !agi_view_is_contiguous(&k->dst2) || agi_view_numel(&k->dst2) != 4)
            return agi_set_error(AG_ERR_INVALID, "vulkan: %s: dst2 must be 4 contiguous f32", kn);
        if ((st = vk_bind_view(d, &k->dst2, false, &disp.bind[4], &pc.oh)) != AG_OK) return st;
        pc.hyper = 1;
    }
    disp.shader = AGVK_SH_optim;
    uint32_t wg = vk_wg(d, 256);
    disp.spec[0] = wg;
    disp.spec[2] = k->op == AGI_K_SGD ? 0 : k->op == AGI_K_ADAM ? 1 : 2;
    vk_grid(d, (pc.n + wg - 1) / wg, disp.groups);
    memcpy(disp.push, &pc, sizeof pc);
    disp.push_bytes = sizeof pc;
    return vk_dispatch_run(d, &disp);
}
