/* temporary */
#include "vk_internal.h"
#define STUB(fn) ag_status fn(agi_backend_device *d, const agi_kernel *k) { (void)d; return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: %s unsupported", agi_kernel_op_name(k->op)); }
STUB(vk_conv) STUB(vk_index) STUB(vk_optim)
