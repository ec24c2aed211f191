/*
 * tests/fuzz/fuzz_common.h — what the libFuzzer targets share: the library's
 * readers take paths, so each input is written to one temporary file per
 * process, and one CPU device is opened for the whole run.
 */
#ifndef AG_FUZZ_COMMON_H
#define AG_FUZZ_COMMON_H

#include "anygrad.h"

#include <stddef.h>
#include <stdint.h>

/* The CPU device (opened on first use; aborts if it cannot be opened). */
ag_device *fuzz_device(void);
/* Writes the input to the process's temporary file and returns its path. */
const char *fuzz_file(const uint8_t *data, size_t size);

#endif /* AG_FUZZ_COMMON_H */
