/*
 * backends/base/half_conv.h — f32 <-> f16 and f32 <-> bf16 on bit patterns,
 * written once for C, GLSL and OpenCL C (like scalar_ops.h), so every backend
 * rounds identically: to nearest even, f16 overflow to inf, f16 subnormals
 * kept, NaN stays a quiet NaN. Integer arithmetic only, so a device that
 * flushes float denormals still converts exactly. A 16-bit value travels in
 * the low bits of a 32-bit word.
 */
#ifndef AG_HALF_CONV_H
#define AG_HALF_CONV_H

#if defined(VULKAN) || defined(__OPENCL_VERSION__) || defined(__OPENCL_C_VERSION__)
#define AG_HC_FN
#define AG_U32 uint
#else
#include <stdint.h>
#define AG_HC_FN static inline
#define AG_U32 uint32_t
#endif

/* f32 bits -> f16 bits */
AG_HC_FN AG_U32 ag_f16_from_f32_bits(AG_U32 u)
{
    AG_U32 sign = (u >> 16) & 0x8000u;
    AG_U32 a = u & 0x7fffffffu;
    if (a > 0x7f800000u) return sign | 0x7e00u | ((a >> 13) & 0x3ffu); /* NaN, quiet */
    if (a >= 0x477ff000u) return sign | 0x7c00u;                      /* inf, or rounds past 65504 */
    if (a < 0x38800000u) {                                             /* f16 subnormal or zero */
        if (a < 0x33000000u) return sign;                              /* below half the least subnormal */
        /* value = m 2^(e - 150), e the exponent field (102..112); unit 2^-24 */
        AG_U32 m = (a & 0x7fffffu) | 0x800000u;
        AG_U32 shift = 126u - (a >> 23);
        AG_U32 q = m >> shift, rem = m & ((1u << shift) - 1u), mid = 1u << (shift - 1u);
        if (rem > mid || (rem == mid && (q & 1u) != 0u)) q += 1u;
        return sign | q;
    }
    AG_U32 r = a - 0x38000000u; /* exponent bias 127 -> 15 */
    AG_U32 q = r >> 13, rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u) != 0u)) q += 1u;
    return sign | q;
}

/* f16 bits -> f32 bits (exact) */
AG_HC_FN AG_U32 ag_f16_to_f32_bits(AG_U32 h)
{
    AG_U32 sign = (h & 0x8000u) << 16;
    AG_U32 e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1fu) return sign | 0x7f800000u | (m << 13);
    if (e == 0u) {
        if (m == 0u) return sign;
        e = 113u; /* normalise: value = m 2^-24 */
        while ((m & 0x400u) == 0u) {
            m <<= 1;
            e -= 1u;
        }
        return sign | (e << 23) | ((m & 0x3ffu) << 13);
    }
    return sign | ((e + 112u) << 23) | (m << 13);
}

/* f32 bits -> bf16 bits */
AG_HC_FN AG_U32 ag_bf16_from_f32_bits(AG_U32 u)
{
    if ((u & 0x7fffffffu) > 0x7f800000u) return (u >> 16) | 0x40u; /* NaN, quiet */
    return (u + 0x7fffu + ((u >> 16) & 1u)) >> 16;
}

/* bf16 bits -> f32 bits (exact) */
AG_HC_FN AG_U32 ag_bf16_to_f32_bits(AG_U32 h) { return (h & 0xffffu) << 16; }

#endif /* AG_HALF_CONV_H */
