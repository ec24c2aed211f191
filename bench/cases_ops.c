/* bench/cases_ops.c — convolution, bandwidth-bound ops, reductions and the
 * per-dispatch overhead. */
#include "bench.h"

#include <string.h>

typedef struct op_ctx {
    ag_device *dev;
    int kind;
    ag_tensor *x, *y, *w, *b;
    ag_conv2d_opts conv;
} op_ctx;

enum { K_CONV_FWD_BWD, K_ADD, K_RELU, K_ROWSUM, K_SOFTMAX, K_LAYERNORM, K_CHAIN };

static bool op_run(void *p)
{
    op_ctx *c = p;
    ag_scope_begin();
    bool ok = true;
    switch (c->kind) {
    case K_CONV_FWD_BWD: {
        ag_tensor *out = ag_conv2d(c->x, c->w, c->b, &c->conv);
        ok = out && ag_backward(ag_sum(out, 0, NULL, false), NULL) == AG_OK;
        ag_zero_grad(c->x);
        ag_zero_grad(c->w);
        ag_zero_grad(c->b);
        break;
    }
    case K_ADD: ok = ag_add(c->x, c->y) != NULL; break;
    case K_RELU: ok = ag_relu(c->x) != NULL; break;
    case K_ROWSUM: ok = ag_sum(c->x, AG_DIMS(-1), false) != NULL; break;
    case K_SOFTMAX: ok = ag_softmax(c->x, -1) != NULL; break;
    case K_LAYERNORM:
        ok = ag_layer_norm(c->x, 1, (int64_t[]){ag_size(c->x, -1)}, c->w, c->b, 1e-5) != NULL;
        break;
    case K_CHAIN: {
        ag_tensor *h = c->x;
        for (int i = 0; i < 1000 && h; i++) h = ag_add(h, c->y);
        ok = h != NULL;
        break;
    }
    }
    ag_scope_end();
    return ok;
}

static bool op_sync(void *p) { return ag_device_sync(((op_ctx *)p)->dev) == AG_OK; }

static void run_case(const bench_config *cfg, op_ctx *c, const char *name, bench_unit unit,
                     double work, bench_emit emit, void *user)
{
    bench_result r = {0};
    snprintf(r.name, sizeof r.name, "%s", name);
    bench_timer t = {c, op_run, op_sync};
    if (c->x) bench_time(cfg, &t, &r);
    else snprintf(r.error, sizeof r.error, "%s", ag_last_error());
    bench_set_throughput(&r, unit, work);
    emit(&r, user);
}

static bool wanted(const bench_config *cfg, const char *name)
{
    return !cfg->filter || strstr(name, cfg->filter);
}

static void conv_case(const bench_config *cfg, ag_device *dev, const char *name, int n, int cin,
                      int cout, int hw, bench_emit emit, void *user)
{
    if (!wanted(cfg, name)) return;
    ag_scope_begin();
    op_ctx c = {dev, K_CONV_FWD_BWD};
    c.x = ag_randn(dev, AG_SHAPE(n, cin, hw, hw));
    c.w = ag_randn(dev, AG_SHAPE(cout, cin, 3, 3));
    c.b = ag_randn(dev, AG_SHAPE(cout));
    c.conv = (ag_conv2d_opts){.padding = {1, 1}};
    ag_set_requires_grad(c.x, true);
    ag_set_requires_grad(c.w, true);
    ag_set_requires_grad(c.b, true);
    /* forward + input grad + weight grad ≈ 3 GEMM-sized passes */
    double flops = 3.0 * 2.0 * n * cout * hw * hw * (double)cin * 9;
    run_case(cfg, &c, name, UNIT_GFLOPS, flops, emit, user);
    ag_scope_end();
}

void bench_cases_ops(const bench_config *cfg, ag_device *dev, bench_emit emit, void *user)
{
    ag_device_type type = ag_device_get_info(dev)->type;
    bool gpu = type == AG_DEVICE_DISCRETE_GPU || type == AG_DEVICE_INTEGRATED_GPU;
    conv_case(cfg, dev, "conv2d_fwd_bwd_n8_64x64_56", cfg->quick ? 2 : 8, 64, 64, 56, emit, user);
    if (gpu) conv_case(cfg, dev, "conv2d_fwd_bwd_n16_3x64_224", 16, 3, 64, 224, emit, user);

    const int64_t big = cfg->quick ? 1024 : 4096;
    const double elems = (double)big * big;
    struct { const char *op; int kind; bench_unit unit; double work; } simple[] = {
        {"add", K_ADD, UNIT_GBPS, 3 * 4 * elems},
        {"relu", K_RELU, UNIT_GBPS, 2 * 4 * elems},
        {"rowsum", K_ROWSUM, UNIT_GBPS, 4 * elems},
        {"softmax", K_SOFTMAX, UNIT_GBPS, 2 * 4 * elems},
    };
    for (size_t i = 0; i < sizeof simple / sizeof simple[0]; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s_%lldx%lld", simple[i].op, (long long)big, (long long)big);
        if (!wanted(cfg, name)) continue;
        ag_scope_begin();
        op_ctx c = {dev, simple[i].kind};
        c.x = ag_randn(dev, AG_SHAPE(big, big));
        c.y = ag_randn(dev, AG_SHAPE(big, big));
        run_case(cfg, &c, name, simple[i].unit, simple[i].work, emit, user);
        ag_scope_end();
    }
    if (wanted(cfg, "layer_norm_4096x768")) {
        ag_scope_begin();
        op_ctx c = {dev, K_LAYERNORM};
        c.x = ag_randn(dev, AG_SHAPE(4096, 768));
        c.w = ag_ones(dev, AG_F32, AG_SHAPE(768));
        c.b = ag_zeros(dev, AG_F32, AG_SHAPE(768));
        run_case(cfg, &c, "layer_norm_4096x768", UNIT_GBPS, 2.0 * 4 * 4096 * 768, emit, user);
        ag_scope_end();
    }
    if (wanted(cfg, "dispatch_1000_chained_adds")) {
        ag_scope_begin();
        op_ctx c = {dev, K_CHAIN};
        c.x = ag_randn(dev, AG_SHAPE(16));
        c.y = ag_randn(dev, AG_SHAPE(16));
        run_case(cfg, &c, "dispatch_1000_chained_adds", UNIT_US_PER_OP, 1000, emit, user);
        ag_scope_end();
    }
}
