/* tests/fuzz/fuzz_seeds.c — writes the fuzzers' seed corpora from files the
 * library itself writes: a safetensors file, checkpoints with and without an
 * optimizer, and IDX files (plain and gzip, u8/i32/f32).
 * Usage: fuzz_seeds <dir>  (creates <dir>/safetensors, checkpoint, idx) */
#include "anygrad.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zlib.h>

static void die(const char *what)
{
    fprintf(stderr, "fuzz_seeds: %s: %s\n", what, ag_last_error());
    exit(1);
}

static void write_idx(const char *path, int type, int ndim, const uint32_t *dims,
                      const void *payload, size_t len, int gz)
{
    unsigned char buf[256];
    size_t k = 0;
    buf[k++] = 0;
    buf[k++] = 0;
    buf[k++] = (unsigned char)type;
    buf[k++] = (unsigned char)ndim;
    for (int d = 0; d < ndim; d++)
        for (int b = 3; b >= 0; b--) buf[k++] = (unsigned char)(dims[d] >> (8 * b));
    memcpy(buf + k, payload, len);
    k += len;
    if (gz) {
        gzFile f = gzopen(path, "wb");
        if (!f || gzwrite(f, buf, (unsigned)k) != (int)k) die(path);
        gzclose(f);
    } else {
        FILE *f = fopen(path, "wb");
        if (!f || fwrite(buf, 1, k, f) != k) die(path);
        fclose(f);
    }
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: fuzz_seeds <dir>\n");
        return 2;
    }
    char path[4096];
    const char *subs[] = {"safetensors", "checkpoint", "idx"};
    mkdir(argv[1], 0777);
    for (int i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s/%s", argv[1], subs[i]);
        mkdir(path, 0777);
    }
    ag_device *dev = ag_device_open("cpu");
    if (!dev) die("cpu");
    ag_tensor *w = ag_randn(dev, AG_SHAPE(3, 2));
    ag_tensor *b = ag_ones(dev, AG_F32, AG_SHAPE(2));
    ag_tensor *n = ag_full(dev, AG_I32, AG_SHAPE(2, 2), 7);
    ag_tensor *m = ag_full(dev, AG_U8, AG_SHAPE(3), 200);
    ag_state_dict *sd = ag_state_dict_new();
    ag_state_dict_add(sd, "fc.weight", w);
    ag_state_dict_add(sd, "fc.bias", b);
    ag_state_dict_add(sd, "counts", n);
    ag_state_dict_add(sd, "mask", m);
    ag_state_dict_set_meta(sd, "epoch", "3");
    snprintf(path, sizeof path, "%s/safetensors/model.safetensors", argv[1]);
    if (ag_safetensors_save(path, sd) != AG_OK) die(path);
    /* Checkpoints: Adam after one step (matches the fuzzer's optimizer), and none. */
    ag_set_requires_grad(w, true);
    ag_set_requires_grad(b, true);
    ag_optimizer *opt = ag_optim_adam((ag_tensor *[]){w, b}, 2, NULL);
    ag_set_grad(w, ag_ones_like(w));
    ag_set_grad(b, ag_ones_like(b));
    if (ag_optimizer_step(opt) != AG_OK) die("step");
    ag_state_dict *model = ag_state_dict_new();
    ag_state_dict_add(model, "fc.weight", w);
    ag_state_dict_add(model, "fc.bias", b);
    snprintf(path, sizeof path, "%s/checkpoint/adam.safetensors", argv[1]);
    if (ag_checkpoint_save(path, model, opt, 4, 1, (const char *[]){"best"}, (const int64_t[]){9}) != AG_OK)
        die(path);
    snprintf(path, sizeof path, "%s/checkpoint/model_only.safetensors", argv[1]);
    if (ag_checkpoint_save(path, model, NULL, 1, 0, NULL, NULL) != AG_OK) die(path);
    /* IDX: MNIST-like images and labels, i32 and f32 arrays, plain and gzip. */
    const unsigned char img[12] = {0, 20, 40, 60, 80, 100, 120, 140, 160, 180, 200, 220};
    const unsigned char be[8] = {0xFF, 0xFF, 0xFF, 0xFE, 0, 1, 0, 0};
    for (int gz = 0; gz < 2; gz++) {
        snprintf(path, sizeof path, "%s/idx/images%s", argv[1], gz ? ".gz" : "");
        write_idx(path, 0x08, 3, (uint32_t[]){3, 2, 2}, img, 12, gz);
        snprintf(path, sizeof path, "%s/idx/labels%s", argv[1], gz ? ".gz" : "");
        write_idx(path, 0x08, 1, (uint32_t[]){3}, img, 3, gz);
        snprintf(path, sizeof path, "%s/idx/i32%s", argv[1], gz ? ".gz" : "");
        write_idx(path, 0x0C, 1, (uint32_t[]){2}, be, 8, gz);
        snprintf(path, sizeof path, "%s/idx/f32%s", argv[1], gz ? ".gz" : "");
        write_idx(path, 0x0D, 2, (uint32_t[]){1, 2}, be, 8, gz);
    }
    ag_state_dict_free(model);
    ag_state_dict_free(sd);
    ag_optimizer_free(opt);
    ag_release(w);
    ag_release(b);
    ag_release(n);
    ag_release(m);
    ag_device_close(dev);
    return 0;
}
