/* tests/test_oom.c — host allocation failures. An injector in the library
 * (agi_alloc_fail_at, src/alloc.c) makes the n-th host allocation fail; a
 * whole training-and-saving scenario is run for n = 1, 2, ... until it runs
 * without reaching the failure. Every run must end in AG_OK or AG_ERR_OOM
 * with an "out of memory" message — never an abort, a crash or a leak. */
#include "harness.h"
#include "internal.h"

#include <stdio.h>
#include <string.h>

/* Records the first failure of the scenario: *st keeps the first status. */
#define STEP(cond)                                                                                 \
    do {                                                                                           \
        if (*st == AG_OK && !(cond)) {                                                             \
            *st = ag_last_status() != AG_OK ? ag_last_status() : AG_ERR_INVALID;                   \
            *where = #cond;                                                                        \
        }                                                                                          \
    } while (0)

static ag_status get_item(void *ctx, int64_t i, float *x, int32_t *y)
{
    (void)ctx;
    for (int k = 0; k < 4; k++) x[k] = (float)(i * 4 + k) * 0.1f;
    *y = (int32_t)(i % 3);
    return AG_OK;
}

/* A small training step, a loader epoch, a checkpoint save and load. */
static void scenario(ag_device *dev, const char *path, ag_status *st, const char **where)
{
    *st = AG_OK;
    ag_clear_error();
    for (int i = 0; i < 20; i++) ag_scope_begin(); /* beyond the inline levels */
    ag_module *net = ag_nn_sequential(2, (ag_module *[]){ag_nn_linear(dev, 4, 5, true),
                                                         ag_nn_linear(dev, 5, 3, true)});
    STEP(net != NULL);
    ag_tensor *ps[8];
    int np = net ? ag_module_parameters(net, NULL, ps, 8) : 0;
    STEP(np == 4);
    ag_optimizer *opt = np == 4 ? ag_optim_sgd(ps, np, &(ag_sgd_opts){.lr = 0.1, .momentum = 0.9})
                                : NULL;
    STEP(opt != NULL);
    ag_dataset *ds = ag_dataset_new(6, 1, (int64_t[]){4}, get_item, NULL, NULL);
    STEP(ds != NULL);
    ag_loader *ld = ds ? ag_loader_new(ds, dev, &(ag_loader_opts){.batch_size = 3, .shuffle = true})
                       : NULL;
    STEP(ld != NULL);
    for (int b = 0; ld && opt && *st == AG_OK; b++) {
        ag_tensor *x, *y;
        int got = ag_loader_next(ld, &x, &y);
        STEP(got >= 0);
        if (got <= 0) break;
        ag_tensor *loss = ag_cross_entropy(ag_module_forward(net, x), y, NULL);
        STEP(loss != NULL);
        if (loss) STEP(ag_backward(loss, NULL) == AG_OK);
        if (*st == AG_OK) STEP(ag_optimizer_step(opt) == AG_OK);
        ag_module_zero_grad(net);
    }
    ag_state_dict *sd = net ? ag_module_state_dict(net) : NULL;
    STEP(sd != NULL);
    if (*st == AG_OK) STEP(ag_checkpoint_save(path, sd, opt, 1, 0, NULL, NULL) == AG_OK);
    ag_state_dict *loaded = NULL;
    if (*st == AG_OK) STEP(ag_checkpoint_load(path, dev, opt, false, NULL, &loaded) == AG_OK);
    if (*st == AG_OK) STEP(ag_module_load_state_dict(net, loaded, true) == AG_OK);
    ag_state_dict_free(loaded);
    ag_state_dict_free(sd);
    ag_loader_free(ld);
    ag_dataset_free(ds);
    ag_optimizer_free(opt);
    ag_module_free(net);
    for (int i = 0; i < 20; i++) ag_scope_end();
}

START_TEST(test_host_oom_everywhere)
{
    ag_device *dev = agt_open(_i);
    agt_tmpdir_create("oom");
    const char *path = agt_tmp_path("ckpt.safetensors");
    int64_t tensors0 = ag_live_tensors(), buffers0 = ag_device_live_buffers(dev);
    ag_status st;
    const char *where = "";
    scenario(dev, path, &st, &where); /* warm-up: caches, the file exists */
    ck_assert_msg(st == AG_OK, "scenario without failures: %s at %s", ag_last_error(), where);
    int runs = 0;
    for (int64_t n = 1;; n++) {
        agi_alloc_fail_at(n);
        scenario(dev, path, &st, &where);
        int64_t injected = agi_alloc_failures();
        agi_alloc_fail_at(0);
        runs++;
        ck_assert_msg(st == AG_OK || st == AG_ERR_OOM,
                      "allocation %lld failed: status %s at %s (%s)", (long long)n,
                      ag_status_name(st), where, ag_last_error());
        if (st == AG_ERR_OOM)
            ck_assert_msg(injected == 1 && strstr(ag_last_error(), "out of memory"),
                          "allocation %lld: message \"%s\" at %s", (long long)n, ag_last_error(),
                          where);
        ck_assert_msg(agi_scope_depth() == 0, "allocation %lld: %zu scopes left open at %s",
                      (long long)n, agi_scope_depth(), where);
        ck_assert_msg(ag_live_tensors() == tensors0, "allocation %lld: %lld tensors leaked at %s",
                      (long long)n, (long long)(ag_live_tensors() - tensors0), where);
        ck_assert_msg(ag_device_live_buffers(dev) == buffers0, "allocation %lld: buffers leaked",
                      (long long)n);
        if (injected == 0) break; /* the scenario no longer reaches allocation n */
    }
    ck_assert_msg(st == AG_OK, "final run: %s", ag_last_error());
    ck_assert_int_gt(runs, 100); /* the scenario does allocate: the injector was exercised */
    agt_tmpdir_remove();
    agt_close(dev);
}
END_TEST

/* Scopes nest past the inline levels; when the stack cannot grow the level's
 * tensors go to the enclosing scope and nothing leaks. */
START_TEST(test_scope_oom)
{
    ag_device *dev = agt_open(_i);
    int64_t tensors0 = ag_live_tensors();
    ag_scope_begin();
    for (int i = 0; i < 15; i++) ag_scope_begin(); /* 16 levels: no allocation */
    ag_clear_error();
    agi_alloc_fail_at(1);
    ag_scope_begin(); /* level 17 needs the heap: fails */
    agi_alloc_fail_at(0);
    ck_assert_int_eq(ag_last_status(), AG_ERR_OOM);
    ck_assert_msg(strstr(ag_last_error(), "ag_scope_begin"), "%s", ag_last_error());
    ag_tensor *t = ag_zeros(dev, AG_F32, AG_SHAPE(3));
    ck_assert(t != NULL);
    ag_scope_end(); /* closes the lost level: t stays in level 16 */
    ck_assert_int_eq(ag_live_tensors(), tensors0 + 1);
    ck_assert_int_eq(agi_scope_depth(), 16);
    ag_scope_end(); /* level 16 releases t */
    ck_assert_int_eq(ag_live_tensors(), tensors0);
    for (int i = 0; i < 15; i++) ag_scope_end();
    ck_assert_int_eq(agi_scope_depth(), 0);
    /* A tensor that cannot be registered in its scope is freed; the op fails. */
    ag_scope_begin();
    agi_alloc_fail_at(3); /* storage, tensor, then the scope's item array */
    ag_tensor *u = ag_zeros(dev, AG_F32, AG_SHAPE(2));
    agi_alloc_fail_at(0);
    ck_assert(u == NULL);
    ck_assert_int_eq(ag_last_status(), AG_ERR_OOM);
    ag_scope_end();
    ck_assert_int_eq(ag_live_tensors(), tensors0);
    agt_close(dev);
}
END_TEST

/* A training step captured as a graph, with the n-th host allocation of the
 * capture failing, for n = 1, 2, ...: the capture fails with an out-of-memory
 * error or yields a graph that replays; nothing leaks, and once every model
 * tensor is released no graph keeps a buffer alive (the device's held-buffer
 * registry is left empty). */
typedef struct {
    ag_module *net;
    ag_optimizer *opt;
    ag_tensor *x, *y;
} graph_step_ctx;

static ag_status graph_step(void *p)
{
    graph_step_ctx *c = p;
    ag_scope_begin();
    ag_optimizer_zero_grad(c->opt);
    ag_tensor *loss = ag_cross_entropy(ag_module_forward(c->net, c->x), c->y, NULL);
    ag_status st = loss ? ag_backward(loss, NULL) : ag_last_status();
    if (st == AG_OK) st = ag_optimizer_step(c->opt);
    ag_scope_end();
    return st;
}

START_TEST(test_graph_capture_oom)
{
    ag_device *dev = agt_open(_i);
    int64_t tensors0 = ag_live_tensors(), buffers0 = ag_device_live_buffers(dev);
    graph_step_ctx c;
    c.net = ag_nn_sequential(3, (ag_module *[]){ag_nn_linear(dev, 4, 6, true), ag_nn_relu(),
                                                ag_nn_linear(dev, 6, 3, true)});
    ck_assert(c.net != NULL);
    ag_tensor *ps[8];
    int np = ag_module_parameters(c.net, NULL, ps, 8);
    c.opt = ag_optim_adam(ps, np, &(ag_adam_opts){.lr = 0.01});
    ck_assert(c.opt != NULL);
    c.x = ag_randn(dev, AG_SHAPE(5, 4));
    c.y = ag_from_data(dev, AG_I32, AG_SHAPE(5), (int32_t[]){0, 1, 2, 1, 0}, 5 * sizeof(int32_t));
    ck_assert(c.x && c.y);
    ck_assert_msg(graph_step(&c) == AG_OK, "%s", ag_last_error()); /* optimizer state */
    int64_t tensors1 = ag_live_tensors(), buffers1 = ag_device_live_buffers(dev);
    /* Without fusion every injected failure must fail the capture; fusion is
     * an optimisation that a graph does without when its tables cannot be
     * allocated. */
    for (int fuse = 0; fuse < 2; fuse++) {
        const ag_graph_opts opts = {.no_fusion = !fuse};
        int runs = 0, failed = 0;
        for (int64_t n = 1;; n++) {
            ag_clear_error();
            agi_alloc_fail_at(n);
            ag_graph *g = ag_graph_capture(dev, graph_step, &c, &opts);
            int64_t injected = agi_alloc_failures();
            agi_alloc_fail_at(0);
            runs++;
            if (!g) {
                failed++;
                ck_assert_msg(injected == 1 && ag_last_status() == AG_ERR_OOM &&
                                  strstr(ag_last_error(), "out of memory"),
                              "allocation %lld: capture failed with %s: %s", (long long)n,
                              ag_status_name(ag_last_status()), ag_last_error());
            } else {
                ck_assert_msg(ag_graph_replay(g) == AG_OK, "allocation %lld: replay: %s",
                              (long long)n, ag_last_error());
                ag_graph_free(g);
            }
            ck_assert_msg(agi_scope_depth() == 0, "allocation %lld: scopes left open", (long long)n);
            /* A capture that failed early leaves the grads zeroed to none: one
             * eager step brings back the tensors of a step's end. */
            ck_assert_msg(graph_step(&c) == AG_OK, "allocation %lld: eager step after it: %s",
                          (long long)n, ag_last_error());
            ck_assert_msg(ag_live_tensors() == tensors1, "allocation %lld: %lld tensors leaked",
                          (long long)n, (long long)(ag_live_tensors() - tensors1));
            ck_assert_msg(ag_device_live_buffers(dev) == buffers1,
                          "allocation %lld: %lld buffers leaked", (long long)n,
                          (long long)(ag_device_live_buffers(dev) - buffers1));
            if (injected == 0) break; /* the capture no longer reaches allocation n */
        }
        ck_assert_int_gt(failed, 10); /* the capture allocates: the injector was exercised */
        if (!fuse) ck_assert_int_eq(failed, runs - 1);
    }
    ck_assert_int_eq(ag_device_sync(dev), AG_OK);
    ag_release(c.x);
    ag_release(c.y);
    ag_optimizer_free(c.opt);
    ag_module_free(c.net);
    ck_assert_int_eq(ag_live_tensors(), tensors0);
    ck_assert_msg(ag_device_live_buffers(dev) == buffers0, "%lld buffers still held",
                  (long long)(ag_device_live_buffers(dev) - buffers0));
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("oom");
    TCase *tc = tcase_create("oom");
    tcase_set_timeout(tc, 900);
    AGT_ADD_LOOP(tc, test_scope_oom);
    AGT_ADD_LOOP(tc, test_host_oom_everywhere);
    AGT_ADD_LOOP(tc, test_graph_capture_oom);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
