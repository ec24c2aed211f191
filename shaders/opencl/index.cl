/* shaders/opencl/index.cl — GATHER and SCATTER_ADD along one dim. */

/* Mirrors agcl_sgeom. dshape/sshape: dst and src0 shapes; *_st strides;
 * the index tensor has dst's shape (gather) or src0's shape (scatter). */
typedef struct {
    long dshape[8], sshape[8];
    long dst_st[8], src_st[8], idx_st[8];
    long doff, soff, ioff, n;
    int ndim, dim;
    int err_code, pad; /* > 0: store it in err[0] on an out-of-range index */
} sgeom_t;

/* dst[p] = src[p with p[dim] = index[p]]; out-of-range index gives 0.
 * 4-byte elements (f32 or i32 bit patterns). One work-item per dst element. */
__kernel void gather_u32(__global uint *d, __global const uint *s, __global const int *idx,
                         sgeom_t g, __global int *err)
{
    long i = get_global_id(0);
    if (i >= g.n) return;
    long r = i, od = g.doff, os = g.soff, oi = g.ioff;
    for (int k = g.ndim - 1; k >= 0; k--) {
        long q = ag_div(r, g.dshape[k]);
        long c = r - q * g.dshape[k];
        r = q;
        od += c * g.dst_st[k];
        oi += c * g.idx_st[k];
        if (k != g.dim) os += c * g.src_st[k];
    }
    int j = idx[oi];
    uint v = 0;
    if (j >= 0 && j < g.sshape[g.dim]) v = s[os + (long)j * g.src_st[g.dim]];
    else if (g.err_code) err[0] = g.err_code;
    d[od] = v;
}

void atomic_add_f32(volatile __global float *p, float v)
{
    volatile __global int *ip = (volatile __global int *)p;
    int old = *ip, assumed;
    do {
        assumed = old;
        old = atomic_cmpxchg(ip, assumed, as_int(as_float(assumed) + v));
    } while (old != assumed);
}

/* dst[p with p[dim] = index[p]] += src[p] for every p of src's shape; float
 * atomics through compare-and-swap (summation order unspecified). */
__kernel void scatter_add_atomic_f32(__global float *d, __global const float *s,
                                     __global const int *idx, sgeom_t g, __global int *err)
{
    long i = get_global_id(0);
    if (i >= g.n) return;
    long r = i, od = g.doff, os = g.soff, oi = g.ioff;
    for (int k = g.ndim - 1; k >= 0; k--) {
        long q = ag_div(r, g.sshape[k]);
        long c = r - q * g.sshape[k];
        r = q;
        os += c * g.src_st[k];
        oi += c * g.idx_st[k];
        if (k != g.dim) {
            if (c >= g.dshape[k]) return;
            od += c * g.dst_st[k];
        }
    }
    int j = idx[oi];
    if (j < 0 || j >= g.dshape[g.dim]) {
        if (g.err_code) err[0] = g.err_code;
        return;
    }
    atomic_add_f32(d + od + (long)j * g.dst_st[g.dim], s[os]);
}

/* Deterministic variant: one work-item per position of src outside `dim`
 * walks src along dim in order and adds into dst; no two work-items touch
 * the same dst element, and each dst element receives its sources in
 * increasing order (the order of a sequential loop). g.n = number of such
 * positions. */
__kernel void scatter_add_det_f32(__global float *d, __global const float *s,
                                  __global const int *idx, sgeom_t g, __global int *err)
{
    long i = get_global_id(0);
    if (i >= g.n) return;
    long r = i, od = g.doff, os = g.soff, oi = g.ioff;
    for (int k = g.ndim - 1; k >= 0; k--) {
        if (k == g.dim) continue;
        long q = ag_div(r, g.sshape[k]);
        long c = r - q * g.sshape[k];
        r = q;
        if (c >= g.dshape[k]) return;
        os += c * g.src_st[k];
        oi += c * g.idx_st[k];
        od += c * g.dst_st[k];
    }
    long len = g.sshape[g.dim], ss = g.src_st[g.dim], is = g.idx_st[g.dim];
    long dlen = g.dshape[g.dim], ds = g.dst_st[g.dim];
    for (long j = 0; j < len; j++) {
        int t = idx[oi + j * is];
        if (t >= 0 && t < dlen) d[od + (long)t * ds] += s[os + j * ss];
        else if (g.err_code) err[0] = g.err_code;
    }
}
