/* backends/vulkan/vk_shaders.h — the embedded SPIR-V blobs (generated at build
 * time from the shaders/vulkan .comp files by embed_spirv.cmake), sorted by name. */
#ifndef AG_VK_SHADERS_H
#define AG_VK_SHADERS_H

#include <stddef.h>
#include <stdint.h>

typedef struct agi_vk_shader_blob {
    const char *name;
    const uint32_t *code;
    size_t words;
} agi_vk_shader_blob;

extern const agi_vk_shader_blob agi_vk_shader_blobs[];
extern const int agi_vk_shader_blob_count;

#endif
