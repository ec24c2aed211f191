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
 * devices (every case gets evaluated). p0, p1 = params.f[0], f[1]. ---- */

#define AG_SQRT_2_OVER_PI 0.7978845608028654f
#define AG_GELU_C 0.044715f

float un_neg(float x, float p0, float p1) { return -x; }
float un_abs(float x, float p0, float p1) { return fabs(x); }
float un_exp(float x, float p0, float p1) { return exp(x); }
float un_log(float x, float p0, float p1) { return log(x); }
float un_sqrt(float x, float p0, float p1) { return sqrt(x); }
float un_rsqrt(float x, float p0, float p1) { return 1.0f / sqrt(x); }
float un_square(float x, float p0, float p1) { return x * x; }
float un_recip(float x, float p0, float p1) { return 1.0f / x; }
float un_sin(float x, float p0, float p1) { return sin(x); }
float un_cos(float x, float p0, float p1) { return cos(x); }
float un_tanh(float x, float p0, float p1) { return tanh(x); }
float un_sigmoid(float x, float p0, float p1) { return ag_sigmoid(x); }
float un_relu(float x, float p0, float p1) { return x > 0.0f ? x : (isnan(x) ? x : 0.0f); }
float un_leaky_relu(float x, float p0, float p1) { return x > 0.0f ? x : x * p0; }
float un_gelu(float x, float p0, float p1)
{
    return 0.5f * x * (1.0f + erf(x * 0.70710678118654752f));
}
/* GELU (tanh approximation) in the saturating form of every backend:
 * 0.5 (1 + tanh(u)) = sigmoid(z), z = 2u, exactly 0 or 1 for |z| > 40. */
float ag_gelu_tanh_s(float z)
{
    return z > 40.0f ? 1.0f : (z < -40.0f ? 0.0f : 1.0f / (1.0f + exp(-z)));
}
float un_gelu_tanh(float x, float p0, float p1)
{
    float z = 2.0f * AG_SQRT_2_OVER_PI * (x + AG_GELU_C * x * x * x);
    return x * ag_gelu_tanh_s(z);
}
float un_silu(float x, float p0, float p1) { return x * ag_sigmoid(x); }
float un_softplus(float x, float p0, float p1)
{
    float bx = p0 * x;
    return bx > p1 ? x : log1p(exp(bx)) / p0;
}
float un_clamp(float x, float p0, float p1) { return x < p0 ? p0 : (x > p1 ? p1 : x); }
float un_pow(float x, float p0, float p1) { return pow(x, p0); }
float un_affine(float x, float p0, float p1) { return x * p0 + p1; }
float un_rdiv(float x, float p0, float p1) { return p0 / x; }
float un_sign(float x, float p0, float p1)
{
    return x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f);
}
float un_step(float x, float p0, float p1) { return x > 0.0f ? 1.0f : 0.0f; }

#define AG_UNARY_KERNEL(NAME)                                                           \
    __kernel void unary_##NAME(__global float *d, __global const float *s, geom_t g,     \
                               float p0, float p1)                                      \
    {                                                                                   \
        EW_BODY(g, 2, d[o[0]] = un_##NAME(s[o[1]], p0, p1);)                            \
    }

AG_UNARY_KERNEL(neg)
AG_UNARY_KERNEL(abs)
AG_UNARY_KERNEL(exp)
AG_UNARY_KERNEL(log)
AG_UNARY_KERNEL(sqrt)
AG_UNARY_KERNEL(rsqrt)
AG_UNARY_KERNEL(square)
AG_UNARY_KERNEL(recip)
AG_UNARY_KERNEL(sin)
AG_UNARY_KERNEL(cos)
AG_UNARY_KERNEL(tanh)
AG_UNARY_KERNEL(sigmoid)
AG_UNARY_KERNEL(relu)
AG_UNARY_KERNEL(leaky_relu)
AG_UNARY_KERNEL(gelu)
AG_UNARY_KERNEL(gelu_tanh)
AG_UNARY_KERNEL(silu)
AG_UNARY_KERNEL(softplus)
AG_UNARY_KERNEL(clamp)
AG_UNARY_KERNEL(pow)
AG_UNARY_KERNEL(affine)
AG_UNARY_KERNEL(rdiv)
AG_UNARY_KERNEL(sign)
AG_UNARY_KERNEL(step)

/* ---- BINARY. view 0 = dst, 1 = a (src0), 2 = b (src1). f32: one kernel per
 * agi_binary_op (binary_<name>); i32 arithmetic and comparisons (all cheap)
 * switch on the op. ---- */
enum {
    B_ADD, B_SUB, B_MUL, B_DIV, B_POW, B_MAX, B_MIN, B_EQ, B_NE, B_LT, B_LE, B_GT, B_GE
};

float bi_add(float a, float b, float p0, float p1) { return a + b; }
float bi_sub(float a, float b, float p0, float p1) { return a - b; }
float bi_mul(float a, float b, float p0, float p1) { return a * b; }
float bi_div(float a, float b, float p0, float p1) { return a / b; }
float bi_pow(float a, float b, float p0, float p1) { return pow(a, b); }
float bi_max(float a, float b, float p0, float p1) { return (a > b || isnan(a)) ? a : b; }
float bi_min(float a, float b, float p0, float p1) { return (a < b || isnan(a)) ? a : b; }
float bi_relu_bwd(float a, float b, float p0, float p1) { return b > 0.0f ? a : 0.0f; }
float bi_leaky_relu_bwd(float a, float b, float p0, float p1) { return b > 0.0f ? a : a * p0; }
float bi_gelu_bwd(float a, float b, float p0, float p1)
{
    float cdf = 0.5f * (1.0f + erf(b * 0.70710678118654752f));
    float pdf = exp(-0.5f * b * b) * 0.3989422804014327f;
    return a * (cdf + b * pdf);
}
float bi_gelu_tanh_bwd(float a, float b, float p0, float p1)
{
    float b2 = b * b;
    float z = 2.0f * AG_SQRT_2_OVER_PI * (b + AG_GELU_C * b2 * b);
    float s = ag_gelu_tanh_s(z);
    if (z > 40.0f || z < -40.0f) return a * s;
    float dz = 2.0f * AG_SQRT_2_OVER_PI * (1.0f + 3.0f * AG_GELU_C * b2);
    return a * (s + b * s * (1.0f - s) * dz);
}
float bi_silu_bwd(float a, float b, float p0, float p1)
{
    float s = ag_sigmoid(b);
    return a * s * (1.0f + b * (1.0f - s));
}
float bi_sigmoid_bwd(float a, float b, float p0, float p1) { return a * b * (1.0f - b); }
float bi_tanh_bwd(float a, float b, float p0, float p1) { return a * (1.0f - b * b); }
float bi_softplus_bwd(float a, float b, float p0, float p1)
{
    float bx = p0 * b;
    return bx > p1 ? a : a * ag_sigmoid(bx);
}

#define AG_BINARY_KERNEL(NAME)                                                          \
    __kernel void binary_##NAME(__global float *d, __global const float *a,              \
                                __global const float *b, geom_t g, float p0, float p1)  \
    {                                                                                   \
        EW_BODY(g, 3, d[o[0]] = bi_##NAME(a[o[1]], b[o[2]], p0, p1);)                   \
    }

AG_BINARY_KERNEL(add)
AG_BINARY_KERNEL(sub)
AG_BINARY_KERNEL(mul)
AG_BINARY_KERNEL(div)
AG_BINARY_KERNEL(pow)
AG_BINARY_KERNEL(max)
AG_BINARY_KERNEL(min)
AG_BINARY_KERNEL(relu_bwd)
AG_BINARY_KERNEL(leaky_relu_bwd)
AG_BINARY_KERNEL(gelu_bwd)
AG_BINARY_KERNEL(gelu_tanh_bwd)
AG_BINARY_KERNEL(silu_bwd)
AG_BINARY_KERNEL(sigmoid_bwd)
AG_BINARY_KERNEL(tanh_bwd)
AG_BINARY_KERNEL(softplus_bwd)

int binary_int(int op, int x, int y)
{
    switch (op) {
    case B_ADD: return (int)((uint)x + (uint)y);
    case B_SUB: return (int)((uint)x - (uint)y);
    case B_MUL: return (int)((uint)x * (uint)y);
    case B_MAX: return x > y ? x : y;
    case B_MIN: return x < y ? x : y;
    }
    return 0;
}

__kernel void binary_i32(__global int *d, __global const int *a, __global const int *b, geom_t g,
                         int op)
{
    EW_BODY(g, 3, d[o[0]] = binary_int(op, a[o[1]], b[o[2]]);)
}

#define compare_op(op, x, y)                                                             \
    ((op) == B_EQ ? (x) == (y) : (op) == B_NE ? (x) != (y) : (op) == B_LT ? (x) < (y)          \
     : (op) == B_LE ? (x) <= (y) : (op) == B_GT ? (x) > (y) : (x) >= (y))

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
