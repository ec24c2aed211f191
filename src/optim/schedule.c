/* src/optim/schedule.c — learning-rate schedules as pure functions of the step. */
#include "internal.h"
#include "anygrad/optim.h"

#include <math.h>

double ag_lr_step(double base_lr, int64_t step, int64_t step_size, double gamma)
{
    if (step_size <= 0 || step < 0) return NAN;
    return base_lr * pow(gamma, (double)(step / step_size));
}

double ag_lr_linear(double base_lr, int64_t step, int64_t total_steps, double start_factor,
                    double end_factor)
{
    if (total_steps <= 0 || step < 0) return NAN;
    int64_t s = step < total_steps ? step : total_steps;
    return base_lr * (start_factor + (end_factor - start_factor) * (double)s / (double)total_steps);
}

double ag_lr_cosine(double base_lr, int64_t step, int64_t total_steps, int64_t warmup_steps,
                    double eta_min)
{
    if (step < 0 || warmup_steps < 0 || total_steps <= warmup_steps) return NAN;
    if (step < warmup_steps) return base_lr * (double)step / (double)warmup_steps;
    if (step >= total_steps) return eta_min;
    double t = (double)(step - warmup_steps), T = (double)(total_steps - warmup_steps);
    return eta_min + (base_lr - eta_min) * (1.0 + cos(M_PI * t / T)) / 2.0;
}

double ag_lr_schedule_at(const ag_lr_schedule *s, int64_t step)
{
    if (!s) return NAN;
    switch (s->kind) {
    case AG_LR_CONSTANT: return s->base_lr;
    case AG_LR_STEP: return ag_lr_step(s->base_lr, step, s->step_size, s->gamma);
    case AG_LR_LINEAR:
        return ag_lr_linear(s->base_lr, step, s->total_steps, s->start_factor, s->end_factor);
    case AG_LR_COSINE:
        return ag_lr_cosine(s->base_lr, step, s->total_steps, s->warmup_steps, s->eta_min);
    }
    return NAN;
}
