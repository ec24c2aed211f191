/* tests/test_index.c — gather, scatter_add, index_select, embedding and
 * one_hot: hand-checked values, PyTorch golden values and gradients
 * (tests/golden/gen_index.py), gradcheck, strided inputs, index range
 * handling and error paths, on every backend. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define GOLDEN "index.txt"
#define TOL 1e-5

static bool is_cpu(ag_device *dev) { return ag_device_get_info(dev)->backend == AG_BACKEND_CPU; }

static void check(agt_golden *g, ag_device *dev, const ag_tensor *t, const char *c, const char *l)
{
    char what[128];
    snprintf(what, sizeof what, "%s %s", c, l);
    ck_assert_msg(t != NULL, "%s: %s", what, ag_last_error());
    agt_assert_tensors_close(t, agt_golden_tensor(g, dev, c, l), TOL, TOL, what);
}

/* Context of the gradcheck functions. */
typedef struct ictx {
    int dim;
    ag_tensor *index;
} ictx;

/* ---- gather ---------------------------------------------------------------------------- */

START_TEST(test_gather_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *i1 = agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){2, 0, 1, 1});
    ag_tensor *y = ag_gather(x, 1, i1);
    agt_assert_shape(y, AG_SHAPE(2, 2), "gather shape");
    agt_assert_close(y, (float[]){3, 1, 5, 5}, 4, 0, 0, "gather dim 1");
    agt_assert_close(ag_gather(x, -1, i1), (float[]){3, 1, 5, 5}, 4, 0, 0, "gather dim -1");
    ag_tensor *i0 = agt_tensor_i32(dev, AG_SHAPE(1, 3), (int32_t[]){1, 0, 1});
    agt_assert_close(ag_gather(x, 0, i0), (float[]){4, 2, 6}, 3, 0, 0, "gather dim 0");
    // i32 data gathers exactly
    ag_tensor *xi = agt_tensor_i32(dev, AG_SHAPE(2, 3), (int32_t[]){10, 20, 30, 40, 50, 60});
    ag_tensor *yi = ag_gather(xi, 1, i1);
    ck_assert_int_eq(ag_tensor_dtype(yi), AG_I32);
    agt_assert_close(yi, (float[]){30, 10, 50, 50}, 4, 0, 0, "gather i32");
    // backward: each x element receives the dy of every output that read it
    ag_set_requires_grad(x, true);
    ck_assert_int_eq(ag_backward(ag_sum(ag_gather(x, 1, i1), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){1, 0, 1, 0, 2, 0}, 6, 0, 0, "gather backward");
    // strided x and strided index
    ag_tensor *xn = agt_noncontiguous(agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6}));
    ag_tensor *in = agt_noncontiguous(i1);
    ck_assert(!ag_is_contiguous(xn) && !ag_is_contiguous(in));
    agt_assert_close(ag_gather(xn, 1, in), (float[]){3, 1, 5, 5}, 4, 0, 0, "gather strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_gather_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    const char *cases[2] = {"gather_dim1", "gather_dim0_3d"};
    const int dims[2] = {1, 0};
    for (int k = 0; k < 2; k++) {
        for (int strided = 0; strided < 2; strided++) {
            ag_scope_begin();
            const char *c = cases[k];
            ag_tensor *x = agt_golden_tensor(g, dev, c, "x");
            if (strided) x = agt_noncontiguous(x);
            ag_set_requires_grad(x, true);
            ag_tensor *y = ag_gather(x, dims[k], agt_golden_tensor(g, dev, c, "index"));
            check(g, dev, y, c, "y");
            ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "dy")), AG_OK);
            check(g, dev, ag_grad(x), c, "dx");
            ag_scope_end();
        }
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *gather_fn(ag_tensor *const *in, void *ctx)
{
    const ictx *c = ctx;
    return ag_gather(in[0], c->dim, c->index);
}

START_TEST(test_gather_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(3, 4, 2), 61, 1.0);
    ag_set_requires_grad(x, true);
    ictx c = {1, agt_tensor_i32(dev, AG_SHAPE(2, 5, 2), (int32_t[]){0, 3, 3, 3, 1, 0, 2, 2, 0, 0,
                                                                      1, 1, 2, 3, 3, 2, 0, 0, 1, 3})};
    agt_gradcheck(gather_fn, 1, (ag_tensor *[]){x}, &c, 1e-2, 1e-2, 1e-2, "gather");
    ag_tensor *xn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(4, 3), 62, 1.0));
    ag_set_requires_grad(xn, true);
    ictx c0 = {0, agt_tensor_i32(dev, AG_SHAPE(2, 3), (int32_t[]){3, 0, 3, 1, 1, 2})};
    agt_gradcheck(gather_fn, 1, (ag_tensor *[]){xn}, &c0, 1e-2, 1e-2, 1e-2, "gather strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- scatter_add ------------------------------------------------------------------------ */

START_TEST(test_scatter_add_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(3));
    ag_tensor *idx = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){0, 2, 0});
    ag_tensor *src = agt_tensor(dev, AG_SHAPE(3), (float[]){1, 2, 3});
    agt_assert_close(ag_scatter_add(x, 0, idx, src), (float[]){4, 0, 2}, 3, 0, 0, "scatter 1-D");
    agt_assert_close(x, (float[]){0, 0, 0}, 3, 0, 0, "x unchanged");
    // 2-D along dim 1 on top of ones; src wider than index: only its first columns are used
    ag_tensor *x2 = ag_ones(dev, AG_F32, AG_SHAPE(2, 3));
    ag_tensor *i2 = agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){2, 2, 0, 1});
    ag_tensor *s2 = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 100, 3, 4, 100});
    agt_assert_close(ag_scatter_add(x2, -1, i2, s2), (float[]){1, 1, 4, 4, 5, 1}, 6, 0, 0,
                     "scatter 2-D");
    // backward: dx = dy; dsrc = dy at the index (0 for unused src entries)
    ag_set_requires_grad(x2, true);
    ag_set_requires_grad(s2, true);
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *loss = ag_sum(ag_mul(ag_scatter_add(x2, 1, i2, s2), w), 0, NULL, false);
    ck_assert_int_eq(ag_backward(loss, NULL), AG_OK);
    agt_assert_close(ag_grad(x2), (float[]){1, 2, 3, 4, 5, 6}, 6, 0, 0, "scatter dx");
    agt_assert_close(ag_grad(s2), (float[]){3, 3, 0, 4, 5, 0}, 6, 0, 0, "scatter dsrc");
    // strided x, index and src
    ag_tensor *xn = agt_noncontiguous(ag_zeros(dev, AG_F32, AG_SHAPE(2, 3)));
    ag_tensor *in = agt_noncontiguous(agt_tensor_i32(dev, AG_SHAPE(2, 3), (int32_t[]){2, 2, 0, 1, 1, 1}));
    ag_tensor *sn = agt_noncontiguous(agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6}));
    agt_assert_close(ag_scatter_add(xn, 1, in, sn), (float[]){3, 0, 3, 0, 15, 0}, 6, 0, 0,
                     "scatter strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_scatter_add_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    const char *cases[2] = {"scatter_add_dim0", "scatter_add_dim1"};
    for (int k = 0; k < 2; k++) {
        ag_scope_begin();
        const char *c = cases[k];
        ag_tensor *x = agt_golden_input(g, dev, c, "x", true), *src = agt_golden_input(g, dev, c, "src", true);
        ag_tensor *y = ag_scatter_add(x, k, agt_golden_tensor(g, dev, c, "index"), src);
        check(g, dev, y, c, "y");
        ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "dy")), AG_OK);
        check(g, dev, ag_grad(x), c, "dx");
        check(g, dev, ag_grad(src), c, "dsrc");
        ag_scope_end();
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *scatter_fn(ag_tensor *const *in, void *ctx)
{
    const ictx *c = ctx;
    return ag_scatter_add(in[0], c->dim, c->index, in[1]);
}

START_TEST(test_scatter_add_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(4, 3), 71, 1.0);
    ag_tensor *src = agt_randn(dev, AG_SHAPE(3, 3), 72, 1.0); // larger than the index
    ag_set_requires_grad(x, true);
    ag_set_requires_grad(src, true);
    ictx c = {0, agt_tensor_i32(dev, AG_SHAPE(2, 3), (int32_t[]){3, 0, 3, 3, 1, 0})};
    agt_gradcheck(scatter_fn, 2, (ag_tensor *[]){x, src}, &c, 1e-2, 1e-2, 1e-2, "scatter_add");
    ag_tensor *xn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(2, 4), 73, 1.0));
    ag_tensor *sn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(2, 4), 74, 1.0));
    ag_set_requires_grad(xn, true);
    ag_set_requires_grad(sn, true);
    ictx c1 = {1, agt_tensor_i32(dev, AG_SHAPE(2, 4), (int32_t[]){1, 1, 3, 0, 2, 2, 2, 2})};
    agt_gradcheck(scatter_fn, 2, (ag_tensor *[]){xn, sn}, &c1, 1e-2, 1e-2, 1e-2,
                  "scatter_add strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* In deterministic mode colliding scatter-adds sum in a fixed order: two runs
 * give bit-identical results. */
START_TEST(test_scatter_add_deterministic)
{
    ag_device *dev = agt_open(_i);
    ag_set_deterministic(true);
    ag_scope_begin();
    enum { M = 4096, V = 5, D = 3 };
    int32_t *idx = malloc(M * sizeof *idx);
    for (int k = 0; k < M; k++) idx[k] = (int32_t)((k * 7 + k / 3) % V);
    ag_tensor *i1 = agt_tensor_i32(dev, AG_SHAPE(M), idx);
    ag_tensor *src = agt_randn(dev, AG_SHAPE(M), 151, 1.0);
    ag_tensor *w = agt_randn(dev, AG_SHAPE(V, D), 152, 1.0);
    ag_tensor *dy = agt_randn(dev, AG_SHAPE(M, D), 153, 1.0);
    ag_set_requires_grad(w, true);
    ag_tensor *out[2], *dw[2];
    for (int r = 0; r < 2; r++) {
        out[r] = ag_scatter_add(ag_zeros(dev, AG_F32, AG_SHAPE(V)), 0, i1, src);
        ck_assert_int_eq(ag_backward(ag_embedding(i1, w), dy), AG_OK);
        dw[r] = ag_retain(ag_grad(w));
        ag_zero_grad(w);
    }
    ag_set_deterministic(false);
    agt_assert_tensors_close(out[1], out[0], 0, 0, "deterministic scatter_add");
    agt_assert_tensors_close(dw[1], dw[0], 0, 0, "deterministic embedding grad");
    ag_release(dw[0]);
    ag_release(dw[1]);
    free(idx);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- index_select ---------------------------------------------------------------------- */

START_TEST(test_index_select_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(3, 2), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *idx = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){2, 0, 2});
    ag_tensor *y = ag_index_select(x, 0, idx);
    agt_assert_shape(y, AG_SHAPE(3, 2), "rows shape");
    agt_assert_close(y, (float[]){5, 6, 1, 2, 5, 6}, 6, 0, 0, "rows");
    ag_tensor *c = agt_tensor_i32(dev, AG_SHAPE(4), (int32_t[]){1, 1, 0, 1});
    y = ag_index_select(x, -1, c);
    agt_assert_shape(y, AG_SHAPE(3, 4), "cols shape");
    agt_assert_close(y, (float[]){2, 2, 1, 2, 4, 4, 3, 4, 6, 6, 5, 6}, 12, 0, 0, "cols");
    // a 0-D index keeps the dim with size 1
    ag_tensor *s = agt_tensor_i32(dev, 0, NULL, (int32_t[]){1});
    y = ag_index_select(x, 0, s);
    agt_assert_shape(y, AG_SHAPE(1, 2), "0-D index shape");
    agt_assert_close(y, (float[]){3, 4}, 2, 0, 0, "0-D index");
    // i32 data, strided x, strided index (every second element)
    ag_tensor *xi = agt_tensor_i32(dev, AG_SHAPE(3, 2), (int32_t[]){1, 2, 3, 4, 5, 6});
    agt_assert_close(ag_index_select(xi, 0, idx), (float[]){5, 6, 1, 2, 5, 6}, 6, 0, 0, "i32");
    ag_tensor *xn = agt_noncontiguous(x);
    ag_tensor *sidx = ag_slice(agt_tensor_i32(dev, AG_SHAPE(6), (int32_t[]){2, 9, 0, 9, 1, 9}), 0,
                               0, 6, 2);
    ck_assert(!ag_is_contiguous(xn) && !ag_is_contiguous(sidx));
    agt_assert_close(ag_index_select(xn, 0, sidx), (float[]){5, 6, 1, 2, 3, 4}, 6, 0, 0,
                     "strided");
    // backward: repeated rows accumulate
    ag_set_requires_grad(x, true);
    ck_assert_int_eq(ag_backward(ag_sum(ag_index_select(x, 0, idx), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){1, 1, 0, 0, 2, 2}, 6, 0, 0, "backward");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_index_select_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    const char *cases[2] = {"index_select_dim1", "index_select_dim0"};
    const int dims[2] = {1, 0};
    for (int k = 0; k < 2; k++) {
        for (int strided = 0; strided < 2; strided++) {
            ag_scope_begin();
            const char *c = cases[k];
            ag_tensor *x = agt_golden_tensor(g, dev, c, "x");
            if (strided) x = agt_noncontiguous(x);
            ag_set_requires_grad(x, true);
            ag_tensor *y = ag_index_select(x, dims[k], agt_golden_tensor(g, dev, c, "index"));
            check(g, dev, y, c, "y");
            ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "dy")), AG_OK);
            check(g, dev, ag_grad(x), c, "dx");
            ag_scope_end();
        }
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *index_select_fn(ag_tensor *const *in, void *ctx)
{
    const ictx *c = ctx;
    return ag_index_select(in[0], c->dim, c->index);
}

START_TEST(test_index_select_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(3, 4, 2), 81, 1.0);
    ag_set_requires_grad(x, true);
    ictx c = {1, agt_tensor_i32(dev, AG_SHAPE(5), (int32_t[]){3, 0, 3, 2, 3})};
    agt_gradcheck(index_select_fn, 1, (ag_tensor *[]){x}, &c, 1e-2, 1e-2, 1e-2, "index_select");
    ag_tensor *xn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(4, 3), 82, 1.0));
    ag_set_requires_grad(xn, true);
    ictx c0 = {0, agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){1, 1, 3})};
    agt_gradcheck(index_select_fn, 1, (ag_tensor *[]){xn}, &c0, 1e-2, 1e-2, 1e-2,
                  "index_select strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- embedding ------------------------------------------------------------------------- */

START_TEST(test_embedding_hand)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(4, 2), (float[]){0, 1, 10, 11, 20, 21, 30, 31});
    ag_tensor *idx = agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){3, 0, 3, 1});
    ag_tensor *y = ag_embedding(idx, w);
    agt_assert_shape(y, AG_SHAPE(2, 2, 2), "embedding shape");
    agt_assert_close(y, (float[]){30, 31, 0, 1, 30, 31, 10, 11}, 8, 0, 0, "embedding");
    // 0-D index → [D]; strided weight and index
    ag_tensor *s = agt_tensor_i32(dev, 0, NULL, (int32_t[]){2});
    y = ag_embedding(s, w);
    agt_assert_shape(y, AG_SHAPE(2), "0-D index shape");
    agt_assert_close(y, (float[]){20, 21}, 2, 0, 0, "0-D index");
    ag_tensor *wn = agt_noncontiguous(w);
    ag_tensor *in = agt_noncontiguous(idx);
    agt_assert_close(ag_embedding(in, wn), (float[]){30, 31, 0, 1, 30, 31, 10, 11}, 8, 0, 0,
                     "embedding strided");
    // backward: rows accumulate the dy of every lookup
    ag_set_requires_grad(w, true);
    ck_assert_int_eq(ag_backward(ag_sum(ag_embedding(idx, w), 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(w), (float[]){1, 1, 1, 1, 0, 0, 2, 2}, 8, 0, 0, "embedding grad");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* padding_idx (PyTorch's F.embedding / nn.Embedding): same output, no
 * gradient for the padding row; nn.Embedding's padding row starts at 0. */
START_TEST(test_embedding_padding_idx)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(4, 2), (float[]){0, 1, 10, 11, 20, 21, 30, 31});
    ag_set_requires_grad(w, true);
    ag_tensor *idx = agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){3, 0, 3, 1});
    const int64_t pads[2] = {3, -1}; /* -1 is row 3 too */
    for (int k = 0; k < 2; k++) {
        ag_tensor *y = ag_embedding_padded(idx, w, pads[k]);
        agt_assert_close(y, (float[]){30, 31, 0, 1, 30, 31, 10, 11}, 8, 0, 0, "padded output");
        ag_zero_grad(w);
        ag_tensor *go = agt_tensor(dev, AG_SHAPE(2, 2, 2), (float[]){1, 2, 3, 4, 5, 6, 7, 8});
        ck_assert_int_eq(ag_backward(ag_sum(ag_mul(y, go), 0, NULL, false), NULL), AG_OK);
        /* row 0 <- (3,4); row 1 <- (7,8); row 3 would get (1,2)+(5,6) but is padding */
        agt_assert_close(ag_grad(w), (float[]){3, 4, 7, 8, 0, 0, 0, 0}, 8, 0, 0, "padded grad");
    }
    /* Padding row 0 */
    ag_zero_grad(w);
    ck_assert_int_eq(ag_backward(ag_sum(ag_embedding_padded(idx, w, 0), 0, NULL, false), NULL),
                     AG_OK);
    agt_assert_close(ag_grad(w), (float[]){0, 0, 1, 1, 0, 0, 2, 2}, 8, 0, 0, "padding row 0");
    agt_assert_error(ag_embedding_padded(idx, w, 4), "ag_embedding_padded", "padding_idx 4",
                     "padding_idx too large");
    agt_assert_error(ag_embedding_padded(idx, w, -5), "ag_embedding_padded", "[4,2]",
                     "padding_idx too small");
    /* nn.Embedding(5, 3, padding_idx=-2): row 3 is zero and stays without gradient. */
    ag_module *emb = ag_nn_embedding_padded(dev, 5, 3, -2);
    ck_assert_msg(emb != NULL, "%s", ag_last_error());
    ag_tensor *ew = ag_module_get(emb, "weight");
    float *wv = agt_read_f32(ew);
    for (int j = 0; j < 3; j++) ck_assert(wv[9 + j] == 0.0f);
    ck_assert(wv[0] != 0.0f || wv[1] != 0.0f);
    free(wv);
    ag_tensor *ix = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){3, 1, 3});
    ag_tensor *out = ag_module_forward(emb, ix);
    ck_assert_int_eq(ag_backward(ag_sum(out, 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(ew), (float[]){0, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0}, 15, 0, 0,
                     "nn padded grad");
    ag_module_free(emb);
    agt_assert_error(ag_nn_embedding_padded(dev, 5, 3, 5), "ag_nn_embedding_padded",
                     "padding_idx 5", "nn padding_idx out of range");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_embedding_golden)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load(GOLDEN);
    for (int strided = 0; strided < 2; strided++) {
        ag_scope_begin();
        const char *c = "embedding";
        ag_tensor *w = agt_golden_tensor(g, dev, c, "weight");
        if (strided) w = agt_noncontiguous(w);
        ag_set_requires_grad(w, true);
        ag_tensor *y = ag_embedding(agt_golden_tensor(g, dev, c, "index"), w);
        check(g, dev, y, c, "y");
        ck_assert_int_eq(ag_backward(y, agt_golden_tensor(g, dev, c, "dy")), AG_OK);
        check(g, dev, ag_grad(w), c, "dw");
        ag_scope_end();
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

static ag_tensor *embedding_fn(ag_tensor *const *in, void *ctx)
{
    const ictx *c = ctx;
    return ag_embedding(c->index, in[0]);
}

START_TEST(test_embedding_gradcheck)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *w = agt_randn(dev, AG_SHAPE(5, 3), 91, 1.0);
    ag_set_requires_grad(w, true);
    ictx c = {0, agt_tensor_i32(dev, AG_SHAPE(2, 3), (int32_t[]){4, 0, 4, 2, 2, 1})};
    agt_gradcheck(embedding_fn, 1, (ag_tensor *[]){w}, &c, 1e-2, 1e-2, 1e-2, "embedding");
    ag_tensor *wn = agt_noncontiguous(agt_randn(dev, AG_SHAPE(5, 3), 92, 1.0));
    ag_set_requires_grad(wn, true);
    agt_gradcheck(embedding_fn, 1, (ag_tensor *[]){wn}, &c, 1e-2, 1e-2, 1e-2,
                  "embedding strided");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- one_hot ---------------------------------------------------------------------------- */

START_TEST(test_one_hot)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *l = agt_tensor_i32(dev, AG_SHAPE(3), (int32_t[]){2, 0, 1});
    ag_tensor *y = ag_one_hot(l, 3);
    agt_assert_shape(y, AG_SHAPE(3, 3), "one_hot shape");
    ck_assert_int_eq(ag_tensor_dtype(y), AG_I32);
    agt_assert_close(y, (float[]){0, 0, 1, 1, 0, 0, 0, 1, 0}, 9, 0, 0, "one_hot");
    ag_tensor *s = agt_tensor_i32(dev, 0, NULL, (int32_t[]){1});
    y = ag_one_hot(s, 2);
    agt_assert_shape(y, AG_SHAPE(2), "0-D labels");
    agt_assert_close(y, (float[]){0, 1}, 2, 0, 0, "0-D labels values");
    agt_assert_close(ag_one_hot(ag_zeros(dev, AG_I32, AG_SHAPE(2)), 1), (float[]){1, 1}, 2, 0, 0,
                     "one class");
    // golden, and strided labels
    agt_golden *g = agt_golden_load(GOLDEN);
    ag_tensor *gl = agt_golden_tensor(g, dev, "one_hot", "labels");
    check(g, dev, ag_one_hot(gl, 5), "one_hot", "y");
    ag_tensor *ln = agt_noncontiguous(gl);
    ag_tensor *yn = ag_one_hot(ln, 5); // [3, 2, 5] in the transposed order
    agt_assert_tensors_close(yn, ag_one_hot(ag_contiguous(ln), 5), 0, 0, "one_hot strided");
    agt_golden_free(g);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_index_empty)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){1, 2, 3, 4});
    ag_set_requires_grad(x, true);
    ag_tensor *e0 = ag_zeros(dev, AG_I32, AG_SHAPE(0));
    ag_tensor *e2 = ag_zeros(dev, AG_I32, AG_SHAPE(0, 2));
    agt_assert_shape(ag_gather(x, 0, e2), AG_SHAPE(0, 2), "gather empty");
    agt_assert_shape(ag_index_select(x, 0, e0), AG_SHAPE(0, 2), "index_select empty");
    agt_assert_shape(ag_one_hot(e0, 3), AG_SHAPE(0, 3), "one_hot empty");
    // adding nothing copies x; an empty lookup has an all-zero gradient
    agt_assert_close(ag_scatter_add(x, 0, e2, ag_zeros(dev, AG_F32, AG_SHAPE(0, 2))),
                     (float[]){1, 2, 3, 4}, 4, 0, 0, "scatter_add empty");
    ag_tensor *y = ag_embedding(ag_zeros(dev, AG_I32, AG_SHAPE(2, 0)), x);
    agt_assert_shape(y, AG_SHAPE(2, 0, 2), "embedding empty");
    ck_assert_int_eq(ag_backward(ag_sum(y, 0, NULL, false), NULL), AG_OK);
    agt_assert_close(ag_grad(x), (float[]){0, 0, 0, 0}, 4, 0, 0, "embedding empty grad");
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- index range and errors --------------------------------------------------------------- */

/* On a GPU: the result holds `want` (bad entries read 0 / were skipped), the
 * first read reports the op through the device error word, the next read is
 * clean again. */
static void assert_device_error(const ag_tensor *t, const float *want, int64_t n, const char *op)
{
    float got[16];
    ag_clear_error();
    ck_assert_int_eq(ag_tensor_read(t, got, (size_t)n * sizeof *got), AG_ERR_INVALID);
    ck_assert_msg(strstr(ag_last_error(), op) && strstr(ag_last_error(), "index out of range"),
                  "%s: %s", op, ag_last_error());
    for (int64_t i = 0; i < n; i++) ck_assert_msg(got[i] == want[i], "%s: element %lld", op, (long long)i);
    agt_assert_close(t, want, n, 0, 0, op); /* the word was cleared: this read succeeds */
}

START_TEST(test_index_range)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_tensor(dev, AG_SHAPE(2, 5), (float[]){1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
    ag_tensor *bad = agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){0, 7, 1, 2});
    ag_tensor *neg = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){-1, 1});
    ag_tensor *src = ag_ones(dev, AG_F32, AG_SHAPE(2, 2));
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(3, 1), (float[]){1, 2, 3});
    ag_tensor *labels = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){1, 3});
    if (is_cpu(dev)) {
        // on the CPU the op reads the index and names the offending entry
        agt_assert_error(ag_gather(x, 1, bad), "ag_gather", "index 7 out of range for dim 1 of size 5",
                         "gather range");
        agt_assert_error(ag_scatter_add(x, 1, bad, src), "ag_scatter_add", "index 7", "scatter range");
        agt_assert_error(ag_index_select(x, 0, neg), "ag_index_select", "index -1", "select range");
        agt_assert_error(ag_embedding(neg, w), "ag_embedding", "index -1", "embedding range");
        agt_assert_error(ag_one_hot(labels, 3), "ag_one_hot", "3 out of range", "one_hot range");
    } else {
        // on GPUs out-of-range entries read as 0 and are skipped on write, and
        // the device error word reports the op at the next read or sync
        assert_device_error(ag_gather(x, 1, bad), (float[]){1, 0, 7, 8}, 4, "ag_gather");
        assert_device_error(ag_scatter_add(x, 1, bad, src),
                            (float[]){2, 2, 3, 4, 5, 6, 8, 9, 9, 10}, 10, "ag_scatter_add");
        assert_device_error(ag_index_select(x, 0, neg), (float[]){0, 0, 0, 0, 0, 6, 7, 8, 9, 10},
                            10, "ag_index_select");
        assert_device_error(ag_embedding(neg, w), (float[]){0, 2}, 2, "ag_embedding");
        ag_tensor *ce = ag_cross_entropy(x, agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){5, 0}),
                                         NULL);
        ck_assert(ce != NULL);
        ag_clear_error();
        ck_assert(isnan(ag_item(ce)));
        ck_assert_msg(strstr(ag_last_error(), "ag_cross_entropy: index out of range"), "%s",
                      ag_last_error());
        ck_assert(ag_gather(x, 1, bad) != NULL);
        ag_clear_error();
        ck_assert_int_eq(ag_device_sync(dev), AG_ERR_INVALID);
        ck_assert_msg(strstr(ag_last_error(), "ag_gather") && strstr(ag_last_error(), "ag_device_sync"),
                      "%s", ag_last_error());
        ck_assert_int_eq(ag_device_sync(dev), AG_OK);
        // one_hot compares labels with a range: an out-of-range label gives a zero row
        agt_assert_close(ag_one_hot(labels, 3), (float[]){0, 1, 0, 0, 0, 0}, 6, 0, 0,
                         "one_hot oob");
    }
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_index_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = ag_zeros(dev, AG_F32, AG_SHAPE(3, 4));
    ag_tensor *idx = ag_zeros(dev, AG_I32, AG_SHAPE(2, 2));
    ag_tensor *fidx = ag_zeros(dev, AG_F32, AG_SHAPE(2, 2));
    ag_tensor *i1 = ag_zeros(dev, AG_I32, AG_SHAPE(2));
    // gather
    ag_clear_error();
    agt_assert_error(ag_gather(NULL, 0, idx), "ag_gather", "is NULL", "gather NULL x");
    ag_clear_error();
    agt_assert_error(ag_gather(x, 0, NULL), "ag_gather", "is NULL", "gather NULL index");
    agt_assert_error(ag_gather(x, 0, fidx), "ag_gather", "i32", "gather f32 index");
    agt_assert_error(ag_gather(x, 2, idx), "ag_gather", NULL, "gather bad dim");
    agt_assert_error(ag_gather(x, 0, i1), "ag_gather", "[2]", "gather rank");
    agt_assert_error(ag_gather(x, 0, ag_zeros(dev, AG_I32, AG_SHAPE(2, 5))), "ag_gather", "[2,5]",
                     "gather index too large");
    agt_assert_error(ag_gather(ag_zeros(dev, AG_U8, AG_SHAPE(3, 4)), 0, idx), "ag_gather", "u8",
                     "gather u8");
    // scatter_add
    ag_tensor *src = ag_zeros(dev, AG_F32, AG_SHAPE(2, 2));
    ag_clear_error();
    agt_assert_error(ag_scatter_add(x, 0, idx, NULL), "ag_scatter_add", "is NULL", "scatter NULL");
    agt_assert_error(ag_scatter_add(x, 0, idx, ag_zeros(dev, AG_F32, AG_SHAPE(1, 2))),
                     "ag_scatter_add", "[1,2]", "scatter src smaller than index");
    agt_assert_error(ag_scatter_add(ag_zeros(dev, AG_I32, AG_SHAPE(3, 4)), 0, idx, src),
                     "ag_scatter_add", "f32", "scatter i32 x");
    agt_assert_error(ag_scatter_add(x, 0, fidx, src), "ag_scatter_add", "i32", "scatter f32 index");
    agt_assert_error(ag_scatter_add(x, 0, i1, src), "ag_scatter_add", "[2]", "scatter rank");
    // index_select
    ag_clear_error();
    agt_assert_error(ag_index_select(NULL, 0, i1), "ag_index_select", "is NULL", "select NULL");
    agt_assert_error(ag_index_select(x, 0, idx), "ag_index_select", "[2,2]", "select 2-D index");
    agt_assert_error(ag_index_select(x, -3, i1), "ag_index_select", NULL, "select bad dim");
    agt_assert_error(ag_index_select(x, 0, ag_zeros(dev, AG_F32, AG_SHAPE(2))),
                     "ag_index_select", "i32", "select f32 index");
    // embedding
    ag_clear_error();
    agt_assert_error(ag_embedding(idx, NULL), "ag_embedding", "is NULL", "embedding NULL");
    agt_assert_error(ag_embedding(idx, ag_zeros(dev, AG_F32, AG_SHAPE(4))), "ag_embedding", "[4]",
                     "embedding 1-D weight");
    agt_assert_error(ag_embedding(fidx, x), "ag_embedding", "i32", "embedding f32 index");
    // one_hot
    ag_clear_error();
    agt_assert_error(ag_one_hot(NULL, 3), "ag_one_hot", "is NULL", "one_hot NULL");
    agt_assert_error(ag_one_hot(i1, 0), "ag_one_hot", "num_classes", "one_hot 0 classes");
    agt_assert_error(ag_one_hot(i1, -1), "ag_one_hot", "num_classes", "one_hot -1 classes");
    agt_assert_error(ag_one_hot(fidx, 3), "ag_one_hot", "i32", "one_hot f32 labels");
    // tensors on two devices
    ag_device *other = ag_device_open("cpu");
    ck_assert_ptr_nonnull(other);
    ag_tensor *oi = ag_zeros(other, AG_I32, AG_SHAPE(2, 2));
    agt_assert_error(ag_gather(x, 0, oi), "ag_gather", "different devices", "gather devices");
    agt_assert_error(ag_embedding(oi, x), "ag_embedding", "different devices", "emb devices");
    ag_scope_end();
    ag_device_close(other);
    agt_close(dev);
}
END_TEST

/* ---- against the CPU backend on larger shapes ---------------------------------------------- */

/* Many colliding updates (scatter_add, embedding backward) and wide gathers,
 * compared with a separate CPU device. */
START_TEST(test_index_vs_cpu)
{
    ag_device *dev = agt_open(_i);
    ag_device *cpu = ag_device_open("cpu");
    ck_assert_ptr_nonnull(cpu);
    ag_scope_begin();
    enum { M = 1024, V = 7, D = 16 };
    int32_t *idx = malloc(M * sizeof *idx);
    uint32_t s = 7;
    for (int k = 0; k < M; k++) {
        s = s * 1664525u + 1013904223u;
        idx[k] = (int32_t)((s >> 16) % V);
    }
    ag_tensor *out[2][4], *w[2], *x[2];
    for (int d = 0; d < 2; d++) {
        ag_device *on = d ? cpu : dev;
        ag_tensor *i1 = agt_tensor_i32(on, AG_SHAPE(M), idx);
        ag_tensor *i2 = ag_reshape(i1, AG_SHAPE(M / D, 1, D)); // rows of D per index
        // scatter_add of M values into V bins
        out[d][0] = ag_scatter_add(ag_zeros(on, AG_F32, AG_SHAPE(V)), 0, i1,
                                   agt_randn(on, AG_SHAPE(M), 121, 1.0));
        // embedding forward and backward ([M] lookups of [V, D])
        w[d] = agt_randn(on, AG_SHAPE(V, D), 122, 1.0);
        ag_set_requires_grad(w[d], true);
        out[d][1] = ag_embedding(i1, w[d]);
        ck_assert_msg(ag_backward(out[d][1], agt_randn(on, AG_SHAPE(M, D), 123, 1.0)) == AG_OK,
                      "embedding backward: %s", ag_last_error());
        // gather along dim 1 of [M/D, V, D] and index_select along dim 1
        x[d] = agt_randn(on, AG_SHAPE(M / D, V, D), 124, 1.0);
        ag_set_requires_grad(x[d], true);
        out[d][2] = ag_gather(x[d], 1, i2);
        out[d][3] = ag_index_select(x[d], 1, ag_slice(i1, 0, 0, 40, 1));
        ag_tensor *l = ag_add(ag_sum(ag_square(out[d][2]), 0, NULL, false),
                              ag_sum(ag_square(out[d][3]), 0, NULL, false));
        ck_assert_msg(ag_backward(l, NULL) == AG_OK, "backward: %s", ag_last_error());
    }
    const char *names[4] = {"scatter_add", "embedding", "gather", "index_select"};
    for (int k = 0; k < 4; k++) agt_assert_tensors_close(out[0][k], out[1][k], 1e-4, 1e-4, names[k]);
    agt_assert_tensors_close(ag_grad(w[0]), ag_grad(w[1]), 1e-4, 1e-4, "embedding dw");
    agt_assert_tensors_close(ag_grad(x[0]), ag_grad(x[1]), 1e-4, 1e-4, "gather/select dx");
    free(idx);
    ag_scope_end();
    ag_device_close(cpu);
    agt_close(dev);
}
END_TEST

static Suite *index_suite(void)
{
    Suite *s = suite_create("index");
    TCase *tc = tcase_create("index");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_gather_hand);
    AGT_ADD_LOOP(tc, test_gather_golden);
    AGT_ADD_LOOP(tc, test_gather_gradcheck);
    AGT_ADD_LOOP(tc, test_scatter_add_hand);
    AGT_ADD_LOOP(tc, test_scatter_add_golden);
    AGT_ADD_LOOP(tc, test_scatter_add_gradcheck);
    AGT_ADD_LOOP(tc, test_scatter_add_deterministic);
    AGT_ADD_LOOP(tc, test_index_select_hand);
    AGT_ADD_LOOP(tc, test_index_select_golden);
    AGT_ADD_LOOP(tc, test_index_select_gradcheck);
    AGT_ADD_LOOP(tc, test_embedding_hand);
    AGT_ADD_LOOP(tc, test_embedding_golden);
    AGT_ADD_LOOP(tc, test_embedding_padding_idx);
    AGT_ADD_LOOP(tc, test_embedding_gradcheck);
    AGT_ADD_LOOP(tc, test_one_hot);
    AGT_ADD_LOOP(tc, test_index_range);
    AGT_ADD_LOOP(tc, test_index_errors);
    AGT_ADD_LOOP(tc, test_index_empty);
    AGT_ADD_LOOP(tc, test_index_vs_cpu);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(index_suite()); }
