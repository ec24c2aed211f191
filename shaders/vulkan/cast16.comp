#version 450
//! variant copy_f32_f16 -DSRC=0 -DDST=3
//! variant copy_f32_bf16 -DSRC=0 -DDST=4
//! variant copy_i32_f16 -DSRC=1 -DDST=3
//! variant copy_i32_bf16 -DSRC=1 -DDST=4
//! variant copy_u8_f16 -DSRC=2 -DDST=3
//! variant copy_u8_bf16 -DSRC=2 -DDST=4
//! variant copy_f16_f32 -DSRC=3 -DDST=0
//! variant copy_f16_i32 -DSRC=3 -DDST=1
//! variant copy_f16_u8 -DSRC=3 -DDST=2
//! variant copy_f16_f16 -DSRC=3 -DDST=3
//! variant copy_f16_bf16 -DSRC=3 -DDST=4
//! variant copy_bf16_f32 -DSRC=4 -DDST=0
//! variant copy_bf16_i32 -DSRC=4 -DDST=1
//! variant copy_bf16_u8 -DSRC=4 -DDST=2
//! variant copy_bf16_f16 -DSRC=4 -DDST=3
//! variant copy_bf16_bf16 -DSRC=4 -DDST=4
//! variant fill_16 -DFILL16
// COPY involving a 16-bit float, and FILL of one. Types: 0 f32, 1 i32, 2 u8,
// 3 f16, 4 bf16. 16-bit values are emulated on any device: packed two to a
// uint word, read by extracting their half, written with atomicAnd/atomicOr
// on their half (a neighbour written at the same time by another invocation
// keeps its bits), converted in registers by half_conv.h (round to nearest
// even, as on every backend). Other conversions as copy.comp: to i32
// truncates toward zero, to u8 goes through i32 and keeps 8 bits.
#extension GL_GOOGLE_include_directive : require
#if SRC == 2 || DST == 2
#extension GL_EXT_shader_8bit_storage : require
#endif
#include "common.glsl"
#include "ew.glsl"
#include "half_conv.h"

#ifdef FILL16
#define DST 3
#endif

#if DST >= 3
layout(std430, binding = 0) buffer D { uint d[]; };
#elif DST == 0
layout(std430, binding = 0) writeonly buffer D { float d[]; };
#elif DST == 1
layout(std430, binding = 0) writeonly buffer D { int d[]; };
#else
layout(std430, binding = 0) writeonly buffer D { uint8_t d[]; };
#endif
#ifndef FILL16
#if SRC >= 3
layout(std430, binding = 1) readonly buffer S { uint s[]; };
#elif SRC == 0
layout(std430, binding = 1) readonly buffer S { float s[]; };
#elif SRC == 1
layout(std430, binding = 1) readonly buffer S { int s[]; };
#else
layout(std430, binding = 1) readonly buffer S { uint8_t s[]; };
#endif
#endif

#if DST >= 3
// Element e (in 16-bit units) of the dst buffer = the low 16 bits of v.
void store16(uint e, uint v)
{
    uint sh = (e & 1u) * 16u;
    atomicAnd(d[e >> 1], ~(0xffffu << sh));
    atomicOr(d[e >> 1], (v & 0xffffu) << sh);
}
#endif

#ifndef FILL16
#if SRC >= 3
uint load16(uint e) { return (s[e >> 1] >> ((e & 1u) * 16u)) & 0xffffu; }
float load(uint e)
{
#if SRC == 3
    return uintBitsToFloat(ag_f16_to_f32_bits(load16(e)));
#else
    return uintBitsToFloat(ag_bf16_to_f32_bits(load16(e)));
#endif
}
#elif SRC == 0
float load(uint e) { return s[e]; }
#elif SRC == 1
float load(uint e) { return float(s[e]); }
#else
float load(uint e) { return float(uint(s[e])); }
#endif
#endif

void main()
{
    uint i = lin_id();
    if (i >= pc.n) return;
    uvec4 c = coords(i);
#ifdef FILL16
    store16(at(0, c), floatBitsToUint(pc.f[0]));
#elif SRC == DST
    store16(at(0, c), load16(at(1, c)));
#else
    float v = load(at(1, c));
#if DST == 0
    d[at(0, c)] = v;
#elif DST == 1
    d[at(0, c)] = int(v);
#elif DST == 2
    d[at(0, c)] = uint8_t(uint(int(v)) & 255u);
#elif DST == 3
    store16(at(0, c), ag_f16_from_f32_bits(floatBitsToUint(v)));
#else
    store16(at(0, c), ag_bf16_from_f32_bits(floatBitsToUint(v)));
#endif
#endif
}
