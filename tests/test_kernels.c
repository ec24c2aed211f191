/* tests/test_kernels.c — conformance of the backend kernel contract
 * (backends/backend.h), op by op, for every backend under test.
 *
 * Backends: AG_TEST_BACKENDS, a comma list of device specs, read by the
 * harness like every suite's; a spec that cannot be opened FAILS. Each case of the table below runs once
 * per backend (test "test_case", loop index = backend * N_CASES + case) and
 * compares the backend's results with the CPU backend's on the same inputs:
 * small random data, odd sizes (1, 7, 33, 130), contiguous, transposed,
 * step-sliced and zero-stride broadcast views. Tolerances: exact for integer
 * ops, fill, copy, comparisons, arg-reductions, maxpool indices and uniform
 * RNG bits; ~1e-5 relative for f32 arithmetic; ~1e-4 for transcendental
 * functions and reductions. Hand-computed cases ("hand_*") check the values
 * themselves on every backend, so the CPU reference is checked too.
 *
 * Code-path cases (scatter_add_paths ... gemm_paths) aim at the GPU backends'
 * special paths (backends/vulkan/README.md, backends/opencl/README.md): the
 * deterministic and atomic SCATTER_ADD, RNG counters that carry into the high
 * word, rank 5..8 views that do not coalesce, vec4 rows with broadcast
 * operands and unaligned starts, grids of more than 65,535 workgroups (run
 * smaller when the device under test is the CPU, which is the reference:
 * valgrind runs the suite there, and in ASan builds), chunked reductions with ties, infinities
 * and NaN across chunk boundaries, NaN semantics, broadcast and odd-stride GEMM.
 * Run them with AG_VULKAN_KERNELS=gpu / AG_OPENCL_VARIANTS=gpu too.
 *
 * A failure message names the backend, the case and the sub-case, e.g.
 *   [vulkan] binary_f32: sub 3 (a transposed, b broadcast): element 17 ...
 *
 * Other tests: supports() coverage, error paths (bad views never crash),
 * Philox known-answer vectors, the CPU backend's out-of-memory handling
 * (AG_CPU_MEMORY_LIMIT) and its blocked C GEMM against CBLAS.
 *
 * Devices are opened inside each test: GPU runtimes do not survive fork. */
#include "harness.h"
#include "internal.h"

#include <check.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Backends under test ---------------------------------------------------- */

/* ---- Per-test context -------------------------------------------------------- */

/* Side 0: the device under test. Side 1: the CPU reference. */
typedef struct kt {
    ag_device *dev[2];
    const char *spec;
    const char *name; /* case name */
    char sub[160];    /* current sub-case, for messages */
    uint64_t rng;
} kt;

/* A tensor made twice, with the same contents: on the device and on the CPU.
 * base: the underlying contiguous tensor (for checking writes through views). */
typedef struct tp {
    ag_tensor *t[2];
    ag_tensor *base[2];
} tp;


static void kt_open(kt *c, const char *spec, const char *name, uint64_t seed)
{
    memset(c, 0, sizeof *c);
    c->spec = spec;
    c->name = name;
    c->rng = seed * 0x9E3779B97F4A7C15ull + 12345;
    c->dev[0] = ag_device_open(spec);
    ck_assert_msg(c->dev[0] != NULL, "[%s] cannot open device: %s", spec, ag_last_error());
    c->dev[1] = ag_device_open("cpu");
    ck_assert_msg(c->dev[1] != NULL, "cannot open the cpu reference: %s", ag_last_error());
    ag_scope_begin();
}

static void kt_close(kt *c)
{
    ag_scope_end();
    for (int s = 0; s < 2; s++) {
        ck_assert_msg(ag_device_live_buffers(c->dev[s]) == 0, "[%s] %s: %lld buffers leaked",
                      c->spec, c->name, (long long)ag_device_live_buffers(c->dev[s]));
        ag_device_close(c->dev[s]);
    }
}

static void sub_case(kt *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sub_case(kt *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->sub, sizeof c->sub, fmt, ap);
    va_end(ap);
}

/* splitmix64 */
static uint64_t next_u64(kt *c)
{
    uint64_t z = (c->rng += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}
static double next_unit(kt *c) { return (double)(next_u64(c) >> 11) * 0x1p-53; }

/* ---- Making tensors -------------------------------------------------------------- */

static ag_tensor *upload(kt *c, int side, ag_dtype dt, int ndim, const int64_t *shape,
                         const void *data)
{
    size_t n = (size_t)agi_numel(ndim, shape) * ag_dtype_size(dt);
    ag_tensor *t = ag_from_data(c->dev[side], dt, ndim, shape, data, n);
    ck_assert_msg(t != NULL, "[%s] %s: upload failed: %s", c->spec, c->name, ag_last_error());
    return t;
}

/* Host data: f32 uniform in [lo, hi]; with `integral`, whole numbers (ties). */
static void *host_data(kt *c, ag_dtype dt, int64_t n, double lo, double hi, bool integral)
{
    void *p = malloc((size_t)(n ? n : 1) * 4);
    ck_assert(p != NULL);
    for (int64_t i = 0; i < n; i++) {
        double v = lo + (hi - lo) * next_unit(c);
        float f = integral ? (float)floor(v + 0.5) : (float)v;
        if (dt == AG_F32) ((float *)p)[i] = f;
        else if (dt == AG_I32) ((int32_t *)p)[i] = (int32_t)floor(v + 0.5);
        else if (dt == AG_F16) ((uint16_t *)p)[i] = agi_f32_to_f16(f);
        else if (dt == AG_BF16) ((uint16_t *)p)[i] = agi_f32_to_bf16(f);
        else ((uint8_t *)p)[i] = (uint8_t)(int32_t)floor(v + 0.5);
    }
    return p;
}

/* Both sides from the same host data. */
static tp pair_from(kt *c, ag_dtype dt, int ndim, const int64_t *shape, const void *data)
{
    tp r;
    for (int s = 0; s < 2; s++) r.t[s] = r.base[s] = upload(c, s, dt, ndim, shape, data);
    return r;
}

/* View kinds for strided inputs. */
enum { K_CONTIG, K_TRANS, K_STEP, K_BCAST0, K_NKINDS };
static const char *const kind_names[] = {"contiguous", "transposed", "step-2 slice",
                                         "broadcast dim 0"};

/* A [shape] view of kind `kind` over random data in [lo, hi]. */
static tp pair_rand_kind(kt *c, ag_dtype dt, int kind, double lo, double hi, bool integral,
                         int ndim, const int64_t *shape)
{
    int64_t bshape[AG_MAX_DIMS], bstrides[AG_MAX_DIMS], vstrides[AG_MAX_DIMS];
    memcpy(bshape, shape, (size_t)ndim * sizeof *shape);
    int64_t offset = 0;
    if (kind == K_TRANS && ndim < 2) kind = K_STEP;
    if ((kind == K_STEP || kind == K_BCAST0) && ndim < 1) kind = K_CONTIG;
    if (kind == K_TRANS) {
        bshape[ndim - 1] = shape[ndim - 2];
        bshape[ndim - 2] = shape[ndim - 1];
    } else if (kind == K_STEP) {
        bshape[ndim - 1] = 2 * shape[ndim - 1] + 1;
        offset = 1;
    } else if (kind == K_BCAST0) {
        bshape[0] = 1;
    }
    agi_contiguous_strides(ndim, bshape, bstrides);
    memcpy(vstrides, bstrides, sizeof vstrides);
    if (kind == K_TRANS) {
        vstrides[ndim - 1] = bstrides[ndim - 2];
        vstrides[ndim - 2] = bstrides[ndim - 1];
    } else if (kind == K_STEP) {
        vstrides[ndim - 1] = 2;
    } else if (kind == K_BCAST0) {
        vstrides[0] = 0;
    }
    int64_t bn = agi_numel(ndim, bshape);
    void *data = host_data(c, dt, bn, lo, hi, integral);
    tp r = pair_from(c, dt, ndim, bshape, data);
    free(data);
    if (kind != K_CONTIG)
        for (int s = 0; s < 2; s++) {
            r.t[s] = agi_tensor_view(r.base[s], ndim, shape, vstrides, offset);
            ck_assert(r.t[s] != NULL);
        }
    return r;
}

static tp pair_rand(kt *c, ag_dtype dt, double lo, double hi, int ndim, const int64_t *shape)
{
    return pair_rand_kind(c, dt, K_CONTIG, lo, hi, false, ndim, shape);
}

/* An output tensor pre-filled with junk (NaN for f32) so unwritten elements show. */
static tp pair_out(kt *c, ag_dtype dt, int ndim, const int64_t *shape)
{
    int64_t n = agi_numel(ndim, shape);
    void *p = malloc((size_t)(n ? n : 1) * 4);
    ck_assert(p != NULL);
    for (int64_t i = 0; i < n; i++) {
        if (dt == AG_F32) ((float *)p)[i] = NAN;
        else if (dt == AG_I32) ((int32_t *)p)[i] = -777;
        else if (dt == AG_F16 || dt == AG_BF16) ((uint16_t *)p)[i] = 0x7e01u; /* a NaN of either */
        else ((uint8_t *)p)[i] = 0xAB;
    }
    tp r = pair_from(c, dt, ndim, shape, p);
    free(p);
    return r;
}

/* ---- Running kernels ---------------------------------------------------------------- */

/* A kernel description with pair tensors; run() builds each side's record. */
typedef struct kdesc {
    agi_kernel_op op;
    int sub;
    tp dst, dst2, src[3];
    double f[4];
    int64_t i[4];
    uint64_t u[2];
    const agi_conv_params *conv;
    const agi_pool_params *pool;
    const agi_optim_params *optim;
} kdesc;

static agi_view view_or_none(const ag_tensor *t)
{
    agi_view v;
    memset(&v, 0, sizeof v);
    if (t) v = agi_view_of(t);
    return v;
}

static agi_kernel build(const kdesc *d, int side)
{
    agi_kernel k;
    memset(&k, 0, sizeof k);
    k.op = d->op;
    k.sub = d->sub;
    k.dst = view_or_none(d->dst.t[side]);
    k.dst2 = view_or_none(d->dst2.t[side]);
    for (int i = 0; i < 3; i++) k.src[i] = view_or_none(d->src[i].t[side]);
    if (d->conv) k.p.conv = *d->conv;
    else if (d->pool) k.p.pool = *d->pool;
    else if (d->optim) k.p.optim = *d->optim;
    else {
        memcpy(k.p.s.f, d->f, sizeof d->f);
        memcpy(k.p.s.i, d->i, sizeof d->i);
        memcpy(k.p.s.u, d->u, sizeof d->u);
    }
    return k;
}

static void exec_side(kt *c, const kdesc *d, int side)
{
    agi_kernel k = build(d, side);
    ag_status st = agi_exec(c->name, c->dev[side], &k);
    ck_assert_msg(st == AG_OK, "[%s] %s: %s: %s kernel (sub %d) failed on %s: %s", c->spec,
                  c->name, c->sub, agi_kernel_op_name(d->op), d->sub, side ? "cpu" : c->spec,
                  ag_last_error());
}

/* Runs the kernel on both sides. */
static void run(kt *c, const kdesc *d)
{
    exec_side(c, d, 0);
    exec_side(c, d, 1);
}

/* ---- Comparing --------------------------------------------------------------------- */

static void *read_all(kt *c, const ag_tensor *t)
{
    size_t n = (size_t)ag_numel(t) * ag_dtype_size(ag_tensor_dtype(t));
    void *p = malloc(n ? n : 1);
    ck_assert(p != NULL);
    ag_status st = ag_tensor_read(t, p, n);
    ck_assert_msg(st == AG_OK, "[%s] %s: %s: read failed: %s", c->spec, c->name, c->sub,
                  ag_last_error());
    return p;
}

static bool close_enough(double got, double want, double atol, double rtol)
{
    if (isnan(want) || isnan(got)) return isnan(want) && isnan(got);
    if (isinf(want) || isinf(got)) return got == want;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

static double elem(const void *p, ag_dtype dt, int64_t i)
{
    switch (dt) {
    case AG_F32: return (double)((const float *)p)[i];
    case AG_I32: return (double)((const int32_t *)p)[i];
    case AG_F16: return (double)agi_f16_to_f32(((const uint16_t *)p)[i]);
    case AG_BF16: return (double)agi_bf16_to_f32(((const uint16_t *)p)[i]);
    default: return (double)((const uint8_t *)p)[i];
    }
}

/* Compares side 0 of x with side 1 (the CPU). atol = rtol = 0 means exact
 * (bit-exact for f32). */
static void compare_t(kt *c, const ag_tensor *got, const ag_tensor *want, double atol, double rtol,
                      const char *what)
{
    ag_dtype dt = ag_tensor_dtype(got);
    ck_assert_int_eq(dt, ag_tensor_dtype(want));
    int64_t n = ag_numel(got);
    ck_assert_int_eq(n, ag_numel(want));
    void *a = read_all(c, got), *b = read_all(c, want);
    for (int64_t i = 0; i < n; i++) {
        bool ok;
        if (atol == 0 && rtol == 0 && agi_dtype_is_float(dt)) {
            size_t es = ag_dtype_size(dt);
            ok = memcmp((const char *)a + i * (int64_t)es, (const char *)b + i * (int64_t)es, es) == 0 ||
                 (isnan(elem(a, dt, i)) && isnan(elem(b, dt, i)));
        } else {
            ok = close_enough(elem(a, dt, i), elem(b, dt, i), atol, rtol);
        }
        if (!ok) {
            double ga = elem(a, dt, i), wb = elem(b, dt, i);
            free(a);
            free(b);
            ck_abort_msg("[%s] %s: %s: %s element %lld: got %.9g, cpu reference %.9g "
                         "(atol %g rtol %g)",
                         c->spec, c->name, c->sub, what, (long long)i, ga, wb, atol, rtol);
        }
    }
    free(a);
    free(b);
}

static void compare(kt *c, tp x, double atol, double rtol, const char *what)
{
    compare_t(c, x.t[0], x.t[1], atol, rtol, what);
    /* Writes through a view must not touch the rest of the buffer. */
    if (x.base[0] != x.t[0]) compare_t(c, x.base[0], x.base[1], atol, rtol, "whole buffer");
}

/* Checks side 0 against hand-computed values. */
static void expect(kt *c, const ag_tensor *t, const double *want, int64_t n, double tol,
                   const char *what)
{
    ck_assert_int_eq(ag_numel(t), n);
    ag_dtype dt = ag_tensor_dtype(t);
    void *a = read_all(c, t);
    for (int64_t i = 0; i < n; i++) {
        double g = elem(a, dt, i);
        if (!close_enough(g, want[i], tol, tol)) {
            free(a);
            ck_abort_msg("[%s] %s: %s element %lld: got %.9g, expected %.9g", c->spec, c->name,
                         what, (long long)i, g, want[i]);
        }
    }
    free(a);
}

#define SHAPE_OF(...) AG_SHAPE(__VA_ARGS__)
#define WANT(...) (const double[]){__VA_ARGS__}, (int64_t)(sizeof((const double[]){__VA_ARGS__}) / sizeof(double))

/* ======================================================================================
 * Cross-backend cases: device vs CPU reference
 * ==================================================================================== */

static const ag_dtype all_dtypes[AG_DTYPE_COUNT] = {AG_F32, AG_I32, AG_U8, AG_F16, AG_BF16};

static void case_fill(kt *c)
{
    const double values[] = {3.75, -2.5, 300.7, 0.0};
    for (int di = 0; di < AG_DTYPE_COUNT; di++)
        for (int kind = 0; kind < K_BCAST0; kind++)
            for (int vi = 0; vi < 4; vi++) {
                ag_dtype dt = all_dtypes[di];
                sub_case(c, "%s %s value %g", ag_dtype_name(dt), kind_names[kind], values[vi]);
                tp out = pair_rand_kind(c, dt, kind, 0, 9, true, SHAPE_OF(7, 33));
                kdesc d = {.op = AGI_K_FILL, .dst = out, .f = {values[vi]}};
                run(c, &d);
                compare(c, out, 0, 0, "dst");
            }
    sub_case(c, "f32 [130]");
    tp out = pair_out(c, AG_F32, SHAPE_OF(130));
    kdesc d = {.op = AGI_K_FILL, .dst = out, .f = {-1.25}};
    run(c, &d);
    compare(c, out, 0, 0, "dst");
    sub_case(c, "f32 scalar (ndim 0)");
    out = pair_out(c, AG_F32, 0, NULL);
    d.dst = out;
    run(c, &d);
    compare(c, out, 0, 0, "dst");
}

static void case_copy(kt *c)
{
    for (int di = 0; di < AG_DTYPE_COUNT; di++)
        for (int si = 0; si < AG_DTYPE_COUNT; si++)
            for (int sk = 0; sk < K_NKINDS; sk++) {
                ag_dtype dt = all_dtypes[di], st = all_dtypes[si];
                int dk = sk == K_TRANS ? K_STEP : K_CONTIG;
                sub_case(c, "%s <- %s, src %s, dst %s", ag_dtype_name(dt), ag_dtype_name(st),
                         kind_names[sk], kind_names[dk]);
                double lo = st == AG_U8 ? 0 : st == AG_I32 ? -100000 : -300;
                double hi = st == AG_U8 ? 255 : st == AG_I32 ? 100000 : 300;
                tp src = pair_rand_kind(c, st, sk, lo, hi, false, SHAPE_OF(7, 33));
                tp dst = pair_rand_kind(c, dt, dk, 0, 9, true, SHAPE_OF(7, 33));
                kdesc d = {.op = AGI_K_COPY, .dst = dst, .src = {src}};
                run(c, &d);
                compare(c, dst, 0, 0, "dst");
            }
    sub_case(c, "f32 [1] and [130]");
    for (int n = 1; n <= 130; n += 129) {
        tp src = pair_rand(c, AG_F32, -5, 5, SHAPE_OF(n));
        tp dst = pair_out(c, AG_F32, SHAPE_OF(n));
        kdesc d = {.op = AGI_K_COPY, .dst = dst, .src = {src}};
        run(c, &d);
        compare(c, dst, 0, 0, "dst");
    }
    sub_case(c, "f32 4-D permuted");
    {
        tp src = pair_rand(c, AG_F32, -5, 5, SHAPE_OF(2, 3, 5, 7));
        for (int s = 0; s < 2; s++)
            src.t[s] = agi_tensor_view(src.base[s], 4, (int64_t[]){7, 2, 5, 3},
                                       (int64_t[]){1, 105, 7, 35}, 0);
        tp dst = pair_out(c, AG_F32, SHAPE_OF(7, 2, 5, 3));
        kdesc d = {.op = AGI_K_COPY, .dst = dst, .src = {src}};
        run(c, &d);
        compare(c, dst, 0, 0, "dst");
    }
}

typedef struct unary_spec {
    int sub;
    double lo, hi;
    double f0, f1;
} unary_spec;

/* Every unary sub-op of kernel_ops.def, with the input domain it declares. */
static const unary_spec unary_specs[] = {
#define AGI_UNARY(E, name, nparams, dtypes, lo, hi, p0, p1) {E, lo, hi, p0, p1},
#include "kernel_ops.def"
};

static void case_unary(kt *c)
{
    for (size_t u = 0; u < sizeof unary_specs / sizeof unary_specs[0]; u++) {
        const unary_spec *us = &unary_specs[u];
        for (int sk = 0; sk < K_NKINDS; sk++) {
            sub_case(c, "sub %d, src %s", us->sub, kind_names[sk]);
            bool integral = us->sub == AGI_U_SIGN || us->sub == AGI_U_STEP;
            tp x = pair_rand_kind(c, AG_F32, sk, us->lo, us->hi, integral, SHAPE_OF(7, 33));
            tp y = sk == K_TRANS ? pair_rand_kind(c, AG_F32, K_STEP, 0, 1, false, SHAPE_OF(7, 33))
                                 : pair_out(c, AG_F32, SHAPE_OF(7, 33));
            kdesc d = {.op = AGI_K_UNARY, .sub = us->sub, .dst = y, .src = {x},
                       .f = {us->f0, us->f1}};
            run(c, &d);
            compare(c, y, 1e-5, 1e-4, "dst");
        }
    }
    sub_case(c, "exp in place, [130]");
    tp x = pair_rand(c, AG_F32, -2, 2, SHAPE_OF(130));
    kdesc d = {.op = AGI_K_UNARY, .sub = AGI_U_EXP, .dst = x, .src = {x}};
    run(c, &d);
    compare(c, x, 1e-6, 1e-5, "dst");
}

static void case_binary_f32(kt *c)
{
    /* (a kind, b kind, dst kind) */
    static const int layouts[][3] = {
        {K_CONTIG, K_CONTIG, K_CONTIG}, {K_TRANS, K_BCAST0, K_STEP}, {K_BCAST0, K_TRANS, K_CONTIG},
        {K_STEP, K_STEP, K_TRANS}};
    for (int sub = 0; sub < AGI_B_COUNT; sub++)
        for (int l = 0; l < 4; l++) {
            bool cmp = sub >= AGI_B_EQ && sub <= AGI_B_GE;
            sub_case(c, "sub %d (a %s, b %s, dst %s)", sub, kind_names[layouts[l][0]],
                     kind_names[layouts[l][1]], kind_names[layouts[l][2]]);
            double alo = -3, ahi = 3, blo = -3, bhi = 3;
            if (sub == AGI_B_DIV) blo = 0.5;
            if (sub == AGI_B_POW) { alo = 0.1; blo = -2; bhi = 2; }
            tp a = pair_rand_kind(c, AG_F32, layouts[l][0], alo, ahi, cmp, SHAPE_OF(7, 33));
            tp b = pair_rand_kind(c, AG_F32, layouts[l][1], blo, bhi, cmp, SHAPE_OF(7, 33));
            ag_dtype odt = cmp ? AG_U8 : AG_F32;
            tp y = pair_rand_kind(c, odt, layouts[l][2], 0, 1, true, SHAPE_OF(7, 33));
            kdesc d = {.op = AGI_K_BINARY, .sub = sub, .dst = y, .src = {a, b},
                       .f = {sub == AGI_B_SOFTPLUS_BWD ? 1.5 : 0.1, 2.0}};
            run(c, &d);
            if (cmp || sub == AGI_B_MAX || sub == AGI_B_MIN || sub == AGI_B_RELU_BWD)
                compare(c, y, 0, 0, "dst");
            else
                compare(c, y, 1e-5, sub >= AGI_B_RELU_BWD || sub == AGI_B_POW ? 1e-4 : 1e-5, "dst");
        }
    sub_case(c, "add, [1] and [130], in place");
    for (int n = 1; n <= 130; n += 129) {
        tp a = pair_rand(c, AG_F32, -3, 3, SHAPE_OF(n)), b = pair_rand(c, AG_F32, -3, 3, SHAPE_OF(n));
        kdesc d = {.op = AGI_K_BINARY, .sub = AGI_B_ADD, .dst = a, .src = {a, b}};
        run(c, &d);
        compare(c, a, 0, 1e-6, "dst");
    }
}

/* f16 / bf16 elementwise: the 16-bit kernel runs on both sides (device vs
 * CPU within one 16-bit rounding, and writes through strided views keep
 * their neighbours); then the device's 16-bit result, widened exactly, is
 * checked against the f32 kernel on the CPU over the same (16-bit) inputs,
 * with the dtype's tolerance: one rounding to nearest even is 2^-11
 * relative for f16 and 2^-8 for bf16. */
static double half_rtol(ag_dtype dt) { return dt == AG_F16 ? 1e-3 : 8e-3; }

static void half_vs_f32(kt *c, const kdesc *d16, int nsrc)
{
    ag_dtype dt = ag_tensor_dtype(d16->dst.t[0]);
    run(c, d16);
    compare(c, d16->dst, 1e-6, half_rtol(dt), "16-bit dst vs cpu");
    agi_kernel k = build(d16, 1);
    ag_tensor *x32[3] = {NULL, NULL, NULL};
    for (int i = 0; i < nsrc; i++) {
        x32[i] = ag_cast(d16->src[i].t[1], AG_F32);
        ck_assert_msg(x32[i] != NULL, "%s: cast of src%d: %s", c->sub, i, ag_last_error());
        k.src[i] = agi_view_of(x32[i]);
    }
    ag_tensor *y32 = ag_empty(c->dev[1], AG_F32, ag_ndim(d16->dst.t[1]), ag_shape(d16->dst.t[1]));
    ck_assert(y32 != NULL);
    k.dst = agi_view_of(y32);
    ck_assert_msg(agi_exec(c->name, c->dev[1], &k) == AG_OK, "f32 reference: %s", ag_last_error());
    ag_tensor *y = ag_cast(d16->dst.t[0], AG_F32);
    ck_assert(y != NULL);
    compare_t(c, y, y32, 1e-6, half_rtol(dt), "16-bit dst vs the f32 kernel");
}

static void case_half_elementwise(kt *c)
{
    static const ag_dtype dts[2] = {AG_F16, AG_BF16};
    for (int di = 0; di < 2; di++) {
        ag_dtype dt = dts[di];
        for (size_t u = 0; u < sizeof unary_specs / sizeof unary_specs[0]; u++)
            for (int l = 0; l < 2; l++) {
                const unary_spec *us = &unary_specs[u];
                sub_case(c, "%s unary %s (%s)", ag_dtype_name(dt), agi_unary_op_name(us->sub),
                         l ? "transposed src, step-2 dst" : "contiguous");
                bool integral = us->sub == AGI_U_SIGN || us->sub == AGI_U_STEP;
                tp x = pair_rand_kind(c, dt, l ? K_TRANS : K_CONTIG, us->lo, us->hi, integral, SHAPE_OF(7, 33));
                tp y = pair_rand_kind(c, dt, l ? K_STEP : K_CONTIG, 0, 1, false, SHAPE_OF(7, 33));
                kdesc d = {.op = AGI_K_UNARY, .sub = us->sub, .dst = y, .src = {x}, .f = {us->f0, us->f1}};
                half_vs_f32(c, &d, 1);
            }
        for (int sub = 0; sub < AGI_B_COUNT; sub++)
            for (int l = 0; l < 2; l++) {
                if (sub >= AGI_B_EQ && sub <= AGI_B_GE) continue; /* comparisons read f32 or i32 */
                sub_case(c, "%s binary %s (%s)", ag_dtype_name(dt), agi_binary_op_name(sub),
                         l ? "a transposed, b broadcast, dst step-2" : "contiguous");
                double alo = -3, ahi = 3, blo = -3, bhi = 3;
                if (sub == AGI_B_DIV) blo = 0.5;
                if (sub == AGI_B_POW) { alo = 0.1; blo = -2; bhi = 2; }
                tp a = pair_rand_kind(c, dt, l ? K_TRANS : K_CONTIG, alo, ahi, false, SHAPE_OF(7, 33));
                tp b = pair_rand_kind(c, dt, l ? K_BCAST0 : K_CONTIG, blo, bhi, false, SHAPE_OF(7, 33));
                tp y = pair_rand_kind(c, dt, l ? K_STEP : K_CONTIG, 0, 1, false, SHAPE_OF(7, 33));
                kdesc d = {.op = AGI_K_BINARY, .sub = sub, .dst = y, .src = {a, b},
                           .f = {sub == AGI_B_SOFTPLUS_BWD ? 1.5 : 0.1, 2.0}};
                half_vs_f32(c, &d, 2);
            }
    }
}

/* Ops staged through f32 (stage16.c) in f16 / bf16: the 16-bit record on
 * the device vs the f32 kernel on the CPU, per dtype tolerance. */
static void case_half_staged(kt *c)
{
    static const ag_dtype dts[2] = {AG_F16, AG_BF16};
    for (int di = 0; di < 2; di++) {
        ag_dtype dt = dts[di];
        for (int r = AGI_R_SUM; r <= AGI_R_MIN; r++) {
            sub_case(c, "%s reduce %s over dim 1 of a transposed view", ag_dtype_name(dt), agi_reduce_op_name(r));
            tp x = pair_rand_kind(c, dt, K_TRANS, -2, 2, false, SHAPE_OF(9, 70));
            tp y = pair_rand_kind(c, dt, K_CONTIG, 0, 1, false, SHAPE_OF(9, 1));
            kdesc d = {.op = AGI_K_REDUCE, .sub = r, .dst = y, .src = {x}};
            half_vs_f32(c, &d, 1);
        }
        /* Contiguous rows (Vulkan: one dispatch, no f32 scratch), a long
         * reduction split into partials, and the index reductions (exact:
         * ties between equal 16-bit values go to the first index). */
        for (int r = AGI_R_SUM; r < AGI_R_COUNT; r++) {
            bool arg = r == AGI_R_ARGMAX || r == AGI_R_ARGMIN;
            sub_case(c, "%s reduce %s over the rows of [6, 300]", ag_dtype_name(dt), agi_reduce_op_name(r));
            tp x = pair_rand(c, dt, -2, 2, SHAPE_OF(6, 300));
            tp y = pair_out(c, arg ? AG_I32 : dt, SHAPE_OF(6, 1));
            kdesc d = {.op = AGI_K_REDUCE, .sub = r, .dst = y, .src = {x}};
            ag_device_counters k0, k1;
            ck_assert_int_eq(ag_device_sync(c->dev[0]), AG_OK);
            ck_assert_int_eq(ag_device_get_counters(c->dev[0], &k0), AG_OK);
            run(c, &d);
            ck_assert_int_eq(ag_device_get_counters(c->dev[0], &k1), AG_OK);
            if (ag_device_get_info(c->dev[0])->backend == AG_BACKEND_VULKAN)
                ck_assert_msg(k1.dispatches - k0.dispatches == 1, "[%s] %s: %llu dispatches", c->spec, c->sub,
                              (unsigned long long)(k1.dispatches - k0.dispatches));
            if (arg) compare(c, y, 0, 0, "indices");
            else compare(c, y, 1e-6, half_rtol(dt), "16-bit dst vs cpu");
        }
        sub_case(c, "%s reduce sum over [2, 40000] (split into partials)", ag_dtype_name(dt));
        tp xl = pair_rand(c, dt, -2, 2, SHAPE_OF(2, 40000));
        tp yl = pair_out(c, dt, SHAPE_OF(2, 1));
        kdesc dl = {.op = AGI_K_REDUCE, .sub = AGI_R_SUM, .dst = yl, .src = {xl}};
        half_vs_f32(c, &dl, 1);
        for (int sm = 0; sm < 2; sm++) {
            sub_case(c, "%s %s [6, 50]", ag_dtype_name(dt), sm ? "log_softmax" : "softmax");
            tp x = pair_rand(c, dt, -4, 4, SHAPE_OF(6, 50));
            tp y = pair_out(c, dt, SHAPE_OF(6, 50));
            kdesc d = {.op = AGI_K_SOFTMAX, .sub = sm, .dst = y, .src = {x}};
            half_vs_f32(c, &d, 1);
        }
        sub_case(c, "%s gemm [2, 13, 40] @ [2, 40, 9], B transposed", ag_dtype_name(dt));
        tp a = pair_rand(c, dt, -1, 1, SHAPE_OF(2, 13, 40));
        tp b = pair_rand_kind(c, dt, K_TRANS, -1, 1, false, SHAPE_OF(2, 40, 9));
        tp y = pair_out(c, dt, SHAPE_OF(2, 13, 9));
        kdesc g = {.op = AGI_K_GEMM, .dst = y, .src = {a, b}, .f = {1.0, 0.0}};
        half_vs_f32(c, &g, 2);
        sub_case(c, "%s gemm [3, 20, 33] @ [3, 33, 18], alpha 2, beta 0.5 (C read)", ag_dtype_name(dt));
        tp a3 = pair_rand_kind(c, dt, K_TRANS, -1, 1, false, SHAPE_OF(3, 20, 33));
        tp b3 = pair_rand(c, dt, -1, 1, SHAPE_OF(3, 33, 18));
        tp y3 = pair_rand(c, dt, -1, 1, SHAPE_OF(3, 20, 18));
        kdesc g3 = {.op = AGI_K_GEMM, .dst = y3, .src = {a3, b3}, .f = {2.0, 0.5}};
        run(c, &g3); /* the same 16-bit record on the CPU backend as reference */
        compare(c, g3.dst, 1e-6, half_rtol(dt), "16-bit dst vs cpu");
        /* Partial 128x128 tiles of the blocked GPU kernel, K not a multiple of its step 8. */
        sub_case(c, "%s gemm [1, 133, 21] @ [1, 21, 150], A transposed", ag_dtype_name(dt));
        tp a4 = pair_rand_kind(c, dt, K_TRANS, -1, 1, false, SHAPE_OF(1, 133, 21));
        tp b4 = pair_rand(c, dt, -1, 1, SHAPE_OF(1, 21, 150));
        tp y4 = pair_out(c, dt, SHAPE_OF(1, 133, 150));
        kdesc g4 = {.op = AGI_K_GEMM, .dst = y4, .src = {a4, b4}, .f = {1.0, 0.0}};
        half_vs_f32(c, &g4, 2);
        sub_case(c, "%s layer_norm [5, 64] with weight and bias", ag_dtype_name(dt));
        tp x = pair_rand(c, dt, -3, 3, SHAPE_OF(5, 64));
        tp w = pair_rand(c, dt, 0.5, 1.5, SHAPE_OF(64)), bb = pair_rand(c, dt, -1, 1, SHAPE_OF(64));
        tp ln = pair_out(c, dt, SHAPE_OF(5, 64));
        kdesc l = {.op = AGI_K_LAYER_NORM, .dst = ln, .src = {x, w, bb}, .f = {1e-5}};
        half_vs_f32(c, &l, 3);
    }
}

static void case_binary_i32(kt *c)
{
    static const int subs[] = {AGI_B_ADD, AGI_B_SUB, AGI_B_MUL, AGI_B_MAX, AGI_B_MIN, AGI_B_EQ,
                               AGI_B_NE,  AGI_B_LT,  AGI_B_LE,  AGI_B_GT,  AGI_B_GE};
    for (size_t s = 0; s < sizeof subs / sizeof subs[0]; s++)
        for (int l = 0; l < 3; l++) {
            int sub = subs[s];
            bool cmp = sub >= AGI_B_EQ;
            int ak = l == 1 ? K_TRANS : K_CONTIG, bk = l == 1 ? K_BCAST0 : l == 2 ? K_STEP : K_CONTIG;
            double range = l == 2 ? 2.0e9 : 3; /* large values wrap around */
            sub_case(c, "sub %d (a %s, b %s, range %g)", sub, kind_names[ak], kind_names[bk], range);
            tp a = pair_rand_kind(c, AG_I32, ak, -range, range, true, SHAPE_OF(7, 33));
            tp b = pair_rand_kind(c, AG_I32, bk, -range, range, true, SHAPE_OF(7, 33));
            tp y = pair_out(c, cmp ? AG_U8 : AG_I32, SHAPE_OF(7, 33));
            kdesc d = {.op = AGI_K_BINARY, .sub = sub, .dst = y, .src = {a, b}};
            run(c, &d);
            compare(c, y, 0, 0, "dst");
        }
}

static void case_where(kt *c)
{
    for (int di = 0; di < 2; di++)
        for (int l = 0; l < 2; l++) {
            ag_dtype dt = all_dtypes[di];
            sub_case(c, "%s, layout %d", ag_dtype_name(dt), l);
            tp cond = pair_rand_kind(c, AG_U8, l ? K_BCAST0 : K_CONTIG, 0, 1, true, SHAPE_OF(7, 33));
            tp a = pair_rand_kind(c, dt, l ? K_TRANS : K_CONTIG, -100, 100, true, SHAPE_OF(7, 33));
            tp b = pair_rand_kind(c, dt, l ? K_STEP : K_CONTIG, -100, 100, true, SHAPE_OF(7, 33));
            tp y = pair_out(c, dt, SHAPE_OF(7, 33));
            kdesc d = {.op = AGI_K_WHERE, .dst = y, .src = {cond, a, b}};
            run(c, &d);
            compare(c, y, 0, 0, "dst");
        }
}

typedef struct reduce_cfg {
    int ndim;
    int64_t in[4], out[4];
    int kind;
} reduce_cfg;

static const reduce_cfg reduce_cfgs[] = {
    {1, {130}, {1}, K_CONTIG},
    {1, {1}, {1}, K_CONTIG},
    {2, {7, 33}, {1, 33}, K_CONTIG},
    {2, {7, 33}, {7, 1}, K_CONTIG},
    {2, {7, 33}, {1, 1}, K_CONTIG},
    {2, {7, 33}, {7, 1}, K_TRANS},
    {2, {7, 33}, {1, 33}, K_STEP},
    {3, {3, 5, 7}, {1, 5, 1}, K_CONTIG},
    {3, {3, 5, 7}, {3, 1, 7}, K_CONTIG},
    {3, {3, 5, 7}, {3, 5, 7}, K_CONTIG},
    {4, {2, 3, 4, 5}, {2, 1, 4, 1}, K_TRANS},
    {2, {2, 5000}, {2, 1}, K_CONTIG},
    {2, {300, 40}, {1, 40}, K_CONTIG},
};

/* Checks the CPU reference itself against a naive host reduction. */
static void reduce_host_check(kt *c, int sub, const ag_tensor *x, const ag_tensor *y, int nd,
                              const int64_t *in, const int64_t *out)
{
    float *xv = read_all(c, x);
    void *yv = read_all(c, y);
    int64_t nin = agi_numel(nd, in), nout = agi_numel(nd, out);
    double *acc = calloc((size_t)nout, sizeof *acc);
    int64_t *arg = calloc((size_t)nout, sizeof *arg), *cnt = calloc((size_t)nout, sizeof *cnt);
    ck_assert(acc && arg && cnt);
    for (int64_t e = 0; e < nin; e++) {
        int64_t rest = e, o = 0, ostride = 1, k = 0, kstride = 1;
        for (int d = nd - 1; d >= 0; d--) {
            int64_t i = rest % in[d];
            rest /= in[d];
            if (out[d] == in[d]) o += i * ostride;
            else { k += i * kstride; kstride *= in[d]; }
            ostride *= out[d];
        }
        double v = xv[e];
        bool better = sub == AGI_R_SUM || cnt[o] == 0 ||
                      ((sub == AGI_R_MAX || sub == AGI_R_ARGMAX) ? v > acc[o] : v < acc[o]);
        if (sub == AGI_R_SUM) acc[o] += v;
        else if (better) { acc[o] = v; arg[o] = k; }
        cnt[o]++;
    }
    for (int64_t o = 0; o < nout; o++) {
        bool argop = sub == AGI_R_ARGMAX || sub == AGI_R_ARGMIN;
        double got = argop ? (double)((int32_t *)yv)[o] : (double)((float *)yv)[o];
        double want = argop ? (double)arg[o] : acc[o];
        ck_assert_msg(close_enough(got, want, sub == AGI_R_SUM ? 1e-4 : 0, sub == AGI_R_SUM ? 1e-5 : 0),
                      "cpu reference: reduce %s: output %lld is %.9g, naive host value %.9g", c->sub,
                      (long long)o, got, want);
    }
    free(xv);
    free(yv);
    free(acc);
    free(arg);
    free(cnt);
}

static void case_reduce(kt *c)
{
    for (int sub = 0; sub < AGI_R_COUNT; sub++)
        for (size_t r = 0; r < sizeof reduce_cfgs / sizeof reduce_cfgs[0]; r++) {
            const reduce_cfg *cfg = &reduce_cfgs[r];
            bool arg = sub == AGI_R_ARGMAX || sub == AGI_R_ARGMIN;
            sub_case(c, "sub %d, config %zu (%s)", sub, r, kind_names[cfg->kind]);
            /* Arg-reductions on whole numbers in [0, 3]: many ties. */
            tp x = pair_rand_kind(c, AG_F32, cfg->kind, arg ? 0 : -2, arg ? 3 : 2, arg, cfg->ndim,
                                  cfg->in);
            tp y = pair_out(c, arg ? AG_I32 : AG_F32, cfg->ndim, cfg->out);
            kdesc d = {.op = AGI_K_REDUCE, .sub = sub, .dst = y, .src = {x}};
            run(c, &d);
            reduce_host_check(c, sub, x.t[1], y.t[1], cfg->ndim, cfg->in, cfg->out);
            if (sub == AGI_R_SUM) compare(c, y, 1e-4, 1e-4, "dst");
            else compare(c, y, 0, 0, "dst");
        }
}

static void case_softmax(kt *c)
{
    static const int64_t shapes[][2] = {{7, 33}, {1, 130}, {33, 1}, {2, 1000}};
    for (int sub = 0; sub < 2; sub++)
        for (int s = 0; s < 4; s++) {
            sub_case(c, "%s [%lld,%lld]", sub ? "log_softmax" : "softmax",
                     (long long)shapes[s][0], (long long)shapes[s][1]);
            tp x = pair_rand(c, AG_F32, -5, 5, 2, shapes[s]);
            tp y = pair_out(c, AG_F32, 2, shapes[s]);
            kdesc d = {.op = AGI_K_SOFTMAX, .sub = sub, .dst = y, .src = {x}};
            run(c, &d);
            compare(c, y, 1e-6, 1e-4, "y");
            tp dy = pair_rand(c, AG_F32, -1, 1, 2, shapes[s]);
            tp dx = pair_out(c, AG_F32, 2, shapes[s]);
            kdesc b = {.op = AGI_K_SOFTMAX_BWD, .sub = sub, .dst = dx, .src = {y, dy}};
            run(c, &b);
            compare(c, dx, 1e-5, 1e-4, "dx");
        }
}

/* LAYER_NORM with and without weight, bias and statistics, rows long and
 * short (a workgroup per row, and a row per invocation on CPU-type devices),
 * one row of a large constant offset (the centred variance must not cancel),
 * eps 0 on a non-constant row. */
static void case_layer_norm(kt *c)
{
    static const int64_t shapes[][2] = {{7, 33}, {1, 1000}, {40, 3}, {5, 768}};
    for (int s = 0; s < 4; s++)
        for (int parts = 0; parts < 4; parts++) {
            sub_case(c, "[%lld,%lld]%s%s", (long long)shapes[s][0], (long long)shapes[s][1],
                     parts & 1 ? " weight+bias" : "", parts & 2 ? " stats" : "");
            int64_t rows = shapes[s][0], n = shapes[s][1];
            tp x = pair_rand(c, AG_F32, -3, 3, 2, shapes[s]);
            tp y = pair_out(c, AG_F32, 2, shapes[s]);
            tp w = {{0}}, b = {{0}}, st = {{0}};
            if (parts & 1) {
                w = pair_rand(c, AG_F32, -2, 2, 1, &n);
                b = pair_rand(c, AG_F32, -1, 1, 1, &n);
            }
            if (parts & 2) st = pair_out(c, AG_F32, 2, (int64_t[]){rows, 2});
            kdesc d = {.op = AGI_K_LAYER_NORM, .dst = y, .dst2 = st, .src = {x, w, b},
                       .f = {s == 1 ? 0.0 : 1e-5}};
            run(c, &d);
            compare(c, y, 1e-5, 1e-4, "y");
            if (parts & 2) compare(c, st, 1e-5, 1e-4, "stats");
        }
    sub_case(c, "offset 1e4 row");
    int64_t shape[2] = {3, 300};
    tp x = pair_rand(c, AG_F32, 1e4 - 1, 1e4 + 1, 2, shape);
    tp y = pair_out(c, AG_F32, 2, shape);
    run(c, &(kdesc){.op = AGI_K_LAYER_NORM, .dst = y, .src = {x}, .f = {1e-5}});
    compare(c, y, 2e-3, 2e-3, "y");
}

typedef struct gemm_cfg {
    int64_t b, m, n, k;
    bool ta, tb;
    int bcast; /* 1: A's batch stride 0, 2: B's */
    double alpha, beta;
} gemm_cfg;

static const gemm_cfg gemm_cfgs[] = {
    {1, 1, 1, 1, false, false, 0, 1, 0},    {1, 7, 33, 130, false, false, 0, 1, 0},
    {2, 33, 7, 1, false, false, 0, 1, 0},   {3, 130, 33, 7, true, false, 0, 1, 0},
    {1, 33, 130, 65, false, true, 0, 1, 0}, {4, 7, 7, 33, true, true, 0, 1, 0},
    {3, 17, 9, 5, false, false, 1, 1, 0},   {3, 5, 9, 17, true, false, 2, 1, 0},
    {1, 64, 64, 64, false, false, 0, 0.5, 2.0}, {2, 1, 130, 33, false, true, 0, -1, 1},
    {1, 130, 1, 33, true, false, 0, 1, 0.5}, {1, 97, 203, 301, false, false, 0, 1, 0},
    /* matrix-vector products long enough for the GPU kernel's wider trees */
    {2, 70, 1, 2100, false, false, 0, 1, 0}, {1, 1, 90, 600, false, true, 0, 1, 0.5},
    {2, 40, 1, 700, true, false, 0, 2, 0},
};

/* A [b, r, c] operand, stored transposed when `t`, batch stride 0 when `bc`. */
static tp gemm_operand(kt *c, int64_t b, int64_t r, int64_t cols, bool t, bool bc)
{
    int64_t sb = bc ? 1 : b;
    tp x = pair_rand(c, AG_F32, -1, 1, 3, t ? (int64_t[]){sb, cols, r} : (int64_t[]){sb, r, cols});
    int64_t st[3] = {bc ? 0 : r * cols, t ? 1 : cols, t ? r : 1};
    for (int s = 0; s < 2; s++) {
        x.t[s] = agi_tensor_view(x.base[s], 3, (int64_t[]){b, r, cols}, st, 0);
        ck_assert(x.t[s] != NULL);
    }
    return x;
}

/* Checks the CPU reference itself against a naive host product (in double). */
static void gemm_host_check(kt *c, const gemm_cfg *q, const ag_tensor *a, const ag_tensor *b,
                            const float *c0, const ag_tensor *y)
{
    float *av = read_all(c, a), *bv = read_all(c, b), *yv = read_all(c, y);
    for (int64_t n = 0; n < q->b; n++)
        for (int64_t i = 0; i < q->m; i++)
            for (int64_t j = 0; j < q->n; j++) {
                double s = 0;
                for (int64_t p = 0; p < q->k; p++)
                    s += (double)av[(n * q->m + i) * q->k + p] * bv[(n * q->k + p) * q->n + j];
                int64_t o = (n * q->m + i) * q->n + j;
                double want = q->alpha * s + (q->beta != 0 ? q->beta * c0[o] : 0.0);
                ck_assert_msg(close_enough(yv[o], want, 1e-5 * (double)q->k, 1e-4),
                              "cpu reference: gemm %s: C[%lld] is %.9g, naive host value %.9g",
                              c->sub, (long long)o, yv[o], want);
            }
    free(av);
    free(bv);
    free(yv);
}

static void case_gemm(kt *c)
{
    for (size_t g = 0; g < sizeof gemm_cfgs / sizeof gemm_cfgs[0]; g++) {
        const gemm_cfg *q = &gemm_cfgs[g];
        sub_case(c, "B=%lld M=%lld N=%lld K=%lld%s%s%s alpha %g beta %g", (long long)q->b,
                 (long long)q->m, (long long)q->n, (long long)q->k, q->ta ? " A^T" : "",
                 q->tb ? " B^T" : "", q->bcast ? " batch-broadcast" : "", q->alpha, q->beta);
        tp a = gemm_operand(c, q->b, q->m, q->k, q->ta, q->bcast == 1);
        tp b = gemm_operand(c, q->b, q->k, q->n, q->tb, q->bcast == 2);
        tp y = q->beta == 0 ? pair_out(c, AG_F32, SHAPE_OF(q->b, q->m, q->n)) /* NaN: ignored */
                            : pair_rand(c, AG_F32, -1, 1, SHAPE_OF(q->b, q->m, q->n));
        float *c0 = read_all(c, y.t[1]);
        kdesc d = {.op = AGI_K_GEMM, .dst = y, .src = {a, b}, .f = {q->alpha, q->beta}};
        run(c, &d);
        gemm_host_check(c, q, a.t[1], b.t[1], c0, y.t[1]);
        free(c0);
        compare(c, y, 1e-5 * (double)q->k, 1e-4, "C");
    }
}

typedef struct conv_cfg {
    int64_t n, c, h, w, kh, kw, sh, sw, ph, pw, dh, dw;
} conv_cfg;

static const conv_cfg conv_cfgs[] = {
    {2, 3, 7, 7, 3, 3, 1, 1, 1, 1, 1, 1}, {1, 2, 8, 9, 2, 3, 2, 2, 0, 1, 1, 1},
    {1, 1, 10, 10, 3, 3, 2, 1, 2, 2, 2, 2}, {3, 2, 5, 4, 1, 1, 1, 1, 0, 0, 1, 1},
    {1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1}, {1, 4, 33, 7, 5, 3, 3, 2, 2, 1, 1, 1},
};

static agi_conv_params conv_params(const conv_cfg *q)
{
    agi_conv_params p = {q->n, q->c, q->h, q->w, q->kh, q->kw, 0, 0, q->sh, q->sw, q->ph, q->pw, q->dh, q->dw};
    p.oh = (q->h + 2 * q->ph - q->dh * (q->kh - 1) - 1) / q->sh + 1;
    p.ow = (q->w + 2 * q->pw - q->dw * (q->kw - 1) - 1) / q->sw + 1;
    return p;
}

/* f32, and f16 / bf16 (Vulkan converts in registers, the other backends
 * stage through f32): cols exactly, col2im's sums to f32 reordering plus the
 * one rounding. */
static void case_im2col(kt *c)
{
    static const ag_dtype dts[3] = {AG_F32, AG_F16, AG_BF16};
    for (int di = 0; di < 3; di++)
        for (size_t i = 0; i < sizeof conv_cfgs / sizeof conv_cfgs[0]; i++) {
            ag_dtype dt = dts[di];
            agi_conv_params p = conv_params(&conv_cfgs[i]);
            sub_case(c, "%s config %zu: x [%lld,%lld,%lld,%lld] k %lldx%lld s %lldx%lld p %lldx%lld d %lldx%lld",
                     ag_dtype_name(dt), i, (long long)p.n, (long long)p.c, (long long)p.h, (long long)p.w,
                     (long long)p.kh, (long long)p.kw, (long long)p.sh, (long long)p.sw,
                     (long long)p.ph, (long long)p.pw, (long long)p.dh, (long long)p.dw);
            tp x = pair_rand(c, dt, -2, 2, SHAPE_OF(p.n, p.c, p.h, p.w));
            tp cols = pair_out(c, dt, SHAPE_OF(p.n, p.c * p.kh * p.kw, p.oh * p.ow));
            kdesc d = {.op = AGI_K_IM2COL, .dst = cols, .src = {x}, .conv = &p};
            ag_device_counters k0, k1;
            ck_assert_int_eq(ag_device_sync(c->dev[0]), AG_OK);
            ck_assert_int_eq(ag_device_get_counters(c->dev[0], &k0), AG_OK);
            run(c, &d);
            ck_assert_int_eq(ag_device_get_counters(c->dev[0], &k1), AG_OK);
            if (ag_device_get_info(c->dev[0])->backend == AG_BACKEND_VULKAN) /* 16-bit too: no staging */
                ck_assert_msg(k1.dispatches - k0.dispatches == 1, "[%s] %s: %llu dispatches", c->spec, c->sub,
                              (unsigned long long)(k1.dispatches - k0.dispatches));
            compare(c, cols, 0, 0, "cols");
            tp g = pair_rand(c, dt, -2, 2, SHAPE_OF(p.n, p.c * p.kh * p.kw, p.oh * p.ow));
            tp dx = pair_out(c, dt, SHAPE_OF(p.n, p.c, p.h, p.w));
            kdesc b = {.op = AGI_K_COL2IM, .dst = dx, .src = {g}, .conv = &p};
            run(c, &b);
            compare(c, dx, 1e-5, dt == AG_F32 ? 1e-5 : half_rtol(dt), "x");
        }
}

typedef struct pool_cfg {
    int64_t n, c, h, w, k, s, p, d;
    int ceil_mode, count_include_pad;
} pool_cfg;

static const pool_cfg pool_cfgs[] = {
    {2, 3, 7, 7, 2, 2, 0, 1, 0, 1}, {1, 2, 7, 9, 3, 2, 1, 1, 1, 1}, {1, 2, 7, 9, 3, 2, 1, 1, 1, 0},
    {1, 1, 8, 8, 3, 1, 1, 2, 0, 0}, {2, 1, 5, 5, 2, 2, 0, 1, 1, 1}, {1, 3, 6, 6, 3, 3, 1, 1, 1, 1},
    {1, 1, 1, 1, 1, 1, 0, 1, 0, 1}, {1, 2, 33, 10, 4, 3, 2, 1, 1, 0},
};

/* Output size like PyTorch (a window never starts in the right padding). */
static int64_t pool_out(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int ceil_mode)
{
    int64_t num = in + 2 * p - d * (k - 1) - 1;
    int64_t o = (ceil_mode ? (num + s - 1) / s : num / s) + 1;
    if (ceil_mode && (o - 1) * s >= in + p) o--;
    return o;
}

static agi_pool_params pool_params(const pool_cfg *q, bool dilation)
{
    int64_t d = dilation ? q->d : 1;
    agi_pool_params p = {.n = q->n, .c = q->c, .h = q->h, .w = q->w, .kh = q->k, .kw = q->k,
                         .sh = q->s, .sw = q->s, .ph = q->p, .pw = q->p, .dh = d, .dw = d,
                         .ceil_mode = q->ceil_mode, .count_include_pad = q->count_include_pad};
    p.oh = pool_out(q->h, q->k, q->s, q->p, d, q->ceil_mode);
    p.ow = pool_out(q->w, q->k, q->s, q->p, d, q->ceil_mode);
    return p;
}

static void case_maxpool(kt *c)
{
    for (size_t i = 0; i < sizeof pool_cfgs / sizeof pool_cfgs[0]; i++) {
        agi_pool_params p = pool_params(&pool_cfgs[i], true);
        sub_case(c, "config %zu (out %lldx%lld)", i, (long long)p.oh, (long long)p.ow);
        /* whole numbers: ties, so the first-occurrence rule is exercised */
        tp x = pair_rand_kind(c, AG_F32, K_CONTIG, 0, 4, true, SHAPE_OF(p.n, p.c, p.h, p.w));
        tp y = pair_out(c, AG_F32, SHAPE_OF(p.n, p.c, p.oh, p.ow));
        tp idx = pair_out(c, AG_I32, SHAPE_OF(p.n, p.c, p.oh, p.ow));
        kdesc d = {.op = AGI_K_MAXPOOL2D, .dst = y, .dst2 = idx, .src = {x}, .pool = &p};
        run(c, &d);
        compare(c, y, 0, 0, "y");
        compare(c, idx, 0, 0, "indices");
        tp dy = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(p.n, p.c, p.oh, p.ow));
        tp dx = pair_out(c, AG_F32, SHAPE_OF(p.n, p.c, p.h, p.w));
        /* the backward reads the reference indices on both sides */
        tp idx_ref = {{idx.t[1], idx.t[1]}, {idx.t[1], idx.t[1]}};
        ag_tensor *idx_dev = ag_to_device(idx.t[1], c->dev[0]);
        ck_assert(idx_dev != NULL);
        idx_ref.t[0] = idx_ref.base[0] = idx_dev;
        kdesc b = {.op = AGI_K_MAXPOOL2D_BWD, .dst = dx, .src = {dy, idx_ref}, .pool = &p};
        run(c, &b);
        compare(c, dx, 1e-6, 1e-5, "dx");
    }
}

static void case_avgpool(kt *c)
{
    for (size_t i = 0; i < sizeof pool_cfgs / sizeof pool_cfgs[0]; i++) {
        agi_pool_params p = pool_params(&pool_cfgs[i], false);
        sub_case(c, "config %zu (out %lldx%lld, ceil %d, count_include_pad %d)", i,
                 (long long)p.oh, (long long)p.ow, p.ceil_mode, p.count_include_pad);
        tp x = pair_rand(c, AG_F32, -2, 2, SHAPE_OF(p.n, p.c, p.h, p.w));
        tp y = pair_out(c, AG_F32, SHAPE_OF(p.n, p.c, p.oh, p.ow));
        kdesc d = {.op = AGI_K_AVGPOOL2D, .dst = y, .src = {x}, .pool = &p};
        run(c, &d);
        compare(c, y, 1e-6, 1e-5, "y");
        tp dy = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(p.n, p.c, p.oh, p.ow));
        tp dx = pair_out(c, AG_F32, SHAPE_OF(p.n, p.c, p.h, p.w));
        kdesc b = {.op = AGI_K_AVGPOOL2D_BWD, .dst = dx, .src = {dy}, .pool = &p};
        run(c, &b);
        compare(c, dx, 1e-6, 1e-5, "dx");
    }
    static const int64_t adaptive[][4] = {{7, 10, 3, 4}, {5, 5, 5, 5}, {3, 4, 5, 7}, {33, 7, 1, 1}, {1, 1, 2, 3}};
    for (int i = 0; i < 5; i++) {
        agi_pool_params p = {.n = 2, .c = 3, .h = adaptive[i][0], .w = adaptive[i][1],
                             .oh = adaptive[i][2], .ow = adaptive[i][3], .adaptive = 1};
        sub_case(c, "adaptive %lldx%lld -> %lldx%lld", (long long)p.h, (long long)p.w,
                 (long long)p.oh, (long long)p.ow);
        tp x = pair_rand(c, AG_F32, -2, 2, SHAPE_OF(p.n, p.c, p.h, p.w));
        tp y = pair_out(c, AG_F32, SHAPE_OF(p.n, p.c, p.oh, p.ow));
        kdesc d = {.op = AGI_K_AVGPOOL2D, .dst = y, .src = {x}, .pool = &p};
        run(c, &d);
        compare(c, y, 1e-6, 1e-5, "y");
        tp dy = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(p.n, p.c, p.oh, p.ow));
        tp dx = pair_out(c, AG_F32, SHAPE_OF(p.n, p.c, p.h, p.w));
        kdesc b = {.op = AGI_K_AVGPOOL2D_BWD, .dst = dx, .src = {dy}, .pool = &p};
        run(c, &b);
        compare(c, dx, 1e-6, 1e-5, "dx");
    }
}

static void case_gather(kt *c)
{
    for (int di = 0; di < 2; di++) {
        ag_dtype dt = all_dtypes[di];
        sub_case(c, "%s dim 0", ag_dtype_name(dt));
        tp x = pair_rand_kind(c, dt, K_CONTIG, -100, 100, true, SHAPE_OF(7, 33));
        tp idx = pair_rand_kind(c, AG_I32, K_CONTIG, -1, 8, true, SHAPE_OF(5, 33));
        tp y = pair_out(c, dt, SHAPE_OF(5, 33));
        kdesc d = {.op = AGI_K_GATHER, .dst = y, .src = {x, idx}, .i = {0}};
        run(c, &d);
        compare(c, y, 0, 0, "dst");

        sub_case(c, "%s dim 1, transposed source, broadcast index", ag_dtype_name(dt));
        x = pair_rand_kind(c, dt, K_TRANS, -100, 100, true, SHAPE_OF(7, 33));
        idx = pair_rand_kind(c, AG_I32, K_BCAST0, -2, 34, true, SHAPE_OF(7, 12));
        y = pair_out(c, dt, SHAPE_OF(7, 12));
        d = (kdesc){.op = AGI_K_GATHER, .dst = y, .src = {x, idx}, .i = {1}};
        run(c, &d);
        compare(c, y, 0, 0, "dst");

        sub_case(c, "%s 3-D dim 2", ag_dtype_name(dt));
        x = pair_rand_kind(c, dt, K_CONTIG, -100, 100, true, SHAPE_OF(3, 4, 5));
        idx = pair_rand_kind(c, AG_I32, K_STEP, 0, 4, true, SHAPE_OF(3, 4, 1));
        y = pair_out(c, dt, SHAPE_OF(3, 4, 1));
        d = (kdesc){.op = AGI_K_GATHER, .dst = y, .src = {x, idx}, .i = {2}};
        run(c, &d);
        compare(c, y, 0, 0, "dst");
    }
}

static void case_scatter_add(kt *c)
{
    sub_case(c, "dim 0 with duplicates and out-of-range");
    tp dst = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(7, 33));
    tp src = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(10, 33));
    tp idx = pair_rand_kind(c, AG_I32, K_CONTIG, -1, 7, true, SHAPE_OF(10, 33));
    kdesc d = {.op = AGI_K_SCATTER_ADD, .dst = dst, .src = {src, idx}, .i = {0}};
    run(c, &d);
    compare(c, dst, 1e-6, 1e-5, "dst");

    sub_case(c, "dim 1, strided source, broadcast index");
    dst = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(7, 33));
    src = pair_rand_kind(c, AG_F32, K_TRANS, -1, 1, false, SHAPE_OF(7, 50));
    idx = pair_rand_kind(c, AG_I32, K_BCAST0, 0, 33, true, SHAPE_OF(7, 50));
    d = (kdesc){.op = AGI_K_SCATTER_ADD, .dst = dst, .src = {src, idx}, .i = {1}};
    run(c, &d);
    compare(c, dst, 1e-6, 1e-5, "dst");

    sub_case(c, "1-D, 130 into 7");
    dst = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(7));
    src = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(130));
    idx = pair_rand_kind(c, AG_I32, K_CONTIG, 0, 6, true, SHAPE_OF(130));
    d = (kdesc){.op = AGI_K_SCATTER_ADD, .dst = dst, .src = {src, idx}, .i = {0}};
    run(c, &d);
    compare(c, dst, 1e-5, 1e-5, "dst");
}

static void case_rng(kt *c)
{
    static const uint64_t seeds[][2] = {{0, 0}, {12345, (UINT64_C(1) << 33) + 7}, {~UINT64_C(0), 5}};
    for (int sub = 0; sub < 2; sub++)
        for (int s = 0; s < 3; s++)
            for (int kind = 0; kind < 2; kind++) {
                sub_case(c, "%s seed %llu offset %llu, dst %s", sub ? "normal" : "uniform",
                         (unsigned long long)seeds[s][0], (unsigned long long)seeds[s][1],
                         kind ? "step-2 slice" : "contiguous");
                tp y = kind ? pair_rand_kind(c, AG_F32, K_STEP, 0, 1, false, SHAPE_OF(7, 33))
                            : pair_out(c, AG_F32, SHAPE_OF(130));
                kdesc d = {.op = AGI_K_RNG, .sub = sub, .dst = y,
                           .u = {seeds[s][0], seeds[s][1]},
                           .f = {sub ? 1.0 : -2.0, sub ? 0.5 : 3.0}};
                run(c, &d);
                if (sub == AGI_RNG_UNIFORM) compare(c, y, 0, 0, "dst");
                else compare(c, y, 1e-4, 1e-4, "dst");
            }
}

static void case_optim(kt *c)
{
    typedef struct { agi_kernel_op op; agi_optim_params o; const char *what; } ocfg;
    const ocfg cfgs[] = {
        {AGI_K_SGD, {.lr = 0.1f, .weight_decay = 0.01f}, "sgd"},
        {AGI_K_SGD, {.lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f, .first_step = 1}, "sgd momentum first step"},
        {AGI_K_SGD, {.lr = 0.1f, .momentum = 0.9f, .dampening = 0.1f, .weight_decay = 0.01f}, "sgd momentum"},
        {AGI_K_SGD, {.lr = 0.1f, .momentum = 0.9f, .nesterov = 1}, "sgd nesterov"},
        {AGI_K_ADAM, {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .bias1 = 0.19f,
                      .bias2 = 0.002f, .weight_decay = 0.01f}, "adam"},
        {AGI_K_ADAM, {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f, .bias1 = 0.19f,
                      .bias2 = 0.002f, .weight_decay = 0.01f, .decoupled = 1}, "adamw"},
        {AGI_K_RMSPROP, {.lr = 0.01f, .beta1 = 0.99f, .eps = 1e-8f, .weight_decay = 0.01f}, "rmsprop"},
        {AGI_K_RMSPROP, {.lr = 0.01f, .beta1 = 0.99f, .eps = 1e-8f, .momentum = 0.9f}, "rmsprop momentum"},
    };
    for (size_t i = 0; i < sizeof cfgs / sizeof cfgs[0]; i++)
        for (int n = 1; n <= 130; n += 129) {
            sub_case(c, "%s, %d elements", cfgs[i].what, n);
            tp p = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(n));
            tp g = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(n));
            tp s1 = pair_rand(c, AG_F32, cfgs[i].op == AGI_K_SGD ? -1 : 0, 1, SHAPE_OF(n));
            tp s2 = pair_rand(c, AG_F32, 0, 1, SHAPE_OF(n));
            kdesc d = {.op = cfgs[i].op, .dst = p, .src = {g, s1, s2}, .optim = &cfgs[i].o};
            run(c, &d);
            compare(c, p, 1e-6, 1e-5, "param");
            compare(c, s1, 1e-6, 1e-5, "state 1");
            compare(c, s2, 1e-6, 1e-5, "state 2");
        }
}

/* ======================================================================================
 * Hand-computed cases (side 0 only)
 * ==================================================================================== */

static ag_tensor *dev_f32(kt *c, int ndim, const int64_t *shape, const float *v)
{
    return upload(c, 0, AG_F32, ndim, shape, v);
}

static void exec0(kt *c, agi_kernel *k)
{
    ag_status st = agi_exec(c->name, c->dev[0], k);
    ck_assert_msg(st == AG_OK, "[%s] %s: %s failed: %s", c->spec, c->name,
                  agi_kernel_op_name(k->op), ag_last_error());
}

static void hand_softmax(kt *c)
{
    // x: [2, 3]
    ag_tensor *x = dev_f32(c, SHAPE_OF(2, 3), (float[]){1, 2, 3, 0, 0, 0});
    ag_tensor *y = ag_empty(c->dev[0], AG_F32, SHAPE_OF(2, 3));
    agi_kernel k = {.op = AGI_K_SOFTMAX, .sub = AGI_SOFTMAX};
    k.dst = agi_view_of(y);
    k.src[0] = agi_view_of(x);
    exec0(c, &k);
    expect(c, y, WANT(0.090030573, 0.244728471, 0.665240956, 1 / 3.0, 1 / 3.0, 1 / 3.0), 1e-6,
           "softmax");
    k.sub = AGI_LOG_SOFTMAX;
    exec0(c, &k);
    expect(c, y, WANT(-2.407605964, -1.407605964, -0.407605964, -1.098612289, -1.098612289,
                      -1.098612289), 1e-5, "log_softmax");
    /* log-softmax backward: dx = dy - exp(y) * sum(dy) */
    ag_tensor *dy = dev_f32(c, SHAPE_OF(2, 3), (float[]){1, 0, 0, 0, 0, 1});
    ag_tensor *dx = ag_empty(c->dev[0], AG_F32, SHAPE_OF(2, 3));
    agi_kernel b = {.op = AGI_K_SOFTMAX_BWD, .sub = AGI_LOG_SOFTMAX};
    b.dst = agi_view_of(dx);
    b.src[0] = agi_view_of(y);
    b.src[1] = agi_view_of(dy);
    exec0(c, &b);
    expect(c, dx, WANT(1 - 0.090030573, -0.244728471, -0.665240956, -1 / 3.0, -1 / 3.0, 2 / 3.0),
           1e-5, "log_softmax backward");
}

static void hand_gemm(kt *c)
{
    /* A^T stored as [K=3, M=2]; A = [[1,3,5],[2,4,6]]; B = [[1,0],[0,1],[1,1]] */
    ag_tensor *at = dev_f32(c, SHAPE_OF(1, 3, 2), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *b = dev_f32(c, SHAPE_OF(1, 3, 2), (float[]){1, 0, 0, 1, 1, 1});
    ag_tensor *y = ag_full(c->dev[0], AG_F32, SHAPE_OF(1, 2, 2), NAN);
    agi_kernel k = {.op = AGI_K_GEMM};
    k.dst = agi_view_of(y);
    k.src[0] = agi_view_of(at);
    k.src[0].shape[1] = 2;
    k.src[0].shape[2] = 3;
    k.src[0].strides[1] = 1;
    k.src[0].strides[2] = 2;
    k.src[1] = agi_view_of(b);
    k.p.s.f[0] = 1;
    k.p.s.f[1] = 0;
    exec0(c, &k);
    expect(c, y, WANT(6, 8, 8, 10), 0, "A^T @ B (beta 0 ignores NaN)");
    k.p.s.f[0] = 2;
    k.p.s.f[1] = 3;
    exec0(c, &k);
    expect(c, y, WANT(30, 40, 40, 50), 0, "2 A^T @ B + 3 C");
}

static void hand_maxpool(kt *c)
{
    // x: [1, 1, 4, 4]
    ag_tensor *x = dev_f32(c, SHAPE_OF(1, 1, 4, 4),
                           (float[]){1, 2, 5, 3, 4, 0, 1, 1, 7, 7, 2, 9, 0, 8, 9, 1});
    ag_tensor *y = ag_empty(c->dev[0], AG_F32, SHAPE_OF(1, 1, 2, 2));
    ag_tensor *idx = ag_empty(c->dev[0], AG_I32, SHAPE_OF(1, 1, 2, 2));
    agi_kernel k = {.op = AGI_K_MAXPOOL2D};
    k.p.pool = (agi_pool_params){.n = 1, .c = 1, .h = 4, .w = 4, .oh = 2, .ow = 2, .kh = 2,
                                 .kw = 2, .sh = 2, .sw = 2, .dh = 1, .dw = 1};
    k.dst = agi_view_of(y);
    k.dst2 = agi_view_of(idx);
    k.src[0] = agi_view_of(x);
    exec0(c, &k);
    expect(c, y, WANT(4, 5, 8, 9), 0, "maxpool values");
    expect(c, idx, WANT(4, 2, 13, 11), 0, "maxpool indices (first on ties)");
    ag_tensor *dy = dev_f32(c, SHAPE_OF(1, 1, 2, 2), (float[]){1, 2, 3, 4});
    ag_tensor *dx = ag_full(c->dev[0], AG_F32, SHAPE_OF(1, 1, 4, 4), NAN);
    agi_kernel b = {.op = AGI_K_MAXPOOL2D_BWD, .p = k.p};
    b.dst = agi_view_of(dx);
    b.src[0] = agi_view_of(dy);
    b.src[1] = agi_view_of(idx);
    exec0(c, &b);
    expect(c, dx, WANT(0, 0, 2, 0, 1, 0, 0, 0, 0, 0, 0, 4, 0, 3, 0, 0), 0, "maxpool backward");
}

static void hand_avgpool(kt *c)
{
    ag_tensor *x = dev_f32(c, SHAPE_OF(1, 1, 3, 3), (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    ag_tensor *y = ag_empty(c->dev[0], AG_F32, SHAPE_OF(1, 1, 2, 2));
    agi_kernel k = {.op = AGI_K_AVGPOOL2D};
    k.p.pool = (agi_pool_params){.n = 1, .c = 1, .h = 3, .w = 3, .oh = 2, .ow = 2, .kh = 2,
                                 .kw = 2, .sh = 2, .sw = 2, .ph = 1, .pw = 1, .count_include_pad = 1};
    k.dst = agi_view_of(y);
    k.src[0] = agi_view_of(x);
    exec0(c, &k);
    expect(c, y, WANT(0.25, 1.25, 2.75, 7), 1e-6, "avgpool pad 1, count_include_pad");
    k.p.pool.count_include_pad = 0;
    exec0(c, &k);
    expect(c, y, WANT(1, 2.5, 5.5, 7), 1e-6, "avgpool pad 1, exclude pad");
    /* ceil_mode: 4x4, k 3, s 2 -> 2x2; the overhang is never counted */
    float v[16];
    for (int i = 0; i < 16; i++) v[i] = (float)i;
    ag_tensor *x4 = dev_f32(c, SHAPE_OF(1, 1, 4, 4), v);
    k.p.pool = (agi_pool_params){.n = 1, .c = 1, .h = 4, .w = 4, .oh = 2, .ow = 2, .kh = 3,
                                 .kw = 3, .sh = 2, .sw = 2, .ceil_mode = 1, .count_include_pad = 1};
    k.src[0] = agi_view_of(x4);
    exec0(c, &k);
    expect(c, y, WANT(5, 6.5, 11, 12.5), 1e-6, "avgpool ceil_mode");
    /* adaptive: [1,5] -> [1,3]: windows [0,2) [1,4) [3,5) */
    ag_tensor *x5 = dev_f32(c, SHAPE_OF(1, 1, 1, 5), (float[]){1, 2, 3, 4, 5});
    ag_tensor *y3 = ag_empty(c->dev[0], AG_F32, SHAPE_OF(1, 1, 1, 3));
    agi_kernel a = {.op = AGI_K_AVGPOOL2D};
    a.p.pool = (agi_pool_params){.n = 1, .c = 1, .h = 1, .w = 5, .oh = 1, .ow = 3, .adaptive = 1};
    a.dst = agi_view_of(y3);
    a.src[0] = agi_view_of(x5);
    exec0(c, &a);
    expect(c, y3, WANT(1.5, 3, 4.5), 1e-6, "adaptive avgpool");
    ag_tensor *dx = ag_full(c->dev[0], AG_F32, SHAPE_OF(1, 1, 1, 5), NAN);
    ag_tensor *g = dev_f32(c, SHAPE_OF(1, 1, 1, 3), (float[]){2, 3, 4});
    agi_kernel ab = {.op = AGI_K_AVGPOOL2D_BWD, .p = a.p};
    ab.dst = agi_view_of(dx);
    ab.src[0] = agi_view_of(g);
    exec0(c, &ab);
    expect(c, dx, WANT(1, 2, 1, 3, 2), 1e-6, "adaptive avgpool backward");
}

static void hand_im2col(kt *c)
{
    ag_tensor *x = dev_f32(c, SHAPE_OF(1, 1, 3, 3), (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9});
    ag_tensor *cols = ag_empty(c->dev[0], AG_F32, SHAPE_OF(1, 4, 4));
    agi_kernel k = {.op = AGI_K_IM2COL};
    k.p.conv = (agi_conv_params){1, 1, 3, 3, 2, 2, 2, 2, 1, 1, 0, 0, 1, 1};
    k.dst = agi_view_of(cols);
    k.src[0] = agi_view_of(x);
    exec0(c, &k);
    expect(c, cols, WANT(1, 2, 4, 5, 2, 3, 5, 6, 4, 5, 7, 8, 5, 6, 8, 9), 0, "im2col");
    ag_tensor *back = ag_full(c->dev[0], AG_F32, SHAPE_OF(1, 1, 3, 3), NAN);
    agi_kernel b = {.op = AGI_K_COL2IM, .p = k.p};
    b.dst = agi_view_of(back);
    b.src[0] = agi_view_of(cols);
    exec0(c, &b);
    /* each x element times the number of windows covering it */
    expect(c, back, WANT(1, 4, 3, 8, 20, 12, 7, 16, 9), 0, "col2im");
}

static void hand_reduce(kt *c)
{
    // x: [2, 3]
    ag_tensor *x = dev_f32(c, SHAPE_OF(2, 3), (float[]){1, 5, 5, 7, -1, 7});
    ag_tensor *r = ag_empty(c->dev[0], AG_F32, SHAPE_OF(2, 1));
    ag_tensor *ri = ag_empty(c->dev[0], AG_I32, SHAPE_OF(2, 1));
    ag_tensor *c0 = ag_empty(c->dev[0], AG_F32, SHAPE_OF(1, 3));
    ag_tensor *all = ag_empty(c->dev[0], AG_I32, SHAPE_OF(1, 1));
    struct { int sub; ag_tensor *dst; const double *want; int64_t n; const char *what; } t[] = {
        {AGI_R_SUM, r, WANT(11, 13), "sum dim 1"},
        {AGI_R_MAX, r, WANT(5, 7), "max dim 1"},
        {AGI_R_MIN, c0, WANT(1, -1, 5), "min dim 0"},
        {AGI_R_ARGMAX, ri, WANT(1, 0), "argmax dim 1 (first of ties)"},
        {AGI_R_ARGMIN, ri, WANT(0, 1), "argmin dim 1"},
        {AGI_R_ARGMAX, all, WANT(3), "argmax over all (flattened index)"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        agi_kernel k = {.op = AGI_K_REDUCE, .sub = t[i].sub};
        k.dst = agi_view_of(t[i].dst);
        k.src[0] = agi_view_of(x);
        exec0(c, &k);
        expect(c, t[i].dst, t[i].want, t[i].n, 1e-6, t[i].what);
    }
}

static void hand_copy(kt *c)
{
    ag_tensor *x = dev_f32(c, SHAPE_OF(4), (float[]){-1.7f, 2.9f, 300.5f, -3.2f});
    ag_tensor *i = ag_empty(c->dev[0], AG_I32, SHAPE_OF(4));
    ag_tensor *u = ag_empty(c->dev[0], AG_U8, SHAPE_OF(4));
    agi_kernel k = {.op = AGI_K_COPY};
    k.src[0] = agi_view_of(x);
    k.dst = agi_view_of(i);
    exec0(c, &k);
    expect(c, i, WANT(-1, 2, 300, -3), 0, "f32 -> i32 truncates");
    k.dst = agi_view_of(u);
    exec0(c, &k);
    expect(c, u, WANT(255, 2, 44, 253), 0, "f32 -> u8 via i32, low 8 bits");
    ag_tensor *iv = upload(c, 0, AG_I32, SHAPE_OF(4), (int32_t[]){257, -1, 255, 1000});
    k.src[0] = agi_view_of(iv);
    exec0(c, &k);
    expect(c, u, WANT(1, 255, 255, 232), 0, "i32 -> u8 low 8 bits");
    agi_kernel f = {.op = AGI_K_FILL};
    f.dst = agi_view_of(u);
    f.p.s.f[0] = -2.5;
    exec0(c, &f);
    expect(c, u, WANT(254, 254, 254, 254), 0, "fill u8 -2.5");
}

/* 16-bit casts against bit patterns worked out by hand: rounding to nearest
 * even (ties both ways), f16 overflow to inf and its largest finite value,
 * subnormals, signed zero, inf and NaN; and back to f32 exactly. */
static void hand_half(kt *c)
{
    enum { N = 12 };
    const float in[N] = {1.0f, -2.5f, 65504.0f, 65520.0f, 0x1p-24f, 0x1p-25f, 0x3p-25f, 1.0f + 0x1p-11f,
                         1.0f + 0x3p-11f, -0.0f, INFINITY, NAN};
    const uint16_t f16[N] = {0x3c00, 0xc100, 0x7bff, 0x7c00, 0x0001, 0x0000, 0x0002, 0x3c00,
                             0x3c02, 0x8000, 0x7c00, 0x7e00};
    /* bf16: 1 + 2^-8 ties to even (1), 1 + 3 * 2^-8 ties up */
    const float bin[4] = {1.0f + 0x1p-8f, 1.0f + 0x3p-8f, 65504.0f, -0x1p-130f};
    const uint16_t bf16[4] = {0x3f80, 0x3f82, 0x4780, 0x8008}; /* -2^-130: f32 subnormal 2^19 units */
    ag_tensor *x = dev_f32(c, SHAPE_OF(N), in);
    ag_tensor *h = ag_empty(c->dev[0], AG_F16, SHAPE_OF(N));
    ag_tensor *back = ag_empty(c->dev[0], AG_F32, SHAPE_OF(N));
    ck_assert(h && back);
    agi_kernel k = {.op = AGI_K_COPY};
    k.src[0] = agi_view_of(x);
    k.dst = agi_view_of(h);
    exec0(c, &k);
    uint16_t got[N];
    ck_assert_int_eq(ag_tensor_read(h, got, sizeof got), AG_OK);
    for (int i = 0; i < N; i++)
        ck_assert_msg(got[i] == f16[i] || (i == N - 1 && (got[i] & 0x7e00) == 0x7e00),
                      "[%s] f32 %a -> f16: got 0x%04x, want 0x%04x", c->spec, (double)in[i], got[i], f16[i]);
    k.src[0] = agi_view_of(h);
    k.dst = agi_view_of(back);
    exec0(c, &k);
    expect(c, back, WANT(1, -2.5, 65504, INFINITY, 0x1p-24, 0, 0x1p-23, 1, 1 + 0x1p-9, 0, INFINITY, NAN), 0,
           "f16 -> f32");
    ag_tensor *bx = dev_f32(c, SHAPE_OF(4), bin);
    ag_tensor *b = ag_empty(c->dev[0], AG_BF16, SHAPE_OF(4));
    ck_assert(bx && b);
    k.src[0] = agi_view_of(bx);
    k.dst = agi_view_of(b);
    exec0(c, &k);
    uint16_t bgot[4];
    ck_assert_int_eq(ag_tensor_read(b, bgot, sizeof bgot), AG_OK);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(bgot[i] == bf16[i], "[%s] f32 %a -> bf16: got 0x%04x, want 0x%04x", c->spec,
                      (double)bin[i], bgot[i], bf16[i]);
    /* FILL: the value rounds like a copy; odd-length strided fill keeps the
     * neighbours of each written half-word */
    ag_tensor *hb = ag_empty(c->dev[0], AG_F16, SHAPE_OF(7));
    ck_assert(hb != NULL);
    agi_kernel f = {.op = AGI_K_FILL};
    f.dst = agi_view_of(hb);
    f.p.s.f[0] = 0.5;
    exec0(c, &f);
    f.dst.shape[0] = 3;
    f.dst.strides[0] = 2;
    f.dst.offset = 1;
    f.p.s.f[0] = 1.0 + 0x3p-11;
    exec0(c, &f);
    uint16_t hg[7];
    ck_assert_int_eq(ag_tensor_read(hb, hg, sizeof hg), AG_OK);
    const uint16_t hw[7] = {0x3800, 0x3c02, 0x3800, 0x3c02, 0x3800, 0x3c02, 0x3800};
    for (int i = 0; i < 7; i++)
        ck_assert_msg(hg[i] == hw[i], "[%s] strided f16 fill element %d: got 0x%04x, want 0x%04x", c->spec, i,
                      hg[i], hw[i]);
}

static void hand_index(kt *c)
{
    ag_tensor *x = dev_f32(c, SHAPE_OF(2, 2), (float[]){1, 2, 3, 4});
    ag_tensor *idx = upload(c, 0, AG_I32, SHAPE_OF(2, 2), (int32_t[]){0, 0, 1, 5});
    ag_tensor *y = ag_empty(c->dev[0], AG_F32, SHAPE_OF(2, 2));
    agi_kernel k = {.op = AGI_K_GATHER};
    k.dst = agi_view_of(y);
    k.src[0] = agi_view_of(x);
    k.src[1] = agi_view_of(idx);
    k.p.s.i[0] = 1;
    exec0(c, &k);
    expect(c, y, WANT(1, 1, 4, 0), 0, "gather dim 1 (out of range -> 0)");
    ag_tensor *d = ag_zeros(c->dev[0], AG_F32, SHAPE_OF(3));
    ag_tensor *s = dev_f32(c, SHAPE_OF(4), (float[]){1, 2, 3, 4});
    ag_tensor *si = upload(c, 0, AG_I32, SHAPE_OF(4), (int32_t[]){0, 2, 0, 7});
    agi_kernel sk = {.op = AGI_K_SCATTER_ADD};
    sk.dst = agi_view_of(d);
    sk.src[0] = agi_view_of(s);
    sk.src[1] = agi_view_of(si);
    exec0(c, &sk);
    expect(c, d, WANT(4, 0, 2), 0, "scatter_add (out of range skipped)");
}

/* An independent Philox4x32-10 (written from the published algorithm). */
static void philox_ref(uint64_t ctr, uint64_t seed, uint32_t out[4])
{
    uint32_t x[4] = {(uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0};
    uint32_t k[2] = {(uint32_t)seed, (uint32_t)(seed >> 32)};
    for (int r = 0; r < 10; r++) {
        uint64_t p0 = (uint64_t)0xD2511F53u * x[0], p1 = (uint64_t)0xCD9E8D57u * x[2];
        uint32_t y0 = (uint32_t)(p1 >> 32) ^ x[1] ^ k[0];
        uint32_t y1 = (uint32_t)p1;
        uint32_t y2 = (uint32_t)(p0 >> 32) ^ x[3] ^ k[1];
        uint32_t y3 = (uint32_t)p0;
        x[0] = y0; x[1] = y1; x[2] = y2; x[3] = y3;
        k[0] += 0x9E3779B9u;
        k[1] += 0xBB67AE85u;
    }
    memcpy(out, x, sizeof x);
}

static void hand_rng(kt *c)
{
    /* uniform [0, 1), seed 7, offset 3: values from the independent generator */
    ag_tensor *y = ag_empty(c->dev[0], AG_F32, SHAPE_OF(5));
    agi_kernel k = {.op = AGI_K_RNG, .sub = AGI_RNG_UNIFORM};
    k.dst = agi_view_of(y);
    k.p.s.u[0] = 7;
    k.p.s.u[1] = 3;
    k.p.s.f[0] = 0;
    k.p.s.f[1] = 1;
    exec0(c, &k);
    double want[5];
    for (int i = 0; i < 5; i++) {
        uint32_t o[4];
        philox_ref(3 + (uint64_t)i, 7, o);
        want[i] = (double)(o[0] >> 8) * 0x1p-24;
    }
    expect(c, y, want, 5, 0, "uniform seed 7 offset 3");
    /* seed 0, offset 0: element 0 is (0x6627e8d5 >> 8) * 2^-24 (Random123 known answer) */
    k.p.s.u[0] = 0;
    k.p.s.u[1] = 0;
    exec0(c, &k);
    float first[5];
    ck_assert_int_eq(ag_tensor_read(y, first, sizeof first), AG_OK);
    ck_assert_msg(first[0] == (float)(0x6627e8u) * 0x1p-24f, "[%s] philox seed 0 first value %.9g",
                  c->spec, first[0]);
    /* normal: mean 1, std 2 */
    k.sub = AGI_RNG_NORMAL;
    k.p.s.f[0] = 1;
    k.p.s.f[1] = 2;
    exec0(c, &k);
    for (int i = 0; i < 5; i++) {
        uint32_t o[4];
        philox_ref((uint64_t)i, 0, o);
        double u1 = ((double)(o[0] >> 8) + 1) * 0x1p-24, u2 = (double)(o[1] >> 8) * 0x1p-24;
        want[i] = 1 + 2 * sqrt(-2 * log(u1)) * cos(2 * M_PI * u2);
    }
    expect(c, y, want, 5, 1e-4, "normal seed 0");
}

static void hand_optim(kt *c)
{
    ag_tensor *p = dev_f32(c, SHAPE_OF(1), (float[]){1});
    ag_tensor *g = dev_f32(c, SHAPE_OF(1), (float[]){0.5f});
    ag_tensor *m = ag_zeros(c->dev[0], AG_F32, SHAPE_OF(1));
    ag_tensor *v = ag_zeros(c->dev[0], AG_F32, SHAPE_OF(1));
    agi_kernel k = {.op = AGI_K_SGD};
    k.p.optim = (agi_optim_params){.lr = 0.1f};
    k.dst = agi_view_of(p);
    k.src[0] = agi_view_of(g);
    exec0(c, &k);
    expect(c, p, WANT(0.95), 1e-6, "sgd");
    /* Adam's first step moves by lr * sign(g) (bias-corrected) */
    agi_kernel a = {.op = AGI_K_ADAM};
    a.p.optim = (agi_optim_params){.lr = 0.1f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                                   .bias1 = 0.1f, .bias2 = 0.001f};
    a.dst = agi_view_of(p);
    a.src[0] = agi_view_of(g);
    a.src[1] = agi_view_of(m);
    a.src[2] = agi_view_of(v);
    exec0(c, &a);
    expect(c, p, WANT(0.85), 1e-5, "adam first step");
    expect(c, m, WANT(0.05), 1e-6, "adam m");
    expect(c, v, WANT(0.00025), 1e-7, "adam v");
}

/* ======================================================================================
 * Code-path cases: each GPU backend's special paths (see backends/vulkan/README.md and
 * backends/opencl/README.md) against the CPU reference
 * ==================================================================================== */

/* AddressSanitizer builds (lavapipe dispatches of ~65,000 workgroups take
 * seconds each under ASan) */
#if defined(__SANITIZE_ADDRESS__)
#define TK_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TK_ASAN 1
#endif
#endif
#ifndef TK_ASAN
#define TK_ASAN 0
#endif

/* Whether the very large cases (GPU grid limits) run small: when the device
 * under test is the CPU backend itself (the reference anyway; valgrind runs the
 * suite there) and in ASan builds (the plain builds check the grid limits). */
static bool run_small(const kt *c)
{
    return TK_ASAN || strcmp(c->dev[0]->be->name, "cpu") == 0;
}

/* A view of an existing pair's base tensors. */
static tp pair_view(tp base, int ndim, const int64_t *shape, const int64_t *strides,
                    int64_t offset)
{
    tp r = base;
    for (int s = 0; s < 2; s++) {
        r.t[s] = agi_tensor_view(base.base[s], ndim, shape, strides, offset);
        ck_assert(r.t[s] != NULL);
    }
    return r;
}

/* A permuted view over a fresh contiguous buffer: the view has shape `shape`;
 * the buffer stores its dims in the order perm (buffer dim i = view dim perm[i]),
 * view dim `step_dim` (or -1) has every other element (the buffer is twice as long
 * there, plus one, and the view starts at offset 1). */
static tp pair_perm(kt *c, ag_dtype dt, double lo, double hi, bool integral, int ndim,
                    const int64_t *shape, const int *perm, int step_dim)
{
    int64_t bshape[AG_MAX_DIMS], bstrides[AG_MAX_DIMS], vstrides[AG_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        bshape[i] = perm[i] == step_dim ? 2 * shape[perm[i]] + 1 : shape[perm[i]];
    agi_contiguous_strides(ndim, bshape, bstrides);
    for (int i = 0; i < ndim; i++)
        vstrides[perm[i]] = perm[i] == step_dim ? 2 * bstrides[i] : bstrides[i];
    void *data = host_data(c, dt, agi_numel(ndim, bshape), lo, hi, integral);
    tp r = pair_from(c, dt, ndim, bshape, data);
    free(data);
    return pair_view(r, ndim, shape, vstrides, step_dim >= 0 ? 1 : 0);
}

/* 1. SCATTER_ADD on the deterministic (ordered) path, bit for bit, and on the
 * default (atomic where available) path within tolerance. */
static void case_scatter_det(kt *c)
{
    for (int det = 1; det >= 0; det--) {
        double tol = det ? 0 : 1e-5;
        for (int v = 0; v < 5; v++) {
            tp dst, src, idx;
            int64_t dim;
            if (v == 0) {
                sub_case(c, "%s: dim 0 with duplicates and out-of-range", det ? "deterministic" : "default");
                dst = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(7, 33));
                src = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(10, 33));
                idx = pair_rand_kind(c, AG_I32, K_CONTIG, -1, 7, true, SHAPE_OF(10, 33));
                dim = 0;
            } else if (v == 1) {
                sub_case(c, "%s: dim 1, transposed source, broadcast index", det ? "deterministic" : "default");
                dst = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(7, 33));
                src = pair_rand_kind(c, AG_F32, K_TRANS, -1, 1, false, SHAPE_OF(7, 50));
                idx = pair_rand_kind(c, AG_I32, K_BCAST0, 0, 33, true, SHAPE_OF(7, 50));
                dim = 1;
            } else if (v == 2) {
                sub_case(c, "%s: 1-D, 5000 into 3 (long chains)", det ? "deterministic" : "default");
                dst = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(3));
                src = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(5000));
                idx = pair_rand_kind(c, AG_I32, K_CONTIG, 0, 2, true, SHAPE_OF(5000));
                dim = 0;
            } else if (v == 4) {
                sub_case(c, "%s: dim 0 into a transposed dst", det ? "deterministic" : "default");
                dst = pair_rand_kind(c, AG_F32, K_TRANS, -1, 1, false, SHAPE_OF(9, 20));
                src = pair_rand_kind(c, AG_F32, K_STEP, -1, 1, false, SHAPE_OF(300, 17));
                idx = pair_rand_kind(c, AG_I32, K_CONTIG, 0, 8, true, SHAPE_OF(300, 17));
                dim = 0;
            } else {
                sub_case(c, "%s: 3-D dim 1, source smaller than dst, step index", det ? "deterministic" : "default");
                dst = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(4, 9, 6));
                src = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(3, 40, 5));
                idx = pair_rand_kind(c, AG_I32, K_STEP, -1, 9, true, SHAPE_OF(3, 40, 5));
                dim = 1;
            }
            kdesc d = {.op = AGI_K_SCATTER_ADD, .dst = dst, .src = {src, idx}, .i = {dim}};
            ag_set_deterministic(det != 0);
            exec_side(c, &d, 0);
            exec_side(c, &d, 1);
            ag_set_deterministic(false);
            compare(c, dst, tol, tol, "dst");
        }
    }
    ag_set_deterministic(false);
}

/* 2. RNG whose 64-bit counter carries from the low into the high word inside
 * one kernel, and on non-contiguous views of rank >= 5. */
static void case_rng_paths(kt *c)
{
    const uint64_t near = (UINT64_C(1) << 32) - 5, near2 = (UINT64_C(7) << 32) - 50;
    for (int sub = 0; sub < 2; sub++) {
        double tol = sub == AGI_RNG_UNIFORM ? 0 : 1e-4;
        const char *nm = sub ? "normal" : "uniform";
        sub_case(c, "%s, 64 elements, offset 2^32 - 5", nm);
        tp y = pair_out(c, AG_F32, SHAPE_OF(64));
        kdesc d = {.op = AGI_K_RNG, .sub = sub, .dst = y, .u = {0x123456789abcdefull, near},
                   .f = {sub ? 0.0 : -1.0, sub ? 1.0 : 1.0}};
        run(c, &d);
        compare(c, y, tol, tol, "dst");

        sub_case(c, "%s, 5001 contiguous elements, offset 2^32 - 5", nm);
        y = pair_out(c, AG_F32, SHAPE_OF(5001));
        d.dst = y;
        run(c, &d);
        compare(c, y, tol, tol, "dst");

        sub_case(c, "%s, 1000 elements, offset 2^32 - 5, step-2 slice", nm);
        y = pair_rand_kind(c, AG_F32, K_STEP, 0, 1, false, SHAPE_OF(10, 100));
        d.dst = y;
        run(c, &d);
        compare(c, y, tol, tol, "dst");

        sub_case(c, "%s, rank-5 permuted step view, offset 7*2^32 - 50", nm);
        y = pair_perm(c, AG_F32, 0, 1, false, 5, (int64_t[]){3, 2, 5, 4, 3},
                      (const int[]){2, 4, 0, 3, 1}, 3);
        d.dst = y;
        d.u[1] = near2;
        run(c, &d);
        compare(c, y, tol, tol, "dst");

        sub_case(c, "%s, rank-6 broadcast-free strided view, offset 2^64 - 100", nm);
        y = pair_perm(c, AG_F32, 0, 1, false, 6, (int64_t[]){2, 3, 2, 3, 2, 5},
                      (const int[]){5, 1, 3, 0, 2, 4}, 0);
        d.dst = y;
        d.u[1] = ~UINT64_C(0) - 99;
        run(c, &d);
        compare(c, y, tol, tol, "dst");
    }
}

/* 3. Elementwise kernels on rank-5+ views that do not coalesce. */
static void case_ew_highrank(kt *c)
{
    const int64_t s5[5] = {3, 4, 2, 5, 6}, s6[6] = {2, 3, 2, 3, 4, 5};
    const int p5a[5] = {4, 2, 0, 3, 1}, p5b[5] = {1, 0, 3, 2, 4}, p5c[5] = {0, 1, 2, 3, 4};
    const int p6a[6] = {5, 3, 1, 0, 4, 2}, p6b[6] = {2, 0, 5, 1, 3, 4}, p6c[6] = {0, 1, 2, 3, 4, 5};
    for (int r = 0; r < 2; r++) {
        int nd = r ? 6 : 5;
        const int64_t *sh = r ? s6 : s5;
        const int *pa = r ? p6a : p5a, *pb = r ? p6b : p5b, *pc = r ? p6c : p5c;

        sub_case(c, "rank %d unary exp: permuted+step src, step dst", nd);
        tp x = pair_perm(c, AG_F32, -2, 2, false, nd, sh, pa, 1);
        tp y = pair_perm(c, AG_F32, 0, 1, false, nd, sh, pc, 2);
        run(c, &(kdesc){.op = AGI_K_UNARY, .sub = AGI_U_EXP, .dst = y, .src = {x}});
        compare(c, y, 1e-5, 1e-4, "dst");

        sub_case(c, "rank %d unary neg: contiguous src, permuted dst", nd);
        x = pair_perm(c, AG_F32, -2, 2, false, nd, sh, pc, -1);
        y = pair_perm(c, AG_F32, 0, 1, false, nd, sh, pb, 0);
        run(c, &(kdesc){.op = AGI_K_UNARY, .sub = AGI_U_NEG, .dst = y, .src = {x}});
        compare(c, y, 0, 0, "dst");

        for (int sub = 0; sub < 3; sub++) {
            int bsub = sub == 0 ? AGI_B_SUB : sub == 1 ? AGI_B_MAX : AGI_B_LT;
            sub_case(c, "rank %d binary %d f32: two permutations, step dst", nd, bsub);
            tp a = pair_perm(c, AG_F32, -3, 3, bsub == AGI_B_LT, nd, sh, pa, 3);
            tp b = pair_perm(c, AG_F32, -3, 3, bsub == AGI_B_LT, nd, sh, pb, -1);
            tp o = pair_perm(c, bsub == AGI_B_LT ? AG_U8 : AG_F32, 0, 1, true, nd, sh, pc, nd - 1);
            run(c, &(kdesc){.op = AGI_K_BINARY, .sub = bsub, .dst = o, .src = {a, b}});
            compare(c, o, 0, 0, "dst");
        }

        sub_case(c, "rank %d binary i32 mul with a broadcast dim", nd);
        {
            tp a = pair_perm(c, AG_I32, -1000, 1000, true, nd, sh, pb, 2);
            tp b = pair_perm(c, AG_I32, -1000, 1000, true, nd, sh, pa, -1);
            int64_t bst[AG_MAX_DIMS];
            memcpy(bst, agi_view_of(b.t[0]).strides, sizeof bst);
            bst[1] = 0;
            b = pair_view(b, nd, sh, bst, 0);
            tp o = pair_perm(c, AG_I32, 0, 1, true, nd, sh, pa, 0);
            run(c, &(kdesc){.op = AGI_K_BINARY, .sub = AGI_B_MUL, .dst = o, .src = {a, b}});
            compare(c, o, 0, 0, "dst");
        }

        for (int ci = 0; ci < 3; ci++) {
            ag_dtype dt = ci == 0 ? AG_F32 : ci == 1 ? AG_I32 : AG_U8;
            ag_dtype st = ci == 0 ? AG_I32 : AG_F32;
            sub_case(c, "rank %d copy %s <- %s, permuted both sides", nd, ag_dtype_name(dt),
                     ag_dtype_name(st));
            tp s = pair_perm(c, st, -300, 300, false, nd, sh, pa, 4);
            tp o = pair_perm(c, dt, 0, 9, true, nd, sh, pb, 1);
            run(c, &(kdesc){.op = AGI_K_COPY, .dst = o, .src = {s}});
            compare(c, o, 0, 0, "dst");
        }

        for (int di = 0; di < 2; di++) {
            ag_dtype dt = all_dtypes[di];
            sub_case(c, "rank %d where %s, three layouts", nd, ag_dtype_name(dt));
            tp cond = pair_perm(c, AG_U8, 0, 1, true, nd, sh, pb, 2);
            tp a = pair_perm(c, dt, -100, 100, true, nd, sh, pa, -1);
            tp b = pair_perm(c, dt, -100, 100, true, nd, sh, pc, 0);
            tp o = pair_perm(c, dt, 0, 9, true, nd, sh, pa, 3);
            run(c, &(kdesc){.op = AGI_K_WHERE, .dst = o, .src = {cond, a, b}});
            compare(c, o, 0, 0, "dst");
        }

        sub_case(c, "rank %d fill u8 through a permuted step view", nd);
        tp u = pair_perm(c, AG_U8, 0, 9, true, nd, sh, pa, 2);
        run(c, &(kdesc){.op = AGI_K_FILL, .dst = u, .f = {7}});
        compare(c, u, 0, 0, "dst");
    }
    /* rank 8 (AG_MAX_DIMS), a broadcast leading dim */
    const int64_t s8[8] = {3, 2, 3, 2, 2, 3, 2, 3};
    const int p8a[8] = {7, 5, 3, 1, 0, 2, 4, 6}, p8b[8] = {1, 0, 3, 2, 5, 4, 7, 6};
    const int p8c[8] = {0, 1, 2, 3, 4, 5, 6, 7};
    sub_case(c, "rank 8 binary add, broadcast dim 0, permuted operands");
    {
        tp a = pair_perm(c, AG_F32, -3, 3, false, 8, s8, p8a, 4);
        tp b = pair_perm(c, AG_F32, -3, 3, false, 8, s8, p8b, -1);
        int64_t bst[AG_MAX_DIMS];
        memcpy(bst, agi_view_of(b.t[0]).strides, sizeof bst);
        bst[0] = 0;
        b = pair_view(b, 8, s8, bst, 0);
        tp o = pair_perm(c, AG_F32, 0, 1, false, 8, s8, p8c, 6);
        run(c, &(kdesc){.op = AGI_K_BINARY, .sub = AGI_B_ADD, .dst = o, .src = {a, b}});
        compare(c, o, 0, 1e-6, "dst");
        sub_case(c, "rank 8 copy f32 -> u8 and rng normal");
        tp u = pair_perm(c, AG_U8, 0, 9, true, 8, s8, p8b, 3);
        tp s = pair_perm(c, AG_F32, -300, 300, false, 8, s8, p8a, -1);
        run(c, &(kdesc){.op = AGI_K_COPY, .dst = u, .src = {s}});
        compare(c, u, 0, 0, "copy");
        run(c, &(kdesc){.op = AGI_K_RNG, .sub = AGI_RNG_UNIFORM, .dst = o,
                        .u = {77, (UINT64_C(1) << 32) - 100}, .f = {0, 1}});
        compare(c, o, 0, 0, "rng");
    }
}

/* 4. The vec4 paths: rows of 4k elements with a broadcast operand, and
 * contiguous views whose start is not 16-byte aligned. */
static void case_ew_vec4(kt *c)
{
    static const int bsubs[] = {AGI_B_ADD, AGI_B_DIV, AGI_B_MAX, AGI_B_GE, AGI_B_RELU_BWD};
    /* [6,12] op [6,1] (row broadcast) and [6,12] op [1,12] (column broadcast),
     * either side broadcast, and an [3,4,8] op [3,1,8] middle broadcast */
    for (int bk = 0; bk < 3; bk++)
        for (int side = 0; side < 2; side++)
            for (size_t si = 0; si < sizeof bsubs / sizeof bsubs[0]; si++) {
                int sub = bsubs[si];
                bool cmp = sub == AGI_B_GE;
                sub_case(c, "binary %d, %s broadcast on operand %d", sub,
                         bk == 0 ? "[6,12] x [6,1]" : bk == 1 ? "[6,12] x [1,12]" : "[3,4,8] x [3,1,8]", side);
                int nd = bk == 2 ? 3 : 2;
                const int64_t *full = bk == 2 ? (int64_t[]){3, 4, 8} : (int64_t[]){6, 12};
                const int64_t *small = bk == 0 ? (int64_t[]){6, 1} : bk == 1 ? (int64_t[]){1, 12}
                                                                            : (int64_t[]){3, 1, 8};
                const int64_t *bst = bk == 0 ? (int64_t[]){1, 0} : bk == 1 ? (int64_t[]){0, 1}
                                                                          : (int64_t[]){8, 0, 1};
                tp f = pair_rand_kind(c, AG_F32, K_CONTIG, sub == AGI_B_DIV && side == 1 ? 0.5 : -3, 3,
                                      cmp, nd, full);
                tp s = pair_rand_kind(c, AG_F32, K_CONTIG, sub == AGI_B_DIV && side == 0 ? 0.5 : -3, 3,
                                      cmp, nd, small);
                s = pair_view(s, nd, full, bst, 0);
                tp o = pair_out(c, cmp ? AG_U8 : AG_F32, nd, full);
                kdesc d = {.op = AGI_K_BINARY, .sub = sub, .dst = o,
                           .src = {side ? f : s, side ? s : f}};
                run(c, &d);
                if (sub == AGI_B_DIV) compare(c, o, 1e-5, 1e-5, "dst");
                else compare(c, o, 0, 0, "dst");
            }
    sub_case(c, "i32 add [6,12] x [6,1]");
    {
        tp f = pair_rand_kind(c, AG_I32, K_CONTIG, -1000, 1000, true, SHAPE_OF(6, 12));
        tp s = pair_rand_kind(c, AG_I32, K_CONTIG, -1000, 1000, true, SHAPE_OF(6, 1));
        s = pair_view(s, 2, (int64_t[]){6, 12}, (int64_t[]){1, 0}, 0);
        tp o = pair_out(c, AG_I32, SHAPE_OF(6, 12));
        run(c, &(kdesc){.op = AGI_K_BINARY, .sub = AGI_B_ADD, .dst = o, .src = {f, s}});
        compare(c, o, 0, 0, "dst");
    }
    sub_case(c, "where f32 [6,12], [1,12] condition");
    {
        tp cond = pair_rand_kind(c, AG_U8, K_CONTIG, 0, 1, true, SHAPE_OF(1, 12));
        cond = pair_view(cond, 2, (int64_t[]){6, 12}, (int64_t[]){0, 1}, 0);
        tp a = pair_rand(c, AG_F32, -3, 3, SHAPE_OF(6, 12));
        tp b = pair_rand_kind(c, AG_F32, K_CONTIG, -3, 3, false, SHAPE_OF(6, 1));
        b = pair_view(b, 2, (int64_t[]){6, 12}, (int64_t[]){1, 0}, 0);
        tp o = pair_out(c, AG_F32, SHAPE_OF(6, 12));
        run(c, &(kdesc){.op = AGI_K_WHERE, .dst = o, .src = {cond, a, b}});
        compare(c, o, 0, 0, "dst");
    }
    /* Row-broadcast copies (bias init), unary and binary into [6,12] rows whose
     * destination has row stride 12, 14 or 16 and start offset 0, 2 or 4. */
    for (int rs = 12; rs <= 16; rs += 2)
        for (int off = 0; off <= 4; off += 2)
            for (int bk = 0; bk < 2; bk++) {
                sub_case(c, "[6,12] dst row stride %d offset %d, %s source", rs, off,
                         bk ? "[1,12]" : "[6,1]");
                const int64_t *small = bk ? (int64_t[]){1, 12} : (int64_t[]){6, 1};
                const int64_t *bst = bk ? (int64_t[]){0, 1} : (int64_t[]){1, 0};
                tp s = pair_rand(c, AG_F32, 0.5, 3, 2, small);
                s = pair_view(s, 2, (int64_t[]){6, 12}, bst, 0);
                tp si = pair_rand_kind(c, AG_I32, K_CONTIG, -1000, 1000, true, 2, small);
                si = pair_view(si, 2, (int64_t[]){6, 12}, bst, 0);
                tp o = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(6 * rs + 4));
                o = pair_view(o, 2, (int64_t[]){6, 12}, (int64_t[]){rs, 1}, off);
                tp oi = pair_rand_kind(c, AG_I32, K_CONTIG, -9, 9, true, SHAPE_OF(6 * rs + 4));
                oi = pair_view(oi, 2, (int64_t[]){6, 12}, (int64_t[]){rs, 1}, off);
                run(c, &(kdesc){.op = AGI_K_COPY, .dst = o, .src = {s}});
                compare(c, o, 0, 0, "copy f32");
                run(c, &(kdesc){.op = AGI_K_COPY, .dst = oi, .src = {si}});
                compare(c, oi, 0, 0, "copy i32");
                run(c, &(kdesc){.op = AGI_K_UNARY, .sub = AGI_U_LOG, .dst = o, .src = {s}});
                compare(c, o, 1e-6, 1e-5, "unary log");
                tp f = pair_rand(c, AG_F32, -3, 3, SHAPE_OF(6, 12));
                run(c, &(kdesc){.op = AGI_K_BINARY, .sub = AGI_B_SUB, .dst = o, .src = {s, f}});
                compare(c, o, 0, 0, "binary sub");
                run(c, &(kdesc){.op = AGI_K_BINARY, .sub = AGI_B_MIN, .dst = oi, .src = {oi, si}});
                compare(c, oi, 0, 0, "binary i32 min, in place");
            }
    /* Contiguous views at offsets 0..3 (sources and destination at different
     * alignments), lengths with and without a tail (4999: OpenCL's GPU
     * variant takes 4 elements per work-item, a grid apart). */
    static const int64_t lens[] = {12, 37, 1000, 4999};
    for (size_t li = 0; li < 4; li++)
        for (int off = 0; off < 4; off++) {
            int64_t n = lens[li];
            int64_t aoff = (off + 1) % 4, boff = (off + 3) % 4;
            sub_case(c, "%lld elements, dst offset %d, a offset %lld, b offset %lld", (long long)n,
                     off, (long long)aoff, (long long)boff);
            tp a = pair_rand(c, AG_F32, -3, 3, SHAPE_OF(n + 4));
            a = pair_view(a, 1, (int64_t[]){n}, (int64_t[]){1}, aoff);
            tp b = pair_rand(c, AG_F32, 0.5, 3, SHAPE_OF(n + 4));
            b = pair_view(b, 1, (int64_t[]){n}, (int64_t[]){1}, boff);
            tp o = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(n + 4));
            o = pair_view(o, 1, (int64_t[]){n}, (int64_t[]){1}, off);
            run(c, &(kdesc){.op = AGI_K_BINARY, .sub = AGI_B_MUL, .dst = o, .src = {a, b}});
            compare(c, o, 0, 1e-6, "binary mul");
            run(c, &(kdesc){.op = AGI_K_UNARY, .sub = AGI_U_SQRT, .dst = o, .src = {b}});
            compare(c, o, 1e-6, 1e-5, "unary sqrt");
            run(c, &(kdesc){.op = AGI_K_COPY, .dst = o, .src = {a}});
            compare(c, o, 0, 0, "copy");
            run(c, &(kdesc){.op = AGI_K_FILL, .dst = o, .f = {2.5}});
            compare(c, o, 0, 0, "fill");
            tp oi = pair_rand(c, AG_I32, -9, 9, SHAPE_OF(n + 4));
            oi = pair_view(oi, 1, (int64_t[]){n}, (int64_t[]){1}, boff);
            run(c, &(kdesc){.op = AGI_K_COPY, .dst = oi, .src = {a}});
            compare(c, oi, 0, 0, "copy f32 -> i32");
            /* 2-D rows of 12 in a buffer with row stride 16, start off */
            tp m = pair_rand(c, AG_F32, -3, 3, SHAPE_OF(5 * 16 + 4));
            m = pair_view(m, 2, (int64_t[]){5, 12}, (int64_t[]){16, 1}, off);
            tp r = pair_rand(c, AG_F32, -3, 3, SHAPE_OF(1, 12));
            r = pair_view(r, 2, (int64_t[]){5, 12}, (int64_t[]){0, 1}, 0);
            tp mo = pair_out(c, AG_F32, SHAPE_OF(5, 12));
            run(c, &(kdesc){.op = AGI_K_BINARY, .sub = AGI_B_SUB, .dst = mo, .src = {m, r}});
            compare(c, mo, 0, 0, "strided rows - broadcast row");
        }
}

/* 5. Sizes beyond one grid dimension (65,535 workgroups). */
static void case_big_grid(kt *c)
{
    /* Every size here just passes 65,535 workgroups on the GPU backends (kept
     * small otherwise: lavapipe and PoCL run them on 2 cores). */
    bool cpu = run_small(c);
    int64_t r0 = cpu ? 1000 : 4096, r1 = r0 + 9; /* > 65,535 * 256 elements */
    sub_case(c, "rng [%lld,%lld], unary neg from its transpose (no vec4), affine in place (vec4)",
             (long long)r1, (long long)r0);
    {
        tp y = pair_out(c, AG_F32, SHAPE_OF(r1, r0));
        run(c, &(kdesc){.op = AGI_K_RNG, .sub = AGI_RNG_UNIFORM, .dst = y, .u = {5, 12},
                        .f = {-1, 1}});
        compare(c, y, 0, 0, "rng");
        tp yt = pair_view(y, 2, (int64_t[]){r0, r1}, (int64_t[]){1, r0}, 0);
        tp z = pair_out(c, AG_F32, SHAPE_OF(r0, r1));
        run(c, &(kdesc){.op = AGI_K_UNARY, .sub = AGI_U_NEG, .dst = z, .src = {yt}});
        run(c, &(kdesc){.op = AGI_K_UNARY, .sub = AGI_U_AFFINE, .dst = z, .src = {z}, .f = {4, 0.5}});
        compare(c, z, 0, 0, "-4 y^T + 0.5");
    }
    const int64_t big = cpu ? 6600 : 65600; /* > 65,535 */
    sub_case(c, "softmax and backward over %lld rows of 3", (long long)big);
    {
        tp x = pair_rand(c, AG_F32, -5, 5, SHAPE_OF(big, 3));
        tp y = pair_out(c, AG_F32, SHAPE_OF(big, 3));
        run(c, &(kdesc){.op = AGI_K_SOFTMAX, .sub = AGI_SOFTMAX, .dst = y, .src = {x}});
        compare(c, y, 1e-6, 1e-4, "y");
        tp dy = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(big, 3));
        tp dx = pair_out(c, AG_F32, SHAPE_OF(big, 3));
        run(c, &(kdesc){.op = AGI_K_SOFTMAX_BWD, .sub = AGI_SOFTMAX, .dst = dx, .src = {y, dy}});
        compare(c, dx, 1e-5, 1e-4, "dx");
    }
    sub_case(c, "gemm batch %lld of [2x3]@[3x2], A transposed, alpha 0.5 beta 1", (long long)big);
    {
        gemm_cfg q = {big, 2, 2, 3, true, false, 0, 0.5, 1};
        tp a = gemm_operand(c, big, 2, 3, true, false);
        tp b = gemm_operand(c, big, 3, 2, false, false);
        tp y = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(big, 2, 2));
        float *c0 = read_all(c, y.t[1]);
        run(c, &(kdesc){.op = AGI_K_GEMM, .dst = y, .src = {a, b}, .f = {q.alpha, q.beta}});
        gemm_host_check(c, &q, a.t[1], b.t[1], c0, y.t[1]);
        free(c0);
        compare(c, y, 1e-5 * 3, 1e-4, "C");
    }
    /* N*C planes of 2x2: max pooling k = s = 2 (the non-overlapping backward),
     * average pooling with padding, im2col / col2im */
    const int64_t pn = big / 100, pc = 100;
    sub_case(c, "pooling over %lld planes of 2x2", (long long)(pn * pc));
    {
        agi_pool_params mp = {.n = pn, .c = pc, .h = 2, .w = 2, .oh = 1, .ow = 1, .kh = 2, .kw = 2,
                              .sh = 2, .sw = 2, .dh = 1, .dw = 1};
        agi_pool_params ap = {.n = pn, .c = pc, .h = 2, .w = 2, .oh = 2, .ow = 2, .kh = 2, .kw = 2,
                              .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1,
                              .count_include_pad = 1};
        tp x = pair_rand(c, AG_F32, -2, 2, SHAPE_OF(pn, pc, 2, 2));
        tp y = pair_out(c, AG_F32, SHAPE_OF(pn, pc, 1, 1));
        tp idx = pair_out(c, AG_I32, SHAPE_OF(pn, pc, 1, 1));
        run(c, &(kdesc){.op = AGI_K_MAXPOOL2D, .dst = y, .dst2 = idx, .src = {x}, .pool = &mp});
        compare(c, y, 0, 0, "maxpool y");
        compare(c, idx, 0, 0, "maxpool indices");
        tp dx = pair_out(c, AG_F32, SHAPE_OF(pn, pc, 2, 2));
        run(c, &(kdesc){.op = AGI_K_MAXPOOL2D_BWD, .dst = dx, .src = {y, idx}, .pool = &mp});
        compare(c, dx, 1e-6, 1e-5, "maxpool dx");
        tp ya = pair_out(c, AG_F32, SHAPE_OF(pn, pc, 2, 2));
        run(c, &(kdesc){.op = AGI_K_AVGPOOL2D, .dst = ya, .src = {x}, .pool = &ap});
        compare(c, ya, 1e-6, 1e-5, "avgpool y");
        run(c, &(kdesc){.op = AGI_K_AVGPOOL2D_BWD, .dst = dx, .src = {ya}, .pool = &ap});
        compare(c, dx, 1e-6, 1e-5, "avgpool dx");
        agi_conv_params cp = {pn, pc, 2, 2, 1, 1, 2, 2, 1, 1, 0, 0, 1, 1};
        tp cols = pair_out(c, AG_F32, SHAPE_OF(pn, pc, 4));
        run(c, &(kdesc){.op = AGI_K_IM2COL, .dst = cols, .src = {x}, .conv = &cp});
        compare(c, cols, 0, 0, "im2col");
        run(c, &(kdesc){.op = AGI_K_COL2IM, .dst = dx, .src = {cols}, .conv = &cp});
        compare(c, dx, 0, 0, "col2im");
    }
}

/* Host data for reductions: whole numbers in [0, 3] for arg-ops (ties),
 * [0, 1] otherwise; NaN at the given positions. */
static tp reduce_input(kt *c, bool arg, int nd, const int64_t *shape, const int64_t *nans,
                       int nnan)
{
    int64_t n = agi_numel(nd, shape);
    float *h = host_data(c, AG_F32, n, 0, arg ? 3 : 1, arg);
    for (int i = 0; i < nnan; i++) h[nans[i]] = NAN;
    tp r = pair_from(c, AG_F32, nd, shape, h);
    free(h);
    return r;
}

/* 6. Long reductions: single outputs over 32K+ elements (the two-pass/chunked
 * paths), few outputs over > 16K elements each; ties and NaN across chunks. */
static void case_reduce_long(kt *c)
{
    typedef struct { int nd; int64_t in[2], out[2]; int64_t nans[3]; int nnan; } rcfg;
    static const rcfg cfgs[] = {
        {1, {40000}, {1}, {0}, 0},
        {1, {100003}, {1}, {0}, 0},
        {1, {70000}, {1}, {65536, 32768, 50000}, 3},
        {1, {70000}, {1}, {16384, 16383, 69999}, 3},
        {1, {66000}, {1}, {65999}, 1},
        {2, {3, 20000}, {3, 1}, {0}, 0},
        {2, {2, 33000}, {2, 1}, {33000 + 16385, 33000 + 32767}, 2},
        {2, {20000, 2}, {1, 2}, {2 * 8192 + 1, 2 * 12000}, 2},
        {2, {17000, 3}, {1, 3}, {0}, 0},
    };
    for (int sub = 0; sub < AGI_R_COUNT; sub++)
        for (size_t r = 0; r < sizeof cfgs / sizeof cfgs[0]; r++) {
            const rcfg *q = &cfgs[r];
            bool arg = sub >= AGI_R_ARGMAX;
            sub_case(c, "reduce %d, config %zu (rank %d, %lld x %lld -> %lld x %lld), %d NaN", sub, r,
                     q->nd, (long long)q->in[0], (long long)q->in[1], (long long)q->out[0],
                     (long long)q->out[1], q->nnan);
            tp x = reduce_input(c, arg, q->nd, q->in, q->nans, q->nnan);
            tp y = pair_out(c, arg ? AG_I32 : AG_F32, q->nd, q->out);
            run(c, &(kdesc){.op = AGI_K_REDUCE, .sub = sub, .dst = y, .src = {x}});
            if (q->nnan == 0) reduce_host_check(c, sub, x.t[1], y.t[1], q->nd, q->in, q->out);
            if (sub == AGI_R_SUM) compare(c, y, 1e-4, 1e-4, "dst");
            else compare(c, y, 0, 0, "dst");
        }
    /* Planted extremes: the winner only in later chunks, tied across a chunk
     * boundary; and inputs that are all -inf / +inf (the first index wins). */
    static const int64_t planted[] = {65536, 16384, 16383, 40000};
    for (int sub = 0; sub < AGI_R_COUNT; sub++)
        for (int v = 0; v < 4; v++) {
            int64_t n = v < 2 ? 70000 : 3 * 20000;
            int nd = v < 2 ? 1 : 2;
            const int64_t *in = v < 2 ? (int64_t[]){70000} : (int64_t[]){3, 20000};
            const int64_t *out = v < 2 ? (int64_t[]){1} : (int64_t[]){3, 1};
            bool up = sub == AGI_R_MAX || sub == AGI_R_ARGMAX || sub == AGI_R_SUM;
            sub_case(c, "reduce %d, %s, %s", sub, v < 2 ? "[70000] -> [1]" : "[3,20000] -> [3,1]",
                     v % 2 ? "all infinite" : "planted extremes");
            float *h = malloc((size_t)n * sizeof *h);
            ck_assert(h != NULL);
            for (int64_t i = 0; i < n; i++)
                h[i] = v % 2 ? (up ? -INFINITY : INFINITY) : (float)(i % 3);
            if (v % 2 == 0)
                for (int i = 0; i < 4; i++) {
                    int64_t p = v < 2 ? planted[i] : planted[i] % 20000 + 20000 * (i % 3);
                    h[p] = up ? 7.0f : -7.0f;
                }
            tp x = pair_from(c, AG_F32, nd, in, h);
            free(h);
            bool arg = sub >= AGI_R_ARGMAX;
            tp y = pair_out(c, arg ? AG_I32 : AG_F32, nd, out);
            run(c, &(kdesc){.op = AGI_K_REDUCE, .sub = sub, .dst = y, .src = {x}});
            if (sub == AGI_R_SUM) compare(c, y, 1e-4, 1e-4, "dst");
            else compare(c, y, 0, 0, "dst");
        }
    /* Rows of 16 at every start alignment and with a row stride that is or is
     * not a multiple of 4 (vec4 loads need both aligned). */
    for (int sub = 0; sub < AGI_R_COUNT; sub++)
        for (int off = 0; off < 4; off++)
            for (int rs = 16; rs <= 17; rs++) {
                bool arg = sub >= AGI_R_ARGMAX;
                sub_case(c, "reduce %d, [6,16] rows at offset %d, row stride %d", sub, off, rs);
                tp x = pair_rand_kind(c, AG_F32, K_CONTIG, 0, arg ? 3 : 1, arg, SHAPE_OF(6 * rs + 4));
                x = pair_view(x, 2, (int64_t[]){6, 16}, (int64_t[]){rs, 1}, off);
                tp y = pair_out(c, arg ? AG_I32 : AG_F32, SHAPE_OF(6, 1));
                run(c, &(kdesc){.op = AGI_K_REDUCE, .sub = sub, .dst = y, .src = {x}});
                if (sub == AGI_R_SUM) compare(c, y, 1e-5, 1e-5, "dst");
                else compare(c, y, 0, 0, "dst");
                tp y1 = pair_out(c, arg ? AG_I32 : AG_F32, SHAPE_OF(1, 1));
                run(c, &(kdesc){.op = AGI_K_REDUCE, .sub = sub, .dst = y1, .src = {x}});
                if (sub == AGI_R_SUM) compare(c, y1, 1e-4, 1e-4, "dst (all)");
                else compare(c, y1, 0, 0, "dst (all)");
            }
    /* A strided (transposed) long single-output reduction. */
    for (int sub = 0; sub < AGI_R_COUNT; sub++) {
        bool arg = sub >= AGI_R_ARGMAX;
        sub_case(c, "reduce %d, transposed [200,170] -> [1,1]", sub);
        tp x = pair_rand_kind(c, AG_F32, K_TRANS, 0, arg ? 3 : 1, arg, SHAPE_OF(200, 170));
        tp y = pair_out(c, arg ? AG_I32 : AG_F32, SHAPE_OF(1, 1));
        run(c, &(kdesc){.op = AGI_K_REDUCE, .sub = sub, .dst = y, .src = {x}});
        if (sub == AGI_R_SUM) compare(c, y, 1e-4, 1e-4, "dst");
        else compare(c, y, 0, 0, "dst");
    }
}

/* 7. NaN semantics: reductions, binary MAX/MIN, softmax. */
static void case_nan(kt *c)
{
    static const reduce_cfg cfgs[] = {
        {1, {130}, {1}, K_CONTIG},     {2, {7, 33}, {1, 33}, K_CONTIG},
        {2, {7, 33}, {7, 1}, K_CONTIG}, {2, {7, 33}, {7, 1}, K_TRANS},
        {2, {2, 5000}, {2, 1}, K_CONTIG}, {3, {3, 5, 7}, {1, 5, 1}, K_CONTIG},
        {2, {300, 40}, {1, 40}, K_CONTIG},
    };
    for (int sub = 0; sub < AGI_R_COUNT; sub++)
        for (size_t r = 0; r < sizeof cfgs / sizeof cfgs[0]; r++) {
            const reduce_cfg *q = &cfgs[r];
            bool arg = sub >= AGI_R_ARGMAX;
            sub_case(c, "reduce %d, config %zu, about 3%% NaN", sub, r);
            int64_t n = agi_numel(q->ndim, q->in);
            float *h = host_data(c, AG_F32, n, 0, 3, arg);
            for (int64_t i = 0; i < n; i++)
                if (next_unit(c) < 0.03) h[i] = NAN;
            tp x;
            if (q->kind == K_TRANS) {
                /* stored as [in1, in0], read through a transposed view */
                x = pair_from(c, AG_F32, 2, (int64_t[]){q->in[1], q->in[0]}, h);
                x = pair_view(x, 2, q->in, (int64_t[]){1, q->in[0]}, 0);
            } else {
                x = pair_from(c, AG_F32, q->ndim, q->in, h);
            }
            free(h);
            tp y = pair_out(c, arg ? AG_I32 : AG_F32, q->ndim, q->out);
            run(c, &(kdesc){.op = AGI_K_REDUCE, .sub = sub, .dst = y, .src = {x}});
            if (sub == AGI_R_SUM) compare(c, y, 1e-4, 1e-4, "dst");
            else compare(c, y, 0, 0, "dst");
        }
    for (int sub = AGI_B_MAX; sub <= AGI_B_MIN; sub++)
        for (int l = 0; l < 3; l++) {
            sub_case(c, "binary %d with NaN operands, layout %d", sub, l);
            int64_t n = 7 * 33;
            float *ha = host_data(c, AG_F32, n, -3, 3, true), *hb = host_data(c, AG_F32, n, -3, 3, true);
            for (int64_t i = 0; i < n; i++) {
                if (i % 5 == 1) ha[i] = NAN;
                if (i % 7 == 2) hb[i] = NAN;
                if (i % 11 == 3) hb[i] = -INFINITY;
            }
            tp a = pair_from(c, AG_F32, SHAPE_OF(7, 33), ha), b = pair_from(c, AG_F32, SHAPE_OF(7, 33), hb);
            free(ha);
            free(hb);
            if (l == 1) b = pair_view(b, 2, (int64_t[]){7, 33}, (int64_t[]){0, 1}, 0);
            if (l == 2) a = pair_view(a, 2, (int64_t[]){7, 33}, (int64_t[]){1, 7}, 0);
            tp y = pair_out(c, AG_F32, SHAPE_OF(7, 33));
            run(c, &(kdesc){.op = AGI_K_BINARY, .sub = sub, .dst = y, .src = {a, b}});
            compare(c, y, 0, 0, "dst");
        }
    static const int64_t sshapes[][2] = {{7, 33}, {3, 1000}, {4, 1}};
    for (int sub = 0; sub < 2; sub++)
        for (int s = 0; s < 3; s++) {
            sub_case(c, "%s [%lld,%lld] with NaN rows", sub ? "log_softmax" : "softmax",
                     (long long)sshapes[s][0], (long long)sshapes[s][1]);
            int64_t rows = sshapes[s][0], cols = sshapes[s][1];
            float *h = host_data(c, AG_F32, rows * cols, -5, 5, false);
            h[0] = NAN;                          /* row 0: first element */
            h[2 * cols + cols - 1] = NAN;        /* row 2: last element */
            if (cols > 1) h[cols + cols / 2] = -INFINITY; /* row 1: -inf only */
            if (rows > 3) {                      /* row 3: all -inf, row 4: one +inf */
                for (int64_t j = 0; j < cols; j++) h[3 * cols + j] = -INFINITY;
                if (rows > 4) h[4 * cols + cols / 3] = INFINITY;
            }
            tp x = pair_from(c, AG_F32, 2, sshapes[s], h);
            free(h);
            tp y = pair_out(c, AG_F32, 2, sshapes[s]);
            run(c, &(kdesc){.op = AGI_K_SOFTMAX, .sub = sub, .dst = y, .src = {x}});
            compare(c, y, 1e-6, 1e-4, "y");
        }
}

/* NaN semantics by hand (checks the CPU reference too). */
static void hand_nan(kt *c)
{
    // x: [2, 4]
    ag_tensor *x = dev_f32(c, SHAPE_OF(2, 4), (float[]){1, NAN, 3, NAN, 2, 2, 1, 0});
    ag_tensor *r = ag_empty(c->dev[0], AG_F32, SHAPE_OF(2, 1));
    ag_tensor *ri = ag_empty(c->dev[0], AG_I32, SHAPE_OF(2, 1));
    ag_tensor *col = ag_empty(c->dev[0], AG_I32, SHAPE_OF(1, 4));
    struct { int sub; ag_tensor *dst; const double *want; int64_t n; const char *what; } t[] = {
        {AGI_R_MAX, r, WANT(NAN, 2), "max dim 1 with NaN"},
        {AGI_R_MIN, r, WANT(NAN, 0), "min dim 1 with NaN"},
        {AGI_R_SUM, r, WANT(NAN, 5), "sum dim 1 with NaN"},
        {AGI_R_ARGMAX, ri, WANT(1, 0), "argmax dim 1: first NaN"},
        {AGI_R_ARGMIN, ri, WANT(1, 3), "argmin dim 1: first NaN"},
        {AGI_R_ARGMAX, col, WANT(1, 0, 0, 0), "argmax dim 0: NaN in row 0"},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        agi_kernel k = {.op = AGI_K_REDUCE, .sub = t[i].sub};
        k.dst = agi_view_of(t[i].dst);
        k.src[0] = agi_view_of(x);
        exec0(c, &k);
        expect(c, t[i].dst, t[i].want, t[i].n, 1e-6, t[i].what);
    }
    ag_tensor *b = dev_f32(c, SHAPE_OF(2, 4), (float[]){NAN, 0, 5, NAN, 1, NAN, 1, 1});
    ag_tensor *y = ag_empty(c->dev[0], AG_F32, SHAPE_OF(2, 4));
    agi_kernel k = {.op = AGI_K_BINARY, .sub = AGI_B_MAX};
    k.dst = agi_view_of(y);
    k.src[0] = agi_view_of(x);
    k.src[1] = agi_view_of(b);
    exec0(c, &k);
    expect(c, y, WANT(NAN, NAN, 5, NAN, 2, NAN, 1, 1), 0, "binary max with NaN");
    k.sub = AGI_B_MIN;
    exec0(c, &k);
    expect(c, y, WANT(NAN, NAN, 3, NAN, 1, NAN, 1, 0), 0, "binary min with NaN");
}

/* A [b, r, cols] operand whose matrices lie `bstride` elements apart (any
 * value >= the matrix size), stored transposed when `t`. */
static tp gemm_operand_bs(kt *c, int64_t b, int64_t r, int64_t cols, bool t, int64_t bstride)
{
    tp x = pair_rand(c, AG_F32, -1, 1, SHAPE_OF((b - 1) * bstride + r * cols));
    int64_t st[3] = {bstride, t ? 1 : cols, t ? r : 1};
    return pair_view(x, 3, (int64_t[]){b, r, cols}, st, 0);
}

/* 8. GEMM: both operands batch-broadcast under beta 1; M = 1 / K = 1 / N = 1 with
 * odd batch strides (and an output with a padded batch stride). */
static void case_gemm_paths(kt *c)
{
    static const gemm_cfg bc[] = {
        {5, 7, 9, 4, false, false, 3, 1, 1},    {4, 33, 17, 65, true, true, 3, 0.5, 1},
        {6, 1, 40, 9, false, true, 3, 1, 1},    {3, 64, 64, 64, false, false, 3, -1, 1},
        {9, 5, 1, 300, true, false, 3, 2, 1},
    };
    for (size_t g = 0; g < sizeof bc / sizeof bc[0]; g++) {
        const gemm_cfg *q = &bc[g];
        sub_case(c, "both broadcast, B=%lld M=%lld N=%lld K=%lld alpha %g beta %g", (long long)q->b,
                 (long long)q->m, (long long)q->n, (long long)q->k, q->alpha, q->beta);
        tp a = gemm_operand(c, q->b, q->m, q->k, q->ta, true);
        tp b = gemm_operand(c, q->b, q->k, q->n, q->tb, true);
        tp y = pair_rand(c, AG_F32, -1, 1, SHAPE_OF(q->b, q->m, q->n));
        run(c, &(kdesc){.op = AGI_K_GEMM, .dst = y, .src = {a, b}, .f = {q->alpha, q->beta}});
        compare(c, y, 1e-5 * (double)q->k, 1e-4, "C");
    }
    typedef struct { int64_t b, m, n, k; bool ta, tb; int64_t sa, sb, sc; double beta; } scfg;
    static const scfg sc[] = {
        {3, 1, 9, 5, false, false, 7, 47, 0, 0},  {3, 1, 9, 5, true, true, 13, 53, 11, 1},
        {5, 1, 130, 33, false, true, 35, 4301, 0, 0}, {3, 6, 5, 1, false, false, 11, 9, 0, 0},
        {3, 6, 5, 1, true, true, 7, 5, 33, 1},    {4, 33, 65, 1, false, false, 37, 67, 0, 0},
        {3, 7, 1, 9, false, false, 65, 11, 9, 1}, {7, 1, 1, 3, false, false, 5, 3, 0, 0},
        /* dims of 4k (vec4 loads/stores) with batch strides that are not */
        {3, 1, 16, 8, false, false, 9, 131, 0, 0},  {3, 1, 16, 8, true, true, 10, 129, 17, 1},
        {3, 8, 8, 8, false, false, 65, 67, 66, 1},  {3, 8, 12, 16, true, false, 130, 197, 0, 0},
        {3, 12, 8, 1, false, true, 13, 9, 98, 1},   {5, 16, 16, 16, false, true, 257, 258, 259, 0},
    };
    for (size_t g = 0; g < sizeof sc / sizeof sc[0]; g++) {
        const scfg *q = &sc[g];
        sub_case(c, "B=%lld M=%lld N=%lld K=%lld%s%s batch strides A %lld B %lld C %lld beta %g",
                 (long long)q->b, (long long)q->m, (long long)q->n, (long long)q->k,
                 q->ta ? " A^T" : "", q->tb ? " B^T" : "", (long long)q->sa, (long long)q->sb,
                 (long long)q->sc, q->beta);
        tp a = gemm_operand_bs(c, q->b, q->m, q->k, q->ta, q->sa);
        tp b = gemm_operand_bs(c, q->b, q->k, q->n, q->tb, q->sb);
        tp y;
        if (q->sc == 0)
            y = q->beta == 0 ? pair_out(c, AG_F32, SHAPE_OF(q->b, q->m, q->n))
                             : pair_rand(c, AG_F32, -1, 1, SHAPE_OF(q->b, q->m, q->n));
        else {
            y = q->beta == 0 ? pair_out(c, AG_F32, SHAPE_OF((q->b - 1) * q->sc + q->m * q->n))
                             : pair_rand(c, AG_F32, -1, 1, SHAPE_OF((q->b - 1) * q->sc + q->m * q->n));
            y = pair_view(y, 3, (int64_t[]){q->b, q->m, q->n}, (int64_t[]){q->sc, q->n, 1}, 0);
        }
        run(c, &(kdesc){.op = AGI_K_GEMM, .dst = y, .src = {a, b}, .f = {1, q->beta}});
        compare(c, y, 1e-5 * (double)q->k, 1e-4, "C");
    }
}

/* ---- The case table ------------------------------------------------------------- */

typedef struct kcase {
    const char *name;
    void (*fn)(kt *c);
} kcase;

static const kcase cases[] = {
    {"fill", case_fill},           {"copy", case_copy},
    {"unary", case_unary},         {"binary_f32", case_binary_f32},
    {"binary_i32", case_binary_i32}, {"where", case_where},
    {"reduce", case_reduce},       {"softmax", case_softmax},       {"layer_norm", case_layer_norm},
    {"gemm", case_gemm},           {"im2col_col2im", case_im2col},
    {"maxpool2d", case_maxpool},   {"avgpool2d", case_avgpool},
    {"gather", case_gather},       {"scatter_add", case_scatter_add},
    {"rng", case_rng},             {"optim", case_optim},
    {"hand_softmax", hand_softmax}, {"hand_gemm", hand_gemm},
    {"hand_maxpool", hand_maxpool}, {"hand_avgpool", hand_avgpool},
    {"hand_im2col", hand_im2col},  {"hand_reduce", hand_reduce},
    {"hand_copy", hand_copy},      {"hand_index", hand_index},
    {"hand_half", hand_half},      {"half_elementwise", case_half_elementwise},
    {"half_staged", case_half_staged},
    {"hand_rng", hand_rng},        {"hand_optim", hand_optim},
    {"scatter_add_paths", case_scatter_det}, {"rng_paths", case_rng_paths},
    {"elementwise_high_rank", case_ew_highrank}, {"elementwise_vec4", case_ew_vec4},
    {"big_grid", case_big_grid},   {"reduce_long", case_reduce_long},
    {"nan", case_nan},             {"hand_nan", hand_nan},
    {"gemm_paths", case_gemm_paths},
};
enum { N_CASES = sizeof cases / sizeof cases[0] };

START_TEST(test_case)
{
    int b = _i / N_CASES, ci = _i % N_CASES;
    kt c;
    kt_open(&c, agt_backend_spec(b), cases[ci].name, (uint64_t)ci + 1);
    cases[ci].fn(&c);
    kt_close(&c);
}
END_TEST

/* ======================================================================================
 * Coverage, errors, known answers, CPU specifics
 * ==================================================================================== */

/* Every documented op/sub/dtype must be supported; some undocumented ones
 * must not be (and exec must refuse them cleanly). */
START_TEST(test_supports)
{
    const char *spec = agt_backend_spec(_i);
    ag_device *dev = ag_device_open(spec);
    ck_assert_msg(dev != NULL, "[%s] cannot open: %s", spec, ag_last_error());
    const agi_backend *be = dev->be;
#define N AGI_NO_DTYPE
    /* op, sub, dst, dst2, src0, src1, src2: the question sees every dtype */
    struct { agi_kernel_sig sig; bool want; } t[] = {
        {{AGI_K_FILL, 0, AG_F32, N, {N, N, N}}, true},
        {{AGI_K_FILL, 0, AG_I32, N, {N, N, N}}, true},
        {{AGI_K_FILL, 0, AG_U8, N, {N, N, N}}, true},
        {{AGI_K_COPY, 0, AG_U8, N, {AG_F32, N, N}}, true},
        {{AGI_K_COPY, 0, AG_I32, N, {AG_U8, N, N}}, true},
        {{AGI_K_COPY, 0, AG_I32, N, {N, N, N}}, false}, /* no source */
        {{AGI_K_UNARY, AGI_U_GELU, AG_F32, N, {AG_F32, N, N}}, true},
        {{AGI_K_UNARY, AGI_U_GELU, AG_F32, N, {AG_I32, N, N}}, false}, /* source differs */
        {{AGI_K_UNARY, AGI_U_EXP, AG_I32, N, {AG_I32, N, N}}, false},
        {{AGI_K_UNARY, AGI_U_COUNT, AG_F32, N, {AG_F32, N, N}}, false},
        {{AGI_K_BINARY, AGI_B_ADD, AG_I32, N, {AG_I32, AG_I32, N}}, true},
        {{AGI_K_BINARY, AGI_B_ADD, AG_F32, N, {AG_F32, AG_I32, N}}, false}, /* mixed sources */
        {{AGI_K_BINARY, AGI_B_DIV, AG_I32, N, {AG_I32, AG_I32, N}}, false},
        {{AGI_K_BINARY, AGI_B_POW, AG_I32, N, {AG_I32, AG_I32, N}}, false},
        {{AGI_K_BINARY, AGI_B_LT, AG_U8, N, {AG_F32, AG_F32, N}}, true},
        {{AGI_K_BINARY, AGI_B_LT, AG_U8, N, {AG_I32, AG_I32, N}}, true},
        {{AGI_K_BINARY, AGI_B_LT, AG_U8, N, {AG_U8, AG_U8, N}}, false},
        {{AGI_K_BINARY, AGI_B_ADD, AG_U8, N, {AG_U8, AG_U8, N}}, false},
        {{AGI_K_BINARY, AGI_B_SILU_BWD, AG_F32, N, {AG_F32, AG_F32, N}}, true},
        {{AGI_K_WHERE, 0, AG_I32, N, {AG_U8, AG_I32, AG_I32}}, true},
        {{AGI_K_WHERE, 0, AG_I32, N, {AG_F32, AG_I32, AG_I32}}, false}, /* condition not u8 */
        {{AGI_K_WHERE, 0, AG_U8, N, {AG_U8, AG_U8, AG_U8}}, false},
        {{AGI_K_REDUCE, AGI_R_ARGMAX, AG_I32, N, {AG_F32, N, N}}, true},
        {{AGI_K_REDUCE, AGI_R_SUM, AG_I32, N, {AG_I32, N, N}}, false},
        {{AGI_K_GATHER, 0, AG_I32, N, {AG_I32, AG_I32, N}}, true},
        {{AGI_K_GATHER, 0, AG_F32, N, {AG_F32, AG_F32, N}}, false}, /* index not i32 */
        {{AGI_K_GATHER, 0, AG_U8, N, {AG_U8, AG_I32, N}}, false},
        {{AGI_K_SCATTER_ADD, 0, AG_I32, N, {AG_I32, AG_I32, N}}, false},
        {{AGI_K_RNG, AGI_RNG_NORMAL, AG_F32, N, {N, N, N}}, true},
        {{AGI_K_RNG, 0, AG_I32, N, {N, N, N}}, false},
        {{AGI_K_GEMM, 0, AG_I32, N, {AG_I32, AG_I32, N}}, false},
        {{AGI_K_ADAM, 0, AG_F32, N, {AG_F32, AG_F32, AG_F32}}, true},
        {{AGI_K_SGD, 0, AG_F32, N, {AG_F32, N, N}}, true}, /* no momentum buffer */
        {{AGI_K_MAXPOOL2D, 0, AG_F32, AG_I32, {AG_F32, N, N}}, true},
        {{AGI_K_MAXPOOL2D, 0, AG_F32, AG_F32, {AG_F32, N, N}}, false},
        {{AGI_K_LAYER_NORM, 0, AG_F32, N, {AG_F32, N, N}}, true},
        {{AGI_K_SOFTMAX, AGI_LOG_SOFTMAX, AG_F32, N, {AG_F32, N, N}}, true},
        {{AGI_K_SOFTMAX, 7, AG_F32, N, {AG_F32, N, N}}, false},
        {{AGI_K_COUNT, 0, AG_F32, N, {AG_F32, N, N}}, false},
        /* 16-bit floats: casts and elementwise math natively, the other ops
         * staged through f32 (stage16.c); optimizers keep f32 */
        {{AGI_K_FILL, 0, AG_BF16, N, {N, N, N}}, true},
        {{AGI_K_COPY, 0, AG_F16, N, {AG_I32, N, N}}, true},
        {{AGI_K_COPY, 0, AG_U8, N, {AG_BF16, N, N}}, true},
        {{AGI_K_UNARY, AGI_U_EXP, AG_F16, N, {AG_F16, N, N}}, true},
        {{AGI_K_UNARY, AGI_U_EXP, AG_F16, N, {AG_BF16, N, N}}, false},
        {{AGI_K_BINARY, AGI_B_GELU_BWD, AG_BF16, N, {AG_BF16, AG_BF16, N}}, true},
        {{AGI_K_BINARY, AGI_B_ADD, AG_F16, N, {AG_F16, AG_F32, N}}, false},
        {{AGI_K_BINARY, AGI_B_LT, AG_U8, N, {AG_F16, AG_F16, N}}, false},
        {{AGI_K_GEMM, 0, AG_F16, N, {AG_F16, AG_F16, N}}, true},
        {{AGI_K_GEMM, 0, AG_F16, N, {AG_F16, AG_F32, N}}, false},
        {{AGI_K_REDUCE, AGI_R_SUM, AG_BF16, N, {AG_BF16, N, N}}, true},
        {{AGI_K_REDUCE, AGI_R_ARGMAX, AG_I32, N, {AG_F16, N, N}}, true},
        {{AGI_K_LAYER_NORM, 0, AG_BF16, AG_F32, {AG_BF16, AG_BF16, AG_BF16}}, true},
        {{AGI_K_LAYER_NORM, 0, AG_BF16, AG_BF16, {AG_BF16, N, N}}, false}, /* stats stay f32 */
        {{AGI_K_ADAM, 0, AG_F16, N, {AG_F16, AG_F16, AG_F16}}, false},
    };
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
        ck_assert_msg(be->supports(dev->impl, &t[i].sig) == t[i].want,
                      "[%s] supports(%s, sub %d, %s <- %s %s) should be %d", spec,
                      agi_kernel_op_name(t[i].sig.op), t[i].sig.sub, ag_dtype_name(t[i].sig.dst),
                      ag_dtype_name(t[i].sig.src[0]), ag_dtype_name(t[i].sig.src[1]), t[i].want);
    /* Every documented combination is supported. */
    for (int u = 0; u < AGI_U_COUNT; u++)
        ck_assert_msg(be->supports(dev->impl, &(agi_kernel_sig){AGI_K_UNARY, u, AG_F32, N, {AG_F32, N, N}}),
                      "[%s] unary %d", spec, u);
    for (int b = 0; b < AGI_B_COUNT; b++) {
        bool cmp = b >= AGI_B_EQ && b <= AGI_B_GE;
        agi_kernel_sig sg = {AGI_K_BINARY, b, cmp ? AG_U8 : AG_F32, N, {AG_F32, AG_F32, N}};
        ck_assert_msg(be->supports(dev->impl, &sg), "[%s] binary %d", spec, b);
    }
    for (int op = AGI_K_IM2COL; op <= AGI_K_AVGPOOL2D_BWD; op++) {
        agi_kernel_sig sg = {op, 0, AG_F32, op == AGI_K_MAXPOOL2D ? AG_I32 : N,
                             {AG_F32, op == AGI_K_MAXPOOL2D_BWD ? AG_I32 : N, N}};
        ck_assert_msg(be->supports(dev->impl, &sg), "[%s] %s", spec, agi_kernel_op_name(op));
    }
#undef N
    ag_scope_begin();
    /* exec refuses an unsupported combination with AG_ERR_UNSUPPORTED */
    ag_tensor *a = ag_zeros(dev, AG_I32, SHAPE_OF(4));
    agi_kernel k = {.op = AGI_K_BINARY, .sub = AGI_B_DIV};
    k.dst = k.src[0] = k.src[1] = agi_view_of(a);
    ck_assert_int_eq(be->exec(dev->impl, &k), AG_ERR_UNSUPPORTED);
    ck_assert_msg(strlen(ag_last_error()) > 0, "[%s] no message for unsupported", spec);
    k.op = AGI_K_UNARY;
    k.sub = AGI_U_EXP;
    ck_assert_int_eq(be->exec(dev->impl, &k), AG_ERR_UNSUPPORTED);
    k.op = AGI_K_COUNT;
    ck_assert_int_eq(be->exec(dev->impl, &k), AG_ERR_UNSUPPORTED);
    ag_scope_end();
    ag_device_close(dev);
}
END_TEST

/* Malformed kernel records never crash: every backend rejects each of them
 * with an error status and a message (the shared validator of
 * backends/kernel_registry.c, then the kernel's own geometry checks). */
START_TEST(test_bad_views)
{
    const char *spec = agt_backend_spec(_i);
    ag_device *dev = ag_device_open(spec);
    ck_assert_msg(dev != NULL, "[%s] cannot open: %s", spec, ag_last_error());
    ag_scope_begin();
    ag_tensor *a = ag_zeros(dev, AG_F32, SHAPE_OF(4, 4));
    ag_tensor *b = ag_zeros(dev, AG_F32, SHAPE_OF(3, 3));
    enum { NK = 12 };
    agi_kernel ks[NK];
    const char *what[NK];
    memset(ks, 0, sizeof ks);
    ks[0] = (agi_kernel){.op = AGI_K_BINARY, .sub = AGI_B_ADD};
    ks[0].dst = ks[0].src[0] = agi_view_of(a);
    ks[0].src[1] = agi_view_of(b);
    what[0] = "binary with differing shapes";
    ks[1] = ks[0];
    ks[1].src[1] = agi_view_of(a);
    ks[1].dst.shape[0] = ks[1].src[0].shape[0] = ks[1].src[1].shape[0] = 40;
    what[1] = "binary with views running past their buffers";
    ks[2] = (agi_kernel){.op = AGI_K_GEMM};
    ks[2].dst = ks[2].src[0] = agi_view_of(a);
    ks[2].src[1] = agi_view_of(b);
    what[2] = "gemm with rank-2 operands";
    ks[3] = (agi_kernel){.op = AGI_K_MAXPOOL2D};
    ks[3].dst = ks[3].dst2 = ks[3].src[0] = agi_view_of(a);
    what[3] = "maxpool2d with zero geometry";
    ks[4] = (agi_kernel){.op = AGI_K_REDUCE, .sub = AGI_R_SUM};
    ks[4].dst = agi_view_of(b);
    ks[4].src[0] = agi_view_of(a);
    what[4] = "reduce [4,4] -> [3,3]";
    ks[5] = (agi_kernel){.op = AGI_K_COPY};
    ks[5].dst = agi_view_of(a);
    what[5] = "copy without a source buffer";
    ks[6] = (agi_kernel){.op = AGI_K_UNARY, .sub = AGI_U_EXP};
    ks[6].dst = ks[6].src[0] = agi_view_of(a);
    ks[6].src[0].strides[1] = -1;
    what[6] = "unary with a negative stride";
    ks[7] = ks[6];
    ks[7].src[0] = agi_view_of(a);
    ks[7].src[0].offset = 1;
    what[7] = "unary whose offset view runs one past the buffer";
    ks[8] = ks[7];
    ks[8].src[0] = agi_view_of(a);
    ks[8].src[0].ndim = AG_MAX_DIMS + 1;
    what[8] = "unary of rank 9";
    ks[9] = ks[8];
    ks[9].src[0] = agi_view_of(a);
    ks[9].src[0].dtype = (ag_dtype)99;
    what[9] = "unary with an invalid dtype";
    ks[10] = ks[0];
    ks[10].src[1] = agi_view_of(a);
    ks[10].src[1].buf = NULL;
    what[10] = "binary without src1";
    ks[11] = ks[10];
    ks[11].src[1] = agi_view_of(a);
    ks[11].sub = -1;
    what[11] = "binary with sub-op -1";
    for (int i = 0; i < NK; i++) {
        ag_clear_error();
        ag_status st = dev->be->exec(dev->impl, &ks[i]);
        ck_assert_msg(st < 0 && strlen(ag_last_error()) > 0, "[%s] %s: accepted (status %d)", spec,
                      what[i], (int)st);
    }
    ag_device_sync(dev);
    ag_scope_end();
    ck_assert_int_eq(ag_device_live_buffers(dev), 0);
    ag_device_close(dev);
}
END_TEST

/* Random123's known-answer vectors for Philox4x32-10. */
START_TEST(test_philox_kat)
{
    uint32_t o[4];
    agi_philox4x32((const uint32_t[]){0, 0, 0, 0}, (const uint32_t[]){0, 0}, o);
    ck_assert_uint_eq(o[0], 0x6627e8d5u);
    ck_assert_uint_eq(o[1], 0xe169c58du);
    ck_assert_uint_eq(o[2], 0xbc57ac4cu);
    ck_assert_uint_eq(o[3], 0x9b00dbd8u);
    agi_philox4x32((const uint32_t[]){~0u, ~0u, ~0u, ~0u}, (const uint32_t[]){~0u, ~0u}, o);
    ck_assert_uint_eq(o[0], 0x408f276du);
    ck_assert_uint_eq(o[3], 0x6d5451fdu);
    agi_philox4x32((const uint32_t[]){0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u},
                   (const uint32_t[]){0xa4093822u, 0x299f31d0u}, o);
    ck_assert_uint_eq(o[0], 0xd16cfe09u);
    ck_assert_uint_eq(o[1], 0x94fdccebu);
    ck_assert_uint_eq(o[2], 0x5001e420u);
    ck_assert_uint_eq(o[3], 0x24126ea1u);
    /* The shared helper agrees with the independent one. */
    for (uint64_t i = 0; i < 1000; i++) {
        uint64_t ctr = i * 0x100000001ull, seed = i * 77;
        uint32_t a[4], b[4];
        agi_philox4x32((const uint32_t[]){(uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0},
                       (const uint32_t[]){(uint32_t)seed, (uint32_t)(seed >> 32)}, a);
        philox_ref(ctr, seed, b);
        ck_assert_int_eq(memcmp(a, b, sizeof a), 0);
    }
}
END_TEST

/* AG_CPU_MEMORY_LIMIT makes allocation fail with AG_ERR_OOM, recoverably. */
START_TEST(test_cpu_oom)
{
    setenv("AG_CPU_MEMORY_LIMIT", "1048576", 1);
    ag_device *dev = ag_device_open("cpu");
    unsetenv("AG_CPU_MEMORY_LIMIT");
    ck_assert(dev != NULL);
    ag_scope_begin();
    ag_tensor *big = ag_empty(dev, AG_F32, SHAPE_OF(512, 1024)); /* 2 MiB */
    ck_assert(big == NULL);
    ck_assert_int_eq(ag_last_status(), AG_ERR_OOM);
    ag_tensor *half = ag_empty(dev, AG_F32, SHAPE_OF(128, 1024)); /* 512 KiB */
    ck_assert(half != NULL);
    ag_tensor *more = ag_empty(dev, AG_F32, SHAPE_OF(160, 1024)); /* 640 KiB: over */
    ck_assert(more == NULL);
    ck_assert_int_eq(ag_last_status(), AG_ERR_OOM);
    ag_scope_end();
    /* freed: the same allocation succeeds again */
    ag_scope_begin();
    more = ag_zeros(dev, AG_F32, SHAPE_OF(160, 1024));
    ck_assert_msg(more != NULL, "allocation after release failed: %s", ag_last_error());
    ck_assert_double_eq(ag_item(ag_zeros(dev, AG_F32, SHAPE_OF(1))), 0.0);
    ag_scope_end();
    ck_assert_int_eq(ag_device_live_buffers(dev), 0);
    ag_device_close(dev);
}
END_TEST

/* The blocked C GEMM (AG_CPU_GEMM=blocked) against the default path (CBLAS
 * when built with it), on shapes that exercise every edge of the tiling. */
START_TEST(test_cpu_gemm_blocked)
{
    kt c;
    memset(&c, 0, sizeof c);
    c.spec = "cpu(blocked)";
    c.name = "gemm_blocked_vs_default";
    c.rng = 99;
    setenv("AG_CPU_GEMM", "blocked", 1);
    c.dev[0] = ag_device_open("cpu");
    unsetenv("AG_CPU_GEMM");
    c.dev[1] = ag_device_open("cpu");
    ck_assert(c.dev[0] && c.dev[1]);
    ag_scope_begin();
    static const gemm_cfg cfgs[] = {
        {1, 1, 1, 1, false, false, 0, 1, 0},      {1, 5, 17, 3, false, false, 0, 1, 0},
        {1, 97, 203, 301, false, false, 0, 1, 0}, {1, 96, 2048, 256, false, false, 0, 1, 0},
        {1, 200, 130, 513, true, false, 0, 0.5, 1}, {2, 63, 65, 257, false, true, 0, 1, 0},
        {3, 31, 47, 129, true, true, 1, -1, 0.25}, {8, 6, 16, 40, false, false, 2, 1, 0},
        {1, 1, 3000, 70, false, false, 0, 1, 0},  {1, 2100, 1, 17, true, false, 0, 1, 0},
        /* few rows, many columns: the columns are split between threads */
        {1, 6, 4000, 300, false, false, 0, 1, 0}, {2, 1, 5000, 513, false, true, 0, 1, 0.5},
    };
    for (size_t g = 0; g < sizeof cfgs / sizeof cfgs[0]; g++) {
        const gemm_cfg *q = &cfgs[g];
        sub_case(&c, "B=%lld M=%lld N=%lld K=%lld", (long long)q->b, (long long)q->m,
                 (long long)q->n, (long long)q->k);
        tp a = gemm_operand(&c, q->b, q->m, q->k, q->ta, q->bcast == 1);
        tp b = gemm_operand(&c, q->b, q->k, q->n, q->tb, q->bcast == 2);
        tp y = q->beta == 0 ? pair_out(&c, AG_F32, SHAPE_OF(q->b, q->m, q->n))
                            : pair_rand(&c, AG_F32, -1, 1, SHAPE_OF(q->b, q->m, q->n));
        kdesc d = {.op = AGI_K_GEMM, .dst = y, .src = {a, b}, .f = {q->alpha, q->beta}};
        run(&c, &d);
        compare(&c, y, 2e-6 * (double)q->k, 1e-4, "C");
    }
    kt_close(&c);
}
END_TEST

/* The CPU kernels give bit-identical results with 4 threads and with 1 (the
 * parallel paths split work, never the summation order). Sizes are large
 * enough for every kernel to go parallel. */
START_TEST(test_cpu_threads)
{
    kt c;
    memset(&c, 0, sizeof c);
    c.spec = "cpu(4 threads)";
    c.name = "threads_vs_serial";
    c.rng = 7;
    setenv("AG_CPU_GEMM", "blocked", 1);
    setenv("AG_NUM_THREADS", "4", 1);
    c.dev[0] = ag_device_open("cpu");
    setenv("AG_NUM_THREADS", "1", 1);
    c.dev[1] = ag_device_open("cpu");
    unsetenv("AG_NUM_THREADS");
    unsetenv("AG_CPU_GEMM");
    ck_assert(c.dev[0] && c.dev[1]);
    ag_scope_begin();
    const int64_t R = 300, C = 257;

    sub_case(&c, "unary exp, transposed source");
    tp x = pair_rand_kind(&c, AG_F32, K_TRANS, -2, 2, false, SHAPE_OF(R, C));
    tp y = pair_out(&c, AG_F32, SHAPE_OF(R, C));
    run(&c, &(kdesc){.op = AGI_K_UNARY, .sub = AGI_U_EXP, .dst = y, .src = {x}});
    compare(&c, y, 0, 0, "dst");

    sub_case(&c, "binary add, broadcast operand");
    tp b = pair_rand_kind(&c, AG_F32, K_BCAST0, -2, 2, false, SHAPE_OF(R, C));
    run(&c, &(kdesc){.op = AGI_K_BINARY, .sub = AGI_B_ADD, .dst = y, .src = {x, b}});
    compare(&c, y, 0, 0, "dst");

    sub_case(&c, "copy i32 -> f32 and fill u8 through a step view");
    tp xi = pair_rand_kind(&c, AG_I32, K_TRANS, -1000, 1000, true, SHAPE_OF(R, C));
    run(&c, &(kdesc){.op = AGI_K_COPY, .dst = y, .src = {xi}});
    compare(&c, y, 0, 0, "dst");
    tp u = pair_rand_kind(&c, AG_U8, K_STEP, 0, 9, true, SHAPE_OF(R, C));
    run(&c, &(kdesc){.op = AGI_K_FILL, .dst = u, .f = {3}});
    compare(&c, u, 0, 0, "dst");

    sub_case(&c, "where");
    tp cond = pair_rand_kind(&c, AG_U8, K_CONTIG, 0, 1, true, SHAPE_OF(R, C));
    run(&c, &(kdesc){.op = AGI_K_WHERE, .dst = y, .src = {cond, x, b}});
    compare(&c, y, 0, 0, "dst");

    static const int64_t red[][4] = {{300, 257, 1, 257}, {300, 257, 300, 1}, {2000, 40, 1, 40},
                                     {40, 2000, 40, 1}};
    for (int sub = 0; sub < AGI_R_COUNT; sub++)
        for (int r = 0; r < 4; r++) {
            sub_case(&c, "reduce %d [%lld,%lld] -> [%lld,%lld]", sub, (long long)red[r][0],
                     (long long)red[r][1], (long long)red[r][2], (long long)red[r][3]);
            bool arg = sub >= AGI_R_ARGMAX;
            tp rx = pair_rand_kind(&c, AG_F32, K_CONTIG, 0, 5, arg, 2, red[r]);
            tp ry = pair_out(&c, arg ? AG_I32 : AG_F32, 2, red[r] + 2);
            run(&c, &(kdesc){.op = AGI_K_REDUCE, .sub = sub, .dst = ry, .src = {rx}});
            compare(&c, ry, 0, 0, "dst");
        }

    for (int sub = 0; sub < 2; sub++) {
        sub_case(&c, "softmax %d [1000,100]", sub);
        tp sx = pair_rand(&c, AG_F32, -4, 4, SHAPE_OF(1000, 100));
        tp sy = pair_out(&c, AG_F32, SHAPE_OF(1000, 100));
        run(&c, &(kdesc){.op = AGI_K_SOFTMAX, .sub = sub, .dst = sy, .src = {sx}});
        compare(&c, sy, 0, 0, "y");
        tp sdx = pair_out(&c, AG_F32, SHAPE_OF(1000, 100));
        run(&c, &(kdesc){.op = AGI_K_SOFTMAX_BWD, .sub = sub, .dst = sdx, .src = {sy, sx}});
        compare(&c, sdx, 0, 0, "dx");
    }

    sub_case(&c, "im2col / col2im / pooling on [4,8,32,32]");
    agi_conv_params cp = {4, 8, 32, 32, 3, 3, 32, 32, 1, 1, 1, 1, 1, 1};
    tp img = pair_rand(&c, AG_F32, -1, 1, SHAPE_OF(4, 8, 32, 32));
    tp cols = pair_out(&c, AG_F32, SHAPE_OF(4, 72, 1024));
    run(&c, &(kdesc){.op = AGI_K_IM2COL, .dst = cols, .src = {img}, .conv = &cp});
    compare(&c, cols, 0, 0, "cols");
    tp back = pair_out(&c, AG_F32, SHAPE_OF(4, 8, 32, 32));
    run(&c, &(kdesc){.op = AGI_K_COL2IM, .dst = back, .src = {cols}, .conv = &cp});
    compare(&c, back, 0, 0, "col2im");
    agi_pool_params pp = {.n = 4, .c = 8, .h = 32, .w = 32, .oh = 16, .ow = 16, .kh = 3, .kw = 3,
                          .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1,
                          .count_include_pad = 1};
    tp py = pair_out(&c, AG_F32, SHAPE_OF(4, 8, 16, 16));
    tp pi = pair_out(&c, AG_I32, SHAPE_OF(4, 8, 16, 16));
    run(&c, &(kdesc){.op = AGI_K_MAXPOOL2D, .dst = py, .dst2 = pi, .src = {img}, .pool = &pp});
    compare(&c, py, 0, 0, "maxpool");
    compare(&c, pi, 0, 0, "maxpool indices");
    run(&c, &(kdesc){.op = AGI_K_MAXPOOL2D_BWD, .dst = back, .src = {py, pi}, .pool = &pp});
    compare(&c, back, 0, 0, "maxpool backward");
    run(&c, &(kdesc){.op = AGI_K_AVGPOOL2D, .dst = py, .src = {img}, .pool = &pp});
    compare(&c, py, 0, 0, "avgpool");
    run(&c, &(kdesc){.op = AGI_K_AVGPOOL2D_BWD, .dst = back, .src = {py}, .pool = &pp});
    compare(&c, back, 0, 0, "avgpool backward");

    sub_case(&c, "gather / scatter_add [300,257]");
    tp gi = pair_rand_kind(&c, AG_I32, K_CONTIG, -1, 257, true, SHAPE_OF(R, C));
    run(&c, &(kdesc){.op = AGI_K_GATHER, .dst = y, .src = {x, gi}, .i = {1}});
    compare(&c, y, 0, 0, "gather");
    tp si = pair_rand_kind(&c, AG_I32, K_CONTIG, 0, 299, true, SHAPE_OF(R, C));
    tp acc = pair_rand(&c, AG_F32, -1, 1, SHAPE_OF(R, C));
    run(&c, &(kdesc){.op = AGI_K_SCATTER_ADD, .dst = acc, .src = {x, si}, .i = {0}});
    compare(&c, acc, 0, 0, "scatter_add");

    sub_case(&c, "rng");
    for (int sub = 0; sub < 2; sub++) {
        run(&c, &(kdesc){.op = AGI_K_RNG, .sub = sub, .dst = y, .u = {42, 1000},
                         .f = {0, 1}});
        compare(&c, y, 0, 0, "rng");
    }

    sub_case(&c, "adam over 77100 elements");
    agi_optim_params op = {.lr = 0.01f, .beta1 = 0.9f, .beta2 = 0.999f, .eps = 1e-8f,
                           .bias1 = 0.1f, .bias2 = 0.001f};
    tp m = pair_rand(&c, AG_F32, 0, 1, SHAPE_OF(R * C)), v = pair_rand(&c, AG_F32, 0, 1, SHAPE_OF(R * C));
    tp prm = pair_rand(&c, AG_F32, -1, 1, SHAPE_OF(R * C)), g = pair_rand(&c, AG_F32, -1, 1, SHAPE_OF(R * C));
    run(&c, &(kdesc){.op = AGI_K_ADAM, .dst = prm, .src = {g, m, v}, .optim = &op});
    compare(&c, prm, 0, 0, "param");

    sub_case(&c, "blocked gemm [2, 300, 257, 129]");
    tp ga = gemm_operand(&c, 2, 300, 129, true, false), gb = gemm_operand(&c, 2, 129, 257, false, false);
    tp gc = pair_out(&c, AG_F32, SHAPE_OF(2, 300, 257));
    run(&c, &(kdesc){.op = AGI_K_GEMM, .dst = gc, .src = {ga, gb}, .f = {1, 0}});
    compare(&c, gc, 0, 0, "C");
    sub_case(&c, "blocked gemm [1, 6, 4000, 300] (column split)");
    ga = gemm_operand(&c, 1, 6, 300, false, false);
    gb = gemm_operand(&c, 1, 300, 4000, false, false);
    gc = pair_out(&c, AG_F32, SHAPE_OF(1, 6, 4000));
    run(&c, &(kdesc){.op = AGI_K_GEMM, .dst = gc, .src = {ga, gb}, .f = {1, 0}});
    compare(&c, gc, 0, 0, "C");
    kt_close(&c);
}
END_TEST

/* Large transposed views take the CPU backend's tiled path (staged through a
 * buffer): check it against host transposes, for sources and destinations,
 * 4- and 1-byte elements, with an outer dim and ragged tile edges. */
START_TEST(test_cpu_tiled)
{
    ag_device *dev = ag_device_open("cpu");
    ck_assert(dev != NULL);
    ag_scope_begin();
    const int64_t B = 3, R = 130, C = 201; /* logical [B, R, C]; stored as [B, C, R] */
    int64_t n = B * R * C;
    float *h = malloc((size_t)n * sizeof *h), *got = malloc((size_t)n * sizeof *got);
    uint8_t *h8 = malloc((size_t)n), *got8 = malloc((size_t)n);
    ck_assert(h && got && h8 && got8);
    for (int64_t i = 0; i < n; i++) {
        h[i] = (float)i * 0.5f - 7.0f;
        h8[i] = (uint8_t)(i * 37 % 251);
    }
    const int64_t shape[3] = {B, R, C}, tstrides[3] = {R * C, 1, R};
    for (int u8 = 0; u8 < 2; u8++) {
        ag_dtype dt = u8 ? AG_U8 : AG_F32;
        size_t es = ag_dtype_size(dt);
        ag_tensor *stored = ag_from_data(dev, dt, 3, (int64_t[]){B, C, R}, u8 ? (void *)h8 : (void *)h,
                                         (size_t)n * es);
        ag_tensor *tview = agi_tensor_view(stored, 3, shape, tstrides, 0);
        /* transposed source -> contiguous destination */
        ag_tensor *dst = ag_empty(dev, dt, 3, shape);
        ck_assert_int_eq(ag_copy_(dst, tview), AG_OK);
        ck_assert_int_eq(ag_tensor_read(dst, u8 ? (void *)got8 : (void *)got, (size_t)n * es), AG_OK);
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < R; i++)
                for (int64_t j = 0; j < C; j++) {
                    int64_t o = (b * R + i) * C + j, src = (b * C + j) * R + i;
                    if (u8) ck_assert_msg(got8[o] == h8[src], "u8 transposed read at %lld", (long long)o);
                    else ck_assert_msg(got[o] == h[src], "f32 transposed read at %lld", (long long)o);
                }
        /* contiguous source -> transposed destination */
        ag_tensor *flat = ag_from_data(dev, dt, 3, shape, u8 ? (void *)h8 : (void *)h, (size_t)n * es);
        ag_tensor *out = ag_empty(dev, dt, 3, (int64_t[]){B, C, R});
        ag_tensor *oview = agi_tensor_view(out, 3, shape, tstrides, 0);
        agi_kernel k = {.op = AGI_K_COPY};
        k.dst = agi_view_of(oview);
        k.src[0] = agi_view_of(flat);
        ck_assert_int_eq(agi_exec("tiled", dev, &k), AG_OK);
        ck_assert_int_eq(ag_tensor_read(out, u8 ? (void *)got8 : (void *)got, (size_t)n * es), AG_OK);
        for (int64_t b = 0; b < B; b++)
            for (int64_t i = 0; i < R; i++)
                for (int64_t j = 0; j < C; j++) {
                    int64_t o = (b * C + j) * R + i, src = (b * R + i) * C + j;
                    if (u8) ck_assert_msg(got8[o] == h8[src], "u8 transposed write at %lld", (long long)o);
                    else ck_assert_msg(got[o] == h[src], "f32 transposed write at %lld", (long long)o);
                }
        if (!u8) {
            /* binary in place on a transposed view: a - (contiguous copy of a) = 0 */
            agi_kernel bk = {.op = AGI_K_BINARY, .sub = AGI_B_SUB};
            bk.dst = agi_view_of(tview);
            bk.src[0] = agi_view_of(tview);
            bk.src[1] = agi_view_of(dst);
            ck_assert_int_eq(agi_exec("tiled", dev, &bk), AG_OK);
            ck_assert_int_eq(ag_tensor_read(stored, got, (size_t)n * es), AG_OK);
            for (int64_t i = 0; i < n; i++)
                ck_assert_msg(got[i] == 0.0f, "in-place transposed sub at %lld: %g", (long long)i, got[i]);
        }
    }
    free(h);
    free(got);
    free(h8);
    free(got8);
    ag_scope_end();
    ck_assert_int_eq(ag_device_live_buffers(dev), 0);
    ag_device_close(dev);
}
END_TEST

/* The device description of the CPU backend. */
START_TEST(test_cpu_info)
{
    ag_device_info info[8];
    int n = agi_backend_cpu.enumerate(info, 8);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(info[0].spec, "cpu");
    ck_assert_int_eq(info[0].type, AG_DEVICE_CPU);
    ck_assert(strlen(info[0].name) > 0);
    ck_assert(info[0].memory_bytes > 0);
    ck_assert(info[0].compute_units >= 1);
    ck_assert_int_eq(agi_backend_cpu.enumerate(NULL, 0), 1);
}
END_TEST

int main(void)
{
    int n_specs = agt_backend_count();
    Suite *s = suite_create("kernels");
    TCase *tc = tcase_create("conformance");
    tcase_set_timeout(tc, 600);
    tcase_add_loop_test(tc, test_case, 0, n_specs * N_CASES);
    tcase_add_loop_test(tc, test_supports, 0, n_specs);
    tcase_add_loop_test(tc, test_bad_views, 0, n_specs);
    tcase_add_test(tc, test_philox_kat);
    suite_add_tcase(s, tc);
    TCase *cpu = tcase_create("cpu");
    tcase_set_timeout(cpu, 600);
    tcase_add_test(cpu, test_cpu_oom);
    tcase_add_test(cpu, test_cpu_gemm_blocked);
    tcase_add_test(cpu, test_cpu_info);
    tcase_add_test(cpu, test_cpu_threads);
    tcase_add_test(cpu, test_cpu_tiled);
    suite_add_tcase(s, cpu);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
