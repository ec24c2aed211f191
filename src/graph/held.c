/* src/graph/held.c — the device's registry of buffers that live graphs use
 * but do not own: parameters, inputs, gradients and optimizer state. When
 * such a tensor is released while a graph still uses its buffer, the buffer
 * stays allocated (counted as live) until the last graph using it is freed.
 *
 * Every storage release asks this registry while any graph lives, so it is a
 * hash set keyed by the buffer's address: open addressing with linear probing
 * in a power-of-two table kept at most half full (tombstones included), so a
 * lookup costs O(1) however many buffers the graphs hold. */
#include "graph_internal.h"

#include <stdint.h>
#include <stdlib.h>

/* A slot's buf: NULL when never used, TOMBSTONE when its entry was removed. */
#define TOMBSTONE ((agi_buffer *)(uintptr_t)1)

struct agi_held {
    agi_buffer *buf;
    int graphs;    /* live graphs (and captures) using it */
    bool orphaned; /* its storage was released: the last graph frees it */
};

static size_t hash_ptr(const agi_buffer *buf, int cap)
{
    uint64_t x = (uint64_t)(uintptr_t)buf;
    x ^= x >> 33;
    x *= 0xff51afd7ed558ccdULL; /* a 64-bit finaliser mix: allocator addresses
                                   share their low bits */
    x ^= x >> 33;
    return (size_t)(x & (uint64_t)(cap - 1));
}

/* The slot holding buf, or -1. */
static int find(const ag_device *dev, const agi_buffer *buf)
{
    if (dev->cap_held == 0) return -1;
    for (size_t i = hash_ptr(buf, dev->cap_held), n = 0; n < (size_t)dev->cap_held;
         i = (i + 1) & (size_t)(dev->cap_held - 1), n++) {
        if (dev->held[i].buf == buf) return (int)i;
        if (dev->held[i].buf == NULL) return -1;
    }
    return -1;
}

/* Puts an entry into a table known to have a free slot. */
static int insert(struct agi_held *table, int cap, struct agi_held e)
{
    size_t i = hash_ptr(e.buf, cap);
    while (table[i].buf != NULL && table[i].buf != TOMBSTONE) i = (i + 1) & (size_t)(cap - 1);
    table[i] = e;
    return (int)i;
}

/* Makes room for one more entry: a fresh table of twice the live count (at
 * least 64 slots), without tombstones. Unchanged on failure. */
static ag_status reserve_one(ag_device *dev)
{
    if (2 * (dev->n_held + dev->n_held_dead + 1) <= dev->cap_held) return AG_OK;
    int cap = 64;
    while (cap < 4 * (dev->n_held + 1)) cap *= 2;
    struct agi_held *t = agi_calloc((size_t)cap, sizeof *t);
    if (!t) return agi_set_error(AG_ERR_OOM, "graph: host out of memory registering a held buffer");
    for (int i = 0; i < dev->cap_held; i++)
        if (dev->held[i].buf != NULL && dev->held[i].buf != TOMBSTONE) insert(t, cap, dev->held[i]);
    free(dev->held);
    dev->held = t;
    dev->cap_held = cap;
    dev->n_held_dead = 0;
    return AG_OK;
}

ag_status agi_held_add(ag_device *dev, agi_buffer *buf)
{
    pthread_mutex_lock(&dev->graph_lock);
    int i = find(dev, buf);
    if (i < 0) {
        ag_status st = reserve_one(dev);
        if (st != AG_OK) {
            pthread_mutex_unlock(&dev->graph_lock);
            return st;
        }
        i = insert(dev->held, dev->cap_held, (struct agi_held){buf, 0, false});
        dev->n_held++;
    }
    dev->held[i].graphs++;
    pthread_mutex_unlock(&dev->graph_lock);
    return AG_OK;
}

void agi_held_drop(ag_device *dev, agi_buffer *buf)
{
    pthread_mutex_lock(&dev->graph_lock);
    int i = find(dev, buf);
    bool free_it = false;
    if (i >= 0 && --dev->held[i].graphs == 0) {
        free_it = dev->held[i].orphaned;
        dev->held[i] = (struct agi_held){TOMBSTONE, 0, false};
        dev->n_held--;
        dev->n_held_dead++;
    }
    pthread_mutex_unlock(&dev->graph_lock);
    if (free_it) {
        dev->be->buffer_free(dev->impl, buf);
        atomic_fetch_sub(&dev->live_buffers, 1);
    }
}

bool agi_held_adopt(ag_device *dev, agi_buffer *buf)
{
    if (atomic_load(&dev->n_graphs) == 0) return false;
    pthread_mutex_lock(&dev->graph_lock);
    int i = find(dev, buf);
    if (i >= 0) dev->held[i].orphaned = true;
    pthread_mutex_unlock(&dev->graph_lock);
    return i >= 0;
}
