/* src/nn/state.c — modules to and from state dicts (safetensors, checkpoints). */
#include "module.h"

#include <stdlib.h>

ag_state_dict *ag_module_state_dict(const ag_module *m)
{
    int n = ag_module_state(m, NULL, NULL, 0);
    if (n < 0) {
        agi_error_in("ag_module_state_dict");
        return NULL;
    }
    const char **names = agi_calloc((size_t)n + 1, sizeof *names);
    ag_tensor **tensors = agi_calloc((size_t)n + 1, sizeof *tensors);
    ag_state_dict *sd = names && tensors ? ag_state_dict_new() : NULL;
    if (sd) {
        ag_module_state(m, names, tensors, n);
        for (int i = 0; i < n; i++) {
            if (ag_state_dict_add(sd, names[i], tensors[i]) != AG_OK) {
                agi_error_in("ag_module_state_dict");
                ag_state_dict_free(sd);
                sd = NULL;
                break;
            }
        }
    } else {
        agi_error(AG_ERR_OOM, "ag_module_state_dict", "host out of memory");
    }
    free(names);
    free(tensors);
    return sd;
}

ag_status ag_module_load_state_dict(ag_module *m, const ag_state_dict *sd, bool strict)
{
    const char *op = "ag_module_load_state_dict";
    if (!m || !sd) return agi_error(AG_ERR_INVALID, op, "%s is NULL", m ? "state dict" : "module");
    int n = ag_module_state(m, NULL, NULL, 0);
    if (n < 0) return agi_error_in(op);
    const char **names = agi_calloc((size_t)n + 1, sizeof *names);
    ag_tensor **tensors = agi_calloc((size_t)n + 1, sizeof *tensors);
    ag_status st;
    if (!names || !tensors) {
        st = agi_error(AG_ERR_OOM, op, "host out of memory");
    } else {
        ag_module_state(m, names, tensors, n);
        st = ag_state_dict_load_into(sd, n, names, tensors, strict);
        if (st != AG_OK) agi_error_in(op); /* the message lists each mismatch */
    }
    free(names);
    free(tensors);
    return st;
}
