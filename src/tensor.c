/* src/tensor.c — tensor lifetime, properties, creation and host transfer. */
#include "internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

atomic_llong agi_live_tensor_count;

int64_t ag_live_tensors(void) { return atomic_load(&agi_live_tensor_count); }

void agi_tensor_bump(const ag_tensor *t)
{
    if (t && t->storage) atomic_fetch_add(&t->storage->version, 1);
}

int64_t ag_tensor_version(const ag_tensor *t)
{
    if (!agi_check_tensor("ag_tensor_version", t, "t")) return -1;
    return (int64_t)atomic_load(&t->storage->version);
}

int64_t agi_numel(int ndim, const int64_t *shape)
{
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) n *= shape[d];
    return n;
}

void agi_contiguous_strides(int ndim, const int64_t *shape, int64_t *strides)
{
    int64_t s = 1;
    for (int d = ndim - 1; d >= 0; d--) {
        strides[d] = s;
        s *= shape[d] > 0 ? shape[d] : 1;
    }
}

bool agi_check_shape(const char *op, int ndim, const int64_t *shape)
{
    if (ndim < 0 || ndim > AG_MAX_DIMS) {
        agi_error(AG_ERR_INVALID, op, "%d dims requested, at most %d supported", ndim, AG_MAX_DIMS);
        return false;
    }
    if (ndim > 0 && !shape) {
        agi_error(AG_ERR_INVALID, op, "shape is NULL");
        return false;
    }
    /* The product of the non-zero dims is bounded too: it is what the
     * contiguous strides multiply up to, even when another dim is 0. */
    int64_t n = 1;
    for (int d = 0; d < ndim; d++) {
        char buf[192];
        if (shape[d] < 0) {
            agi_error(AG_ERR_INVALID, op, "negative dim in shape %s", agi_fmt_shape(buf, ndim, shape));
            return false;
        }
        if (shape[d] > 0 && n > (INT64_C(1) << 40) / shape[d]) {
            agi_error(AG_ERR_INVALID, op, "shape %s has too many elements (at most 2^40, "
                      "zero dims aside)", agi_fmt_shape(buf, ndim, shape));
            return false;
        }
        if (shape[d] > 0) n *= shape[d];
    }
    return true;
}

/* ---- Storage ------------------------------------------------------------ */

static agi_storage *storage_new(const char *op, ag_device *dev, size_t nbytes)
{
    agi_storage *s = agi_calloc(1, sizeof *s);
    if (!s) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    atomic_init(&s->refs, 1);
    atomic_init(&s->version, 0);
    s->dev = dev;
    s->nbytes = nbytes;
    if (nbytes > 0) {
        ag_status st = dev->be->buffer_alloc(dev->impl, nbytes, &s->buf);
        if (st != AG_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            agi_error(st, op, "cannot allocate %zu bytes on %s (%s)", nbytes, dev->info.spec, msg);
            free(s);
            return NULL;
        }
        atomic_fetch_add(&dev->live_buffers, 1);
        if (agi_tl_capture) agi_graph_on_alloc(dev, s->buf, nbytes);
    }
    agi_device_retain(dev);
    return s;
}

static void storage_release(agi_storage *s)
{
    if (!s || atomic_fetch_sub(&s->refs, 1) != 1) return;
    if (s->buf && !agi_graph_on_release(s->dev, s->buf)) {
        s->dev->be->buffer_free(s->dev->impl, s->buf);
        atomic_fetch_sub(&s->dev->live_buffers, 1);
    }
    agi_device_release(s->dev);
    free(s);
}

/* ---- Tensors ------------------------------------------------------------ */

static ag_tensor *tensor_alloc(void)
{
    ag_tensor *t = agi_calloc(1, sizeof *t);
    if (!t) return NULL;
    t->magic = AGI_TENSOR_MAGIC;
    atomic_init(&t->refs, 1);
    atomic_fetch_add(&agi_live_tensor_count, 1);
    return t;
}

ag_tensor *agi_tensor_new(const char *op, ag_device *dev, ag_dtype dtype, int ndim,
                          const int64_t *shape)
{
    if (!dev) {
        agi_error(AG_ERR_INVALID, op, "device is NULL");
        return NULL;
    }
    if (!agi_device_alive(op, dev)) return NULL;
    if (ag_dtype_size(dtype) == 0) {
        agi_error(AG_ERR_INVALID, op, "invalid dtype %d", (int)dtype);
        return NULL;
    }
    if (!agi_check_shape(op, ndim, shape)) return NULL;
    int64_t n = agi_numel(ndim, shape);
    agi_storage *s = storage_new(op, dev, (size_t)n * ag_dtype_size(dtype));
    if (!s) return NULL;
    ag_tensor *t = tensor_alloc();
    if (!t) {
        storage_release(s);
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    t->dtype = dtype;
    t->ndim = ndim;
    if (ndim) memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
    agi_contiguous_strides(ndim, shape, t->strides);
    t->storage = s;
    return agi_scope_track(t);
}

ag_tensor *agi_tensor_view(const ag_tensor *base, int ndim, const int64_t *shape,
                           const int64_t *strides, int64_t offset)
{
    ag_tensor *t = tensor_alloc();
    if (!t) {
        agi_set_error(AG_ERR_OOM, "host out of memory");
        return NULL;
    }
    t->dtype = base->dtype;
    t->ndim = ndim;
    if (ndim) {
        memcpy(t->shape, shape, (size_t)ndim * sizeof *shape);
        memcpy(t->strides, strides, (size_t)ndim * sizeof *strides);
    }
    t->offset = offset;
    t->storage = base->storage;
    atomic_fetch_add(&t->storage->refs, 1);
    return agi_scope_track(t);
}

ag_tensor *ag_retain(ag_tensor *t)
{
    if (!t) return NULL;
    if (!agi_tensor_alive("ag_retain", t)) return NULL;
    atomic_fetch_add(&t->refs, 1);
    return t;
}

void ag_release(ag_tensor *t)
{
    if (!t || !agi_tensor_alive("ag_release", t) || atomic_fetch_sub(&t->refs, 1) != 1) return;
    t->magic = AGI_DEAD_MAGIC;
    ag_release(t->grad);
    agi_node_release(t->grad_fn);
    storage_release(t->storage);
    atomic_fetch_sub(&agi_live_tensor_count, 1);
    agi_quarantine(t);
}

agi_view agi_view_of(const ag_tensor *t)
{
    agi_view v = {0};
    v.buf = t->storage->buf;
    v.dtype = t->dtype;
    v.ndim = t->ndim;
    v.offset = t->offset;
    for (int d = 0; d < t->ndim; d++) {
        v.shape[d] = t->shape[d];
        v.strides[d] = t->shape[d] == 1 ? 0 : t->strides[d];
    }
    return v;
}

agi_view agi_view_rows(const ag_tensor *t, int64_t rows, int64_t n)
{
    agi_view v = agi_view_of(t);
    v.ndim = 2;
    v.shape[0] = rows;
    v.shape[1] = n;
    v.strides[0] = n;
    v.strides[1] = 1;
    return v;
}

ag_status agi_exec(const char *op, ag_device *dev, const agi_kernel *k)
{
    if (agi_view_numel(&k->dst) == 0) return AG_OK; /* empty tensors: nothing to do */
    agi_kernel rec = *k;
    rec.deterministic = ag_is_deterministic();
    ag_status st = dev->be->exec(dev->impl, &rec);
    if (st == AG_OK && agi_tl_capture) agi_graph_on_exec(dev, &rec);
    if (st != AG_OK) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        agi_error(st, op, "%s", msg);
    }
    return st;
}

/* ---- Properties --------------------------------------------------------- */

/* The getters answer as for NULL (and set the error) for a released tensor:
 * its storage may be gone. */
static bool live(const ag_tensor *t, const char *op) { return t && agi_tensor_alive(op, t); }

int ag_ndim(const ag_tensor *t) { return live(t, "ag_ndim") ? t->ndim : -1; }
const int64_t *ag_shape(const ag_tensor *t) { return live(t, "ag_shape") ? t->shape : NULL; }
const int64_t *ag_strides(const ag_tensor *t) { return live(t, "ag_strides") ? t->strides : NULL; }
int64_t ag_numel(const ag_tensor *t)
{
    return live(t, "ag_numel") ? agi_numel(t->ndim, t->shape) : -1;
}
ag_dtype ag_tensor_dtype(const ag_tensor *t)
{
    return live(t, "ag_tensor_dtype") ? t->dtype : AG_DTYPE_COUNT;
}
ag_device *ag_tensor_device(const ag_tensor *t)
{
    return live(t, "ag_tensor_device") ? t->storage->dev : NULL;
}

int64_t ag_size(const ag_tensor *t, int dim)
{
    int d;
    if (!agi_check_tensor("ag_size", t, "t") || !agi_norm_dim("ag_size", t, dim, &d)) return -1;
    return t->shape[d];
}

bool ag_is_contiguous(const ag_tensor *t)
{
    if (!live(t, "ag_is_contiguous")) return false;
    int64_t expect = 1;
    for (int d = t->ndim - 1; d >= 0; d--) {
        if (t->shape[d] != 1 && t->strides[d] != expect) return false;
        expect *= t->shape[d];
    }
    return true;
}

char *ag_shape_str(const ag_tensor *t, char *buf, size_t cap)
{
    char tmp[192];
    if (!buf || cap == 0) return buf;
    snprintf(buf, cap, "%s",
             !t ? "(null)" : live(t, "ag_shape_str") ? agi_fmt_shape(tmp, t->ndim, t->shape)
                                                     : "(released)");
    return buf;
}

/* ---- Checks ------------------------------------------------------------- */

bool agi_check_tensor(const char *op, const ag_tensor *t, const char *arg)
{
    if (t) return agi_tensor_alive(op, t);
    /* Keep the message of the failure that produced the NULL, if any. */
    if (ag_last_status() == AG_OK) agi_error(AG_ERR_INVALID, op, "%s is NULL", arg);
    return false;
}

bool agi_check_dtype(const char *op, const ag_tensor *t, ag_dtype want, const char *arg)
{
    if (t->dtype == want) return true;
    char buf[192];
    agi_error(AG_ERR_INVALID, op, "%s must be %s, got %s %s", arg, ag_dtype_name(want),
              ag_dtype_name(t->dtype), agi_fmt_shape(buf, t->ndim, t->shape));
    return false;
}

bool agi_check_same_device(const char *op, const ag_tensor *a, const ag_tensor *b)
{
    /* Optional operands (a bias, a mask, running statistics) reach here
     * unchecked: a released one must not be dereferenced. */
    if (!agi_tensor_alive(op, a) || !agi_tensor_alive(op, b)) return false;
    if (a->storage->dev == b->storage->dev) return true;
    char sa[192], sb[192];
    agi_error(AG_ERR_INVALID, op,
              "tensors on different devices: %s on %s (handle #%d), %s on %s (handle #%d)",
              agi_fmt_shape(sa, a->ndim, a->shape), a->storage->dev->info.spec,
              a->storage->dev->handle_id, agi_fmt_shape(sb, b->ndim, b->shape),
              b->storage->dev->info.spec, b->storage->dev->handle_id);
    return false;
}

bool agi_check_writable(const char *op, const ag_tensor *t)
{
    for (int d = 0; d < t->ndim; d++) {
        if (t->strides[d] != 0 || t->shape[d] <= 1) continue;
        char a[192], b[192];
        agi_error(AG_ERR_INVALID, op,
                  "destination %s (strides %s) has elements that share memory (an expanded "
                  "view): write to the tensor it expands, or to a clone",
                  agi_fmt_shape(a, t->ndim, t->shape), agi_fmt_shape(b, t->ndim, t->strides));
        return false;
    }
    return true;
}

bool agi_norm_dim(const char *op, const ag_tensor *t, int dim, int *out)
{
    int n = t->ndim ? t->ndim : 1;
    if (dim < -n || dim >= n) {
        char buf[192];
        agi_error(AG_ERR_INVALID, op, "dim %d out of range for shape %s", dim,
                  agi_fmt_shape(buf, t->ndim, t->shape));
        return false;
    }
    *out = dim < 0 ? dim + n : dim;
    return true;
}

bool agi_broadcast_shapes(const char *op, int andim, const int64_t *ashape, int bndim,
                          const int64_t *bshape, int *out_ndim, int64_t *out)
{
    int n = andim > bndim ? andim : bndim;
    for (int i = 0; i < n; i++) {
        int ai = andim - n + i, bi = bndim - n + i;
        int64_t a = ai >= 0 ? ashape[ai] : 1, b = bi >= 0 ? bshape[bi] : 1;
        if (a != b && a != 1 && b != 1) {
            char sa[192], sb[192];
            agi_error(AG_ERR_INVALID, op, "shapes %s and %s cannot broadcast",
                      agi_fmt_shape(sa, andim, ashape), agi_fmt_shape(sb, bndim, bshape));
            return false;
        }
        out[i] = a == 1 ? b : a;
    }
    *out_ndim = n;
    return true;
}

/* ---- Creation ----------------------------------------------------------- */

/* An integer tensor holds value truncated toward zero; NaN and values out of
 * the dtype's range would hold something else (like PyTorch, refused). */
static bool check_fill_value(const char *op, ag_dtype dtype, double value)
{
    double lo, hi;
    if (dtype == AG_I32) lo = -2147483648.0, hi = 2147483647.0;
    else if (dtype == AG_U8) lo = 0.0, hi = 255.0;
    else return true;
    double v = trunc(value);
    if (v >= lo && v <= hi) return true; /* false for NaN */
    agi_error(AG_ERR_INVALID, op, "value %g cannot be converted to %s without overflow", value,
              ag_dtype_name(dtype));
    return false;
}

ag_status ag_fill_(ag_tensor *dst, double value)
{
    if (!agi_check_tensor("ag_fill_", dst, "dst")) return ag_last_status();
    if (!check_fill_value("ag_fill_", dst->dtype, value)) return ag_last_status();
    agi_kernel k = {.op = AGI_K_FILL};
    k.dst = agi_view_of(dst);
    k.p.s.f[0] = value;
    agi_tensor_bump(dst);
    return agi_exec("ag_fill_", dst->storage->dev, &k);
}

ag_tensor *ag_empty(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape)
{
    return agi_tensor_new("ag_empty", dev, dtype, ndim, shape);
}

/* A tensor filled with `value`, reporting errors under `op`. */
static ag_tensor *full_named(const char *op, ag_device *dev, ag_dtype dtype, int ndim,
                             const int64_t *shape, double value)
{
    if (!check_fill_value(op, dtype, value)) return NULL;
    ag_tensor *t = agi_tensor_new(op, dev, dtype, ndim, shape);
    if (!t) return NULL;
    agi_kernel k = {.op = AGI_K_FILL};
    k.dst = agi_view_of(t);
    k.p.s.f[0] = value;
    if (agi_exec(op, dev, &k) != AG_OK) {
        agi_discard(t);
        return NULL;
    }
    return t;
}

ag_tensor *ag_full(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape, double value)
{
    return full_named("ag_full", dev, dtype, ndim, shape, value);
}

ag_tensor *ag_zeros(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape)
{
    return full_named("ag_zeros", dev, dtype, ndim, shape, 0.0);
}

ag_tensor *ag_ones(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape)
{
    return full_named("ag_ones", dev, dtype, ndim, shape, 1.0);
}

ag_tensor *ag_scalar(ag_device *dev, ag_dtype dtype, double value)
{
    return full_named("ag_scalar", dev, dtype, 0, NULL, value);
}

ag_tensor *ag_full_like(const ag_tensor *t, double value)
{
    if (!agi_check_tensor("ag_full_like", t, "t")) return NULL;
    return ag_full(t->storage->dev, t->dtype, t->ndim, t->shape, value);
}
ag_tensor *ag_zeros_like(const ag_tensor *t) { return ag_full_like(t, 0.0); }
ag_tensor *ag_ones_like(const ag_tensor *t) { return ag_full_like(t, 1.0); }

static void store_element(void *data, ag_dtype dtype, int64_t i, double v)
{
    /* Integers convert like FILL does: out of the i32 range gives INT32_MIN
     * (a bare cast would be undefined behaviour). */
    int32_t iv = (v > -2147483649.0 && v < 2147483648.0) ? (int32_t)v : INT32_MIN;
    switch (dtype) {
    case AG_F32: ((float *)data)[i] = (float)v; break;
    case AG_I32: ((int32_t *)data)[i] = iv; break;
    case AG_F16: ((uint16_t *)data)[i] = agi_f32_to_f16((float)v); break;
    case AG_BF16: ((uint16_t *)data)[i] = agi_f32_to_bf16((float)v); break;
    default: ((uint8_t *)data)[i] = (uint8_t)(uint32_t)iv; break;
    }
}

ag_tensor *ag_from_data(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape,
                        const void *data, size_t nbytes)
{
    const char *op = "ag_from_data";
    if (!agi_check_shape(op, ndim, shape)) return NULL;
    if (ag_dtype_size(dtype) == 0) { /* it sizes the data below */
        char buf[192];
        agi_error(AG_ERR_INVALID, op, "invalid dtype %d for shape %s", (int)dtype,
                  agi_fmt_shape(buf, ndim, shape));
        return NULL;
    }
    size_t need = (size_t)agi_numel(ndim, shape) * ag_dtype_size(dtype);
    if (need && !data) {
        agi_error(AG_ERR_INVALID, op, "data is NULL");
        return NULL;
    }
    if (nbytes != need) {
        char buf[192];
        agi_error(AG_ERR_INVALID, op, "%zu bytes given, shape %s of %s needs %zu", nbytes,
                  agi_fmt_shape(buf, ndim, shape), ag_dtype_name(dtype), need);
        return NULL;
    }
    ag_tensor *t = agi_tensor_new(op, dev, dtype, ndim, shape);
    if (t && need && agi_tl_capture) agi_graph_on_write(dev, t->storage->buf, 0, data, need);
    if (t && need && dev->be->write(dev->impl, t->storage->buf, 0, data, need) != AG_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        agi_error(AG_ERR_DEVICE, op, "upload failed: %s", msg);
        agi_discard(t);
        return NULL;
    }
    return t;
}

ag_tensor *ag_arange(ag_device *dev, ag_dtype dtype, double start, double end, double step)
{
    const char *op = "ag_arange";
    if (!dev) {
        agi_error(AG_ERR_INVALID, op, "device is NULL");
        return NULL;
    }
    if (!agi_device_alive(op, dev)) return NULL;
    if (ag_dtype_size(dtype) == 0) { /* before the host buffer is sized by it */
        agi_error(AG_ERR_INVALID, op, "invalid dtype %d", (int)dtype);
        return NULL;
    }
    if (step == 0 || !isfinite(start) || !isfinite(end) || !isfinite(step) ||
        (end - start) / step < 0) {
        agi_error(AG_ERR_INVALID, op, "bad range start=%g end=%g step=%g", start, end, step);
        return NULL;
    }
    double count = ceil((end - start) / step); /* compared before the cast: it may be 1e30 */
    if (!(count <= (double)(INT64_C(1) << 31))) {
        agi_error(AG_ERR_INVALID, op, "range start=%g end=%g step=%g of %g elements is too large",
                  start, end, step, count);
        return NULL;
    }
    int64_t n = (int64_t)count;
    size_t bytes = (size_t)n * ag_dtype_size(dtype);
    void *host = agi_malloc(bytes ? bytes : 1);
    if (!host) {
        agi_error(AG_ERR_OOM, op, "host out of memory");
        return NULL;
    }
    for (int64_t i = 0; i < n; i++) store_element(host, dtype, i, start + (double)i * step);
    ag_tensor *t = ag_from_data(dev, dtype, 1, (int64_t[]){n}, host, bytes);
    free(host);
    return t;
}

ag_tensor *ag_eye(ag_device *dev, ag_dtype dtype, int64_t n, int64_t m)
{
    ag_tensor *t = full_named("ag_eye", dev, dtype, 2, (int64_t[]){n, m}, 0.0);
    if (!t) return NULL;
    int64_t k = n < m ? n : m;
    if (k == 0) return t;
    /* The diagonal is a strided view with stride m + 1. */
    ag_tensor *diag = agi_tensor_view(t, 1, (int64_t[]){k}, (int64_t[]){m + 1}, 0);
    ag_status st = diag ? ag_fill_(diag, 1.0) : AG_ERR_OOM;
    agi_discard(diag);
    if (st != AG_OK) {
        agi_discard(t);
        return NULL;
    }
    return t;
}

static ag_tensor *random_fill(const char *op, ag_device *dev, int ndim, const int64_t *shape,
                              int sub, double a, double b)
{
    ag_tensor *t = agi_tensor_new(op, dev, AG_F32, ndim, shape);
    if (!t) return NULL;
    agi_kernel k = {.op = AGI_K_RNG, .sub = sub};
    k.dst = agi_view_of(t);
    agi_rng_reserve((uint64_t)agi_numel(ndim, shape), &k.p.s.u[0], &k.p.s.u[1]);
    k.p.s.f[0] = a;
    k.p.s.f[1] = b;
    if (agi_exec(op, dev, &k) != AG_OK) {
        agi_discard(t);
        return NULL;
    }
    return t;
}

ag_tensor *ag_rand(ag_device *dev, int ndim, const int64_t *shape)
{
    return random_fill("ag_rand", dev, ndim, shape, AGI_RNG_UNIFORM, 0.0, 1.0);
}

ag_tensor *ag_randn(ag_device *dev, int ndim, const int64_t *shape)
{
    return random_fill("ag_randn", dev, ndim, shape, AGI_RNG_NORMAL, 0.0, 1.0);
}

ag_tensor *ag_uniform(ag_device *dev, int ndim, const int64_t *shape, double low, double high)
{
    if (!(low <= high)) {
        agi_error(AG_ERR_INVALID, "ag_uniform", "low %g > high %g", low, high);
        return NULL;
    }
    return random_fill("ag_uniform", dev, ndim, shape, AGI_RNG_UNIFORM, low, high);
}

/* ---- Host transfer ------------------------------------------------------ */

ag_status ag_tensor_read(const ag_tensor *t, void *dst, size_t nbytes)
{
    const char *op = "ag_tensor_read";
    if (!agi_check_tensor(op, t, "t")) return ag_last_status();
    size_t need = (size_t)ag_numel(t) * ag_dtype_size(t->dtype);
    if (nbytes < need || (need && !dst)) {
        char buf[192];
        return agi_error(AG_ERR_INVALID, op, "destination holds %zu bytes, %s %s needs %zu",
                         nbytes, ag_dtype_name(t->dtype), agi_fmt_shape(buf, t->ndim, t->shape),
                         need);
    }
    if (need == 0) return AG_OK;
    ag_device *dev = t->storage->dev;
    if (agi_graph_forbid(op, dev, "reading a tensor back to the host") != AG_OK) return ag_last_status();
    ag_status st;
    ag_scope_begin();
    ag_tensor *c = ag_contiguous(t);
    if (!c) {
        st = ag_last_status();
    } else {
        st = dev->be->read(dev->impl, c->storage->buf, (size_t)c->offset * ag_dtype_size(c->dtype),
                           dst, need);
        if (st != AG_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            agi_error(st, op, "%s", msg);
        } else {
            st = agi_device_check(op, dev);
        }
    }
    ag_scope_end();
    return st;
}

ag_status ag_tensor_write(ag_tensor *t, const void *src, size_t nbytes)
{
    const char *op = "ag_tensor_write";
    if (!agi_check_tensor(op, t, "t") || !agi_check_writable(op, t)) return ag_last_status();
    size_t need = (size_t)ag_numel(t) * ag_dtype_size(t->dtype);
    if (nbytes != need || (need && !src)) {
        char buf[192];
        return agi_error(AG_ERR_INVALID, op, "%zu bytes given, %s %s needs %zu", nbytes,
                         ag_dtype_name(t->dtype), agi_fmt_shape(buf, t->ndim, t->shape), need);
    }
    if (need == 0) return AG_OK;
    ag_device *dev = t->storage->dev;
    if (ag_is_contiguous(t)) {
        agi_tensor_bump(t);
        size_t off = (size_t)t->offset * ag_dtype_size(t->dtype);
        if (agi_tl_capture) agi_graph_on_write(dev, t->storage->buf, off, src, need);
        return dev->be->write(dev->impl, t->storage->buf, off, src, need);
    }
    ag_status st;
    ag_scope_begin();
    ag_tensor *tmp = ag_from_data(dev, t->dtype, t->ndim, t->shape, src, need);
    st = tmp ? ag_copy_(t, tmp) : ag_last_status();
    ag_scope_end();
    return st;
}

double ag_item(const ag_tensor *t)
{
    if (!agi_check_tensor("ag_item", t, "t")) return NAN;
    if (ag_numel(t) != 1) {
        char buf[192];
        agi_error(AG_ERR_INVALID, "ag_item", "tensor %s has %lld elements, not 1",
                  agi_fmt_shape(buf, t->ndim, t->shape), (long long)ag_numel(t));
        return NAN;
    }
    union { float f; int32_t i; uint8_t u; uint16_t h; } v;
    if (ag_tensor_read(t, &v, ag_dtype_size(t->dtype)) != AG_OK) return NAN;
    switch (t->dtype) {
    case AG_F32: return (double)v.f;
    case AG_I32: return (double)v.i;
    case AG_F16: return (double)agi_f16_to_f32(v.h);
    case AG_BF16: return (double)agi_bf16_to_f32(v.h);
    default: return (double)v.u;
    }
}

void ag_print(const ag_tensor *t, const char *label)
{
    char buf[192];
    if (!t || !agi_tensor_alive("ag_print", t)) {
        printf("%s: %s\n", label ? label : "tensor", t ? "(released)" : "(null)");
        return;
    }
    int64_t n = ag_numel(t);
    printf("%s: %s %s [", label ? label : "tensor", ag_dtype_name(t->dtype),
           agi_fmt_shape(buf, t->ndim, t->shape));
    int64_t show = n < 16 ? n : 16;
    void *host = agi_malloc((size_t)n * ag_dtype_size(t->dtype) + 1);
    if (host && ag_tensor_read(t, host, (size_t)n * ag_dtype_size(t->dtype)) == AG_OK) {
        for (int64_t i = 0; i < show; i++) {
            if (t->dtype == AG_F32) printf(i ? " %g" : "%g", ((float *)host)[i]);
            else if (t->dtype == AG_I32) printf(i ? " %d" : "%d", ((int32_t *)host)[i]);
            else if (t->dtype == AG_F16) printf(i ? " %g" : "%g", (double)agi_f16_to_f32(((uint16_t *)host)[i]));
            else if (t->dtype == AG_BF16) printf(i ? " %g" : "%g", (double)agi_bf16_to_f32(((uint16_t *)host)[i]));
            else printf(i ? " %u" : "%u", ((uint8_t *)host)[i]);
        }
        if (show < n) printf(" ...");
    }
    free(host);
    printf("]\n");
}
