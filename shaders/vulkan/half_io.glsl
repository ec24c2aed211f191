// shaders/vulkan/half_io.glsl — 16-bit float elements (HALF 1: f16, 2: bf16)
// on any device: packed two to a uint word, read by extracting their half,
// written with atomicAnd/atomicOr on their half (the neighbour, maybe written
// by another invocation at the same time, keeps its bits), converted in
// registers by half_conv.h (round to nearest even, as on every backend).
// Element indices count 16-bit elements.
#include "half_conv.h"

float h_get(uint word, uint e)
{
    uint b = (word >> ((e & 1u) * 16u)) & 0xffffu;
    return uintBitsToFloat(HALF == 1 ? ag_f16_to_f32_bits(b) : ag_bf16_to_f32_bits(b));
}

uint h_bits(float v)
{
    uint u = floatBitsToUint(v);
    return HALF == 1 ? ag_f16_from_f32_bits(u) : ag_bf16_from_f32_bits(u);
}

#define H_LOAD(buf, e) h_get(buf[(e) >> 1], (e))
#define H_STORE(buf, e, v)                                    \
    {                                                         \
        uint e_ = (e), sh_ = (e_ & 1u) * 16u, b_ = h_bits(v); \
        atomicAnd(buf[e_ >> 1], ~(0xffffu << sh_));           \
        atomicOr(buf[e_ >> 1], b_ << sh_);                    \
    }
