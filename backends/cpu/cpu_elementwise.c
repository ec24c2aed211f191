/* backends/cpu/cpu_elementwise.c — FILL, COPY, UNARY, BINARY and WHERE.
 *
 * Every kernel coalesces its views (cpu_iter) and processes one inner row at a
 * time. Each row function has a contiguous fast path (all strides 1, or a
 * broadcast scalar operand) written as a plain loop gcc vectorizes at -O2/-O3,
 * and a strided path. */
#include "cpu.h"
#include "base/scalar_ops.h"

#include <math.h>
#include <string.h>

/* f32 → i32 truncating toward zero; out of range (and NaN) gives INT32_MIN
 * like the x86 conversion instruction, without undefined behaviour. */
static inline int32_t f2i(float x)
{
    return (x > -2147483904.0f && x < 2147483648.0f) ? (int32_t)x : INT32_MIN;
}

/* ---- FILL ------------------------------------------------------------------ */

typedef struct fill_ctx {
    float f;
    int32_t i;
    uint8_t u;
    uint16_t h; /* f16 or bf16 bits */
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
    case AG_F16:
    case AG_BF16: {
        uint16_t *d = (uint16_t *)p[0];
        const uint16_t v = c->h;
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
    c.h = c.dtype == AG_BF16 ? agi_f32_to_bf16(c.f) : agi_f32_to_f16(c.f);
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

/* Element loads and stores through f32, for copies involving a 16-bit
 * float: to f16/bf16 rounds to nearest even, from them is exact. */
static float load_f32(const char *p, ag_dtype t)
{
    switch (t) {
    case AG_F32: return *(const float *)p;
    case AG_I32: return (float)*(const int32_t *)p;
    case AG_U8: return (float)*(const uint8_t *)p;
    case AG_F16: return agi_f16_to_f32(*(const uint16_t *)p);
    default: return agi_bf16_to_f32(*(const uint16_t *)p);
    }
}

static void store_f32(char *p, ag_dtype t, float v)
{
    switch (t) {
    case AG_F32: *(float *)p = v; break;
    case AG_I32: *(int32_t *)p = f2i(v); break;
    case AG_U8: *(uint8_t *)p = (uint8_t)((uint32_t)f2i(v) & 0xFFu); break;
    case AG_F16: *(uint16_t *)p = agi_f32_to_f16(v); break;
    default: *(uint16_t *)p = agi_f32_to_bf16(v); break;
    }
}

static void copy_row_half(const agi_kernel *k, int64_t n, char *const *p, const int64_t *s)
{
    ag_dtype dt = k->dst.dtype, st = k->src[0].dtype;
    const int64_t ds = s[0] * (int64_t)ag_dtype_size(dt), xs = s[1] * (int64_t)ag_dtype_size(st);
    if (dt == st) { /* the same 16-bit dtype: bits */
        for (int64_t i = 0; i < n; i++) *(uint16_t *)(p[0] + i * ds) = *(const uint16_t *)(p[1] + i * xs);
        return;
    }
    for (int64_t i = 0; i < n; i++) store_f32(p[0] + i * ds, dt, load_f32(p[1] + i * xs, st));
}

static void copy_row(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    const int64_t ds = s[0], xs = s[1];
    ag_dtype dt = k->dst.dtype, st = k->src[0].dtype;
    if (dt == st && ds == 1 && xs == 1) {
        memmove(p[0], p[1], (size_t)n * ag_dtype_size(dt));
        return;
    }
    if (ag_dtype_size(dt) == 2 || ag_dtype_size(st) == 2) {
        copy_row_half(k, n, p, s);
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

static void unary_row_f32(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    float *d = (float *)p[0];
    const float *src = (const float *)p[1];
    const int64_t ds = s[0], xs = s[1];
    const float a = (float)k->p.s.f[0], b = (float)k->p.s.f[1];
    switch ((agi_unary_op)k->sub) {
        /* one case per kernel_ops.def line, formulas from scalar_ops.h */
#define AGI_UNARY(E, name, ...) case E: MAP1(ag_un_##name(x, a, b)); break;
#include "kernel_ops.def"
    case AGI_U_COUNT: break;
    }
}

/* 16-bit float rows: up to CPU_HALF_CHUNK elements at a time are widened to
 * f32, run through the f32 row (the same formulas) and rounded back. */
#define CPU_HALF_CHUNK 256

static void widen(float *out, const char *p, int64_t stride, ag_dtype t, int64_t n)
{
    const uint16_t *h = (const uint16_t *)p;
    for (int64_t i = 0; i < n; i++)
        out[i] = t == AG_F16 ? agi_f16_to_f32(h[i * stride]) : agi_bf16_to_f32(h[i * stride]);
}

static void narrow(char *p, int64_t stride, ag_dtype t, const float *in, int64_t n)
{
    uint16_t *h = (uint16_t *)p;
    for (int64_t i = 0; i < n; i++)
        h[i * stride] = t == AG_F16 ? agi_f32_to_f16(in[i]) : agi_f32_to_bf16(in[i]);
}

/* Runs the f32 row function `row` (nsrc sources) on 16-bit data of dtype t. */
static void half_rows(const agi_kernel *k, cpu_row_fn row, int nsrc, int64_t n, char *const *p,
                      const int64_t *s)
{
    ag_dtype t = k->dst.dtype;
    float in[2][CPU_HALF_CHUNK], out[CPU_HALF_CHUNK];
    for (int64_t at = 0; at < n; at += CPU_HALF_CHUNK) {
        int64_t m = n - at < CPU_HALF_CHUNK ? n - at : CPU_HALF_CHUNK;
        char *fp[3] = {(char *)out, (char *)in[0], (char *)in[1]};
        const int64_t fs[3] = {1, 1, 1};
        for (int v = 0; v < nsrc; v++) widen(in[v], p[1 + v] + at * s[1 + v] * 2, s[1 + v], t, m);
        row((void *)k, m, fp, fs);
        narrow(p[0] + at * s[0] * 2, s[0], t, out, m);
    }
}

static void unary_row(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    if (k->dst.dtype == AG_F32) unary_row_f32(ctx, n, p, s);
    else half_rows(k, unary_row_f32, 1, n, p, s);
}

static void binary_row_float(void *ctx, int64_t n, char *const *p, const int64_t *s);

/* f32 data, f32 comparisons, and 16-bit float data through f32 */
static void binary_row_f32(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    if (k->dst.dtype == AG_F32 || k->dst.dtype == AG_U8) binary_row_float(ctx, n, p, s);
    else half_rows(k, binary_row_float, 2, n, p, s);
}

ag_status cpu_unary(cpu_device *dev, const agi_kernel *k)
{
    if ((unsigned)k->sub >= AGI_U_COUNT)
        return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: unary op %d unsupported", k->sub);
    if (!cpu_view_check("unary", &k->dst, k->dst.dtype, "dst") ||
        !cpu_view_check("unary", &k->src[0], k->dst.dtype, "src0"))
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

static void binary_row_float(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_kernel *k = ctx;
    const int64_t ds = s[0], as = s[1], bs = s[2];
    const float f0 = (float)k->p.s.f[0], f1 = (float)k->p.s.f[1];
    switch ((agi_binary_op)k->sub) {
        /* float results: one case per kernel_ops.def line (ag_bi_<name> of
         * scalar_ops.h, a = src0, b = src1); comparisons write u8 */
#define AGI_BINARY(E, name, ...) case E: MAP2(float, float, ag_bi_##name(a, b, f0, f1)); break;
#include "kernel_ops.def"
    case AGI_B_EQ: MAP2(uint8_t, float, a == b); break;
    case AGI_B_NE: MAP2(uint8_t, float, a != b); break;
    case AGI_B_LT: MAP2(uint8_t, float, a < b); break;
    case AGI_B_LE: MAP2(uint8_t, float, a <= b); break;
    case AGI_B_GT: MAP2(uint8_t, float, a > b); break;
    case AGI_B_GE: MAP2(uint8_t, float, a >= b); break;
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
        (agi_binary_is_compare(k->sub) ? (in != AG_F32 && in != AG_I32) : in != k->dst.dtype))
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
    cpu_iter_parallel(dev, &it, CPU_GRAIN_ELEMENTWISE, agi_dtype_is_float(in) ? binary_row_f32 : binary_row_i32,
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
