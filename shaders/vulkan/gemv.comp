#version 450
//! variant gemv
//! variant gemv_f16 -DHALF=1
//! variant gemv_bf16 -DHALF=2
//! variant gemv_f16_s16 -DHALF=1 -DS16
//! variant gemv_bf16_s16 -DHALF=2 -DS16
// Matrix-vector products for GPUs (GEMM records with N == 1 or M == 1, which
// a 64x64-tile GEMM would compute with 63/64 of its work thrown away). The
// host maps either case onto one form, per batch entry z:
//   out[i] = alpha * sum_k P[i*sam + k*sak] * v[k*sbk] + beta * out[i],
//   P at binding 1 (aoff, batch stride sab), v at binding 2 (boff, sbb),
//   out = c[coff + z*scb + i*scm], i < M.
// Spec 1 = MODE. 0: a workgroup per output, its invocations striding along k
// (coalesced when sak == 1), then a shared-memory tree; the grid's x and y
// count outputs. 1: an invocation per output looping over k (coalesced when
// sam == 1, P column-major). Workgroup size (spec 0) is a power of two.
// HALF 1 / 2: f16 / bf16 P, v and out converted in registers
// (gemm_common.glsl), with the f32 variant's arithmetic in the same order.
#extension GL_GOOGLE_include_directive : require
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
layout(local_size_x_id = 0) in;
layout(constant_id = 1) const int MODE = 0;
#include "gemm_common.glsl"

shared float part[256]; // workgroup size <= 256

void main()
{
    uint t = gl_LocalInvocationID.x, wg = gl_WorkGroupSize.x;
    uint z = gl_WorkGroupID.z + pc.zbase;
    uint pbase = pc.aoff + z * pc.sab, vbase = pc.boff + z * pc.sbb;
    uint group = gl_WorkGroupID.x + gl_WorkGroupID.y * gl_NumWorkGroups.x;
    if (MODE == 0) {
        uint i = group;
        if (i >= pc.M) return; // the whole workgroup leaves together
        uint row = pbase + i * pc.sam;
        float s = 0.0;
        for (uint k = t; k < pc.K; k += wg) s += LOAD_A(row + k * pc.sak) * LOAD_B(vbase + k * pc.sbk);
        part[t] = s;
        barrier();
        for (uint h = wg / 2u; h > 0u; h >>= 1) {
            if (t < h) part[t] += part[t + h];
            barrier();
        }
        if (t == 0u) store_c(pc.coff + z * pc.scb + i * pc.scm, part[0]);
    } else {
        uint i = group * wg + t;
        if (i >= pc.M) return;
        uint col = pbase + i * pc.sam;
        float s = 0.0;
        for (uint k = 0u; k < pc.K; k++) s += LOAD_A(col + k * pc.sak) * LOAD_B(vbase + k * pc.sbk);
        store_c(pc.coff + z * pc.scb + i * pc.scm, s);
    }
}
