/* src/dist/reduce.c — reductions of host buffers: MPI_Iallreduce, or in
 * deterministic mode an all-gather followed by a sum in rank order. */
#include "dist_internal.h"

#include <string.h>

ag_status agi_dist_reduce_start(const char *op, agi_dist_reduce *r)
{
    MPI_Datatype type = r->dtype == AG_I32 ? MPI_INT32_T : MPI_FLOAT;
    int rc;
    if (r->ordered)
        rc = MPI_Iallgather(r->data, r->count, type, r->gathered, r->count, type, agi_dist.comm,
                            &r->req);
    else
        rc = MPI_Iallreduce(MPI_IN_PLACE, r->data, r->count, type, MPI_SUM, agi_dist.comm, &r->req);
    if (rc != MPI_SUCCESS)
        return agi_dist_fail(op, "%s of %d %s values failed to start: %s",
                             r->ordered ? "MPI_Iallgather" : "MPI_Iallreduce", r->count,
                             ag_dtype_name(r->dtype), agi_dist_mpi_error(rc));
    return AG_OK;
}

void agi_dist_reduce_finish(agi_dist_reduce *r, bool mean)
{
    const int size = agi_dist.size;
    const size_t n = (size_t)r->count;
    if (r->ordered) {
        /* out = ((g0 + g1) + g2) + ..., the same bits on every rank. */
        float *out = r->data;
        const float *g = r->gathered;
        memcpy(out, g, n * sizeof *out);
        for (int k = 1; k < size; k++) {
            const float *gk = g + (size_t)k * n;
            for (size_t i = 0; i < n; i++) out[i] += gk[i];
        }
    }
    if (mean && r->dtype == AG_F32) {
        float *out = r->data;
        const float div = (float)size;
        for (size_t i = 0; i < n; i++) out[i] /= div;
    }
}
