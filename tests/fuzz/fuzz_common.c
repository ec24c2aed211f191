/* tests/fuzz/fuzz_common.c — see fuzz_common.h. */
#include "fuzz_common.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

ag_device *fuzz_device(void)
{
    static ag_device *dev;
    if (!dev && !(dev = ag_device_open("cpu"))) {
        fprintf(stderr, "cannot open the CPU device: %s\n", ag_last_error());
        abort();
    }
    return dev;
}

const char *fuzz_file(const uint8_t *data, size_t size)
{
    static char path[64];
    static int fd = -1;
    if (fd < 0) {
        snprintf(path, sizeof path, "/tmp/ag_fuzz_XXXXXX");
        if ((fd = mkstemp(path)) < 0) abort();
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    return path;
}
