/* src/dist/collectives.c — all-reduce and broadcast of tensors, staged
 * through host memory, and the broadcast of a module's state. */
#include "dist_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>

ag_status ag_dist_allreduce(ag_tensor *t, ag_dist_reduce_op rop)
{
    const char *op = "ag_dist_allreduce";
    if (!agi_check_tensor(op, t, "t")) return ag_last_status();
    char shp[192];
    agi_fmt_shape(shp, t->ndim, t->shape);
    if (rop != AG_DIST_SUM && rop != AG_DIST_MEAN)
        return agi_error(AG_ERR_INVALID, op, "unknown reduction %d for %s %s", (int)rop,
                         ag_dtype_name(t->dtype), shp);
    if (t->dtype != AG_F32 && !(t->dtype == AG_I32 && rop == AG_DIST_SUM))
        return agi_error(AG_ERR_INVALID, op, "%s needs %s, got %s %s",
                         rop == AG_DIST_MEAN ? "AG_DIST_MEAN" : "AG_DIST_SUM",
                         rop == AG_DIST_MEAN ? "an f32 tensor" : "an f32 or i32 tensor",
                         ag_dtype_name(t->dtype), shp);
    ag_status st = agi_dist_check(op);
    if (st != AG_OK) return st;
    int64_t n = ag_numel(t);
    bool ordered = ag_is_deterministic() && t->dtype == AG_F32 && agi_dist.size > 1;
    if (n > INT_MAX / (ordered ? agi_dist.size : 1))
        return agi_error(AG_ERR_INVALID, op, "%s %s has too many elements for one MPI call",
                         ag_dtype_name(t->dtype), shp);
    if (n == 0) return AG_OK;
    size_t bytes = (size_t)n * 4;
    void *host = agi_malloc(bytes);
    void *gathered = ordered ? agi_malloc(bytes * (size_t)agi_dist.size) : NULL;
    if (!host || (ordered && !gathered)) {
        free(host);
        free(gathered);
        return agi_error(AG_ERR_OOM, op, "host out of memory staging %s %s",
                         ag_dtype_name(t->dtype), shp);
    }
    agi_dist_reduce r = {.data = host, .gathered = gathered, .count = (int)n, .dtype = t->dtype,
                         .ordered = ordered};
    char what[256];
    snprintf(what, sizeof what, "all-reduce of %s %s", ag_dtype_name(t->dtype), shp);
    st = ag_tensor_read(t, host, bytes);
    if (st == AG_OK) st = agi_dist_reduce_start(op, &r);
    if (st == AG_OK) st = agi_dist_wait(op, what, 1, &r.req);
    if (st == AG_OK) {
        agi_dist_reduce_finish(&r, rop == AG_DIST_MEAN);
        st = ag_tensor_write(t, host, bytes);
    }
    free(host);
    free(gathered);
    return st;
}

/* Broadcasts `bytes` bytes of host memory from root, in pieces MPI can count. */
static ag_status bcast_bytes(const char *op, const char *what, void *p, size_t bytes, int root)
{
    const size_t piece = (size_t)1 << 30;
    for (size_t off = 0; off < bytes; off += piece) {
        int count = (int)(bytes - off < piece ? bytes - off : piece);
        MPI_Request req;
        int rc = MPI_Ibcast((char *)p + off, count, MPI_BYTE, root, agi_dist.comm, &req);
        if (rc != MPI_SUCCESS)
            return agi_dist_fail(op, "MPI_Ibcast of %s failed: %s", what, agi_dist_mpi_error(rc));
        ag_status st = agi_dist_wait(op, what, 1, &req);
        if (st != AG_OK) return st;
    }
    return AG_OK;
}

/* Broadcast of one tensor; `name` (may be NULL) labels messages. */
static ag_status bcast_tensor(const char *op, ag_tensor *t, int root, const char *name)
{
    size_t bytes = (size_t)ag_numel(t) * ag_dtype_size(t->dtype);
    if (bytes == 0) return AG_OK;
    char shp[192], what[384];
    snprintf(what, sizeof what, "broadcast of %s%s%s %s", name ? name : "", name ? " " : "",
             ag_dtype_name(t->dtype), agi_fmt_shape(shp, t->ndim, t->shape));
    void *host = agi_malloc(bytes);
    if (!host) return agi_error(AG_ERR_OOM, op, "host out of memory staging the %s", what);
    ag_status st = agi_dist.rank == root ? ag_tensor_read(t, host, bytes) : AG_OK;
    if (st == AG_OK) st = bcast_bytes(op, what, host, bytes, root);
    if (st == AG_OK && agi_dist.rank != root) st = ag_tensor_write(t, host, bytes);
    free(host);
    return st;
}

ag_status ag_dist_broadcast(ag_tensor *t, int root)
{
    const char *op = "ag_dist_broadcast";
    if (!agi_check_tensor(op, t, "t")) return ag_last_status();
    ag_status st = agi_dist_check(op);
    if (st != AG_OK) return st;
    if (root < 0 || root >= agi_dist.size)
        return agi_error(AG_ERR_INVALID, op, "root %d is not a rank of the group (size %d)", root,
                         agi_dist.size);
    return bcast_tensor(op, t, root, NULL);
}

/* Fails on every rank alike when the ranks disagree on (count, elements):
 * an all-reduce of the values and their negations with MPI_MAX gives the
 * maximum and minimum of each at once. */
ag_status agi_dist_check_same(const char *op, const char *what, int64_t count, int64_t elements)
{
    int64_t v[4] = {count, elements, -count, -elements};
    MPI_Request req;
    int rc = MPI_Iallreduce(MPI_IN_PLACE, v, 4, MPI_INT64_T, MPI_MAX, agi_dist.comm, &req);
    if (rc != MPI_SUCCESS)
        return agi_dist_fail(op, "MPI_Iallreduce failed: %s", agi_dist_mpi_error(rc));
    ag_status st = agi_dist_wait(op, "comparing the models of the ranks", 1, &req);
    if (st != AG_OK) return st;
    if (v[0] != -v[2] || v[1] != -v[3])
        return agi_error(AG_ERR_INVALID, op,
                         "the ranks' models differ: %s from %lld to %lld tensors and %lld to "
                         "%lld elements (this rank: %lld, %lld)", what, (long long)-v[2],
                         (long long)v[0], (long long)-v[3], (long long)v[1], (long long)count,
                         (long long)elements);
    return AG_OK;
}

ag_status ag_dist_broadcast_module(ag_module *m)
{
    const char *op = "ag_dist_broadcast_module";
    if (!m) return agi_error(AG_ERR_INVALID, op, "module is NULL");
    ag_status st = agi_dist_check(op);
    if (st != AG_OK) return st;
    int n = ag_module_state(m, NULL, NULL, 0);
    if (n < 0) return ag_last_status();
    const char **names = agi_calloc((size_t)n + 1, sizeof *names);
    ag_tensor **ts = agi_calloc((size_t)n + 1, sizeof *ts);
    if (!names || !ts) {
        free(names);
        free(ts);
        return agi_error(AG_ERR_OOM, op, "host out of memory");
    }
    ag_module_state(m, names, ts, n);
    int64_t elements = 0;
    for (int i = 0; i < n; i++) elements += ag_numel(ts[i]);
    st = agi_dist_check_same(op, "state", n, elements);
    for (int i = 0; i < n && st == AG_OK; i++) st = bcast_tensor(op, ts[i], 0, names[i]);
    free(names);
    free(ts);
    return st;
}
