/* backends/cpu/cpu_index.c — GATHER and SCATTER_ADD along one dim.
 *
 * Both walk an iteration space (dst's shape for gather, src0's for scatter)
 * together with the index view and the indexed view, whose offset along `dim`
 * comes from the index. The work is split along a dim other than `dim`, so
 * threads never write the same element and scatter-add sums every target in
 * the same (row-major) order whatever the thread count: it is deterministic. */
#include "cpu.h"

#include <string.h>

typedef struct index_job {
    bool scatter;
    ag_dtype dtype;
    int nd;
    int dim;                        /* position of the indexed dim after permuting */
    int64_t shape[AG_MAX_DIMS];     /* iteration space, partition dim first */
    int64_t sa[AG_MAX_DIMS];        /* strides of the walked data view */
    int64_t si[AG_MAX_DIMS];        /* strides of the index */
    int64_t st[AG_MAX_DIMS];        /* strides of the indexed view (0 at dim) */
    int64_t tdim_size, tdim_stride; /* indexed view along dim */
    char *a;                        /* walked data (gather: dst, scatter: src0) */
    const int32_t *idx;
    char *t;                        /* indexed (gather: src0, scatter: dst) */
    int32_t *err, err_code;         /* the error word (NULL: none) */
} index_job;

static void index_range(void *ctx, int64_t begin, int64_t end)
{
    const index_job *j = ctx;
    const int nd = j->nd;
    int64_t inner = 1;
    for (int d = 1; d < nd; d++) inner *= j->shape[d];
    for (int64_t o = begin; o < end; o++) {
        int64_t ix[AG_MAX_DIMS] = {0};
        int64_t oa = o * j->sa[0], oi = o * j->si[0], ot = o * j->st[0];
        for (int64_t e = 0; e < inner; e++) {
            int64_t id = j->idx[oi];
            bool ok = id >= 0 && id < j->tdim_size;
            if (!ok && j->err) __atomic_store_n(j->err, j->err_code, __ATOMIC_RELAXED);
            int64_t toff = ot + id * j->tdim_stride;
            if (j->scatter) {
                if (ok) ((float *)j->t)[toff] += ((const float *)j->a)[oa];
            } else if (j->dtype == AG_F32) {
                ((float *)j->a)[oa] = ok ? ((const float *)j->t)[toff] : 0.0f;
            } else {
                ((int32_t *)j->a)[oa] = ok ? ((const int32_t *)j->t)[toff] : 0;
            }
            /* increment the multi-index over dims 1..nd-1 */
            for (int d = nd - 1; d >= 1; d--) {
                oa += j->sa[d];
                oi += j->si[d];
                ot += j->st[d];
                if (++ix[d] < j->shape[d]) break;
                oa -= j->sa[d] * j->shape[d];
                oi -= j->si[d] * j->shape[d];
                ot -= j->st[d] * j->shape[d];
                ix[d] = 0;
            }
        }
    }
}

/* space: the walked view (dst or src0), index: src1, target: the indexed view. */
static ag_status run_index(cpu_device *dev, const agi_kernel *k, const char *kn, bool scatter,
                           const agi_view *space, const agi_view *index, const agi_view *target,
                           int64_t dim)
{
    int nd = space->ndim;
    if (nd < 1 || dim < 0 || dim >= nd)
        return agi_set_error(AG_ERR_INVALID, "cpu: %s: dim %lld out of range for rank %d", kn,
                             (long long)dim, nd);
    if (!cpu_same_shape(space, index) || target->ndim != nd) {
        char a[192], b[192], c[192];
        return agi_set_error(AG_ERR_INVALID, "cpu: %s: shapes disagree: data %s, index %s, %s %s",
                             kn, cpu_shape_str(a, space), cpu_shape_str(b, index),
                             scatter ? "dst" : "src0", cpu_shape_str(c, target));
    }
    for (int d = 0; d < nd; d++) {
        if (d == dim) continue;
        bool ok = scatter ? space->shape[d] <= target->shape[d] : space->shape[d] == target->shape[d];
        if (!ok) {
            char a[192], c[192];
            return agi_set_error(AG_ERR_INVALID, "cpu: %s: shapes disagree at dim %d: %s vs %s",
                                 kn, d, cpu_shape_str(a, space), cpu_shape_str(c, target));
        }
    }
    /* Partition dim: the largest dim other than `dim` (or dim itself for
     * gather, or rank 1). */
    int part = -1;
    for (int d = 0; d < nd; d++)
        if (d != dim && (part < 0 || space->shape[d] > space->shape[part])) part = d;
    if (part < 0 || (space->shape[part] == 1 && !scatter)) part = (int)dim;
    if (part < 0) part = 0;
    index_job j = {.scatter = scatter, .dtype = space->dtype, .nd = nd, .a = cpu_view_ptr(space),
                   .idx = cpu_view_ptr(index), .t = cpu_view_ptr(target),
                   .tdim_size = target->shape[dim], .tdim_stride = target->strides[dim],
                   .err = k->err ? (int32_t *)k->err->data : NULL, .err_code = k->err_code};
    int order[AG_MAX_DIMS], n = 0;
    order[n++] = part;
    for (int d = 0; d < nd; d++)
        if (d != part) order[n++] = d;
    for (int i = 0; i < nd; i++) {
        int d = order[i];
        j.shape[i] = space->shape[d];
        j.sa[i] = space->strides[d];
        j.si[i] = index->strides[d];
        j.st[i] = d == dim ? 0 : target->strides[d];
        if (d == dim) j.dim = i;
    }
    /* Scatter along the partition dim itself would let threads collide. */
    bool serial = scatter && part == dim;
    int64_t inner = agi_view_numel(space) / j.shape[0];
    int64_t grain = serial ? j.shape[0] : (inner >= CPU_GRAIN_ELEMENTWISE ? 1 : CPU_GRAIN_ELEMENTWISE / inner);
    cpu_parallel_for(&dev->pool, j.shape[0], grain, index_range, &j);
    return AG_OK;
}

ag_status cpu_gather(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "gather";
    if (!cpu_view_check_any(kn, &k->dst, "dst")) return AG_ERR_INVALID;
    ag_dtype t = k->dst.dtype;
    if (t != AG_F32 && t != AG_I32)
        return agi_set_error(AG_ERR_UNSUPPORTED, "cpu: gather: dtype %s unsupported",
                             ag_dtype_name(t));
    if (!cpu_view_check(kn, &k->src[0], t, "src0") ||
        !cpu_view_check(kn, &k->src[1], AG_I32, "src1 (index)"))
        return ag_last_status();
    return run_index(dev, k, kn, false, &k->dst, &k->src[1], &k->src[0], k->p.s.i[0]);
}

ag_status cpu_scatter_add(cpu_device *dev, const agi_kernel *k)
{
    const char *kn = "scatter_add";
    if (!cpu_view_check(kn, &k->dst, AG_F32, "dst") ||
        !cpu_view_check(kn, &k->src[0], AG_F32, "src0") ||
        !cpu_view_check(kn, &k->src[1], AG_I32, "src1 (index)"))
        return ag_last_status();
    return run_index(dev, k, kn, true, &k->src[0], &k->src[1], &k->dst, k->p.s.i[0]);
}
