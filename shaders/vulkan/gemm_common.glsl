// shaders/vulkan/gemm_common.glsl — GEMM push constants and bindings:
// C[b] = alpha * A[b] @ B[b] + beta * C[b]; A: [M, K] with strides (sam, sak),
// B: [K, N] with strides (sbk, sbn), C row-major with row stride scm.
// HALF 1 / 2 (kernels that define it): A, B and C hold f16 / bf16
// (half_io.glsl; S16: 16-bit storage), converted in registers: the products
// and sums stay f32 and C is rounded once. LOAD_A / LOAD_B read an element as
// f32 either way.
#ifndef HALF
#define HALF 0
#endif
#if HALF == 0
layout(std430, binding = 0) buffer C { float c[]; };
layout(std430, binding = 1) readonly buffer A { float a[]; };
layout(std430, binding = 2) readonly buffer B { float b[]; };
layout(std430, binding = 1) readonly buffer A4 { vec4 a4[]; };
layout(std430, binding = 2) readonly buffer B4 { vec4 b4[]; };
#define LOAD_A(i) a[(i)]
#define LOAD_B(i) b[(i)]
#else
#include "half_io.glsl"
layout(std430, binding = 0) buffer C { H_WORD c[]; };
layout(std430, binding = 1) readonly buffer A { H_WORD a[]; };
layout(std430, binding = 2) readonly buffer B { H_WORD b[]; };
#define LOAD_A(i) H_LOAD(a, (i))
#define LOAD_B(i) H_LOAD(b, (i))
#endif
layout(push_constant) uniform PC {
    uint M, N, K, zbase;
    uint aoff, sam, sak, sab;
    uint boff, sbk, sbn, sbb;
    uint coff, scm, scb;
    float alpha, beta;
} pc;

void store_c(uint idx, float acc)
{
#if HALF == 0
    if (pc.beta == 0.0) c[idx] = pc.alpha * acc;
    else c[idx] = pc.alpha * acc + pc.beta * c[idx];
#else
    float v = pc.beta == 0.0 ? pc.alpha * acc : pc.alpha * acc + pc.beta * H_LOAD(c, idx);
    H_STORE(c, idx, v);
#endif
}
