#version 450
//! variant gemm_coop_f16 -DHALF=1 -DS16
// f16 GEMM on cooperative matrices (VK_NV_cooperative_matrix: the tensor
// cores of NVIDIA GPUs). Taken only where the device reports the 16x16x16
// f16 x f16 + f32 subgroup configuration and the features below are on
// (vk_device.c: has_coopmat).
// A workgroup of 4 subgroups (spec 0 = 4 x the subgroup size) computes a
// 64x64 tile of C; subgroup (sm, sn) in a 2x2 grid owns 32x32 of it as 2x2
// f32 accumulator fragments of 16x16. K steps by 32: each step stages the
// A tile [64 x 32] and the B tile [32 x 64] in shared memory as f16 (loads
// along the operand's contiguous dim, any strides, zeros past the edges),
// then each subgroup multiplies its fragments twice (k 0..15, 16..31).
// The products of f16 values are exact in f32 and summed in f32, in an order
// the hardware chooses: results match the register-converting kernels to
// f32 rounding, not bit for bit. The accumulators go through shared memory
// to the bounded, strided C store of gemm_common.glsl (alpha, beta, one
// rounding to f16, round to nearest even).
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_16bit_storage : require
#extension GL_EXT_shader_explicit_arithmetic_types_float16 : require
#extension GL_NV_cooperative_matrix : require
#extension GL_KHR_memory_scope_semantics : require
#extension GL_KHR_shader_subgroup_basic : require
layout(local_size_x_id = 0) in;
#include "gemm_common.glsl"
layout(std430, binding = 1) readonly buffer A16 { float16_t a16[]; };
layout(std430, binding = 2) readonly buffer B16 { float16_t b16[]; };

const uint BT = 64u;        // tile of C: BT x BT
const uint TK = 32u;        // k per step
const uint SA = TK + 8u;    // shared row strides, in elements: multiples of
const uint SB = BT + 8u;    // 8 (16 bytes), as fragment loads want
const uint SC = BT + 4u;
shared float16_t sa[BT * SA];  // A tile, row-major [m][k]
shared float16_t sb[TK * SB];  // B tile, row-major [k][n]
shared float sc[BT * SC];      // C tile, row-major [m][n]

void main()
{
    uint t = gl_LocalInvocationID.x, nt_inv = gl_WorkGroupSize.x;
    uint sg = gl_SubgroupID; // 0..3
    uint sm = sg / 2u, sn = sg % 2u;
    uint nt = gl_WorkGroupID.x * BT, mt = gl_WorkGroupID.y * BT;
    uint z = gl_WorkGroupID.z + pc.zbase;
    uint M = pc.M, N = pc.N, K = pc.K;
    uint abase = pc.aoff + z * pc.sab, bbase = pc.boff + z * pc.sbb;
    bool a_rows = pc.sam == 1u, b_rows = pc.sbn == 1u;

    fcoopmatNV<32, gl_ScopeSubgroup, 16, 16> acc[2][2];
    for (uint i = 0u; i < 2u; i++)
        for (uint j = 0u; j < 2u; j++) acc[i][j] = fcoopmatNV<32, gl_ScopeSubgroup, 16, 16>(0.0);

    for (uint k0 = 0u; k0 < K; k0 += TK) {
        for (uint e = t; e < BT * TK; e += nt_inv) {
            uint r, kk;
            if (a_rows) { r = e % BT; kk = e / BT; } else { kk = e % TK; r = e / TK; }
            uint m = mt + r, k = k0 + kk;
            sa[r * SA + kk] = (m < M && k < K) ? a16[abase + m * pc.sam + k * pc.sak] : float16_t(0.0);
        }
        for (uint e = t; e < BT * TK; e += nt_inv) {
            uint r, kk;
            if (b_rows) { r = e % BT; kk = e / BT; } else { kk = e % TK; r = e / TK; }
            uint n = nt + r, k = k0 + kk;
            sb[kk * SB + r] = (n < N && k < K) ? b16[bbase + k * pc.sbk + n * pc.sbn] : float16_t(0.0);
        }
        barrier();
        for (uint ks = 0u; ks < TK; ks += 16u) {
            fcoopmatNV<16, gl_ScopeSubgroup, 16, 16> fa[2], fb[2];
            for (uint i = 0u; i < 2u; i++)
                coopMatLoadNV(fa[i], sa, (sm * 32u + i * 16u) * SA + ks, SA, false);
            for (uint j = 0u; j < 2u; j++)
                coopMatLoadNV(fb[j], sb, ks * SB + sn * 32u + j * 16u, SB, false);
            for (uint i = 0u; i < 2u; i++)
                for (uint j = 0u; j < 2u; j++) acc[i][j] = coopMatMulAddNV(fa[i], fb[j], acc[i][j]);
        }
        barrier();
    }

    for (uint i = 0u; i < 2u; i++)
        for (uint j = 0u; j < 2u; j++)
            coopMatStoreNV(acc[i][j], sc, (sm * 32u + i * 16u) * SC + sn * 32u + j * 16u, SC, false);
    barrier();
    uint cb = pc.coff + z * pc.scb;
    for (uint e = t; e < BT * BT; e += nt_inv) {
        uint r = e / BT, col = e % BT;
        uint m = mt + r, n = nt + col;
        if (m < M && n < N) store_c(cb + m * pc.scm + n, sc[r * SC + col]);
    }
}
