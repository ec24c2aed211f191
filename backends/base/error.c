/* backends/base/error.c — the per-thread last error every layer writes. */
#include "base.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char last_message[1024];
static _Thread_local ag_status last_status = AG_OK;

const char *ag_last_error(void) { return last_message; }
ag_status ag_last_status(void) { return last_status; }

void ag_clear_error(void)
{
    last_message[0] = '\0';
    last_status = AG_OK;
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
