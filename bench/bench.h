/* bench/bench.h — the benchmark driver's shared types: cases, timing, results. */
#ifndef AG_BENCH_H
#define AG_BENCH_H

#include <anygrad.h>
#include <anygrad/optim.h>

#include <stdbool.h>
#include <stdio.h>

typedef enum bench_unit { UNIT_GFLOPS, UNIT_GBPS, UNIT_US_PER_OP, UNIT_MS_PER_STEP } bench_unit;

typedef struct bench_result {
    char name[64];      /* case name, e.g. "gemm_1024" */
    char device[48];    /* anygrad device spec, or "openblas" / "clblast:<spec>" */
    char device_name[128];
    double median_ms, min_ms, max_ms;
    double throughput;  /* in `unit`, from the median */
    bench_unit unit;
    int runs;
    bool ok;
    char error[256];
    /* Training steps: device counters per step in steady state (after the
     * timed runs), from ag_device_get_counters. */
    bool has_counters;
    double driver_allocs_per_step, driver_alloc_bytes_per_step, dispatches_per_step,
        host_waits_per_step;
    /* Graph cases (anygrad/graph.h): the eager step timed alternately with
     * the replay, the host time one call takes (eager step / replay, without
     * waiting for the device), and the memory plan. */
    bool has_graph;
    double eager_median_ms, host_ms_eager, host_ms_replay;
    double arena_bytes, eager_bytes;
    double host_records; /* graph: records the host re-queues per replay */
} bench_result;

/* One timed workload: `run` is called repeatedly after `setup`; `sync` waits
 * for the device. Work is counted per run (flops or bytes or ops). */
typedef struct bench_timer {
    void *ctx;
    bool (*run)(void *ctx);
    bool (*sync)(void *ctx);
} bench_timer;

typedef struct bench_config {
    bool quick;
    int warmup, reps;
    const char *filter; /* substring a case name must contain, or NULL */
} bench_config;

/* Times `t` (warm-up then reps, each synced) into r's min/median/max.
 * Returns false (with r->error) when a run fails. */
bool bench_time(const bench_config *cfg, const bench_timer *t, bench_result *r);
/* Times `a` and `b` alternately, rep by rep (a b, b a, a b, ...), after both
 * warm up, so that both sides of a ratio see the same load on a shared machine.
 * Fills ra and rb like bench_time; returns false when either fails. */
bool bench_time_paired(const bench_config *cfg, const bench_timer *a, bench_result *ra,
                       const bench_timer *b, bench_result *rb);
/* Fills throughput from the median: work per run in flops, bytes or ops. */
void bench_set_throughput(bench_result *r, bench_unit unit, double work_per_run);

/* Case families (bench/cases_*.c). Each appends results through `emit`. */
typedef void (*bench_emit)(const bench_result *r, void *user);
/* With `openblas`, each shape is timed paired with OpenBLAS (bench_time_paired). */
void bench_cases_gemm(const bench_config *cfg, ag_device *dev, bool openblas, bench_emit emit,
                      void *user);
void bench_cases_ops(const bench_config *cfg, ag_device *dev, bench_emit emit, void *user);
void bench_cases_train(const bench_config *cfg, ag_device *dev, bench_emit emit, void *user);
/* References run in the same process: OpenBLAS sgemm; CLBlast on an OpenCL device. */
void bench_reference_clblast(const bench_config *cfg, const char *spec, bench_emit emit, void *user);
/* The references' versions for the results' provenance ("" when not built in). */
const char *bench_openblas_version(void);
const char *bench_clblast_version(void);

/* GEMM shapes shared by the cases and the references. */
typedef struct gemm_shape {
    const char *name;
    int m, n, k;
    bool trans_a;
    bool gpu_only;
    ag_dtype dtype; /* operands and result (the f32 cases also get OpenBLAS / CLBlast references) */
} gemm_shape;
extern const gemm_shape bench_gemm_shapes[];
extern const int bench_gemm_shape_count;

/* OpenBLAS cblas_sgemm on shape `s`: fills the timer and names r ("openblas");
 * returns the context for bench_openblas_close, or NULL without OpenBLAS. */
void *bench_openblas_open(const gemm_shape *s, bench_timer *t, bench_result *r);
void bench_openblas_close(void *ctx);

#endif /* AG_BENCH_H */
