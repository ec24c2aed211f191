/* backends/vulkan/vk_validation.h — the Khronos validation layer hook.
 *
 * With AG_VULKAN_VALIDATION=1 in the environment, every Vulkan instance the
 * backend creates enables VK_LAYER_KHRONOS_validation (when installed) and a
 * debug-utils messenger that prints each warning/error message to stderr and
 * counts it. Tests assert that the count stays zero. */
#ifndef AG_VK_VALIDATION_H
#define AG_VK_VALIDATION_H

#include <stdint.h>

/* Number of validation warnings and errors reported so far in this process
 * (0 when validation is off). */
int64_t agi_vulkan_validation_message_count(void);

#endif
