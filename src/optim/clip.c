/* src/optim/clip.c — clipping gradients by their global L2 norm. */
#include "internal.h"
#include "anygrad/optim.h"

#include <math.h>
#include <stdlib.h>

/* A 1-D view of a contiguous tensor. */
static agi_view flat(const ag_tensor *t)
{
    agi_view v = agi_view_of(t);
    v.ndim = 1;
    v.shape[0] = agi_numel(t->ndim, t->shape);
    v.strides[0] = 1;
    return v;
}

/* acc [1] += sum(g * g) on g's device. g: contiguous f32. */
static ag_status add_sumsq(const char *op, ag_tensor *acc, const ag_tensor *g)
{
    ag_device *dev = g->storage->dev;
    int64_t n = agi_numel(g->ndim, g->shape);
    ag_tensor *sq = agi_tensor_new(op, dev, AG_F32, 1, (int64_t[]){n});
    ag_tensor *part = agi_tensor_new(op, dev, AG_F32, 1, (int64_t[]){1});
    if (!sq || !part) return ag_last_status();
    agi_kernel k = {.op = AGI_K_BINARY, .sub = AGI_B_MUL};
    k.dst = flat(sq);
    k.src[0] = k.src[1] = flat(g);
    ag_status st = agi_exec(op, dev, &k);
    if (st != AG_OK) return st;
    k = (agi_kernel){.op = AGI_K_REDUCE, .sub = AGI_R_SUM};
    k.dst = flat(part);
    k.src[0] = flat(sq);
    if ((st = agi_exec(op, dev, &k)) != AG_OK) return st;
    k = (agi_kernel){.op = AGI_K_BINARY, .sub = AGI_B_ADD};
    k.dst = k.src[0] = flat(acc);
    k.src[1] = flat(part);
    return agi_exec(op, dev, &k);
}

double ag_clip_grad_norm(ag_tensor *const *params, int n, double max_norm)
{
    const char *op = "ag_clip_grad_norm";
    if (!params || n < 0) {
        agi_error(AG_ERR_INVALID, op, "params is NULL or n < 0 (n = %d)", n);
        return -1;
    }
    if (!(max_norm >= 0) || isnan(max_norm)) {
        agi_error(AG_ERR_INVALID, op, "invalid max_norm %g", max_norm);
        return -1;
    }
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            agi_error(AG_ERR_INVALID, op, "parameter %d is NULL", i);
            return -1;
        }
        if (!agi_tensor_alive(op, params[i])) return -1;
        const ag_tensor *g = params[i]->grad;
        if (g && g->dtype != AG_F32) {
            char b[192];
            agi_error(AG_ERR_INVALID, op, "gradient of parameter %d must be f32, got %s %s", i,
                      ag_dtype_name(g->dtype), agi_fmt_shape(b, g->ndim, g->shape));
            return -1;
        }
    }
    /* One accumulator per device, in order of first appearance. */
    ag_device **devs = agi_calloc((size_t)n + 1, sizeof *devs);
    ag_tensor **accs = agi_calloc((size_t)n + 1, sizeof *accs);
    if (!devs || !accs) {
        free(devs);
        free(accs);
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return -1;
    }
    int ndev = 0;
    double total = 0;
    ag_status st = AG_OK;
    ag_no_grad_begin();
    ag_scope_begin();
    for (int i = 0; i < n && st == AG_OK; i++) {
        const ag_tensor *g = params[i]->grad;
        if (!g || agi_numel(g->ndim, g->shape) == 0) continue;
        ag_device *dev = g->storage->dev;
        int d = 0;
        while (d < ndev && devs[d] != dev) d++;
        if (d == ndev) {
            devs[ndev] = dev;
            accs[ndev] = ag_zeros(dev, AG_F32, 1, (int64_t[]){1});
            if (!accs[ndev++]) {
                st = ag_last_status();
                break;
            }
        }
        const ag_tensor *gc = ag_is_contiguous(g) ? g : ag_contiguous(g);
        st = gc ? add_sumsq(op, accs[d], gc) : ag_last_status();
    }
    for (int d = 0; d < ndev && st == AG_OK; d++) {
        float v = 0;
        st = ag_tensor_read(accs[d], &v, sizeof v);
        total += v;
    }
    double norm = sqrt(total);
    double coef = max_norm / (norm + 1e-6);
    for (int i = 0; i < n && st == AG_OK && coef < 1.0; i++) {
        ag_tensor *g = params[i]->grad;
        if (!g || agi_numel(g->ndim, g->shape) == 0) continue;
        agi_kernel k = {.op = AGI_K_UNARY, .sub = AGI_U_AFFINE};
        k.dst = k.src[0] = agi_view_of(g);
        k.p.s.f[0] = coef;
        k.p.s.f[1] = 0;
        agi_tensor_bump(g);
        st = agi_exec(op, g->storage->dev, &k);
    }
    ag_scope_end();
    ag_no_grad_end();
    free(devs);
    free(accs);
    return st == AG_OK ? norm : -1;
}

/* One f32 op on a [1] tensor in place: t = f(t). */
static ag_status scalar_op(const char *op, ag_tensor *t, int sub, double f0, double f1)
{
    agi_kernel k = {.op = AGI_K_UNARY, .sub = sub};
    k.dst = k.src[0] = flat(t);
    k.p.s.f[0] = f0;
    k.p.s.f[1] = f1;
    return agi_exec(op, t->storage->dev, &k);
}

ag_tensor *ag_clip_grad_norm_device(ag_device *dev, ag_tensor *const *params, int n, double max_norm)
{
    const char *op = "ag_clip_grad_norm_device";
    if (!dev) {
        agi_error(AG_ERR_INVALID, op, "device is NULL");
        return NULL;
    }
    if (!agi_device_alive(op, dev)) return NULL;
    if (!params || n < 0) {
        agi_error(AG_ERR_INVALID, op, "params is NULL or n < 0 (n = %d)", n);
        return NULL;
    }
    if (!(max_norm >= 0) || isnan(max_norm)) {
        agi_error(AG_ERR_INVALID, op, "invalid max_norm %g", max_norm);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        if (!params[i]) {
            agi_error(AG_ERR_INVALID, op, "parameter %d is NULL", i);
            return NULL;
        }
        if (!agi_tensor_alive(op, params[i])) return NULL;
        const ag_tensor *g = params[i]->grad;
        char b[192];
        if (g && g->dtype != AG_F32) {
            agi_error(AG_ERR_INVALID, op, "gradient of parameter %d must be f32, got %s %s", i,
                      ag_dtype_name(g->dtype), agi_fmt_shape(b, g->ndim, g->shape));
            return NULL;
        }
        if (g && g->storage->dev != dev) {
            agi_error(AG_ERR_INVALID, op, "gradient of parameter %d %s is on %s, not on %s", i,
                      agi_fmt_shape(b, g->ndim, g->shape), g->storage->dev->info.spec, dev->info.spec);
            return NULL;
        }
    }
    ag_status st = AG_OK;
    ag_no_grad_begin();
    ag_scope_begin();
    ag_tensor *acc = ag_zeros(dev, AG_F32, 1, (int64_t[]){1});
    ag_tensor *coef = acc ? agi_tensor_new(op, dev, AG_F32, 1, (int64_t[]){1}) : NULL;
    if (!coef) st = ag_last_status();
    /* acc = sum of squares; norm = sqrt(acc); coef = min(1, max_norm / (norm + 1e-6)) */
    for (int i = 0; i < n && st == AG_OK; i++) {
        const ag_tensor *g = params[i]->grad;
        if (!g || agi_numel(g->ndim, g->shape) == 0) continue;
        const ag_tensor *gc = ag_is_contiguous(g) ? g : ag_contiguous(g);
        st = gc ? add_sumsq(op, acc, gc) : ag_last_status();
    }
    if (st == AG_OK) st = scalar_op(op, acc, AGI_U_SQRT, 0, 0);
    if (st == AG_OK) {
        agi_kernel k = {.op = AGI_K_UNARY, .sub = AGI_U_AFFINE};
        k.dst = flat(coef);
        k.src[0] = flat(acc);
        k.p.s.f[0] = 1;
        k.p.s.f[1] = 1e-6;
        st = agi_exec(op, dev, &k);
    }
    if (st == AG_OK) st = scalar_op(op, coef, AGI_U_RDIV, max_norm, 0);
    if (st == AG_OK) st = scalar_op(op, coef, AGI_U_CLAMP, -INFINITY, 1.0);
    for (int i = 0; i < n && st == AG_OK; i++) {
        ag_tensor *g = params[i]->grad;
        if (!g || agi_numel(g->ndim, g->shape) == 0) continue;
        agi_kernel k = {.op = AGI_K_BINARY, .sub = AGI_B_MUL};
        k.dst = k.src[0] = agi_view_of(g);
        k.src[1] = agi_view_of(g); /* coef broadcast over g's shape */
        k.src[1].buf = coef->storage->buf;
        k.src[1].offset = 0;
        for (int d = 0; d < k.src[1].ndim; d++) k.src[1].strides[d] = 0;
        agi_tensor_bump(g);
        st = agi_exec(op, dev, &k);
    }
    ag_tensor *norm = st == AG_OK ? ag_reshape(acc, 0, NULL) : NULL;
    ag_tensor *out = norm ? ag_retain(norm) : NULL;
    ag_scope_end();
    ag_no_grad_end();
    return agi_scope_track(out);
}
