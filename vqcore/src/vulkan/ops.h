/* ops.h — the non-conv nodes on the Vulkan device: pooling, resize, add and
 * standalone activations (concat, split, reshape and the final transpose
 * cost nothing: see plan.h). */
#ifndef VQ_VULKAN_OPS_H
#define VQ_VULKAN_OPS_H

#include "plan.h"

typedef struct {
  vq_vk_pipeline pipeline;
  VkDescriptorSet set;
  uint32_t dispatch[2];
  const char *shader; /* the pipeline's shader variant (static string) */
} vq_vk_op;

/* Builds the pipeline for `node` (its values placed by `plan`) and binds
 * `views` (one activation view per root value, indexed by value id). For an
 * ADD node, `fused_resize` is the RESIZE node it computes itself
 * (plan->fused_resize), or -1. */
gboolean vq__vk_op_init (vq_vk_context *ctx, vq_vk_op *op, const vq_graph *graph,
                         const vq_node *node, int32_t fused_resize, const vq_vk_plan *plan,
                         VkDescriptorPool pool, const VkBufferView *views, GError **error);
void vq__vk_op_record (vq_vk_context *ctx, const vq_vk_op *op, VkCommandBuffer cmd);
void vq__vk_op_clear (vq_vk_context *ctx, vq_vk_op *op);

#endif
