/* backends/cpu/cpu_reduce.c — REDUCE (sum, max, min, argmax, argmin) and the
 * row-wise SOFTMAX / LOG_SOFTMAX kernels with their backward.
 *
 * Sums are accumulated blockwise: runs of up to 256 contiguous floats with
 * eight float accumulators, combined pairwise, and rows of runs in double, so
 * long sums keep their accuracy. */
#include "cpu.h"

#include <math.h>
#include <stdlib.h>

/* ---- Summation helpers ------------------------------------------------------ */

/* Sum of n contiguous floats: 8 lanes over blocks of 256, pairwise above. */
static double sum_contig(const float *p, int64_t n)
{
    if (n > 256) {
        int64_t h = (n / 2 + 7) & ~(int64_t)7;
        return sum_contig(p, h) + sum_contig(p + h, n - h);
    }
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) acc[j] += p[i + j];
    float tail = 0.0f;
    for (; i < n; i++) tail += p[i];
    return (double)(((acc[0] + acc[1]) + (acc[2] + acc[3])) + ((acc[4] + acc[5]) + (acc[6] + acc[7]))) +
           (double)tail;
}

static double sum_strided(const float *p, int64_t n, int64_t s)
{
    if (s == 1) return sum_contig(p, n);
    double acc = 0.0;
    for (int64_t i = 0; i < n; i++) acc += p[i * s];
    return acc;
}

/* ---- REDUCE ------------------------------------------------------------------ */

typedef struct reduce_plan {
    int sub;
    const float *src;
    char *dst;
    /* kept dims: size, src stride, dst stride */
    int nk;
    int64_t ksize[AG_MAX_DIMS], ksrc[AG_MAX_DIMS], kdst[AG_MAX_DIMS];
    /* reduced dims (row-major order of the source): size, src stride */
    int nr;
    int64_t rsize[AG_MAX_DIMS], rsrc[AG_MAX_DIMS];
    int64_t outputs, rcount;
} reduce_plan;

/* Reduces the elements of one output starting at src element `base`. */
static void reduce_one(const reduce_plan *pl, const float *base, char *out)
{
    const int nr = pl->nr;
    const int64_t rn = nr ? pl->rsize[nr - 1] : 1, rs = nr ? pl->rsrc[nr - 1] : 0;
    const int64_t rows = nr ? pl->rcount / rn : 1;
    int64_t idx[AG_MAX_DIMS] = {0};
    if (pl->sub == AGI_R_SUM) {
        double total = 0.0;
        const float *row = base;
        for (int64_t r = 0; r < rows; r++) {
            total += sum_strided(row, rn, rs);
            /* next row */
            for (int d = nr - 2; d >= 0; d--) {
                row += pl->rsrc[d];
                if (++idx[d] < pl->rsize[d]) break;
                row -= pl->rsrc[d] * pl->rsize[d];
                idx[d] = 0;
            }
        }
        *(float *)out = (float)total;
        return;
    }
    const bool want_max = pl->sub == AGI_R_MAX || pl->sub == AGI_R_ARGMAX;
    float best = base[0];
    int64_t best_k = 0, k = 0;
    const float *row = base;
    for (int64_t r = 0; r < rows; r++) {
        if (best != best) break; /* NaN wins; its first occurrence stays */
        for (int64_t i = 0; i < rn; i++, k++) {
            const float v = row[i * rs];
            if (want_max ? (v > best) : (v < best)) {
                best = v;
                best_k = k;
            } else if (v != v) {
                best = v;
                best_k = k;
                break;
            }
        }
        for (int d = nr - 2; d >= 0; d--) {
            row += pl->rsrc[d];
            if (++idx[d] < pl->rsize[d]) break;
            row -= pl->rsrc[d] * pl->rsize[d];
            idx[d] = 0;
        }
    }
    if (pl->sub == AGI_R_ARGMAX || pl->sub == AGI_R_ARGMIN) *(int32_t *)out = (int32_t)best_k;
    else *(float *)out = best;
}

static void reduce_range(void *ctx, int64_t begin, int64_t end)
{
    const reduce_plan *pl = ctx;
    const size_t es = 4; /* f32 and i32 outputs */
    for (int64_t o = begin; o < end; o++) {
        int64_t rest = o, so = 0, dof = 0;
        for (int d = pl->nk - 1; d >= 0; d--) {
            int64_t i = rest % pl->ksize[d];
            rest /= pl->ksize[d];
            so += i * pl->ksrc[d];
            dof += i * pl->kdst[d];
        }
        reduce_one(pl, pl->src + so, pl->dst + dof * (int64_t)es);
    }
}

/* Column path: the innermost kept dim is contiguous in src and dst and the
 * reduction runs over outer dims (e.g. a bias gradient, sum over the batch).
 * Walking whole rows keeps memory access sequential:
 *   phase 1: task (outer, chunk of COL_ROWS reduced rows, block of COL_BLOCK
 *            columns) writes float partial results to scratch;
 *   phase 2: task (outer, column block) combines the partials in order (sums
 *            in double) and writes dst.
 * The partition does not depend on the thread count: results are identical
 * with any number of threads. */
#define COL_BLOCK 8192
#define COL_ROWS 64

typedef struct cols_job {
    const reduce_plan *pl;
    int64_t ncol, nblk, nchunk;
    float *scratch; /* [outer][nchunk][ncol] */
} cols_job;

static void cols_outer_offsets(const reduce_plan *pl, int64_t outer, int64_t *so, int64_t *dof)
{
    int64_t rest = outer;
    *so = 0;
    *dof = 0;
    for (int d = pl->nk - 2; d >= 0; d--) {
        int64_t i = rest % pl->ksize[d];
        rest /= pl->ksize[d];
        *so += i * pl->ksrc[d];
        *dof += i * pl->kdst[d];
    }
}

static void cols_phase1(void *ctx, int64_t begin, int64_t end)
{
    const cols_job *j = ctx;
    const reduce_plan *pl = j->pl;
    for (int64_t t = begin; t < end; t++) {
        int64_t outer = t / (j->nchunk * j->nblk), rem = t % (j->nchunk * j->nblk);
        int64_t rc = rem / j->nblk, c0 = (rem % j->nblk) * COL_BLOCK;
        int64_t nc = j->ncol - c0 < COL_BLOCK ? j->ncol - c0 : COL_BLOCK;
        int64_t r0 = rc * COL_ROWS, rn = pl->rcount - r0 < COL_ROWS ? pl->rcount - r0 : COL_ROWS;
        int64_t so, dof;
        cols_outer_offsets(pl, outer, &so, &dof);
        /* multi-index of reduced row r0 */
        int64_t idx[AG_MAX_DIMS] = {0}, rest = r0;
        const float *p = pl->src + so + c0;
        for (int d = pl->nr - 1; d >= 0; d--) {
            idx[d] = rest % pl->rsize[d];
            rest /= pl->rsize[d];
            p += idx[d] * pl->rsrc[d];
        }
        float *part = j->scratch + (outer * j->nchunk + rc) * j->ncol + c0;
        const int sub = pl->sub;
        for (int64_t r = 0; r < rn; r++) {
            if (r == 0) {
                if (sub == AGI_R_SUM) for (int64_t c = 0; c < nc; c++) part[c] = p[c];
                else for (int64_t c = 0; c < nc; c++) part[c] = p[c];
            } else if (sub == AGI_R_SUM) {
                for (int64_t c = 0; c < nc; c++) part[c] += p[c];
            } else if (sub == AGI_R_MAX) {
                for (int64_t c = 0; c < nc; c++)
                    part[c] = (part[c] != part[c] || part[c] >= p[c]) ? part[c] : p[c];
            } else {
                for (int64_t c = 0; c < nc; c++)
                    part[c] = (part[c] != part[c] || part[c] <= p[c]) ? part[c] : p[c];
            }
            for (int d = pl->nr - 1; d >= 0; d--) {
                p += pl->rsrc[d];
                if (++idx[d] < pl->rsize[d]) break;
                p -= pl->rsrc[d] * pl->rsize[d];
                idx[d] = 0;
            }
        }
    }
}

static void cols_phase2(void *ctx, int64_t begin, int64_t end)
{
    const cols_job *j = ctx;
    const reduce_plan *pl = j->pl;
    for (int64_t t = begin; t < end; t++) {
        int64_t outer = t / j->nblk, c0 = (t % j->nblk) * COL_BLOCK;
        int64_t nc = j->ncol - c0 < COL_BLOCK ? j->ncol - c0 : COL_BLOCK;
        int64_t so, dof;
        cols_outer_offsets(pl, outer, &so, &dof);
        float *o = (float *)pl->dst + dof + c0;
        const float *part = j->scratch + outer * j->nchunk * j->ncol + c0;
        if (pl->sub == AGI_R_SUM) {
            for (int64_t c = 0; c < nc; c++) {
                double acc = 0.0;
                for (int64_t rc = 0; rc < j->nchunk; rc++) acc += (double)part[rc * j->ncol + c];
                o[c] = (float)acc;
            }
        } else {
            const bool mx = pl->sub == AGI_R_MAX;
            for (int64_t c = 0; c < nc; c++) {
                float best = part[c];
                for (int64_t rc = 1; rc < j->nchunk; rc++) {
                    float v = part[rc * j->ncol + c];
                    if (best == best && (v != v || (mx ? v > best : v < best))) best = v;
                }
                o[c] = best;
            }
        }
    }
}

/* Returns false (nothing done) when the scratch cannot be allocated. */
static bool reduce_cols(cpu_device *dev, const reduce_plan *pl)
{
    cols_job j = {.pl = pl, .ncol = pl->ksize[pl->nk - 1]};
    int64_t outer = pl->outputs / j.ncol;
    j.nblk = (j.ncol + COL_BLOCK - 1) / COL_BLOCK;
    j.nchunk = (pl->rcount + COL_ROWS - 1) / COL_ROWS;
    j.scratch = malloc((size_t)(outer * j.nchunk * j.ncol) * sizeof(float));
    if (!j.scratch) return false;
    int64_t per = COL_ROWS * (j.ncol < COL_BLOCK ? j.ncol : COL_BLOCK);
    int64_t grain = per >= CPU_GRAIN_ELEMENTWISE ? 1 : CPU_GRAIN_ELEMENTWISE / per;
    cpu_parallel_for(&dev->pool, outer * j.nchunk * j.nblk, grain, cols_phase1, &j);
    int64_t per2 = j.nchunk * (j.ncol < COL_BLOCK ? j.ncol : COL_BLOCK);
    int64_t grain2 = per2 >= CPU_GRAIN_ELEMENTWISE ? 1 : CPU_GRAIN_ELEMENTWISE / per2;
    cpu_parallel_for(&dev->pool, outer * j.nblk, grain2, cols_phase2, &j);
    free(j.scratch);
    return true;
}

ag_status cpu_reduce(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "reduce";
    if ((unsigned)k->sub >= AGI_R_COUNT)
        return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: reduce op %d unsupported", k->sub);
    const bool arg = k->sub == AGI_R_ARGMAX || k->sub == AGI_R_ARGMIN;
    if (!cpu_view_check(kn, &k->dst, arg ? AG_I32 : AG_F32, "dst") ||
        !cpu_view_check(kn, &k->src[0], AG_F32, "src0"))
        return ag_last_status();
    const agi_view *x = &k->src[0], *y = &k->dst;
    if (x->ndim != y->ndim) {
        char a[192], b[192];
        return agi_set_error(AG_ERR_INVALID, "cpu: reduce: rank differs: dst %s, src %s",
                             cpu_shape_str(a, y), cpu_shape_str(b, x));
    }
    reduce_plan pl = {.sub = k->sub, .src = cpu_view_ptr(x), .dst = cpu_view_ptr(y)};
    for (int d = 0; d < x->ndim; d++) {
        if (x->shape[d] == 1) continue;
        if (y->shape[d] == x->shape[d]) {
            int i = pl.nk;
            if (i > 0 && pl.ksrc[i - 1] == x->strides[d] * x->shape[d] &&
                pl.kdst[i - 1] == y->strides[d] * x->shape[d]) {
                pl.ksize[i - 1] *= x->shape[d];
                pl.ksrc[i - 1] = x->strides[d];
                pl.kdst[i - 1] = y->strides[d];
            } else {
                pl.ksize[i] = x->shape[d];
                pl.ksrc[i] = x->strides[d];
                pl.kdst[i] = y->strides[d];
                pl.nk++;
            }
        } else if (y->shape[d] == 1) {
            int i = pl.nr;
            if (i > 0 && pl.rsrc[i - 1] == x->strides[d] * x->shape[d]) {
                pl.rsize[i - 1] *= x->shape[d];
                pl.rsrc[i - 1] = x->strides[d];
            } else {
                pl.rsize[i] = x->shape[d];
                pl.rsrc[i] = x->strides[d];
                pl.nr++;
            }
        } else {
            char a[192], b[192];
            return agi_set_error(AG_ERR_INVALID,
                                 "cpu: reduce: dst %s does not match src %s at dim %d",
                                 cpu_shape_str(a, y), cpu_shape_str(b, x), d);
        }
    }
    pl.outputs = 1;
    for (int d = 0; d < pl.nk; d++) pl.outputs *= pl.ksize[d];
    pl.rcount = 1;
    for (int d = 0; d < pl.nr; d++) pl.rcount *= pl.rsize[d];

    if (!arg && pl.nk > 0 && pl.nr > 0 && pl.ksrc[pl.nk - 1] == 1 && pl.kdst[pl.nk - 1] == 1 &&
        pl.ksize[pl.nk - 1] >= 8 && pl.rsrc[pl.nr - 1] != 1) {
        if (reduce_cols(dev, &pl)) return AG_OK;
    }
    int64_t grain = pl.rcount >= CPU_GRAIN_ELEMENTWISE ? 1 : CPU_GRAIN_ELEMENTWISE / pl.rcount;
    cpu_parallel_for(&dev->pool, pl.outputs, grain, reduce_range, &pl);
    return AG_OK;
}

/* ---- SOFTMAX ---------------------------------------------------------------- */

typedef struct softmax_job {
    int sub;
    int64_t n;
    const float *x, *y, *dy;
    float *out;
} softmax_job;

// x, y: [rows, n]
static void softmax_range(void *ctx, int64_t begin, int64_t end)
{
    const softmax_job *j = ctx;
    const int64_t n = j->n;
    for (int64_t r = begin; r < end; r++) {
        const float *x = j->x + r * n;
        float *y = j->out + r * n;
        float m = x[0];
        for (int64_t i = 1; i < n; i++) m = x[i] > m ? x[i] : m;
        if (j->sub == AGI_SOFTMAX) {
            double s = 0.0;
            for (int64_t i = 0; i < n; i++) {
                float e = expf(x[i] - m);
                y[i] = e;
                s += e;
            }
            const float inv = (float)(1.0 / s);
            for (int64_t i = 0; i < n; i++) y[i] *= inv;
        } else {
            double s = 0.0;
            for (int64_t i = 0; i < n; i++) s += expf(x[i] - m);
            const float lse = m + (float)log(s);
            for (int64_t i = 0; i < n; i++) y[i] = x[i] - lse;
        }
    }
}

// y, dy, dx: [rows, n]
static void softmax_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const softmax_job *j = ctx;
    const int64_t n = j->n;
    for (int64_t r = begin; r < end; r++) {
        const float *y = j->y + r * n, *dy = j->dy + r * n;
        float *dx = j->out + r * n;
        double s = 0.0;
        if (j->sub == AGI_SOFTMAX) {
            for (int64_t i = 0; i < n; i++) s += (double)dy[i] * y[i];
            const float fs = (float)s;
            for (int64_t i = 0; i < n; i++) dx[i] = y[i] * (dy[i] - fs);
        } else {
            s = sum_contig(dy, n);
            const float fs = (float)s;
            for (int64_t i = 0; i < n; i++) dx[i] = dy[i] - expf(y[i]) * fs;
        }
    }
}

static bool rows_view_ok(const char *kn, const agi_view *v, const char *what, const agi_view *ref)
{
    if (!cpu_view_check(kn, v, AG_F32, what)) return false;
    if (v->ndim != 2 || !agi_view_is_contiguous(v) || (ref && !cpu_same_shape(v, ref))) {
        char a[192];
        agi_set_error(AG_ERR_INVALID, "cpu: %s: %s %s must be contiguous [rows, n]%s", kn, what,
                      cpu_shape_str(a, v), ref ? " like dst" : "");
        return false;
    }
    return true;
}

ag_status cpu_softmax(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "softmax";
    if (k->sub != AGI_SOFTMAX && k->sub != AGI_LOG_SOFTMAX)
        return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: softmax variant %d unsupported", k->sub);
    if (!rows_view_ok(kn, &k->dst, "dst", NULL) || !rows_view_ok(kn, &k->src[0], "src0", &k->dst))
        return ag_last_status();
    softmax_job j = {.sub = k->sub, .n = k->dst.shape[1], .x = cpu_view_ptr(&k->src[0]),
                     .out = cpu_view_ptr(&k->dst)};
    int64_t grain = j.n >= CPU_GRAIN_ROWS ? 1 : CPU_GRAIN_ROWS / j.n;
    cpu_parallel_for(&dev->pool, k->dst.shape[0], grain, softmax_range, &j);
    return AG_OK;
}

ag_status cpu_softmax_bwd(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "softmax_bwd";
    if (k->sub != AGI_SOFTMAX && k->sub != AGI_LOG_SOFTMAX)
        return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: softmax_bwd variant %d unsupported",
                             k->sub);
    if (!rows_view_ok(kn, &k->dst, "dst", NULL) || !rows_view_ok(kn, &k->src[0], "src0", &k->dst) ||
        !rows_view_ok(kn, &k->src[1], "src1", &k->dst))
        return ag_last_status();
    softmax_job j = {.sub = k->sub, .n = k->dst.shape[1], .y = cpu_view_ptr(&k->src[0]),
                     .dy = cpu_view_ptr(&k->src[1]), .out = cpu_view_ptr(&k->dst)};
    int64_t grain = j.n >= CPU_GRAIN_ROWS ? 1 : CPU_GRAIN_ROWS / j.n;
    cpu_parallel_for(&dev->pool, k->dst.shape[0], grain, softmax_bwd_range, &j);
    return AG_OK;
}

/* ---- LAYER_NORM ----------------------------------------------------------------- */

typedef struct layer_norm_job {
    int64_t n;
    float eps;
    const float *x, *w, *b;
    float *y, *stats;
} layer_norm_job;

// x, y: [rows, n]; w, b: [n] or NULL; stats: [rows, 2] or NULL
static void layer_norm_range(void *ctx, int64_t begin, int64_t end)
{
    const layer_norm_job *j = ctx;
    const int64_t n = j->n;
    for (int64_t r = begin; r < end; r++) {
        const float *x = j->x + r * n;
        float *y = j->y + r * n;
        const float mean = (float)(sum_contig(x, n) / (double)n);
        double ss = 0.0;
        for (int64_t i = 0; i < n; i++) ss += (double)(x[i] - mean) * (x[i] - mean);
        const float rstd = (float)(1.0 / sqrt(ss / (double)n + j->eps));
        for (int64_t i = 0; i < n; i++) {
            float v = (x[i] - mean) * rstd;
            if (j->w) v *= j->w[i];
            if (j->b) v += j->b[i];
            y[i] = v;
        }
        if (j->stats) {
            j->stats[2 * r] = mean;
            j->stats[2 * r + 1] = rstd;
        }
    }
}

static bool vector_view_ok(const char *kn, const agi_view *v, const char *what, int64_t n)
{
    if (!cpu_view_check(kn, v, AG_F32, what)) return false;
    if (!agi_view_is_contiguous(v) || agi_view_numel(v) != n) {
        char a[192];
        agi_set_error(AG_ERR_INVALID, "cpu: %s: %s %s must be contiguous with %lld elements", kn,
                      what, cpu_shape_str(a, v), (long long)n);
        return false;
    }
    return true;
}

ag_status cpu_layer_norm(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "layer_norm";
    if (!rows_view_ok(kn, &k->dst, "dst", NULL) || !rows_view_ok(kn, &k->src[0], "src0", &k->dst))
        return ag_last_status();
    int64_t rows = k->dst.shape[0], n = k->dst.shape[1];
    if ((k->src[1].buf && !vector_view_ok(kn, &k->src[1], "src1 (weight)", n)) ||
        (k->src[2].buf && !vector_view_ok(kn, &k->src[2], "src2 (bias)", n)) ||
        (k->dst2.buf && !vector_view_ok(kn, &k->dst2, "dst2 (stats)", 2 * rows)))
        return ag_last_status();
    if (!(k->p.s.f[0] >= 0.0))
        return agi_set_error(AG_ERR_INVALID, "cpu: layer_norm: eps %g must be >= 0", k->p.s.f[0]);
    layer_norm_job j = {.n = n, .eps = (float)k->p.s.f[0], .x = cpu_view_ptr(&k->src[0]),
                        .w = k->src[1].buf ? cpu_view_ptr(&k->src[1]) : NULL,
                        .b = k->src[2].buf ? cpu_view_ptr(&k->src[2]) : NULL,
                        .y = cpu_view_ptr(&k->dst),
                        .stats = k->dst2.buf ? cpu_view_ptr(&k->dst2) : NULL};
    int64_t grain = n >= CPU_GRAIN_ROWS ? 1 : CPU_GRAIN_ROWS / n;
    cpu_parallel_for(&dev->pool, rows, grain, layer_norm_range, &j);
    return AG_OK;
}
