/* backends/base/disk_cache.c — the on-disk cache every backend shares for
 * compiled kernels (OpenCL program binaries, the Vulkan pipeline cache):
 * where it lives and whole-file reads and atomic writes. Best effort: any
 * failure just means no cache. */
#include "base.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

bool agi_cache_dir(char *out, size_t cap)
{
    const char *xdg = getenv("XDG_CACHE_HOME");
    const char *home = getenv("HOME");
    char base[1024];
    if (xdg && xdg[0])
        snprintf(base, sizeof base, "%s", xdg);
    else if (home && home[0])
        snprintf(base, sizeof base, "%s/.cache", home);
    else
        return false;
    if (mkdir(base, 0755) != 0 && errno != EEXIST) return false;
    int n = snprintf(out, cap, "%s/anygrad", base);
    if (n < 0 || (size_t)n >= cap) return false;
    return mkdir(out, 0755) == 0 || errno == EEXIST;
}

void *agi_cache_read(const char *path, size_t max, size_t *len)
{
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    void *data = NULL;
    if (fseek(f, 0, SEEK_END) == 0) {
        long n = ftell(f);
        if (n > 0 && (unsigned long)n <= max && fseek(f, 0, SEEK_SET) == 0) {
            data = malloc((size_t)n);
            if (data && fread(data, 1, (size_t)n, f) == (size_t)n) {
                *len = (size_t)n;
            } else {
                free(data);
                data = NULL;
            }
        }
    }
    fclose(f);
    return data;
}

bool agi_cache_write(const char *path, const void *head, size_t head_len, const void *data, size_t len)
{
    char tmp[1400];
    int n = snprintf(tmp, sizeof tmp, "%s.%ld.tmp", path, (long)getpid());
    if (n < 0 || (size_t)n >= sizeof tmp) return false;
    FILE *f = fopen(tmp, "wb");
    if (!f) return false;
    bool ok = (head_len == 0 || fwrite(head, 1, head_len, f) == head_len) && fwrite(data, 1, len, f) == len;
    ok = (fclose(f) == 0) && ok;
    if (!ok || rename(tmp, path) != 0) {
        remove(tmp);
        return false;
    }
    return true;
}
