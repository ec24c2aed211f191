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

/* ---- UNARY and BINARY on f16 / bf16 data (bf != 0: bf16): computed in f32
 * with the formulas of scalar_ops.h, rounded once. One kernel per dtype
 * pair switching on the op (agi_unary_op / agi_binary_op). */
float ag_h16_load(ushort h, int bf)
{
    return as_float(bf ? ag_bf16_to_f32_bits((uint)h) : ag_f16_to_f32_bits((uint)h));
}

ushort ag_h16_store(float v, int bf)
{
    uint u = as_uint(v);
    return (ushort)(bf ? ag_bf16_from_f32_bits(u) : ag_f16_from_f32_bits(u));
}

#define AG_UN_CASE(E, NAME) \
    case E: return ag_un_##NAME(x, p0, p1);
float ag_unary_any(int op, float x, float p0, float p1)
{
    switch (op) {
        AGI_FOREACH_UNARY(AG_UN_CASE)
    }
    return x;
}

#define AG_BI_CASE(E, NAME) \
    case E: return ag_bi_##NAME(a, b, p0, p1);
float ag_binary_any(int op, float a, float b, float p0, float p1)
{
    switch (op) {
        AGI_FOREACH_BINARY_FLOAT(AG_BI_CASE)
    }
    return a;
}

__kernel void unary_h16(__global ushort *d, __global const ushort *s, geom_t g, float p0, float p1,
                        int op, int bf)
{
    EW_BODY(g, 2, d[o[0]] = ag_h16_store(ag_unary_any(op, ag_h16_load(s[o[1]], bf), p0, p1), bf);)
}

__kernel void binary_h16(__global ushort *d, __global const ushort *a, __global const ushort *b,
                         geom_t g, float p0, float p1, int op, int bf)
{
    EW_BODY(g, 3,
            d[o[0]] = ag_h16_store(ag_binary_any(op, ag_h16_load(a[o[1]], bf), ag_h16_load(b[o[2]], bf), p0, p1),
                                   bf);)
}
