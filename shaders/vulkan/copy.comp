#version 450
//! variant copy_x32_x32 -DSRC=3 -DDST=3
//! variant copy_f32_i32 -DSRC=0 -DDST=1
//! variant copy_f32_u8 -DSRC=0 -DDST=2
//! variant copy_i32_f32 -DSRC=1 -DDST=0
//! variant copy_i32_u8 -DSRC=1 -DDST=2
//! variant copy_u8_f32 -DSRC=2 -DDST=0
//! variant copy_u8_i32 -DSRC=2 -DDST=1
//! variant copy_u8_u8 -DSRC=2 -DDST=2
// COPY with conversion. Types: 0 f32, 1 i32, 2 u8, 3 raw 32-bit (bit copy).
// f32→i32 truncates toward zero; f32→u8 goes through i32 and keeps 8 bits.
#extension GL_GOOGLE_include_directive : require
#if SRC == 2 || DST == 2
#extension GL_EXT_shader_8bit_storage : require
#endif
#include "common.glsl"
#include "ew.glsl"

#if SRC == 0
layout(std430, binding = 1) readonly buffer S { float s[]; };
#elif SRC == 1
layout(std430, binding = 1) readonly buffer S { int s[]; };
#elif SRC == 2
layout(std430, binding = 1) readonly buffer S { uint8_t s[]; };
#else
layout(std430, binding = 1) readonly buffer S { uint s[]; };
#endif
#if DST == 0
layout(std430, binding = 0) writeonly buffer D { float d[]; };
#elif DST == 1
layout(std430, binding = 0) writeonly buffer D { int d[]; };
#elif DST == 2
layout(std430, binding = 0) writeonly buffer D { uint8_t d[]; };
#else
layout(std430, binding = 0) writeonly buffer D { uint d[]; };
#endif

#if SRC == 3
layout(std430, binding = 1) readonly buffer S4 { uvec4 s4[]; };
layout(std430, binding = 0) writeonly buffer D4 { uvec4 d4[]; };
#endif

void main()
{
#if SRC == 3
    if (VEC == 2) {
        uint q = lin_id();
        if (q >= (pc.n >> 2)) return;
        uvec4 c = coords4(q);
        uint o = at(1, c);
        d4[at(0, c) >> 2] = inner_bcast(1) ? uvec4(s[o]) : s4[o >> 2];
        return;
    }
    if (VEC != 0) {
        uint q = vec_index();
        if (q < 0xfffffffeu) {
            d4[(pc.v[0].off >> 2) + q] = s4[(pc.v[1].off >> 2) + q];
        } else if (q == 0xffffffffu) {
            for (uint i = pc.n & ~3u; i < pc.n; i++) d[pc.v[0].off + i] = s[pc.v[1].off + i];
        }
        return;
    }
#endif
    uint i = lin_id();
    if (i >= pc.n) return;
    uvec4 c = coords(i);
#if SRC == 3
    d[at(0, c)] = s[at(1, c)];
#elif SRC == 0 && DST == 1
    d[at(0, c)] = int(s[at(1, c)]);
#elif SRC == 0 && DST == 2
    d[at(0, c)] = uint8_t(uint(int(s[at(1, c)])) & 255u);
#elif SRC == 1 && DST == 0
    d[at(0, c)] = float(s[at(1, c)]);
#elif SRC == 1 && DST == 2
    d[at(0, c)] = uint8_t(uint(s[at(1, c)]) & 255u);
#elif SRC == 2 && DST == 0
    d[at(0, c)] = float(uint(s[at(1, c)]));
#elif SRC == 2 && DST == 1
    d[at(0, c)] = int(uint(s[at(1, c)]));
#else
    d[at(0, c)] = s[at(1, c)];
#endif
}
