/*
 * anygrad/dist.h — data-parallel training across processes and machines, on MPI.
 *
 * Every process (a "rank") holds a full copy of the model and trains on its
 * own shard of each global batch; gradients are averaged across ranks before
 * the optimizer step, so every rank takes the same step and the parameters
 * stay identical. The transport is the MPI library the program is launched
 * with (mpirun); anygrad never opens sockets of its own.
 *
 *   ag_dist_init(&argc, &argv, NULL);            // or ag_dist_init_comm(&comm, NULL)
 *   ag_module *model = ...;                      // same seed or not: the DDP
 *   ag_ddp *ddp = ag_ddp_new(model, NULL);       // broadcasts rank 0's state
 *   ag_loader *ld = ag_loader_new(train, dev, &(ag_loader_opts){
 *       .batch_size = 64, .shuffle = true, .seed = 1,
 *       .num_replicas = ag_dist_world_size(), .rank = ag_dist_rank()});
 *   for each batch:
 *       ag_optimizer_zero_grad(opt);
 *       ag_tensor *loss = ag_cross_entropy(ag_module_forward(model, x), y, NULL);
 *       ag_ddp_backward(ddp, loss);              // backward + averaged gradients
 *       ag_optimizer_step(opt);
 *       if (ag_dist_rank() == 0) print progress / save checkpoints
 *   ag_ddp_free(ddp);
 *   ag_dist_finalize();
 *
 * State: one process-wide group (a duplicate of MPI_COMM_WORLD or of the
 * communicator given to ag_dist_init_comm). Call the functions of this
 * header from one thread (the one that initialised MPI), in the same order on
 * every rank: each collective must be entered by all ranks.
 *
 * Failure: every collective is started non-blocking and polled against a
 * timeout (ag_dist_opts.timeout_s, default 60 s, overridden by the
 * AG_DIST_TIMEOUT environment variable, in seconds). When a peer rank dies,
 * stalls or takes a different code path, the waiting ranks stop within the
 * timeout with an error naming the operation, the rank and the timeout: by
 * default they print it to stderr and call MPI_Abort, so mpirun ends the
 * whole job (a collective that never completed cannot be cancelled, and the
 * group cannot be used again). With no_abort_on_failure the call returns
 * AG_ERR_DEVICE instead, the group is marked broken and every later
 * collective fails at once; the program should then call ag_dist_abort.
 * MPI errors (MPI_ERRORS_RETURN is set on the group) are handled the same way.
 *
 * Graphs (anygrad/graph.h): collectives run on the host and cannot be
 * captured; inside ag_graph_begin .. ag_graph_end every collective fails at
 * once with AG_ERR_UNSUPPORTED on every rank alike (no collective starts).
 *
 * Build: with AG_MPI=OFF (or no MPI found at build time) this header is still
 * installed and every function exists: ag_dist_available() is false,
 * ag_dist_rank() is 0, ag_dist_world_size() is 1, ag_dist_finalize and
 * ag_ddp_free do nothing, ag_dist_abort exits, and the others fail with
 * AG_ERR_UNSUPPORTED ("... anygrad was built without MPI ...").
 */
#ifndef ANYGRAD_DIST_H
#define ANYGRAD_DIST_H

#include "nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---- The process group ---------------------------------------------------- */

typedef struct ag_dist_opts {
    /* Seconds a collective may take before the job is stopped as failed.
     * 0 → 60; the AG_DIST_TIMEOUT environment variable overrides both. */
    double timeout_s;
    /* true: a failure returns AG_ERR_DEVICE instead of calling MPI_Abort. */
    bool no_abort_on_failure;
} ag_dist_opts;

/* True when the library was built with MPI (AG_MPI=ON). */
AG_API bool ag_dist_available(void);

/* Initialises MPI when nobody did yet (MPI_Init_thread, MPI_THREAD_FUNNELED;
 * argc/argv may be NULL) and makes the group a duplicate of MPI_COMM_WORLD.
 * opts may be NULL. Returns AG_OK, AG_ERR_INVALID when already initialised,
 * AG_ERR_DEVICE when MPI fails, AG_ERR_UNSUPPORTED without MPI. When this call
 * initialised MPI, ag_dist_finalize finalises it. */
AG_API ag_status ag_dist_init(int *argc, char ***argv, const ag_dist_opts *opts);

/* Like ag_dist_init, over an existing communicator: `mpi_comm` points to an
 * MPI_Comm (a `void *` so that this header needs no mpi.h; with mpi.h,
 * anygrad/dist_mpi.h has ag_dist_init_mpi(MPI_Comm)). MPI must already be
 * initialised by the caller, who keeps ownership of the communicator: the
 * group is a duplicate of it. AG_ERR_INVALID for NULL or MPI_COMM_NULL. */
AG_API ag_status ag_dist_init_comm(const void *mpi_comm, const ag_dist_opts *opts);

/* True between a successful init and ag_dist_finalize. */
AG_API bool ag_dist_is_initialized(void);

/* This process's rank in the group, 0 .. world size - 1; 0 when the group is
 * not initialised (a single process is rank 0 of 1). */
AG_API int ag_dist_rank(void);
/* Number of ranks in the group; 1 when not initialised. */
AG_API int ag_dist_world_size(void);

/* Waits until every rank has called it (with the timeout). */
AG_API ag_status ag_dist_barrier(void);

/* Frees the group, and finalises MPI when ag_dist_init initialised it. Every
 * ag_ddp must be freed first. Safe to call when not initialised (no-op). */
AG_API ag_status ag_dist_finalize(void);

/* Prints "anygrad: rank R of N: <message>" to stderr and ends every rank of
 * the job (MPI_Abort with `code`). Without MPI or an initialised group, exits
 * the process with `code`. Does not return. */
AG_API void ag_dist_abort(int code, const char *message);

/* ---- Collectives on tensors --------------------------------------------------
 * Tensors of any backend: the data is staged through host memory (no
 * GPU-aware MPI is assumed). The tensor must have the same dtype and shape on
 * every rank; that is checked only for the local tensor (a peer with another
 * shape makes MPI fail or time out). Deterministic mode (ag_set_deterministic)
 * makes reductions sum the ranks' values in rank order, r0 + r1 + ... (an
 * all-gather then a host sum), so the result does not depend on MPI's
 * algorithm; otherwise MPI_Allreduce chooses the order.                     */

typedef enum ag_dist_reduce_op {
    AG_DIST_SUM = 0,  /* f32 or i32 */
    AG_DIST_MEAN = 1, /* f32 only: the sum divided by the world size */
} ag_dist_reduce_op;

/* Replaces `t` (f32 or i32, any shape; a view is fine) with the reduction of
 * its values over all ranks, in place, on every rank. AG_ERR_INVALID for a
 * NULL tensor, a bad op or dtype (the message names both), AG_ERR_DEVICE for
 * an MPI failure or timeout (see Failure above). */
AG_API ag_status ag_dist_allreduce(ag_tensor *t, ag_dist_reduce_op op);

/* Overwrites `t` on every rank with its value on rank `root`. */
AG_API ag_status ag_dist_broadcast(ag_tensor *t, int root);

/* Broadcasts every parameter and buffer of `m` (ag_module_state) from rank 0,
 * so all ranks start from rank 0's model. */
AG_API ag_status ag_dist_broadcast_module(ag_module *m);

/* ---- Data-parallel gradients ----------------------------------------------------
 * An ag_ddp averages the gradients of a module's parameters across ranks,
 * like PyTorch's DistributedDataParallel. Parameters are grouped into
 * buckets of about bucket_mb MiB, in reverse registration order (the order
 * in which backward produces them). During ag_ddp_backward, as soon as every
 * gradient of a bucket is final, its values are copied to host memory and
 * its all-reduce starts (MPI_Iallreduce), while the backward pass goes on; a
 * bucket is started only after the buckets before it, so every rank issues
 * the same collectives in the same order. After the backward pass the
 * remaining buckets are started and all are waited for.
 *
 * A parameter that received no gradient in this backward contributes its
 * existing .grad, or zeros; after the call every parameter that requires
 * grad has a .grad holding the mean over ranks. Gradients of batch-norm
 * statistics are not involved: running statistics stay per rank (broadcast
 * them with ag_dist_broadcast_module when needed). Deterministic mode is
 * taken as it is when the wrapper is made (it decides how buckets are
 * reduced, see Collectives above): set it before ag_ddp_new.               */

typedef struct ag_ddp ag_ddp;

typedef struct ag_ddp_opts {
    double bucket_mb; /* bucket capacity in MiB (0 → 25) */
    bool no_overlap;  /* reduce only after the backward pass (for measurements) */
    bool no_broadcast; /* skip the initial broadcast of rank 0's parameters and buffers */
} ag_ddp_opts;

/* Wraps `m` (borrowed: it must outlive the wrapper) for data-parallel
 * training. opts may be NULL. Unless opts->no_broadcast, broadcasts rank 0's
 * parameters and buffers (a collective: every rank must call it). Returns
 * NULL with an error when the group is not initialised, the module has no
 * parameters, on bad options or host OOM. The caller owns the wrapper. */
AG_API ag_ddp *ag_ddp_new(ag_module *m, const ag_ddp_opts *opts);

/* ag_backward(loss, NULL), overlapped with the averaging of the gradients
 * across ranks (see above). On return every parameter's .grad is the mean
 * over ranks of each rank's .grad. A failure of the backward pass on this
 * rank (a NULL loss, a kernel error) is a failure of the group, since the
 * peers would wait for this rank's gradients: it is reported as
 * "backward failed on this rank: <error>" and handled like a timeout (see
 * Failure above: MPI_Abort by default, else AG_ERR_DEVICE). A collective's
 * failure likewise. After an error the gradients are unspecified. */
AG_API ag_status ag_ddp_backward(ag_ddp *ddp, ag_tensor *loss);

/* Averages the parameters' current .grad across ranks, without a backward
 * pass (for gradient accumulation with plain ag_backward calls). */
AG_API ag_status ag_ddp_sync_grads(ag_ddp *ddp);

/* Timings of the last ag_ddp_backward or ag_ddp_sync_grads, in seconds. */
typedef struct ag_ddp_stats {
    int buckets;            /* number of buckets */
    int started_in_backward; /* buckets whose all-reduce started during backward */
    double backward_s;      /* inside ag_backward (including the hooks' work) */
    double wait_s;          /* after ag_backward: starting the rest, waiting, writing back */
} ag_ddp_stats;

/* Fills `out`; AG_ERR_INVALID for NULL arguments. */
AG_API ag_status ag_ddp_get_stats(const ag_ddp *ddp, ag_ddp_stats *out);

/* Frees the wrapper (not the module). NULL is a no-op. */
AG_API void ag_ddp_free(ag_ddp *ddp);

#ifdef __cplusplus
}
#endif
#endif /* ANYGRAD_DIST_H */
