/* bench/timing.c — warm-up, repeated synced runs, median/min/max. */
#define _POSIX_C_SOURCE 200809L
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

bool bench_time(const bench_config *cfg, const bench_timer *t, bench_result *r)
{
    for (int i = 0; i < cfg->warmup; i++) {
        if (!t->run(t->ctx) || !t->sync(t->ctx)) goto fail;
    }
    double *times = calloc((size_t)cfg->reps, sizeof *times);
    if (!times) goto fail;
    for (int i = 0; i < cfg->reps; i++) {
        double start = now_ms();
        if (!t->run(t->ctx) || !t->sync(t->ctx)) {
            free(times);
            goto fail;
        }
        times[i] = now_ms() - start;
    }
    qsort(times, (size_t)cfg->reps, sizeof *times, cmp_double);
    r->min_ms = times[0];
    r->max_ms = times[cfg->reps - 1];
    r->median_ms = cfg->reps % 2 ? times[cfg->reps / 2]
                                 : 0.5 * (times[cfg->reps / 2 - 1] + times[cfg->reps / 2]);
    r->runs = cfg->reps;
    r->ok = true;
    free(times);
    return true;
fail:
    r->ok = false;
    snprintf(r->error, sizeof r->error, "%s", ag_last_error());
    return false;
}

void bench_set_throughput(bench_result *r, bench_unit unit, double work)
{
    r->unit = unit;
    if (!r->ok || r->median_ms <= 0) return;
    switch (unit) {
    case UNIT_GFLOPS: r->throughput = work / (r->median_ms * 1e6); break;
    case UNIT_GBPS: r->throughput = work / (r->median_ms * 1e6); break;
    case UNIT_US_PER_OP: r->throughput = r->median_ms * 1e3 / work; break;
    case UNIT_MS_PER_STEP: r->throughput = r->median_ms / work; break;
    }
}
