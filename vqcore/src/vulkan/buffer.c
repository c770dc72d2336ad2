/* buffer.c — device buffers, texel-buffer views and host transfers.
 *
 * Memory that is host-visible (every CPU device and integrated GPU) is
 * mapped once and written directly; otherwise transfers go through a
 * temporary staging buffer and a copy command.
 */
#include "vulkan_private.h"

static int
find_memory_type (vq_vk_context *ctx, uint32_t type_bits, VkMemoryPropertyFlags want)
{
  for (uint32_t i = 0; i < ctx->memory.memoryTypeCount; i++)
    if ((type_bits & (1u << i)) &&
        (ctx->memory.memoryTypes[i].propertyFlags & want) == want)
      return (int) i;
  return -1;
}

static gboolean
buffer_init (vq_vk_context *ctx, vq_vk_buffer *buffer, VkDeviceSize size,
             VkMemoryPropertyFlags const *preferences, guint n_preferences, GError **error)
{
  memset (buffer, 0, sizeof *buffer);
  VkBufferCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_CREATE_INFO,
    .size = size ? size : 16,
    .usage = VK_BUFFER_USAGE_STORAGE_TEXEL_BUFFER_BIT | VK_BUFFER_USAGE_UNIFORM_TEXEL_BUFFER_BIT |
             VK_BUFFER_USAGE_STORAGE_BUFFER_BIT | VK_BUFFER_USAGE_TRANSFER_SRC_BIT |
             VK_BUFFER_USAGE_TRANSFER_DST_BIT,
    .sharingMode = VK_SHARING_MODE_EXCLUSIVE,
  };
  if (!vq__vk_check (ctx->vk.vkCreateBuffer (ctx->device, &info, NULL, &buffer->buffer),
                     "creating a buffer", error))
    return FALSE;
  buffer->size = info.size;

  VkMemoryRequirements req;
  ctx->vk.vkGetBufferMemoryRequirements (ctx->device, buffer->buffer, &req);
  int type = -1;
  for (guint i = 0; i < n_preferences && type < 0; i++)
    type = find_memory_type (ctx, req.memoryTypeBits, preferences[i]);
  if (type < 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                 "Vulkan: no memory type fits a %" G_GUINT64_FORMAT "-byte buffer",
                 (guint64) size);
    vq__vk_buffer_clear (ctx, buffer);
    return FALSE;
  }
  /* Asking for more than the heap holds is invalid usage, not an error the
   * driver must report: refuse it here with a clear message. */
  VkDeviceSize heap = ctx->memory.memoryHeaps[ctx->memory.memoryTypes[type].heapIndex].size;
  if (req.size > heap) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                 "Vulkan: out of device memory: a buffer needs %" G_GUINT64_FORMAT
                 " bytes, the device's memory heap has %" G_GUINT64_FORMAT,
                 (guint64) req.size, (guint64) heap);
    vq__vk_buffer_clear (ctx, buffer);
    return FALSE;
  }
  VkMemoryAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_ALLOCATE_INFO,
    .allocationSize = req.size,
    .memoryTypeIndex = (uint32_t) type,
  };
  char *what = g_strdup_printf ("allocating %" G_GUINT64_FORMAT " bytes of device memory",
                                (guint64) req.size);
  gboolean ok = vq__vk_check (ctx->vk.vkAllocateMemory (ctx->device, &alloc, NULL,
                                                        &buffer->memory),
                              what, error);
  g_free (what);
  if (!ok || !vq__vk_check (ctx->vk.vkBindBufferMemory (ctx->device, buffer->buffer,
                                                        buffer->memory, 0),
                            "binding buffer memory", error)) {
    vq__vk_buffer_clear (ctx, buffer);
    return FALSE;
  }

  VkMemoryPropertyFlags flags = ctx->memory.memoryTypes[type].propertyFlags;
  buffer->coherent = (flags & VK_MEMORY_PROPERTY_HOST_COHERENT_BIT) != 0;
  buffer->cached = (flags & VK_MEMORY_PROPERTY_HOST_CACHED_BIT) != 0;
  if ((flags & VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT) &&
      !vq__vk_check (ctx->vk.vkMapMemory (ctx->device, buffer->memory, 0, VK_WHOLE_SIZE, 0,
                                          &buffer->mapped),
                     "mapping device memory", error)) {
    vq__vk_buffer_clear (ctx, buffer);
    return FALSE;
  }
  return TRUE;
}

gboolean
vq__vk_buffer_init (vq_vk_context *ctx, vq_vk_buffer *buffer, VkDeviceSize size,
                    bool host_visible, GError **error)
{
  static const VkMemoryPropertyFlags device_first[] = {
    VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT | VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT |
      VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
    VK_MEMORY_PROPERTY_DEVICE_LOCAL_BIT,
    0,
  };
  static const VkMemoryPropertyFlags host_first[] = {
    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT |
      VK_MEMORY_PROPERTY_HOST_CACHED_BIT,
    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT | VK_MEMORY_PROPERTY_HOST_COHERENT_BIT,
    VK_MEMORY_PROPERTY_HOST_VISIBLE_BIT,
  };
  return host_visible ? buffer_init (ctx, buffer, size, host_first, 3, error)
                      : buffer_init (ctx, buffer, size, device_first, 3, error);
}

void
vq__vk_buffer_clear (vq_vk_context *ctx, vq_vk_buffer *buffer)
{
  if (buffer->mapped)
    ctx->vk.vkUnmapMemory (ctx->device, buffer->memory);
  if (buffer->buffer)
    ctx->vk.vkDestroyBuffer (ctx->device, buffer->buffer, NULL);
  if (buffer->memory)
    ctx->vk.vkFreeMemory (ctx->device, buffer->memory, NULL);
  memset (buffer, 0, sizeof *buffer);
}

static gboolean
check_range (vq_vk_buffer *buffer, VkDeviceSize offset, VkDeviceSize size, GError **error)
{
  if (offset > buffer->size || size > buffer->size - offset) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "Vulkan: transfer of %" G_GUINT64_FORMAT " bytes at %" G_GUINT64_FORMAT
                 " exceeds a %" G_GUINT64_FORMAT "-byte buffer",
                 (guint64) size, (guint64) offset, (guint64) buffer->size);
    return FALSE;
  }
  return TRUE;
}

/* Copies between a buffer and a temporary host-visible one. */
static gboolean
staged_copy (vq_vk_context *ctx, vq_vk_buffer *buffer, VkDeviceSize offset, void *data,
             VkDeviceSize size, gboolean upload, GError **error)
{
  vq_vk_buffer staging;
  VkCommandBuffer cmd;
  gboolean ok;

  if (!vq__vk_buffer_init (ctx, &staging, size, true, error))
    return FALSE;
  if (upload)
    memcpy (staging.mapped, data, size);
  ok = vq__vk_command_begin (ctx, &cmd, error);
  if (ok) {
    VkBufferCopy region = {
      .srcOffset = upload ? 0 : offset,
      .dstOffset = upload ? offset : 0,
      .size = size,
    };
    ctx->vk.vkCmdCopyBuffer (cmd, upload ? staging.buffer : buffer->buffer,
                             upload ? buffer->buffer : staging.buffer, 1, &region);
    ok = vq__vk_command_submit (ctx, cmd, FALSE, error);
  }
  if (ok && !upload) {
    if (!staging.coherent) {
      VkMappedMemoryRange range = {
        .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
        .memory = staging.memory,
        .size = VK_WHOLE_SIZE,
      };
      ctx->vk.vkInvalidateMappedMemoryRanges (ctx->device, 1, &range);
    }
    memcpy (data, staging.mapped, size);
  }
  vq__vk_buffer_clear (ctx, &staging);
  return ok;
}

gboolean
vq__vk_buffer_write (vq_vk_context *ctx, vq_vk_buffer *buffer, VkDeviceSize offset,
                     const void *data, VkDeviceSize size, GError **error)
{
  if (!check_range (buffer, offset, size, error))
    return FALSE;
  if (size == 0)
    return TRUE;
  if (!buffer->mapped)
    return staged_copy (ctx, buffer, offset, (void *) data, size, TRUE, error);
  memcpy ((char *) buffer->mapped + offset, data, size);
  if (!buffer->coherent) {
    VkMappedMemoryRange range = {
      .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
      .memory = buffer->memory,
      .size = VK_WHOLE_SIZE,
    };
    return vq__vk_check (ctx->vk.vkFlushMappedMemoryRanges (ctx->device, 1, &range),
                         "flushing mapped memory", error);
  }
  return TRUE;
}

/* Largest read from uncached mapped memory done directly (see below). */
enum { UNCACHED_DIRECT_READ = 16384 };

gboolean
vq__vk_buffer_read (vq_vk_context *ctx, vq_vk_buffer *buffer, VkDeviceSize offset, void *data,
                    VkDeviceSize size, GError **error)
{
  if (!check_range (buffer, offset, size, error))
    return FALSE;
  if (size == 0)
    return TRUE;
  /* Device-local memory that the host can map but not cache (a GPU's BAR)
   * reads at PCIe round-trip speed: 1.7 MB of NanoDet outputs took 33 ms of
   * CPU on an H200 (13.7 ms per graph run with the copy, was 41). Small
   * reads (the decoder's counter and candidates) stay direct: a staged copy
   * is a submit and a wait, and cost the H200 ~1 ms per frame. */
  if (!buffer->mapped || (!buffer->cached && size > UNCACHED_DIRECT_READ))
    return staged_copy (ctx, buffer, offset, data, size, FALSE, error);
  if (!buffer->coherent) {
    VkMappedMemoryRange range = {
      .sType = VK_STRUCTURE_TYPE_MAPPED_MEMORY_RANGE,
      .memory = buffer->memory,
      .size = VK_WHOLE_SIZE,
    };
    if (!vq__vk_check (ctx->vk.vkInvalidateMappedMemoryRanges (ctx->device, 1, &range),
                       "invalidating mapped memory", error))
      return FALSE;
  }
  memcpy (data, (const char *) buffer->mapped + offset, size);
  return TRUE;
}

gboolean
vq__vk_buffer_view (vq_vk_context *ctx, vq_vk_buffer *buffer, VkFormat format,
                    VkDeviceSize offset, VkDeviceSize range, VkBufferView *view, GError **error)
{
  VkBufferViewCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_BUFFER_VIEW_CREATE_INFO,
    .buffer = buffer->buffer,
    .format = format,
    .offset = offset,
    .range = range,
  };
  return vq__vk_check (ctx->vk.vkCreateBufferView (ctx->device, &info, NULL, view),
                       "creating a texel-buffer view", error);
}
