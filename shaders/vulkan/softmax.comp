#version 450
//! variant softmax_fwd -DBWD=0
//! variant softmax_bwd -DBWD=1
//! variant softmax_fwd_sg -DBWD=0 -DSUBGROUP
//! variant softmax_bwd_sg -DBWD=1 -DSUBGROUP
// Row-wise softmax / log-softmax (spec 1: 0 softmax, 1 log-softmax) and their
// backward; one workgroup per row of a contiguous [rows, n] f32 matrix.
// Forward: binding 0 y, 1 x. Backward: binding 0 dx, 1 y, 2 dy.
// SUBGROUP variants reduce with subgroup arithmetic first (a workgroup of
// one subgroup then needs no shared memory or barrier at all).
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "common.glsl"
layout(constant_id = 1) const int LOG = 0;
layout(std430, binding = 0) writeonly buffer D { float d[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer G { float g[]; };
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
        float v = x[xo + j];
        m = (isnan(m) || m >= v) ? m : v;
    }
    m = wg_max(m);
    float sum = 0.0;
    for (uint j = t; j < n; j += W) sum += exp(x[xo + j] - m);
    sum = wg_sum(sum);
    if (LOG != 0) {
        float ls = log(sum);
        for (uint j = t; j < n; j += W) d[dof + j] = x[xo + j] - m - ls;
    } else {
        float inv = 1.0 / sum;
        for (uint j = t; j < n; j += W) d[dof + j] = exp(x[xo + j] - m) * inv;
    }
#else
    float acc = 0.0;
    if (LOG != 0) {
        for (uint j = t; j < n; j += W) acc += g[go + j];
    } else {
        for (uint j = t; j < n; j += W) acc += g[go + j] * x[xo + j];
    }
    acc = wg_sum(acc);
    if (LOG != 0) {
        for (uint j = t; j < n; j += W) d[dof + j] = g[go + j] - exp(x[xo + j]) * acc;
    } else {
        for (uint j = t; j < n; j += W) d[dof + j] = x[xo + j] * (g[go + j] - acc);
    }
#endif
}
