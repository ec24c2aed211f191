/* backends/vulkan/vk_ops.c — exec() dispatcher, supports(), view binding and
 * the elementwise kernels (fill, copy, unary, binary, where, rng). */
#include "vk_internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

uint32_t vk_wg(agi_backend_device *d, uint32_t want)
{
    uint32_t m = d->props.limits.maxComputeWorkGroupInvocations;
    if (d->props.limits.maxComputeWorkGroupSize[0] < m) m = d->props.limits.maxComputeWorkGroupSize[0];
    return want < m ? want : m;
}

ag_status vk_count(const agi_view *v, uint32_t *n)
{
    int64_t c = agi_view_numel(v);
    if (c < 0 || c > (int64_t)UINT32_MAX)
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %lld elements exceed a single dispatch", (long long)c);
    *n = (uint32_t)c;
    return AG_OK;
}

ag_status vk_bind_view(agi_backend_device *d, const agi_view *v, bool write, vk_binding *b, uint32_t *elem_off)
{
    if (!v->buf) return agi_set_error(AG_ERR_INVALID, "vulkan: kernel view has no buffer");
    size_t es = ag_dtype_size(v->dtype);
    if (es == 0) return agi_set_error(AG_ERR_INVALID, "vulkan: invalid dtype %d", (int)v->dtype);
    if (v->offset < 0) return agi_set_error(AG_ERR_INVALID, "vulkan: negative view offset");
    uint64_t hi = (uint64_t)v->offset;
    for (int i = 0; i < v->ndim; i++) {
        if (v->shape[i] <= 0 || v->strides[i] < 0)
            return agi_set_error(AG_ERR_INVALID, "vulkan: bad view geometry");
        hi += (uint64_t)(v->shape[i] - 1) * (uint64_t)v->strides[i];
    }
    uint64_t lo_b = (uint64_t)v->offset * es, hi_b = (hi + 1) * es;
    if (hi_b > v->buf->size) return agi_set_error(AG_ERR_INVALID, "vulkan: view exceeds its buffer");
    uint64_t base = v->buf->offset; /* aligned to d->align */
    uint64_t start = (base + lo_b) / d->align * d->align - base;
    uint64_t range = (hi_b - start + 3) / 4 * 4;
    if (start + range > v->buf->alloc) range = v->buf->alloc - start;
    if (range > d->props.limits.maxStorageBufferRange)
        return agi_set_error(AG_ERR_UNSUPPORTED,
                             "vulkan: a view spanning %llu bytes exceeds maxStorageBufferRange (%u)",
                             (unsigned long long)range, d->props.limits.maxStorageBufferRange);
    *b = (vk_binding){.buf = v->buf, .off = start, .range = range, .write = write};
    *elem_off = (uint32_t)((lo_b - start) / es);
    return AG_OK;
}

/* ---- Elementwise --------------------------------------------------------------- */

typedef struct ew_pc {
    uint32_t n, sh1, sh2, sh3;
    struct { uint32_t off, st[4]; } v[4];
    float f[4];
} ew_pc;

/* Runs `shader` over views[0..nv) (same shape; view i at binding i, view 0
 * written) with parameters f. Coalesces dims; ranks above 4 are split into
 * one dispatch per index of the leading dims. vec_ok: the shader has vec4
 * paths (every view 32-bit): 1 for all-contiguous aligned views, 2 also for
 * aligned rows of 4k elements with row-broadcast views. */
static ag_status ew_run_x(agi_backend_device *d, int shader, uint32_t op, const agi_view *in,
                          int nv, const float f[4], int vec_ok, const uint32_t *xspec,
                          const vk_binding *meta);

static ag_status ew_run(agi_backend_device *d, int shader, uint32_t op, const agi_view *in, int nv,
                        const float f[4], int vec_ok)
{
    return ew_run_x(d, shader, op, in, nv, f, vec_ok, NULL, NULL);
}

/* ew_run with specialization constants 4..15 (xspec) and a binding 4. */
static ag_status ew_run_x(agi_backend_device *d, int shader, uint32_t op, const agi_view *in,
                          int nv, const float f[4], int vec_ok, const uint32_t *xspec,
                          const vk_binding *meta)
{
    agi_view v[4];
    agi_view *pv[4];
    for (int i = 0; i < nv; i++) {
        v[i] = in[i];
        pv[i] = &v[i];
    }
    agi_views_coalesce(pv, nv);
    int64_t outer = agi_views_outer_count(&v[0], 4);
    for (int64_t o = 0; o < outer; o++) {
        agi_view s[4];
        agi_views_outer_slice(v, nv, 4, o, s);
        int inner_nd = s[0].ndim;
        ew_pc pc;
        memset(&pc, 0, sizeof pc);
        int64_t shape4[4] = {1, 1, 1, 1};
        for (int i = 0; i < inner_nd; i++) shape4[4 - inner_nd + i] = s[0].shape[i];
        uint32_t n = 0;
        ag_status st = vk_count(&s[0], &n);
        if (st != AG_OK) return st;
        pc.n = n;
        pc.sh1 = (uint32_t)shape4[1];
        pc.sh2 = (uint32_t)shape4[2];
        pc.sh3 = (uint32_t)shape4[3];
        vk_dispatch disp;
        memset(&disp, 0, sizeof disp);
        disp.shader = shader;
        for (int j = 0; j < nv; j++) {
            if ((st = vk_bind_view(d, &s[j], j == 0, &disp.bind[j], &pc.v[j].off)) != AG_OK) return st;
            for (int i = 0; i < inner_nd; i++) pc.v[j].st[4 - inner_nd + i] = (uint32_t)s[j].strides[i];
        }
        if (f) memcpy(pc.f, f, sizeof pc.f);
        /* vec4 mode: contiguous 32-bit views with 16-byte aligned starts */
        uint32_t vec = vec_ok && inner_nd <= 1;
        for (int j = 0; j < nv && vec; j++)
            vec = (inner_nd == 0 || s[j].strides[0] == 1) && pc.v[j].off % 4 == 0;
        if (!vec && vec_ok && inner_nd >= 2 && pc.sh3 % 4 == 0 && pc.v[0].st[3] == 1 && vec_ok >= 2) {
            /* rows of 4k elements: each view's rows contiguous and aligned,
             * or broadcast along the row */
            vec = 2;
            for (int j = 0; j < nv && vec; j++) {
                if (pc.v[j].st[3] == 0) continue;
                if (pc.v[j].st[3] != 1 || pc.v[j].off % 4) vec = 0;
                for (int i = 0; i < 3 && vec; i++)
                    if (pc.v[j].st[i] % 4) vec = 0;
            }
        }
        /* vec4 invocations: small workgroups on CPU-type devices (each
         * invocation is a loop there), full-size ones on GPUs */
        uint32_t wg = vk_wg(d, vec && d->is_cpu ? 64 : 256);
        uint64_t work = vec == 1 ? (uint64_t)(n >> 2) + 1 : vec == 2 ? (uint64_t)(n >> 2) : n;
        disp.spec[0] = wg;
        disp.spec[1] = (uint32_t)(inner_nd < 1 ? 1 : inner_nd);
        disp.spec[2] = op;
        disp.spec[3] = vec;
        if (xspec) memcpy(&disp.spec[4], xspec, (AGVK_NSPEC - 4) * sizeof *xspec);
        if (meta) disp.bind[4] = *meta;
        memcpy(disp.push, &pc, sizeof pc);
        disp.push_bytes = sizeof pc;
        vk_grid(d, (work + wg - 1) / wg, disp.groups);
        if ((st = vk_dispatch_run(d, &disp)) != AG_OK) return st;
    }
    return AG_OK;
}

static float bits_f(uint32_t u)
{
    float f;
    memcpy(&f, &u, 4);
    return f;
}

static ag_status unsupported(const agi_kernel *k, const char *why)
{
    return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s %s unsupported", agi_kernel_op_name(k->op), why);
}

static const char *dt(ag_dtype t) { return ag_dtype_name(t); }

static bool same_shape(const agi_view *a, const agi_view *b)
{
    if (a->ndim != b->ndim) return false;
    for (int i = 0; i < a->ndim; i++)
        if (a->shape[i] != b->shape[i]) return false;
    return true;
}

static ag_status ew_fill(agi_backend_device *d, const agi_kernel *k)
{
    double x = k->p.s.f[0];
    uint32_t bits;
    switch (k->dst.dtype) {
    case AG_F32: {
        float f = (float)x;
        memcpy(&bits, &f, 4);
        break;
    }
    case AG_F16:
    case AG_BF16: {
        /* the 16-bit pattern, written by the emulated 16-bit store */
        float f = (float)x;
        bits = k->dst.dtype == AG_F16 ? agi_f32_to_f16(f) : agi_f32_to_bf16(f);
        float fp[4] = {bits_f(bits), 0, 0, 0};
        return ew_run(d, d->has_s16 ? AGVK_SH_fill_16_s16 : AGVK_SH_fill_16, 0, &k->dst, 1, fp, 0);
    }
    case AG_I32:
    case AG_U8: {
        /* Integers convert like an f32 -> i32 copy of the value (out of
         * range: INT32_MIN, as on the CPU backend); u8 keeps the low 8 bits. */
        if (k->dst.dtype == AG_U8 && !d->has_u8) return unsupported(k, "u8 (no 8-bit storage on this device)");
        int32_t i = (x > -2147483649.0 && x < 2147483648.0) ? (int32_t)x : INT32_MIN;
        bits = k->dst.dtype == AG_U8 ? (uint32_t)i & 255u : (uint32_t)i;
        break;
    }
    default: return unsupported(k, "dtype");
    }
    float f[4] = {bits_f(bits), 0, 0, 0};
    return ew_run(d, k->dst.dtype == AG_U8 ? AGVK_SH_fill_8 : AGVK_SH_fill_32, 0, &k->dst, 1, f, k->dst.dtype != AG_U8 ? 1 : 0);
}

static ag_status ew_copy(agi_backend_device *d, const agi_kernel *k)
{
    ag_dtype s = k->src[0].dtype, t = k->dst.dtype;
    if (!same_shape(&k->dst, &k->src[0])) return agi_set_error(AG_ERR_INVALID, "vulkan: copy shapes differ");
    if ((s == AG_U8 || t == AG_U8) && !d->has_u8) return unsupported(k, "u8 (no 8-bit storage on this device)");
    /* [src][dst]; pairs with a 16-bit float are cast16.comp's */
    static const int names[AG_DTYPE_COUNT][AG_DTYPE_COUNT] = {
        [AG_F32] = {AGVK_SH_copy_x32_x32, AGVK_SH_copy_f32_i32, AGVK_SH_copy_f32_u8, AGVK_SH_copy_f32_f16, AGVK_SH_copy_f32_bf16},
        [AG_I32] = {AGVK_SH_copy_i32_f32, AGVK_SH_copy_x32_x32, AGVK_SH_copy_i32_u8, AGVK_SH_copy_i32_f16, AGVK_SH_copy_i32_bf16},
        [AG_U8] = {AGVK_SH_copy_u8_f32, AGVK_SH_copy_u8_i32, AGVK_SH_copy_u8_u8, AGVK_SH_copy_u8_f16, AGVK_SH_copy_u8_bf16},
        [AG_F16] = {AGVK_SH_copy_f16_f32, AGVK_SH_copy_f16_i32, AGVK_SH_copy_f16_u8, AGVK_SH_copy_f16_f16, AGVK_SH_copy_f16_bf16},
        [AG_BF16] = {AGVK_SH_copy_bf16_f32, AGVK_SH_copy_bf16_i32, AGVK_SH_copy_bf16_u8, AGVK_SH_copy_bf16_f16, AGVK_SH_copy_bf16_bf16},
    };
    /* the same with 16-bit storage (plain uint16_t loads and stores) */
    static const int names_s16[AG_DTYPE_COUNT][AG_DTYPE_COUNT] = {
        [AG_F32] = {[AG_F16] = AGVK_SH_copy_f32_f16_s16, [AG_BF16] = AGVK_SH_copy_f32_bf16_s16},
        [AG_I32] = {[AG_F16] = AGVK_SH_copy_i32_f16_s16, [AG_BF16] = AGVK_SH_copy_i32_bf16_s16},
        [AG_U8] = {[AG_F16] = AGVK_SH_copy_u8_f16_s16, [AG_BF16] = AGVK_SH_copy_u8_bf16_s16},
        [AG_F16] = {AGVK_SH_copy_f16_f32_s16, AGVK_SH_copy_f16_i32_s16, AGVK_SH_copy_f16_u8_s16,
                    AGVK_SH_copy_f16_f16_s16, AGVK_SH_copy_f16_bf16_s16},
        [AG_BF16] = {AGVK_SH_copy_bf16_f32_s16, AGVK_SH_copy_bf16_i32_s16, AGVK_SH_copy_bf16_u8_s16,
                     AGVK_SH_copy_bf16_f16_s16, AGVK_SH_copy_bf16_bf16_s16},
    };
    if (!agi_dtype_valid(s) || !agi_dtype_valid(t)) return unsupported(k, "dtype");
    agi_view v[2] = {k->dst, k->src[0]};
    if (d->has_s16 && (ag_dtype_size(s) == 2 || ag_dtype_size(t) == 2))
        return ew_run(d, names_s16[s][t], 0, v, 2, NULL, 0);
    bool x32 = s == t && ag_dtype_size(s) == 4;
    return ew_run(d, names[s][t], 0, v, 2, NULL, x32 ? 2 : 0);
}

static void params_f(const agi_kernel *k, float f[4])
{
    for (int i = 0; i < 4; i++) f[i] = (float)k->p.s.f[i];
}

static ag_status ew_unary(agi_backend_device *d, const agi_kernel *k)
{
    if (k->sub < 0 || k->sub >= AGI_U_COUNT) return unsupported(k, "sub-op");
    ag_dtype t = k->dst.dtype;
    if (k->src[0].dtype != t || !agi_dtype_is_float(t)) return unsupported(k, "dtypes");
    float f[4];
    params_f(k, f);
    agi_view v[2] = {k->dst, k->src[0]};
    if (t != AG_F32) /* 16-bit data, emulated (half_io.glsl): no vec4 paths */
        return ew_run(d, t == AG_F16 ? (d->has_s16 ? AGVK_SH_unary_f16_s16 : AGVK_SH_unary_f16)
                                     : (d->has_s16 ? AGVK_SH_unary_bf16_s16 : AGVK_SH_unary_bf16),
                      (uint32_t)k->sub, v, 2, f, 0);
    return ew_run(d, AGVK_SH_unary, (uint32_t)k->sub, v, 2, f, 2);
}


static ag_status ew_binary(agi_backend_device *d, const agi_kernel *k)
{
    int sub = k->sub;
    if (sub < 0 || sub >= AGI_B_COUNT) return unsupported(k, "sub-op");
    ag_dtype a = k->src[0].dtype, b = k->src[1].dtype, t = k->dst.dtype;
    int shader = -1;
    if (a != b) return unsupported(k, "mixed source dtypes");
    if (agi_binary_is_compare(sub)) {
        if (t != AG_U8 || (a != AG_F32 && a != AG_I32)) return unsupported(k, "comparison dtypes");
        if (!d->has_u8) return unsupported(k, "u8 (no 8-bit storage on this device)");
        shader = a == AG_F32 ? AGVK_SH_cmp_f32 : AGVK_SH_cmp_i32;
    } else if (a == AG_F32 && t == AG_F32) {
        shader = AGVK_SH_binary_f32;
    } else if ((a == AG_F16 || a == AG_BF16) && t == a) {
        shader = a == AG_F16 ? (d->has_s16 ? AGVK_SH_binary_f16_s16 : AGVK_SH_binary_f16)
                             : (d->has_s16 ? AGVK_SH_binary_bf16_s16 : AGVK_SH_binary_bf16);
    } else if (a == AG_I32 && t == AG_I32 && agi_binary_has_dtype(sub, AG_I32)) {
        shader = AGVK_SH_binary_i32;
    } else {
        char why[96];
        snprintf(why, sizeof why, "sub-op %d for %s -> %s", sub, dt(a), dt(t));
        return unsupported(k, why);
    }
    float f[4];
    params_f(k, f);
    agi_view v[3] = {k->dst, k->src[0], k->src[1]};
    return ew_run(d, shader, (uint32_t)sub, v, 3, f, agi_binary_is_compare(sub) || ag_dtype_size(a) == 2 ? 0 : 2);
}

static ag_status ew_where(agi_backend_device *d, const agi_kernel *k)
{
    if (k->src[0].dtype != AG_U8) return unsupported(k, "non-u8 condition");
    if (!d->has_u8) return unsupported(k, "u8 (no 8-bit storage on this device)");
    ag_dtype t = k->dst.dtype;
    if ((t != AG_F32 && t != AG_I32) || k->src[1].dtype != t || k->src[2].dtype != t)
        return unsupported(k, "dtypes");
    agi_view v[4] = {k->dst, k->src[0], k->src[1], k->src[2]};
    return ew_run(d, AGVK_SH_where, 0, v, 4, NULL, 0);
}

static ag_status ew_rng(agi_backend_device *d, const agi_kernel *k)
{
    if (k->dst.dtype != AG_F32) return unsupported(k, "non-f32 output");
    if (k->sub != AGI_RNG_UNIFORM && k->sub != AGI_RNG_NORMAL) return unsupported(k, "distribution");
    /* The shader takes the counter offset from the (unused) second view slot:
     * view rows start at position k = 0 row-major, so coalescing the single
     * dst view keeps the element order. Ranks > 4 are split by ew_run, which
     * would restart k: handle them by splitting here on a row-major basis. */
    agi_view v = k->dst;
    agi_view *pv = &v;
    agi_views_coalesce(&pv, 1);
    uint64_t seed = k->p.s.u[0], offset = k->p.s.u[1];
    /* dst2: seed and base offset on the device (graph replays); the
     * dispatches then carry offsets relative to it. */
    bool from_buf = k->dst2.buf != NULL;
    if (from_buf && (k->dst2.dtype != AG_I32 || !agi_view_is_contiguous(&k->dst2) || agi_view_numel(&k->dst2) != 4))
        return agi_set_error(AG_ERR_INVALID, "vulkan: rng: dst2 must be 4 contiguous i32");
    if (from_buf) offset = 0;
    float f[4] = {(float)k->p.s.f[0], (float)k->p.s.f[1], bits_f((uint32_t)seed), bits_f((uint32_t)(seed >> 32))};
    int64_t outer = agi_views_outer_count(&v, 4), inner = agi_view_numel(&v) / outer;
    for (int64_t o = 0; o < outer; o++) {
        agi_view s;
        agi_views_outer_slice(&v, 1, 4, o, &s);
        uint64_t c = offset + (uint64_t)o * (uint64_t)inner;
        /* ew_run with a fake second view carrying the counter. */
        ew_pc pc;
        memset(&pc, 0, sizeof pc);
        int64_t shape4[4] = {1, 1, 1, 1};
        for (int i = 0; i < s.ndim; i++) shape4[4 - s.ndim + i] = s.shape[i];
        uint32_t n = 0;
        ag_status st = vk_count(&s, &n);
        if (st != AG_OK) return st;
        pc.n = n;
        pc.sh1 = (uint32_t)shape4[1];
        pc.sh2 = (uint32_t)shape4[2];
        pc.sh3 = (uint32_t)shape4[3];
        vk_dispatch disp;
        memset(&disp, 0, sizeof disp);
        disp.shader = AGVK_SH_rng;
        if ((st = vk_bind_view(d, &s, true, &disp.bind[0], &pc.v[0].off)) != AG_OK) return st;
        if (from_buf && (st = vk_bind_view(d, &k->dst2, false, &disp.bind[1], &pc.v[2].off)) != AG_OK)
            return st;
        for (int i = 0; i < s.ndim; i++) pc.v[0].st[4 - s.ndim + i] = (uint32_t)s.strides[i];
        pc.v[1].off = (uint32_t)c;
        pc.v[1].st[0] = (uint32_t)(c >> 32);
        memcpy(pc.f, f, sizeof pc.f);
        uint32_t wg = vk_wg(d, 256);
        disp.spec[0] = wg;
        disp.spec[1] = (uint32_t)(s.ndim < 1 ? 1 : s.ndim);
        disp.spec[2] = (uint32_t)k->sub;
        disp.spec[4] = from_buf ? 1 : 0;
        memcpy(disp.push, &pc, sizeof pc);
        disp.push_bytes = sizeof pc;
        vk_grid(d, (n + wg - 1) / wg, disp.groups);
        if ((st = vk_dispatch_run(d, &disp)) != AG_OK) return st;
    }
    return AG_OK;
}

/* EW_FUSED (fused.comp): the chain's codes as specialization constants, its
 * parameters as metadata; pc.f[0] = 0 is the zero keep() XORs with. */
static ag_status ew_fused(agi_backend_device *d, const agi_kernel *k)
{
    const agi_fused_params *fp = &k->p.fused;
    agi_view v[1 + AG_FUSED_MAX_INPUTS];
    v[0] = k->dst;
    for (int i = 0; i < fp->nin; i++) v[1 + i] = k->src[i];
    uint32_t xspec[AGVK_NSPEC - 4] = {0};
    for (int j = 0; j < fp->n; j++) xspec[j] = fp->code[j];
    xspec[8] = (uint32_t)fp->n;
    xspec[9] = (uint32_t)fp->nin;
    vk_binding meta;
    ag_status st = vk_meta(d, fp->p, sizeof fp->p, &meta);
    if (st != AG_OK) return st;
    float f[4] = {0, 0, 0, 0};
    return ew_run_x(d, AGVK_SH_fused, 0, v, 1 + fp->nin, f, 0, xspec, &meta);
}

/* ---- Dispatcher ------------------------------------------------------------------- */

ag_status vk_exec(agi_backend_device *d, const agi_kernel *k)
{
    if (!k) return agi_set_error(AG_ERR_INVALID, "vulkan: NULL kernel");
    switch (k->op) {
    case AGI_K_FILL: return ew_fill(d, k);
    case AGI_K_COPY: return ew_copy(d, k);
    case AGI_K_UNARY: return ew_unary(d, k);
    case AGI_K_BINARY: return ew_binary(d, k);
    case AGI_K_WHERE: return ew_where(d, k);
    case AGI_K_RNG: return ew_rng(d, k);
    case AGI_K_REDUCE: return vk_reduce(d, k);
    case AGI_K_SOFTMAX:
    case AGI_K_SOFTMAX_BWD: return vk_softmax(d, k);
    case AGI_K_LAYER_NORM: return vk_layer_norm(d, k);
    case AGI_K_GEMM: return vk_gemm(d, k);
    case AGI_K_IM2COL:
    case AGI_K_COL2IM:
    case AGI_K_MAXPOOL2D:
    case AGI_K_MAXPOOL2D_BWD:
    case AGI_K_AVGPOOL2D:
    case AGI_K_AVGPOOL2D_BWD: return vk_conv(d, k);
    case AGI_K_GATHER:
    case AGI_K_SCATTER_ADD: return vk_index(d, k);
    case AGI_K_SGD:
    case AGI_K_ADAM:
    case AGI_K_RMSPROP: return vk_optim(d, k);
    case AGI_K_EW_FUSED: return ew_fused(d, k);
    default: return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: kernel op %d unsupported", (int)k->op);
    }
}

/* The vocabulary's contract, less what this device cannot store: u8 views
 * need 8-bit storage. */
bool vk_supports(agi_backend_device *d, const agi_kernel_sig *sig)
{
    if (!agi_kernel_sig_ok(sig)) return false;
    const ag_dtype t[5] = {sig->dst, sig->dst2, sig->src[0], sig->src[1], sig->src[2]};
    for (int i = 0; i < 5; i++)
        if (t[i] == AG_U8 && !d->has_u8) return false;
    return true;
}
