/* src/data/loader.c — batching, seeded shuffling and background prefetch.
 *
 * One worker thread fills a ring of `depth` slots in batch order: it copies a
 * batch's indices under the lock, reads the items into the slot's host
 * buffers without it and (when uploads happen in the background) creates the
 * device tensors. ag_loader_next takes the head slot. A reset bumps a
 * generation counter so a batch prepared for an old epoch is dropped. */
#include "internal.h"
#include "anygrad/data.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct slot {
    int64_t count;    /* items in the batch */
    int64_t *idx;     /* dataset indices, batch_size entries */
    float *hx;        /* [batch_size, item_numel] */
    int32_t *hy;      /* [batch_size] */
    ag_tensor *x, *y; /* uploaded tensors (background uploads); one reference each */
    ag_status st;
    char err[512];
} slot;

struct ag_loader {
    ag_dataset *ds;
    ag_device *dev;
    ag_loader_opts opts;
    int64_t length, batch, nbatches, item_numel;
    int item_ndim;
    int64_t item_shape[AG_MAX_DIMS];
    int64_t ds_length; /* items in the dataset */
    int64_t *perm;     /* [ds_length] scratch: the whole dataset's order (sharded loaders) */
    int64_t *order;    /* [length] the current epoch's order (this shard's) */
    bool bg_upload;
    /* Shared with the worker (under mu). */
    pthread_mutex_t mu;
    pthread_cond_t cv_prod, cv_cons;
    pthread_t thread;
    bool have_thread, stop;
    slot *slots;
    int depth, head, count;
    int64_t produce_next, consume_next;
    int64_t epoch;
    uint64_t gen;
};

/* ---- Order ------------------------------------------------------------------ */

static uint64_t splitmix64(uint64_t *s)
{
    uint64_t z = (*s += 0x9E3779B97F4A7C15ULL);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
    return z ^ (z >> 31);
}

/* The whole dataset's order of `epoch`: out [n]. */
static void make_perm(const ag_loader *ld, int64_t epoch, int64_t n, int64_t *out)
{
    for (int64_t i = 0; i < n; i++) out[i] = i;
    if (!ld->opts.shuffle) return;
    uint64_t s = ld->opts.seed;
    uint64_t state = splitmix64(&s) ^ ((uint64_t)epoch * 0xD1B54A32D192ED03ULL);
    for (int64_t i = n - 1; i > 0; i--) {
        int64_t j = (int64_t)(splitmix64(&state) % (uint64_t)(i + 1));
        int64_t t = out[i];
        out[i] = out[j];
        out[j] = t;
    }
}

/* This loader's order of `epoch`: out [ld->length]. Sharded: entry k is
 * item rank + k * R of the whole order, padded cyclically from its start. */
static void make_order(const ag_loader *ld, int64_t epoch, int64_t *out)
{
    if (!ld->perm) {
        make_perm(ld, epoch, ld->length, out);
        return;
    }
    make_perm(ld, epoch, ld->ds_length, ld->perm);
    const int64_t replicas = ld->opts.num_replicas, rank = ld->opts.rank;
    for (int64_t k = 0; k < ld->length; k++) out[k] = ld->perm[(rank + k * replicas) % ld->ds_length];
}

/* ---- Filling a slot ---------------------------------------------------------- */

static void slot_drop(slot *s)
{
    ag_release(s->x);
    ag_release(s->y);
    s->x = s->y = NULL;
}

/* Reads the items of s->idx and, if `upload`, creates the tensors. Runs
 * without the lock. Errors are kept in the slot. */
static void slot_fill(ag_loader *ld, slot *s, bool upload)
{
    s->st = AG_OK;
    s->err[0] = '\0';
    for (int64_t b = 0; b < s->count && s->st == AG_OK; b++) {
        s->st = ag_dataset_get(ld->ds, s->idx[b], s->hx + b * ld->item_numel, &s->hy[b]);
        if (s->st != AG_OK)
            snprintf(s->err, sizeof s->err, "item %lld: %s", (long long)s->idx[b], ag_last_error());
    }
    if (s->st != AG_OK || !upload) return;
    int64_t xs[AG_MAX_DIMS];
    xs[0] = s->count;
    memcpy(xs + 1, ld->item_shape, (size_t)ld->item_ndim * sizeof *xs);
    s->x = ag_from_data(ld->dev, AG_F32, ld->item_ndim + 1, xs, s->hx,
                        (size_t)(s->count * ld->item_numel) * sizeof(float));
    s->y = s->x ? ag_from_data(ld->dev, AG_I32, 1, xs, s->hy, (size_t)s->count * sizeof(int32_t))
                : NULL;
    if (!s->y) {
        s->st = ag_last_status() ? ag_last_status() : AG_ERR_DEVICE;
        snprintf(s->err, sizeof s->err, "upload: %s", ag_last_error());
        slot_drop(s);
    }
}

/* Under the lock: sets up slot `s` for batch `b` of the current order. */
static void slot_prepare(ag_loader *ld, slot *s, int64_t b)
{
    int64_t start = b * ld->batch;
    int64_t end = start + ld->batch < ld->length ? start + ld->batch : ld->length;
    s->count = end - start;
    memcpy(s->idx, ld->order + start, (size_t)s->count * sizeof *s->idx);
}

static void *worker_main(void *arg)
{
    ag_loader *ld = arg;
    pthread_mutex_lock(&ld->mu);
    while (!ld->stop) {
        if (ld->count == ld->depth || ld->produce_next >= ld->nbatches) {
            pthread_cond_wait(&ld->cv_prod, &ld->mu);
            continue;
        }
        slot *s = &ld->slots[(ld->head + ld->count) % ld->depth];
        uint64_t gen = ld->gen;
        slot_prepare(ld, s, ld->produce_next++);
        pthread_mutex_unlock(&ld->mu);
        slot_fill(ld, s, ld->bg_upload);
        pthread_mutex_lock(&ld->mu);
        if (gen != ld->gen) { /* reset meanwhile: this batch belongs to an old epoch */
            slot_drop(s);
            continue;
        }
        ld->count++;
        pthread_cond_broadcast(&ld->cv_cons);
    }
    pthread_mutex_unlock(&ld->mu);
    return NULL;
}

/* ---- Public API ---------------------------------------------------------------- */

static void loader_destroy(ag_loader *ld)
{
    if (ld->have_thread) {
        pthread_mutex_lock(&ld->mu);
        ld->stop = true;
        pthread_cond_broadcast(&ld->cv_prod);
        pthread_mutex_unlock(&ld->mu);
        pthread_join(ld->thread, NULL);
    }
    for (int i = 0; ld->slots && i < ld->depth; i++) {
        slot_drop(&ld->slots[i]);
        free(ld->slots[i].idx);
        free(ld->slots[i].hx);
        free(ld->slots[i].hy);
    }
    free(ld->slots);
    free(ld->order);
    free(ld->perm);
    pthread_mutex_destroy(&ld->mu);
    pthread_cond_destroy(&ld->cv_prod);
    pthread_cond_destroy(&ld->cv_cons);
    if (ld->dev) agi_device_release(ld->dev);
    free(ld);
}

ag_loader *ag_loader_new(ag_dataset *ds, ag_device *dev, const ag_loader_opts *opts)
{
    const char *op = "ag_loader_new";
    if (!ds || !dev || !opts) {
        agi_error(AG_ERR_INVALID, op, "%s is NULL", !ds ? "dataset" : !dev ? "device" : "opts");
        return NULL;
    }
    if (!agi_device_alive(op, dev)) return NULL; /* its batches go there from another thread */
    if (opts->batch_size < 1 || opts->prefetch < 0 || opts->prefetch > 64 ||
        opts->upload < AG_UPLOAD_AUTO || opts->upload > AG_UPLOAD_CALLER) {
        agi_error(AG_ERR_INVALID, op, "bad options (batch_size %lld, prefetch %d, upload %d)",
                  (long long)opts->batch_size, opts->prefetch, (int)opts->upload);
        return NULL;
    }
    if (opts->num_replicas < 0 || opts->rank < 0 ||
        opts->rank >= (opts->num_replicas > 1 ? opts->num_replicas : 1)) {
        agi_error(AG_ERR_INVALID, op, "bad sharding: rank %d of num_replicas %d (want 0 <= rank "
                  "< num_replicas, or num_replicas 0 or 1 with rank 0)", opts->rank,
                  opts->num_replicas);
        return NULL;
    }
    /* The epoch's order lives on the host (8 bytes an item) and a batch is one
     * tensor: both are bounded like tensors (2^40), which keeps the sizes
     * computed below in range. */
    int64_t ds_length = ag_dataset_length(ds), item[AG_MAX_DIMS];
    int64_t item_numel = agi_numel(ag_dataset_item_shape(ds, item), item);
    int64_t fill = opts->batch_size < ds_length ? opts->batch_size : ds_length; /* most per batch */
    if (ds_length > (INT64_C(1) << 40) ||
        (item_numel > 0 && fill > (INT64_C(1) << 40) / item_numel)) {
        agi_error(AG_ERR_INVALID, op,
                  "a dataset of %lld items and batches of %lld items of %lld values: at most 2^40 "
                  "items and 2^40 values a batch", (long long)ds_length,
                  (long long)opts->batch_size, (long long)item_numel);
        return NULL;
    }
    ag_loader *ld = agi_calloc(1, sizeof *ld);
    if (!ld) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    pthread_mutex_init(&ld->mu, NULL);
    pthread_cond_init(&ld->cv_prod, NULL);
    pthread_cond_init(&ld->cv_cons, NULL);
    ld->ds = ds;
    ld->dev = dev;
    agi_device_retain(dev); /* its uploads outlive ag_device_close until ag_loader_free */
    ld->opts = *opts;
    ld->ds_length = ag_dataset_length(ds);
    ld->length = ld->ds_length;
    const bool sharded = opts->num_replicas > 1;
    if (sharded) {
        int64_t r = opts->num_replicas;
        ld->length = opts->shard_drop_tail ? ld->ds_length / r : (ld->ds_length + r - 1) / r;
        if (ld->ds_length == 0) ld->length = 0;
    }
    ld->item_ndim = ag_dataset_item_shape(ds, ld->item_shape);
    ld->item_numel = agi_numel(ld->item_ndim, ld->item_shape);
    /* ceil(length / batch_size) without overflow for a batch_size near INT64_MAX */
    int64_t bs = opts->batch_size;
    ld->nbatches = opts->drop_last ? ld->length / bs : ld->length ? (ld->length - 1) / bs + 1 : 0;
    /* A batch never holds more than the epoch: buffers sized by that. */
    ld->batch = bs < ld->length ? bs : ld->length ? ld->length : 1;
    ld->bg_upload = !opts->synchronous && opts->upload != AG_UPLOAD_CALLER;
    ld->depth = opts->synchronous ? 1 : (opts->prefetch ? opts->prefetch : 2);
    ld->order = agi_malloc((size_t)(ld->length ? ld->length : 1) * sizeof *ld->order);
    ld->slots = agi_calloc((size_t)ld->depth, sizeof *ld->slots);
    if (sharded) ld->perm = agi_malloc((size_t)(ld->ds_length ? ld->ds_length : 1) * sizeof *ld->perm);
    bool ok = ld->order && ld->slots && (!sharded || ld->perm);
    for (int i = 0; ok && i < ld->depth; i++) {
        slot *s = &ld->slots[i];
        s->idx = agi_malloc((size_t)ld->batch * sizeof *s->idx);
        s->hx = agi_malloc((size_t)(ld->batch * ld->item_numel) * sizeof *s->hx + 1);
        s->hy = agi_malloc((size_t)ld->batch * sizeof *s->hy);
        ok = s->idx && s->hx && s->hy;
    }
    if (!ok) {
        agi_error(AG_ERR_OOM, op, "host out of memory (batch %lld x %lld floats)",
                  (long long)opts->batch_size, (long long)ld->item_numel);
        loader_destroy(ld);
        return NULL;
    }
    make_order(ld, 0, ld->order);
    if (!opts->synchronous) {
        if (pthread_create(&ld->thread, NULL, worker_main, ld) != 0) {
            loader_destroy(ld);
            agi_error(AG_ERR_OOM, op, "cannot start the prefetch thread");
            return NULL;
        }
        ld->have_thread = true;
    }
    return ld;
}

int ag_loader_next(ag_loader *ld, ag_tensor **x, ag_tensor **y)
{
    const char *op = "ag_loader_next";
    if (x) *x = NULL;
    if (y) *y = NULL;
    if (!ld || !x || !y) return agi_error(AG_ERR_INVALID, op, "loader, x or y is NULL");
    if (ld->consume_next >= ld->nbatches) return 0;
    slot *s;
    if (!ld->have_thread) {
        s = &ld->slots[0];
        slot_prepare(ld, s, ld->consume_next);
        slot_fill(ld, s, false);
    } else {
        pthread_mutex_lock(&ld->mu);
        while (ld->count == 0) pthread_cond_wait(&ld->cv_cons, &ld->mu);
        s = &ld->slots[ld->head];
        pthread_mutex_unlock(&ld->mu);
    }
    /* The slot stays counted (the worker leaves it alone) until popped. */
    ag_status st = s->st;
    if (st == AG_OK && s->x) {
        *x = s->x;
        *y = s->y;
        s->x = s->y = NULL;
        /* The worker's references now belong to the scope. */
        if (!(*x = agi_scope_track(*x))) {
            ag_release(*y);
            *y = NULL;
            st = AG_ERR_OOM;
        } else if (!(*y = agi_scope_track(*y))) {
            agi_discard(*x);
            *x = NULL;
            st = AG_ERR_OOM;
        }
    } else if (st == AG_OK) {
        int64_t xs[AG_MAX_DIMS];
        xs[0] = s->count;
        memcpy(xs + 1, ld->item_shape, (size_t)ld->item_ndim * sizeof *xs);
        *x = ag_from_data(ld->dev, AG_F32, ld->item_ndim + 1, xs, s->hx,
                          (size_t)(s->count * ld->item_numel) * sizeof(float));
        *y = *x ? ag_from_data(ld->dev, AG_I32, 1, xs, s->hy, (size_t)s->count * sizeof(int32_t))
                : NULL;
        if (!*y) {
            st = ag_last_status() ? ag_last_status() : AG_ERR_DEVICE;
            agi_discard(*x);
            *x = NULL;
        }
    } else {
        agi_error(st, op, "batch %lld: %s", (long long)ld->consume_next, s->err);
    }
    if (ld->have_thread) {
        pthread_mutex_lock(&ld->mu);
        ld->head = (ld->head + 1) % ld->depth;
        ld->count--;
        pthread_cond_broadcast(&ld->cv_prod);
        pthread_mutex_unlock(&ld->mu);
    }
    ld->consume_next++;
    return st == AG_OK ? 1 : st;
}

ag_status ag_loader_reset(ag_loader *ld, int64_t epoch)
{
    const char *op = "ag_loader_reset";
    if (!ld) return agi_error(AG_ERR_INVALID, op, "loader is NULL");
    if (epoch < 0) return agi_error(AG_ERR_INVALID, op, "negative epoch %lld", (long long)epoch);
    /* Starting the epoch already under way with nothing consumed (the usual
     * reset before the first epoch) keeps the batches prefetched for it. */
    if (epoch == ld->epoch && ld->consume_next == 0) return AG_OK;
    pthread_mutex_lock(&ld->mu);
    ld->epoch = epoch;
    ld->gen++;
    for (int i = 0; i < ld->count; i++) slot_drop(&ld->slots[(ld->head + i) % ld->depth]);
    ld->count = 0;
    ld->produce_next = 0;
    ld->consume_next = 0;
    make_order(ld, epoch, ld->order);
    pthread_cond_broadcast(&ld->cv_prod);
    pthread_mutex_unlock(&ld->mu);
    return AG_OK;
}

int64_t ag_loader_num_batches(const ag_loader *ld) { return ld ? ld->nbatches : -1; }
int64_t ag_loader_length(const ag_loader *ld) { return ld ? ld->length : -1; }

ag_status ag_loader_epoch_order(const ag_loader *ld, int64_t epoch, int64_t *out)
{
    if (!ld || !out || epoch < 0)
        return agi_error(AG_ERR_INVALID, "ag_loader_epoch_order", "bad arguments");
    make_order(ld, epoch, out);
    return AG_OK;
}

void ag_loader_free(ag_loader *ld)
{
    if (ld) loader_destroy(ld);
}
