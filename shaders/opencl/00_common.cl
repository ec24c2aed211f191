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
    int ndim;
    int contig; /* every view contiguous: element i at off[v] + i */
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

/* Offsets of element i, with the all-contiguous and 2-D cases inline (it
 * keeps CPU-type devices such as PoCL vectorizing the work-group loop). */
#define GEOM_OFFSETS(g, i, NV, o)                                                  \
    do {                                                                           \
        if ((g).contig) {                                                          \
            for (int v_ = 0; v_ < (NV); v_++) (o)[v_] = (g).off[v_] + (i);         \
        } else if ((g).ndim == 2) {                                                \
            long q_ = ag_div((i), (g).shape[1]), c_ = (i) - q_ * (g).shape[1];     \
            for (int v_ = 0; v_ < (NV); v_++)                                      \
                (o)[v_] = (g).off[v_] + q_ * (g).st[v_ * 8] + c_ * (g).st[v_ * 8 + 1]; \
        } else {                                                                   \
            geom_offsets(&(g), (i), (NV), (o));                                    \
        }                                                                          \
    } while (0)

float ag_sigmoid(float x) { return 1.0f / (1.0f + exp(-x)); }
