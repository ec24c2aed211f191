/* tests/fuzz/fuzz_idx.c — the IDX reader (plain and gzip) on arbitrary bytes,
 * and a dataset over a successfully read u8 [N, H, W] file: every item must
 * be readable (the data is really there), never a crash or out-of-bounds
 * read. */
#include "fuzz_common.h"

#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ag_idx_array a;
    if (ag_idx_read(path, &a) != AG_OK) {
        if (a.data || a.nbytes || ag_last_status() == AG_OK) __builtin_trap();
        ag_clear_error();
        return 0;
    }
    size_t numel = 1;
    for (int d = 0; d < a.ndim; d++) numel *= (size_t)a.shape[d];
    if (a.nbytes != numel * ag_dtype_size(a.dtype)) __builtin_trap();
    if (a.dtype == AG_U8 && a.ndim == 3 && a.shape[0] > 0 && a.shape[0] <= 64) {
        /* Images with labels 0..N-1 from the host: read every item. */
        int64_t n = a.shape[0], item = a.shape[1] * a.shape[2];
        int32_t *labels = malloc((size_t)n * sizeof *labels);
        float *x = malloc((size_t)(item ? item : 1) * sizeof *x);
        for (int64_t i = 0; i < n; i++) labels[i] = (int32_t)i;
        ag_dataset *ds = ag_dataset_from_host(AG_U8, a.data, n, 3, (int64_t[]){1, a.shape[1], a.shape[2]},
                                              labels, NULL, false);
        int32_t y;
        for (int64_t i = 0; ds && i < n; i++)
            if (ag_dataset_get(ds, i, x, &y) != AG_OK || y != i) __builtin_trap();
        ag_dataset_free(ds);
        free(x);
        free(labels);
    }
    ag_tensor *t = ag_idx_load(path, fuzz_device());
    ag_release(t);
    ag_idx_free(&a);
    ag_clear_error();
    return 0;
}
