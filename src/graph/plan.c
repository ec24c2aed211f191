/* src/graph/plan.c — the static memory plan of a captured step. Every
 * intermediate (a buffer allocated and released inside the capture) is live
 * from the first to the last kernel that uses it; intermediates get offsets
 * in one arena, largest first, each at the lowest offset that no
 * intermediate live at the same time occupies (a greedy best-fit by size,
 * as in TensorFlow Lite's and ggml's allocators). Records then address the
 * arena itself: a view's element offset moves by its slot's (offsets are
 * multiples of AGI_ARENA_ALIGN, so of every element size). */
#include "graph_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static size_t align_up(size_t n) { return (n + AGI_ARENA_ALIGN - 1) / AGI_ARENA_ALIGN * AGI_ARENA_ALIGN; }

static bool overlaps_in_time(const graph_slot *a, const graph_slot *b)
{
    return a->first <= b->last && b->first <= a->last;
}

static const ag_graph *sort_graph;
static int by_size_desc(const void *pa, const void *pb)
{
    const graph_slot *a = &sort_graph->slots[*(const int *)pa], *b = &sort_graph->slots[*(const int *)pb];
    if (a->nbytes != b->nbytes) return a->nbytes < b->nbytes ? 1 : -1;
    return a->first - b->first;
}
static int by_offset(const void *pa, const void *pb)
{
    const graph_slot *a = &sort_graph->slots[*(const int *)pa], *b = &sort_graph->slots[*(const int *)pb];
    return a->offset < b->offset ? -1 : a->offset > b->offset;
}

/* Bytes a view can touch, from the start of its buffer. */
static size_t view_extent(const agi_view *v)
{
    int64_t last = v->offset;
    for (int d = 0; d < v->ndim; d++) last += (v->shape[d] - 1) * v->strides[d];
    return (size_t)(last + 1) * ag_dtype_size(v->dtype);
}

/* Recomputes every slot's first and last use over the entries that remain
 * after fusion, and the held slots' sizes (the bytes their views reach). */
static void uses(ag_graph *g)
{
    for (int s = 0; s < g->n_slots; s++) g->slots[s].first = g->slots[s].last = -1;
    for (int i = 0; i < g->n; i++) {
        graph_entry *e = &g->e[i];
        if (e->fused_away || e->kind == ENTRY_HOOK) continue;
        for (int v = 0; v < AGI_GRAPH_NVIEWS; v++) {
            int s = e->slot[v];
            if (s < 0) continue;
            graph_slot *sl = &g->slots[s];
            if (sl->first < 0) sl->first = i;
            sl->last = i;
            if (sl->kind == SLOT_HELD) {
                size_t ext = e->kind == ENTRY_WRITE ? e->offset + e->n
                                                    : view_extent(agi_graph_view(&e->k, v));
                if (ext > sl->nbytes) sl->nbytes = ext;
            }
        }
    }
}

/* Whether entry e writes into slot view v (dst, dst2; the optimizers also
 * update their state buffers in src1, src2). */
static bool writes_view(const graph_entry *e, int v)
{
    if (e->kind == ENTRY_WRITE) return v == 0;
    if (v <= 1) return true;
    agi_kernel_op op = e->k.op;
    return (op == AGI_K_SGD || op == AGI_K_ADAM || op == AGI_K_RMSPROP) && v >= 3;
}

static bool is_update(const graph_entry *e)
{
    return e->kind == ENTRY_KERNEL && e->hook &&
           (e->k.op == AGI_K_SGD || e->k.op == AGI_K_ADAM || e->k.op == AGI_K_RMSPROP);
}

/* Optimizer updates read their per-step parameters, and random fills their
 * seed and Philox offset, from one small device buffer (the kernels' dst2):
 * 4 words per record, rewritten by one upload before each replay, so their
 * records stay pre-built. */
static ag_status step_params(ag_graph *g)
{
    int n = 0;
    for (int i = 0; i < g->n; i++)
        if (is_update(&g->e[i]) || g->e[i].rng) n++;
    if (n == 0) return AG_OK;
    ag_device *dev = g->dev;
    g->step_host = agi_calloc((size_t)n * 4, sizeof *g->step_host);
    if (!g->step_host) return agi_set_error(AG_ERR_OOM, "host out of memory");
    ag_status st = dev->be->buffer_alloc(dev->impl, (size_t)n * 4 * sizeof(float), &g->step_params);
    if (st != AG_OK) return st;
    atomic_fetch_add(&dev->live_buffers, 1);
    g->n_step_params = n;
    int k = 0;
    for (int i = 0; i < g->n; i++) {
        graph_entry *e = &g->e[i];
        if (!is_update(e) && !e->rng) continue;
        e->step_param = k;
        e->k.dst2 = (agi_view){.buf = g->step_params, .dtype = e->rng ? AG_I32 : AG_F32, .ndim = 1,
                               .offset = 4 * (int64_t)k, .shape = {4}, .strides = {1}};
        k++;
    }
    return AG_OK;
}

/* AG_GRAPH_DUMP=1: the planned graph, one entry per line, on stderr. */
static void dump(const ag_graph *g)
{
    fprintf(stderr, "graph on %s: %d entries, %d slots, arena %zu bytes\n", g->dev->info.spec, g->n,
            g->n_slots, g->arena_bytes);
    for (int i = 0; i < g->n; i++) {
        const graph_entry *e = &g->e[i];
        if (e->fused_away) continue;
        const char *kind = e->kind == ENTRY_WRITE ? "write" : e->kind == ENTRY_HOOK ? "hook"
                                                                                   : agi_kernel_op_name(e->k.op);
        fprintf(stderr, "  %4d %-12s sub %-3d n %-9lld", i, kind, e->k.sub,
                (long long)agi_view_numel(&e->k.dst));
        for (int v = 0; v < AGI_GRAPH_NVIEWS; v++) {
            if (e->slot[v] < 0) continue;
            const graph_slot *sl = &g->slots[e->slot[v]];
            fprintf(stderr, " %s%d%s[%d..%d]", v == 0 ? "dst=" : v == 1 ? "dst2=" : "src=", e->slot[v],
                    sl->kind == SLOT_HELD ? "h" : "", sl->first, sl->last);
        }
        fprintf(stderr, "%s%s\n", e->rng ? " rng" : "", e->hook ? " hook" : "");
    }
}

ag_status agi_graph_plan(ag_graph *g)
{
    if (!g->opts.no_fusion) agi_graph_fuse(g);
    uses(g);
    int *idx = agi_malloc(((size_t)g->n_slots + 1) * sizeof *idx);
    int *live = agi_malloc(((size_t)g->n_slots + 1) * sizeof *live);
    if (!idx || !live) {
        free(idx);
        free(live);
        return agi_set_error(AG_ERR_OOM, "host out of memory");
    }
    int n = 0;
    for (int s = 0; s < g->n_slots; s++) {
        graph_slot *sl = &g->slots[s];
        if (sl->kind == SLOT_ARENA && sl->first >= 0) {
            idx[n++] = s;
            g->eager_bytes += sl->nbytes;
        } else if (sl->kind == SLOT_HELD && sl->first >= 0) {
            g->held_bytes += sl->nbytes;
        }
    }
    sort_graph = g;
    qsort(idx, (size_t)n, sizeof *idx, by_size_desc);
    size_t top = 0;
    for (int a = 0; a < n; a++) {
        graph_slot *sl = &g->slots[idx[a]];
        int nl = 0;
        for (int b = 0; b < a; b++)
            if (overlaps_in_time(sl, &g->slots[idx[b]])) live[nl++] = idx[b];
        qsort(live, (size_t)nl, sizeof *live, by_offset);
        size_t need = align_up(sl->nbytes), off = 0;
        for (int b = 0; b < nl; b++) {
            const graph_slot *o = &g->slots[live[b]];
            if (o->offset >= off + need) break; /* the gap before o fits */
            size_t end = o->offset + align_up(o->nbytes);
            if (end > off) off = end;
        }
        sl->offset = off;
        if (off + need > top) top = off + need;
    }
    free(idx);
    free(live);
    g->arena_bytes = top;
    g->arena_buffers = n;

    ag_device *dev = g->dev;
    ag_status st = AG_OK;
    if (top > 0) {
        st = dev->be->buffer_alloc(dev->impl, top, &g->arena);
        if (st == AG_OK) atomic_fetch_add(&dev->live_buffers, 1);
        else
            return agi_set_error(st, "cannot allocate the graph's arena of %zu bytes on %s (%s)", top,
                                 dev->info.spec, ag_last_error());
    }
    for (int s = 0; s < g->n_slots; s++) { /* the capture's buffers were released at its end */
        graph_slot *sl = &g->slots[s];
        if (sl->kind == SLOT_ARENA) sl->buf = sl->first >= 0 ? g->arena : NULL;
    }
    if ((st = step_params(g)) != AG_OK) return st;
    const char *d = getenv("AG_GRAPH_DUMP");
    if (d && d[0] == '1') dump(g);
    g->first_outside_write = g->n;
    for (int i = 0; i < g->n; i++) {
        graph_entry *e = &g->e[i];
        if (e->kind == ENTRY_HOOK || e->fused_away) continue;
        for (int v = 0; v < AGI_GRAPH_NVIEWS; v++) {
            if (e->slot[v] < 0) continue;
            graph_slot *sl = &g->slots[e->slot[v]];
            agi_view *view = agi_graph_view(&e->k, v);
            view->buf = sl->buf;
            if (sl->kind == SLOT_ARENA) { /* a window of the arena: offsets move by the slot's */
                if (e->kind == ENTRY_WRITE) e->offset += sl->offset;
                else view->offset += (int64_t)(sl->offset / ag_dtype_size(view->dtype));
            }
            if (sl->kind == SLOT_HELD && writes_view(e, v) && i < g->first_outside_write)
                g->first_outside_write = i;
        }
    }
    return AG_OK;
}
