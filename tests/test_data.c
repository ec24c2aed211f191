/* tests/test_data.c — IDX files (plain, gzip, corrupt), datasets and the
 * prefetching loader (batching, seeded shuffling, drop_last, errors). */
#include "harness.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <unistd.h>
#include <zlib.h>

/* ---- Temporary IDX files ------------------------------------------------------ */


static void write_bytes(const char *path, const void *p, size_t n, bool gz)
{
    if (gz) {
        gzFile f = gzopen(path, "wb");
        ck_assert(f != NULL);
        ck_assert_int_eq(gzwrite(f, p, (unsigned)n), (int)n);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        ck_assert(f != NULL);
        ck_assert_int_eq(fwrite(p, 1, n, f), n);
        fclose(f);
    }
}

/* Builds an IDX image: header for (type, dims) then `payload`. Returns the size. */
static size_t idx_bytes(unsigned char *out, int type, int ndim, const uint32_t *dims,
                        const void *payload, size_t payload_len)
{
    size_t k = 0;
    out[k++] = 0;
    out[k++] = 0;
    out[k++] = (unsigned char)type;
    out[k++] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++)
        for (int b = 3; b >= 0; b--) out[k++] = (unsigned char)(dims[d] >> (8 * b));
    if (payload_len) memcpy(out + k, payload, payload_len);
    return k + payload_len;
}

/* 3 images 2x2 (values 0..11 * 20) and 3 labels. */
static const unsigned char img_data[12] = {0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220};
static const unsigned char lbl_data[3] = {7, 0, 3};

static void write_mnist(const char *images, const char *labels, bool gz)
{
    unsigned char buf[256];
    size_t n = idx_bytes(buf, 0x08, 3, (uint32_t[]){3, 2, 2}, img_data, 12);
    write_bytes(images, buf, n, gz);
    n = idx_bytes(buf, 0x08, 1, (uint32_t[]){3}, lbl_data, 3);
    write_bytes(labels, buf, n, gz);
}

static void assert_status_error(ag_status st, ag_status want, const char *n1, const char *n2,
                                const char *what)
{
    ck_assert_msg(st == want, "%s: status %s, want %s (%s)", what, ag_status_name(st),
                  ag_status_name(want), ag_last_error());
    ck_assert_msg(!n1 || strstr(ag_last_error(), n1), "%s: \"%s\" lacks \"%s\"", what, ag_last_error(), n1);
    ck_assert_msg(!n2 || strstr(ag_last_error(), n2), "%s: \"%s\" lacks \"%s\"", what, ag_last_error(), n2);
}

/* ---- IDX ------------------------------------------------------------------------ */

START_TEST(test_idx_plain_and_gzip)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("data");
    for (int gz = 0; gz < 2; gz++) {
        const char *im = agt_tmp_path(gz ? "im.gz" : "im"), *lb = agt_tmp_path(gz ? "lb.gz" : "lb");
        write_mnist(im, lb, gz);
        ag_idx_array a;
        ck_assert_msg(ag_idx_read(im, &a) == AG_OK, "%s", ag_last_error());
        ck_assert_int_eq(a.dtype, AG_U8);
        ck_assert_int_eq(a.ndim, 3);
        ck_assert(a.shape[0] == 3 && a.shape[1] == 2 && a.shape[2] == 2);
        ck_assert_int_eq(a.nbytes, 12);
        ck_assert(memcmp(a.data, img_data, 12) == 0);
        ag_idx_free(&a);
        ck_assert(a.data == NULL);
        ag_scope_begin();
        ag_tensor *t = ag_idx_load(lb, dev);
        agt_assert_shape(t, AG_SHAPE(3), "labels");
        ck_assert_int_eq(ag_tensor_dtype(t), AG_U8);
        agt_assert_close(t, (float[]){7, 0, 3}, 3, 0, 0, "labels");
        ag_scope_end();
    }
    /* i32 and f32 payloads are big-endian. */
    unsigned char buf[128];
    unsigned char be_i32[8] = {0xff, 0xff, 0xff, 0xfe, 0x00, 0x01, 0x00, 0x00}; /* -2, 65536 */
    write_bytes(agt_tmp_path("i32"), buf, idx_bytes(buf, 0x0C, 1, (uint32_t[]){2}, be_i32, 8), false);
    unsigned char be_f32[4] = {0x3f, 0xc0, 0x00, 0x00}; /* 1.5 */
    write_bytes(agt_tmp_path("f32"), buf, idx_bytes(buf, 0x0D, 2, (uint32_t[]){1, 1}, be_f32, 4), true);
    ag_scope_begin();
    agt_assert_close(ag_idx_load(agt_tmp_path("i32"), dev), (float[]){-2, 65536}, 2, 0, 0, "i32");
    ag_tensor *f = ag_idx_load(agt_tmp_path("f32"), dev);
    agt_assert_shape(f, AG_SHAPE(1, 1), "f32");
    agt_assert_close(f, (float[]){1.5f}, 1, 0, 0, "f32");
    ag_scope_end();
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

START_TEST(test_idx_corrupt)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("data");
    unsigned char buf[256];
    ag_idx_array a;
    size_t n = idx_bytes(buf, 0x08, 3, (uint32_t[]){3, 2, 2}, img_data, 12);
    struct {
        const char *name;
        size_t len;
        int patch_at, patch_val; /* -1: none */
        const char *needle;
    } cases[] = {
        {"badmagic", n, 0, 1, "bad magic"},
        {"badtype", n, 2, 0x0B, "unsupported IDX type code 0x0b"},
        {"zerodims", n, 3, 0, "0 dims"},
        {"ninedims", n, 3, 9, "9 dims"},
        {"shorthead", 3, -1, 0, "truncated header"},
        {"shortdims", 10, -1, 0, "truncated header"},
        {"shortdata", n - 1, -1, 0, "truncated"},
        {"trailing", n + 1, -1, 0, "trailing bytes"},
        {"bigdims", n, 4, 0x7f, "truncated"},
    };
    buf[n] = 0xAA;
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
        for (int gz = 0; gz < 2; gz++) {
            unsigned char copy[256];
            memcpy(copy, buf, sizeof copy);
            if (cases[c].patch_at >= 0) copy[cases[c].patch_at] = (unsigned char)cases[c].patch_val;
            char name[64];
            snprintf(name, sizeof name, "%s%s", cases[c].name, gz ? ".gz" : "");
            const char *path = agt_tmp_path(name);
            write_bytes(path, copy, cases[c].len, gz);
            ag_clear_error();
            assert_status_error(ag_idx_read(path, &a), AG_ERR_FORMAT, path, cases[c].needle, name);
            ck_assert(a.data == NULL && a.ndim == 0);
            ag_scope_begin();
            agt_assert_error(ag_idx_load(path, dev), "ag_idx_read", path, name);
            ag_scope_end();
        }
    /* Dims whose product wraps 64 bits ([2^30, 256, 2^26] = 2^64) or exceeds
     * the limit only over the non-zero dims: refused before any data is read,
     * and no dataset is built from them. */
    static const uint32_t huge[][3] = {
        {1u << 30, 256, 1u << 26}, {0, 0xFFFFFFFFu, 0xFFFFFFFFu}, {0xFFFFFFFFu, 0xFFFFFFFFu, 0}};
    for (int h = 0; h < 3; h++) {
        const char *path = agt_tmp_path(h == 0 ? "wrap" : h == 1 ? "zerofirst" : "zerolast");
        size_t hn = idx_bytes(buf, 0x08, 3, huge[h], NULL, 0);
        write_bytes(path, buf, hn + (h == 1), false); /* 16 or 17 bytes */
        assert_status_error(ag_idx_read(path, &a), AG_ERR_FORMAT, path, "too large", path);
        ck_assert(a.data == NULL && a.nbytes == 0);
        ag_scope_begin();
        agt_assert_error(ag_idx_load(path, dev), "ag_idx_read", "too large", path);
        ag_scope_end();
        write_bytes(agt_tmp_path("lbl"), buf, idx_bytes(buf, 0x08, 1, (uint32_t[]){1}, "a", 1),
                    false);
        ck_assert(ag_dataset_mnist(path, agt_tmp_path("lbl"), NULL) == NULL);
        ck_assert_msg(strstr(ag_last_error(), "too large"), "%s", ag_last_error());
    }
    /* A gzip stream cut in the middle. */
    const char *gzp = agt_tmp_path("cut.gz");
    unsigned char big[4096];
    for (int i = 0; i < 4000; i++) big[i] = (unsigned char)(i * 7919 >> 3);
    size_t bn = idx_bytes(buf, 0x08, 1, (uint32_t[]){4000}, NULL, 0);
    unsigned char whole[4200];
    memcpy(whole, buf, bn);
    memcpy(whole + bn, big, 4000);
    write_bytes(gzp, whole, bn + 4000, true);
    FILE *f = fopen(gzp, "rb");
    unsigned char gzbytes[8192];
    size_t gzn = fread(gzbytes, 1, sizeof gzbytes, f);
    fclose(f);
    write_bytes(gzp, gzbytes, gzn / 2, false);
    ck_assert(ag_idx_read(gzp, &a) == AG_ERR_FORMAT);
    ck_assert_msg(strstr(ag_last_error(), gzp), "%s", ag_last_error());
    /* Missing file and NULL arguments. */
    assert_status_error(ag_idx_read(agt_tmp_path("nope"), &a), AG_ERR_IO, "nope", "cannot open", "missing");
    assert_status_error(ag_idx_read(NULL, &a), AG_ERR_INVALID, "ag_idx_read", NULL, "NULL path");
    assert_status_error(ag_idx_read(gzp, NULL), AG_ERR_INVALID, "ag_idx_read", NULL, "NULL out");
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

/* ---- Datasets ---------------------------------------------------------------------- */

START_TEST(test_mnist_dataset)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("data");
    const char *im = agt_tmp_path("im.gz"), *lb = agt_tmp_path("lb");
    write_mnist(im, lb, false);
    write_mnist(im, agt_tmp_path("lb.gz"), true);
    ag_dataset *ds = ag_dataset_mnist(im, lb, NULL);
    ck_assert_msg(ds != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_dataset_length(ds), 3);
    int64_t shape[8];
    ck_assert_int_eq(ag_dataset_item_shape(ds, shape), 3);
    ck_assert(shape[0] == 1 && shape[1] == 2 && shape[2] == 2);
    float x[4];
    int32_t y;
    ck_assert(ag_dataset_get(ds, 1, x, &y) == AG_OK);
    ck_assert_int_eq(y, 0);
    for (int k = 0; k < 4; k++) ck_assert_float_eq_tol(x[k], img_data[4 + k] / 255.0f, 1e-7f);
    assert_status_error(ag_dataset_get(ds, 3, x, &y), AG_ERR_INVALID, "out of range", NULL, "index");
    ag_dataset_free(ds);
    /* Normalisation (x/255 - 0.5) / 0.25. */
    ds = ag_dataset_mnist(im, agt_tmp_path("lb.gz"), &(ag_normalize){.mean = 0.5, .std = 0.25});
    ck_assert(ds != NULL);
    ck_assert(ag_dataset_get(ds, 2, x, &y) == AG_OK);
    ck_assert_int_eq(y, 3);
    ck_assert_float_eq_tol(x[3], (220 / 255.0f - 0.5f) / 0.25f, 1e-6f);
    ag_dataset_free(ds);
    /* Mismatched counts and ranks. */
    unsigned char buf[64];
    write_bytes(agt_tmp_path("lb4"), buf, idx_bytes(buf, 0x08, 1, (uint32_t[]){4}, "abcd", 4), false);
    ck_assert(ag_dataset_mnist(im, agt_tmp_path("lb4"), NULL) == NULL);
    ck_assert(ag_last_status() == AG_ERR_FORMAT);
    ck_assert_msg(strstr(ag_last_error(), "3 images") && strstr(ag_last_error(), "4 labels"), "%s",
                  ag_last_error());
    ck_assert(ag_dataset_mnist(lb, lb, NULL) == NULL);
    ck_assert_msg(strstr(ag_last_error(), "images must be u8 [N, H, W]"), "%s", ag_last_error());
    ck_assert(ag_dataset_mnist(agt_tmp_path("none"), lb, NULL) == NULL);
    ck_assert(ag_last_status() == AG_ERR_IO);
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

START_TEST(test_host_dataset)
{
    ag_device *dev = agt_open(_i);
    uint8_t raw[6] = {0, 51, 102, 153, 204, 255};
    int32_t labels[3] = {1, 2, 3};
    ag_normalize nm = {.mean = 0.5, .std = 0.5};
    ag_dataset *a = ag_dataset_from_host(AG_U8, raw, 3, 1, (int64_t[]){2}, labels, &nm, false);
    ag_dataset *b = ag_dataset_from_host(AG_U8, raw, 3, 1, (int64_t[]){2}, labels, &nm, true);
    float fx[6] = {1, 2, 3, 4, 5, 6};
    ag_dataset *c = ag_dataset_from_host(AG_F32, fx, 3, 1, (int64_t[]){2}, labels,
                                         &(ag_normalize){.scale = 2, .mean = 1}, false);
    ck_assert(a && b && c);
    raw[0] = 99; /* the dataset holds a copy */
    for (int i = 0; i < 3; i++) {
        float xa[2], xb[2], xc[2];
        int32_t ya, yb, yc;
        ck_assert(ag_dataset_get(a, i, xa, &ya) == AG_OK);
        ck_assert(ag_dataset_get(b, i, xb, &yb) == AG_OK);
        ck_assert(ag_dataset_get(c, i, xc, &yc) == AG_OK);
        ck_assert(ya == labels[i] && yb == labels[i] && yc == labels[i]);
        for (int k = 0; k < 2; k++) {
            float want = ((i * 2 + k) * 51 / 255.0f - 0.5f) / 0.5f;
            ck_assert_float_eq_tol(xa[k], want, 1e-6f);
            ck_assert_float_eq_tol(xb[k], want, 1e-6f);
            ck_assert_float_eq_tol(xc[k], fx[i * 2 + k] * 2 - 1, 1e-6f);
        }
    }
    ag_dataset_free(a);
    ag_dataset_free(b);
    ag_dataset_free(c);
    ag_dataset_free(NULL);
    ck_assert(ag_dataset_from_host(AG_I32, raw, 3, 1, (int64_t[]){2}, labels, NULL, false) == NULL);
    ck_assert(strstr(ag_last_error(), "ag_dataset_from_host"));
    ck_assert(ag_dataset_from_host(AG_U8, NULL, 3, 1, (int64_t[]){2}, labels, NULL, false) == NULL);
    ck_assert(ag_dataset_from_host(AG_U8, raw, 3, 1, (int64_t[]){-2}, labels, NULL, false) == NULL);
    ck_assert(ag_dataset_new(3, 1, (int64_t[]){2}, NULL, NULL, NULL) == NULL);
    ck_assert(ag_dataset_length(NULL) == -1);
    agt_close(dev);
}
END_TEST

/* ---- Loader ------------------------------------------------------------------------- */

/* Item i: x = [i, 100 + i, 200 + i] as a [3] vector, y = i * 10. */
static ag_status counting_get(void *ctx, int64_t i, float *x, int32_t *y)
{
    int64_t fail_at = ctx ? *(int64_t *)ctx : -1;
    if (i == fail_at) return AG_ERR_IO;
    x[0] = (float)i;
    x[1] = 100.0f + (float)i;
    x[2] = 200.0f + (float)i;
    *y = (int32_t)(i * 10);
    return AG_OK;
}

/* Runs one epoch, checking every batch against the dataset, and writes the
 * labels / 10 (= dataset indices) in order into `seen`. Returns the count. */
static int64_t run_epoch(ag_loader *ld, int64_t batch, int64_t *seen, int64_t max)
{
    int64_t k = 0, nb = 0;
    for (;;) {
        ag_scope_begin();
        ag_tensor *x, *y;
        int r = ag_loader_next(ld, &x, &y);
        ck_assert_msg(r >= 0, "next: %s", ag_last_error());
        if (r == 0) {
            ck_assert(x == NULL && y == NULL);
            ag_scope_end();
            break;
        }
        int64_t b = ag_size(x, 0);
        ck_assert(b >= 1 && b <= batch);
        agt_assert_shape(x, AG_SHAPE(b, 3), "x");
        agt_assert_shape(y, AG_SHAPE(b), "y");
        ck_assert_int_eq(ag_tensor_dtype(x), AG_F32);
        ck_assert_int_eq(ag_tensor_dtype(y), AG_I32);
        float *xs = agt_read_f32(x);
        int32_t *ys = agt_read_i32(y);
        for (int64_t i = 0; i < b; i++) {
            int64_t idx = ys[i] / 10;
            ck_assert_float_eq(xs[i * 3], (float)idx);
            ck_assert_float_eq(xs[i * 3 + 2], 200.0f + (float)idx);
            ck_assert(k < max);
            seen[k++] = idx;
        }
        free(xs);
        free(ys);
        nb++;
        ag_scope_end();
    }
    ck_assert_int_eq(nb, ag_loader_num_batches(ld));
    return k;
}

START_TEST(test_loader_order_and_modes)
{
    ag_device *dev = agt_open(_i);
    ag_dataset *ds = ag_dataset_new(10, 1, (int64_t[]){3}, counting_get, NULL, NULL);
    ck_assert(ds != NULL);
    int64_t ref[3][10], seen[10], order[10];
    ag_loader_opts modes[4] = {
        {.batch_size = 4, .shuffle = true, .seed = 42, .synchronous = true},
        {.batch_size = 4, .shuffle = true, .seed = 42},
        {.batch_size = 4, .shuffle = true, .seed = 42, .upload = AG_UPLOAD_BACKGROUND, .prefetch = 1},
        {.batch_size = 4, .shuffle = true, .seed = 42, .upload = AG_UPLOAD_CALLER, .prefetch = 3},
    };
    for (int m = 0; m < 4; m++) {
        ag_loader *ld = ag_loader_new(ds, dev, &modes[m]);
        ck_assert_msg(ld != NULL, "%s", ag_last_error());
        ck_assert_int_eq(ag_loader_num_batches(ld), 3);
        for (int e = 0; e < 3; e++) {
            if (e) ck_assert(ag_loader_reset(ld, e) == AG_OK);
            ck_assert_int_eq(run_epoch(ld, 4, seen, 10), 10);
            ag_tensor *x, *y;
            ck_assert_int_eq(ag_loader_next(ld, &x, &y), 0); /* stays at the end */
            ck_assert(ag_loader_epoch_order(ld, e, order) == AG_OK);
            ck_assert(memcmp(seen, order, sizeof seen) == 0);
            int hit[10] = {0};
            for (int i = 0; i < 10; i++) hit[seen[i]]++;
            for (int i = 0; i < 10; i++) ck_assert_int_eq(hit[i], 1);
            if (m == 0) memcpy(ref[e], seen, sizeof seen);
            else ck_assert_msg(memcmp(ref[e], seen, sizeof seen) == 0, "mode %d epoch %d differs", m, e);
        }
        ck_assert_msg(memcmp(ref[0], ref[1], sizeof ref[0]) != 0, "epochs 0 and 1 have the same order");
        /* A reset in the middle of an epoch restarts it. */
        ck_assert(ag_loader_reset(ld, 0) == AG_OK);
        ag_scope_begin();
        ag_tensor *x, *y;
        ck_assert_int_eq(ag_loader_next(ld, &x, &y), 1);
        ag_scope_end();
        ck_assert(ag_loader_reset(ld, 0) == AG_OK);
        ck_assert_int_eq(run_epoch(ld, 4, seen, 10), 10);
        ck_assert(memcmp(seen, ref[0], sizeof seen) == 0);
        /* Freed with batches prefetched and none consumed: no leak. */
        ck_assert(ag_loader_reset(ld, 5) == AG_OK);
        ag_loader_free(ld);
    }
    /* Another seed gives another order; no shuffle is the identity. */
    ag_loader *other = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 4, .shuffle = true, .seed = 43});
    ck_assert(ag_loader_epoch_order(other, 0, order) == AG_OK);
    ck_assert(memcmp(order, ref[0], sizeof order) != 0);
    ag_loader_free(other);
    other = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 3});
    ck_assert_int_eq(run_epoch(other, 3, seen, 10), 10);
    for (int i = 0; i < 10; i++) ck_assert_int_eq(seen[i], i);
    ag_loader_free(other);
    ag_loader_free(NULL);
    ag_dataset_free(ds);
    agt_close(dev);
}
END_TEST

START_TEST(test_loader_drop_last)
{
    ag_device *dev = agt_open(_i);
    ag_dataset *ds = ag_dataset_new(10, 1, (int64_t[]){3}, counting_get, NULL, NULL);
    int64_t seen[10];
    for (int sync = 0; sync < 2; sync++) {
        ag_loader *ld = ag_loader_new(ds, dev, &(ag_loader_opts){
            .batch_size = 4, .drop_last = true, .shuffle = true, .seed = 7, .synchronous = sync});
        ck_assert_int_eq(ag_loader_num_batches(ld), 2);
        ck_assert_int_eq(run_epoch(ld, 4, seen, 10), 8);
        int64_t order[10];
        ag_loader_epoch_order(ld, 0, order);
        ck_assert(memcmp(seen, order, 8 * sizeof *seen) == 0);
        ag_loader_free(ld);
    }
    /* Partial last batch without drop_last; batch larger than the dataset. */
    ag_loader *ld = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 16});
    ck_assert_int_eq(ag_loader_num_batches(ld), 1);
    ck_assert_int_eq(run_epoch(ld, 16, seen, 10), 10);
    ag_loader_free(ld);
    ld = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 16, .drop_last = true});
    ck_assert_int_eq(ag_loader_num_batches(ld), 0);
    ag_tensor *x, *y;
    ck_assert_int_eq(ag_loader_next(ld, &x, &y), 0);
    ag_loader_free(ld);
    ag_dataset_free(ds);
    agt_close(dev);
}
END_TEST

START_TEST(test_loader_errors)
{
    ag_device *dev = agt_open(_i);
    int64_t fail_at = 5;
    ag_dataset *ds = ag_dataset_new(10, 1, (int64_t[]){3}, counting_get, &fail_at, NULL);
    for (int sync = 0; sync < 2; sync++) {
        ag_loader *ld = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 4, .synchronous = sync});
        ag_scope_begin();
        ag_tensor *x, *y;
        ck_assert_int_eq(ag_loader_next(ld, &x, &y), 1);
        int r = ag_loader_next(ld, &x, &y);
        ck_assert_int_eq(r, AG_ERR_IO);
        ck_assert(x == NULL && y == NULL);
        ck_assert_msg(strstr(ag_last_error(), "ag_loader_next") && strstr(ag_last_error(), "item 5"),
                      "%s", ag_last_error());
        ck_assert_int_eq(ag_loader_next(ld, &x, &y), 1); /* the next batch is fine */
        agt_assert_close(y, (float[]){80, 90}, 2, 0, 0, "last batch");
        ck_assert_int_eq(ag_loader_next(ld, &x, &y), 0);
        ag_scope_end();
        ag_loader_free(ld);
    }
    agt_assert_error(ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 0}), "ag_loader_new",
                     "batch_size 0", "batch 0");
    agt_assert_error(ag_loader_new(NULL, dev, &(ag_loader_opts){.batch_size = 1}), "ag_loader_new",
                     "dataset is NULL", "NULL ds");
    agt_assert_error(ag_loader_new(ds, dev, NULL), "ag_loader_new", "opts is NULL", "NULL opts");
    ck_assert(ag_loader_next(NULL, NULL, NULL) == AG_ERR_INVALID);
    ck_assert(ag_loader_reset(NULL, 0) == AG_ERR_INVALID);
    ag_dataset_free(ds);
    agt_close(dev);
}
END_TEST

/* Distributed sampling: R loaders over one dataset, one per rank, see equal
 * shards of the same per-epoch order: rank r gets items r, r + R, ... of the
 * unsharded loader's order, padded from its start (or cut with
 * shard_drop_tail); the shards cover the dataset and change every epoch. */
START_TEST(test_loader_shards)
{
    ag_device *dev = agt_open(_i);
    ag_dataset *ds = ag_dataset_new(10, 1, (int64_t[]){3}, counting_get, NULL, NULL);
    ck_assert(ds != NULL);
    ag_loader_opts base = {.batch_size = 2, .shuffle = true, .seed = 9};
    ag_loader *whole = ag_loader_new(ds, dev, &base);
    ck_assert_int_eq(ag_loader_length(whole), 10);
    for (int drop = 0; drop < 2; drop++) {
        for (int R = 2; R <= 4; R++) {
            int64_t want_len = drop ? 10 / R : (10 + R - 1) / R;
            for (int e = 0; e < 2; e++) {
                int64_t full[10];
                ck_assert(ag_loader_epoch_order(whole, e, full) == AG_OK);
                int hit[10] = {0};
                for (int r = 0; r < R; r++) {
                    ag_loader_opts o = base;
                    o.num_replicas = R;
                    o.rank = r;
                    o.shard_drop_tail = drop;
                    o.synchronous = r % 2;
                    ag_loader *ld = ag_loader_new(ds, dev, &o);
                    ck_assert_msg(ld != NULL, "%s", ag_last_error());
                    ck_assert_int_eq(ag_loader_length(ld), want_len);
                    ck_assert_int_eq(ag_loader_num_batches(ld), (want_len + 1) / 2);
                    if (e) ck_assert(ag_loader_reset(ld, e) == AG_OK);
                    int64_t seen[10], order[10];
                    ck_assert_int_eq(run_epoch(ld, 2, seen, 10), want_len);
                    ck_assert(ag_loader_epoch_order(ld, e, order) == AG_OK);
                    for (int64_t k = 0; k < want_len; k++) {
                        ck_assert_int_eq(seen[k], full[(r + k * R) % 10]);
                        ck_assert_int_eq(order[k], seen[k]);
                        hit[seen[k]]++;
                    }
                    ag_loader_free(ld);
                }
                /* Padding repeats only the first items; dropping loses only the tail. */
                for (int i = 0; i < 10; i++) {
                    int pos = 0;
                    while (full[pos] != i) pos++;
                    int expect = drop ? (pos < (10 / R) * R) : 1 + (pos < want_len * R - 10);
                    ck_assert_msg(hit[i] == expect, "R %d drop %d epoch %d: item %d seen %d times",
                                  R, drop, e, i, hit[i]);
                }
            }
        }
    }
    ag_loader_free(whole);
    agt_assert_error(ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 1, .num_replicas = 2,
                                                               .rank = 2}),
                     "ag_loader_new", "rank 2 of num_replicas 2", "rank out of range");
    agt_assert_error(ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 1, .num_replicas = -1}),
                     "ag_loader_new", "bad sharding", "negative replicas");
    agt_assert_error(ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 1, .rank = 1}),
                     "ag_loader_new", "bad sharding", "rank without replicas");
    ag_dataset_free(ds);
    agt_close(dev);
}
END_TEST

/* MNIST files through the loader: x [B, 1, H, W]. */
START_TEST(test_loader_mnist)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("data");
    const char *im = agt_tmp_path("im.gz"), *lb = agt_tmp_path("lb.gz");
    write_mnist(im, lb, true);
    ag_dataset *ds = ag_dataset_mnist(im, lb, NULL);
    ag_loader *ld = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 2});
    ag_scope_begin();
    ag_tensor *x, *y;
    ck_assert_int_eq(ag_loader_next(ld, &x, &y), 1);
    agt_assert_shape(x, AG_SHAPE(2, 1, 2, 2), "x");
    float want[8];
    for (int k = 0; k < 8; k++) want[k] = img_data[k] / 255.0f;
    agt_assert_close(x, want, 8, 1e-7, 0, "x");
    agt_assert_close(y, (float[]){7, 0}, 2, 0, 0, "y");
    ck_assert_int_eq(ag_loader_next(ld, &x, &y), 1);
    agt_assert_shape(x, AG_SHAPE(1, 1, 2, 2), "last x");
    ag_scope_end();
    ag_loader_free(ld);
    ag_dataset_free(ds);
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

/* Items are read on the loader's own thread, ahead of the caller: after the
 * first batch, the next `prefetch` batches are ready without further calls. */
static pthread_t caller_thread;
static int on_caller, on_worker;
static pthread_mutex_t count_lock = PTHREAD_MUTEX_INITIALIZER;

static ag_status thread_get(void *ctx, int64_t i, float *x, int32_t *y)
{
    pthread_mutex_lock(&count_lock);
    if (pthread_equal(pthread_self(), caller_thread)) on_caller++;
    else on_worker++;
    pthread_mutex_unlock(&count_lock);
    return counting_get(ctx, i, x, y);
}

START_TEST(test_loader_background)
{
    ag_device *dev = agt_open(_i);
    caller_thread = pthread_self();
    ag_dataset *ds = ag_dataset_new(12, 1, (int64_t[]){3}, thread_get, NULL, NULL);
    for (int sync = 0; sync < 2; sync++) {
        on_caller = on_worker = 0;
        ag_loader *ld = ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 2, .prefetch = 3,
                                                                  .synchronous = sync});
        ag_scope_begin();
        ag_tensor *x, *y;
        ck_assert(ag_loader_reset(ld, 0) == AG_OK); /* epoch 0 is under way: kept */
        ck_assert_int_eq(ag_loader_next(ld, &x, &y), 1);
        if (!sync) { /* wait for the worker to fill its ring: 3 batches ahead */
            for (int spin = 0; spin < 2000; spin++) {
                pthread_mutex_lock(&count_lock);
                int w = on_worker;
                pthread_mutex_unlock(&count_lock);
                if (w >= 8) break;
                usleep(1000);
            }
        }
        pthread_mutex_lock(&count_lock);
        if (sync) {
            ck_assert_int_eq(on_caller, 2);
            ck_assert_int_eq(on_worker, 0);
        } else {
            ck_assert_int_eq(on_caller, 0);
            ck_assert_int_eq(on_worker, 8); /* the consumed batch + 3 prefetched, no more */
        }
        pthread_mutex_unlock(&count_lock);
        ag_scope_end();
        ag_loader_free(ld);
    }
    ag_dataset_free(ds);
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("data");
    TCase *tc = tcase_create("data");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_idx_plain_and_gzip);
    AGT_ADD_LOOP(tc, test_idx_corrupt);
    AGT_ADD_LOOP(tc, test_mnist_dataset);
    AGT_ADD_LOOP(tc, test_host_dataset);
    AGT_ADD_LOOP(tc, test_loader_order_and_modes);
    AGT_ADD_LOOP(tc, test_loader_drop_last);
    AGT_ADD_LOOP(tc, test_loader_errors);
    AGT_ADD_LOOP(tc, test_loader_shards);
    AGT_ADD_LOOP(tc, test_loader_mnist);
    AGT_ADD_LOOP(tc, test_loader_background);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
