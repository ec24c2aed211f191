/* src/graph/held.c — the device's registry of buffers that live graphs use
 * but do not own: parameters, inputs, gradients and optimizer state. When
 * such a tensor is released while a graph still uses its buffer, the buffer
 * stays allocated (counted as live) until the last graph using it is freed. */
#include "graph_internal.h"

#include <stdlib.h>

struct agi_held {
    agi_buffer *buf;
    int graphs;    /* live graphs (and captures) using it */
    bool orphaned; /* its storage was released: the last graph frees it */
};

static int find(ag_device *dev, agi_buffer *buf)
{
    for (int i = 0; i < dev->n_held; i++)
        if (dev->held[i].buf == buf) return i;
    return -1;
}

ag_status agi_held_add(ag_device *dev, agi_buffer *buf)
{
    pthread_mutex_lock(&dev->graph_lock);
    int i = find(dev, buf);
    if (i < 0) {
        if (dev->n_held == dev->cap_held) {
            int cap = dev->cap_held ? dev->cap_held * 2 : 64;
            struct agi_held *h = agi_realloc(dev->held, (size_t)cap * sizeof *h);
            if (!h) {
                pthread_mutex_unlock(&dev->graph_lock);
                return agi_set_error(AG_ERR_OOM, "host out of memory");
            }
            dev->held = h;
            dev->cap_held = cap;
        }
        i = dev->n_held++;
        dev->held[i] = (struct agi_held){buf, 0, false};
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
        dev->held[i] = dev->held[--dev->n_held];
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
