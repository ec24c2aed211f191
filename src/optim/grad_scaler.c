/* src/optim/grad_scaler.c — dynamic loss scaling for f16 training
 * (anygrad/amp.h), in the manner of torch.amp.GradScaler.
 *
 * One step: scale(loss) → backward → unscale (grads *= 1/scale on the
 * device, and one flag: the largest |g| over all gradients, NaN winning, read
 * back once) → step unless the flag is inf / NaN → update the scale. The
 * scale stays a power of two with the default factors, so scaling and
 * unscaling are exact. */
#include "internal.h"
#include "anygrad/amp.h"
#include "anygrad/optim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

struct ag_grad_scaler {
    double scale, growth, backoff;
    int interval;
    bool disabled;
    int good_steps;  /* steps in a row without inf / NaN */
    bool unscaled;   /* unscale ran for the current step */
    bool found_inf;  /* ... and saw an inf / NaN gradient */
    bool stepped;    /* ag_grad_scaler_step ran (or skipped) the current step */
    int64_t skipped;
};

ag_grad_scaler *ag_grad_scaler_new(const ag_grad_scaler_opts *opts)
{
    const char *op = "ag_grad_scaler_new";
    ag_grad_scaler_opts o = opts ? *opts : (ag_grad_scaler_opts){0};
    double scale = o.init_scale != 0 ? o.init_scale : 65536.0;
    double growth = o.growth_factor != 0 ? o.growth_factor : 2.0;
    double backoff = o.backoff_factor != 0 ? o.backoff_factor : 0.5;
    int interval = o.growth_interval != 0 ? o.growth_interval : 2000;
    if (!(scale > 0) || isinf(scale) || !(growth > 1) || isinf(growth) || !(backoff > 0) ||
        !(backoff < 1) || interval < 1) {
        agi_error(AG_ERR_INVALID, op,
                  "need init_scale > 0 and finite, growth_factor > 1, 0 < backoff_factor < 1 "
                  "and growth_interval >= 1; got %g, %g, %g, %d",
                  o.init_scale, o.growth_factor, o.backoff_factor, o.growth_interval);
        return NULL;
    }
    ag_grad_scaler *s = agi_calloc(1, sizeof *s);
    if (!s) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    s->scale = o.disabled ? 1.0 : scale;
    s->growth = growth;
    s->backoff = backoff;
    s->interval = interval;
    s->disabled = o.disabled;
    return s;
}

void ag_grad_scaler_free(ag_grad_scaler *s) { free(s); }

static bool check_scaler(const char *op, const ag_grad_scaler *s)
{
    if (s) return true;
    agi_error(AG_ERR_INVALID, op, "scaler is NULL");
    return false;
}

ag_tensor *ag_grad_scaler_scale(ag_grad_scaler *s, const ag_tensor *loss)
{
    if (!check_scaler("ag_grad_scaler_scale", s)) return NULL;
    return ag_mul_scalar(loss, s->scale);
}

/* The value of a 0-dim f32 flag (a host read). */
static ag_status read_flag(const ag_tensor *flag, double *out)
{
    float v = 0;
    ag_status st = ag_tensor_read(flag, &v, sizeof v);
    *out = v;
    return st;
}

/* g *= inv in place, and max |g| (a 0-dim f32; NaN when g holds one). */
static ag_tensor *unscale_one(ag_tensor *g, double inv)
{
    ag_tensor *scaled = ag_mul_scalar(g, inv);
    if (!scaled || ag_copy_(g, scaled) != AG_OK) return NULL;
    return ag_max(ag_abs(ag_cast(g, AG_F32)), 0, NULL, false);
}

ag_status ag_grad_scaler_unscale(ag_grad_scaler *s, ag_optimizer *opt)
{
    const char *op = "ag_grad_scaler_unscale";
    if (!check_scaler(op, s)) return ag_last_status();
    if (!opt) return agi_error(AG_ERR_INVALID, op, "optimizer is NULL");
    if (s->unscaled)
        return agi_error(AG_ERR_INVALID, op,
                         "the gradients were unscaled already this step (call ag_grad_scaler_update "
                         "after the step)");
    if (s->disabled) {
        s->unscaled = true;
        return AG_OK;
    }
    double inv = 1.0 / s->scale;
    ag_status st = AG_OK;
    double worst = 0;
    ag_scope_begin();
    ag_no_grad_begin();
    ag_tensor *flag = NULL; /* max |g| over the gradients on one device */
    ag_device *flag_dev = NULL;
    for (int i = 0; i < ag_optimizer_param_count(opt) && st == AG_OK; i++) {
        ag_tensor *g = ag_grad(ag_optimizer_param(opt, i));
        if (!g || ag_numel(g) == 0) continue;
        ag_tensor *m = unscale_one(g, inv);
        if (!m) {
            st = ag_last_status();
            break;
        }
        if (flag && g->storage->dev != flag_dev) { /* another device: fold in on the host */
            double v = 0;
            st = read_flag(flag, &v);
            worst = isnan(v) || isnan(worst) ? NAN : fmax(worst, v);
            flag = NULL;
        }
        flag = flag ? ag_maximum(flag, m) : m;
        flag_dev = g->storage->dev;
        if (!flag && st == AG_OK) st = ag_last_status();
    }
    if (st == AG_OK && flag) {
        double v = 0;
        st = read_flag(flag, &v);
        worst = isnan(v) || isnan(worst) ? NAN : fmax(worst, v);
    }
    ag_no_grad_end();
    ag_scope_end();
    if (st != AG_OK) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        return agi_error(st, op, "%s", msg);
    }
    s->unscaled = true;
    s->found_inf = !isfinite(worst);
    return AG_OK;
}

ag_status ag_grad_scaler_step(ag_grad_scaler *s, ag_optimizer *opt, bool *stepped)
{
    const char *op = "ag_grad_scaler_step";
    if (stepped) *stepped = false;
    if (!check_scaler(op, s)) return ag_last_status();
    if (s->stepped) /* a second optimizer step on the same gradients */
        return agi_error(AG_ERR_INVALID, op,
                         "already called since the last update (call ag_grad_scaler_update)");
    if (!s->unscaled) {
        ag_status st = ag_grad_scaler_unscale(s, opt);
        if (st != AG_OK) return agi_error_in(op);
    }
    if (s->found_inf) {
        s->skipped++;
        s->stepped = true;
        return AG_OK;
    }
    ag_status st = ag_optimizer_step(opt);
    if (st != AG_OK) return agi_error_in(op);
    s->stepped = true;
    if (stepped) *stepped = true;
    return st;
}

ag_status ag_grad_scaler_update(ag_grad_scaler *s)
{
    const char *op = "ag_grad_scaler_update";
    if (!check_scaler(op, s)) return ag_last_status();
    if (!s->unscaled)
        return agi_error(AG_ERR_INVALID, op,
                         "no step was checked since the last update (call ag_grad_scaler_step first)");
    if (!s->disabled) {
        if (s->found_inf) {
            s->scale *= s->backoff;
            s->good_steps = 0;
        } else if (++s->good_steps >= s->interval) {
            double grown = s->scale * s->growth;
            if (isfinite(grown)) s->scale = grown;
            s->good_steps = 0;
        }
    }
    s->unscaled = false;
    s->found_inf = false;
    s->stepped = false;
    return AG_OK;
}

double ag_grad_scaler_get_scale(const ag_grad_scaler *s) { return s ? s->scale : NAN; }

int64_t ag_grad_scaler_skipped(const ag_grad_scaler *s) { return s ? s->skipped : -1; }
