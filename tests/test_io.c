/* tests/test_io.c — state dicts, safetensors (round trip, a PyTorch-written
 * file, corrupt and fuzzed files) and checkpoints. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>


static void write_file(const char *path, const void *p, size_t n)
{
    FILE *f = fopen(path, "wb");
    ck_assert(f != NULL);
    ck_assert_int_eq(fwrite(p, 1, n, f), n);
    fclose(f);
}

static unsigned char *slurp(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    unsigned char *buf = malloc((size_t)len + 1);
    ck_assert_int_eq(fread(buf, 1, (size_t)len, f), len);
    fclose(f);
    *n = (size_t)len;
    return buf;
}

/* Writes a safetensors file from a header string and `data_len` data bytes. */
static void write_st(const char *path, const char *header, size_t data_len)
{
    size_t hl = strlen(header);
    unsigned char *buf = calloc(8 + hl + data_len + 1, 1);
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, header, hl);
    for (size_t i = 0; i < data_len; i++) buf[8 + hl + i] = (unsigned char)i;
    write_file(path, buf, 8 + hl + data_len);
    free(buf);
}

static void assert_status_error(ag_status st, ag_status want, const char *n1, const char *n2,
                                const char *what)
{
    ck_assert_msg(st == want, "%s: status %s, want %s (%s)", what, ag_status_name(st),
                  ag_status_name(want), ag_last_error());
    ck_assert_msg(!n1 || strstr(ag_last_error(), n1), "%s: \"%s\" lacks \"%s\"", what, ag_last_error(), n1);
    ck_assert_msg(!n2 || strstr(ag_last_error(), n2), "%s: \"%s\" lacks \"%s\"", what, ag_last_error(), n2);
}

/* ---- State dicts ---------------------------------------------------------------- */

START_TEST(test_state_dict)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_state_dict *sd = ag_state_dict_new();
    ag_tensor *a = agt_tensor(dev, AG_SHAPE(2), (float[]){1, 2});
    ag_tensor *b = agt_tensor_i32(dev, AG_SHAPE(1), (int32_t[]){5});
    ck_assert(ag_state_dict_add(sd, "fc.weight", a) == AG_OK);
    ck_assert(ag_state_dict_add(sd, "fc.bias", b) == AG_OK);
    ck_assert_int_eq(ag_state_dict_count(sd), 2);
    ck_assert_str_eq(ag_state_dict_name_at(sd, 1), "fc.bias");
    ck_assert(ag_state_dict_tensor_at(sd, 0) == a);
    ck_assert(ag_state_dict_get(sd, "fc.bias") == b);
    ck_assert(ag_state_dict_name_at(sd, 2) == NULL);
    agt_assert_error(ag_state_dict_get(sd, "nope"), "ag_state_dict_get", "nope", "get missing");
    ck_assert(ag_last_status() == AG_ERR_NOT_FOUND);
    assert_status_error(ag_state_dict_add(sd, "fc.bias", a), AG_ERR_INVALID, "duplicate name \"fc.bias\"", NULL, "dup");
    assert_status_error(ag_state_dict_add(sd, "", a), AG_ERR_INVALID, "invalid name", NULL, "empty");
    assert_status_error(ag_state_dict_add(sd, "__metadata__", a), AG_ERR_INVALID, "invalid name", NULL, "reserved");
    ag_clear_error();
    assert_status_error(ag_state_dict_add(sd, "x", NULL), AG_ERR_INVALID, "tensor for \"x\" is NULL", NULL, "NULL t");
    ck_assert(ag_state_dict_set_meta(sd, "epoch", "12") == AG_OK);
    ck_assert(ag_state_dict_set_meta(sd, "epoch", "13") == AG_OK);
    ck_assert(ag_state_dict_set_meta(sd, "name", "x") == AG_OK);
    ck_assert_int_eq(ag_state_dict_meta_count(sd), 2);
    int64_t v = 0;
    ck_assert(ag_state_dict_get_meta_int(sd, "epoch", &v) == AG_OK);
    ck_assert_int_eq(v, 13);
    assert_status_error(ag_state_dict_get_meta_int(sd, "name", &v), AG_ERR_FORMAT, "not an integer", NULL, "int");
    assert_status_error(ag_state_dict_get_meta_int(sd, "zz", &v), AG_ERR_NOT_FOUND, "zz", NULL, "absent");
    ag_state_dict_free(sd);
    ag_state_dict_free(NULL);
    ck_assert_int_eq(ag_state_dict_count(NULL), 0);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- safetensors ------------------------------------------------------------------ */

START_TEST(test_safetensors_roundtrip)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("io");
    const char *path = agt_tmp_path("model.safetensors");
    ag_scope_begin();
    ag_tensor *w = agt_randn(dev, AG_SHAPE(3, 4), 5, 1.0);
    ag_tensor *wt = ag_transpose(w, 0, 1); /* a non-contiguous view: saved row-major */
    ag_tensor *n = agt_tensor_i32(dev, AG_SHAPE(2, 2), (int32_t[]){-1, 2, 1 << 30, 4});
    ag_tensor *m = ag_cast(agt_tensor(dev, AG_SHAPE(3), (float[]){0, 7, 255}), AG_U8);
    ag_tensor *s = ag_scalar(dev, AG_F32, 2.5);
    ag_tensor *e = ag_zeros(dev, AG_F32, AG_SHAPE(0, 3));
    ag_state_dict *sd = ag_state_dict_new();
    const char *names[5] = {"layer.weight_t", "counts", "mask", "scale", "empty"};
    ag_tensor *ts[5] = {wt, n, m, s, e};
    for (int i = 0; i < 5; i++) ck_assert(ag_state_dict_add(sd, names[i], ts[i]) == AG_OK);
    ag_state_dict_set_meta(sd, "epoch", "3");
    ag_state_dict_set_meta(sd, "quote\"key", "va\\lue\n");
    ck_assert_msg(ag_safetensors_save(path, sd) == AG_OK, "%s", ag_last_error());
    ck_assert(access(path, F_OK) == 0);
    ck_assert_msg(agt_tmpdir_count("tmp") == 0, "temporary file left behind");
    size_t len;
    unsigned char *raw = slurp(path, &len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    ck_assert_int_eq(hl % 8, 0);
    ck_assert_int_eq(len, 8 + hl + 12 * 4 + 16 + 3 + 4);
    free(raw);
    ag_state_dict *in = ag_safetensors_load(path, dev);
    ck_assert_msg(in != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_state_dict_count(in), 5);
    for (int i = 0; i < 5; i++) {
        ck_assert_str_eq(ag_state_dict_name_at(in, i), names[i]);
        ag_tensor *t = ag_state_dict_tensor_at(in, i);
        ck_assert_int_eq(ag_tensor_dtype(t), ag_tensor_dtype(ts[i]));
        agt_assert_shape(t, ag_ndim(ts[i]), ag_shape(ts[i]), names[i]);
        ck_assert(ag_is_contiguous(t));
        if (ag_numel(t)) agt_assert_tensors_close(t, ts[i], 0, 0, names[i]);
    }
    ck_assert_str_eq(ag_state_dict_get_meta(in, "epoch"), "3");
    ck_assert_str_eq(ag_state_dict_get_meta(in, "quote\"key"), "va\\lue\n");
    ag_state_dict_free(in);
    /* Saving over an existing file replaces it. */
    ag_state_dict *small = ag_state_dict_new();
    ag_state_dict_add(small, "only", s);
    ck_assert(ag_safetensors_save(path, small) == AG_OK);
    in = ag_safetensors_load(path, dev);
    ck_assert_int_eq(ag_state_dict_count(in), 1);
    ag_state_dict_free(in);
    /* An unwritable location fails cleanly. */
    assert_status_error(ag_safetensors_save(agt_tmp_path("no/such/dir/x.safetensors"), small), AG_ERR_IO,
                        "ag_safetensors_save", "cannot create", "bad dir");
    assert_status_error(ag_safetensors_save(NULL, small), AG_ERR_INVALID, "path is NULL", NULL, "NULL");
    ag_state_dict_free(small);
    ag_state_dict_free(sd);
    ag_scope_end();
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

/* F16 and BF16 tensors are written as their little-endian 16-bit patterns
 * (safetensors' "F16" / "BF16") and read back bit for bit. */
START_TEST(test_safetensors_half)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("io");
    const char *path = agt_tmp_path("half.safetensors");
    ag_scope_begin();
    ag_tensor *h = ag_cast(agt_tensor(dev, AG_SHAPE(3), (float[]){1.0f, -2.5f, 65504.0f}), AG_F16);
    ag_tensor *b = ag_cast(agt_tensor(dev, AG_SHAPE(2), (float[]){1.0f, -2.0f}), AG_BF16);
    ag_state_dict *sd = ag_state_dict_new();
    ck_assert(ag_state_dict_add(sd, "h", h) == AG_OK && ag_state_dict_add(sd, "b", b) == AG_OK);
    ck_assert_msg(ag_safetensors_save(path, sd) == AG_OK, "%s", ag_last_error());
    size_t len;
    unsigned char *raw = slurp(path, &len);
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | raw[i];
    ck_assert_int_eq(len, 8 + hl + 6 + 4);
    ck_assert_msg(strstr((const char *)raw + 8, "\"F16\"") && strstr((const char *)raw + 8, "\"BF16\""),
                  "header names F16 and BF16");
    /* tensors in the order added: h then b */
    const unsigned char want[10] = {0x00, 0x3c, 0x00, 0xc1, 0xff, 0x7b, 0x80, 0x3f, 0x00, 0xc0};
    ck_assert_msg(memcmp(raw + 8 + hl, want, sizeof want) == 0, "16-bit payload bytes");
    free(raw);
    ag_state_dict *in = ag_safetensors_load(path, dev);
    ck_assert_msg(in != NULL, "%s", ag_last_error());
    ag_tensor *h2 = ag_state_dict_tensor_at(in, 0), *b2 = ag_state_dict_tensor_at(in, 1);
    ck_assert_int_eq(ag_tensor_dtype(h2), AG_F16);
    ck_assert_int_eq(ag_tensor_dtype(b2), AG_BF16);
    agt_assert_close(h2, (float[]){1.0f, -2.5f, 65504.0f}, 3, 0, 0, "f16");
    agt_assert_close(b2, (float[]){1.0f, -2.0f}, 2, 0, 0, "bf16");
    ag_state_dict_free(in);
    ag_state_dict_free(sd);
    ag_scope_end();
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

START_TEST(test_safetensors_torch_file)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load("io.txt");
    ag_scope_begin();
    ag_state_dict *sd = ag_safetensors_load(agt_golden_path("io_torch.safetensors"), dev);
    ck_assert_msg(sd != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_state_dict_count(sd), 5);
    const char *names[5] = {"features.0.weight", "features.0.bias", "counts", "mask", "scale"};
    const char *labels[5] = {"features_0_weight", "features_0_bias", "counts", "mask", "scale"};
    for (int i = 0; i < 5; i++) {
        ag_tensor *t = ag_state_dict_get(sd, names[i]);
        ck_assert_msg(t != NULL, "%s missing", names[i]);
        ag_tensor *want = agt_golden_tensor(g, dev, "torch_file", labels[i]);
        ck_assert_int_eq(ag_tensor_dtype(t), ag_tensor_dtype(want));
        agt_assert_shape(t, ag_ndim(want), ag_shape(want), names[i]);
        agt_assert_tensors_close(t, want, 0, 0, names[i]);
    }
    ck_assert_str_eq(ag_state_dict_get_meta(sd, "framework"), "pt");
    ag_state_dict_free(sd);
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_safetensors_corrupt)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("io");
    static const struct {
        const char *header;
        size_t data;
        const char *needle1, *needle2;
    } cases[] = {
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]}", 8, "not valid JSON", NULL},
        {"[1, 2]", 0, "not a JSON object", NULL},
        {"{\"a\":{\"shape\":[2],\"data_offsets\":[0,8]}}", 8, "\"a\"", "dtype"},
        {"{\"a\":{\"dtype\":\"F64\",\"shape\":[2],\"data_offsets\":[0,16]}}", 16, "unsupported dtype \"F64\"", "\"a\""},
        {"{\"a\":{\"dtype\":\"Q4\",\"shape\":[2],\"data_offsets\":[0,4]}}", 4, "unknown dtype \"Q4\"", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":2,\"data_offsets\":[0,8]}}", 8, "shape", "\"a\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[-2],\"data_offsets\":[0,8]}}", 8, "shape entries", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1.5],\"data_offsets\":[0,8]}}", 8, "shape entries", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[1,1,1,1,1,1,1,1,1],\"data_offsets\":[0,4]}}", 4, "8 dims", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0]}}", 8, "data_offsets", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,16]}}", 8, "out of range", "\"a\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[8,0]}}", 8, "out of range", NULL},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[3],\"data_offsets\":[0,8]}}", 8, "needs 12", "\"a\""},
        {"{\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
         "\"b\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[4,8]}}", 8, "overlaps", NULL},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4, "hole", "\"a\""},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 4, "after the last tensor", NULL},
        {"{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
         "\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[2,4]}}", 4, "duplicate", "\"a\""},
        {"{\"__metadata__\":{\"k\":1}}", 0, "__metadata__", NULL},
        {"{\"__metadata__\":[]}", 0, "__metadata__", NULL},
        {"{\"a\":7}", 0, "not a JSON object", "\"a\""},
        {"{} xyz", 0, "trailing bytes", NULL},
        {"{\"\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]}}", 2, "invalid name", NULL},
    };
    char name[32];
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        snprintf(name, sizeof name, "bad%zu.safetensors", c);
        const char *path = agt_tmp_path(name);
        write_st(path, cases[c].header, cases[c].data);
        ag_clear_error();
        ag_scope_begin();
        ag_state_dict *sd = ag_safetensors_load(path, dev);
        ck_assert_msg(sd == NULL, "case %zu loaded", c);
        assert_status_error(ag_last_status(), AG_ERR_FORMAT, path, cases[c].needle1, name);
        if (cases[c].needle2) assert_status_error(ag_last_status(), AG_ERR_FORMAT, cases[c].needle2, NULL, name);
        ag_scope_end();
    }
    /* Too short, header beyond the file, missing file. */
    const char *p = agt_tmp_path("short");
    write_file(p, "\x08\0\0", 3);
    ck_assert(ag_safetensors_load(p, dev) == NULL);
    assert_status_error(ag_last_status(), AG_ERR_FORMAT, "truncated", p, "short");
    write_file(p, "\xff\0\0\0\0\0\0\0{}", 10);
    ck_assert(ag_safetensors_load(p, dev) == NULL);
    assert_status_error(ag_last_status(), AG_ERR_FORMAT, "exceeds the file", NULL, "hlen");
    write_file(p, "\xff\xff\xff\xff\xff\xff\xff\xff{}", 10);
    ck_assert(ag_safetensors_load(p, dev) == NULL);
    assert_status_error(ag_last_status(), AG_ERR_FORMAT, "exceeds the file", NULL, "huge hlen");
    ck_assert(ag_safetensors_load(agt_tmp_path("missing"), dev) == NULL);
    assert_status_error(ag_last_status(), AG_ERR_IO, "cannot open", NULL, "missing");
    /* A directory is not a file (it used to report host OOM of 2^63-1 bytes). */
    ck_assert(ag_safetensors_load(agt_tmp_path(""), dev) == NULL);
    assert_status_error(ag_last_status(), AG_ERR_IO, "not a regular file (a directory)", NULL, "dir");
    ck_assert_msg(!strstr(ag_last_error(), "memory"), "%s", ag_last_error());
    ck_assert(ag_safetensors_load(p, NULL) == NULL);
    /* Empty header object: a valid, empty file. */
    write_st(p, "{}", 0);
    ag_state_dict *empty = ag_safetensors_load(p, dev);
    ck_assert(empty != NULL && ag_state_dict_count(empty) == 0);
    ag_state_dict_free(empty);
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

/* Byte flips in the header and every truncation of a valid file: each load
 * either succeeds or fails with AG_ERR_FORMAT; never a crash (run under ASan). */
START_TEST(test_safetensors_fuzz)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("io");
    const char *good = agt_golden_path("io_torch.safetensors");
    size_t len;
    unsigned char *orig = slurp(good, &len);
    unsigned char *buf = malloc(len);
    const char *p = agt_tmp_path("fuzz.safetensors");
    static const unsigned char flips[] = {0x01, 0x20, 0x80, 0xff};
    int loaded = 0, failed = 0;
    uint64_t hl = 0;
    for (int i = 7; i >= 0; i--) hl = hl << 8 | orig[i];
    for (size_t pos = 0; pos < 8 + hl; pos += 1)
        for (size_t f = 0; f < sizeof flips; f++) {
            if (pos >= 8 && (pos % 3) != f % 3) continue; /* sample the header */
            memcpy(buf, orig, len);
            buf[pos] ^= flips[f];
            write_file(p, buf, len);
            ag_clear_error();
            ag_state_dict *sd = ag_safetensors_load(p, dev);
            if (sd) {
                loaded++;
                ag_state_dict_free(sd);
            } else {
                failed++;
                ck_assert_msg(ag_last_status() == AG_ERR_FORMAT, "flip at %zu: %s", pos, ag_last_error());
                ck_assert_msg(strstr(ag_last_error(), p), "flip at %zu: %s", pos, ag_last_error());
            }
        }
    for (size_t cut = 0; cut < len; cut++) {
        write_file(p, orig, cut);
        ck_assert_msg(ag_safetensors_load(p, dev) == NULL, "truncated to %zu loaded", cut);
        ck_assert_msg(ag_last_status() == AG_ERR_FORMAT, "cut %zu: %s", cut, ag_last_error());
    }
    ck_assert(failed > 0);
    free(buf);
    free(orig);
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

/* A header of `n` empty F32 tensors "t0".."t<n-1>" (plus a repeat of "t0"
 * when `dup`), written as a safetensors file. */
static void write_many(const char *path, int n, bool dup)
{
    size_t cap = (size_t)n * 64 + 128, len = 0;
    char *h = malloc(cap);
    h[len++] = '{';
    for (int i = 0; i < n + dup; i++)
        len += (size_t)snprintf(h + len, cap - len, "%s\"t%d\":{\"dtype\":\"F32\",\"shape\":[0],"
                                "\"data_offsets\":[0,0]}", i ? "," : "", i < n ? i : 0);
    h[len++] = '}';
    h[len] = '\0';
    write_st(path, h, 0);
    free(h);
}

/* Many entries load in linear time (a quadratic duplicate check took minutes
 * at this size); past the limit the file fails before its JSON is parsed. */
START_TEST(test_safetensors_many_entries)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("io");
    const char *path = agt_tmp_path("many.safetensors");
    write_many(path, 131072, false);
    ag_state_dict *sd = ag_safetensors_load(path, dev);
    ck_assert_msg(sd != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_state_dict_count(sd), 131072);
    ck_assert_str_eq(ag_state_dict_name_at(sd, 131071), "t131071");
    ck_assert(ag_state_dict_get(sd, "t65536") == ag_state_dict_tensor_at(sd, 65536));
    ck_assert(ag_state_dict_get(sd, "t131072") == NULL);
    ck_assert(ag_state_dict_add(sd, "t7", ag_state_dict_tensor_at(sd, 0)) == AG_ERR_INVALID);
    ck_assert_msg(strstr(ag_last_error(), "duplicate name \"t7\""), "%s", ag_last_error());
    ag_state_dict_free(sd);
    write_many(path, 131071, true); /* the duplicate is the last entry */
    assert_status_error(ag_safetensors_load(path, dev) ? AG_OK : ag_last_status(), AG_ERR_FORMAT,
                        "tensor \"t0\": duplicate name", path, "late duplicate");
    write_many(path, 131073, false);
    assert_status_error(ag_safetensors_load(path, dev) ? AG_OK : ag_last_status(), AG_ERR_FORMAT,
                        "524292 JSON members, more than the 524288 supported", path, "too many");
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

/* ---- Loading into existing tensors ------------------------------------------------------ */

START_TEST(test_load_into)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_state_dict *sd = ag_state_dict_new();
    ag_state_dict_add(sd, "fc.weight", agt_randn(dev, AG_SHAPE(10, 5), 1, 1.0));
    ag_state_dict_add(sd, "fc.bias", agt_tensor(dev, AG_SHAPE(2), (float[]){1, 2}));
    ag_state_dict_add(sd, "steps", agt_tensor_i32(dev, AG_SHAPE(1), (int32_t[]){9}));
    ag_tensor *w = ag_zeros(dev, AG_F32, AG_SHAPE(10, 4));
    ag_tensor *b = ag_zeros(dev, AG_F32, AG_SHAPE(2));
    ag_tensor *f = ag_zeros(dev, AG_F32, AG_SHAPE(3));
    ag_tensor *st = ag_zeros(dev, AG_F32, AG_SHAPE(1));
    assert_status_error(ag_state_dict_load_into(sd, 3, (const char *[]){"fc.weight", "fc.bias", "features.0.weight"},
                                                (ag_tensor *[]){w, b, f}, false),
                        AG_ERR_INVALID, "shape mismatch for fc.weight: file [10,5] vs model [10,4]",
                        "missing key features.0.weight", "mismatch");
    agt_assert_close(b, (float[]){0, 0}, 2, 0, 0, "nothing copied on failure");
    assert_status_error(ag_state_dict_load_into(sd, 1, (const char *[]){"steps"}, (ag_tensor *[]){st}, false),
                        AG_ERR_INVALID, "dtype mismatch for steps: file i32 vs model f32", NULL, "dtype");
    assert_status_error(ag_state_dict_load_into(sd, 1, (const char *[]){"fc.bias"}, (ag_tensor *[]){b}, true),
                        AG_ERR_INVALID, "unexpected key fc.weight", "unexpected key steps", "strict");
    ck_assert(ag_state_dict_load_into(sd, 1, (const char *[]){"fc.bias"}, (ag_tensor *[]){b}, false) == AG_OK);
    agt_assert_close(b, (float[]){1, 2}, 2, 0, 0, "copied");
    /* Into a non-contiguous view and a parameter that requires grad. */
    ag_tensor *w2 = ag_zeros(dev, AG_F32, AG_SHAPE(5, 10));
    ag_set_requires_grad(w2, true);
    ag_tensor *w2t = ag_transpose(w2, 0, 1);
    ck_assert(ag_state_dict_load_into(sd, 1, (const char *[]){"fc.weight"}, (ag_tensor *[]){w2t}, false) == AG_OK);
    agt_assert_tensors_close(w2t, ag_state_dict_get(sd, "fc.weight"), 0, 0, "view");
    ck_assert(ag_state_dict_load_into(NULL, 0, NULL, NULL, false) == AG_ERR_INVALID);
    ag_state_dict_free(sd);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* ---- Checkpoints ---------------------------------------------------------------------------- */

/* Sets fixed gradients (depending on `step`) and applies one update. */
static void train_step(ag_device *dev, ag_optimizer *opt, ag_tensor *w, ag_tensor *b, int step)
{
    ag_scope_begin();
    float gw[6], gb[2];
    for (int i = 0; i < 6; i++) gw[i] = sinf((float)(step * 6 + i));
    for (int i = 0; i < 2; i++) gb[i] = cosf((float)(step * 2 + i));
    ag_set_grad(w, agt_tensor(dev, AG_SHAPE(3, 2), gw));
    ag_set_grad(b, agt_tensor(dev, AG_SHAPE(2), gb));
    ck_assert_msg(ag_optimizer_step(opt) == AG_OK, "%s", ag_last_error());
    ag_scope_end();
}

START_TEST(test_checkpoint_roundtrip)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("io");
    const char *path = agt_tmp_path("ckpt.safetensors");
    ag_scope_begin();
    for (int kind = 0; kind < 3; kind++) {
        ag_tensor *w = agt_randn(dev, AG_SHAPE(3, 2), 9, 1.0);
        ag_tensor *b = agt_tensor(dev, AG_SHAPE(2), (float[]){0.1f, -0.2f});
        ag_tensor *ps[2] = {w, b};
        ag_optimizer *opt = kind == 0 ? ag_optim_adamw(ps, 2, &(ag_adam_opts){.lr = 0.05, .weight_decay = 0.1})
                          : kind == 1 ? ag_optim_sgd(ps, 2, &(ag_sgd_opts){.lr = 0.1, .momentum = 0.9})
                                      : ag_optim_rmsprop(ps, 2, &(ag_rmsprop_opts){.momentum = 0.3});
        for (int s = 0; s < 3; s++) train_step(dev, opt, w, b, s);
        ag_optimizer_set_lr(opt, 0.025);
        ag_state_dict *model = ag_state_dict_new();
        ag_state_dict_add(model, "fc.weight", w);
        ag_state_dict_add(model, "fc.bias", b);
        ag_rng_set_state(123, 456);
        ck_assert_msg(ag_checkpoint_save(path, model, opt, 7, 2, (const char *[]){"best", "neg"},
                                         (const int64_t[]){42, -5}) == AG_OK, "%s", ag_last_error());
        /* The original keeps training. */
        for (int s = 3; s < 6; s++) train_step(dev, opt, w, b, s);
        /* A fresh model and optimizer restored from the file continue identically. */
        ag_tensor *w2 = ag_zeros(dev, AG_F32, AG_SHAPE(3, 2));
        ag_tensor *b2 = ag_zeros(dev, AG_F32, AG_SHAPE(2));
        ag_tensor *ps2[2] = {w2, b2};
        ag_optimizer *opt2 = kind == 0 ? ag_optim_adamw(ps2, 2, &(ag_adam_opts){.lr = 0.05, .weight_decay = 0.1})
                           : kind == 1 ? ag_optim_sgd(ps2, 2, &(ag_sgd_opts){.lr = 0.1, .momentum = 0.9})
                                       : ag_optim_rmsprop(ps2, 2, &(ag_rmsprop_opts){.momentum = 0.3});
        ag_rng_set_state(1, 1);
        int64_t epoch = -1;
        ag_state_dict *loaded = NULL;
        ck_assert_msg(ag_checkpoint_load(path, dev, opt2, true, &epoch, &loaded) == AG_OK, "%s",
                      ag_last_error());
        ck_assert_int_eq(epoch, 7);
        uint64_t seed, off;
        ag_rng_get_state(&seed, &off);
        ck_assert(seed == 123 && off == 456);
        ck_assert(fabs(ag_optimizer_get_lr(opt2) - 0.025) < 1e-15);
        ck_assert_int_eq(ag_optimizer_step_count(opt2), 3);
        ck_assert_int_eq(ag_optimizer_state_count(opt2), ag_optimizer_state_count(opt));
        int64_t v;
        ck_assert(ag_state_dict_get_meta_int(loaded, "extra.best", &v) == AG_OK && v == 42);
        ck_assert(ag_state_dict_get_meta_int(loaded, "extra.neg", &v) == AG_OK && v == -5);
        ck_assert_int_eq(ag_state_dict_count(loaded), 2);
        ck_assert(ag_state_dict_load_into(loaded, 2, (const char *[]){"fc.weight", "fc.bias"}, ps2, true) == AG_OK);
        ag_state_dict_free(loaded);
        for (int s = 3; s < 6; s++) train_step(dev, opt2, w2, b2, s);
        agt_assert_tensors_close(w2, w, 0, 0, "resumed weight");
        agt_assert_tensors_close(b2, b, 0, 0, "resumed bias");
        /* Kind mismatch, no optimizer in the file, not a checkpoint. */
        ag_optimizer *wrong = kind == 0 ? ag_optim_sgd(ps2, 2, &(ag_sgd_opts){.lr = 0.1}) : ag_optim_adam(ps2, 2, NULL);
        assert_status_error(ag_checkpoint_load(path, dev, wrong, false, NULL, NULL), AG_ERR_INVALID,
                            "optimizer kind mismatch", path, "kind");
        ag_optimizer_free(wrong);
        ck_assert(ag_checkpoint_save(path, model, NULL, 1, 0, NULL, NULL) == AG_OK);
        assert_status_error(ag_checkpoint_load(path, dev, opt2, false, NULL, NULL), AG_ERR_FORMAT,
                            "no optimizer state", NULL, "no optim");
        ck_assert(ag_checkpoint_load(path, dev, NULL, false, &epoch, NULL) == AG_OK);
        ck_assert_int_eq(epoch, 1);
        ag_state_dict_free(model);
        ag_optimizer_free(opt);
        ag_optimizer_free(opt2);
    }
    assert_status_error(ag_checkpoint_load(agt_golden_path("io_torch.safetensors"), dev, NULL, false, NULL, NULL),
                        AG_ERR_FORMAT, "not an anygrad checkpoint", NULL, "torch file");
    /* An optimizer over fewer parameters than the file. */
    ag_tensor *w = ag_zeros(dev, AG_F32, AG_SHAPE(3, 2));
    ag_tensor *b = ag_zeros(dev, AG_F32, AG_SHAPE(2));
    ag_optimizer *two = ag_optim_adam((ag_tensor *[]){w, b}, 2, NULL);
    train_step(dev, two, w, b, 0);
    ag_state_dict *model = ag_state_dict_new();
    ck_assert(ag_checkpoint_save(path, model, two, 0, 0, NULL, NULL) == AG_OK);
    ag_optimizer *one = ag_optim_adam(&w, 1, NULL);
    assert_status_error(ag_checkpoint_load(path, dev, one, false, NULL, NULL), AG_ERR_INVALID,
                        "refers to parameter 1 but the optimizer has 1", NULL, "count");
    ag_optimizer *shape = ag_optim_adam((ag_tensor *[]){w, ag_zeros(dev, AG_F32, AG_SHAPE(3))}, 2, NULL);
    assert_status_error(ag_checkpoint_load(path, dev, shape, false, NULL, NULL), AG_ERR_INVALID,
                        "shape mismatch for optim.state.1.exp_avg: file [2] vs parameter [3]", NULL, "shape");
    ck_assert_int_eq(ag_optimizer_state_count(shape), 0); /* nothing restored */
    ag_optimizer_free(one);
    ag_optimizer_free(two);
    ag_optimizer_free(shape);
    ag_state_dict_free(model);
    ag_scope_end();
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

/* A copy of checkpoint `src` written to `dst` where `edit` may replace one
 * entry (by name) with another tensor/name, and one metadata value. */
static void rewrite_checkpoint(ag_device *dev, const char *src, const char *dst,
                               const char *entry, const char *new_name, ag_tensor *new_value,
                               const char *meta_key, const char *meta_value)
{
    ag_state_dict *in = ag_safetensors_load(src, dev);
    ck_assert_msg(in != NULL, "%s", ag_last_error());
    ag_state_dict *out = ag_state_dict_new();
    for (int i = 0; i < ag_state_dict_count(in); i++) {
        const char *name = ag_state_dict_name_at(in, i);
        bool hit = entry && strcmp(name, entry) == 0;
        ck_assert(ag_state_dict_add(out, hit ? new_name : name,
                                    hit ? new_value : ag_state_dict_tensor_at(in, i)) == AG_OK);
    }
    for (int i = 0; i < ag_state_dict_meta_count(in); i++) {
        const char *k = ag_state_dict_meta_key_at(in, i);
        ag_state_dict_set_meta(out, k, meta_key && strcmp(k, meta_key) == 0 ? meta_value
                                                                             : ag_state_dict_get_meta(in, k));
    }
    ck_assert_msg(ag_safetensors_save(dst, out) == AG_OK, "%s", ag_last_error());
    ag_state_dict_free(out);
    ag_state_dict_free(in);
}

/* The optimizer's state entries as one host vector (names checked too). */
static int snapshot_optimizer(const ag_optimizer *opt, float *vals, int cap)
{
    int k = 0;
    for (int i = 0; i < ag_optimizer_state_count(opt); i++) {
        ag_tensor *t = ag_optimizer_state_entry(opt, i, NULL, 0);
        ck_assert(t != NULL);
        ag_tensor *f = ag_cast(t, AG_F32);
        ck_assert(k + ag_numel(f) <= cap);
        ck_assert(ag_tensor_read(f, vals + k, (size_t)ag_numel(f) * sizeof *vals) == AG_OK);
        k += (int)ag_numel(f);
    }
    return k;
}

/* A checkpoint that fails validation anywhere, even in its last optimizer
 * entry or in lr/steps metadata, changes nothing and names the file. */
START_TEST(test_checkpoint_load_validates_first)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("io");
    const char *good = agt_tmp_path("good.safetensors");
    const char *bad = agt_tmp_path("bad.safetensors");
    ag_scope_begin();
    ag_tensor *w = agt_randn(dev, AG_SHAPE(3, 2), 4, 1.0);
    ag_tensor *b = agt_tensor(dev, AG_SHAPE(2), (float[]){0.5f, -0.5f});
    ag_optimizer *src = ag_optim_adam((ag_tensor *[]){w, b}, 2, &(ag_adam_opts){.lr = 0.01});
    train_step(dev, src, w, b, 0);
    ag_state_dict *model = ag_state_dict_new();
    ag_state_dict_add(model, "w", w);
    ck_assert(ag_checkpoint_save(good, model, src, 3, 0, NULL, NULL) == AG_OK);
    /* The optimizer to load into has its own, different state. */
    ag_tensor *w2 = ag_zeros(dev, AG_F32, AG_SHAPE(3, 2));
    ag_tensor *b2 = ag_zeros(dev, AG_F32, AG_SHAPE(2));
    ag_optimizer *dst = ag_optim_adam((ag_tensor *[]){w2, b2}, 2, &(ag_adam_opts){.lr = 0.5});
    for (int s = 1; s < 3; s++) train_step(dev, dst, w2, b2, s);
    float before[64], after[64];
    int n_before = snapshot_optimizer(dst, before, 64);
    ck_assert_int_eq(n_before, (1 + 6 + 6) + (1 + 2 + 2)); /* step, exp_avg, exp_avg_sq */
    struct {
        const char *what, *entry, *new_name;
        ag_tensor *value;
        const char *meta_key, *meta_value, *needle;
        ag_status status;
    } cases[] = {
        {"unused buffer name", "optim.state.1.exp_avg_sq", "optim.state.1.momentum_buffer",
         ag_zeros(dev, AG_F32, AG_SHAPE(2)), NULL, NULL, "not used by adam", AG_ERR_INVALID},
        {"dtype", "optim.state.1.exp_avg_sq", "optim.state.1.exp_avg_sq",
         ag_zeros(dev, AG_I32, AG_SHAPE(2)), NULL, NULL, "is i32 [2]", AG_ERR_INVALID},
        {"step value", "optim.state.1.step", "optim.state.1.step",
         ag_full(dev, AG_I32, AG_SHAPE(1), -3), NULL, NULL, "invalid step -3", AG_ERR_INVALID},
        {"lr inf", NULL, NULL, NULL, "optim.lr", "inf", "optim.lr", AG_ERR_FORMAT},
        {"lr nan", NULL, NULL, NULL, "optim.lr", "nan", "optim.lr", AG_ERR_FORMAT},
        {"lr empty", NULL, NULL, NULL, "optim.lr", "", "optim.lr", AG_ERR_FORMAT},
        {"steps negative", NULL, NULL, NULL, "optim.steps", "-5", "optim.steps", AG_ERR_FORMAT},
        {"steps huge", NULL, NULL, NULL, "optim.steps", "9223372036854775807", "optim.steps",
         AG_ERR_FORMAT},
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        rewrite_checkpoint(dev, good, bad, cases[c].entry, cases[c].new_name, cases[c].value,
                           cases[c].meta_key, cases[c].meta_value);
        ag_rng_set_state(77, 88);
        int64_t epoch = -1;
        ag_state_dict *loaded = (ag_state_dict *)1;
        ag_clear_error();
        ag_status st = ag_checkpoint_load(bad, dev, dst, true, &epoch, &loaded);
        ck_assert_msg(st == cases[c].status, "%s: status %s (%s)", cases[c].what,
                      ag_status_name(st), ag_last_error());
        ck_assert_msg(strstr(ag_last_error(), "ag_checkpoint_load") && strstr(ag_last_error(), bad) &&
                          strstr(ag_last_error(), cases[c].needle),
                      "%s: %s", cases[c].what, ag_last_error());
        ck_assert(loaded == NULL && epoch == -1);
        uint64_t seed, off;
        ag_rng_get_state(&seed, &off);
        ck_assert_msg(seed == 77 && off == 88, "%s: RNG restored", cases[c].what);
        ck_assert_msg(ag_optimizer_get_lr(dst) == 0.5, "%s: lr changed", cases[c].what);
        ck_assert_int_eq(ag_optimizer_step_count(dst), 2);
        ck_assert_int_eq(snapshot_optimizer(dst, after, 64), n_before);
        for (int i = 0; i < n_before; i++)
            ck_assert_msg(after[i] == before[i], "%s: state value %d changed %g -> %g",
                          cases[c].what, i, before[i], after[i]);
    }
    /* The unmodified file still restores everything. */
    ck_assert_msg(ag_checkpoint_load(good, dev, dst, false, NULL, NULL) == AG_OK, "%s", ag_last_error());
    ck_assert(ag_optimizer_get_lr(dst) == 0.01);
    ck_assert_int_eq(ag_optimizer_step_count(dst), 1);
    ag_state_dict_free(model);
    ag_optimizer_free(src);
    ag_optimizer_free(dst);
    ag_scope_end();
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("io");
    TCase *tc = tcase_create("io");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_state_dict);
    AGT_ADD_LOOP(tc, test_safetensors_roundtrip);
    AGT_ADD_LOOP(tc, test_safetensors_half);
    AGT_ADD_LOOP(tc, test_safetensors_torch_file);
    AGT_ADD_LOOP(tc, test_safetensors_corrupt);
    AGT_ADD_LOOP(tc, test_safetensors_fuzz);
    AGT_ADD_LOOP(tc, test_safetensors_many_entries);
    AGT_ADD_LOOP(tc, test_load_into);
    AGT_ADD_LOOP(tc, test_checkpoint_roundtrip);
    AGT_ADD_LOOP(tc, test_checkpoint_load_validates_first);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
