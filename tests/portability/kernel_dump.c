/*
 * tests/portability/kernel_dump.c — writes every device kernel exactly as the
 * library embeds and builds it, for the portability gate (gate.sh):
 *
 *   kernel_dump OUTDIR
 *     OUTDIR/opencl/program.cl      the OpenCL program text the backend builds
 *     OUTDIR/opencl/options.txt     one line per set of build options the
 *                                   backend can pass to clBuildProgram
 *     OUTDIR/vulkan/<name>.spv      every embedded SPIR-V module
 *
 * Directories are created; a backend that was not built writes nothing.
 */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#ifdef AG_DUMP_OPENCL
#include "cl_internal.h"
#endif
#ifdef AG_DUMP_VULKAN
#include "vk_shaders.h"
#endif

static int make_dir(const char *path)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "kernel_dump: cannot create %s: %s\n", path, strerror(errno));
        return -1;
    }
    return 0;
}

static int write_file(const char *path, const void *data, size_t n)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, n, f) != n || fclose(f) != 0) {
        fprintf(stderr, "kernel_dump: cannot write %s\n", path);
        if (f) fclose(f);
        return -1;
    }
    return 0;
}

#ifdef AG_DUMP_OPENCL
static int dump_opencl(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/opencl", dir);
    if (make_dir(path) != 0) return -1;
    char *src = agcl_program_source();
    if (!src) return -1;
    snprintf(path, sizeof path, "%s/opencl/program.cl", dir);
    int rc = write_file(path, src, strlen(src));
    free(src);
    if (rc != 0) return -1;
    /* Every option set agcl_build_program can choose: OpenCL C 1.1 or 1.2+
     * devices, with or without correctly rounded divide/sqrt. */
    char text[1024] = "", line[256];
    static const int versions[2][2] = {{1, 1}, {1, 2}};
    for (int v = 0; v < 2; v++)
        for (int cr = 0; cr < 2; cr++) {
            agcl_build_options(versions[v][0], versions[v][1], cr != 0, line, sizeof line);
            strncat(text, line, sizeof text - strlen(text) - 2);
            strcat(text, "\n");
        }
    snprintf(path, sizeof path, "%s/opencl/options.txt", dir);
    return write_file(path, text, strlen(text));
}
#endif

#ifdef AG_DUMP_VULKAN
static int dump_vulkan(const char *dir)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/vulkan", dir);
    if (make_dir(path) != 0) return -1;
    for (int i = 0; i < agi_vk_shader_blob_count; i++) {
        const agi_vk_shader_blob *b = &agi_vk_shader_blobs[i];
        snprintf(path, sizeof path, "%s/vulkan/%s.spv", dir, b->name);
        if (write_file(path, b->code, b->words * sizeof(uint32_t)) != 0) return -1;
    }
    return 0;
}
#endif

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s OUTDIR\n", argv[0]);
        return 2;
    }
    if (make_dir(argv[1]) != 0) return 1;
#ifdef AG_DUMP_OPENCL
    if (dump_opencl(argv[1]) != 0) return 1;
#endif
#ifdef AG_DUMP_VULKAN
    if (dump_vulkan(argv[1]) != 0) return 1;
#endif
    return 0;
}
