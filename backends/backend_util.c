/* backends/backend_util.c — helpers every backend shares: view geometry,
 * kernel names and the Philox generator. */
#include "backend.h"

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

const char *agi_kernel_op_name(agi_kernel_op op)
{
    static const char *const names[AGI_K_COUNT] = {
        "fill", "copy", "unary", "binary", "where", "reduce", "softmax", "softmax_bwd",
        "gemm", "im2col", "col2im", "maxpool2d", "maxpool2d_bwd", "avgpool2d",
        "avgpool2d_bwd", "gather", "scatter_add", "rng", "sgd", "adam", "rmsprop", "layer_norm",
    };
    return (unsigned)op < AGI_K_COUNT ? names[op] : "?";
}

static inline uint32_t mulhilo(uint32_t a, uint32_t b, uint32_t *hi)
{
    uint64_t p = (uint64_t)a * b;
    *hi = (uint32_t)(p >> 32);
    return (uint32_t)p;
}

void agi_philox4x32(const uint32_t counter[4], const uint32_t key[2], uint32_t out[4])
{
    uint32_t c0 = counter[0], c1 = counter[1], c2 = counter[2], c3 = counter[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < 10; round++) {
        uint32_t hi0, hi1;
        uint32_t lo0 = mulhilo(0xD2511F53u, c0, &hi0);
        uint32_t lo1 = mulhilo(0xCD9E8D57u, c2, &hi1);
        uint32_t n0 = hi1 ^ c1 ^ k0, n1 = lo1, n2 = hi0 ^ c3 ^ k1, n3 = lo0;
        c0 = n0; c1 = n1; c2 = n2; c3 = n3;
        k0 += 0x9E3779B9u;
        k1 += 0xBB67AE85u;
    }
    out[0] = c0; out[1] = c1; out[2] = c2; out[3] = c3;
}
