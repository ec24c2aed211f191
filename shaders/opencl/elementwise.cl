/* shaders/opencl/elementwise.cl — FILL, COPY, UNARY, BINARY, WHERE over
 * strided views (geom_t). One work-item per element. */

/* ---- FILL: 4-byte (f32/i32 bit pattern) and 1-byte element types ---- */
__kernel void fill_u32(__global uint *d, geom_t g, uint v)
{
    EW_BODY(g, 1, d[o[0]] = v;)
}

__kernel void fill_u8(__global uchar *d, geom_t g, uint v)
{
    EW_BODY(g, 1, d[o[0]] = (uchar)v;)
}

/* ---- COPY with conversion: copy_<src>_<dst>; view 0 = dst, 1 = src ---- */
#define AG_COPY_KERNEL(NAME, ST, DT, CONV)                                  \
    __kernel void NAME(__global DT *d, __global const ST *s, geom_t g)      \
    {                                                                        \
        EW_BODY(g, 2, ST x = s[o[1]]; d[o[0]] = CONV;)                       \
    }

AG_COPY_KERNEL(copy_u32_u32, uint, uint, x)
AG_COPY_KERNEL(copy_u8_u8, uchar, uchar, x)
AG_COPY_KERNEL(copy_f32_i32, float, int, convert_int_sat_rtz(x))
AG_COPY_KERNEL(copy_f32_u8, float, uchar, (uchar)((uint)convert_int_sat_rtz(x) & 0xffu))
AG_COPY_KERNEL(copy_i32_f32, int, float, (float)x)
AG_COPY_KERNEL(copy_i32_u8, int, uchar, (uchar)((uint)x & 0xffu))
AG_COPY_KERNEL(copy_u8_f32, uchar, float, (float)x)
AG_COPY_KERNEL(copy_u8_i32, uchar, int, (int)x)

/* ---- UNARY (f32): one kernel per agi_unary_op (unary_<name>), as a switch
 * on the op inside one kernel defeats the work-group vectorizer of CPU-type
 * devices (every case gets evaluated). The list comes from kernel_ops.def,
 * the formulas ag_un_<name> from scalar_ops.h. p0, p1 = params.f[0], f[1]. */
#define AG_UNARY_KERNEL(E, NAME)                                                        \
    __kernel void unary_##NAME(__global float *d, __global const float *s, geom_t g,     \
                               float p0, float p1)                                      \
    {                                                                                   \
        EW_BODY(g, 2, d[o[0]] = ag_un_##NAME(s[o[1]], p0, p1);)                         \
    }

AGI_FOREACH_UNARY(AG_UNARY_KERNEL)

/* ---- BINARY. view 0 = dst, 1 = a (src0), 2 = b (src1). Float results: one
 * kernel per agi_binary_op (binary_<name>, formulas ag_bi_<name>); i32
 * arithmetic and comparisons (all cheap) switch on the op. ---- */
#define AG_BINARY_KERNEL(E, NAME)                                                       \
    __kernel void binary_##NAME(__global float *d, __global const float *a,              \
                                __global const float *b, geom_t g, float p0, float p1)  \
    {                                                                                   \
        EW_BODY(g, 3, d[o[0]] = ag_bi_##NAME(a[o[1]], b[o[2]], p0, p1);)                \
    }

AGI_FOREACH_BINARY_FLOAT(AG_BINARY_KERNEL)

int binary_int(int op, int x, int y)
{
    switch (op) {
    case AGI_B_ADD: return (int)((uint)x + (uint)y);
    case AGI_B_SUB: return (int)((uint)x - (uint)y);
    case AGI_B_MUL: return (int)((uint)x * (uint)y);
    case AGI_B_MAX: return x > y ? x : y;
    case AGI_B_MIN: return x < y ? x : y;
    }
    return 0;
}

__kernel void binary_i32(__global int *d, __global const int *a, __global const int *b, geom_t g,
                         int op)
{
    EW_BODY(g, 3, d[o[0]] = binary_int(op, a[o[1]], b[o[2]]);)
}

#define compare_op(op, x, y)                                                             \
    ((op) == AGI_B_EQ ? (x) == (y) : (op) == AGI_B_NE ? (x) != (y) : (op) == AGI_B_LT ? (x) < (y)          \
     : (op) == AGI_B_LE ? (x) <= (y) : (op) == AGI_B_GT ? (x) > (y) : (x) >= (y))

#define AG_CMP_KERNEL(NAME, T)                                                                  \
    __kernel void NAME(__global uchar *d, __global const T *a, __global const T *b, geom_t g,    \
                       int op)                                                                  \
    {                                                                                           \
        EW_BODY(g, 3, T x = a[o[1]]; T y = b[o[2]]; d[o[0]] = (uchar)(compare_op(op, x, y));)   \
    }

AG_CMP_KERNEL(compare_f32, float)
AG_CMP_KERNEL(compare_i32, int)

/* ---- WHERE: view 0 = dst, 1 = cond (u8), 2 = a, 3 = b; 4-byte elements ---- */
__kernel void where_u32(__global uint *d, __global const uchar *c, __global const uint *a,
                        __global const uint *b, geom_t g)
{
    EW_BODY(g, 4, d[o[0]] = c[o[1]] != 0 ? a[o[2]] : b[o[3]];)
}

/* ---- EW_FUSED: a chain of elementwise f32 steps (backends/base/fused_ops.h)
 * in one pass. View 0 = dst, 1..3 = src0..src2 (only the first nin are
 * read). fused_t mirrors agi_fused_params. The program is built with
 * FP_CONTRACT OFF (scalar_ops.h), so every step rounds like its own kernel. */
typedef struct {
    int n, nin;
    uint code[AG_FUSED_MAX_STEPS];
    float p[2 * AG_FUSED_MAX_STEPS];
} fused_t;

float fused_step(uint code, float a, float b, float p0, float p1)
{
    uint kind = code & 15u;
    int sub = (int)((code >> 4) & 255u);
    if (kind == AG_FUSED_CONST) return p0;
    if (kind == AG_FUSED_COPY) return a;
    if (kind == AG_FUSED_UNARY) {
        switch (sub) {
#define AG_FUSED_UNARY_CASE(E, NAME) case E: return ag_un_##NAME(a, p0, p1);
        AGI_FOREACH_UNARY(AG_FUSED_UNARY_CASE)
        }
        return a;
    }
    switch (sub) {
#define AG_FUSED_BINARY_CASE(E, NAME) case E: return ag_bi_##NAME(a, b, p0, p1);
    AGI_FOREACH_BINARY_FLOAT(AG_FUSED_BINARY_CASE)
    }
    return 0.0f;
}

float fused_eval(const fused_t *f, __global const float *s0, __global const float *s1,
                 __global const float *s2, const long *o)
{
    float r[AG_FUSED_NREGS];
    r[0] = f->nin > 0 ? s0[o[1]] : 0.0f;
    r[1] = f->nin > 1 ? s1[o[2]] : 0.0f;
    r[2] = f->nin > 2 ? s2[o[3]] : 0.0f;
    for (int j = 0; j < f->n; j++) {
        uint c = f->code[j];
        r[AG_FUSED_MAX_INPUTS + j] =
            fused_step(c, r[(c >> 12) & 15u], r[(c >> 16) & 15u], f->p[2 * j], f->p[2 * j + 1]);
    }
    return r[AG_FUSED_MAX_INPUTS + f->n - 1];
}

__kernel void ew_fused_f32(__global float *d, __global const float *s0, __global const float *s1,
                           __global const float *s2, geom_t g, fused_t f)
{
    EW_BODY(g, 4, d[o[0]] = fused_eval(&f, s0, s1, s2, o);)
}
