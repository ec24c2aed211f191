/* tests/test_optim.c — optimizers against PyTorch trajectories, LR schedules,
 * gradient clipping, state export/import and error paths. */
#include "harness.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define STEPS 10
#define SKIP_STEP 4 /* parameter 1 has no gradient at this step (see gen_optim.py) */

/* Asserts a failed status whose message contains `needle`. */
static void assert_status_error(ag_status st, const char *needle, const char *what)
{
    ck_assert_msg(st < 0, "%s: expected failure, got %d", what, (int)st);
    ck_assert_msg(strstr(ag_last_error(), needle), "%s: error \"%s\" lacks \"%s\"", what,
                  ag_last_error(), needle);
}

typedef ag_optimizer *(*make_fn)(ag_tensor *const *params);

static ag_optimizer *mk_sgd_plain(ag_tensor *const *p)
{
    return ag_optim_sgd(p, 2, &(ag_sgd_opts){.lr = 0.1});
}
static ag_optimizer *mk_sgd_momentum(ag_tensor *const *p)
{
    return ag_optim_sgd(p, 2, &(ag_sgd_opts){.lr = 0.1, .momentum = 0.9, .dampening = 0.1,
                                             .weight_decay = 0.01});
}
static ag_optimizer *mk_sgd_nesterov(ag_tensor *const *p)
{
    return ag_optim_sgd(p, 2, &(ag_sgd_opts){.lr = 0.05, .momentum = 0.9, .nesterov = true,
                                             .weight_decay = 0.001});
}
static ag_optimizer *mk_adam(ag_tensor *const *p) { return ag_optim_adam(p, 2, &(ag_adam_opts){.lr = 0.01}); }
static ag_optimizer *mk_adam_wd(ag_tensor *const *p)
{
    return ag_optim_adam(p, 2, &(ag_adam_opts){.lr = 0.01, .beta1 = 0.8, .beta2 = 0.99,
                                               .eps = 1e-6, .weight_decay = 0.1});
}
static ag_optimizer *mk_adamw(ag_tensor *const *p)
{
    return ag_optim_adamw(p, 2, &(ag_adam_opts){.lr = 0.01, .weight_decay = 0.1});
}
static ag_optimizer *mk_adamw_lrchange(ag_tensor *const *p)
{
    return ag_optim_adamw(p, 2, &(ag_adam_opts){.lr = 0.02, .weight_decay = 0.05});
}
static ag_optimizer *mk_rmsprop(ag_tensor *const *p) { return ag_optim_rmsprop(p, 2, NULL); }
static ag_optimizer *mk_rmsprop_mom(ag_tensor *const *p)
{
    return ag_optim_rmsprop(p, 2, &(ag_rmsprop_opts){.lr = 0.01, .alpha = 0.9, .eps = 1e-6,
                                                     .weight_decay = 0.01, .momentum = 0.5});
}

static const struct {
    const char *name;
    make_fn make;
    int lr_step;    /* step at which the lr changes (-1: never) */
    double new_lr;
} cases[] = {
    {"sgd_plain", mk_sgd_plain, -1, 0},   {"sgd_momentum", mk_sgd_momentum, -1, 0},
    {"sgd_nesterov", mk_sgd_nesterov, -1, 0}, {"adam", mk_adam, -1, 0},
    {"adam_wd", mk_adam_wd, -1, 0},       {"adamw", mk_adamw, -1, 0},
    {"adamw_lrchange", mk_adamw_lrchange, 5, 0.005}, {"rmsprop", mk_rmsprop, -1, 0},
    {"rmsprop_mom", mk_rmsprop_mom, -1, 0},
};
enum { n_cases = sizeof cases / sizeof cases[0] };

/* Runs case c for STEPS steps, comparing both parameters after every step.
 * With `noncontig`, gradients are passed as non-contiguous tensors. */
static void run_trajectory(ag_device *dev, agt_golden *g, int c, bool noncontig)
{
    const char *name = cases[c].name;
    ag_scope_begin();
    ag_tensor *p[2] = {ag_clone(agt_golden_tensor(g, dev, name, "p0")),
                       ag_clone(agt_golden_tensor(g, dev, name, "p1"))};
    ck_assert(ag_set_requires_grad(p[0], true) == AG_OK);
    ck_assert(ag_set_requires_grad(p[1], true) == AG_OK);
    ag_tensor *g0 = agt_golden_tensor(g, dev, name, "g0");
    ag_tensor *g1 = agt_golden_tensor(g, dev, name, "g1");
    float *t0 = agt_read_f32(agt_golden_tensor(g, dev, name, "traj0"));
    float *t1 = agt_read_f32(agt_golden_tensor(g, dev, name, "traj1"));
    ag_optimizer *opt = cases[c].make(p);
    ck_assert_msg(opt != NULL, "%s: %s", name, ag_last_error());
    for (int s = 0; s < STEPS; s++) {
        ag_scope_begin();
        if (s == cases[c].lr_step) ck_assert(ag_optimizer_set_lr(opt, cases[c].new_lr) == AG_OK);
        ag_optimizer_zero_grad(opt);
        ck_assert(ag_grad(p[0]) == NULL);
        ag_tensor *gs0 = ag_select(g0, 0, s);
        if (noncontig) gs0 = agt_noncontiguous(gs0);
        ck_assert(ag_set_grad(p[0], gs0) == AG_OK);
        if (s != SKIP_STEP) ck_assert(ag_set_grad(p[1], ag_select(g1, 0, s)) == AG_OK);
        ag_status st = ag_optimizer_step(opt);
        ck_assert_msg(st == AG_OK, "%s step %d: %s", name, s, ag_last_error());
        char what[96];
        snprintf(what, sizeof what, "%s p0 step %d%s", name, s, noncontig ? " (noncontig)" : "");
        agt_assert_close(p[0], t0 + s * 6, 6, 2e-5, 1e-4, what);
        snprintf(what, sizeof what, "%s p1 step %d", name, s);
        agt_assert_close(p[1], t1 + s * 4, 4, 2e-5, 1e-4, what);
        ag_scope_end();
    }
    ck_assert_int_eq(ag_optimizer_step_count(opt), STEPS);
    ag_optimizer_free(opt);
    free(t0);
    free(t1);
    ag_scope_end();
}

START_TEST(test_trajectories_vs_torch)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load("optim.txt");
    for (int c = 0; c < n_cases; c++) run_trajectory(dev, g, c, false);
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_noncontiguous_grads)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load("optim.txt");
    run_trajectory(dev, g, 1, true); /* sgd_momentum */
    run_trajectory(dev, g, 3, true); /* adam */
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* Hand-checked: one SGD and one Adam step. */
START_TEST(test_hand_checked)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(3), (float[]){1, 2, 3});
    ag_optimizer *opt = ag_optim_sgd(&w, 1, &(ag_sgd_opts){.lr = 0.5, .weight_decay = 0.1});
    ag_set_grad(w, agt_tensor(dev, AG_SHAPE(3), (float[]){1, -1, 0}));
    ck_assert(ag_optimizer_step(opt) == AG_OK);
    /* w - 0.5 * (g + 0.1 w) */
    agt_assert_close(w, (float[]){1 - 0.5f * 1.1f, 2 - 0.5f * (-1 + 0.2f), 3 - 0.5f * 0.3f}, 3,
                     1e-6, 1e-6, "sgd step");
    ag_optimizer_free(opt);
    /* Adam's first step moves each weight by lr * sign(g) (up to eps). */
    ag_tensor *v = agt_tensor(dev, AG_SHAPE(2, 2), (float[]){0, 0, 0, 0});
    opt = ag_optim_adam(&v, 1, NULL);
    ck_assert(fabs(ag_optimizer_get_lr(opt) - 1e-3) < 1e-12);
    ag_set_grad(v, agt_tensor(dev, AG_SHAPE(2, 2), (float[]){3, -0.5f, 2, -7}));
    ck_assert(ag_optimizer_step(opt) == AG_OK);
    agt_assert_close(v, (float[]){-1e-3f, 1e-3f, -1e-3f, 1e-3f}, 4, 1e-7, 1e-4, "adam step");
    /* A parameter without gradient is skipped. */
    ag_optimizer_zero_grad(opt);
    ck_assert(ag_optimizer_step(opt) == AG_OK);
    agt_assert_close(v, (float[]){-1e-3f, 1e-3f, -1e-3f, 1e-3f}, 4, 1e-7, 1e-4, "skipped");
    ck_assert_int_eq(ag_optimizer_step_count(opt), 2);
    ck_assert_str_eq(ag_optimizer_kind(opt), "adam");
    ag_optimizer_free(opt);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Exporting the state after 3 steps and importing it into a fresh optimizer
 * continues the trajectory identically. */
START_TEST(test_state_export_import)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load("optim.txt");
    const char *name = "rmsprop_mom";
    make_fn makers[3] = {mk_rmsprop_mom, mk_sgd_momentum, mk_adam_wd};
    const char *names[3] = {"rmsprop_mom", "sgd_momentum", "adam_wd"};
    for (int m = 0; m < 3; m++) {
        name = names[m];
        ag_scope_begin();
        ag_tensor *g0 = agt_golden_tensor(g, dev, name, "g0");
        ag_tensor *g1 = agt_golden_tensor(g, dev, name, "g1");
        ag_tensor *a[2] = {ag_clone(agt_golden_tensor(g, dev, name, "p0")),
                           ag_clone(agt_golden_tensor(g, dev, name, "p1"))};
        ag_optimizer *oa = makers[m](a);
        for (int s = 0; s < 3; s++) {
            ag_set_grad(a[0], ag_select(g0, 0, s));
            ag_set_grad(a[1], ag_select(g1, 0, s));
            ck_assert(ag_optimizer_step(oa) == AG_OK);
        }
        ag_tensor *b[2] = {ag_clone(a[0]), ag_clone(a[1])};
        ag_optimizer *ob = makers[m](b);
        int n = ag_optimizer_state_count(oa);
        ck_assert_int_eq(n, m == 1 ? 4 : 6);
        ck_assert_int_eq(ag_optimizer_state_count(ob), 0);
        for (int i = 0; i < n; i++) {
            char ename[64];
            ag_tensor *t = ag_optimizer_state_entry(oa, i, ename, sizeof ename);
            ck_assert_msg(t != NULL, "%s", ag_last_error());
            if (i == 0) ck_assert_str_eq(ename, "state.0.step");
            ck_assert_msg(ag_optimizer_state_set(ob, ename, t) == AG_OK, "%s", ag_last_error());
        }
        ck_assert_int_eq(ag_optimizer_state_count(ob), n);
        for (int s = 3; s < STEPS; s++) {
            ag_scope_begin();
            for (int k = 0; k < 2; k++) {
                ag_set_grad(a[k], ag_select(k ? g1 : g0, 0, s));
                ag_set_grad(b[k], ag_select(k ? g1 : g0, 0, s));
            }
            ck_assert(ag_optimizer_step(oa) == AG_OK);
            ck_assert(ag_optimizer_step(ob) == AG_OK);
            agt_assert_tensors_close(b[0], a[0], 0, 0, name);
            agt_assert_tensors_close(b[1], a[1], 0, 0, name);
            ag_scope_end();
        }
        ck_assert(ag_optimizer_state_entry(oa, n, NULL, 0) == NULL);
        ag_optimizer_free(oa);
        ag_optimizer_free(ob);
        ag_scope_end();
    }
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_state_names)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(2), (float[]){1, 2});
    ag_tensor *u = agt_tensor(dev, AG_SHAPE(1), (float[]){1});
    ag_tensor *ps[2] = {w, u};
    ag_optimizer *opt = ag_optim_adamw(ps, 2, NULL);
    ag_set_grad(u, agt_tensor(dev, AG_SHAPE(1), (float[]){1}));
    ck_assert(ag_optimizer_step(opt) == AG_OK);
    /* Only parameter 1 has state. */
    ck_assert_int_eq(ag_optimizer_state_count(opt), 3);
    const char *want[3] = {"state.1.step", "state.1.exp_avg", "state.1.exp_avg_sq"};
    for (int i = 0; i < 3; i++) {
        char name[64];
        ag_tensor *t = ag_optimizer_state_entry(opt, i, name, sizeof name);
        ck_assert(t != NULL);
        ck_assert_str_eq(name, want[i]);
        if (i == 0) ck_assert(ag_item(t) == 1.0);
    }
    /* Import errors name the entry. */
    ag_tensor *bad = agt_tensor(dev, AG_SHAPE(3), (float[]){1, 2, 3});
    assert_status_error(ag_optimizer_state_set(opt, "state.0.exp_avg", bad), "state.0.exp_avg", "shape");
    assert_status_error(ag_optimizer_state_set(opt, "state.5.exp_avg", u), "out of range", "index");
    assert_status_error(ag_optimizer_state_set(opt, "state.1.momentum_buffer", u), "not used", "unused");
    assert_status_error(ag_optimizer_state_set(opt, "bogus", u), "unknown state entry", "bogus");
    assert_status_error(ag_optimizer_state_set(opt, "state.1.step", bad), "one element", "step shape");
    ag_optimizer_free(opt);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

START_TEST(test_errors)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *w = agt_tensor(dev, AG_SHAPE(2, 3), (float[]){1, 2, 3, 4, 5, 6});
    ag_tensor *iw = agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){1, 2});
    ag_tensor *nc = ag_transpose(w, 0, 1);
    agt_assert_error(ag_optim_sgd(NULL, 1, &(ag_sgd_opts){.lr = 0.1}), "ag_optim_sgd", NULL, "NULL params");
    agt_assert_error(ag_optim_sgd(&w, 0, &(ag_sgd_opts){.lr = 0.1}), "ag_optim_sgd", "at least one", "n=0");
    agt_assert_error(ag_optim_sgd(&w, 1, NULL), "ag_optim_sgd", "learning rate", "no opts");
    agt_assert_error(ag_optim_sgd(&w, 1, &(ag_sgd_opts){.lr = -1}), "ag_optim_sgd", "lr", "neg lr");
    agt_assert_error(ag_optim_sgd(&w, 1, &(ag_sgd_opts){.lr = 0.1, .nesterov = true}),
                     "ag_optim_sgd", "nesterov", "nesterov");
    agt_assert_error(ag_optim_adam(&iw, 1, NULL), "ag_optim_adam", "must be f32", "i32 param");
    agt_assert_error(ag_optim_adamw(&nc, 1, NULL), "ag_optim_adamw", "[3,2] is not contiguous", "noncontig");
    agt_assert_error(ag_optim_rmsprop((ag_tensor *[]){w, NULL}, 2, NULL), "ag_optim_rmsprop",
                     "parameter 1 is NULL", "NULL param");
    agt_assert_error(ag_optim_adam((ag_tensor *[]){w, w}, 2, NULL), "ag_optim_adam", "same tensor", "dup");
    agt_assert_error(ag_optim_adam(&w, 1, &(ag_adam_opts){.beta1 = 1.5}), "ag_optim_adam", "beta1", "beta1");
    agt_assert_error(ag_optim_rmsprop(&w, 1, &(ag_rmsprop_opts){.eps = -1}), "ag_optim_rmsprop", "eps", "eps");
    /* A gradient of the wrong dtype. */
    ag_tensor *v = agt_tensor(dev, AG_SHAPE(2), (float[]){1, 2});
    ag_optimizer *opt = ag_optim_sgd(&v, 1, &(ag_sgd_opts){.lr = 0.1});
    ck_assert(ag_set_grad(v, iw) == AG_OK);
    assert_status_error(ag_optimizer_step(opt), "ag_optimizer_step: gradient of parameter 0 is i32 [2]", "i32 grad");
    ck_assert_int_eq(ag_optimizer_step_count(opt), 0);
    assert_status_error(ag_optimizer_set_lr(opt, NAN), "invalid lr", "nan lr");
    assert_status_error(ag_optimizer_step(NULL), "ag_optimizer_step", "NULL opt");
    ck_assert(isnan(ag_optimizer_get_lr(NULL)));
    ag_optimizer_free(opt);
    ag_optimizer_free(NULL);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Schedules are pure functions; the golden values are read through each backend. */
START_TEST(test_schedules_vs_torch)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load("optim.txt");
    ag_scope_begin();
    const char *names[4] = {"lr_step", "lr_linear", "lr_cosine", "lr_warmup_cosine"};
    ag_lr_schedule sch[4] = {
        {.kind = AG_LR_STEP, .base_lr = 0.1, .step_size = 3, .gamma = 0.5},
        {.kind = AG_LR_LINEAR, .base_lr = 0.1, .start_factor = 0.25, .end_factor = 1.0, .total_steps = 5},
        {.kind = AG_LR_COSINE, .base_lr = 0.1, .total_steps = 10, .eta_min = 0.001},
        {.kind = AG_LR_COSINE, .base_lr = 0.1, .total_steps = 10, .warmup_steps = 3},
    };
    for (int k = 0; k < 4; k++) {
        ag_tensor *want = agt_golden_tensor(g, dev, names[k], "lr");
        float *w = agt_read_f32(want);
        for (int64_t s = 0; s < ag_numel(want); s++) {
            double lr = ag_lr_schedule_at(&sch[k], s);
            ck_assert_msg(fabs(lr - w[s]) <= 1e-7 + 1e-6 * fabs(w[s]), "%s step %lld: %g vs torch %g",
                          names[k], (long long)s, lr, (double)w[s]);
        }
        free(w);
    }
    /* Hand-checked values and invalid arguments. */
    ck_assert(fabs(ag_lr_step(1.0, 7, 2, 0.1) - 1e-3) < 1e-15);
    ck_assert(fabs(ag_lr_linear(2.0, 100, 4, 0.5, 1.5) - 3.0) < 1e-15);
    ck_assert(fabs(ag_lr_cosine(1.0, 5, 10, 0, 0.0) - 0.5) < 1e-15);
    ck_assert(ag_lr_cosine(1.0, 12, 10, 2, 0.25) == 0.25);
    ck_assert(ag_lr_schedule_at(&(ag_lr_schedule){.kind = AG_LR_CONSTANT, .base_lr = 0.3}, 99) == 0.3);
    ck_assert(isnan(ag_lr_step(1.0, 1, 0, 0.5)));
    ck_assert(isnan(ag_lr_cosine(1.0, 1, 3, 3, 0)));
    ck_assert(isnan(ag_lr_schedule_at(NULL, 0)));
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

START_TEST(test_clip_grad_norm_vs_torch)
{
    ag_device *dev = agt_open(_i);
    agt_golden *g = agt_golden_load("optim.txt");
    const char *names[2] = {"clip_small", "clip_large"};
    double max_norm[2] = {1.0, 100.0};
    for (int k = 0; k < 2; k++)
        for (int nc = 0; nc < 2; nc++) {
            ag_scope_begin();
            ag_tensor *a = ag_zeros(dev, AG_F32, AG_SHAPE(3, 4));
            ag_tensor *b = ag_zeros(dev, AG_F32, AG_SHAPE(5));
            ag_tensor *c = ag_zeros(dev, AG_F32, AG_SHAPE(2)); /* no gradient */
            ag_tensor *ga = ag_clone(agt_golden_tensor(g, dev, names[k], "ga"));
            if (nc) ga = agt_noncontiguous(ga);
            ag_set_grad(a, ga);
            ag_set_grad(b, ag_clone(agt_golden_tensor(g, dev, names[k], "gb")));
            double norm = ag_clip_grad_norm((ag_tensor *[]){a, c, b}, 3, max_norm[k]);
            float *want = agt_read_f32(agt_golden_tensor(g, dev, names[k], "norm"));
            ck_assert_msg(fabs(norm - want[0]) < 1e-5 * want[0], "%s: norm %g vs torch %g",
                          names[k], norm, (double)want[0]);
            free(want);
            agt_assert_tensors_close(ag_grad(a), agt_golden_tensor(g, dev, names[k], "ca"), 1e-6,
                                     1e-5, names[k]);
            agt_assert_tensors_close(ag_grad(b), agt_golden_tensor(g, dev, names[k], "cb"), 1e-6,
                                     1e-5, names[k]);
            ck_assert(ag_grad(c) == NULL);
            ag_scope_end();
        }
    /* Hand-checked: grads (3, 4) → norm 5, clipped to norm 1. */
    ag_scope_begin();
    ag_tensor *w = ag_zeros(dev, AG_F32, AG_SHAPE(2));
    ag_set_grad(w, agt_tensor(dev, AG_SHAPE(2), (float[]){3, 4}));
    ck_assert(fabs(ag_clip_grad_norm(&w, 1, 1.0) - 5.0) < 1e-6);
    agt_assert_close(ag_grad(w), (float[]){0.6f, 0.8f}, 2, 1e-6, 1e-5, "clip hand");
    ck_assert(ag_clip_grad_norm(&w, 0, 1.0) == 0.0);
    ck_assert(ag_clip_grad_norm(NULL, 1, 1.0) < 0);
    ck_assert(strstr(ag_last_error(), "ag_clip_grad_norm"));
    ck_assert(ag_clip_grad_norm(&w, 1, -1.0) < 0);
    ck_assert(strstr(ag_last_error(), "max_norm"));
    ag_set_grad(w, agt_tensor_i32(dev, AG_SHAPE(2), (int32_t[]){3, 4}));
    ck_assert(ag_clip_grad_norm(&w, 1, 1.0) < 0);
    ck_assert(strstr(ag_last_error(), "must be f32"));
    ag_scope_end();
    agt_golden_free(g);
    agt_close(dev);
}
END_TEST

/* A short training loop: Adam on least squares drives the loss down, through
 * autograd gradients (contiguous) and a cosine schedule. */
START_TEST(test_training_loop)
{
    ag_device *dev = agt_open(_i);
    ag_scope_begin();
    ag_tensor *x = agt_randn(dev, AG_SHAPE(16, 3), 1, 1.0);
    ag_tensor *wt = agt_tensor(dev, AG_SHAPE(3, 1), (float[]){1.5f, -2, 0.5f});
    ag_tensor *y = ag_matmul(x, wt);
    ag_tensor *w = ag_zeros(dev, AG_F32, AG_SHAPE(3, 1));
    ag_set_requires_grad(w, true);
    ag_optimizer *opt = ag_optim_adam(&w, 1, &(ag_adam_opts){.lr = 0.1});
    ag_lr_schedule sch = {.kind = AG_LR_COSINE, .base_lr = 0.1, .total_steps = 200, .warmup_steps = 5};
    double first = 0, last = 0;
    for (int s = 0; s < 200; s++) {
        ag_scope_begin();
        ag_optimizer_set_lr(opt, ag_lr_schedule_at(&sch, s));
        ag_optimizer_zero_grad(opt);
        ag_tensor *loss = ag_mse_loss(ag_matmul(x, w), y, AG_REDUCTION_MEAN);
        ck_assert_msg(loss != NULL, "%s", ag_last_error());
        ck_assert(ag_backward(loss, NULL) == AG_OK);
        ck_assert(ag_optimizer_step(opt) == AG_OK);
        if (s == 0) first = ag_item(loss);
        last = ag_item(loss);
        ag_scope_end();
    }
    ck_assert_msg(last < first * 1e-3, "loss %g → %g", first, last);
    agt_assert_close(w, (float[]){1.5f, -2, 0.5f}, 3, 2e-2, 0, "fitted weights");
    ag_optimizer_free(opt);
    ag_scope_end();
    agt_close(dev);
}
END_TEST

/* Parameters on two devices (the backend under test and a second CPU device):
 * each is updated on its own device, and clipping sums over both. */
START_TEST(test_multi_device)
{
    ag_device *dev = agt_open(_i);
    ag_device *cpu = ag_device_open("cpu");
    ck_assert(cpu != NULL);
    ag_scope_begin();
    ag_tensor *a = agt_tensor(dev, AG_SHAPE(2), (float[]){1, 2});
    ag_tensor *b = agt_tensor(cpu, AG_SHAPE(1), (float[]){3});
    ag_set_grad(a, agt_tensor(dev, AG_SHAPE(2), (float[]){3, 0}));
    ag_set_grad(b, agt_tensor(cpu, AG_SHAPE(1), (float[]){4}));
    ag_tensor *ps[2] = {a, b};
    ck_assert(fabs(ag_clip_grad_norm(ps, 2, 2.5) - 5.0) < 1e-5);
    agt_assert_close(ag_grad(a), (float[]){1.5f, 0}, 2, 1e-6, 1e-5, "clipped a");
    agt_assert_close(ag_grad(b), (float[]){2}, 1, 1e-6, 1e-5, "clipped b");
    ag_optimizer *opt = ag_optim_sgd(ps, 2, &(ag_sgd_opts){.lr = 1, .momentum = 0.5});
    ck_assert_msg(ag_optimizer_step(opt) == AG_OK, "%s", ag_last_error());
    ck_assert_msg(ag_optimizer_step(opt) == AG_OK, "%s", ag_last_error());
    /* b_1 = g, b_2 = 0.5 g + g: p = p0 - 2.5 g */
    agt_assert_close(a, (float[]){1 - 2.5f * 1.5f, 2}, 2, 1e-6, 1e-5, "a");
    agt_assert_close(b, (float[]){3 - 2.5f * 2}, 1, 1e-6, 1e-5, "b");
    ag_tensor *buf = ag_optimizer_state_entry(opt, 3, NULL, 0); /* state.1.momentum_buffer */
    ck_assert(ag_tensor_device(buf) == cpu);
    ag_optimizer_free(opt);
    ag_scope_end();
    ag_device_close(cpu);
    agt_close(dev);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("optim");
    TCase *tc = tcase_create("optim");
    tcase_set_timeout(tc, 600);
    AGT_ADD_LOOP(tc, test_trajectories_vs_torch);
    AGT_ADD_LOOP(tc, test_noncontiguous_grads);
    AGT_ADD_LOOP(tc, test_hand_checked);
    AGT_ADD_LOOP(tc, test_state_export_import);
    AGT_ADD_LOOP(tc, test_state_names);
    AGT_ADD_LOOP(tc, test_errors);
    AGT_ADD_LOOP(tc, test_schedules_vs_torch);
    AGT_ADD_LOOP(tc, test_clip_grad_norm_vs_torch);
    AGT_ADD_LOOP(tc, test_training_loop);
    AGT_ADD_LOOP(tc, test_multi_device);
    suite_add_tcase(s, tc);
    return agt_run_suite(s);
}
