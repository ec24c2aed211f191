#version 450
// WHERE: dst[i] = cond[i] != 0 ? a[i] : b[i]; 32-bit data copied bit for bit.
#extension GL_GOOGLE_include_directive : require
#extension GL_EXT_shader_8bit_storage : require
#include "common.glsl"
#include "ew.glsl"
layout(std430, binding = 0) writeonly buffer D { uint d[]; };
layout(std430, binding = 1) readonly buffer C { uint8_t cnd[]; };
layout(std430, binding = 2) readonly buffer A { uint a[]; };
layout(std430, binding = 3) readonly buffer B { uint b[]; };

void main()
{
    uint i = lin_id();
    if (i >= pc.n) return;
    uvec4 c = coords(i);
    d[at(0, c)] = uint(cnd[at(1, c)]) != 0u ? a[at(2, c)] : b[at(3, c)];
}
