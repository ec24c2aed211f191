/* shaders/opencl/reduce.cl — REDUCE (sum/max/min/argmax/argmin) and row-wise
 * SOFTMAX / LOG_SOFTMAX and their backward. */

/* Reduction geometry (mirrors agcl_rgeom). Output o (row-major over kshape)
 * reads src at s_off + kept(o)·kst_s + red(r)·rst for r in [0, nred) (row-major
 * over rshape) and writes dst at d_off + kept(o)·kst_d. */
typedef struct {
    long kshape[8];
    long kst_s[8];
    long kst_d[8];
    long rshape[8];
    long rst[8];
    long s_off, d_off, nout, nred;
    int knd, rnd;
} rgeom_t;


void rgeom_out(const rgeom_t *g, long o, long *so, long *dso)
{
    long s = g->s_off, d = g->d_off, r = o;
    for (int k = g->knd - 1; k >= 0; k--) {
        long q = ag_div(r, g->kshape[k]);
        long c = r - q * g->kshape[k];
        r = q;
        s += c * g->kst_s[k];
        d += c * g->kst_d[k];
    }
    *so = s;
    *dso = d;
}

long rgeom_red(const rgeom_t *g, long r)
{
    if (g->rnd == 1) return r * g->rst[0];
    long s = 0;
    for (int k = g->rnd - 1; k >= 0; k--) {
        long q = ag_div(r, g->rshape[k]);
        long c = r - q * g->rshape[k];
        r = q;
        s += c * g->rst[k];
    }
    return s;
}

/* Combination rules. NaN wins max/min (propagates); arg* pick the first index
 * on ties (and the first NaN). */
float red_combine(int op, float a, float b)
{
    switch (op) {
    case AGI_R_SUM: return a + b;
    case AGI_R_MAX: return (a > b || isnan(a)) ? a : b;
    default: return (a < b || isnan(a)) ? a : b;
    }
}

float red_init(int op)
{
    return op == AGI_R_SUM ? 0.0f : (op == AGI_R_MAX ? -INFINITY : INFINITY);
}

/* True if candidate (v, vi) should replace the current best (b, bi). */
int arg_better(int op, float v, long vi, float b, long bi)
{
    if (isnan(b)) return isnan(v) && vi < bi;
    if (isnan(v)) return 1;
    if (v == b) return vi < bi;
    return op == AGI_R_ARGMAX ? v > b : v < b;
}

/* One lane's partial: elements r0, r0 + step, ... below r1 of the output
 * whose source starts at so, combined in that order. Over one reduced dim
 * (the common case) the op and the index arithmetic stay out of the loop,
 * so it compiles to a plain strided loop; the order, and so the bits, are
 * those of the general loop. */
float red_lane(int op, __global const float *s, const rgeom_t *g, long so, long r0, long r1, long step)
{
    float acc = red_init(op);
    if (g->rnd == 1) {
        __global const float *p = s + so;
        long st = g->rst[0];
        if (op == AGI_R_SUM) {
            for (long r = r0; r < r1; r += step) acc += p[r * st];
        } else if (op == AGI_R_MAX) {
            for (long r = r0; r < r1; r += step) {
                float v = p[r * st];
                acc = (acc > v || isnan(acc)) ? acc : v;
            }
        } else {
            for (long r = r0; r < r1; r += step) {
                float v = p[r * st];
                acc = (acc < v || isnan(acc)) ? acc : v;
            }
        }
        return acc;
    }
    for (long r = r0; r < r1; r += step) acc = red_combine(op, acc, s[so + rgeom_red(g, r)]);
    return acc;
}

/* One work-item per output (short reductions or many outputs). */
__kernel void reduce_rows_f32(__global float *d, __global const float *s, rgeom_t g, int op)
{
    long o = get_global_id(0);
    if (o >= g.nout) return;
    long so, dso;
    rgeom_out(&g, o, &so, &dso);
    d[dso] = red_lane(op, s, &g, so, 0, g.nred, 1);
}

/* One work-group per output; tree reduction in local memory. */
__kernel void reduce_wg_f32(__global float *d, __global const float *s, rgeom_t g, int op,
                            __local float *lv)
{
    long o = get_group_id(0);
    int lid = (int)get_local_id(0), wg = (int)get_local_size(0);
    long so, dso;
    rgeom_out(&g, o, &so, &dso);
    lv[lid] = red_lane(op, s, &g, so, lid, g.nred, wg);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = wg / 2; h > 0; h /= 2) {
        if (lid < h) lv[lid] = red_combine(op, lv[lid], lv[lid + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) d[dso] = lv[0];
}

/* First pass of a split reduction: group g reduces chunk (g % parts) of
 * output (g / parts) into part[g]; a second pass reduces the parts. */
__kernel void reduce_part_f32(__global float *part, __global const float *s, rgeom_t g, int op,
                              long chunk, int parts, __local float *lv)
{
    long grp = get_group_id(0);
    long o = ag_div(grp, parts), c = grp - o * parts;
    int lid = (int)get_local_id(0), wg = (int)get_local_size(0);
    long so, dso;
    rgeom_out(&g, o, &so, &dso);
    long r0 = c * chunk, r1 = r0 + chunk < g.nred ? r0 + chunk : g.nred;
    lv[lid] = red_lane(op, s, &g, so, r0 + lid, r1, wg);
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = wg / 2; h > 0; h /= 2) {
        if (lid < h) lv[lid] = red_combine(op, lv[lid], lv[lid + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) part[grp] = lv[0];
}

__kernel void argreduce_rows_f32(__global int *d, __global const float *s, rgeom_t g, int op)
{
    long o = get_global_id(0);
    if (o >= g.nout) return;
    long so, dso;
    rgeom_out(&g, o, &so, &dso);
    float best = s[so];
    long bi = 0;
    for (long r = 1; r < g.nred; r++) {
        float v = s[so + rgeom_red(&g, r)];
        if (arg_better(op, v, r, best, bi)) {
            best = v;
            bi = r;
        }
    }
    d[dso] = (int)bi;
}

__kernel void argreduce_wg_f32(__global int *d, __global const float *s, rgeom_t g, int op,
                               __local float *lv, __local long *li)
{
    long o = get_group_id(0);
    int lid = (int)get_local_id(0), wg = (int)get_local_size(0);
    long so, dso;
    rgeom_out(&g, o, &so, &dso);
    float best = NAN;
    long bi = -1;
    for (long r = lid; r < g.nred; r += wg) {
        float v = s[so + rgeom_red(&g, r)];
        if (bi < 0 || arg_better(op, v, r, best, bi)) {
            best = v;
            bi = r;
        }
    }
    lv[lid] = best;
    li[lid] = bi;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = wg / 2; h > 0; h /= 2) {
        if (lid < h) {
            long oi = li[lid + h];
            if (oi >= 0 && (li[lid] < 0 || arg_better(op, lv[lid + h], oi, lv[lid], li[lid]))) {
                lv[lid] = lv[lid + h];
                li[lid] = oi;
            }
        }
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    if (lid == 0) d[dso] = (int)li[0];
}

/* ---- SOFTMAX / LOG_SOFTMAX and LAYER_NORM over contiguous rows [rows, n] ----
 * Each kernel is written once for element type T with loads LD(p, j) and
 * stores ST(p, j, v) and made for f32 (float) and for f16 / bf16 (ushort
 * storage converted in registers by ag_h16_load / ag_h16_store): the f32
 * arithmetic is the same in all three, so a 16-bit row equals the f32 kernel
 * on its values rounded once. Layer norm's statistics are f32 always. */
#define AG_LD_F32(p, j) (p)[j]
#define AG_ST_F32(p, j, v) (p)[j] = (v)
#define AG_LD_F16(p, j) ag_h16_load((p)[j], 0)
#define AG_ST_F16(p, j, v) (p)[j] = ag_h16_store((v), 0)
#define AG_LD_BF16(p, j) ag_h16_load((p)[j], 1)
#define AG_ST_BF16(p, j, v) (p)[j] = ag_h16_store((v), 1)

/* Sum of v over the work-group (power-of-two size), through lv. */
float wg_sum_local(__local float *lv, float v)
{
    int lid = (int)get_local_id(0), wg = (int)get_local_size(0);
    lv[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = wg / 2; h > 0; h /= 2) {
        if (lid < h) lv[lid] += lv[lid + h];
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = lv[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* Maximum (fmax: NaN-ignoring, as the f32 kernels always were) over the
 * work-group, through lv. */
float wg_max_local(__local float *lv, float v)
{
    int lid = (int)get_local_id(0), wg = (int)get_local_size(0);
    lv[lid] = v;
    barrier(CLK_LOCAL_MEM_FENCE);
    for (int h = wg / 2; h > 0; h /= 2) {
        if (lid < h) lv[lid] = fmax(lv[lid], lv[lid + h]);
        barrier(CLK_LOCAL_MEM_FENCE);
    }
    float r = lv[0];
    barrier(CLK_LOCAL_MEM_FENCE);
    return r;
}

/* softmax_rows_*: one work-item per row; softmax_wg_*: one work-group per row.
 * Backward: softmax dx = y (dy - sum(dy y)); log_softmax dx = dy - exp(y) sum(dy). */
#define AG_SOFTMAX_KERNELS(SUF, T, LD, ST)                                                        \
    __kernel void softmax_rows_##SUF(__global T *y, long yoff, __global const T *x, long xoff,    \
                                     long rows, long n, int logsm)                                \
    {                                                                                             \
        long row = get_global_id(0);                                                              \
        if (row >= rows) return;                                                                  \
        __global const T *xr = x + xoff + row * n;                                                \
        __global T *yr = y + yoff + row * n;                                                      \
        float m = -INFINITY;                                                                      \
        for (long j = 0; j < n; j++) m = fmax(m, LD(xr, j));                                      \
        float sum = 0.0f;                                                                         \
        for (long j = 0; j < n; j++) sum += exp(LD(xr, j) - m);                                   \
        if (logsm) {                                                                              \
            float ls = log(sum);                                                                  \
            for (long j = 0; j < n; j++) ST(yr, j, LD(xr, j) - m - ls);                           \
        } else {                                                                                  \
            float inv = 1.0f / sum;                                                               \
            for (long j = 0; j < n; j++) ST(yr, j, exp(LD(xr, j) - m) * inv);                     \
        }                                                                                         \
    }                                                                                             \
    __kernel void softmax_wg_##SUF(__global T *y, long yoff, __global const T *x, long xoff,      \
                                   long rows, long n, int logsm, __local float *lv)               \
    {                                                                                             \
        long row = get_group_id(0);                                                               \
        int lid = (int)get_local_id(0), wg = (int)get_local_size(0);                              \
        __global const T *xr = x + xoff + row * n;                                                \
        __global T *yr = y + yoff + row * n;                                                      \
        float m = -INFINITY;                                                                      \
        for (long j = lid; j < n; j += wg) m = fmax(m, LD(xr, j));                                \
        m = wg_max_local(lv, m);                                                                  \
        float sum = 0.0f;                                                                         \
        for (long j = lid; j < n; j += wg) sum += exp(LD(xr, j) - m);                             \
        sum = wg_sum_local(lv, sum);                                                              \
        if (logsm) {                                                                              \
            float ls = log(sum);                                                                  \
            for (long j = lid; j < n; j += wg) ST(yr, j, LD(xr, j) - m - ls);                     \
        } else {                                                                                  \
            float inv = 1.0f / sum;                                                               \
            for (long j = lid; j < n; j += wg) ST(yr, j, exp(LD(xr, j) - m) * inv);               \
        }                                                                                         \
    }                                                                                             \
    __kernel void softmax_bwd_rows_##SUF(__global T *dx, long dxoff, __global const T *y,         \
                                         long yoff, __global const T *dy, long dyoff, long rows,  \
                                         long n, int logsm)                                       \
    {                                                                                             \
        long row = get_global_id(0);                                                              \
        if (row >= rows) return;                                                                  \
        __global const T *yr = y + yoff + row * n;                                                \
        __global const T *gr = dy + dyoff + row * n;                                              \
        __global T *dr = dx + dxoff + row * n;                                                    \
        float sum = 0.0f;                                                                         \
        if (logsm) {                                                                              \
            for (long j = 0; j < n; j++) sum += LD(gr, j);                                        \
            for (long j = 0; j < n; j++) ST(dr, j, LD(gr, j) - exp(LD(yr, j)) * sum);             \
        } else {                                                                                  \
            for (long j = 0; j < n; j++) sum += LD(gr, j) * LD(yr, j);                            \
            for (long j = 0; j < n; j++) ST(dr, j, LD(yr, j) * (LD(gr, j) - sum));                \
        }                                                                                         \
    }                                                                                             \
    __kernel void softmax_bwd_wg_##SUF(__global T *dx, long dxoff, __global const T *y,           \
                                       long yoff, __global const T *dy, long dyoff, long rows,    \
                                       long n, int logsm, __local float *lv)                      \
    {                                                                                             \
        long row = get_group_id(0);                                                               \
        int lid = (int)get_local_id(0), wg = (int)get_local_size(0);                              \
        __global const T *yr = y + yoff + row * n;                                                \
        __global const T *gr = dy + dyoff + row * n;                                              \
        __global T *dr = dx + dxoff + row * n;                                                    \
        float sum = 0.0f;                                                                         \
        for (long j = lid; j < n; j += wg) sum += logsm ? LD(gr, j) : LD(gr, j) * LD(yr, j);      \
        sum = wg_sum_local(lv, sum);                                                              \
        for (long j = lid; j < n; j += wg)                                                        \
            ST(dr, j, logsm ? LD(gr, j) - exp(LD(yr, j)) * sum : LD(yr, j) * (LD(gr, j) - sum));  \
    }

/* LAYER_NORM: per row of x, mean and rstd from the centred values,
 * y = (x - mean) * rstd * w + b. flags: 1 w given, 2 b given, 4 write
 * (mean, rstd) to st[2 * row]. layer_norm_rows_*: one work-item per row;
 * layer_norm_wg_*: one work-group per row. */
#define AG_LAYER_NORM_KERNELS(SUF, T, LD, ST)                                                     \
    void ln_write_##SUF(__global T *yr, __global const T *xr, long j, float mean, float rstd,      \
                        __global const T *w, __global const T *b, int flags)                      \
    {                                                                                             \
        float v = (LD(xr, j) - mean) * rstd;                                                      \
        if (flags & 1) v *= LD(w, j);                                                             \
        if (flags & 2) v += LD(b, j);                                                             \
        ST(yr, j, v);                                                                             \
    }                                                                                             \
    __kernel void layer_norm_rows_##SUF(__global T *y, long yoff, __global const T *x, long xoff, \
                                        __global const T *w, long woff, __global const T *b,      \
                                        long boff, __global float *st, long soff, long rows,      \
                                        long n, float eps, int flags)                             \
    {                                                                                             \
        long row = get_global_id(0);                                                              \
        if (row >= rows) return;                                                                  \
        __global const T *xr = x + xoff + row * n;                                                \
        __global T *yr = y + yoff + row * n;                                                      \
        float x0 = LD(xr, 0), s = 0.0f; /* shifted: no cancellation when |mean| >> std */        \
        for (long j = 0; j < n; j++) s += LD(xr, j) - x0;                                         \
        float mean = x0 + s / (float)n, ss = 0.0f;                                                \
        for (long j = 0; j < n; j++) ss += (LD(xr, j) - mean) * (LD(xr, j) - mean);               \
        float rstd = 1.0f / sqrt(ss / (float)n + eps);                                            \
        for (long j = 0; j < n; j++) ln_write_##SUF(yr, xr, j, mean, rstd, w + woff, b + boff, flags); \
        if (flags & 4) {                                                                          \
            st[soff + 2 * row] = mean;                                                            \
            st[soff + 2 * row + 1] = rstd;                                                        \
        }                                                                                         \
    }                                                                                             \
    __kernel void layer_norm_wg_##SUF(__global T *y, long yoff, __global const T *x, long xoff,   \
                                      __global const T *w, long woff, __global const T *b,        \
                                      long boff, __global float *st, long soff, long rows,        \
                                      long n, float eps, int flags, __local float *lv)            \
    {                                                                                             \
        long row = get_group_id(0);                                                               \
        long lid = get_local_id(0), wg = get_local_size(0);                                       \
        __global const T *xr = x + xoff + row * n;                                                \
        __global T *yr = y + yoff + row * n;                                                      \
        float x0 = LD(xr, 0), s = 0.0f;                                                           \
        for (long j = lid; j < n; j += wg) s += LD(xr, j) - x0;                                   \
        float mean = x0 + wg_sum_local(lv, s) / (float)n, ss = 0.0f;                             \
        for (long j = lid; j < n; j += wg) ss += (LD(xr, j) - mean) * (LD(xr, j) - mean);         \
        float rstd = 1.0f / sqrt(wg_sum_local(lv, ss) / (float)n + eps);                          \
        for (long j = lid; j < n; j += wg)                                                        \
            ln_write_##SUF(yr, xr, j, mean, rstd, w + woff, b + boff, flags);                     \
        if ((flags & 4) && lid == 0) {                                                            \
            st[soff + 2 * row] = mean;                                                            \
            st[soff + 2 * row + 1] = rstd;                                                        \
        }                                                                                         \
    }

AG_SOFTMAX_KERNELS(f32, float, AG_LD_F32, AG_ST_F32)
AG_SOFTMAX_KERNELS(f16, ushort, AG_LD_F16, AG_ST_F16)
AG_SOFTMAX_KERNELS(bf16, ushort, AG_LD_BF16, AG_ST_BF16)
AG_LAYER_NORM_KERNELS(f32, float, AG_LD_F32, AG_ST_F32)
AG_LAYER_NORM_KERNELS(f16, ushort, AG_LD_F16, AG_ST_F16)
AG_LAYER_NORM_KERNELS(bf16, ushort, AG_LD_BF16, AG_ST_BF16)
