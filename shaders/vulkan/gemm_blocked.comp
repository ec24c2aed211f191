#version 450
//! variant gemm_blocked
//! variant gemm_blocked_f16 -DHALF=1
//! variant gemm_blocked_bf16 -DHALF=2
//! variant gemm_blocked_f16_s16 -DHALF=1 -DS16
//! variant gemm_blocked_bf16_s16 -DHALF=2 -DS16
// GEMM for large products on GPUs: a workgroup of 16x16 invocations computes
// a 128x128 tile of C, each invocation an 8x8 block held in registers (sizes
// are compile-time constants, so the accumulators never spill). Its rows are
// ty*4 + {0..3} and 64 + ty*4 + {0..3}, its columns likewise with tx, so one
// k step reads four vec4 from shared memory for 64 multiply-adds, and the
// 16 invocations of a row of the workgroup read 16 consecutive vec4.
// K steps by 8 through two shared-memory buffers: the next tile's global
// loads are issued into registers before the current tile is used and stored
// to the other buffer after it, so one barrier per step suffices.
// Shared rows are 33 vec4 long (132 floats): a k-major store of a row-major
// operand then hits 32 different banks. 16,896 bytes of shared memory in all
// (the host checks maxComputeSharedMemorySize).
// Any strides (scalar global loads, consecutive invocations along the
// operand's contiguous dimension). Grid: x along n tiles, y along m tiles,
// z batch. Each C element accumulates k in order, as gemm_tiled does.
// HALF 1 / 2: f16 / bf16 A, B and C converted in registers (gemm_common.glsl).
#extension GL_GOOGLE_include_directive : require
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
layout(local_size_x = 256) in;
#include "gemm_common.glsl"

const uint BT = 128u;          // tile of C: BT x BT
const uint TK = 8u;            // k per step
const uint ROW4 = BT / 4u + 1u; // vec4 per shared row, padded
const uint LOADS = BT * TK / 256u; // elements of each operand per invocation and step

shared vec4 sa[2][TK][ROW4]; // sa[buf][k][m / 4][m % 4]
shared vec4 sb[2][TK][ROW4]; // sb[buf][k][n / 4][n % 4]

// Element e (0 .. BT*TK-1) of a step's operand tile: (row along m or n, k),
// with consecutive e along the operand's contiguous dimension.
void tile_pos(uint e, bool along_rows, out uint r, out uint kk)
{
    if (along_rows) { r = e % BT; kk = e / BT; } else { kk = e % TK; r = e / TK; }
}

void main()
{
    uint t = gl_LocalInvocationID.x;
    uint tx = t % 16u, ty = t / 16u;
    uint nt = gl_WorkGroupID.x * BT, mt = gl_WorkGroupID.y * BT;
    uint z = gl_WorkGroupID.z + pc.zbase;
    uint M = pc.M, N = pc.N, K = pc.K;
    uint abase = pc.aoff + z * pc.sab, bbase = pc.boff + z * pc.sbb;
    bool a_rows = pc.sam == 1u, b_rows = pc.sbn == 1u;

    vec4 acc[8][2]; // acc[i][h]: row (i < 4 ? ty*4+i : 64+ty*4+i-4), columns h*64 + tx*4 + 0..3
    for (uint i = 0u; i < 8u; i++) acc[i][0] = acc[i][1] = vec4(0.0);
    float ra[LOADS], rb[LOADS]; // the next step's elements, in flight

    uint steps = (K + TK - 1u) / TK;
    // step 0 straight to buffer 0
    for (uint l = 0u; l < LOADS; l++) {
        uint r, kk;
        tile_pos(t + 256u * l, a_rows, r, kk);
        uint m = mt + r;
        ra[l] = (m < M && kk < K) ? LOAD_A(abase + m * pc.sam + kk * pc.sak) : 0.0;
        tile_pos(t + 256u * l, b_rows, r, kk);
        uint n = nt + r;
        rb[l] = (n < N && kk < K) ? LOAD_B(bbase + kk * pc.sbk + n * pc.sbn) : 0.0;
    }
    for (uint l = 0u; l < LOADS; l++) {
        uint r, kk;
        tile_pos(t + 256u * l, a_rows, r, kk);
        sa[0][kk][r / 4u][r % 4u] = ra[l];
        tile_pos(t + 256u * l, b_rows, r, kk);
        sb[0][kk][r / 4u][r % 4u] = rb[l];
    }
    barrier();

    for (uint s = 0u; s < steps; s++) {
        uint cur = s & 1u;
        bool more = s + 1u < steps;
        if (more) {
            uint k0 = (s + 1u) * TK;
            for (uint l = 0u; l < LOADS; l++) {
                uint r, kk;
                tile_pos(t + 256u * l, a_rows, r, kk);
                uint m = mt + r, k = k0 + kk;
                ra[l] = (m < M && k < K) ? LOAD_A(abase + m * pc.sam + k * pc.sak) : 0.0;
                tile_pos(t + 256u * l, b_rows, r, kk);
                uint n = nt + r;
                k = k0 + kk;
                rb[l] = (n < N && k < K) ? LOAD_B(bbase + k * pc.sbk + n * pc.sbn) : 0.0;
            }
        }
        for (uint kk = 0u; kk < TK; kk++) {
            vec4 a0 = sa[cur][kk][ty], a1 = sa[cur][kk][16u + ty];
            vec4 b0 = sb[cur][kk][tx], b1 = sb[cur][kk][16u + tx];
            for (uint i = 0u; i < 4u; i++) {
                acc[i][0] += a0[i] * b0;
                acc[i][1] += a0[i] * b1;
                acc[4u + i][0] += a1[i] * b0;
                acc[4u + i][1] += a1[i] * b1;
            }
        }
        if (more) {
            for (uint l = 0u; l < LOADS; l++) {
                uint r, kk;
                tile_pos(t + 256u * l, a_rows, r, kk);
                sa[cur ^ 1u][kk][r / 4u][r % 4u] = ra[l];
                tile_pos(t + 256u * l, b_rows, r, kk);
                sb[cur ^ 1u][kk][r / 4u][r % 4u] = rb[l];
            }
        }
        barrier();
    }

    uint cb = pc.coff + z * pc.scb;
    for (uint i = 0u; i < 8u; i++) {
        uint m = mt + (i < 4u ? ty * 4u + i : 64u + ty * 4u + (i - 4u));
        if (m >= M) continue;
        for (uint h = 0u; h < 2u; h++) {
            uint n0 = nt + h * 64u + tx * 4u;
            for (uint j = 0u; j < 4u; j++)
                if (n0 + j < N) store_c(cb + m * pc.scm + n0 + j, acc[i][h][j]);
        }
    }
}
