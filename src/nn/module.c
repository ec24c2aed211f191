/* src/nn/module.c — module trees: registration, naming, modes, lifetime. */
#include "module.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

ag_module *agi_module_new(const char *type, agi_forward_fn forward)
{
    ag_module *m = agi_calloc(1, sizeof *m);
    if (!m) {
        agi_error(AG_ERR_OOM, "ag_nn", "host out of memory creating %s", type);
        return NULL;
    }
    m->type = type;
    m->forward = forward;
    m->training = true;
    return m;
}

static void invalidate_names(ag_module *m)
{
    for (int i = 0; i < m->n_full; i++) free(m->full_names[i]);
    free(m->full_names);
    free(m->full_tensors);
    free(m->full_is_param);
    m->full_names = NULL;
    m->full_tensors = NULL;
    m->full_is_param = NULL;
    m->n_full = 0;
}

ag_status agi_module_add_tensor(ag_module *m, const char *name, ag_tensor *t, bool is_param)
{
    if (!t) return ag_last_status() ? ag_last_status() : AG_ERR_INVALID;
    if (m->n_tensors == m->cap_tensors) {
        int cap = m->cap_tensors ? m->cap_tensors * 2 : 4;
        agi_named_tensor *grown = agi_realloc(m->tensors, (size_t)cap * sizeof *grown);
        if (!grown) {
            ag_release(t);
            return agi_error(AG_ERR_OOM, "ag_nn", "host out of memory");
        }
        m->tensors = grown;
        m->cap_tensors = cap;
    }
    char *copy = agi_strdup(name);
    if (!copy) {
        ag_release(t);
        return agi_error(AG_ERR_OOM, "ag_nn", "host out of memory");
    }
    m->tensors[m->n_tensors++] = (agi_named_tensor){copy, t, is_param};
    invalidate_names(m);
    return AG_OK;
}

ag_status agi_module_add_child(ag_module *m, const char *name, ag_module *child)
{
    if (!child) return ag_last_status() ? ag_last_status() : AG_ERR_INVALID;
    if (m->n_children == m->cap_children) {
        int cap = m->cap_children ? m->cap_children * 2 : 4;
        agi_named_child *grown = agi_realloc(m->children, (size_t)cap * sizeof *grown);
        if (!grown) {
            ag_module_free(child);
            return agi_error(AG_ERR_OOM, "ag_nn", "host out of memory");
        }
        m->children = grown;
        m->cap_children = cap;
    }
    char *copy = agi_strdup(name);
    if (!copy) {
        ag_module_free(child);
        return agi_error(AG_ERR_OOM, "ag_nn", "host out of memory");
    }
    child->training = m->training;
    child->owned = true;
    m->children[m->n_children++] = (agi_named_child){copy, child};
    invalidate_names(m);
    return AG_OK;
}

ag_tensor *agi_module_tensor(const ag_module *m, const char *name)
{
    for (int i = 0; i < m->n_tensors; i++)
        if (strcmp(m->tensors[i].name, name) == 0) return m->tensors[i].tensor;
    return NULL;
}

ag_module *agi_module_child(const ag_module *m, const char *name)
{
    for (int i = 0; i < m->n_children; i++)
        if (strcmp(m->children[i].name, name) == 0) return m->children[i].module;
    return NULL;
}

void ag_module_free(ag_module *m)
{
    if (!m) return;
    if (m->owned) { /* its container frees it: freeing it here would free it twice */
        agi_error(AG_ERR_INVALID, "ag_module_free",
                  "the %s belongs to a container: free the container instead", m->type);
        return;
    }
    for (int i = 0; i < m->n_tensors; i++) {
        free(m->tensors[i].name);
        ag_release(m->tensors[i].tensor);
    }
    for (int i = 0; i < m->n_children; i++) {
        free(m->children[i].name);
        m->children[i].module->owned = false;
        ag_module_free(m->children[i].module);
    }
    free(m->tensors);
    free(m->children);
    invalidate_names(m);
    free(m);
}

ag_tensor *ag_module_forward(ag_module *m, const ag_tensor *x)
{
    if (!m) {
        agi_error(AG_ERR_INVALID, "ag_module_forward", "module is NULL");
        return NULL;
    }
    if (!m->forward) {
        agi_error(AG_ERR_UNSUPPORTED, "ag_module_forward", "%s has no single-input forward",
                  m->type);
        return NULL;
    }
    if (!agi_check_tensor("ag_module_forward", x, "x")) return NULL;
    return m->forward(m, x);
}

void ag_module_train(ag_module *m, bool training)
{
    if (!m) return;
    m->training = training;
    for (int i = 0; i < m->n_children; i++) ag_module_train(m->children[i].module, training);
}

bool ag_module_is_training(const ag_module *m) { return m && m->training; }
const char *ag_module_type(const ag_module *m) { return m ? m->type : "(null)"; }

/* ---- Enumeration with dotted names ------------------------------------------ */

typedef struct name_list {
    char **names;
    ag_tensor **tensors;
    bool *is_param;
    int count, cap;
    bool failed;
} name_list;

static void list_push(name_list *l, const char *prefix, const char *name, ag_tensor *t, bool param)
{
    if (l->failed) return;
    if (l->count == l->cap) {
        int cap = l->cap ? l->cap * 2 : 16;
        char **n = agi_realloc(l->names, (size_t)cap * sizeof *n);
        if (n) l->names = n;
        ag_tensor **ts = agi_realloc(l->tensors, (size_t)cap * sizeof *ts);
        if (ts) l->tensors = ts;
        bool *p = agi_realloc(l->is_param, (size_t)cap * sizeof *p);
        if (p) l->is_param = p;
        if (!n || !ts || !p) {
            l->failed = true;
            return;
        }
        l->cap = cap;
    }
    size_t len = strlen(prefix) + strlen(name) + 2;
    char *full = agi_malloc(len);
    if (!full) {
        l->failed = true;
        return;
    }
    snprintf(full, len, "%s%s%s", prefix, prefix[0] ? "." : "", name);
    l->names[l->count] = full;
    l->tensors[l->count] = t;
    l->is_param[l->count] = param;
    l->count++;
}

static void collect_names(const ag_module *m, const char *prefix, name_list *l)
{
    for (int i = 0; i < m->n_tensors; i++)
        list_push(l, prefix, m->tensors[i].name, m->tensors[i].tensor, m->tensors[i].is_param);
    for (int i = 0; i < m->n_children; i++) {
        size_t len = strlen(prefix) + strlen(m->children[i].name) + 2;
        char *sub = agi_malloc(len);
        if (!sub) {
            l->failed = true;
            return;
        }
        snprintf(sub, len, "%s%s%s", prefix, prefix[0] ? "." : "", m->children[i].name);
        collect_names(m->children[i].module, sub, l);
        free(sub);
    }
}

static int count_tensors(const ag_module *m)
{
    int n = m->n_tensors;
    for (int i = 0; i < m->n_children; i++) n += count_tensors(m->children[i].module);
    return n;
}

/* Builds (or reuses) the cache of full names on m. */
static bool ensure_names(ag_module *m)
{
    if (m->full_names && m->n_full == count_tensors(m)) return true;
    invalidate_names(m);
    name_list l = {0};
    collect_names(m, "", &l);
    if (l.failed) {
        for (int i = 0; i < l.count; i++) free(l.names[i]);
        free(l.names);
        free(l.tensors);
        free(l.is_param);
        agi_error(AG_ERR_OOM, "ag_module_state", "host out of memory");
        return false;
    }
    m->full_names = l.names;
    m->full_tensors = l.tensors;
    m->full_is_param = l.is_param;
    m->n_full = l.count;
    return true;
}

static int enumerate(const ag_module *cm, const char **names, ag_tensor **tensors, int max,
                     bool params_only)
{
    if (!cm) return agi_error(AG_ERR_INVALID, "ag_module_state", "module is NULL");
    ag_module *m = (ag_module *)cm; /* the name cache is logically const */
    if (!ensure_names(m)) return AG_ERR_OOM;
    int count = 0;
    for (int i = 0; i < m->n_full; i++) {
        if (params_only && !m->full_is_param[i]) continue;
        if (count < max) {
            if (names) names[count] = m->full_names[i];
            if (tensors) tensors[count] = m->full_tensors[i];
        }
        count++;
    }
    return count;
}

int ag_module_parameters(const ag_module *m, const char **names, ag_tensor **tensors, int max)
{
    return enumerate(m, names, tensors, max, true);
}

int ag_module_state(const ag_module *m, const char **names, ag_tensor **tensors, int max)
{
    return enumerate(m, names, tensors, max, false);
}

int64_t ag_module_num_parameters(const ag_module *m)
{
    if (!m) return -1;
    int64_t total = 0;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].is_param) total += ag_numel(m->tensors[i].tensor);
    for (int i = 0; i < m->n_children; i++) total += ag_module_num_parameters(m->children[i].module);
    return total;
}

ag_tensor *ag_module_get(const ag_module *m, const char *name)
{
    if (!m || !name) return NULL;
    int n = ag_module_state(m, NULL, NULL, 0);
    for (int i = 0; i < n; i++)
        if (strcmp(m->full_names[i], name) == 0) return m->full_tensors[i];
    return NULL;
}

void ag_module_zero_grad(ag_module *m)
{
    if (!m) return;
    for (int i = 0; i < m->n_tensors; i++)
        if (m->tensors[i].is_param) ag_zero_grad(m->tensors[i].tensor);
    for (int i = 0; i < m->n_children; i++) ag_module_zero_grad(m->children[i].module);
}

/* ---- Parameter creation ----------------------------------------------------- */

ag_tensor *agi_param_uniform(ag_device *dev, int ndim, const int64_t *shape, double bound)
{
    ag_scope_begin();
    ag_tensor *t = ag_retain(ag_uniform(dev, ndim, shape, -bound, bound));
    ag_scope_end();
    if (t) ag_set_requires_grad(t, true);
    return t;
}

ag_tensor *agi_param_full(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape,
                          double value, bool requires_grad)
{
    ag_scope_begin();
    ag_tensor *t = ag_retain(ag_full(dev, dtype, ndim, shape, value));
    ag_scope_end();
    if (t && requires_grad) ag_set_requires_grad(t, true);
    return t;
}

/* ---- Sequential ---------------------------------------------------------------- */

static ag_tensor *sequential_forward(ag_module *m, const ag_tensor *x)
{
    const ag_tensor *h = x;
    for (int i = 0; i < m->n_children && h; i++) h = ag_module_forward(m->children[i].module, h);
    if (h == x) { /* an empty Sequential is the identity: a new reference to x */
        ag_tensor *same = ag_retain((ag_tensor *)x);
        return agi_scope_track(same);
    }
    return (ag_tensor *)h;
}

/* After a failure: frees modules[from..n) that the Sequential was given,
 * each once, leaving those that belong to a container (the error stays the
 * failure's). */
static void free_given(ag_module *const *modules, int from, int n)
{
    for (int j = from; j < n; j++) {
        bool again = false;
        for (int k = from; k < j && !again; k++) again = modules[k] == modules[j];
        if (!again && modules[j] && !modules[j]->owned) ag_module_free(modules[j]);
    }
}

ag_module *ag_nn_sequential(int n, ag_module *const *modules)
{
    if (n < 0 || (n > 0 && !modules)) {
        agi_error(AG_ERR_INVALID, "ag_nn_sequential", n < 0 ? "module count %d is negative"
                                                            : "the module array is NULL (n = %d)",
                  n);
        return NULL;
    }
    ag_module *seq = agi_module_new("Sequential", sequential_forward);
    for (int i = 0; i < n; i++) {
        if (!seq || !modules[i]) {
            if (!modules[i] && seq && ag_last_status() == AG_OK) /* else keep the cause */
                agi_error(AG_ERR_INVALID, "ag_nn_sequential", "module %d is NULL", i);
            free_given(modules, i, n);
            ag_module_free(seq);
            return NULL;
        }
        if (ag_nn_sequential_append(seq, modules[i]) != AG_OK) {
            free_given(modules, i + 1, n);
            ag_module_free(seq);
            return NULL;
        }
    }
    return seq;
}

/* Whether m is root or one of its descendants. */
static bool in_tree(const ag_module *root, const ag_module *m)
{
    if (root == m) return true;
    for (int i = 0; i < root->n_children; i++)
        if (in_tree(root->children[i].module, m)) return true;
    return false;
}

ag_status ag_nn_sequential_append(ag_module *seq, ag_module *m)
{
    const char *op = "ag_nn_sequential_append";
    if (!seq || strcmp(seq->type, "Sequential") != 0) {
        ag_module_free(m);
        return agi_error(AG_ERR_INVALID, op, "not a Sequential: %s", seq ? seq->type : "NULL");
    }
    if (!m) /* keep the message of the failure that produced the NULL, if any */
        return ag_last_status() != AG_OK ? ag_last_status()
                                         : agi_error(AG_ERR_INVALID, op, "module is NULL");
    /* Misuse that must not free m: it belongs to a container (maybe seq). */
    if (m->owned)
        return agi_error(AG_ERR_INVALID, op, "the %s already belongs to a container", m->type);
    if (in_tree(m, seq))
        return agi_error(AG_ERR_INVALID, op, "appending a %s to itself or to a module inside it "
                         "would make a cycle", m->type);
    char name[16];
    snprintf(name, sizeof name, "%d", seq->n_children);
    return agi_module_add_child(seq, name, m);
}
