/*
 * anygrad/graph.h — capture a training step once, replay it many times.
 *
 * Like CUDA graphs or TinyJit: ag_graph_begin .. ag_graph_end records what
 * one call of a step does on a device (every kernel of the forward pass,
 * ag_backward, gradient clipping and the optimizer step) while it runs
 * normally. ag_graph_replay then runs the same kernels again, on the same
 * tensors, with no front-end work: no shape checks, no autograd, no
 * allocation.
 *
 *     ag_graph_begin(dev, NULL);
 *     step(&ctx);                      // forward, backward, optimizer step
 *     ag_graph *g = ag_graph_end(dev);  // the captured step ran once
 *     for (...) {
 *         ag_copy_(ctx.x, next_images); // new data into the captured inputs
 *         ag_copy_(ctx.y, next_labels);
 *         ag_graph_replay(g);           // one more step
 *     }
 *     ag_graph_free(g);
 *
 * The rules:
 *   - A replay reads and writes exactly the tensors the capture used: write
 *     new inputs into the captured input tensors (ag_copy_, ag_tensor_write)
 *     before each replay; read results (a retained loss tensor) after it.
 *     Load new weights by copying into the parameters, not by replacing the
 *     tensors. A graph keeps the buffers it uses alive even when their
 *     tensors are released, until ag_graph_free.
 *   - Inside a capture, reading data back to the host (ag_tensor_read,
 *     ag_item, ag_clip_grad_norm's returned double, saving a file) fails at
 *     once with an error naming the op; the capture then fails too. Use
 *     ag_clip_grad_norm_device, which keeps the norm on the device.
 *   - Host uploads inside the capture (ag_from_data, ag_tensor_write) are
 *     replayed with the bytes they had at capture time.
 *   - A capture covers one device and the calling thread; an op on another
 *     device inside it fails the capture.
 *   - What changes per step on the host is refreshed at each replay: the
 *     optimizer's step count, bias corrections and learning rate (so a
 *     learning-rate schedule applied between replays takes effect), and the
 *     random-number counters of dropout and ag_rand* (each replay draws new
 *     numbers, exactly as the same number of eager steps would). These
 *     values go to the device in one small upload per replay; the kernels
 *     that use them read them there, so they stay pre-built.
 *   - Free a graph before the optimizer and the device it uses.
 *
 * Memory: the intermediates of the captured step (tensors created and
 * released inside it) share one arena; each gets an offset, reused by
 * intermediates whose lifetimes do not overlap. ag_graph_info reports the
 * plan before the first replay.
 *
 * Fusion: chains of elementwise kernels whose intermediate results are used
 * by nothing else become one kernel (ag_graph_opts.no_fusion turns it off).
 * Fused kernels compute each element with the same f32 operations in the same
 * order, so a replay gives the same bits as the eager step it captured.
 */
#ifndef ANYGRAD_GRAPH_H
#define ANYGRAD_GRAPH_H

#include "core.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct ag_graph ag_graph;

/* The environment variables AG_GRAPH_NO_FUSION=1 and AG_GRAPH_NO_PREBUILD=1
 * turn these on for every graph (for comparisons and bug hunts). */
typedef struct ag_graph_opts {
    bool no_fusion;   /* keep every elementwise kernel separate */
    bool no_prebuild; /* replay record by record (no pre-built backend lists) */
} ag_graph_opts;

/* Starts capturing on `dev` in the calling thread (opts may be NULL).
 * AG_ERR_INVALID when this thread already captures or dev is NULL. */
AG_API ag_status ag_graph_begin(ag_device *dev, const ag_graph_opts *opts);
/* Ends the capture and plans the graph's memory. Returns the graph (free it
 * with ag_graph_free), or NULL when the capture failed or captured nothing:
 * ag_last_error() then names the first op that failed inside it. */
AG_API ag_graph *ag_graph_end(ag_device *dev);
/* ag_graph_begin, fn(ctx), ag_graph_end; fails when fn returns an error. */
AG_API ag_graph *ag_graph_capture(ag_device *dev, ag_status (*fn)(void *ctx), void *ctx,
                                  const ag_graph_opts *opts);
/* Runs the captured step once more (asynchronously, like any op). On an
 * error (device out of memory, a device lost) the message says whether the
 * step's writes had begun: when it says "nothing was changed", the captured
 * inputs, parameters and optimizer state are as they were before the call. */
AG_API ag_status ag_graph_replay(ag_graph *g);
/* Waits for the graph's queued work and frees it. NULL is a no-op. */
AG_API void ag_graph_free(ag_graph *g);

typedef struct ag_graph_info {
    int64_t records;        /* kernels the capture queued */
    int64_t kernels;        /* kernels one replay queues (after fusion) */
    int64_t fused;          /* records merged into fused kernels */
    int64_t arena_buffers;  /* intermediates placed in the arena */
    size_t arena_bytes;     /* the planned peak: size of the arena */
    size_t eager_bytes;     /* sum of the intermediates' sizes, as the eager step allocates them */
    size_t held_bytes;      /* buffers the graph uses from outside the step (parameters, inputs,
                             * gradients, optimizer state) */
    int64_t host_records;   /* kernels the host re-queues one by one at each replay; the rest
                             * run from lists the backend pre-built (0 for the training steps
                             * of the examples: optimizer parameters, random seeds and offsets
                             * are uploaded in one write per replay) */
} ag_graph_info;

/* Fills *out (AG_ERR_INVALID for NULL arguments). */
AG_API ag_status ag_graph_get_info(const ag_graph *g, ag_graph_info *out);
/* The planned peak of the intermediates in bytes (the arena); 0 for NULL. */
AG_API size_t ag_graph_memory(const ag_graph *g);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_GRAPH_H */
