/*
 * backends/backend.h — the one interface between the front end (src/) and the
 * devices (backends/cpu, backends/vulkan, backends/opencl).
 *
 * The front end never touches device memory: it allocates buffers, writes and
 * reads them, and queues kernel records (agi_kernel). A backend implements the
 * vtable below. Kernels are asynchronous: exec() only queues; read() and
 * sync() wait. Every backend must give the same results (up to float rounding
 * in reductions and transcendental functions; bit-identical for integer ops,
 * copies and the Philox uniform bits).
 *
 * Threads: every vtable function may be called from several threads at once
 * (the data loader uploads batches from a background thread); a backend
 * serialises access to its device state itself. Kernels queued from different
 * threads are ordered as the calls are.
 *
 * Every exec() starts with agi_kernel_validate (backends/kernel_registry.c),
 * the one record check all backends share: geometry and buffer bounds are
 * AG_ERR_INVALID, records outside kernel_ops.def's contract (op, sub-op,
 * dtypes) AG_ERR_UNSUPPORTED. An op a backend lacks beyond that makes exec()
 * return AG_ERR_UNSUPPORTED after calling
 * agi_set_error("<backend>: <kernel> ... unsupported") — never a silent
 * fallback to another device.
 */
#ifndef AG_BACKEND_H
#define AG_BACKEND_H

#include "anygrad/core.h"
#include "anygrad/tensor.h"
#include "base/fused_ops.h"
#include "base/base.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A backend's device buffer. Each backend defines the struct. */
typedef struct agi_buffer agi_buffer;
/* A backend's per-device state. Each backend defines the struct. */
typedef struct agi_backend_device agi_backend_device;
/* A backend's pre-built list of kernel records (list_build). */
typedef struct agi_kernel_list agi_kernel_list;

/* A strided view of a buffer. Offsets and strides count elements of `dtype`.
 * Strides may be 0 (broadcast) but never negative. Shape entries are >= 1
 * whenever a kernel is queued: the front end never queues a kernel whose dst
 * or any source is empty (a sum over zero elements, a GEMM with K = 0 or a
 * scatter from an empty source is handled in the op, e.g. with a FILL). */
typedef struct agi_view {
    agi_buffer *buf;
    ag_dtype dtype;
    int ndim; /* 0..AG_MAX_DIMS; 0 is a scalar (one element) */
    int64_t offset;
    int64_t shape[AG_MAX_DIMS];
    int64_t strides[AG_MAX_DIMS];
} agi_view;

/* ---- Kernel ops (declared in kernel_ops.def) ------------------------------- */

/* The ops and sub-ops, their semantics, views and dtypes are lines of
 * kernel_ops.def; these enums and everything else that lists them are
 * generated from it. */
/* The columns of kernel_ops.def: sub-op families, parameter members and
 * sub-op result dtypes. */
enum { AGI_SUBS_NONE, AGI_SUBS_UNARY, AGI_SUBS_BINARY, AGI_SUBS_REDUCE, AGI_SUBS_SOFTMAX, AGI_SUBS_RNG };
enum { AGI_P_NONE, AGI_P_SCALARS, AGI_P_CONV, AGI_P_POOL, AGI_P_OPTIM, AGI_P_FUSED };
enum { AGI_RES_SAME, AGI_RES_U8, AGI_RES_I32 };
enum { AGI_H_NONE, AGI_H_NATIVE, AGI_H_STAGED };

typedef enum agi_kernel_op {
#define AGI_OP(E, ...) E,
#include "kernel_ops.def"
    AGI_K_COUNT
} agi_kernel_op;

typedef enum agi_unary_op {
#define AGI_UNARY(E, ...) E,
#include "kernel_ops.def"
    AGI_U_COUNT
} agi_unary_op;

typedef enum agi_binary_op {
#define AGI_BINARY(E, ...) E,
#define AGI_COMPARE(E, ...) E,
#include "kernel_ops.def"
    AGI_B_COUNT
} agi_binary_op;

typedef enum agi_reduce_op {
#define AGI_REDUCE(E, ...) E,
#include "kernel_ops.def"
    AGI_R_COUNT
} agi_reduce_op;

enum {
#define AGI_SOFTMAX_SUB(E, ...) E,
#include "kernel_ops.def"
    AGI_SOFTMAX_COUNT
};
enum {
#define AGI_RNG_SUB(E, ...) E,
#include "kernel_ops.def"
    AGI_RNG_COUNT
};

/* IM2COL / COL2IM geometry. */
typedef struct agi_conv_params {
    int64_t n, c, h, w;     /* image */
    int64_t kh, kw;         /* kernel */
    int64_t oh, ow;         /* output (cols) spatial size */
    int64_t sh, sw, ph, pw, dh, dw;
} agi_conv_params;

/* Pooling geometry. */
typedef struct agi_pool_params {
    int64_t n, c, h, w, oh, ow;
    int64_t kh, kw, sh, sw, ph, pw, dh, dw;
    int32_t ceil_mode, count_include_pad, adaptive;
} agi_pool_params;

/* Optimizer hyper-parameters, already combined on the host for this step.
 * SGD   (src1 = momentum buffer b, src2 unused):
 *   g = grad + weight_decay * p
 *   if momentum != 0: b = first_step ? g : momentum*b + (1-dampening)*g;
 *                     g = nesterov ? g + momentum*b : b
 *   p -= lr * g
 * ADAM / ADAMW (src1 = m, src2 = v):
 *   g = grad; if !decoupled: g += weight_decay * p   (Adam)
 *             else:          p *= 1 - lr*weight_decay (AdamW)
 *   m = beta1*m + (1-beta1)*g;  v = beta2*v + (1-beta2)*g*g
 *   p -= lr * (m / bias1) / (sqrt(v / bias2) + eps)
 * RMSPROP (src1 = square average s, src2 = momentum buffer b when momentum != 0):
 *   g = grad + weight_decay * p;  s = alpha*s + (1-alpha)*g*g
 *   d = g / (sqrt(s) + eps);  if momentum != 0: b = momentum*b + d; d = b
 *   p -= lr * d                                                             */
typedef struct agi_optim_params {
    float lr, weight_decay;
    float momentum, dampening; /* SGD, RMSprop (momentum) */
    float beta1, beta2, eps;   /* Adam; RMSprop uses beta1 as alpha */
    float bias1, bias2;        /* Adam: 1 - beta^t */
    int32_t nesterov, first_step, decoupled;
} agi_optim_params;

/* The program of AGI_K_EW_FUSED: n steps (1..AG_FUSED_MAX_STEPS) coded as
 * in backends/base/fused_ops.h, nin source views (0..AG_FUSED_MAX_INPUTS). */
typedef struct agi_fused_params {
    int32_t n, nin;
    uint32_t code[AG_FUSED_MAX_STEPS];
    float p[AG_FUSED_MAX_STEPS][2];
} agi_fused_params;

/* Checks a fused program (steps, registers, sub-ops); sets the error. */
ag_status agi_fused_check(const char *backend, const agi_kernel_op op, const agi_fused_params *f);

/* One queued operation. Unused sources have buf == NULL. */
typedef struct agi_kernel {
    agi_kernel_op op;
    int sub;           /* agi_unary_op, agi_binary_op, agi_reduce_op, ... */
    agi_view dst;
    agi_view dst2;     /* second output (MAXPOOL2D indices) */
    agi_view src[3];
    union {
        struct {
            double f[4];
            int64_t i[4];
            uint64_t u[2];
        } s;
        agi_conv_params conv;
        agi_pool_params pool;
        agi_optim_params optim;
        agi_fused_params fused;
    } p;
    /* GATHER and SCATTER_ADD only: the device-side error word. When `err` is
     * set (a buffer of at least 4 bytes), a kernel that meets an out-of-range
     * index also stores err_code (> 0) into its first i32, in addition to the
     * behaviour above (read 0 / skip); with several, any one of the codes
     * wins. Nothing else writes `err`; the front end reads and clears it. */
    agi_buffer *err;
    int32_t err_code;
    /* Set by the front end when ag_is_deterministic(): kernels whose
     * summation order may vary (SCATTER_ADD) use a fixed order. */
    bool deterministic;
} agi_kernel;

/* The dtypes of a record, for supports(): AGI_NO_DTYPE marks an absent view. */
#define AGI_NO_DTYPE AG_DTYPE_COUNT
typedef struct agi_kernel_sig {
    agi_kernel_op op;
    int sub;
    ag_dtype dst, dst2, src[3];
} agi_kernel_sig;

/* ---- The vtable -------------------------------------------------------- */

typedef struct agi_backend {
    const char *name; /* "cpu", "vulkan", "opencl" */
    ag_backend_kind kind;
    /* Lists devices; returns the count found (may exceed max), or < 0. */
    int (*enumerate)(ag_device_info *out, int max);
    /* Opens device number `index` of this backend (the order of enumerate). */
    ag_status (*open)(int index, agi_backend_device **out, ag_device_info *info);
    void (*close)(agi_backend_device *dev);
    /* Allocates nbytes (> 0). Must return AG_ERR_OOM (not abort) when memory
     * runs out. Contents are undefined. */
    ag_status (*buffer_alloc)(agi_backend_device *dev, size_t nbytes, agi_buffer **out);
    void (*buffer_free)(agi_backend_device *dev, agi_buffer *buf);
    /* Host → device, ordered after every kernel already queued. */
    ag_status (*write)(agi_backend_device *dev, agi_buffer *buf, size_t offset, const void *src,
                       size_t nbytes);
    /* Device → host; waits for queued work touching the buffer. */
    ag_status (*read)(agi_backend_device *dev, agi_buffer *buf, size_t offset, void *dst,
                      size_t nbytes);
    /* Queues one kernel. Returns AG_ERR_UNSUPPORTED for ops/dtypes it lacks. */
    ag_status (*exec)(agi_backend_device *dev, const agi_kernel *k);
    /* Whether exec would accept a record of these dtypes: the vocabulary's
     * contract (agi_kernel_sig_check) and what this device can store. */
    bool (*supports)(agi_backend_device *dev, const agi_kernel_sig *sig);
    /* Waits for all queued work. */
    ag_status (*sync)(agi_backend_device *dev);
    /* Fills the allocator and stream counters (ag_device_counters). */
    void (*counters)(agi_backend_device *dev, ag_device_counters *out);
    /* Waits for queued work and gives cached free memory back to the driver. */
    ag_status (*empty_cache)(agi_backend_device *dev);

    /* ---- Graphs (src/graph): pre-built lists of records ---- */

    /* Pre-builds `n` kernel records (none with an `err` word) for repeated
     * execution: the same semantics as exec() of each record in order, with
     * the validation, kernel choice and argument setup done once. The
     * records' buffers must stay allocated until list_free. Any temporary
     * the kernels need belongs to the list. */
    ag_status (*list_build)(agi_backend_device *dev, const agi_kernel *ks, int n,
                            agi_kernel_list **out);
    /* Queues a built list once, ordered like exec() calls at this point. */
    ag_status (*list_run)(agi_backend_device *dev, agi_kernel_list *list);
    /* Waits for the list's queued runs and frees it. NULL is a no-op. */
    void (*list_free)(agi_backend_device *dev, agi_kernel_list *list);
} agi_backend;


/* The compiled-in backends (NULL entries for those not built). */
extern const agi_backend agi_backend_cpu;
#ifdef AG_HAVE_VULKAN
extern const agi_backend agi_backend_vulkan;
#endif
#ifdef AG_HAVE_OPENCL
extern const agi_backend agi_backend_opencl;
#endif

/* ---- Helpers shared by backends (backends/backend_util.c) ---------------- */

/* Number of elements of a view (product of its shape; 1 for ndim 0). */
int64_t agi_view_numel(const agi_view *v);
/* True if the view is row-major contiguous. */
bool agi_view_is_contiguous(const agi_view *v);
/* Merges adjacent dims that are contiguous in every one of `n` same-shaped
 * views (used for elementwise kernels); may reduce ndim to 1. */
void agi_views_coalesce(agi_view **views, int n);
/* Grows *arr (elements of `elem` bytes, capacity *cap) to hold at least
 * `need`, doubling; AG_ERR_OOM (error set) when out of host memory. */
ag_status agi_grow(void **arr, int *cap, int need, size_t elem);
/* View lowering for kernels that take at most max_nd dims (after
 * agi_views_coalesce): the leading ndim - max_nd dims are outer positions,
 * run one at a time in row-major order. The count of outer positions of
 * views of v's shape (1 when ndim <= max_nd): */
int64_t agi_views_outer_count(const agi_view *v, int max_nd);
/* out[j] = in[j] at outer position o: rank min(ndim, max_nd), offset moved. */
void agi_views_outer_slice(const agi_view *in, int n, int max_nd, int64_t o, agi_view *out);

/* ---- The registry (backends/kernel_registry.c, from kernel_ops.def) ------- */

/* Static names for diagnostics and kernel names ("?" when out of range). */
const char *agi_kernel_op_name(agi_kernel_op op);
const char *agi_unary_op_name(int sub);
const char *agi_binary_op_name(int sub);
const char *agi_reduce_op_name(int sub);
/* The name of op's sub-op `sub` ("" for ops without sub-ops). */
const char *agi_kernel_sub_name(agi_kernel_op op, int sub);
/* The sig of a record (absent views: AGI_NO_DTYPE). */
agi_kernel_sig agi_kernel_sig_of(const agi_kernel *k);
/* The contract: AG_OK when the op, sub-op and dtypes are in the vocabulary,
 * else AG_ERR_UNSUPPORTED with "<backend>: <op>: ..." set. */
ag_status agi_kernel_sig_check(const char *backend, const agi_kernel_sig *sig);
/* The same question without setting an error (for supports()). */
bool agi_kernel_sig_ok(const agi_kernel_sig *sig);
/* Size in bytes of a backend's buffer (for bounds checks). */
typedef size_t (*agi_buffer_bytes_fn)(const agi_buffer *buf);
/* The record check every backend's exec() runs first: the contract, then
 * each view the op uses (present when required, valid dtype and rank,
 * shape >= 1, strides >= 0, inside its buffer) and the elementwise shape
 * rule. Sets "<backend>: <op>: ..." and returns the status on failure. */
ag_status agi_kernel_validate(const char *backend, const agi_kernel *k, agi_buffer_bytes_fn bytes);
/* Binary sub-op classes from kernel_ops.def: a comparison (AGI_COMPARE,
 * writes u8), and whether the sub-op has kernels for source dtype t. */
bool agi_binary_is_compare(int sub);
bool agi_binary_has_dtype(int sub, ag_dtype t);
/* kernel_ops.def's `half` column of op (AGI_H_*). */
int agi_kernel_half_mode(agi_kernel_op op);

/* ---- 16-bit data of staged ops (backends/stage16.c) ------------------------ */

/* What the staging needs of a backend, all called with the backend's own
 * locks held as in its exec: scratch buffers, and its exec without the
 * validation (records built here are valid). */
typedef struct agi_stage_ops {
    ag_status (*alloc)(agi_backend_device *dev, size_t nbytes, agi_buffer **out);
    void (*release)(agi_backend_device *dev, agi_buffer *buf);
    ag_status (*exec)(agi_backend_device *dev, const agi_kernel *k);
} agi_stage_ops;
/* True when k is an AGI_H_STAGED op with an f16 / bf16 data view. */
bool agi_kernel_staged16(const agi_kernel *k);
/* Runs such a record through f32 scratch copies of its 16-bit views. */
ag_status agi_exec_staged16(agi_backend_device *dev, const agi_kernel *k, const agi_stage_ops *ops);
/* Softmax, its backward and layer norm with every data view of one 16-bit
 * dtype (layer norm's statistics f32), laid out as their f32 kernels need
 * (x and y contiguous [rows, n]; weight, bias and stats contiguous and
 * flat): that dtype, for backends whose row kernels convert 16-bit values in
 * registers (the same bits as staging); AG_F32 for every other record. */
ag_dtype agi_rownorm_half(const agi_kernel *k);

#endif /* AG_BACKEND_H */
