/* tests/fuzz/fuzz_checkpoint.c — ag_checkpoint_load on arbitrary bytes into
 * an Adam optimizer over two parameters: a failed load must leave the
 * optimizer unchanged (its step count and lr are checked), a successful one
 * restores it; never a crash, leak or out-of-bounds read. */
#include "fuzz_common.h"

#include <math.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static ag_optimizer *optimizer(void)
{
    static ag_optimizer *opt;
    if (!opt) {
        ag_device *dev = fuzz_device();
        ag_tensor *w = ag_zeros(dev, AG_F32, AG_SHAPE(3, 2));
        ag_tensor *b = ag_zeros(dev, AG_F32, AG_SHAPE(2));
        ag_set_requires_grad(w, true);
        ag_set_requires_grad(b, true);
        opt = ag_optim_adam((ag_tensor *[]){w, b}, 2, NULL);
        ag_release(w); /* the optimizer holds them */
        ag_release(b);
    }
    return opt;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ag_optimizer *opt = optimizer();
    double lr = ag_optimizer_get_lr(opt);
    int64_t steps = ag_optimizer_step_count(opt);
    int64_t epoch = -1;
    ag_state_dict *model = NULL;
    ag_status st = ag_checkpoint_load(path, fuzz_device(), opt, false, &epoch, &model);
    if (st != AG_OK && (model || epoch != -1 || ag_optimizer_get_lr(opt) != lr ||
                        ag_optimizer_step_count(opt) != steps))
        __builtin_trap(); /* a failed load changed something */
    if (st == AG_OK && !(ag_optimizer_get_lr(opt) >= 0 && isfinite(ag_optimizer_get_lr(opt))))
        __builtin_trap();
    ag_state_dict_free(model);
    ag_clear_error();
    return 0;
}
