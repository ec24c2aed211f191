#version 450
//! variant gemm_reg
//! variant gemm_reg_f16 -DHALF=1
//! variant gemm_reg_bf16 -DHALF=2
//! variant gemm_reg_f16_s16 -DHALF=1 -DS16
//! variant gemm_reg_bf16_s16 -DHALF=2 -DS16
// GEMM, register blocked without shared memory (for CPU-type devices such as
// lavapipe, where every storage-buffer load instruction is costly and a vec4
// load costs little more than a scalar one): each invocation computes an
// RM x (4*RN4) block of C, stepping k by 4.
// Spec 1 (AV): A loads 0 scalar, 1 vec4 along k (row-major A, 16-byte
// aligned rows), 2 vec4 along m (transposed A, M % (RM) == 0 not required:
// rows are clamped, so it needs M % 4 == 0). Spec 2 (BV): 0 scalar, 1 vec4
// along n (row-major B, N % 4 == 0), 2 vec4 along k (transposed B, aligned).
// Spec 3 = RM (4 or 8), spec 4 = RN4 (1 or 2).
// Workgroup: (spec 0) invocations along n; grid y along m, z batch.
// HALF 1 / 2: f16 / bf16 A, B and C converted in registers (scalar loads
// only: AV = BV = 0), with the f32 variant's arithmetic in the same order.
#extension GL_GOOGLE_include_directive : require
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common.glsl"
#include "gemm_common.glsl"
layout(constant_id = 1) const int AV = 0;
layout(constant_id = 2) const int BV = 0;
layout(constant_id = 3) const int RM = 4;
layout(constant_id = 4) const int RN4 = 1;
const int RN = 4 * RN4;

void main()
{
    uint n0 = gl_GlobalInvocationID.x * uint(RN);
    uint m0 = gl_GlobalInvocationID.y * uint(RM);
    uint z = gl_GlobalInvocationID.z + pc.zbase;
    if (n0 >= pc.N || m0 >= pc.M) return;
    uint M = pc.M, N = pc.N, K = pc.K;
    uint abase = pc.aoff + z * pc.sab, bbase = pc.boff + z * pc.sbb;
    uint mr[RM], nc[RN];
    for (int i = 0; i < RM; i++) mr[i] = min(m0 + uint(i), M - 1u);
    for (int j = 0; j < RN; j++) nc[j] = min(n0 + uint(j), N - 1u);
    vec4 acc[RM][RN4];
    for (int i = 0; i < RM; i++)
        for (int jb = 0; jb < RN4; jb++) acc[i][jb] = vec4(0.0);
    uint k = 0u;
    uint K4 = K & ~3u;
    for (; k < K4; k += 4u) {
        vec4 ar[RM]; // ar[i] = A[m0+i][k..k+3]
#if HALF == 0
        if (AV == 1) {
            for (int i = 0; i < RM; i++) ar[i] = a4[(abase + mr[i] * pc.sam + k) >> 2];
        } else if (AV == 2) {
            for (int mb = 0; mb < RM / 4; mb++) {
                uint mq = min(m0 + uint(4 * mb), M - 4u);
                vec4 col[4]; // col[kk] = A[mq..mq+3][k+kk]
                for (int kk = 0; kk < 4; kk++) col[kk] = a4[(abase + (k + uint(kk)) * pc.sak + mq) >> 2];
                for (int ii = 0; ii < 4; ii++)
                    ar[4 * mb + ii] = vec4(col[0][ii], col[1][ii], col[2][ii], col[3][ii]);
            }
        } else
#endif
        {
            for (int i = 0; i < RM; i++) {
                uint r = abase + mr[i] * pc.sam + k * pc.sak;
                ar[i] = vec4(LOAD_A(r), LOAD_A(r + pc.sak), LOAD_A(r + 2u * pc.sak), LOAD_A(r + 3u * pc.sak));
            }
        }
        vec4 br[4][RN4]; // br[kk][jb] = B[k+kk][n0+4jb .. n0+4jb+3]
#if HALF == 0
        if (BV == 1) {
            for (int kk = 0; kk < 4; kk++)
                for (int jb = 0; jb < RN4; jb++) {
                    uint nq = min(n0 + uint(4 * jb), N - 4u);
                    br[kk][jb] = b4[(bbase + (k + uint(kk)) * pc.sbk + nq) >> 2];
                }
        } else if (BV == 2) {
            for (int jb = 0; jb < RN4; jb++) {
                vec4 col[4]; // col[jj] = B[k..k+3][n0+4jb+jj]
                for (int jj = 0; jj < 4; jj++) col[jj] = b4[(bbase + nc[4 * jb + jj] * pc.sbn + k) >> 2];
                for (int kk = 0; kk < 4; kk++) br[kk][jb] = vec4(col[0][kk], col[1][kk], col[2][kk], col[3][kk]);
            }
        } else
#endif
        {
            for (int kk = 0; kk < 4; kk++) {
                uint r = bbase + (k + uint(kk)) * pc.sbk;
                for (int jb = 0; jb < RN4; jb++)
                    br[kk][jb] = vec4(LOAD_B(r + nc[4 * jb] * pc.sbn), LOAD_B(r + nc[4 * jb + 1] * pc.sbn),
                                      LOAD_B(r + nc[4 * jb + 2] * pc.sbn), LOAD_B(r + nc[4 * jb + 3] * pc.sbn));
            }
        }
        for (int i = 0; i < RM; i++)
            for (int jb = 0; jb < RN4; jb++)
                acc[i][jb] += ar[i].x * br[0][jb] + ar[i].y * br[1][jb] + ar[i].z * br[2][jb] + ar[i].w * br[3][jb];
    }
    for (; k < K; k++) {
        uint rb = bbase + k * pc.sbk;
        for (int jb = 0; jb < RN4; jb++) {
            vec4 bv = vec4(LOAD_B(rb + nc[4 * jb] * pc.sbn), LOAD_B(rb + nc[4 * jb + 1] * pc.sbn),
                           LOAD_B(rb + nc[4 * jb + 2] * pc.sbn), LOAD_B(rb + nc[4 * jb + 3] * pc.sbn));
            for (int i = 0; i < RM; i++) acc[i][jb] += LOAD_A(abase + mr[i] * pc.sam + k * pc.sak) * bv;
        }
    }
    uint cb = pc.coff + z * pc.scb;
    for (int i = 0; i < RM; i++) {
        uint m = m0 + uint(i);
        if (m >= M) break;
        for (int j = 0; j < RN; j++) {
            uint n = n0 + uint(j);
            if (n < N) store_c(cb + m * pc.scm + n, acc[i][j / 4][j % 4]);
        }
    }
}
