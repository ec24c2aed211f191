#version 450
// RNG: Philox4x32-10. Element k (row-major in dst's shape) uses counter
// {lo32(c), hi32(c), 0, 0}, c = offset + k, key {lo32(seed), hi32(seed)}.
// Specialization constant 2: AGI_RNG_UNIFORM or AGI_RNG_NORMAL.
// f[0], f[1]: lo, hi (or mean, std); f[2], f[3]: raw bits of
// {seed lo, seed hi} and the offset is in the views' unused slot v[1].
// Specialization constant 4 = FROM_BUF 1 (graph replays): the seed and a
// base offset are read from binding 1, words {seed lo, seed hi, offset lo,
// offset hi} at element pc.v[2].off, and v[1] holds the offset relative to
// that base.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "ew.glsl"
#include "agi_kernel_ops.h"
layout(constant_id = 2) const int DIST = 0;
layout(constant_id = 4) const int FROM_BUF = 0;
layout(std430, binding = 0) writeonly buffer D { float d[]; };
layout(std430, binding = 1) readonly buffer P { uint pw[]; };

uvec4 philox(uvec4 c, uvec2 k)
{
    for (int r = 0; r < 10; r++) {
        uint hi0, lo0, hi1, lo1;
        umulExtended(0xD2511F53u, c.x, hi0, lo0);
        umulExtended(0xCD9E8D57u, c.z, hi1, lo1);
        c = uvec4(hi1 ^ c.y ^ k.x, lo1, hi0 ^ c.w ^ k.y, lo0);
        k += uvec2(0x9E3779B9u, 0xBB67AE85u);
    }
    return c;
}

void main()
{
    uint i = lin_id();
    if (i >= pc.n) return;
    uint olo = pc.v[1].off, ohi = pc.v[1].st0;
    uvec2 key = uvec2(floatBitsToUint(pc.f[2]), floatBitsToUint(pc.f[3]));
    if (FROM_BUF == 1) {
        uint p = pc.v[2].off;
        key = uvec2(pw[p], pw[p + 1u]);
        uint blo = pw[p + 2u];
        uint lo = blo + olo;
        ohi = pw[p + 3u] + ohi + (lo < blo ? 1u : 0u);
        olo = lo;
    }
    uint clo = olo + i;
    uint chi = ohi + (clo < olo ? 1u : 0u);
    uvec4 x = philox(uvec4(clo, chi, 0u, 0u), key);
    float r;
    if (DIST == AGI_RNG_UNIFORM) {
        precise float u = float(x.x >> 8) * 5.9604644775390625e-8;
        precise float w = (pc.f[1] - pc.f[0]) * u;
        precise float v = pc.f[0] + w;
        r = v;
    } else {
        float u1 = float((x.x >> 8) + 1u) * 5.9604644775390625e-8;
        float u2 = float(x.y >> 8) * 5.9604644775390625e-8;
        r = pc.f[0] + pc.f[1] * sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2);
    }
    d[at(0, coords(i))] = r;
}
