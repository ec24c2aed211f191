/* bench/cases_gemm.c — square and DeepBench GEMM shapes through ag_matmul (on the
 * CPU backend timed alternately with OpenBLAS on the same shape). */
#include "bench.h"

#include <string.h>

const gemm_shape bench_gemm_shapes[] = {
    {"gemm_256", 256, 256, 256, false, false},
    {"gemm_1024", 1024, 1024, 1024, false, false},
    {"gemm_2048", 2048, 2048, 2048, false, false},
    {"gemm_4096", 4096, 4096, 4096, false, true},
    {"gemm_1760x128x1760", 1760, 128, 1760, false, false},
    {"gemm_2560x64x2560", 2560, 64, 2560, false, false},
    {"gemm_3072x128x1024_tA", 3072, 128, 1024, true, false},
    {"gemv_3072x1x1024", 3072, 1, 1024, false, false},
    /* 16-bit storage, f32 accumulation (f16 on matrix units where the device has them) */
    {"gemm_1024_f16", 1024, 1024, 1024, false, false, AG_F16},
    {"gemm_1024_bf16", 1024, 1024, 1024, false, false, AG_BF16},
    {"gemm_4096_f16", 4096, 4096, 4096, false, true, AG_F16},
    {"gemm_4096_bf16", 4096, 4096, 4096, false, true, AG_BF16},
};
const int bench_gemm_shape_count = sizeof bench_gemm_shapes / sizeof bench_gemm_shapes[0];

typedef struct gemm_ctx {
    ag_device *dev;
    ag_tensor *a, *b; /* a is [M, K] (or a transposed view of [K, M]), b [K, N] */
} gemm_ctx;

static bool gemm_run(void *p)
{
    gemm_ctx *c = p;
    ag_scope_begin();
    bool ok = ag_matmul(c->a, c->b) != NULL;
    ag_scope_end();
    return ok;
}

static bool dev_sync(void *p) { return ag_device_sync(((gemm_ctx *)p)->dev) == AG_OK; }

static bool is_gpu(ag_device *dev)
{
    ag_device_type t = ag_device_get_info(dev)->type;
    return t == AG_DEVICE_DISCRETE_GPU || t == AG_DEVICE_INTEGRATED_GPU;
}

void bench_cases_gemm(const bench_config *cfg, ag_device *dev, bool openblas, bench_emit emit,
                      void *user)
{
    for (int i = 0; i < bench_gemm_shape_count; i++) {
        const gemm_shape *s = &bench_gemm_shapes[i];
        if (cfg->filter && !strstr(s->name, cfg->filter)) continue;
        if (s->gpu_only && !is_gpu(dev)) continue;
        if (cfg->quick && (s->m > 1024 && s->n > 1024)) continue;
        bench_result r = {0};
        snprintf(r.name, sizeof r.name, "%s", s->name);
        ag_scope_begin();
        gemm_ctx c = {dev, NULL, NULL};
        c.a = s->trans_a ? ag_t(ag_randn(dev, AG_SHAPE(s->k, s->m))) : ag_randn(dev, AG_SHAPE(s->m, s->k));
        c.b = ag_randn(dev, AG_SHAPE(s->k, s->n));
        bench_timer t = {&c, gemm_run, dev_sync}, ref_t;
        bench_result ref_r;
        if (s->dtype != AG_F32 && c.a && c.b) {
            c.a = ag_cast(c.a, s->dtype);
            c.b = ag_cast(c.b, s->dtype);
        }
        void *ref = openblas && !s->gpu_only && s->dtype == AG_F32 ? bench_openblas_open(s, &ref_t, &ref_r) : NULL;
        if (c.a && c.b && ref) bench_time_paired(cfg, &t, &r, &ref_t, &ref_r);
        else if (c.a && c.b) bench_time(cfg, &t, &r);
        else snprintf(r.error, sizeof r.error, "%s", ag_last_error());
        ag_scope_end();
        bench_set_throughput(&r, UNIT_GFLOPS, 2.0 * s->m * s->n * s->k);
        emit(&r, user);
        if (ref) {
            bench_set_throughput(&ref_r, UNIT_GFLOPS, 2.0 * s->m * s->n * s->k);
            emit(&ref_r, user);
            bench_openblas_close(ref);
        }
    }
}
