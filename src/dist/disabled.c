/* src/dist/disabled.c — anygrad/dist.h in a build without MPI (AG_MPI=OFF):
 * a single process is rank 0 of 1; everything else is AG_ERR_UNSUPPORTED. */
#include "internal.h"
#include "anygrad/dist.h"

#include <stdio.h>
#include <stdlib.h>

static ag_status unsupported(const char *op)
{
    return agi_error(AG_ERR_UNSUPPORTED, op,
                     "anygrad was built without MPI (configure with -DAG_MPI=ON and an MPI "
                     "library installed, e.g. Debian's libopenmpi-dev)");
}

bool ag_dist_available(void) { return false; }
ag_status ag_dist_init(int *argc, char ***argv, const ag_dist_opts *opts)
{
    return unsupported("ag_dist_init");
}
ag_status ag_dist_init_comm(const void *mpi_comm, const ag_dist_opts *opts)
{
    return unsupported("ag_dist_init_comm");
}
bool ag_dist_is_initialized(void) { return false; }
int ag_dist_rank(void) { return 0; }
int ag_dist_world_size(void) { return 1; }
ag_status ag_dist_barrier(void) { return unsupported("ag_dist_barrier"); }
ag_status ag_dist_finalize(void) { return AG_OK; }

void ag_dist_abort(int code, const char *message)
{
    fprintf(stderr, "anygrad: rank 0 of 1: %s\n", message ? message : "aborted");
    exit(code);
}

ag_status ag_dist_allreduce(ag_tensor *t, ag_dist_reduce_op op)
{
    return unsupported("ag_dist_allreduce");
}
ag_status ag_dist_broadcast(ag_tensor *t, int root) { return unsupported("ag_dist_broadcast"); }
ag_status ag_dist_broadcast_module(ag_module *m) { return unsupported("ag_dist_broadcast_module"); }

ag_ddp *ag_ddp_new(ag_module *m, const ag_ddp_opts *opts)
{
    unsupported("ag_ddp_new");
    return NULL;
}
ag_status ag_ddp_backward(ag_ddp *ddp, ag_tensor *loss) { return unsupported("ag_ddp_backward"); }
ag_status ag_ddp_sync_grads(ag_ddp *ddp) { return unsupported("ag_ddp_sync_grads"); }
ag_status ag_ddp_get_stats(const ag_ddp *ddp, ag_ddp_stats *out)
{
    return unsupported("ag_ddp_get_stats");
}
void ag_ddp_free(ag_ddp *ddp) { (void)ddp; }
