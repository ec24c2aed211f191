#version 450
//! variant unary
//! variant unary_f16 -DHALF=1
//! variant unary_bf16 -DHALF=2
//! variant unary_f16_s16 -DHALF=1 -DS16
//! variant unary_bf16_s16 -DHALF=2 -DS16
// UNARY: dst[i] = f(src0[i]), f32. Specialization constant 2 = agi_unary_op;
// the constants come from kernel_ops.def, the formulas from scalar_ops.h.
// HALF 1 / 2: f16 / bf16 data (half_io.glsl; S16: 16-bit storage), computed in f32.
#extension GL_GOOGLE_include_directive : require
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common.glsl"
#include "ew.glsl"
#include "agi_kernel_ops.h"
#include "scalar_ops.h"
layout(constant_id = 2) const int OP = 0;
#ifndef HALF
#define HALF 0
#endif
#if HALF == 0
layout(std430, binding = 0) writeonly buffer D { float d[]; };
layout(std430, binding = 1) readonly buffer S { float s[]; };
layout(std430, binding = 0) writeonly buffer D4 { vec4 d4[]; };
layout(std430, binding = 1) readonly buffer S4 { vec4 s4[]; };
#else
#include "half_io.glsl"
layout(std430, binding = 0) buffer D { H_WORD d[]; };
layout(std430, binding = 1) readonly buffer S { H_WORD s[]; };
#endif

float f(float x)
{
    float p0 = pc.f[0], p1 = pc.f[1];
    switch (OP) {
#define UNARY_CASE(E, name) case E: return ag_un_##name(x, p0, p1);
    AGI_FOREACH_UNARY(UNARY_CASE)
    }
    return x;
}

void main()
{
#if HALF != 0
    uint i = lin_id();
    if (i >= pc.n) return;
    uvec4 c = coords(i);
    H_STORE(d, at(0, c), f(H_LOAD(s, at(1, c))));
#else
    if (VEC == 2) {
        uint q = lin_id();
        if (q >= (pc.n >> 2)) return;
        uvec4 c = coords4(q);
        uint o = at(1, c);
        vec4 x = inner_bcast(1) ? vec4(s[o]) : s4[o >> 2];
        d4[at(0, c) >> 2] = vec4(f(x.x), f(x.y), f(x.z), f(x.w));
        return;
    }
    if (VEC != 0) {
        uint q = vec_index();
        if (q < 0xfffffffeu) {
            vec4 x = s4[(pc.v[1].off >> 2) + q];
            d4[(pc.v[0].off >> 2) + q] = vec4(f(x.x), f(x.y), f(x.z), f(x.w));
        } else if (q == 0xffffffffu) {
            for (uint i = pc.n & ~3u; i < pc.n; i++) d[pc.v[0].off + i] = f(s[pc.v[1].off + i]);
        }
        return;
    }
    uint i = lin_id();
    if (i >= pc.n) return;
    uvec4 c = coords(i);
    d[at(0, c)] = f(s[at(1, c)]);
#endif
}
