/*
 * src/io/name_index.h — a hash index from names to positions (state dict
 * entries and metadata keys), so adding and finding stay O(1) for files with
 * millions of entries.
 *
 * The index stores the name pointers it is given; they must stay valid (and
 * unchanged) while indexed. Open addressing, FNV-1a, at most half full.
 */
#ifndef AG_IO_NAME_INDEX_H
#define AG_IO_NAME_INDEX_H

#include <stddef.h>
#include <stdbool.h>

typedef struct agi_name_slot {
    const char *name; /* NULL: empty */
    int pos;
} agi_name_slot;

typedef struct agi_name_index {
    agi_name_slot *slots;
    size_t cap, count; /* cap: 0 or a power of two */
} agi_name_index;

/* The position stored for `name`, or -1. */
int agi_name_index_find(const agi_name_index *ix, const char *name);
/* Stores name → pos (name must not be present). false on host OOM (the
 * index is unchanged then). */
bool agi_name_index_put(agi_name_index *ix, const char *name, int pos);
void agi_name_index_free(agi_name_index *ix);

#endif /* AG_IO_NAME_INDEX_H */
