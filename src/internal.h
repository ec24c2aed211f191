/*
 * src/internal.h — what the front end's files share: the tensor and device
 * structs, the autograd node, and helpers for writing ops.
 *
 * Writing an op (see the files in src/ops for examples):
 *   1. validate inputs with the agi_check_* helpers (they set the error);
 *   2. allocate the output with agi_tensor_new (contiguous, in the scope);
 *   3. fill an agi_kernel with agi_view_of() views and queue it: agi_exec();
 *   4. if agi_needs_grad(inputs...), record a node: agi_node_new + agi_attach.
 * Backward functions are written with front-end ops (they run in no-grad mode
 * inside a scope managed by the engine).
 */
#ifndef AG_INTERNAL_H
#define AG_INTERNAL_H

#include "anygrad.h"
#include "backend.h"

#include <pthread.h>
#include <stdatomic.h>

/* ---- Devices ------------------------------------------------------------ */

/* Magic words of live handles (overwritten with AGI_DEAD_MAGIC when freed;
 * see src/handles.c). */
#define AGI_TENSOR_MAGIC 0x7e45a0b1u
#define AGI_DEVICE_MAGIC 0x0de71ce5u
#define AGI_DEAD_MAGIC 0xdeadf1eeu

#define AGI_ERR_OPS 16

struct ag_device {
    uint32_t magic;
    atomic_bool closed; /* the user's handle was closed */
    const agi_backend *be;
    agi_backend_device *impl;
    ag_device_info info;
    atomic_int refs;            /* the user's handle + one per live storage */
    atomic_llong live_buffers;
    int handle_id; /* 1, 2, ... in opening order: tells two handles of one device apart */
    /* The device-side error word (src/device_error.c). */
    pthread_mutex_t err_lock;
    agi_buffer *err_buf;             /* 4 bytes, allocated with the first index kernel */
    atomic_bool err_armed;           /* an index kernel was queued since the last check */
    const char *err_ops[AGI_ERR_OPS]; /* code i + 1 names err_ops[i] */
    int n_err_ops;
    /* Buffers that live graphs use (src/graph/held.c): a storage released
     * while a graph still uses its buffer leaves the buffer to the graph. */
    pthread_mutex_t graph_lock;
    struct agi_held *held;
    int n_held, n_held_dead, cap_held; /* live entries, tombstones, slots */
    atomic_int n_graphs; /* live graphs and captures on this device */
};

/* Index kernels (GATHER, SCATTER_ADD) queued by `op` get the device's error
 * word and op's code (or the name set by agi_index_caller_set). */
void agi_index_guard(const char *op, ag_device *dev, agi_kernel *k);
/* Names index kernels queued by this thread after the call (NULL: their own
 * op); returns the previous name. For composed ops such as ag_cross_entropy. */
const char *agi_index_caller_set(const char *op);
/* When an index kernel ran since the last check: reads and clears the error
 * word; a set word is AG_ERR_INVALID naming the op that queued the kernel
 * ("found by `op`"). Called by ag_device_sync and host reads. */
ag_status agi_device_check(const char *op, ag_device *dev);
/* Frees the error word (before the backend device closes). */
void agi_device_error_free(ag_device *dev);

void agi_device_retain(ag_device *dev);
void agi_device_release(ag_device *dev);

/* ---- Handle checks (src/handles.c) ----------------------------------------- */

/* Frees `p` later: keeps the most recently freed handles' memory so their
 * dead magic can still be read by a misusing caller. */
void agi_quarantine(void *p);
/* False (error "op: ... not a live tensor ...") for a freed tensor. */
bool agi_tensor_alive(const char *op, const ag_tensor *t);
/* False (error "op: device ... was closed and destroyed") for a freed device
 * (closed by the user and no tensor left on it). */
bool agi_device_alive(const char *op, const ag_device *dev);

/* ---- Tensors ------------------------------------------------------------ */

typedef struct agi_storage {
    atomic_int refs;
    ag_device *dev;
    agi_buffer *buf;
    size_t nbytes;
    /* In-place writes so far (ag_copy_, ag_fill_, ag_tensor_write, optimizer
     * steps, gradient clipping...), shared by every view of the storage:
     * autograd compares it with the value a node saw (agi_node_new). */
    atomic_ullong version;
} agi_storage;

typedef struct agi_node agi_node;

struct ag_tensor {
    uint32_t magic;
    atomic_int refs;
    ag_dtype dtype;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    int64_t strides[AG_MAX_DIMS]; /* elements */
    int64_t offset;               /* elements */
    agi_storage *storage;
    /* autograd */
    bool requires_grad;
    bool retains_grad;
    ag_tensor *grad;   /* owned reference */
    agi_node *grad_fn; /* owned reference; NULL for leaves */
};

/* A new contiguous tensor (uninitialised) registered in the current scope.
 * Returns NULL (error set) on bad shape or OOM. `op` names the caller for
 * error messages. */
ag_tensor *agi_tensor_new(const char *op, ag_device *dev, ag_dtype dtype, int ndim,
                          const int64_t *shape);
/* A view of `base`'s storage with the given geometry, in the current scope. */
ag_tensor *agi_tensor_view(const ag_tensor *base, int ndim, const int64_t *shape,
                           const int64_t *strides, int64_t offset);
/* The backend view of a tensor (same geometry). */
agi_view agi_view_of(const ag_tensor *t);
/* The [rows, n] kernel view of a contiguous tensor of rows * n elements. */
agi_view agi_view_rows(const ag_tensor *t, int64_t rows, int64_t n);
/* Hands a new tensor reference to the innermost scope (or leaves it to the
 * caller when none is open) and returns it. On host OOM the reference is
 * released and NULL returned with AG_ERR_OOM set. NULL passes through. */
ag_tensor *agi_scope_track(ag_tensor *t) __attribute__((warn_unused_result));
/* Open scopes of the calling thread (for tests of balanced begin/end). */
size_t agi_scope_depth(void);
/* Drops a tensor made by this call that will not be returned: released now
 * when no scope is open, else left for the scope to release. NULL is a no-op. */
void agi_discard(ag_tensor *t);
/* Ends the scope an op opened for its intermediates and hands `out` (may be
 * NULL) to the enclosing scope. On failure, prefixes the last error with `op`
 * unless it already names it. Returns out. */
ag_tensor *agi_scope_return(const char *op, ag_tensor *out);
/* agi_scope_return, then, when `need_grad`, makes `out` the output of `node`
 * (agi_attach: a NULL or incomplete node fails the op with AG_ERR_OOM). On
 * failure releases node and returns NULL. */
ag_tensor *agi_scope_return_node(const char *op, ag_tensor *out, agi_node *node, bool need_grad);
/* Queues a kernel on `dev`; on failure sets the error (prefixing `op`). */
ag_status agi_exec(const char *op, ag_device *dev, const agi_kernel *k);
/* Counts an in-place write to t's storage (its version, ag_tensor_version):
 * every front-end path that changes an existing tensor's values calls it, so
 * that a backward which would read the changed values fails instead of
 * computing a wrong gradient. NULL is a no-op. */
void agi_tensor_bump(const ag_tensor *t);
/* Counts live tensors (for ag_live_tensors). */
extern atomic_llong agi_live_tensor_count;

/* ---- Kernel shortcuts shared by ops (src/ops/kernels.c) ---------------- */

/* out = f(x) for an f32 x: one AGI_K_UNARY kernel (sub, params f0, f1) into a
 * new contiguous tensor; no autograd. NULL on failure. */
ag_tensor *agi_unary_kernel(const char *op, const ag_tensor *x, int sub, double f0, double f1);
/* A contiguous f32 version of t (t itself with a new reference when it already
 * is one), without recording autograd; f16 / bf16 as agi_as_f32. */
ag_tensor *agi_f32_contiguous(const char *op, const ag_tensor *t);
/* The f32 operand of an op that computes in f32 only (GEMM, convolution,
 * pooling, softmax, norms, losses): t itself when f32, a cast for integers;
 * f16 and bf16 are refused with AG_ERR_UNSUPPORTED naming the dtype, since
 * those ops have no 16-bit kernels yet and must not answer in f32 instead.
 * NULL (error set) on failure or when t is NULL. */
ag_tensor *agi_as_f32(const char *op, const ag_tensor *t);
/* The dtype a float op of a and b computes and answers in: their promotion
 * when it is a float dtype (f32, f16, bf16), else f32. */
ag_dtype agi_float_dtype(ag_dtype a, ag_dtype b);
/* t itself when of dtype dt, else a cast (NULL stays NULL). */
ag_tensor *agi_as_dtype(const ag_tensor *t, ag_dtype dt);

/* ---- 16-bit inputs and autocast (src/ops/autocast.c) ------------------------
 * An op that computes with f32 kernels only (the f32 list: softmax, norms,
 * losses, pooling, ...) starts with
 *     AGI_HALF_VIA_F32(ag_op(AGI_F32(x), AGI_F32(w), other args), x, w);
 * which, when any of the listed tensors is f16 / bf16, runs the op on f32
 * copies (recorded casts) and returns its result rounded once to the inputs'
 * promoted dtype, or f32 inside an autocast region (PyTorch's f32 list). An
 * op on the 16-bit list (matmul, linear, conv) computes on
 * agi_autocast_cast(x, dt) for dt = AGI_AUTOCAST_LOWERS(x, w) when that is
 * not AG_F32, inside ag_autocast_begin(AG_F32) so the call does not apply
 * autocast again. All casts are differentiable ops in the current scope. */

/* True when any of the tensors is a live f16 / bf16 tensor; *rt is then the
 * dtype the op answers in (see above). */
bool agi_half_inputs(int n, const ag_tensor *const *ts, ag_dtype *rt);
/* The same only inside an autocast region: for f32-list ops that have 16-bit
 * kernels of their own (softmax, log_softmax, layer_norm). */
bool agi_half_inputs_autocast(int n, const ag_tensor *const *ts, ag_dtype *rt);
/* t cast to the float dtype rt when it is a float tensor of another dtype
 * (t itself otherwise, NULL stays NULL). */
ag_tensor *agi_round_float(ag_tensor *t, ag_dtype rt);
#define AGI_VIA_F32_IF(test, call, ...)                                                            \
    do {                                                                                           \
        ag_dtype half_rt_;                                                                         \
        if (test((int)(sizeof((const ag_tensor *[]){__VA_ARGS__}) / sizeof(ag_tensor *)),          \
                 (const ag_tensor *const[]){__VA_ARGS__}, &half_rt_)) {                            \
            ag_scope_begin();                                                                      \
            ag_tensor *half_result_ = ag_retain(agi_round_float(call, half_rt_));                  \
            ag_scope_end();                                                                        \
            return agi_scope_track(half_result_);                                                  \
        }                                                                                          \
    } while (0)
#define AGI_HALF_VIA_F32(call, ...) AGI_VIA_F32_IF(agi_half_inputs, call, __VA_ARGS__)
#define AGI_AUTOCAST_VIA_F32(call, ...) AGI_VIA_F32_IF(agi_half_inputs_autocast, call, __VA_ARGS__)
/* The autocast dtype when a region is open and every non-NULL tensor is a
 * live float tensor, else AG_F32. */
ag_dtype agi_autocast_lowers(int n, const ag_tensor *const *ts);
#define AGI_AUTOCAST_LOWERS(...)                                                                   \
    agi_autocast_lowers((int)(sizeof((const ag_tensor *[]){__VA_ARGS__}) / sizeof(ag_tensor *)),   \
                        (const ag_tensor *const[]){__VA_ARGS__})
/* A float tensor cast to dt (recorded by autograd); t itself when it already
 * has dt, is NULL or is not a live float tensor. */
ag_tensor *agi_autocast_cast(const ag_tensor *t, ag_dtype dt);
/* t rounded to the 16-bit dtype dt and widened back to f32 (both casts
 * recorded): an operand of an op that computes with f32 kernels on 16-bit
 * values. NULL stays NULL. */
ag_tensor *agi_autocast_round(const ag_tensor *t, ag_dtype dt);
#define AGI_F32(t) agi_autocast_cast((t), AG_F32)
/* Returns `call` (an op on the 16-bit list) computed with autocast off, in a
 * scope of its own, keeping only the result. */
#define AGI_AUTOCAST_LOW_CALL(call)                                                                \
    do {                                                                                           \
        ag_scope_begin();                                                                          \
        ag_autocast_begin(AG_F32);                                                                 \
        ag_tensor *autocast_result_ = ag_retain(call);                                             \
        ag_autocast_end();                                                                         \
        ag_scope_end();                                                                            \
        return agi_scope_track(autocast_result_);                                                  \
    } while (0)

/* ---- Checks (each sets "op: message" and returns false on failure) ------ */

bool agi_check_tensor(const char *op, const ag_tensor *t, const char *arg);
bool agi_check_dtype(const char *op, const ag_tensor *t, ag_dtype want, const char *arg);
bool agi_check_same_device(const char *op, const ag_tensor *a, const ag_tensor *b);
/* A destination of a copy or a host write: no two of its elements share
 * memory (an expanded view, with a zero stride, would keep one of the values
 * written to an element and lose the others). */
bool agi_check_writable(const char *op, const ag_tensor *t);
/* Normalises a possibly negative dim into [0, ndim); sets the error if out of range. */
bool agi_norm_dim(const char *op, const ag_tensor *t, int dim, int *out);
bool agi_check_shape(const char *op, int ndim, const int64_t *shape);
/* Broadcast shape of a and b into out (ndim in *out_ndim); sets the error. */
bool agi_broadcast_shapes(const char *op, int andim, const int64_t *ashape, int bndim,
                          const int64_t *bshape, int *out_ndim, int64_t *out);
/* "[2,3]" formatting into a caller buffer of at least 192 bytes. */
char *agi_fmt_shape(char *buf, int ndim, const int64_t *shape);
/* Sets the error with a prefix: agi_error(AG_ERR_INVALID, "ag_add", "...%s", ...). */
ag_status agi_error(ag_status status, const char *op, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefixes the last error with "op: " (keeping its status; AG_ERR_INVALID when
 * none was set), for a public function reporting the failure of another one it
 * called: "ag_checkpoint_load: ag_safetensors_load: <path>: cannot open". */
ag_status agi_error_in(const char *op);
/* Check convolution and pooling options the way ag_conv2d / ag_conv_transpose2d
 * and ag_max_pool2d / ag_avg_pool2d do, without an input (for nn modules,
 * which take them at construction). */
bool agi_conv_opts_check(const char *op, const ag_conv2d_opts *opts, bool transposed);
bool agi_pool_opts_check(const char *op, const ag_pool2d_opts *opts, bool max_pool);

/* ---- Autograd ------------------------------------------------------------ */

#define AGI_NODE_MAX_INPUTS 4
#define AGI_NODE_MAX_SAVED 4

/* Computes the gradients of the node's inputs from the gradient of its
 * output. Writes grad_inputs[i] for each input with requires_grad (leave NULL
 * otherwise); returned tensors belong to the engine's scope. Returns AG_OK or
 * a negative status (error set). */
typedef ag_status (*agi_backward_fn)(agi_node *node, ag_tensor *grad_output,
                                     ag_tensor **grad_inputs);

struct agi_node {
    atomic_int refs;
    const char *name;                       /* op name, for errors */
    agi_backward_fn backward;
    int n_inputs;
    ag_tensor *inputs[AGI_NODE_MAX_INPUTS]; /* owned references (may be NULL) */
    ag_tensor *saved[AGI_NODE_MAX_SAVED];   /* owned references (may be NULL) */
    /* Output geometry, for shaping gradients. */
    int out_ndim;
    int64_t out_shape[AG_MAX_DIMS];
    /* Free-form parameters the backward needs. */
    double f[8];
    int64_t i[AG_MAX_DIMS * 2];
    void *extra;                            /* freed with free() if set */
    bool incomplete;                        /* agi_node_save got NULL (OOM) */
    /* Storage versions of inputs[] (at agi_node_new) and saved[] (at
     * agi_node_save), and which inputs' values the backward reads (bit i:
     * inputs[i]; all by default, agi_node_reads narrows it). ag_backward
     * refuses to run the node when one of those changed in place since. */
    unsigned long long in_version[AGI_NODE_MAX_INPUTS];
    unsigned long long saved_version[AGI_NODE_MAX_SAVED];
    unsigned reads_inputs;
};

/* alpha * (a @ b) with alpha applied by the GEMM (src/ops/matmul.c), for
 * f32 operands; otherwise ag_mul_scalar(ag_matmul(a, b), alpha). */
ag_tensor *agi_matmul_scaled(const ag_tensor *a, const ag_tensor *b, double alpha);
/* softmax(q kᵀ * scale + mask, -1), the attention weights [..., L, S] of
 * ag_scaled_dot_product_attention (src/ops/attention.c): causal or u8 keep
 * masks, f32 additive masks, a row with every key masked gives 0. The caller
 * checked the shapes; NULL q or k gives NULL. */
ag_tensor *agi_attention_weights(const ag_tensor *q, const ag_tensor *k,
                                 const ag_tensor *attn_mask, bool is_causal, double scale);

/* Whether node is the backward of a slice, narrow or select view
 * (src/ops/views.c; node->i: dim, start, step, length, is_select). */
bool agi_node_is_slice(const agi_node *node);

/* A gradient assembled from the slice pieces of one tensor during the backward
 * walk (src/grad_parts.c): disjoint ranges along one dim, copied into one
 * buffer, the rest zeroed when it is finished. Zero-initialise. */
enum { AGI_GRAD_PARTS_MAX = 8 };
typedef struct agi_grad_parts {
    ag_tensor *buf; /* NULL until the first piece; owned by the walk's scope */
    int dim, n;
    int64_t lo[AGI_GRAD_PARTS_MAX], hi[AGI_GRAD_PARTS_MAX];
} agi_grad_parts;
/* Takes g, the gradient of slice node `node`'s output, as a piece of its
 * input's gradient: true when taken (*st: the copy's status), false when the
 * regular backward must run (not a unit-step slice, not f32, `dense` — the
 * input already has a gradient that is not pieces —, another dim, or an
 * overlap). */
bool agi_grad_parts_take(agi_grad_parts *p, bool dense, const agi_node *node, ag_tensor *g,
                         ag_status *st);
/* Zeroes what no piece covered and hands the buffer over (*out NULL when no
 * piece was taken); p is empty afterwards. */
ag_status agi_grad_parts_finish(agi_grad_parts *p, ag_tensor **out);

/* True when grad mode is on and any of the (possibly NULL) inputs requires grad. */
bool agi_needs_grad(int n, const ag_tensor *const *inputs);
#define AGI_NEEDS_GRAD(...)                                                                       \
    agi_needs_grad((int)(sizeof((const ag_tensor *[]){__VA_ARGS__}) / sizeof(ag_tensor *)),        \
                   (const ag_tensor *const[]){__VA_ARGS__})
/* Gradient-ready hook (for src/dist): while set on a thread, ag_backward on
 * that thread calls fn(ctx, leaf) right after it stores the gradient of a
 * leaf that requires grad. The walk visits each tensor once, after all its
 * consumers, so leaf->grad is then final for this backward (on an
 * asynchronous backend its kernels may still be queued). A negative return
 * stops the walk with that error. Set and restore around one ag_backward:
 * the previous hook is returned through prev_fn / prev_ctx (may be NULL). */
typedef ag_status (*agi_grad_ready_fn)(void *ctx, ag_tensor *leaf);
void agi_grad_ready_hook_set(agi_grad_ready_fn fn, void *ctx, agi_grad_ready_fn *prev_fn,
                             void **prev_ctx);
/* A node with n inputs (each retained; NULL allowed). */
agi_node *agi_node_new(const char *name, agi_backward_fn backward, int n,
                       const ag_tensor *const *inputs);
/* Declares which inputs' values the node's backward reads (bit i: inputs[i];
 * 0: none, as for views, sums, add): the others may change in place before
 * the backward without making it wrong. Saved tensors are always checked. */
void agi_node_reads(agi_node *node, unsigned mask);
/* agi_node_reads(node, 0), returning node (NULL passes through). */
agi_node *agi_node_reads_none(agi_node *node);
/* Saves a tensor in slot `slot` (retained). Never save the node's own output
 * tensor: the output owns the node, so that would be a reference cycle and a
 * leak. Save ag_detach(out) instead (a view of the same data without grad_fn). */
void agi_node_save(agi_node *node, int slot, const ag_tensor *t);
/* Makes `out` the output of `node` (out->grad_fn = node, requires_grad = 1).
 * Takes over the caller's reference to node. Returns out. Call it only when
 * a graph is needed: a NULL node (host OOM in agi_node_new) or one whose
 * agi_node_save got NULL fails the op: `out` is discarded (agi_discard) and
 * NULL returned with AG_ERR_OOM set. A NULL `out` releases the node. */
ag_tensor *agi_attach(ag_tensor *out, agi_node *node) __attribute__((warn_unused_result));
void agi_node_release(agi_node *node);
/* Reduces a broadcast gradient back to `ndim`/`shape` (sum over broadcast dims). */
ag_tensor *agi_sum_to_shape(ag_tensor *grad, int ndim, const int64_t *shape);

/* ---- Normalisation ------------------------------------------------------------ */

/* ag_batch_norm with PyTorch's momentum=None in training mode: the running
 * statistics become the cumulative average, r += (s - r) / (n + 1) with n the
 * i32 0-dim `batches_tracked` before this batch (read on the device, no
 * sync). The caller increments batches_tracked afterwards. */
ag_tensor *agi_batch_norm_cumulative(const ag_tensor *x, ag_tensor *running_mean,
                                     ag_tensor *running_var, const ag_tensor *weight,
                                     const ag_tensor *bias, bool training,
                                     const ag_tensor *batches_tracked, double eps);

/* ---- Optimizers ------------------------------------------------------------ */

/* The largest optimizer step count, overall or of a parameter: exact as a
 * double (the bias corrections) and far from overflowing when counted on. */
#define AGI_MAX_STEP (INT64_C(1) << 53)

/* Every check ag_optimizer_state_set makes (name, index, buffer, dtype, shape,
 * step value), without changing the optimizer. Sets the error like it. */
ag_status agi_optimizer_state_check(const ag_optimizer *opt, const char *name,
                                    const ag_tensor *value);

/* ---- RNG ----------------------------------------------------------------- */

/* Reserves `n` counters of the global generator; returns the seed and the
 * first counter for an AGI_K_RNG kernel. */
void agi_rng_reserve(uint64_t n, uint64_t *seed, uint64_t *offset);

/* ---- Host memory (src/alloc.c) ---------------------------------------------
 * Every host allocation of the front end uses these (never malloc & co.
 * directly), so a failure can be injected: agi_alloc_fail_at(n) makes the
 * n-th allocation from now (counting all threads) return NULL, once; 0 turns
 * the injector off. agi_alloc_failures() counts the injected failures since.
 * Only tests call them. A failed allocation must become AG_ERR_OOM. */
void *agi_malloc(size_t n);
void *agi_calloc(size_t n, size_t size);
void *agi_realloc(void *p, size_t n);
char *agi_strdup(const char *s);
char *agi_strndup(const char *s, size_t n);
void agi_alloc_fail_at(int64_t n);
int64_t agi_alloc_failures(void);

/* ---- Graph capture (src/graph) ---------------------------------------------
 * While a thread captures (ag_graph_begin), the front end reports to the
 * capture every buffer it allocates and releases on the captured device,
 * every kernel it queues and every host upload; host reads fail. */

struct agi_capture;
extern _Thread_local struct agi_capture *agi_tl_capture;
/* True when this thread is capturing a graph on `dev`. */
bool agi_capturing(const ag_device *dev);
/* Called by the storage code (src/tensor.c). */
void agi_graph_on_alloc(ag_device *dev, agi_buffer *buf, size_t nbytes);
/* True when a graph keeps `buf` (do not free it; the graph frees it later). */
bool agi_graph_on_release(ag_device *dev, agi_buffer *buf);
void agi_graph_on_exec(ag_device *dev, const agi_kernel *k);
void agi_graph_on_write(ag_device *dev, agi_buffer *buf, size_t offset, const void *src, size_t n);
/* Fails (error "op: ... inside a graph capture") when this thread captures:
 * for host reads and other work a replay could not repeat. */
ag_status agi_graph_forbid(const char *op, const ag_device *dev, const char *what);

/* Replay hooks: host state that changes every step (an optimizer's step
 * count and bias corrections). The hook registered just before a kernel is
 * queued is called at each replay with that kernel's record: PREPARE before
 * the replay runs (patch the record's parameters for this step), COMMIT after
 * it was queued successfully (advance the host state). With record == NULL
 * (agi_graph_hook_after) it only gets COMMIT, after the kernels queued before
 * it. */
enum { AGI_GRAPH_PREPARE, AGI_GRAPH_COMMIT };
typedef void (*agi_graph_hook_fn)(void *ctx, intptr_t arg, agi_kernel *record, int phase);
void agi_graph_hook_next(ag_device *dev, agi_graph_hook_fn fn, void *ctx, intptr_t arg);
void agi_graph_hook_after(ag_device *dev, agi_graph_hook_fn fn, void *ctx, intptr_t arg);

/* ---- Misc ----------------------------------------------------------------- */

int64_t agi_numel(int ndim, const int64_t *shape);
void agi_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides);

#endif /* AG_INTERNAL_H */
