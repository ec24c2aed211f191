/*
 * src/graph/graph_internal.h — what the graph files share.
 *
 *   capture.c  ag_graph_begin/end: records the kernels, uploads and buffer
 *              lifetimes of one step while it runs eagerly
 *   plan.c     the static memory plan: one arena, offsets reused by lifetime
 *   fuse.c     merges chains of elementwise records into one kernel
 *   replay.c   ag_graph_replay, ag_graph_free, the statistics
 *   held.c     the device's registry of buffers that live graphs keep
 */
#ifndef AG_GRAPH_INTERNAL_H
#define AG_GRAPH_INTERNAL_H

#include "internal.h"
#include "anygrad/graph.h"

/* The views of a record, in a fixed order (dst, dst2, src0..2). */
#define AGI_GRAPH_NVIEWS 5
agi_view *agi_graph_view(agi_kernel *k, int i);

typedef enum {
    SLOT_ARENA, /* allocated and released inside the capture: placed in the arena */
    SLOT_HELD,  /* lives beyond the capture (parameters, inputs, gradients, states) */
} slot_kind;

/* One buffer the captured step used. */
typedef struct graph_slot {
    slot_kind kind;
    agi_buffer *buf;   /* the capture's buffer; after planning, the replay's */
    size_t nbytes;
    int first, last;   /* first and last entry using it (-1: unused) */
    size_t offset;     /* SLOT_ARENA: offset in the arena */
    bool open;         /* SLOT_ARENA during capture: not released yet */
    bool alias;        /* SLOT_ARENA after planning: buf is the graph's arena alias */
} graph_slot;

typedef enum { ENTRY_KERNEL, ENTRY_WRITE, ENTRY_HOOK } entry_kind;

typedef struct graph_entry {
    entry_kind kind;
    agi_kernel k;                  /* ENTRY_KERNEL (views point at slot buffers) */
    int slot[AGI_GRAPH_NVIEWS];    /* slot of each view, -1 for none */
    bool rng;                      /* refreshed with new Philox counters per replay */
    agi_graph_hook_fn hook;        /* patches the record / host state per replay */
    void *hook_ctx;
    intptr_t hook_arg;
    /* ENTRY_WRITE: bytes uploaded into slot[0] at `offset` */
    void *data;
    size_t offset, n;
    /* fusion (fuse.c): entries merged into a later one are skipped */
    bool fused_away;
    /* optimizer updates: index of its {lr, bias1, bias2, first_step} in the
     * graph's step-parameter buffer (the kernel reads them there), or -1 */
    int step_param;
} graph_entry;

struct ag_graph {
    uint32_t magic;
    ag_device *dev;
    ag_graph_opts opts;
    graph_entry *e;
    int n, cap;
    graph_slot *slots;
    int n_slots, cap_slots;
    agi_buffer *arena;
    size_t arena_bytes, eager_bytes, held_bytes;
    int64_t records, arena_buffers, fused;
    bool has_err;          /* holds index kernels with the device's error word */
    /* The optimizer updates' per-step parameters, rewritten before each replay
     * (one upload) so their records can stay pre-built. */
    agi_buffer *step_params;
    float *step_host;
    int n_step_params;
    int first_outside_write; /* first entry writing a held buffer (n: none) */
    /* Backend lists, built at the first replay: one per run of static records. */
    struct graph_segment *segs;
    int n_segs;
    bool built;
};

#define AGI_GRAPH_MAGIC 0x67a9f00du

struct agi_capture {
    ag_graph *g;
    ag_status failure;     /* first failure (AG_OK: none) */
    char message[512];
    /* a hook waiting for the next kernel */
    agi_graph_hook_fn pending;
    void *pending_ctx;
    intptr_t pending_arg;
};

/* capture.c */
void agi_graph_fail(struct agi_capture *c, ag_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* plan.c: places the arena slots and points every record at its buffers. */
ag_status agi_graph_plan(ag_graph *g);
/* fuse.c */
void agi_graph_fuse(ag_graph *g);
/* replay.c: frees everything (also for a half-built graph). */
void agi_graph_destroy(ag_graph *g);
/* held.c */
ag_status agi_held_add(ag_device *dev, agi_buffer *buf);
/* Drops one graph's hold; frees the buffer when it was released meanwhile. */
void agi_held_drop(ag_device *dev, agi_buffer *buf);
bool agi_held_adopt(ag_device *dev, agi_buffer *buf);

#endif
