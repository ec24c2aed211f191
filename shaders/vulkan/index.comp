#version 450
//! variant gather -DOP=0
//! variant scatter_loop -DOP=1
//! variant scatter_atomic -DOP=2
// GATHER and SCATTER_ADD over up to 8 dims; geometry in the metadata buffer
// (binding 4). Binding 0 dst, 1 src0 (data), 2 src1 (i32 index), 3 the
// error word (written with ecode on an out-of-range index when ecode > 0).
// gather:         one invocation per dst element (32-bit data copied as bits).
// scatter_loop:   one invocation per dst element, summing matching source
//                 elements in order (deterministic).
// scatter_atomic: one invocation per source element, float atomic add.
#extension GL_GOOGLE_include_directive : require
#if OP == 2
#extension GL_EXT_shader_atomic_float : require
#endif
#include "common.glsl"
#if OP == 0
layout(std430, binding = 0) writeonly buffer D { uint d[]; };
layout(std430, binding = 1) readonly buffer S { uint s[]; };
#else
layout(std430, binding = 0) buffer D { float d[]; };
layout(std430, binding = 1) readonly buffer S { float s[]; };
#endif
layout(std430, binding = 2) readonly buffer I { int ix[]; };
layout(std430, binding = 3) writeonly buffer E { int err[]; };
layout(std430, binding = 4) readonly buffer Meta {
    uint nd, dim, total, dimsize; // dimsize: bound for the index values
    uint loop;                    // scatter_loop: source extent along dim
    uint doff, ioff, soff;
    uint shape[8];                // iteration shape
    uint lim[8];                  // scatter: the other tensor's shape (skip beyond)
    uint sd[8], si[8], ss[8];     // strides of dst, index, src
    uint eoff, ecode;             // the error word
} m;

void flag_out_of_range()
{
    if (m.ecode != 0u) err[m.eoff] = int(m.ecode);
}

void main()
{
    uint e = lin_id();
    if (e >= m.total) return;
    uint od = m.doff, oi = m.ioff, os = m.soff;
    uint cdim = 0u;
    uint rest = e;
    bool inside = true;
    for (int k = int(m.nd) - 1; k >= 0; k--) {
        uint c = rest % m.shape[k];
        rest /= m.shape[k];
        od += c * m.sd[k];
        if (uint(k) == m.dim) {
            cdim = c;
            continue;
        }
        oi += c * m.si[k];
        os += c * m.ss[k];
#if OP != 0
        if (c >= m.lim[k]) inside = false;
#endif
    }
#if OP == 0
    int t = ix[oi + cdim * m.si[m.dim]];
    uint v = 0u;
    if (t >= 0 && uint(t) < m.dimsize) v = s[os + uint(t) * m.ss[m.dim]];
    else flag_out_of_range();
    d[od] = v;
#elif OP == 1
    if (!inside) return;
    float acc = d[od];
    for (uint t = 0u; t < m.loop; t++) {
        int v = ix[oi + t * m.si[m.dim]];
        if (v == int(cdim)) acc += s[os + t * m.ss[m.dim]];
        else if (v < 0 || uint(v) >= m.dimsize) flag_out_of_range();
    }
    d[od] = acc;
#else
    // iteration over the source: od accumulated the dst offset of coordinate
    // cdim, which is replaced by the index value.
    if (!inside) return;
    int t = ix[oi + cdim * m.si[m.dim]];
    if (t < 0 || uint(t) >= m.dimsize) {
        flag_out_of_range();
        return;
    }
    uint dst = od - cdim * m.sd[m.dim] + uint(t) * m.sd[m.dim];
    atomicAdd(d[dst], s[os + cdim * m.ss[m.dim]]);
#endif
}
