/* shaders/opencl/optim.cl — fused SGD / Adam(W) / RMSprop updates over
 * contiguous f32 buffers (formulas in backends/backend.h). */

/* Mirrors agi_optim_params. With use_h, the step's {lr, bias1, bias2,
 * first_step} come from h[ho..ho+3] (graph replays rewrite them per step). */
typedef struct {
    float lr, weight_decay, momentum, dampening, beta1, beta2, eps, bias1, bias2;
    int nesterov, first_step, decoupled;
} optim_t;

__kernel void sgd_f32(__global float *p, long po, __global const float *gr, long go,
                      __global float *b, long bo, long n, optim_t o, __global const float *h,
                      long ho, int use_h)
{
    long i = get_global_id(0);
    if (i >= n) return;
    if (use_h) {
        o.lr = h[ho];
        o.first_step = h[ho + 3] != 0.0f;
    }
    float pv = p[po + i];
    float g = gr[go + i] + o.weight_decay * pv;
    if (o.momentum != 0.0f) {
        float bv = o.first_step ? g : o.momentum * b[bo + i] + (1.0f - o.dampening) * g;
        b[bo + i] = bv;
        g = o.nesterov ? g + o.momentum * bv : bv;
    }
    p[po + i] = pv - o.lr * g;
}

__kernel void adam_f32(__global float *p, long po, __global const float *gr, long go,
                       __global float *m, long mo, __global float *v, long vo, long n, optim_t o,
                       __global const float *h, long ho, int use_h)
{
    long i = get_global_id(0);
    if (i >= n) return;
    if (use_h) {
        o.lr = h[ho];
        o.bias1 = h[ho + 1];
        o.bias2 = h[ho + 2];
    }
    float pv = p[po + i];
    float g = gr[go + i];
    if (!o.decoupled)
        g += o.weight_decay * pv;
    else
        pv *= 1.0f - o.lr * o.weight_decay;
    float mv = o.beta1 * m[mo + i] + (1.0f - o.beta1) * g;
    float vv = o.beta2 * v[vo + i] + (1.0f - o.beta2) * g * g;
    m[mo + i] = mv;
    v[vo + i] = vv;
    p[po + i] = pv - o.lr * (mv / o.bias1) / (sqrt(vv / o.bias2) + o.eps);
}

__kernel void rmsprop_f32(__global float *p, long po, __global const float *gr, long go,
                          __global float *s, long so, __global float *b, long bo, long n,
                          optim_t o, __global const float *h, long ho, int use_h)
{
    long i = get_global_id(0);
    if (i >= n) return;
    if (use_h) o.lr = h[ho];
    float pv = p[po + i];
    float g = gr[go + i] + o.weight_decay * pv;
    float sv = o.beta1 * s[so + i] + (1.0f - o.beta1) * g * g;
    s[so + i] = sv;
    float d = g / (sqrt(sv) + o.eps);
    if (o.momentum != 0.0f) {
        float bv = o.momentum * b[bo + i] + d;
        b[bo + i] = bv;
        d = bv;
    }
    p[po + i] = pv - o.lr * d;
}
