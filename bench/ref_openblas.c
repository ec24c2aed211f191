/* bench/ref_openblas.c — the CPU GEMM reference: cblas_sgemm on the same shapes,
 * timed rep by rep alternately with the CPU backend (see bench_time_paired). */
#include "bench.h"

#include <stdlib.h>
#include <string.h>

#ifdef AG_BENCH_HAVE_CBLAS
#include <cblas.h>

typedef struct blas_ctx {
    const gemm_shape *s;
    float *a, *b, *c;
} blas_ctx;

static bool blas_run(void *p)
{
    blas_ctx *x = p;
    const gemm_shape *s = x->s;
    cblas_sgemm(CblasRowMajor, s->trans_a ? CblasTrans : CblasNoTrans, CblasNoTrans, s->m, s->n,
                s->k, 1.0f, x->a, s->trans_a ? s->m : s->k, x->b, s->n, 0.0f, x->c, s->n);
    return true;
}

static bool no_sync(void *p) { return true; }

/* e.g. "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64 (2 threads)" */
const char *bench_openblas_version(void)
{
    static char buf[256];
    snprintf(buf, sizeof buf, "%s (%d threads)", openblas_get_config(), openblas_get_num_threads());
    return buf;
}

void *bench_openblas_open(const gemm_shape *s, bench_timer *t, bench_result *r)
{
    blas_ctx *x = malloc(sizeof *x);
    if (!x) return NULL;
    *x = (blas_ctx){s, malloc((size_t)s->m * s->k * 4), malloc((size_t)s->k * s->n * 4),
                    malloc((size_t)s->m * s->n * 4)};
    if (!x->a || !x->b || !x->c) {
        bench_openblas_close(x);
        return NULL;
    }
    for (size_t j = 0; j < (size_t)s->m * s->k; j++) x->a[j] = (float)(j % 7) * 0.1f;
    for (size_t j = 0; j < (size_t)s->k * s->n; j++) x->b[j] = (float)(j % 5) * 0.1f;
    *t = (bench_timer){x, blas_run, no_sync};
    *r = (bench_result){0};
    snprintf(r->name, sizeof r->name, "%s", s->name);
    snprintf(r->device, sizeof r->device, "openblas");
    snprintf(r->device_name, sizeof r->device_name, "OpenBLAS cblas_sgemm");
    return x;
}

void bench_openblas_close(void *ctx)
{
    blas_ctx *x = ctx;
    if (!x) return;
    free(x->a);
    free(x->b);
    free(x->c);
    free(x);
}
#else
const char *bench_openblas_version(void) { return ""; }
void *bench_openblas_open(const gemm_shape *s, bench_timer *t, bench_result *r) { return NULL; }
void bench_openblas_close(void *ctx) {}
#endif
