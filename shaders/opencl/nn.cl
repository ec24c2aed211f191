/* shaders/opencl/nn.cl — IM2COL / COL2IM, max and average pooling (forward
 * and backward), and a plain strided GEMM used where CLBlast cannot take the
 * layout. All image tensors are contiguous [N, C, H, W]. */

/* Mirrors agi_conv_params. */
typedef struct {
    long n, c, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
} conv_t;

/* Mirrors agi_pool_params. */
typedef struct {
    long n, c, h, w, oh, ow, kh, kw, sh, sw, ph, pw, dh, dw;
    int ceil_mode, count_include_pad, adaptive;
} pool_t;

/* cols [N, C*kh*kw, OH*OW]; work-item (l, r, n) writes cols[n, r, l], so the
 * row decomposition is uniform along dim 0. */
__kernel void im2col_f32(__global float *cols, long coff, __global const float *x, long xoff,
                         conv_t p)
{
    long l = get_global_id(0), r = get_global_id(1), n = get_global_id(2);
    long L = p.oh * p.ow, R = p.c * p.kh * p.kw;
    if (l >= L || r >= R) return;
    long t2 = ag_div(r, p.kw), j = r - t2 * p.kw;
    long c = ag_div(t2, p.kh), ki = t2 - c * p.kh;
    long oy = ag_div(l, p.ow), ox = l - oy * p.ow;
    long y = oy * p.sh - p.ph + ki * p.dh, xx = ox * p.sw - p.pw + j * p.dw;
    float v = 0.0f;
    if (y >= 0 && y < p.h && xx >= 0 && xx < p.w) v = x[xoff + ((n * p.c + c) * p.h + y) * p.w + xx];
    cols[coff + (n * R + r) * L + l] = v;
}

/* CPU-type devices: work-item (oy, r, n) writes the OW entries of output
 * row oy in a loop (no per-element index arithmetic). */
__kernel void im2col_rows_f32(__global float *cols, long coff, __global const float *x,
                              long xoff, conv_t p)
{
    long oy = get_global_id(0), r = get_global_id(1), n = get_global_id(2);
    long L = p.oh * p.ow, R = p.c * p.kh * p.kw;
    if (oy >= p.oh || r >= R) return;
    long t2 = ag_div(r, p.kw), j = r - t2 * p.kw;
    long c = ag_div(t2, p.kh), ki = t2 - c * p.kh;
    long y = oy * p.sh - p.ph + ki * p.dh;
    __global float *dst = cols + coff + (n * R + r) * L + oy * p.ow;
    if (y < 0 || y >= p.h) {
        for (long ox = 0; ox < p.ow; ox++) dst[ox] = 0.0f;
        return;
    }
    __global const float *src = x + xoff + ((n * p.c + c) * p.h + y) * p.w;
    long x0 = j * p.dw - p.pw;
    for (long ox = 0; ox < p.ow; ox++) {
        long xx = x0 + ox * p.sw;
        dst[ox] = (xx >= 0 && xx < p.w) ? src[xx] : 0.0f;
    }
}

/* x [N, C, H, W] = sum of the cols entries mapping to each pixel, summed in
 * (ki, kj) order. One work-item per pixel. */
__kernel void col2im_f32(__global float *x, long xoff, __global const float *cols, long coff,
                         conv_t p)
{
    long i = get_global_id(0);
    if (i >= p.n * p.c * p.h * p.w) return;
    long t = ag_div(i, p.w), xx = i - t * p.w;
    long t2 = ag_div(t, p.h), y = t - t2 * p.h;
    long n = ag_div(t2, p.c), c = t2 - n * p.c;
    long L = p.oh * p.ow, R = p.c * p.kh * p.kw;
    float acc = 0.0f;
    for (long ki = 0; ki < p.kh; ki++) {
        long ty = y + p.ph - ki * p.dh;
        if (ty < 0) continue;
        long oy = ag_div(ty, p.sh);
        if (oy * p.sh != ty) continue;
        if (oy >= p.oh) continue;
        for (long kj = 0; kj < p.kw; kj++) {
            long tx = xx + p.pw - kj * p.dw;
            if (tx < 0) continue;
            long ox = ag_div(tx, p.sw);
            if (ox * p.sw != tx) continue;
            if (ox >= p.ow) continue;
            long r = (c * p.kh + ki) * p.kw + kj;
            acc += cols[coff + (n * R + r) * L + oy * p.ow + ox];
        }
    }
    x[xoff + i] = acc;
}

/* CPU-type devices: work-item (y, plane) computes the W pixels of one image
 * row, same summation order as col2im_f32. */
__kernel void col2im_rows_f32(__global float *x, long xoff, __global const float *cols, long coff,
                              conv_t p)
{
    long y = get_global_id(0), plane = get_global_id(1);
    if (y >= p.h || plane >= p.n * p.c) return;
    long n = ag_div(plane, p.c), c = plane - n * p.c;
    long L = p.oh * p.ow, R = p.c * p.kh * p.kw;
    __global float *dst = x + xoff + (plane * p.h + y) * p.w;
    for (long xx = 0; xx < p.w; xx++) {
        float acc = 0.0f;
        for (long ki = 0; ki < p.kh; ki++) {
            long ty = y + p.ph - ki * p.dh;
            if (ty < 0) continue;
            long oy = ag_div(ty, p.sh);
            if (oy * p.sh != ty || oy >= p.oh) continue;
            __global const float *crow = cols + coff + (n * R + (c * p.kh + ki) * p.kw) * L + oy * p.ow;
            for (long kj = 0; kj < p.kw; kj++) {
                long tx = xx + p.pw - kj * p.dw;
                if (tx < 0) continue;
                long ox = p.sw == 1 ? tx : ag_div(tx, p.sw);
                if (ox * p.sw != tx || ox >= p.ow) continue;
                acc += crow[kj * L + ox];
            }
        }
        dst[xx] = acc;
    }
}

/* CPU-type devices: work-item (oy, plane) computes one output row. */
__kernel void maxpool2d_rows_f32(__global float *y, long yoff, __global int *idx, long ioff,
                                 __global const float *x, long xoff, pool_t p)
{
    long oy = get_global_id(0), plane = get_global_id(1);
    if (oy >= p.oh || plane >= p.n * p.c) return;
    __global const float *xp = x + xoff + plane * p.h * p.w;
    long o = plane * p.oh * p.ow + oy * p.ow;
    for (long ox = 0; ox < p.ow; ox++) {
        float best = -INFINITY;
        long bi = -1;
        for (long ki = 0; ki < p.kh; ki++) {
            long yy = oy * p.sh - p.ph + ki * p.dh;
            if (yy < 0 || yy >= p.h) continue;
            for (long kj = 0; kj < p.kw; kj++) {
                long xx = ox * p.sw - p.pw + kj * p.dw;
                if (xx < 0 || xx >= p.w) continue;
                float v = xp[yy * p.w + xx];
                if (bi < 0 || v > best || (isnan(v) && !isnan(best))) {
                    best = v;
                    bi = yy * p.w + xx;
                }
            }
        }
        y[yoff + o + ox] = best;
        idx[ioff + o + ox] = (int)(bi < 0 ? 0 : bi);
    }
}

/* y, idx [N, C, OH, OW]; padding counts as -inf; first maximum on ties. */
__kernel void maxpool2d_f32(__global float *y, long yoff, __global int *idx, long ioff,
                            __global const float *x, long xoff, pool_t p)
{
    long i = get_global_id(0);
    if (i >= p.n * p.c * p.oh * p.ow) return;
    long t = ag_div(i, p.ow), ox = i - t * p.ow;
    long plane = ag_div(t, p.oh), oy = t - plane * p.oh;
    __global const float *xp = x + xoff + plane * p.h * p.w;
    float best = -INFINITY;
    long bi = -1;
    for (long ki = 0; ki < p.kh; ki++) {
        long yy = oy * p.sh - p.ph + ki * p.dh;
        if (yy < 0 || yy >= p.h) continue;
        for (long kj = 0; kj < p.kw; kj++) {
            long xx = ox * p.sw - p.pw + kj * p.dw;
            if (xx < 0 || xx >= p.w) continue;
            float v = xp[yy * p.w + xx];
            if (bi < 0 || v > best || (isnan(v) && !isnan(best))) {
                best = v;
                bi = yy * p.w + xx;
            }
        }
    }
    y[yoff + i] = best;
    idx[ioff + i] = (int)(bi < 0 ? 0 : bi);
}

/* dx [N, C, H, W]: sum of dy over the windows whose index points here. */
__kernel void maxpool2d_bwd_f32(__global float *dx, long dxoff, __global const float *dy,
                                long dyoff, __global const int *idx, long ioff, pool_t p)
{
    long i = get_global_id(0);
    if (i >= p.n * p.c * p.h * p.w) return;
    long t = ag_div(i, p.w), xx = i - t * p.w;
    long plane = ag_div(t, p.h), yy = t - plane * p.h;
    int target = (int)(yy * p.w + xx);
    /* windows oy with oy*sh - ph <= yy <= oy*sh - ph + (kh-1)*dh */
    long ylo = yy + p.ph - (p.kh - 1) * p.dh, yhi = yy + p.ph;
    long oy0 = ylo <= 0 ? 0 : ag_div(ylo + p.sh - 1, p.sh), oy1 = ag_div(yhi, p.sh);
    long xlo = xx + p.pw - (p.kw - 1) * p.dw, xhi = xx + p.pw;
    long ox0 = xlo <= 0 ? 0 : ag_div(xlo + p.sw - 1, p.sw), ox1 = ag_div(xhi, p.sw);
    if (oy1 >= p.oh) oy1 = p.oh - 1;
    if (ox1 >= p.ow) ox1 = p.ow - 1;
    long base = plane * p.oh * p.ow;
    float acc = 0.0f;
    for (long oy = oy0; oy <= oy1; oy++)
        for (long ox = ox0; ox <= ox1; ox++) {
            long o = base + oy * p.ow + ox;
            if (idx[ioff + o] == target) acc += dy[dyoff + o];
        }
    dx[dxoff + i] = acc;
}

/* Window [*s, *e) along one axis for output o and its divisor contribution. */
void avg_window(const pool_t *p, int axis, long o, long *s, long *e, long *span)
{
    long in = axis ? p->w : p->h, out = axis ? p->ow : p->oh;
    if (p->adaptive) {
        *s = ag_div(o * in, out);
        *e = ag_div((o + 1) * in + out - 1, out);
        *span = *e - *s;
        return;
    }
    long k = axis ? p->kw : p->kh, st = axis ? p->sw : p->sh, pad = axis ? p->pw : p->ph;
    long a = o * st - pad, b = a + k;
    if (b > in + pad) b = in + pad;
    *span = b - a;
    if (a < 0) a = 0;
    if (b > in) b = in;
    *s = a;
    *e = b;
}

float avg_divisor(const pool_t *p, long ys, long ye, long yspan, long xs, long xe, long xspan)
{
    if (!p->adaptive && p->count_include_pad) return (float)(yspan * xspan);
    return (float)((ye - ys) * (xe - xs));
}

__kernel void avgpool2d_f32(__global float *y, long yoff, __global const float *x, long xoff,
                            pool_t p)
{
    long i = get_global_id(0);
    if (i >= p.n * p.c * p.oh * p.ow) return;
    long t = ag_div(i, p.ow), ox = i - t * p.ow;
    long plane = ag_div(t, p.oh), oy = t - plane * p.oh;
    long ys, ye, ysp, xs, xe, xsp;
    avg_window(&p, 0, oy, &ys, &ye, &ysp);
    avg_window(&p, 1, ox, &xs, &xe, &xsp);
    __global const float *xp = x + xoff + plane * p.h * p.w;
    float acc = 0.0f;
    for (long yy = ys; yy < ye; yy++)
        for (long xx = xs; xx < xe; xx++) acc += xp[yy * p.w + xx];
    y[yoff + i] = acc / avg_divisor(&p, ys, ye, ysp, xs, xe, xsp);
}

/* Candidate output range along one axis for input position v. */
void avg_range(const pool_t *p, int axis, long v, long *o0, long *o1)
{
    long in = axis ? p->w : p->h, out = axis ? p->ow : p->oh;
    long a, b;
    if (p->adaptive) {
        a = ag_div(v * out, in) - 1;
        b = ag_div((v + 1) * out + in - 1, in);
    } else {
        long k = axis ? p->kw : p->kh, st = axis ? p->sw : p->sh, pad = axis ? p->pw : p->ph;
        long lo = v + pad - k + 1;
        a = lo <= 0 ? 0 : ag_div(lo + st - 1, st);
        b = ag_div(v + pad, st);
    }
    if (a < 0) a = 0;
    if (b > out - 1) b = out - 1;
    *o0 = a;
    *o1 = b;
}

__kernel void avgpool2d_bwd_f32(__global float *dx, long dxoff, __global const float *dy,
                                long dyoff, pool_t p)
{
    long i = get_global_id(0);
    if (i >= p.n * p.c * p.h * p.w) return;
    long t = ag_div(i, p.w), xx = i - t * p.w;
    long plane = ag_div(t, p.h), yy = t - plane * p.h;
    long oy0, oy1, ox0, ox1;
    avg_range(&p, 0, yy, &oy0, &oy1);
    avg_range(&p, 1, xx, &ox0, &ox1);
    __global const float *gp = dy + dyoff + plane * p.oh * p.ow;
    float acc = 0.0f;
    for (long oy = oy0; oy <= oy1; oy++) {
        long ys, ye, ysp;
        avg_window(&p, 0, oy, &ys, &ye, &ysp);
        if (yy < ys || yy >= ye) continue;
        for (long ox = ox0; ox <= ox1; ox++) {
            long xs, xe, xsp;
            avg_window(&p, 1, ox, &xs, &xe, &xsp);
            if (xx < xs || xx >= xe) continue;
            acc += gp[oy * p.ow + ox] / avg_divisor(&p, ys, ye, ysp, xs, xe, xsp);
        }
    }
    dx[dxoff + i] = acc;
}

/* Plain batched GEMM for layouts CLBlast cannot take: C[b] = alpha A[b] B[b]
 * + beta C[b] (beta == 0 ignores C). st: A (b, m, k), B (b, k, n), C (b, m, n)
 * strides in elements. Work-item (n, m, b). */
typedef struct {
    long m, n, k;
    long sa[3], sb[3], sc[3];
    long aoff, boff, coff;
    float alpha, beta;
} gemm_t;

__kernel void gemm_naive_f32(__global float *c, __global const float *a, __global const float *b,
                             gemm_t g)
{
    long j = get_global_id(0), i = get_global_id(1), bt = get_global_id(2);
    if (j >= g.n || i >= g.m) return;
    __global const float *ar = a + g.aoff + bt * g.sa[0] + i * g.sa[1];
    __global const float *bc = b + g.boff + bt * g.sb[0] + j * g.sb[2];
    float acc = 0.0f;
    for (long kk = 0; kk < g.k; kk++) acc += ar[kk * g.sa[2]] * bc[kk * g.sb[1]];
    long co = g.coff + bt * g.sc[0] + i * g.sc[1] + j * g.sc[2];
    float r = g.alpha * acc;
    if (g.beta != 0.0f) r += g.beta * c[co];
    c[co] = r;
}
