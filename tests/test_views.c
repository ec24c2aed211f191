/* tests/test_views.c — views (reshape, view, permute, transpose, t, expand,
 * slice, narrow, select, squeeze, unsqueeze, flatten) and joining (cat, stack,
 * split, chunk): hand values and strides, storage sharing, PyTorch golden
 * values and gradients (tests/golden/gen_views.py), gradcheck, strided inputs
 * and error paths, on every backend under test. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "views.txt"

static void check_grad(agt_golden *g, ag_device *dev, const ag_tensor *x, const char *c,
                       const char *l, const char *what)
{
    agt_assert_grad_golden(g, dev, x, c, l, 1e-6, 1e-6, what);
}

static void assert_strides(const ag_tensor *t, int ndim, const int64_t *want, const char *what)
{
    ck_assert_msg(t != NULL, "%s: NULL: %s", what, ag_last_error());
    ck_assert_int_eq(ag_ndim(t), ndim);
    for (int d = 0; d < ndim; d++)
        ck_assert_msg(ag_strides(t)[d] == want[d], "%s: stride[%d] = %lld, want %lld", what, d,
                      (long long)ag_strides(t)[d], (long long)want[d]);
}

/* ---- The single-input views, as in gen_views.py ----------------------------------- */

typedef struct view_case {
    const char *name;
    ag_tensor *(*fn)(const ag_tensor *);
} view_case;

static ag_tensor *v_reshape(const ag_tensor *x) { return ag_reshape(x, AG_SHAPE(4, -1)); }
static ag_tensor *v_reshape_copy(const ag_tensor *x)
{
    return ag_reshape(ag_transpose(x, 0, 2), AG_SHAPE(-1, 6));
}
static ag_tensor *v_permute(const ag_tensor *x) { return ag_permute(x, AG_DIMS(2, 0, 1)); }
static ag_tensor *v_transpose(const ag_tensor *x) { return ag_transpose(x, 0, 2); }
static ag_tensor *v_t(const ag_tensor *x) { return ag_t(x); }
static ag_tensor *v_expand(const ag_tensor *x) { return ag_expand(x, AG_SHAPE(2, 3, 4)); }
static ag_tensor *v_slice(const ag_tensor *x)
{
    return ag_slice(ag_slice(x, 1, -2, INT64_MAX, 1), 2, 1, INT64_MAX, 2); // x[:, -2:, 1::2]
}
static ag_tensor *v_slice3(const ag_tensor *x) { return ag_slice(x, -1, 0, 4, 3); }
static ag_tensor *v_narrow(const ag_tensor *x) { return ag_narrow(x, 2, 1, 2); }
static ag_tensor *v_select(const ag_tensor *x) { return ag_select(x, 1, -1); }
static ag_tensor *v_squeeze(const ag_tensor *x) { return ag_squeeze(x, 1); }
static ag_tensor *v_squeeze_all(const ag_tensor *x) { return ag_squeeze_all(x); }
static ag_tensor *v_unsqueeze(const ag_tensor *x) { return ag_unsqueeze(x, -1); }
static ag_tensor *v_flatten(const ag_tensor *x) { return ag_flatten(x, 1, 2); }

static const view_case VIEWS[] = {
    {"reshape", v_reshape},     {"reshape_copy", v_reshape_copy}, {"permute", v_permute},
    {"transpose", v_transpose}, {"t", v_t},                       {"expand", v_expand},
    {"slice", v_slice},         {"slice_step3", v_slice3},        {"narrow", v_narrow},
    {"select", v_select},       {"squeeze", v_squeeze},           {"squeeze_all", v_squeeze_all},
    {"unsqueeze", v_unsqueeze}, {"flatten", v_flatten},
};
#define N_VIEWS ((int)(sizeof VIEWS / sizeof VIEWS[0]))

static ag_tensor *view_fn(ag_tensor *const *in, void *ctx)
{
    return ((const view_case *)ctx)->fn(in[0]);
}

START_TEST(test_views_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = ag_arange(dev, AG_F32, 0, 24, 1);
    ag_tensor *r = ag_reshape(x, AG_SHAPE(2, 3, 4));
    agt_assert_shape(r, AG_SHAPE(2, 3, 4), "reshape");
    assert_strides(r, 3, (int64_t[]){12, 4, 1}, "reshape strides");
    agt_assert_shape(ag_view(r, AG_SHAPE(-1, 4)), AG_SHAPE(6, 4), "view -1");
    agt_assert_shape(ag_reshape(r, AG_SHAPE(4, -1, 3)), AG_SHAPE(4, 2, 3), "reshape -1");
    agt_assert_shape(ag_reshape(ag_scalar(dev, AG_F32, 1), AG_SHAPE(1, 1)), AG_SHAPE(1, 1),
                     "reshape 0-dim");
    agt_assert_error(ag_reshape(ag_reshape(x, AG_SHAPE(1, 24)), 0, NULL), "ag_reshape", "[1,24]",
                     "24 elements to 0-dim");
    agt_assert_shape(ag_reshape(ag_reshape(ag_scalar(dev, AG_F32, 3), AG_SHAPE(1, 1)), 0, NULL), 0,
                     NULL, "one element to 0-dim");
    ag_tensor *p = ag_permute(r, AG_DIMS(2, 0, 1));
    agt_assert_shape(p, AG_SHAPE(4, 2, 3), "permute");
    assert_strides(p, 3, (int64_t[]){1, 12, 4}, "permute strides");
    ck_assert(!ag_is_contiguous(p));
    agt_assert_close(ag_select(ag_select(p, 0, 1), 0, 1), (float[]){13, 17, 21}, 3, 0, 0,
                     "permute values");
    /* merging dims that stay contiguous together is still a view */
    assert_strides(ag_view(p, AG_SHAPE(4, 6)), 2, (int64_t[]){1, 4}, "view of permuted");
    /* merging dims that are not needs a copy: view fails, reshape copies */
    ag_tensor *q = ag_permute(r, AG_DIMS(0, 2, 1)); // [2,4,3], strides [12,1,4]
    agt_assert_error(ag_view(q, AG_SHAPE(2, 12)), "ag_view", "[2,4,3]", "view needing a copy");
    ag_tensor *qr = ag_reshape(q, AG_SHAPE(2, 12));
    ck_assert(ag_is_contiguous(qr));
    agt_assert_close(ag_select(qr, 0, 0), (float[]){0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11}, 12, 0, 0,
                     "reshape copy");
    /* splitting a permuted dim keeps a view */
    ag_tensor *pv = ag_view(ag_transpose(r, 0, 2), AG_SHAPE(2, 2, 3, 2));
    assert_strides(pv, 4, (int64_t[]){2, 1, 4, 12}, "view split of strided dim");
    agt_assert_close(ag_t(ag_reshape(ag_arange(dev, AG_F32, 0, 6, 1), AG_SHAPE(2, 3))),
                     (float[]){0, 3, 1, 4, 2, 5}, 6, 0, 0, "t");
    agt_assert_shape(ag_t(x), AG_SHAPE(24), "t of 1-D");
    agt_assert_close(ag_transpose(ag_reshape(ag_arange(dev, AG_F32, 0, 6, 1), AG_SHAPE(3, 2)), -1, 0),
                     (float[]){0, 2, 4, 1, 3, 5}, 6, 0, 0, "transpose negative dim");
    /* expand: stride 0, new leading dims, -1 keeps a size */
    ag_tensor *col = ag_reshape(ag_arange(dev, AG_F32, 0, 3, 1), AG_SHAPE(3, 1));
    ag_tensor *e = ag_expand(col, AG_SHAPE(2, -1, 2));
    agt_assert_shape(e, AG_SHAPE(2, 3, 2), "expand");
    assert_strides(e, 3, (int64_t[]){0, 1, 0}, "expand strides");
    agt_assert_close(e, (float[]){0, 0, 1, 1, 2, 2, 0, 0, 1, 1, 2, 2}, 12, 0, 0, "expand values");
    /* slices: python semantics with clamping */
    agt_assert_close(ag_slice(x, 0, 20, 100, 1), (float[]){20, 21, 22, 23}, 4, 0, 0, "slice clamp");
    agt_assert_close(ag_slice(x, 0, -3, -1, 1), (float[]){21, 22}, 2, 0, 0, "slice negative");
    agt_assert_close(ag_slice(x, 0, -100, 7, 3), (float[]){0, 3, 6}, 3, 0, 0, "slice step");
    agt_assert_shape(ag_slice(x, 0, 10, 5, 1), AG_SHAPE(0), "slice empty");
    agt_assert_shape(ag_slice(x, 0, 30, 40, 1), AG_SHAPE(0), "slice past end");
    ag_tensor *s = ag_slice(r, 2, 1, 4, 2);
    assert_strides(s, 3, (int64_t[]){12, 4, 2}, "slice strides");
    agt_assert_close(ag_select(ag_select(s, 0, 1), 0, 2), (float[]){21, 23}, 2, 0, 0, "slice values");
    agt_assert_close(ag_narrow(x, 0, -4, 2), (float[]){20, 21}, 2, 0, 0, "narrow negative start");
    agt_assert_shape(ag_narrow(x, 0, 24, 0), AG_SHAPE(0), "narrow empty at end");
    agt_assert_close(ag_select(r, -1, -1), (float[]){3, 7, 11, 15, 19, 23}, 6, 0, 0, "select");
    agt_assert_shape(ag_select(x, 0, 5), 0, NULL, "select to 0-dim");
    /* squeeze / unsqueeze / flatten */
    ag_tensor *u = ag_unsqueeze(r, 1);
    agt_assert_shape(u, AG_SHAPE(2, 1, 3, 4), "unsqueeze");
    assert_strides(u, 4, (int64_t[]){12, 12, 4, 1}, "unsqueeze strides");
    agt_assert_shape(ag_unsqueeze(r, -1), AG_SHAPE(2, 3, 4, 1), "unsqueeze -1");
    agt_assert_shape(ag_unsqueeze(ag_scalar(dev, AG_F32, 1), 0), AG_SHAPE(1), "unsqueeze 0-dim");
    agt_assert_shape(ag_squeeze(u, 1), AG_SHAPE(2, 3, 4), "squeeze");
    agt_assert_shape(ag_squeeze(u, 2), AG_SHAPE(2, 1, 3, 4), "squeeze of a non-1 dim is a no-op");
    agt_assert_shape(ag_squeeze_all(ag_reshape(x, AG_SHAPE(1, 24, 1))), AG_SHAPE(24), "squeeze_all");
    agt_assert_shape(ag_squeeze_all(ag_reshape(ag_scalar(dev, AG_F32, 2), AG_SHAPE(1, 1))), 0, NULL,
                     "squeeze_all to 0-dim");
    agt_assert_shape(ag_flatten(r, 0, -1), AG_SHAPE(24), "flatten all");
    agt_assert_shape(ag_flatten(r, 0, 1), AG_SHAPE(6, 4), "flatten 0..1");
    agt_assert_shape(ag_flatten(ag_scalar(dev, AG_F32, 2), 0, -1), AG_SHAPE(1), "flatten 0-dim");
    /* views share storage: filling a slice changes the base */
    ag_tensor *z = ag_zeros(dev, AG_F32, AG_SHAPE(2, 3));
    ck_assert_int_eq(ag_fill_(ag_select(ag_t(z), 0, 1), 5), AG_OK);
    agt_assert_close(z, (float[]){0, 5, 0, 0, 5, 0}, 6, 0, 0, "shared storage");
    /* i32 views */
    ag_tensor *xi = agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){1, 2, 3, 4});
    agt_assert_close(ag_reshape(ag_t(xi), AG_SHAPE(4)), (float[]){1, 3, 2, 4}, 4, 0, 0, "i32 reshape");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Every view's values and gradient vs PyTorch, on a contiguous and on a
 * strided copy of the input. */
START_TEST(test_views_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    for (int k = 0; k < N_VIEWS; k++) {
        for (int strided = 0; strided < 2; strided++) {
            const view_case *v = &VIEWS[k];
            char what[96];
            snprintf(what, sizeof what, "%s%s", v->name, strided ? " strided" : "");
            ag_scope_begin();
            ag_tensor *x = agt_golden_input(g, dev, v->name, "x", false);
            if (strided) x = agt_noncontiguous(x);
            ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
            ag_tensor *y = v->fn(x);
            agt_assert_tensors_close(y, agt_golden_input(g, dev, v->name, "y", false), 0, 0, what);
            ck_assert_int_eq(ag_backward(y, agt_golden_input(g, dev, v->name, "go", false)), AG_OK);
            check_grad(g, dev, x, v->name, "gx", what);
            ag_scope_end();
        }
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_views_gradcheck)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    for (int k = 0; k < N_VIEWS; k++) {
        ag_scope_begin();
        ag_tensor *x = agt_golden_input(g, dev, VIEWS[k].name, "x", true);
        agt_gradcheck(view_fn, 1, &x, (void *)&VIEWS[k], 1e-2, 1e-3, 1e-3, VIEWS[k].name);
        ag_scope_end();
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* A chain of views over one leaf: gradients accumulate through each path. */
START_TEST(test_views_chain_grad)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = ag_reshape(ag_arange(dev, AG_F32, 0, 6, 1), AG_SHAPE(2, 3));
    ag_tensor *leaf = ag_clone(x);
    ck_assert_int_eq(ag_set_requires_grad(leaf, true), AG_OK);
    // y = sum(t(x)[1:, :]) + sum(x[:, 0] expanded to [4, 2]) → d/dx = row 2 ones + 4 * column 0
    ag_tensor *a = ag_slice(ag_t(leaf), 0, 1, 3, 1);
    ag_tensor *b = ag_expand(ag_unsqueeze(ag_select(leaf, 1, 0), 0), AG_SHAPE(4, 2));
    ag_tensor *y = ag_add(ag_sum(a, 0, NULL, false), ag_sum(b, 0, NULL, false));
    ck_assert_int_eq(ag_backward(y, NULL), AG_OK);
    agt_assert_close(ag_grad(leaf), (float[]){4, 1, 1, 4, 1, 1}, 6, 0, 0, "chain grad");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Slice gradients of one tensor are assembled in one buffer (src/grad_parts.c):
 * disjoint pieces along one dim, the gaps zeroed, and the regular path for a
 * piece along another dim, an overlapping piece or a dense gradient. */
START_TEST(test_slice_grads_assembled)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    // pieces only: rows 1 and 3 of a [5, 2] leaf, rows 0, 2 and 4 zero
    ag_tensor *x = ag_clone(ag_reshape(ag_arange(dev, AG_F32, 0, 10, 1), AG_SHAPE(5, 2)));
    ck_assert_int_eq(ag_set_requires_grad(x, true), AG_OK);
    ag_tensor *y = ag_add(ag_sum(ag_mul_scalar(ag_narrow(x, 0, 1, 1), 2.0), 0, NULL, false),
                          ag_sum(ag_mul_scalar(ag_select(x, 0, 3), 3.0), 0, NULL, false));
    ck_assert_int_eq(ag_backward(y, NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){0, 0, 2, 2, 0, 0, 3, 3, 0, 0}, 10, 0, 0, "gaps");

    // rows [0, 2) and row 3 (pieces), columns [1, 2) (another dim), rows [1, 3)
    // (overlap) and all of x (dense)
    ag_tensor *w = ag_clone(ag_reshape(ag_arange(dev, AG_F32, 0, 10, 1), AG_SHAPE(5, 2)));
    ck_assert_int_eq(ag_set_requires_grad(w, true), AG_OK);
    ag_tensor *terms[5] = {
        ag_mul_scalar(ag_narrow(w, 0, 0, 2), 2.0), ag_mul_scalar(ag_select(w, 0, 3), 3.0),
        ag_mul_scalar(ag_narrow(w, 1, 1, 1), 5.0), ag_mul_scalar(ag_narrow(w, 0, 1, 2), 7.0),
        ag_mul_scalar(w, 11.0)};
    ag_tensor *z = ag_sum(terms[0], 0, NULL, false);
    for (int i = 1; i < 5; i++) z = ag_add(z, ag_sum(terms[i], 0, NULL, false));
    ck_assert_int_eq(ag_backward(z, NULL), AG_OK);
    agt_assert_close(ag_grad(w),
                     (float[]){13, 18, 20, 25, 18, 23, 14, 19, 11, 16}, 10, 0, 0, "mixed");

    // an empty narrow still gives its input a (zero) gradient
    ag_tensor *e = ag_clone(ag_ones(dev, AG_F32, AG_SHAPE(3, 2)));
    ck_assert_int_eq(ag_set_requires_grad(e, true), AG_OK);
    ck_assert_int_eq(ag_backward(ag_sum(ag_narrow(e, 0, 1, 0), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(e), (float[]){0, 0, 0, 0, 0, 0}, 6, 0, 0, "empty narrow");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Joining ----------------------------------------------------------------------- */

static ag_tensor *cat_fn(ag_tensor *const *in, void *ctx)
{
    int *nd = ctx; // {n, dim}
    return ag_cat(nd[0], in, nd[1]);
}

static ag_tensor *stack_fn(ag_tensor *const *in, void *ctx) { return ag_stack(2, in, 1); }

START_TEST(test_join_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *a = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(2, 1), (float[]){5, 6});
    agt_assert_close(ag_cat(2, (ag_tensor *[]){a, b}, 1), (float[]){1, 2, 5, 3, 4, 6}, 6, 0, 0, "cat 1");
    agt_assert_close(ag_cat(2, (ag_tensor *[]){a, ag_t(a)}, -2), (float[]){1, 2, 3, 4, 1, 3, 2, 4},
                     8, 0, 0, "cat strided");
    agt_assert_close(ag_cat(1, (ag_tensor *[]){a}, 0), (float[]){1, 2, 3, 4}, 4, 0, 0, "cat one");
    ag_tensor *empty = ag_zeros(dev, AG_F32, AG_SHAPE(2, 0));
    agt_assert_close(ag_cat(3, (ag_tensor *[]){empty, b, empty}, 1), (float[]){5, 6}, 2, 0, 0,
                     "cat with empty");
    /* dtype promotion: i32 with f32 gives f32 */
    ag_tensor *bi = agt_tensor_i32(dev, AG_SHAPE(2, 1), (int32_t[]){7, 8});
    ag_tensor *c = ag_cat(2, (ag_tensor *[]){bi, b}, 1);
    ck_assert_int_eq(ag_tensor_dtype(c), AG_F32);
    agt_assert_close(c, (float[]){7, 5, 8, 6}, 4, 0, 0, "cat i32 f32");
    ag_tensor *ci = ag_cat(2, (ag_tensor *[]){bi, bi}, 0);
    ck_assert_int_eq(ag_tensor_dtype(ci), AG_I32);
    agt_assert_close(ci, (float[]){7, 8, 7, 8}, 4, 0, 0, "cat i32");
    /* stack */
    ag_tensor *s = ag_stack(2, (ag_tensor *[]){a, ag_t(a)}, 0);
    agt_assert_shape(s, AG_SHAPE(2, 2, 2), "stack 0");
    agt_assert_close(s, (float[]){1, 2, 3, 4, 1, 3, 2, 4}, 8, 0, 0, "stack 0 values");
    agt_assert_close(ag_stack(2, (ag_tensor *[]){a, a}, -1), (float[]){1, 1, 2, 2, 3, 3, 4, 4}, 8, 0,
                     0, "stack -1");
    agt_assert_shape(ag_stack(2, (ag_tensor *[]){ag_scalar(dev, AG_F32, 1), ag_scalar(dev, AG_F32, 2)}, 0),
                     AG_SHAPE(2), "stack 0-dim");
    /* split / chunk */
    ag_tensor *x = ag_arange(dev, AG_F32, 0, 7, 1);
    ag_tensor *out[8] = {0};
    ck_assert_int_eq(ag_split(x, 3, 0, out, 8), 3);
    agt_assert_close(out[0], (float[]){0, 1, 2}, 3, 0, 0, "split 0");
    agt_assert_close(out[2], (float[]){6}, 1, 0, 0, "split 2");
    ag_tensor *two[2] = {0};
    ck_assert_int_eq(ag_split(x, 2, 0, two, 2), 4); /* 4 pieces, first 2 written */
    agt_assert_close(two[1], (float[]){2, 3}, 2, 0, 0, "split max_out");
    ck_assert_int_eq(ag_chunk(x, 3, -1, out, 8), 3);
    agt_assert_close(out[1], (float[]){3, 4, 5}, 3, 0, 0, "chunk 1");
    agt_assert_close(out[2], (float[]){6}, 1, 0, 0, "chunk 2");
    ck_assert_int_eq(ag_chunk(ag_arange(dev, AG_F32, 0, 6, 1), 4, 0, out, 8), 3); /* like torch */
    ck_assert_int_eq(ag_chunk(x, 10, 0, out, 8), 7);
    ck_assert_int_eq(ag_chunk(empty, 3, 1, out, 8), 3);
    agt_assert_shape(out[2], AG_SHAPE(2, 0), "chunk of empty");
    ck_assert_int_eq(ag_split(empty, 2, 1, out, 8), 1);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_join_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    static const struct {
        const char *name;
        int n, dim;
        bool stack;
    } cases[] = {{"cat", 3, 1, false}, {"cat6", 6, 0, false}, {"stack", 2, 1, true}};
    for (int k = 0; k < 3; k++) {
        for (int strided = 0; strided < 2; strided++) {
            const char *c = cases[k].name;
            char what[64], label[16];
            snprintf(what, sizeof what, "%s%s", c, strided ? " strided" : "");
            ag_scope_begin();
            ag_tensor *xs[6];
            for (int j = 0; j < cases[k].n; j++) {
                snprintf(label, sizeof label, "x%d", j);
                xs[j] = agt_golden_input(g, dev, c, label, false);
                if (strided && j == 0) xs[j] = agt_noncontiguous(xs[j]);
                ck_assert_int_eq(ag_set_requires_grad(xs[j], true), AG_OK);
            }
            ag_tensor *y = cases[k].stack ? ag_stack(cases[k].n, xs, cases[k].dim)
                                          : ag_cat(cases[k].n, xs, cases[k].dim);
            agt_assert_tensors_close(y, agt_golden_input(g, dev, c, "y", false), 0, 0, what);
            ck_assert_int_eq(ag_backward(y, agt_golden_input(g, dev, c, "go", false)), AG_OK);
            for (int j = 0; j < cases[k].n; j++) {
                snprintf(label, sizeof label, "g%d", j);
                check_grad(g, dev, xs[j], c, label, what);
            }
            ag_scope_end();
        }
    }
    /* split and chunk: gradient of sum_k sum(y_k * go_k) */
    static const char *multi[] = {"split", "chunk"};
    for (int k = 0; k < 2; k++) {
        const char *c = multi[k];
        ag_scope_begin();
        ag_tensor *x = agt_golden_input(g, dev, c, "x", true);
        ag_tensor *ys[4] = {0};
        int n = k == 0 ? ag_split(x, 3, 2, ys, 4) : ag_chunk(x, 3, 1, ys, 4);
        ck_assert_int_eq(n, k == 0 ? 2 : 3);
        ag_tensor *loss = ag_scalar(dev, AG_F32, 0);
        for (int j = 0; j < n; j++) {
            char label[16];
            snprintf(label, sizeof label, "y%d", j);
            agt_assert_tensors_close(ys[j], agt_golden_input(g, dev, c, label, false), 0, 0, c);
            snprintf(label, sizeof label, "go%d", j);
            loss = ag_add(loss, ag_sum(ag_mul(ys[j], agt_golden_input(g, dev, c, label, false)), 0, NULL, false));
        }
        ck_assert_int_eq(ag_backward(loss, NULL), AG_OK);
        ck_assert_msg(ag_grad(x) != NULL, "%s: no gradient", c);
        agt_assert_tensors_close(ag_grad(x), agt_golden_input(g, dev, c, "gx", false), 1e-5, 1e-5, c);
        ag_scope_end();
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_join_gradcheck)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_scope_begin();
    ag_tensor *xs[6];
    for (int j = 0; j < 3; j++) {
        char label[8];
        snprintf(label, sizeof label, "x%d", j);
        xs[j] = agt_golden_input(g, dev, "cat", label, true);
    }
    agt_gradcheck(cat_fn, 3, xs, (int[]){3, 1}, 1e-2, 1e-3, 1e-3, "cat");
    for (int j = 0; j < 6; j++) {
        char label[8];
        snprintf(label, sizeof label, "x%d", j);
        xs[j] = agt_golden_input(g, dev, "cat6", label, true);
    }
    agt_gradcheck(cat_fn, 6, xs, (int[]){6, 0}, 1e-2, 1e-3, 1e-3, "cat of 6");
    ag_tensor *st[2] = {agt_golden_input(g, dev, "stack", "x0", true), agt_golden_input(g, dev, "stack", "x1", true)};
    agt_gradcheck(stack_fn, 2, st, NULL, 1e-2, 1e-3, 1e-3, "stack");
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* ---- Errors ------------------------------------------------------------------------- */

START_TEST(test_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(2, 3, 4));
    ag_tensor *out[4];
    ag_clear_error();
    agt_assert_error(ag_reshape(NULL, AG_SHAPE(2)), "ag_reshape", "NULL", "reshape NULL");
    ag_clear_error();
    agt_assert_error(ag_cat(2, (ag_tensor *[]){x, NULL}, 0), "ag_cat", "NULL", "cat NULL");
    ag_clear_error();
    ck_assert_int_lt(ag_split(NULL, 2, 0, out, 4), 0);
    agt_assert_error(ag_reshape(x, AG_SHAPE(5, 5)), "ag_reshape", "[2,3,4]", "reshape numel");
    agt_assert_error(ag_reshape(x, AG_SHAPE(-1, 5)), "ag_reshape", "[2,3,4]", "reshape infer");
    agt_assert_error(ag_reshape(x, AG_SHAPE(-2, 12)), "ag_reshape", "[2,3,4]", "reshape negative");
    agt_assert_error(ag_view(ag_transpose(x, 0, 1), AG_SHAPE(24)), "ag_view", "[3,2,4]", "view copy");
    agt_assert_error(ag_permute(x, AG_DIMS(0, 1)), "ag_permute", "[2,3,4]", "permute count");
    agt_assert_error(ag_permute(x, AG_DIMS(0, 1, 1)), "ag_permute", "repeated", "permute repeat");
    agt_assert_error(ag_permute(x, AG_DIMS(0, 1, 3)), "ag_permute", "[2,3,4]", "permute range");
    agt_assert_error(ag_transpose(x, 0, 3), "ag_transpose", "[2,3,4]", "transpose dim");
    agt_assert_error(ag_t(x), "ag_t", "[2,3,4]", "t of 3-D");
    agt_assert_error(ag_expand(x, AG_SHAPE(2, 5, 4)), "ag_expand", "[2,3,4]", "expand size");
    agt_assert_error(ag_expand(x, AG_SHAPE(3, 4)), "ag_expand", "[2,3,4]", "expand rank");
    agt_assert_error(ag_slice(x, 1, 0, 2, 0), "ag_slice", "[2,3,4]", "slice step 0");
    agt_assert_error(ag_slice(x, 3, 0, 2, 1), "ag_slice", "[2,3,4]", "slice dim");
    agt_assert_error(ag_narrow(x, 1, 2, 2), "ag_narrow", "[2,3,4]", "narrow range");
    agt_assert_error(ag_narrow(x, 1, 0, -1), "ag_narrow", "[2,3,4]", "narrow length");
    agt_assert_error(ag_select(x, 2, 4), "ag_select", "[2,3,4]", "select index");
    agt_assert_error(ag_select(x, -4, 0), "ag_select", "[2,3,4]", "select dim");
    agt_assert_error(ag_select(ag_scalar(dev, AG_F32, 1), 0, 0), "ag_select", "0-dim", "select 0-dim");
    agt_assert_error(ag_squeeze(x, 3), "ag_squeeze", "[2,3,4]", "squeeze dim");
    agt_assert_error(ag_unsqueeze(x, 4), "ag_unsqueeze", "[2,3,4]", "unsqueeze dim");
    agt_assert_error(ag_unsqueeze(x, -5), "ag_unsqueeze", "[2,3,4]", "unsqueeze negative");
    agt_assert_error(ag_flatten(x, 2, 1), "ag_flatten", "[2,3,4]", "flatten order");
    ag_tensor *y = ag_zeros(dev, AG_F32, AG_SHAPE(2, 4, 3));
    agt_assert_error(ag_cat(2, (ag_tensor *[]){x, y}, 1), "ag_cat", "[2,4,3]", "cat shapes");
    agt_assert_error(ag_cat(2, (ag_tensor *[]){x, ag_zeros(dev, AG_F32, AG_SHAPE(2, 3))}, 0),
                     "ag_cat", "[2,3]", "cat ranks");
    agt_assert_error(ag_cat(0, NULL, 0), "ag_cat", "at least one", "cat none");
    agt_assert_error(ag_cat(1, (ag_tensor *[]){x}, 3), "ag_cat", "[2,3,4]", "cat dim");
    agt_assert_error(ag_cat(1, (ag_tensor *[]){ag_scalar(dev, AG_F32, 1)}, 0), "ag_cat", "0-dim",
                     "cat 0-dim");
    agt_assert_error(ag_stack(2, (ag_tensor *[]){x, y}, 0), "ag_stack", "[2,4,3]", "stack shapes");
    agt_assert_error(ag_stack(2, (ag_tensor *[]){x, x}, 4), "ag_stack", "[2,3,4]", "stack dim");
    ck_assert_int_eq(ag_split(x, 0, 1, out, 4), AG_ERR_INVALID);
    ck_assert_msg(strstr(ag_last_error(), "ag_split") && strstr(ag_last_error(), "[2,3,4]"), "%s",
                  ag_last_error());
    ck_assert_int_eq(ag_chunk(x, 0, 1, out, 4), AG_ERR_INVALID);
    ck_assert_msg(strstr(ag_last_error(), "ag_chunk"), "%s", ag_last_error());
    ck_assert_int_eq(ag_chunk(x, 2, 5, out, 4), AG_ERR_INVALID);
    /* tensors on two devices */
    ag_device *dev2 = ag_device_open(agt_backend_spec(_i));
    if (dev2 && dev2 != dev) {
        ag_tensor *o = ag_zeros(dev2, AG_F32, AG_SHAPE(2, 3, 4));
        agt_assert_error(ag_cat(2, (ag_tensor *[]){x, o}, 0), "ag_cat", "different devices", "cat dev");
        agt_assert_error(ag_stack(2, (ag_tensor *[]){x, o}, 0), "ag_stack", "different devices",
                         "stack dev");
    }
    ag_scope_end();
    ag_device_close(dev2);
    agt_close(dev);
}
END_TEST

/* ag_copy_ between views of one tensor that share memory (shifted or
 * transposed) reads the whole source before writing: the same result on
 * every backend, whatever order its kernel visits the elements in. */
START_TEST(test_overlapping_copy)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    const float v[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(8), v);
    ck_assert_int_eq(ag_copy_(ag_slice(x, 0, 1, 8, 1), ag_slice(x, 0, 0, 7, 1)), AG_OK);
    agt_assert_close(x, (float[]){1, 1, 2, 3, 4, 5, 6, 7}, 8, 0, 0, "shift right");
    ck_assert_int_eq(ag_tensor_write(x, v, sizeof v), AG_OK);
    ck_assert_int_eq(ag_copy_(ag_slice(x, 0, 0, 7, 1), ag_slice(x, 0, 1, 8, 1)), AG_OK);
    agt_assert_close(x, (float[]){2, 3, 4, 5, 6, 7, 8, 8}, 8, 0, 0, "shift left");
    ck_assert_int_eq(ag_tensor_write(x, v, sizeof v), AG_OK);
    /* x as [2,4] written into its own transpose's storage order */
    ck_assert_int_eq(ag_copy_(ag_t(ag_view(x, AG_SHAPE(4, 2))), ag_view(x, AG_SHAPE(2, 4))), AG_OK);
    agt_assert_close(x, (float[]){1, 5, 2, 6, 3, 7, 4, 8}, 8, 0, 0, "transpose in place");
    ck_assert_int_eq(ag_copy_(x, x), AG_OK); /* onto itself: unchanged */
    agt_assert_close(x, (float[]){1, 5, 2, 6, 3, 7, 4, 8}, 8, 0, 0, "copy onto itself");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Without an open scope every result (and no intermediate) is the caller's. */
START_TEST(test_no_scope_ownership)
{
    ag_device *dev = agt_open(_i);
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(2, 3));
    ag_tensor *xt = ag_t(x);
    ag_tensor *row = ag_select(x, 0, 0);
    ag_tensor *r[] = {ag_reshape(xt, AG_SHAPE(6)), ag_view(x, AG_SHAPE(3, 2)),
                      ag_stack(2, (ag_tensor *[]){x, x}, 0), ag_cat(2, (ag_tensor *[]){x, x}, 0),
                      ag_flatten(xt, 0, 1), ag_expand(row, AG_SHAPE(4, 3)), row};
    for (size_t k = 0; k < sizeof r / sizeof r[0]; k++) {
        ck_assert_msg(r[k] != NULL, "result %zu: %s", k, ag_last_error());
        ag_release(r[k]);
    }
    ag_tensor *pieces[3];
    ck_assert_int_eq(ag_chunk(x, 3, 1, pieces, 3), 3);
    for (int k = 0; k < 3; k++) ag_release(pieces[k]);
    ag_release(xt);
    ag_release(x);
    agt_close(dev);
}
END_TEST

/* A 1-D [0] tensor is skipped by cat whatever the other shapes (PyTorch's
 * legacy empty tensors), and still takes part in dtype promotion. */
START_TEST(test_cat_skips_legacy_empty)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *a = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(1, 2), (float[]){5, 6});
    ag_tensor *e = ag_zeros(dev, AG_F32, AG_SHAPE(0));
    ag_set_requires_grad(a, true);
    ag_tensor *r = ag_cat(4, (ag_tensor *[]){e, a, e, b}, 0);
    agt_assert_shape(r, 2, (const int64_t[]){3, 2}, "cat [0],[2,2],[0],[1,2]");
    agt_assert_close(r, (float[]){1, 2, 3, 4, 5, 6}, 6, 0, 0, "cat skipping [0]");
    ck_assert_int_eq(ag_backward(ag_sum(r, 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(a), (float[]){1, 1, 1, 1}, 4, 0, 0, "gradient through cat");
    agt_assert_shape(ag_cat(1, (ag_tensor *[]){e}, 0), 1, (const int64_t[]){0}, "cat of [0] alone");
    agt_assert_shape(ag_cat(2, (ag_tensor *[]){e, e}, 0), 1, (const int64_t[]){0}, "cat of two [0]");
    ag_tensor *ie = ag_zeros(dev, AG_I32, AG_SHAPE(0));
    ag_tensor *bi = ag_cat(2, (ag_tensor *[]){ag_ones(dev, AG_I32, AG_SHAPE(1, 2)), e}, 1);
    ck_assert_int_eq(ag_tensor_dtype(bi), AG_F32);
    agt_assert_close(bi, (float[]){1, 1}, 2, 0, 0, "i32 with f32 [0] promotes");
    agt_assert_shape(ag_cat(2, (ag_tensor *[]){ie, b}, 1), 2, (const int64_t[]){1, 2}, "dim 1");
    /* other empty shapes still have to match */
    agt_assert_error(ag_cat(2, (ag_tensor *[]){a, ag_zeros(dev, AG_F32, AG_SHAPE(0, 3))}, 0),
                     "ag_cat", "[0,3]", "[0,3] against [2,2]");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("views");
    TCase *tc = tcase_create("views");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_views_hand);
    AGT_ADD_LOOP(tc, test_views_golden);
    AGT_ADD_LOOP(tc, test_views_gradcheck);
    AGT_ADD_LOOP(tc, test_views_chain_grad);
    AGT_ADD_LOOP(tc, test_join_hand);
    AGT_ADD_LOOP(tc, test_join_golden);
    AGT_ADD_LOOP(tc, test_join_gradcheck);
    AGT_ADD_LOOP(tc, test_slice_grads_assembled);
    AGT_ADD_LOOP(tc, test_errors);
    AGT_ADD_LOOP(tc, test_no_scope_ownership);
    AGT_ADD_LOOP(tc, test_overlapping_copy);
    AGT_ADD_LOOP(tc, test_cat_skips_legacy_empty);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
