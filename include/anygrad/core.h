/*
 * anygrad/core.h — version, status codes, errors, dtypes, devices and scopes.
 */
#ifndef ANYGRAD_CORE_H
#define ANYGRAD_CORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(AG_BUILDING_LIBRARY) && defined(__GNUC__)
#define AG_API __attribute__((visibility("default")))
#else
#define AG_API
#endif

/* ---- Version ------------------------------------------------------------ */

#define AG_VERSION_MAJOR 0
#define AG_VERSION_MINOR 1
#define AG_VERSION_PATCH 0

/* "MAJOR.MINOR.PATCH" of the linked library. Static string, never NULL. */
AG_API const char *ag_version(void);

/* ---- Status codes and errors ------------------------------------------- */

typedef enum ag_status {
    AG_OK = 0,
    AG_ERR_INVALID = -1,     /* bad argument: NULL, wrong shape, dtype, dim... */
    AG_ERR_OOM = -2,         /* out of memory (host or device); recoverable:
                              * the library never aborts on a failed allocation */
    AG_ERR_UNSUPPORTED = -3, /* the device's backend lacks this op or dtype */
    AG_ERR_DEVICE = -4,      /* a device or driver call failed */
    AG_ERR_IO = -5,          /* a file could not be read or written */
    AG_ERR_FORMAT = -6,      /* a file's contents are malformed */
    AG_ERR_NOT_FOUND = -7,   /* no such device, name or entry */
} ag_status;

/* The calling thread's last error message, e.g.
 * "ag_matmul: inner dims differ: [64,784] @ [512,10]". Never NULL; "" when no
 * error happened yet. The string is valid until the thread's next failing call. */
AG_API const char *ag_last_error(void);

/* The status code of the calling thread's last error (AG_OK when none). */
AG_API ag_status ag_last_status(void);

/* Clears the calling thread's last error. */
AG_API void ag_clear_error(void);

/* A static name for a status code ("AG_ERR_OOM"). */
AG_API const char *ag_status_name(ag_status status);

/* ---- Data types --------------------------------------------------------- */

typedef enum ag_dtype {
    AG_F32 = 0, /* 32-bit float: values and gradients */
    AG_I32 = 1, /* 32-bit signed int: indices, labels */
    AG_U8 = 2,  /* 8-bit unsigned: raw bytes and boolean masks (0 or 1) */
    AG_F16 = 3, /* IEEE half (storage; arithmetic accumulates in f32) */
    AG_BF16 = 4, /* bfloat16: f32's exponent, 8-bit mantissa (storage) */
    AG_DTYPE_COUNT
} ag_dtype;

/* Size of one element in bytes (4, 4, 1, 2, 2); 0 for an invalid dtype. */
AG_API size_t ag_dtype_size(ag_dtype dtype);

/* Static name ("f32", "i32", "u8", "f16", "bf16"); "?" for an invalid dtype. */
AG_API const char *ag_dtype_name(ag_dtype dtype);

/* ---- Devices ------------------------------------------------------------ */

typedef struct ag_device ag_device;

typedef enum ag_backend_kind {
    AG_BACKEND_CPU = 0,
    AG_BACKEND_VULKAN = 1,
    AG_BACKEND_OPENCL = 2,
} ag_backend_kind;

typedef enum ag_device_type {
    AG_DEVICE_CPU = 0,            /* a CPU (the CPU backend, lavapipe, PoCL) */
    AG_DEVICE_INTEGRATED_GPU = 1, /* shares memory with the host */
    AG_DEVICE_DISCRETE_GPU = 2,
    AG_DEVICE_OTHER = 3,
} ag_device_type;

/* Description of one device, as listed by ag_device_list. */
typedef struct ag_device_info {
    ag_backend_kind backend;
    ag_device_type type;
    char spec[32];        /* string for ag_device_open: "cpu", "vulkan:1", "opencl:0.1" */
    char name[256];       /* e.g. "NVIDIA H100", "llvmpipe (LLVM 15.0.6, 256 bits)" */
    char vendor[64];      /* e.g. "NVIDIA", "Mesa", "The pocl project" */
    char driver[128];     /* driver / runtime version string */
    uint64_t memory_bytes;     /* device-local memory (host RAM for the CPU) */
    uint32_t compute_units;    /* cores, SMs or compute units */
    uint32_t subgroup_size;    /* 0 when unknown */
    uint64_t max_buffer_bytes; /* largest range one kernel operand may span
                                  (Vulkan: maxStorageBufferRange) */
    bool fp16;                 /* native half-precision arithmetic */
    bool matrix_units;         /* f16 GEMMs run on matrix units (Vulkan: cooperative matrices,
                                  VK_NV_cooperative_matrix 16x16x16 f16 -> f32) */
} ag_device_info;

/* Fills up to `max` entries of `out` with every device of every compiled-in
 * backend whose runtime is present (a missing Vulkan or OpenCL runtime just
 * lists no devices). Returns the number of devices found (may exceed `max`),
 * or a negative ag_status. `out` may be NULL when `max` is 0. */
AG_API int ag_device_list(ag_device_info *out, int max);

/* Opens a device. `spec` is "auto" (or NULL), "cpu", "vulkan", "vulkan:N",
 * "opencl", "opencl:P.D" (OpenCL platform P, device D, as ag_device_list
 * names them). "auto" honours the AG_DEVICE environment variable, then picks
 * a discrete GPU (Vulkan, then OpenCL), then an integrated GPU, then the CPU
 * backend. A backend name alone ("vulkan", "opencl") picks that backend's
 * best device by the same rule, so a GPU wins over a CPU implementation
 * (lavapipe, PoCL) whatever order the Vulkan loader or the OpenCL ICD files
 * list them in. Returns NULL with an error when the device does not exist
 * or fails to initialise. The caller owns the device: ag_device_close it. */
AG_API ag_device *ag_device_open(const char *spec);

/* Writes into `out` the concrete spec ("vulkan:0", "opencl:1.0", "cpu") of
 * the device ag_device_open(spec) would open, without opening it. Returns
 * AG_OK, AG_ERR_NOT_FOUND when there is no such device, or AG_ERR_INVALID
 * when `out` is NULL or smaller than the spec. */
AG_API ag_status ag_device_resolve(const char *spec, char *out, size_t cap);

/* Releases the caller's handle. The device stays alive while tensors on it
 * exist and is destroyed with the last of them. NULL is a no-op. Closing a
 * handle twice sets AG_ERR_INVALID "ag_device_close: device ... was already
 * closed" and does nothing; passing a destroyed device to any function is
 * AG_ERR_INVALID "... was closed and destroyed" (detected for recently freed
 * handles, see ag_release). */
AG_API void ag_device_close(ag_device *dev);

/* Information about an open device. Returns a pointer owned by the device. */
AG_API const ag_device_info *ag_device_get_info(const ag_device *dev);

/* Waits until every queued operation on the device has finished. Reports an
 * out-of-range index met by a kernel since the last sync or read
 * (AG_ERR_INVALID naming the op; see "index ops" in ops.h). */
AG_API ag_status ag_device_sync(ag_device *dev);

/* Number of device buffers currently allocated on `dev` for tensors (for leak
 * checks). */
AG_API int64_t ag_device_live_buffers(const ag_device *dev);

/* What a device's memory allocator and command stream have done since the
 * device was opened. The totals only grow; take differences around a
 * training step. A step in steady state (after warm-up) should make no
 * driver allocation on any backend: every allocator caches freed memory. */
typedef struct ag_device_counters {
    uint64_t driver_allocs;      /* memory obtained from the driver or system:
                                    vkAllocateMemory, clCreateBuffer, or the CPU
                                    backend's aligned_alloc */
    uint64_t driver_alloc_bytes; /* bytes those allocations obtained */
    uint64_t driver_frees;       /* memory given back (vkFreeMemory, ...) */
    uint64_t dispatches;         /* kernels and copies queued (a CLBlast call
                                    counts as one; CPU: kernels run) */
    uint64_t host_waits;         /* times the host blocked on the device (fence
                                    waits, clFinish, blocking transfers; 0 on
                                    the CPU backend, which runs synchronously) */
    uint64_t in_use_bytes;       /* now: held by live buffers */
    uint64_t cached_bytes;       /* now: held by the allocator's cache, free */
} ag_device_counters;

/* Fills `out` with the device's counters. Returns AG_OK, or AG_ERR_INVALID
 * when `dev` or `out` is NULL. */
AG_API ag_status ag_device_get_counters(ag_device *dev, ag_device_counters *out);

/* Gives the device memory cached by the allocator back to the driver (like
 * torch.cuda.empty_cache), after waiting for queued work. Live tensors are
 * untouched. The allocators also do this by themselves before reporting
 * AG_ERR_OOM. Returns AG_OK or the device's error. */
AG_API ag_status ag_device_empty_cache(ag_device *dev);

/* ---- Scopes and ownership ----------------------------------------------- */

/* Opens a scope on the calling thread. Every tensor created until the matching
 * ag_scope_end belongs to it (one reference each). Scopes nest. Never fails
 * for the first 16 levels; deeper, when host memory cannot grow the scope
 * stack, it sets AG_ERR_OOM and the new level's tensors belong to the
 * enclosing scope (the matching ag_scope_end still pairs with this call). */
AG_API void ag_scope_begin(void);

/* Closes the innermost scope, releasing the reference it holds to each tensor
 * created inside it. Tensors retained with ag_retain (or referenced by a
 * module, an optimizer or an autograd graph) survive. Ending with no open
 * scope is a no-op. */
AG_API void ag_scope_end(void);

/* Number of tensors alive in the whole process (for leak checks). */
AG_API int64_t ag_live_tensors(void);

/* ---- Random numbers ----------------------------------------------------- */

/* Seeds the global generator (Philox4x32-10, counter based). Every backend
 * draws the same numbers for the same seed and sequence of calls. */
AG_API void ag_manual_seed(uint64_t seed);

/* The generator's state: seed and the counter offset already consumed. */
AG_API void ag_rng_get_state(uint64_t *seed, uint64_t *offset);

/* Restores a state returned by ag_rng_get_state. */
AG_API void ag_rng_set_state(uint64_t seed, uint64_t offset);

/* ---- Determinism -------------------------------------------------------- */

/* When enabled, kernels avoid float atomics and use a fixed reduction order so
 * repeated runs on one device give identical results. Default: off. */
AG_API void ag_set_deterministic(bool on);
AG_API bool ag_is_deterministic(void);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_CORE_H */
