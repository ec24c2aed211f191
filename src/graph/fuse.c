/* src/graph/fuse.c — merges chains of consecutive elementwise f32 records
 * (UNARY, BINARY, FILL, COPY) into one AGI_K_EW_FUSED record when each
 * intermediate result is an intermediate of the step (an arena slot) read by
 * nothing but the next record of the chain: with the view it was written
 * through, as a broadcast of its one element, or — when the result collapses
 * to one dim — through any view inside it (a reduction's [rows] read as
 * [rows, n]; the producer's inputs are then read through the same mapping).
 * The intermediates then never reach memory, and the arena plan no longer
 * holds them. A chain holds at most AG_FUSED_MAX_STEPS records and
 * AG_FUSED_MAX_INPUTS distinct source views. */
#include "graph_internal.h"

#include <stdlib.h>
#include <string.h>

static bool is_f32(const agi_view *v) { return !v->buf || v->dtype == AG_F32; }

static bool is_compare(int sub)
{
    switch (sub) {
#define AGI_COMPARE(E, ...) case E: return true;
#include "kernel_ops.def"
    default: return false;
    }
}

/* The step kind of a record that can join a chain (0: it cannot). */
static int step_kind(const graph_entry *e)
{
    if (e->kind != ENTRY_KERNEL || e->rng || e->hook || e->fused_away) return 0;
    const agi_kernel *k = &e->k;
    if (k->dst.dtype != AG_F32 || k->dst2.buf || k->err) return 0;
    for (int i = 0; i < 3; i++)
        if (!is_f32(&k->src[i])) return 0;
    switch (k->op) {
    case AGI_K_FILL: return AG_FUSED_CONST;
    case AGI_K_COPY: return AG_FUSED_COPY;
    case AGI_K_UNARY: return AG_FUSED_UNARY;
    case AGI_K_BINARY:
        return is_compare(k->sub) ? 0 : AG_FUSED_BINARY;
    default: return 0;
    }
}

static int nsrc(int kind) { return kind == AG_FUSED_BINARY ? 2 : kind == AG_FUSED_CONST ? 0 : 1; }

static bool same_view(const agi_view *a, const agi_view *b)
{
    if (a->offset != b->offset || a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d] || a->strides[d] != b->strides[d]) return false;
    return true;
}

/* How a consumer reads a producer's result: through the view the producer
 * wrote (SAME), as a broadcast of its one element (WIDEN), or through another
 * view of a 1-D result — a reduction's [rows] read as [rows, n] with a zero
 * stride, say (REMAP). */
typedef enum { READ_SAME, READ_WIDEN, READ_REMAP } read_kind;

/* v (one element) read as a broadcast over `shape`'s geometry. */
static agi_view broadcast_to(const agi_view *v, const agi_view *shape)
{
    agi_view b = *v;
    b.ndim = shape->ndim;
    for (int d = 0; d < b.ndim; d++) {
        b.shape[d] = shape->shape[d];
        b.strides[d] = 0;
    }
    return b;
}

/* v as one dim, when its dims of size > 1 nest (each stride the next one's
 * stride times its size): [37, 1] or a contiguous [4, 8] become [37], [32]. */
static bool as_1d(const agi_view *v, agi_view *o)
{
    int64_t n = 1, stride = 1, inner = -1;
    for (int d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] == 1) continue;
        if (inner < 0) stride = v->strides[d];
        else if (v->strides[d] != v->strides[inner] * v->shape[inner]) return false;
        inner = d;
        n *= v->shape[d];
    }
    *o = *v;
    o->ndim = 1;
    o->shape[0] = n;
    o->strides[0] = stride;
    return true;
}

/* Whether view r reads only elements of the 1-D view o (stride > 0), each
 * element of r at a whole number of o's steps: then r's element i is o's
 * element base + sum_d i_d * step[d]. */
static bool remap_steps(const agi_view *o, const agi_view *r, int64_t *base, int64_t *step)
{
    if (o->ndim != 1 || o->strides[0] <= 0) return false;
    int64_t so = o->strides[0], rel = r->offset - o->offset;
    if (rel < 0 || rel % so) return false;
    int64_t last = rel / so;
    for (int d = 0; d < r->ndim; d++) {
        if (r->strides[d] % so) return false;
        step[d] = r->strides[d] / so;
        last += (r->shape[d] - 1) * step[d];
    }
    *base = rel / so;
    return last < o->shape[0];
}

/* Producer input `in` (o's shape) read the way view r reads o: r's shape.
 * can_inline has checked that in and o are 1-D (as_1d) and r fits o. */
static agi_view remap_input(const agi_view *in, const agi_view *o, const agi_view *r)
{
    int64_t base = 0, step[AG_MAX_DIMS] = {0};
    agi_view m = *in, o1 = *o;
    as_1d(in, &m);
    as_1d(o, &o1);
    remap_steps(&o1, r, &base, step);
    int64_t si = m.strides[0];
    m.offset = in->offset + base * si;
    m.ndim = r->ndim;
    for (int d = 0; d < r->ndim; d++) {
        m.shape[d] = r->shape[d];
        m.strides[d] = step[d] * si;
    }
    return m;
}

typedef struct prog {
    agi_fused_params f;
    agi_view in[AG_FUSED_MAX_INPUTS];
    int in_slot[AG_FUSED_MAX_INPUTS];
    agi_view out;   /* the view the program's result is written through */
    bool valid;     /* the entry is an elementwise f32 record (maybe fused) */
} prog;

/* The register holding source view v (an input, added if new; -1 when the
 * program has no room). */
static int input_reg(prog *c, const agi_view *v, int slot)
{
    for (int i = 0; i < c->f.nin; i++)
        if (c->in_slot[i] == slot && same_view(&c->in[i], v)) return i;
    if (c->f.nin == AG_FUSED_MAX_INPUTS) return -1;
    c->in[c->f.nin] = *v;
    c->in_slot[c->f.nin] = slot;
    return c->f.nin++;
}

static bool writes_slot(const graph_entry *e, int slot)
{
    if (e->fused_away || e->kind == ENTRY_HOOK) return false;
    if (e->slot[0] == slot || e->slot[1] == slot) return true;
    agi_kernel_op op = e->k.op;
    return e->kind == ENTRY_KERNEL && (op == AGI_K_SGD || op == AGI_K_ADAM || op == AGI_K_RMSPROP) &&
           (e->slot[3] == slot || e->slot[4] == slot);
}

static bool uses_slot(const graph_entry *e, int slot)
{
    if (e->fused_away || e->kind == ENTRY_HOOK) return false;
    for (int v = 0; v < AGI_GRAPH_NVIEWS; v++)
        if (e->slot[v] == slot) return true;
    return false;
}

/* Whether producer p's program can be computed inside consumer j, which
 * reads p's result (slot `slot`) through view v: the result is an
 * intermediate nothing else reads, and nothing between p and j writes what p
 * reads. *how: how v reads the result. */
static bool can_inline(const ag_graph *g, const prog *progs, int p, int j, int slot,
                       const agi_view *v, read_kind *how)
{
    if (p < 0 || !progs[p].valid || g->e[p].fused_away) return false;
    const graph_slot *sl = &g->slots[slot];
    if (sl->kind != SLOT_ARENA || sl->last != j || g->e[p].slot[0] != slot) return false;
    const prog *pp = &progs[p];
    *how = READ_SAME;
    if (!same_view(&pp->out, v)) {
        bool one = agi_view_numel(&pp->out) == 1 && v->offset == pp->out.offset;
        for (int d = 0; d < v->ndim && one; d++)
            if (v->strides[d] != 0 && v->shape[d] > 1) one = false;
        int64_t base, step[AG_MAX_DIMS];
        agi_view o1, in1;
        if (one) {
            *how = READ_WIDEN;
        } else if (as_1d(&pp->out, &o1) && remap_steps(&o1, v, &base, step)) {
            for (int i = 0; i < pp->f.nin; i++)
                if (!as_1d(&pp->in[i], &in1)) return false;
            *how = READ_REMAP;
        } else {
            return false;
        }
    }
    for (int k = p + 1; k < j; k++) {
        const graph_entry *e = &g->e[k];
        if (uses_slot(e, slot)) return false;
        for (int i = 0; i < pp->f.nin; i++)
            if (writes_slot(e, pp->in_slot[i])) return false;
    }
    return true;
}

/* w (collapsible to one dim of o's element count) split into o's shape,
 * row-major; size-1 dims take o's strides. */
static bool split_like(const agi_view *w, const agi_view *o, agi_view *out)
{
    agi_view w1;
    if (!as_1d(w, &w1) || w1.shape[0] != agi_view_numel(o)) return false;
    *out = *w;
    out->ndim = o->ndim;
    int64_t step = w1.strides[0];
    for (int d = o->ndim - 1; d >= 0; d--) {
        out->shape[d] = o->shape[d];
        out->strides[d] = o->shape[d] == 1 ? o->strides[d] : step;
        step *= o->shape[d];
    }
    return true;
}

/* A record whose views were coalesced to fewer dims than a producer it reads
 * wrote (a contiguous op after a broadcast one: [1073] after [37, 29]) is
 * re-expressed in the producer's dims when it reads the same elements in the
 * same order and that lets the producer be inlined. The record means the
 * same; only its iteration is split. */
static void align_to_producer(const ag_graph *g, const prog *progs, const int *writer, graph_entry *e,
                              int j, int ns)
{
    for (int s = 0; s < ns; s++) {
        int slot = e->slot[2 + s], p = slot >= 0 ? writer[slot] : -1;
        if (p < 0 || !progs[p].valid) continue;
        const agi_view *o = &progs[p].out, *v = &e->k.src[s];
        agi_view o1, v1;
        if (o->ndim <= v->ndim || !as_1d(o, &o1) || !as_1d(v, &v1) || o1.offset != v1.offset ||
            o1.shape[0] != v1.shape[0] || o1.strides[0] != v1.strides[0])
            continue;
        agi_view nv[1 + 2];
        bool ok = split_like(&e->k.dst, o, &nv[0]);
        for (int i = 0; i < ns && ok; i++) ok = split_like(&e->k.src[i], o, &nv[1 + i]);
        read_kind how;
        if (!ok || !can_inline(g, progs, p, j, slot, &nv[1 + s], &how)) continue;
        e->k.dst = nv[0];
        for (int i = 0; i < ns; i++) e->k.src[i] = nv[1 + i];
        return;
    }
}

/* Appends producer program q to c; returns the register of q's result (-1:
 * no room, c unchanged). Its inputs are read as `v` (the consumer's view of
 * q's result) reads it. */
static int inline_prog(prog *c, const prog *q, read_kind how, const agi_view *v)
{
    prog save = *c;
    if (c->f.n + q->f.n > AG_FUSED_MAX_STEPS) return -1;
    int map[AG_FUSED_NREGS];
    for (int i = 0; i < q->f.nin; i++) {
        agi_view in = how == READ_WIDEN   ? broadcast_to(&q->in[i], v)
                      : how == READ_REMAP ? remap_input(&q->in[i], &q->out, v)
                                          : q->in[i];
        if ((map[i] = input_reg(c, &in, q->in_slot[i])) < 0) {
            *c = save;
            return -1;
        }
    }
    int base = c->f.n;
    for (int s = 0; s < q->f.n; s++) {
        map[AG_FUSED_MAX_INPUTS + s] = AG_FUSED_MAX_INPUTS + base + s;
        uint32_t code = q->f.code[s];
        int kind = AG_FUSED_KIND(code);
        int a = kind == AG_FUSED_CONST ? 0 : map[AG_FUSED_A(code)];
        int b = kind == AG_FUSED_BINARY ? map[AG_FUSED_B(code)] : 0;
        c->f.code[base + s] = (uint32_t)AG_FUSED_CODE(kind, (int)AG_FUSED_SUB(code), a, b);
        c->f.p[base + s][0] = q->f.p[s][0];
        c->f.p[base + s][1] = q->f.p[s][1];
    }
    c->f.n += q->f.n;
    return AG_FUSED_MAX_INPUTS + c->f.n - 1;
}

static void emit(ag_graph *g, int j, const prog *c)
{
    graph_entry *e = &g->e[j];
    agi_kernel k = {.op = AGI_K_EW_FUSED};
    k.dst = e->k.dst;
    k.p.fused = c->f;
    for (int i = 0; i < c->f.nin; i++) k.src[i] = c->in[i];
    int dst_slot = e->slot[0];
    e->k = k;
    for (int v = 0; v < AGI_GRAPH_NVIEWS; v++) e->slot[v] = -1;
    e->slot[0] = dst_slot;
    for (int i = 0; i < c->f.nin; i++) e->slot[2 + i] = c->in_slot[i];
}

void agi_graph_fuse(ag_graph *g)
{
    prog *progs = agi_calloc((size_t)g->n + 1, sizeof *progs);
    int *writer = agi_malloc(((size_t)g->n_slots + 1) * sizeof *writer);
    if (!progs || !writer) { /* fusion is an optimisation: skip it */
        free(progs);
        free(writer);
        return;
    }
    for (int s = 0; s < g->n_slots; s++) writer[s] = -1;
    for (int j = 0; j < g->n; j++) {
        graph_entry *e = &g->e[j];
        int kind = step_kind(e);
        if (kind) align_to_producer(g, progs, writer, e, j, nsrc(kind));
        if (kind) {
            prog c;
            memset(&c, 0, sizeof c);
            int inlined[2] = {-1, -1}, reg[2] = {0, 0};
            bool ok = true;
            for (int s = 0; s < nsrc(kind) && ok; s++) {
                const agi_view *v = &e->k.src[s];
                int slot = e->slot[2 + s], p = slot >= 0 ? writer[slot] : -1;
                read_kind how;
                if (s == 1 && slot == e->slot[2] && inlined[0] >= 0 && same_view(v, &e->k.src[0])) {
                    reg[1] = reg[0]; /* the same intermediate twice */
                    continue;
                }
                if (can_inline(g, progs, p, j, slot, v, &how) &&
                    (reg[s] = inline_prog(&c, &progs[p], how, v)) >= 0) {
                    inlined[s] = p;
                } else if ((reg[s] = input_reg(&c, v, slot)) < 0) {
                    ok = false;
                }
            }
            /* the destination must not be an input read through another view */
            for (int i = 0; i < c.f.nin && ok; i++)
                if (c.in_slot[i] == e->slot[0] && !same_view(&c.in[i], &e->k.dst)) ok = false;
            if (ok && c.f.n < AG_FUSED_MAX_STEPS) {
                int sub = kind == AG_FUSED_UNARY || kind == AG_FUSED_BINARY ? e->k.sub : 0;
                c.f.code[c.f.n] = (uint32_t)AG_FUSED_CODE(kind, sub, reg[0], reg[1]);
                c.f.p[c.f.n][0] = (float)e->k.p.s.f[0];
                c.f.p[c.f.n][1] = (float)e->k.p.s.f[1];
                c.f.n++;
                c.out = e->k.dst;
                c.valid = true;
                progs[j] = c;
                if (inlined[0] >= 0 || inlined[1] >= 0) {
                    for (int s = 0; s < 2; s++)
                        if (inlined[s] >= 0) g->e[inlined[s]].fused_away = true;
                    g->fused += (inlined[0] >= 0) + (inlined[1] >= 0 && inlined[1] != inlined[0]);
                    emit(g, j, &c);
                }
            } else {
                /* as a plain record it can still be inlined into a later one */
                memset(&c, 0, sizeof c);
                for (int s = 0; s < nsrc(kind); s++) reg[s] = input_reg(&c, &e->k.src[s], e->slot[2 + s]);
                int sub = kind == AG_FUSED_UNARY || kind == AG_FUSED_BINARY ? e->k.sub : 0;
                c.f.code[0] = (uint32_t)AG_FUSED_CODE(kind, sub, reg[0], reg[1]);
                c.f.p[0][0] = (float)e->k.p.s.f[0];
                c.f.p[0][1] = (float)e->k.p.s.f[1];
                c.f.n = 1;
                c.out = e->k.dst;
                c.valid = true;
                progs[j] = c;
            }
        }
        for (int v = 0; v < AGI_GRAPH_NVIEWS; v++)
            if (e->slot[v] >= 0 && writes_slot(e, e->slot[v])) writer[e->slot[v]] = j;
    }
    free(progs);
    free(writer);
}
