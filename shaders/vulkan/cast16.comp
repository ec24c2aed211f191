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
//! variant copy_f32_f16_s16 -DSRC=0 -DDST=3 -DS16
//! variant copy_f32_bf16_s16 -DSRC=0 -DDST=4 -DS16
//! variant copy_i32_f16_s16 -DSRC=1 -DDST=3 -DS16
//! variant copy_i32_bf16_s16 -DSRC=1 -DDST=4 -DS16
//! variant copy_u8_f16_s16 -DSRC=2 -DDST=3 -DS16
//! variant copy_u8_bf16_s16 -DSRC=2 -DDST=4 -DS16
//! variant copy_f16_f32_s16 -DSRC=3 -DDST=0 -DS16
//! variant copy_f16_i32_s16 -DSRC=3 -DDST=1 -DS16
//! variant copy_f16_u8_s16 -DSRC=3 -DDST=2 -DS16
//! variant copy_f16_f16_s16 -DSRC=3 -DDST=3 -DS16
//! variant copy_f16_bf16_s16 -DSRC=3 -DDST=4 -DS16
//! variant copy_bf16_f32_s16 -DSRC=4 -DDST=0 -DS16
//! variant copy_bf16_i32_s16 -DSRC=4 -DDST=1 -DS16
//! variant copy_bf16_u8_s16 -DSRC=4 -DDST=2 -DS16
//! variant copy_bf16_f16_s16 -DSRC=4 -DDST=3 -DS16
//! variant copy_bf16_bf16_s16 -DSRC=4 -DDST=4 -DS16
//! variant fill_16_s16 -DFILL16 -DS16
// COPY involving a 16-bit float, and FILL of one. Types: 0 f32, 1 i32, 2 u8,
// 3 f16, 4 bf16. 16-bit elements go through half_io.glsl: plain uint16_t
// storage where the device has 16-bit storage (the *_s16 variants, S16),
// packed words with atomic half-word stores on any device otherwise. A copy
// between two 16-bit dtypes converts through f32 (f16 <-> bf16) or copies the
// bits (same dtype). Other conversions as copy.comp: to i32 truncates toward
// zero, to u8 goes through i32 and keeps 8 bits.
#extension GL_GOOGLE_include_directive : require
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
#if SRC == 2 || DST == 2
#extension GL_EXT_shader_8bit_storage : require
#endif
#include "common.glsl"
#include "ew.glsl"

#ifdef FILL16
#define DST 3
#define SRC 3
#endif
// half_io.glsl converts for one 16-bit dtype: the destination's when it is
// 16-bit, else the source's; the other side of an f16 <-> bf16 copy is
// converted here.
#if DST >= 3
#define HALF (DST - 2)
#else
#define HALF (SRC - 2)
#endif
#include "half_io.glsl"

#if DST >= 3
layout(std430, binding = 0) buffer D { H_WORD d[]; };
#elif DST == 0
layout(std430, binding = 0) writeonly buffer D { float d[]; };
#elif DST == 1
layout(std430, binding = 0) writeonly buffer D { int d[]; };
#else
layout(std430, binding = 0) writeonly buffer D { uint8_t d[]; };
#endif
#ifndef FILL16
#if SRC >= 3
layout(std430, binding = 1) readonly buffer S { H_WORD s[]; };
#elif SRC == 0
layout(std430, binding = 1) readonly buffer S { float s[]; };
#elif SRC == 1
layout(std430, binding = 1) readonly buffer S { int s[]; };
#else
layout(std430, binding = 1) readonly buffer S { uint8_t s[]; };
#endif
#endif

#ifndef FILL16
float load(uint e)
{
#if SRC == 3
    return uintBitsToFloat(ag_f16_to_f32_bits(H_LOAD_BITS(s, e)));
#elif SRC == 4
    return uintBitsToFloat(ag_bf16_to_f32_bits(H_LOAD_BITS(s, e)));
#elif SRC == 0
    return s[e];
#elif SRC == 1
    return float(s[e]);
#else
    return float(uint(s[e]));
#endif
}
#endif

void main()
{
    uint i = lin_id();
    if (i >= pc.n) return;
    uvec4 c = coords(i);
#ifdef FILL16
    H_STORE_BITS(d, at(0, c), floatBitsToUint(pc.f[0]));
#elif SRC == DST
    H_STORE_BITS(d, at(0, c), H_LOAD_BITS(s, at(1, c)));
#else
    float v = load(at(1, c));
#if DST == 0
    d[at(0, c)] = v;
#elif DST == 1
    d[at(0, c)] = int(v);
#elif DST == 2
    d[at(0, c)] = uint8_t(uint(int(v)) & 255u);
#elif DST == 3
    H_STORE_BITS(d, at(0, c), ag_f16_from_f32_bits(floatBitsToUint(v)));
#else
    H_STORE_BITS(d, at(0, c), ag_bf16_from_f32_bits(floatBitsToUint(v)));
#endif
#endif
}
