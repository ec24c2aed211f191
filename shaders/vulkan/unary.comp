#version 450
// UNARY: dst[i] = f(src0[i]), f32. Specialization constant 2 = agi_unary_op.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
#include "ew.glsl"
layout(constant_id = 2) const int OP = 0;
layout(std430, binding = 0) writeonly buffer D { float d[]; };
layout(std430, binding = 1) readonly buffer S { float s[]; };
layout(std430, binding = 0) writeonly buffer D4 { vec4 d4[]; };
layout(std430, binding = 1) readonly buffer S4 { vec4 s4[]; };

float f(float x)
{
    float p0 = pc.f[0], p1 = pc.f[1];
    switch (OP) {
    case 0: return -x;
    case 1: return abs(x);
    case 2: return exp(x);
    case 3: return log(x);
    case 4: return sqrt(x);
    case 5: return 1.0 / sqrt(x);
    case 6: return x * x;
    case 7: return 1.0 / x;
    case 8: return sin(x);
    case 9: return cos(x);
    case 10: return tanh_acc(x);
    case 11: return sigmoid_acc(x);
    case 12: return x > 0.0 ? x : (isnan(x) ? x : 0.0);
    case 13: return x > 0.0 ? x : x * p0;
    case 14: return 0.5 * x * (1.0 + erf_acc(x * 0.70710678118654752));
    case 15: return x * gelu_tanh_s(gelu_tanh_z(x));
    case 16: return x * sigmoid_acc(x);
    case 17: {
        float bx = p0 * x;
        return bx > p1 ? x : log1p_acc(exp(bx)) / p0;
    }
    case 18: return x < p0 ? p0 : (x > p1 ? p1 : x);
    case 19: return pow_acc(x, p0);
    case 20: {
        precise float m = x * p0;
        precise float r = m + p1;
        return r;
    }
    case 21: return p0 / x;
    case 22: return x > 0.0 ? 1.0 : (x < 0.0 ? -1.0 : 0.0);
    case 23: return x > 0.0 ? 1.0 : 0.0;
    }
    return x;
}

void main()
{
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
}
