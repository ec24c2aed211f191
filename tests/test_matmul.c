/* tests/test_matmul.c — matmul in every torch.matmul shape form and linear:
 * hand values, PyTorch golden values and gradients (tests/golden/gen_matmul.py),
 * gradcheck, transposed/strided/broadcast operands and error paths, on every
 * backend under test. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#define GOLDEN "matmul.txt"
#define TOL 1e-4

/* The matmul golden cases (names as in gen_matmul.py). */
static const char *const MATMUL_CASES[] = {
    "mm", "dot", "mv", "vm", "bmm", "bcast", "batch_2d", "2d_batch", "vec_batch", "batch_vec",
};
#define NMATMUL ((int)(sizeof MATMUL_CASES / sizeof MATMUL_CASES[0]))

/* A golden tensor marked as requiring grad; strided (same values) on request. */
static ag_tensor *gold(agt_golden *g, ag_device *dev, const char *c, const char *l, bool strided)
{
    ag_tensor *t = agt_golden_tensor(g, dev, c, l);
    if (strided && ag_ndim(t) >= 2) {
        t = agt_noncontiguous(t);
        ck_assert(!ag_is_contiguous(t));
    }
    ck_assert_int_eq(ag_set_requires_grad(t, true), AG_OK);
    return t;
}

static void check_grad(agt_golden *g, ag_device *dev, const ag_tensor *x, const char *c,
                       const char *l, const char *what)
{
    ck_assert_msg(ag_grad(x) != NULL, "%s/%s: no gradient", what, l);
    agt_assert_tensors_close(ag_grad(x), agt_golden_tensor(g, dev, c, l), TOL, TOL, what);
}

/* ---- Hand-checked values --------------------------------------------------------- */

START_TEST(test_matmul_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // a: [2, 3] = [[1, 2, 3], [4, 5, 6]], b: [3, 2] = [[1, 0], [0, 1], [1, 1]]
    ag_tensor *a = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(3, 2), (float[]){1, 0, 0, 1, 1, 1});
    ag_tensor *y = ag_matmul(a, b);
    agt_assert_shape(y, AG_SHAPE(2, 2), "mm shape");
    agt_assert_close(y, (float[]){4, 5, 10, 11}, 4, 1e-5, 1e-5, "mm");
    /* transposed views need no copy and give the same numbers */
    agt_assert_close(ag_matmul(ag_t(b), ag_t(a)), (float[]){4, 10, 5, 11}, 4, 1e-5, 1e-5,
                     "mm transposed");
    /* 1-D forms */
    ag_tensor *v = agt_tensor(dev, AG_SHAPE(3), (float[]){1, -1, 2});
    y = ag_matmul(v, v);
    agt_assert_shape(y, 0, NULL, "dot shape");
    agt_assert_close(y, (float[]){6}, 1, 1e-5, 1e-5, "dot");
    y = ag_matmul(a, v);
    agt_assert_shape(y, AG_SHAPE(2), "mv shape");
    agt_assert_close(y, (float[]){5, 11}, 2, 1e-5, 1e-5, "mv");
    y = ag_matmul(v, b);
    agt_assert_shape(y, AG_SHAPE(2), "vm shape");
    agt_assert_close(y, (float[]){3, 1}, 2, 1e-5, 1e-5, "vm");
    /* a strided 1-D operand (every other element) */
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(6), (float[]){1, 9, -1, 9, 2, 9});
    agt_assert_close(ag_matmul(ag_slice(w, 0, 0, 6, 2), v), (float[]){6}, 1, 1e-5, 1e-5,
                     "strided dot");
    /* batched with broadcasting: [2, 1, 2, 3] @ [3, 3, 2] → [2, 3, 2, 2] */
    ag_tensor *a4 = ag_reshape(ag_cat(2, (ag_tensor *[]){a, ag_neg(a)}, 0), AG_SHAPE(2, 1, 2, 3));
    ag_tensor *b3 = ag_expand(ag_unsqueeze(b, 0), AG_SHAPE(3, 3, 2));
    y = ag_matmul(a4, b3);
    agt_assert_shape(y, AG_SHAPE(2, 3, 2, 2), "broadcast shape");
    float want[24];
    for (int i = 0; i < 24; i++) {
        static const float base[4] = {4, 5, 10, 11};
        want[i] = (i < 12 ? 1.f : -1.f) * base[i % 4];
    }
    agt_assert_close(y, want, 24, 1e-5, 1e-5, "broadcast");
    /* stride-0 (expanded) matrices have no unit stride and are copied first */
    ag_tensor *r = agt_tensor(dev, AG_SHAPE(1, 3), (float[]){1, 2, 3});
    ck_assert_int_eq(ag_set_requires_grad(r, true), AG_OK);
    ag_tensor *re = ag_expand(r, AG_SHAPE(2, 3));
    agt_assert_close(ag_matmul(re, b), (float[]){4, 5, 4, 5}, 4, 1e-5, 1e-5, "expanded rows");
    ag_tensor *c = agt_tensor(dev, AG_SHAPE(3, 1), (float[]){1, 0, -1});
    agt_assert_close(ag_matmul(a, ag_expand(c, AG_SHAPE(3, 2))), (float[]){-2, -2, -2, -2}, 4,
                     1e-5, 1e-5, "expanded columns");
    ck_assert_int_eq(ag_backward(ag_sum(ag_matmul(re, b), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(r), (float[]){2, 2, 4}, 3, 1e-5, 1e-5, "expanded rows grad");
    /* integers are promoted to f32 */
    ag_tensor *ai = agt_tensor_i32(dev, AG_SHAPE(2, 3), (int32_t[]){1, 2, 3, 4, 5, 6});
    y = ag_matmul(ai, b);
    ck_assert_int_eq(ag_tensor_dtype(y), AG_F32);
    agt_assert_close(y, (float[]){4, 5, 10, 11}, 4, 1e-5, 1e-5, "mm i32");
    /* empty inner dim gives zeros; empty outer dim gives an empty result */
    y = ag_matmul(ag_zeros(dev, AG_F32, AG_SHAPE(2, 0)), ag_zeros(dev, AG_F32, AG_SHAPE(0, 3)));
    agt_assert_shape(y, AG_SHAPE(2, 3), "K = 0 shape");
    agt_assert_close(y, (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0, "K = 0");
    agt_assert_shape(ag_matmul(ag_zeros(dev, AG_F32, AG_SHAPE(0, 3)), b), AG_SHAPE(0, 2),
                     "M = 0");
    /* backward: dA = G Bᵀ, dB = Aᵀ G */
    ck_assert_int_eq(ag_set_requires_grad(a, true), AG_OK);
    ck_assert_int_eq(ag_set_requires_grad(b, true), AG_OK);
    ck_assert_int_eq(ag_backward(ag_matmul(a, b), ag_ones(dev, AG_F32, AG_SHAPE(2, 2))), AG_OK);
    agt_assert_close(ag_grad(a), (float[]){1, 1, 2, 1, 1, 2}, 6, 1e-5, 1e-5, "mm grad a");
    agt_assert_close(ag_grad(b), (float[]){5, 5, 7, 7, 9, 9}, 6, 1e-5, 1e-5, "mm grad b");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_linear_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // x: [2, 3], weight: [2, 3] (out 2, in 3), bias: [2]
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 0, 1, 0, 1, 0});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(2), (float[]){10, -10});
    ag_tensor *y = ag_linear(x, w, b);
    agt_assert_shape(y, AG_SHAPE(2, 2), "linear shape");
    agt_assert_close(y, (float[]){14, -8, 20, -5}, 4, 1e-5, 1e-5, "linear");
    agt_assert_close(ag_linear(x, w, NULL), (float[]){4, 2, 10, 5}, 4, 1e-5, 1e-5,
                     "linear no bias");
    /* 1-D input, 3-D input */
    y = ag_linear(agt_tensor(dev, AG_SHAPE(3), (float[]){1, 2, 3}), w, b);
    agt_assert_shape(y, AG_SHAPE(2), "linear 1-D shape");
    agt_assert_close(y, (float[]){14, -8}, 2, 1e-5, 1e-5, "linear 1-D");
    y = ag_linear(ag_reshape(x, AG_SHAPE(2, 1, 3)), w, b);
    agt_assert_shape(y, AG_SHAPE(2, 1, 2), "linear 3-D shape");
    agt_assert_close(y, (float[]){14, -8, 20, -5}, 4, 1e-5, 1e-5, "linear 3-D");
    /* strided input and transposed-storage weight */
    agt_assert_close(ag_linear(agt_noncontiguous(x), agt_noncontiguous(w), b),
                     (float[]){14, -8, 20, -5}, 4, 1e-5, 1e-5, "linear strided");
    /* empty batch and empty features */
    agt_assert_shape(ag_linear(ag_zeros(dev, AG_F32, AG_SHAPE(0, 3)), w, b), AG_SHAPE(0, 2),
                     "linear empty batch");
    y = ag_linear(ag_zeros(dev, AG_F32, AG_SHAPE(2, 0)), ag_zeros(dev, AG_F32, AG_SHAPE(2, 0)), b);
    agt_assert_close(y, (float[]){10, -10, 10, -10}, 4, 0, 0, "linear in = 0");
    /* backward */
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ck_assert_int_eq(ag_set_requires_grad(w, true), AG_OK);
    ck_assert_int_eq(ag_set_requires_grad(b, true), AG_OK);
    ck_assert_int_eq(ag_backward(ag_linear(x, w, b),
                                 agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, 2, 3, 4})),
                     AG_OK);
    agt_assert_close(ag_grad(x), (float[]){1, 2, 1, 3, 4, 3}, 6, 1e-5, 1e-5, "linear dx");
    agt_assert_close(ag_grad(w), (float[]){13, 17, 21, 18, 24, 30}, 6, 1e-5, 1e-5, "linear dw");
    agt_assert_close(ag_grad(b), (float[]){4, 6}, 2, 1e-5, 1e-5, "linear db");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- PyTorch golden values ------------------------------------------------------- */

START_TEST(test_matmul_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    for (int i = 0; i < NMATMUL; i++) {
        const char *c = MATMUL_CASES[i];
        for (int strided = 0; strided < 2; strided++) {
            char what[96];
            snprintf(what, sizeof what, "matmul %s%s", c, strided ? " (strided)" : "");
            ag_scope_begin();
            ag_tensor *a = gold(g, dev, c, "a", strided), *b = gold(g, dev, c, "b", strided);
            ag_tensor *go = agt_golden_tensor(g, dev, c, "go");
            if (strided && ag_ndim(go) >= 2) go = agt_noncontiguous(go);
            ag_tensor *y = ag_matmul(a, b);
            ag_tensor *want = agt_golden_tensor(g, dev, c, "y");
            agt_assert_shape(y, ag_ndim(want), ag_shape(want), what);
            agt_assert_tensors_close(y, want, TOL, TOL, what);
            ck_assert_msg(ag_backward(y, go) == AG_OK, "%s: backward: %s", what, ag_last_error());
            check_grad(g, dev, a, c, "ga", what);
            check_grad(g, dev, b, c, "gb", what);
            ag_scope_end();
        }
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_linear_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    const char *cases[] = {"linear_3d", "linear_2d_nobias", "linear_1d"};
    for (int i = 0; i < 3; i++) {
        const char *c = cases[i];
        for (int strided = 0; strided < 2; strided++) {
            char what[96];
            snprintf(what, sizeof what, "%s%s", c, strided ? " (strided)" : "");
            ag_scope_begin();
            ag_tensor *x = gold(g, dev, c, "x", strided), *w = gold(g, dev, c, "w", strided);
            ag_tensor *b = agt_golden_has(g, c, "bias") ? gold(g, dev, c, "bias", false) : NULL;
            ag_tensor *y = ag_linear(x, w, b);
            ag_tensor *want = agt_golden_tensor(g, dev, c, "y");
            agt_assert_shape(y, ag_ndim(want), ag_shape(want), what);
            agt_assert_tensors_close(y, want, TOL, TOL, what);
            ck_assert_msg(ag_backward(y, agt_golden_tensor(g, dev, c, "go")) == AG_OK,
                          "%s: backward: %s", what, ag_last_error());
            check_grad(g, dev, x, c, "gx", what);
            check_grad(g, dev, w, c, "gw", what);
            if (b) check_grad(g, dev, b, c, "gbias", what);
            ag_scope_end();
        }
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* ---- Gradcheck ---------------------------------------------------------------------- */

static ag_tensor *fn_matmul(ag_tensor *const *in, void *ctx)
{
    (void)ctx;
    return ag_matmul(in[0], in[1]);
}

static ag_tensor *fn_linear(ag_tensor *const *in, void *ctx)
{
    return ag_linear(in[0], in[1], ctx ? in[2] : NULL);
}

START_TEST(test_matmul_gradcheck)
{
    ag_device *dev = agt_open(_i);
    static const struct { int na; int64_t a[4]; int nb; int64_t b[4]; } shapes[] = {
        {2, {3, 4}, 2, {4, 2}},          {1, {4}, 1, {4}},
        {2, {3, 4}, 1, {4}},             {1, {4}, 2, {4, 3}},
        {3, {2, 3, 4}, 3, {2, 4, 2}},    {4, {2, 1, 2, 3}, 3, {3, 3, 2}},
        {3, {2, 3, 4}, 2, {4, 2}},       {2, {2, 3}, 3, {2, 3, 2}},
        {3, {1, 2, 3}, 3, {2, 3, 1}},
    };
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        for (int strided = 0; strided < 2; strided++) {
            ag_scope_begin();
            ag_tensor *a = agt_randn(dev, shapes[i].na, shapes[i].a, 10 + i, 1.0);
            ag_tensor *b = agt_randn(dev, shapes[i].nb, shapes[i].b, 20 + i, 1.0);
            if (strided && shapes[i].na >= 2) a = agt_noncontiguous(a);
            if (strided && shapes[i].nb >= 2) b = agt_noncontiguous(b);
            ag_set_requires_grad(a, true);
            ag_set_requires_grad(b, true);
            char what[64];
            snprintf(what, sizeof what, "matmul shape %zu%s", i, strided ? " (strided)" : "");
            agt_gradcheck(fn_matmul, 2, (ag_tensor *[]){a, b}, NULL, 1e-2, 1e-2, 1e-2, what);
            ag_scope_end();
        }
    }
    /* one operand without grad */
    ag_scope_begin();
    ag_tensor *a = agt_randn(dev, AG_SHAPE(2, 3, 4), 3, 1.0);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(4, 2), 4, 1.0);
    ag_set_requires_grad(b, true);
    agt_gradcheck(fn_matmul, 2, (ag_tensor *[]){a, b}, NULL, 1e-2, 1e-2, 1e-2, "matmul b only");
    ag_scope_end();
    /* batch dims that do not collapse into one stride (a permuted [2, 3] batch):
     * the operands' copies are made once, ahead of the product, for the backward
     * too; and with a 2-D right operand */
    for (int twod = 0; twod < 2; twod++) {
        ag_scope_begin();
        ag_tensor *pa = ag_transpose(agt_randn(dev, AG_SHAPE(3, 2, 4, 5), 5, 1.0), 0, 1); // [2, 3, 4, 5]
        ag_tensor *pb = twod ? ag_t(agt_randn(dev, AG_SHAPE(2, 5), 6, 1.0))              // [5, 2]
                             : ag_transpose(agt_randn(dev, AG_SHAPE(3, 2, 5, 2), 6, 1.0), 0, 1);
        ck_assert_int_eq(ag_set_requires_grad(pa, true), AG_OK);
        ck_assert_int_eq(ag_set_requires_grad(pb, true), AG_OK);
        agt_gradcheck(fn_matmul, 2, (ag_tensor *[]){pa, pb}, NULL, 1e-2, 1e-2, 1e-2,
                      twod ? "matmul permuted batch @ 2-D" : "matmul permuted batches");
        ag_scope_end();
    }
    agt_close(dev);
}
END_TEST

START_TEST(test_linear_gradcheck)
{
    ag_device *dev = agt_open(_i);
    for (int strided = 0; strided < 2; strided++) {
        ag_scope_begin();
        ag_tensor *x = agt_randn(dev, AG_SHAPE(2, 3, 4), 5, 1.0);
        ag_tensor *w = agt_randn(dev, AG_SHAPE(3, 4), 6, 1.0);
        ag_tensor *b = agt_randn(dev, AG_SHAPE(3), 7, 1.0);
        if (strided) {
            x = agt_noncontiguous(x);
            w = agt_noncontiguous(w);
        }
        ag_set_requires_grad(x, true);
        ag_set_requires_grad(w, true);
        ag_set_requires_grad(b, true);
        agt_gradcheck(fn_linear, 3, (ag_tensor *[]){x, w, b}, (void *)1, 1e-2, 1e-2, 1e-2,
                      strided ? "linear (strided)" : "linear");
        agt_gradcheck(fn_linear, 2, (ag_tensor *[]){x, w}, NULL, 1e-2, 1e-2, 1e-2,
                      strided ? "linear no bias (strided)" : "linear no bias");
        ag_scope_end();
    }
    agt_close(dev);
}
END_TEST

/* ---- Larger shapes against a host reference ------------------------------------------ */

/* c[b] = a[b] @ w[b] in double on the host; a: [nb?, M, K] (batch stride sa, 0
 * broadcasts), w likewise. */
static float *host_mm(const float *a, const float *w, int nb, int64_t sa, int64_t sw, int M,
                      int K, int N)
{
    float *c = malloc((size_t)nb * M * N * sizeof *c);
    for (int b = 0; b < nb; b++)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++) {
                double s = 0;
                for (int k = 0; k < K; k++)
                    s += (double)a[b * sa + i * K + k] * w[b * sw + k * N + j];
                c[((size_t)b * M + i) * N + j] = (float)s;
            }
    return c;
}

/* Odd sizes past tile widths, plain and transposed operands, batches. */
START_TEST(test_matmul_large_vs_host)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    enum { M = 67, K = 129, N = 33, B = 3 };
    ag_tensor *a = agt_randn(dev, AG_SHAPE(M, K), 1, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(K, N), 2, 1.0);
    float *ha = agt_read_f32(a), *hw = agt_read_f32(w);
    float *ref = host_mm(ha, hw, 1, 0, 0, M, K, N);
    agt_assert_close(ag_matmul(a, w), ref, (int64_t)M * N, 1e-3, 1e-4, "mm");
    /* the same product from transposed storage: (aᵀ)ᵀ and (wᵀ)ᵀ */
    ag_tensor *at = ag_t(ag_contiguous(ag_t(a))), *wt = ag_t(ag_contiguous(ag_t(w)));
    ck_assert(!ag_is_contiguous(at) && !ag_is_contiguous(wt));
    agt_assert_close(ag_matmul(at, w), ref, (int64_t)M * N, 1e-3, 1e-4, "mm a transposed");
    agt_assert_close(ag_matmul(a, wt), ref, (int64_t)M * N, 1e-3, 1e-4, "mm b transposed");
    agt_assert_close(ag_matmul(at, wt), ref, (int64_t)M * N, 1e-3, 1e-4, "mm both transposed");
    agt_assert_close(ag_linear(a, ag_t(w), NULL), ref, (int64_t)M * N, 1e-3, 1e-4, "linear");
    free(ref);
    /* batched: [B, M, K] @ [K, N] (folded) and [B, M, K] @ [B, K, N] */
    ag_tensor *a3 = agt_randn(dev, AG_SHAPE(B, M, K), 3, 1.0);
    ag_tensor *w3 = agt_randn(dev, AG_SHAPE(B, K, N), 4, 1.0);
    float *ha3 = agt_read_f32(a3), *hw3 = agt_read_f32(w3);
    ref = host_mm(ha3, hw, B, (int64_t)M * K, 0, M, K, N);
    agt_assert_close(ag_matmul(a3, w), ref, (int64_t)B * M * N, 1e-3, 1e-4, "batch @ 2-D");
    free(ref);
    ref = host_mm(ha3, hw3, B, (int64_t)M * K, (int64_t)K * N, M, K, N);
    agt_assert_close(ag_matmul(a3, w3), ref, (int64_t)B * M * N, 1e-3, 1e-4, "bmm");
    free(ref);
    ref = host_mm(ha, hw3, B, 0, (int64_t)K * N, M, K, N);
    agt_assert_close(ag_matmul(a, w3), ref, (int64_t)B * M * N, 1e-3, 1e-4, "2-D @ batch");
    free(ref);
    free(ha);
    free(hw);
    free(ha3);
    free(hw3);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Errors -------------------------------------------------------------------------- */

START_TEST(test_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *a = agt_randn(dev, AG_SHAPE(64, 784), 1, 1.0);
    ag_tensor *b = agt_randn(dev, AG_SHAPE(512, 10), 2, 1.0);
    agt_assert_error(ag_matmul(a, b), "ag_matmul: inner dims differ", "[64,784] @ [512,10]",
                     "inner dims");
    ag_tensor *v3 = agt_randn(dev, AG_SHAPE(3), 3, 1.0), *v4 = agt_randn(dev, AG_SHAPE(4), 4, 1.0);
    agt_assert_error(ag_matmul(v3, v4), "ag_matmul", "[3] @ [4]", "dot sizes");
    agt_assert_error(ag_matmul(b, v3), "ag_matmul", "[512,10] @ [3]", "mv sizes");
    agt_assert_error(ag_matmul(ag_scalar(dev, AG_F32, 1), v3), "ag_matmul", "[] @ [3]", "0-dim");
    ag_tensor *x1 = agt_randn(dev, AG_SHAPE(2, 3, 4), 5, 1.0);
    ag_tensor *x2 = agt_randn(dev, AG_SHAPE(3, 4, 5), 6, 1.0);
    agt_assert_error(ag_matmul(x1, x2), "ag_matmul", "[2,3,4] @ [3,4,5]", "batch dims");
    ag_device *other = ag_device_open("cpu");
    ck_assert_ptr_nonnull(other);
    ag_tensor *o = ag_zeros(other, AG_F32, AG_SHAPE(4, 5));
    agt_assert_error(ag_matmul(x1, o), "ag_matmul", "different devices", "devices");
    agt_assert_error(ag_linear(x1, o, NULL), "ag_linear", "different devices", "linear devices");
    ag_tensor *w = agt_randn(dev, AG_SHAPE(5, 4), 7, 1.0);
    agt_assert_error(ag_linear(x1, b, NULL), "ag_linear", "[512,10]", "linear features");
    agt_assert_error(ag_linear(x1, x2, NULL), "ag_linear", "[3,4,5]", "linear 3-D weight");
    agt_assert_error(ag_linear(x1, w, v3), "ag_linear", "[3]", "linear bias");
    agt_assert_error(ag_linear(ag_scalar(dev, AG_F32, 1), w, NULL), "ag_linear", "[]",
                     "linear 0-dim");
    const ag_tensor *null = NULL;
    ag_clear_error();
    agt_assert_error(ag_matmul(null, a), "ag_matmul", "NULL", "matmul NULL a");
    ag_clear_error();
    agt_assert_error(ag_matmul(a, null), "ag_matmul", "NULL", "matmul NULL b");
    ag_clear_error();
    agt_assert_error(ag_linear(null, w, NULL), "ag_linear", "NULL", "linear NULL x");
    ag_clear_error();
    agt_assert_error(ag_linear(x1, null, NULL), "ag_linear", "NULL", "linear NULL weight");
    ag_scope_end();
    ag_device_close(other);
    agt_close(dev);
}
END_TEST

static Suite *matmul_suite(void)
{
    Suite *s = suite_create("matmul");
    TCase *tc = tcase_create("matmul");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_matmul_hand);
    AGT_ADD_LOOP(tc, test_linear_hand);
    AGT_ADD_LOOP(tc, test_matmul_golden);
    AGT_ADD_LOOP(tc, test_linear_golden);
    AGT_ADD_LOOP(tc, test_matmul_gradcheck);
    AGT_ADD_LOOP(tc, test_linear_gradcheck);
    AGT_ADD_LOOP(tc, test_matmul_large_vs_host);
    AGT_ADD_LOOP(tc, test_errors);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(matmul_suite()); }
