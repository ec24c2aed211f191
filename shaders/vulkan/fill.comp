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

void main()
{
    uint i = lin_id();
    if (i >= pc.n) return;
    uint bits = floatBitsToUint(pc.f[0]);
#ifdef U8
    d[at(0, coords(i))] = uint8_t(bits & 255u);
#else
    d[at(0, coords(i))] = bits;
#endif
}
