/* tests/test_graph.c — graph capture and replay (anygrad/graph.h): replayed
 * training steps equal eager ones bit for bit (MLP, CNN with dropout,
 * transformer with dropout and gradient clipping, 20 steps), a replay
 * allocates nothing, the CNN's memory plan, what fails at capture time, and
 * a failed replay that leaves the parameters as they were. */
#include "harness.h"
#include "internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

void agi_graph_fail_at(int entry); /* src/graph/replay.c, for tests */

enum { STEPS = 20 };

typedef enum { MODEL_MLP, MODEL_CNN, MODEL_TRANSFORMER } model_kind;

typedef struct step_ctx {
    ag_device *dev;
    model_kind kind;
    ag_module *model;
    ag_optimizer *opt;
    ag_tensor *params[64];
    int n_params;
    ag_tensor *x, *y;  /* the step's inputs (written before every step) */
    ag_tensor *loss;   /* the last step's loss (retained) */
} step_ctx;

static ag_module *make_model(ag_device *dev, model_kind kind)
{
    switch (kind) {
    case MODEL_MLP:
        return ag_nn_sequential(5, (ag_module *[]){
            ag_nn_linear(dev, 12, 16, true), ag_nn_relu(), ag_nn_linear(dev, 16, 16, true),
            ag_nn_gelu(false), ag_nn_linear(dev, 16, 5, true)});
    case MODEL_CNN: {
        ag_conv2d_opts same = {.padding = {1, 1}};
        ag_pool2d_opts pool = {.kernel = {2, 2}};
        return ag_nn_sequential(8, (ag_module *[]){
            ag_nn_conv2d(dev, 1, 4, 3, 3, &same, true), ag_nn_relu(), ag_nn_max_pool2d(&pool),
            ag_nn_flatten(1, -1), ag_nn_linear(dev, 4 * 4 * 4, 16, true), ag_nn_relu(),
            ag_nn_dropout(0.25), ag_nn_linear(dev, 16, 5, true)});
    }
    case MODEL_TRANSFORMER: return ag_nn_transformer_encoder_layer(dev, 16, 2, 32, 0.1);
    }
    return NULL;
}

static void input_shapes(model_kind kind, int *xn, int64_t *xs, int *yn, int64_t *ys, ag_dtype *yt)
{
    switch (kind) {
    case MODEL_MLP:
        *xn = 2, xs[0] = 6, xs[1] = 12, *yn = 1, ys[0] = 6, *yt = AG_I32;
        break;
    case MODEL_CNN:
        *xn = 4, xs[0] = 4, xs[1] = 1, xs[2] = 8, xs[3] = 8, *yn = 1, ys[0] = 4, *yt = AG_I32;
        break;
    case MODEL_TRANSFORMER:
        *xn = 3, xs[0] = 2, xs[1] = 6, xs[2] = 16, *yn = 3, ys[0] = 2, ys[1] = 6, ys[2] = 16,
        *yt = AG_F32;
        break;
    }
}

/* The optimizer setup() gives the model: 0 Adam (with weight decay), 1 SGD
 * with Nesterov momentum, 2 RMSprop with momentum. */
static int optimizer_kind;

static void setup(step_ctx *c, ag_device *dev, model_kind kind)
{
    memset(c, 0, sizeof *c);
    c->dev = dev;
    c->kind = kind;
    ag_manual_seed(7);
    c->model = make_model(dev, kind);
    ck_assert_ptr_nonnull(c->model);
    c->n_params = ag_module_parameters(c->model, NULL, c->params, 64);
    switch (optimizer_kind) {
    case 1:
        c->opt = ag_optim_sgd(c->params, c->n_params,
                              &(ag_sgd_opts){.lr = 0.05, .momentum = 0.9, .nesterov = true});
        break;
    case 2:
        c->opt = ag_optim_rmsprop(c->params, c->n_params,
                                  &(ag_rmsprop_opts){.lr = 1e-3, .momentum = 0.5, .weight_decay = 1e-4});
        break;
    default:
        c->opt = ag_optim_adam(c->params, c->n_params, &(ag_adam_opts){.lr = 1e-2, .weight_decay = 1e-3});
    }
    ck_assert_ptr_nonnull(c->opt);
    int xn, yn;
    int64_t xs[4], ys[4];
    ag_dtype yt;
    input_shapes(kind, &xn, xs, &yn, ys, &yt);
    c->x = ag_zeros(dev, AG_F32, xn, xs);
    c->y = ag_zeros(dev, yt, yn, ys);
    ck_assert_ptr_nonnull(c->x);
    ck_assert_ptr_nonnull(c->y);
}

static void teardown(step_ctx *c)
{
    ag_release(c->loss);
    ag_release(c->x);
    ag_release(c->y);
    ag_optimizer_free(c->opt);
    ag_module_free(c->model);
}

/* Writes batch `step` (a host pattern) into the inputs. */
static void write_batch(step_ctx *c, int step)
{
    int64_t nx = ag_numel(c->x), ny = ag_numel(c->y);
    float *x = malloc((size_t)nx * sizeof *x);
    ck_assert_ptr_nonnull(x);
    for (int64_t i = 0; i < nx; i++) x[i] = (float)sin(0.37 * (double)i + 1.3 * step);
    ck_assert_int_eq(ag_tensor_write(c->x, x, (size_t)nx * sizeof *x), AG_OK);
    if (ag_tensor_dtype(c->y) == AG_I32) {
        int32_t *y = malloc((size_t)ny * sizeof *y);
        ck_assert_ptr_nonnull(y);
        for (int64_t i = 0; i < ny; i++) y[i] = (int32_t)((i * 3 + step) % 5);
        ck_assert_int_eq(ag_tensor_write(c->y, y, (size_t)ny * sizeof *y), AG_OK);
        free(y);
    } else {
        for (int64_t i = 0; i < ny; i++) x[i < nx ? i : 0] = (float)cos(0.11 * (double)i - step);
        ck_assert_int_eq(ag_tensor_write(c->y, x, (size_t)ny * sizeof *x), AG_OK);
    }
    free(x);
}

/* With a schedule, the learning rate changes before every step (outside the
 * captured step: a replay must pick the new one up). */
static bool lr_schedule;

static void schedule_lr(step_ctx *c, int step)
{
    if (lr_schedule) ck_assert_int_eq(ag_optimizer_set_lr(c->opt, 0.02 / (1.0 + 0.3 * step)), AG_OK);
}

/* One training step: forward, loss, backward, clipping on the device, the
 * optimizer's update. */
static ag_status train_step(void *p)
{
    step_ctx *c = p;
    ag_scope_begin();
    ag_optimizer_zero_grad(c->opt);
    ag_tensor *out = ag_module_forward(c->model, c->x);
    ag_tensor *loss = c->kind == MODEL_TRANSFORMER ? ag_mse_loss(out, c->y, AG_REDUCTION_MEAN)
                                                   : ag_cross_entropy(out, c->y, NULL);
    ag_status st = loss ? ag_backward(loss, NULL) : ag_last_status();
    if (st == AG_OK && !ag_clip_grad_norm_device(c->dev, c->params, c->n_params, 0.5))
        st = ag_last_status();
    if (st == AG_OK) st = ag_optimizer_step(c->opt);
    if (st == AG_OK) {
        ag_release(c->loss);
        c->loss = ag_retain(loss);
    }
    ag_scope_end();
    return st;
}

static float loss_value(step_ctx *c)
{
    float v = NAN;
    ck_assert_int_eq(ag_tensor_read(c->loss, &v, sizeof v), AG_OK);
    return v;
}

/* All parameters, concatenated on the host. */
static float *params_host(step_ctx *c, size_t *n)
{
    size_t total = 0;
    for (int i = 0; i < c->n_params; i++) total += (size_t)ag_numel(c->params[i]);
    float *h = malloc(total * sizeof *h);
    ck_assert_ptr_nonnull(h);
    size_t at = 0;
    for (int i = 0; i < c->n_params; i++) {
        size_t k = (size_t)ag_numel(c->params[i]);
        ck_assert_int_eq(ag_tensor_read(c->params[i], h + at, k * sizeof *h), AG_OK);
        at += k;
    }
    *n = total;
    return h;
}

/* Eager for STEPS steps, then the same seed replayed from step 3 on (step 1
 * eager creates the optimizer state, step 2 is captured): losses and
 * parameters must agree bit for bit. */
static void check_replay_matches_eager(int backend, model_kind kind, const ag_graph_opts *opts)
{
    ag_device *dev = agt_open(backend);
    float eager_loss[STEPS], graph_loss[STEPS];
    step_ctx a, b;

    setup(&a, dev, kind);
    ag_manual_seed(100);
    for (int s = 0; s < STEPS; s++) {
        write_batch(&a, s);
        schedule_lr(&a, s);
        ck_assert_int_eq(train_step(&a), AG_OK);
        eager_loss[s] = loss_value(&a);
    }
    size_t na, nb;
    float *pa = params_host(&a, &na);
    teardown(&a);

    setup(&b, dev, kind);
    ag_manual_seed(100);
    write_batch(&b, 0);
    schedule_lr(&b, 0);
    ck_assert_int_eq(train_step(&b), AG_OK);
    graph_loss[0] = loss_value(&b);
    write_batch(&b, 1);
    schedule_lr(&b, 1);
    ag_graph *g = ag_graph_capture(dev, train_step, &b, opts);
    ck_assert_msg(g != NULL, "capture failed: %s", ag_last_error());
    graph_loss[1] = loss_value(&b);
    ag_device_counters c0, c1;
    int64_t tensors0 = ag_live_tensors();
    for (int s = 2; s < STEPS; s++) {
        write_batch(&b, s);
        schedule_lr(&b, s);
        if (s == 3) ag_device_get_counters(dev, &c0);
        ck_assert_msg(ag_graph_replay(g) == AG_OK, "replay %d: %s", s, ag_last_error());
        graph_loss[s] = loss_value(&b);
    }
    ag_device_get_counters(dev, &c1);
    ck_assert_int_eq(ag_live_tensors(), tensors0);
    /* Everything pre-built: dropout's random fills and the optimizer updates
     * read their per-step values from the device. */
    ag_graph_info gi;
    ck_assert_int_eq(ag_graph_get_info(g, &gi), AG_OK);
    if (!opts)
        ck_assert_msg(gi.host_records == 0, "%lld of %lld kernels re-queued by the host per replay",
                      (long long)gi.host_records, (long long)gi.kernels);
    else if (opts->no_prebuild)
        ck_assert_int_eq(gi.host_records, gi.kernels);
    ck_assert_msg(c1.driver_allocs == c0.driver_allocs, "replays allocated %llu times from the driver",
                  (unsigned long long)(c1.driver_allocs - c0.driver_allocs));
    ck_assert_int_eq(ag_optimizer_step_count(b.opt), STEPS);
    for (int s = 0; s < STEPS; s++)
        ck_assert_msg(memcmp(&eager_loss[s], &graph_loss[s], sizeof(float)) == 0,
                      "%s model, step %d: eager loss %.9g, graph %.9g",
                      kind == MODEL_MLP ? "MLP" : kind == MODEL_CNN ? "CNN" : "transformer", s,
                      eager_loss[s], graph_loss[s]);
    float *pb = params_host(&b, &nb);
    ck_assert_uint_eq(na, nb);
    for (size_t i = 0; i < na; i++)
        ck_assert_msg(memcmp(&pa[i], &pb[i], sizeof(float)) == 0, "parameter element %zu: %.9g vs %.9g",
                      i, pa[i], pb[i]);
    free(pa);
    free(pb);
    ag_graph_free(g);
    teardown(&b);
    agt_close(dev);
}

START_TEST(test_replay_mlp) { check_replay_matches_eager(_i, MODEL_MLP, NULL); }
END_TEST
START_TEST(test_replay_cnn) { check_replay_matches_eager(_i, MODEL_CNN, NULL); }
END_TEST
START_TEST(test_replay_transformer) { check_replay_matches_eager(_i, MODEL_TRANSFORMER, NULL); }
END_TEST
/* SGD with Nesterov momentum (its momentum buffer starts as the first
 * gradient) and RMSprop, each under a learning rate that changes every step. */
START_TEST(test_replay_sgd_rmsprop_schedule)
{
    lr_schedule = true;
    for (optimizer_kind = 1; optimizer_kind <= 2; optimizer_kind++)
        check_replay_matches_eager(_i, MODEL_MLP, NULL);
    optimizer_kind = 0;
    lr_schedule = false;
}
END_TEST

START_TEST(test_replay_unfused_record_by_record)
{
    ag_graph_opts o = {.no_fusion = true, .no_prebuild = true};
    check_replay_matches_eager(_i, MODEL_TRANSFORMER, &o);
}
END_TEST

/* The CNN's planned arena is at most 0.8 of what its eager step allocates. */
START_TEST(test_cnn_memory_plan)
{
    ag_device *dev = agt_open(_i);
    step_ctx c;
    setup(&c, dev, MODEL_CNN);
    write_batch(&c, 0);
    ck_assert_int_eq(train_step(&c), AG_OK);
    ag_graph *g = ag_graph_capture(dev, train_step, &c, NULL);
    ck_assert_msg(g != NULL, "%s", ag_last_error());
    ag_graph_info info;
    ck_assert_int_eq(ag_graph_get_info(g, &info), AG_OK);
    ck_assert_uint_eq(ag_graph_memory(g), info.arena_bytes);
    ck_assert_int_gt(info.arena_buffers, 10);
    ck_assert_uint_gt(info.arena_bytes, 0);
    ck_assert_msg((double)info.arena_bytes <= 0.8 * (double)info.eager_bytes,
                  "planned peak %zu bytes, eager intermediates %zu", info.arena_bytes, info.eager_bytes);
    ck_assert_int_ge(info.records, info.kernels);
    ag_graph_free(g);
    teardown(&c);
    agt_close(dev);
}
END_TEST

static ag_status step_reads_loss(void *p)
{
    step_ctx *c = p;
    ag_status st = train_step(c);
    if (st != AG_OK) return st;
    double v = ag_item(c->loss);
    return isnan(v) ? ag_last_status() : AG_OK;
}

START_TEST(test_capture_rejects_host_read)
{
    ag_device *dev = agt_open(_i);
    step_ctx c;
    setup(&c, dev, MODEL_MLP);
    write_batch(&c, 0);
    ck_assert_int_eq(train_step(&c), AG_OK);
    ag_graph *g = ag_graph_capture(dev, step_reads_loss, &c, NULL);
    agt_assert_error(g, "ag_tensor_read", "inside a graph capture", "ag_item in a capture");
    /* the thread is free to capture again */
    g = ag_graph_capture(dev, train_step, &c, NULL);
    ck_assert_msg(g != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_graph_replay(g), AG_OK);
    ag_graph_free(g);
    teardown(&c);
    agt_close(dev);
}
END_TEST

/* A step that runs an op on another device fails the capture; the error
 * names ag_graph_capture first and tells the two device handles apart
 * (another handle on the same backend is another device). */
typedef struct other_ctx {
    step_ctx *c;
    ag_device *other;
} other_ctx;

static ag_status step_uses_other_device(void *p)
{
    other_ctx *o = p;
    ag_status st = train_step(o->c);
    ag_scope_begin();
    if (st == AG_OK && !ag_ones(o->other, AG_F32, AG_SHAPE(2))) st = ag_last_status();
    ag_scope_end();
    return st;
}

START_TEST(test_capture_fn_names_other_device)
{
    ag_device *dev = agt_open(_i);
    ag_device *other = ag_device_open("cpu");
    ck_assert_ptr_nonnull(other);
    step_ctx c;
    setup(&c, dev, MODEL_MLP);
    write_batch(&c, 0);
    ck_assert_int_eq(train_step(&c), AG_OK);
    other_ctx o = {&c, other};
    agt_assert_error(ag_graph_capture(dev, step_uses_other_device, &o, NULL), "ag_graph_capture: ",
                     "handle #", "op on another device in a capture");
    ag_graph *g = ag_graph_capture(dev, train_step, &c, NULL); /* the thread can capture again */
    ck_assert_msg(g != NULL, "%s", ag_last_error());
    ag_graph_free(g);
    teardown(&c);
    ag_device_close(other);
    agt_close(dev);
}
END_TEST

START_TEST(test_capture_rejects_first_optimizer_step)
{
    ag_device *dev = agt_open(_i);
    step_ctx c;
    setup(&c, dev, MODEL_MLP);
    write_batch(&c, 0);
    ag_graph *g = ag_graph_capture(dev, train_step, &c, NULL);
    agt_assert_error(g, "optimizer's state", "before capturing", "first step in a capture");
    ck_assert_int_eq(ag_graph_begin(NULL, NULL) == AG_OK, 0);
    ck_assert_ptr_null(ag_graph_end(dev));
    ck_assert_int_eq(ag_graph_replay(NULL) == AG_OK, 0);
    teardown(&c);
    agt_close(dev);
}
END_TEST

START_TEST(test_capture_rejects_other_device)
{
    ag_device *dev = agt_open(_i);
    ag_device *cpu = ag_device_open("cpu");
    ck_assert_ptr_nonnull(cpu);
    ag_scope_begin();
    ag_tensor *a = ag_ones(dev, AG_F32, AG_SHAPE(4));
    ag_tensor *b = ag_ones(cpu, AG_F32, AG_SHAPE(4));
    ck_assert_int_eq(ag_graph_begin(dev, NULL), AG_OK);
    ck_assert_int_eq(ag_graph_begin(dev, NULL) == AG_OK, 0); /* nested */
    ck_assert_ptr_nonnull(ag_add(a, a));
    ck_assert_ptr_nonnull(ag_add(b, b)); /* runs, but the capture fails */
    agt_assert_error(ag_graph_end(dev), "ag_graph_end", "while capturing", "op on another device");
    ag_scope_end();
    ag_device_close(cpu);
    agt_close(dev);
}
END_TEST

/* A replay that fails before its first write to a parameter leaves the
 * parameters, the optimizer state and its step count as they were. */
START_TEST(test_failed_replay_changes_nothing)
{
    ag_device *dev = agt_open(_i);
    step_ctx c;
    setup(&c, dev, MODEL_MLP);
    write_batch(&c, 0);
    ck_assert_int_eq(train_step(&c), AG_OK);
    write_batch(&c, 1);
    ag_graph *g = ag_graph_capture(dev, train_step, &c, NULL);
    ck_assert_msg(g != NULL, "%s", ag_last_error());
    size_t n0, n1;
    float *before = params_host(&c, &n0);
    int64_t steps = ag_optimizer_step_count(c.opt);
    agi_graph_fail_at(3);
    ag_status st = ag_graph_replay(g);
    agi_graph_fail_at(0);
    ck_assert_int_eq(st, AG_ERR_DEVICE);
    ck_assert_ptr_nonnull(strstr(ag_last_error(), "nothing was changed"));
    float *after = params_host(&c, &n1);
    ck_assert_int_eq(memcmp(before, after, n0 * sizeof *before), 0);
    ck_assert_int_eq(ag_optimizer_step_count(c.opt), steps);
    ck_assert_int_eq(ag_graph_replay(g), AG_OK);
    ck_assert_int_eq(ag_optimizer_step_count(c.opt), steps + 1);
    free(after);
    after = params_host(&c, &n1);
    ck_assert_int_ne(memcmp(before, after, n0 * sizeof *before), 0);
    free(before);
    free(after);
    ag_graph_free(g);
    teardown(&c);
    agt_close(dev);
}
END_TEST

/* A graph keeps the buffers it uses when their tensors go away; freeing the
 * graph gives everything back (agt_close checks for leaks). */
START_TEST(test_graph_keeps_released_inputs)
{
    ag_device *dev = agt_open(_i);
    ag_tensor *x = ag_ones(dev, AG_F32, AG_SHAPE(8));
    ag_tensor *y = ag_zeros(dev, AG_F32, AG_SHAPE(8));
    ck_assert_int_eq(ag_graph_begin(dev, NULL), AG_OK);
    ag_scope_begin();
    ag_tensor *t = ag_mul_scalar(ag_exp(x), 2.0);
    ck_assert_int_eq(ag_copy_(y, ag_add(t, x)), AG_OK);
    ag_scope_end();
    ag_graph *g = ag_graph_end(dev);
    ck_assert_msg(g != NULL, "%s", ag_last_error());
    ck_assert_int_eq(ag_tensor_write(x, (float[]){0, 1, 2, 3, 4, 5, 6, 7}, 32), AG_OK);
    ck_assert_int_eq(ag_graph_replay(g), AG_OK);
    float want[8];
    for (int i = 0; i < 8; i++) want[i] = 2.0f * expf((float)i) + (float)i;
    agt_assert_close(y, want, 8, 1e-5, 1e-5, "replayed with new input");
    ag_release(x); /* the graph still reads its buffer */
    ck_assert_int_eq(ag_graph_replay(g), AG_OK);
    agt_assert_close(y, want, 8, 1e-5, 1e-5, "replayed after the input's release");
    ag_graph_free(g);
    ag_release(y);
    agt_close(dev);
}
END_TEST

/* A chain of elementwise ops whose intermediates die at once: the graph
 * fuses it, and the fused kernels give the eager kernels' bits. */
typedef struct chain_ctx {
    ag_tensor *x, *w, *out;
    int variant;
} chain_ctx;

static ag_status elementwise_chain(void *p)
{
    chain_ctx *c = p;
    ag_scope_begin();
    ag_tensor *a = c->variant == 0 ? ag_gelu(c->x) : ag_gelu_tanh(c->x);
    ag_tensor *b = ag_add(ag_mul(a, c->w), c->x);
    ag_tensor *d = ag_sub(ag_tanh(b), ag_sigmoid(c->w));
    ag_tensor *e = ag_add_scalar(ag_mul_scalar(ag_silu(d), 0.5), 1.0);
    ag_tensor *f = ag_maximum(ag_div(ag_square(e), ag_add_scalar(ag_abs(c->w), 0.25)), ag_exp(ag_neg(c->x)));
    ag_tensor *g = ag_clamp(ag_sqrt(ag_relu(f)), 0.0, 3.0);
    ag_status st = g ? ag_copy_(c->out, g) : ag_last_status();
    ag_scope_end();
    return st;
}

START_TEST(test_fused_chain_bits)
{
    ag_device *dev = agt_open(_i);
    for (int variant = 0; variant < 2; variant++) {
        chain_ctx c = {agt_randn(dev, AG_SHAPE(37, 29), 11, 2.0), agt_randn(dev, AG_SHAPE(37, 29), 12, 1.5),
                       ag_zeros(dev, AG_F32, AG_SHAPE(37, 29)), variant};
        ck_assert_int_eq(elementwise_chain(&c), AG_OK);
        float *eager = agt_read_f32(c.out);
        ck_assert_int_eq(ag_fill_(c.out, 0.0), AG_OK);
        ag_graph *g = ag_graph_capture(dev, elementwise_chain, &c, NULL);
        ck_assert_msg(g != NULL, "%s", ag_last_error());
        ag_graph_info info;
        ag_graph_get_info(g, &info);
        ck_assert_msg(info.fused >= 8, "only %lld records fused", (long long)info.fused);
        ck_assert_int_eq(info.kernels + info.fused, info.records);
        ck_assert_int_eq(ag_fill_(c.out, 0.0), AG_OK);
        ck_assert_int_eq(ag_graph_replay(g), AG_OK);
        float *replay = agt_read_f32(c.out);
        for (int i = 0; i < 37 * 29; i++)
            ck_assert_msg(memcmp(&eager[i], &replay[i], sizeof(float)) == 0,
                          "variant %d element %d: eager %.9g, fused %.9g", variant, i, eager[i], replay[i]);
        free(eager);
        free(replay);
        ag_graph_free(g);
        ag_release(c.x);
        ag_release(c.w);
        ag_release(c.out);
    }
    agt_close(dev);
}
END_TEST

/* Elementwise tails of reductions (a mean's scale) are computed inside the
 * kernel that reads them broadcast: row means read as [37, 29] with a zero
 * column stride, column means with a zero row stride. */
static ag_status reduction_tails(void *p)
{
    chain_ctx *c = p;
    ag_scope_begin();
    ag_tensor *rows = ag_mean(c->x, AG_DIMS(1), true);                  // [37, 1]
    ag_tensor *cols = ag_exp(ag_mean(c->x, AG_DIMS(0), true));          // [1, 29]
    ag_tensor *y = ag_mul(ag_sub(c->x, rows), ag_add(c->x, cols));      // [37, 29]
    ag_status st = y ? ag_copy_(c->out, y) : ag_last_status();
    ag_scope_end();
    return st;
}

START_TEST(test_fused_reduction_tails)
{
    ag_device *dev = agt_open(_i);
    chain_ctx c = {agt_randn(dev, AG_SHAPE(37, 29), 13, 2.0), agt_randn(dev, AG_SHAPE(37, 29), 14, 1.5),
                   ag_zeros(dev, AG_F32, AG_SHAPE(37, 29)), 0};
    ck_assert_int_eq(reduction_tails(&c), AG_OK);
    float *eager = agt_read_f32(c.out);
    ag_graph *g = ag_graph_capture(dev, reduction_tails, &c, NULL);
    ck_assert_msg(g != NULL, "%s", ag_last_error());
    ag_graph_info info;
    ag_graph_get_info(g, &info);
    /* 2 reductions, their 3 tails, sub, add, mul and the copy: one kernel
     * after each reduction */
    ck_assert_msg(info.kernels == 3, "%lld kernels of %lld records", (long long)info.kernels,
                  (long long)info.records);
    ck_assert_int_eq(ag_fill_(c.out, 0.0), AG_OK);
    ck_assert_int_eq(ag_graph_replay(g), AG_OK);
    float *replay = agt_read_f32(c.out);
    for (int i = 0; i < 37 * 29; i++)
        ck_assert_msg(memcmp(&eager[i], &replay[i], sizeof(float)) == 0, "element %d: eager %.9g, fused %.9g",
                      i, eager[i], replay[i]);
    free(eager);
    free(replay);
    ag_graph_free(g);
    ag_release(c.x);
    ag_release(c.w);
    ag_release(c.out);
    agt_close(dev);
}
END_TEST

/* Reductions that need temporaries (partial sums of long rows on GPU-type
 * kernels, a contiguous copy of a strided source): the list keeps them while
 * eager work in between allocates and frees small buffers. */
typedef struct reduce_ctx {
    ag_tensor *x, *out;
} reduce_ctx;

static ag_status reductions(void *p)
{
    reduce_ctx *c = p;
    ag_scope_begin();
    ag_tensor *rows = ag_sum(ag_square(c->x), 1, (int[]){1}, false);              /* [3] */
    ag_tensor *cols = ag_max(ag_transpose(c->x, 0, 1), 1, (int[]){0}, false);     /* [3] */
    ag_tensor *all = ag_sum(ag_mul(c->x, c->x), 1, (int[]){0}, false);            /* [40000] */
    ag_tensor *r = ag_add(ag_add(rows, cols), ag_sum(all, 0, NULL, true));        /* [3] */
    ag_status st = r ? ag_copy_(c->out, r) : ag_last_status();
    ag_scope_end();
    return st;
}

START_TEST(test_replay_reduction_temporaries)
{
    ag_device *dev = agt_open(_i);
    reduce_ctx c = {agt_randn(dev, AG_SHAPE(3, 40000), 21, 1.0), ag_zeros(dev, AG_F32, AG_SHAPE(3))};
    ck_assert_int_eq(reductions(&c), AG_OK);
    float *eager = agt_read_f32(c.out);
    ag_graph *g = ag_graph_capture(dev, reductions, &c, NULL);
    ck_assert_msg(g != NULL, "%s", ag_last_error());
    for (int rep = 0; rep < 4; rep++) {
        ag_scope_begin(); /* eager churn of small buffers between replays */
        for (int i = 0; i < 20; i++) ck_assert_ptr_nonnull(ag_sum(ag_ones(dev, AG_F32, AG_SHAPE(5 + i)), 0, NULL, false));
        ag_scope_end();
        ck_assert_int_eq(ag_fill_(c.out, 0.0), AG_OK);
        ck_assert_int_eq(ag_graph_replay(g), AG_OK);
        float *got = agt_read_f32(c.out);
        ck_assert_int_eq(memcmp(got, eager, 3 * sizeof *got), 0);
        free(got);
    }
    free(eager);
    ag_graph_free(g);
    ag_release(c.x);
    ag_release(c.out);
    agt_close(dev);
}
END_TEST

/* A host upload inside the capture is replayed with the bytes it had then. */
typedef struct upload_ctx {
    ag_tensor *x, *out;
} upload_ctx;

static ag_status step_with_upload(void *p)
{
    upload_ctx *c = p;
    ag_scope_begin();
    ag_tensor *k = ag_from_data(ag_tensor_device(c->x), AG_F32, AG_SHAPE(4), (float[]){1, 2, 3, 4}, 16);
    ag_status st = k ? ag_copy_(c->out, ag_mul(c->x, k)) : ag_last_status();
    ag_scope_end();
    return st;
}

START_TEST(test_capture_replays_uploads)
{
    ag_device *dev = agt_open(_i);
    upload_ctx c = {agt_tensor(dev, AG_SHAPE(4), (float[]){1, 1, 1, 1}), ag_zeros(dev, AG_F32, AG_SHAPE(4))};
    ag_graph *g = ag_graph_capture(dev, step_with_upload, &c, NULL);
    ck_assert_msg(g != NULL, "%s", ag_last_error());
    agt_assert_close(c.out, (float[]){1, 2, 3, 4}, 4, 0, 0, "captured run");
    ck_assert_int_eq(ag_tensor_write(c.x, (float[]){2, -1, 0.5f, 10}, 16), AG_OK);
    ck_assert_int_eq(ag_graph_replay(g), AG_OK);
    agt_assert_close(c.out, (float[]){2, -2, 1.5f, 40}, 4, 0, 0, "replay");
    ag_graph_free(g);
    ag_release(c.x);
    ag_release(c.out);
    agt_close(dev);
}
END_TEST

static Suite *graph_suite(void)
{
    Suite *s = suite_create("graph");
    TCase *tc = tcase_create("graph");
    tcase_set_timeout(tc, 900);
    AGT_ADD_LOOP(tc, test_replay_mlp);
    AGT_ADD_LOOP(tc, test_replay_cnn);
    AGT_ADD_LOOP(tc, test_replay_transformer);
    AGT_ADD_LOOP(tc, test_replay_unfused_record_by_record);
    AGT_ADD_LOOP(tc, test_replay_sgd_rmsprop_schedule);
    AGT_ADD_LOOP(tc, test_cnn_memory_plan);
    AGT_ADD_LOOP(tc, test_capture_rejects_host_read);
    AGT_ADD_LOOP(tc, test_capture_fn_names_other_device);
    AGT_ADD_LOOP(tc, test_capture_rejects_first_optimizer_step);
    AGT_ADD_LOOP(tc, test_capture_rejects_other_device);
    AGT_ADD_LOOP(tc, test_failed_replay_changes_nothing);
    AGT_ADD_LOOP(tc, test_graph_keeps_released_inputs);
    AGT_ADD_LOOP(tc, test_fused_chain_bits);
    AGT_ADD_LOOP(tc, test_fused_reduction_tails);
    AGT_ADD_LOOP(tc, test_replay_reduction_temporaries);
    AGT_ADD_LOOP(tc, test_capture_replays_uploads);
    suite_add_tcase(s, tc);
    return s;
}

int main(void) { return agt_run_suite(graph_suite()); }
