/* backends/cpu/cpu_fused.c — EW_FUSED: a chain of elementwise f32 steps
 * (backends/base/fused_ops.h) in one pass over memory. Rows from cpu_iter
 * are cut into blocks; each step runs over a block in registers-as-arrays,
 * with the sub-op chosen once per block, so the inner loops stay simple. The
 * formulas are scalar_ops.h's, as for UNARY and BINARY. */
#include "cpu.h"
#include "base/scalar_ops.h"

enum { BLOCK = 256 };

static void unary_block(int sub, float *r, const float *x, int64_t n, float p0, float p1)
{
    switch (sub) {
#define AGI_UNARY(E, name, ...)                                                                    \
    case E:                                                                                        \
        for (int64_t i = 0; i < n; i++) r[i] = ag_un_##name(x[i], p0, p1);                         \
        break;
#include "kernel_ops.def"
    default: break;
    }
}

static void binary_block(int sub, float *r, const float *a, const float *b, int64_t n, float p0,
                         float p1)
{
    switch (sub) {
#define AGI_BINARY(E, name, dtypes)                                                                \
    case E:                                                                                        \
        for (int64_t i = 0; i < n; i++) r[i] = ag_bi_##name(a[i], b[i], p0, p1);                   \
        break;
#include "kernel_ops.def"
    default: break;
    }
}

static void fused_row(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    const agi_fused_params *f = ctx;
    float reg[AG_FUSED_NREGS][BLOCK];
    float *d = (float *)p[0];
    for (int64_t at = 0; at < n; at += BLOCK) {
        int64_t len = n - at < BLOCK ? n - at : BLOCK;
        for (int v = 0; v < f->nin; v++) {
            const float *src = (const float *)p[1 + v] + at * s[1 + v];
            for (int64_t i = 0; i < len; i++) reg[v][i] = src[i * s[1 + v]];
        }
        for (int j = 0; j < f->n; j++) {
            uint32_t c = f->code[j];
            float *r = reg[AG_FUSED_MAX_INPUTS + j];
            const float *a = reg[AG_FUSED_A(c)], *b = reg[AG_FUSED_B(c)];
            float p0 = f->p[j][0], p1 = f->p[j][1];
            switch (AG_FUSED_KIND(c)) {
            case AG_FUSED_CONST:
                for (int64_t i = 0; i < len; i++) r[i] = p0;
                break;
            case AG_FUSED_COPY:
                for (int64_t i = 0; i < len; i++) r[i] = a[i];
                break;
            case AG_FUSED_UNARY: unary_block((int)AG_FUSED_SUB(c), r, a, len, p0, p1); break;
            case AG_FUSED_BINARY: binary_block((int)AG_FUSED_SUB(c), r, a, b, len, p0, p1); break;
            }
        }
        const float *out = reg[AG_FUSED_MAX_INPUTS + f->n - 1];
        for (int64_t i = 0; i < len; i++) d[(at + i) * s[0]] = out[i];
    }
}

ag_status cpu_ew_fused(cpu_device *dev, const agi_kernel *k)
{
    const agi_fused_params *f = &k->p.fused;
    const agi_view *views[1 + AG_FUSED_MAX_INPUTS] = {&k->dst};
    for (int v = 0; v < f->nin; v++) views[1 + v] = &k->src[v];
    cpu_iter it;
    cpu_iter_init(&it, views, 1 + f->nin);
    cpu_iter_parallel(dev, &it, CPU_GRAIN_ELEMENTWISE / 8, fused_row, (void *)f);
    return AG_OK;
}
