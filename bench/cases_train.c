/* bench/cases_train.c — whole training steps: the Fashion-MNIST MLP and CNN at
 * batch 128 with Adam, and a small transformer encoder step. */
#define _POSIX_C_SOURCE 200809L /* clock_gettime */
#include "bench.h"
#include "../examples/fmnist_models.h"

#include <string.h>
#include <time.h>

typedef struct train_ctx {
    ag_device *dev;
    ag_module *model;
    ag_optimizer *opt;
    ag_tensor *x, *y; /* inputs and targets (i32 labels, or f32 for regression) */
    bool regression;
    ag_dtype amp; /* autocast dtype of the forward pass (AG_F32: off) */
} train_ctx;

static bool train_step(void *p)
{
    train_ctx *c = p;
    ag_scope_begin();
    ag_optimizer_zero_grad(c->opt);
    ag_autocast_begin(c->amp);
    ag_tensor *out = ag_module_forward(c->model, c->x);
    ag_tensor *loss = c->regression ? ag_mse_loss(out, c->y, AG_REDUCTION_MEAN)
                                    : ag_cross_entropy(out, c->y, NULL);
    ag_autocast_end();
    bool ok = loss && ag_backward(loss, NULL) == AG_OK && ag_optimizer_step(c->opt) == AG_OK;
    ag_scope_end();
    return ok;
}

static bool train_sync(void *p) { return ag_device_sync(((train_ctx *)p)->dev) == AG_OK; }

static ag_status train_step_status(void *p) { return train_step(p) ? AG_OK : ag_last_status(); }

typedef struct graph_ctx {
    train_ctx *c;
    ag_graph *g;
} graph_ctx;

static bool graph_step(void *p) { return ag_graph_replay(((graph_ctx *)p)->g) == AG_OK; }
static bool graph_sync(void *p) { return train_sync(((graph_ctx *)p)->c); }

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec * 1e-6;
}

/* Steady-state counters and host time per call over a few steps, each synced
 * like a timed run (the sync is not part of the host time). */
static bool steady_counters(ag_device *dev, const bench_timer *t, bench_result *r, double *host_ms)
{
    enum { STEPS = 5 };
    ag_device_counters a, b;
    ag_device_get_counters(dev, &a);
    bool ok = true;
    double host = 0;
    for (int i = 0; i < STEPS && ok; i++) {
        double t0 = now_ms();
        ok = t->run(t->ctx);
        host += now_ms() - t0;
        ok = ok && t->sync(t->ctx);
    }
    ag_device_get_counters(dev, &b);
    if (!ok) return false;
    r->has_counters = true;
    r->driver_allocs_per_step = (double)(b.driver_allocs - a.driver_allocs) / STEPS;
    r->driver_alloc_bytes_per_step = (double)(b.driver_alloc_bytes - a.driver_alloc_bytes) / STEPS;
    r->dispatches_per_step = (double)(b.dispatches - a.dispatches) / STEPS;
    /* the sync after each step is the benchmark's, not the step's */
    r->host_waits_per_step = (double)(b.host_waits - a.host_waits) / STEPS;
    if (host_ms) *host_ms = host / STEPS;
    return true;
}

/* The step captured as a graph (anygrad/graph.h), timed alternately with the
 * eager step: "<name>_graph", and "<name>_graph_unfused" without fusion. */
static void graph_cases(const bench_config *cfg, ag_device *dev, const char *name, train_ctx *c,
                        bench_emit emit, void *user)
{
    for (int fused = 1; fused >= 0; fused--) {
        bench_result r = {0}, re = {0};
        snprintf(r.name, sizeof r.name, "%s_graph%s", name, fused ? "" : "_unfused");
        snprintf(re.name, sizeof re.name, "%s", name);
        ag_graph_opts opts = {.no_fusion = !fused};
        graph_ctx gc = {c, NULL};
        /* one eager step first: the optimizer creates its state there */
        if (train_step(c) && train_sync(c)) gc.g = ag_graph_capture(dev, train_step_status, c, &opts);
        bench_timer te = {c, train_step, train_sync}, tg = {&gc, graph_step, graph_sync};
        double host_eager = 0, host_replay = 0;
        bench_result tmp = {0};
        if (gc.g && bench_time_paired(cfg, &te, &re, &tg, &r) &&
            steady_counters(dev, &te, &tmp, &host_eager) && steady_counters(dev, &tg, &r, &host_replay)) {
            ag_graph_info info;
            ag_graph_get_info(gc.g, &info);
            r.has_graph = true;
            r.eager_median_ms = re.median_ms;
            r.host_ms_eager = host_eager;
            r.host_ms_replay = host_replay;
            r.arena_bytes = (double)info.arena_bytes;
            r.eager_bytes = (double)info.eager_bytes;
            r.host_records = (double)info.host_records;
            bench_set_throughput(&r, UNIT_MS_PER_STEP, 1.0);
        } else if (!r.error[0]) {
            r.ok = false;
            snprintf(r.error, sizeof r.error, "%s", ag_last_error());
        }
        ag_graph_free(gc.g);
        emit(&r, user);
    }
}

static void train_case(const bench_config *cfg, ag_device *dev, const char *name, ag_module *model,
                       ag_tensor *x, ag_tensor *y, bool regression, int64_t batch, bench_emit emit,
                       void *user)
{
    bench_result r = {0};
    snprintf(r.name, sizeof r.name, "%s", name);
    ag_tensor *params[64];
    int n = model ? ag_module_parameters(model, NULL, params, 64) : 0;
    ag_optimizer *opt = n > 0 ? ag_optim_adam(params, n, &(ag_adam_opts){.lr = 1e-3}) : NULL;
    train_ctx c = {dev, model, opt, x, y, regression, AG_F32};
    bench_timer t = {&c, train_step, train_sync};
    bool timed = false;
    if (model && opt && x && y && bench_time(cfg, &t, &r)) {
        timed = true;
        steady_counters(dev, &t, &r, NULL);
    } else if (!r.error[0]) {
        snprintf(r.error, sizeof r.error, "%s", ag_last_error());
    }
    bench_set_throughput(&r, UNIT_MS_PER_STEP, 1.0);
    (void)batch;
    emit(&r, user);
    if (timed) graph_cases(cfg, dev, name, &c, emit, user);
    if (timed) { /* the same step in bf16 autocast (anygrad/amp.h), f32 master weights */
        bench_result a = {0};
        snprintf(a.name, sizeof a.name, "%s_amp_bf16", name);
        c.amp = AG_BF16;
        if (bench_time(cfg, &t, &a)) steady_counters(dev, &t, &a, NULL);
        else if (!a.error[0]) snprintf(a.error, sizeof a.error, "%s", ag_last_error());
        c.amp = AG_F32;
        bench_set_throughput(&a, UNIT_MS_PER_STEP, 1.0);
        emit(&a, user);
    }
    ag_optimizer_free(opt);
    ag_module_free(model);
}

void bench_cases_train(const bench_config *cfg, ag_device *dev, bench_emit emit, void *user)
{
    const int64_t batch = 128;
    ag_manual_seed(0);
    if (!cfg->filter || strstr("train_mlp_fmnist_b128", cfg->filter)) {
        ag_scope_begin();
        ag_tensor *x = ag_randn(dev, AG_SHAPE(batch, 1, 28, 28));
        ag_tensor *y = ag_cast(ag_mul_scalar(ag_rand(dev, AG_SHAPE(batch)), 9.99), AG_I32);
        train_case(cfg, dev, "train_mlp_fmnist_b128", fmnist_mlp(dev), x, y, false, batch, emit, user);
        ag_scope_end();
    }
    if (!cfg->filter || strstr("train_cnn_fmnist_b128", cfg->filter)) {
        ag_scope_begin();
        ag_tensor *x = ag_randn(dev, AG_SHAPE(batch, 1, 28, 28));
        ag_tensor *y = ag_cast(ag_mul_scalar(ag_rand(dev, AG_SHAPE(batch)), 9.99), AG_I32);
        train_case(cfg, dev, "train_cnn_fmnist_b128", fmnist_cnn(dev), x, y, false, batch, emit, user);
        ag_scope_end();
    }
    if (!cfg->filter || strstr("train_transformer_b16_l64_d128", cfg->filter)) {
        /* One pre-norm encoder layer, d_model 128, 4 heads, ff 512, on [16, 64, 128],
         * regressing onto a fixed target. */
        ag_scope_begin();
        ag_tensor *x = ag_randn(dev, AG_SHAPE(16, 64, 128));
        ag_tensor *y = ag_randn(dev, AG_SHAPE(16, 64, 128));
        train_case(cfg, dev, "train_transformer_b16_l64_d128",
                   ag_nn_transformer_encoder_layer(dev, 128, 4, 512, 0.0), x, y, true, 16, emit, user);
        ag_scope_end();
    }
}
