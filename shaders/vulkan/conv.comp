#version 450
//! variant im2col -DOP=0
//! variant col2im -DOP=1
//! variant maxpool -DOP=2
//! variant maxpool_bwd -DOP=3
//! variant avgpool -DOP=4
//! variant avgpool_bwd -DOP=5
//! variant maxpool_bwd_scatter -DOP=6
//! variant im2col_f16 -DOP=0 -DHALF=1
//! variant im2col_bf16 -DOP=0 -DHALF=2
//! variant im2col_f16_s16 -DOP=0 -DHALF=1 -DS16
//! variant im2col_bf16_s16 -DOP=0 -DHALF=2 -DS16
//! variant col2im_f16 -DOP=1 -DHALF=1
//! variant col2im_bf16 -DOP=1 -DHALF=2
//! variant col2im_f16_s16 -DOP=1 -DHALF=1 -DS16
//! variant col2im_bf16_s16 -DOP=1 -DHALF=2 -DS16
// Convolution and pooling helpers, one invocation per output element (the
// backward kernels gather, so every element is written and no atomics are
// needed). Binding 0 dst, 1 src0, 2 src1 (pool indices), 3 dst2 (indices).
// 3-D grid: x = column, y = row, z = plane (n * C + c) + zbase, so no integer
// divisions are needed to find an element's coordinates. Rows and columns
// are those of the output positions (im2col, forward pools) or of the image
// (col2im and the backward pools).
// HALF 1 / 2 (im2col, col2im): f16 / bf16 x and cols (half_io.glsl; S16:
// 16-bit storage). im2col moves the 16-bit values' bits; col2im sums in f32
// in the f32 kernel's order and rounds once, so both give the bits of the
// f32 kernel run on widened data and rounded back.
#extension GL_GOOGLE_include_directive : require
#ifdef S16
#extension GL_EXT_shader_16bit_storage : require
#endif
#include "common.glsl"
#ifndef HALF
#define HALF 0
#endif
#if HALF == 0
layout(std430, binding = 0) writeonly buffer D { float d[]; };
layout(std430, binding = 1) readonly buffer S { float s[]; };
layout(std430, binding = 0) writeonly buffer D4 { vec4 d4[]; };
#define LOAD_S(i) s[(i)]
#define STORE_D(i, v) d[(i)] = (v)
#else
#include "half_io.glsl"
layout(std430, binding = 0) buffer D { H_WORD d[]; };
layout(std430, binding = 1) readonly buffer S { H_WORD s[]; };
#define LOAD_S(i) H_LOAD(s, (i))
#define STORE_D(i, v) H_STORE(d, (i), (v))
#endif
layout(std430, binding = 2) readonly buffer I { int ix[]; };
layout(std430, binding = 3) writeonly buffer D2 { int d2[]; };
// Spec 1 = V4 (im2col): OW % 4 == 0 and dst 16-byte aligned; an invocation
// fills 4 consecutive output columns with vec4 stores (x = column / 4).
layout(constant_id = 1) const int V4 = 0;
layout(push_constant) uniform PC {
    uint zbase;
    int n, c, h, w, kh, kw, oh, ow, sh, sw, ph, pw, dh, dw;
    int ceil_mode, count_include_pad, adaptive;
    uint doff, soff, ioff, d2off;
} pc;

// Averaging window of output (oy, ox) clipped to the image; returns the divisor.
float avg_window(int oy, int ox, out int y0, out int y1, out int x0, out int x1)
{
    if (pc.adaptive != 0) {
        y0 = (oy * pc.h) / pc.oh;
        y1 = ((oy + 1) * pc.h + pc.oh - 1) / pc.oh;
        x0 = (ox * pc.w) / pc.ow;
        x1 = ((ox + 1) * pc.w + pc.ow - 1) / pc.ow;
        return float((y1 - y0) * (x1 - x0));
    }
    int hs = oy * pc.sh - pc.ph, ws = ox * pc.sw - pc.pw;
    int he = min(hs + pc.kh, pc.h + pc.ph), we = min(ws + pc.kw, pc.w + pc.pw);
    int pool = (he - hs) * (we - ws);
    y0 = max(hs, 0);
    x0 = max(ws, 0);
    y1 = min(he, pc.h);
    x1 = min(we, pc.w);
    return float(pc.count_include_pad != 0 ? pool : (y1 - y0) * (x1 - x0));
}

void main()
{
    int H = pc.h, W = pc.w, OH = pc.oh, OW = pc.ow;
#if OP == 1 || OP == 3 || OP == 5
    int XW = W, YH = H;
#else
    int XW = OW, YH = OH;
#endif
    int gx = int(gl_GlobalInvocationID.x), gy = int(gl_GlobalInvocationID.y);
    uint plane = gl_GlobalInvocationID.z + pc.zbase;
    if (gx >= XW) return;
    uint e = (plane * uint(YH) + uint(gy)) * uint(XW) + uint(gx);
#if OP == 0
    // cols [N, C*kh*kw, OH*OW]: one invocation per (n, c, output position),
    // looping over the kernel window (keeps integer divisions out of the loop)
    int L = OH * OW;
#if HALF == 0
    if (V4 != 0) {
        if (gx * 4 >= OW) return;
        int oy = gy, ox0 = gx * 4;
        int y0 = oy * pc.sh - pc.ph;
        uint src = pc.soff + plane * uint(H * W);
        uint dst4 = (pc.doff + plane * uint(pc.kh * pc.kw * L) + uint(oy * OW + ox0)) >> 2;
        for (int i = 0; i < pc.kh; i++) {
            int y = y0 + i * pc.dh;
            bool yin = y >= 0 && y < H;
            for (int j = 0; j < pc.kw; j++) {
                vec4 v = vec4(0.0);
                for (int q = 0; q < 4; q++) {
                    int x = (ox0 + q) * pc.sw - pc.pw + j * pc.dw;
                    if (yin && x >= 0 && x < W) v[q] = s[src + uint(y * W + x)];
                }
                d4[dst4] = v;
                dst4 += uint(L >> 2);
            }
        }
        return;
    }
#endif
    int oy = gy, ox = gx;
    int col = oy * OW + ox;
    int y0 = oy * pc.sh - pc.ph, x0 = ox * pc.sw - pc.pw;
    uint src = pc.soff + plane * uint(H * W);
    uint dst = pc.doff + plane * uint(pc.kh * pc.kw * L) + uint(col);
    for (int i = 0; i < pc.kh; i++) {
        int y = y0 + i * pc.dh;
        bool yin = y >= 0 && y < H;
        for (int j = 0; j < pc.kw; j++) {
            int x = x0 + j * pc.dw;
#if HALF == 0
            float v = 0.0;
            if (yin && x >= 0 && x < W) v = s[src + uint(y * W + x)];
            d[dst] = v;
#else
            uint v = 0u; // +0.0
            if (yin && x >= 0 && x < W) v = H_LOAD_BITS(s, src + uint(y * W + x));
            H_STORE_BITS(d, dst, v);
#endif
            dst += uint(L);
        }
    }
#elif OP == 1
    // x [N, C, H, W] from cols: sum over the (i, j) whose window covers (y, x),
    // in increasing (i, j) order
    int x = gx, y = gy;
    int L = OH * OW;
    uint base = pc.soff + plane * uint(pc.kh * pc.kw * L);
    float acc = 0.0;
    if (pc.dh == 1 && pc.dw == 1) {
        int ty = y + pc.ph, tx = x + pc.pw;
        int oy_hi = min(OH - 1, ty / pc.sh), ox_hi = min(OW - 1, tx / pc.sw);
        int oy_lo = max(0, (ty - pc.kh + pc.sh) / pc.sh), ox_lo = max(0, (tx - pc.kw + pc.sw) / pc.sw);
        for (int oy = oy_hi; oy >= oy_lo; oy--) {
            int i = ty - oy * pc.sh;
            if (i < 0 || i >= pc.kh) continue;
            for (int ox = ox_hi; ox >= ox_lo; ox--) {
                int j = tx - ox * pc.sw;
                if (j < 0 || j >= pc.kw) continue;
                acc += LOAD_S(base + uint((i * pc.kw + j) * L + oy * OW + ox));
            }
        }
    } else {
        for (int i = 0; i < pc.kh; i++) {
            int ty = y + pc.ph - i * pc.dh;
            if (ty < 0 || ty % pc.sh != 0) continue;
            int oy = ty / pc.sh;
            if (oy >= OH) continue;
            for (int j = 0; j < pc.kw; j++) {
                int tx = x + pc.pw - j * pc.dw;
                if (tx < 0 || tx % pc.sw != 0) continue;
                int ox = tx / pc.sw;
                if (ox >= OW) continue;
                acc += LOAD_S(base + uint((i * pc.kw + j) * L + oy * OW + ox));
            }
        }
    }
    STORE_D(pc.doff + e, acc);
#elif OP == 2
    int ox = gx, oy = gy;
    uint base = pc.soff + plane * uint(H * W);
    int y0 = oy * pc.sh - pc.ph, x0 = ox * pc.sw - pc.pw;
    float best = -1.0 / 0.0;
    int bi = -1;
    for (int i = 0; i < pc.kh; i++) {
        int yy = y0 + i * pc.dh;
        if (yy < 0 || yy >= H) continue;
        for (int j = 0; j < pc.kw; j++) {
            int xx = x0 + j * pc.dw;
            if (xx < 0 || xx >= W) continue;
            float v = s[base + uint(yy * W + xx)];
            if (bi < 0) bi = yy * W + xx;
            if (v > best || (isnan(v) && !isnan(best))) {
                best = v;
                bi = yy * W + xx;
            }
        }
    }
    d[pc.doff + e] = best;
    d2[pc.d2off + e] = bi < 0 ? 0 : bi;
#elif OP == 3
    // dx [N, C, H, W]: sum of dy whose index points here (windows in
    // increasing output order)
    int x = gx, y = gy;
    int q = y * W + x;
    uint ob = plane * uint(OH * OW);
    float acc = 0.0;
    if (pc.dh == 1 && pc.dw == 1) {
        int ty = y + pc.ph, tx = x + pc.pw;
        int oy_hi = min(OH - 1, ty / pc.sh), ox_hi = min(OW - 1, tx / pc.sw);
        int oy_lo = max(0, (ty - pc.kh + pc.sh) / pc.sh), ox_lo = max(0, (tx - pc.kw + pc.sw) / pc.sw);
        for (int oy = oy_lo; oy <= oy_hi; oy++) {
            int i = ty - oy * pc.sh;
            if (i < 0 || i >= pc.kh) continue;
            for (int ox = ox_lo; ox <= ox_hi; ox++) {
                int j = tx - ox * pc.sw;
                if (j < 0 || j >= pc.kw) continue;
                uint o = ob + uint(oy * OW + ox);
                if (ix[pc.ioff + o] == q) acc += s[pc.soff + o];
            }
        }
    } else {
        for (int i = pc.kh - 1; i >= 0; i--) {
            int ty = y + pc.ph - i * pc.dh;
            if (ty < 0 || ty % pc.sh != 0) continue;
            int oy = ty / pc.sh;
            if (oy >= OH) continue;
            for (int j = pc.kw - 1; j >= 0; j--) {
                int tx = x + pc.pw - j * pc.dw;
                if (tx < 0 || tx % pc.sw != 0) continue;
                int ox = tx / pc.sw;
                if (ox >= OW) continue;
                uint o = ob + uint(oy * OW + ox);
                if (ix[pc.ioff + o] == q) acc += s[pc.soff + o];
            }
        }
    }
    d[pc.doff + e] = acc;
#elif OP == 4
    int ox = gx, oy = gy;
    uint base = pc.soff + plane * uint(H * W);
    int y0, y1, x0, x1;
    float div = avg_window(oy, ox, y0, y1, x0, x1);
    float acc = 0.0;
    for (int yy = y0; yy < y1; yy++)
        for (int xx = x0; xx < x1; xx++) acc += s[base + uint(yy * W + xx)];
    d[pc.doff + e] = div > 0.0 ? acc / div : 0.0;
#elif OP == 6
    // non-overlapping windows (the host checks): each dx element has at most
    // one window, so one invocation per output stores its dy at its index
    // into a dx the host zeroed first
    uint o = plane * uint(OH * OW) + uint(gy * OW + gx);
    int q = ix[pc.ioff + o];
    if (q >= 0 && q < H * W) d[pc.doff + plane * uint(H * W) + uint(q)] = s[pc.soff + o];
#else
    int x = gx, y = gy;
    uint ob = pc.soff + plane * uint(OH * OW);
    int oy_lo, oy_hi, ox_lo, ox_hi;
    if (pc.adaptive != 0) {
        oy_lo = max(0, (y * OH) / H - 1);
        oy_hi = min(OH - 1, ((y + 1) * OH + H - 1) / H);
        ox_lo = max(0, (x * OW) / W - 1);
        ox_hi = min(OW - 1, ((x + 1) * OW + W - 1) / W);
    } else {
        int ty = y + pc.ph - pc.kh + 1, tx = x + pc.pw - pc.kw + 1;
        oy_lo = ty <= 0 ? 0 : (ty + pc.sh - 1) / pc.sh;
        ox_lo = tx <= 0 ? 0 : (tx + pc.sw - 1) / pc.sw;
        oy_hi = min(OH - 1, (y + pc.ph) / pc.sh);
        ox_hi = min(OW - 1, (x + pc.pw) / pc.sw);
    }
    float acc = 0.0;
    for (int oy = oy_lo; oy <= oy_hi; oy++)
        for (int ox = ox_lo; ox <= ox_hi; ox++) {
            int y0, y1, x0, x1;
            float div = avg_window(oy, ox, y0, y1, x0, x1);
            if (!(div > 0.0) || y < y0 || y >= y1 || x < x0 || x >= x1) continue;
            acc += s[ob + uint(oy * OW + ox)] / div;
        }
    d[pc.doff + e] = acc;
#endif
}
