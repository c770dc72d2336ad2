/* decode.c — NanoDet's detection head decoded on the device
 * (shaders/decode.comp): one dispatch per level over the outputs where the
 * network left them, candidates appended through an atomic counter, and
 * only the candidates read back, in vq_decode_outputs()'s order. The
 * command buffer is recorded once per engine; the threshold travels in the
 * counter buffer, so changing it recompiles nothing. */
#include "backend.h"

#include <stdlib.h>

enum { LOCAL = 64, N_SPEC = 10 };

struct vq_vk_decode_state {
  vq_vk_buffer counter;     /* [0] candidates written, [1] threshold bits */
  vq_vk_buffer candidates;  /* two RGBA32UI texels (float bits) per candidate */
  VkBufferView views[2];
  VkDescriptorPool pool;
  vq_vk_pipeline pipelines[VQ_MAX_LEVELS];
  VkCommandBuffer cmd;
  uint32_t capacity;
  bool unsupported;         /* the model's outputs are not in the shader's form */
};

void
vq__vk_decode_state_free (vq_vk_context *ctx, vq_vk_decode_state *s)
{
  if (!s)
    return;
  if (s->cmd)
    ctx->vk.vkFreeCommandBuffers (ctx->device, ctx->command_pool, 1, &s->cmd);
  for (int i = 0; i < 2; i++)
    if (s->views[i])
      ctx->vk.vkDestroyBufferView (ctx->device, s->views[i], NULL);
  for (int l = 0; l < VQ_MAX_LEVELS; l++)
    vq__vk_pipeline_clear (ctx, &s->pipelines[l]);
  if (s->pool)
    ctx->vk.vkDestroyDescriptorPool (ctx->device, s->pool, NULL);
  vq__vk_buffer_clear (ctx, &s->counter);
  vq__vk_buffer_clear (ctx, &s->candidates);
  g_free (s);
}

/* The shader handles NanoDet GFL heads whose outputs are [1, N, C] views of
 * C-channel, N-pixel values (NanoDet as imported: the graph ends in
 * transposes). Anything else is decoded on the host. */
static bool
supported (vq_vk_engine *e, const vq_model *model, vq_vk_output_place score[],
           vq_vk_output_place box[])
{
  const vq_decoder *dec = &model->decoder;
  if (dec->kind != VQ_DECODER_NANODET_GFL || dec->num_classes <= 0 || dec->reg_max < 0 ||
      dec->n_levels == 0 || dec->n_levels > VQ_MAX_LEVELS || model->input.width <= 0 ||
      model->input.height <= 0)
    return false;
  for (uint32_t l = 0; l < dec->n_levels; l++) {
    int32_t stride = dec->strides[l];
    if (stride <= 0 || dec->score_outputs[l] < 0 || dec->box_outputs[l] < 0 ||
        !vq__vk_engine_output_place (e, (uint32_t) dec->score_outputs[l], &score[l]) ||
        !vq__vk_engine_output_place (e, (uint32_t) dec->box_outputs[l], &box[l]))
      return false;
    int64_t cells = (int64_t) ((model->input.width + stride - 1) / stride) *
                    ((model->input.height + stride - 1) / stride);
    if (!score[l].transposed || !box[l].transposed || score[l].hw != cells ||
        box[l].hw != cells || score[l].c != dec->num_classes ||
        box[l].c != 4 * (dec->reg_max + 1))
      return false;
  }
  return true;
}

static gboolean
build (vq_vk_context *ctx, vq_vk_decode_state *s, const vq_model *model,
       const vq_vk_output_place score[], const vq_vk_output_place box[], GError **error)
{
  static const VkDescriptorType bindings[] = {
    VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER,
    VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER};
  const vq_decoder *dec = &model->decoder;
  uint64_t capacity = 0;
  for (uint32_t l = 0; l < dec->n_levels; l++)
    capacity += (uint64_t) score[l].hw * dec->num_classes;
  if (capacity * 2 > ctx->properties.limits.maxTexelBufferElements) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "Vulkan: %" G_GUINT64_FORMAT " possible candidates exceed the device's "
                 "texel buffers", capacity);
    return FALSE;
  }
  s->capacity = (uint32_t) capacity;
  if (!vq__vk_buffer_init (ctx, &s->counter, 16, false, error) ||
      !vq__vk_buffer_init (ctx, &s->candidates, MAX (capacity, 1) * 32, false, error) ||
      !vq__vk_buffer_view (ctx, &s->counter, VK_FORMAT_R32_UINT, 0, VK_WHOLE_SIZE,
                           &s->views[0], error) ||
      !vq__vk_buffer_view (ctx, &s->candidates, VK_FORMAT_R32G32B32A32_UINT, 0,
                           VK_WHOLE_SIZE, &s->views[1], error) ||
      !vq__vk_descriptor_pool_init (ctx, &s->pool, dec->n_levels, error) ||
      !vq__vk_command_begin (ctx, &s->cmd, error))
    return FALSE;
  for (uint32_t l = 0; l < dec->n_levels; l++) {
    int32_t stride = dec->strides[l];
    union {
      float f;
      uint32_t u;
    } fstride = {.f = (float) stride};
    uint32_t spec[N_SPEC] = {
      LOCAL, (uint32_t) score[l].hw, (uint32_t) ((model->input.width + stride - 1) / stride),
      (uint32_t) dec->num_classes, (uint32_t) (dec->reg_max + 1), fstride.u,
      (uint32_t) score[l].plane0, (uint32_t) box[l].plane0, l, s->capacity,
    };
    VkBufferView views[4] = {score[l].view, box[l].view, s->views[0], s->views[1]};
    VkDescriptorSet set;
    if (!vq__vk_pipeline_init (ctx, &s->pipelines[l], "decode", bindings, 4, spec, N_SPEC,
                               error) ||
        !vq__vk_descriptor_set (ctx, s->pool, &s->pipelines[l], views, &set, error))
      return FALSE;
    ctx->vk.vkCmdBindPipeline (s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE,
                               s->pipelines[l].pipeline);
    ctx->vk.vkCmdBindDescriptorSets (s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE,
                                     s->pipelines[l].layout, 0, 1, &set, 0, NULL);
    ctx->vk.vkCmdDispatch (s->cmd, ((uint32_t) score[l].hw + LOCAL - 1) / LOCAL, 1, 1);
  }
  vq__vk_command_barrier (ctx, s->cmd);
  return vq__vk_command_end (ctx, s->cmd, error);
}

typedef struct {
  float v[8]; /* cell, class, score, x, y, w, h, level */
} candidate;

/* vq_decode_outputs()'s order: level, then cell, then class. */
static int
compare_candidates (const void *a, const void *b)
{
  const candidate *x = a, *y = b;
  for (int k = 0; k < 3; k++) {
    int i = k == 0 ? 7 : k - 1; /* level, cell, class */
    if (x->v[i] != y->v[i])
      return x->v[i] < y->v[i] ? -1 : 1;
  }
  return 0;
}

gboolean
vq__vk_engine_decode (vq_vk_engine *e, const vq_model *model, const vq_decode_options *options,
                      GArray *out, gboolean *done, GError **error)
{
  vq_vk_decode_state **slot;
  vq_vk_context *ctx = vq__vk_engine_context (e, &slot);
  vq_vk_output_place score[VQ_MAX_LEVELS], box[VQ_MAX_LEVELS];

  *done = FALSE;
  if (*slot && (*slot)->unsupported)
    return TRUE;
  if (!*slot) {
    *slot = g_new0 (vq_vk_decode_state, 1);
    if (!supported (e, model, score, box)) {
      (*slot)->unsupported = true;
      return TRUE;
    }
    if (!build (ctx, *slot, model, score, box, error)) {
      vq__vk_decode_state_free (ctx, *slot);
      *slot = NULL;
      return FALSE;
    }
  }
  vq_vk_decode_state *s = *slot;
  union {
    float f;
    uint32_t u;
  } threshold = {.f = options->score_threshold};
  uint32_t header[4] = {0, threshold.u, 0, 0}, count = 0;
  if (!vq__vk_buffer_write (ctx, &s->counter, 0, header, sizeof header, error) ||
      !vq__vk_command_run (ctx, s->cmd, error) ||
      !vq__vk_buffer_read (ctx, &s->counter, 0, &count, sizeof count, error))
    return FALSE;
  if (count > s->capacity) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                 "Vulkan: the decoder wrote %u candidates into room for %u", count,
                 s->capacity);
    return FALSE;
  }
  candidate *list = g_new (candidate, MAX (count, 1));
  if (count && !vq__vk_buffer_read (ctx, &s->candidates, 0, list, (VkDeviceSize) count * 32,
                                    error)) {
    g_free (list);
    return FALSE;
  }
  qsort (list, count, sizeof *list, compare_candidates);
  for (uint32_t i = 0; i < count; i++) {
    const float *v = list[i].v;
    vq_detection d = {
      .class_id = (int32_t) v[1], .confidence = v[2], .x = v[3], .y = v[4], .w = v[5],
      .h = v[6],
    };
    g_array_append_val (out, d);
  }
  g_free (list);
  *done = TRUE;
  return TRUE;
}
