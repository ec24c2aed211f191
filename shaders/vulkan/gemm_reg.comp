#version 450
// GEMM, register blocked without shared memory (for CPU-type devices): each
// invocation computes a 4x4 block of C. Spec 1 (AV): A loads 0 scalar,
// 1 vec4 along k (row-major A, aligned), 2 vec4 along m (transposed A,
// M % 4 == 0). Spec 2 (BV): 0 scalar, 1 vec4 along n (row-major B,
// N % 4 == 0), 2 vec4 along k (transposed B, aligned).
// Workgroup: (spec 0) x 1 invocations along n; grid y along m, z batch.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "gemm_common.glsl"
layout(constant_id = 1) const int AV = 0;
layout(constant_id = 2) const int BV = 0;

void main()
{
    uint n0 = gl_GlobalInvocationID.x * 4u;
    uint m0 = gl_GlobalInvocationID.y * 4u;
    uint z = gl_GlobalInvocationID.z + pc.zbase;
    if (n0 >= pc.N || m0 >= pc.M) return;
    uint M = pc.M, N = pc.N, K = pc.K;
    uint abase = pc.aoff + z * pc.sab, bbase = pc.boff + z * pc.sbb;
    // clamped row / column indices for partial blocks
    uint mr[4], nc[4];
    for (int i = 0; i < 4; i++) {
        mr[i] = min(m0 + uint(i), M - 1u);
        nc[i] = min(n0 + uint(i), N - 1u);
    }
    vec4 acc[4] = vec4[4](vec4(0.0), vec4(0.0), vec4(0.0), vec4(0.0));
    uint k = 0u;
    uint K4 = (AV == 1 || BV == 2) ? K & ~3u : K & ~3u;
    for (; k < K4; k += 4u) {
        vec4 ar[4]; // ar[i] = A[m0+i][k..k+3]
        if (AV == 1) {
            for (int i = 0; i < 4; i++) ar[i] = a4[(abase + mr[i] * pc.sam + k) >> 2];
        } else if (AV == 2) {
            vec4 col[4]; // col[kk] = A[m0..m0+3][k+kk]
            for (int kk = 0; kk < 4; kk++) col[kk] = a4[(abase + (k + uint(kk)) * pc.sak + m0) >> 2];
            for (int i = 0; i < 4; i++) ar[i] = vec4(col[0][i], col[1][i], col[2][i], col[3][i]);
        } else {
            for (int i = 0; i < 4; i++) {
                uint r = abase + mr[i] * pc.sam + k * pc.sak;
                ar[i] = vec4(a[r], a[r + pc.sak], a[r + 2u * pc.sak], a[r + 3u * pc.sak]);
            }
        }
        vec4 br[4]; // br[kk] = B[k+kk][n0..n0+3]
        if (BV == 1) {
            for (int kk = 0; kk < 4; kk++) br[kk] = b4[(bbase + (k + uint(kk)) * pc.sbk + n0) >> 2];
        } else if (BV == 2) {
            vec4 col[4]; // col[j] = B[k..k+3][n0+j]
            for (int j = 0; j < 4; j++) col[j] = b4[(bbase + nc[j] * pc.sbn + k) >> 2];
            for (int kk = 0; kk < 4; kk++) br[kk] = vec4(col[0][kk], col[1][kk], col[2][kk], col[3][kk]);
        } else {
            for (int kk = 0; kk < 4; kk++) {
                uint r = bbase + (k + uint(kk)) * pc.sbk;
                br[kk] = vec4(b[r + nc[0] * pc.sbn], b[r + nc[1] * pc.sbn], b[r + nc[2] * pc.sbn], b[r + nc[3] * pc.sbn]);
            }
        }
        for (int i = 0; i < 4; i++)
            acc[i] += ar[i].x * br[0] + ar[i].y * br[1] + ar[i].z * br[2] + ar[i].w * br[3];
    }
    for (; k < K; k++) {
        uint rb = bbase + k * pc.sbk;
        vec4 br = vec4(b[rb + nc[0] * pc.sbn], b[rb + nc[1] * pc.sbn], b[rb + nc[2] * pc.sbn], b[rb + nc[3] * pc.sbn]);
        for (int i = 0; i < 4; i++) acc[i] += a[abase + mr[i] * pc.sam + k * pc.sak] * br;
    }
    uint cb = pc.coff + z * pc.scb;
    for (int i = 0; i < 4; i++) {
        uint m = m0 + uint(i);
        if (m >= M) break;
        for (int j = 0; j < 4; j++) {
            uint n = n0 + uint(j);
            if (n < N) store_c(cb + m * pc.scm + n, acc[i][j]);
        }
    }
}
