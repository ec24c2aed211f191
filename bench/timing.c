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

static void stats(double *times, int reps, bench_result *r)
{
    qsort(times, (size_t)reps, sizeof *times, cmp_double);
    r->min_ms = times[0];
    r->max_ms = times[reps - 1];
    r->median_ms = reps % 2 ? times[reps / 2] : 0.5 * (times[reps / 2 - 1] + times[reps / 2]);
    r->runs = reps;
    r->ok = true;
}

/* One synced run of t in milliseconds, or -1 on failure. */
static double timed(const bench_timer *t)
{
    double start = now_ms();
    if (!t->run(t->ctx) || !t->sync(t->ctx)) return -1;
    return now_ms() - start;
}

bool bench_time(const bench_config *cfg, const bench_timer *t, bench_result *r)
{
    double *times = calloc((size_t)cfg->reps, sizeof *times);
    bool ok = times != NULL;
    for (int i = 0; ok && i < cfg->warmup; i++) ok = timed(t) >= 0;
    for (int i = 0; ok && i < cfg->reps; i++) ok = (times[i] = timed(t)) >= 0;
    if (ok) stats(times, cfg->reps, r);
    else {
        r->ok = false;
        snprintf(r->error, sizeof r->error, "%s", times ? ag_last_error() : "out of memory");
    }
    free(times);
    return ok;
}

bool bench_time_paired(const bench_config *cfg, const bench_timer *a, bench_result *ra,
                       const bench_timer *b, bench_result *rb)
{
    const bench_timer *t[2] = {a, b};
    bench_result *r[2] = {ra, rb};
    double *times[2] = {calloc((size_t)cfg->reps, sizeof(double)),
                        calloc((size_t)cfg->reps, sizeof(double))};
    bool ok = times[0] && times[1];
    for (int i = 0; ok && i < cfg->warmup; i++)
        for (int s = 0; s < 2; s++) ok = ok && timed(t[s]) >= 0;
    for (int i = 0; ok && i < cfg->reps; i++)
        for (int k = 0; k < 2; k++) {
            int s = (i + k) % 2; /* alternate which side goes first */
            times[s][i] = timed(t[s]);
            ok = ok && times[s][i] >= 0;
        }
    for (int s = 0; s < 2; s++) {
        if (ok) stats(times[s], cfg->reps, r[s]);
        else {
            r[s]->ok = false;
            snprintf(r[s]->error, sizeof r[s]->error, "%s", times[0] && times[1] ? ag_last_error() : "out of memory");
        }
        free(times[s]);
    }
    return ok;
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
