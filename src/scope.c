/* src/scope.c — per-thread scopes that own the tensors created inside them. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct scope {
    ag_tensor **items;
    size_t count, cap;
} scope;

static _Thread_local scope *scopes;
static _Thread_local size_t scope_depth, scope_cap;

void ag_scope_begin(void)
{
    if (scope_depth == scope_cap) {
        size_t cap = scope_cap ? scope_cap * 2 : 8;
        scope *grown = realloc(scopes, cap * sizeof *grown);
        if (!grown) abort(); /* host OOM while opening a scope: nothing sane to do */
        scopes = grown;
        scope_cap = cap;
    }
    scopes[scope_depth++] = (scope){0};
}

void ag_scope_end(void)
{
    if (scope_depth == 0) return;
    scope s = scopes[--scope_depth];
    for (size_t i = 0; i < s.count; i++) ag_release(s.items[i]);
    free(s.items);
    if (scope_depth == 0) {
        free(scopes);
        scopes = NULL;
        scope_cap = 0;
    }
}

void agi_scope_track(ag_tensor *t)
{
    if (scope_depth == 0) return; /* the caller owns it */
    scope *s = &scopes[scope_depth - 1];
    if (s->count == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 64;
        ag_tensor **grown = realloc(s->items, cap * sizeof *grown);
        if (!grown) abort();
        s->items = grown;
        s->cap = cap;
    }
    s->items[s->count++] = t;
}

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
    if (out) agi_scope_track(out);
    return out;
}

ag_tensor *agi_scope_return_node(const char *op, ag_tensor *out, agi_node *node)
{
    out = agi_scope_return(op, out);
    if (!out) {
        agi_node_release(node);
        return NULL;
    }
    if (node) agi_attach(out, node);
    return out;
}
