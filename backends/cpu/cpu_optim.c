/* backends/cpu/cpu_optim.c — fused SGD, Adam/AdamW and RMSprop updates over
 * contiguous f32 buffers (formulas in backend.h, agi_optim_params). */
#include "cpu.h"

#include <math.h>
#include <string.h>

typedef struct optim_job {
    agi_kernel_op op;
    agi_optim_params o;
    float *p;
    const float *g;
    float *s1, *s2;
} optim_job;

static void sgd_range(const optim_job *j, int64_t b, int64_t e)
{
    const agi_optim_params o = j->o;
    float *p = j->p, *buf = j->s1;
    const float *grad = j->g;
    for (int64_t i = b; i < e; i++) {
        float g = grad[i] + o.weight_decay * p[i];
        if (o.momentum != 0.0f) {
            float m = o.first_step ? g : o.momentum * buf[i] + (1.0f - o.dampening) * g;
            buf[i] = m;
            g = o.nesterov ? g + o.momentum * m : m;
        }
        p[i] -= o.lr * g;
    }
}

/* The Adam update. The scalar loop does not vectorize (sqrtf may set errno),
 * so on x86-64 with AVX2 eight lanes run at a time with vsqrtps: the same
 * IEEE operations in the same order as the scalar formula, so the results do
 * not depend on the path or on how the range is split between threads. */
static inline float adam_one(const agi_optim_params *o, float *p, float *m, float *v, float g)
{
    if (!o->decoupled) g += o->weight_decay * *p;
    else *p *= 1.0f - o->lr * o->weight_decay;
    *m = o->beta1 * *m + (1.0f - o->beta1) * g;
    *v = o->beta2 * *v + (1.0f - o->beta2) * g * g;
    return *p - o->lr * (*m / o->bias1) / (sqrtf(*v / o->bias2) + o->eps);
}

#if defined(__x86_64__) && defined(__GNUC__)
#define HAVE_ADAM_AVX2 1
typedef float adam_v8 __attribute__((vector_size(32)));
#if !defined(__clang__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off") /* no FMA: keep the scalar rounding */
#endif
__attribute__((target("avx2"))) static int64_t adam_avx2(const agi_optim_params *o, float *p,
                                                         float *m, float *v, const float *grad,
                                                         int64_t b, int64_t e)
{
    const adam_v8 b1 = (adam_v8){0} + o->beta1, b2 = (adam_v8){0} + o->beta2;
    const adam_v8 c1 = (adam_v8){0} + (1.0f - o->beta1), c2 = (adam_v8){0} + (1.0f - o->beta2);
    const adam_v8 lr = (adam_v8){0} + o->lr, bias1 = (adam_v8){0} + o->bias1;
    const adam_v8 bias2 = (adam_v8){0} + o->bias2, eps = (adam_v8){0} + o->eps;
    const adam_v8 wd = (adam_v8){0} + o->weight_decay;
    const adam_v8 keep = (adam_v8){0} + (1.0f - o->lr * o->weight_decay);
    const bool dec = o->decoupled;
    int64_t i = b;
    for (; i + 8 <= e; i += 8) {
        adam_v8 g, pi, mi, vi;
        memcpy(&g, grad + i, 32);
        memcpy(&pi, p + i, 32);
        memcpy(&mi, m + i, 32);
        memcpy(&vi, v + i, 32);
        if (!dec) g = g + wd * pi;
        else pi = pi * keep;
        mi = b1 * mi + c1 * g;
        vi = b2 * vi + c2 * g * g;
        pi = pi - lr * (mi / bias1) / (__builtin_ia32_sqrtps256(vi / bias2) + eps);
        memcpy(m + i, &mi, 32);
        memcpy(v + i, &vi, 32);
        memcpy(p + i, &pi, 32);
    }
    return i;
}
#if !defined(__clang__)
#pragma GCC pop_options
#endif
#endif

static void adam_range(const optim_job *j, int64_t b, int64_t e)
{
    const agi_optim_params o = j->o;
    float *p = j->p, *m = j->s1, *v = j->s2;
    const float *grad = j->g;
    int64_t i = b;
#ifdef HAVE_ADAM_AVX2
    static int avx2 = -1;
    if (avx2 < 0) {
        __builtin_cpu_init();
        avx2 = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    if (avx2) i = adam_avx2(&o, p, m, v, grad, b, e);
#endif
    for (; i < e; i++) p[i] = adam_one(&o, &p[i], &m[i], &v[i], grad[i]);
}

static void rmsprop_range(const optim_job *j, int64_t b, int64_t e)
{
    const agi_optim_params o = j->o;
    float *p = j->p, *s = j->s1, *buf = j->s2;
    const float *grad = j->g;
    const float alpha = o.beta1;
    for (int64_t i = b; i < e; i++) {
        float g = grad[i] + o.weight_decay * p[i];
        s[i] = alpha * s[i] + (1.0f - alpha) * g * g;
        float d = g / (sqrtf(s[i]) + o.eps);
        if (o.momentum != 0.0f) {
            buf[i] = o.momentum * buf[i] + d;
            d = buf[i];
        }
        p[i] -= o.lr * d;
    }
}

static void optim_range(void *ctx, int64_t b, int64_t e)
{
    const optim_job *j = ctx;
    switch (j->op) {
    case AGI_K_SGD: sgd_range(j, b, e); break;
    case AGI_K_ADAM: adam_range(j, b, e); break;
    default: rmsprop_range(j, b, e); break;
    }
}

static bool optim_view(const char *kn, const agi_view *v, const agi_view *ref, const char *what)
{
    if (!cpu_view_check(kn, v, AG_F32, what)) return false;
    if (!agi_view_is_contiguous(v) || agi_view_numel(v) != agi_view_numel(ref)) {
        char a[192], b[192];
        agi_set_error(AG_ERR_INVALID, "cpu: %s: %s %s must be contiguous with param's %s elements",
                      kn, what, cpu_shape_str(a, v), cpu_shape_str(b, ref));
        return false;
    }
    return true;
}

ag_status cpu_optim(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = agi_kernel_op_name(k->op);
    const agi_view *p = &k->dst;
    bool need1 = k->op != AGI_K_SGD || k->p.optim.momentum != 0.0f;
    bool need2 = k->op == AGI_K_ADAM || (k->op == AGI_K_RMSPROP && k->p.optim.momentum != 0.0f);
    if (!optim_view(kn, p, p, "dst (param)") || !optim_view(kn, &k->src[0], p, "src0 (grad)") ||
        (need1 && !optim_view(kn, &k->src[1], p, "src1 (state)")) ||
        (need2 && !optim_view(kn, &k->src[2], p, "src2 (state)")))
        return ag_last_status();
    agi_optim_params o = k->p.optim;
    if (k->dst2.buf) { /* the step's parameters from the device */
        if (!cpu_view_check(kn, &k->dst2, AG_F32, "dst2 (step parameters)") ||
            !agi_view_is_contiguous(&k->dst2) || agi_view_numel(&k->dst2) != 4)
            return agi_set_error(AG_ERR_INVALID, "cpu: %s: dst2 must be 4 contiguous f32", kn);
        const float *h = cpu_view_ptr(&k->dst2);
        o.lr = h[0];
        o.bias1 = h[1];
        o.bias2 = h[2];
        o.first_step = h[3] != 0.0f;
    }
    if (k->op == AGI_K_ADAM && (o.bias1 == 0.0f || o.bias2 == 0.0f))
        return agi_set_error(AG_ERR_INVALID, "cpu: adam: bias corrections must be non-zero");
    optim_job j = {.op = k->op, .o = o, .p = cpu_view_ptr(p), .g = cpu_view_ptr(&k->src[0]),
                   .s1 = need1 ? cpu_view_ptr(&k->src[1]) : NULL,
                   .s2 = need2 ? cpu_view_ptr(&k->src[2]) : NULL};
    cpu_parallel_for(&dev->pool, agi_view_numel(p), CPU_GRAIN_ELEMENTWISE, optim_range, &j);
    return AG_OK;
}
