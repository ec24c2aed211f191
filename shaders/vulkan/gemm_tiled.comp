#version 450
//! variant gemm_tiled
//! variant gemm_tiled_f16 -DHALF=1
//! variant gemm_tiled_bf16 -DHALF=2
//! variant gemm_tiled_f16_s16 -DHALF=1 -DS16
//! variant gemm_tiled_bf16_s16 -DHALF=2 -DS16
// GEMM with shared-memory tiles (for GPUs): a workgroup of 16x16 invocations
// computes a TS x TS tile of C, each invocation an R x R block (R = TS/16;
// its rows and columns 16 apart, so shared-memory reads do not collide),
// stepping K by 16. Spec 1 = TS: 32 or 64 (the host picks: big tiles
// for big products, small ones when big tiles would leave the GPU idle).
// Any strides (scalar loads). Grid: x along n tiles, y along m tiles, z batch.
// HALF 1 / 2: f16 / bf16 A, B and C converted in registers (gemm_common.glsl);
// the f32 arithmetic and its order are the f32 kernel's, so the result is the
// f32 product of the same values rounded once.
#extension GL_GOOGLE_include_directive : require
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
layout(local_size_x = 256) in;
layout(constant_id = 1) const uint TS = 64u;
#include "gemm_common.glsl"

const uint TK = 16u;
const uint R = TS / 16u;
shared float sa[TK][TS + 1u];
shared float sb[TK][TS + 1u];

void main()
{
    uint t = gl_LocalInvocationID.x;
    uint tx = t % 16u, ty = t / 16u;
    uint nt = gl_WorkGroupID.x * TS, mt = gl_WorkGroupID.y * TS;
    uint z = gl_WorkGroupID.z + pc.zbase;
    uint M = pc.M, N = pc.N, K = pc.K;
    uint abase = pc.aoff + z * pc.sab, bbase = pc.boff + z * pc.sbb;
    float acc[R][R];
    for (uint i = 0u; i < R; i++)
        for (uint j = 0u; j < R; j++) acc[i][j] = 0.0;
    for (uint k0 = 0u; k0 < K; k0 += TK) {
        // load A tile [TS x TK] and B tile [TK x TS], TS*TK/256 elements per invocation,
        // consecutive invocations along the operand's contiguous dim
        for (uint e = t; e < TS * TK; e += 256u) {
            uint mm, kk;
            if (pc.sam == 1u) { mm = e % TS; kk = e / TS; } else { kk = e % TK; mm = e / TK; }
            uint m = mt + mm, k = k0 + kk;
            sa[kk][mm] = (m < M && k < K) ? LOAD_A(abase + m * pc.sam + k * pc.sak) : 0.0;
        }
        for (uint e = t; e < TK * TS; e += 256u) {
            uint nn, kk;
            if (pc.sbn == 1u) { nn = e % TS; kk = e / TS; } else { kk = e % TK; nn = e / TK; }
            uint n = nt + nn, k = k0 + kk;
            sb[kk][nn] = (n < N && k < K) ? LOAD_B(bbase + k * pc.sbk + n * pc.sbn) : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < TK; kk++) {
            float av[R], bv[R];
            for (uint i = 0u; i < R; i++) av[i] = sa[kk][ty + 16u * i];
            for (uint j = 0u; j < R; j++) bv[j] = sb[kk][tx + 16u * j];
            for (uint i = 0u; i < R; i++)
                for (uint j = 0u; j < R; j++) acc[i][j] += av[i] * bv[j];
        }
        barrier();
    }
    uint cb = pc.coff + z * pc.scb;
    for (uint i = 0u; i < R; i++) {
        uint m = mt + ty + 16u * i;
        if (m >= M) continue;
        for (uint j = 0u; j < R; j++) {
            uint n = nt + tx + 16u * j;
            if (n < N) store_c(cb + m * pc.scm + n, acc[i][j]);
        }
    }
}
