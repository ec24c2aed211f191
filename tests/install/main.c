/* tests/install/main.c — a program built against an installed anygrad, through
 * find_package(anygrad) (shared and static targets) and through pkg-config. */
#include <anygrad.h>
#include <stdio.h>

int main(void)
{
    ag_device *dev = ag_device_open("cpu");
    ag_scope_begin();
    ag_tensor *x = ag_ones(dev, AG_F32, AG_SHAPE(2, 3));
    double sum = ag_item(ag_sum(x, 0, NULL, false));
    ag_scope_end();
    ag_device_close(dev);
    /* dist.h links in every build (MPI or not); outside mpirun: rank 0 of 1. */
    int rank = ag_dist_rank(), size = ag_dist_world_size();
    printf("anygrad %s: sum of ones [2,3] = %g; MPI %s, rank %d of %d\n", ag_version(), sum,
           ag_dist_available() ? "built in" : "not built in", rank, size);
    return sum == 6.0 && rank == 0 && size == 1 ? 0 : 1;
}
