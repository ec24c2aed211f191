/* src/nn/module.h — the module struct shared by the files in src/nn. */
#ifndef AG_NN_MODULE_H
#define AG_NN_MODULE_H

#include "anygrad/nn.h"
#include "internal.h"

typedef ag_tensor *(*agi_forward_fn)(ag_module *m, const ag_tensor *x);

typedef struct agi_named_tensor {
    char *name;
    ag_tensor *tensor; /* owned reference */
    bool is_param;
} agi_named_tensor;

typedef struct agi_named_child {
    char *name;
    ag_module *module; /* owned */
} agi_named_child;

struct ag_module {
    const char *type;
    agi_forward_fn forward;
    bool training;
    bool owned; /* a child of a container, which frees it */
    agi_named_tensor *tensors;
    int n_tensors, cap_tensors;
    agi_named_child *children;
    int n_children, cap_children;
    /* Layer configuration. */
    double f[4];
    int64_t i[4];
    ag_conv2d_opts conv;
    ag_pool2d_opts pool;
    /* Cache of full dotted names for enumeration (rebuilt when the tree grows). */
    char **full_names;
    ag_tensor **full_tensors;
    bool *full_is_param;
    int n_full;
};

/* A module of `type` with a forward function; NULL on host OOM (error set). */
ag_module *agi_module_new(const char *type, agi_forward_fn forward);
/* Registers a tensor (the module takes the reference the caller passes in). */
ag_status agi_module_add_tensor(ag_module *m, const char *name, ag_tensor *t, bool is_param);
/* Registers a child (taking ownership). */
ag_status agi_module_add_child(ag_module *m, const char *name, ag_module *child);
/* The tensor registered directly on m under `name`, or NULL. */
ag_tensor *agi_module_tensor(const ag_module *m, const char *name);
/* The direct child named `name`, or NULL. */
ag_module *agi_module_child(const ag_module *m, const char *name);
/* A new parameter leaf: U(-bound, bound) of `shape`, requires grad, owned by
 * nobody's scope (one reference for the caller). */
ag_tensor *agi_param_uniform(ag_device *dev, int ndim, const int64_t *shape, double bound);
/* A tensor filled with `value` (parameter when requires_grad). */
ag_tensor *agi_param_full(ag_device *dev, ag_dtype dtype, int ndim, const int64_t *shape,
                          double value, bool requires_grad);

#endif /* AG_NN_MODULE_H */
