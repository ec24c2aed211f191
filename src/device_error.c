/* src/device_error.c — the device-side error word. Index kernels (GATHER,
 * SCATTER_ADD) get a 4-byte buffer per device and a code naming the op that
 * queued them; a kernel that meets an out-of-range index stores its code
 * there. The next ag_device_sync or host read (ag_tensor_read, ag_item)
 * reads the word when an index kernel ran since the last check, clears it
 * and reports the op: the same bad index gives an error naming the op on
 * every device (on the CPU the op itself already checks before queuing). */
#include "internal.h"

#include <stdio.h>

static _Thread_local const char *caller;

const char *agi_index_caller_set(const char *op)
{
    const char *prev = caller;
    caller = op;
    return prev;
}

void agi_index_guard(const char *op, ag_device *dev, agi_kernel *k)
{
    const char *name = caller ? caller : op;
    pthread_mutex_lock(&dev->err_lock);
    if (!dev->err_buf) {
        int32_t zero = 0;
        agi_buffer *b = NULL;
        if (dev->be->buffer_alloc(dev->impl, sizeof zero, &b) != AG_OK ||
            dev->be->write(dev->impl, b, 0, &zero, sizeof zero) != AG_OK) {
            if (b) dev->be->buffer_free(dev->impl, b);
            pthread_mutex_unlock(&dev->err_lock);
            return; /* no error word: out-of-range indices only read 0 / are skipped */
        }
        dev->err_buf = b;
    }
    int code = 0;
    for (int i = 0; i < dev->n_err_ops && !code; i++)
        if (dev->err_ops[i] == name) code = i + 1;
    if (!code && dev->n_err_ops < AGI_ERR_OPS) {
        dev->err_ops[dev->n_err_ops++] = name;
        code = dev->n_err_ops;
    }
    k->err = dev->err_buf;
    k->err_code = code ? code : AGI_ERR_OPS + 1; /* more ops than slots: unnamed */
    atomic_store(&dev->err_armed, true);
    pthread_mutex_unlock(&dev->err_lock);
}

ag_status agi_device_check(const char *op, ag_device *dev)
{
    if (!atomic_exchange(&dev->err_armed, false)) return AG_OK;
    pthread_mutex_lock(&dev->err_lock);
    int32_t code = 0, zero = 0;
    ag_status st = dev->be->read(dev->impl, dev->err_buf, 0, &code, sizeof code);
    if (st == AG_OK && code != 0) st = dev->be->write(dev->impl, dev->err_buf, 0, &zero, sizeof zero);
    const char *name = code > 0 && code <= dev->n_err_ops ? dev->err_ops[code - 1] : "an index op";
    pthread_mutex_unlock(&dev->err_lock);
    if (st != AG_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        return agi_error(st, op, "reading the device error word: %s", msg);
    }
    if (code == 0) return AG_OK;
    return agi_error(AG_ERR_INVALID, name,
                     "index out of range on %s (found by %s; the kernel read 0 for it or skipped it)",
                     dev->info.spec, op);
}

void agi_device_error_free(ag_device *dev)
{
    if (dev->err_buf) dev->be->buffer_free(dev->impl, dev->err_buf);
    dev->err_buf = NULL;
    pthread_mutex_destroy(&dev->err_lock);
}
