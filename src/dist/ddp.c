/* src/dist/ddp.c — data-parallel gradients: parameters in buckets, each
 * bucket's all-reduce started from the autograd gradient-ready hook as soon
 * as its last gradient is final, so communication overlaps the rest of the
 * backward pass.
 *
 * Buckets follow the parameters in reverse registration order (backward
 * reaches the last layers first). Bucket k starts only after buckets
 * 0 .. k-1, so every rank issues its collectives in the same order even when
 * gradients become final in a different order. */
#include "dist_internal.h"

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DEFAULT_BUCKET_MB 25.0

typedef struct ddp_param {
    ag_tensor *p;   /* borrowed from the module */
    int bucket;
    int64_t offset; /* in the bucket, elements */
    int64_t numel;
    bool ready;     /* this round's gradient is in the bucket */
} ddp_param;

typedef struct ddp_bucket {
    float *host;     /* [numel]: staged gradients, then their mean */
    float *gathered; /* [size * numel]: deterministic mode only */
    int64_t numel;
    int n_params, n_ready;
    bool started, done;
    agi_dist_reduce red;
} ddp_bucket;

struct ag_ddp {
    ag_module *module;
    ag_ddp_opts opts;
    int n_params;
    ddp_param *params; /* reverse registration order */
    int n_buckets;
    ddp_bucket *buckets;
    int next_start;    /* first bucket not started */
    int hint;          /* where the hook's lookup starts */
    bool in_backward;
    ag_ddp_stats stats;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* ---- Building ----------------------------------------------------------------- */

static void ddp_destroy(ag_ddp *d)
{
    for (int b = 0; d->buckets && b < d->n_buckets; b++) {
        free(d->buckets[b].host);
        free(d->buckets[b].gathered);
    }
    free(d->buckets);
    free(d->params);
    free(d);
}

/* Collects the parameters that require grad, last first. */
static ag_status collect_params(const char *op, ag_ddp *d)
{
    int n = ag_module_parameters(d->module, NULL, NULL, 0);
    if (n < 0) return ag_last_status();
    ag_tensor **ts = agi_calloc((size_t)n + 1, sizeof *ts);
    d->params = agi_calloc((size_t)n + 1, sizeof *d->params);
    if (!ts || !d->params) {
        free(ts);
        return agi_error(AG_ERR_OOM, op, "host out of memory");
    }
    ag_module_parameters(d->module, NULL, ts, n);
    for (int i = n - 1; i >= 0; i--) {
        if (!ts[i] || !ts[i]->requires_grad || ts[i]->dtype != AG_F32) continue;
        d->params[d->n_params++] = (ddp_param){.p = ts[i], .numel = ag_numel(ts[i])};
    }
    free(ts);
    if (d->n_params == 0)
        return agi_error(AG_ERR_INVALID, op, "the module has no parameter that requires grad");
    return AG_OK;
}

/* Cuts the parameters into buckets of about `cap` elements (a bucket closes
 * once it holds cap or more) and allocates their host memory. */
static ag_status make_buckets(const char *op, ag_ddp *d, int64_t cap)
{
    d->buckets = agi_calloc((size_t)d->n_params, sizeof *d->buckets);
    if (!d->buckets) return agi_error(AG_ERR_OOM, op, "host out of memory");
    const bool ordered = ag_is_deterministic() && agi_dist.size > 1;
    const int64_t limit = INT_MAX / (ordered ? agi_dist.size : 1);
    ddp_bucket *cur = NULL;
    for (int i = 0; i < d->n_params; i++) {
        ddp_param *q = &d->params[i];
        if (q->numel > limit) {
            char shp[192];
            return agi_error(AG_ERR_INVALID, op, "parameter %s has too many elements for one MPI call",
                             agi_fmt_shape(shp, q->p->ndim, q->p->shape));
        }
        if (!cur || cur->numel >= cap || cur->numel + q->numel > limit) cur = &d->buckets[d->n_buckets++];
        q->bucket = (int)(cur - d->buckets);
        q->offset = cur->numel;
        cur->numel += q->numel;
        cur->n_params++;
    }
    for (int b = 0; b < d->n_buckets; b++) {
        ddp_bucket *k = &d->buckets[b];
        k->host = agi_malloc((size_t)(k->numel ? k->numel : 1) * sizeof *k->host);
        k->gathered = ordered ? agi_malloc((size_t)(k->numel ? k->numel : 1) * sizeof(float) *
                                           (size_t)agi_dist.size)
                              : NULL;
        if (!k->host || (ordered && !k->gathered))
            return agi_error(AG_ERR_OOM, op, "host out of memory for a bucket of %lld floats",
                             (long long)k->numel);
        k->red = (agi_dist_reduce){.data = k->host, .gathered = k->gathered,
                                   .count = (int)k->numel, .dtype = AG_F32, .ordered = ordered};
    }
    d->stats.buckets = d->n_buckets;
    return AG_OK;
}

ag_ddp *ag_ddp_new(ag_module *m, const ag_ddp_opts *opts)
{
    const char *op = "ag_ddp_new";
    if (!m) {
        agi_error(AG_ERR_INVALID, op, "module is NULL");
        return NULL;
    }
    if (agi_dist_check(op) != AG_OK) return NULL;
    ag_ddp_opts o = opts ? *opts : (ag_ddp_opts){0};
    if (!(o.bucket_mb >= 0) || o.bucket_mb > 1024 * 1024) {
        agi_error(AG_ERR_INVALID, op, "bucket_mb %g is not in [0, 1048576]", o.bucket_mb);
        return NULL;
    }
    if (o.bucket_mb == 0) o.bucket_mb = DEFAULT_BUCKET_MB;
    ag_ddp *d = agi_calloc(1, sizeof *d);
    if (!d) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    d->module = m;
    d->opts = o;
    int64_t cap = (int64_t)(o.bucket_mb * 1024 * 1024 / sizeof(float));
    ag_status st = collect_params(op, d);
    if (st == AG_OK) st = make_buckets(op, d, cap > 0 ? cap : 1);
    int64_t elements = 0;
    for (int i = 0; i < d->n_params; i++) elements += d->params[i].numel;
    /* Collectives follow on every rank, even after a local failure, so that
     * no peer is left waiting: the check reports a mismatch everywhere. */
    ag_status same = agi_dist_check_same(op, "parameters", st == AG_OK ? d->n_params : -1,
                                         st == AG_OK ? elements : -1);
    if (st == AG_OK) st = same;
    if (st == AG_OK && !o.no_broadcast) st = ag_dist_broadcast_module(m);
    if (st != AG_OK) {
        ddp_destroy(d);
        return NULL;
    }
    return d;
}

void ag_ddp_free(ag_ddp *ddp)
{
    if (ddp) ddp_destroy(ddp);
}

ag_status ag_ddp_get_stats(const ag_ddp *ddp, ag_ddp_stats *out)
{
    if (!ddp || !out) return agi_error(AG_ERR_INVALID, "ag_ddp_get_stats", "ddp or out is NULL");
    *out = ddp->stats;
    return AG_OK;
}

/* ---- One round --------------------------------------------------------------- */

static void round_reset(ag_ddp *d)
{
    for (int i = 0; i < d->n_params; i++) d->params[i].ready = false;
    for (int b = 0; b < d->n_buckets; b++) {
        d->buckets[b].n_ready = 0;
        d->buckets[b].started = d->buckets[b].done = false;
    }
    d->next_start = 0;
    d->hint = 0;
    d->stats.started_in_backward = 0;
}

/* Copies parameter q's gradient (or zeros) into its bucket. */
static ag_status stage(const char *op, ag_ddp *d, ddp_param *q)
{
    ddp_bucket *k = &d->buckets[q->bucket];
    float *dst = k->host + q->offset;
    ag_status st = AG_OK;
    if (q->p->grad) st = ag_tensor_read(q->p->grad, dst, (size_t)q->numel * sizeof *dst);
    else memset(dst, 0, (size_t)q->numel * sizeof *dst);
    if (st != AG_OK) return st;
    q->ready = true;
    k->n_ready++;
    return AG_OK;
}

static void bucket_what(char *buf, size_t cap, const ag_ddp *d, int b)
{
    snprintf(buf, cap, "gradient all-reduce of bucket %d of %d (%lld f32)", b, d->n_buckets,
             (long long)d->buckets[b].numel);
}

/* Starts, in order, every bucket whose gradients are all staged. */
static ag_status start_ready(const char *op, ag_ddp *d)
{
    while (d->next_start < d->n_buckets) {
        ddp_bucket *k = &d->buckets[d->next_start];
        if (k->n_ready < k->n_params) break;
        ag_status st = agi_dist_reduce_start(op, &k->red);
        if (st != AG_OK) return st;
        k->started = true;
        if (d->in_backward) d->stats.started_in_backward++;
        d->next_start++;
    }
    return AG_OK;
}

/* Lets MPI progress the started reductions (non-blocking collectives move
 * only inside MPI calls). */
static ag_status progress(const char *op, ag_ddp *d)
{
    for (int b = 0; b < d->next_start; b++) {
        ddp_bucket *k = &d->buckets[b];
        if (k->done) continue;
        char what[128];
        bucket_what(what, sizeof what, d, b);
        bool done = false;
        ag_status st = agi_dist_poll(op, what, &k->red.req, &done);
        if (st != AG_OK) return st;
        k->done = done;
    }
    return AG_OK;
}

/* The gradient-ready hook: stage the leaf's gradient; start what is ready. */
static ag_status on_grad_ready(void *ctx, ag_tensor *leaf)
{
    const char *op = "ag_ddp_backward";
    ag_ddp *d = ctx;
    int found = -1;
    for (int j = 0; j < d->n_params; j++) {
        int i = (d->hint + j) % d->n_params;
        if (d->params[i].p == leaf) {
            found = i;
            break;
        }
    }
    if (found < 0 || d->params[found].ready) return AG_OK; /* not one of the module's */
    d->hint = found + 1;
    ag_status st = stage(op, d, &d->params[found]);
    if (st == AG_OK) st = start_ready(op, d);
    if (st == AG_OK) st = progress(op, d);
    return st;
}

/* Stages what the backward did not reach, starts the rest, waits for every
 * bucket and writes the means back into the gradients. */
static ag_status finish(const char *op, ag_ddp *d)
{
    ag_status st = AG_OK;
    for (int i = 0; i < d->n_params && st == AG_OK; i++)
        if (!d->params[i].ready) st = stage(op, d, &d->params[i]);
    if (st == AG_OK) st = start_ready(op, d);
    for (int b = 0; b < d->n_buckets && st == AG_OK; b++) {
        ddp_bucket *k = &d->buckets[b];
        if (!k->done) {
            char what[128];
            bucket_what(what, sizeof what, d, b);
            st = agi_dist_wait(op, what, 1, &k->red.req);
            k->done = st == AG_OK;
        }
        if (st == AG_OK) agi_dist_reduce_finish(&k->red, true);
    }
    for (int i = 0; i < d->n_params && st == AG_OK; i++) {
        ddp_param *q = &d->params[i];
        if (!q->p->grad) {
            ag_scope_begin();
            ag_tensor *z = ag_zeros_like(q->p);
            st = z ? ag_set_grad(q->p, z) : ag_last_status();
            ag_scope_end();
            if (st != AG_OK) break;
        }
        st = ag_tensor_write(q->p->grad, d->buckets[q->bucket].host + q->offset,
                             (size_t)q->numel * sizeof(float));
    }
    return st;
}

ag_status ag_ddp_backward(ag_ddp *ddp, ag_tensor *loss)
{
    const char *op = "ag_ddp_backward";
    if (!ddp) return agi_error(AG_ERR_INVALID, op, "ddp is NULL");
    ag_status st = agi_dist_check(op);
    if (st != AG_OK) return st;
    if (ddp->in_backward) return agi_error(AG_ERR_INVALID, op, "called from inside its own backward");
    round_reset(ddp);
    double t0 = now_s();
    if (ddp->opts.no_overlap) {
        st = ag_backward(loss, NULL);
    } else {
        agi_grad_ready_fn prev_fn;
        void *prev_ctx;
        agi_grad_ready_hook_set(on_grad_ready, ddp, &prev_fn, &prev_ctx);
        ddp->in_backward = true;
        st = ag_backward(loss, NULL);
        ddp->in_backward = false;
        agi_grad_ready_hook_set(prev_fn, prev_ctx, NULL, NULL);
    }
    double t1 = now_s();
    ddp->stats.backward_s = t1 - t0;
    /* A local failure must not leave the peers waiting in a collective this
     * rank will never join: report it as a failure of the group. */
    if (st != AG_OK) {
        if (!agi_dist.broken) {
            char msg[1024];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            return agi_dist_fail(op, "backward failed on this rank: %s", msg);
        }
        return st;
    }
    st = finish(op, ddp);
    ddp->stats.wait_s = now_s() - t1;
    return st;
}

ag_status ag_ddp_sync_grads(ag_ddp *ddp)
{
    const char *op = "ag_ddp_sync_grads";
    if (!ddp) return agi_error(AG_ERR_INVALID, op, "ddp is NULL");
    ag_status st = agi_dist_check(op);
    if (st != AG_OK) return st;
    round_reset(ddp);
    double t0 = now_s();
    st = finish(op, ddp);
    ddp->stats.backward_s = 0;
    ddp->stats.wait_s = now_s() - t0;
    return st;
}
