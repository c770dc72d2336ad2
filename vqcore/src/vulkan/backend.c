/* backend.c — the whole graph on a Vulkan device (VQ_BACKEND_VULKAN).
 *
 * At creation: weights are uploaded once, activations are placed in one
 * arena (plan.c), every node gets its pipeline and descriptor set, and the
 * network is recorded once into a command buffer. A run only packs the input
 * into the arena, replays that command buffer and unpacks the outputs.
 */
#include "backend.h"

#include "conv.h"
#include "layout.h"
#include "ops.h"
#include "plan.h"

struct vq_vk_engine {
  vq_vk_context *ctx;
  const vq_graph *graph;
  vq_vk_plan plan;
  bool reuse;
  vq_vk_buffer arena;
  VkBufferView *views; /* per value id; roots only */
  VkDescriptorPool pool;
  vq_vk_conv *convs;   /* per node; used by conv nodes */
  vq_vk_op *ops;       /* per node; used by pool/resize/add/activation */
  VkCommandBuffer cmd;
  VkQueryPool timestamps; /* n_nodes + 1 queries, or VK_NULL_HANDLE */
  float *packed;          /* host staging for packing/unpacking */
  void *texels;           /* the same values in the arena's texel format */
  float **outputs;        /* per graph output, in its logical layout */
  double create_ms;
  vq_vk_frame_state *frame; /* device preprocessing (frame.c), made on first use */
  vq_vk_decode_state *decode; /* device decoding (decode.c), made on first use */
  bool outputs_stale;       /* the last run's outputs are not read back yet */
};

static gboolean
check_consumers (const vq_graph *graph, const vq_vk_plan *plan, GError **error)
{
  for (uint32_t t = 0; t < graph->n_nodes; t++) {
    const vq_node *node = &graph->nodes[t];
    for (uint32_t k = 0; k < node->n_inputs; k++)
      if (plan->values[node->inputs[k]].transposed && node->op != VQ_OP_RESHAPE) {
        g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                     "Vulkan backend: node %s reads a transposed tensor", node->name);
        return FALSE;
      }
  }
  return TRUE;
}

static VkDeviceSize
root_offset (const vq_vk_engine *e, uint32_t value)
{
  const vq_vk_place *p = &e->plan.values[value];
  const vq_vk_place *root = &e->plan.values[p->root];
  return e->plan.offsets[p->root] +
         (VkDeviceSize) p->plane0 * root->h * root->w * e->plan.texel_bytes;
}

static gboolean
create_views (vq_vk_engine *e, GError **error)
{
  e->views = g_new0 (VkBufferView, e->graph->n_values);
  for (uint32_t i = 0; i < e->graph->n_values; i++) {
    const vq_vk_place *p = &e->plan.values[i];
    if (p->root != (int32_t) i)
      continue;
    if (!vq__vk_buffer_view (e->ctx, &e->arena, vq__vk_activation_format (e->ctx),
                             e->plan.offsets[i], vq__vk_place_bytes (&e->plan, i), &e->views[i],
                             error))
      return FALSE;
  }
  return TRUE;
}

static gboolean
create_nodes (vq_vk_engine *e, GError **error)
{
  const vq_graph *graph = e->graph;

  e->convs = g_new0 (vq_vk_conv, graph->n_nodes);
  e->ops = g_new0 (vq_vk_op, graph->n_nodes);
  if (!vq__vk_descriptor_pool_init (e->ctx, &e->pool, MAX (graph->n_nodes, 1), error))
    return FALSE;
  /* Convs are prepared here and their pipelines built below, all at once:
   * that is where drivers compile (cold starts). */
  vq_vk_conv **convs = g_new (vq_vk_conv *, MAX (graph->n_nodes, 1));
  guint n_convs = 0;
  gboolean ok = TRUE;
  /* Resizes that an add computes itself and activations that a conv
   * applies itself (plan.h) never run. */
  gboolean *fused_away = g_new0 (gboolean, MAX (graph->n_nodes, 1));
  for (uint32_t t = 0; t < graph->n_nodes; t++) {
    if (e->plan.fused_resize[t] >= 0)
      fused_away[e->plan.fused_resize[t]] = TRUE;
    if (e->plan.fused_activation[t] >= 0)
      fused_away[e->plan.fused_activation[t]] = TRUE;
  }
  for (uint32_t t = 0; t < graph->n_nodes && ok; t++) {
    const vq_node *node = &graph->nodes[t];
    if (fused_away[t])
      continue; /* no dispatch: recorded as nothing */
    switch (node->op) {
    case VQ_OP_CONV2D: {
      const vq_vk_place *out = &e->plan.values[node->outputs[0]];
      vq_vk_conv_placement placement = {
        .in_plane0 = e->plan.values[node->inputs[0]].plane0,
        .out_plane0 = out->plane0,
      };
      if (e->plan.fused_activation[t] >= 0) {
        const vq_node *act = &graph->nodes[e->plan.fused_activation[t]];
        const vq_vk_place *part = &e->plan.values[act->inputs[0]];
        placement.activation = act;
        placement.act_plane0 = part->plane0 - out->plane0;
        placement.act_planes = vq__vk_planes (part->c);
      }
      ok = vq__vk_conv_prepare (e->ctx, &e->convs[t], graph, node, &placement,
                                VQ_VK_CONV_AUTO, error);
      convs[n_convs++] = &e->convs[t];
      break;
    }
    case VQ_OP_CONCAT:
    case VQ_OP_SPLIT:
    case VQ_OP_RESHAPE:
    case VQ_OP_TRANSPOSE:
      break; /* views (plan.c); concat copies are recorded below */
    default:
      ok = vq__vk_op_init (e->ctx, &e->ops[t], graph, node, e->plan.fused_resize[t], &e->plan,
                           e->pool, e->views, error);
      break;
    }
  }
  g_free (fused_away);
  ok = ok && vq__vk_conv_build_pipelines (e->ctx, convs, n_convs, error);
  g_free (convs);
  for (uint32_t t = 0; t < graph->n_nodes && ok; t++) {
    const vq_node *node = &graph->nodes[t];
    if (node->op == VQ_OP_CONV2D)
      ok = vq__vk_conv_bind (e->ctx, &e->convs[t], e->pool,
                             e->views[e->plan.values[node->inputs[0]].root],
                             e->views[e->plan.values[node->outputs[0]].root], error);
  }
  return ok;
}

static void
record_copies (vq_vk_engine *e, uint32_t node)
{
  for (uint32_t i = 0; i < e->plan.n_copies; i++) {
    const vq_vk_copy *copy = &e->plan.copies[i];
    if (copy->node != node)
      continue;
    uint32_t dst_value = e->graph->nodes[node].outputs[0];
    const vq_vk_place *src = &e->plan.values[copy->src];
    VkDeviceSize plane_bytes = (VkDeviceSize) src->h * src->w * e->plan.texel_bytes;
    VkBufferCopy region = {
      .srcOffset = root_offset (e, copy->src),
      .dstOffset = root_offset (e, dst_value) + (VkDeviceSize) copy->dst_plane0 * plane_bytes,
      .size = (VkDeviceSize) vq__vk_planes (src->c) * plane_bytes,
    };
    e->ctx->vk.vkCmdCopyBuffer (e->cmd, e->arena.buffer, e->arena.buffer, 1, &region);
  }
}

static gboolean
record (vq_vk_engine *e, GError **error)
{
  vq_vk_context *ctx = e->ctx;
  const vq_graph *graph = e->graph;

  if (ctx->timestamp_period_ns > 0) {
    VkQueryPoolCreateInfo info = {
      .sType = VK_STRUCTURE_TYPE_QUERY_POOL_CREATE_INFO,
      .queryType = VK_QUERY_TYPE_TIMESTAMP,
      .queryCount = graph->n_nodes + 1,
    };
    if (!vq__vk_check (ctx->vk.vkCreateQueryPool (ctx->device, &info, NULL, &e->timestamps),
                       "creating a timestamp query pool", error))
      return FALSE;
  }
  if (!vq__vk_command_begin (ctx, &e->cmd, error))
    return FALSE;
  if (e->timestamps) {
    ctx->vk.vkCmdResetQueryPool (e->cmd, e->timestamps, 0, graph->n_nodes + 1);
    ctx->vk.vkCmdWriteTimestamp (e->cmd, VK_PIPELINE_STAGE_TOP_OF_PIPE_BIT, e->timestamps, 0);
  }
  for (uint32_t t = 0; t < graph->n_nodes; t++) {
    const vq_node *node = &graph->nodes[t];
    gboolean recorded = TRUE;
    if (node->op == VQ_OP_CONV2D)
      vq__vk_conv_record (ctx, &e->convs[t], e->cmd);
    else if (node->op == VQ_OP_CONCAT)
      record_copies (e, t);
    else if (e->ops[t].pipeline.pipeline)
      vq__vk_op_record (ctx, &e->ops[t], e->cmd);
    else
      recorded = FALSE;
    /* One barrier per node: ~11 us each on lavapipe, and they order reuse of
     * arena memory as well as producer -> consumer. */
    if (recorded)
      vq__vk_command_barrier (ctx, e->cmd);
    if (e->timestamps)
      ctx->vk.vkCmdWriteTimestamp (e->cmd, VK_PIPELINE_STAGE_BOTTOM_OF_PIPE_BIT, e->timestamps,
                                   t + 1);
  }
  return vq__vk_command_end (ctx, e->cmd, error);
}

vq_vk_engine *
vq__vk_engine_new (const vq_graph *graph, const char *device, gboolean reuse, GError **error)
{
  return vq__vk_engine_new_full (graph, device, reuse, VQ_PRECISION_AUTO, FALSE, error);
}

vq_vk_engine *
vq__vk_engine_new_full (const vq_graph *graph, const char *device, gboolean reuse,
                        vq_precision precision, gboolean decline_cpu_device, GError **error)
{
  gint64 start = g_get_monotonic_time ();
  vq_vk_engine *e = g_new0 (vq_vk_engine, 1);
  e->graph = graph;
  e->reuse = reuse;
  e->ctx = vq__vk_context_new (device, error);
  if (!e->ctx)
    goto fail;
  char *declined = decline_cpu_device ? vq__vk_auto_declines (e->ctx) : NULL;
  if (declined) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND, "Vulkan: %s", declined);
    g_free (declined);
    goto fail;
  }

  const VkPhysicalDeviceLimits *limits = &e->ctx->properties.limits;
  VkDeviceSize alignment = MAX (MAX (limits->minTexelBufferOffsetAlignment,
                                     limits->minStorageBufferOffsetAlignment),
                                16);
  if (graph->n_inputs != 1) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "Vulkan backend: graphs with %u inputs are not supported", graph->n_inputs);
    goto fail;
  }
  if (!vq__vk_activations_choose (e->ctx, precision, error))
    goto fail;
  if (!vq__vk_plan_graph (graph, vq__vk_activation_texel_bytes (e->ctx), alignment, reuse,
                          &e->plan, error) ||
      !check_consumers (graph, &e->plan, error) ||
      !vq__vk_buffer_init (e->ctx, &e->arena, e->plan.arena_bytes, false, error) ||
      !create_views (e, error) || !create_nodes (e, error) || !record (e, error))
    goto fail;

  /* Zero the arena once: padding channels must read as 0 (every producer
   * keeps them 0 afterwards). */
  VkCommandBuffer clear;
  if (!vq__vk_command_begin (e->ctx, &clear, error))
    goto fail;
  e->ctx->vk.vkCmdFillBuffer (clear, e->arena.buffer, 0, VK_WHOLE_SIZE, 0);
  if (!vq__vk_command_submit (e->ctx, clear, FALSE, error))
    goto fail;

  gsize largest = 0;
  for (uint32_t i = 0; i < graph->n_values; i++) {
    const vq_vk_place *p = &e->plan.values[i];
    largest = MAX (largest, vq__vk_packed_floats (p->c, p->h, p->w));
  }
  e->packed = g_new0 (float, MAX (largest, 1));
  e->texels = g_malloc0 (MAX (largest, 1) * 4);
  e->outputs = g_new0 (float *, graph->n_outputs);
  for (uint32_t i = 0; i < graph->n_outputs; i++)
    e->outputs[i] = g_new0 (float, vq_shape_numel (&graph->values[graph->outputs[i]].shape));

  GError *cache_error = NULL;
  if (!vq__vk_pipeline_cache_save (e->ctx, &cache_error)) {
    /* A cache that cannot be written only makes the next start slower. */
    g_debug ("vqcore: Vulkan pipeline cache not saved: %s", cache_error->message);
    g_clear_error (&cache_error);
  }
  e->create_ms = (double) (g_get_monotonic_time () - start) / 1000.0;
  return e;

fail:
  vq__vk_engine_free (e);
  return NULL;
}

void
vq__vk_engine_free (vq_vk_engine *e)
{
  if (!e)
    return;
  vq_vk_context *ctx = e->ctx;
  if (ctx) {
    ctx->vk.vkDeviceWaitIdle (ctx->device);
    vq__vk_frame_state_free (ctx, e->frame);
    vq__vk_decode_state_free (ctx, e->decode);
    if (e->cmd)
      ctx->vk.vkFreeCommandBuffers (ctx->device, ctx->command_pool, 1, &e->cmd);
    if (e->timestamps)
      ctx->vk.vkDestroyQueryPool (ctx->device, e->timestamps, NULL);
    for (uint32_t t = 0; e->convs && t < e->graph->n_nodes; t++) {
      vq__vk_conv_clear (ctx, &e->convs[t]);
      vq__vk_op_clear (ctx, &e->ops[t]);
    }
    if (e->pool)
      ctx->vk.vkDestroyDescriptorPool (ctx->device, e->pool, NULL);
    for (uint32_t i = 0; e->views && i < e->graph->n_values; i++)
      if (e->views[i])
        ctx->vk.vkDestroyBufferView (ctx->device, e->views[i], NULL);
    vq__vk_buffer_clear (ctx, &e->arena);
  }
  for (uint32_t i = 0; e->outputs && i < e->graph->n_outputs; i++)
    g_free (e->outputs[i]);
  g_free (e->outputs);
  g_free (e->packed);
  g_free (e->texels);
  g_free (e->convs);
  g_free (e->ops);
  g_free (e->views);
  vq__vk_plan_clear (&e->plan);
  vq__vk_context_free (ctx);
  g_free (e);
}

/* Copies value `id` out of the arena into `out` in its logical layout. */
static gboolean
read_value (vq_vk_engine *e, uint32_t id, float *out, GError **error)
{
  const vq_vk_place *p = &e->plan.values[id];
  gsize floats = vq__vk_packed_floats (p->c, p->h, p->w);
  if (!vq__vk_buffer_read (e->ctx, &e->arena, root_offset (e, id), e->texels,
                           floats / 4 * e->plan.texel_bytes, error))
    return FALSE;
  vq__vk_decode_activations (e->ctx, e->packed, e->texels, floats);
  if (!p->transposed) {
    vq__vk_unpack (out, e->packed, p->c, p->h, p->w);
    return TRUE;
  }
  gsize hw = (gsize) p->h * p->w;
  for (gsize l = 0; l < hw; l++)
    for (int32_t c = 0; c < p->c; c++)
      out[l * p->c + c] = e->packed[((gsize) (c / 4) * hw + l) * 4 + c % 4];
  return TRUE;
}

/* Outputs are read back only when asked for: a detector that decodes on the
 * device (decode.c) never needs the 1.7 MB of NanoDet's raw outputs. */
static gboolean
ensure_outputs (vq_vk_engine *e, GError **error)
{
  if (!e->outputs_stale)
    return TRUE;
  for (uint32_t i = 0; i < e->graph->n_outputs; i++)
    if (!read_value (e, e->graph->outputs[i], e->outputs[i], error))
      return FALSE;
  e->outputs_stale = false;
  return TRUE;
}

/* For accessors without an error channel. */
static void
ensure_outputs_or_warn (vq_vk_engine *e)
{
  GError *error = NULL;
  if (!ensure_outputs (e, &error)) {
    g_warning ("vqcore: reading Vulkan outputs: %s", error->message);
    g_error_free (error);
  }
}

gboolean
vq__vk_engine_run_input_ready (vq_vk_engine *e, GError **error)
{
  e->outputs_stale = true;
  return vq__vk_command_run (e->ctx, e->cmd, error);
}

gboolean
vq__vk_engine_run (vq_vk_engine *e, const float *input, GError **error)
{
  uint32_t in = e->graph->inputs[0];
  const vq_vk_place *p = &e->plan.values[in];

  gsize floats = vq__vk_packed_floats (p->c, p->h, p->w);
  vq__vk_pack (e->packed, input, p->c, p->h, p->w);
  vq__vk_encode_activations (e->ctx, e->texels, e->packed, floats);
  return vq__vk_buffer_write (e->ctx, &e->arena, root_offset (e, in), e->texels,
                              floats / 4 * e->plan.texel_bytes, error) &&
         vq__vk_engine_run_input_ready (e, error);
}

vq_vk_input_target
vq__vk_engine_input_target (vq_vk_engine *e)
{
  const vq_vk_place *p = &e->plan.values[e->graph->inputs[0]];
  vq_vk_input_target target = {e->ctx, e->views[p->root], p->plane0, p->c, p->h, p->w,
                                &e->frame};
  return target;
}

const float *
vq__vk_engine_output (vq_vk_engine *e, uint32_t index)
{
  ensure_outputs_or_warn (e);
  return e->outputs[index];
}

vq_tensor_view
vq__vk_engine_output_view (vq_vk_engine *e, uint32_t index)
{
  ensure_outputs_or_warn (e);
  vq_tensor_view view = {e->graph->values[e->graph->outputs[index]].shape, e->outputs[index]};
  return view;
}

gboolean
vq__vk_engine_output_place (vq_vk_engine *e, uint32_t index, vq_vk_output_place *place)
{
  if (index >= e->graph->n_outputs)
    return FALSE;
  const vq_vk_place *p = &e->plan.values[e->graph->outputs[index]];
  place->view = e->views[p->root];
  place->plane0 = p->plane0;
  place->c = p->c;
  place->hw = p->h * p->w;
  place->transposed = p->transposed;
  return TRUE;
}

vq_vk_context *
vq__vk_engine_context (vq_vk_engine *e, vq_vk_decode_state ***decode)
{
  if (decode)
    *decode = &e->decode;
  return e->ctx;
}

gboolean
vq__vk_engine_read_value (vq_vk_engine *e, uint32_t id, float *out)
{
  gboolean kept = !e->reuse;
  for (uint32_t i = 0; i < e->graph->n_inputs; i++)
    kept |= e->graph->inputs[i] == id;
  for (uint32_t i = 0; i < e->graph->n_outputs; i++)
    kept |= e->graph->outputs[i] == id;
  return kept && read_value (e, id, out, NULL);
}

const char *
vq__vk_engine_device_name (const vq_vk_engine *e)
{
  return e->ctx->properties.deviceName;
}

gsize
vq__vk_engine_arena_bytes (const vq_vk_engine *e)
{
  return (gsize) e->plan.arena_bytes;
}

const char *
vq__vk_engine_activation_type (const vq_vk_engine *e)
{
  return e->ctx->fp16_activations ? "fp16" : "fp32";
}

double
vq__vk_engine_create_ms (const vq_vk_engine *e)
{
  return e->create_ms;
}

gboolean
vq__vk_engine_node_times (vq_vk_engine *e, double *ms)
{
  uint32_t n = e->graph->n_nodes + 1;
  if (!e->timestamps)
    return FALSE;
  uint64_t *ticks = g_new (uint64_t, n);
  VkResult result = e->ctx->vk.vkGetQueryPoolResults (e->ctx->device, e->timestamps, 0, n,
                                                      n * sizeof (uint64_t), ticks,
                                                      sizeof (uint64_t),
                                                      VK_QUERY_RESULT_64_BIT);
  if (result == VK_SUCCESS)
    for (uint32_t t = 0; t + 1 < n; t++)
      ms[t] = (double) (ticks[t + 1] - ticks[t]) * e->ctx->timestamp_period_ns * 1e-6;
  g_free (ticks);
  return result == VK_SUCCESS;
}

int64_t
vq__vk_engine_node_macs (const vq_vk_engine *e, uint32_t node)
{
  return e->graph->nodes[node].op == VQ_OP_CONV2D ? e->convs[node].macs : 0;
}

const char *
vq__vk_engine_node_shader (const vq_vk_engine *e, uint32_t node)
{
  if (e->graph->nodes[node].op == VQ_OP_CONV2D)
    return e->convs[node].shader;
  return e->ops[node].pipeline.pipeline ? e->ops[node].shader : NULL;
}
