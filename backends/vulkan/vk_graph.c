/* backends/vulkan/vk_graph.c — pre-built kernel lists for graphs. A list is
 * recorded once into a secondary command buffer (VK_COMMAND_BUFFER_USAGE_
 * SIMULTANEOUS_USE_BIT) with descriptor sets, push constants, metadata and
 * temporaries of its own. Running it records one vkCmdExecuteCommands into
 * the ring's current batch between two full barriers, so it is ordered with
 * eager work like any dispatch, and the ring's fences track it. */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

ag_status vk_rec_room(agi_backend_device *d, uint32_t meta_bytes, VkDescriptorPool *pool)
{
    vk_recorder *r = d->rec;
    (void)meta_bytes; /* vk_rec_meta starts a new arena itself */
    if (!pool) return AG_OK;
    if (r->n_pools == 0 || r->pool_sets >= AGVK_BATCH_SETS) {
        VkDescriptorPool *np = realloc(r->pools, ((size_t)r->n_pools + 1) * sizeof *np);
        if (!np) return agi_set_error(AG_ERR_OOM, "vulkan: host out of memory");
        r->pools = np;
        VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, AGVK_BATCH_SETS * AGVK_NBIND};
        VkDescriptorPoolCreateInfo dp = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
            .maxSets = AGVK_BATCH_SETS,
            .poolSizeCount = 1,
            .pPoolSizes = &ps,
        };
        ag_status st = vk_check(vkCreateDescriptorPool(d->dev, &dp, NULL, &r->pools[r->n_pools]),
                                "vkCreateDescriptorPool");
        if (st != AG_OK) return st;
        r->n_pools++;
        r->pool_sets = 0;
    }
    *pool = r->pools[r->n_pools - 1];
    return AG_OK;
}

ag_status vk_rec_meta(agi_backend_device *d, const void *data, uint32_t n, vk_binding *out)
{
    vk_recorder *r = d->rec;
    uint32_t a = (uint32_t)d->align;
    uint32_t size = (n + a - 1) / a * a;
    if (r->n_metas == 0 || r->meta_used + size > AGVK_META_BYTES) {
        agi_buffer **nm = realloc(r->metas, ((size_t)r->n_metas + 1) * sizeof *nm);
        if (!nm) return agi_set_error(AG_ERR_OOM, "vulkan: host out of memory");
        r->metas = nm;
        ag_status st = vk_buffer_new(d, AGVK_META_BYTES, true, &r->metas[r->n_metas]);
        if (st != AG_OK) return st;
        r->n_metas++;
        r->meta_used = 0;
    }
    agi_buffer *m = r->metas[r->n_metas - 1];
    memcpy(m->block->mapped + m->offset + r->meta_used, data, n);
    *out = (vk_binding){.buf = m, .off = r->meta_used, .range = size, .write = false};
    r->meta_used += size;
    return AG_OK;
}

void vk_rec_touch(agi_backend_device *d, agi_buffer *b)
{
    vk_recorder *r = d->rec;
    for (int i = r->n_touched - 1; i >= 0 && i >= r->n_touched - 8; i--)
        if (r->touched[i] == b) return; /* recently noted */
    if (agi_grow((void **)&r->touched, &r->cap_touched, r->n_touched + 1, sizeof *r->touched) == AG_OK)
        r->touched[r->n_touched++] = b;
    else if (r->failed == AG_OK) /* a replay could not keep b alive: fail the build */
        r->failed = agi_set_error(AG_ERR_OOM, "vulkan: host out of memory building a kernel list");
}

/* A temporary released while recording: the list owns it from now on. When
 * the host cannot note it, the build fails (the list is discarded unrun) and
 * the caller frees the buffer at once. */
ag_status vk_rec_keep(agi_backend_device *d, agi_buffer *b)
{
    vk_recorder *r = d->rec;
    if (agi_grow((void **)&r->keep, &r->cap_keep, r->n_keep + 1, sizeof *r->keep) == AG_OK) {
        r->keep[r->n_keep++] = b;
        return AG_OK;
    }
    if (r->failed == AG_OK)
        r->failed = agi_set_error(AG_ERR_OOM, "vulkan: host out of memory building a kernel list");
    return r->failed;
}

static void list_destroy(agi_backend_device *d, agi_kernel_list *l)
{
    vk_recorder *r = &l->rec;
    if (r->cb) vkFreeCommandBuffers(d->dev, d->cmdpool, 1, &r->cb);
    for (int i = 0; i < r->n_pools; i++) vkDestroyDescriptorPool(d->dev, r->pools[i], NULL);
    free(r->pools);
    for (int i = 0; i < r->n_metas; i++) vk_buffer_release(d, r->metas[i]);
    free(r->metas);
    for (int i = 0; i < r->n_keep; i++) vk_buffer_release(d, r->keep[i]);
    free(r->keep);
    free(r->touched);
    free(l);
}

ag_status vk_list_build(agi_backend_device *d, const agi_kernel *ks, int n, agi_kernel_list **out)
{
    *out = NULL;
    agi_kernel_list *l = calloc(1, sizeof *l);
    if (!l) return agi_set_error(AG_ERR_OOM, "vulkan: host out of memory");
    vk_recorder *r = &l->rec;
    VkCommandBufferAllocateInfo ca = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
        .commandPool = d->cmdpool,
        .level = VK_COMMAND_BUFFER_LEVEL_SECONDARY,
        .commandBufferCount = 1,
    };
    ag_status st = vk_check(vkAllocateCommandBuffers(d->dev, &ca, &r->cb), "vkAllocateCommandBuffers");
    if (st != AG_OK) {
        r->cb = VK_NULL_HANDLE;
        list_destroy(d, l);
        return st;
    }
    VkCommandBufferInheritanceInfo inh = {.sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_INHERITANCE_INFO};
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_SIMULTANEOUS_USE_BIT,
        .pInheritanceInfo = &inh,
    };
    if ((st = vk_check(vkBeginCommandBuffer(r->cb, &bi), "vkBeginCommandBuffer")) != AG_OK) {
        list_destroy(d, l);
        return st;
    }
    /* The list starts after a full barrier (vk_list_run): nothing earlier is
     * a hazard inside it. */
    d->epoch++;
    d->rec = r;
    for (int i = 0; i < n && st == AG_OK; i++) st = vk_exec_any(d, &ks[i]);
    d->rec = NULL;
    d->epoch++;
    if (st == AG_OK) st = r->failed;
    VkResult res = vkEndCommandBuffer(r->cb);
    if (st == AG_OK && res != VK_SUCCESS) st = vk_check(res, "vkEndCommandBuffer");
    if (st != AG_OK) {
        list_destroy(d, l);
        return st;
    }
    *out = l;
    return AG_OK;
}

ag_status vk_list_run(agi_backend_device *d, agi_kernel_list *l)
{
    ag_status st = vk_begin_batch(d);
    if (st != AG_OK) return st;
    vk_batch *bt = &d->batches[d->cur];
    if (bt->sets + 1 > AGVK_BATCH_SETS) {
        if ((st = vk_flush(d)) != AG_OK || (st = vk_begin_batch(d)) != AG_OK) return st;
        bt = &d->batches[d->cur];
    }
    vk_barrier(d, bt->cb);
    vkCmdExecuteCommands(bt->cb, 1, &l->rec.cb);
    vk_barrier(d, bt->cb);
    vk_recorder *r = &l->rec;
    for (int i = 0; i < r->n_touched; i++) r->touched[i]->last_use = bt->seq;
    for (int i = 0; i < r->n_metas; i++) r->metas[i]->last_use = bt->seq;
    bt->sets++;
    d->n_dispatches += r->dispatches;
    return vk_after_record(d);
}

void vk_list_free(agi_backend_device *d, agi_kernel_list *l)
{
    if (!l) return;
    vk_wait_all(d);
    /* A primary that executed the list refers to it until reset: reset the
     * (now idle) batches before the secondary goes away. */
    for (int i = 0; i < AGVK_NBATCH; i++)
        if (d->batches[i].seq) vkResetCommandBuffer(d->batches[i].cb, 0);
    list_destroy(d, l);
}
