/*
 * bench/main.c — anygrad-bench: runs the benchmark cases on every chosen
 * device, with OpenBLAS and direct-CLBlast references in the same process, and
 * prints a table plus JSON and CSV. PyTorch's side runs in bench/torch_reference.py;
 * bench/report.py joins both into ratios and a chart (bench/run.sh does it all).
 * So that both sides of a ratio see the same load on a shared machine, the CPU
 * backend's GEMM cases are timed alternately, run by run, with OpenBLAS on the
 * same shape, and an OpenCL device's GEMM cases are followed at once by CLBlast. The JSON also
 * records the command line, every device (name, driver) and the references'
 * versions.
 *
 *   anygrad-bench [--quick|--full] [--devices cpu,vulkan:0,...] [--filter NAME]
 *                 [--reps N] [--warmup N] [--json FILE] [--csv FILE] [--no-reference]
 */
#include "bench.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef struct results {
    bench_result *items;
    int count, cap;
    const char *device, *device_name;
} results;

static const char *unit_name(bench_unit u)
{
    switch (u) {
    case UNIT_GFLOPS: return "GFLOP/s";
    case UNIT_GBPS: return "GB/s";
    case UNIT_US_PER_OP: return "us/op";
    case UNIT_MS_PER_STEP: return "ms/step";
    }
    return "?";
}

static void collect(const bench_result *r, void *user)
{
    results *rs = user;
    if (rs->count == rs->cap) {
        rs->cap = rs->cap ? rs->cap * 2 : 64;
        rs->items = realloc(rs->items, (size_t)rs->cap * sizeof *rs->items);
    }
    bench_result copy = *r;
    if (!copy.device[0]) snprintf(copy.device, sizeof copy.device, "%s", rs->device);
    if (!copy.device_name[0]) snprintf(copy.device_name, sizeof copy.device_name, "%s", rs->device_name);
    rs->items[rs->count++] = copy;
    if (copy.ok)
        printf("  %-32s %-22s %10.3f ms  (min %.3f, max %.3f)  %10.2f %s\n", copy.name, copy.device,
               copy.median_ms, copy.min_ms, copy.max_ms, copy.throughput, unit_name(copy.unit));
    else
        printf("  %-32s %-22s FAILED: %s\n", copy.name, copy.device, copy.error);
    if (copy.ok && copy.has_counters)
        printf("  %-32s %-22s per step: %.1f dispatches, %.2f driver allocations (%.0f bytes), "
               "%.2f host waits (incl. the sync)\n",
               "", "", copy.dispatches_per_step, copy.driver_allocs_per_step,
               copy.driver_alloc_bytes_per_step, copy.host_waits_per_step);
    if (copy.ok && copy.has_graph)
        printf("  %-32s %-22s replay %.2fx the eager step's speed (eager %.3f ms); host time per "
               "call %.1f us vs %.1f us eager (%.1f %%), %.0f records re-queued by the host; arena "
               "%.0f KiB for %.0f KiB of intermediates\n",
               "", "", copy.eager_median_ms / copy.median_ms, copy.eager_median_ms,
               copy.host_ms_replay * 1e3, copy.host_ms_eager * 1e3,
               100.0 * copy.host_ms_replay / copy.host_ms_eager, copy.host_records,
               copy.arena_bytes / 1024, copy.eager_bytes / 1024);
    fflush(stdout);
}

static void json_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\') fputc('\\', f);
        if ((unsigned char)*s >= 0x20) fputc(*s, f);
    }
    fputc('"', f);
}

static const char *type_name(ag_device_type t)
{
    switch (t) {
    case AG_DEVICE_CPU: return "cpu";
    case AG_DEVICE_INTEGRATED_GPU: return "integrated-gpu";
    case AG_DEVICE_DISCRETE_GPU: return "discrete-gpu";
    case AG_DEVICE_OTHER: break;
    }
    return "other";
}

/* The run's provenance: the command, every benchmarked device, the references. */
typedef struct provenance {
    int argc;
    char **argv;
    ag_device_info devices[32];
    int n_devices;
} provenance;

static void write_provenance(FILE *f, const provenance *pv)
{
    fprintf(f, "  \"command\": ");
    char cmd[1024] = "";
    for (int i = 0; i < pv->argc; i++) {
        size_t len = strlen(cmd);
        snprintf(cmd + len, sizeof cmd - len, "%s%s", i ? " " : "", pv->argv[i]);
    }
    json_string(f, cmd);
    fprintf(f, ",\n  \"devices\": [\n");
    for (int i = 0; i < pv->n_devices; i++) {
        const ag_device_info *d = &pv->devices[i];
        fprintf(f, "    {\"spec\": ");
        json_string(f, d->spec);
        fprintf(f, ", \"name\": ");
        json_string(f, d->name);
        fprintf(f, ", \"vendor\": ");
        json_string(f, d->vendor);
        fprintf(f, ", \"driver\": ");
        json_string(f, d->driver);
        fprintf(f, ", \"type\": \"%s\", \"compute_units\": %u, \"memory_bytes\": %llu}%s\n",
                type_name(d->type), d->compute_units, (unsigned long long)d->memory_bytes,
                i + 1 < pv->n_devices ? "," : "");
    }
    fprintf(f, "  ],\n  \"references\": {\"openblas\": ");
    json_string(f, bench_openblas_version());
    fprintf(f, ", \"clblast\": ");
    json_string(f, bench_clblast_version());
    fprintf(f, "},\n");
}

static void write_json(const char *path, const results *rs, const bench_config *cfg,
                       const provenance *pv)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        return;
    }
    time_t now = time(NULL);
    char date[32];
    strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    fprintf(f, "{\n  \"tool\": \"anygrad-bench\",\n  \"version\": \"%s\",\n  \"date\": \"%s\",\n"
               "  \"mode\": \"%s\",\n  \"warmup\": %d,\n  \"reps\": %d,\n", ag_version(), date,
            cfg->quick ? "quick" : "full", cfg->warmup, cfg->reps);
    write_provenance(f, pv);
    fprintf(f, "  \"results\": [\n");
    for (int i = 0; i < rs->count; i++) {
        const bench_result *r = &rs->items[i];
        fprintf(f, "    {\"case\": ");
        json_string(f, r->name);
        fprintf(f, ", \"device\": ");
        json_string(f, r->device);
        fprintf(f, ", \"device_name\": ");
        json_string(f, r->device_name);
        fprintf(f, ", \"ok\": %s, \"median_ms\": %.6f, \"min_ms\": %.6f, \"max_ms\": %.6f, "
                   "\"runs\": %d, \"throughput\": %.6f, \"unit\": \"%s\", \"error\": ",
                r->ok ? "true" : "false", r->median_ms, r->min_ms, r->max_ms, r->runs,
                r->throughput, unit_name(r->unit));
        json_string(f, r->error);
        if (r->has_counters)
            fprintf(f, ", \"per_step\": {\"driver_allocs\": %.2f, \"driver_alloc_bytes\": %.0f, "
                       "\"dispatches\": %.1f, \"host_waits\": %.2f}",
                    r->driver_allocs_per_step, r->driver_alloc_bytes_per_step, r->dispatches_per_step,
                    r->host_waits_per_step);
        if (r->has_graph)
            fprintf(f, ", \"graph\": {\"eager_median_ms\": %.6f, \"speedup_vs_eager\": %.4f, "
                       "\"host_ms_eager\": %.6f, \"host_ms_replay\": %.6f, \"arena_bytes\": %.0f, "
                       "\"eager_intermediate_bytes\": %.0f, \"host_records\": %.0f}",
                    r->eager_median_ms, r->eager_median_ms / r->median_ms, r->host_ms_eager,
                    r->host_ms_replay, r->arena_bytes, r->eager_bytes, r->host_records);
        fprintf(f, "}%s\n", i + 1 < rs->count ? "," : "");
    }
    fprintf(f, "  ]\n}\n");
    fclose(f);
}

static void write_csv(const char *path, const results *rs)
{
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "cannot write %s\n", path);
        return;
    }
    fprintf(f, "case,device,device_name,ok,median_ms,min_ms,max_ms,runs,throughput,unit\n");
    for (int i = 0; i < rs->count; i++) {
        const bench_result *r = &rs->items[i];
        fprintf(f, "%s,%s,\"%s\",%d,%.6f,%.6f,%.6f,%d,%.6f,%s\n", r->name, r->device,
                r->device_name, r->ok, r->median_ms, r->min_ms, r->max_ms, r->runs, r->throughput,
                unit_name(r->unit));
    }
    fclose(f);
}

static void usage(const char *argv0)
{
    fprintf(stderr,
            "usage: %s [--quick|--full] [--devices SPEC,...] [--filter NAME] [--reps N]\n"
            "          [--warmup N] [--json FILE] [--csv FILE] [--no-reference]\n", argv0);
}

int main(int argc, char **argv)
{
    bench_config cfg = {.quick = false, .warmup = 2, .reps = 10};
    const char *devices = NULL, *json = "bench-results.json", *csv = "bench-results.csv";
    bool references = true;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--quick")) { cfg.quick = true; cfg.reps = 5; cfg.warmup = 1; }
        else if (!strcmp(a, "--full")) cfg.quick = false;
        else if (!strcmp(a, "--no-reference")) references = false;
        else if (v && !strcmp(a, "--devices")) { devices = v; i++; }
        else if (v && !strcmp(a, "--filter")) { cfg.filter = v; i++; }
        else if (v && !strcmp(a, "--reps")) { cfg.reps = atoi(v) > 0 ? atoi(v) : 1; i++; }
        else if (v && !strcmp(a, "--warmup")) { cfg.warmup = atoi(v) >= 0 ? atoi(v) : 0; i++; }
        else if (v && !strcmp(a, "--json")) { json = v; i++; }
        else if (v && !strcmp(a, "--csv")) { csv = v; i++; }
        else { usage(argv[0]); return 2; }
    }

    /* Device list: given, or every listed device. */
    char specs[32][32];
    int n_specs = 0;
    if (devices) {
        char buf[512];
        snprintf(buf, sizeof buf, "%s", devices);
        for (char *tok = strtok(buf, ","); tok && n_specs < 32; tok = strtok(NULL, ","))
            snprintf(specs[n_specs++], sizeof specs[0], "%s", tok);
    } else {
        ag_device_info infos[32];
        int n = ag_device_list(infos, 32);
        for (int i = 0; i < n && i < 32; i++) snprintf(specs[n_specs++], sizeof specs[0], "%s", infos[i].spec);
    }

    results rs = {0};
    provenance pv = {.argc = argc, .argv = argv};
    printf("anygrad-bench %s (%s mode, %d warm-up + %d runs per case)\n", ag_version(),
           cfg.quick ? "quick" : "full", cfg.warmup, cfg.reps);
    for (int i = 0; i < n_specs; i++) {
        ag_device *dev = ag_device_open(specs[i]);
        if (!dev) {
            fprintf(stderr, "skipping %s: %s\n", specs[i], ag_last_error());
            continue;
        }
        const ag_device_info *info = ag_device_get_info(dev);
        if (pv.n_devices < 32) pv.devices[pv.n_devices++] = *info;
        printf("\n== %s: %s\n", info->spec, info->name);
        rs.device = info->spec;
        rs.device_name = info->name;
        if (references && info->backend == AG_BACKEND_CPU)
            printf("-- GEMM timed alternately with %s\n", bench_openblas_version());
        bench_cases_gemm(&cfg, dev, references && info->backend == AG_BACKEND_CPU, collect, &rs);
        if (references && info->backend == AG_BACKEND_OPENCL) {
            printf("-- reference: CLBlast on %s\n", info->spec);
            bench_reference_clblast(&cfg, info->spec, collect, &rs);
        }
        bench_cases_ops(&cfg, dev, collect, &rs);
        bench_cases_train(&cfg, dev, collect, &rs);
        ag_device_close(dev);
    }
    write_json(json, &rs, &cfg, &pv);
    write_csv(csv, &rs);
    printf("\nwrote %s and %s\n", json, csv);
    free(rs.items);
    return 0;
}
