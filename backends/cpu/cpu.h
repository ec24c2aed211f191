/*
 * backends/cpu/cpu.h — private declarations of the CPU backend.
 *
 * The CPU backend is the reference every other backend is compared with:
 * kernels run synchronously inside exec(), on host memory, with a small
 * pthread pool for the large ones. Files:
 *   cpu_device.c      devices, buffers, exec dispatch, supports, the vtable
 *   cpu_pool.c        the thread pool and parallel-for
 *   cpu_iter.c        strided index iteration over up to 8 dims, view checks
 *   cpu_elementwise.c FILL COPY UNARY BINARY WHERE
 *   cpu_reduce.c      REDUCE SOFTMAX SOFTMAX_BWD
 *   cpu_gemm.c        GEMM (CBLAS and the blocked C kernel)
 *   cpu_conv.c        IM2COL COL2IM MAXPOOL2D(+BWD) AVGPOOL2D(+BWD)
 *   cpu_index.c       GATHER SCATTER_ADD
 *   cpu_rng.c         RNG (Philox4x32-10)
 *   cpu_optim.c       SGD ADAM RMSPROP
 *   cpu_graph.c       pre-built kernel lists (graphs)
 *   cpu_fused.c       EW_FUSED (elementwise chains merged by graphs)
 */
#ifndef AG_CPU_H
#define AG_CPU_H

/* GCC's -O2 uses the "very cheap" vectorizer cost model, which skips loops
 * that need a runtime alias check or an epilogue: ask for the normal model so
 * the contiguous fast paths vectorize at -O2 as they do at -O3. */
#if defined(__GNUC__) && !defined(__clang__) && defined(__OPTIMIZE__)
#pragma GCC optimize("vect-cost-model=dynamic")
#endif

#include "backend.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

/* ---- Thread pool ---------------------------------------------------------- */

/* fn processes the index range [begin, end) of a parallel-for. */
typedef void (*cpu_range_fn)(void *ctx, int64_t begin, int64_t end);

typedef struct cpu_pool {
    int nthreads;          /* workers + the calling thread */
    pthread_t *workers;    /* nthreads - 1 */
    pthread_mutex_t mu;
    pthread_cond_t wake, done;
    pthread_mutex_t submit; /* one parallel region at a time */
    pid_t pid;              /* the process that owns the workers */
    uint64_t generation;
    int active;             /* workers still running the current job */
    bool stop;
    /* The current job. */
    cpu_range_fn fn;
    void *ctx;
    int64_t n, chunk;
    atomic_llong next;
} cpu_pool;

/* Starts nthreads - 1 workers. Returns false if the pool could not start (it
 * then runs everything on the calling thread). */
bool cpu_pool_init(cpu_pool *pool, int nthreads);
void cpu_pool_destroy(cpu_pool *pool);
/* Runs fn over [0, n) split into chunks of at least `grain` indices. Runs on
 * the calling thread when the work is small, the pool has one thread, or the
 * caller is already inside a parallel region. Returns when all is done. */
void cpu_parallel_for(cpu_pool *pool, int64_t n, int64_t grain, cpu_range_fn fn, void *ctx);

/* ---- Devices and buffers --------------------------------------------------- */

struct agi_buffer {
    void *data;    /* 64-byte aligned */
    size_t nbytes;
    size_t cap;    /* bytes allocated at data: nbytes rounded up to its size class */
    int cls;       /* size class (index into the cache's free lists) */
    struct agi_buffer *next; /* free-list link while cached */
};

/* Freed buffers are kept, per size class, for reuse (a training step frees
 * and re-allocates the same sizes every iteration; returning large blocks to
 * the OS each time costs page faults). The cache is bounded by cache_limit
 * bytes and is emptied when a fresh allocation fails or the device closes. */
#define CPU_CACHE_CLASSES 320

struct agi_backend_device {
    cpu_pool pool;
    bool gemm_blocked;       /* AG_CPU_GEMM=blocked: never use CBLAS */
    uint64_t memory_limit;   /* AG_CPU_MEMORY_LIMIT; 0 = none */
    atomic_ullong live_bytes; /* bytes of live buffers (nbytes rounded to 64) */
    pthread_mutex_t cache_mu;
    struct agi_buffer *cache[CPU_CACHE_CLASSES];
    size_t cache_bytes;      /* cap bytes of the cached buffers */
    size_t cache_limit;      /* AG_CPU_CACHE_BYTES; 0 = no caching */
    /* Counters (ag_device_counters). */
    atomic_ullong n_sys_allocs, n_sys_frees, sys_alloc_bytes, n_kernels;
};

typedef agi_backend_device cpu_device;

/* ---- Views ------------------------------------------------------------------ */

/* Checks that v has a buffer, the dtype, a sane rank and shape, and that every
 * element it addresses lies inside the buffer. Sets the error and returns
 * false otherwise. `what` names the view ("dst", "src0", ...). */
bool cpu_view_check(const char *kernel, const agi_view *v, ag_dtype dtype, const char *what);
/* Same as cpu_view_check but accepts any dtype. */
bool cpu_view_check_any(const char *kernel, const agi_view *v, const char *what);
/* True when a and b have the same rank and shape. */
bool cpu_same_shape(const agi_view *a, const agi_view *b);
/* Address of element 0 of the view (buffer data + offset). */
static inline void *cpu_view_ptr(const agi_view *v)
{
    return (char *)v->buf->data + (size_t)v->offset * ag_dtype_size(v->dtype);
}
/* "[2,3]" into a buffer of at least 192 bytes. */
const char *cpu_shape_str(char *buf, const agi_view *v);

/* Strided iteration over up to 4 same-shaped views, in row-major order of the
 * shape. Dims are coalesced first; the innermost dim is handed to `row`. */
#define CPU_ITER_MAX 4
typedef struct cpu_iter {
    int nv;
    int ndim;                              /* >= 1 after init */
    int64_t shape[AG_MAX_DIMS];
    int64_t strides[CPU_ITER_MAX][AG_MAX_DIMS];
    char *base[CPU_ITER_MAX];              /* element 0 of each view */
    size_t esize[CPU_ITER_MAX];
    int64_t numel;
} cpu_iter;

/* row(ctx, n, ptr[], stride[]): n elements along the inner dim; ptr[v] points
 * at view v's first element of the row, stride[v] counts elements. */
typedef void (*cpu_row_fn)(void *ctx, int64_t n, char *const *ptr, const int64_t *stride);

void cpu_iter_init(cpu_iter *it, const agi_view *const *views, int nv);
/* Visits flat positions [begin, end) of the iteration space. */
void cpu_iter_run(const cpu_iter *it, int64_t begin, int64_t end, cpu_row_fn row, void *ctx);
/* Runs the whole iteration, in parallel when numel >= grain. */
void cpu_iter_parallel(cpu_device *dev, const cpu_iter *it, int64_t grain, cpu_row_fn row,
                       void *ctx);

/* Work sizes above which kernels go parallel. */
#define CPU_GRAIN_ELEMENTWISE 32768
#define CPU_GRAIN_ROWS 4096

/* ---- Kernels (each validates its own views and returns AG_OK or an error) --- */

ag_status cpu_fill(cpu_device *dev, const agi_kernel *k);
ag_status cpu_copy(cpu_device *dev, const agi_kernel *k);
ag_status cpu_unary(cpu_device *dev, const agi_kernel *k);
ag_status cpu_binary(cpu_device *dev, const agi_kernel *k);
ag_status cpu_where(cpu_device *dev, const agi_kernel *k);
ag_status cpu_reduce(cpu_device *dev, const agi_kernel *k);
ag_status cpu_softmax(cpu_device *dev, const agi_kernel *k);
ag_status cpu_softmax_bwd(cpu_device *dev, const agi_kernel *k);
ag_status cpu_layer_norm(cpu_device *dev, const agi_kernel *k);
ag_status cpu_gemm(cpu_device *dev, const agi_kernel *k);
ag_status cpu_im2col(cpu_device *dev, const agi_kernel *k);
ag_status cpu_col2im(cpu_device *dev, const agi_kernel *k);
ag_status cpu_maxpool2d(cpu_device *dev, const agi_kernel *k);
ag_status cpu_maxpool2d_bwd(cpu_device *dev, const agi_kernel *k);
ag_status cpu_avgpool2d(cpu_device *dev, const agi_kernel *k);
ag_status cpu_avgpool2d_bwd(cpu_device *dev, const agi_kernel *k);
ag_status cpu_gather(cpu_device *dev, const agi_kernel *k);
ag_status cpu_scatter_add(cpu_device *dev, const agi_kernel *k);
ag_status cpu_rng(cpu_device *dev, const agi_kernel *k);
ag_status cpu_optim(cpu_device *dev, const agi_kernel *k);
ag_status cpu_ew_fused(cpu_device *dev, const agi_kernel *k);

/* The kernel function of an op (NULL for an unknown op). */
typedef ag_status (*cpu_kernel_fn)(cpu_device *dev, const agi_kernel *k);
cpu_kernel_fn cpu_kernel_for(agi_kernel_op op);
/* A validated record of a staged op with 16-bit data (agi_exec_staged16). */
ag_status cpu_exec_staged16(cpu_device *dev, const agi_kernel *k);
/* Bytes a buffer holds (for agi_kernel_validate). */
size_t cpu_buffer_bytes(const agi_buffer *buf);

/* ---- Graphs (cpu_graph.c) ---------------------------------------------------- */
ag_status cpu_list_build(agi_backend_device *dev, const agi_kernel *ks, int n,
                         agi_kernel_list **out);
ag_status cpu_list_run(agi_backend_device *dev, agi_kernel_list *list);
void cpu_list_free(agi_backend_device *dev, agi_kernel_list *list);

/* The blocked C GEMM on one matrix: C = alpha * A @ B + beta * C, with
 * element strides (row, col) for A [M, K], B [K, N] and C [M, N]. Uses the
 * pool when `pool` is non-NULL. Returns false when out of memory for packing. */
bool cpu_sgemm_blocked(cpu_pool *pool, int64_t M, int64_t N, int64_t K, float alpha,
                       const float *A, int64_t rsa, int64_t csa, const float *B, int64_t rsb,
                       int64_t csb, float beta, float *C, int64_t rsc, int64_t csc);

#endif /* AG_CPU_H */
