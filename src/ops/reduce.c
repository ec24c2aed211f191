/* src/ops/reduce.c — sum, mean, max, min, argmax, argmin, var, std, logsumexp.
 *
 * Every reduction is one AGI_K_REDUCE kernel in "keepdim form": the kernel's
 * dst has x's rank with size 1 on the reduced dims. The output tensor is
 * allocated in the requested shape (with or without the reduced dims) and the
 * kernel writes it through a keepdim view of the same contiguous memory.
 *
 * Backward passes broadcast the output gradient back over the reduced dims
 * with a stride-0 view (no copy) and finish with front-end ops.
 */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

/* Which dims of x a reduction removes, and the shapes that follow. */
typedef struct rplan {
    int ndim;                        /* x's rank */
    unsigned red;                    /* bit d set: dim d is reduced */
    bool keepdim;
    int64_t kshape[AG_MAX_DIMS];     /* keepdim shape (x's rank) */
    int out_ndim;
    int64_t out_shape[AG_MAX_DIMS];  /* the shape returned to the user */
    int64_t count;                   /* elements folded into each output */
} rplan;

/* Validates `dims` against x and fills the plan. ndims == 0 reduces every
 * dim; a 0-dim x accepts dims 0 and -1 and reduces nothing. */
static bool plan_dims(const char *op, const ag_tensor *x, int ndims, const int *dims, bool keepdim,
                      rplan *p)
{
    char buf[192];
    memset(p, 0, sizeof *p);
    p->ndim = x->ndim;
    p->keepdim = keepdim;
    if (ndims < 0 || ndims > AG_MAX_DIMS || (ndims > 0 && !dims)) {
        agi_error(AG_ERR_INVALID, op, "bad dims list (ndims %d%s) for shape %s", ndims,
                  ndims > 0 && !dims ? ", dims NULL" : "", agi_fmt_shape(buf, x->ndim, x->shape));
        return false;
    }
    if (ndims == 0) {
        p->red = x->ndim ? (1u << x->ndim) - 1u : 0u;
    } else {
        for (int i = 0; i < ndims; i++) {
            int d;
            if (!agi_norm_dim(op, x, dims[i], &d)) return false;
            if (x->ndim == 0) continue;
            if (p->red & (1u << d)) {
                agi_error(AG_ERR_INVALID, op, "dim %d appears more than once in the dims of %s",
                          dims[i], agi_fmt_shape(buf, x->ndim, x->shape));
                return false;
            }
            p->red |= 1u << d;
        }
    }
    p->count = 1;
    for (int d = 0; d < x->ndim; d++) {
        bool r = p->red & (1u << d);
        p->kshape[d] = r ? 1 : x->shape[d];
        if (r) p->count *= x->shape[d];
        if (!r || keepdim) p->out_shape[p->out_ndim++] = r ? 1 : x->shape[d];
    }
    return true;
}

/* The dims list of a plan (for calling front-end reductions). Returns the
 * count; 0 only for a 0-dim x, where "all dims" is the same as none. */
static int plan_dim_list(const rplan *p, int *dims)
{
    int n = 0;
    for (int d = 0; d < p->ndim; d++)
        if (p->red & (1u << d)) dims[n++] = d;
    return n;
}

/* A view of t (which has the plan's output shape) in x's rank: reduced dims
 * get stride 0 and size 1 (expand = false) or x's size (expand = true). */
static ag_tensor *plan_view(const ag_tensor *t, const rplan *p, const int64_t *xshape, bool expand)
{
    int64_t shape[AG_MAX_DIMS], strides[AG_MAX_DIMS];
    int j = 0;
    for (int d = 0; d < p->ndim; d++) {
        if (p->red & (1u << d)) {
            shape[d] = expand ? xshape[d] : 1;
            strides[d] = 0;
            if (p->keepdim) j++;
        } else {
            shape[d] = xshape[d];
            strides[d] = t->strides[j++];
        }
    }
    return agi_tensor_view(t, p->ndim, shape, strides, t->offset);
}

/* Saves the node's plan in its integer slots, and reads it back. */
static void plan_store(agi_node *node, const rplan *p)
{
    node->i[0] = p->red;
    node->i[1] = p->keepdim;
    node->i[2] = p->count;
}

static rplan plan_load(const agi_node *node)
{
    const ag_tensor *x = node->inputs[0];
    rplan p;
    memset(&p, 0, sizeof p);
    p.ndim = x->ndim;
    p.red = (unsigned)node->i[0];
    p.keepdim = node->i[1] != 0;
    p.count = node->i[2];
    for (int d = 0; d < x->ndim; d++) {
        bool r = p.red & (1u << d);
        p.kshape[d] = r ? 1 : x->shape[d];
        if (!r || p.keepdim) p.out_shape[p.out_ndim++] = r ? 1 : x->shape[d];
    }
    return p;
}

/* Saves a storage-sharing view of `out` (not `out` itself: that would make a
 * reference cycle through out->grad_fn). */
static void save_output(agi_node *node, int slot, const ag_tensor *out)
{
    ag_tensor *v = agi_tensor_view(out, out->ndim, out->shape, out->strides, out->offset);
    if (!v) return;
    agi_node_save(node, slot, v);
    agi_discard(v);
}

/* x as f32: a new reference (a cast for i32/u8, x retained otherwise) that
 * the caller drops with agi_discard. */
static ag_tensor *as_f32(const char *op, const ag_tensor *x)
{
    if (x->dtype == AG_F32) {
        ag_tensor *same = ag_retain((ag_tensor *)x);
        return agi_scope_track(same);
    }
    if (agi_dtype_is_float(x->dtype)) return agi_as_f32(op, x); /* f16 / bf16: refused */
    ag_no_grad_begin();
    ag_tensor *c = ag_cast(x, AG_F32);
    ag_no_grad_end();
    if (!c) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        agi_error(ag_last_status(), op, "%s", msg);
    }
    return c;
}

/* Queues REDUCE(sub) of the f32 tensor x into a new tensor of the plan's
 * output shape and dtype `dtype`. x must not be empty. */
static ag_tensor *reduce_kernel(const char *op, const ag_tensor *x, const rplan *p, int sub,
                                ag_dtype dtype)
{
    ag_tensor *out = agi_tensor_new(op, x->storage->dev, dtype, p->out_ndim, p->out_shape);
    if (!out) return NULL;
    agi_kernel k = {.op = AGI_K_REDUCE, .sub = sub};
    k.dst = agi_view_of(out);
    k.dst.ndim = p->ndim;
    memcpy(k.dst.shape, p->kshape, sizeof p->kshape);
    agi_contiguous_strides(p->ndim, p->kshape, k.dst.strides);
    for (int d = 0; d < p->ndim; d++)
        if (p->kshape[d] == 1) k.dst.strides[d] = 0;
    k.src[0] = agi_view_of(x);
    if (agi_exec(op, x->storage->dev, &k) != AG_OK) {
        agi_discard(out);
        return NULL;
    }
    return out;
}

/* A new tensor of the plan's output shape filled with `value` (reductions of
 * empty tensors). */
static ag_tensor *reduce_fill(const char *op, const ag_tensor *x, const rplan *p, double value)
{
    ag_tensor *out = agi_tensor_new(op, x->storage->dev, AG_F32, p->out_ndim, p->out_shape);
    if (out && ag_fill_(out, value) != AG_OK) {
        agi_discard(out);
        return NULL;
    }
    return out;
}

/* ---- sum and mean --------------------------------------------------------- */

static ag_status sum_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const ag_tensor *x = node->inputs[0];
    rplan p = plan_load(node);
    /* g: output shape → x's shape, stride 0 over the reduced dims. */
    grads[0] = plan_view(g, &p, x->shape, true);
    return grads[0] ? AG_OK : ag_last_status();
}

static ag_status mean_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const ag_tensor *x = node->inputs[0];
    rplan p = plan_load(node);
    ag_tensor *ge = plan_view(g, &p, x->shape, true);
    grads[0] = ag_div_scalar(ge, (double)p.count);
    return grads[0] ? AG_OK : ag_last_status();
}

/* sum (mean = false) or mean (mean = true). */
static ag_tensor *sum_mean(const char *op, const ag_tensor *x, int ndims, const int *dims,
                           bool keepdim, bool mean)
{
    if (!agi_check_tensor(op, x, "x")) return NULL;
    rplan p;
    if (!plan_dims(op, x, ndims, dims, keepdim, &p)) return NULL;
    if (agi_dtype_is_float(x->dtype) && x->dtype != AG_F32) {
        /* f16 / bf16: a sum kernel of the dtype (f32 accumulation, rounded
         * once); a mean as the f32 mean rounded once, so neither the sum nor
         * the scaling rounds (or overflows) in 16 bits */
        ag_tensor *r;
        ag_scope_begin();
        ag_no_grad_begin();
        if (mean || ag_numel(x) == 0) r = ag_cast(sum_mean(op, ag_cast(x, AG_F32), ndims, dims, keepdim, mean), x->dtype);
        else r = reduce_kernel(op, x, &p, AGI_R_SUM, x->dtype);
        ag_no_grad_end();
        ag_retain(r);
        ag_scope_end();
        r = agi_scope_track(r);
        if (r && AGI_NEEDS_GRAD(x)) {
            agi_node *node = agi_node_reads_none(
                agi_node_new(op, mean ? mean_backward : sum_backward, 1, (const ag_tensor *[]){x}));
            if (node) plan_store(node, &p);
            r = agi_attach(r, node);
        }
        return r;
    }
    ag_tensor *xf = as_f32(op, x);
    if (!xf) return NULL;
    ag_tensor *out;
    if (ag_numel(x) == 0) {
        out = reduce_fill(op, x, &p, mean ? NAN : 0.0);
    } else if (!mean) {
        out = reduce_kernel(op, xf, &p, AGI_R_SUM, AG_F32);
    } else {
        /* mean = sum * (1/count) through a second kernel (no in-place aliasing). */
        ag_tensor *s = reduce_kernel(op, xf, &p, AGI_R_SUM, AG_F32);
        out = s ? agi_tensor_new(op, x->storage->dev, AG_F32, p.out_ndim, p.out_shape) : NULL;
        if (out) {
            agi_kernel k = {.op = AGI_K_UNARY, .sub = AGI_U_AFFINE};
            k.dst = agi_view_of(out);
            k.src[0] = agi_view_of(s);
            k.p.s.f[0] = 1.0 / (double)p.count;
            k.p.s.f[1] = 0.0;
            if (agi_exec(op, x->storage->dev, &k) != AG_OK) {
                agi_discard(out);
                out = NULL;
            }
        }
        agi_discard(s);
    }
    agi_discard(xf);
    if (out && AGI_NEEDS_GRAD(x)) {
        agi_node *node = agi_node_reads_none(
            agi_node_new(op, mean ? mean_backward : sum_backward, 1, (const ag_tensor *[]){x}));
        if (node) plan_store(node, &p);
        out = agi_attach(out, node);
    }
    return out;
}

ag_tensor *ag_sum(const ag_tensor *x, int ndims, const int *dims, bool keepdim)
{
    return sum_mean("ag_sum", x, ndims, dims, keepdim, false);
}

ag_tensor *ag_mean(const ag_tensor *x, int ndims, const int *dims, bool keepdim)
{
    return sum_mean("ag_mean", x, ndims, dims, keepdim, true);
}

/* ---- max and min (torch.amax / torch.amin) ------------------------------- */

/* Ties share the gradient evenly: dx = mask * g / count(mask), mask = (x == y). */
static ag_status extreme_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const ag_tensor *x = node->inputs[0];
    rplan p = plan_load(node);
    int dims[AG_MAX_DIMS];
    int nd = plan_dim_list(&p, dims);
    ag_tensor *yk = plan_view(node->saved[0], &p, x->shape, false); /* kshape */
    ag_tensor *gk = plan_view(g, &p, x->shape, false);              /* kshape */
    ag_tensor *mask = ag_cast(ag_eq(x, yk), AG_F32);                 /* x's shape */
    ag_tensor *cnt = ag_sum(mask, nd, dims, true);                   /* kshape */
    grads[0] = ag_mul(mask, ag_div(gk, cnt));
    return grads[0] ? AG_OK : ag_last_status();
}

static ag_tensor *extreme(const char *op, const ag_tensor *x, int ndims, const int *dims,
                          bool keepdim, int sub)
{
    if (!agi_check_tensor(op, x, "x")) return NULL;
    rplan p;
    if (!plan_dims(op, x, ndims, dims, keepdim, &p)) return NULL;
    if (ag_numel(x) == 0 && agi_numel(p.out_ndim, p.out_shape) > 0) {
        char buf[192];
        agi_error(AG_ERR_INVALID, op, "cannot reduce over an empty dim of %s",
                  agi_fmt_shape(buf, x->ndim, x->shape));
        return NULL;
    }
    ag_tensor *xf = as_f32(op, x);
    if (!xf) return NULL;
    ag_tensor *out = reduce_kernel(op, xf, &p, sub, AG_F32);
    agi_discard(xf);
    if (out && x->dtype != AG_F32) {
        /* Integer inputs keep their dtype (exact for |values| < 2^24). */
        ag_tensor *c = ag_cast(out, x->dtype);
        agi_discard(out);
        return c;
    }
    if (out && AGI_NEEDS_GRAD(x)) {
        agi_node *node = agi_node_new(op, extreme_backward, 1, (const ag_tensor *[]){x});
        if (node) {
            plan_store(node, &p);
            save_output(node, 0, out);
        }
        out = agi_attach(out, node);
    }
    return out;
}

ag_tensor *ag_max(const ag_tensor *x, int ndims, const int *dims, bool keepdim)
{
    AGI_HALF_VIA_F32(ag_max(AGI_F32(x), ndims, dims, keepdim), x);
    return extreme("ag_max", x, ndims, dims, keepdim, AGI_R_MAX);
}

ag_tensor *ag_min(const ag_tensor *x, int ndims, const int *dims, bool keepdim)
{
    AGI_HALF_VIA_F32(ag_min(AGI_F32(x), ndims, dims, keepdim), x);
    return extreme("ag_min", x, ndims, dims, keepdim, AGI_R_MIN);
}

/* ---- argmax and argmin ------------------------------------------------------ */

static ag_tensor *arg_extreme(const char *op, const ag_tensor *x, int dim, bool keepdim, int sub)
{
    if (!agi_check_tensor(op, x, "x")) return NULL;
    rplan p;
    if (!plan_dims(op, x, 1, &dim, keepdim, &p)) return NULL;
    if (ag_numel(x) == 0 && agi_numel(p.out_ndim, p.out_shape) > 0) {
        char buf[192];
        agi_error(AG_ERR_INVALID, op, "cannot reduce over an empty dim of %s",
                  agi_fmt_shape(buf, x->ndim, x->shape));
        return NULL;
    }
    if (x->ndim == 0) { /* a scalar: index 0 */
        ag_tensor *out = agi_tensor_new(op, x->storage->dev, AG_I32, 0, NULL);
        if (out && ag_fill_(out, 0) != AG_OK) {
            agi_discard(out);
            return NULL;
        }
        return out;
    }
    ag_tensor *xf = as_f32(op, x);
    if (!xf) return NULL;
    ag_tensor *out = reduce_kernel(op, xf, &p, sub, AG_I32);
    agi_discard(xf);
    return out;
}

ag_tensor *ag_argmax(const ag_tensor *x, int dim, bool keepdim)
{
    AGI_HALF_VIA_F32(ag_argmax(AGI_F32(x), dim, keepdim), x);
    return arg_extreme("ag_argmax", x, dim, keepdim, AGI_R_ARGMAX);
}

ag_tensor *ag_argmin(const ag_tensor *x, int dim, bool keepdim)
{
    AGI_HALF_VIA_F32(ag_argmin(AGI_F32(x), dim, keepdim), x);
    return arg_extreme("ag_argmin", x, dim, keepdim, AGI_R_ARGMIN);
}

/* ---- var and std (composed; autograd flows through the parts) ------------ */

/* Runs in an inner scope; the result is handed to the caller's scope. */
static ag_tensor *var_std(const char *op, const ag_tensor *x, int ndims, const int *dims,
                          int correction, bool keepdim, bool root)
{
    if (!agi_check_tensor(op, x, "x")) return NULL;
    rplan p;
    if (!plan_dims(op, x, ndims, dims, keepdim, &p)) return NULL;
    double denom = (double)p.count - (double)correction;
    if (denom < 0) denom = 0;
    ag_scope_begin();
    ag_tensor *xf = as_f32(op, x);
    ag_tensor *m = ag_mean(xf, ndims, dims, true);
    ag_tensor *d = ag_sub(xf, m);
    ag_tensor *s = ag_sum(ag_square(d), ndims, dims, keepdim);
    ag_tensor *out = ag_div_scalar(s, denom);
    if (root) out = ag_sqrt(out);
    ag_retain(out);
    ag_scope_end();
    return agi_scope_track(out);
}

ag_tensor *ag_var(const ag_tensor *x, int ndims, const int *dims, int correction, bool keepdim)
{
    AGI_HALF_VIA_F32(ag_var(AGI_F32(x), ndims, dims, correction, keepdim), x);
    return var_std("ag_var", x, ndims, dims, correction, keepdim, false);
}

ag_tensor *ag_std(const ag_tensor *x, int ndims, const int *dims, int correction, bool keepdim)
{
    AGI_HALF_VIA_F32(ag_std(AGI_F32(x), ndims, dims, correction, keepdim), x);
    return var_std("ag_std", x, ndims, dims, correction, keepdim, true);
}

/* ---- logsumexp ---------------------------------------------------------------- */

/* dx = g * exp(x - y), g and y broadcast over the reduced dims. */
static ag_status logsumexp_backward(agi_node *node, ag_tensor *g, ag_tensor **grads)
{
    const ag_tensor *x = node->inputs[0];
    rplan p = plan_load(node);
    ag_tensor *yk = plan_view(node->saved[0], &p, x->shape, false);
    ag_tensor *gk = plan_view(g, &p, x->shape, false);
    grads[0] = ag_mul(gk, ag_exp(ag_sub(x, yk)));
    return grads[0] ? AG_OK : ag_last_status();
}

/* log(sum(exp(x - m))) + m with m = max over the dims, replaced by 0 where
 * it is infinite (all -inf gives -inf, any +inf gives +inf). */
ag_tensor *ag_logsumexp(const ag_tensor *x, int ndims, const int *dims, bool keepdim)
{
    AGI_HALF_VIA_F32(ag_logsumexp(AGI_F32(x), ndims, dims, keepdim), x);
    const char *op = "ag_logsumexp";
    if (!agi_check_tensor(op, x, "x")) return NULL;
    rplan p;
    if (!plan_dims(op, x, ndims, dims, keepdim, &p)) return NULL;
    ag_tensor *out = NULL;
    if (ag_numel(x) == 0) {
        out = reduce_fill(op, x, &p, -INFINITY);
    } else {
        ag_scope_begin();
        ag_no_grad_begin();
        ag_tensor *xf = as_f32(op, x);
        ag_tensor *m = ag_max(xf, ndims, dims, true);                   /* kshape */
        ag_tensor *finite = ag_lt_scalar(ag_abs(m), INFINITY);           /* u8 */
        ag_tensor *mf = ag_where(finite, m, ag_zeros_like(m));
        ag_tensor *s = ag_sum(ag_exp(ag_sub(xf, mf)), ndims, dims, true);
        ag_tensor *outk = ag_add(ag_log(s), mf);                         /* kshape */
        if (outk) {
            /* Drop the reduced dims with a view of the same memory. */
            int64_t st[AG_MAX_DIMS];
            agi_contiguous_strides(p.out_ndim, p.out_shape, st);
            out = agi_tensor_view(outk, p.out_ndim, p.out_shape, st, outk->offset);
        }
        ag_no_grad_end();
        ag_retain(out);
        ag_scope_end();
        out = agi_scope_track(out);
    }
    if (out && AGI_NEEDS_GRAD(x)) {
        agi_node *node = agi_node_new(op, logsumexp_backward, 1, (const ag_tensor *[]){x});
        if (node) {
            plan_store(node, &p);
            save_output(node, 0, out);
        }
        out = agi_attach(out, node);
    }
    return out;
}
