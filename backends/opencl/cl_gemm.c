/* backends/opencl/cl_gemm.c — AGI_K_GEMM through CLBlast (row-major Sgemm /
 * SgemmStridedBatched, transposes and leading dims read from the view
 * strides), with the plain kernel in nn.cl for layouts CLBlast cannot take. */
#include "cl_internal.h"

#include <clblast_c.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec * 1e-6;
}

/* Profiling mode: host time of one CLBlast call, queue drained. */
static void prof_gemm(agi_backend_device *dev, double t0)
{
    clFinish(dev->queue);
    dev->prof_ms[AGCL_K_COUNT] += now_ms() - t0;
    dev->prof_calls[AGCL_K_COUNT]++;
}

void agcl_gemm_release(void) { CLBlastClearCache(); }

/* A [rows, cols] matrix with strides (sr, sc) as CLBlast row-major operand:
 * plain (ld = row stride) or transposed (ld = column stride). */
static bool mat_layout(int64_t rows, int64_t cols, int64_t sr, int64_t sc, CLBlastTranspose *t,
                       size_t *ld)
{
    if ((sc == 1 || cols == 1) && (rows == 1 || sr >= cols)) {
        *t = CLBlastTransposeNo;
        *ld = (size_t)(rows == 1 ? cols : sr);
        return true;
    }
    if ((sr == 1 || rows == 1) && (cols == 1 || sc >= rows)) {
        *t = CLBlastTransposeYes;
        *ld = (size_t)(cols == 1 ? rows : sc);
        return true;
    }
    return false;
}

static ag_status clblast_fail(CLBlastStatusCode s, const char *what)
{
    ag_status st = (s == CLBlastTempBufferAllocFailure || s == CLBlastOpenCLOutOfResources ||
                    s == CLBlastOpenCLOutOfHostMemory)
                       ? AG_ERR_OOM
                       : AG_ERR_DEVICE;
    return agi_set_error(st, "opencl: %s failed: CLBlast status %d", what, (int)s);
}

static ag_status gemm_naive(agi_backend_device *dev, const agi_kernel *k)
{
    const agi_view *a = &k->src[0], *b = &k->src[1], *c = &k->dst;
    agcl_gemm_args g;
    memset(&g, 0, sizeof g);
    g.m = c->shape[1];
    g.n = c->shape[2];
    g.k = a->shape[2];
    for (int i = 0; i < 3; i++) {
        g.sa[i] = a->strides[i];
        g.sb[i] = b->strides[i];
        g.sc[i] = c->strides[i];
    }
    g.aoff = a->offset;
    g.boff = b->offset;
    g.coff = c->offset;
    g.alpha = (float)k->p.s.f[0];
    g.beta = (float)k->p.s.f[1];
    cl_mem cm = c->buf->mem, am = a->buf->mem, bm = b->buf->mem;
    agcl_arg args[] = {AGCL_ARG(cm), AGCL_ARG(am), AGCL_ARG(bm), AGCL_ARG(g)};
    size_t global[3] = {(size_t)g.n, (size_t)g.m, (size_t)c->shape[0]};
    size_t local[3] = {8, 8, 1};
    return agcl_launch(dev, AGCL_K_gemm_naive_f32, 3, global, local, 4, args);
}

ag_status agcl_gemm(agi_backend_device *dev, const agi_kernel *k)
{
    const agi_view *a = &k->src[0], *b = &k->src[1], *c = &k->dst;
    ag_status st;
    if ((st = agcl_check_view(k, c, "dst", AG_F32)) || (st = agcl_check_view(k, a, "src0", AG_F32)) ||
        (st = agcl_check_view(k, b, "src1", AG_F32)))
        return st;
    if (a->ndim != 3 || b->ndim != 3 || c->ndim != 3)
        return agi_set_error(AG_ERR_INVALID, "opencl: gemm: operands must have ndim 3");
    int64_t B = c->shape[0], M = c->shape[1], N = c->shape[2], K = a->shape[2];
    if (a->shape[0] != B || b->shape[0] != B || a->shape[1] != M || b->shape[1] != K ||
        b->shape[2] != N)
        return agi_set_error(AG_ERR_INVALID,
                             "opencl: gemm: shapes [%lld,%lld,%lld] @ [%lld,%lld,%lld] -> "
                             "[%lld,%lld,%lld] do not match",
                             (long long)a->shape[0], (long long)a->shape[1], (long long)a->shape[2],
                             (long long)b->shape[0], (long long)b->shape[1], (long long)b->shape[2],
                             (long long)B, (long long)M, (long long)N);
    if (B > 1 && c->strides[0] == 0)
        return agi_set_error(AG_ERR_UNSUPPORTED,
                             "opencl: gemm with a broadcast (batch stride 0) output unsupported");
    float alpha = (float)k->p.s.f[0], beta = (float)k->p.s.f[1];
    CLBlastTranspose ta, tb, tc;
    size_t lda, ldb, ldc;
    bool ok = mat_layout(M, K, a->strides[1], a->strides[2], &ta, &lda) &&
              mat_layout(K, N, b->strides[1], b->strides[2], &tb, &ldb) &&
              mat_layout(M, N, c->strides[1], c->strides[2], &tc, &ldc) && tc == CLBlastTransposeNo;
    if (!ok || dev->gemm_naive_only) return gemm_naive(dev, k);
    /* beta == 0: CLBlast's store step multiplies by alpha only and never reads
     * C, so C's old contents (even NaN) are ignored as the contract needs. */
    CLBlastStatusCode s;
    double t0 = 0;
    if (dev->profile) {
        clFinish(dev->queue);
        t0 = now_ms();
    }
    if (B == 1) {
        size_t tmp = 0;
        s = CLBlastSGemmTempBufferSize(CLBlastLayoutRowMajor, ta, tb, (size_t)M, (size_t)N,
                                       (size_t)K, (size_t)a->offset, lda, (size_t)b->offset, ldb,
                                       (size_t)c->offset, ldc, &dev->queue, &tmp);
        if (s != CLBlastSuccess) return clblast_fail(s, "CLBlastSGemmTempBufferSize");
        if (tmp > 0 && (!dev->gemm_temp || dev->gemm_temp->cap < tmp)) {
            if (dev->gemm_temp) agcl_free_locked(dev, dev->gemm_temp);
            dev->gemm_temp = NULL;
            st = agcl_alloc_locked(dev, tmp, &dev->gemm_temp);
            if (st) return st;
        }
        s = CLBlastSgemmWithTempBuffer(CLBlastLayoutRowMajor, ta, tb, (size_t)M, (size_t)N,
                                       (size_t)K, alpha, a->buf->mem, (size_t)a->offset, lda,
                                       b->buf->mem, (size_t)b->offset, ldb, beta, c->buf->mem,
                                       (size_t)c->offset, ldc, &dev->queue, NULL,
                                       tmp > 0 ? dev->gemm_temp->mem : NULL);
        if (s != CLBlastSuccess) return clblast_fail(s, "CLBlastSgemm");
        dev->n_dispatches++;
        dev->drained = false;
        if (dev->profile) prof_gemm(dev, t0);
        return AG_OK;
    }
    s = CLBlastSgemmStridedBatched(CLBlastLayoutRowMajor, ta, tb, (size_t)M, (size_t)N, (size_t)K,
                                   alpha, a->buf->mem, (size_t)a->offset, lda,
                                   (size_t)a->strides[0], b->buf->mem, (size_t)b->offset, ldb,
                                   (size_t)b->strides[0], beta, c->buf->mem, (size_t)c->offset,
                                   ldc, (size_t)c->strides[0], (size_t)B, &dev->queue, NULL);
    if (s != CLBlastSuccess) return clblast_fail(s, "CLBlastSgemmStridedBatched");
    dev->n_dispatches++;
    if (dev->profile) prof_gemm(dev, t0);
    return AG_OK;
}
