#version 450
//! variant reduce_wg -DPER_WG=1
//! variant reduce_wg_sg -DPER_WG=1 -DSUBGROUP
//! variant reduce_thread -DPER_WG=0
//! variant reduce_wg_f16 -DPER_WG=1 -DHALF=1
//! variant reduce_wg_bf16 -DPER_WG=1 -DHALF=2
//! variant reduce_wg_f16_s16 -DPER_WG=1 -DHALF=1 -DS16
//! variant reduce_wg_bf16_s16 -DPER_WG=1 -DHALF=2 -DS16
//! variant reduce_wg_sg_f16 -DPER_WG=1 -DSUBGROUP -DHALF=1
//! variant reduce_wg_sg_bf16 -DPER_WG=1 -DSUBGROUP -DHALF=2
//! variant reduce_wg_sg_f16_s16 -DPER_WG=1 -DSUBGROUP -DHALF=1 -DS16
//! variant reduce_wg_sg_bf16_s16 -DPER_WG=1 -DSUBGROUP -DHALF=2 -DS16
//! variant reduce_thread_f16 -DPER_WG=0 -DHALF=1
//! variant reduce_thread_bf16 -DPER_WG=0 -DHALF=2
//! variant reduce_thread_f16_s16 -DPER_WG=0 -DHALF=1 -DS16
//! variant reduce_thread_bf16_s16 -DPER_WG=0 -DHALF=2 -DS16
// REDUCE over up to 4 reduced dim groups for up to 4 kept dim groups.
// reduce_wg: one workgroup per output (tree in shared memory);
// reduce_thread: one invocation per output (sequential, compensated sum).
// Spec 1 = kept groups (1..4), 2 = reduced groups (1..4), 3 = agi_reduce_op,
// 4 = PASS: 0 whole reduction; 1 (reduce_wg) partial results of `chunks`
// slices of clen reduced elements per output into binding 0 (values) and
// binding 3 (indices); 2 (reduce_thread) combine those partials (binding 1
// values, binding 2 indices, `chunks` per output) into the destination.
// reduce_wg_sg: SUM/MAX/MIN combine the invocations' partials with subgroup
// arithmetic, then across subgroups in shared memory (ARGMAX/ARGMIN keep
// the tree, which carries indices).
// HALF 1 / 2 (f16 / bf16 variants, half_io.glsl; S16: 16-bit storage):
// spec 6 = SRC16, the source (binding 1) holds 16-bit values; spec 7 =
// DST16, the values written to binding 0 are 16-bit (rounded once). The
// partials of a split reduction stay f32. The arithmetic and its order are
// the f32 kernel's (the vec4 path reads 4 scalars), so a 16-bit reduction
// gives the bits of the f32 one over the widened values, rounded once.
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
#ifndef HALF
#define HALF 0
#endif
#include "common.glsl"
#include "agi_kernel_ops.h"
layout(constant_id = 1) const int KND = 4;
layout(constant_id = 2) const int RND = 4;
layout(constant_id = 3) const int OP = 0;
layout(constant_id = 4) const int PASS = 0;
// Spec 5 = VEC: the reduced range is contiguous and 16-byte
// aligned for every output: read it with vec4 loads.
layout(constant_id = 5) const int VEC = 0;
layout(std430, binding = 0) writeonly buffer D { float d[]; };
layout(std430, binding = 0) writeonly buffer DI { int di[]; };
layout(std430, binding = 1) readonly buffer S { float s[]; };
layout(std430, binding = 1) readonly buffer S4 { vec4 s4[]; };
layout(std430, binding = 2) readonly buffer PI { uint pin[]; };
layout(std430, binding = 3) writeonly buffer PO { uint pout[]; };
layout(constant_id = 6) const int SRC16 = 0;
layout(constant_id = 7) const int DST16 = 0;
#if HALF != 0
#include "half_io.glsl"
layout(std430, binding = 1) readonly buffer SH { H_WORD sh[]; };
layout(std430, binding = 0) buffer DH { H_WORD dh[]; };
float load_s(uint i) { return SRC16 != 0 ? H_LOAD(sh, i) : s[i]; }
vec4 load_s4(uint i) // elements i .. i+3 (i % 4 == 0)
{
    if (SRC16 != 0) return vec4(H_LOAD(sh, i), H_LOAD(sh, i + 1u), H_LOAD(sh, i + 2u), H_LOAD(sh, i + 3u));
    return s4[i >> 2];
}
void store_v(uint i, float v)
{
    if (DST16 != 0) {
        H_STORE(dh, i, v);
    } else {
        d[i] = v;
    }
}
#else
float load_s(uint i) { return s[i]; }
vec4 load_s4(uint i) { return s4[i >> 2]; }
void store_v(uint i, float v) { d[i] = v; }
#endif
layout(push_constant) uniform PC {
    uint nout, rcount, soff, doff, chunks, clen;
    uint ksize[4];
    uint ksrc[4];
    uint kdst[4];
    uint rsize[4];
    uint rsrc[4];
} pc;

const bool ARG = OP == AGI_R_ARGMAX || OP == AGI_R_ARGMIN;
const bool MAXLIKE = OP == AGI_R_MAX || OP == AGI_R_ARGMAX;

// true when (bv, bi) beats (av, ai)
bool better(float av, uint ai, float bv, uint bi)
{
    bool an = isnan(av), bn = isnan(bv);
    if (an || bn) return an && bn ? bi < ai : bn;
    if (bv == av) return bi < ai;
    return MAXLIKE ? bv > av : bv < av;
}

uint src_at(uint r)
{
    // r: flat index over the reduced dims (row-major) → source offset
    uint o = 0u;
    for (int i = RND - 1; i >= 1; i--) {
        o += (r % pc.rsize[i]) * pc.rsrc[i];
        r /= pc.rsize[i];
    }
    return o + r * pc.rsrc[0];
}

void out_at(uint k, out uint so, out uint dof)
{
    so = pc.soff;
    dof = pc.doff;
    for (int i = KND - 1; i >= 1; i--) {
        uint c = k % pc.ksize[i];
        k /= pc.ksize[i];
        so += c * pc.ksrc[i];
        dof += c * pc.kdst[i];
    }
    so += k * pc.ksrc[0];
    dof += k * pc.kdst[0];
}

void store(uint dof, float v, uint idx)
{
    if (ARG) di[dof] = int(idx);
    else store_v(dof, v);
}

#if PER_WG
shared float sv[gl_WorkGroupSize.x];
shared float sc[gl_WorkGroupSize.x];
shared uint si[gl_WorkGroupSize.x];

void main()
{
    uint g = lin_group();
    uint k = PASS == 1 ? g / pc.chunks : g;
    if (k >= pc.nout) return;
    uint r0 = 0u, r1 = pc.rcount;
    if (PASS == 1) {
        r0 = (g % pc.chunks) * pc.clen;
        r1 = min(r1, r0 + pc.clen);
    }
    uint t = gl_LocalInvocationID.x;
    uint so, dof;
    out_at(k, so, dof);
    float acc = 0.0, comp = 0.0;
    uint bi = 0xffffffffu;
    if (OP != AGI_R_SUM) acc = load_s(so + (RND == 1 ? r0 * pc.rsrc[0] : src_at(r0)));
    if (OP != AGI_R_SUM) bi = r0;
    uint rs = r0;
    if (VEC != 0) {
        uint rv = r0 + ((r1 - r0) & ~3u);
        for (uint r = r0 + 4u * t; r < rv; r += 4u * gl_WorkGroupSize.x) {
            vec4 v4 = load_s4(so + r);
            for (uint q = 0u; q < 4u; q++) {
                float v = v4[q];
                if (OP == AGI_R_SUM) {
                    float y = v - comp;
                    float tt = acc + y;
                    comp = (tt - acc) - y;
                    acc = tt;
                } else if (better(acc, bi, v, r + q)) {
                    acc = v;
                    bi = r + q;
                }
            }
        }
        rs = rv;
    }
    for (uint r = rs + t; r < r1; r += gl_WorkGroupSize.x) {
        float v = load_s(so + (RND == 1 ? r * pc.rsrc[0] : src_at(r)));
        if (OP == AGI_R_SUM) {
            float y = v - comp;
            float tt = acc + y;
            comp = (tt - acc) - y;
            acc = tt;
        } else if (better(acc, bi, v, r)) {
            acc = v;
            bi = r;
        }
    }
#ifdef SUBGROUP
    if (!ARG) {
        float v = OP == AGI_R_SUM ? acc - comp : acc;
        if (OP == AGI_R_SUM) {
            v = subgroupAdd(v);
        } else {
            // NaN wins: reduce the non-NaN values, then restore NaN if any
            bool anynan = subgroupMax(isnan(v) ? 1.0 : 0.0) > 0.0;
            v = MAXLIKE ? subgroupMax(isnan(v) ? -1.0 / 0.0 : v) : subgroupMin(isnan(v) ? 1.0 / 0.0 : v);
            if (anynan) v = 0.0 / 0.0;
        }
        if (gl_NumSubgroups > 1u) {
            if (subgroupElect()) sv[gl_SubgroupID] = v;
            barrier();
            if (t != 0u) return;
            for (uint i = 1u; i < gl_NumSubgroups; i++) {
                float o = sv[i];
                if (OP == AGI_R_SUM) v += o;
                else if (better(v, 0u, o, 1u)) v = o;
            }
        } else if (t != 0u) {
            return;
        }
        if (PASS == 1) {
            d[pc.doff + g] = v;
            pout[g] = 0u;
        } else {
            store(dof, v, 0u);
        }
        return;
    }
#endif
    sv[t] = acc;
    sc[t] = comp;
    si[t] = bi;
    barrier();
    for (uint h = gl_WorkGroupSize.x / 2u; h > 0u; h >>= 1) {
        if (t < h) {
            if (OP == AGI_R_SUM) {
                sv[t] = sv[t] + sv[t + h];
                sc[t] = sc[t] + sc[t + h];
            } else if (better(sv[t], si[t], sv[t + h], si[t + h])) {
                sv[t] = sv[t + h];
                si[t] = si[t + h];
            }
        }
        barrier();
    }
    if (t != 0u) return;
    if (PASS == 1) {
        d[pc.doff + g] = OP == AGI_R_SUM ? sv[0] - sc[0] : sv[0];
        pout[g] = si[0];
    } else {
        store(dof, OP == AGI_R_SUM ? sv[0] - sc[0] : sv[0], si[0]);
    }
}
#else
void main()
{
    uint k = lin_id();
    if (k >= pc.nout) return;
    uint so, dof;
    out_at(k, so, dof);
    if (PASS == 2) {
        uint base = pc.soff + k * pc.chunks;
        float acc = load_s(base), comp = 0.0;
        uint bi = pin[k * pc.chunks];
        if (OP == AGI_R_SUM) acc = 0.0;
        for (uint c = 0u; c < pc.chunks; c++) {
            float v = load_s(base + c);
            uint vi = pin[k * pc.chunks + c];
            if (OP == AGI_R_SUM) {
                float y = v - comp;
                float tt = acc + y;
                comp = (tt - acc) - y;
                acc = tt;
            } else if (better(acc, bi, v, vi)) {
                acc = v;
                bi = vi;
            }
        }
        store(dof, acc, bi);
        return;
    }
    float acc = OP == AGI_R_SUM ? 0.0 : load_s(so), comp = 0.0;
    uint bi = 0u;
    uint r = 0u;
    // nested loops over the (up to 4) reduced groups, outermost first
    uint n0 = RND >= 4 ? pc.rsize[RND - 4] : 1u;
    uint n1 = RND >= 3 ? pc.rsize[RND - 3] : 1u;
    uint n2 = RND >= 2 ? pc.rsize[RND - 2] : 1u;
    uint n3 = pc.rsize[RND - 1];
    uint s0 = RND >= 4 ? pc.rsrc[RND - 4] : 0u;
    uint s1 = RND >= 3 ? pc.rsrc[RND - 3] : 0u;
    uint s2 = RND >= 2 ? pc.rsrc[RND - 2] : 0u;
    uint s3 = pc.rsrc[RND - 1];
    if (VEC != 0 && RND == 1) {
        // one contiguous aligned run: vec4 loads, then the tail
        uint nv = n3 & ~3u;
        for (; r < nv; r += 4u) {
            vec4 v4 = load_s4(so + r);
            for (uint q = 0u; q < 4u; q++) {
                float v = v4[q];
                if (OP == AGI_R_SUM) {
                    float y = v - comp;
                    float tt = acc + y;
                    comp = (tt - acc) - y;
                    acc = tt;
                } else if (better(acc, bi, v, r + q)) {
                    acc = v;
                    bi = r + q;
                }
            }
        }
        for (; r < n3; r++) {
            float v = load_s(so + r);
            if (OP == AGI_R_SUM) {
                float y = v - comp;
                float tt = acc + y;
                comp = (tt - acc) - y;
                acc = tt;
            } else if (better(acc, bi, v, r)) {
                acc = v;
                bi = r;
            }
        }
        store(dof, acc, bi);
        return;
    }
    for (uint i0 = 0u; i0 < n0; i0++)
    for (uint i1 = 0u; i1 < n1; i1++)
    for (uint i2 = 0u; i2 < n2; i2++) {
        uint base = so + i0 * s0 + i1 * s1 + i2 * s2;
        for (uint i3 = 0u; i3 < n3; i3++, r++) {
            float v = load_s(base + i3 * s3);
            if (OP == AGI_R_SUM) {
                float y = v - comp;
                float tt = acc + y;
                comp = (tt - acc) - y;
                acc = tt;
            } else if (better(acc, bi, v, r)) {
                acc = v;
                bi = r;
            }
        }
    }
    store(dof, acc, bi);
}
#endif
