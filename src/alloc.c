/* src/alloc.c — the library's host allocations, with a failure injector for
 * tests (agi_alloc_fail_at). Every malloc/calloc/realloc/strdup in src/ goes
 * through here, so tests can make any one of them fail and check that it
 * becomes AG_ERR_OOM, never an abort or a crash. */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Allocations left before the injected failure; 0: injector off. */
static atomic_llong countdown;
static atomic_llong injected;

void agi_alloc_fail_at(int64_t n)
{
    atomic_store(&injected, 0);
    atomic_store(&countdown, n > 0 ? n : 0);
}

int64_t agi_alloc_failures(void) { return atomic_load(&injected); }

/* True when this allocation is the one chosen to fail. */
static bool fail_now(void)
{
    if (atomic_load_explicit(&countdown, memory_order_relaxed) <= 0) return false;
    if (atomic_fetch_sub(&countdown, 1) != 1) return false;
    atomic_fetch_add(&injected, 1);
    return true;
}

void *agi_malloc(size_t n) { return fail_now() ? NULL : malloc(n); }
void *agi_calloc(size_t n, size_t size) { return fail_now() ? NULL : calloc(n, size); }
void *agi_realloc(void *p, size_t n) { return fail_now() ? NULL : realloc(p, n); }
char *agi_strdup(const char *s) { return fail_now() ? NULL : strdup(s); }
char *agi_strndup(const char *s, size_t n) { return fail_now() ? NULL : strndup(s, n); }
