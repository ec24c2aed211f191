/* backends/vulkan/vk_memory.c — device memory: a caching allocator in the
 * style of PyTorch's CUDA allocator, over large VkDeviceMemory blocks (each
 * with one VkBuffer spanning it).
 *
 * - Small buffers (up to half a block) are sub-allocated first-fit from a
 *   sorted, coalescing free list per block; larger ones get a dedicated block,
 *   its size rounded up to 2 MiB so that similar sizes share cached blocks.
 * - Device buffers are reused in stream order: a buffer freed while queued
 *   work still uses it returns to its block at once, tagged with the batch
 *   seq and barrier epoch of its last use (vk_range); the next buffer carved
 *   there inherits the tags, so the one queue orders the new use after the
 *   old one (a barrier when needed) and the host waits or stages behind it.
 *   The pool therefore never grows with how far the host runs ahead; the
 *   ring of command batches is the backpressure (begin_batch waits for the
 *   oldest batch).
 * - Empty blocks stay cached: a training step in steady state never calls
 *   vkAllocateMemory. On out-of-memory, the cache is given back to the
 *   driver (after waiting for all work) and the allocation is retried;
 *   ag_device_empty_cache does the same on request.
 * - Host staging buffers are reused only once their batch has finished (the
 *   host writes them directly). Device buffers of at most 64 bytes live
 *   there too, so reading a loss or a status word is a memcpy. */
#include "vk_internal.h"

#include <stdlib.h>
#include <string.h>

#define AGVK_LARGE_ROUND ((VkDeviceSize)2 << 20)
/* Device buffers this small (a loss, a scalar, the front end's error word)
 * live in host-visible memory: the host reads them with a memcpy once their
 * work is done, instead of a staging copy and one more submit and wait. */
#define AGVK_SMALL_HOST_BYTES 64

static VkDeviceSize round_up(VkDeviceSize x, VkDeviceSize a) { return (x + a - 1) / a * a; }
static uint64_t max_u64(uint64_t a, uint64_t b) { return a > b ? a : b; }

ag_status vk_mem_init(agi_backend_device *d)
{
    VkDeviceSize a = d->props.limits.minStorageBufferOffsetAlignment;
    if (a < 16) a = 16;
    d->align = a;
    d->block_size = 64u << 20;
    if (d->heap_size && d->block_size > d->heap_size / 8) d->block_size = round_up(d->heap_size / 8, 1u << 20);
    if (d->block_size < (4u << 20)) d->block_size = 4u << 20;
    return vk_buffer_new(d, 256, false, &d->dummy);
}

static void block_destroy(agi_backend_device *d, vk_block *b)
{
    if (b->mapped) vkUnmapMemory(d->dev, b->mem);
    if (b->buffer) vkDestroyBuffer(d->dev, b->buffer, NULL);
    if (b->mem) {
        vkFreeMemory(d->dev, b->mem, NULL);
        d->n_driver_frees++;
        if (!b->host) d->heap_used -= b->size;
    }
    while (b->free) {
        vk_range *r = b->free;
        b->free = r->next;
        free(r);
    }
    free(b);
}

void vk_mem_destroy(agi_backend_device *d)
{
    if (d->dummy) {
        vk_buffer_release(d, d->dummy);
        d->dummy = NULL;
    }
    vk_reclaim(d);
    for (size_t i = 0; i < d->n_deferred; i++) free(d->deferred[i].buf);
    free(d->deferred);
    d->deferred = NULL;
    d->n_deferred = 0;
    vk_block **lists[2] = {&d->blocks, &d->host_blocks};
    for (int l = 0; l < 2; l++) {
        while (*lists[l]) {
            vk_block *b = *lists[l];
            *lists[l] = b->next;
            block_destroy(d, b);
        }
    }
}

static ag_status block_new(agi_backend_device *d, VkDeviceSize size, bool host, vk_block **out)
{
    *out = NULL;
    uint32_t type = host ? d->host_type : d->dev_type;
    if (!host && d->heap_size && d->heap_used + size > d->heap_size - d->heap_size / 16)
        return agi_set_error(AG_ERR_OOM, "vulkan: out of device memory (%llu bytes in use, %llu more asked)",
                             (unsigned long long)d->heap_used, (unsigned long long)size);
    vk_block *b = calloc(1, sizeof *b);
    vk_range *r = calloc(1, sizeof *r);
    if (!b || !r) {
        free(b);
        free(r);
        return agi_set_error(AG_ERR_OOM, "vulkan: host out of memory");
    }
    b->host = host;
    b->size = size;
    VkBufferCreateInfo bci = {
        .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
        .size = size,
        .usage = VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
                 VK_BUFFER_USAGE_TRANSFER_DST_BIT,
        .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
    };
    ag_status st;
    VkResult vr = vkCreateBuffer(d->dev, &bci, NULL, &b->buffer);
    if (vr != VK_SUCCESS) {
        st = vk_check(vr, "vkCreateBuffer");
        goto fail;
    }
    VkMemoryRequirements req;
    vkGetBufferMemoryRequirements(d->dev, b->buffer, &req);
    if (!(req.memoryTypeBits & (1u << type))) {
        st = agi_set_error(AG_ERR_DEVICE, "vulkan: storage buffers cannot use memory type %u", type);
        goto fail;
    }
    VkMemoryAllocateInfo mai = {
        .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
        .allocationSize = req.size,
        .memoryTypeIndex = type,
    };
    vr = vkAllocateMemory(d->dev, &mai, NULL, &b->mem);
    if (vr != VK_SUCCESS) {
        b->mem = VK_NULL_HANDLE;
        st = vr == VK_ERROR_OUT_OF_DEVICE_MEMORY || vr == VK_ERROR_OUT_OF_HOST_MEMORY
                 ? agi_set_error(AG_ERR_OOM, "vulkan: out of device memory allocating %llu bytes",
                                 (unsigned long long)size)
                 : vk_check(vr, "vkAllocateMemory");
        goto fail;
    }
    d->n_driver_allocs++;
    d->driver_alloc_bytes += size;
    if (!host) d->heap_used += size;
    if ((vr = vkBindBufferMemory(d->dev, b->buffer, b->mem, 0)) != VK_SUCCESS) {
        st = vk_check(vr, "vkBindBufferMemory");
        goto fail;
    }
    if (host || d->dev_mappable) {
        void *p = NULL;
        if ((vr = vkMapMemory(d->dev, b->mem, 0, VK_WHOLE_SIZE, 0, &p)) != VK_SUCCESS) {
            st = vk_check(vr, "vkMapMemory");
            goto fail;
        }
        b->mapped = p;
    }
    r->off = 0;
    r->size = size;
    b->free = r;
    *out = b;
    return AG_OK;
fail:
    free(r);
    block_destroy(d, b);
    return st;
}

/* Takes `size` bytes first-fit; the range's tags go to *seq and *epoch. */
static bool block_take(vk_block *b, VkDeviceSize size, VkDeviceSize *off, uint64_t *seq, uint64_t *epoch)
{
    for (vk_range **pr = &b->free; *pr; pr = &(*pr)->next) {
        vk_range *r = *pr;
        if (r->size < size) continue;
        *off = r->off;
        *seq = r->seq;
        *epoch = r->epoch;
        r->off += size;
        r->size -= size;
        if (r->size == 0) {
            *pr = r->next;
            free(r);
        }
        b->used += size;
        return true;
    }
    return false;
}

/* Returns a range to the block's free list, coalescing (merged ranges keep
 * the larger tags). */
static void block_give(vk_block *b, VkDeviceSize off, VkDeviceSize size, uint64_t seq, uint64_t epoch)
{
    b->used -= size;
    vk_range *prev = NULL, *next = b->free;
    while (next && next->off < off) {
        prev = next;
        next = next->next;
    }
    if (prev && prev->off + prev->size == off) {
        prev->size += size;
        prev->seq = max_u64(prev->seq, seq);
        prev->epoch = max_u64(prev->epoch, epoch);
        if (next && prev->off + prev->size == next->off) {
            prev->size += next->size;
            prev->seq = max_u64(prev->seq, next->seq);
            prev->epoch = max_u64(prev->epoch, next->epoch);
            prev->next = next->next;
            free(next);
        }
        return;
    }
    if (next && off + size == next->off) {
        next->off = off;
        next->size += size;
        next->seq = max_u64(next->seq, seq);
        next->epoch = max_u64(next->epoch, epoch);
        return;
    }
    vk_range *r = malloc(sizeof *r);
    if (!r) return; /* the range is lost until the block dies; never corrupts */
    *r = (vk_range){.off = off, .size = size, .seq = seq, .epoch = epoch, .next = next};
    if (prev) prev->next = r;
    else b->free = r;
}

/* Finds room for buf->alloc bytes (a dedicated block may enlarge it). */
static ag_status try_alloc(agi_backend_device *d, bool host, agi_buffer *buf, uint64_t *seq, uint64_t *epoch)
{
    vk_block **list = host ? &d->host_blocks : &d->blocks;
    VkDeviceSize bs = host ? (8u << 20) : d->block_size;
    VkDeviceSize size = buf->alloc;
    if (size > bs / 2) {
        /* Large: the best-fitting cached empty dedicated block within 1/8 of
         * the rounded size, else a new one. */
        VkDeviceSize want = round_up(size, AGVK_LARGE_ROUND);
        vk_block *best = NULL;
        for (vk_block *b = *list; b; b = b->next)
            if (b->dedicated && b->used == 0 && b->size >= want && b->size - want <= want / 8 &&
                (!best || b->size < best->size))
                best = b;
        if (!best) {
            ag_status st = block_new(d, want, host, &best);
            if (st != AG_OK) return st;
            best->dedicated = true;
            best->next = *list;
            *list = best;
        }
        buf->alloc = best->size;
        block_take(best, best->size, &buf->offset, seq, epoch);
        buf->block = best;
        return AG_OK;
    }
    for (vk_block *b = *list; b; b = b->next) {
        if (b->dedicated || b->size - b->used < size) continue;
        if (block_take(b, size, &buf->offset, seq, epoch)) {
            buf->block = b;
            return AG_OK;
        }
    }
    vk_block *b;
    ag_status st = block_new(d, bs, host, &b);
    if (st != AG_OK) return st;
    block_take(b, size, &buf->offset, seq, epoch);
    b->next = *list;
    *list = b;
    buf->block = b;
    return AG_OK;
}

ag_status vk_buffer_new(agi_backend_device *d, size_t nbytes, bool host, agi_buffer **out)
{
    *out = NULL;
    if (nbytes == 0) nbytes = 4;
    if (nbytes > ((size_t)1 << 46))
        return agi_set_error(AG_ERR_OOM, "vulkan: cannot allocate %zu bytes", nbytes);
    agi_buffer *buf = calloc(1, sizeof *buf);
    if (!buf) return agi_set_error(AG_ERR_OOM, "vulkan: host out of memory");
    buf->alloc = round_up(nbytes, d->align);
    uint64_t seq = 0, epoch = 0;
    ag_status st = AG_ERR_OOM, before = ag_last_status();
    if (!host && nbytes <= AGVK_SMALL_HOST_BYTES && try_alloc(d, true, buf, &seq, &epoch) == AG_OK) {
        host = true; /* else: device memory, as for any buffer */
        st = AG_OK;
    }
    if (st != AG_OK) st = try_alloc(d, host, buf, &seq, &epoch);
    if (st == AG_ERR_OOM) {
        /* Cached blocks and finished staging buffers go back to the driver. */
        vk_mem_trim(d);
        buf->alloc = round_up(nbytes, d->align);
        st = try_alloc(d, host, buf, &seq, &epoch);
    }
    if (st != AG_OK) {
        free(buf);
        return st;
    }
    /* A failed attempt (host-visible memory for a small buffer, or before the
     * cache was trimmed) left its message: the allocation succeeded. */
    if (before == AG_OK) ag_clear_error();
    buf->size = nbytes;
    /* The memory's previous user may still be queued: inherit its tags. */
    buf->last_use = seq;
    buf->wr_epoch = epoch;
    if (!host) d->in_use += buf->alloc;
    *out = buf;
    return AG_OK;
}

static void buffer_free_now(agi_backend_device *d, agi_buffer *buf)
{
    if (!buf->block->host) d->in_use -= buf->alloc;
    block_give(buf->block, buf->offset, buf->alloc, buf->last_use, max_u64(buf->rd_epoch, buf->wr_epoch));
    free(buf);
}

void vk_buffer_release(agi_backend_device *d, agi_buffer *buf)
{
    if (!buf) return;
    /* A temporary of a list being recorded (small ones live in the host
     * pool) stays with the list; if it cannot, the list is discarded unrun
     * and the buffer is freed now. */
    if (d->rec && vk_rec_keep(d, buf) == AG_OK) return;
    if (!buf->block->host) {
        buffer_free_now(d, buf); /* reused in stream order */
        return;
    }
    vk_poll(d);
    if (buf->last_use > d->done_seq) {
        if (d->n_deferred == d->cap_deferred) {
            size_t cap = d->cap_deferred ? 2 * d->cap_deferred : 64;
            vk_deferred *nd = realloc(d->deferred, cap * sizeof *nd);
            if (!nd) {
                /* Cannot defer: wait for the work, then free. */
                vk_wait_seq(d, buf->last_use);
                buffer_free_now(d, buf);
                return;
            }
            d->deferred = nd;
            d->cap_deferred = cap;
        }
        d->deferred[d->n_deferred++] = (vk_deferred){buf, buf->last_use};
        return;
    }
    buffer_free_now(d, buf);
}

void vk_reclaim(agi_backend_device *d)
{
    vk_poll(d);
    size_t k = 0;
    for (size_t i = 0; i < d->n_deferred; i++) {
        if (d->deferred[i].seq <= d->done_seq) buffer_free_now(d, d->deferred[i].buf);
        else d->deferred[k++] = d->deferred[i];
    }
    d->n_deferred = k;
}

ag_status vk_mem_trim(agi_backend_device *d)
{
    ag_status st = vk_wait_all(d);
    if (st != AG_OK) return st; /* blocks may still be in use: keep them */
    vk_reclaim(d);
    vk_block **lists[2] = {&d->blocks, &d->host_blocks};
    for (int l = 0; l < 2; l++)
        for (vk_block **p = lists[l]; *p;) {
            vk_block *b = *p;
            if (b->used == 0) {
                *p = b->next;
                block_destroy(d, b);
            } else {
                p = &b->next;
            }
        }
    return st;
}

ag_status vk_write(agi_backend_device *d, agi_buffer *b, size_t off, const void *src, size_t n)
{
    if (!b || off > b->size || n > b->size - off)
        return agi_set_error(AG_ERR_INVALID, "vulkan: write out of buffer bounds");
    if (n == 0) return AG_OK;
    vk_reclaim(d);
    if (b->block->mapped && b->last_use <= d->done_seq) {
        memcpy(b->block->mapped + b->offset + off, src, n);
        return AG_OK;
    }
    /* Queued work still uses the buffer (or it is not mappable): stage the data
     * and copy it in stream order. */
    agi_buffer *stg;
    ag_status st = vk_buffer_new(d, n, true, &stg);
    if (st != AG_OK) return st;
    memcpy(stg->block->mapped + stg->offset, src, n);
    st = vk_copy_buffer(d, stg, 0, b, off, n);
    vk_buffer_release(d, stg);
    return st;
}

ag_status vk_read(agi_backend_device *d, agi_buffer *b, size_t off, void *dst, size_t n)
{
    if (!b || off > b->size || n > b->size - off)
        return agi_set_error(AG_ERR_INVALID, "vulkan: read out of buffer bounds");
    if (n == 0) return AG_OK;
    ag_status st;
    if (b->block->mapped) {
        uint64_t last = b->last_use;
        if (last > d->done_seq && (st = vk_wait_seq(d, last)) != AG_OK) return st;
        memcpy(dst, b->block->mapped + b->offset + off, n);
        return AG_OK;
    }
    agi_buffer *stg;
    if ((st = vk_buffer_new(d, n, true, &stg)) != AG_OK) return st;
    st = vk_copy_buffer(d, b, off, stg, 0, n);
    if (st == AG_OK) st = vk_wait_seq(d, stg->last_use);
    if (st == AG_OK) memcpy(dst, stg->block->mapped + stg->offset, n);
    vk_buffer_release(d, stg);
    return st;
}
