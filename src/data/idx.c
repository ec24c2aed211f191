/* src/data/idx.c — the IDX file format (MNIST), plain or gzip-compressed. */
#include "internal.h"
#include "anygrad/data.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#define OP "ag_idx_read"
/* Largest element count accepted (also bounds the product of the non-zero dims). */
#define IDX_MAX_ELEMENTS (UINT64_C(1) << 38)

/* Reads up to `want` bytes (fewer only at the end of the stream). Returns the
 * count, or -1 on a read/decompression error. */
static int64_t read_full(gzFile f, void *dst, size_t want)
{
    size_t got = 0;
    while (got < want) {
        size_t chunk = want - got > (1u << 30) ? (1u << 30) : want - got;
        int r = gzread(f, (char *)dst + got, (unsigned)chunk);
        if (r < 0) return -1;
        if (r == 0) break;
        got += (size_t)r;
    }
    return (int64_t)got;
}

static ag_status gz_fail(gzFile f, const char *path, const char *what)
{
    int errnum = 0;
    const char *msg = gzerror(f, &errnum);
    return agi_error(AG_ERR_FORMAT, OP, "%s: %s (%s)", path, what,
                     errnum == Z_ERRNO ? strerror(errno) : msg);
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* Reads the data block of `nbytes`, growing the buffer only as data arrives
 * so a corrupt header cannot trigger a huge allocation. */
static ag_status read_data(gzFile f, const char *path, size_t nbytes, void **out)
{
    size_t cap = nbytes < (1u << 20) ? nbytes : (1u << 20), have = 0;
    unsigned char *buf = agi_malloc(cap ? cap : 1);
    if (!buf) return agi_error(AG_ERR_OOM, OP, "%s: host out of memory", path);
    while (have < nbytes) {
        if (have == cap) {
            size_t ncap = cap * 2 < nbytes ? cap * 2 : nbytes;
            unsigned char *g = agi_realloc(buf, ncap);
            if (!g) {
                free(buf);
                return agi_error(AG_ERR_OOM, OP, "%s: host out of memory (%zu bytes)", path, ncap);
            }
            buf = g;
            cap = ncap;
        }
        int64_t r = read_full(f, buf + have, cap - have);
        if (r < 0) {
            free(buf);
            return gz_fail(f, path, "read error");
        }
        if (r == 0) {
            free(buf);
            return agi_error(AG_ERR_FORMAT, OP,
                             "%s: truncated: header promises %zu data bytes, file has %zu", path,
                             nbytes, have);
        }
        have += (size_t)r;
    }
    unsigned char extra;
    int64_t r = read_full(f, &extra, 1);
    if (r != 0) {
        free(buf);
        if (r < 0) return gz_fail(f, path, "read error");
        return agi_error(AG_ERR_FORMAT, OP, "%s: trailing bytes after %zu data bytes", path,
                         nbytes);
    }
    *out = buf;
    return AG_OK;
}

ag_status ag_idx_read(const char *path, ag_idx_array *out)
{
    if (!out) return agi_error(AG_ERR_INVALID, OP, "out is NULL");
    memset(out, 0, sizeof *out);
    if (!path) return agi_error(AG_ERR_INVALID, OP, "path is NULL");
    gzFile f = gzopen(path, "rb");
    if (!f) return agi_error(AG_ERR_IO, OP, "%s: cannot open (%s)", path, strerror(errno));
    ag_status st = AG_OK;
    unsigned char head[4 + 4 * AG_MAX_DIMS];
    int64_t r = read_full(f, head, 4);
    if (r < 0) {
        st = gz_fail(f, path, "read error");
        goto done;
    }
    if (r < 4) {
        st = agi_error(AG_ERR_FORMAT, OP, "%s: truncated header (%lld bytes)", path, (long long)r);
        goto done;
    }
    if (head[0] != 0 || head[1] != 0) {
        st = agi_error(AG_ERR_FORMAT, OP, "%s: bad magic %02x %02x %02x %02x (not an IDX file)",
                       path, head[0], head[1], head[2], head[3]);
        goto done;
    }
    size_t esize;
    switch (head[2]) {
    case 0x08: out->dtype = AG_U8; esize = 1; break;
    case 0x0C: out->dtype = AG_I32; esize = 4; break;
    case 0x0D: out->dtype = AG_F32; esize = 4; break;
    default:
        st = agi_error(AG_ERR_FORMAT, OP, "%s: unsupported IDX type code 0x%02x", path, head[2]);
        goto done;
    }
    int ndim = head[3];
    if (ndim < 1 || ndim > AG_MAX_DIMS) {
        st = agi_error(AG_ERR_FORMAT, OP, "%s: %d dims (1..%d supported)", path, ndim, AG_MAX_DIMS);
        goto done;
    }
    r = read_full(f, head + 4, 4 * (size_t)ndim);
    if (r != 4 * ndim) {
        st = r < 0 ? gz_fail(f, path, "read error")
                   : agi_error(AG_ERR_FORMAT, OP, "%s: truncated header (%d dims, %lld of %d dim bytes)",
                               path, ndim, (long long)r, 4 * ndim);
        goto done;
    }
    /* Each product is checked before it is formed, over the non-zero dims
     * too, so a zero dim cannot hide the others from the limit. */
    for (int d = 0; d < ndim; d++) out->shape[d] = be32(head + 4 + 4 * d);
    uint64_t count = 1, nonzero = 1;
    for (int d = 0; d < ndim; d++) {
        uint64_t dim = (uint64_t)out->shape[d];
        if (dim != 0 && nonzero > IDX_MAX_ELEMENTS / dim) {
            char sbuf[192];
            st = agi_error(AG_ERR_FORMAT, OP, "%s: dims %s too large (more than 2^38 elements)",
                           path, agi_fmt_shape(sbuf, ndim, out->shape));
            goto done;
        }
        if (dim != 0) nonzero *= dim;
        count *= dim; /* <= nonzero: cannot wrap */
    }
    out->ndim = ndim;
    out->nbytes = (size_t)count * esize;
    st = read_data(f, path, out->nbytes, &out->data);
    if (st != AG_OK) goto done;
    if (esize == 4) { /* big-endian → host */
        uint32_t *w = out->data;
        for (size_t i = 0; i < count; i++) w[i] = be32((const unsigned char *)&w[i]);
    }
done:
    gzclose(f);
    if (st != AG_OK) {
        free(out->data);
        memset(out, 0, sizeof *out);
    }
    return st;
}

void ag_idx_free(ag_idx_array *arr)
{
    if (!arr) return;
    free(arr->data);
    memset(arr, 0, sizeof *arr);
}

ag_tensor *ag_idx_load(const char *path, ag_device *dev)
{
    if (!dev) {
        agi_error(AG_ERR_INVALID, "ag_idx_load", "device is NULL");
        return NULL;
    }
    ag_idx_array a;
    if (ag_idx_read(path, &a) != AG_OK) {
        agi_error_in("ag_idx_load");
        return NULL;
    }
    ag_tensor *t = ag_from_data(dev, a.dtype, a.ndim, a.shape, a.data, a.nbytes);
    ag_idx_free(&a);
    if (!t) agi_error_in("ag_idx_load");
    return t;
}
