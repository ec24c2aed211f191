/* backends/cpu/cpu_conv.c — IM2COL / COL2IM (convolution as GEMM) and 2-D
 * max / average pooling with their backward kernels.
 *
 * All tensors here are contiguous. The parallel unit is one row of cols for
 * IM2COL and one [H, W] plane for everything else, so every output element is
 * written by exactly one thread and the results do not depend on threading. */
#include "cpu.h"

#include <math.h>
#include <string.h>

/* Checks v is contiguous f32 (or `dt`) with shape [d0, d1, d2(, d3)]. */
static bool shape_ok(const char *kn, const agi_view *v, ag_dtype dt, const char *what, int nd,
                     int64_t d0, int64_t d1, int64_t d2, int64_t d3)
{
    if (!cpu_view_check(kn, v, dt, what)) return false;
    int64_t want[4] = {d0, d1, d2, d3};
    bool ok = v->ndim == nd && agi_view_is_contiguous(v);
    for (int d = 0; ok && d < nd; d++) ok = v->shape[d] == want[d];
    if (!ok) {
        char a[192];
        if (nd == 3)
            agi_set_error(AG_ERR_INVALID,
                          "cpu: %s: %s %s must be contiguous [%lld,%lld,%lld] from the params", kn,
                          what, cpu_shape_str(a, v), (long long)d0, (long long)d1, (long long)d2);
        else
            agi_set_error(AG_ERR_INVALID,
                          "cpu: %s: %s %s must be contiguous [%lld,%lld,%lld,%lld] from the params",
                          kn, what, cpu_shape_str(a, v), (long long)d0, (long long)d1,
                          (long long)d2, (long long)d3);
    }
    return ok;
}

/* ---- IM2COL / COL2IM ------------------------------------------------------------ */

static bool conv_params_ok(const char *kn, const agi_conv_params *p)
{
    if (p->n < 1 || p->c < 1 || p->h < 1 || p->w < 1 || p->kh < 1 || p->kw < 1 || p->oh < 1 ||
        p->ow < 1 || p->sh < 1 || p->sw < 1 || p->ph < 0 || p->pw < 0 || p->dh < 1 || p->dw < 1) {
        agi_set_error(AG_ERR_INVALID,
                      "cpu: %s: bad geometry n=%lld c=%lld h=%lld w=%lld k=%lldx%lld out=%lldx%lld "
                      "stride=%lldx%lld pad=%lldx%lld dilation=%lldx%lld",
                      kn, (long long)p->n, (long long)p->c, (long long)p->h, (long long)p->w,
                      (long long)p->kh, (long long)p->kw, (long long)p->oh, (long long)p->ow,
                      (long long)p->sh, (long long)p->sw, (long long)p->ph, (long long)p->pw,
                      (long long)p->dh, (long long)p->dw);
        return false;
    }
    return true;
}

typedef struct conv_job {
    const agi_conv_params *p;
    const float *src;
    float *dst;
} conv_job;

/* The outputs o in [0, n_out) with 0 <= o * s + off < n_in, as [*lo, *hi). */
static void valid_range(int64_t off, int64_t s, int64_t n_in, int64_t n_out, int64_t *lo,
                        int64_t *hi)
{
    int64_t l = off < 0 ? (-off + s - 1) / s : 0;
    int64_t h = n_in - 1 - off < 0 ? 0 : (n_in - 1 - off) / s + 1;
    if (h > n_out) h = n_out;
    if (l > h) l = h;
    *lo = l;
    *hi = h;
}

// x: [N, C, H, W] → cols: [N, C*kh*kw, OH*OW]; one task per cols row
static void im2col_range(void *ctx, int64_t begin, int64_t end)
{
    const conv_job *j = ctx;
    const agi_conv_params *p = j->p;
    const int64_t rows = p->c * p->kh * p->kw, L = p->oh * p->ow, OW = p->ow;
    for (int64_t r = begin; r < end; r++) {
        int64_t n = r / rows, q = r % rows;
        int64_t c = q / (p->kh * p->kw), i = (q / p->kw) % p->kh, jj = q % p->kw;
        const float *x = j->src + (n * p->c + c) * p->h * p->w;
        float *restrict out = j->dst + r * L;
        /* iy = oy * sh + y0 and ix = ox * sw + x0 lie in the image for oy in
         * [ylo, yhi) and ox in [lo, hi); everything else is padding. */
        const int64_t y0 = i * p->dh - p->ph, x0 = jj * p->dw - p->pw, sw = p->sw;
        int64_t ylo, yhi, lo, hi;
        valid_range(y0, p->sh, p->h, p->oh, &ylo, &yhi);
        valid_range(x0, sw, p->w, OW, &lo, &hi);
        /* padding rows: usually one short row, cheaper inline than memset */
        for (int64_t e = 0; e < ylo * OW; e++) out[e] = 0.0f;
        for (int64_t e = yhi * OW; e < L; e++) out[e] = 0.0f;
        for (int64_t oy = ylo; oy < yhi; oy++) {
            float *restrict o = out + oy * OW;
            const float *xr = x + (oy * p->sh + y0) * p->w + x0; /* x0 may be negative */
            for (int64_t ox = 0; ox < lo; ox++) o[ox] = 0.0f;
            if (sw == 1)
                for (int64_t ox = lo; ox < hi; ox++) o[ox] = xr[ox];
            else
                for (int64_t ox = lo; ox < hi; ox++) o[ox] = xr[ox * sw];
            for (int64_t ox = hi; ox < OW; ox++) o[ox] = 0.0f;
        }
    }
}

ag_status cpu_im2col(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "im2col";
    const agi_conv_params *p = &k->p.conv;
    if (!conv_params_ok(kn, p) ||
        !shape_ok(kn, &k->src[0], AG_F32, "src0 (x)", 4, p->n, p->c, p->h, p->w) ||
        !shape_ok(kn, &k->dst, AG_F32, "dst (cols)", 3, p->n, p->c * p->kh * p->kw,
                  p->oh * p->ow, 0))
        return ag_last_status();
    conv_job j = {p, cpu_view_ptr(&k->src[0]), cpu_view_ptr(&k->dst)};
    int64_t L = p->oh * p->ow;
    int64_t grain = L >= CPU_GRAIN_ROWS ? 1 : CPU_GRAIN_ROWS / L;
    cpu_parallel_for(&dev->pool, p->n * p->c * p->kh * p->kw, grain, im2col_range, &j);
    return AG_OK;
}

// cols: [N, C*kh*kw, OH*OW] → x: [N, C, H, W]; one task per (n, c) plane
static void col2im_range(void *ctx, int64_t begin, int64_t end)
{
    const conv_job *j = ctx;
    const agi_conv_params *p = j->p;
    const int64_t L = p->oh * p->ow;
    for (int64_t pl = begin; pl < end; pl++) {
        int64_t n = pl / p->c, c = pl % p->c;
        float *x = j->dst + pl * p->h * p->w;
        memset(x, 0, (size_t)(p->h * p->w) * sizeof(float));
        for (int64_t i = 0; i < p->kh; i++)
            for (int64_t jj = 0; jj < p->kw; jj++) {
                const float *col =
                    j->src + (n * p->c * p->kh * p->kw + (c * p->kh + i) * p->kw + jj) * L;
                /* ix = ox * sw + x0 lies in [0, w) for ox in [lo, hi) */
                const int64_t x0 = jj * p->dw - p->pw, sw = p->sw;
                int64_t lo = x0 < 0 ? (-x0 + sw - 1) / sw : 0;
                int64_t hi = p->w - 1 - x0 < 0 ? 0 : (p->w - 1 - x0) / sw + 1;
                if (hi > p->ow) hi = p->ow;
                int64_t ylo, yhi;
                valid_range(i * p->dh - p->ph, p->sh, p->h, p->oh, &ylo, &yhi);
                for (int64_t oy = ylo; oy < yhi; oy++) {
                    int64_t iy = oy * p->sh - p->ph + i * p->dh;
                    /* element index arithmetic: x0 may be negative */
                    const int64_t row = iy * p->w + x0;
                    const float *cr = col + oy * p->ow;
                    if (sw == 1)
                        for (int64_t ox = lo; ox < hi; ox++) x[row + ox] += cr[ox];
                    else
                        for (int64_t ox = lo; ox < hi; ox++) x[row + ox * sw] += cr[ox];
                }
            }
    }
}

ag_status cpu_col2im(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "col2im";
    const agi_conv_params *p = &k->p.conv;
    if (!conv_params_ok(kn, p) ||
        !shape_ok(kn, &k->src[0], AG_F32, "src0 (cols)", 3, p->n, p->c * p->kh * p->kw,
                  p->oh * p->ow, 0) ||
        !shape_ok(kn, &k->dst, AG_F32, "dst (x)", 4, p->n, p->c, p->h, p->w))
        return ag_last_status();
    conv_job j = {p, cpu_view_ptr(&k->src[0]), cpu_view_ptr(&k->dst)};
    int64_t work = p->kh * p->kw * p->oh * p->ow;
    int64_t grain = work >= CPU_GRAIN_ROWS ? 1 : CPU_GRAIN_ROWS / work;
    cpu_parallel_for(&dev->pool, p->n * p->c, grain, col2im_range, &j);
    return AG_OK;
}

/* ---- Pooling ------------------------------------------------------------------- */

static bool pool_params_ok(const char *kn, const agi_pool_params *p, bool need_dilation)
{
    bool ok = p->n >= 1 && p->c >= 1 && p->h >= 1 && p->w >= 1 && p->oh >= 1 && p->ow >= 1;
    if (!p->adaptive || need_dilation)
        ok = ok && p->kh >= 1 && p->kw >= 1 && p->sh >= 1 && p->sw >= 1 && p->ph >= 0 &&
             p->pw >= 0;
    if (need_dilation) ok = ok && p->dh >= 1 && p->dw >= 1;
    if (!ok)
        agi_set_error(AG_ERR_INVALID,
                      "cpu: %s: bad geometry n=%lld c=%lld h=%lld w=%lld out=%lldx%lld "
                      "k=%lldx%lld stride=%lldx%lld pad=%lldx%lld dilation=%lldx%lld",
                      kn, (long long)p->n, (long long)p->c, (long long)p->h, (long long)p->w,
                      (long long)p->oh, (long long)p->ow, (long long)p->kh, (long long)p->kw,
                      (long long)p->sh, (long long)p->sw, (long long)p->ph, (long long)p->pw,
                      (long long)p->dh, (long long)p->dw);
    return ok;
}

typedef struct pool_job {
    const agi_pool_params *p;
    const float *src;
    const int32_t *isrc;
    float *dst;
    int32_t *idst;
} pool_job;

/* The common 2x2 window with stride 2, no padding or dilation, every window
 * inside the image: the same visiting order and NaN rule as the general loop,
 * unrolled over the four positions. */
static bool maxpool_is_2x2(const agi_pool_params *p)
{
    return p->kh == 2 && p->kw == 2 && p->sh == 2 && p->sw == 2 && p->ph == 0 && p->pw == 0 &&
           p->dh == 1 && p->dw == 1 && 2 * p->oh <= p->h && 2 * p->ow <= p->w;
}

/* One step of the scan with integer masks (no branches, so the loop over a
 * row vectorizes): take v when it is larger, or NaN while m is not. */
#define MAXPOOL_STEP(v, at)                                                                    \
    do {                                                                                       \
        const float v_ = (v);                                                                  \
        const int32_t t_ = -(int32_t)((v_ > m) | ((v_ != v_) & (m == m)));                     \
        int32_t vb_, mb_;                                                                      \
        memcpy(&vb_, &v_, 4);                                                                  \
        memcpy(&mb_, &m, 4);                                                                   \
        mb_ = (vb_ & t_) | (mb_ & ~t_);                                                        \
        memcpy(&m, &mb_, 4);                                                                   \
        id = ((at) & t_) | (id & ~t_);                                                         \
    } while (0)

static void maxpool_2x2_range(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const agi_pool_params *p = j->p;
    const int64_t H = p->h, W = p->w, OH = p->oh, OW = p->ow;
    const int32_t W32 = (int32_t)W;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = j->src + pl * H * W;
        float *restrict y = j->dst + pl * OH * OW;
        int32_t *restrict ix = j->idst + pl * OH * OW;
        for (int64_t oy = 0; oy < OH; oy++) {
            const float *restrict r0 = x + 2 * oy * W, *restrict r1 = r0 + W;
            float *restrict yr = y + oy * OW;
            int32_t *restrict ir = ix + oy * OW;
            const int32_t base = (int32_t)(2 * oy * W);
            for (int32_t ox = 0; ox < (int32_t)OW; ox++) {
                const int32_t at = base + 2 * ox;
                float m = r0[2 * ox];
                int32_t id = at;
                MAXPOOL_STEP(r0[2 * ox + 1], at + 1);
                MAXPOOL_STEP(r1[2 * ox], at + W32);
                MAXPOOL_STEP(r1[2 * ox + 1], at + W32 + 1);
                yr[ox] = m;
                ir[ox] = id;
            }
        }
    }
}

// x: [N, C, H, W] → y, idx: [N, C, OH, OW]
static void maxpool_range(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const agi_pool_params *p = j->p;
    const int64_t H = p->h, W = p->w, OH = p->oh, OW = p->ow;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = j->src + pl * H * W;
        float *y = j->dst + pl * OH * OW;
        int32_t *ix = j->idst + pl * OH * OW;
        /* One output row at a time: for each kernel position (row-major, so
         * the first maximum wins), update every output of the row whose
         * window has that position inside the image. The loop over outputs
         * has no branches and vectorizes. */
        for (int64_t oy = 0; oy < OH; oy++) {
            float *yb = y + oy * OW;
            int32_t *ib = ix + oy * OW;
            for (int64_t ox = 0; ox < OW; ox++) {
                yb[ox] = -INFINITY;
                ib[ox] = -1;
            }
            const int64_t y0 = oy * p->sh - p->ph;
            for (int64_t i = 0; i < p->kh; i++) {
                const int64_t yy = y0 + i * p->dh;
                if (yy < 0 || yy >= H) continue;
                for (int64_t jj = 0; jj < p->kw; jj++) {
                    /* ix = ox * sw + off must lie in [0, W) */
                    const int64_t off = jj * p->dw - p->pw, sw = p->sw;
                    int64_t lo = off < 0 ? (-off + sw - 1) / sw : 0;
                    int64_t hi = W - 1 - off < 0 ? 0 : (W - 1 - off) / sw + 1;
                    if (hi > OW) hi = OW;
                    const int64_t row = yy * W + off; /* off may be negative */
                    const int32_t base = (int32_t)row;
                    for (int64_t ox = lo; ox < hi; ox++) {
                        const float v = x[row + ox * sw], b = yb[ox];
                        const bool take = (v > b) | (ib[ox] < 0) | ((v != v) & (b == b));
                        yb[ox] = take ? v : b;
                        ib[ox] = take ? base + (int32_t)(ox * sw) : ib[ox];
                    }
                }
            }
            for (int64_t ox = 0; ox < OW; ox++) ib[ox] = ib[ox] < 0 ? 0 : ib[ox];
        }
    }
}

ag_status cpu_maxpool2d(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "maxpool2d";
    const agi_pool_params *p = &k->p.pool;
    if (!pool_params_ok(kn, p, true) ||
        !shape_ok(kn, &k->src[0], AG_F32, "src0 (x)", 4, p->n, p->c, p->h, p->w) ||
        !shape_ok(kn, &k->dst, AG_F32, "dst (y)", 4, p->n, p->c, p->oh, p->ow) ||
        !shape_ok(kn, &k->dst2, AG_I32, "dst2 (indices)", 4, p->n, p->c, p->oh, p->ow))
        return ag_last_status();
    pool_job j = {.p = p, .src = cpu_view_ptr(&k->src[0]), .dst = cpu_view_ptr(&k->dst),
                  .idst = cpu_view_ptr(&k->dst2)};
    int64_t work = p->oh * p->ow * p->kh * p->kw;
    int64_t grain = work >= CPU_GRAIN_ROWS ? 1 : CPU_GRAIN_ROWS / work;
    cpu_parallel_for(&dev->pool, p->n * p->c, grain,
                     maxpool_is_2x2(p) ? maxpool_2x2_range : maxpool_range, &j);
    return AG_OK;
}

// dy, idx: [N, C, OH, OW] → dx: [N, C, H, W]
static void maxpool_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const agi_pool_params *p = j->p;
    const int64_t HW = p->h * p->w, L = p->oh * p->ow;
    for (int64_t pl = begin; pl < end; pl++) {
        float *dx = j->dst + pl * HW;
        const float *dy = j->src + pl * L;
        const int32_t *ix = j->isrc + pl * L;
        memset(dx, 0, (size_t)HW * sizeof(float));
        for (int64_t o = 0; o < L; o++)
            if (ix[o] >= 0 && ix[o] < HW) dx[ix[o]] += dy[o];
    }
}

/* 2x2 stride-2 windows (maxpool_is_2x2): the windows are disjoint, so when
 * every index of a plane lies in its own window each dx element receives at
 * most one dy, written directly (0 + dy, as the scatter computes it) without
 * clearing dx first. A plane with any other index takes the general path. */
static inline float select_bits(bool take, float v)
{
    int32_t b;
    memcpy(&b, &v, 4);
    b &= -(int32_t)take;
    memcpy(&v, &b, 4);
    return v;
}

static void maxpool_bwd_2x2_range(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const agi_pool_params *p = j->p;
    const int64_t H = p->h, W = p->w, OH = p->oh, OW = p->ow, HW = H * W, L = OH * OW;
    const int32_t W32 = (int32_t)W;
    for (int64_t pl = begin; pl < end; pl++) {
        float *restrict dx = j->dst + pl * HW;
        const float *restrict dy = j->src + pl * L;
        const int32_t *restrict ix = j->isrc + pl * L;
        int bad = 0;
        if (2 * OH != H || 2 * OW != W) memset(dx, 0, (size_t)HW * sizeof(float));
        for (int64_t oy = 0; oy < OH; oy++) {
            float *restrict r0 = dx + 2 * oy * W, *restrict r1 = r0 + W;
            const float *restrict g = dy + oy * OW;
            const int32_t *restrict ir = ix + oy * OW;
            const int32_t base = (int32_t)(2 * oy * W);
            for (int32_t ox = 0; ox < (int32_t)OW; ox++) {
                const float v = 0.0f + g[ox];
                const int32_t d = ir[ox] - base - 2 * ox;
                r0[2 * ox] = select_bits(d == 0, v);
                r0[2 * ox + 1] = select_bits(d == 1, v);
                r1[2 * ox] = select_bits(d == W32, v);
                r1[2 * ox + 1] = select_bits(d == W32 + 1, v);
                bad |= (d != 0) & (d != 1) & (d != W32) & (d != W32 + 1);
            }
        }
        if (bad) maxpool_bwd_range(ctx, pl, pl + 1); /* redoes the whole plane */
    }
}

ag_status cpu_maxpool2d_bwd(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "maxpool2d_bwd";
    const agi_pool_params *p = &k->p.pool;
    if (!pool_params_ok(kn, p, true) ||
        !shape_ok(kn, &k->src[0], AG_F32, "src0 (dy)", 4, p->n, p->c, p->oh, p->ow) ||
        !shape_ok(kn, &k->src[1], AG_I32, "src1 (indices)", 4, p->n, p->c, p->oh, p->ow) ||
        !shape_ok(kn, &k->dst, AG_F32, "dst (dx)", 4, p->n, p->c, p->h, p->w))
        return ag_last_status();
    pool_job j = {.p = p, .src = cpu_view_ptr(&k->src[0]), .isrc = cpu_view_ptr(&k->src[1]),
                  .dst = cpu_view_ptr(&k->dst)};
    int64_t work = p->oh * p->ow + p->h * p->w;
    int64_t grain = work >= CPU_GRAIN_ROWS ? 1 : CPU_GRAIN_ROWS / work;
    cpu_parallel_for(&dev->pool, p->n * p->c, grain,
                     maxpool_is_2x2(p) ? maxpool_bwd_2x2_range : maxpool_bwd_range, &j);
    return AG_OK;
}

/* The window of output (oy, ox) clipped to the image, and its divisor. */
static void avg_window(const agi_pool_params *p, int64_t oy, int64_t ox, int64_t *y0, int64_t *y1,
                       int64_t *x0, int64_t *x1, float *div)
{
    if (p->adaptive) {
        *y0 = oy * p->h / p->oh;
        *y1 = ((oy + 1) * p->h + p->oh - 1) / p->oh;
        *x0 = ox * p->w / p->ow;
        *x1 = ((ox + 1) * p->w + p->ow - 1) / p->ow;
        *div = (float)((*y1 - *y0) * (*x1 - *x0));
        return;
    }
    /* Like PyTorch: the padded window end is clipped to h + ph (the ceil_mode
     * overhang does not count), then to the image. */
    int64_t hs = oy * p->sh - p->ph, ws = ox * p->sw - p->pw;
    int64_t he = hs + p->kh, we = ws + p->kw;
    if (he > p->h + p->ph) he = p->h + p->ph;
    if (we > p->w + p->pw) we = p->w + p->pw;
    int64_t pool_size = (he - hs) * (we - ws);
    if (hs < 0) hs = 0;
    if (ws < 0) ws = 0;
    if (he > p->h) he = p->h;
    if (we > p->w) we = p->w;
    *y0 = hs;
    *y1 = he;
    *x0 = ws;
    *x1 = we;
    int64_t cnt = p->count_include_pad ? pool_size : (he - hs) * (we - ws);
    *div = (float)cnt;
}

// x: [N, C, H, W] → y: [N, C, OH, OW]
static void avgpool_range(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const agi_pool_params *p = j->p;
    const int64_t H = p->h, W = p->w, OH = p->oh, OW = p->ow;
    for (int64_t pl = begin; pl < end; pl++) {
        const float *x = j->src + pl * H * W;
        float *y = j->dst + pl * OH * OW;
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                int64_t y0, y1, x0, x1;
                float div;
                avg_window(p, oy, ox, &y0, &y1, &x0, &x1, &div);
                float s = 0.0f;
                for (int64_t yy = y0; yy < y1; yy++)
                    for (int64_t xx = x0; xx < x1; xx++) s += x[yy * W + xx];
                y[oy * OW + ox] = div > 0.0f ? s / div : 0.0f;
            }
    }
}

// dy: [N, C, OH, OW] → dx: [N, C, H, W]
static void avgpool_bwd_range(void *ctx, int64_t begin, int64_t end)
{
    const pool_job *j = ctx;
    const agi_pool_params *p = j->p;
    const int64_t H = p->h, W = p->w, OH = p->oh, OW = p->ow;
    for (int64_t pl = begin; pl < end; pl++) {
        float *dx = j->dst + pl * H * W;
        const float *dy = j->src + pl * OH * OW;
        memset(dx, 0, (size_t)(H * W) * sizeof(float));
        for (int64_t oy = 0; oy < OH; oy++)
            for (int64_t ox = 0; ox < OW; ox++) {
                int64_t y0, y1, x0, x1;
                float div;
                avg_window(p, oy, ox, &y0, &y1, &x0, &x1, &div);
                if (!(div > 0.0f)) continue;
                float g = dy[oy * OW + ox] / div;
                for (int64_t yy = y0; yy < y1; yy++)
                    for (int64_t xx = x0; xx < x1; xx++) dx[yy * W + xx] += g;
            }
    }
}

ag_status cpu_avgpool2d(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "avgpool2d";
    const agi_pool_params *p = &k->p.pool;
    if (!pool_params_ok(kn, p, false) ||
        !shape_ok(kn, &k->src[0], AG_F32, "src0 (x)", 4, p->n, p->c, p->h, p->w) ||
        !shape_ok(kn, &k->dst, AG_F32, "dst (y)", 4, p->n, p->c, p->oh, p->ow))
        return ag_last_status();
    pool_job j = {.p = p, .src = cpu_view_ptr(&k->src[0]), .dst = cpu_view_ptr(&k->dst)};
    int64_t work = p->h * p->w + p->oh * p->ow;
    int64_t grain = work >= CPU_GRAIN_ROWS ? 1 : CPU_GRAIN_ROWS / work;
    cpu_parallel_for(&dev->pool, p->n * p->c, grain, avgpool_range, &j);
    return AG_OK;
}

ag_status cpu_avgpool2d_bwd(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "avgpool2d_bwd";
    const agi_pool_params *p = &k->p.pool;
    if (!pool_params_ok(kn, p, false) ||
        !shape_ok(kn, &k->src[0], AG_F32, "src0 (dy)", 4, p->n, p->c, p->oh, p->ow) ||
        !shape_ok(kn, &k->dst, AG_F32, "dst (dx)", 4, p->n, p->c, p->h, p->w))
        return ag_last_status();
    pool_job j = {.p = p, .src = cpu_view_ptr(&k->src[0]), .dst = cpu_view_ptr(&k->dst)};
    int64_t work = p->h * p->w + p->oh * p->ow;
    int64_t grain = work >= CPU_GRAIN_ROWS ? 1 : CPU_GRAIN_ROWS / work;
    cpu_parallel_for(&dev->pool, p->n * p->c, grain, avgpool_bwd_range, &j);
    return AG_OK;
}
