#version 450
// SGD / ADAM / RMSPROP in place over contiguous f32 buffers (see
// agi_optim_params in backends/backend.h). Specialization constant 2:
// 0 SGD, 1 Adam(W), 2 RMSprop. Binding 0 param, 1 grad, 2 state 1, 3 state 2,
// 4 (when pc.hyper != 0) the step's {lr, bias1, bias2, first_step} at pc.oh.
#extension GL_GOOGLE_include_directive : require
#include "common.glsl"
layout(constant_id = 2) const int OP = 0;
layout(std430, binding = 0) buffer P { float p[]; };
layout(std430, binding = 1) readonly buffer G { float gr[]; };
layout(std430, binding = 2) buffer S1 { float s1[]; };
layout(std430, binding = 3) buffer S2 { float s2[]; };
layout(std430, binding = 4) readonly buffer H { float h[]; };
layout(push_constant) uniform PC {
    uint n, op, o1, o2, o3;
    float lr, wd, momentum, dampening, beta1, beta2, eps, bias1, bias2;
    int nesterov, first_step, decoupled;
    uint oh;
    int hyper;
} pc;

void main()
{
    uint i = lin_id();
    if (i >= pc.n) return;
    uint ip = pc.op + i, ig = pc.o1 + i, i1 = pc.o2 + i, i2 = pc.o3 + i;
    float lr = pc.lr, bias1 = pc.bias1, bias2 = pc.bias2;
    bool first = pc.first_step != 0;
    if (pc.hyper != 0) {
        lr = h[pc.oh];
        bias1 = h[pc.oh + 1];
        bias2 = h[pc.oh + 2];
        first = h[pc.oh + 3] != 0.0;
    }
    float w = p[ip];
    float g = gr[ig];
    if (OP == 0) {
        g = g + pc.wd * w;
        if (pc.momentum != 0.0) {
            float b = first ? g : pc.momentum * s1[i1] + (1.0 - pc.dampening) * g;
            s1[i1] = b;
            g = pc.nesterov != 0 ? g + pc.momentum * b : b;
        }
        p[ip] = w - lr * g;
    } else if (OP == 1) {
        if (pc.decoupled == 0) g = g + pc.wd * w;
        else w = w * (1.0 - lr * pc.wd);
        float m = pc.beta1 * s1[i1] + (1.0 - pc.beta1) * g;
        float v = pc.beta2 * s2[i2] + (1.0 - pc.beta2) * g * g;
        s1[i1] = m;
        s2[i2] = v;
        p[ip] = w - lr * (m / bias1) / (sqrt(v / bias2) + pc.eps);
    } else {
        g = g + pc.wd * w;
        float s = pc.beta1 * s1[i1] + (1.0 - pc.beta1) * g * g;
        s1[i1] = s;
        float dd = g / (sqrt(s) + pc.eps);
        if (pc.momentum != 0.0) {
            float b = pc.momentum * s2[i2] + dd;
            s2[i2] = b;
            dd = b;
        }
        p[ip] = w - lr * dd;
    }
}
