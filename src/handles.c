/* src/handles.c — telling live handles from freed ones. Tensors and devices
 * carry a magic word that is overwritten when they die, and their memory is
 * kept in a quarantine of the most recently freed handles before it goes
 * back to the allocator, so a double ag_release, a tensor used after its
 * scope ended or a double ag_device_close finds the dead magic (a clear
 * error) instead of reused memory. A handle used long after it died (more
 * than AGI_QUARANTINE frees later) is beyond this check. */
#include "internal.h"

#include <pthread.h>
#include <stdlib.h>

#define AGI_QUARANTINE 1024

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static void *ring[AGI_QUARANTINE];
static size_t next;

void agi_quarantine(void *p)
{
    pthread_mutex_lock(&lock);
    void *oldest = ring[next];
    ring[next] = p;
    next = (next + 1) % AGI_QUARANTINE;
    pthread_mutex_unlock(&lock);
    free(oldest);
}

bool agi_tensor_alive(const char *op, const ag_tensor *t)
{
    if (t->magic == AGI_TENSOR_MAGIC) return true;
    agi_error(AG_ERR_INVALID, op, "%p is not a live tensor (released more often than it was "
              "retained, or used after the scope that owned it ended)", (const void *)t);
    return false;
}

bool agi_device_alive(const char *op, const ag_device *dev)
{
    if (dev->magic == AGI_DEVICE_MAGIC) return true;
    agi_error(AG_ERR_INVALID, op, "device %p was closed and destroyed (ag_device_close)",
              (const void *)dev);
    return false;
}
