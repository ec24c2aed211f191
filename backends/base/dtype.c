/* backends/base/dtype.c — the dtype table (dtypes.def) as functions, the
 * promotion rule and the 16-bit float conversions. */
#include "base.h"

#include <string.h>

typedef struct dtype_row {
    const char *name;
    size_t bytes;
    agi_dtype_class cls;
    int rank;
} dtype_row;

static const dtype_row table[AG_DTYPE_COUNT] = {
#define AGI_DTYPE(E, name, bytes, cls, rank) [E] = {name, bytes, cls, rank},
#include "dtypes.def"
};

bool agi_dtype_valid(ag_dtype t) { return (unsigned)t < AG_DTYPE_COUNT; }

size_t ag_dtype_size(ag_dtype t) { return agi_dtype_valid(t) ? table[t].bytes : 0; }

const char *ag_dtype_name(ag_dtype t) { return agi_dtype_valid(t) ? table[t].name : "?"; }

agi_dtype_class agi_dtype_class_of(ag_dtype t) { return table[t].cls; }

bool agi_dtype_is_float(ag_dtype t) { return agi_dtype_valid(t) && table[t].cls == AGI_DC_FLOAT; }

ag_dtype agi_promote(ag_dtype a, ag_dtype b)
{
    if (a == b) return a;
    if (table[a].rank == table[b].rank) return AG_F32; /* f16 with bf16 */
    return table[a].rank > table[b].rank ? a : b;
}

static uint32_t f_bits(float x)
{
    uint32_t u;
    memcpy(&u, &x, 4);
    return u;
}

static float bits_f(uint32_t u)
{
    float x;
    memcpy(&x, &u, 4);
    return x;
}

uint16_t agi_f32_to_f16(float x)
{
    uint32_t u = f_bits(x);
    uint32_t sign = (u >> 16) & 0x8000u;
    uint32_t a = u & 0x7fffffffu;
    if (a >= 0x7f800000u) /* inf or NaN (quiet, keeps the top payload bits) */
        return (uint16_t)(sign | 0x7c00u | (a > 0x7f800000u ? 0x200u | ((a >> 13) & 0x3ffu) : 0u));
    if (a >= 0x477ff000u) return (uint16_t)(sign | 0x7c00u); /* rounds past 65504 */
    if (a < 0x38800000u) {                                   /* f16 subnormal or zero */
        if (a < 0x33000000u) return (uint16_t)sign;          /* below half the least subnormal */
        uint32_t m = (a & 0x7fffffu) | 0x800000u;
        /* value = m * 2^(e - 150) with e the f32 exponent field, and the
         * f16 subnormal unit is 2^-24: q = m >> (126 - e), shift 14..24 */
        int shift = 126 - (int)(a >> 23);
        uint32_t q = m >> shift, rem = m & ((1u << shift) - 1u), half = 1u << (shift - 1);
        if (rem > half || (rem == half && (q & 1u))) q++;
        return (uint16_t)(sign | q);
    }
    uint32_t r = a - 0x38000000u; /* rebias exponent 127 -> 15 */
    uint32_t q = r >> 13, rem = r & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (q & 1u))) q++;
    return (uint16_t)(sign | q);
}

float agi_f16_to_f32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t e = (h >> 10) & 0x1fu, m = h & 0x3ffu;
    if (e == 0x1fu) return bits_f(sign | 0x7f800000u | (m << 13));
    if (e == 0) {
        if (m == 0) return bits_f(sign);
        float v = (float)m * (1.0f / 16777216.0f); /* m * 2^-24, exact */
        return sign ? -v : v;
    }
    return bits_f(sign | ((e + 112u) << 23) | (m << 13));
}

uint16_t agi_f32_to_bf16(float x)
{
    uint32_t u = f_bits(x);
    if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t)((u >> 16) | 0x40u); /* quiet NaN */
    u += 0x7fffu + ((u >> 16) & 1u);
    return (uint16_t)(u >> 16);
}

float agi_bf16_to_f32(uint16_t h) { return bits_f((uint32_t)h << 16); }
