/* src/autograd.c — the tape: nodes, grad mode, and the backward walk. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static _Thread_local int no_grad_depth;
static _Thread_local agi_grad_ready_fn grad_ready_fn;
static _Thread_local void *grad_ready_ctx;

void agi_grad_ready_hook_set(agi_grad_ready_fn fn, void *ctx, agi_grad_ready_fn *prev_fn,
                             void **prev_ctx)
{
    if (prev_fn) *prev_fn = grad_ready_fn;
    if (prev_ctx) *prev_ctx = grad_ready_ctx;
    grad_ready_fn = fn;
    grad_ready_ctx = ctx;
}

void ag_no_grad_begin(void) { no_grad_depth++; }
void ag_no_grad_end(void)
{
    if (no_grad_depth > 0) no_grad_depth--;
}
bool ag_is_grad_enabled(void) { return no_grad_depth == 0; }

bool agi_needs_grad(int n, const ag_tensor *const *inputs)
{
    if (no_grad_depth) return false;
    for (int i = 0; i < n; i++)
        if (inputs[i] && inputs[i]->requires_grad) return true;
    return false;
}

/* ---- Nodes --------------------------------------------------------------- */

agi_node *agi_node_new(const char *name, agi_backward_fn backward, int n,
                       const ag_tensor *const *inputs)
{
    agi_node *node = agi_calloc(1, sizeof *node);
    if (!node) return NULL;
    atomic_init(&node->refs, 1);
    node->name = name;
    node->backward = backward;
    node->n_inputs = n;
    for (int i = 0; i < n && i < AGI_NODE_MAX_INPUTS; i++) {
        node->inputs[i] = ag_retain((ag_tensor *)inputs[i]);
        if (inputs[i]) node->in_version[i] = atomic_load(&inputs[i]->storage->version);
    }
    node->reads_inputs = (1u << AGI_NODE_MAX_INPUTS) - 1;
    return node;
}

void agi_node_reads(agi_node *node, unsigned mask)
{
    if (node) node->reads_inputs = mask;
}

agi_node *agi_node_reads_none(agi_node *node)
{
    agi_node_reads(node, 0);
    return node;
}

void agi_node_save(agi_node *node, int slot, const ag_tensor *t)
{
    if (!t) node->incomplete = true; /* the tensor to save could not be made */
    ag_release(node->saved[slot]);
    node->saved[slot] = ag_retain((ag_tensor *)t);
    if (t) node->saved_version[slot] = atomic_load(&t->storage->version);
}

ag_tensor *agi_attach(ag_tensor *out, agi_node *node)
{
    if (!out) {
        agi_node_release(node);
        return NULL;
    }
    if (!node || node->incomplete) {
        char buf[192];
        agi_error(AG_ERR_OOM, node ? node->name : "autograd",
                  "host out of memory recording the graph for output %s",
                  agi_fmt_shape(buf, out->ndim, out->shape));
        agi_node_release(node);
        agi_discard(out);
        return NULL;
    }
    node->out_ndim = out->ndim;
    memcpy(node->out_shape, out->shape, sizeof out->shape);
    agi_node_release(out->grad_fn);
    out->grad_fn = node;
    out->requires_grad = true;
    return out;
}

void agi_node_release(agi_node *node)
{
    if (!node || atomic_fetch_sub(&node->refs, 1) != 1) return;
    for (int i = 0; i < AGI_NODE_MAX_INPUTS; i++) ag_release(node->inputs[i]);
    for (int i = 0; i < AGI_NODE_MAX_SAVED; i++) ag_release(node->saved[i]);
    free(node->extra);
    free(node);
}

/* ---- Leaf API ------------------------------------------------------------ */

ag_status ag_set_requires_grad(ag_tensor *t, bool requires_grad)
{
    const char *op = "ag_set_requires_grad";
    if (!agi_check_tensor(op, t, "t")) return ag_last_status();
    char a[192];
    if (t->grad_fn)
        return agi_error(AG_ERR_INVALID, op,
                         "only leaf tensors can change requires_grad, %s is not one",
                         agi_fmt_shape(a, t->ndim, t->shape));
    if (requires_grad && !agi_dtype_is_float(t->dtype))
        return agi_error(AG_ERR_INVALID, op,
                         "only float tensors (f32, f16, bf16) can require grad, got %s %s",
                         ag_dtype_name(t->dtype), agi_fmt_shape(a, t->ndim, t->shape));
    t->requires_grad = requires_grad;
    return AG_OK;
}

bool ag_requires_grad(const ag_tensor *t)
{
    return t && agi_tensor_alive("ag_requires_grad", t) && t->requires_grad;
}
bool ag_is_leaf(const ag_tensor *t)
{
    return t && agi_tensor_alive("ag_is_leaf", t) && !t->grad_fn;
}
ag_tensor *ag_grad(const ag_tensor *t)
{
    return t && agi_tensor_alive("ag_grad", t) ? t->grad : NULL;
}

void ag_zero_grad(ag_tensor *t)
{
    if (!t || !agi_tensor_alive("ag_zero_grad", t)) return;
    ag_release(t->grad);
    t->grad = NULL;
}

ag_status ag_set_grad(ag_tensor *t, ag_tensor *grad)
{
    const char *op = "ag_set_grad";
    if (!agi_check_tensor(op, t, "t")) return ag_last_status();
    if (grad) {
        if (!agi_tensor_alive(op, grad)) return ag_last_status();
        if (grad->ndim != t->ndim || memcmp(grad->shape, t->shape, (size_t)t->ndim * 8) != 0) {
            char a[192], b[192];
            return agi_error(AG_ERR_INVALID, op, "gradient %s does not match tensor %s",
                             agi_fmt_shape(a, grad->ndim, grad->shape),
                             agi_fmt_shape(b, t->ndim, t->shape));
        }
        if (!agi_check_same_device(op, t, grad)) return ag_last_status();
    }
    ag_retain(grad);
    ag_release(t->grad);
    t->grad = grad;
    return AG_OK;
}

ag_status ag_retain_grad(ag_tensor *t)
{
    if (!agi_check_tensor("ag_retain_grad", t, "t")) return ag_last_status();
    t->retains_grad = true;
    return AG_OK;
}

ag_tensor *ag_detach(const ag_tensor *t)
{
    if (!agi_check_tensor("ag_detach", t, "t")) return NULL;
    return agi_tensor_view(t, t->ndim, t->shape, t->strides, t->offset);
}

/* ---- The backward walk --------------------------------------------------- */

/* Fails (AG_ERR_INVALID, like PyTorch's "modified by an inplace operation")
 * when a tensor whose values the node's backward reads was written in place
 * after the node recorded it: the gradient would silently be wrong. */
static ag_status check_versions(const char *op, const agi_node *node)
{
    for (int j = 0; j < AGI_NODE_MAX_INPUTS + AGI_NODE_MAX_SAVED; j++) {
        bool input = j < AGI_NODE_MAX_INPUTS;
        int slot = input ? j : j - AGI_NODE_MAX_INPUTS;
        const ag_tensor *t = input ? node->inputs[slot] : node->saved[slot];
        if (!t || (input && !(node->reads_inputs & (1u << slot)))) continue;
        unsigned long long then = input ? node->in_version[slot] : node->saved_version[slot];
        unsigned long long now = atomic_load(&t->storage->version);
        if (now == then) continue;
        char a[192];
        return agi_error(AG_ERR_INVALID, op,
                         "the gradient of %s needs the values of its %s %d (%s %s), which were "
                         "modified in place after %s ran (version %llu, now %llu): run the "
                         "backward before changing the tensor, or change a clone (ag_clone)",
                         node->name, input ? "input" : "saved tensor", slot,
                         ag_dtype_name(t->dtype), agi_fmt_shape(a, t->ndim, t->shape), node->name,
                         then, now);
    }
    return AG_OK;
}

typedef struct entry {
    ag_tensor *tensor; /* borrowed: the graph keeps it alive */
    ag_tensor *grad;   /* accumulated gradient (owned by the walk's scope) */
    agi_grad_parts parts; /* gradient pieces from slice views, not yet in grad */
    int pending;       /* consumers not yet processed */
} entry;

typedef struct walk {
    entry *items;
    size_t count, cap;
} walk;

static entry *walk_find(walk *w, const ag_tensor *t)
{
    for (size_t i = 0; i < w->count; i++)
        if (w->items[i].tensor == t) return &w->items[i];
    return NULL;
}

static entry *walk_add(walk *w, ag_tensor *t)
{
    if (w->count == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        entry *grown = agi_realloc(w->items, cap * sizeof *grown);
        if (!grown) return NULL;
        w->items = grown;
        w->cap = cap;
    }
    w->items[w->count] = (entry){.tensor = t};
    return &w->items[w->count++];
}

/* Collects every tensor reachable through grad_fn that requires grad and
 * counts, for each, how many graph edges consume it. Iterative DFS. */
static ag_status collect(walk *w, ag_tensor *root)
{
    if (!walk_add(w, root)) return AG_ERR_OOM;
    ag_tensor **stack = agi_malloc(64 * sizeof *stack);
    size_t depth = 0, cap = 64;
    if (!stack) return AG_ERR_OOM;
    stack[depth++] = root;
    while (depth) {
        ag_tensor *t = stack[--depth];
        if (!t->grad_fn) continue;
        for (int i = 0; i < t->grad_fn->n_inputs; i++) {
            ag_tensor *in = t->grad_fn->inputs[i];
            if (!in || !in->requires_grad) continue;
            entry *e = walk_find(w, in);
            if (!e) {
                e = walk_add(w, in);
                if (!e) goto oom;
                if (depth == cap) {
                    ag_tensor **grown = agi_realloc(stack, cap * 2 * sizeof *grown);
                    if (!grown) goto oom;
                    stack = grown;
                    cap *= 2;
                }
                stack[depth++] = in;
            }
            e->pending++;
        }
    }
    free(stack);
    return AG_OK;
oom:
    free(stack);
    return AG_ERR_OOM;
}

/* Moves the entry's slice pieces (if any) into its gradient. */
static ag_status flush_parts(entry *e)
{
    ag_tensor *p;
    ag_status st = agi_grad_parts_finish(&e->parts, &p);
    if (st != AG_OK || !p) return st;
    if (!e->grad) {
        e->grad = p;
        return AG_OK;
    }
    ag_tensor *sum = ag_add(e->grad, p);
    if (!sum) return ag_last_status();
    e->grad = sum;
    return AG_OK;
}

static ag_status accumulate(entry *e, ag_tensor *g)
{
    ag_status st = flush_parts(e);
    if (st != AG_OK) return st;
    if (!e->grad) {
        e->grad = g;
        return AG_OK;
    }
    ag_tensor *sum = ag_add(e->grad, g);
    if (!sum) return ag_last_status();
    e->grad = sum;
    return AG_OK;
}

/* Stores the walk's gradient into t->grad (adding to any existing one). The
 * stored tensor must outlive the walk's scope, so it is retained. */
static ag_status store_grad(ag_tensor *t, ag_tensor *g)
{
    ag_tensor *total = g;
    if (t->grad) {
        total = ag_add(t->grad, g);
        if (!total) return ag_last_status();
    } else if (g->storage == t->storage || !ag_is_contiguous(g) || g->ndim != t->ndim) {
        total = ag_clone(g); /* never alias the tensor or another grad */
        if (!total) return ag_last_status();
    }
    if (total->ndim != t->ndim) {
        total = ag_reshape(total, t->ndim, t->shape);
        if (!total) return ag_last_status();
    }
    ag_retain(total);
    ag_release(t->grad);
    t->grad = total;
    return AG_OK;
}

ag_status ag_backward(ag_tensor *root, const ag_tensor *grad_output)
{
    const char *op = "ag_backward";
    if (!agi_check_tensor(op, root, "root")) return ag_last_status();
    if (!root->requires_grad) {
        char a[192];
        return agi_error(AG_ERR_INVALID, op, "tensor %s does not require grad (no graph to walk)",
                         agi_fmt_shape(a, root->ndim, root->shape));
    }
    if (!grad_output && ag_numel(root) != 1) {
        char buf[192];
        return agi_error(AG_ERR_INVALID, op,
                         "grad_output may be omitted only for one-element tensors, got %s",
                         agi_fmt_shape(buf, root->ndim, root->shape));
    }
    if (grad_output) {
        if (!agi_tensor_alive(op, grad_output)) return ag_last_status();
        if (grad_output->ndim != root->ndim ||
            memcmp(grad_output->shape, root->shape, (size_t)root->ndim * 8) != 0) {
            char a[192], b[192];
            return agi_error(AG_ERR_INVALID, op, "grad_output %s does not match root %s",
                             agi_fmt_shape(a, grad_output->ndim, grad_output->shape),
                             agi_fmt_shape(b, root->ndim, root->shape));
        }
        if (!agi_check_same_device(op, root, grad_output)) return ag_last_status();
    }

    walk w = {0};
    ag_status st = collect(&w, root);
    if (st != AG_OK) {
        free(w.items);
        return agi_error(AG_ERR_OOM, op, "host out of memory");
    }

    ag_scope_begin();
    ag_no_grad_begin();
    w.items[0].grad = grad_output ? (ag_tensor *)grad_output : ag_ones_like(root);
    if (!w.items[0].grad) st = ag_last_status();

    /* Process in topological order: a tensor is ready when every consumer has
     * passed its gradient on. Ready tensors are found by scanning (graphs of
     * a training step are small enough). */
    size_t done = 0;
    bool *finished = agi_calloc(w.count, sizeof *finished);
    if (!finished) st = agi_error(AG_ERR_OOM, op, "host out of memory");
    while (st == AG_OK && done < w.count) {
        size_t i;
        for (i = 0; i < w.count; i++)
            if (!finished[i] && w.items[i].pending == 0) break;
        if (i == w.count) break; /* unreachable for a DAG */
        finished[i] = true;
        done++;
        if ((st = flush_parts(&w.items[i])) != AG_OK) break;
        ag_tensor *t = w.items[i].tensor;
        ag_tensor *g = w.items[i].grad;
        if (!g) continue; /* no gradient flowed here (e.g. through a non-differentiable path) */
        if (!t->grad_fn || t->retains_grad) {
            st = store_grad(t, g);
            if (st == AG_OK && !t->grad_fn && grad_ready_fn) st = grad_ready_fn(grad_ready_ctx, t);
            if (st != AG_OK) break;
        }
        agi_node *node = t->grad_fn;
        if (!node) continue;
        if (agi_node_is_slice(node) && node->inputs[0] && node->inputs[0]->requires_grad) {
            /* the slice's gradient goes straight into a piece of its input's */
            entry *e = walk_find(&w, node->inputs[0]);
            if (agi_grad_parts_take(&e->parts, e->grad != NULL, node, g, &st)) {
                e->pending--;
                if (st == AG_OK) continue;
                char msg[768];
                snprintf(msg, sizeof msg, "%s", ag_last_error());
                agi_error(st, op, "in backward of %s: %s", node->name, msg);
                break;
            }
        }
        if ((st = check_versions(op, node)) != AG_OK) break;
        ag_tensor *grads[AGI_NODE_MAX_INPUTS] = {0};
        st = node->backward(node, g, grads);
        if (st != AG_OK) {
            char msg[768];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            agi_error(st, op, "in backward of %s: %s", node->name, msg);
            break;
        }
        for (int k = 0; k < node->n_inputs; k++) {
            ag_tensor *in = node->inputs[k];
            if (!in || !in->requires_grad) continue;
            entry *e = walk_find(&w, in);
            e->pending--;
            if (grads[k] && grads[k]->dtype != in->dtype && agi_dtype_is_float(in->dtype)) {
                /* A gradient has its tensor's dtype: a backward that computed
                 * in f32 for a 16-bit input (or the reverse) is rounded here. */
                grads[k] = ag_cast(grads[k], in->dtype);
                if (!grads[k]) {
                    st = ag_last_status();
                    break;
                }
            }
            if (grads[k]) {
                st = accumulate(e, grads[k]);
                if (st != AG_OK) break;
            }
        }
    }
    free(finished);
    ag_no_grad_end();
    ag_scope_end();
    free(w.items);
    return st;
}
