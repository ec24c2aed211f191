/*
 * anygrad/dist_mpi.h — ag_dist_init over an MPI_Comm, for programs that use
 * MPI themselves. Includes <mpi.h>; anygrad/dist.h itself does not.
 */
#ifndef ANYGRAD_DIST_MPI_H
#define ANYGRAD_DIST_MPI_H

#include <mpi.h>

#include "dist.h"

/* ag_dist_init_comm(&comm, opts): the group becomes a duplicate of `comm`
 * (the caller keeps `comm` and has initialised MPI). */
static inline ag_status ag_dist_init_mpi(MPI_Comm comm, const ag_dist_opts *opts)
{
    return ag_dist_init_comm(&comm, opts);
}

#endif /* ANYGRAD_DIST_MPI_H */
