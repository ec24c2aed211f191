/* backends/cpu/cpu_gemm.c — batched matrix product C = alpha A @ B + beta C.
 *
 * Two implementations:
 *  - CBLAS (OpenBLAS), used by default when built with AG_HAVE_CBLAS and the
 *    strides fit BLAS (one unit stride per matrix, leading dims large enough);
 *  - a blocked, packed, multithreaded C kernel (always compiled): B is packed
 *    in KC x NR panels, A in MR x KC panels (scaled by alpha), and an MR x NR
 *    register-blocked micro-kernel written with GCC vector extensions does the
 *    arithmetic. On x86-64 an AVX2+FMA copy of the micro-kernel is chosen at
 *    run time when the CPU has it. AG_CPU_GEMM=blocked forces this kernel.
 *    Threads: B blocks are packed in parallel, then tasks of (MC rows x a
 *    chunk of columns) run on the pool, each packing its own rows of A. Every
 *    C element is summed in the same order whatever the thread count. Many
 *    small products in a batch run one per thread instead.
 */
#include "cpu.h"

#include <stdlib.h>
#include <string.h>

#ifdef AG_HAVE_CBLAS
#include <cblas.h>
#endif

/* Micro-tile and cache blocks. MR x NR accumulators = 6 x 16 floats = 12
 * 256-bit registers. KC x NR panel of B (16 KiB) stays in L1, MC x KC of A in
 * L2, KC x NC of B in L3. */
#define MR 6
#define NR 16
#define KC 256
#define MC 96
#define NC 2048

#if defined(__GNUC__)
#define AG_VEC 1
typedef float v8f __attribute__((vector_size(32)));
#endif

/* ---- Packing ------------------------------------------------------------------ */

/* A block [mc, kc] (strides rsa, csa) → panels of MR rows: ap[panel][p][i], scaled
 * by alpha, zero-padded to a multiple of MR rows. */
static void pack_a(int64_t mc, int64_t kc, const float *a, int64_t rsa, int64_t csa, float alpha,
                   float *ap)
{
    for (int64_t i0 = 0; i0 < mc; i0 += MR) {
        int64_t mr = mc - i0 < MR ? mc - i0 : MR;
        const float *src = a + i0 * rsa;
        if (mr == MR && csa == 1) {
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++) ap[p * MR + i] = alpha * src[i * rsa + p];
        } else if (mr == MR && rsa == 1) {
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++) ap[p * MR + i] = alpha * src[p * csa + i];
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int i = 0; i < MR; i++)
                    ap[p * MR + i] = i < mr ? alpha * src[i * rsa + p * csa] : 0.0f;
        }
        ap += kc * MR;
    }
}

/* B block [kc, nc] (strides rsb, csb) → panels of NR columns: bp[panel][p][j],
 * zero-padded to a multiple of NR columns. */
static void pack_b(int64_t kc, int64_t nc, const float *b, int64_t rsb, int64_t csb, float *bp)
{
    for (int64_t j0 = 0; j0 < nc; j0 += NR) {
        int64_t nr = nc - j0 < NR ? nc - j0 : NR;
        const float *src = b + j0 * csb;
        if (nr == NR && csb == 1) {
            for (int64_t p = 0; p < kc; p++) memcpy(bp + p * NR, src + p * rsb, NR * sizeof(float));
        } else {
            for (int64_t p = 0; p < kc; p++)
                for (int j = 0; j < NR; j++)
                    bp[p * NR + j] = j < nr ? src[p * rsb + j * csb] : 0.0f;
        }
        bp += kc * NR;
    }
}

/* ---- Micro-kernel ------------------------------------------------------------- */

/* C[MR x NR] += ap panel @ bp panel over kc, straight into C (row stride ldc)
 * for a full tile, or into `tile` (row stride NR) for the caller to add. */
#define UKERNEL_BODY                                                                               \
    v8f acc[MR][2];                                                                                \
    _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++) acc[i][0] = acc[i][1] = (v8f){0};         \
    for (int64_t p = 0; p < kc; p++) {                                                             \
        v8f b0, b1;                                                                                \
        memcpy(&b0, bp + p * NR, sizeof b0);                                                       \
        memcpy(&b1, bp + p * NR + 8, sizeof b1);                                                   \
        _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++) {                                     \
            const float a = ap[p * MR + i];                                                        \
            acc[i][0] += a * b0;                                                                   \
            acc[i][1] += a * b1;                                                                   \
        }                                                                                          \
    }                                                                                              \
    if (c) {                                                                                       \
        _Pragma("GCC unroll 6") for (int i = 0; i < MR; i++) {                                     \
            v8f c0, c1;                                                                            \
            memcpy(&c0, c + i * ldc, sizeof c0);                                                   \
            memcpy(&c1, c + i * ldc + 8, sizeof c1);                                               \
            c0 += acc[i][0];                                                                       \
            c1 += acc[i][1];                                                                       \
            memcpy(c + i * ldc, &c0, sizeof c0);                                                   \
            memcpy(c + i * ldc + 8, &c1, sizeof c1);                                               \
        }                                                                                          \
    } else {                                                                                       \
        for (int i = 0; i < MR; i++) {                                                             \
            memcpy(tile + i * NR, &acc[i][0], sizeof acc[i][0]);                                   \
            memcpy(tile + i * NR + 8, &acc[i][1], sizeof acc[i][1]);                               \
        }                                                                                          \
    }

#define UKERNEL_ARGS                                                                               \
    int64_t kc, const float *restrict ap, const float *restrict bp, float *restrict c,             \
        int64_t ldc, float *restrict tile

#ifdef AG_VEC
static void ukernel_generic(UKERNEL_ARGS)
{
    UKERNEL_BODY
}
#if defined(__x86_64__)
#if !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=fast") /* clang contracts a * b + c by default */
#endif
__attribute__((target("avx2,fma"))) static void ukernel_avx2(UKERNEL_ARGS)
{
    UKERNEL_BODY
}
#if !defined(__clang__)
#pragma GCC pop_options
#endif
#define HAVE_AVX2_KERNEL 1
#endif
#else
static void ukernel_generic(UKERNEL_ARGS)
{
    float acc[MR][NR] = {{0}};
    for (int64_t p = 0; p < kc; p++)
        for (int i = 0; i < MR; i++)
            for (int j = 0; j < NR; j++) acc[i][j] += ap[p * MR + i] * bp[p * NR + j];
    for (int i = 0; i < MR; i++)
        for (int j = 0; j < NR; j++) {
            if (c) c[i * ldc + j] += acc[i][j];
            else tile[i * NR + j] = acc[i][j];
        }
}
#endif

typedef void (*ukernel_fn)(UKERNEL_ARGS);

static ukernel_fn pick_ukernel(void)
{
#ifdef HAVE_AVX2_KERNEL
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return ukernel_avx2;
#endif
    return ukernel_generic;
}

/* ---- Blocked driver ----------------------------------------------------------- */

typedef struct gemm_job {
    int64_t M, N, K;
    float alpha;
    const float *A;
    int64_t rsa, csa;
    float *C;
    int64_t rsc, csc;
    /* current (jc, pc) block */
    int64_t jc, nc, pc, kc;
    const float *bp; /* packed B block */
    int64_t mc;      /* rows per task */
    int64_t cchunk, nchunks; /* columns per task (a multiple of NR) and their count */
    ukernel_fn uk;
    const float *B; /* unpacked B, for the no-memory fallback */
    int64_t rsb, csb;
} gemm_job;

/* Packs NR-column panels [begin, end) of the current B block. */
typedef struct packb_job {
    int64_t kc, nc, rsb, csb;
    const float *b;
    float *bp;
} packb_job;

static void packb_range(void *ctx, int64_t begin, int64_t end)
{
    const packb_job *j = ctx;
    int64_t j0 = begin * NR, j1 = end * NR < j->nc ? end * NR : j->nc;
    pack_b(j->kc, j1 - j0, j->b + j0 * j->csb, j->rsb, j->csb, j->bp + begin * j->kc * NR);
}

/* One task: rows [ic, ic + mc) and one chunk of columns of the current block. */
static void gemm_task(void *ctx, int64_t begin, int64_t end)
{
    gemm_job *j = ctx;
    float tile[MR * NR] __attribute__((aligned(64)));
    float *ap = aligned_alloc(64, (size_t)(j->mc + MR) * KC * sizeof(float));
    for (int64_t t = begin; t < end; t++) {
        int64_t ic = (t / j->nchunks) * j->mc;
        int64_t mc = j->M - ic < j->mc ? j->M - ic : j->mc;
        int64_t c0 = (t % j->nchunks) * j->cchunk;
        int64_t c1 = c0 + j->cchunk < j->nc ? c0 + j->cchunk : j->nc;
        if (!ap) {
            /* Out of memory for packing: a plain loop that needs none. */
            for (int64_t i = ic; i < ic + mc; i++)
                for (int64_t p = j->pc; p < j->pc + j->kc; p++) {
                    const float a = j->alpha * j->A[i * j->rsa + p * j->csa];
                    for (int64_t jj = j->jc + c0; jj < j->jc + c1; jj++)
                        j->C[i * j->rsc + jj * j->csc] += a * j->B[p * j->rsb + jj * j->csb];
                }
            continue;
        }
        pack_a(mc, j->kc, j->A + ic * j->rsa + j->pc * j->csa, j->rsa, j->csa, j->alpha, ap);
        for (int64_t jr = c0; jr < c1; jr += NR) {
            int64_t nr = c1 - jr < NR ? c1 - jr : NR;
            const float *bpanel = j->bp + (jr / NR) * j->kc * NR;
            for (int64_t ir = 0; ir < mc; ir += MR) {
                int64_t mr = mc - ir < MR ? mc - ir : MR;
                float *c = j->C + (ic + ir) * j->rsc + (j->jc + jr) * j->csc;
                const float *apanel = ap + (ir / MR) * j->kc * MR;
                if (j->csc == 1 && nr == NR && mr == MR) {
                    j->uk(j->kc, apanel, bpanel, c, j->rsc, NULL);
                } else {
                    j->uk(j->kc, apanel, bpanel, NULL, 0, tile);
                    for (int64_t i = 0; i < mr; i++)
                        for (int64_t jj = 0; jj < nr; jj++)
                            c[i * j->rsc + jj * j->csc] += tile[i * NR + jj];
                }
            }
        }
    }
    free(ap);
}

/* Scales C by beta (beta == 0 writes zeros, ignoring NaN in C). */
static void scale_c(int64_t M, int64_t N, float beta, float *C, int64_t rsc, int64_t csc)
{
    if (beta == 1.0f) return;
    for (int64_t i = 0; i < M; i++) {
        float *c = C + i * rsc;
        if (csc == 1) {
            if (beta == 0.0f) memset(c, 0, (size_t)N * sizeof(float));
            else for (int64_t j = 0; j < N; j++) c[j] *= beta;
        } else {
            for (int64_t j = 0; j < N; j++) c[j * csc] = beta == 0.0f ? 0.0f : c[j * csc] * beta;
        }
    }
}

static ukernel_fn the_ukernel;
static pthread_once_t ukernel_once = PTHREAD_ONCE_INIT;
static void init_ukernel(void) { the_ukernel = pick_ukernel(); }

bool cpu_sgemm_blocked(cpu_pool *pool, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t rsa, int64_t csa, const float *B, int64_t rsb,
                       int64_t csb, float beta, float *C, int64_t rsc, int64_t csc)
{
    pthread_once(&ukernel_once, init_ukernel);
    scale_c(M, N, beta, C, rsc, csc);
    if (alpha == 0.0f || K == 0) return true;
    int64_t nc_max = N < NC ? N : NC;
    int64_t kc_max = K < KC ? K : KC;
    size_t bp_floats = (size_t)((nc_max + NR - 1) / NR * NR) * (size_t)kc_max;
    float *bp = aligned_alloc(64, ((bp_floats * sizeof(float) + 63) / 64) * 64);
    if (!bp) return false;
    gemm_job j = {.M = M, .N = N, .K = K, .alpha = alpha, .A = A, .rsa = rsa, .csa = csa,
                  .C = C, .rsc = rsc, .csc = csc, .bp = bp, .uk = the_ukernel};
    /* Rows per task: MC, or fewer so that every thread gets work. */
    int nthreads = pool ? pool->nthreads : 1;
    int64_t mc = MC;
    if (nthreads > 1 && (M + mc - 1) / mc < nthreads * 2) {
        mc = (M + nthreads * 2 - 1) / (nthreads * 2);
        mc = (mc + MR - 1) / MR * MR;
        if (mc < MR) mc = MR;
    }
    j.mc = mc;
    int64_t ntasks = (M + mc - 1) / mc;
    j.B = B;
    j.rsb = rsb;
    j.csb = csb;
    /* Parallel only when there is enough arithmetic to pay for waking threads. */
    int64_t grain = (double)M * (double)N * (double)K < 2.0e6 ? ntasks : 1;
    for (int64_t jc = 0; jc < N; jc += NC) {
        int64_t nc = N - jc < NC ? N - jc : NC;
        for (int64_t pc = 0; pc < K; pc += KC) {
            int64_t kc = K - pc < KC ? K - pc : KC;
            packb_job pj = {kc, nc, rsb, csb, B + pc * rsb + jc * csb, bp};
            int64_t panels = (nc + NR - 1) / NR;
            cpu_parallel_for(pool, panels, grain == 1 ? 8 : panels, packb_range, &pj);
            j.jc = jc;
            j.nc = nc;
            j.pc = pc;
            j.kc = kc;
            /* Few row blocks (small M): split the columns as well. */
            int64_t split = 1;
            if (grain == 1 && ntasks < 2 * nthreads) {
                split = (2 * nthreads + ntasks - 1) / ntasks;
                if (split > panels) split = panels;
            }
            j.cchunk = (panels + split - 1) / split * NR;
            j.nchunks = (nc + j.cchunk - 1) / j.cchunk;
            cpu_parallel_for(pool, ntasks * j.nchunks, grain == 1 ? 1 : ntasks * j.nchunks,
                             gemm_task, &j);
        }
    }
    free(bp);
    return true;
}

/* ---- CBLAS -------------------------------------------------------------------- */

#ifdef AG_HAVE_CBLAS
/* Whether a [rows, cols] matrix with element strides (rs, cs) is a BLAS
 * row-major operand; sets trans and the leading dimension. */
static bool blas_operand(int64_t rows, int64_t cols, int64_t rs, int64_t cs,
                         enum CBLAS_TRANSPOSE *trans, int64_t *ld)
{
    if (cs == 1 || cols == 1) {
        int64_t l = rows == 1 ? cols : rs;
        if (l >= cols && l >= 1) {
            *trans = CblasNoTrans;
            *ld = l;
            return true;
        }
    }
    if (rs == 1 || rows == 1) {
        int64_t l = cols == 1 ? rows : cs;
        if (l >= rows && l >= 1) {
            *trans = CblasTrans;
            *ld = l;
            return true;
        }
    }
    return false;
}

/* CBLAS products run single-threaded inside OpenBLAS, in parallel on the
 * backend's own pool: over the batch when it has enough entries, else over
 * blocks of rows or columns of C. OpenBLAS's own threads busy-wait
 * (sched_yield) for a while after every threaded call; with the pool also
 * running (im2col, pooling, elementwise kernels) on a machine with few cores
 * they compete for the same cores (measured: 15-20% of the CNN step's CPU time
 * in __schedule/sched_yield when the linear layers' products used them). On
 * the MLP step the split measured the same as OpenBLAS's own threading. */
typedef struct blas_job {
    enum CBLAS_TRANSPOSE ta, tb;
    int64_t M, N, K;
    float alpha, beta;
    const float *A, *B;
    float *C;
    int64_t lda, ldb, ldc;
    int64_t sa, sb, sc; /* batch strides */
    int64_t parts;      /* blocks per product */
    int64_t block;      /* rows (split_m) or columns per block */
    bool split_m;
} blas_job;

static void blas_range(void *ctx, int64_t begin, int64_t end)
{
    const blas_job *j = ctx;
    for (int64_t t = begin; t < end; t++) {
        int64_t i = t / j->parts, part = t % j->parts;
        const float *A = j->A + i * j->sa, *B = j->B + i * j->sb;
        float *C = j->C + i * j->sc;
        int64_t M = j->M, N = j->N;
        if (j->parts > 1) {
            int64_t b0 = part * j->block, len = j->block;
            if (j->split_m) {
                if (b0 >= M) continue;
                if (len > M - b0) len = M - b0;
                A += j->ta == CblasNoTrans ? b0 * j->lda : b0;
                C += b0 * j->ldc;
                M = len;
            } else {
                if (b0 >= N) continue;
                if (len > N - b0) len = N - b0;
                B += j->tb == CblasNoTrans ? b0 : b0 * j->ldb;
                C += b0;
                N = len;
            }
        }
        /* beta == 0 must ignore C's old contents, NaN included: OpenBLAS
         * does (its beta = 0 paths store zeros, they never scale C). */
        cblas_sgemm(CblasRowMajor, j->ta, j->tb, (int)M, (int)N, (int)j->K, j->alpha, A,
                    (int)j->lda, B, (int)j->ldb, j->beta, C, (int)j->ldc);
    }
}

static void blas_run(cpu_device *dev, int64_t batch, blas_job *j)
{
    const int nthreads = dev->pool.nthreads;
    const double work = (double)j->M * (double)j->N * (double)j->K;
    int64_t grain = 1;
    j->parts = 1;
    j->block = 0;
    j->split_m = false;
    if (nthreads > 1 && batch < 2 * nthreads && work >= 1.0e6) {
        /* Few big products: split each one into blocks of 16 rows or columns. */
        int64_t want = (2 * nthreads + batch - 1) / batch;
        j->split_m = j->M > j->N;
        int64_t len = j->split_m ? j->M : j->N;
        int64_t block = (len + want - 1) / want;
        block = (block + 15) / 16 * 16;
        j->block = block;
        j->parts = (len + block - 1) / block;
    } else {
        /* Many products: whole products per task, enough of them to pay for a wake-up. */
        grain = work >= 2.0e5 ? 1 : (int64_t)(2.0e5 / (work + 1.0)) + 1;
    }
    int prev = openblas_get_num_threads();
    if (prev != 1) openblas_set_num_threads(1);
    cpu_parallel_for(&dev->pool, batch * j->parts, grain, blas_range, j);
    if (prev != 1) openblas_set_num_threads(prev);
}
#endif

/* ---- The kernel ----------------------------------------------------------------- */

typedef struct batch_job {
    const agi_kernel *k;
    atomic_bool failed;
    const float *A, *B;
    float *C;
    float alpha, beta;
} batch_job;

static void gemm_batch_range(void *ctx, int64_t begin, int64_t end)
{
    batch_job *j = ctx;
    const agi_view *a = &j->k->src[0], *b = &j->k->src[1], *c = &j->k->dst;
    int64_t M = c->shape[1], N = c->shape[2], K = a->shape[2];
    for (int64_t i = begin; i < end; i++)
        if (!cpu_sgemm_blocked(NULL, M, N, K, j->alpha, j->A + i * a->strides[0], a->strides[1],
                               a->strides[2], j->B + i * b->strides[0], b->strides[1],
                               b->strides[2], j->beta, j->C + i * c->strides[0], c->strides[1],
                               c->strides[2]))
            atomic_store(&j->failed, true);
}

ag_status cpu_gemm(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "gemm";
    const agi_view *a = &k->src[0], *b = &k->src[1], *c = &k->dst;
    if (!cpu_view_check(kn, c, AG_F32, "dst") || !cpu_view_check(kn, a, AG_F32, "src0") ||
        !cpu_view_check(kn, b, AG_F32, "src1"))
        return ag_last_status();
    if (a->ndim != 3 || b->ndim != 3 || c->ndim != 3 || a->shape[0] != c->shape[0] ||
        b->shape[0] != c->shape[0] || a->shape[1] != c->shape[1] || b->shape[2] != c->shape[2] ||
        a->shape[2] != b->shape[1]) {
        char sa[192], sb[192], sc[192];
        return agi_set_error(AG_ERR_INVALID,
                             "cpu: gemm: shapes must be A [B,M,K], B [B,K,N], C [B,M,N]: got %s @ %s -> %s",
                             cpu_shape_str(sa, a), cpu_shape_str(sb, b), cpu_shape_str(sc, c));
    }
    const int64_t batch = c->shape[0], M = c->shape[1], N = c->shape[2], K = a->shape[2];
    const float alpha = (float)k->p.s.f[0], beta = (float)k->p.s.f[1];
    const float *A = cpu_view_ptr(a), *B = cpu_view_ptr(b);
    float *C = cpu_view_ptr(c);

#ifdef AG_HAVE_CBLAS
    enum CBLAS_TRANSPOSE ta, tb, tc;
    int64_t lda, ldb, ldc;
    if (!dev->gemm_blocked && blas_operand(M, K, a->strides[1], a->strides[2], &ta, &lda) &&
        blas_operand(K, N, b->strides[1], b->strides[2], &tb, &ldb) &&
        blas_operand(M, N, c->strides[1], c->strides[2], &tc, &ldc) && tc == CblasNoTrans &&
        lda <= INT32_MAX && ldb <= INT32_MAX && ldc <= INT32_MAX && M <= INT32_MAX &&
        N <= INT32_MAX && K <= INT32_MAX) {
        blas_job j = {.ta = ta, .tb = tb, .M = M, .N = N, .K = K, .alpha = alpha, .beta = beta,
                      .A = A, .B = B, .C = C, .lda = lda, .ldb = ldb, .ldc = ldc,
                      .sa = a->strides[0], .sb = b->strides[0], .sc = c->strides[0]};
        blas_run(dev, batch, &j);
        return AG_OK;
    }
#endif
    /* Many small products: one thread per product. Else parallel inside each. */
    if (batch > 1 && (double)M * (double)N * (double)K < 1.0e6) {
        batch_job j = {.k = k, .A = A, .B = B, .C = C, .alpha = alpha, .beta = beta};
        atomic_init(&j.failed, false);
        double work = (double)M * (double)N * (double)K;
        int64_t grain = work >= 1.0e5 ? 1 : (int64_t)(1.0e5 / (work + 1.0)) + 1;
        cpu_parallel_for(&dev->pool, batch, grain, gemm_batch_range, &j);
        if (atomic_load(&j.failed))
            return agi_set_error(AG_ERR_OOM, "cpu: gemm: out of host memory for packing");
        return AG_OK;
    }
    for (int64_t i = 0; i < batch; i++)
        if (!cpu_sgemm_blocked(&dev->pool, M, N, K, alpha, A + i * a->strides[0], a->strides[1],
                               a->strides[2], B + i * b->strides[0], b->strides[1], b->strides[2],
                               beta, C + i * c->strides[0], c->strides[1], c->strides[2]))
            return agi_set_error(AG_ERR_OOM, "cpu: gemm: out of host memory for packing");
    return AG_OK;
}
