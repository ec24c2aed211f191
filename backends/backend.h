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
 * An op a backend lacks makes exec() return AG_ERR_UNSUPPORTED after calling
 * agi_set_error("<backend>: <kernel> ... unsupported") — never a silent
 * fallback to another device.
 */
#ifndef AG_BACKEND_H
#define AG_BACKEND_H

#include "anygrad/core.h"
#include "anygrad/tensor.h"

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

/* ---- Kernel ops and their exact semantics ------------------------------ */

typedef enum agi_kernel_op {
    /* dst[i] = params.f[0] converted like COPY converts an f32 (truncate toward
     * zero to i32; u8 keeps the low 8 bits of that). dst: any view, any dtype. */
    AGI_K_FILL,
    /* dst[i] = convert(src0[i]); same shape, any dtypes. f32→i32 truncates
     * toward zero (out-of-range: unspecified but no trap); f32→u8 converts to
     * i32 first then keeps the low 8 bits; i32→u8 keeps the low 8 bits. */
    AGI_K_COPY,
    /* dst[i] = f(src0[i]); f32 → f32; f = agi_unary_op in `sub`, params.f[] */
    AGI_K_UNARY,
    /* dst[i] = g(src0[i], src1[i]); same shape (broadcast as stride 0).
     * Arithmetic: src f32 → dst f32, or src i32 → dst i32 (ADD SUB MUL MAX MIN
     * only). Comparisons: src0,src1 both f32 or both i32 → dst u8 (0/1).
     * *_BWD ops: f32 only. */
    AGI_K_BINARY,
    /* dst[i] = src0[i] != 0 ? src1[i] : src2[i]; src0 u8; src1, src2, dst
     * the same dtype (f32 or i32). */
    AGI_K_WHERE,
    /* Reduction. dst has src0's rank; dims where dst.shape[d] == 1 and
     * src0.shape[d] > 1 are reduced, the others match. sub = agi_reduce_op.
     * SUM, MAX, MIN: f32 → f32. ARGMAX/ARGMIN: f32 → i32, the index within
     * the reduced dims flattened row-major, first occurrence on ties. NaN
     * propagates like PyTorch: MAX/MIN of a group holding NaN is NaN and
     * ARGMAX/ARGMIN point at the first NaN. When no dim is reduced (all
     * sizes match) the kernel is a copy. */
    AGI_K_REDUCE,
    /* Row-wise softmax (sub = AGI_SOFTMAX) or log-softmax (AGI_LOG_SOFTMAX).
     * src0, dst: contiguous, ndim 2, shape [rows, n], f32. Max-subtracted. */
    AGI_K_SOFTMAX,
    /* Backward of the above. src0 = y (the forward output), src1 = dy; dst dx;
     * all contiguous [rows, n] f32.
     * softmax:     dx = y * (dy - sum_j(dy*y))
     * log_softmax: dx = dy - exp(y) * sum_j(dy)                            */
    AGI_K_SOFTMAX_BWD,
    /* Batched matrix product: dst[b] = alpha * src0[b] @ src1[b] + beta * dst[b]
     * src0 A: [B, M, K], src1 B: [B, K, N], dst C: [B, M, N], all ndim 3, f32.
     * A and B: within a matrix one of the two strides is 1 (row- or column-
     * major, i.e. plain or transposed) — a dim of size 1 may have any stride,
     * as agi_view_of sets 0 there — and the batch stride is any value (0
     * broadcasts). C is row-major with strides[2] == 1 and, when B > 1, a
     * non-zero batch stride. When beta == 0, C's
     * old contents are ignored (even NaN). params.f[0] = alpha, f[1] = beta. */
    AGI_K_GEMM,
    /* src0 x: [N, C, H, W] contiguous → dst cols: [N, C*kh*kw, OH*OW]
     * contiguous, row index (c*kh + i)*kw + j; padding reads 0.
     * params: agi_conv_params. */
    AGI_K_IM2COL,
    /* Adjoint of IM2COL: src0 cols [N, C*kh*kw, OH*OW] → dst x [N, C, H, W],
     * every dst element written (sum of the cols entries that map to it).
     * params: agi_conv_params. */
    AGI_K_COL2IM,
    /* src0 x: [N, C, H, W] contiguous → dst y [N, C, OH, OW] f32 and dst2
     * indices [N, C, OH, OW] i32 (flat h*W + w of the max within the plane,
     * first on ties; padding is -inf; a NaN wins and the first NaN's index is
     * kept). Padding is at most half the dilated kernel (the front end
     * checks), so every window holds an input element and every index lies
     * inside its window. params: agi_pool_params. */
    AGI_K_MAXPOOL2D,
    /* src0 dy [N, C, OH, OW], src1 indices (i32, from MAXPOOL2D) → dst dx
     * [N, C, H, W]: every element written, sum of dy whose index points at it. */
    AGI_K_MAXPOOL2D_BWD,
    /* Average pooling, plain or adaptive (agi_pool_params.adaptive):
     * src0 x [N, C, H, W] → dst y [N, C, OH, OW]. Plain windows use kernel,
     * stride, padding, ceil_mode and count_include_pad like PyTorch (a window
     * never starts in right padding; with count_include_pad the divisor counts
     * padding but not the ceil_mode overhang). Adaptive window i along H is
     * [floor(i*H/OH), ceil((i+1)*H/OH)). dh/dw are unused (no dilation). */
    AGI_K_AVGPOOL2D,
    /* Backward: src0 dy [N, C, OH, OW] → dst dx [N, C, H, W], every element
     * written. Same params as the forward. */
    AGI_K_AVGPOOL2D_BWD,
    /* dst[i_0..i_n] = src0[i_0.. index[i_0..i_n] (at dim) ..i_n]; src1 index
     * i32 with dst's shape (strides may be 0); dst's shape equals src0's except
     * along params.i[0] = dim. f32 or i32 data. Out-of-range index (negative
     * or >= size) → 0. */
    AGI_K_GATHER,
    /* dst[... index[i] (at dim) ...] += src0[i] for every i of src0's shape;
     * src1 index i32 with src0's shape (strides may be 0); src0.shape[d] <=
     * dst.shape[d] for every d != dim, as in PyTorch. dst keeps its other
     * contents (the front end fills it first). f32. Out-of-range index: the
     * element is skipped. params.i[0] = dim. Summation order unspecified
     * (fixed when ag_is_deterministic()). */
    AGI_K_SCATTER_ADD,
    /* Philox4x32-10 random fill of dst (f32, any view). Element k (row-major
     * position in dst's shape) uses counter {lo32(c), hi32(c), 0, 0} with
     * c = offset + k, key {lo32(seed), hi32(seed)}; x0, x1 = first two output
     * words. sub AGI_RNG_UNIFORM: dst = lo + (hi-lo) * (x0 >> 8) * 2^-24.
     * sub AGI_RNG_NORMAL: u1 = ((x0 >> 8) + 1) * 2^-24, u2 = (x1 >> 8) * 2^-24,
     * dst = mean + std * sqrt(-2 ln u1) * cos(2π u2).
     * params.u[0] = seed, u[1] = offset; f[0], f[1] = lo, hi (or mean, std). */
    AGI_K_RNG,
    /* Fused optimizer updates, in place, elementwise over contiguous f32
     * buffers of one shape; see agi_optim_params for the formulas.
     * dst = param, src0 = grad, src1 = state 1, src2 = state 2 (written too).
     * dst2, when its buf is set: 4 contiguous f32 {lr, bias1, bias2,
     * first_step (0 or 1)} read on the device when the kernel runs, in place
     * of those fields of the params (a replayed graph rewrites them per step
     * without touching the record). */
    AGI_K_SGD,
    AGI_K_ADAM,
    AGI_K_RMSPROP,
    /* Row-wise layer normalisation. src0 x: contiguous [rows, n] f32;
     * mean = Σx / n, var = Σ(x - mean)² / n (biased, from the centred
     * values), rstd = 1 / sqrt(var + eps);
     * dst y [rows, n] = (x - mean) * rstd * w + b, with src1 w and src2 b
     * contiguous f32 [n] (buf NULL: w = 1, b = 0). dst2, when its buf is
     * set: contiguous f32 [rows, 2] receiving (mean, rstd) of each row.
     * params.f[0] = eps (>= 0). */
    AGI_K_LAYER_NORM,
    AGI_K_COUNT
} agi_kernel_op;

typedef enum agi_unary_op {
    AGI_U_NEG, AGI_U_ABS, AGI_U_EXP, AGI_U_LOG, AGI_U_SQRT, AGI_U_RSQRT, AGI_U_SQUARE,
    AGI_U_RECIP, AGI_U_SIN, AGI_U_COS, AGI_U_TANH, AGI_U_SIGMOID, AGI_U_RELU,
    AGI_U_LEAKY_RELU, /* f[0] = negative slope */
    AGI_U_GELU,       /* 0.5 x (1 + erf(x / sqrt 2)) */
    AGI_U_GELU_TANH,  /* 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed
                       * as x * s, s = sigmoid(z), z = 2 sqrt(2/pi) (x + 0.044715 x^3),
                       * s exactly 0 / 1 for z < -40 / z > 40 (saturates: -0 at
                       * x = -1000, never a tanh rounding remainder) */
    AGI_U_SILU,       /* x * sigmoid(x) */
    AGI_U_SOFTPLUS,   /* f[0] beta, f[1] threshold: beta*x > threshold ? x : log1p(exp(beta x))/beta */
    AGI_U_CLAMP,      /* f[0] lo, f[1] hi (may be ±inf) */
    AGI_U_POW,        /* x ^ f[0] (powf semantics) */
    AGI_U_AFFINE,     /* x * f[0] + f[1] */
    AGI_U_RDIV,       /* f[0] / x */
    AGI_U_SIGN,       /* -1, 0, 1; SIGN(NaN) = 0. RELU and CLAMP keep NaN. */
    AGI_U_STEP,       /* x > 0 ? 1 : 0 */
    AGI_U_COUNT
} agi_unary_op;

typedef enum agi_binary_op {
    AGI_B_ADD, AGI_B_SUB, AGI_B_MUL, AGI_B_DIV, AGI_B_POW, AGI_B_MAX, AGI_B_MIN,
    AGI_B_EQ, AGI_B_NE, AGI_B_LT, AGI_B_LE, AGI_B_GT, AGI_B_GE,
    /* Fused activation backward: dst = dy * f'(...) with src0 = dy. */
    AGI_B_RELU_BWD,       /* src1 = x: dy * (x > 0) */
    AGI_B_LEAKY_RELU_BWD, /* src1 = x, f[0] slope: dy * (x > 0 ? 1 : slope) */
    AGI_B_GELU_BWD,       /* src1 = x: exact GELU derivative */
    AGI_B_GELU_TANH_BWD,  /* src1 = x: dy * (s + x s (1 - s) dz/dx), s and z as in
                           * AGI_U_GELU_TANH; dy * s where |z| > 40 */
    AGI_B_SILU_BWD,       /* src1 = x: dy * s * (1 + x (1 - s)), s = sigmoid(x) */
    AGI_B_SIGMOID_BWD,    /* src1 = y (output): dy * y * (1 - y) */
    AGI_B_TANH_BWD,       /* src1 = y (output): dy * (1 - y^2) */
    AGI_B_SOFTPLUS_BWD,   /* src1 = x, f[0] beta, f[1] threshold: dy * sigmoid(beta x) (dy above threshold) */
    AGI_B_COUNT
} agi_binary_op;

typedef enum agi_reduce_op {
    AGI_R_SUM, AGI_R_MAX, AGI_R_MIN, AGI_R_ARGMAX, AGI_R_ARGMIN, AGI_R_COUNT
} agi_reduce_op;

enum { AGI_SOFTMAX = 0, AGI_LOG_SOFTMAX = 1 };
enum { AGI_RNG_UNIFORM = 0, AGI_RNG_NORMAL = 1 };

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
    } p;
    /* GATHER and SCATTER_ADD only: the device-side error word. When `err` is
     * set (a buffer of at least 4 bytes), a kernel that meets an out-of-range
     * index also stores err_code (> 0) into its first i32, in addition to the
     * behaviour above (read 0 / skip); with several, any one of the codes
     * wins. Nothing else writes `err`; the front end reads and clears it. */
    agi_buffer *err;
    int32_t err_code;
} agi_kernel;

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
    /* Whether exec would accept this op/sub for this dst dtype (coverage; the
     * source dtypes are not part of the question). */
    bool (*supports)(agi_backend_device *dev, agi_kernel_op op, int sub, ag_dtype dtype);
    /* Waits for all queued work. */
    ag_status (*sync)(agi_backend_device *dev);
    /* Fills the allocator and stream counters (ag_device_counters). */
    void (*counters)(agi_backend_device *dev, ag_device_counters *out);
    /* Waits for queued work and gives cached free memory back to the driver. */
    ag_status (*empty_cache)(agi_backend_device *dev);

    /* ---- Graphs (src/graph): pre-built lists and arena aliases ---- */

    /* A buffer for bytes [offset, offset + nbytes) of `parent` (a graph's
     * memory arena). offset is a multiple of AGI_ALIAS_ALIGN, nbytes > 0 and
     * the range lies inside parent. buffer_free of an alias frees only the
     * handle; the parent must outlive its aliases. Aliases of one parent may
     * overlap in memory: the backend orders accesses through any of them as
     * accesses to the parent. */
    ag_status (*buffer_alias)(agi_backend_device *dev, agi_buffer *parent, size_t offset,
                              size_t nbytes, agi_buffer **out);
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

/* Alignment of graph arena offsets (buffer_alias): a multiple of every
 * backend's sub-buffer and descriptor offset alignment. */
#define AGI_ALIAS_ALIGN 4096

/* The compiled-in backends (NULL entries for those not built). */
extern const agi_backend agi_backend_cpu;
#ifdef AG_HAVE_VULKAN
extern const agi_backend agi_backend_vulkan;
#endif
#ifdef AG_HAVE_OPENCL
extern const agi_backend agi_backend_opencl;
#endif

/* ---- Helpers shared by backends (backends/backend_util.c) ---------------- */

/* Sets the thread's last error (printf-style) and returns `status`. */
ag_status agi_set_error(ag_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Number of elements of a view (product of its shape; 1 for ndim 0). */
int64_t agi_view_numel(const agi_view *v);
/* True if the view is row-major contiguous. */
bool agi_view_is_contiguous(const agi_view *v);
/* Merges adjacent dims that are contiguous in every one of `n` same-shaped
 * views (used for elementwise kernels); may reduce ndim to 1. */
void agi_views_coalesce(agi_view **views, int n);
/* Static names for diagnostics. */
const char *agi_kernel_op_name(agi_kernel_op op);
/* Philox4x32-10: out = philox(counter, key). */
void agi_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4]);

#endif /* AG_BACKEND_H */
