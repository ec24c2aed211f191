/* src/graph/replay.c — running a captured graph again, freeing it, and its
 * statistics. A replay refreshes what changes per step on the host (random
 * counters, optimizer hooks), then queues its entries: runs of static kernel
 * records through the backend's pre-built lists, the rest one by one. */
#include "graph_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct graph_segment {
    int begin, end;        /* entries [begin, end) */
    agi_kernel_list *list; /* NULL: queue the entries one by one */
} graph_segment;

/* Test hook: the n-th entry of the next replays fails (0: off). */
static _Atomic int fail_at;
void agi_graph_fail_at(int entry) { atomic_store(&fail_at, entry); }

/* Records whose parameters never change (optimizer updates and random
 * fills read theirs from the step-parameter buffer). */
static bool is_static(const graph_entry *e)
{
    return e->kind == ENTRY_KERNEL && !e->fused_away && ((!e->rng && !e->hook) || e->step_param >= 0);
}

/* Uploads the optimizer updates' parameters and the random fills' seeds and
 * offsets of this replay. */
static ag_status write_step_params(ag_graph *g)
{
    if (!g->n_step_params) return AG_OK;
    for (int i = 0; i < g->n; i++) {
        const graph_entry *e = &g->e[i];
        if (e->step_param < 0) continue;
        float *h = g->step_host + 4 * e->step_param;
        if (e->rng) { /* {seed lo, seed hi, offset lo, offset hi} */
            uint64_t seed = e->k.p.s.u[0], offset = e->k.p.s.u[1];
            const uint32_t w[4] = {(uint32_t)seed, (uint32_t)(seed >> 32), (uint32_t)offset,
                                   (uint32_t)(offset >> 32)};
            memcpy(h, w, sizeof w);
            continue;
        }
        h[0] = e->k.p.optim.lr;
        h[1] = e->k.p.optim.bias1;
        h[2] = e->k.p.optim.bias2;
        h[3] = e->k.p.optim.first_step ? 1.0f : 0.0f;
    }
    ag_device *dev = g->dev;
    return dev->be->write(dev->impl, g->step_params, 0, g->step_host,
                          (size_t)g->n_step_params * 4 * sizeof(float));
}

static ag_status add_segment(ag_graph *g, int begin, int end, bool prebuild)
{
    graph_segment *s = agi_realloc(g->segs, ((size_t)g->n_segs + 1) * sizeof *s);
    if (!s) return agi_set_error(AG_ERR_OOM, "host out of memory");
    g->segs = s;
    graph_segment *seg = &s[g->n_segs];
    *seg = (graph_segment){begin, end, NULL};
    if (prebuild) {
        agi_kernel *ks = agi_malloc((size_t)(end - begin) * sizeof *ks);
        if (!ks) return agi_set_error(AG_ERR_OOM, "host out of memory");
        int n = 0;
        for (int i = begin; i < end; i++)
            if (!g->e[i].fused_away) ks[n++] = g->e[i].k;
        ag_device *dev = g->dev;
        ag_status st = n ? dev->be->list_build(dev->impl, ks, n, &seg->list) : AG_OK;
        free(ks);
        if (st == AG_ERR_UNSUPPORTED) st = AG_OK; /* queued one by one instead */
        if (st != AG_OK) return st;
    }
    g->n_segs++;
    return AG_OK;
}

/* Whether static runs of records go to backend lists. */
static bool prebuilds(const ag_graph *g) { return !g->opts.no_prebuild && g->dev->be->list_build; }

static ag_status build(ag_graph *g)
{
    bool prebuild = prebuilds(g);
    int i = 0;
    while (i < g->n) {
        int j = i;
        if (is_static(&g->e[i]))
            while (j < g->n && (is_static(&g->e[j]) || g->e[j].fused_away)) j++;
        else
            j = i + 1;
        ag_status st = add_segment(g, i, j, prebuild && is_static(&g->e[i]));
        if (st != AG_OK) return st;
        i = j;
    }
    g->built = true;
    return AG_OK;
}

static ag_status run_entry(ag_graph *g, graph_entry *e)
{
    ag_device *dev = g->dev;
    switch (e->kind) {
    case ENTRY_KERNEL: return e->fused_away ? AG_OK : dev->be->exec(dev->impl, &e->k);
    case ENTRY_WRITE: return dev->be->write(dev->impl, e->k.dst.buf, e->offset, e->data, e->n);
    case ENTRY_HOOK: return AG_OK;
    }
    return AG_OK;
}

static void hooks(ag_graph *g, int phase)
{
    for (int i = 0; i < g->n; i++) {
        graph_entry *e = &g->e[i];
        if (e->hook && (phase == AGI_GRAPH_COMMIT || e->kind == ENTRY_KERNEL))
            e->hook(e->hook_ctx, e->hook_arg, e->kind == ENTRY_KERNEL ? &e->k : NULL, phase);
        if (phase == AGI_GRAPH_PREPARE && e->rng)
            agi_rng_reserve((uint64_t)agi_view_numel(&e->k.dst), &e->k.p.s.u[0], &e->k.p.s.u[1]);
    }
}

ag_status ag_graph_replay(ag_graph *g)
{
    const char *op = "ag_graph_replay";
    if (!g) return agi_error(AG_ERR_INVALID, op, "graph is NULL");
    if (g->magic != AGI_GRAPH_MAGIC) return agi_error(AG_ERR_INVALID, op, "not a live graph");
    if (agi_tl_capture) return agi_error(AG_ERR_INVALID, op, "cannot replay a graph inside a capture");
    ag_status st = g->built ? AG_OK : build(g);
    if (st != AG_OK) return agi_error(st, op, "preparing the graph: %s", ag_last_error());
    hooks(g, AGI_GRAPH_PREPARE);
    int failed = -1;
    if ((st = write_step_params(g)) != AG_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        return agi_error(st, op, "uploading the step's parameters failed: %s; nothing was changed: "
                         "inputs, parameters and optimizer state are as before the call", msg);
    }
    int inject = atomic_load(&fail_at);
    for (int s = 0; s < g->n_segs && st == AG_OK; s++) {
        graph_segment *seg = &g->segs[s];
        if (inject > 0 && inject - 1 >= seg->begin && inject - 1 < seg->end) {
            failed = seg->begin; /* nothing of the segment ran */
            st = agi_set_error(AG_ERR_DEVICE, "injected failure");
            break;
        }
        if (seg->list) {
            st = g->dev->be->list_run(g->dev->impl, seg->list);
            /* part of the list may have run */
            if (st != AG_OK) failed = seg->end - 1 < g->first_outside_write ? seg->begin : seg->end - 1;
            continue;
        }
        for (int i = seg->begin; i < seg->end && st == AG_OK; i++)
            if ((st = run_entry(g, &g->e[i])) != AG_OK) failed = i;
    }
    if (st != AG_OK) {
        char msg[600];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        bool untouched = failed <= g->first_outside_write;
        return agi_error(st, op, "entry %d of %d failed: %s; %s", failed, g->n, msg,
                         untouched ? "nothing was changed: inputs, parameters and optimizer state "
                                     "are as before the call"
                                   : "the step was partly applied");
    }
    hooks(g, AGI_GRAPH_COMMIT);
    if (g->has_err) atomic_store(&g->dev->err_armed, true);
    return AG_OK;
}

void agi_graph_destroy(ag_graph *g)
{
    if (!g) return;
    ag_device *dev = g->dev;
    if (g->segs) dev->be->sync(dev->impl);
    for (int s = 0; s < g->n_segs; s++)
        if (g->segs[s].list) dev->be->list_free(dev->impl, g->segs[s].list);
    free(g->segs);
    for (int i = 0; i < g->n; i++) free(g->e[i].data);
    free(g->e);
    for (int s = 0; s < g->n_slots; s++) {
        graph_slot *sl = &g->slots[s];
        if (sl->kind == SLOT_HELD && sl->first >= 0) agi_held_drop(dev, sl->buf);
    }
    free(g->slots);
    if (g->step_params) {
        dev->be->buffer_free(dev->impl, g->step_params);
        atomic_fetch_sub(&dev->live_buffers, 1);
    }
    free(g->step_host);
    if (g->arena) {
        dev->be->buffer_free(dev->impl, g->arena);
        atomic_fetch_sub(&dev->live_buffers, 1);
    }
    atomic_fetch_sub(&dev->n_graphs, 1);
    g->magic = AGI_DEAD_MAGIC;
    agi_quarantine(g);
    agi_device_release(dev);
}

void ag_graph_free(ag_graph *g)
{
    if (!g) return;
    if (g->magic != AGI_GRAPH_MAGIC) {
        agi_error(AG_ERR_INVALID, "ag_graph_free", "not a live graph");
        return;
    }
    agi_graph_destroy(g);
}

ag_status ag_graph_get_info(const ag_graph *g, ag_graph_info *out)
{
    if (!g || !out) return agi_error(AG_ERR_INVALID, "ag_graph_get_info", "graph or out is NULL");
    int64_t kernels = 0, host_records = 0;
    for (int i = 0; i < g->n; i++)
        if (g->e[i].kind == ENTRY_KERNEL && !g->e[i].fused_away) kernels++;
    if (g->built) { /* the lists as built: a backend may decline one */
        for (int s = 0; s < g->n_segs; s++)
            if (!g->segs[s].list)
                for (int i = g->segs[s].begin; i < g->segs[s].end; i++)
                    host_records += g->e[i].kind == ENTRY_KERNEL && !g->e[i].fused_away;
    } else {
        bool prebuild = prebuilds(g);
        for (int i = 0; i < g->n; i++)
            host_records += g->e[i].kind == ENTRY_KERNEL && !g->e[i].fused_away && (!prebuild || !is_static(&g->e[i]));
    }
    *out = (ag_graph_info){
        .records = g->records,
        .kernels = kernels,
        .fused = g->fused,
        .arena_buffers = g->arena_buffers,
        .arena_bytes = g->arena_bytes,
        .eager_bytes = g->eager_bytes,
        .held_bytes = g->held_bytes,
        .host_records = host_records,
    };
    return AG_OK;
}

size_t ag_graph_memory(const ag_graph *g) { return g ? g->arena_bytes : 0; }
