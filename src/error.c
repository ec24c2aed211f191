/* src/error.c — the per-thread last error, status names and shape formatting. */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char last_message[1024];
static _Thread_local ag_status last_status = AG_OK;

const char *ag_last_error(void) { return last_message; }
ag_status ag_last_status(void) { return last_status; }

void ag_clear_error(void)
{
    last_message[0] = '\0';
    last_status = AG_OK;
}

const char *ag_status_name(ag_status status)
{
    switch (status) {
    case AG_OK: return "AG_OK";
    case AG_ERR_INVALID: return "AG_ERR_INVALID";
    case AG_ERR_OOM: return "AG_ERR_OOM";
    case AG_ERR_UNSUPPORTED: return "AG_ERR_UNSUPPORTED";
    case AG_ERR_DEVICE: return "AG_ERR_DEVICE";
    case AG_ERR_IO: return "AG_ERR_IO";
    case AG_ERR_FORMAT: return "AG_ERR_FORMAT";
    case AG_ERR_NOT_FOUND: return "AG_ERR_NOT_FOUND";
    }
    return "AG_ERR_UNKNOWN";
}

ag_status agi_set_error(ag_status status, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_message, sizeof last_message, fmt, ap);
    va_end(ap);
    last_status = status;
    return status;
}

ag_status agi_error(ag_status status, const char *op, const char *fmt, ...)
{
    char body[896];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    snprintf(last_message, sizeof last_message, "%s: %s", op, body);
    last_status = status;
    return status;
}

char *agi_fmt_shape(char *buf, int ndim, const int64_t *shape)
{
    size_t cap = 192, len = 0;
    buf[len++] = '[';
    for (int d = 0; d < ndim && len < cap - 24; d++)
        len += (size_t)snprintf(buf + len, cap - len, d ? ",%lld" : "%lld", (long long)shape[d]);
    buf[len++] = ']';
    buf[len] = '\0';
    return buf;
}

const char *ag_version(void) { return "0.1.0"; }

size_t ag_dtype_size(ag_dtype dtype)
{
    switch (dtype) {
    case AG_F32: return 4;
    case AG_I32: return 4;
    case AG_U8: return 1;
    default: return 0;
    }
}

const char *ag_dtype_name(ag_dtype dtype)
{
    switch (dtype) {
    case AG_F32: return "f32";
    case AG_I32: return "i32";
    case AG_U8: return "u8";
    default: return "?";
    }
}
