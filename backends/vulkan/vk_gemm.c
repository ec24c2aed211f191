/* backends/vulkan/vk_gemm.c — batched GEMM: C[b] = alpha A[b] B[b] + beta C[b].
 * CPU-type devices (lavapipe) use a register-blocked kernel without shared
 * memory (8x8 per invocation, vec4 loads where layout and alignment allow:
 * on lavapipe each storage-buffer load instruction is a per-lane loop, so
 * work per load matters most);
 * GPUs use, by product size (gpu_kernel): 128x128 tiles with 8x8 register
 * blocks (gemm_blocked.comp) for large products, shared-memory tiles of
 * 64x64 or 32x32 (gemm_tiled.comp) below, and a matrix-vector kernel
 * (gemv.comp) when N or M is 1.
 * Large f16 products take cooperative matrices where the device has them
 * (gemm_coop.comp; AG_VULKAN_COOPMAT=0 turns that off).
 * AG_VULKAN_GEMM=reg|tiled and AG_VULKAN_GEMM_TILE=32|64|128 override. Every
 * kernel also reads and writes f16 / bf16 directly (vk_gemm_native16). */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

typedef struct gemm_pc {
    uint32_t M, N, K, zbase;
    uint32_t aoff, sam, sak, sab;
    uint32_t boff, sbk, sbn, sbb;
    uint32_t coff, scm, scb;
    float alpha, beta;
} gemm_pc;

static bool fits32(int64_t x) { return x >= 0 && x <= (int64_t)UINT32_MAX; }

/* Dispatches over the batch in chunks the device's z limit allows. */
static ag_status run_batches(agi_backend_device *d, gemm_pc *pc, vk_dispatch *disp, int64_t batch)
{
    uint32_t zmax = d->props.limits.maxComputeWorkGroupCount[2];
    if (zmax > 65535) zmax = 65535;
    for (int64_t z0 = 0; z0 < batch; z0 += zmax) {
        pc->zbase = (uint32_t)z0;
        disp->groups[2] = (uint32_t)(batch - z0 < zmax ? batch - z0 : zmax);
        memcpy(disp->push, pc, sizeof *pc);
        disp->push_bytes = sizeof *pc;
        ag_status st = vk_dispatch_run(d, disp);
        if (st != AG_OK) return st;
    }
    return AG_OK;
}

/* The GPU kernel of a product: 128x128 tiles of 8x8 register blocks
 * (gemm_blocked) once they give every compute unit a workgroup (the count
 * from the driver where it reports one, else 64) and the device has the
 * shared memory; else 64x64 tiles, or 32x32 when 64x64 tiles would give
 * fewer workgroups than a large GPU has multiprocessors (skinny products):
 * on an H200, 1760x128x1760 0.20 -> 0.14 ms, 256^3 0.080 -> 0.035 ms; 1024^3
 * stays on 64 (0.18 vs 0.21). (gemm_tiled with 128x128 tiles spilled its
 * accumulators and was 10x slower there; gemm_blocked replaces it.)
 * AG_VULKAN_GEMM_TILE=32|64|128 overrides (128: gemm_blocked). */
enum { GEMM_TILED32 = 32, GEMM_TILED64 = 64, GEMM_BLOCKED128 = 128 };
#define GEMM_BLOCKED_SHARED_BYTES 16896u /* gemm_blocked.comp: 2 x 2 x 8 x 33 vec4 */

static uint32_t gpu_kernel(const agi_backend_device *d, int64_t M, int64_t N, int64_t batch)
{
    bool blocked_fits = d->props.limits.maxComputeSharedMemorySize >= GEMM_BLOCKED_SHARED_BYTES;
    const char *env = getenv("AG_VULKAN_GEMM_TILE");
    if (env && (!strcmp(env, "32") || !strcmp(env, "64"))) return (uint32_t)atoi(env);
    if (env && !strcmp(env, "128") && blocked_fits) return GEMM_BLOCKED128;
    int64_t groups128 = ((M + 127) / 128) * ((N + 127) / 128) * batch;
    int64_t units = d->compute_units ? d->compute_units : 64;
    if (blocked_fits && groups128 >= units) return GEMM_BLOCKED128;
    int64_t groups64 = ((M + 63) / 64) * ((N + 63) / 64) * batch;
    return groups64 < 128 ? GEMM_TILED32 : GEMM_TILED64;
}

/* f16 products on cooperative matrices (gemm_coop.comp, 64x64 tiles) where
 * the device has them (has_coopmat) and the product is big enough to fill
 * tensor-core tiles: results agree with the other kernels to f32 rounding of
 * the sums, not bit for bit (the hardware orders them). */
static bool coop_path(const agi_backend_device *d, ag_dtype dt, int64_t M, int64_t N, int64_t K, int64_t batch)
{
    return d->has_coopmat && dt == AG_F16 && M >= 16 && N >= 16 && K >= 16 &&
           M * N * K * batch >= ((int64_t)1 << 20);
}

/* GPU matrix-vector products (gemv.comp): out[i] = sum_k P[i, k] v[k] with
 * P = A, v = B's column when N == 1, or P = Bᵀ, v = A's row when M == 1. */
static ag_status gemv(agi_backend_device *d, gemm_pc *pc, vk_dispatch *disp, int64_t M, int64_t N,
                      int64_t K, int64_t batch, ag_dtype dt)
{
    gemm_pc t = *pc;
    if (N == 1) { /* P = A (binding 1), v = B (binding 2), out stride scm */
        t.sbk = pc->sbk;
    } else {      /* M == 1: P = Bᵀ at binding 1, v = A's row at binding 2 */
        t.M = (uint32_t)N;
        t.aoff = pc->boff, t.sam = pc->sbn, t.sak = pc->sbk, t.sab = pc->sbb;
        t.boff = pc->aoff, t.sbk = pc->sak, t.sbb = pc->sab;
        t.scm = 1; /* C row-major: consecutive n */
        vk_binding b1 = disp->bind[1];
        disp->bind[1] = disp->bind[2];
        disp->bind[2] = b1;
        M = N;
    }
    /* k contiguous (or neither): a workgroup per output; P column-major:
     * an invocation per output. */
    bool per_output_wg = !(t.sam == 1 && t.sak != 1);
    uint32_t wg = per_output_wg ? (K >= 2048 ? 256 : K >= 512 ? 128 : 64) : 64;
    wg = vk_wg(d, wg);
    while (wg & (wg - 1)) wg &= wg - 1; /* the tree needs a power of two */
    static const int half[2][2] = {{AGVK_SH_gemv_f16, AGVK_SH_gemv_bf16},
                                   {AGVK_SH_gemv_f16_s16, AGVK_SH_gemv_bf16_s16}};
    disp->shader = dt == AG_F32 ? AGVK_SH_gemv : half[d->has_s16][dt == AG_BF16];
    disp->spec[0] = wg;
    disp->spec[1] = per_output_wg ? 0 : 1;
    vk_grid(d, per_output_wg ? (uint64_t)M : ((uint64_t)M + wg - 1) / wg, disp->groups);
    return run_batches(d, &t, disp, batch);
}

/* Whether a product goes to the register-blocked kernel (CPU-type devices,
 * AG_VULKAN_GEMM=reg, devices without 256-invocation workgroups). */
static bool reg_path(const agi_backend_device *d)
{
    const char *mode = getenv("AG_VULKAN_GEMM");
    bool reg = d->is_cpu;
    if (mode && strcmp(mode, "reg") == 0) reg = true;
    if (mode && strcmp(mode, "tiled") == 0) reg = false;
    if (d->props.limits.maxComputeWorkGroupInvocations < 256) reg = true; /* tiles need 256 */
    return reg;
}

/* f16 / bf16 GEMMs run natively (converted in registers) on every kernel
 * (register-blocked, tiled, matrix-vector) when A, B and C share one 16-bit
 * dtype; mixed records are staged through f32 scratch (stage16.c), which
 * gives the same bits. */
bool vk_gemm_native16(const agi_backend_device *d, const agi_kernel *k)
{
    const agi_view *A = &k->src[0], *B = &k->src[1], *C = &k->dst;
    if (k->op != AGI_K_GEMM || (C->dtype != AG_F16 && C->dtype != AG_BF16)) return false;
    (void)d;
    return A->dtype == C->dtype && B->dtype == C->dtype && C->ndim == 3;
}

ag_status vk_gemm(agi_backend_device *d, const agi_kernel *k)
{
    const agi_view *A = &k->src[0], *B = &k->src[1], *C = &k->dst;
    bool half = vk_gemm_native16(d, k);
    if (!half && (A->dtype != AG_F32 || B->dtype != AG_F32 || C->dtype != AG_F32))
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: gemm: only f32 is supported");
    if (A->ndim != 3 || B->ndim != 3 || C->ndim != 3)
        return agi_set_error(AG_ERR_INVALID, "vulkan: gemm: views must have 3 dims");
    int64_t batch = C->shape[0], M = C->shape[1], N = C->shape[2], K = A->shape[2];
    if (A->shape[0] != batch || B->shape[0] != batch || A->shape[1] != M || B->shape[1] != K ||
        B->shape[2] != N)
        return agi_set_error(AG_ERR_INVALID, "vulkan: gemm: shapes do not match");
    if (C->strides[2] != 1 && N > 1)
        return agi_set_error(AG_ERR_INVALID, "vulkan: gemm: C must be row-major");
    if (!fits32(M) || !fits32(N) || !fits32(K) || !fits32(batch))
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: gemm too large");
    gemm_pc pc;
    memset(&pc, 0, sizeof pc);
    vk_dispatch disp;
    memset(&disp, 0, sizeof disp);
    ag_status st;
    if ((st = vk_bind_view(d, C, true, &disp.bind[0], &pc.coff)) != AG_OK) return st;
    if ((st = vk_bind_view(d, A, false, &disp.bind[1], &pc.aoff)) != AG_OK) return st;
    if ((st = vk_bind_view(d, B, false, &disp.bind[2], &pc.boff)) != AG_OK) return st;
    pc.M = (uint32_t)M;
    pc.N = (uint32_t)N;
    pc.K = (uint32_t)K;
    pc.sam = (uint32_t)A->strides[1];
    pc.sak = (uint32_t)A->strides[2];
    pc.sab = (uint32_t)A->strides[0];
    pc.sbk = (uint32_t)B->strides[1];
    pc.sbn = (uint32_t)B->strides[2];
    pc.sbb = (uint32_t)B->strides[0];
    pc.scm = (uint32_t)C->strides[1];
    pc.scb = (uint32_t)C->strides[0];
    pc.alpha = (float)k->p.s.f[0];
    pc.beta = (float)k->p.s.f[1];
    /* Size-1 dims: their strides never matter; make them harmless. */
    if (M == 1) pc.sam = 0;
    if (N == 1) pc.sbn = 0;
    if (K == 1) pc.sak = pc.sbk = 0;
    if (batch == 1) pc.sab = pc.sbb = pc.scb = 0;

    bool reg = reg_path(d);
    uint32_t gx, gy;
    if (reg) {
        /* Matrix-vector (N == 1, C a column): compute C^T = B^T A^T instead,
         * so the long dimension runs along the vectorized columns. */
        if (N == 1 && M > 1 && C->strides[1] == 1) {
            gemm_pc t = pc;
            t.M = 1;
            t.N = (uint32_t)M;
            t.aoff = pc.boff, t.sam = 0, t.sak = pc.sbk, t.sab = pc.sbb;
            t.boff = pc.aoff, t.sbk = pc.sak, t.sbn = pc.sam, t.sbb = pc.sab;
            t.scm = 0;
            pc = t;
            vk_binding b1 = disp.bind[1];
            disp.bind[1] = disp.bind[2];
            disp.bind[2] = b1;
            M = 1;
            N = pc.N;
        }
        /* 8x8 blocks per invocation: measured best on lavapipe (1024^3:
         * ~9 GFLOP per CPU-second vs ~4 for 4x4 blocks); fewer rows when M
         * is small. */
        const uint32_t rm = M >= 8 ? 8 : M >= 4 ? 4 : 1, rn4 = 2;
        /* vec4 loads need 16-byte aligned rows: offsets and strides % 4 == 0;
         * clamped vec4 blocks need the vector dimension % 4 == 0 (and >= 4). */
        bool al_a = pc.aoff % 4 == 0 && pc.sab % 4 == 0, al_b = pc.boff % 4 == 0 && pc.sbb % 4 == 0;
        uint32_t av = 0, bv = 0; /* 16-bit data: scalar loads */
        if (!half && al_a && pc.sak == 1 && pc.sam % 4 == 0 && K >= 4) av = 1;
        else if (!half && al_a && pc.sam == 1 && pc.sak % 4 == 0 && M % 4 == 0 && rm >= 4) av = 2;
        if (!half && al_b && pc.sbn == 1 && pc.sbk % 4 == 0 && N % 4 == 0) bv = 1;
        else if (!half && al_b && pc.sbk == 1 && pc.sbn % 4 == 0 && K >= 4) bv = 2;
        uint32_t wg = vk_wg(d, 16);
        static const int reg_half[2][2] = {{AGVK_SH_gemm_reg_f16, AGVK_SH_gemm_reg_bf16},
                                           {AGVK_SH_gemm_reg_f16_s16, AGVK_SH_gemm_reg_bf16_s16}};
        disp.shader = half ? reg_half[d->has_s16][C->dtype == AG_BF16] : AGVK_SH_gemm_reg;
        disp.spec[0] = wg;
        disp.spec[1] = av;
        disp.spec[2] = bv;
        disp.spec[3] = rm;
        disp.spec[4] = rn4;
        gx = (uint32_t)((((N + 4 * rn4 - 1) / (4 * rn4)) + wg - 1) / wg);
        gy = (uint32_t)((M + rm - 1) / rm);
    } else if (N == 1 || M == 1) {
        return gemv(d, &pc, &disp, M, N, K, batch, C->dtype);
    } else if (coop_path(d, half ? C->dtype : AG_F32, M, N, K, batch)) {
        disp.shader = AGVK_SH_gemm_coop_f16;
        disp.spec[0] = 4 * d->subgroup_size;
        gx = (uint32_t)((N + 63) / 64);
        gy = (uint32_t)((M + 63) / 64);
    } else {
        uint32_t ts = gpu_kernel(d, M, N, batch);
        static const int tiled_half[2][2] = {{AGVK_SH_gemm_tiled_f16, AGVK_SH_gemm_tiled_bf16},
                                             {AGVK_SH_gemm_tiled_f16_s16, AGVK_SH_gemm_tiled_bf16_s16}};
        static const int blocked_half[2][2] = {{AGVK_SH_gemm_blocked_f16, AGVK_SH_gemm_blocked_bf16},
                                               {AGVK_SH_gemm_blocked_f16_s16, AGVK_SH_gemm_blocked_bf16_s16}};
        if (ts == GEMM_BLOCKED128)
            disp.shader = half ? blocked_half[d->has_s16][C->dtype == AG_BF16] : AGVK_SH_gemm_blocked;
        else
            disp.shader = half ? tiled_half[d->has_s16][C->dtype == AG_BF16] : AGVK_SH_gemm_tiled;
        disp.spec[0] = 256;
        disp.spec[1] = ts;
        gx = (uint32_t)((N + ts - 1) / ts);
        gy = (uint32_t)((M + ts - 1) / ts);
    }
    const uint32_t *maxc = d->props.limits.maxComputeWorkGroupCount;
    if (gx > maxc[0] || gy > maxc[1])
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: gemm grid %ux%u exceeds device limits", gx, gy);
    disp.groups[0] = gx;
    disp.groups[1] = gy;
    return run_batches(d, &pc, &disp, batch);
}
