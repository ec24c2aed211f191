/* src/io/checkpoint.c — model + optimizer state + RNG + epoch in one
 * safetensors file. */
#include "internal.h"
#include "anygrad/io.h"

#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SAVE "ag_checkpoint_save"
#define LOAD "ag_checkpoint_load"
#define FORMAT_TAG "anygrad-checkpoint-1"

static ag_status meta_i64(ag_state_dict *sd, const char *key, int64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRId64, v);
    return ag_state_dict_set_meta(sd, key, buf);
}

static ag_status meta_u64(ag_state_dict *sd, const char *key, uint64_t v)
{
    char buf[32];
    snprintf(buf, sizeof buf, "%" PRIu64, v);
    return ag_state_dict_set_meta(sd, key, buf);
}

ag_status ag_checkpoint_save(const char *path, const ag_state_dict *model, const ag_optimizer *opt,
                             int64_t epoch, int n_extra, const char *const *extra_keys,
                             const int64_t *extra_values)
{
    if (!path || !model) return agi_error(AG_ERR_INVALID, SAVE, "%s is NULL", path ? "model" : "path");
    if (n_extra < 0 || (n_extra > 0 && (!extra_keys || !extra_values)))
        return agi_error(AG_ERR_INVALID, SAVE, "bad extra metadata (n_extra %d)", n_extra);
    ag_state_dict *all = ag_state_dict_new();
    if (!all) return ag_last_status();
    ag_status st = AG_OK;
    char name[512];
    ag_scope_begin();
    for (int i = 0; st == AG_OK && i < ag_state_dict_count(model); i++) {
        snprintf(name, sizeof name, "model.%s", ag_state_dict_name_at(model, i));
        st = ag_state_dict_add(all, name, ag_state_dict_tensor_at(model, i));
    }
    for (int i = 0; st == AG_OK && opt && i < ag_optimizer_state_count(opt); i++) {
        char sname[256];
        ag_tensor *t = ag_optimizer_state_entry(opt, i, sname, sizeof sname);
        snprintf(name, sizeof name, "optim.%s", sname);
        st = t ? ag_state_dict_add(all, name, t) : ag_last_status();
    }
    uint64_t seed, offset;
    ag_rng_get_state(&seed, &offset);
    if (st == AG_OK) st = ag_state_dict_set_meta(all, "format", FORMAT_TAG);
    if (st == AG_OK) st = meta_i64(all, "epoch", epoch);
    if (st == AG_OK) st = meta_u64(all, "rng.seed", seed);
    if (st == AG_OK) st = meta_u64(all, "rng.offset", offset);
    if (st == AG_OK && opt) {
        char lr[40];
        snprintf(lr, sizeof lr, "%.17g", ag_optimizer_get_lr(opt));
        st = ag_state_dict_set_meta(all, "optim.kind", ag_optimizer_kind(opt));
        if (st == AG_OK) st = ag_state_dict_set_meta(all, "optim.lr", lr);
        if (st == AG_OK) st = meta_i64(all, "optim.steps", ag_optimizer_step_count(opt));
    }
    for (int i = 0; st == AG_OK && i < n_extra; i++) {
        if (!extra_keys[i]) {
            st = agi_error(AG_ERR_INVALID, SAVE, "extra key %d is NULL", i);
            break;
        }
        snprintf(name, sizeof name, "extra.%s", extra_keys[i]);
        st = meta_i64(all, name, extra_values[i]);
    }
    if (st == AG_OK) st = ag_safetensors_save(path, all);
    ag_scope_end();
    ag_state_dict_free(all);
    if (st != AG_OK && strncmp(ag_last_error(), SAVE, strlen(SAVE)) != 0) {
        char msg[768];
        snprintf(msg, sizeof msg, "%s", ag_last_error());
        agi_error(st, SAVE, "%s: %s", path, msg);
    }
    return st;
}

static ag_status need_int(const char *path, const ag_state_dict *sd, const char *key, int64_t *out)
{
    if (ag_state_dict_get_meta_int(sd, key, out) == AG_OK) return AG_OK;
    return agi_error(AG_ERR_FORMAT, LOAD, "%s: metadata \"%s\" missing or not an integer", path, key);
}

static ag_status need_u64(const char *path, const ag_state_dict *sd, const char *key, uint64_t *out)
{
    const char *v = ag_state_dict_get_meta(sd, key);
    char *end;
    if (v && v[0] >= '0' && v[0] <= '9') {
        unsigned long long x = strtoull(v, &end, 10);
        if (*end == '\0') {
            *out = x;
            return AG_OK;
        }
    }
    return agi_error(AG_ERR_FORMAT, LOAD, "%s: metadata \"%s\" missing or not an integer", path, key);
}

/* Prefixes the last error with "ag_checkpoint_load: <path>: ". */
static ag_status in_file(const char *path, ag_status st)
{
    char msg[768];
    snprintf(msg, sizeof msg, "%s", ag_last_error());
    return agi_error(st != AG_OK ? st : AG_ERR_INVALID, LOAD, "%s: %s", path, msg);
}

ag_status ag_checkpoint_load(const char *path, ag_device *dev, ag_optimizer *opt, bool restore_rng,
                             int64_t *epoch, ag_state_dict **model)
{
    if (model) *model = NULL;
    if (!path || !dev) return agi_error(AG_ERR_INVALID, LOAD, "%s is NULL", path ? "device" : "path");
    ag_state_dict *all = ag_safetensors_load(path, dev);
    if (!all) return agi_error_in(LOAD);
    ag_status st = AG_OK;
    const char *tag = ag_state_dict_get_meta(all, "format");
    int64_t ep = 0, steps = 0;
    uint64_t seed = 0, offset = 0;
    double lr = 0;
    if (!tag || strcmp(tag, FORMAT_TAG) != 0)
        st = agi_error(AG_ERR_FORMAT, LOAD, "%s: not an anygrad checkpoint (format \"%s\")", path,
                       tag ? tag : "(none)");
    if (st == AG_OK) st = need_int(path, all, "epoch", &ep);
    if (st == AG_OK) st = need_u64(path, all, "rng.seed", &seed);
    if (st == AG_OK) st = need_u64(path, all, "rng.offset", &offset);
    if (st == AG_OK && opt) {
        const char *kind = ag_state_dict_get_meta(all, "optim.kind");
        const char *lrs = ag_state_dict_get_meta(all, "optim.lr");
        char *end = NULL;
        if (lrs) lr = strtod(lrs, &end);
        if (!kind)
            st = agi_error(AG_ERR_FORMAT, LOAD, "%s: the checkpoint holds no optimizer state", path);
        else if (strcmp(kind, ag_optimizer_kind(opt)) != 0)
            st = agi_error(AG_ERR_INVALID, LOAD, "%s: optimizer kind mismatch: file %s vs %s", path,
                           kind, ag_optimizer_kind(opt));
        else if (!lrs || !end || end == lrs || *end || !(lr >= 0) || !isfinite(lr))
            st = agi_error(AG_ERR_FORMAT, LOAD, "%s: metadata \"optim.lr\" = \"%.40s\" is not a "
                           "finite number >= 0", path, lrs ? lrs : "(missing)");
        else if ((st = need_int(path, all, "optim.steps", &steps)) == AG_OK &&
                 (steps < 0 || steps > AGI_MAX_STEP))
            st = agi_error(AG_ERR_FORMAT, LOAD,
                           "%s: metadata \"optim.steps\" = %lld is not in [0, 2^53]", path,
                           (long long)steps);
    }
    /* Validate every optimizer entry (name, buffer, dtype, shape, step value)
     * before changing anything. */
    for (int i = 0; st == AG_OK && opt && i < ag_state_dict_count(all); i++) {
        const char *name = ag_state_dict_name_at(all, i);
        if (strncmp(name, "optim.", 6) != 0) continue;
        int p = -1, used = 0;
        const ag_tensor *t = ag_state_dict_tensor_at(all, i);
        if (sscanf(name, "optim.state.%d.%n", &p, &used) != 1 || used == 0) {
            st = agi_error(AG_ERR_FORMAT, LOAD, "%s: unknown entry \"%s\"", path, name);
        } else if (p < 0 || p >= ag_optimizer_param_count(opt)) {
            st = agi_error(AG_ERR_INVALID, LOAD,
                           "%s: entry \"%s\" refers to parameter %d but the optimizer has %d", path,
                           name, p, ag_optimizer_param_count(opt));
        } else if (strcmp(name + used, "step") != 0 &&
                   (t->ndim != ag_optimizer_param(opt, p)->ndim ||
                    memcmp(t->shape, ag_optimizer_param(opt, p)->shape,
                           (size_t)t->ndim * sizeof *t->shape))) {
            const ag_tensor *q = ag_optimizer_param(opt, p);
            char a[192], b[192];
            st = agi_error(AG_ERR_INVALID, LOAD, "%s: shape mismatch for %s: file %s vs parameter %s",
                           path, name, agi_fmt_shape(a, t->ndim, t->shape),
                           agi_fmt_shape(b, q->ndim, q->shape));
        } else if (agi_optimizer_state_check(opt, name + 6, t) != AG_OK) {
            st = in_file(path, ag_last_status()); /* buffer name, dtype, step value */
        }
    }
    ag_state_dict *m = NULL;
    if (st == AG_OK && model) {
        m = ag_state_dict_new();
        if (!m) st = ag_last_status();
        for (int i = 0; st == AG_OK && i < ag_state_dict_count(all); i++) {
            const char *name = ag_state_dict_name_at(all, i);
            if (strncmp(name, "model.", 6) == 0)
                st = ag_state_dict_add(m, name + 6, ag_state_dict_tensor_at(all, i));
        }
        for (int i = 0; st == AG_OK && i < ag_state_dict_meta_count(all); i++) {
            const char *k = ag_state_dict_meta_key_at(all, i);
            st = ag_state_dict_set_meta(m, k, ag_state_dict_get_meta(all, k));
        }
        if (st != AG_OK) st = in_file(path, st);
    }
    /* Restore: everything was validated, so only a device failure (out of
     * memory while allocating state) can stop it half way. */
    for (int i = 0; st == AG_OK && opt && i < ag_state_dict_count(all); i++) {
        const char *name = ag_state_dict_name_at(all, i);
        if (strncmp(name, "optim.", 6) == 0 &&
            ag_optimizer_state_set(opt, name + 6, ag_state_dict_tensor_at(all, i)) != AG_OK)
            st = in_file(path, ag_last_status());
    }
    if (st == AG_OK && opt &&
        (ag_optimizer_set_lr(opt, lr) != AG_OK || ag_optimizer_set_step_count(opt, steps) != AG_OK))
        st = in_file(path, ag_last_status());
    if (st == AG_OK && restore_rng) ag_rng_set_state(seed, offset);
    if (st == AG_OK && epoch) *epoch = ep;
    ag_state_dict_free(all);
    if (st != AG_OK) {
        ag_state_dict_free(m);
        return st;
    }
    if (model) *model = m;
    return AG_OK;
}
