/* src/io/safetensors.c — reading and writing the safetensors format with
 * strict validation (no read ever leaves the file's bytes). */
#include "internal.h"
#include "anygrad/io.h"
#include "io/atomic_file.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LOAD "ag_safetensors_load"
#define SAVE "ag_safetensors_save"
/* Largest header accepted (the reference implementation uses 100 MB). */
#define MAX_HEADER (100u << 20)
/* Largest number of JSON members (key: value pairs at any depth) accepted in
 * the header: a tensor entry has 4 (its name, dtype, shape, data_offsets), a
 * metadata value 1. Bounds the time and memory a header costs; counted
 * before parsing so an oversized header fails fast. */
#define MAX_MEMBERS (UINT64_C(1) << 19)

static const char *st_dtype_name(ag_dtype d)
{
    switch (d) {
    case AG_F32: return "F32";
    case AG_I32: return "I32";
    case AG_F16: return "F16";
    case AG_BF16: return "BF16";
    default: return "U8";
    }
}

/* ---- Saving ------------------------------------------------------------------- */

static ag_status write_all(FILE *f, const void *p, size_t n, const char *tmp)
{
    if (n && fwrite(p, 1, n, f) != n)
        return agi_error(AG_ERR_IO, SAVE, "%s: write failed (%s)", tmp, strerror(errno));
    return AG_OK;
}

/* Builds the JSON header; data offsets follow the entry order. */
static char *build_header(const ag_state_dict *sd, size_t *data_len)
{
    cJSON *root = cJSON_CreateObject();
    if (!root) return NULL;
    int nm = ag_state_dict_meta_count(sd);
    if (nm > 0) {
        cJSON *meta = cJSON_AddObjectToObject(root, "__metadata__");
        for (int i = 0; meta && i < nm; i++) {
            const char *k = ag_state_dict_meta_key_at(sd, i);
            if (!cJSON_AddStringToObject(meta, k, ag_state_dict_get_meta(sd, k))) meta = NULL;
        }
        if (!meta) {
            cJSON_Delete(root);
            return NULL;
        }
    }
    size_t off = 0;
    for (int i = 0; i < ag_state_dict_count(sd); i++) {
        const ag_tensor *t = ag_state_dict_tensor_at(sd, i);
        size_t nbytes = (size_t)ag_numel(t) * ag_dtype_size(t->dtype);
        cJSON *e = cJSON_AddObjectToObject(root, ag_state_dict_name_at(sd, i));
        cJSON *shape = e ? cJSON_AddArrayToObject(e, "shape") : NULL;
        cJSON *offs = shape ? cJSON_AddArrayToObject(e, "data_offsets") : NULL;
        bool ok = offs && cJSON_AddStringToObject(e, "dtype", st_dtype_name(t->dtype));
        for (int d = 0; ok && d < t->ndim; d++)
            ok = cJSON_AddItemToArray(shape, cJSON_CreateNumber((double)t->shape[d]));
        ok = ok && cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)off)) &&
             cJSON_AddItemToArray(offs, cJSON_CreateNumber((double)(off + nbytes)));
        if (!ok) {
            cJSON_Delete(root);
            return NULL;
        }
        off += nbytes;
    }
    char *s = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    *data_len = off;
    return s;
}

ag_status ag_safetensors_save(const char *path, const ag_state_dict *sd)
{
    if (!path || !sd) return agi_error(AG_ERR_INVALID, SAVE, "%s is NULL", path ? "dict" : "path");
    size_t data_len = 0;
    char *json = build_header(sd, &data_len);
    if (!json) return agi_error(AG_ERR_OOM, SAVE, "%s: cannot build the header", path);
    size_t jlen = strlen(json);
    size_t hlen = (jlen + 7) / 8 * 8; /* padded with spaces to 8-byte alignment */
    agi_atomic_file af;
    ag_status st = agi_atomic_open(SAVE, path, &af);
    if (st != AG_OK) {
        free(json);
        return st;
    }
    FILE *f = af.f;
    const char *tmp = af.tmp;
    unsigned char len8[8];
    for (int i = 0; i < 8; i++) len8[i] = (unsigned char)((uint64_t)hlen >> (8 * i));
    st = write_all(f, len8, 8, tmp);
    if (st == AG_OK) st = write_all(f, json, jlen, tmp);
    for (size_t i = jlen; st == AG_OK && i < hlen; i++) st = write_all(f, " ", 1, tmp);
    for (int i = 0; st == AG_OK && i < ag_state_dict_count(sd); i++) {
        const ag_tensor *t = ag_state_dict_tensor_at(sd, i);
        size_t nbytes = (size_t)ag_numel(t) * ag_dtype_size(t->dtype);
        if (!nbytes) continue;
        void *host = agi_malloc(nbytes);
        if (!host) {
            st = agi_error(AG_ERR_OOM, SAVE, "host out of memory (%zu bytes)", nbytes);
            break;
        }
        st = ag_tensor_read(t, host, nbytes);
        if (st != AG_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            agi_error(st, SAVE, "%s: reading \"%s\": %s", path, ag_state_dict_name_at(sd, i), msg);
        } else {
            st = write_all(f, host, nbytes, tmp);
        }
        free(host);
    }
    if (st == AG_OK) st = agi_atomic_commit(SAVE, &af);
    else agi_atomic_abort(&af);
    free(json);
    return st;
}

/* ---- Loading ------------------------------------------------------------------ */

typedef struct st_entry {
    const char *name; /* points into the cJSON tree */
    ag_dtype dtype;
    int ndim;
    int64_t shape[AG_MAX_DIMS];
    uint64_t begin, end;
} st_entry;

static bool json_uint(const cJSON *v, uint64_t max, uint64_t *out)
{
    if (!cJSON_IsNumber(v)) return false;
    double d = v->valuedouble;
    if (!(d >= 0) || d > (double)max || d != floor(d)) return false;
    *out = (uint64_t)d;
    return true;
}

static ag_status bad(const char *path, const char *name, const char *what)
{
    if (name) return agi_error(AG_ERR_FORMAT, LOAD, "%s: tensor \"%.200s\": %s", path, name, what);
    return agi_error(AG_ERR_FORMAT, LOAD, "%s: %s", path, what);
}

static ag_status parse_entry(const char *path, const cJSON *item, uint64_t data_len, st_entry *e)
{
    e->name = item->string;
    if (!cJSON_IsObject(item)) return bad(path, e->name, "entry is not a JSON object");
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(item, "dtype");
    const cJSON *sh = cJSON_GetObjectItemCaseSensitive(item, "shape");
    const cJSON *of = cJSON_GetObjectItemCaseSensitive(item, "data_offsets");
    if (!cJSON_IsString(dt)) return bad(path, e->name, "missing or non-string \"dtype\"");
    const char *s = dt->valuestring;
    if (strcmp(s, "F32") == 0) e->dtype = AG_F32;
    else if (strcmp(s, "I32") == 0) e->dtype = AG_I32;
    else if (strcmp(s, "U8") == 0) e->dtype = AG_U8;
    else if (strcmp(s, "F16") == 0) e->dtype = AG_F16;
    else if (strcmp(s, "BF16") == 0) e->dtype = AG_BF16;
    else {
        static const char *const known[] = {"F64", "I64", "I16", "I8", "BOOL",
                                            "U16", "U32", "U64", "F8_E4M3", "F8_E5M2"};
        bool is_known = false;
        for (size_t i = 0; i < sizeof known / sizeof *known; i++) is_known |= strcmp(s, known[i]) == 0;
        char msg[128];
        snprintf(msg, sizeof msg, "%s dtype \"%.32s\" (F32, F16, BF16, I32 and U8 are supported)",
                 is_known ? "unsupported" : "unknown", s);
        return bad(path, e->name, msg);
    }
    if (!cJSON_IsArray(sh)) return bad(path, e->name, "missing or non-array \"shape\"");
    int nd = cJSON_GetArraySize(sh);
    if (nd > AG_MAX_DIMS) return bad(path, e->name, "more than 8 dims");
    e->ndim = 0;
    uint64_t numel = 1;
    for (const cJSON *d = sh->child; d; d = d->next) {
        uint64_t v;
        if (!json_uint(d, UINT64_C(1) << 40, &v)) return bad(path, e->name, "shape entries must be integers >= 0");
        e->shape[e->ndim++] = (int64_t)v;
        if (v && numel > (UINT64_C(1) << 40) / v) return bad(path, e->name, "shape has too many elements");
        numel *= v;
    }
    if (!cJSON_IsArray(of) || cJSON_GetArraySize(of) != 2 ||
        !json_uint(of->child, UINT64_MAX >> 11, &e->begin) ||
        !json_uint(of->child->next, UINT64_MAX >> 11, &e->end))
        return bad(path, e->name, "\"data_offsets\" must be two integers >= 0");
    char msg[200];
    if (e->begin > e->end || e->end > data_len) {
        snprintf(msg, sizeof msg, "data_offsets [%llu, %llu] out of range (data holds %llu bytes)",
                 (unsigned long long)e->begin, (unsigned long long)e->end,
                 (unsigned long long)data_len);
        return bad(path, e->name, msg);
    }
    uint64_t want = numel * ag_dtype_size(e->dtype);
    if (e->end - e->begin != want) {
        char sbuf[192];
        snprintf(msg, sizeof msg, "data_offsets span %llu bytes but %s %s needs %llu",
                 (unsigned long long)(e->end - e->begin), s, agi_fmt_shape(sbuf, e->ndim, e->shape),
                 (unsigned long long)want);
        return bad(path, e->name, msg);
    }
    return AG_OK;
}

static int cmp_begin(const void *a, const void *b)
{
    const st_entry *x = a, *y = b;
    if (x->begin != y->begin) return x->begin < y->begin ? -1 : 1;
    return x->end < y->end ? -1 : x->end > y->end;
}

/* Number of ':' outside JSON strings: the key/value pairs of the header. */
static uint64_t count_members(const char *p, size_t n)
{
    uint64_t count = 0;
    bool in_string = false;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (in_string) {
            if (c == '\\') i++;
            else if (c == '"') in_string = false;
        } else if (c == '"') {
            in_string = true;
        } else if (c == ':') {
            count++;
        }
    }
    return count;
}

static int cmp_name(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Duplicate names, found by sorting: O(n log n) for any number of entries. */
static ag_status check_unique_names(const char *path, const st_entry *es, int ne)
{
    const char **names = agi_malloc(((size_t)ne + 1) * sizeof *names);
    if (!names) return agi_error(AG_ERR_OOM, LOAD, "%s: host out of memory", path);
    for (int i = 0; i < ne; i++) names[i] = es[i].name;
    qsort(names, (size_t)ne, sizeof *names, cmp_name);
    ag_status st = AG_OK;
    for (int i = 1; st == AG_OK && i < ne; i++)
        if (strcmp(names[i - 1], names[i]) == 0) st = bad(path, names[i], "duplicate name");
    free(names);
    return st;
}

static unsigned char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        agi_error(AG_ERR_IO, LOAD, "%s: cannot open (%s)", path, strerror(errno));
        return NULL;
    }
    unsigned char *buf = NULL;
    long size = -1;
    struct stat st;
    if (fstat(fileno(f), &st) != 0) {
        agi_error(AG_ERR_IO, LOAD, "%s: cannot inspect (%s)", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        agi_error(AG_ERR_IO, LOAD, "%s: not a regular file (%s)", path,
                  S_ISDIR(st.st_mode) ? "a directory" : "a device, FIFO or socket");
    } else if (fseek(f, 0, SEEK_END) != 0 || (size = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0) {
        size = -1;
        agi_error(AG_ERR_IO, LOAD, "%s: cannot determine the size (%s)", path, strerror(errno));
    } else if (!(buf = agi_malloc((size_t)size + 1))) {
        agi_error(AG_ERR_OOM, LOAD, "%s: host out of memory (%ld bytes)", path, size);
    } else if (fread(buf, 1, (size_t)size, f) != (size_t)size) {
        agi_error(AG_ERR_IO, LOAD, "%s: read failed", path);
        free(buf);
        buf = NULL;
    }
    fclose(f);
    *len = size > 0 ? (size_t)size : 0;
    return buf;
}

/* Validates the file and fills `sd` (tensors on dev). */
static ag_status load_into(const char *path, const unsigned char *buf, size_t len, ag_device *dev,
                           ag_state_dict *sd)
{
    if (len < 8) return bad(path, NULL, "truncated: shorter than the 8-byte header length");
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | buf[i];
    if (hlen > MAX_HEADER || hlen > len - 8) {
        char msg[160];
        snprintf(msg, sizeof msg, "header length %llu exceeds the file (%zu bytes)",
                 (unsigned long long)hlen, len);
        return bad(path, NULL, msg);
    }
    if (hlen < 2 || buf[8] != '{') return bad(path, NULL, "header is not a JSON object");
    const char *hdr = (const char *)buf + 8;
    uint64_t members = count_members(hdr, (size_t)hlen);
    if (members > MAX_MEMBERS) {
        char msg[200];
        snprintf(msg, sizeof msg, "header has %llu JSON members, more than the %llu supported "
                 "(%llu tensors)", (unsigned long long)members, (unsigned long long)MAX_MEMBERS,
                 (unsigned long long)MAX_MEMBERS / 4);
        return bad(path, NULL, msg);
    }
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(hdr, (size_t)hlen, &end, false);
    if (!root || !cJSON_IsObject(root)) {
        cJSON_Delete(root);
        return bad(path, NULL, "header is not valid JSON");
    }
    for (const char *p = end; p && p < hdr + hlen; p++)
        if (*p != ' ' && *p != '\t' && *p != '\n' && *p != '\r') {
            cJSON_Delete(root);
            return bad(path, NULL, "trailing bytes after the JSON header");
        }
    const unsigned char *data = buf + 8 + hlen;
    uint64_t data_len = len - 8 - hlen;
    int n = cJSON_GetArraySize(root);
    st_entry *es = agi_calloc((size_t)n + 1, sizeof *es);
    ag_status st = es ? AG_OK : agi_error(AG_ERR_OOM, LOAD, "host out of memory");
    int ne = 0;
    for (const cJSON *it = root->child; st == AG_OK && it; it = it->next) {
        if (!it->string) {
            st = bad(path, NULL, "header entry without a name");
        } else if (strcmp(it->string, "__metadata__") == 0) {
            if (!cJSON_IsObject(it)) st = bad(path, NULL, "__metadata__ is not an object");
            for (const cJSON *m = it->child; st == AG_OK && m; m = m->next) {
                if (!cJSON_IsString(m) || !m->string) st = bad(path, NULL, "__metadata__ values must be strings");
                else st = ag_state_dict_set_meta(sd, m->string, m->valuestring);
            }
        } else {
            st = parse_entry(path, it, data_len, &es[ne++]);
        }
    }
    if (st == AG_OK) st = check_unique_names(path, es, ne);
    if (st == AG_OK) { /* the data must be covered exactly: no overlaps, no holes */
        st_entry *sorted = agi_malloc(((size_t)ne + 1) * sizeof *sorted);
        if (!sorted) st = agi_error(AG_ERR_OOM, LOAD, "host out of memory");
        else {
            memcpy(sorted, es, (size_t)ne * sizeof *es);
            qsort(sorted, (size_t)ne, sizeof *sorted, cmp_begin);
            uint64_t at = 0;
            for (int i = 0; st == AG_OK && i < ne; i++) {
                if (sorted[i].begin < at) st = bad(path, sorted[i].name, "data overlaps another tensor");
                else if (sorted[i].begin > at) st = bad(path, sorted[i].name, "hole in the data before this tensor");
                at = sorted[i].end;
            }
            if (st == AG_OK && at != data_len) {
                char msg[160];
                snprintf(msg, sizeof msg, "%llu bytes of data after the last tensor",
                         (unsigned long long)(data_len - at));
                st = bad(path, NULL, msg);
            }
            free(sorted);
        }
    }
    ag_scope_begin();
    for (int i = 0; st == AG_OK && i < ne; i++) {
        ag_tensor *t = ag_from_data(dev, es[i].dtype, es[i].ndim, es[i].shape, data + es[i].begin,
                                    (size_t)(es[i].end - es[i].begin));
        if (!t) {
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            st = agi_error(ag_last_status(), LOAD, "%s: tensor \"%.200s\": %s", path, es[i].name, msg);
        } else if ((st = ag_state_dict_add(sd, es[i].name, t)) != AG_OK) {
            /* a name the dict refuses (empty, too long) is the file's fault */
            char msg[512];
            snprintf(msg, sizeof msg, "%s", ag_last_error());
            st = agi_error(st == AG_ERR_INVALID ? AG_ERR_FORMAT : st, LOAD, "%s: %s", path, msg);
        }
    }
    ag_scope_end();
    free(es);
    cJSON_Delete(root);
    return st;
}

ag_state_dict *ag_safetensors_load(const char *path, ag_device *dev)
{
    if (!path || !dev) {
        agi_error(AG_ERR_INVALID, LOAD, "%s is NULL", path ? "device" : "path");
        return NULL;
    }
    size_t len;
    unsigned char *buf = read_file(path, &len);
    if (!buf) return NULL;
    ag_state_dict *sd = ag_state_dict_new();
    ag_status st = sd ? load_into(path, buf, len, dev, sd) : AG_ERR_OOM;
    free(buf);
    if (st != AG_OK) {
        ag_state_dict_free(sd);
        return NULL;
    }
    return sd;
}
