/* backends/vulkan/vk_stream.c — pipelines (created lazily per shader and
 * specialization, through a VkPipelineCache) and the command stream: a ring
 * of command batches, each a command buffer + fence + descriptor pool +
 * metadata arena. Dispatches are recorded back to back; a global memory
 * barrier is recorded only when a dispatch reads or writes a buffer written
 * (or writes one read) since the last barrier. The host waits on fences only
 * in read() and sync(). */
#include "vk_internal.h"
#include "vk_shaders.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#define AGVK_SUBMIT_AFTER 128 /* dispatches per submitted batch */
#define AGVK_SPIN_NS 2000000L /* host waits poll this long before blocking */

/* The ids of vk_shader_ids.h number the variants in the order of the blob
 * table (both sorted by name at build time). */
_Static_assert(AGVK_SH_COUNT > 0, "no Vulkan shaders");

ag_status vk_stream_init(agi_backend_device *d)
{
    if (agi_vk_shader_blob_count != AGVK_SH_COUNT)
        return agi_set_error(AG_ERR_DEVICE, "vulkan: %d embedded shaders, %d shader ids (stale build)",
                             agi_vk_shader_blob_count, (int)AGVK_SH_COUNT);
    VkDescriptorSetLayoutBinding b[AGVK_NBIND];
    for (int i = 0; i < AGVK_NBIND; i++)
        b[i] = (VkDescriptorSetLayoutBinding){
            .binding = (uint32_t)i,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .descriptorCount = 1,
            .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
        };
    VkDescriptorSetLayoutCreateInfo dl = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
        .bindingCount = AGVK_NBIND,
        .pBindings = b,
    };
    ag_status st = vk_check(vkCreateDescriptorSetLayout(d->dev, &dl, NULL, &d->dsl), "vkCreateDescriptorSetLayout");
    if (st != AG_OK) return st;
    VkPushConstantRange pr = {.stageFlags = VK_SHADER_STAGE_COMPUTE_BIT, .offset = 0, .size = AGVK_PUSH_WORDS * 4};
    VkPipelineLayoutCreateInfo pl = {
        .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
        .setLayoutCount = 1,
        .pSetLayouts = &d->dsl,
        .pushConstantRangeCount = 1,
        .pPushConstantRanges = &pr,
    };
    if ((st = vk_check(vkCreatePipelineLayout(d->dev, &pl, NULL, &d->layout), "vkCreatePipelineLayout")) != AG_OK)
        return st;
    d->modules = calloc((size_t)agi_vk_shader_blob_count, sizeof *d->modules);
    d->pipe_cap = 256;
    d->pipes = malloc(d->pipe_cap * sizeof *d->pipes);
    if (!d->modules || !d->pipes) return agi_set_error(AG_ERR_OOM, "vulkan: host out of memory");
    for (uint32_t i = 0; i < d->pipe_cap; i++) d->pipes[i].shader = -1;
    VkCommandPoolCreateInfo cp = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
        .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
        .queueFamilyIndex = d->qfamily,
    };
    if ((st = vk_check(vkCreateCommandPool(d->dev, &cp, NULL, &d->cmdpool), "vkCreateCommandPool")) != AG_OK)
        return st;
    VkDescriptorPoolSize ps = {VK_DESCRIPTOR_TYPE_STORAGE_BUFFER, AGVK_BATCH_SETS * AGVK_NBIND};
    for (int i = 0; i < AGVK_NBATCH; i++) {
        vk_batch *bt = &d->batches[i];
        VkCommandBufferAllocateInfo ca = {
            .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
            .commandPool = d->cmdpool,
            .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
            .commandBufferCount = 1,
        };
        if ((st = vk_check(vkAllocateCommandBuffers(d->dev, &ca, &bt->cb), "vkAllocateCommandBuffers")) != AG_OK)
            return st;
        VkFenceCreateInfo fi = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
        if ((st = vk_check(vkCreateFence(d->dev, &fi, NULL, &bt->fence), "vkCreateFence")) != AG_OK) return st;
        VkDescriptorPoolCreateInfo dp = {
            .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
            .maxSets = AGVK_BATCH_SETS,
            .poolSizeCount = 1,
            .pPoolSizes = &ps,
        };
        if ((st = vk_check(vkCreateDescriptorPool(d->dev, &dp, NULL, &bt->pool), "vkCreateDescriptorPool")) != AG_OK)
            return st;
        if ((st = vk_buffer_new(d, AGVK_META_BYTES, true, &bt->meta)) != AG_OK) return st;
    }
    d->next_seq = 1;
    d->done_seq = 0;
    d->epoch = 1;
    return AG_OK;
}

void vk_stream_destroy(agi_backend_device *d)
{
    for (int i = 0; i < AGVK_NBATCH; i++) {
        vk_batch *bt = &d->batches[i];
        if (bt->fence) vkDestroyFence(d->dev, bt->fence, NULL);
        if (bt->pool) vkDestroyDescriptorPool(d->dev, bt->pool, NULL);
        if (bt->meta) {
            vk_buffer_release(d, bt->meta);
            bt->meta = NULL;
        }
    }
    if (d->cmdpool) vkDestroyCommandPool(d->dev, d->cmdpool, NULL);
    if (d->pipes)
        for (uint32_t i = 0; i < d->pipe_cap; i++)
            if (d->pipes[i].shader >= 0) vkDestroyPipeline(d->dev, d->pipes[i].pipe, NULL);
    free(d->pipes);
    d->pipes = NULL;
    if (d->modules)
        for (int i = 0; i < agi_vk_shader_blob_count; i++)
            if (d->modules[i]) vkDestroyShaderModule(d->dev, d->modules[i], NULL);
    free(d->modules);
    d->modules = NULL;
    if (d->layout) vkDestroyPipelineLayout(d->dev, d->layout, NULL);
    if (d->dsl) vkDestroyDescriptorSetLayout(d->dev, d->dsl, NULL);
}

/* ---- Pipelines ------------------------------------------------------------------ */

static uint32_t pipe_hash(int shader, const uint32_t *spec)
{
    uint32_t h = 2166136261u ^ (uint32_t)shader;
    for (int i = 0; i < AGVK_NSPEC; i++) h = (h ^ spec[i]) * 16777619u;
    return h;
}

static ag_status pipe_grow(agi_backend_device *d)
{
    uint32_t cap = d->pipe_cap * 2;
    vk_pipe *np = malloc(cap * sizeof *np);
    if (!np) return agi_set_error(AG_ERR_OOM, "vulkan: host out of memory");
    for (uint32_t i = 0; i < cap; i++) np[i].shader = -1;
    for (uint32_t i = 0; i < d->pipe_cap; i++) {
        if (d->pipes[i].shader < 0) continue;
        uint32_t h = pipe_hash(d->pipes[i].shader, d->pipes[i].spec) & (cap - 1);
        while (np[h].shader >= 0) h = (h + 1) & (cap - 1);
        np[h] = d->pipes[i];
    }
    free(d->pipes);
    d->pipes = np;
    d->pipe_cap = cap;
    return AG_OK;
}

static ag_status get_pipeline(agi_backend_device *d, int s, const uint32_t *spec, VkPipeline *out)
{
    if (s < 0 || s >= agi_vk_shader_blob_count)
        return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: shader id %d is not built", s);
    uint32_t mask = d->pipe_cap - 1;
    uint32_t h = pipe_hash(s, spec) & mask;
    while (d->pipes[h].shader >= 0) {
        if (d->pipes[h].shader == s && memcmp(d->pipes[h].spec, spec, sizeof d->pipes[h].spec) == 0) {
            *out = d->pipes[h].pipe;
            return AG_OK;
        }
        h = (h + 1) & mask;
    }
    ag_status st;
    if (!d->modules[s]) {
        VkShaderModuleCreateInfo mi = {
            .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
            .codeSize = agi_vk_shader_blobs[s].words * 4,
            .pCode = agi_vk_shader_blobs[s].code,
        };
        if ((st = vk_check(vkCreateShaderModule(d->dev, &mi, NULL, &d->modules[s]), "vkCreateShaderModule")) != AG_OK)
            return st;
    }
    VkSpecializationMapEntry me[AGVK_NSPEC];
    for (int i = 0; i < AGVK_NSPEC; i++) me[i] = (VkSpecializationMapEntry){(uint32_t)i, (uint32_t)(4 * i), 4};
    VkSpecializationInfo si = {AGVK_NSPEC, me, AGVK_NSPEC * 4, spec};
    VkComputePipelineCreateInfo ci = {
        .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
        .stage = {
            .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
            .stage = VK_SHADER_STAGE_COMPUTE_BIT,
            .module = d->modules[s],
            .pName = "main",
            .pSpecializationInfo = &si,
        },
        .layout = d->layout,
    };
    VkPipeline p;
    struct timespec t0, t1;
    if (d->profile) clock_gettime(CLOCK_MONOTONIC, &t0);
    if ((st = vk_check(vkCreateComputePipelines(d->dev, d->pcache, 1, &ci, NULL, &p), "vkCreateComputePipelines")) != AG_OK)
        return st;
    if (d->profile) {
        clock_gettime(CLOCK_MONOTONIC, &t1);
        d->prof_pipeline_s += (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) * 1e-9;
        d->prof_pipelines++;
    }
    if ((d->pipe_count + 1) * 2 > d->pipe_cap && pipe_grow(d) != AG_OK) {
        vkDestroyPipeline(d->dev, p, NULL);
        return AG_ERR_OOM;
    }
    mask = d->pipe_cap - 1;
    h = pipe_hash(s, spec) & mask;
    while (d->pipes[h].shader >= 0) h = (h + 1) & mask;
    d->pipes[h].shader = s;
    memcpy(d->pipes[h].spec, spec, sizeof d->pipes[h].spec);
    d->pipes[h].pipe = p;
    d->pipe_count++;
    *out = p;
    return AG_OK;
}

/* ---- Batches --------------------------------------------------------------------- */

void vk_poll(agi_backend_device *d)
{
    for (;;) {
        uint64_t next = d->done_seq + 1;
        vk_batch *bt = NULL;
        for (int i = 0; i < AGVK_NBATCH; i++)
            if (d->batches[i].submitted && d->batches[i].seq == next) bt = &d->batches[i];
        if (!bt || vkGetFenceStatus(d->dev, bt->fence) != VK_SUCCESS) return;
        bt->submitted = false;
        d->done_seq = next;
    }
}

static ag_status wait_batch(agi_backend_device *d, vk_batch *bt)
{
    if (!bt->submitted) return AG_OK;
    VkResult r = vkGetFenceStatus(d->dev, bt->fence);
    if (r == VK_NOT_READY) {
        d->n_host_waits++;
        /* On a GPU, poll for a short while before blocking: a blocking wait
         * sleeps in the kernel, and waking up costs tens of microseconds, as
         * much as a whole small step (CUDA's default synchronisation spins
         * too). CPU-type devices (lavapipe) need that core themselves. */
        if (d->props.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU) {
            struct timespec t0, t;
            clock_gettime(CLOCK_MONOTONIC, &t0);
            do {
                r = vkGetFenceStatus(d->dev, bt->fence);
                clock_gettime(CLOCK_MONOTONIC, &t);
            } while (r == VK_NOT_READY &&
                     (t.tv_sec - t0.tv_sec) * 1000000000L + (t.tv_nsec - t0.tv_nsec) < AGVK_SPIN_NS);
        }
        if (r == VK_NOT_READY) r = vkWaitForFences(d->dev, 1, &bt->fence, VK_TRUE, UINT64_MAX);
    }
    if (r != VK_SUCCESS) return vk_check(r, "vkWaitForFences");
    bt->submitted = false;
    /* A signalled fence covers every earlier submission too. */
    if (bt->seq > d->done_seq) d->done_seq = bt->seq;
    for (int i = 0; i < AGVK_NBATCH; i++)
        if (d->batches[i].submitted && d->batches[i].seq <= d->done_seq) d->batches[i].submitted = false;
    return AG_OK;
}

ag_status vk_begin_batch(agi_backend_device *d)
{
    if (d->cur >= 0) return AG_OK;
    int i = (int)(d->next_seq % AGVK_NBATCH);
    vk_batch *bt = &d->batches[i];
    ag_status st = wait_batch(d, bt);
    if (st != AG_OK) return st;
    VkResult r;
    if ((r = vkResetFences(d->dev, 1, &bt->fence)) != VK_SUCCESS) return vk_check(r, "vkResetFences");
    if ((r = vkResetDescriptorPool(d->dev, bt->pool, 0)) != VK_SUCCESS) return vk_check(r, "vkResetDescriptorPool");
    if ((r = vkResetCommandBuffer(bt->cb, 0)) != VK_SUCCESS) return vk_check(r, "vkResetCommandBuffer");
    VkCommandBufferBeginInfo bi = {
        .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
        .flags = VK_COMMAND_BUFFER_USAGE_ONE_TIME_SUBMIT_BIT,
    };
    if ((r = vkBeginCommandBuffer(bt->cb, &bi)) != VK_SUCCESS) return vk_check(r, "vkBeginCommandBuffer");
    bt->seq = d->next_seq++;
    bt->sets = 0;
    bt->meta_used = 0;
    bt->recording = true;
    bt->meta->last_use = bt->seq;
    d->cur = i;
    return AG_OK;
}

uint64_t vk_current_seq(agi_backend_device *d)
{
    if (vk_begin_batch(d) != AG_OK) return 0;
    return d->batches[d->cur].seq;
}

ag_status vk_flush(agi_backend_device *d)
{
    if (d->cur < 0) return AG_OK;
    vk_batch *bt = &d->batches[d->cur];
    d->cur = -1;
    bt->recording = false;
    /* Make every write visible to the host once the fence signals. */
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_HOST_READ_BIT,
    };
    vkCmdPipelineBarrier(bt->cb, VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT,
                         VK_PIPELINE_STAGE_HOST_BIT, 0, 1, &mb, 0, NULL, 0, NULL);
    VkResult r = vkEndCommandBuffer(bt->cb);
    if (r != VK_SUCCESS) return vk_check(r, "vkEndCommandBuffer");
    VkSubmitInfo si = {
        .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
        .commandBufferCount = 1,
        .pCommandBuffers = &bt->cb,
    };
    r = vkQueueSubmit(d->queue, 1, &si, bt->fence);
    if (r != VK_SUCCESS) return vk_check(r, "vkQueueSubmit");
    bt->submitted = true;
    return AG_OK;
}

ag_status vk_wait_seq(agi_backend_device *d, uint64_t seq)
{
    if (seq <= d->done_seq) return AG_OK;
    ag_status st;
    if (d->cur >= 0 && d->batches[d->cur].seq <= seq && (st = vk_flush(d)) != AG_OK) return st;
    vk_batch *best = NULL;
    for (int i = 0; i < AGVK_NBATCH; i++) {
        vk_batch *bt = &d->batches[i];
        if (bt->submitted && bt->seq >= seq && (!best || bt->seq < best->seq)) best = bt;
    }
    if (!best) {
        d->done_seq = seq;
        return AG_OK;
    }
    return wait_batch(d, best);
}

ag_status vk_wait_all(agi_backend_device *d)
{
    ag_status st = vk_flush(d);
    if (st != AG_OK) return st;
    vk_batch *last = NULL;
    for (int i = 0; i < AGVK_NBATCH; i++)
        if (d->batches[i].submitted && (!last || d->batches[i].seq > last->seq)) last = &d->batches[i];
    if (last) st = wait_batch(d, last);
    if (st == AG_OK) d->done_seq = d->next_seq - 1;
    return st;
}

/* Room for one more dispatch in the current batch (flushing a full one). */
static ag_status ensure_room(agi_backend_device *d, uint32_t meta_bytes)
{
    ag_status st;
    if (d->rec) return vk_rec_room(d, meta_bytes, NULL);
    if (d->cur >= 0) {
        vk_batch *bt = &d->batches[d->cur];
        if (bt->sets < AGVK_BATCH_SETS && bt->meta_used + meta_bytes <= AGVK_META_BYTES) return AG_OK;
        if ((st = vk_flush(d)) != AG_OK) return st;
    }
    return vk_begin_batch(d);
}

ag_status vk_meta(agi_backend_device *d, const void *data, uint32_t n, vk_binding *out)
{
    uint32_t a = (uint32_t)d->align;
    uint32_t size = (n + a - 1) / a * a;
    if (size > AGVK_META_BYTES) return agi_set_error(AG_ERR_UNSUPPORTED, "vulkan: kernel metadata too large");
    if (d->rec) return vk_rec_meta(d, data, n, out);
    ag_status st = ensure_room(d, size);
    if (st != AG_OK) return st;
    vk_batch *bt = &d->batches[d->cur];
    memcpy(bt->meta->block->mapped + bt->meta->offset + bt->meta_used, data, n);
    *out = (vk_binding){.buf = bt->meta, .off = bt->meta_used, .range = size, .write = false};
    bt->meta_used += size;
    return AG_OK;
}

/* ---- Hazards ------------------------------------------------------------------------ */

static bool hazard(agi_backend_device *d, agi_buffer *b, bool write)
{
    if (b->wr_epoch == d->epoch) return true;        /* RAW / WAW */
    return write && b->rd_epoch == d->epoch;         /* WAR */
}

static void mark(agi_backend_device *d, agi_buffer *b, bool write, uint64_t seq)
{
    if (write) b->wr_epoch = d->epoch;
    else b->rd_epoch = d->epoch;
    if (d->rec) vk_rec_touch(d, b); /* its seq is set when the list runs */
    else b->last_use = seq;
}

void vk_barrier(agi_backend_device *d, VkCommandBuffer cb)
{
    VkMemoryBarrier mb = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
        .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
        .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                         VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    };
    VkPipelineStageFlags stages = VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT | VK_PIPELINE_STAGE_TRANSFER_BIT;
    vkCmdPipelineBarrier(cb, stages, stages, 0, 1, &mb, 0, NULL, 0, NULL);
    d->epoch++;
}

ag_status vk_after_record(agi_backend_device *d)
{
    if (d->rec) return AG_OK;
    vk_batch *bt = &d->batches[d->cur];
    if (bt->sets >= AGVK_SUBMIT_AFTER) return vk_flush(d);
    return AG_OK;
}

ag_status vk_dispatch_run(agi_backend_device *d, const vk_dispatch *disp)
{
    VkPipeline pipe = VK_NULL_HANDLE;
    ag_status st = get_pipeline(d, disp->shader, disp->spec, &pipe);
    if (st != AG_OK) return st;
    if (disp->groups[0] == 0 || disp->groups[1] == 0 || disp->groups[2] == 0) return AG_OK;
    VkDescriptorPool pool;
    VkCommandBuffer cb;
    uint64_t seq = 0;
    vk_batch *bt = NULL;
    if (d->rec) {
        if ((st = vk_rec_room(d, 0, &pool)) != AG_OK) return st;
        cb = d->rec->cb;
    } else {
        if ((st = ensure_room(d, 0)) != AG_OK) return st;
        bt = &d->batches[d->cur];
        pool = bt->pool;
        cb = bt->cb;
        seq = bt->seq;
    }
    VkDescriptorSetAllocateInfo ai = {
        .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
        .descriptorPool = pool,
        .descriptorSetCount = 1,
        .pSetLayouts = &d->dsl,
    };
    VkDescriptorSet set;
    VkResult r = vkAllocateDescriptorSets(d->dev, &ai, &set);
    if (r != VK_SUCCESS) return vk_check(r, "vkAllocateDescriptorSets");
    if (bt) bt->sets++;
    else d->rec->pool_sets++;
    VkDescriptorBufferInfo bi[AGVK_NBIND];
    VkWriteDescriptorSet w[AGVK_NBIND];
    bool need_barrier = false;
    for (int i = 0; i < AGVK_NBIND; i++) {
        const vk_binding *b = &disp->bind[i];
        agi_buffer *buf = b->buf ? b->buf : d->dummy;
        VkDeviceSize off = b->buf ? b->off : 0, range = b->buf ? b->range : d->dummy->alloc;
        bi[i] = (VkDescriptorBufferInfo){buf->block->buffer, buf->offset + off, range};
        w[i] = (VkWriteDescriptorSet){
            .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
            .dstSet = set,
            .dstBinding = (uint32_t)i,
            .descriptorCount = 1,
            .descriptorType = VK_DESCRIPTOR_TYPE_STORAGE_BUFFER,
            .pBufferInfo = &bi[i],
        };
        if (b->buf && hazard(d, b->buf, b->write)) need_barrier = true;
    }
    vkUpdateDescriptorSets(d->dev, AGVK_NBIND, w, 0, NULL);
    if (need_barrier) vk_barrier(d, cb);
    for (int i = 0; i < AGVK_NBIND; i++)
        if (disp->bind[i].buf) mark(d, disp->bind[i].buf, disp->bind[i].write, seq);
    vkCmdBindPipeline(cb, VK_PIPELINE_BIND_POINT_COMPUTE, pipe);
    vkCmdBindDescriptorSets(cb, VK_PIPELINE_BIND_POINT_COMPUTE, d->layout, 0, 1, &set, 0, NULL);
    if (disp->push_bytes)
        vkCmdPushConstants(cb, d->layout, VK_SHADER_STAGE_COMPUTE_BIT, 0, disp->push_bytes, disp->push);
    vkCmdDispatch(cb, disp->groups[0], disp->groups[1], disp->groups[2]);
    if (d->rec) d->rec->dispatches++;
    else d->n_dispatches++;
    return vk_after_record(d);
}

ag_status vk_copy_buffer(agi_backend_device *d, agi_buffer *src, VkDeviceSize soff, agi_buffer *dst,
                         VkDeviceSize doff, VkDeviceSize n)
{
    ag_status st = ensure_room(d, 0);
    if (st != AG_OK) return st;
    vk_batch *bt = d->rec ? NULL : &d->batches[d->cur];
    VkCommandBuffer cb = bt ? bt->cb : d->rec->cb;
    uint64_t seq = bt ? bt->seq : 0;
    if (hazard(d, src, false) || hazard(d, dst, true)) vk_barrier(d, cb);
    mark(d, src, false, seq);
    mark(d, dst, true, seq);
    VkBufferCopy c = {src->offset + soff, dst->offset + doff, n};
    vkCmdCopyBuffer(cb, src->block->buffer, dst->block->buffer, 1, &c);
    if (bt) {
        bt->sets++; /* counts toward the batch size */
        d->n_dispatches++;
    } else {
        d->rec->dispatches++;
    }
    return vk_after_record(d);
}

void vk_grid(agi_backend_device *d, uint64_t groups, uint32_t out[3])
{
    uint64_t maxx = d->props.limits.maxComputeWorkGroupCount[0];
    if (maxx > 65535) maxx = 65535;
    if (groups <= maxx) {
        out[0] = (uint32_t)groups;
        out[1] = 1;
    } else {
        /* balanced rows: at most out[1] - 1 idle workgroups (65,536 groups
         * as 65,535 x 2 would launch 65,534 empty ones) */
        out[1] = (uint32_t)((groups + maxx - 1) / maxx);
        out[0] = (uint32_t)((groups + out[1] - 1) / out[1]);
    }
    out[2] = 1;
}
