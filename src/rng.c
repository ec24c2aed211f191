/* src/rng.c — the global counter-based generator state and determinism flag. */
#include "internal.h"

#include <threads.h>

static uint64_t rng_seed = 0x853c49e6748fea9bULL;
static uint64_t rng_offset;
static atomic_bool deterministic;
static mtx_t rng_lock;
static once_flag rng_once = ONCE_FLAG_INIT;

static void rng_init(void) { mtx_init(&rng_lock, mtx_plain); }

void ag_manual_seed(uint64_t seed) { ag_rng_set_state(seed, 0); }

void ag_rng_get_state(uint64_t *seed, uint64_t *offset)
{
    call_once(&rng_once, rng_init);
    mtx_lock(&rng_lock);
    if (seed) *seed = rng_seed;
    if (offset) *offset = rng_offset;
    mtx_unlock(&rng_lock);
}

void ag_rng_set_state(uint64_t seed, uint64_t offset)
{
    call_once(&rng_once, rng_init);
    mtx_lock(&rng_lock);
    rng_seed = seed;
    rng_offset = offset;
    mtx_unlock(&rng_lock);
}

void agi_rng_reserve(uint64_t n, uint64_t *seed, uint64_t *offset)
{
    call_once(&rng_once, rng_init);
    mtx_lock(&rng_lock);
    *seed = rng_seed;
    *offset = rng_offset;
    rng_offset += n;
    mtx_unlock(&rng_lock);
}

void ag_set_deterministic(bool on) { atomic_store(&deterministic, on); }
bool ag_is_deterministic(void) { return atomic_load(&deterministic); }
