#version 450
//! variant fill_32
//! variant fill_8 -DU8
// FILL: dst[i] = value (raw bits of the converted value in f[0]).
#extension GL_GOOGLE_include_directive : require
#ifdef U8
#extension GL_EXT_shader_8bit_storage : require
#endif
#include "common.glsl"
#include "ew.glsl"
#ifdef U8
layout(std430, binding = 0) writeonly buffer D { uint8_t d[]; };
#else
layout(std430, binding = 0) writeonly buffer D { uint d[]; };
#endif

#ifndef U8
layout(std430, binding = 0) writeonly buffer D4 { uvec4 d4[]; };
#endif

void main()
{
#ifndef U8
    if (VEC != 0) {
        uint q = vec_index();
        uint bits = floatBitsToUint(pc.f[0]);
        if (q < 0xfffffffeu) {
            d4[(pc.v[0].off >> 2) + q] = uvec4(bits);
        } else if (q == 0xffffffffu) {
            for (uint i = pc.n & ~3u; i < pc.n; i++) d[pc.v[0].off + i] = bits;
        }
        return;
    }
#endif
    uint i = lin_id();
    if (i >= pc.n) return;
    uint bits = floatBitsToUint(pc.f[0]);
#ifdef U8
    d[at(0, coords(i))] = uint8_t(bits & 255u);
#else
    d[at(0, coords(i))] = bits;
#endif
}
