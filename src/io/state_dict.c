/* src/io/state_dict.c — ordered name → tensor lists with string metadata, and
 * loading them into existing tensors. */
#include "internal.h"
#include "anygrad/io.h"
#include "io/name_index.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define AGI_NAME_MAX 255

typedef struct sd_entry {
    char *name;
    ag_tensor *t; /* owned reference */
} sd_entry;

typedef struct sd_meta {
    char *key, *value;
} sd_meta;

struct ag_state_dict {
    sd_entry *e;
    int n, cap;
    sd_meta *m;
    int nm, capm;
    agi_name_index names, keys; /* entry name → i, metadata key → i */
};

ag_state_dict *ag_state_dict_new(void)
{
    ag_state_dict *sd = agi_calloc(1, sizeof *sd);
    if (!sd) agi_error(AG_ERR_OOM, "ag_state_dict_new", "host out of memory");
    return sd;
}

void ag_state_dict_free(ag_state_dict *sd)
{
    if (!sd) return;
    for (int i = 0; i < sd->n; i++) {
        free(sd->e[i].name);
        ag_release(sd->e[i].t);
    }
    for (int i = 0; i < sd->nm; i++) {
        free(sd->m[i].key);
        free(sd->m[i].value);
    }
    free(sd->e);
    free(sd->m);
    agi_name_index_free(&sd->names);
    agi_name_index_free(&sd->keys);
    free(sd);
}

static int find(const ag_state_dict *sd, const char *name)
{
    return agi_name_index_find(&sd->names, name);
}

ag_status ag_state_dict_add(ag_state_dict *sd, const char *name, ag_tensor *t)
{
    const char *op = "ag_state_dict_add";
    if (!sd || !name) return agi_error(AG_ERR_INVALID, op, "%s is NULL", sd ? "name" : "dict");
    if (!t) {
        if (ag_last_status() != AG_OK) return ag_last_status();
        return agi_error(AG_ERR_INVALID, op, "tensor for \"%s\" is NULL", name);
    }
    size_t len = strlen(name);
    if (len == 0 || len > AGI_NAME_MAX || strcmp(name, "__metadata__") == 0)
        return agi_error(AG_ERR_INVALID, op, "invalid name \"%.64s%s\" (1..%d bytes, not __metadata__)",
                         name, len > 64 ? "..." : "", AGI_NAME_MAX);
    if (find(sd, name) >= 0) return agi_error(AG_ERR_INVALID, op, "duplicate name \"%s\"", name);
    if (sd->n == sd->cap) {
        int cap = sd->cap ? sd->cap * 2 : 16;
        sd_entry *g = agi_realloc(sd->e, (size_t)cap * sizeof *g);
        if (!g) return agi_error(AG_ERR_OOM, op, "host out of memory");
        sd->e = g;
        sd->cap = cap;
    }
    if (sd->n == INT32_MAX) return agi_error(AG_ERR_INVALID, op, "too many entries");
    char *copy = agi_strdup(name);
    if (!copy || !agi_name_index_put(&sd->names, copy, sd->n)) {
        free(copy);
        return agi_error(AG_ERR_OOM, op, "host out of memory");
    }
    sd->e[sd->n++] = (sd_entry){copy, ag_retain(t)};
    return AG_OK;
}

ag_tensor *ag_state_dict_get(const ag_state_dict *sd, const char *name)
{
    if (!sd || !name) {
        agi_error(AG_ERR_INVALID, "ag_state_dict_get", "%s is NULL", sd ? "name" : "dict");
        return NULL;
    }
    int i = find(sd, name);
    if (i < 0) {
        agi_error(AG_ERR_NOT_FOUND, "ag_state_dict_get", "no entry \"%s\"", name);
        return NULL;
    }
    return sd->e[i].t;
}

int ag_state_dict_count(const ag_state_dict *sd) { return sd ? sd->n : 0; }

const char *ag_state_dict_name_at(const ag_state_dict *sd, int i)
{
    return sd && i >= 0 && i < sd->n ? sd->e[i].name : NULL;
}

ag_tensor *ag_state_dict_tensor_at(const ag_state_dict *sd, int i)
{
    return sd && i >= 0 && i < sd->n ? sd->e[i].t : NULL;
}

/* ---- Metadata ------------------------------------------------------------------ */

ag_status ag_state_dict_set_meta(ag_state_dict *sd, const char *key, const char *value)
{
    const char *op = "ag_state_dict_set_meta";
    if (!sd || !key || !value)
        return agi_error(AG_ERR_INVALID, op, "%s is NULL", !sd ? "dict" : !key ? "key" : "value");
    char *v = agi_strdup(value);
    if (!v) return agi_error(AG_ERR_OOM, op, "host out of memory");
    int i = agi_name_index_find(&sd->keys, key);
    if (i >= 0) {
        free(sd->m[i].value);
        sd->m[i].value = v;
        return AG_OK;
    }
    if (sd->nm == INT32_MAX) {
        free(v);
        return agi_error(AG_ERR_INVALID, op, "too many metadata entries");
    }
    if (sd->nm == sd->capm) {
        int cap = sd->capm ? sd->capm * 2 : 8;
        sd_meta *g = agi_realloc(sd->m, (size_t)cap * sizeof *g);
        if (!g) {
            free(v);
            return agi_error(AG_ERR_OOM, op, "host out of memory");
        }
        sd->m = g;
        sd->capm = cap;
    }
    char *k = agi_strdup(key);
    if (!k || !agi_name_index_put(&sd->keys, k, sd->nm)) {
        free(k);
        free(v);
        return agi_error(AG_ERR_OOM, op, "host out of memory");
    }
    sd->m[sd->nm++] = (sd_meta){k, v};
    return AG_OK;
}

const char *ag_state_dict_get_meta(const ag_state_dict *sd, const char *key)
{
    if (!sd || !key) return NULL;
    int i = agi_name_index_find(&sd->keys, key);
    return i >= 0 ? sd->m[i].value : NULL;
}

ag_status ag_state_dict_get_meta_int(const ag_state_dict *sd, const char *key, int64_t *out)
{
    const char *op = "ag_state_dict_get_meta_int";
    if (!out) return agi_error(AG_ERR_INVALID, op, "out is NULL");
    const char *v = ag_state_dict_get_meta(sd, key);
    if (!v) return agi_error(AG_ERR_NOT_FOUND, op, "no metadata \"%s\"", key ? key : "(null)");
    char *end;
    errno = 0;
    long long x = strtoll(v, &end, 10);
    if (errno || end == v || *end)
        return agi_error(AG_ERR_FORMAT, op, "metadata \"%s\" = \"%.64s\" is not an integer", key, v);
    *out = x;
    return AG_OK;
}

int ag_state_dict_meta_count(const ag_state_dict *sd) { return sd ? sd->nm : 0; }

const char *ag_state_dict_meta_key_at(const ag_state_dict *sd, int i)
{
    return sd && i >= 0 && i < sd->nm ? sd->m[i].key : NULL;
}

/* ---- Loading into tensors ---------------------------------------------------------- */

/* Appends "; <msg>" (or "<msg>" first) to buf. */
static void add_problem(char *buf, size_t cap, int *count, const char *fmt, const char *name,
                        const char *a, const char *b)
{
    size_t len = strlen(buf);
    if (len + 8 >= cap) return;
    if (*count) len += (size_t)snprintf(buf + len, cap - len, "; ");
    if (len < cap) snprintf(buf + len, cap - len, fmt, name, a, b);
    (*count)++;
}

ag_status ag_state_dict_load_into(const ag_state_dict *sd, int n, const char *const *names,
                                  ag_tensor *const *tensors, bool strict)
{
    const char *op = "ag_state_dict_load_into";
    if (!sd || n < 0 || (n > 0 && (!names || !tensors)))
        return agi_error(AG_ERR_INVALID, op, "bad arguments (dict %s, n %d)", sd ? "set" : "NULL", n);
    char msg[800] = "";
    int problems = 0;
    for (int i = 0; i < n; i++) {
        const char *name = names[i];
        const ag_tensor *dst = tensors[i];
        if (!name || !dst) {
            add_problem(msg, sizeof msg, &problems, "entry %s has a NULL name or tensor%s%s",
                        name ? name : "(null)", "", "");
            continue;
        }
        if (!agi_tensor_alive(op, dst)) return ag_last_status(); /* nothing copied yet */
        int k = find(sd, name);
        if (k < 0) {
            add_problem(msg, sizeof msg, &problems, "missing key %s%s%s", name, "", "");
            continue;
        }
        const ag_tensor *src = sd->e[k].t;
        char a[192], b[192];
        if (src->ndim != dst->ndim ||
            memcmp(src->shape, dst->shape, (size_t)src->ndim * sizeof *src->shape) != 0)
            add_problem(msg, sizeof msg, &problems, "shape mismatch for %s: file %s vs model %s",
                        name, agi_fmt_shape(a, src->ndim, src->shape),
                        agi_fmt_shape(b, dst->ndim, dst->shape));
        else if (src->dtype != dst->dtype)
            add_problem(msg, sizeof msg, &problems, "dtype mismatch for %s: file %s vs model %s",
                        name, ag_dtype_name(src->dtype), ag_dtype_name(dst->dtype));
    }
    if (strict) {
        bool *used = agi_calloc((size_t)sd->n + 1, sizeof *used);
        if (!used) return agi_error(AG_ERR_OOM, op, "host out of memory");
        for (int i = 0; i < n; i++) {
            int k = names[i] ? find(sd, names[i]) : -1;
            if (k >= 0) used[k] = true;
        }
        for (int k = 0; k < sd->n; k++)
            if (!used[k])
                add_problem(msg, sizeof msg, &problems, "unexpected key %s%s%s", sd->e[k].name, "", "");
        free(used);
    }
    if (problems) return agi_error(AG_ERR_INVALID, op, "%s", msg);
    ag_status st = AG_OK;
    ag_no_grad_begin();
    for (int i = 0; i < n && st == AG_OK; i++) {
        ag_scope_begin();
        const ag_tensor *src = sd->e[find(sd, names[i])].t;
        if (src->storage->dev != tensors[i]->storage->dev)
            src = ag_to_device(src, tensors[i]->storage->dev);
        st = src ? ag_copy_(tensors[i], src) : ag_last_status();
        ag_scope_end();
    }
    ag_no_grad_end();
    return st;
}
