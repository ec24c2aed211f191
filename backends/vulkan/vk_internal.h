/*
 * backends/vulkan/vk_internal.h — what the Vulkan backend's files share.
 *
 *   vk_device.c   instance, physical-device listing, open/close, validation
 *   vk_memory.c   block sub-allocator, buffers, host read/write
 *   vk_stream.c   pipelines, command batches, barriers, dispatch
 *   vk_ops.c      exec() dispatcher, supports(), elementwise kernels
 *   vk_reduce.c   reductions, softmax
 *   vk_gemm.c     batched matrix products
 *   vk_conv.c     im2col/col2im, pooling
 *   vk_index.c    gather, scatter_add, optimizer updates
 *   vk_graph.c    pre-built kernel lists (graphs): secondary command buffers
 *
 * Locking: every vtable entry takes dev->lock; internal functions (vk_*)
 * expect it held.
 */
#ifndef AG_VK_INTERNAL_H
#define AG_VK_INTERNAL_H

#include "backend.h"
#include "vk_shader_ids.h"

#include <pthread.h>
#include <vulkan/vulkan.h>

#define AGVK_NBIND 5      /* storage-buffer bindings of the one descriptor set layout */
#define AGVK_NSPEC 16     /* specialization constants 0..15 (0 = local_size_x) */
#define AGVK_NBATCH 3     /* command batches in the ring */
#define AGVK_BATCH_SETS 256 /* descriptor sets (= dispatches) per batch */
#define AGVK_META_BYTES (64 * 1024) /* per-batch metadata arena */
#define AGVK_PUSH_WORDS 32

/* A free range of a block. Device memory is reused in stream order: a
 * buffer freed while queued work still uses it goes back to its block at
 * once, and the range remembers that work (the batch seq and the barrier
 * epoch of its last use). A buffer carved from it inherits both, so the
 * stream records a barrier before the new use when the old one is in the
 * current epoch, and host access waits for (or stages behind) the old work.
 * Coalesced ranges keep the larger tags. */
typedef struct vk_range {
    VkDeviceSize off, size;
    uint64_t seq, epoch;
    struct vk_range *next;
} vk_range;

typedef struct vk_block {
    VkDeviceMemory mem;
    VkBuffer buffer;
    VkDeviceSize size, used;
    uint8_t *mapped; /* host pointer when host visible */
    bool host;       /* belongs to the host (staging) pool */
    bool dedicated;  /* holds exactly one large buffer */
    vk_range *free;  /* sorted by offset, coalesced */
    struct vk_block *next;
} vk_block;

struct agi_buffer {
    vk_block *block;
    VkDeviceSize offset; /* in the block, aligned */
    VkDeviceSize size;   /* bytes requested */
    VkDeviceSize alloc;  /* bytes reserved */
    uint64_t last_use;   /* seq of the last batch that touched it (0 never) */
    uint64_t rd_epoch, wr_epoch; /* barrier epochs of the last read / write */
};

typedef struct vk_batch {
    VkCommandBuffer cb;
    VkFence fence;
    VkDescriptorPool pool;
    uint32_t sets;   /* descriptor sets used */
    uint64_t seq;    /* 0 when idle */
    bool recording, submitted;
    agi_buffer *meta; /* host-visible arena for kernel metadata */
    uint32_t meta_used;
} vk_batch;

typedef struct vk_deferred {
    agi_buffer *buf;
    uint64_t seq;
} vk_deferred;

typedef struct vk_pipe {
    int shader; /* -1: empty slot */
    uint32_t spec[AGVK_NSPEC];
    VkPipeline pipe;
} vk_pipe;

/* A kernel list being recorded or built (vk_graph.c): a secondary command
 * buffer with descriptor sets, metadata and temporaries of its own, so it
 * can be executed again and again inside the ring's batches. */
typedef struct vk_recorder {
    VkCommandBuffer cb;
    VkDescriptorPool *pools;
    int n_pools;
    uint32_t pool_sets;  /* sets used in the last pool */
    agi_buffer **metas;  /* host-visible metadata arenas */
    int n_metas;
    uint32_t meta_used;  /* bytes used in the last arena */
    agi_buffer **keep;   /* temporaries the kernels released while recording */
    int n_keep, cap_keep;
    agi_buffer **touched; /* buffers the list reads or writes */
    int n_touched, cap_touched;
    uint32_t dispatches;
    ag_status failed;    /* set when the host ran out of memory noting a buffer:
                            the list is discarded when recording ends */
} vk_recorder;

struct agi_kernel_list {
    vk_recorder rec;
};

struct agi_backend_device {
    pthread_mutex_t lock;
    vk_recorder *rec;     /* while list_build records: where commands go */
    VkInstance inst; /* the process-wide instance (vk_device.c) */
    VkPhysicalDevice phys;
    VkDevice dev;
    VkQueue queue;
    uint32_t qfamily;
    VkPhysicalDeviceProperties props;
    VkPhysicalDeviceMemoryProperties memprops;
    uint32_t subgroup_size;
    bool subgroup_arith;  /* subgroup arithmetic ops in compute */
    bool has_u8;          /* storageBuffer8BitAccess */
    bool has_fatomic;     /* shaderBufferFloat32AtomicAdd */
    bool has_s16;         /* storageBuffer16BitAccess: the *_s16 kernels for f16 / bf16 */
    bool is_cpu;          /* a CPU-type device (lavapipe): register-blocked kernels */
    uint32_t compute_units; /* SMs / CUs where an extension reports them, else 0 */
    bool has_coopmat;     /* f16 GEMMs may take gemm_coop.comp (VK_NV_cooperative_matrix) */
    uint32_t dev_type, host_type; /* memory type indices */
    bool dev_mappable;    /* dev_type is host visible (no staging needed) */
    bool dev_coherent, host_coherent;
    VkDeviceSize align;   /* sub-allocation alignment */
    VkDeviceSize block_size;
    VkDeviceSize heap_size, heap_used;
    VkDeviceSize in_use;  /* bytes of live device-pool buffers */
    /* Counters (ag_device_counters), under the device lock. */
    uint64_t n_driver_allocs, n_driver_frees, driver_alloc_bytes, n_dispatches, n_host_waits;

    VkDescriptorSetLayout dsl;
    VkPipelineLayout layout;
    VkPipelineCache pcache;
    char cache_path[512];
    VkShaderModule *modules; /* per embedded blob, lazily created */
    vk_pipe *pipes;
    uint32_t pipe_cap, pipe_count;

    VkCommandPool cmdpool;
    vk_batch batches[AGVK_NBATCH];
    int cur;              /* recording batch or -1 */
    uint64_t next_seq;    /* seq of the next batch to begin */
    uint64_t done_seq;    /* every batch with seq <= done_seq has finished */
    uint64_t epoch;       /* barrier epoch of the current position in the stream */

    vk_block *blocks;     /* device pool */
    vk_block *host_blocks;/* staging pool */
    vk_deferred *deferred;
    size_t n_deferred, cap_deferred;
    agi_buffer *dummy;    /* bound to unused bindings */
    /* AG_VULKAN_PROFILE=1: every kernel waits for completion and its time
     * (less the creation of pipelines it used first, counted apart) is
     * added up per op; the table is printed to stderr at close. */
    bool profile;
    double prof_s[AGI_K_COUNT];
    int64_t prof_n[AGI_K_COUNT];
    double prof_pipeline_s; /* pipeline creation, kept out of the ops' times */
    int64_t prof_pipelines;
};

/* ---- vk_device.c ----------------------------------------------------------- */
ag_status vk_check(VkResult r, const char *what);

/* ---- vk_memory.c ----------------------------------------------------------- */
ag_status vk_mem_init(agi_backend_device *d);
void vk_mem_destroy(agi_backend_device *d);
/* host = true: a host-visible coherent staging buffer. */
ag_status vk_buffer_new(agi_backend_device *d, size_t nbytes, bool host, agi_buffer **out);
/* Device buffers go back to their block at once (reused in stream order);
 * host staging buffers when the batch that last used them has finished. */
void vk_buffer_release(agi_backend_device *d, agi_buffer *b);
/* Frees the deferred host buffers whose batches finished. */
void vk_reclaim(agi_backend_device *d);
/* Waits for all work and gives every empty cached block back to the driver. */
ag_status vk_mem_trim(agi_backend_device *d);
ag_status vk_write(agi_backend_device *d, agi_buffer *b, size_t off, const void *src, size_t n);
ag_status vk_read(agi_backend_device *d, agi_buffer *b, size_t off, void *dst, size_t n);

/* ---- vk_stream.c ----------------------------------------------------------- */
typedef struct vk_binding {
    agi_buffer *buf; /* NULL: unused (the dummy buffer is bound) */
    VkDeviceSize off, range; /* relative to buf's start */
    bool write;
} vk_binding;

typedef struct vk_dispatch {
    int shader; /* AGVK_SH_<name> of vk_shader_ids.h (generated from the shader variants) */
    uint32_t spec[AGVK_NSPEC]; /* spec[0] = workgroup size x */
    vk_binding bind[AGVK_NBIND];
    uint32_t push[AGVK_PUSH_WORDS];
    uint32_t push_bytes;
    uint32_t groups[3];
} vk_dispatch;

ag_status vk_stream_init(agi_backend_device *d);
void vk_stream_destroy(agi_backend_device *d);
/* Records a dispatch into the current batch (barriers as needed). */
ag_status vk_dispatch_run(agi_backend_device *d, const vk_dispatch *disp);
/* Records a buffer copy (transfer) with the same hazard tracking. */
ag_status vk_copy_buffer(agi_backend_device *d, agi_buffer *src, VkDeviceSize soff,
                         agi_buffer *dst, VkDeviceSize doff, VkDeviceSize n);
/* Submits the current batch (if any). */
ag_status vk_flush(agi_backend_device *d);
/* Waits until every batch with seq <= seq has finished (flushing as needed). */
ag_status vk_wait_seq(agi_backend_device *d, uint64_t seq);
ag_status vk_wait_all(agi_backend_device *d);
/* Seq of the batch being recorded (begins one if none). 0 on failure. */
uint64_t vk_current_seq(agi_backend_device *d);
/* Copies `n` bytes of metadata into the current batch's arena; returns the
 * binding for it. */
ag_status vk_meta(agi_backend_device *d, const void *data, uint32_t n, vk_binding *out);
/* Splits a count of workgroups into a 2-D grid within device limits. */
void vk_grid(agi_backend_device *d, uint64_t groups, uint32_t out[3]);

/* ---- vk_graph.c (lists for graphs) ------------------------------------------- */
/* While recording: a descriptor set and room for `meta_bytes` of metadata. */
ag_status vk_rec_room(agi_backend_device *d, uint32_t meta_bytes, VkDescriptorPool *pool);
ag_status vk_rec_meta(agi_backend_device *d, const void *data, uint32_t n, vk_binding *out);
void vk_rec_touch(agi_backend_device *d, agi_buffer *b);
/* Keeps a temporary released while recording (freed with the list). */
ag_status vk_rec_keep(agi_backend_device *d, agi_buffer *b);
/* A full compute/transfer barrier recorded into cb (advances the epoch). */
void vk_barrier(agi_backend_device *d, VkCommandBuffer cb);
ag_status vk_list_build(agi_backend_device *d, const agi_kernel *ks, int n, agi_kernel_list **out);
ag_status vk_list_run(agi_backend_device *d, agi_kernel_list *l);
void vk_list_free(agi_backend_device *d, agi_kernel_list *l);
ag_status vk_begin_batch(agi_backend_device *d);
ag_status vk_after_record(agi_backend_device *d);

/* ---- vk_ops.c --------------------------------------------------------------- */
ag_status vk_exec(agi_backend_device *d, const agi_kernel *k);
bool vk_supports(agi_backend_device *d, const agi_kernel_sig *sig);
/* Fills a binding for the elements a view can touch; *elem_off is the view's
 * offset relative to the bound window. */
ag_status vk_bind_view(agi_backend_device *d, const agi_view *v, bool write, vk_binding *b,
                       uint32_t *elem_off);

/* Workgroup size for linear kernels. */
uint32_t vk_wg(agi_backend_device *d, uint32_t want);
/* Number of elements as uint32 (error when the view is too large). */
ag_status vk_count(const agi_view *v, uint32_t *n);

/* ---- vk_poll (vk_stream.c) -------------------------------------------------- */
void vk_poll(agi_backend_device *d);

/* ---- kernels in other files -------------------------------------------------- */
ag_status vk_reduce(agi_backend_device *d, const agi_kernel *k);   /* vk_reduce.c */
ag_status vk_softmax(agi_backend_device *d, const agi_kernel *k);  /* vk_reduce.c */
ag_status vk_layer_norm(agi_backend_device *d, const agi_kernel *k); /* vk_reduce.c */
ag_status vk_gemm(agi_backend_device *d, const agi_kernel *k);     /* vk_gemm.c */
bool vk_gemm_native16(const agi_backend_device *d, const agi_kernel *k);
bool vk_conv_native16(const agi_kernel *k);
bool vk_reduce_native16(const agi_kernel *k);
/* A validated record under the device lock: its kernels, or for a staged op
 * with 16-bit data the f32 scratch round trip (stage16.c). vk_device.c */
ag_status vk_exec_any(agi_backend_device *d, const agi_kernel *k);
ag_status vk_conv(agi_backend_device *d, const agi_kernel *k);     /* vk_conv.c: im2col, col2im, pools */
ag_status vk_index(agi_backend_device *d, const agi_kernel *k);    /* vk_index.c: gather, scatter_add */
ag_status vk_optim(agi_backend_device *d, const agi_kernel *k);    /* vk_index.c */

#endif
