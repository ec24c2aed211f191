/* src/device.c — the backend registry: listing, opening and closing devices. */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const agi_backend *const backends[] = {
#ifdef AG_HAVE_VULKAN
    &agi_backend_vulkan,
#endif
#ifdef AG_HAVE_OPENCL
    &agi_backend_opencl,
#endif
    &agi_backend_cpu,
};
enum { n_backends = sizeof backends / sizeof backends[0] };

static const agi_backend *backend_by_name(const char *name, size_t len)
{
    for (int i = 0; i < n_backends; i++)
        if (strlen(backends[i]->name) == len && strncmp(backends[i]->name, name, len) == 0)
            return backends[i];
    return NULL;
}

int ag_device_list(ag_device_info *out, int max)
{
    if (max < 0 || (max > 0 && !out))
        return agi_error(AG_ERR_INVALID, "ag_device_list", "%s (max = %d)",
                         max < 0 ? "max is negative" : "out is NULL", max);
    int total = 0;
    for (int b = 0; b < n_backends; b++) {
        int room = max - total > 0 ? max - total : 0;
        int n = backends[b]->enumerate(room ? out + total : NULL, room);
        if (n > 0) total += n;
    }
    return total;
}

static ag_device *open_index(const agi_backend *be, int index, const char *spec)
{
    ag_device *dev = agi_calloc(1, sizeof *dev);
    if (!dev) {
        agi_error(AG_ERR_OOM, "ag_device_open", "host out of memory");
        return NULL;
    }
    ag_status st = be->open(index, &dev->impl, &dev->info);
    if (st != AG_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        agi_error(st, "ag_device_open", "cannot open \"%s\": %s", spec, msg);
        free(dev);
        return NULL;
    }
    static atomic_int next_handle_id;
    dev->handle_id = atomic_fetch_add(&next_handle_id, 1) + 1;
    dev->be = be;
    dev->info.backend = be->kind;
    atomic_init(&dev->refs, 1);
    atomic_init(&dev->closed, false);
    atomic_init(&dev->err_armed, false);
    pthread_mutex_init(&dev->err_lock, NULL);
    pthread_mutex_init(&dev->graph_lock, NULL);
    atomic_init(&dev->n_graphs, 0);
    dev->magic = AGI_DEVICE_MAGIC;
    return dev;
}

/* Rank for "auto" and for a backend name without an index: discrete GPU
 * first, then integrated, then other GPU-like devices; CPU-type devices of
 * the GPU backends (lavapipe, PoCL) rank lowest, whatever order the Vulkan
 * loader or the OpenCL ICD files list them in. Between backends, the CPU
 * backend beats a GPU backend's CPU-type device. */
static int device_rank(const ag_device_info *d)
{
    if (d->backend == AG_BACKEND_CPU) return 1;
    switch (d->type) {
    case AG_DEVICE_DISCRETE_GPU: return 4;
    case AG_DEVICE_INTEGRATED_GPU: return 3;
    case AG_DEVICE_OTHER: return 2;
    default: return 0;
    }
}

/* Index of the best-ranked entry (the first on ties), -1 when n == 0. */
static int best_device(const ag_device_info *infos, int n)
{
    int best = -1;
    for (int i = 0; i < n; i++)
        if (best < 0 || device_rank(&infos[i]) > device_rank(&infos[best])) best = i;
    return best;
}

static void unknown_backend_error(const char *spec)
{
    agi_error(AG_ERR_NOT_FOUND, "ag_device_open",
              "unknown device \"%s\" (use auto, cpu, vulkan[:N] or opencl[:P.D]; "
              "backends built: %s%s%s)",
              spec,
#ifdef AG_HAVE_VULKAN
              "vulkan ",
#else
              "",
#endif
#ifdef AG_HAVE_OPENCL
              "opencl ",
#else
              "",
#endif
              "cpu");
}

/* Resolves `spec` to a backend and a device index of that backend's list
 * (and the concrete spec in `out`); sets the error and returns -1 when there
 * is no such device. */
static int resolve(const char *spec, const agi_backend **be_out, char *out, size_t cap)
{
    if (!spec || spec[0] == '\0' || strcmp(spec, "auto") == 0) {
        const char *env = getenv("AG_DEVICE");
        if (env && env[0] && strcmp(env, "auto") != 0) return resolve(env, be_out, out, cap);
        ag_device_info infos[64];
        int n = ag_device_list(infos, 64);
        if (n > 64) n = 64;
        int best = best_device(infos, n > 0 ? n : 0);
        return resolve(best >= 0 && device_rank(&infos[best]) > 0 ? infos[best].spec : "cpu",
                       be_out, out, cap);
    }
    const char *colon = strchr(spec, ':');
    size_t len = colon ? (size_t)(colon - spec) : strlen(spec);
    const agi_backend *be = backend_by_name(spec, len);
    if (!be) {
        unknown_backend_error(spec);
        return -1;
    }
    int count = be->enumerate(NULL, 0);
    ag_device_info *infos = count > 0 ? agi_calloc((size_t)count, sizeof *infos) : NULL;
    if (count > 0 && !infos) {
        agi_error(AG_ERR_OOM, "ag_device_open", "host out of memory");
        return -1;
    }
    if (count > 0) {
        int got = be->enumerate(infos, count); /* a device may vanish in between */
        if (got < count) count = got > 0 ? got : 0;
    }
    int index = -1;
    if (!colon) {
        index = best_device(infos, count > 0 ? count : 0);
    } else {
        for (int i = 0; i < count; i++)
            if (strcmp(infos[i].spec, spec) == 0) index = i;
    }
    if (index >= 0) snprintf(out, cap, "%s", infos[index].spec);
    free(infos);
    if (index < 0) {
        agi_error(AG_ERR_NOT_FOUND, "ag_device_open", "no device \"%s\" (%d %s device%s found)",
                  spec, count > 0 ? count : 0, be->name, count == 1 ? "" : "s");
        return -1;
    }
    *be_out = be;
    return index;
}

ag_status ag_device_resolve(const char *spec, char *out, size_t cap)
{
    if (!out || cap == 0)
        return agi_error(AG_ERR_INVALID, "ag_device_resolve", "output buffer is NULL or empty");
    char buf[sizeof ((ag_device_info *)0)->spec];
    const agi_backend *be = NULL;
    if (resolve(spec, &be, buf, sizeof buf) < 0) return agi_error_in("ag_device_resolve");
    if (strlen(buf) >= cap)
        return agi_error(AG_ERR_INVALID, "ag_device_resolve", "output buffer of %zu bytes too small for \"%s\"",
                         cap, buf);
    snprintf(out, cap, "%s", buf);
    return AG_OK;
}

ag_device *ag_device_open(const char *spec)
{
    char concrete[sizeof ((ag_device_info *)0)->spec];
    const agi_backend *be = NULL;
    int index = resolve(spec, &be, concrete, sizeof concrete);
    if (index < 0) return NULL;
    return open_index(be, index, spec && spec[0] ? spec : "auto");
}

void agi_device_retain(ag_device *dev) { atomic_fetch_add(&dev->refs, 1); }

void agi_device_release(ag_device *dev)
{
    if (!dev || atomic_fetch_sub(&dev->refs, 1) != 1) return;
    dev->be->sync(dev->impl);
    agi_device_error_free(dev);
    free(dev->held); /* empty: every graph holds a reference to its device */
    pthread_mutex_destroy(&dev->graph_lock);
    dev->be->close(dev->impl);
    dev->magic = AGI_DEAD_MAGIC;
    agi_quarantine(dev);
}

void ag_device_close(ag_device *dev)
{
    if (!dev) return;
    if (dev->magic != AGI_DEVICE_MAGIC || atomic_exchange(&dev->closed, true)) {
        agi_error(AG_ERR_INVALID, "ag_device_close", "device %p was already closed",
                  (const void *)dev);
        return;
    }
    agi_device_release(dev);
}

const ag_device_info *ag_device_get_info(const ag_device *dev)
{
    return dev && agi_device_alive("ag_device_get_info", dev) ? &dev->info : NULL;
}

ag_status ag_device_sync(ag_device *dev)
{
    if (!dev) return agi_error(AG_ERR_INVALID, "ag_device_sync", "device is NULL");
    if (!agi_device_alive("ag_device_sync", dev)) return AG_ERR_INVALID;
    ag_status st = dev->be->sync(dev->impl);
    return st != AG_OK ? st : agi_device_check("ag_device_sync", dev);
}

int64_t ag_device_live_buffers(const ag_device *dev)
{
    return dev && dev->magic == AGI_DEVICE_MAGIC ? atomic_load(&dev->live_buffers) : -1;
}

ag_status ag_device_get_counters(ag_device *dev, ag_device_counters *out)
{
    if (!dev || !out)
        return agi_error(AG_ERR_INVALID, "ag_device_get_counters", "%s is NULL", dev ? "out" : "device");
    if (!agi_device_alive("ag_device_get_counters", dev)) return AG_ERR_INVALID;
    memset(out, 0, sizeof *out);
    dev->be->counters(dev->impl, out);
    return AG_OK;
}

ag_status ag_device_empty_cache(ag_device *dev)
{
    if (!dev) return agi_error(AG_ERR_INVALID, "ag_device_empty_cache", "device is NULL");
    if (!agi_device_alive("ag_device_empty_cache", dev)) return AG_ERR_INVALID;
    return dev->be->empty_cache(dev->impl);
}
