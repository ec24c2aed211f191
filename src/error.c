/* src/error.c — status names, op-prefixed errors and shape formatting (the
 * per-thread store itself is backends/base/error.c). */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

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

ag_status agi_error(ag_status status, const char *op, const char *fmt, ...)
{
    char body[896];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(body, sizeof body, fmt, ap);
    va_end(ap);
    return agi_set_error(status, "%s: %s", op, body);
}

ag_status agi_error_in(const char *op)
{
    ag_status st = ag_last_status();
    if (st == AG_OK) st = AG_ERR_INVALID;
    char msg[800];
    snprintf(msg, sizeof msg, "%s", ag_last_error());
    size_t n = strlen(op);
    if (strncmp(msg, op, n) == 0 && msg[n] == ':') return st; /* already named */
    return agi_error(st, op, "%s", msg);
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
