#version 450
// GEMM with shared-memory tiles (for GPUs): a workgroup of 16x16 invocations
// computes a 64x64 tile of C, each invocation a 4x4 block, stepping K by 16.
// Any strides (scalar loads). Grid: x along n tiles, y along m tiles, z batch.
#extension GL_GOOGLE_include_directive : require
layout(local_size_x = 256) in;
#include "gemm_common.glsl"

const uint TM = 64u, TN = 64u, TK = 16u;
shared float sa[TK][TM + 1u];
shared float sb[TK][TN + 1u];

void main()
{
    uint t = gl_LocalInvocationID.x;
    uint tx = t % 16u, ty = t / 16u;
    uint nt = gl_WorkGroupID.x * TN, mt = gl_WorkGroupID.y * TM;
    uint z = gl_WorkGroupID.z + pc.zbase;
    uint M = pc.M, N = pc.N, K = pc.K;
    uint abase = pc.aoff + z * pc.sab, bbase = pc.boff + z * pc.sbb;
    float acc[4][4];
    for (int i = 0; i < 4; i++)
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0;
    for (uint k0 = 0u; k0 < K; k0 += TK) {
        // load A tile [TM x TK] and B tile [TK x TN]: 1024 elements each, 4 per invocation
        for (uint e = t; e < TM * TK; e += 256u) {
            uint mm, kk;
            if (pc.sam == 1u) { mm = e % TM; kk = e / TM; } else { kk = e % TK; mm = e / TK; }
            uint m = mt + mm, k = k0 + kk;
            sa[kk][mm] = (m < M && k < K) ? a[abase + m * pc.sam + k * pc.sak] : 0.0;
        }
        for (uint e = t; e < TK * TN; e += 256u) {
            uint nn, kk;
            if (pc.sbn == 1u) { nn = e % TN; kk = e / TN; } else { kk = e % TK; nn = e / TK; }
            uint n = nt + nn, k = k0 + kk;
            sb[kk][nn] = (n < N && k < K) ? b[bbase + k * pc.sbk + n * pc.sbn] : 0.0;
        }
        barrier();
        for (uint kk = 0u; kk < TK; kk++) {
            float av[4], bv[4];
            for (int i = 0; i < 4; i++) av[i] = sa[kk][ty + 16u * uint(i)];
            for (int j = 0; j < 4; j++) bv[j] = sb[kk][tx + 16u * uint(j)];
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) acc[i][j] += av[i] * bv[j];
        }
        barrier();
    }
    uint cb = pc.coff + z * pc.scb;
    for (int i = 0; i < 4; i++) {
        uint m = mt + ty + 16u * uint(i);
        if (m >= M) continue;
        for (int j = 0; j < 4; j++) {
            uint n = nt + tx + 16u * uint(j);
            if (n < N) store_c(cb + m * pc.scm + n, acc[i][j]);
        }
    }
}
