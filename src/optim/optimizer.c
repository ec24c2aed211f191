/* src/optim/optimizer.c — SGD, Adam, AdamW and RMSprop: one fused kernel per
 * parameter per step, state allocated lazily on the parameter's device. */
#include "internal.h"
#include "anygrad/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum opt_kind { OPT_SGD, OPT_ADAM, OPT_ADAMW, OPT_RMSPROP } opt_kind;

static const char *const kind_names[] = {"sgd", "adam", "adamw", "rmsprop"};

/* Per-parameter state. buf[0], buf[1]: the algorithm's buffers (see names). */
typedef struct param_state {
    ag_tensor *param; /* owned reference */
    ag_tensor *buf[2];
    int64_t step;     /* updates applied to this parameter */
    bool created;     /* state exists (after a step or an import) */
} param_state;

struct ag_optimizer {
    opt_kind kind;
    int n;
    param_state *ps;
    double lr, weight_decay;
    double momentum, dampening; /* SGD, RMSprop */
    bool nesterov;
    double beta1, beta2, eps; /* Adam; RMSprop: beta1 = alpha */
    int64_t steps;
};

/* ---- Buffers of each algorithm ------------------------------------------- */

/* Name of buffer `b` (0 or 1) of the algorithm, or NULL if it is unused. */
static const char *buf_name(const ag_optimizer *o, int b)
{
    switch (o->kind) {
    case OPT_SGD: return b == 0 && o->momentum != 0 ? "momentum_buffer" : NULL;
    case OPT_ADAM:
    case OPT_ADAMW: return b == 0 ? "exp_avg" : "exp_avg_sq";
    case OPT_RMSPROP:
        if (b == 0) return "square_avg";
        return o->momentum != 0 ? "momentum_buffer" : NULL;
    }
    return NULL;
}

/* A zero tensor shaped like p on p's device owned by the caller only (made in
 * a private scope so an enclosing scope does not take it). */
static ag_tensor *owned_zeros_like(const ag_tensor *p)
{
    ag_scope_begin();
    ag_tensor *t = ag_retain(ag_zeros(p->storage->dev, AG_F32, p->ndim, p->shape));
    ag_scope_end();
    return t;
}

static ag_status ensure_state(const char *op, ag_optimizer *o, int i)
{
    param_state *s = &o->ps[i];
    for (int b = 0; b < 2; b++) {
        if (!buf_name(o, b) || s->buf[b]) continue;
        /* A replay would zero the state again at every step. */
        if (agi_graph_forbid(op, s->param->storage->dev,
                             "creating the optimizer's state at its first step (run one step "
                             "before capturing)") != AG_OK)
            return ag_last_status();
        s->buf[b] = owned_zeros_like(s->param);
        if (!s->buf[b]) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            return agi_error(ag_last_status() ? ag_last_status() : AG_ERR_OOM, op,
                             "cannot allocate state for parameter %d: %s", i, msg);
        }
    }
    s->created = true;
    return AG_OK;
}

/* ---- Creation ------------------------------------------------------------- */

static ag_optimizer *opt_new(const char *op, opt_kind kind, ag_tensor *const *params, int n)
{
    if (n < 1 || !params) {
        agi_error(AG_ERR_INVALID, op, "needs at least one parameter (got %d%s)", n,
                  params ? "" : ", params is NULL");
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        const ag_tensor *p = params[i];
        char buf[192];
        if (!p) {
            agi_error(AG_ERR_INVALID, op, "parameter %d is NULL", i);
            return NULL;
        }
        if (!agi_tensor_alive(op, p)) return NULL;
        if (p->dtype != AG_F32) {
            /* 16-bit parameters: train f32 master weights under autocast */
            agi_error(agi_dtype_is_float(p->dtype) ? AG_ERR_UNSUPPORTED : AG_ERR_INVALID, op,
                      "parameter %d must be f32, got %s %s%s", i, ag_dtype_name(p->dtype),
                      agi_fmt_shape(buf, p->ndim, p->shape),
                      agi_dtype_is_float(p->dtype)
                          ? " (keep f32 master weights and train in autocast, anygrad/amp.h)"
                          : "");
            return NULL;
        }
        if (!ag_is_contiguous(p)) {
            agi_error(AG_ERR_INVALID, op, "parameter %d %s is not contiguous", i,
                      agi_fmt_shape(buf, p->ndim, p->shape));
            return NULL;
        }
        for (int j = 0; j < i; j++)
            if (params[j] == p) {
                agi_error(AG_ERR_INVALID, op, "parameter %d is the same tensor as parameter %d",
                          i, j);
                return NULL;
            }
    }
    ag_optimizer *o = agi_calloc(1, sizeof *o);
    param_state *ps = agi_calloc((size_t)n, sizeof *ps);
    if (!o || !ps) {
        free(o);
        free(ps);
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    o->kind = kind;
    o->n = n;
    o->ps = ps;
    for (int i = 0; i < n; i++) ps[i].param = ag_retain(params[i]);
    return o;
}

static bool check_hyper(const char *op, const char *name, double v, double lo, bool lo_open,
                        double hi, bool hi_open)
{
    bool ok = isfinite(v) && (lo_open ? v > lo : v >= lo) && (hi_open ? v < hi : v <= hi);
    if (!ok) agi_error(AG_ERR_INVALID, op, "invalid %s %g", name, v);
    return ok;
}

ag_optimizer *ag_optim_sgd(ag_tensor *const *params, int n, const ag_sgd_opts *opts)
{
    const char *op = "ag_optim_sgd";
    if (!opts) {
        agi_error(AG_ERR_INVALID, op, "opts is NULL (SGD needs a learning rate)");
        return NULL;
    }
    if (!check_hyper(op, "lr", opts->lr, 0, true, INFINITY, false) ||
        !check_hyper(op, "momentum", opts->momentum, 0, false, INFINITY, false) ||
        !check_hyper(op, "dampening", opts->dampening, -INFINITY, false, INFINITY, false) ||
        !check_hyper(op, "weight_decay", opts->weight_decay, 0, false, INFINITY, false))
        return NULL;
    if (opts->nesterov && (opts->momentum <= 0 || opts->dampening != 0)) {
        agi_error(AG_ERR_INVALID, op, "nesterov needs momentum > 0 and dampening 0 (got %g, %g)",
                  opts->momentum, opts->dampening);
        return NULL;
    }
    ag_optimizer *o = opt_new(op, OPT_SGD, params, n);
    if (!o) return NULL;
    o->lr = opts->lr;
    o->momentum = opts->momentum;
    o->dampening = opts->dampening;
    o->nesterov = opts->nesterov;
    o->weight_decay = opts->weight_decay;
    return o;
}

static ag_optimizer *adam_new(const char *op, opt_kind kind, ag_tensor *const *params, int n,
                              const ag_adam_opts *opts)
{
    ag_adam_opts d = opts ? *opts : (ag_adam_opts){0};
    if (d.lr == 0) d.lr = 1e-3;
    if (d.beta1 == 0) d.beta1 = 0.9;
    if (d.beta2 == 0) d.beta2 = 0.999;
    if (d.eps == 0) d.eps = 1e-8;
    if (!check_hyper(op, "lr", d.lr, 0, true, INFINITY, false) ||
        !check_hyper(op, "beta1", d.beta1, 0, false, 1, true) ||
        !check_hyper(op, "beta2", d.beta2, 0, false, 1, true) ||
        !check_hyper(op, "eps", d.eps, 0, false, INFINITY, false) ||
        !check_hyper(op, "weight_decay", d.weight_decay, 0, false, INFINITY, false))
        return NULL;
    ag_optimizer *o = opt_new(op, kind, params, n);
    if (!o) return NULL;
    o->lr = d.lr;
    o->beta1 = d.beta1;
    o->beta2 = d.beta2;
    o->eps = d.eps;
    o->weight_decay = d.weight_decay;
    return o;
}

ag_optimizer *ag_optim_adam(ag_tensor *const *params, int n, const ag_adam_opts *opts)
{
    return adam_new("ag_optim_adam", OPT_ADAM, params, n, opts);
}

ag_optimizer *ag_optim_adamw(ag_tensor *const *params, int n, const ag_adam_opts *opts)
{
    return adam_new("ag_optim_adamw", OPT_ADAMW, params, n, opts);
}

ag_optimizer *ag_optim_rmsprop(ag_tensor *const *params, int n, const ag_rmsprop_opts *opts)
{
    const char *op = "ag_optim_rmsprop";
    ag_rmsprop_opts d = opts ? *opts : (ag_rmsprop_opts){0};
    if (d.lr == 0) d.lr = 1e-2;
    if (d.alpha == 0) d.alpha = 0.99;
    if (d.eps == 0) d.eps = 1e-8;
    if (!check_hyper(op, "lr", d.lr, 0, true, INFINITY, false) ||
        !check_hyper(op, "alpha", d.alpha, 0, false, 1, false) ||
        !check_hyper(op, "eps", d.eps, 0, false, INFINITY, false) ||
        !check_hyper(op, "weight_decay", d.weight_decay, 0, false, INFINITY, false) ||
        !check_hyper(op, "momentum", d.momentum, 0, false, INFINITY, false))
        return NULL;
    ag_optimizer *o = opt_new(op, OPT_RMSPROP, params, n);
    if (!o) return NULL;
    o->lr = d.lr;
    o->beta1 = d.alpha;
    o->eps = d.eps;
    o->weight_decay = d.weight_decay;
    o->momentum = d.momentum;
    return o;
}

void ag_optimizer_free(ag_optimizer *opt)
{
    if (!opt) return;
    for (int i = 0; i < opt->n; i++) {
        ag_release(opt->ps[i].buf[0]);
        ag_release(opt->ps[i].buf[1]);
        ag_release(opt->ps[i].param);
    }
    free(opt->ps);
    free(opt);
}

/* ---- Step ----------------------------------------------------------------- */

/* A 1-D view of a contiguous tensor (or an unused source when t is NULL). */
static agi_view flat_view(const ag_tensor *t)
{
    agi_view v = {0};
    if (!t) return v;
    v.buf = t->storage->buf;
    v.dtype = t->dtype;
    v.ndim = 1;
    v.offset = t->offset;
    v.shape[0] = agi_numel(t->ndim, t->shape);
    v.strides[0] = 1;
    return v;
}

/* The update kernel's op and parameters for step t (1-based) of a parameter;
 * `first`: SGD's momentum buffer starts as the gradient. */
static void fill_update(const ag_optimizer *o, bool first, int64_t t, agi_kernel *k)
{
    agi_optim_params *q = &k->p.optim;
    memset(q, 0, sizeof *q);
    q->lr = (float)o->lr;
    q->weight_decay = (float)o->weight_decay;
    switch (o->kind) {
    case OPT_SGD:
        k->op = AGI_K_SGD;
        q->momentum = (float)o->momentum;
        q->dampening = (float)o->dampening;
        q->nesterov = o->nesterov;
        q->first_step = first;
        break;
    case OPT_ADAM:
    case OPT_ADAMW:
        k->op = AGI_K_ADAM;
        q->beta1 = (float)o->beta1;
        q->beta2 = (float)o->beta2;
        q->eps = (float)o->eps;
        q->bias1 = (float)(1.0 - pow(o->beta1, (double)t));
        q->bias2 = (float)(1.0 - pow(o->beta2, (double)t));
        q->decoupled = o->kind == OPT_ADAMW;
        break;
    case OPT_RMSPROP:
        k->op = AGI_K_RMSPROP;
        q->beta1 = (float)o->beta1;
        q->eps = (float)o->eps;
        q->momentum = (float)o->momentum;
        break;
    }
}

/* Graph replays (anygrad/graph.h): parameter i's captured update gets this
 * step's learning rate and bias corrections, then its step count advances. */
static void replay_update(void *ctx, intptr_t i, agi_kernel *k, int phase)
{
    ag_optimizer *o = ctx;
    param_state *s = &o->ps[i];
    if (phase == AGI_GRAPH_PREPARE) fill_update(o, false, s->step + 1, k);
    else s->step++;
}

static void replay_step_done(void *ctx, intptr_t arg, agi_kernel *k, int phase)
{
    (void)arg;
    (void)k;
    if (phase == AGI_GRAPH_COMMIT) ((ag_optimizer *)ctx)->steps++;
}

/* Queues the update of parameter i from gradient g (contiguous). */
static ag_status update_param(const char *op, ag_optimizer *o, int i, const ag_tensor *g)
{
    param_state *s = &o->ps[i];
    bool first = !s->created; /* SGD: the momentum buffer starts as the gradient */
    ag_status st = ensure_state(op, o, i);
    if (st != AG_OK) return st;
    int64_t t = s->step + 1;
    agi_kernel k = {0};
    fill_update(o, first, t, &k);
    k.dst = flat_view(s->param);
    k.src[0] = flat_view(g);
    k.src[1] = flat_view(s->buf[0]);
    k.src[2] = flat_view(s->buf[1]);
    ag_device *dev = s->param->storage->dev;
    if (agi_tl_capture) agi_graph_hook_next(dev, replay_update, o, i);
    agi_tensor_bump(s->param);
    agi_tensor_bump(s->buf[0]);
    agi_tensor_bump(s->buf[1]);
    st = agi_exec(op, dev, &k);
    if (st == AG_OK) s->step = t;
    return st;
}

ag_status ag_optimizer_step(ag_optimizer *opt)
{
    const char *op = "ag_optimizer_step";
    if (!opt) return agi_error(AG_ERR_INVALID, op, "optimizer is NULL");
    ag_status st = AG_OK;
    ag_no_grad_begin();
    ag_scope_begin();
    for (int i = 0; i < opt->n && st == AG_OK; i++) {
        ag_tensor *p = opt->ps[i].param;
        ag_tensor *g = p->grad;
        if (!g) continue;
        char a[192], b[192];
        if (g->dtype != AG_F32 || g->ndim != p->ndim ||
            memcmp(g->shape, p->shape, (size_t)p->ndim * sizeof *p->shape) != 0) {
            st = agi_error(AG_ERR_INVALID, op,
                           "gradient of parameter %d is %s %s, parameter is f32 %s", i,
                           ag_dtype_name(g->dtype), agi_fmt_shape(a, g->ndim, g->shape),
                           agi_fmt_shape(b, p->ndim, p->shape));
            break;
        }
        if (g->storage->dev != p->storage->dev) {
            st = agi_error(AG_ERR_INVALID, op, "gradient of parameter %d %s is on %s, parameter on %s",
                           i, agi_fmt_shape(a, p->ndim, p->shape), g->storage->dev->info.spec,
                           p->storage->dev->info.spec);
            break;
        }
        if (agi_numel(p->ndim, p->shape) == 0) continue;
        const ag_tensor *gc = ag_is_contiguous(g) ? g : ag_contiguous(g);
        if (!gc) {
            st = ag_last_status();
            break;
        }
        st = update_param(op, opt, i, gc);
    }
    ag_scope_end();
    ag_no_grad_end();
    if (st == AG_OK) {
        opt->steps++;
        for (int i = 0; i < opt->n && agi_tl_capture; i++)
            if (agi_capturing(opt->ps[i].param->storage->dev)) {
                agi_graph_hook_after(opt->ps[i].param->storage->dev, replay_step_done, opt, 0);
                break;
            }
    }
    return st;
}

void ag_optimizer_zero_grad(ag_optimizer *opt)
{
    if (!opt) return;
    for (int i = 0; i < opt->n; i++) ag_zero_grad(opt->ps[i].param);
}

ag_status ag_optimizer_set_lr(ag_optimizer *opt, double lr)
{
    if (!opt) return agi_error(AG_ERR_INVALID, "ag_optimizer_set_lr", "optimizer is NULL");
    if (!(lr >= 0) || !isfinite(lr))
        return agi_error(AG_ERR_INVALID, "ag_optimizer_set_lr", "invalid lr %g", lr);
    opt->lr = lr;
    return AG_OK;
}

double ag_optimizer_get_lr(const ag_optimizer *opt) { return opt ? opt->lr : NAN; }
int64_t ag_optimizer_step_count(const ag_optimizer *opt) { return opt ? opt->steps : -1; }

ag_status ag_optimizer_set_step_count(ag_optimizer *opt, int64_t steps)
{
    /* bounded like a parameter's step (state_check): counting on from it
     * stays in range, and the bias corrections see an exact double */
    if (!opt || steps < 0 || steps > AGI_MAX_STEP)
        return agi_error(AG_ERR_INVALID, "ag_optimizer_set_step_count",
                         opt ? "step count %lld is not in [0, 2^53]" : "optimizer is NULL",
                         (long long)steps);
    opt->steps = steps;
    return AG_OK;
}

int ag_optimizer_param_count(const ag_optimizer *opt) { return opt ? opt->n : 0; }

ag_tensor *ag_optimizer_param(const ag_optimizer *opt, int i)
{
    return opt && i >= 0 && i < opt->n ? opt->ps[i].param : NULL;
}

const char *ag_optimizer_kind(const ag_optimizer *opt)
{
    return opt ? kind_names[opt->kind] : "?";
}

/* ---- State export / import ------------------------------------------------ */

/* Entries of one created parameter: the step, then each used buffer. */
static int entries_of(const ag_optimizer *o, int i)
{
    if (!o->ps[i].created) return 0;
    return 1 + (buf_name(o, 0) != NULL) + (buf_name(o, 1) != NULL);
}

int ag_optimizer_state_count(const ag_optimizer *opt)
{
    if (!opt) return 0;
    int c = 0;
    for (int i = 0; i < opt->n; i++) c += entries_of(opt, i);
    return c;
}

ag_tensor *ag_optimizer_state_entry(const ag_optimizer *opt, int idx, char *name, size_t cap)
{
    const char *op = "ag_optimizer_state_entry";
    if (!opt) {
        agi_error(AG_ERR_INVALID, op, "optimizer is NULL");
        return NULL;
    }
    int rest = idx;
    for (int i = 0; i < opt->n && idx >= 0; i++) {
        int c = entries_of(opt, i);
        if (rest >= c) {
            rest -= c;
            continue;
        }
        const param_state *s = &opt->ps[i];
        if (rest == 0) {
            if (name && cap) snprintf(name, cap, "state.%d.step", i);
            if (s->step > INT32_MAX) { /* the entry is i32: it would not round-trip */
                agi_error(AG_ERR_INVALID, "ag_optimizer_state_entry",
                          "step %lld of parameter %d does not fit the i32 entry state.%d.step",
                          (long long)s->step, i, i);
                return NULL;
            }
            return ag_scalar(s->param->storage->dev, AG_I32, (double)s->step);
        }
        int b = rest - 1;
        if (!buf_name(opt, 0)) b++; /* only buffer 1 is used */
        if (name && cap) snprintf(name, cap, "state.%d.%s", i, buf_name(opt, b));
        return agi_scope_track(ag_retain(s->buf[b]));
    }
    agi_error(AG_ERR_NOT_FOUND, op, "no state entry %d (the optimizer has %d)", idx,
              ag_optimizer_state_count(opt));
    return NULL;
}

/* Validates one state entry without changing anything: *param gets the
 * parameter index, *buf the buffer (-1 for the step, whose value goes to
 * *step). Reads a step's value back to the host. */
static ag_status state_check(const char *op, const ag_optimizer *opt, const char *name,
                             const ag_tensor *value, int *param, int *buf, int64_t *step)
{
    if (!opt) return agi_error(AG_ERR_INVALID, op, "optimizer is NULL");
    if (!name) return agi_error(AG_ERR_INVALID, op, "name is NULL");
    if (!value) return agi_error(AG_ERR_INVALID, op, "value for %s is NULL", name);
    if (!agi_tensor_alive(op, value)) return ag_last_status();
    int i = -1, used = 0;
    char field[64];
    if (sscanf(name, "state.%d.%63s%n", &i, field, &used) != 2 || name[used] != '\0')
        return agi_error(AG_ERR_INVALID, op, "unknown state entry \"%s\"", name);
    if (i < 0 || i >= opt->n)
        return agi_error(AG_ERR_INVALID, op, "state entry \"%s\": parameter %d out of range (%d parameters)",
                         name, i, opt->n);
    *param = i;
    char a[192], b[192];
    if (strcmp(field, "step") == 0) {
        if (agi_numel(value->ndim, value->shape) != 1)
            return agi_error(AG_ERR_INVALID, op, "state entry \"%s\" must have one element, got %s",
                             name, agi_fmt_shape(a, value->ndim, value->shape));
        ag_clear_error();
        double v = ag_item(value);
        if (isnan(v) && ag_last_status() != AG_OK) { /* reading it failed */
            char msg[768];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            return agi_error(ag_last_status(), op, "state entry \"%s\": %s", name, msg);
        }
        if (!(v >= 0) || v > (double)AGI_MAX_STEP)
            return agi_error(AG_ERR_INVALID, op, "state entry \"%s\": invalid step %g", name, v);
        *buf = -1;
        *step = (int64_t)v;
        return AG_OK;
    }
    int bi = -1;
    for (int k = 0; k < 2; k++)
        if (buf_name(opt, k) && strcmp(buf_name(opt, k), field) == 0) bi = k;
    if (bi < 0)
        return agi_error(AG_ERR_INVALID, op, "state entry \"%s\" is not used by %s", name,
                         kind_names[opt->kind]);
    const ag_tensor *p = opt->ps[i].param;
    if (value->dtype != AG_F32 || value->ndim != p->ndim ||
        memcmp(value->shape, p->shape, (size_t)p->ndim * sizeof *p->shape) != 0)
        return agi_error(AG_ERR_INVALID, op, "state entry \"%s\" is %s %s, parameter %d is f32 %s",
                         name, ag_dtype_name(value->dtype),
                         agi_fmt_shape(a, value->ndim, value->shape), i,
                         agi_fmt_shape(b, p->ndim, p->shape));
    *buf = bi;
    return AG_OK;
}

ag_status agi_optimizer_state_check(const ag_optimizer *opt, const char *name,
                                    const ag_tensor *value)
{
    int i, b;
    int64_t step;
    return state_check("ag_optimizer_state_set", opt, name, value, &i, &b, &step);
}

ag_status ag_optimizer_state_set(ag_optimizer *opt, const char *name, const ag_tensor *value)
{
    const char *op = "ag_optimizer_state_set";
    int i, bi;
    int64_t step;
    ag_status st = state_check(op, opt, name, value, &i, &bi, &step);
    if (st != AG_OK) return st;
    param_state *s = &opt->ps[i];
    st = ensure_state(op, opt, i);
    if (st != AG_OK) return st;
    if (bi < 0) {
        s->step = step;
        return AG_OK;
    }
    const ag_tensor *p = s->param;
    ag_scope_begin();
    const ag_tensor *src = value;
    if (value->storage->dev != p->storage->dev) src = ag_to_device(value, p->storage->dev);
    st = src ? ag_copy_(s->buf[bi], src) : ag_last_status();
    ag_scope_end();
    return st;
}
