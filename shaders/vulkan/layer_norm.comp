#version 450
//! variant layer_norm
//! variant layer_norm_sg -DSUBGROUP
// Row-wise layer normalisation (AGI_K_LAYER_NORM) of a contiguous [rows, n]
// f32 matrix, one workgroup per row: the mean (of the values shifted by the
// row's first one), then the variance of the centred values (two passes over
// the row, the second from cache), then
// y = (x - mean) * rstd * w + b. Bindings: 0 y, 1 x, 2 w, 3 b, 4 stats
// [rows, 2] (mean, rstd). Spec 1, 2, 3: w, b, stats present.
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#include "common.glsl"
layout(constant_id = 1) const int HAS_W = 0;
layout(constant_id = 2) const int HAS_B = 0;
layout(constant_id = 3) const int HAS_STATS = 0;
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer W { float w[]; };
layout(std430, binding = 3) readonly buffer B { float b[]; };
layout(std430, binding = 4) writeonly buffer S { float stats[]; };
layout(push_constant) uniform PC { uint rows, n, yoff, xoff, woff, boff, soff; float eps; } pc;

#include "rowreduce.glsl"

void main()
{
    uint row = lin_group();
    if (row >= pc.rows) return;
    uint t = gl_LocalInvocationID.x, WG = gl_WorkGroupSize.x, n = pc.n;
    uint xo = pc.xoff + row * n, yo = pc.yoff + row * n;
    // shifted by the row's first value: no cancellation when |mean| >> std
    float x0 = x[xo], s = 0.0;
    for (uint j = t; j < n; j += WG) s += x[xo + j] - x0;
    float mean = x0 + wg_sum(s) / float(n);
    float ss = 0.0;
    for (uint j = t; j < n; j += WG) {
        float c = x[xo + j] - mean;
        ss += c * c;
    }
    float rstd = 1.0 / sqrt(wg_sum(ss) / float(n) + pc.eps);
    for (uint j = t; j < n; j += WG) {
        float v = (x[xo + j] - mean) * rstd;
        if (HAS_W != 0) v *= w[pc.woff + j];
        if (HAS_B != 0) v += b[pc.boff + j];
        y[yo + j] = v;
    }
    if (HAS_STATS != 0 && t == 0u) {
        stats[pc.soff + 2u * row] = mean;
        stats[pc.soff + 2u * row + 1u] = rstd;
    }
}
