/* ops.c — pipelines and dispatch sizes for pool2d.comp, resize.comp and
 * eltwise.comp. Each shader runs one invocation per output texel (4
 * channels of one pixel): x = pixel, y = plane. */
#include "ops.h"

#include "layout.h"

static uint32_t
float_bits (float f)
{
  union {
    float f;
    uint32_t u;
  } bits = {.f = f};
  return bits.u;
}

/* Specialization constants of resize.comp for RESIZE node `resize`, written
 * by it into `out` (an ADD's output when it is fused into that add). */
static uint32_t
resize_spec (const vq_node *resize, const vq_vk_place *in, const vq_vk_place *out,
             uint32_t *spec)
{
  const vq_resize_params *p = &resize->p.resize;
  uint32_t values[] = {64, (uint32_t) in->h, (uint32_t) in->w, (uint32_t) in->plane0,
                       (uint32_t) vq__vk_planes (out->c), (uint32_t) out->h, (uint32_t) out->w,
                       (uint32_t) out->plane0, p->mode == VQ_RESIZE_NEAREST, p->align_corners,
                       p->half_pixel_centers};
  memcpy (spec, values, sizeof values);
  return G_N_ELEMENTS (values);
}

/* Specialization constants of eltwise.comp: out = act(a [+ b]). */
static uint32_t
eltwise_spec (const vq_node *node, const vq_vk_place *a, const vq_vk_place *b,
              const vq_vk_place *out, uint32_t *spec)
{
  uint32_t values[] = {64, (uint32_t) (out->h * out->w), (uint32_t) vq__vk_planes (out->c),
                       (uint32_t) a->plane0, (uint32_t) b->plane0, (uint32_t) out->plane0,
                       (uint32_t) node->act, float_bits (node->act_alpha), (uint32_t) out->c};
  memcpy (spec, values, sizeof values);
  return G_N_ELEMENTS (values);
}

gboolean
vq__vk_op_init (vq_vk_context *ctx, vq_vk_op *op, const vq_graph *graph, const vq_node *node,
                int32_t fused_resize, const vq_vk_plan *plan, VkDescriptorPool pool,
                const VkBufferView *views, GError **error)
{
  static const VkDescriptorType storage[3] = {VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER,
                                              VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER,
                                              VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER};
  const vq_vk_place *in = &plan->values[node->inputs[0]];
  const vq_vk_place *out = &plan->values[node->outputs[0]];
  uint32_t spec[16] = {64};
  uint32_t n_spec = 0, n_bindings = 2;
  const char *shader;
  VkBufferView bound[3] = {views[in->root], views[out->root], VK_NULL_HANDLE};

  memset (op, 0, sizeof *op);
  op->dispatch[0] = (uint32_t) ((out->h * out->w + 63) / 64);
  op->dispatch[1] = (uint32_t) vq__vk_planes (out->c);

  switch (node->op) {
  case VQ_OP_MAX_POOL:
  case VQ_OP_AVG_POOL: {
    const vq_pool_params *p = &node->p.pool;
    shader = node->op == VQ_OP_MAX_POOL ? "pool2d_max" : "pool2d_avg";
    uint32_t values[] = {64, (uint32_t) in->h, (uint32_t) in->w, (uint32_t) in->plane0,
                         (uint32_t) vq__vk_planes (out->c), (uint32_t) out->h, (uint32_t) out->w,
                         (uint32_t) out->plane0, (uint32_t) p->kernel_h, (uint32_t) p->kernel_w,
                         (uint32_t) p->stride_h, (uint32_t) p->stride_w, (uint32_t) p->pad_top,
                         (uint32_t) p->pad_left, float_bits (p->pad_value),
                         p->count_include_pad};
    n_spec = G_N_ELEMENTS (values);
    memcpy (spec, values, sizeof values);
    break;
  }
  case VQ_OP_RESIZE:
    shader = "resize";
    n_spec = resize_spec (node, in, out, spec);
    break;
  case VQ_OP_ADD:
    if (fused_resize >= 0) {
      /* out = act(resize(src) + addend), src being the resize's input. */
      const vq_node *resize = &graph->nodes[fused_resize];
      const vq_vk_place *src = &plan->values[resize->inputs[0]];
      uint32_t addend = node->inputs[node->inputs[0] == resize->outputs[0] ? 1 : 0];
      const vq_vk_place *b = &plan->values[addend];
      shader = "resize_add";
      n_spec = resize_spec (resize, src, out, spec);
      uint32_t values[] = {(uint32_t) b->plane0, (uint32_t) node->act,
                           float_bits (node->act_alpha), (uint32_t) out->c};
      memcpy (spec + n_spec, values, sizeof values);
      n_spec += G_N_ELEMENTS (values);
      bound[0] = views[src->root];
      bound[2] = views[b->root];
    } else {
      const vq_vk_place *b = &plan->values[node->inputs[1]];
      shader = "eltwise_add";
      n_spec = eltwise_spec (node, in, b, out, spec);
      bound[2] = views[b->root];
    }
    n_bindings = 3;
    break;
  case VQ_OP_ACTIVATION:
    shader = "eltwise_activation";
    n_spec = eltwise_spec (node, in, in, out, spec);
    break;
  default:
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "Vulkan backend: no shader for node %s (%s)", node->name,
                 vq_op_name (node->op));
    return FALSE;
  }

  op->shader = shader;
  if (!vq__vk_pipeline_init (ctx, &op->pipeline, shader, storage, n_bindings, spec, n_spec,
                             error))
    return FALSE;
  if (!vq__vk_descriptor_set (ctx, pool, &op->pipeline, bound, &op->set, error)) {
    vq__vk_op_clear (ctx, op);
    return FALSE;
  }
  return TRUE;
}

void
vq__vk_op_record (vq_vk_context *ctx, const vq_vk_op *op, VkCommandBuffer cmd)
{
  ctx->vk.vkCmdBindPipeline (cmd, VK_PIPELINE_BIND_POINT_COMPUTE, op->pipeline.pipeline);
  ctx->vk.vkCmdBindDescriptorSets (cmd, VK_PIPELINE_BIND_POINT_COMPUTE, op->pipeline.layout, 0,
                                   1, &op->set, 0, NULL);
  ctx->vk.vkCmdDispatch (cmd, op->dispatch[0], op->dispatch[1], 1);
}

void
vq__vk_op_clear (vq_vk_context *ctx, vq_vk_op *op)
{
  vq__vk_pipeline_clear (ctx, &op->pipeline);
  memset (op, 0, sizeof *op);
}
