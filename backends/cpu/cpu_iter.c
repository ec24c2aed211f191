/* backends/cpu/cpu_iter.c — view validation and strided iteration over up to
 * 8 dims for the elementwise kernels. */
#include "cpu.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *cpu_shape_str(char *buf, const agi_view *v)
{
    size_t len = 0, cap = 192;
    buf[len++] = '[';
    for (int d = 0; d < v->ndim && d < AG_MAX_DIMS && len < cap - 24; d++)
        len += (size_t)snprintf(buf + len, cap - len, d ? ",%lld" : "%lld", (long long)v->shape[d]);
    snprintf(buf + len, cap - len, "]");
    return buf;
}

bool cpu_view_check_any(const char *kernel, const agi_view *v, const char *what)
{
    if (!v->buf) {
        agi_set_error(AG_ERR_INVALID, "cpu: %s: %s has no buffer", kernel, what);
        return false;
    }
    size_t es = ag_dtype_size(v->dtype);
    if (es == 0) {
        agi_set_error(AG_ERR_INVALID, "cpu: %s: %s has invalid dtype %d", kernel, what,
                      (int)v->dtype);
        return false;
    }
    if (v->ndim < 0 || v->ndim > AG_MAX_DIMS) {
        agi_set_error(AG_ERR_INVALID, "cpu: %s: %s has rank %d", kernel, what, v->ndim);
        return false;
    }
    if (v->offset < 0) {
        agi_set_error(AG_ERR_INVALID, "cpu: %s: %s has negative offset", kernel, what);
        return false;
    }
    /* Largest element index addressed; guard against overflow. */
    uint64_t last = (uint64_t)v->offset;
    for (int d = 0; d < v->ndim; d++) {
        if (v->shape[d] < 1 || v->strides[d] < 0 || v->shape[d] > (INT64_C(1) << 40) ||
            v->strides[d] > (INT64_C(1) << 40)) {
            char buf[192];
            agi_set_error(AG_ERR_INVALID, "cpu: %s: %s has bad shape %s or negative stride",
                          kernel, what, cpu_shape_str(buf, v));
            return false;
        }
        last += (uint64_t)(v->shape[d] - 1) * (uint64_t)v->strides[d];
        if (last > (UINT64_C(1) << 50)) break;
    }
    if ((last + 1) * es > v->buf->nbytes) {
        char buf[192];
        agi_set_error(AG_ERR_INVALID,
                      "cpu: %s: %s view %s (offset %lld) runs past its buffer of %zu bytes",
                      kernel, what, cpu_shape_str(buf, v), (long long)v->offset, v->buf->nbytes);
        return false;
    }
    return true;
}

bool cpu_view_check(const char *kernel, const agi_view *v, ag_dtype dtype, const char *what)
{
    if (!cpu_view_check_any(kernel, v, what)) return false;
    if (v->dtype != dtype) {
        agi_set_error(AG_ERR_UNSUPPORTED, "cpu: %s: %s dtype %s unsupported (expected %s)",
                      kernel, what, ag_dtype_name(v->dtype), ag_dtype_name(dtype));
        return false;
    }
    return true;
}

bool cpu_same_shape(const agi_view *a, const agi_view *b)
{
    if (a->ndim != b->ndim) return false;
    for (int d = 0; d < a->ndim; d++)
        if (a->shape[d] != b->shape[d]) return false;
    return true;
}

void cpu_iter_init(cpu_iter *it, const agi_view *const *views, int nv)
{
    agi_view copies[CPU_ITER_MAX];
    agi_view *ptrs[CPU_ITER_MAX];
    for (int v = 0; v < nv; v++) {
        copies[v] = *views[v];
        ptrs[v] = &copies[v];
        it->esize[v] = ag_dtype_size(views[v]->dtype);
        it->base[v] = cpu_view_ptr(views[v]);
    }
    agi_views_coalesce(ptrs, nv);
    it->nv = nv;
    it->ndim = copies[0].ndim;
    if (it->ndim == 0) {
        it->ndim = 1;
        it->shape[0] = 1;
        for (int v = 0; v < nv; v++) it->strides[v][0] = 0;
    } else {
        for (int d = 0; d < it->ndim; d++) {
            it->shape[d] = copies[0].shape[d];
            for (int v = 0; v < nv; v++) it->strides[v][d] = copies[v].strides[d];
        }
    }
    it->numel = 1;
    for (int d = 0; d < it->ndim; d++) it->numel *= it->shape[d];
}

void cpu_iter_run(const cpu_iter *it, int64_t begin, int64_t end, cpu_row_fn row, void *ctx)
{
    const int nd = it->ndim, nv = it->nv;
    const int64_t inner = it->shape[nd - 1];
    int64_t idx[AG_MAX_DIMS];
    /* Multi-index of `begin`. */
    int64_t rest = begin;
    for (int d = nd - 1; d >= 0; d--) {
        idx[d] = rest % it->shape[d];
        rest /= it->shape[d];
    }
    char *ptr[CPU_ITER_MAX];
    int64_t stride[CPU_ITER_MAX];
    for (int v = 0; v < nv; v++) stride[v] = it->strides[v][nd - 1];
    int64_t pos = begin;
    while (pos < end) {
        int64_t n = inner - idx[nd - 1];
        if (n > end - pos) n = end - pos;
        for (int v = 0; v < nv; v++) {
            int64_t off = 0;
            for (int d = 0; d < nd; d++) off += idx[d] * it->strides[v][d];
            ptr[v] = it->base[v] + off * (int64_t)it->esize[v];
        }
        row(ctx, n, ptr, stride);
        pos += n;
        /* Advance to the next row. */
        idx[nd - 1] += n;
        for (int d = nd - 1; d > 0 && idx[d] >= it->shape[d]; d--) {
            idx[d] = 0;
            idx[d - 1]++;
        }
    }
}

typedef struct iter_job {
    const cpu_iter *it;
    cpu_row_fn row;
    void *ctx;
} iter_job;

static void iter_range(void *ctx, int64_t begin, int64_t end)
{
    iter_job *j = ctx;
    cpu_iter_run(j->it, begin, end, j->row, j->ctx);
}

/* Transposed operands: a view whose inner stride is large touches a new cache
 * line for every element (and with power-of-two strides, always the same
 * cache set). Such views are walked in TILE x TILE blocks of the last two
 * dims: a transposed source is first copied into a small buffer along its own
 * contiguous direction, a transposed destination is written through a buffer
 * the same way, and the row function sees contiguous rows. */
#define TILE 64

typedef struct tile_job {
    const cpu_iter *it;
    cpu_row_fn row;
    void *ctx;
    int64_t tiles0, tiles1; /* tiles along dims nd-2 and nd-1 */
    bool staged[CPU_ITER_MAX];
} tile_job;

/* Copies an ni x nj tile of es-byte elements (4, 2 or 1) between a strided
 * view (row stride 1 element, column stride cs) and a buffer (row stride
 * TILE), in the view's contiguous order. */
static void tile_copy(char *view, int64_t cs, char *buf, size_t es, int64_t ni, int64_t nj,
                      bool to_buf)
{
    for (int64_t jj = 0; jj < nj; jj++) {
        char *v = view + jj * cs * (int64_t)es;
        char *b = buf + jj * (int64_t)es;
        if (es == 4) {
            uint32_t *vv = (uint32_t *)v, *bb = (uint32_t *)b;
            if (to_buf) for (int64_t ii = 0; ii < ni; ii++) bb[ii * TILE] = vv[ii];
            else for (int64_t ii = 0; ii < ni; ii++) vv[ii] = bb[ii * TILE];
        } else if (es == 2) { /* f16 / bf16 */
            uint16_t *vv = (uint16_t *)v, *bb = (uint16_t *)b;
            if (to_buf) for (int64_t ii = 0; ii < ni; ii++) bb[ii * TILE] = vv[ii];
            else for (int64_t ii = 0; ii < ni; ii++) vv[ii] = bb[ii * TILE];
        } else {
            uint8_t *vv = (uint8_t *)v, *bb = (uint8_t *)b;
            if (to_buf) for (int64_t ii = 0; ii < ni; ii++) bb[ii * TILE] = vv[ii];
            else for (int64_t ii = 0; ii < ni; ii++) vv[ii] = bb[ii * TILE];
        }
    }
}

static void tile_range(void *ctx, int64_t begin, int64_t end)
{
    const tile_job *j = ctx;
    const cpu_iter *it = j->it;
    const int nd = it->ndim, nv = it->nv;
    const int64_t s0 = it->shape[nd - 2], s1 = it->shape[nd - 1];
    const int64_t per_outer = j->tiles0 * j->tiles1;
    /* Staging buffers on the heap (64 KiB would be a lot of stack for a
     * caller's thread); without them the tile is processed in place. */
    char *heap = malloc((size_t)nv * TILE * TILE * 4);
    char *buf[CPU_ITER_MAX], *ptr[CPU_ITER_MAX], *corner[CPU_ITER_MAX];
    bool staged[CPU_ITER_MAX];
    int64_t stride[CPU_ITER_MAX];
    for (int v = 0; v < nv; v++) {
        staged[v] = heap && j->staged[v];
        buf[v] = heap ? heap + (size_t)v * TILE * TILE * 4 : NULL;
        stride[v] = staged[v] ? 1 : it->strides[v][nd - 1];
    }
    for (int64_t t = begin; t < end; t++) {
        int64_t outer = t / per_outer, rem = t % per_outer;
        int64_t i0 = (rem / j->tiles1) * TILE, j0 = (rem % j->tiles1) * TILE;
        int64_t ni = s0 - i0 < TILE ? s0 - i0 : TILE, nj = s1 - j0 < TILE ? s1 - j0 : TILE;
        int64_t rest = outer, off[CPU_ITER_MAX] = {0};
        for (int d = nd - 3; d >= 0; d--) {
            int64_t i = rest % it->shape[d];
            rest /= it->shape[d];
            for (int v = 0; v < nv; v++) off[v] += i * it->strides[v][d];
        }
        for (int v = 0; v < nv; v++) {
            corner[v] = it->base[v] + (off[v] + i0 * it->strides[v][nd - 2] +
                                       j0 * it->strides[v][nd - 1]) * (int64_t)it->esize[v];
            if (staged[v] && v > 0)
                tile_copy(corner[v], it->strides[v][nd - 1], buf[v], it->esize[v], ni, nj, true);
        }
        for (int64_t i = 0; i < ni; i++) {
            for (int v = 0; v < nv; v++)
                ptr[v] = staged[v] ? buf[v] + i * TILE * (int64_t)it->esize[v]
                                      : corner[v] + i * it->strides[v][nd - 2] * (int64_t)it->esize[v];
            j->row(j->ctx, nj, ptr, stride);
        }
        if (staged[0])
            tile_copy(corner[0], it->strides[0][nd - 1], buf[0], it->esize[0], ni, nj, false);
    }
    free(heap);
}

void cpu_iter_parallel(cpu_device *dev, const cpu_iter *it, int64_t grain, cpu_row_fn row,
                       void *ctx)
{
    const int nd = it->ndim;
    tile_job t = {.it = it, .row = row, .ctx = ctx};
    bool tiled = false;
    if (nd >= 2 && it->shape[nd - 1] >= TILE && it->shape[nd - 2] >= TILE)
        for (int v = 0; v < it->nv; v++) {
            t.staged[v] = it->strides[v][nd - 1] > 1 && it->strides[v][nd - 2] == 1 &&
                          it->esize[v] <= 4;
            tiled = tiled || t.staged[v];
        }
    if (!tiled) {
        iter_job j = {it, row, ctx};
        cpu_parallel_for(&dev->pool, it->numel, grain, iter_range, &j);
        return;
    }
    t.tiles0 = (it->shape[nd - 2] + TILE - 1) / TILE;
    t.tiles1 = (it->shape[nd - 1] + TILE - 1) / TILE;
    int64_t ntiles = it->numel / (it->shape[nd - 2] * it->shape[nd - 1]) * t.tiles0 * t.tiles1;
    int64_t tgrain = grain / (TILE * TILE) > 0 ? grain / (TILE * TILE) : 1;
    cpu_parallel_for(&dev->pool, ntiles, tgrain, tile_range, &t);
}
