/* backends/gen_kernel_consts.c — a build-time tool: writes the constants of
 * kernel_ops.def as a header the GLSL and OpenCL C kernels include (both
 * languages have the C preprocessor), so shaders name ops instead of
 * numbering them:
 *
 *   #define AGI_U_GELU 14                      every enum of the registry
 *   #define AGI_FOREACH_UNARY(X) X(AGI_U_NEG, neg) ...
 *   #define AGI_FOREACH_BINARY_FLOAT(X) ...    binary sub-ops with a float result
 *
 * Usage: gen_kernel_consts OUT.h */
#include <stdio.h>

enum { AGI_RES_SAME, AGI_RES_U8, AGI_RES_I32 };

typedef struct entry {
    const char *enum_name, *name;
    int result;
} entry;

static const entry ops[] = {
#define AGI_OP(E, name, subs, views, params, ew, dtypes, half) {#E, #name, 0},
#include "kernel_ops.def"
};
static const entry unary[] = {
#define AGI_UNARY(E, name, nparams, dtypes, lo, hi, p0, p1) {#E, #name, AGI_RES_SAME},
#include "kernel_ops.def"
};
static const entry binary[] = {
#define AGI_BINARY(E, name, dtypes) {#E, #name, AGI_RES_SAME},
#define AGI_COMPARE(E, name, dtypes) {#E, #name, AGI_RES_U8},
#include "kernel_ops.def"
};
static const entry reduce[] = {
#define AGI_REDUCE(E, name, result, dtypes) {#E, #name, result},
#include "kernel_ops.def"
};
static const entry softmax[] = {
#define AGI_SOFTMAX_SUB(E, name) {#E, #name, 0},
#include "kernel_ops.def"
};
static const entry rng[] = {
#define AGI_RNG_SUB(E, name) {#E, #name, 0},
#include "kernel_ops.def"
};

#define N(a) (int)(sizeof a / sizeof a[0])

static void values(FILE *f, const entry *e, int n, const char *count)
{
    for (int i = 0; i < n; i++) fprintf(f, "#define %s %d\n", e[i].enum_name, i);
    if (count) fprintf(f, "#define %s %d\n", count, n);
}

static void foreach(FILE *f, const char *macro, const entry *e, int n, int only_same)
{
    fprintf(f, "#define %s(X)", macro);
    for (int i = 0; i < n; i++)
        if (!only_same || e[i].result == AGI_RES_SAME) fprintf(f, " \\\n    X(%s, %s)", e[i].enum_name, e[i].name);
    fprintf(f, "\n");
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUT.h\n", argv[0]);
        return 2;
    }
    FILE *f = fopen(argv[1], "w");
    if (!f) {
        perror(argv[1]);
        return 1;
    }
    fprintf(f, "/* Generated from backends/kernel_ops.def by backends/gen_kernel_consts.c. Do not edit. */\n"
               "#ifndef AGI_KERNEL_OPS_H\n#define AGI_KERNEL_OPS_H\n");
    values(f, ops, N(ops), "AGI_K_COUNT");
    values(f, unary, N(unary), "AGI_U_COUNT");
    values(f, binary, N(binary), "AGI_B_COUNT");
    values(f, reduce, N(reduce), "AGI_R_COUNT");
    values(f, softmax, N(softmax), NULL);
    values(f, rng, N(rng), NULL);
    foreach(f, "AGI_FOREACH_UNARY", unary, N(unary), 0);
    foreach(f, "AGI_FOREACH_BINARY_FLOAT", binary, N(binary), 1);
    fprintf(f, "#endif\n");
    return fclose(f) == 0 ? 0 : 1;
}
