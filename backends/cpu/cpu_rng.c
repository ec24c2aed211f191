/* backends/cpu/cpu_rng.c — Philox4x32-10 random fill (uniform and normal).
 *
 * Element k (its row-major position in dst's shape) uses counter
 * {lo32(offset + k), hi32(offset + k), 0, 0} and key {lo32(seed), hi32(seed)}.
 * The uniform value is computed in float exactly as backend.h writes it, so
 * GPU backends can match it bit for bit. */
#include "cpu.h"

#include <math.h>

typedef struct rng_ctx {
    int sub;
    uint32_t key[2];
    uint64_t offset;
    float a, b; /* lo, hi or mean, std */
    const cpu_iter *it;
} rng_ctx;

static inline float rng_value(const rng_ctx *c, uint64_t k)
{
    uint64_t ctr = c->offset + k;
    const uint32_t counter[4] = {(uint32_t)ctr, (uint32_t)(ctr >> 32), 0, 0};
    uint32_t out[4];
    agi_philox4x32(counter, c->key, out);
    if (c->sub == AGI_RNG_UNIFORM) {
        const float u = (float)(out[0] >> 8) * 0x1p-24f;
        return c->a + (c->b - c->a) * u;
    }
    const float u1 = (float)((out[0] >> 8) + 1u) * 0x1p-24f;
    const float u2 = (float)(out[1] >> 8) * 0x1p-24f;
    return c->a + c->b * (sqrtf(-2.0f * logf(u1)) * cosf(6.2831853071795865f * u2));
}

/* The iterator visits dst in row-major order, so the flat position of each
 * row is known from the range start. */
typedef struct rng_row_ctx {
    const rng_ctx *c;
    uint64_t pos;
} rng_row_ctx;

static void rng_row(void *ctx, int64_t n, char *const *p, const int64_t *s)
{
    rng_row_ctx *r = ctx;
    float *d = (float *)p[0];
    for (int64_t i = 0; i < n; i++) d[i * s[0]] = rng_value(r->c, r->pos + (uint64_t)i);
    r->pos += (uint64_t)n;
}

static void rng_range(void *ctx, int64_t begin, int64_t end)
{
    const rng_ctx *c = ctx;
    rng_row_ctx r = {c, (uint64_t)begin};
    cpu_iter_run(c->it, begin, end, rng_row, &r);
}

ag_status cpu_rng(cpu_device *dev, const agi_kernel *k)
{
    if (k->sub != AGI_RNG_UNIFORM && k->sub != AGI_RNG_NORMAL)
        return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: rng distribution %d unsupported", k->sub);
    if (!cpu_view_check("rng", &k->dst, AG_F32, "dst")) return ag_last_status();
    /* Row-major order of dst's shape must be kept: coalescing only merges
     * dims without reordering, so positions stay the same. */
    const agi_view *views[1] = {&k->dst};
    cpu_iter it;
    cpu_iter_init(&it, views, 1);
    uint64_t seed = k->p.s.u[0], offset = k->p.s.u[1];
    if (k->dst2.buf) { /* {seed lo, hi, offset lo, hi} from the device (graph replays) */
        if (!cpu_view_check("rng", &k->dst2, AG_I32, "dst2 (seed and offset)")) return ag_last_status();
        if (!agi_view_is_contiguous(&k->dst2) || agi_view_numel(&k->dst2) != 4)
            return agi_set_error(AG_ERR_INVALID, "cpu: rng: dst2 must be 4 contiguous i32");
        const uint32_t *w = cpu_view_ptr(&k->dst2);
        seed = (uint64_t)w[0] | (uint64_t)w[1] << 32;
        offset = (uint64_t)w[2] | (uint64_t)w[3] << 32;
    }
    rng_ctx c = {.sub = k->sub, .key = {(uint32_t)seed, (uint32_t)(seed >> 32)},
                 .offset = offset, .a = (float)k->p.s.f[0], .b = (float)k->p.s.f[1], .it = &it};
    cpu_parallel_for(&dev->pool, it.numel, CPU_GRAIN_ELEMENTWISE / 16, rng_range, &c);
    return AG_OK;
}
