#version 450
//! variant layer_norm
//! variant layer_norm_sg -DSUBGROUP
//! variant layer_norm_f16 -DHALF=1
//! variant layer_norm_sg_f16 -DSUBGROUP -DHALF=1
//! variant layer_norm_bf16 -DHALF=2
//! variant layer_norm_sg_bf16 -DSUBGROUP -DHALF=2
//! variant layer_norm_f16_s16 -DHALF=1 -DS16
//! variant layer_norm_sg_f16_s16 -DSUBGROUP -DHALF=1 -DS16
//! variant layer_norm_bf16_s16 -DHALF=2 -DS16
//! variant layer_norm_sg_bf16_s16 -DSUBGROUP -DHALF=2 -DS16
// Row-wise layer normalisation (AGI_K_LAYER_NORM) of a contiguous [rows, n]
// f32 matrix, one workgroup per row: the mean (of the values shifted by the
// row's first one), then the variance of the centred values (two passes over
// the row, the second from cache), then
// y = (x - mean) * rstd * w + b. Bindings: 0 y, 1 x, 2 w, 3 b, 4 stats
// [rows, 2] (mean, rstd). Spec 1, 2, 3: w, b, stats present.
// HALF 1 / 2: y, x, w and b f16 / bf16 (half_io.glsl; S16: 16-bit storage),
// converted in registers, stats f32; the f32 arithmetic is the f32 variant's.
#extension GL_GOOGLE_include_directive : require
#ifdef SUBGROUP
#extension GL_KHR_shader_subgroup_arithmetic : require
#endif
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common.glsl"
layout(constant_id = 1) const int HAS_W = 0;
layout(constant_id = 2) const int HAS_B = 0;
layout(constant_id = 3) const int HAS_STATS = 0;
#ifndef HALF
#define HALF 0
#endif
#if HALF == 0
layout(std430, binding = 0) writeonly buffer Y { float y[]; };
layout(std430, binding = 1) readonly buffer X { float x[]; };
layout(std430, binding = 2) readonly buffer W { float w[]; };
layout(std430, binding = 3) readonly buffer B { float b[]; };
layout(std430, binding = 4) writeonly buffer S { float stats[]; };
#define LDX(i) x[(i)]
#define LDW(i) w[(i)]
#define LDB(i) b[(i)]
#define STORE_Y(i, v) y[(i)] = (v)
#define STORE_S(i, v) stats[(i)] = (v)
#else
#include "half_io.glsl"
layout(std430, binding = 0) buffer Y { H_WORD y[]; };
layout(std430, binding = 1) readonly buffer X { H_WORD x[]; };
layout(std430, binding = 2) readonly buffer W { H_WORD w[]; };
layout(std430, binding = 3) readonly buffer B { H_WORD b[]; };
layout(std430, binding = 4) writeonly buffer S { float stats[]; };
#define LDX(i) H_LOAD(x, (i))
#define LDW(i) H_LOAD(w, (i))
#define LDB(i) H_LOAD(b, (i))
#define STORE_Y(i, v) H_STORE(y, (i), (v))
#define STORE_S(i, v) stats[(i)] = (v)
#endif
layout(push_constant) uniform PC { uint rows, n, yoff, xoff, woff, boff, soff; float eps; } pc;

#include "rowreduce.glsl"

void main()
{
    uint row = lin_group();
    if (row >= pc.rows) return;
    uint t = gl_LocalInvocationID.x, WG = gl_WorkGroupSize.x, n = pc.n;
    uint xo = pc.xoff + row * n, yo = pc.yoff + row * n;
    // shifted by the row's first value: no cancellation when |mean| >> std
    float x0 = LDX(xo), s = 0.0;
    for (uint j = t; j < n; j += WG) s += LDX(xo + j) - x0;
    float mean = x0 + wg_sum(s) / float(n);
    float ss = 0.0;
    for (uint j = t; j < n; j += WG) {
        float c = LDX(xo + j) - mean;
        ss += c * c;
    }
    float rstd = 1.0 / sqrt(wg_sum(ss) / float(n) + pc.eps);
    for (uint j = t; j < n; j += WG) {
        float v = (LDX(xo + j) - mean) * rstd;
        if (HAS_W != 0) v *= LDW(pc.woff + j);
        if (HAS_B != 0) v += LDB(pc.boff + j);
        STORE_Y(yo + j, v);
    }
    if (HAS_STATS != 0 && t == 0u) {
        STORE_S(pc.soff + 2u * row, mean);
        STORE_S(pc.soff + 2u * row + 1u, rstd);
    }
}
