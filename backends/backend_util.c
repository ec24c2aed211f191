/* backends/backend_util.c — helpers every backend shares: view geometry. */
#include "backend.h"

#include <stdlib.h>

int64_t agi_view_numel(const agi_view *v)
{
    int64_t n = 1;
    for (int d = 0; d < v->ndim; d++) n *= v->shape[d];
    return n;
}

bool agi_view_is_contiguous(const agi_view *v)
{
    int64_t expect = 1;
    for (int d = v->ndim - 1; d >= 0; d--) {
        if (v->shape[d] != 1 && v->strides[d] != expect) return false;
        expect *= v->shape[d];
    }
    return true;
}

void agi_views_coalesce(agi_view **views, int n)
{
    if (n <= 0) return;
    agi_view *first = views[0];
    /* Drop size-1 dims first (their strides never matter). */
    int out = 0;
    for (int d = 0; d < first->ndim; d++) {
        if (first->shape[d] == 1) continue;
        for (int v = 0; v < n; v++) {
            views[v]->shape[out] = views[v]->shape[d];
            views[v]->strides[out] = views[v]->strides[d];
        }
        out++;
    }
    for (int v = 0; v < n; v++) views[v]->ndim = out;
    if (out == 0) return;
    /* Merge dim d into d-1 when stride[d-1] == stride[d] * shape[d] for all views. */
    int kept = 0;
    for (int d = 1; d < out; d++) {
        bool mergeable = true;
        for (int v = 0; v < n && mergeable; v++)
            mergeable = views[v]->strides[kept] == views[v]->strides[d] * views[v]->shape[d];
        for (int v = 0; v < n; v++) {
            if (mergeable) {
                views[v]->shape[kept] *= views[v]->shape[d];
                views[v]->strides[kept] = views[v]->strides[d];
            } else {
                views[v]->shape[kept + 1] = views[v]->shape[d];
                views[v]->strides[kept + 1] = views[v]->strides[d];
            }
        }
        if (!mergeable) kept++;
    }
    for (int v = 0; v < n; v++) views[v]->ndim = kept + 1;
}

ag_status agi_grow(void **arr, int *cap, int need, size_t elem)
{
    if (need <= *cap) return AG_OK;
    int c = *cap ? *cap * 2 : 32;
    while (c < need) c *= 2;
    void *p = realloc(*arr, (size_t)c * elem);
    if (!p) return agi_set_error(AG_ERR_OOM, "host out of memory");
    *arr = p;
    *cap = c;
    return AG_OK;
}

int64_t agi_views_outer_count(const agi_view *v, int max_nd)
{
    int64_t outer = 1;
    for (int i = 0; i < v->ndim - max_nd; i++) outer *= v->shape[i];
    return outer;
}

void agi_views_outer_slice(const agi_view *in, int n, int max_nd, int64_t o, agi_view *out)
{
    int outer_nd = in[0].ndim > max_nd ? in[0].ndim - max_nd : 0;
    for (int j = 0; j < n; j++) {
        const agi_view *v = &in[j];
        agi_view s = *v;
        int64_t rem = o, off = v->offset;
        for (int i = outer_nd - 1; i >= 0; i--) {
            off += (rem % v->shape[i]) * v->strides[i];
            rem /= v->shape[i];
        }
        s.offset = off;
        s.ndim = v->ndim - outer_nd;
        for (int i = 0; i < s.ndim; i++) {
            s.shape[i] = v->shape[outer_nd + i];
            s.strides[i] = v->strides[outer_nd + i];
        }
        out[j] = s;
    }
}
