/*
 * backends/opencl/cl_internal.h — what the OpenCL backend's files share: the
 * device and buffer structs, the kernel table and the host mirrors of the
 * kernel argument structs in the shaders/opencl kernels.
 */
#ifndef AG_CL_INTERNAL_H
#define AG_CL_INTERNAL_H

#include "backend.h"

#include <CL/cl.h>
#include <pthread.h>

/* Every kernel of the program, by name: this list, then one unary_<name>
 * per agi_unary_op and one binary_<name> per agi_binary_op with a float
 * result, both in kernel_ops.def order (their names come from it). */
#define AGCL_KERNELS(X)                                                                           \
    X(fill_u32) X(fill_u8) X(copy_u32_u32) X(copy_u8_u8) X(copy_f32_i32) X(copy_f32_u8)          \
    X(copy_i32_f32) X(copy_i32_u8) X(copy_u8_f32) X(copy_u8_i32)                                 \
    /* elementwise_half.cl */                                                                     \
    X(unary_h16) X(binary_h16) X(fill_u16) X(copy_f32_f16) X(copy_f32_bf16) X(copy_i32_f16) X(copy_i32_bf16) X(copy_u8_f16) X(copy_u8_bf16) \
    X(copy_f16_f32) X(copy_f16_i32) X(copy_f16_u8) X(copy_f16_f16) X(copy_f16_bf16) X(copy_bf16_f32) X(copy_bf16_i32) X(copy_bf16_u8) X(copy_bf16_f16) X(copy_bf16_bf16) \
    X(binary_i32) X(compare_f32) X(compare_i32) X(where_u32) X(reduce_rows_f32)                  \
    X(reduce_wg_f32) X(reduce_part_f32) X(argreduce_rows_f32) X(argreduce_wg_f32)                \
    X(softmax_rows_f32) X(softmax_wg_f32) X(softmax_bwd_rows_f32) X(softmax_bwd_wg_f32)          \
    X(softmax_rows_f16) X(softmax_wg_f16) X(softmax_bwd_rows_f16) X(softmax_bwd_wg_f16)          \
    X(softmax_rows_bf16) X(softmax_wg_bf16) X(softmax_bwd_rows_bf16) X(softmax_bwd_wg_bf16)      \
    X(layer_norm_rows_f32) X(layer_norm_wg_f32) X(layer_norm_rows_f16) X(layer_norm_wg_f16)      \
    X(layer_norm_rows_bf16) X(layer_norm_wg_bf16)                                                \
    X(im2col_f32) X(im2col_rows_f32) X(col2im_f32) X(col2im_rows_f32) X(maxpool2d_f32) X(maxpool2d_rows_f32) X(maxpool2d_bwd_f32) X(avgpool2d_f32)           \
    X(avgpool2d_bwd_f32) X(gemm_naive_f32) X(gather_u32) X(scatter_add_atomic_f32)               \
    X(scatter_add_det_f32) X(rng_f32) X(sgd_f32) X(adam_f32) X(rmsprop_f32) X(ew_fused_f32)

#define AGCL_ENUM(name) AGCL_K_##name,
typedef enum {
    AGCL_KERNELS(AGCL_ENUM)
    AGCL_K_UNARY0,                              /* + agi_unary_op */
    AGCL_K_BINARY0 = AGCL_K_UNARY0 + AGI_U_COUNT, /* + agi_binary_op (comparison slots stay empty) */
    AGCL_K_COUNT = AGCL_K_BINARY0 + AGI_B_COUNT
} agcl_kernel_id;
#undef AGCL_ENUM

/* Pooled buffers: freed buffers wait in a free list per size class. */
#define AGCL_NUM_CLASSES 128

struct agi_buffer {
    cl_mem mem;
    size_t cap;        /* bytes actually allocated (the size class) */
    size_t nbytes;     /* bytes asked for (views must stay inside) */
    int cls;
    struct agi_buffer *next;
};

struct agi_backend_device {
    cl_platform_id platform;
    cl_device_id device;
    cl_context ctx;
    cl_command_queue queue;
    cl_program program;
    cl_kernel kernels[AGCL_K_COUNT];
    size_t kernel_wg[AGCL_K_COUNT]; /* CL_KERNEL_WORK_GROUP_SIZE of each */
    pthread_mutex_t lock;
    ag_device_info info;
    bool is_cpu;
    size_t max_wg;          /* CL_DEVICE_MAX_WORK_GROUP_SIZE */
    size_t ew_local;        /* work-group size for elementwise kernels */
    size_t red_local;       /* work-group size for tree reductions (power of two) */
    uint64_t mem_total;     /* CL_DEVICE_GLOBAL_MEM_SIZE */
    uint64_t max_alloc;     /* CL_DEVICE_MAX_MEM_ALLOC_SIZE */
    uint64_t mem_used;      /* bytes in live + pooled buffers */
    uint64_t pooled_bytes;  /* bytes waiting in the free lists */
    /* Counters (ag_device_counters), under the lock. */
    uint64_t n_driver_allocs, n_driver_frees, driver_alloc_bytes, n_dispatches, n_host_waits;
    bool drained; /* nothing queued since the queue last drained: a blocking
                     read then waits for no work (not counted as a host wait) */
    agi_buffer *free_lists[AGCL_NUM_CLASSES];
    agi_buffer *gemm_temp;  /* CLBlast scratch, grown on demand */
    /* Host copies of queued (non-blocking) writes, freed once the queue has
     * drained past them (after a blocking read, a sync or close). */
    struct agcl_staged *staged;
    size_t staged_bytes;
    /* AG_OPENCL_PROFILE=1: every launch waits and its device time is summed
     * per kernel (plus host time of CLBlast calls); printed at close. */
    bool profile;
    /* AG_OPENCL_GEMM=naive: every GEMM through gemm_naive_f32 (testing). */
    bool gemm_naive_only;
    double prof_ms[AGCL_K_COUNT + 1];
    long prof_calls[AGCL_K_COUNT + 1];
    /* While list_build records (cl_graph.c): launches become list steps. */
    agi_kernel_list *rec;
};

typedef struct agcl_staged {
    struct agcl_staged *next;
    size_t nbytes;
} agcl_staged;

/* Host mirror of geom_t (00_common.cl): up to 4 same-shaped views. */
typedef struct {
    cl_long shape[8];
    cl_long st[32];
    cl_long off[4];
    cl_long n;
    cl_long rows; /* > 0: one work-item per row of the last dim */
    cl_int ndim;
    cl_int contig;
} agcl_geom;

/* Host mirror of rgeom_t (reduce.cl). */
typedef struct {
    cl_long kshape[8], kst_s[8], kst_d[8], rshape[8], rst[8];
    cl_long s_off, d_off, nout, nred;
    cl_int knd, rnd;
} agcl_rgeom;

/* Host mirror of sgeom_t (index.cl). */
typedef struct {
    cl_long dshape[8], sshape[8], dst_st[8], src_st[8], idx_st[8];
    cl_long doff, soff, ioff, n;
    cl_int ndim, dim;
    cl_int err_code, pad; /* > 0: store it in the error word on an out-of-range index */
} agcl_sgeom;

/* Host mirror of gemm_t (nn.cl). */
typedef struct {
    cl_long m, n, k;
    cl_long sa[3], sb[3], sc[3];
    cl_long aoff, boff, coff;
    cl_float alpha, beta;
} agcl_gemm_args;

/* Host mirror of optim_t (optim.cl). */
typedef struct {
    cl_float lr, weight_decay, momentum, dampening, beta1, beta2, eps, bias1, bias2;
    cl_int nesterov, first_step, decoupled;
} agcl_optim;

/* cl_device.c */
const char *agcl_error_name(cl_int err);
/* Maps an OpenCL error to a status with a message naming `what`. */
ag_status agcl_fail(cl_int err, const char *what);
/* Pool allocation used by the front end and by internal scratch buffers
 * (caller holds dev->lock). */
ag_status agcl_alloc_locked(agi_backend_device *dev, size_t nbytes, agi_buffer **out);
void agcl_free_locked(agi_backend_device *dev, agi_buffer *buf);

/* Name of a kernel of the program. */
const char *agcl_kernel_name(agcl_kernel_id id);

/* cl_program.c */
ag_status agcl_build_program(agi_backend_device *dev);
/* The program text exactly as the backend builds it: every embedded
 * shaders/opencl source concatenated in name order (malloc'd; NULL on OOM). */
char *agcl_program_source(void);
/* The build options for a device of OpenCL C version major.minor, with or
 * without correctly rounded f32 divide/sqrt (tests/portability checks every
 * combination with a strict compiler). */
void agcl_build_options(int major, int minor, bool correctly_rounded_div_sqrt, char *out,
                        size_t cap);

/* cl_exec.c */
ag_status agcl_exec(agi_backend_device *dev, const agi_kernel *k);
/* A kernel argument: `size` bytes at `ptr` (ptr NULL: local memory). */
typedef struct {
    size_t size;
    const void *ptr;
} agcl_arg;
#define AGCL_ARG(x) ((agcl_arg){sizeof(x), &(x)})
#define AGCL_LOCAL(bytes) ((agcl_arg){(bytes), NULL})
/* Sets the arguments and enqueues a `dims`-D range of global[] work-items
 * (each rounded up to a multiple of local[]; local NULL: the runtime picks). */
ag_status agcl_launch(agi_backend_device *dev, agcl_kernel_id id, int dims, const size_t *global,
                      const size_t *local, int nargs, const agcl_arg *args);
/* Checks that a view lies inside its buffer with sane geometry; `dtype` < 0
 * accepts any dtype. Sets an AG_ERR_INVALID/UNSUPPORTED message on failure. */
ag_status agcl_check_view(const agi_kernel *k, const agi_view *v, const char *which, int dtype);

/* cl_graph.c: pre-built lists (graphs) */
/* While recording: a launch becomes a step of the list with its own kernel
 * object and arguments; a released temporary stays with the list. */
ag_status agcl_rec_launch(agi_backend_device *dev, agcl_kernel_id id, int dims, const size_t *g,
                          const size_t *l, int nargs, const agcl_arg *args);
/* A validated record under the device lock: its kernels, or for a staged op
 * with 16-bit data the f32 scratch round trip (stage16.c). cl_device.c */
ag_status agcl_exec_any(agi_backend_device *dev, const agi_kernel *k);
ag_status agcl_rec_keep(agi_backend_device *dev, agi_buffer *buf);
ag_status agcl_list_build(agi_backend_device *dev, const agi_kernel *ks, int n, agi_kernel_list **out);
ag_status agcl_list_run(agi_backend_device *dev, agi_kernel_list *l);
void agcl_list_free(agi_backend_device *dev, agi_kernel_list *l);

/* cl_gemm.c */
ag_status agcl_gemm(agi_backend_device *dev, const agi_kernel *k);
void agcl_gemm_release(void);

#endif /* AG_CL_INTERNAL_H */
