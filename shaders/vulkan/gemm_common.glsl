// shaders/vulkan/gemm_common.glsl — GEMM push constants and bindings:
// C[b] = alpha * A[b] @ B[b] + beta * C[b]; A: [M, K] with strides (sam, sak),
// B: [K, N] with strides (sbk, sbn), C row-major with row stride scm.
layout(std430, binding = 0) buffer C { float c[]; };
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 1) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 2) readonly buffer B4 { vec4 b4[]; };
layout(push_constant) uniform PC {
    uint M, N, K, zbase;
    uint aoff, sam, sak, sab;
    uint boff, sbk, sbn, sbb;
    uint coff, scm, scb;
    float alpha, beta;
} pc;

void store_c(uint idx, float acc)
{
    if (pc.beta == 0.0) c[idx] = pc.alpha * acc;
    else c[idx] = pc.alpha * acc + pc.beta * c[idx];
}
