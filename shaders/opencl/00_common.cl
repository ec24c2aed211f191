/* shaders/opencl/00_common.cl — shared definitions for every anygrad OpenCL
 * kernel. The backend concatenates all .cl files (sorted by name) into one
 * program, so this file comes first. OpenCL C 1.2 only. */
#pragma OPENCL FP_CONTRACT OFF

#define AG_MAX_DIMS 8

/* Geometry of up to 4 same-shaped strided views (elementwise kernels).
 * Element i (row-major in `shape`) of view v lives at
 * off[v] + sum_d coord_d(i) * st[v*8 + d]. Mirrors agcl_geom on the host. */
typedef struct {
    long shape[8];
    long st[32];
    long off[4];
    long n;
    long rows;  /* > 0: row mode, one work-item per row of the last dim */
    int ndim;
    int contig; /* every view contiguous: element i at off[v] + i; > 1: each
                   work-item takes that many elements, a grid apart (GPUs) */
} geom_t;

/* a / b for index arithmetic (a >= 0, b > 0 expected): 32-bit division when
 * both fit, as 64-bit division is slow on CPUs and emulated on GPUs. */
long ag_div(long a, long b)
{
    return ((a | b) >> 31) == 0 ? (long)((uint)a / (uint)b) : a / b;
}

/* Offsets of element i in the first nv views. */
void geom_offsets(const geom_t *g, long i, int nv, long *o)
{
    for (int v = 0; v < nv; v++) o[v] = g->off[v];
    if (g->ndim == 1) {
        for (int v = 0; v < nv; v++) o[v] += i * g->st[v * 8];
        return;
    }
    long r = i;
    for (int d = g->ndim - 1; d >= 0; d--) {
        long s = g->shape[d];
        long q = ag_div(r, s);
        long c = r - q * s;
        r = q;
        for (int v = 0; v < nv; v++) o[v] += c * g->st[v * 8 + d];
    }
}

/* Offsets of the first element of row `row` (all dims but the last). */
void row_offsets(const geom_t *g, long row, int nv, long *o)
{
    for (int v = 0; v < nv; v++) o[v] = g->off[v];
    long r = row;
    for (int d = g->ndim - 2; d >= 0; d--) {
        long s = g->shape[d];
        long q = ag_div(r, s);
        long c = r - q * s;
        r = q;
        for (int v = 0; v < nv; v++) o[v] += c * g->st[v * 8 + d];
    }
}

/* Offsets of element i, with the all-contiguous, 2-D and 3-D cases inline (it
 * keeps CPU-type devices such as PoCL vectorizing the work-group loop). */
#define GEOM_OFFSETS(g, i, NV, o)                                                  \
    do {                                                                           \
        if ((g).contig) {                                                          \
            for (int v_ = 0; v_ < (NV); v_++) (o)[v_] = (g).off[v_] + (i);         \
        } else if ((g).ndim == 2) {                                                \
            long q_ = ag_div((i), (g).shape[1]), c_ = (i) - q_ * (g).shape[1];     \
            for (int v_ = 0; v_ < (NV); v_++)                                      \
                (o)[v_] = (g).off[v_] + q_ * (g).st[v_ * 8] + c_ * (g).st[v_ * 8 + 1]; \
        } else if ((g).ndim == 3) {                                                \
            long q_ = ag_div((i), (g).shape[2]), c2_ = (i) - q_ * (g).shape[2];    \
            long c0_ = ag_div(q_, (g).shape[1]), c1_ = q_ - c0_ * (g).shape[1];    \
            for (int v_ = 0; v_ < (NV); v_++)                                      \
                (o)[v_] = (g).off[v_] + c0_ * (g).st[v_ * 8] +                     \
                          c1_ * (g).st[v_ * 8 + 1] + c2_ * (g).st[v_ * 8 + 2];     \
        } else {                                                                   \
            geom_offsets(&(g), (i), (NV), (o));                                    \
        }                                                                          \
    } while (0)

/* Body of an elementwise kernel over geometry g with NV views: runs the
 * statements BODY (which see `i`, the row-major element index, and `o`, the
 * views' offsets; BODY must hold no top-level comma, as OpenCL C 1.2 has no
 * variadic macros) for the work-item's element, or in row mode (CPU-type
 * devices, strided views) for every element of the work-item's row, which
 * keeps index division out of the inner loop, or (contig > 1, GPUs) for
 * `contig` elements one grid size apart, so each work-item has several
 * coalesced loads in flight. */
#define EW_BODY(g, NV, BODY)                                                       \
    long gid_ = get_global_id(0);                                                  \
    long o[NV];                                                                    \
    if ((g).rows) {                                                                \
        if (gid_ >= (g).rows) return;                                              \
        long b_[NV], s_[NV];                                                       \
        int last_ = (g).ndim - 1;                                                  \
        long len_ = (g).shape[last_];                                              \
        row_offsets(&(g), gid_, (NV), b_);                                         \
        for (int v_ = 0; v_ < (NV); v_++) s_[v_] = (g).st[v_ * 8 + last_];         \
        for (long j_ = 0; j_ < len_; j_++) {                                       \
            long i = gid_ * len_ + j_;                                             \
            for (int v_ = 0; v_ < (NV); v_++) o[v_] = b_[v_] + j_ * s_[v_];        \
            BODY                                                                   \
        }                                                                          \
    } else if ((g).contig > 1) {                                                   \
        long step_ = get_global_size(0);                                           \
        for (int j_ = 0; j_ < (g).contig; j_++) {                                  \
            long i = gid_ + j_ * step_;                                            \
            if (i < (g).n) {                                                       \
                for (int v_ = 0; v_ < (NV); v_++) o[v_] = (g).off[v_] + i;         \
                BODY                                                               \
            }                                                                      \
        }                                                                          \
    } else {                                                                       \
        long i = gid_;                                                             \
        if (i >= (g).n) return;                                                    \
        GEOM_OFFSETS(g, i, NV, o);                                                 \
        BODY                                                                       \
    }

