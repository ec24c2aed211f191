// shaders/vulkan/half_io.glsl — 16-bit float elements (HALF 1: f16, 2: bf16),
// converted in registers by half_conv.h (round to nearest even, as on every
// backend). Element indices count 16-bit elements. Two storage modes:
//   S16 defined: the device has storageBuffer16BitAccess, buffers hold
//     uint16_t and an element is one plain load or store;
//   otherwise (any device): packed two to a uint word, read by extracting
//     their half and written with atomicAnd/atomicOr on their half, so the
//     neighbour, maybe written by another invocation at the same time,
//     keeps its bits.
// Declare 16-bit buffers with H_WORD elements; a buffer written with
// H_STORE must not be writeonly in the packed mode. A shader with S16
// variants enables GL_EXT_shader_16bit_storage at its top.
#include "half_conv.h"

float h_from_bits(uint b)
{
    return uintBitsToFloat(HALF == 1 ? ag_f16_to_f32_bits(b) : ag_bf16_to_f32_bits(b));
}

uint h_bits(float v)
{
    uint u = floatBitsToUint(v);
    return HALF == 1 ? ag_f16_from_f32_bits(u) : ag_bf16_from_f32_bits(u);
}

#ifdef S16
#define H_WORD uint16_t
#define H_LOAD_BITS(buf, e) uint(buf[(e)])
#define H_STORE_BITS(buf, e, bits) \
    {                              \
        buf[(e)] = uint16_t(bits); \
    }
#else
#define H_WORD uint
#define H_LOAD_BITS(buf, e) ((buf[(e) >> 1] >> (((e) & 1u) * 16u)) & 0xffffu)
#define H_STORE_BITS(buf, e, bits)                          \
    {                                                       \
        uint e_ = (e), sh_ = (e_ & 1u) * 16u, b_ = (bits);  \
        atomicAnd(buf[e_ >> 1], ~(0xffffu << sh_));         \
        atomicOr(buf[e_ >> 1], (b_ & 0xffffu) << sh_);      \
    }
#endif
#define H_LOAD(buf, e) h_from_bits(H_LOAD_BITS(buf, e))
#define H_STORE(buf, e, v) H_STORE_BITS(buf, e, h_bits(v))
