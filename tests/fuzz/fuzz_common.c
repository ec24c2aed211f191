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

static char path[1024];

static void remove_file(void) { unlink(path); }

const char *fuzz_file(const uint8_t *data, size_t size)
{
    static int fd = -1;
    if (fd < 0) {
        const char *dir = getenv("TMPDIR");
        snprintf(path, sizeof path, "%s/ag_fuzz_XXXXXX", dir && dir[0] ? dir : "/tmp");
        if ((fd = mkstemp(path)) < 0) abort();
        atexit(remove_file); /* libFuzzer ends with exit() */
    }
    if (ftruncate(fd, 0) != 0 || pwrite(fd, data, size, 0) != (ssize_t)size) abort();
    return path;
}
