/* src/io/name_index.c — open-addressing hash index of names (see name_index.h). */
#include "internal.h"
#include "io/name_index.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static uint64_t hash(const char *s)
{
    uint64_t h = UINT64_C(14695981039346656037);
    for (; *s; s++) h = (h ^ (unsigned char)*s) * UINT64_C(1099511628211);
    return h;
}

/* The slot holding `name`, or the empty slot where it belongs. */
static agi_name_slot *probe(agi_name_slot *slots, size_t cap, const char *name)
{
    size_t i = (size_t)hash(name) & (cap - 1);
    while (slots[i].name && strcmp(slots[i].name, name) != 0) i = (i + 1) & (cap - 1);
    return &slots[i];
}

int agi_name_index_find(const agi_name_index *ix, const char *name)
{
    if (!ix->cap) return -1;
    const agi_name_slot *s = probe(ix->slots, ix->cap, name);
    return s->name ? s->pos : -1;
}

bool agi_name_index_put(agi_name_index *ix, const char *name, int pos)
{
    if (2 * (ix->count + 1) > ix->cap) {
        size_t cap = ix->cap ? ix->cap * 2 : 16;
        agi_name_slot *slots = agi_calloc(cap, sizeof *slots);
        if (!slots) return false;
        for (size_t i = 0; i < ix->cap; i++)
            if (ix->slots[i].name) *probe(slots, cap, ix->slots[i].name) = ix->slots[i];
        free(ix->slots);
        ix->slots = slots;
        ix->cap = cap;
    }
    *probe(ix->slots, ix->cap, name) = (agi_name_slot){name, pos};
    ix->count++;
    return true;
}

void agi_name_index_free(agi_name_index *ix)
{
    free(ix->slots);
    *ix = (agi_name_index){0};
}
