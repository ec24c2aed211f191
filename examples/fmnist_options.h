/* examples/fmnist_options.h — the Fashion-MNIST demo's command line: options,
 * their defaults, --help (with this machine's devices) and the data-file check
 * that names every missing file. Used by examples/fashion_mnist.c only. */
#ifndef AG_FMNIST_OPTIONS_H
#define AG_FMNIST_OPTIONS_H

#include <anygrad.h>

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#define FMNIST_DEFAULT_DATA "/usr/share/datasets/fashion-mnist"
#define FMNIST_MEAN 0.2860 /* of the training images scaled to [0, 1] */
#define FMNIST_STD 0.3530

typedef struct fmnist_options {
    const char *device, *model, *data, *save, *checkpoint, *resume, *schedule;
    int epochs;
    int64_t batch_size, eval_batch_size, limit;
    double lr;
    uint64_t seed;
    bool normalize; /* standardise inputs with FMNIST_MEAN/STD (else x / 255 only) */
    bool distributed; /* data-parallel over the ranks of mpirun (anygrad/dist.h) */
    bool graph;       /* capture the training step once and replay it (anygrad/graph.h) */
    ag_dtype amp;     /* AG_F32, or the autocast dtype AG_BF16 / AG_F16 (anygrad/amp.h) */
    bool help;
} fmnist_options;

static const char *const fmnist_files[4] = {"train-images-idx3-ubyte", "train-labels-idx1-ubyte",
                                            "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"};

static inline void fmnist_usage(FILE *f, const char *argv0)
{
    fprintf(f,
            "usage: %s [options]\n"
            "  --device SPEC        auto, cpu, vulkan[:N], opencl[:P.D]  (default: auto, or $AG_DEVICE)\n"
            "  --model mlp|cnn      784-512-256-10 MLP or a 2-conv CNN  (default: mlp)\n"
            "  --epochs N           (default: 5 for mlp, 6 for cnn)\n"
            "  --batch-size N       training batch  (default: 128)\n"
            "  --eval-batch-size N  test-set batch, evaluated without gradients  (default: 1000)\n"
            "  --lr LR              Adam learning rate  (default: 0.001)\n"
            "  --schedule S         cosine (decay to 0 over the run, per step) or constant\n"
            "                       (default: cosine)\n"
            "  --no-normalize       inputs x / 255 only (default: then (x - %.4f) / %.4f)\n"
            "  --seed S             initialisation, shuffling and dropout  (default: 0)\n"
            "  --data DIR           the four IDX files, gzipped or not  (default: %s)\n"
            "  --save FILE          safetensors model  (default: fashion_mnist_<model>.safetensors)\n"
            "  --checkpoint FILE    write a checkpoint after every epoch\n"
            "  --resume FILE        continue from a checkpoint\n"
            "  --limit N            train on the first N images only\n"
            "  --graph              capture the training step after the first one and replay it\n"
            "  --amp bf16|f16|off   mixed precision: forward pass in autocast (f32 master\n"
            "                       weights); f16 with dynamic loss scaling  (default: off)\n"
            "  --distributed        data-parallel over the ranks of mpirun: each rank trains on\n"
            "                       its shard with --batch-size images per step (global batch\n"
            "                       = ranks x batch); rank 0 prints and writes the files\n"
            "  -h, --help           this text and the devices of this machine\n",
            argv0, FMNIST_MEAN, FMNIST_STD, FMNIST_DEFAULT_DATA);
}

/* Lists the devices --device accepts on this machine. */
static inline void fmnist_print_devices(FILE *f)
{
    ag_device_info infos[32];
    int n = ag_device_list(infos, 32);
    fprintf(f, "devices on this machine:\n");
    if (n <= 0) fprintf(f, "  (none found%s%s)\n", n < 0 ? ": " : "", n < 0 ? ag_last_error() : "");
    for (int i = 0; i < n && i < 32; i++)
        fprintf(f, "  %-12s %s (%s)\n", infos[i].spec, infos[i].name, infos[i].driver);
}

/* Returns 0, or -1 after printing what is wrong (exit status 2). */
static inline int fmnist_parse(int argc, char **argv, fmnist_options *o)
{
    *o = (fmnist_options){.device = "auto", .model = "mlp", .data = FMNIST_DEFAULT_DATA,
                          .schedule = "cosine", .epochs = -1, .batch_size = 128,
                          .eval_batch_size = 1000, .lr = 1e-3, .seed = 0, .normalize = true,
                          .amp = AG_F32};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { o->help = true; return 0; }
        if (!strcmp(a, "--no-normalize")) { o->normalize = false; continue; }
        if (!strcmp(a, "--distributed")) { o->distributed = true; continue; }
        if (!strcmp(a, "--graph")) { o->graph = true; continue; }
        if (!v || strncmp(a, "--", 2)) {
            fprintf(stderr, "%s: %s %s\n", argv[0], v ? "unknown argument" : "missing value for", a);
            fmnist_usage(stderr, argv[0]);
            return -1;
        }
        if (!strcmp(a, "--device")) o->device = v;
        else if (!strcmp(a, "--model")) o->model = v;
        else if (!strcmp(a, "--epochs")) o->epochs = atoi(v);
        else if (!strcmp(a, "--batch-size")) o->batch_size = atoll(v);
        else if (!strcmp(a, "--eval-batch-size")) o->eval_batch_size = atoll(v);
        else if (!strcmp(a, "--lr")) o->lr = atof(v);
        else if (!strcmp(a, "--schedule")) o->schedule = v;
        else if (!strcmp(a, "--seed")) o->seed = strtoull(v, NULL, 10);
        else if (!strcmp(a, "--data")) o->data = v;
        else if (!strcmp(a, "--save")) o->save = v;
        else if (!strcmp(a, "--checkpoint")) o->checkpoint = v;
        else if (!strcmp(a, "--resume")) o->resume = v;
        else if (!strcmp(a, "--limit")) o->limit = atoll(v);
        else if (!strcmp(a, "--amp")) {
            if (!strcmp(v, "bf16")) o->amp = AG_BF16;
            else if (!strcmp(v, "f16")) o->amp = AG_F16;
            else if (!strcmp(v, "off")) o->amp = AG_F32;
            else {
                fprintf(stderr, "unknown --amp \"%s\" (bf16, f16 or off)\n", v);
                return -1;
            }
        }
        else {
            fprintf(stderr, "%s: unknown option %s\n", argv[0], a);
            fmnist_usage(stderr, argv[0]);
            return -1;
        }
        i++;
    }
    bool cnn = !strcmp(o->model, "cnn");
    if (!cnn && strcmp(o->model, "mlp")) {
        fprintf(stderr, "unknown model \"%s\" (mlp or cnn)\n", o->model);
        return -1;
    }
    if (strcmp(o->schedule, "cosine") && strcmp(o->schedule, "constant")) {
        fprintf(stderr, "unknown schedule \"%s\" (cosine or constant)\n", o->schedule);
        return -1;
    }
    if (o->epochs < 0) o->epochs = cnn ? 6 : 5;
    if (o->graph && o->distributed) {
        fprintf(stderr, "--graph and --distributed cannot be combined yet (the gradient all-reduce "
                        "runs on the host during the backward pass)\n");
        return -1;
    }
    if (o->graph && o->amp == AG_F16) {
        fprintf(stderr, "--graph and --amp f16 cannot be combined (the loss scaler reads an inf / NaN "
                        "flag back every step); --amp bf16 needs no scaler\n");
        return -1;
    }
    if (o->batch_size <= 0 || o->eval_batch_size <= 0 || o->lr <= 0) {
        fprintf(stderr, "batch sizes and learning rate must be positive\n");
        return -1;
    }
    return 0;
}

/* Finds "<dir>/<base>" or "<dir>/<base>.gz" into buf; false when neither exists. */
static inline bool fmnist_data_file(char *buf, size_t cap, const char *dir, const char *base)
{
    struct stat st;
    snprintf(buf, cap, "%s/%s", dir, base);
    if (stat(buf, &st) == 0) return true;
    snprintf(buf, cap, "%s/%s.gz", dir, base);
    return stat(buf, &st) == 0;
}

/* Checks the four files; prints every missing one. Returns true when all exist. */
static inline bool fmnist_check_data(const char *dir)
{
    char path[1024];
    int missing = 0;
    for (int i = 0; i < 4; i++) {
        if (fmnist_data_file(path, sizeof path, dir, fmnist_files[i])) continue;
        if (!missing++) fprintf(stderr, "error: Fashion-MNIST files missing in %s:\n", dir);
        fprintf(stderr, "  %s (or %s.gz)\n", fmnist_files[i], fmnist_files[i]);
    }
    if (missing)
        fprintf(stderr, "install them with: apt-get install dataset-fashion-mnist, or pass --data DIR\n");
    return missing == 0;
}

#endif /* AG_FMNIST_OPTIONS_H */
