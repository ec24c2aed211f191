/*
 * src/dist/dist_internal.h — what the files of src/dist share: the process
 * group, waiting on MPI requests against the timeout, failure reporting, and
 * host-staged reductions. Only compiled when anygrad is built with MPI.
 */
#ifndef AG_DIST_INTERNAL_H
#define AG_DIST_INTERNAL_H

#include "internal.h"
#include "anygrad/dist.h"

#include <mpi.h>

/* The process-wide group (src/dist/group.c). */
typedef struct agi_dist_group {
    bool initialized;
    bool owns_mpi;         /* ag_dist_init called MPI_Init_thread */
    bool broken;           /* a collective failed or timed out: unusable */
    bool abort_on_failure; /* report and MPI_Abort on failure (default) */
    MPI_Comm comm;         /* our duplicate, with MPI_ERRORS_RETURN */
    int rank, size;
    double timeout_s;
} agi_dist_group;

extern agi_dist_group agi_dist;

/* AG_OK when the group can run a collective; else sets "op: ..." (not
 * initialised, or broken by an earlier failure) and returns the status. */
ag_status agi_dist_check(const char *op);

/* Reports a failure of the group: the message is "op: rank R of N: <fmt>".
 * Marks the group broken; with abort_on_failure prints the message to stderr
 * and calls MPI_Abort (does not return); else returns AG_ERR_DEVICE with the
 * message set. */
ag_status agi_dist_fail(const char *op, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* MPI's text for an error code, in a thread-local buffer. */
const char *agi_dist_mpi_error(int rc);

/* Waits until all n requests complete, polling (MPI_Testall, yielding the
 * CPU between polls) for at most the group's timeout. `what` names the
 * collective in messages ("all-reduce of 1024 f32"). AG_OK, or the result
 * of agi_dist_fail. */
ag_status agi_dist_wait(const char *op, const char *what, int n, MPI_Request *reqs);

/* One poll of a request, to let MPI progress while the caller computes.
 * *done tells whether it completed. MPI errors go through agi_dist_fail. */
ag_status agi_dist_poll(const char *op, const char *what, MPI_Request *req, bool *done);

/* ---- Host-staged reductions (src/dist/reduce.c) --------------------------------
 * A reduction of `count` values of `dtype` (f32 or i32) in host memory.
 * ordered (f32 only): all-gather into `gathered` (size * count values, owned
 * by the caller) and sum in rank order on every rank, so the result is the
 * same bits whatever MPI's algorithm; else MPI_Iallreduce in place.        */
typedef struct agi_dist_reduce {
    void *data;     /* count values: this rank's in, the result out */
    void *gathered; /* ordered only */
    int count;
    ag_dtype dtype;
    bool ordered;
    MPI_Request req;
} agi_dist_reduce;

/* Starts the non-blocking collective (r->req). */
ag_status agi_dist_reduce_start(const char *op, agi_dist_reduce *r);
/* After r->req completed: forms the sum (ordered) and divides by the world
 * size when `mean` (f32). */
void agi_dist_reduce_finish(agi_dist_reduce *r, bool mean);

/* Fails with AG_ERR_INVALID on every rank alike unless all ranks pass the
 * same count and elements (a collective; src/dist/collectives.c). */
ag_status agi_dist_check_same(const char *op, const char *what, int64_t count, int64_t elements);

#endif /* AG_DIST_INTERNAL_H */
