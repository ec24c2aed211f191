/* backends/vulkan/vk_device.c — Vulkan instance, device listing, open/close,
 * the validation-layer hook and the backend's vtable. */
#include "vk_internal.h"
#include "vk_validation.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static atomic_llong validation_messages;

int64_t agi_vulkan_validation_message_count(void) { return atomic_load(&validation_messages); }

ag_status vk_check(VkResult r, const char *what)
{
    if (r == VK_SUCCESS) return AG_OK;
    if (r == VK_ERROR_OUT_OF_DEVICE_MEMORY || r == VK_ERROR_OUT_OF_HOST_MEMORY)
        return agi_set_error(AG_ERR_OOM, "vulkan: %s: out of memory (VkResult %d)", what, (int)r);
    return agi_set_error(AG_ERR_DEVICE, "vulkan: %s failed (VkResult %d)", what, (int)r);
}

static bool validation_wanted(void)
{
    const char *v = getenv("AG_VULKAN_VALIDATION");
    return v && v[0] && strcmp(v, "0") != 0;
}

static VKAPI_ATTR VkBool32 VKAPI_CALL debug_cb(VkDebugUtilsMessageSeverityFlagBitsEXT sev,
                                               VkDebugUtilsMessageTypeFlagsEXT type,
                                               const VkDebugUtilsMessengerCallbackDataEXT *data,
                                               void *user)
{
    (void)type;
    (void)user;
    if (sev & (VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
               VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT)) {
        atomic_fetch_add(&validation_messages, 1);
        fprintf(stderr, "anygrad vulkan validation: %s\n",
                data && data->pMessage ? data->pMessage : "(no message)");
    }
    return VK_FALSE;
}

static bool has_layer(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceLayerProperties(&n, NULL) != VK_SUCCESS || n == 0) return false;
    VkLayerProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && vkEnumerateInstanceLayerProperties(&n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(p[i].layerName, name) == 0) found = true;
    free(p);
    return found;
}

static bool has_instance_ext(const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateInstanceExtensionProperties(NULL, &n, NULL) != VK_SUCCESS || n == 0) return false;
    VkExtensionProperties *p = calloc(n, sizeof *p);
    bool found = false;
    if (p && vkEnumerateInstanceExtensionProperties(NULL, &n, p) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(p[i].extensionName, name) == 0) found = true;
    free(p);
    return found;
}

/* Creates an instance (validation when asked). Returns false when Vulkan is
 * absent or unusable. */
static bool create_instance(VkInstance *inst, VkDebugUtilsMessengerEXT *messenger)
{
    *inst = VK_NULL_HANDLE;
    if (messenger) *messenger = VK_NULL_HANDLE;
    uint32_t api = 0;
    if (vkEnumerateInstanceVersion(&api) != VK_SUCCESS || api < VK_API_VERSION_1_1) return false;
    VkApplicationInfo app = {
        .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
        .pApplicationName = "anygrad",
        .pEngineName = "anygrad",
        .apiVersion = VK_API_VERSION_1_1,
    };
    const char *layers[1];
    const char *exts[1];
    uint32_t nl = 0, ne = 0;
    bool validate = messenger && validation_wanted();
    if (validate) {
        if (has_layer("VK_LAYER_KHRONOS_validation")) layers[nl++] = "VK_LAYER_KHRONOS_validation";
        else fprintf(stderr, "anygrad: AG_VULKAN_VALIDATION set but the validation layer is missing\n");
        if (has_instance_ext(VK_EXT_DEBUG_UTILS_EXTENSION_NAME) || nl)
            exts[ne++] = VK_EXT_DEBUG_UTILS_EXTENSION_NAME;
    }
    VkDebugUtilsMessengerCreateInfoEXT mci = {
        .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
        .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                           VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
        .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                       VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
        .pfnUserCallback = debug_cb,
    };
    VkInstanceCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
        .pNext = ne ? &mci : NULL,
        .pApplicationInfo = &app,
        .enabledLayerCount = nl,
        .ppEnabledLayerNames = layers,
        .enabledExtensionCount = ne,
        .ppEnabledExtensionNames = exts,
    };
    if (vkCreateInstance(&ci, NULL, inst) != VK_SUCCESS) {
        *inst = VK_NULL_HANDLE;
        return false;
    }
    if (ne) {
        PFN_vkCreateDebugUtilsMessengerEXT create = (PFN_vkCreateDebugUtilsMessengerEXT)
            vkGetInstanceProcAddr(*inst, "vkCreateDebugUtilsMessengerEXT");
        if (create) create(*inst, &mci, NULL, messenger);
    }
    return true;
}

/* One process-wide instance, created on first use and kept: the Vulkan
 * loader unloads the driver when the last instance dies, and drivers (Mesa's
 * included) keep process-lifetime caches that would then show up as leaks.
 * AG_VULKAN_VALIDATION is read when it is created. */
static pthread_mutex_t shared_lock = PTHREAD_MUTEX_INITIALIZER;
static int shared_state; /* 0 untried, 1 ready, -1 unavailable */
static VkInstance shared_inst;
static VkDebugUtilsMessengerEXT shared_messenger;

static VkInstance get_instance(void)
{
    pthread_mutex_lock(&shared_lock);
    if (shared_state == 0)
        shared_state = create_instance(&shared_inst, &shared_messenger) ? 1 : -1;
    VkInstance inst = shared_state > 0 ? shared_inst : VK_NULL_HANDLE;
    pthread_mutex_unlock(&shared_lock);
    return inst;
}

static bool has_device_ext(VkPhysicalDevice p, const char *name)
{
    uint32_t n = 0;
    if (vkEnumerateDeviceExtensionProperties(p, NULL, &n, NULL) != VK_SUCCESS || n == 0)
        return false;
    VkExtensionProperties *e = calloc(n, sizeof *e);
    bool found = false;
    if (e && vkEnumerateDeviceExtensionProperties(p, NULL, &n, e) == VK_SUCCESS)
        for (uint32_t i = 0; i < n; i++)
            if (strcmp(e[i].extensionName, name) == 0) found = true;
    free(e);
    return found;
}

static bool compute_queue(VkPhysicalDevice p, uint32_t *family)
{
    uint32_t n = 0;
    vkGetPhysicalDeviceQueueFamilyProperties(p, &n, NULL);
    if (n == 0) return false;
    VkQueueFamilyProperties *q = calloc(n, sizeof *q);
    if (!q) return false;
    vkGetPhysicalDeviceQueueFamilyProperties(p, &n, q);
    bool found = false;
    for (uint32_t i = 0; i < n && !found; i++)
        if (q[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
            *family = i;
            found = true;
        }
    free(q);
    return found;
}

/* The physical devices anygrad can use (Vulkan 1.1+, a compute queue). */
static uint32_t usable_devices(VkInstance inst, VkPhysicalDevice *out, uint32_t max)
{
    uint32_t n = 0;
    if (vkEnumeratePhysicalDevices(inst, &n, NULL) != VK_SUCCESS || n == 0) return 0;
    VkPhysicalDevice *all = calloc(n, sizeof *all);
    if (!all) return 0;
    if (vkEnumeratePhysicalDevices(inst, &n, all) < 0) n = 0;
    uint32_t k = 0;
    for (uint32_t i = 0; i < n; i++) {
        VkPhysicalDeviceProperties pr;
        vkGetPhysicalDeviceProperties(all[i], &pr);
        uint32_t fam;
        if (pr.apiVersion < VK_API_VERSION_1_1 || !compute_queue(all[i], &fam)) continue;
        if (k < max) out[k] = all[i];
        k++;
    }
    free(all);
    return k < max ? k : max;
}

static const char *vendor_name(uint32_t id, char *buf, size_t n)
{
    switch (id) {
    case 0x10DE: return "NVIDIA";
    case 0x1002: case 0x1022: return "AMD";
    case 0x8086: return "Intel";
    case 0x13B5: return "ARM";
    case 0x5143: return "Qualcomm";
    case 0x1010: return "Imagination";
    case 0x106B: return "Apple";
    case 0x14E4: return "Broadcom";
    case VK_VENDOR_ID_MESA: return "Mesa";
    default: snprintf(buf, n, "0x%04x", id); return buf;
    }
}

typedef struct vk_caps {
    uint32_t subgroup_size;
    uint32_t compute_units; /* multiprocessors / compute units where the driver says; 0 if not */
    bool subgroup_arith, u8, fp16, fatomic, s16;
    bool coopmat; /* gemm_coop.comp can run: see coopmat_usable */
} vk_caps;

/* Whether the device lists the cooperative-matrix configuration
 * gemm_coop.comp uses: 16x16x16, A and B f16, C and D f32, subgroup scope. */
static bool coopmat_f16_16x16x16(VkPhysicalDevice p)
{
    VkInstance inst = get_instance();
    PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV get =
        inst ? (PFN_vkGetPhysicalDeviceCooperativeMatrixPropertiesNV)vkGetInstanceProcAddr(
                   inst, "vkGetPhysicalDeviceCooperativeMatrixPropertiesNV")
             : NULL;
    uint32_t n = 0;
    if (!get || get(p, &n, NULL) != VK_SUCCESS || n == 0) return false;
    VkCooperativeMatrixPropertiesNV *cp = calloc(n, sizeof *cp);
    if (!cp) return false;
    for (uint32_t i = 0; i < n; i++) cp[i].sType = VK_STRUCTURE_TYPE_COOPERATIVE_MATRIX_PROPERTIES_NV;
    bool found = false;
    if (get(p, &n, cp) == VK_SUCCESS)
        for (uint32_t i = 0; i < n && !found; i++)
            found = cp[i].MSize == 16 && cp[i].NSize == 16 && cp[i].KSize == 16 &&
                    cp[i].AType == VK_COMPONENT_TYPE_FLOAT16_NV && cp[i].BType == VK_COMPONENT_TYPE_FLOAT16_NV &&
                    cp[i].CType == VK_COMPONENT_TYPE_FLOAT32_NV && cp[i].DType == VK_COMPONENT_TYPE_FLOAT32_NV &&
                    cp[i].scope == VK_SCOPE_SUBGROUP_NV;
    free(cp);
    return found;
}

static void query_caps(VkPhysicalDevice p, vk_caps *c)
{
    memset(c, 0, sizeof *c);
    VkPhysicalDeviceProperties pr;
    vkGetPhysicalDeviceProperties(p, &pr);
    VkPhysicalDeviceSubgroupProperties sg = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES};
    VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sg};
    vkGetPhysicalDeviceProperties2(p, &p2);
    c->subgroup_size = sg.subgroupSize;
    /* Compute units: NVIDIA and AMD report them through extensions. */
    if (has_device_ext(p, VK_NV_SHADER_SM_BUILTINS_EXTENSION_NAME)) {
        VkPhysicalDeviceShaderSMBuiltinsPropertiesNV sm = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_SM_BUILTINS_PROPERTIES_NV};
        VkPhysicalDeviceProperties2 q = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sm};
        vkGetPhysicalDeviceProperties2(p, &q);
        c->compute_units = sm.shaderSMCount;
    } else if (has_device_ext(p, VK_AMD_SHADER_CORE_PROPERTIES_EXTENSION_NAME)) {
        VkPhysicalDeviceShaderCorePropertiesAMD sc = {
            .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_CORE_PROPERTIES_AMD};
        VkPhysicalDeviceProperties2 q = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &sc};
        vkGetPhysicalDeviceProperties2(p, &q);
        c->compute_units = sc.shaderEngineCount * sc.shaderArraysPerEngineCount * sc.computeUnitsPerShaderArray;
    }
    c->subgroup_arith = (sg.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT) &&
                        (sg.supportedOperations & VK_SUBGROUP_FEATURE_ARITHMETIC_BIT);
    /* The instance asks for Vulkan 1.1, so 1.2 features come from extensions. */
    bool v12 = false;
    VkPhysicalDevice8BitStorageFeatures s8 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES};
    VkPhysicalDeviceShaderAtomicFloatFeaturesEXT af = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_ATOMIC_FLOAT_FEATURES_EXT};
    /* 16-bit storage is core in Vulkan 1.1 (a feature, not an extension) */
    VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES};
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV};
    VkPhysicalDeviceVulkanMemoryModelFeaturesKHR mm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES_KHR};
    void *chain = &s16;
    bool has8 = v12 || has_device_ext(p, VK_KHR_8BIT_STORAGE_EXTENSION_NAME);
    bool has16 = v12 || has_device_ext(p, VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME);
    bool hasaf = has_device_ext(p, VK_EXT_SHADER_ATOMIC_FLOAT_EXTENSION_NAME);
    if (has8) { s8.pNext = chain; chain = &s8; }
    if (has16) { f16.pNext = chain; chain = &f16; }
    if (hasaf) { af.pNext = chain; chain = &af; }
    bool hascm = has16 && has_device_ext(p, VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME) &&
                 has_device_ext(p, VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME);
    if (hascm) {
        cm.pNext = chain;
        mm.pNext = &cm;
        chain = &mm;
    }
    VkPhysicalDeviceFeatures2 f2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_FEATURES_2, .pNext = chain};
    vkGetPhysicalDeviceFeatures2(p, &f2);
    c->u8 = has8 && s8.storageBuffer8BitAccess;
    c->s16 = s16.storageBuffer16BitAccess;
    c->fp16 = has16 && f16.shaderFloat16;
    c->fatomic = hasaf && af.shaderBufferFloat32AtomicAdd;
    /* gemm_coop.comp: cooperative matrices, the Vulkan memory model glslang
     * declares for them, f16 arithmetic and storage, 4 subgroups of a known
     * size per workgroup, 27 KiB of shared memory */
    c->coopmat = hascm && cm.cooperativeMatrix && mm.vulkanMemoryModel && c->fp16 && c->s16 &&
                 c->subgroup_size > 0 && 4 * c->subgroup_size <= pr.limits.maxComputeWorkGroupInvocations &&
                 pr.limits.maxComputeSharedMemorySize >= 27136 && coopmat_f16_16x16x16(p);
}

static bool env_is(const char *name, const char *value)
{
    const char *v = getenv(name);
    return v && strcmp(v, value) == 0;
}

/* Whether f16 GEMMs take gemm_coop.comp: the device can run it, 16-bit
 * storage is in use (not AG_VULKAN_16BIT=emulated), and AG_VULKAN_COOPMAT=0
 * does not turn it off. */
static bool coopmat_on(const vk_caps *c)
{
    return c->coopmat && c->s16 && !env_is("AG_VULKAN_16BIT", "emulated") && !env_is("AG_VULKAN_COOPMAT", "0");
}

static void fill_info(VkPhysicalDevice p, int index, ag_device_info *info)
{
    memset(info, 0, sizeof *info);
    VkPhysicalDeviceProperties pr;
    vkGetPhysicalDeviceProperties(p, &pr);
    VkPhysicalDeviceMemoryProperties mp;
    vkGetPhysicalDeviceMemoryProperties(p, &mp);
    vk_caps caps;
    query_caps(p, &caps);
    info->backend = AG_BACKEND_VULKAN;
    switch (pr.deviceType) {
    case VK_PHYSICAL_DEVICE_TYPE_CPU: info->type = AG_DEVICE_CPU; break;
    case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU: info->type = AG_DEVICE_INTEGRATED_GPU; break;
    case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU: info->type = AG_DEVICE_DISCRETE_GPU; break;
    default: info->type = AG_DEVICE_OTHER; break;
    }
    snprintf(info->spec, sizeof info->spec, "vulkan:%d", index);
    snprintf(info->name, sizeof info->name, "%s", pr.deviceName);
    char vb[16];
    snprintf(info->vendor, sizeof info->vendor, "%s", vendor_name(pr.vendorID, vb, sizeof vb));
    VkPhysicalDeviceDriverProperties dp = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_DRIVER_PROPERTIES};
    if (pr.apiVersion >= VK_API_VERSION_1_2 || has_device_ext(p, VK_KHR_DRIVER_PROPERTIES_EXTENSION_NAME)) {
        VkPhysicalDeviceProperties2 p2 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2, .pNext = &dp};
        vkGetPhysicalDeviceProperties2(p, &p2);
        snprintf(info->driver, sizeof info->driver, "%.60s %.40s (Vulkan %u.%u)", dp.driverName,
                 dp.driverInfo, VK_API_VERSION_MAJOR(pr.apiVersion), VK_API_VERSION_MINOR(pr.apiVersion));
    } else {
        snprintf(info->driver, sizeof info->driver, "driver 0x%08x (Vulkan %u.%u)", pr.driverVersion,
                 VK_API_VERSION_MAJOR(pr.apiVersion), VK_API_VERSION_MINOR(pr.apiVersion));
    }
    uint64_t heap = 0;
    for (uint32_t i = 0; i < mp.memoryHeapCount; i++)
        if ((mp.memoryHeaps[i].flags & VK_MEMORY_HEAP_DEVICE_LOCAL_BIT) && mp.memoryHeaps[i].size > heap)
            heap = mp.memoryHeaps[i].size;
    info->memory_bytes = heap;
    info->compute_units = caps.compute_units;
    if (pr.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        info->compute_units = n > 0 ? (uint32_t)n : 0;
    }
    info->subgroup_size = caps.subgroup_size;
    info->max_buffer_bytes = pr.limits.maxStorageBufferRange;
    info->fp16 = caps.fp16;
    info->matrix_units = coopmat_on(&caps);
}

static int vk_enumerate(ag_device_info *out, int max)
{
    VkInstance inst = get_instance();
    if (!inst) return 0;
    VkPhysicalDevice devs[64];
    uint32_t n = usable_devices(inst, devs, 64);
    for (uint32_t i = 0; i < n && (int64_t)i < (int64_t)max; i++)
        if (out) fill_info(devs[i], (int)i, &out[i]);
    return (int)n;
}

/* ---- Pipeline cache file -------------------------------------------------- */

static void cache_path(agi_backend_device *d)
{
    d->cache_path[0] = '\0';
    char dir[400];
    if (!agi_cache_dir(dir, sizeof dir)) return;
    char uuid[2 * VK_UUID_SIZE + 1];
    for (unsigned i = 0; i < VK_UUID_SIZE; i++)
        snprintf(uuid + 2 * i, 3, "%02x", d->props.pipelineCacheUUID[i]);
    snprintf(d->cache_path, sizeof d->cache_path, "%s/vk-%04x-%04x-%s.bin", dir,
             d->props.vendorID, d->props.deviceID, uuid);
}

static void load_pipeline_cache(agi_backend_device *d)
{
    cache_path(d);
    size_t size = 0;
    void *data = d->cache_path[0] ? agi_cache_read(d->cache_path, (size_t)64 << 20, &size) : NULL;
    if (size <= 32) size = 0;
    /* Only hand over data whose header matches this device. */
    if (size) {
        const uint8_t *h = data;
        uint32_t vendor, device;
        memcpy(&vendor, h + 8, 4);
        memcpy(&device, h + 12, 4);
        if (vendor != d->props.vendorID || device != d->props.deviceID ||
            memcmp(h + 16, d->props.pipelineCacheUUID, VK_UUID_SIZE) != 0)
            size = 0;
    }
    VkPipelineCacheCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
        .initialDataSize = size,
        .pInitialData = size ? data : NULL,
    };
    if (vkCreatePipelineCache(d->dev, &ci, NULL, &d->pcache) != VK_SUCCESS) {
        ci.initialDataSize = 0;
        ci.pInitialData = NULL;
        if (vkCreatePipelineCache(d->dev, &ci, NULL, &d->pcache) != VK_SUCCESS)
            d->pcache = VK_NULL_HANDLE;
    }
    free(data);
}

static void save_pipeline_cache(agi_backend_device *d)
{
    if (!d->pcache || !d->cache_path[0]) return;
    size_t size = 0;
    if (vkGetPipelineCacheData(d->dev, d->pcache, &size, NULL) != VK_SUCCESS || size == 0) return;
    void *data = malloc(size);
    if (!data) return;
    if (vkGetPipelineCacheData(d->dev, d->pcache, &size, data) == VK_SUCCESS)
        (void)agi_cache_write(d->cache_path, NULL, 0, data, size);
    free(data);
}

/* ---- Open / close ------------------------------------------------------------ */

static uint32_t find_memory_type(const VkPhysicalDeviceMemoryProperties *mp, VkMemoryPropertyFlags want,
                                 VkMemoryPropertyFlags avoid)
{
    for (uint32_t i = 0; i < mp->memoryTypeCount; i++) {
        VkMemoryPropertyFlags f = mp->memoryTypes[i].propertyFlags;
        if ((f & want) == want && !(f & avoid)) return i;
    }
    return UINT32_MAX;
}

static void vk_close(agi_backend_device *d);

static ag_status vk_open(int index, agi_backend_device **out, ag_device_info *info)
{
    *out = NULL;
    agi_backend_device *d = calloc(1, sizeof *d);
    if (!d) return agi_set_error(AG_ERR_OOM, "vulkan: host out of memory");
    pthread_mutex_init(&d->lock, NULL);
    d->cur = -1;
    ag_status st = AG_OK;
    d->inst = get_instance();
    if (!d->inst) {
        pthread_mutex_destroy(&d->lock);
        free(d);
        return agi_set_error(AG_ERR_DEVICE, "vulkan: cannot create a Vulkan instance");
    }
    VkPhysicalDevice devs[64];
    uint32_t n = usable_devices(d->inst, devs, 64);
    if (index < 0 || (uint32_t)index >= n) {
        vk_close(d);
        return agi_set_error(AG_ERR_NOT_FOUND, "vulkan: no device %d (%u found)", index, n);
    }
    d->phys = devs[index];
    fill_info(d->phys, index, info);
    vkGetPhysicalDeviceProperties(d->phys, &d->props);
    vkGetPhysicalDeviceMemoryProperties(d->phys, &d->memprops);
    compute_queue(d->phys, &d->qfamily);
    vk_caps caps;
    query_caps(d->phys, &caps);
    d->subgroup_size = caps.subgroup_size ? caps.subgroup_size : 1;
    d->subgroup_arith = caps.subgroup_arith;
    d->has_u8 = caps.u8;
    d->has_fatomic = caps.fatomic;
    d->compute_units = caps.compute_units;
    d->has_coopmat = coopmat_on(&caps);
    /* AG_VULKAN_16BIT=emulated takes the packed-word 16-bit kernels even
     * where 16-bit storage exists (to test them on any device). */
    const char *hv = getenv("AG_VULKAN_16BIT");
    d->has_s16 = caps.s16 && !(hv && strcmp(hv, "emulated") == 0);
    d->is_cpu = d->props.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
    /* AG_VULKAN_KERNELS=gpu|cpu picks the kernel variants regardless of the
     * device type (to test the GPU variants on lavapipe, or to compare). */
    const char *kv = getenv("AG_VULKAN_KERNELS");
    if (kv && strcmp(kv, "gpu") == 0) d->is_cpu = false;
    if (kv && strcmp(kv, "cpu") == 0) d->is_cpu = true;
    const char *pv = getenv("AG_VULKAN_PROFILE");
    d->profile = pv && pv[0] && strcmp(pv, "0") != 0;

    /* Device with the features we use. */
    const char *exts[8];
    uint32_t ne = 0;
    VkPhysicalDevice8BitStorageFeatures s8 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_8BIT_STORAGE_FEATURES,
                                              .storageBuffer8BitAccess = VK_TRUE};
    VkPhysicalDeviceShaderAtomicFloatFeaturesEXT af = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_ATOMIC_FLOAT_FEATURES_EXT,
        .shaderBufferFloat32AtomicAdd = VK_TRUE};
    VkPhysicalDevice16BitStorageFeatures s16 = {.sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_16BIT_STORAGE_FEATURES,
                                                .storageBuffer16BitAccess = VK_TRUE};
    void *chain = NULL;
    if (d->has_s16) chain = &s16;
    if (d->has_u8) {
        exts[ne++] = VK_KHR_8BIT_STORAGE_EXTENSION_NAME;
        s8.pNext = chain;
        chain = &s8;
    }
    if (d->has_fatomic) {
        exts[ne++] = VK_EXT_SHADER_ATOMIC_FLOAT_EXTENSION_NAME;
        af.pNext = chain;
        chain = &af;
    }
    VkPhysicalDeviceCooperativeMatrixFeaturesNV cm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_COOPERATIVE_MATRIX_FEATURES_NV, .cooperativeMatrix = VK_TRUE};
    VkPhysicalDeviceVulkanMemoryModelFeaturesKHR mm = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_VULKAN_MEMORY_MODEL_FEATURES_KHR, .vulkanMemoryModel = VK_TRUE};
    VkPhysicalDeviceShaderFloat16Int8Features f16 = {
        .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SHADER_FLOAT16_INT8_FEATURES, .shaderFloat16 = VK_TRUE};
    if (d->has_coopmat) {
        exts[ne++] = VK_NV_COOPERATIVE_MATRIX_EXTENSION_NAME;
        exts[ne++] = VK_KHR_VULKAN_MEMORY_MODEL_EXTENSION_NAME;
        exts[ne++] = VK_KHR_SHADER_FLOAT16_INT8_EXTENSION_NAME;
        cm.pNext = chain;
        mm.pNext = &cm;
        f16.pNext = &mm;
        chain = &f16;
    }
    float prio = 1.0f;
    VkDeviceQueueCreateInfo qci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
        .queueFamilyIndex = d->qfamily,
        .queueCount = 1,
        .pQueuePriorities = &prio,
    };
    VkDeviceCreateInfo dci = {
        .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
        .pNext = chain,
        .queueCreateInfoCount = 1,
        .pQueueCreateInfos = &qci,
        .enabledExtensionCount = ne,
        .ppEnabledExtensionNames = exts,
    };
    VkResult vr = vkCreateDevice(d->phys, &dci, NULL, &d->dev);
    if (vr != VK_SUCCESS && d->has_coopmat) {
        /* A driver refusing the cooperative-matrix features (listed but not
         * enabled together) still gives a device: without matrix units. */
        d->has_coopmat = false;
        info->matrix_units = false;
        dci.pNext = cm.pNext;
        dci.enabledExtensionCount = ne - 3;
        vr = vkCreateDevice(d->phys, &dci, NULL, &d->dev);
    }
    st = vk_check(vr, "vkCreateDevice");
    if (st != AG_OK) goto fail;
    vkGetDeviceQueue(d->dev, d->qfamily, 0, &d->queue);

    /* Memory types: device-local (host visible when it is, e.g. integrated or
     * CPU devices) and host-visible coherent for staging. */
    const VkMemoryPropertyFlags HV = VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT;
    const VkMemoryPropertyFlags DL = VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT;
    uint32_t t = UINT32_MAX;
    if (d->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU) t = find_memory_type(&d->memprops, DL | HV, 0);
    d->dev_mappable = t != UINT32_MAX;
    if (t == UINT32_MAX) t = find_memory_type(&d->memprops, DL, 0);
    if (t == UINT32_MAX) {
        t = find_memory_type(&d->memprops, HV, 0);
        d->dev_mappable = t != UINT32_MAX;
    }
    d->dev_type = t;
    d->host_type = find_memory_type(&d->memprops, HV | VK_MEMORY_PROPERTY_HOST_CACHED_BIT, 0);
    if (d->host_type == UINT32_MAX) d->host_type = find_memory_type(&d->memprops, HV, 0);
    if (d->dev_type == UINT32_MAX || d->host_type == UINT32_MAX) {
        st = agi_set_error(AG_ERR_DEVICE, "vulkan: %s has no usable memory type", d->props.deviceName);
        goto fail;
    }
    d->heap_size = d->memprops.memoryHeaps[d->memprops.memoryTypes[d->dev_type].heapIndex].size;

    load_pipeline_cache(d);
    if ((st = vk_mem_init(d)) != AG_OK) goto fail;
    if ((st = vk_stream_init(d)) != AG_OK) goto fail;
    *out = d;
    return AG_OK;
fail:
    vk_close(d);
    return st;
}

static void vk_close(agi_backend_device *d)
{
    if (!d) return;
    if (d->profile) {
        fprintf(stderr, "anygrad vulkan profile (%s): op, calls, total ms, us per call\n", d->props.deviceName);
        for (int i = 0; i < AGI_K_COUNT; i++)
            if (d->prof_n[i])
                fprintf(stderr, "  %-14s %8lld %10.2f %10.1f\n", agi_kernel_op_name((agi_kernel_op)i),
                        (long long)d->prof_n[i], d->prof_s[i] * 1e3, d->prof_s[i] * 1e6 / (double)d->prof_n[i]);
        fprintf(stderr, "  (pipeline creation, not counted above: %lld pipelines, %.2f ms)\n",
                (long long)d->prof_pipelines, d->prof_pipeline_s * 1e3);
    }
    if (d->dev) {
        vk_wait_all(d);
        vkDeviceWaitIdle(d->dev);
        vk_stream_destroy(d);
        vk_mem_destroy(d);
        save_pipeline_cache(d);
        if (d->pcache) vkDestroyPipelineCache(d->dev, d->pcache, NULL);
        vkDestroyDevice(d->dev, NULL);
    }
    pthread_mutex_destroy(&d->lock);
    free(d);
}

/* ---- Vtable wrappers (take the device lock) ----------------------------------- */

static ag_status vt_buffer_alloc(agi_backend_device *d, size_t nbytes, agi_buffer **out)
{
    pthread_mutex_lock(&d->lock);
    ag_status st = vk_buffer_new(d, nbytes, false, out);
    pthread_mutex_unlock(&d->lock);
    return st;
}

static void vt_buffer_free(agi_backend_device *d, agi_buffer *b)
{
    if (!b) return;
    pthread_mutex_lock(&d->lock);
    vk_buffer_release(d, b);
    pthread_mutex_unlock(&d->lock);
}

static ag_status vt_write(agi_backend_device *d, agi_buffer *b, size_t off, const void *src, size_t n)
{
    pthread_mutex_lock(&d->lock);
    ag_status st = vk_write(d, b, off, src, n);
    pthread_mutex_unlock(&d->lock);
    return st;
}

static ag_status vt_read(agi_backend_device *d, agi_buffer *b, size_t off, void *dst, size_t n)
{
    pthread_mutex_lock(&d->lock);
    ag_status st = vk_read(d, b, off, dst, n);
    pthread_mutex_unlock(&d->lock);
    return st;
}

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static size_t vt_buffer_bytes(const agi_buffer *buf) { return (size_t)buf->size; }

static ag_status vk_scratch_new(agi_backend_device *d, size_t nbytes, agi_buffer **out)
{
    return vk_buffer_new(d, nbytes, false, out);
}

/* 16-bit data of staged ops, under the device lock (scratch freed in stream order) */
static const agi_stage_ops vk_stage = {vk_scratch_new, vk_buffer_release, vk_exec};

ag_status vk_exec_any(agi_backend_device *d, const agi_kernel *k)
{
    bool native = vk_gemm_native16(d, k) || agi_rownorm_half(k) != AG_F32 || vk_conv_native16(k) ||
                  vk_reduce_native16(k);
    return agi_kernel_staged16(k) && !native ? agi_exec_staged16(d, k, &vk_stage) : vk_exec(d, k);
}

static ag_status vt_exec(agi_backend_device *d, const agi_kernel *k)
{
    ag_status vs = agi_kernel_validate("vulkan", k, vt_buffer_bytes);
    if (vs != AG_OK) return vs;
    pthread_mutex_lock(&d->lock);
    double t0 = d->profile ? now_s() : 0, c0 = d->prof_pipeline_s;
    ag_status st = vk_exec_any(d, k);
    if (d->profile && st == AG_OK && (unsigned)k->op < AGI_K_COUNT) {
        st = vk_wait_all(d);
        /* first use of a shader compiles its pipeline: not the op's time */
        d->prof_s[k->op] += now_s() - t0 - (d->prof_pipeline_s - c0);
        d->prof_n[k->op]++;
    }
    pthread_mutex_unlock(&d->lock);
    return st;
}

static size_t vt_buffer_bytes(const agi_buffer *buf);

static ag_status vt_list_build(agi_backend_device *d, const agi_kernel *ks, int n, agi_kernel_list **out)
{
    for (int i = 0; i < n; i++) { /* validated once, when built */
        ag_status vs = agi_kernel_validate("vulkan", &ks[i], vt_buffer_bytes);
        if (vs != AG_OK) return vs;
    }
    pthread_mutex_lock(&d->lock);
    ag_status st = vk_list_build(d, ks, n, out);
    pthread_mutex_unlock(&d->lock);
    return st;
}

static ag_status vt_list_run(agi_backend_device *d, agi_kernel_list *l)
{
    pthread_mutex_lock(&d->lock);
    ag_status st = vk_list_run(d, l);
    pthread_mutex_unlock(&d->lock);
    return st;
}

static void vt_list_free(agi_backend_device *d, agi_kernel_list *l)
{
    pthread_mutex_lock(&d->lock);
    vk_list_free(d, l);
    pthread_mutex_unlock(&d->lock);
}

static bool vt_supports(agi_backend_device *d, const agi_kernel_sig *sig)
{
    return vk_supports(d, sig);
}

static ag_status vt_sync(agi_backend_device *d)
{
    pthread_mutex_lock(&d->lock);
    ag_status st = vk_wait_all(d);
    pthread_mutex_unlock(&d->lock);
    return st;
}

static void vt_counters(agi_backend_device *d, ag_device_counters *out)
{
    pthread_mutex_lock(&d->lock);
    out->driver_allocs = d->n_driver_allocs;
    out->driver_alloc_bytes = d->driver_alloc_bytes;
    out->driver_frees = d->n_driver_frees;
    out->dispatches = d->n_dispatches;
    out->host_waits = d->n_host_waits;
    out->in_use_bytes = d->in_use;
    out->cached_bytes = d->heap_used > d->in_use ? d->heap_used - d->in_use : 0;
    pthread_mutex_unlock(&d->lock);
}

static ag_status vt_empty_cache(agi_backend_device *d)
{
    pthread_mutex_lock(&d->lock);
    ag_status st = vk_mem_trim(d);
    pthread_mutex_unlock(&d->lock);
    return st;
}

const agi_backend agi_backend_vulkan = {
    .name = "vulkan",
    .kind = AG_BACKEND_VULKAN,
    .enumerate = vk_enumerate,
    .open = vk_open,
    .close = vk_close,
    .buffer_alloc = vt_buffer_alloc,
    .buffer_free = vt_buffer_free,
    .list_build = vt_list_build,
    .list_run = vt_list_run,
    .list_free = vt_list_free,
    .write = vt_write,
    .read = vt_read,
    .exec = vt_exec,
    .supports = vt_supports,
    .sync = vt_sync,
    .counters = vt_counters,
    .empty_cache = vt_empty_cache,
};
