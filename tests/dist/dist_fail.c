/*
 * tests/dist/dist_fail.c — a training job in which one rank fails, for
 * tests/dist/fail.sh: the job must end, reported, within a bounded time.
 *
 *   dist_fail kill     rank 1 kills itself (SIGKILL) at step 3
 *   dist_fail stall    rank 1 stops taking part at step 3 (sleeps); the
 *                      others time out (AG_DIST_TIMEOUT) and abort the job
 *   dist_fail error    rank 1's forward fails at step 3 (a NULL loss): its
 *                      ag_ddp_backward reports the error and aborts the job
 *   dist_fail noabort  like stall, with no_abort_on_failure: rank 0 gets the
 *                      error back, prints "REPORTED: <message>" and ends the
 *                      job with ag_dist_abort
 * Each mode exits 0 only if training ends normally, which is the failure
 * the script looks for.
 */
#define _POSIX_C_SOURCE 200809L
#include <anygrad.h>

#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *mode = argc > 1 ? argv[1] : "";
    bool noabort = !strcmp(mode, "noabort");
    if (ag_dist_init(&argc, &argv, &(ag_dist_opts){.no_abort_on_failure = noabort}) != AG_OK) {
        fprintf(stderr, "init: %s\n", ag_last_error());
        return 2;
    }
    int rank = ag_dist_rank();
    ag_device *dev = ag_device_open("cpu");
    ag_module *model = ag_nn_linear(dev, 4, 2, true);
    ag_ddp *ddp = model ? ag_ddp_new(model, NULL) : NULL;
    if (!ddp) ag_dist_abort(2, ag_last_error());
    for (int step = 0; step < 10; step++) {
        if (rank == 1 && step == 3) {
            if (!strcmp(mode, "kill")) raise(SIGKILL);
            if (!strcmp(mode, "stall") || noabort) sleep(120);
        }
        ag_scope_begin();
        ag_module_zero_grad(model);
        ag_tensor *x = ag_ones(dev, AG_F32, AG_SHAPE(3, 4));
        if (rank == 1 && step == 3 && !strcmp(mode, "error")) x = NULL;
        ag_tensor *loss = ag_sum(ag_module_forward(model, x), 0, NULL, false);
        ag_status st = ag_ddp_backward(ddp, loss);
        ag_scope_end();
        if (st != AG_OK) {
            printf("REPORTED: %s\n", ag_last_error());
            fflush(stdout);
            ag_dist_abort(3, "stopping after the reported failure");
        }
    }
    printf("rank %d: training ended normally\n", rank);
    ag_ddp_free(ddp);
    ag_module_free(model);
    ag_device_close(dev);
    ag_dist_finalize();
    return 0;
}
