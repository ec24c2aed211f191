/* src/scope.c — per-thread scopes that own the tensors created inside them.
 * Host OOM never aborts: the first AGI_INLINE_SCOPES levels need no
 * allocation; a deeper ag_scope_begin that cannot grow the stack leaves the
 * new level's tensors to the enclosing scope (AG_ERR_OOM is set), and a
 * tensor that cannot be registered is released and its op fails with
 * AG_ERR_OOM. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGI_INLINE_SCOPES 16

typedef struct scope {
    ag_tensor **items;
    size_t count, cap;
} scope;

static _Thread_local scope inline_scopes[AGI_INLINE_SCOPES];
static _Thread_local scope *scopes;          /* inline_scopes or a heap copy */
static _Thread_local size_t scope_depth, scope_cap;
/* Levels opened while the stack could not grow; each ag_scope_end closes one
 * of them first (their tensors went to the enclosing scope). */
static _Thread_local size_t lost_levels;

void ag_scope_begin(void)
{
    if (!scopes) {
        scopes = inline_scopes;
        scope_cap = AGI_INLINE_SCOPES;
    }
    if (lost_levels == 0 && scope_depth == scope_cap) {
        size_t cap = scope_cap * 2;
        scope *grown = scopes == inline_scopes ? agi_malloc(cap * sizeof *grown)
                                               : agi_realloc(scopes, cap * sizeof *grown);
        if (grown) {
            if (scopes == inline_scopes) memcpy(grown, inline_scopes, sizeof inline_scopes);
            scopes = grown;
            scope_cap = cap;
        }
    }
    if (lost_levels > 0 || scope_depth == scope_cap) {
        lost_levels++;
        agi_error(AG_ERR_OOM, "ag_scope_begin",
                  "host out of memory for scope level %zu; its tensors belong to the enclosing "
                  "scope", scope_depth + lost_levels);
        return;
    }
    scopes[scope_depth++] = (scope){0};
}

void ag_scope_end(void)
{
    if (lost_levels > 0) {
        lost_levels--;
        return;
    }
    if (scope_depth == 0) return;
    scope s = scopes[--scope_depth];
    for (size_t i = 0; i < s.count; i++) ag_release(s.items[i]);
    free(s.items);
    if (scope_depth == 0 && scopes != inline_scopes) {
        free(scopes);
        scopes = NULL;
        scope_cap = 0;
    }
}

ag_tensor *agi_scope_track(ag_tensor *t)
{
    if (!t || scope_depth == 0) return t; /* the caller owns it */
    scope *s = &scopes[scope_depth - 1];
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        ag_tensor **grown = agi_realloc(s->items, cap * sizeof *grown);
        if (!grown) {
            char buf[192];
            agi_error(AG_ERR_OOM, "ag_scope", "host out of memory registering a %s tensor %s",
                      ag_dtype_name(t->dtype), agi_fmt_shape(buf, t->ndim, t->shape));
            ag_release(t);
            return NULL;
        }
        s->items = grown;
        s->cap = cap;
    }
    s->items[s->count++] = t;
    return t;
}

size_t agi_scope_depth(void) { return scope_depth + lost_levels; }

void agi_discard(ag_tensor *t)
{
    if (t && scope_depth == 0) ag_release(t);
}

ag_tensor *agi_scope_return(const char *op, ag_tensor *out)
{
    if (out) {
        ag_retain(out); /* survives the scope's end */
    } else {
        ag_status st = ag_last_status();
        const char *msg = ag_last_error();
        if (strncmp(msg, op, strlen(op)) != 0) {
            char copy[768];
            snprintf(copy, sizeof copy, "%s", msg);
            agi_error(st != AG_OK ? st : AG_ERR_INVALID, op, "%s", copy);
        }
    }
    ag_scope_end();
    return agi_scope_track(out);
}

ag_tensor *agi_scope_return_node(const char *op, ag_tensor *out, agi_node *node, bool need_grad)
{
    out = agi_scope_return(op, out);
    if (!out || !need_grad) {
        agi_node_release(node);
        return out;
    }
    return agi_attach(out, node);
}
