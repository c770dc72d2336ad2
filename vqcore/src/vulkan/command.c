/* command.c — command buffers: record, submit, wait. */
#include "vulkan_private.h"

gboolean
vq__vk_command_begin (vq_vk_context *ctx, VkCommandBuffer *cmd, GError **error)
{
  VkCommandBufferAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_ALLOCATE_INFO,
    .commandPool = ctx->command_pool,
    .level = VK_COMMAND_BUFFER_LEVEL_PRIMARY,
    .commandBufferCount = 1,
  };
  VkCommandBufferBeginInfo begin = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_BUFFER_BEGIN_INFO,
  };
  if (!vq__vk_check (ctx->vk.vkAllocateCommandBuffers (ctx->device, &alloc, cmd),
                     "allocating a command buffer", error))
    return FALSE;
  if (!vq__vk_check (ctx->vk.vkBeginCommandBuffer (*cmd, &begin), "beginning commands",
                     error)) {
    ctx->vk.vkFreeCommandBuffers (ctx->device, ctx->command_pool, 1, cmd);
    return FALSE;
  }
  return TRUE;
}

gboolean
vq__vk_command_end (vq_vk_context *ctx, VkCommandBuffer cmd, GError **error)
{
  return vq__vk_check (ctx->vk.vkEndCommandBuffer (cmd), "recording commands", error);
}

gboolean
vq__vk_command_run (vq_vk_context *ctx, VkCommandBuffer cmd, GError **error)
{
  VkSubmitInfo submit = {
    .sType = VK_STRUCTURE_TYPE_SUBMIT_INFO,
    .commandBufferCount = 1,
    .pCommandBuffers = &cmd,
  };
  if (!vq__vk_check (ctx->vk.vkResetFences (ctx->device, 1, &ctx->fence), "resetting a fence",
                     error) ||
      !vq__vk_check (ctx->vk.vkQueueSubmit (ctx->queue, 1, &submit, ctx->fence),
                     "submitting commands", error))
    return FALSE;
  return vq__vk_check (ctx->vk.vkWaitForFences (ctx->device, 1, &ctx->fence, VK_TRUE,
                                                UINT64_MAX),
                       "waiting for the device", error);
}

gboolean
vq__vk_command_submit (vq_vk_context *ctx, VkCommandBuffer cmd, gboolean keep, GError **error)
{
  gboolean ok = vq__vk_command_end (ctx, cmd, error) && vq__vk_command_run (ctx, cmd, error);
  if (!keep)
    ctx->vk.vkFreeCommandBuffers (ctx->device, ctx->command_pool, 1, &cmd);
  return ok;
}

void
vq__vk_command_barrier (vq_vk_context *ctx, VkCommandBuffer cmd)
{
  VkMemoryBarrier barrier = {
    .sType = VK_STRUCTURE_TYPE_MEMORY_BARRIER,
    .srcAccessMask = VK_ACCESS_SHADER_WRITE_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
    .dstAccessMask = VK_ACCESS_SHADER_READ_BIT | VK_ACCESS_SHADER_WRITE_BIT |
                     VK_ACCESS_TRANSFER_READ_BIT | VK_ACCESS_TRANSFER_WRITE_BIT,
  };
  ctx->vk.vkCmdPipelineBarrier (cmd,
                                VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                                  VK_PIPELINE_STAGE_TRANSFER_BIT,
                                VK_PIPELINE_STAGE_COMPUTE_SHADER_BIT |
                                  VK_PIPELINE_STAGE_TRANSFER_BIT,
                                0, 1, &barrier, 0, NULL, 0, NULL);
}
