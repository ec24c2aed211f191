/* src/graph/capture.c — ag_graph_begin/end: the step runs eagerly once while
 * the front end reports to the capture every buffer it allocates or releases
 * on the device, every kernel it queues and every host upload. */
#include "graph_internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

_Thread_local struct agi_capture *agi_tl_capture;

agi_view *agi_graph_view(agi_kernel *k, int i)
{
    switch (i) {
    case 0: return &k->dst;
    case 1: return &k->dst2;
    default: return &k->src[i - 2];
    }
}

bool agi_capturing(const ag_device *dev)
{
    return agi_tl_capture && agi_tl_capture->g->dev == dev;
}

void agi_graph_fail(struct agi_capture *c, ag_status st, const char *fmt, ...)
{
    if (c->failure != AG_OK) return;
    c->failure = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->message, sizeof c->message, fmt, ap);
    va_end(ap);
}

ag_status agi_graph_forbid(const char *op, const ag_device *dev, const char *what)
{
    struct agi_capture *c = agi_tl_capture;
    if (!c) return AG_OK;
    (void)dev;
    agi_graph_fail(c, AG_ERR_INVALID, "%s: %s inside a graph capture", op, what);
    return agi_error(AG_ERR_INVALID, op, "%s inside a graph capture (a replay could not repeat it; "
                     "see anygrad/graph.h)", what);
}

/* ---- Slots --------------------------------------------------------------------- */

static int slot_new(ag_graph *g, slot_kind kind, agi_buffer *buf, size_t nbytes)
{
    if (g->n_slots == g->cap_slots) {
        int cap = g->cap_slots ? g->cap_slots * 2 : 64;
        graph_slot *s = agi_realloc(g->slots, (size_t)cap * sizeof *s);
        if (!s) return -1;
        g->slots = s;
        g->cap_slots = cap;
    }
    g->slots[g->n_slots] = (graph_slot){.kind = kind, .buf = buf, .nbytes = nbytes, .first = -1,
                                        .last = -1, .open = kind == SLOT_ARENA};
    return g->n_slots++;
}

/* The slot of a buffer an entry uses: the open arena slot holding it, else a
 * held slot (a buffer from outside the capture, kept by the graph). */
static int slot_of(struct agi_capture *c, agi_buffer *buf, int entry)
{
    ag_graph *g = c->g;
    int s = -1;
    for (int i = g->n_slots - 1; i >= 0; i--) {
        graph_slot *sl = &g->slots[i];
        if (sl->buf == buf && (sl->kind == SLOT_HELD || sl->open)) {
            s = i;
            break;
        }
    }
    if (s < 0) {
        if (agi_held_add(g->dev, buf) != AG_OK) s = -1;
        else if ((s = slot_new(g, SLOT_HELD, buf, 0)) < 0) agi_held_drop(g->dev, buf);
        if (s < 0) {
            agi_graph_fail(c, AG_ERR_OOM, "ag_graph: host out of memory");
            return -1;
        }
    }
    graph_slot *sl = &g->slots[s];
    if (sl->first < 0) sl->first = entry;
    sl->last = entry;
    return s;
}

static graph_entry *entry_new(struct agi_capture *c)
{
    ag_graph *g = c->g;
    if (g->n == g->cap) {
        int cap = g->cap ? g->cap * 2 : 128;
        graph_entry *e = agi_realloc(g->e, (size_t)cap * sizeof *e);
        if (!e) {
            agi_graph_fail(c, AG_ERR_OOM, "ag_graph: host out of memory");
            return NULL;
        }
        g->e = e;
        g->cap = cap;
    }
    graph_entry *e = &g->e[g->n];
    memset(e, 0, sizeof *e);
    for (int i = 0; i < AGI_GRAPH_NVIEWS; i++) e->slot[i] = -1;
    e->step_param = -1;
    return e;
}

/* ---- Hooks from the front end ---------------------------------------------------- */

static struct agi_capture *capture_on(ag_device *dev)
{
    struct agi_capture *c = agi_tl_capture;
    if (!c || c->failure != AG_OK) return NULL;
    if (c->g->dev != dev) {
        agi_graph_fail(c, AG_ERR_INVALID,
                       "ag_graph: an op used %s (handle #%d) while capturing on %s (handle #%d)",
                       dev->info.spec, dev->handle_id, c->g->dev->info.spec, c->g->dev->handle_id);
        return NULL;
    }
    return c;
}

void agi_graph_on_alloc(ag_device *dev, agi_buffer *buf, size_t nbytes)
{
    struct agi_capture *c = capture_on(dev);
    if (c && slot_new(c->g, SLOT_ARENA, buf, nbytes) < 0)
        agi_graph_fail(c, AG_ERR_OOM, "ag_graph: host out of memory");
}

bool agi_graph_on_release(ag_device *dev, agi_buffer *buf)
{
    struct agi_capture *c = agi_tl_capture;
    if (c && c->g->dev == dev) {
        ag_graph *g = c->g;
        for (int i = g->n_slots - 1; i >= 0; i--) {
            graph_slot *sl = &g->slots[i];
            if (sl->buf == buf && sl->open) {
                sl->open = false; /* an intermediate: its memory goes back now */
                return false;
            }
        }
    }
    return agi_held_adopt(dev, buf);
}

void agi_graph_on_exec(ag_device *dev, const agi_kernel *k)
{
    struct agi_capture *c = capture_on(dev);
    if (!c) return;
    graph_entry *e = entry_new(c);
    if (!e) return;
    int idx = c->g->n;
    e->kind = ENTRY_KERNEL;
    e->k = *k;
    for (int i = 0; i < AGI_GRAPH_NVIEWS; i++) {
        agi_view *v = agi_graph_view(&e->k, i);
        if (v->buf && (e->slot[i] = slot_of(c, v->buf, idx)) < 0) return;
    }
    if (k->err) c->g->has_err = true; /* the device's own error word: not a slot */
    e->rng = k->op == AGI_K_RNG;
    if (c->pending) {
        e->hook = c->pending;
        e->hook_ctx = c->pending_ctx;
        e->hook_arg = c->pending_arg;
        c->pending = NULL;
    }
    c->g->n++;
    c->g->records++;
}

void agi_graph_on_write(ag_device *dev, agi_buffer *buf, size_t offset, const void *src, size_t n)
{
    struct agi_capture *c = capture_on(dev);
    if (!c || n == 0) return;
    graph_entry *e = entry_new(c);
    if (!e) return;
    e->kind = ENTRY_WRITE;
    e->data = agi_malloc(n);
    if (!e->data) {
        agi_graph_fail(c, AG_ERR_OOM, "ag_graph: host out of memory");
        return;
    }
    memcpy(e->data, src, n);
    e->offset = offset;
    e->n = n;
    e->k.dst.buf = buf; /* resolved like a kernel's dst */
    c->g->n++;
    if ((e->slot[0] = slot_of(c, buf, c->g->n - 1)) < 0) return;
}

void agi_graph_hook_next(ag_device *dev, agi_graph_hook_fn fn, void *ctx, intptr_t arg)
{
    struct agi_capture *c = capture_on(dev);
    if (!c) return;
    c->pending = fn;
    c->pending_ctx = ctx;
    c->pending_arg = arg;
}

void agi_graph_hook_after(ag_device *dev, agi_graph_hook_fn fn, void *ctx, intptr_t arg)
{
    struct agi_capture *c = capture_on(dev);
    if (!c) return;
    graph_entry *e = entry_new(c);
    if (!e) return;
    e->kind = ENTRY_HOOK;
    e->hook = fn;
    e->hook_ctx = ctx;
    e->hook_arg = arg;
    c->g->n++;
}

/* ---- Begin / end ------------------------------------------------------------------ */

ag_status ag_graph_begin(ag_device *dev, const ag_graph_opts *opts)
{
    const char *op = "ag_graph_begin";
    if (!dev) return agi_error(AG_ERR_INVALID, op, "device is NULL");
    if (!agi_device_alive(op, dev)) return ag_last_status();
    if (agi_tl_capture)
        return agi_error(AG_ERR_INVALID, op, "this thread already captures a graph on %s",
                         agi_tl_capture->g->dev->info.spec);
    struct agi_capture *c = agi_calloc(1, sizeof *c);
    ag_graph *g = agi_calloc(1, sizeof *g);
    if (!c || !g) {
        free(c);
        free(g);
        return agi_error(AG_ERR_OOM, op, "host out of memory");
    }
    g->magic = AGI_GRAPH_MAGIC;
    g->dev = dev;
    if (opts) g->opts = *opts;
    /* Overrides for comparisons and bisecting: AG_GRAPH_NO_FUSION=1,
     * AG_GRAPH_NO_PREBUILD=1. */
    const char *e = getenv("AG_GRAPH_NO_FUSION");
    if (e && e[0] == '1') g->opts.no_fusion = true;
    if ((e = getenv("AG_GRAPH_NO_PREBUILD")) && e[0] == '1') g->opts.no_prebuild = true;
    agi_device_retain(dev);
    atomic_fetch_add(&dev->n_graphs, 1);
    c->g = g;
    agi_tl_capture = c;
    return AG_OK;
}

ag_graph *ag_graph_end(ag_device *dev)
{
    const char *op = "ag_graph_end";
    struct agi_capture *c = agi_tl_capture;
    if (!c || c->g->dev != dev) {
        agi_error(AG_ERR_INVALID, op, "no graph capture on %s in this thread",
                  dev ? dev->info.spec : "(null device)");
        return NULL;
    }
    agi_tl_capture = NULL;
    ag_graph *g = c->g;
    ag_status st = c->failure;
    char msg[600];
    snprintf(msg, sizeof msg, "%s", c->message);
    free(c);
    /* Intermediates still allocated are results of the step (the loss,
     * new gradients, optimizer state): the graph keeps them like inputs. */
    for (int i = 0; i < g->n_slots && st == AG_OK; i++) {
        graph_slot *sl = &g->slots[i];
        if (sl->kind != SLOT_ARENA || !sl->open) continue;
        sl->open = false;
        sl->kind = SLOT_HELD;
        if (sl->first >= 0 && agi_held_add(dev, sl->buf) != AG_OK) {
            sl->first = -1; /* not registered: destroy must not drop it */
            st = AG_ERR_OOM;
            snprintf(msg, sizeof msg, "host out of memory");
        }
    }
    if (st == AG_OK && g->records == 0) {
        st = AG_ERR_INVALID;
        snprintf(msg, sizeof msg, "the capture queued no kernel on %s", dev->info.spec);
    }
    if (st == AG_OK && (st = agi_graph_plan(g)) != AG_OK)
        snprintf(msg, sizeof msg, "%s", ag_last_error());
    if (st != AG_OK) {
        agi_graph_destroy(g);
        agi_error(st, op, "%s", msg);
        return NULL;
    }
    return g;
}

ag_graph *ag_graph_capture(ag_device *dev, ag_status (*fn)(void *ctx), void *ctx,
                           const ag_graph_opts *opts)
{
    if (!fn) {
        agi_error(AG_ERR_INVALID, "ag_graph_capture", "fn is NULL");
        return NULL;
    }
    if (ag_graph_begin(dev, opts) != AG_OK) {
        agi_error_in("ag_graph_capture");
        return NULL;
    }
    ag_status st = fn(ctx);
    char msg[600];
    snprintf(msg, sizeof msg, "%s", ag_last_error());
    ag_graph *g = ag_graph_end(dev);
    if (st != AG_OK) {
        ag_graph_free(g);
        agi_error(st, "ag_graph_capture", "the step failed: %s", msg);
        return NULL;
    }
    if (!g) agi_error_in("ag_graph_capture");
    return g;
}
