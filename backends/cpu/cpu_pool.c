/* backends/cpu/cpu_pool.c — a small pthread pool with a parallel-for.
 *
 * The calling thread takes part in every parallel region. Work is split into
 * chunks handed out through an atomic counter, so a thread slowed down by
 * another process on the machine does not hold the others back. A region
 * started from inside a region runs serially on the calling thread. */
#include "cpu.h"

#include <stdlib.h>
#include <unistd.h>

static _Thread_local bool in_region;

/* Runs chunks of the current job until none is left. */
static void run_chunks(cpu_pool *p)
{
    for (;;) {
        int64_t c = atomic_fetch_add(&p->next, 1);
        int64_t begin = c * p->chunk;
        if (begin >= p->n) break;
        int64_t end = begin + p->chunk < p->n ? begin + p->chunk : p->n;
        p->fn(p->ctx, begin, end);
    }
}

static void *worker_main(void *arg)
{
    cpu_pool *p = arg;
    in_region = true;
    uint64_t seen = 0;
    pthread_mutex_lock(&p->mu);
    for (;;) {
        while (!p->stop && p->generation == seen) pthread_cond_wait(&p->wake, &p->mu);
        if (p->stop) break;
        seen = p->generation;
        pthread_mutex_unlock(&p->mu);
        run_chunks(p);
        pthread_mutex_lock(&p->mu);
        if (--p->active == 0) pthread_cond_signal(&p->done);
    }
    pthread_mutex_unlock(&p->mu);
    return NULL;
}

bool cpu_pool_init(cpu_pool *p, int nthreads)
{
    p->nthreads = 1;
    p->workers = NULL;
    p->pid = getpid();
    p->generation = 0;
    p->active = 0;
    p->stop = false;
    atomic_init(&p->next, 0);
    pthread_mutex_init(&p->mu, NULL);
    pthread_mutex_init(&p->submit, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    if (nthreads <= 1) return true;
    p->workers = calloc((size_t)nthreads - 1, sizeof *p->workers);
    if (!p->workers) return false;
    int started = 0;
    for (int i = 0; i < nthreads - 1; i++) {
        if (pthread_create(&p->workers[i], NULL, worker_main, p) != 0) break;
        started++;
    }
    p->nthreads = started + 1;
    return started == nthreads - 1;
}

void cpu_pool_destroy(cpu_pool *p)
{
    pthread_mutex_lock(&p->mu);
    p->stop = true;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    /* In a forked child the workers do not exist: nothing to join. */
    if (p->pid == getpid())
        for (int i = 0; i < p->nthreads - 1; i++) pthread_join(p->workers[i], NULL);
    free(p->workers);
    p->workers = NULL;
    p->nthreads = 1;
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    pthread_mutex_destroy(&p->mu);
    pthread_mutex_destroy(&p->submit);
}

void cpu_parallel_for(cpu_pool *p, int64_t n, int64_t grain, cpu_range_fn fn, void *ctx)
{
    if (n <= 0) return;
    if (grain < 1) grain = 1;
    /* Serial when small, when nested, and in a child forked after the pool
     * started (its workers stayed in the parent). */
    if (!p || p->nthreads <= 1 || n <= grain || in_region || p->pid != getpid()) {
        fn(ctx, 0, n);
        return;
    }
    /* About four chunks per thread, none smaller than grain. */
    int64_t nchunks = (int64_t)p->nthreads * 4;
    int64_t chunk = (n + nchunks - 1) / nchunks;
    if (chunk < grain) chunk = grain;

    pthread_mutex_lock(&p->submit);
    pthread_mutex_lock(&p->mu);
    p->fn = fn;
    p->ctx = ctx;
    p->n = n;
    p->chunk = chunk;
    atomic_store(&p->next, 0);
    p->active = p->nthreads - 1;
    p->generation++;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);

    in_region = true;
    run_chunks(p);
    in_region = false;

    pthread_mutex_lock(&p->mu);
    while (p->active > 0) pthread_cond_wait(&p->done, &p->mu);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_unlock(&p->submit);
}
