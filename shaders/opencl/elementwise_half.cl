/* shaders/opencl/elementwise_half.cl — COPY involving a 16-bit float, and
 * FILL of one (after elementwise.cl, whose AG_COPY_KERNEL it uses). 16-bit
 * values are ushort storage, converted in registers by half_conv.h (round
 * to nearest even, as on every backend), so no cl_khr_fp16 is needed. The
 * other conversions are elementwise.cl's: to i32 truncates toward zero, to
 * u8 goes through i32 and keeps 8 bits. */

__kernel void fill_u16(__global ushort *d, geom_t g, uint v)
{
    EW_BODY(g, 1, d[o[0]] = (ushort)v;)
}

AG_COPY_KERNEL(copy_f32_f16, float, ushort, (ushort)ag_f16_from_f32_bits(as_uint(x)))
AG_COPY_KERNEL(copy_f32_bf16, float, ushort, (ushort)ag_bf16_from_f32_bits(as_uint(x)))
AG_COPY_KERNEL(copy_i32_f16, int, ushort, (ushort)ag_f16_from_f32_bits(as_uint((float)x)))
AG_COPY_KERNEL(copy_i32_bf16, int, ushort, (ushort)ag_bf16_from_f32_bits(as_uint((float)x)))
AG_COPY_KERNEL(copy_u8_f16, uchar, ushort, (ushort)ag_f16_from_f32_bits(as_uint((float)x)))
AG_COPY_KERNEL(copy_u8_bf16, uchar, ushort, (ushort)ag_bf16_from_f32_bits(as_uint((float)x)))
AG_COPY_KERNEL(copy_f16_f32, ushort, float, as_float(ag_f16_to_f32_bits((uint)x)))
AG_COPY_KERNEL(copy_f16_i32, ushort, int, convert_int_sat_rtz(as_float(ag_f16_to_f32_bits((uint)x))))
AG_COPY_KERNEL(copy_f16_u8, ushort, uchar, (uchar)((uint)convert_int_sat_rtz(as_float(ag_f16_to_f32_bits((uint)x))) & 0xffu))
AG_COPY_KERNEL(copy_f16_f16, ushort, ushort, x)
AG_COPY_KERNEL(copy_f16_bf16, ushort, ushort, (ushort)ag_bf16_from_f32_bits(as_uint(as_float(ag_f16_to_f32_bits((uint)x)))))
AG_COPY_KERNEL(copy_bf16_f32, ushort, float, as_float(ag_bf16_to_f32_bits((uint)x)))
AG_COPY_KERNEL(copy_bf16_i32, ushort, int, convert_int_sat_rtz(as_float(ag_bf16_to_f32_bits((uint)x))))
AG_COPY_KERNEL(copy_bf16_u8, ushort, uchar, (uchar)((uint)convert_int_sat_rtz(as_float(ag_bf16_to_f32_bits((uint)x))) & 0xffu))
AG_COPY_KERNEL(copy_bf16_f16, ushort, ushort, (ushort)ag_f16_from_f32_bits(as_uint(as_float(ag_bf16_to_f32_bits((uint)x)))))
AG_COPY_KERNEL(copy_bf16_bf16, ushort, ushort, x)
