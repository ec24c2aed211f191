/* tests/fuzz/fuzz_safetensors.c — ag_safetensors_load on arbitrary bytes: it
 * must return a dict or NULL with an error, never crash, leak or read out of
 * bounds (ASan + UBSan). */
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_file(data, size);
    ag_state_dict *sd = ag_safetensors_load(path, fuzz_device());
    if (!sd && ag_last_status() == AG_OK) __builtin_trap(); /* a failure without an error */
    ag_state_dict_free(sd);
    ag_clear_error();
    return 0;
}
