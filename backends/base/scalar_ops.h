/*
 * backends/base/scalar_ops.h — the scalar formula of every elementwise
 * float sub-op of kernel_ops.def, written once for C (the CPU backend), GLSL
 * (shaders/vulkan, which includes common.glsl first for its accurate
 * transcendental helpers) and OpenCL C 1.2 (embedded ahead of the .cl files).
 *
 *   ag_un_<name>(x, p0, p1)      AGI_K_UNARY, p0/p1 = params.f[0], f[1]
 *   ag_bi_<name>(a, b, p0, p1)   AGI_K_BINARY with a float result
 *
 * The language differences are the few macros below: the math functions, the
 * function qualifier and `precise` (GLSL may otherwise fuse x * p0 + p1; C11
 * and the OpenCL program, FP_CONTRACT OFF, do not). Literals carry the f
 * suffix all three accept. Adding a unary op: one line in kernel_ops.def and
 * one function here.
 */
#ifndef AG_SCALAR_OPS_H
#define AG_SCALAR_OPS_H

#if defined(VULKAN) /* GLSL for Vulkan (glslang -V) */
#define AG_FN
#define AG_PRECISE precise
#define AG_EXP exp
#define AG_LOG log
#define AG_SQRT sqrt
#define AG_SIN sin
#define AG_COS cos
#define AG_ABS abs
#define AG_TANH tanh_acc
#define AG_ERF erf_acc
#define AG_LOG1P log1p_acc
#define AG_POW pow_acc
#define AG_ISNAN(x) isnan(x)
#elif defined(__OPENCL_VERSION__) || defined(__OPENCL_C_VERSION__)
#pragma OPENCL FP_CONTRACT OFF
#define AG_FN
#define AG_PRECISE
#define AG_EXP exp
#define AG_LOG log
#define AG_SQRT sqrt
#define AG_SIN sin
#define AG_COS cos
#define AG_ABS fabs
#define AG_TANH tanh
#define AG_ERF erf
#define AG_LOG1P log1p
#define AG_POW pow
#define AG_ISNAN(x) isnan(x)
#else /* C11 */
#include <math.h>
#define AG_FN static inline
#define AG_PRECISE
#define AG_EXP expf
#define AG_LOG logf
#define AG_SQRT sqrtf
#define AG_SIN sinf
#define AG_COS cosf
#define AG_ABS fabsf
#define AG_TANH tanhf
#define AG_ERF erff
#define AG_LOG1P log1pf
#define AG_POW powf
#define AG_ISNAN(x) ((x) != (x))
#endif

#define AG_SQRT_2_OVER_PI 0.79788456080286536f
#define AG_GELU_C 0.044715f
#define AG_INV_SQRT_2 0.70710678118654752f
#define AG_INV_SQRT_2PI 0.39894228040143268f

AG_FN float ag_sigmoid(float x) { return 1.0f / (1.0f + AG_EXP(-x)); }

/* GELU with the tanh approximation in its saturating form:
 * 0.5 (1 + tanh(u)) = sigmoid(z), z = 2u = 2c (x + q x^3), exactly 0 or 1
 * for |z| > 40. */
AG_FN float ag_gelu_tanh_z(float x) { return 2.0f * AG_SQRT_2_OVER_PI * (x + AG_GELU_C * x * x * x); }
AG_FN float ag_gelu_tanh_s(float z)
{
    return z > 40.0f ? 1.0f : (z < -40.0f ? 0.0f : 1.0f / (1.0f + AG_EXP(-z)));
}

/* ---- Unary ---------------------------------------------------------------- */

AG_FN float ag_un_neg(float x, float p0, float p1) { return -x; }
AG_FN float ag_un_abs(float x, float p0, float p1) { return AG_ABS(x); }
AG_FN float ag_un_exp(float x, float p0, float p1) { return AG_EXP(x); }
AG_FN float ag_un_log(float x, float p0, float p1) { return AG_LOG(x); }
AG_FN float ag_un_sqrt(float x, float p0, float p1) { return AG_SQRT(x); }
AG_FN float ag_un_rsqrt(float x, float p0, float p1) { return 1.0f / AG_SQRT(x); }
AG_FN float ag_un_square(float x, float p0, float p1) { return x * x; }
AG_FN float ag_un_recip(float x, float p0, float p1) { return 1.0f / x; }
AG_FN float ag_un_sin(float x, float p0, float p1) { return AG_SIN(x); }
AG_FN float ag_un_cos(float x, float p0, float p1) { return AG_COS(x); }
AG_FN float ag_un_tanh(float x, float p0, float p1) { return AG_TANH(x); }
AG_FN float ag_un_sigmoid(float x, float p0, float p1) { return ag_sigmoid(x); }
AG_FN float ag_un_relu(float x, float p0, float p1) { return x > 0.0f ? x : (AG_ISNAN(x) ? x : 0.0f); }
AG_FN float ag_un_leaky_relu(float x, float p0, float p1) { return x > 0.0f ? x : x * p0; }
AG_FN float ag_un_gelu(float x, float p0, float p1) { return 0.5f * x * (1.0f + AG_ERF(x * AG_INV_SQRT_2)); }
AG_FN float ag_un_gelu_tanh(float x, float p0, float p1) { return x * ag_gelu_tanh_s(ag_gelu_tanh_z(x)); }
AG_FN float ag_un_silu(float x, float p0, float p1) { return x * ag_sigmoid(x); }
AG_FN float ag_un_softplus(float x, float p0, float p1)
{
    float bx = p0 * x;
    return bx > p1 ? x : AG_LOG1P(AG_EXP(bx)) / p0;
}
AG_FN float ag_un_clamp(float x, float p0, float p1) { return x < p0 ? p0 : (x > p1 ? p1 : x); }
AG_FN float ag_un_pow(float x, float p0, float p1) { return AG_POW(x, p0); }
AG_FN float ag_un_affine(float x, float p0, float p1)
{
    AG_PRECISE float m = x * p0;
    AG_PRECISE float r = m + p1;
    return r;
}
AG_FN float ag_un_rdiv(float x, float p0, float p1) { return p0 / x; }
AG_FN float ag_un_sign(float x, float p0, float p1) { return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f); }
AG_FN float ag_un_step(float x, float p0, float p1) { return x > 0.0f ? 1.0f : 0.0f; }

/* ---- Binary with a float result (a = src0, b = src1) ------------------------ */

AG_FN float ag_bi_add(float a, float b, float p0, float p1) { return a + b; }
AG_FN float ag_bi_sub(float a, float b, float p0, float p1) { return a - b; }
AG_FN float ag_bi_mul(float a, float b, float p0, float p1) { return a * b; }
AG_FN float ag_bi_div(float a, float b, float p0, float p1) { return a / b; }
AG_FN float ag_bi_pow(float a, float b, float p0, float p1) { return AG_POW(a, b); }
/* max/min propagate NaN (torch.maximum / torch.minimum) */
AG_FN float ag_bi_max(float a, float b, float p0, float p1) { return (a > b || AG_ISNAN(a)) ? a : b; }
AG_FN float ag_bi_min(float a, float b, float p0, float p1) { return (a < b || AG_ISNAN(a)) ? a : b; }
/* activation backward: a = dy, b = x (or the output y) */
AG_FN float ag_bi_relu_bwd(float a, float b, float p0, float p1) { return b > 0.0f ? a : 0.0f; }
AG_FN float ag_bi_leaky_relu_bwd(float a, float b, float p0, float p1) { return b > 0.0f ? a : a * p0; }
AG_FN float ag_bi_gelu_bwd(float a, float b, float p0, float p1)
{
    float cdf = 0.5f * (1.0f + AG_ERF(b * AG_INV_SQRT_2));
    float pdf = AG_INV_SQRT_2PI * AG_EXP(-0.5f * b * b);
    return a * (cdf + b * pdf);
}
AG_FN float ag_bi_gelu_tanh_bwd(float a, float b, float p0, float p1)
{
    float z = ag_gelu_tanh_z(b), s = ag_gelu_tanh_s(z);
    if (z > 40.0f || z < -40.0f) return a * s;
    float dz = 2.0f * AG_SQRT_2_OVER_PI * (1.0f + 3.0f * AG_GELU_C * b * b);
    return a * (s + b * s * (1.0f - s) * dz);
}
AG_FN float ag_bi_silu_bwd(float a, float b, float p0, float p1)
{
    float s = ag_sigmoid(b);
    return a * s * (1.0f + b * (1.0f - s));
}
AG_FN float ag_bi_sigmoid_bwd(float a, float b, float p0, float p1) { return a * b * (1.0f - b); }
AG_FN float ag_bi_tanh_bwd(float a, float b, float p0, float p1) { return a * (1.0f - b * b); }
AG_FN float ag_bi_softplus_bwd(float a, float b, float p0, float p1)
{
    float bx = p0 * b;
    return bx > p1 ? a : a * ag_sigmoid(bx);
}

#endif /* AG_SCALAR_OPS_H */
