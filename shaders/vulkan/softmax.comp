#version 450
//! variant softmax_fwd -DBWD=0
//! variant softmax_bwd -DBWD=1
//! variant softmax_fwd_sg -DBWD=0 -DSUBGROUP
//! variant softmax_bwd_sg -DBWD=1 -DSUBGROUP
//! variant softmax_fwd_f16 -DBWD=0 -DHALF=1
//! variant softmax_bwd_f16 -DBWD=1 -DHALF=1
//! variant softmax_fwd_sg_f16 -DBWD=0 -DSUBGROUP -DHALF=1
//! variant softmax_bwd_sg_f16 -DBWD=1 -DSUBGROUP -DHALF=1
//! variant softmax_fwd_bf16 -DBWD=0 -DHALF=2
//! variant softmax_bwd_bf16 -DBWD=1 -DHALF=2
//! variant softmax_fwd_sg_bf16 -DBWD=0 -DSUBGROUP -DHALF=2
//! variant softmax_bwd_sg_bf16 -DBWD=1 -DSUBGROUP -DHALF=2
//! variant softmax_fwd_f16_s16 -DBWD=0 -DHALF=1 -DS16
//! variant softmax_bwd_f16_s16 -DBWD=1 -DHALF=1 -DS16
//! variant softmax_fwd_sg_f16_s16 -DBWD=0 -DSUBGROUP -DHALF=1 -DS16
//! variant softmax_bwd_sg_f16_s16 -DBWD=1 -DSUBGROUP -DHALF=1 -DS16
//! variant softmax_fwd_bf16_s16 -DBWD=0 -DHALF=2 -DS16
//! variant softmax_bwd_bf16_s16 -DBWD=1 -DHALF=2 -DS16
//! variant softmax_fwd_sg_bf16_s16 -DBWD=0 -DSUBGROUP -DHALF=2 -DS16
//! variant softmax_bwd_sg_bf16_s16 -DBWD=1 -DSUBGROUP -DHALF=2 -DS16
// Row-wise softmax / log-softmax (spec 1: 0 softmax, 1 log-softmax) and their
// backward; one workgroup per row of a contiguous [rows, n] f32 matrix.
// Forward: binding 0 y, 1 x. Backward: binding 0 dx, 1 y, 2 dy.
// SUBGROUP variants reduce with subgroup arithmetic first (a workgroup of
// one subgroup then needs no shared memory or barrier at all).
// HALF 1 / 2: every view f16 / bf16 (half_io.glsl; S16: 16-bit storage),
// converted in registers; the f32 arithmetic is the f32 variant's.
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common.glsl"
layout(constant_id = 1) const int LOG = 0;
#ifndef HALF
#define HALF 0
#endif
#if HALF == 0
layout(std430, binding = 0) writeonly buffer D { float d[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer G { float g[]; };
#define LDX(i) x[(i)]
#define LDG(i) g[(i)]
#define STORE_D(i, v) d[(i)] = (v)
#else
#include "half_io.glsl"
layout(std430, binding = 0) buffer D { H_WORD d[]; };
layout(std430, binding = 1) readonly buffer X { H_WORD x[]; };
layout(std430, binding = 2) readonly buffer G { H_WORD g[]; };
#define LDX(i) H_LOAD(x, (i))
#define LDG(i) H_LOAD(g, (i))
#define STORE_D(i, v) H_STORE(d, (i), (v))
#endif
layout(push_constant) uniform PC { uint rows, n, doff, xoff, goff; } pc;

#include "rowreduce.glsl"

void main()
{
    uint row = lin_group();
    if (row >= pc.rows) return;
    uint t = gl_LocalInvocationID.x, W = gl_WorkGroupSize.x, n = pc.n;
    uint xo = pc.xoff + row * n, dof = pc.doff + row * n, go = pc.goff + row * n;
#if BWD == 0
    float m = -1.0 / 0.0;
    for (uint j = t; j < n; j += W) {
        float v = LDX(xo + j);
        m = (isnan(m) || m >= v) ? m : v;
    }
    m = wg_max(m);
    float sum = 0.0;
    for (uint j = t; j < n; j += W) sum += exp(LDX(xo + j) - m);
    sum = wg_sum(sum);
    if (LOG != 0) {
        float ls = log(sum);
        for (uint j = t; j < n; j += W) STORE_D(dof + j, LDX(xo + j) - m - ls);
    } else {
        float inv = 1.0 / sum;
        for (uint j = t; j < n; j += W) STORE_D(dof + j, exp(LDX(xo + j) - m) * inv);
    }
#else
    float acc = 0.0;
    if (LOG != 0) {
        for (uint j = t; j < n; j += W) acc += LDG(go + j);
    } else {
        for (uint j = t; j < n; j += W) acc += LDG(go + j) * LDX(xo + j);
    }
    acc = wg_sum(acc);
    if (LOG != 0) {
        for (uint j = t; j < n; j += W) STORE_D(dof + j, LDG(go + j) - exp(LDX(xo + j)) * acc);
    } else {
        for (uint j = t; j < n; j += W) STORE_D(dof + j, LDX(xo + j) * (LDG(go + j) - acc));
    }
#endif
}
