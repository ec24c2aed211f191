/* backends/cpu/cpu_elementwise.c — FILL, COPY, UNARY, BINARY and WHERE.
 *
 * Every kernel coalesces its views (cpu_iter) and processes one inner row at a
 * time. Each row function has a contiguous fast path (all strides 1, or a
 * broadcast scalar operand) written as a plain loop gcc vectorizes at -O2/-O3,
 * and a strided path. */
#include "cpu.h"

#include <math.h>
#include <string.h>

/* f32 → i32 truncating toward zero; out of range (and NaN) gives INT32_MIN
 * like the x86 conversion instruction, without undefined behaviour. */
static inline int32_t f2i(float x)
{
    return (x > -2147483904.0f && x < 2147483648.0f) ? (int32_t)x : INT32_MIN;
}

static inline float sigmoidf_(float x) { return 1.0f / (1.0f + expf(-x)); }

/* GELU with the tanh approximation, in the saturating form every backend
 * uses (backend.h, AGI_U_GELU_TANH): 0.5 (1 + tanh(u)) = sigmoid(z) with
 * z = 2u = 2c (x + q x^3), exactly 0 or 1 for |z| > 40. */
static inline float gelu_tanh_z(float x)
{
    const float c = 0.79788456080286536f, q = 0.044715f;
    return 2.0f * c * (x + q * x * x * x);
}
static inline float gelu_tanh_s(float z)
{
    return z > 40.0f ? 1.0f : z < -40.0f ? 0.0f : 1.0f / (1.0f + expf(-z));
}
static inline float gelu_tanh(float x) { return x * gelu_tanh_s(gelu_tanh_z(x)); }
/* d/dx = s + x s (1 - s) dz/dx; the second term is 0 where s saturated. */
static inline float gelu_tanh_d(float x)
{
    const float c = 0.79788456080286536f, q = 0.044715f;
    const float z = gelu_tanh_z(x), s = gelu_tanh_s(z);
    if (z > 40.0f || z < -40.0f) return s;
    return s + x * s * (1.0f - s) * 2.0f * c * (1.0f + 3.0f * q * x * x);
}

/* ---- FILL ------------------------------------------------------------------ */

typedef struct fill_ctx {
    float f;
    int32_t i;
    uint8_t u;
    ag_dtype dtype;
} fill_ctx;

static void fill_row(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const fill_ctx *c = ctx;
    const int64_t ds = s[0];
    switch (c->dtype) {
    case AG_F32: {
        float *d = (float *)p[0];
        const float v = c->f;
        if (ds == 1) for (int64_t i = 0; i < n; i++) d[i] = v;
        else for (int64_t i = 0; i < n; i++) d[i * ds] = v;
        break;
    }
    case AG_I32: {
        int32_t *d = (int32_t *)p[0];
        const int32_t v = c->i;
        if (ds == 1) for (int64_t i = 0; i < n; i++) d[i] = v;
        else for (int64_t i = 0; i < n; i++) d[i * ds] = v;
        break;
    }
    default: {
        uint8_t *d = (uint8_t *)p[0];
        if (ds == 1) memset(d, c->u, (size_t)n);
        else for (int64_t i = 0; i < n; i++) d[i * ds] = c->u;
        break;
    }
    }
}

ag_status cpu_fill(cpu_device *dev, const agi_kernel *k)
{
    if (!cpu_view_check_any("fill", &k->dst, "dst")) return AG_ERR_INVALID;
    fill_ctx c = {.dtype = k->dst.dtype};
    double v = k->p.s.f[0];
    c.f = (float)v;
    /* Integers: the double converts like an f32 → i32 copy of that value. */
    c.i = (v > -2147483649.0 && v < 2147483648.0) ? (int32_t)v : INT32_MIN;
    c.u = (uint8_t)(uint32_t)c.i;
    const agi_view *views[1] = {&k->dst};
    cpu_iter it;
    cpu_iter_init(&it, views, 1);
    cpu_iter_parallel(dev, &it, CPU_GRAIN_ELEMENTWISE * 4, fill_row, &c);
    return AG_OK;
}

/* ---- COPY ------------------------------------------------------------------ */

/* One row of dst = convert(src) for a dtype pair; conversion `CONV(v)`. */
#define COPY_ROW(DT, ST, CONV)                                                                    \
    do {                                                                                           \
        DT *d = (DT *)p[0];                                                                        \
        const ST *x = (const ST *)p[1];                                                            \
        if (ds == 1 && xs == 1) {                                                                  \
            for (int64_t i = 0; i < n; i++) { ST v = x[i]; d[i] = (DT)(CONV); }                    \
        } else if (ds == 1 && xs == 0) { /* broadcast: a fill */                                   \
            ST v = x[0];                                                                           \
            const DT f = (DT)(CONV);                                                               \
            for (int64_t i = 0; i < n; i++) d[i] = f;                                              \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) { ST v = x[i * xs]; d[i * ds] = (DT)(CONV); }          \
        }                                                                                          \
    } while (0)

static void copy_row(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    const int64_t ds = s[0], xs = s[1];
    ag_dtype dt = k->dst.dtype, st = k->src[0].dtype;
    if (dt == st && ds == 1 && xs == 1) {
        memmove(p[0], p[1], (size_t)n * ag_dtype_size(dt));
        return;
    }
    switch (dt * 3 + st) {
    case AG_F32 * 3 + AG_F32: COPY_ROW(float, float, v); break;
    case AG_F32 * 3 + AG_I32: COPY_ROW(float, int32_t, (float)v); break;
    case AG_F32 * 3 + AG_U8: COPY_ROW(float, uint8_t, (float)v); break;
    case AG_I32 * 3 + AG_F32: COPY_ROW(int32_t, float, f2i(v)); break;
    case AG_I32 * 3 + AG_I32: COPY_ROW(int32_t, int32_t, v); break;
    case AG_I32 * 3 + AG_U8: COPY_ROW(int32_t, uint8_t, (int32_t)v); break;
    case AG_U8 * 3 + AG_F32: COPY_ROW(uint8_t, float, (uint8_t)((uint32_t)f2i(v) & 0xFFu)); break;
    case AG_U8 * 3 + AG_I32: COPY_ROW(uint8_t, int32_t, (uint8_t)((uint32_t)v & 0xFFu)); break;
    case AG_U8 * 3 + AG_U8: COPY_ROW(uint8_t, uint8_t, v); break;
    }
}

ag_status cpu_copy(cpu_device *dev, const agi_kernel *k)
{
    if (!cpu_view_check_any("copy", &k->dst, "dst") ||
        !cpu_view_check_any("copy", &k->src[0], "src0"))
        return AG_ERR_INVALID;
    if (!cpu_same_shape(&k->dst, &k->src[0])) {
        char a[192], b[192];
        return agi_set_error(AG_ERR_INVALID, "cpu: copy: shapes differ: dst %s, src %s",
                             cpu_shape_str(a, &k->dst), cpu_shape_str(b, &k->src[0]));
    }
    const agi_view *views[2] = {&k->dst, &k->src[0]};
    cpu_iter it;
    cpu_iter_init(&it, views, 2);
    cpu_iter_parallel(dev, &it, CPU_GRAIN_ELEMENTWISE, copy_row, (void *)k);
    return AG_OK;
}

/* ---- UNARY ----------------------------------------------------------------- */

#define MAP1(EXPR)                                                                                 \
    do {                                                                                           \
        if (ds == 1 && xs == 1) {                                                                  \
            for (int64_t i = 0; i < n; i++) { const float x = src[i]; d[i] = (EXPR); }             \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) { const float x = src[i * xs]; d[i * ds] = (EXPR); }   \
        }                                                                                          \
    } while (0)

static void unary_row(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    float *d = (float *)p[0];
    const float *src = (const float *)p[1];
    const int64_t ds = s[0], xs = s[1];
    const float a = (float)k->p.s.f[0], b = (float)k->p.s.f[1];
    switch ((agi_unary_op)k->sub) {
    case AGI_U_NEG: MAP1(-x); break;
    case AGI_U_ABS: MAP1(fabsf(x)); break;
    case AGI_U_EXP: MAP1(expf(x)); break;
    case AGI_U_LOG: MAP1(logf(x)); break;
    case AGI_U_SQRT: MAP1(sqrtf(x)); break;
    case AGI_U_RSQRT: MAP1(1.0f / sqrtf(x)); break;
    case AGI_U_SQUARE: MAP1(x * x); break;
    case AGI_U_RECIP: MAP1(1.0f / x); break;
    case AGI_U_SIN: MAP1(sinf(x)); break;
    case AGI_U_COS: MAP1(cosf(x)); break;
    case AGI_U_TANH: MAP1(tanhf(x)); break;
    case AGI_U_SIGMOID: MAP1(sigmoidf_(x)); break;
    case AGI_U_RELU: MAP1(x > 0.0f ? x : (x != x ? x : 0.0f)); break;
    case AGI_U_LEAKY_RELU: MAP1(x > 0.0f ? x : x * a); break;
    case AGI_U_GELU: MAP1(0.5f * x * (1.0f + erff(x * 0.70710678118654752f))); break;
    case AGI_U_GELU_TANH:
        MAP1(gelu_tanh(x));
        break;
    case AGI_U_SILU: MAP1(x * sigmoidf_(x)); break;
    case AGI_U_SOFTPLUS: MAP1(a * x > b ? x : log1pf(expf(a * x)) / a); break;
    case AGI_U_CLAMP: MAP1(x < a ? a : (x > b ? b : x)); break;
    case AGI_U_POW: MAP1(powf(x, a)); break;
    case AGI_U_AFFINE: MAP1(x * a + b); break;
    case AGI_U_RDIV: MAP1(a / x); break;
    case AGI_U_SIGN: MAP1(x > 0.0f ? 1.0f : (x < 0.0f ? -1.0f : 0.0f)); break;
    case AGI_U_STEP: MAP1(x > 0.0f ? 1.0f : 0.0f); break;
    case AGI_U_COUNT: break;
    }
}

ag_status cpu_unary(cpu_device *dev, const agi_kernel *k)
{
    if ((unsigned)k->sub >= AGI_U_COUNT)
        return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: unary op %d unsupported", k->sub);
    if (!cpu_view_check("unary", &k->dst, AG_F32, "dst") ||
        !cpu_view_check("unary", &k->src[0], AG_F32, "src0"))
        return ag_last_status();
    if (!cpu_same_shape(&k->dst, &k->src[0])) {
        char a[192], b[192];
        return agi_set_error(AG_ERR_INVALID, "cpu: unary: shapes differ: dst %s, src %s",
                             cpu_shape_str(a, &k->dst), cpu_shape_str(b, &k->src[0]));
    }
    const agi_view *views[2] = {&k->dst, &k->src[0]};
    cpu_iter it;
    cpu_iter_init(&it, views, 2);
    cpu_iter_parallel(dev, &it, CPU_GRAIN_ELEMENTWISE / 8, unary_row, (void *)k);
    return AG_OK;
}

/* ---- BINARY ---------------------------------------------------------------- */

/* d[i] = EXPR(a, b) with typed rows: contiguous, scalar second operand, strided. */
#define MAP2(DT, ST, EXPR)                                                                         \
    do {                                                                                           \
        DT *d = (DT *)p[0];                                                                        \
        const ST *pa = (const ST *)p[1], *pb = (const ST *)p[2];                                   \
        if (ds == 1 && as == 1 && bs == 1) {                                                       \
            for (int64_t i = 0; i < n; i++) { const ST a = pa[i], b = pb[i]; d[i] = (DT)(EXPR); }  \
        } else if (ds == 1 && as == 1 && bs == 0) {                                                \
            const ST b = pb[0];                                                                    \
            for (int64_t i = 0; i < n; i++) { const ST a = pa[i]; d[i] = (DT)(EXPR); }             \
        } else if (ds == 1 && as == 0 && bs == 1) {                                                \
            const ST a = pa[0];                                                                    \
            for (int64_t i = 0; i < n; i++) { const ST b = pb[i]; d[i] = (DT)(EXPR); }             \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++) {                                                      \
                const ST a = pa[i * as], b = pb[i * bs];                                           \
                d[i * ds] = (DT)(EXPR);                                                            \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* Max/min propagate NaN (like torch.maximum / torch.minimum). */
#define FMAX_NAN(a, b) ((a) != (a) || (a) > (b) ? (a) : (b))
#define FMIN_NAN(a, b) ((a) != (a) || (a) < (b) ? (a) : (b))

static void binary_row_f32(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    const int64_t ds = s[0], as = s[1], bs = s[2];
    const float f0 = (float)k->p.s.f[0], f1 = (float)k->p.s.f[1];
    switch ((agi_binary_op)k->sub) {
    case AGI_B_ADD: MAP2(float, float, a + b); break;
    case AGI_B_SUB: MAP2(float, float, a - b); break;
    case AGI_B_MUL: MAP2(float, float, a * b); break;
    case AGI_B_DIV: MAP2(float, float, a / b); break;
    case AGI_B_POW: MAP2(float, float, powf(a, b)); break;
    case AGI_B_MAX: MAP2(float, float, FMAX_NAN(a, b)); break;
    case AGI_B_MIN: MAP2(float, float, FMIN_NAN(a, b)); break;
    case AGI_B_EQ: MAP2(uint8_t, float, a == b); break;
    case AGI_B_NE: MAP2(uint8_t, float, a != b); break;
    case AGI_B_LT: MAP2(uint8_t, float, a < b); break;
    case AGI_B_LE: MAP2(uint8_t, float, a <= b); break;
    case AGI_B_GT: MAP2(uint8_t, float, a > b); break;
    case AGI_B_GE: MAP2(uint8_t, float, a >= b); break;
    /* a = dy, b = x (or y) */
    case AGI_B_RELU_BWD: MAP2(float, float, b > 0.0f ? a : 0.0f); break;
    case AGI_B_LEAKY_RELU_BWD: MAP2(float, float, b > 0.0f ? a : a * f0); break;
    case AGI_B_GELU_BWD:
        MAP2(float, float,
             a * (0.5f * (1.0f + erff(b * 0.70710678118654752f)) +
                  b * 0.39894228040143268f * expf(-0.5f * b * b)));
        break;
    case AGI_B_GELU_TANH_BWD: MAP2(float, float, a * gelu_tanh_d(b)); break;
    case AGI_B_SILU_BWD:
        MAP2(float, float, a * sigmoidf_(b) * (1.0f + b * (1.0f - sigmoidf_(b))));
        break;
    case AGI_B_SIGMOID_BWD: MAP2(float, float, a * b * (1.0f - b)); break;
    case AGI_B_TANH_BWD: MAP2(float, float, a * (1.0f - b * b)); break;
    case AGI_B_SOFTPLUS_BWD: MAP2(float, float, f0 * b > f1 ? a : a * sigmoidf_(f0 * b)); break;
    case AGI_B_COUNT: break;
    }
}

/* Wrapping integer arithmetic without signed-overflow undefined behaviour. */
#define IADD(a, b) ((int32_t)((uint32_t)(a) + (uint32_t)(b)))
#define ISUB(a, b) ((int32_t)((uint32_t)(a) - (uint32_t)(b)))
#define IMUL(a, b) ((int32_t)((uint32_t)(a) * (uint32_t)(b)))

static void binary_row_i32(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    const int64_t ds = s[0], as = s[1], bs = s[2];
    switch ((agi_binary_op)k->sub) {
    case AGI_B_ADD: MAP2(int32_t, int32_t, IADD(a, b)); break;
    case AGI_B_SUB: MAP2(int32_t, int32_t, ISUB(a, b)); break;
    case AGI_B_MUL: MAP2(int32_t, int32_t, IMUL(a, b)); break;
    case AGI_B_MAX: MAP2(int32_t, int32_t, a > b ? a : b); break;
    case AGI_B_MIN: MAP2(int32_t, int32_t, a < b ? a : b); break;
    case AGI_B_EQ: MAP2(uint8_t, int32_t, a == b); break;
    case AGI_B_NE: MAP2(uint8_t, int32_t, a != b); break;
    case AGI_B_LT: MAP2(uint8_t, int32_t, a < b); break;
    case AGI_B_LE: MAP2(uint8_t, int32_t, a <= b); break;
    case AGI_B_GT: MAP2(uint8_t, int32_t, a > b); break;
    case AGI_B_GE: MAP2(uint8_t, int32_t, a >= b); break;
    default: break;
    }
}

static bool is_compare(int sub) { return sub >= AGI_B_EQ && sub <= AGI_B_GE; }

ag_status cpu_binary(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "binary";
    if ((unsigned)k->sub >= AGI_B_COUNT)
        return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: binary op %d unsupported", k->sub);
    if (!cpu_view_check_any(kn, &k->dst, "dst") || !cpu_view_check_any(kn, &k->src[0], "src0") ||
        !cpu_view_check_any(kn, &k->src[1], "src1"))
        return AG_ERR_INVALID;
    ag_dtype in = k->src[0].dtype;
    if (k->src[1].dtype != in ||
        (is_compare(k->sub) ? (in != AG_F32 && in != AG_I32) : in != k->dst.dtype))
        return agi_set_error(AG_ERR_UNSUPPORTED,
                             "cpu: binary op %d unsupported for %s, %s -> %s", k->sub,
                             ag_dtype_name(in), ag_dtype_name(k->src[1].dtype),
                             ag_dtype_name(k->dst.dtype));
    if (!cpu_same_shape(&k->dst, &k->src[0]) || !cpu_same_shape(&k->dst, &k->src[1])) {
        char a[192], b[192], c[192];
        return agi_set_error(AG_ERR_INVALID, "cpu: binary: shapes differ: dst %s, src %s, %s",
                             cpu_shape_str(a, &k->dst), cpu_shape_str(b, &k->src[0]),
                             cpu_shape_str(c, &k->src[1]));
    }
    const agi_view *views[3] = {&k->dst, &k->src[0], &k->src[1]};
    cpu_iter it;
    cpu_iter_init(&it, views, 3);
    cpu_iter_parallel(dev, &it, CPU_GRAIN_ELEMENTWISE, in == AG_F32 ? binary_row_f32 : binary_row_i32,
                      (void *)k);
    return AG_OK;
}

/* ---- WHERE ----------------------------------------------------------------- */

#define WHERE_ROW(T)                                                                               \
    do {                                                                                           \
        T *d = (T *)p[0];                                                                          \
        const uint8_t *c = (const uint8_t *)p[1];                                                  \
        const T *x = (const T *)p[2], *y = (const T *)p[3];                                        \
        if (s[0] == 1 && s[1] == 1 && s[2] == 1 && s[3] == 1) {                                    \
            for (int64_t i = 0; i < n; i++) d[i] = c[i] ? x[i] : y[i];                             \
        } else {                                                                                   \
            for (int64_t i = 0; i < n; i++)                                                        \
                d[i * s[0]] = c[i * s[1]] ? x[i * s[2]] : y[i * s[3]];                             \
        }                                                                                          \
    } while (0)

static void where_row(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    if (k->dst.dtype == AG_F32) WHERE_ROW(float);
    else WHERE_ROW(int32_t);
}

ag_status cpu_where(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "where";
    if (!cpu_view_check_any(kn, &k->dst, "dst")) return AG_ERR_INVALID;
    ag_dtype t = k->dst.dtype;
    if (t != AG_F32 && t != AG_I32)
        return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: where: dtype %s unsupported",
                             ag_dtype_name(t));
    if (!cpu_view_check(kn, &k->src[0], AG_U8, "src0 (condition)") ||
        !cpu_view_check(kn, &k->src[1], t, "src1") || !cpu_view_check(kn, &k->src[2], t, "src2"))
        return ag_last_status();
    for (int i = 0; i < 3; i++)
        if (!cpu_same_shape(&k->dst, &k->src[i])) {
            char a[192], b[192];
            return agi_set_error(AG_ERR_INVALID, "cpu: where: shapes differ: dst %s, src%d %s",
                                 cpu_shape_str(a, &k->dst), i, cpu_shape_str(b, &k->src[i]));
        }
    const agi_view *views[4] = {&k->dst, &k->src[0], &k->src[1], &k->src[2]};
    cpu_iter it;
    cpu_iter_init(&it, views, 4);
    cpu_iter_parallel(dev, &it, CPU_GRAIN_ELEMENTWISE, where_row, (void *)k);
    return AG_OK;
}
