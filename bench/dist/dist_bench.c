/*
 * bench/dist/dist_bench.c — time of a data-parallel training step of the
 * Fashion-MNIST CNN (examples/fmnist_models.h) with Adam, on the CPU backend.
 *
 *   mpirun -np 2 dist_bench [--batch B] [--steps N] [--warmup W]
 *                           [--bucket-mb X] [--no-overlap | --ab] [--plain]
 *
 * Every rank trains on its own batch of B random images. --plain times a
 * plain step without the DDP wrapper (the one-process baseline); otherwise
 * ag_ddp_backward averages the gradients, started from the backward pass
 * (or after it with --no-overlap). Rank 0 prints one JSON line: the median
 * step time, and the DDP's median time inside backward and after it
 * (wait_ms: the all-reduce time the step could not hide). --ab alternates
 * steps with and without overlap in one run (two wrappers over the same
 * model), so that other load on a shared machine hits both alike, and
 * reports both. bench/dist/run.sh
 * runs the configurations and derives scaling efficiency and overlap.
 */
#define _POSIX_C_SOURCE 200809L
#include <anygrad.h>

#include "../../examples/fmnist_models.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

int main(int argc, char **argv)
{
    int64_t batch = 64;
    int steps = 30, warmup = 5;
    double bucket_mb = 0;
    bool no_overlap = false, plain = false, ab = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : "";
        if (!strcmp(a, "--no-overlap")) no_overlap = true;
        else if (!strcmp(a, "--plain")) plain = true;
        else if (!strcmp(a, "--ab")) ab = true;
        else if (!strcmp(a, "--batch")) batch = atoll(v), i++;
        else if (!strcmp(a, "--steps")) steps = atoi(v), i++;
        else if (!strcmp(a, "--warmup")) warmup = atoi(v), i++;
        else if (!strcmp(a, "--bucket-mb")) bucket_mb = atof(v), i++;
        else {
            fprintf(stderr, "usage: %s [--batch B] [--steps N] [--warmup W] [--bucket-mb X] "
                            "[--no-overlap | --ab] [--plain]\n", argv[0]);
            return 2;
        }
    }
    if (batch < 1 || steps < 1 || steps > 10000 || warmup < 0) {
        fprintf(stderr, "bad --batch, --steps or --warmup\n");
        return 2;
    }
    if (ag_dist_init(&argc, &argv, NULL) != AG_OK) {
        fprintf(stderr, "dist_bench: %s\n", ag_last_error());
        return 1;
    }
    const int rank = ag_dist_rank(), world = ag_dist_world_size();
    ag_device *dev = ag_device_open("cpu");
    ag_manual_seed(1);
    ag_module *model = dev ? fmnist_cnn(dev) : NULL;
    ag_tensor *params[16];
    int np = model ? ag_module_parameters(model, NULL, params, 16) : 0;
    ag_optimizer *opt = np > 0 ? ag_optim_adam(params, np, &(ag_adam_opts){.lr = 1e-3}) : NULL;
    ag_ddp *ddp = opt && !plain ? ag_ddp_new(model, &(ag_ddp_opts){.bucket_mb = bucket_mb,
                                                                    .no_overlap = no_overlap})
                                : NULL;
    /* --ab: the second wrapper reduces after the backward pass. */
    ag_ddp *ddp_no = ddp && ab ? ag_ddp_new(model, &(ag_ddp_opts){.bucket_mb = bucket_mb,
                                                                   .no_overlap = true,
                                                                   .no_broadcast = true})
                               : NULL;
    if (ab && !ddp_no) ag_dist_abort(1, ag_last_error());
    ag_manual_seed(100 + (uint64_t)rank); /* each rank its own data */
    ag_tensor *x = dev ? ag_randn(dev, AG_SHAPE(batch, 1, 28, 28)) : NULL;
    ag_tensor *y = x ? ag_cast(ag_mul_scalar(ag_rand(dev, AG_SHAPE(batch)), 9.99), AG_I32) : NULL;
    if (!y || !opt || (!plain && !ddp)) ag_dist_abort(1, ag_last_error());

    double *step_ms = calloc((size_t)steps, sizeof *step_ms);
    double *bwd_ms = calloc((size_t)steps, sizeof *bwd_ms);
    double *wait_ms = calloc((size_t)steps, sizeof *wait_ms);
    /* --ab: [0, steps) overlap, [steps, 2 steps) no overlap */
    double *ab_step = calloc((size_t)steps * 2, sizeof *ab_step);
    double *ab_wait = calloc((size_t)steps * 2, sizeof *ab_wait);
    int n_ab[2] = {0, 0};
    ag_ddp_stats st = {0};
    const int total = ab ? 2 * steps : steps;
    for (int s = -warmup; s < total; s++) {
        ag_ddp *use = ab && (s & 1) ? ddp_no : ddp;
        if (s == 0 && ag_dist_barrier() != AG_OK) ag_dist_abort(1, ag_last_error());
        double t0 = now_s();
        ag_scope_begin();
        ag_optimizer_zero_grad(opt);
        ag_tensor *loss = ag_cross_entropy(ag_module_forward(model, x), y, NULL);
        ag_status rc = !loss ? ag_last_status() : plain ? ag_backward(loss, NULL) : ag_ddp_backward(use, loss);
        if (rc == AG_OK) rc = ag_optimizer_step(opt);
        ag_scope_end();
        if (rc != AG_OK) ag_dist_abort(1, ag_last_error());
        double t1 = now_s();
        if (s < 0) continue;
        if (ab) {
            int k = s & 1;
            ag_ddp_get_stats(use, &st);
            ab_step[k * steps + n_ab[k]] = (t1 - t0) * 1e3;
            ab_wait[k * steps + n_ab[k]++] = st.wait_s * 1e3;
            continue;
        }
        step_ms[s] = (t1 - t0) * 1e3;
        if (ddp) {
            ag_ddp_get_stats(ddp, &st);
            bwd_ms[s] = st.backward_s * 1e3;
            wait_ms[s] = st.wait_s * 1e3;
        }
    }
    if (rank == 0 && ab)
        printf("{\"ranks\": %d, \"mode\": \"ab\", \"batch_per_rank\": %lld, \"steps\": %d, "
               "\"bucket_mb\": %g, \"buckets\": %d, \"step_ms_overlap\": %.3f, "
               "\"step_ms_no_overlap\": %.3f, \"wait_ms_overlap\": %.3f, "
               "\"wait_ms_no_overlap\": %.3f}\n",
               world, (long long)batch, steps, bucket_mb > 0 ? bucket_mb : 25, st.buckets,
               median(ab_step, n_ab[0]), median(ab_step + steps, n_ab[1]),
               median(ab_wait, n_ab[0]), median(ab_wait + steps, n_ab[1]));
    else if (rank == 0)
        printf("{\"ranks\": %d, \"mode\": \"%s\", \"batch_per_rank\": %lld, \"steps\": %d, "
               "\"bucket_mb\": %g, \"buckets\": %d, \"started_in_backward\": %d, "
               "\"step_ms\": %.3f, \"backward_ms\": %.3f, \"wait_ms\": %.3f}\n",
               world, plain ? "plain" : no_overlap ? "no_overlap" : "overlap", (long long)batch,
               steps, ddp ? (bucket_mb > 0 ? bucket_mb : 25) : 0, st.buckets,
               st.started_in_backward, median(step_ms, steps), median(bwd_ms, steps),
               median(wait_ms, steps));
    free(step_ms);
    free(bwd_ms);
    free(wait_ms);
    free(ab_step);
    free(ab_wait);
    ag_ddp_free(ddp_no);
    ag_ddp_free(ddp);
    ag_optimizer_free(opt);
    ag_module_free(model);
    ag_device_close(dev);
    ag_dist_finalize();
    return 0;
}
