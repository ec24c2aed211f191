/* src/data/dataset.c — the dataset interface, in-memory datasets and MNIST. */
#include "internal.h"
#include "anygrad/data.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

struct ag_dataset {
    int64_t length;
    int item_ndim;
    int64_t item_shape[AG_MAX_DIMS];
    int64_t item_numel;
    ag_dataset_get_fn get;
    void *ctx;
    void (*free_ctx)(void *);
};

ag_dataset *ag_dataset_new(int64_t length, int item_ndim, const int64_t *item_shape,
                           ag_dataset_get_fn get, void *ctx, void (*free_ctx)(void *))
{
    const char *op = "ag_dataset_new";
    if (length < 0 || !get || item_ndim < 0 || item_ndim >= AG_MAX_DIMS) {
        agi_error(AG_ERR_INVALID, op, "bad arguments (length %lld, item_ndim %d, get %s)",
                  (long long)length, item_ndim, get ? "set" : "NULL");
        return NULL;
    }
    if (!agi_check_shape(op, item_ndim, item_shape)) return NULL;
    ag_dataset *ds = agi_calloc(1, sizeof *ds);
    if (!ds) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    ds->length = length;
    ds->item_ndim = item_ndim;
    if (item_ndim) memcpy(ds->item_shape, item_shape, (size_t)item_ndim * sizeof *item_shape);
    ds->item_numel = agi_numel(item_ndim, item_shape);
    ds->get = get;
    ds->ctx = ctx;
    ds->free_ctx = free_ctx;
    return ds;
}

int64_t ag_dataset_length(const ag_dataset *ds) { return ds ? ds->length : -1; }

int ag_dataset_item_shape(const ag_dataset *ds, int64_t *shape)
{
    if (!ds) return -1;
    if (shape && ds->item_ndim)
        memcpy(shape, ds->item_shape, (size_t)ds->item_ndim * sizeof *shape);
    return ds->item_ndim;
}

ag_status ag_dataset_get(const ag_dataset *ds, int64_t index, float *x, int32_t *y)
{
    const char *op = "ag_dataset_get";
    if (!ds || !x || !y) return agi_error(AG_ERR_INVALID, op, "dataset, x or y is NULL");
    if (index < 0 || index >= ds->length)
        return agi_error(AG_ERR_INVALID, op, "index %lld out of range [0, %lld)",
                         (long long)index, (long long)ds->length);
    ag_clear_error();
    ag_status st = ds->get(ds->ctx, index, x, y);
    if (st != AG_OK && ag_last_status() == AG_OK) /* the callback set no message */
        agi_error(st, op, "item %lld failed (%s)", (long long)index, ag_status_name(st));
    return st;
}

void ag_dataset_free(ag_dataset *ds)
{
    if (!ds) return;
    if (ds->free_ctx) ds->free_ctx(ds->ctx);
    free(ds);
}

/* ---- In-memory data ---------------------------------------------------------- */

typedef struct host_data {
    ag_dtype dtype;      /* of `x`: AG_U8 raw, or AG_F32 (raw or normalised) */
    void *x;
    int32_t *labels;
    int64_t item_numel;
    float scale, mean, inv_std; /* identity when normalised on load */
} host_data;

static void host_free(void *ctx)
{
    host_data *h = ctx;
    free(h->x);
    free(h->labels);
    free(h);
}

static ag_status host_get(void *ctx, int64_t i, float *x, int32_t *y)
{
    const host_data *h = ctx;
    int64_t n = h->item_numel;
    if (h->dtype == AG_U8) {
        const uint8_t *src = (const uint8_t *)h->x + i * n;
        for (int64_t k = 0; k < n; k++) x[k] = ((float)src[k] * h->scale - h->mean) * h->inv_std;
    } else {
        const float *src = (const float *)h->x + i * n;
        for (int64_t k = 0; k < n; k++) x[k] = (src[k] * h->scale - h->mean) * h->inv_std;
    }
    *y = h->labels[i];
    return AG_OK;
}

/* The normalisation constants are finite (NaN or inf would turn every value
 * into NaN without a word). */
static bool check_norm(const char *op, const ag_normalize *norm)
{
    if (!norm || (isfinite(norm->scale) && isfinite(norm->mean) && isfinite(norm->std)))
        return true;
    agi_error(AG_ERR_INVALID, op, "normalisation scale %g, mean %g and std %g must be finite",
              norm->scale, norm->mean, norm->std);
    return false;
}

static void norm_params(ag_dtype dtype, const ag_normalize *norm, float *scale, float *mean,
                        float *inv_std)
{
    ag_normalize d = norm ? *norm : (ag_normalize){0};
    *scale = (float)(d.scale != 0 ? d.scale : dtype == AG_U8 ? 1.0 / 255.0 : 1.0);
    *mean = (float)d.mean;
    *inv_std = (float)(d.std != 0 ? 1.0 / d.std : 1.0);
}

/* Makes a host dataset that takes ownership of the malloc'd arrays x, labels
 * (freed on failure). */
static ag_dataset *host_dataset(const char *op, ag_dtype dtype, void *x, int32_t *labels,
                                int64_t n, int item_ndim, const int64_t *item_shape,
                                const ag_normalize *norm, bool on_load)
{
    host_data *h = agi_calloc(1, sizeof *h);
    if (!h) {
        free(x);
        free(labels);
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    h->dtype = dtype;
    h->x = x;
    h->labels = labels;
    h->item_numel = agi_numel(item_ndim, item_shape);
    norm_params(dtype, norm, &h->scale, &h->mean, &h->inv_std);
    if (on_load) {
        size_t total = (size_t)(n * h->item_numel);
        float *f = agi_malloc(total ? total * sizeof *f : 1);
        if (!f) {
            host_free(h);
            agi_error(AG_ERR_OOM, op, "host out of memory");
            return NULL;
        }
        for (int64_t i = 0; i < n; i++) host_get(h, i, f + i * h->item_numel, &(int32_t){0});
        free(h->x);
        h->x = f;
        h->dtype = AG_F32;
        h->scale = 1;
        h->mean = 0;
        h->inv_std = 1;
    }
    ag_dataset *ds = ag_dataset_new(n, item_ndim, item_shape, host_get, h, host_free);
    if (!ds) host_free(h);
    return ds;
}

ag_dataset *ag_dataset_from_host(ag_dtype dtype, const void *x, int64_t n, int item_ndim,
                                 const int64_t *item_shape, const int32_t *labels,
                                 const ag_normalize *norm, bool normalize_on_load)
{
    const char *op = "ag_dataset_from_host";
    if (dtype != AG_U8 && dtype != AG_F32) {
        agi_error(AG_ERR_INVALID, op, "x must be u8 or f32, got %s", ag_dtype_name(dtype));
        return NULL;
    }
    if (!check_norm(op, norm)) return NULL;
    if (n < 0 || (n > 0 && (!x || !labels)) || item_ndim < 0 || item_ndim >= AG_MAX_DIMS) {
        agi_error(AG_ERR_INVALID, op, "bad arguments (n %lld, item_ndim %d, x %s, labels %s)",
                  (long long)n, item_ndim, x ? "set" : "NULL", labels ? "set" : "NULL");
        return NULL;
    }
    if (!agi_check_shape(op, item_ndim, item_shape)) return NULL;
    int64_t item_numel = agi_numel(item_ndim, item_shape);
    if (item_numel > 0 && n > (INT64_C(1) << 40) / item_numel) {
        char buf[192];
        agi_error(AG_ERR_INVALID, op, "%lld items of shape %s are too many elements", (long long)n,
                  agi_fmt_shape(buf, item_ndim, item_shape));
        return NULL;
    }
    size_t xbytes = (size_t)(n * item_numel) * ag_dtype_size(dtype);
    void *xc = agi_malloc(xbytes ? xbytes : 1);
    int32_t *lc = agi_malloc(n ? (size_t)n * sizeof *lc : 1);
    if (!xc || !lc) {
        free(xc);
        free(lc);
        agi_error(AG_ERR_OOM, op, "host out of memory (%zu bytes)", xbytes);
        return NULL;
    }
    if (xbytes) memcpy(xc, x, xbytes);
    if (n) memcpy(lc, labels, (size_t)n * sizeof *lc);
    return host_dataset(op, dtype, xc, lc, n, item_ndim, item_shape, norm, normalize_on_load);
}

ag_dataset *ag_dataset_mnist(const char *images_path, const char *labels_path,
                             const ag_normalize *norm)
{
    const char *op = "ag_dataset_mnist";
    ag_idx_array im, lb;
    if (!check_norm(op, norm)) return NULL;
    if (ag_idx_read(images_path, &im) != AG_OK) {
        agi_error_in(op);
        return NULL;
    }
    if (ag_idx_read(labels_path, &lb) != AG_OK) {
        agi_error_in(op);
        ag_idx_free(&im);
        return NULL;
    }
    ag_dataset *ds = NULL;
    char a[192], b[192];
    if (im.dtype != AG_U8 || im.ndim != 3) {
        agi_error(AG_ERR_FORMAT, op, "%s: images must be u8 [N, H, W], got %s %s", images_path,
                  ag_dtype_name(im.dtype), agi_fmt_shape(a, im.ndim, im.shape));
    } else if ((lb.dtype != AG_U8 && lb.dtype != AG_I32) || lb.ndim != 1) {
        agi_error(AG_ERR_FORMAT, op, "%s: labels must be u8 or i32 [N], got %s %s", labels_path,
                  ag_dtype_name(lb.dtype), agi_fmt_shape(a, lb.ndim, lb.shape));
    } else if (lb.shape[0] != im.shape[0]) {
        agi_error(AG_ERR_FORMAT, op, "%s has %lld images %s but %s has %lld labels", images_path,
                  (long long)im.shape[0], agi_fmt_shape(a, im.ndim, im.shape), labels_path,
                  (long long)lb.shape[0]);
        (void)b;
    } else if ((uint64_t)im.nbytes != (uint64_t)im.shape[0] * (uint64_t)im.shape[1] *
                                         (uint64_t)im.shape[2] ||
               lb.nbytes != (size_t)lb.shape[0] * ag_dtype_size(lb.dtype)) {
        /* ag_idx_read guarantees this; a dataset must never index past its data. */
        agi_error(AG_ERR_FORMAT, op, "%s: data size does not match the dims %s", images_path,
                  agi_fmt_shape(a, im.ndim, im.shape));
    } else {
        int64_t n = im.shape[0];
        int32_t *labels = agi_malloc(n ? (size_t)n * sizeof *labels : 1);
        bool ok = labels != NULL;
        for (int64_t i = 0; ok && i < n; i++) {
            labels[i] = lb.dtype == AG_U8 ? ((uint8_t *)lb.data)[i] : ((int32_t *)lb.data)[i];
            if (labels[i] < 0) {
                agi_error(AG_ERR_FORMAT, op, "%s: negative label %d at %lld", labels_path,
                          labels[i], (long long)i);
                ok = false;
            }
        }
        if (!labels) agi_error(AG_ERR_OOM, op, "host out of memory");
        if (ok) {
            int64_t item[3] = {1, im.shape[1], im.shape[2]};
            ds = host_dataset(op, AG_U8, im.data, labels, n, 3, item, norm, false);
            im.data = NULL; /* taken over (or freed) by host_dataset */
        } else {
            free(labels);
        }
    }
    ag_idx_free(&im);
    ag_idx_free(&lb);
    return ds;
}
