#version 450
//! variant binary_f32 -DKIND=0
//! variant binary_i32 -DKIND=1
//! variant binary_f16 -DKIND=0 -DHALF=1
//! variant binary_bf16 -DKIND=0 -DHALF=2
//! variant binary_f16_s16 -DKIND=0 -DHALF=1 -DS16
//! variant binary_bf16_s16 -DKIND=0 -DHALF=2 -DS16
//! variant cmp_f32 -DKIND=2
//! variant cmp_i32 -DKIND=3
// BINARY: dst[i] = g(src0[i], src1[i]). Specialization constant 2 =
// agi_binary_op (constants and formulas from kernel_ops.def and scalar_ops.h). KIND 0: f32 arithmetic and fused activation backward;
// 1: i32 arithmetic; 2, 3: comparisons of f32 / i32 into u8. HALF 1 / 2
// (with KIND 0): f16 / bf16 data (half_io.glsl; S16: 16-bit storage), computed in f32.
#extension GL_GOOGLE_include_directive : require
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
#if KIND >= 2
#extension GL_EXT_shader_8bit_storage : require
#endif
#include "common.glsl"
#include "ew.glsl"
#include "agi_kernel_ops.h"
#include "scalar_ops.h"
layout(constant_id = 2) const int OP = 0;
#if KIND == 0 || KIND == 2
#define T float
#else
#define T int
#endif
#ifndef HALF
#define HALF 0
#endif
#if HALF != 0
#include "half_io.glsl"
layout(std430, binding = 0) buffer D { H_WORD d[]; };
layout(std430, binding = 1) readonly buffer A { H_WORD a[]; };
layout(std430, binding = 2) readonly buffer B { H_WORD b[]; };
#elif KIND >= 2
layout(std430, binding = 0) writeonly buffer D { uint8_t d[]; };
#else
layout(std430, binding = 0) writeonly buffer D { T d[]; };
#endif
#if HALF == 0
layout(std430, binding = 1) readonly buffer A { T a[]; };
layout(std430, binding = 2) readonly buffer B { T b[]; };
#endif
#if KIND < 2 && HALF == 0
#if KIND == 0
#define T4 vec4
#else
#define T4 ivec4
#endif
layout(std430, binding = 0) writeonly buffer D4 { T4 d4[]; };
layout(std430, binding = 1) readonly buffer A4 { T4 a4[]; };
layout(std430, binding = 2) readonly buffer B4 { T4 b4[]; };
#endif

#if KIND == 0
float g(float x, float y)
{
    float p0 = pc.f[0], p1 = pc.f[1];
    switch (OP) {
#define BINARY_CASE(E, name) case E: return ag_bi_##name(x, y, p0, p1);
    AGI_FOREACH_BINARY_FLOAT(BINARY_CASE)
    }
    return 0.0;
}
#elif KIND == 1
int g(int x, int y)
{
    switch (OP) {
    case AGI_B_ADD: return x + y;
    case AGI_B_SUB: return x - y;
    case AGI_B_MUL: return x * y;
    case AGI_B_MAX: return max(x, y);
    case AGI_B_MIN: return min(x, y);
    }
    return 0;
}
#else
bool g(T x, T y)
{
    switch (OP) {
    case AGI_B_EQ: return x == y;
    case AGI_B_NE: return x != y;
    case AGI_B_LT: return x < y;
    case AGI_B_LE: return x <= y;
    case AGI_B_GT: return x > y;
    case AGI_B_GE: return x >= y;
    }
    return false;
}
#endif

void main()
{
#if HALF != 0
    uint i = lin_id();
    if (i >= pc.n) return;
    uvec4 c = coords(i);
    H_STORE(d, at(0, c), g(H_LOAD(a, at(1, c)), H_LOAD(b, at(2, c))));
    return;
#endif
#if KIND < 2 && HALF == 0
    if (VEC == 2) {
        uint q = lin_id();
        if (q >= (pc.n >> 2)) return;
        uvec4 c = coords4(q);
        uint oa = at(1, c), ob = at(2, c);
        T4 x = inner_bcast(1) ? T4(a[oa]) : a4[oa >> 2];
        T4 y = inner_bcast(2) ? T4(b[ob]) : b4[ob >> 2];
        d4[at(0, c) >> 2] = T4(g(x.x, y.x), g(x.y, y.y), g(x.z, y.z), g(x.w, y.w));
        return;
    }
    if (VEC != 0) {
        uint q = vec_index();
        if (q < 0xfffffffeu) {
            T4 x = a4[(pc.v[1].off >> 2) + q], y = b4[(pc.v[2].off >> 2) + q];
            d4[(pc.v[0].off >> 2) + q] = T4(g(x.x, y.x), g(x.y, y.y), g(x.z, y.z), g(x.w, y.w));
        } else if (q == 0xffffffffu) {
            for (uint i = pc.n & ~3u; i < pc.n; i++)
                d[pc.v[0].off + i] = g(a[pc.v[1].off + i], b[pc.v[2].off + i]);
        }
        return;
    }
#endif
#if HALF == 0
    uint i = lin_id();
    if (i >= pc.n) return;
    uvec4 c = coords(i);
#endif
#if HALF != 0
#elif KIND >= 2
    d[at(0, c)] = uint8_t(g(a[at(1, c)], b[at(2, c)]) ? 1u : 0u);
#else
    d[at(0, c)] = g(a[at(1, c)], b[at(2, c)]);
#endif
}
