/* backends/base/dtype.c — the dtype table (dtypes.def) as functions, the
 * promotion rule and the 16-bit float conversions (half_conv.h). */
#include "base.h"
#include "half_conv.h"

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

uint16_t agi_f32_to_f16(float x) { return (uint16_t)ag_f16_from_f32_bits(f_bits(x)); }
float agi_f16_to_f32(uint16_t h) { return bits_f(ag_f16_to_f32_bits(h)); }
uint16_t agi_f32_to_bf16(float x) { return (uint16_t)ag_bf16_from_f32_bits(f_bits(x)); }
float agi_bf16_to_f32(uint16_t h) { return bits_f(ag_bf16_to_f32_bits(h)); }
