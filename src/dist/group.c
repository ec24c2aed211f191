/* src/dist/group.c — the process group: init from MPI_COMM_WORLD or a given
 * communicator, rank and size, barrier, finalize and abort, plus the polled
 * wait that turns a dead or stalled peer into a bounded-time error. */
#include "dist_internal.h"

#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_TIMEOUT_S 60.0

agi_dist_group agi_dist = {.comm = MPI_COMM_NULL, .size = 1};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

const char *agi_dist_mpi_error(int rc)
{
    static _Thread_local char buf[MPI_MAX_ERROR_STRING + 1];
    int len = 0;
    if (MPI_Error_string(rc, buf, &len) != MPI_SUCCESS) snprintf(buf, sizeof buf, "MPI error %d", rc);
    else buf[len] = '\0';
    return buf;
}

ag_status agi_dist_fail(const char *op, const char *fmt, ...)
{
    char body[768];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    agi_dist.broken = true;
    agi_error(AG_ERR_DEVICE, op, "rank %d of %d: %s", agi_dist.rank, agi_dist.size, body);
    if (agi_dist.abort_on_failure) {
        fprintf(stderr, "anygrad: %s\nanygrad: rank %d aborts the job\n", ag_last_error(),
                agi_dist.rank);
        fflush(stderr);
        MPI_Abort(agi_dist.comm != MPI_COMM_NULL ? agi_dist.comm : MPI_COMM_WORLD, 1);
        _Exit(1); /* MPI_Abort does not return; never continue if it did */
    }
    return AG_ERR_DEVICE;
}

ag_status agi_dist_check(const char *op)
{
    /* Refused on every rank alike, before any collective starts. */
    if (agi_tl_capture)
        return agi_error(AG_ERR_UNSUPPORTED, op,
                         "not inside a graph capture: collectives run on the host and a replay "
                         "could not repeat them (capture the step without them)");
    if (!agi_dist.initialized)
        return agi_error(AG_ERR_INVALID, op, "the process group is not initialised (call ag_dist_init)");
    if (agi_dist.broken)
        return agi_error(AG_ERR_DEVICE, op,
                         "rank %d of %d: the process group is broken by an earlier failure "
                         "(call ag_dist_abort)", agi_dist.rank, agi_dist.size);
    return AG_OK;
}

ag_status agi_dist_wait(const char *op, const char *what, int n, MPI_Request *reqs)
{
    const double t0 = now_s();
    for (long polls = 0;; polls++) {
        int flag = 0;
        int rc = MPI_Testall(n, reqs, &flag, MPI_STATUSES_IGNORE);
        if (rc != MPI_SUCCESS) return agi_dist_fail(op, "%s failed: %s", what, agi_dist_mpi_error(rc));
        if (flag) return AG_OK;
        double waited = now_s() - t0;
        if (waited > agi_dist.timeout_s)
            return agi_dist_fail(op,
                                 "%s did not complete within %g s (timeout; AG_DIST_TIMEOUT): a "
                                 "peer rank died, stalled or entered a different collective",
                                 what, agi_dist.timeout_s);
        /* Spin briefly (a peer is usually close), then leave the CPU to the
         * peers and to other work: ranks may share cores. */
        if (polls < 256) {
            sched_yield();
        } else {
            struct timespec ts = {0, 50 * 1000};
            nanosleep(&ts, NULL);
        }
    }
}

ag_status agi_dist_poll(const char *op, const char *what, MPI_Request *req, bool *done)
{
    int flag = 0;
    int rc = MPI_Test(req, &flag, MPI_STATUS_IGNORE);
    if (rc != MPI_SUCCESS) return agi_dist_fail(op, "%s failed: %s", what, agi_dist_mpi_error(rc));
    *done = flag != 0;
    return AG_OK;
}

/* The timeout: AG_DIST_TIMEOUT, else opts, else the default. */
static ag_status read_timeout(const char *op, const ag_dist_opts *opts, double *out)
{
    *out = opts && opts->timeout_s > 0 ? opts->timeout_s : DEFAULT_TIMEOUT_S;
    if (opts && !(opts->timeout_s >= 0))
        return agi_error(AG_ERR_INVALID, op, "timeout_s %g is negative", opts->timeout_s);
    const char *env = getenv("AG_DIST_TIMEOUT");
    if (!env || !*env) return AG_OK;
    char *end = NULL;
    errno = 0;
    double v = strtod(env, &end);
    if (errno || end == env || *end || !(v > 0))
        return agi_error(AG_ERR_INVALID, op,
                         "AG_DIST_TIMEOUT=\"%s\" is not a positive number of seconds", env);
    *out = v;
    return AG_OK;
}

/* Makes the group a duplicate of `comm`. */
static ag_status group_setup(const char *op, MPI_Comm comm, const ag_dist_opts *opts, bool owns)
{
    double timeout;
    ag_status st = read_timeout(op, opts, &timeout);
    if (st != AG_OK) return st;
    MPI_Comm dup = MPI_COMM_NULL;
    int rc = MPI_Comm_dup(comm, &dup);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_set_errhandler(dup, MPI_ERRORS_RETURN);
    int rank = 0, size = 1;
    if (rc == MPI_SUCCESS) rc = MPI_Comm_rank(dup, &rank);
    if (rc == MPI_SUCCESS) rc = MPI_Comm_size(dup, &size);
    if (rc != MPI_SUCCESS) {
        if (dup != MPI_COMM_NULL) MPI_Comm_free(&dup);
        return agi_error(AG_ERR_DEVICE, op, "cannot set up the communicator: %s",
                         agi_dist_mpi_error(rc));
    }
    agi_dist = (agi_dist_group){.initialized = true, .owns_mpi = owns,
                                .abort_on_failure = !(opts && opts->no_abort_on_failure),
                                .comm = dup, .rank = rank, .size = size, .timeout_s = timeout};
    return AG_OK;
}

bool ag_dist_available(void) { return true; }

ag_status ag_dist_init(int *argc, char ***argv, const ag_dist_opts *opts)
{
    const char *op = "ag_dist_init";
    if (agi_dist.initialized) return agi_error(AG_ERR_INVALID, op, "already initialised");
    double timeout;
    if (read_timeout(op, opts, &timeout) != AG_OK) return ag_last_status();
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (finalized) return agi_error(AG_ERR_INVALID, op, "MPI was already finalised");
    bool owns = false;
    if (!inited) {
        int provided = 0;
        int rc = MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided);
        if (rc != MPI_SUCCESS)
            return agi_error(AG_ERR_DEVICE, op, "MPI_Init_thread failed: %s", agi_dist_mpi_error(rc));
        owns = true;
    }
    ag_status st = group_setup(op, MPI_COMM_WORLD, opts, owns);
    if (st != AG_OK && owns) MPI_Finalize();
    return st;
}

ag_status ag_dist_init_comm(const void *mpi_comm, const ag_dist_opts *opts)
{
    const char *op = "ag_dist_init_comm";
    if (agi_dist.initialized) return agi_error(AG_ERR_INVALID, op, "already initialised");
    if (!mpi_comm) return agi_error(AG_ERR_INVALID, op, "mpi_comm is NULL");
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    if (!inited || finalized)
        return agi_error(AG_ERR_INVALID, op, "MPI is not initialised (the caller initialises it "
                                             "before passing a communicator)");
    MPI_Comm comm = *(const MPI_Comm *)mpi_comm;
    if (comm == MPI_COMM_NULL) return agi_error(AG_ERR_INVALID, op, "the communicator is MPI_COMM_NULL");
    return group_setup(op, comm, opts, false);
}

bool ag_dist_is_initialized(void) { return agi_dist.initialized; }
int ag_dist_rank(void) { return agi_dist.initialized ? agi_dist.rank : 0; }
int ag_dist_world_size(void) { return agi_dist.initialized ? agi_dist.size : 1; }

ag_status ag_dist_barrier(void)
{
    const char *op = "ag_dist_barrier";
    ag_status st = agi_dist_check(op);
    if (st != AG_OK) return st;
    MPI_Request req;
    int rc = MPI_Ibarrier(agi_dist.comm, &req);
    if (rc != MPI_SUCCESS) return agi_dist_fail(op, "MPI_Ibarrier failed: %s", agi_dist_mpi_error(rc));
    return agi_dist_wait(op, "barrier", 1, &req);
}

ag_status ag_dist_finalize(void)
{
    const char *op = "ag_dist_finalize";
    if (!agi_dist.initialized) return AG_OK;
    if (agi_dist.broken)
        return agi_error(AG_ERR_DEVICE, op, "rank %d of %d: the process group is broken by an "
                         "earlier failure; end the job with ag_dist_abort", agi_dist.rank, agi_dist.size);
    bool owns = agi_dist.owns_mpi;
    MPI_Comm_free(&agi_dist.comm);
    agi_dist = (agi_dist_group){.comm = MPI_COMM_NULL, .size = 1};
    if (owns) {
        int rc = MPI_Finalize();
        if (rc != MPI_SUCCESS)
            return agi_error(AG_ERR_DEVICE, op, "MPI_Finalize failed: %s", agi_dist_mpi_error(rc));
    }
    return AG_OK;
}

void ag_dist_abort(int code, const char *message)
{
    int inited = 0, finalized = 0;
    MPI_Initialized(&inited);
    MPI_Finalized(&finalized);
    int rank = 0, size = 1;
    MPI_Comm comm = agi_dist.initialized ? agi_dist.comm : MPI_COMM_WORLD;
    if (inited && !finalized) {
        MPI_Comm_rank(comm, &rank);
        MPI_Comm_size(comm, &size);
    }
    fprintf(stderr, "anygrad: rank %d of %d: %s\n", rank, size, message ? message : "aborted");
    fflush(stderr);
    if (inited && !finalized) MPI_Abort(comm, code);
    exit(code);
}
