/* frame.c — preprocessing on the device (shaders/preprocess.comp): the
 * frame's bytes go up (planes packed without row padding), the shader writes
 * the normalised, letterboxed tensor straight into the network's input value,
 * and the network runs on it. The result matches vq_preprocess_frame()
 * (vqcore/src/detect/preprocess.c): same content rectangle, same sampling
 * tables (computed here with its formula), same colour constants.
 *
 * The pipeline is specialised for one frame geometry (format, size, content
 * rectangle) and rebuilt when it changes, which a video stream does not do. */
#include "backend.h"

#include <math.h>

#include "detect/detect_private.h"

enum { LOCAL = 64, N_SPEC = 30 };

/* BT.601 limited range, as in preprocess.c. */
#define KR 0.299
#define KB 0.114
#define KG (1.0 - KR - KB)
#define Y_SCALE (255.0 / 219.0)
#define C_SCALE (255.0 / 224.0)

struct vq_vk_frame_state {
  vq_vk_buffer bytes;        /* the frame, planes packed */
  vq_vk_buffer table;        /* column and row sampling tables (R32F) */
  VkBufferView views[3];     /* bytes, table, destination (not owned) */
  VkDescriptorPool pool;
  vq_vk_pipeline pipeline;
  VkDescriptorSet set;
  VkCommandBuffer cmd;
  uint32_t spec[N_SPEC];     /* the geometry the pipeline was built for */
  guint8 *staging;
  gsize staging_size;
};

static uint32_t
float_bits (float f)
{
  union {
    float f;
    uint32_t u;
  } v = {.f = f};
  return v.u;
}

/* i0, i1 and w1 for n_out outputs over n_src inputs, as axis_table_init() in
 * preprocess.c: s = (j + 0.5) * n_src / n_out - 0.5 in double, clamped. */
static void
axis_table (float *out, int32_t n_out, int32_t n_src)
{
  double ratio = (double) n_src / n_out;
  for (int32_t j = 0; j < n_out; j++) {
    double s = CLAMP ((j + 0.5) * ratio - 0.5, 0.0, (double) (n_src - 1));
    int32_t i0 = (int32_t) s;
    out[j] = (float) i0;
    out[n_out + j] = (float) MIN (i0 + 1, n_src - 1);
    out[2 * n_out + j] = (float) (s - i0);
  }
}

/* Releases everything built for the current geometry; keeps the staging
 * memory. */
static void
reset (vq_vk_context *ctx, vq_vk_frame_state *s)
{
  if (s->cmd)
    ctx->vk.vkFreeCommandBuffers (ctx->device, ctx->command_pool, 1, &s->cmd);
  for (int i = 0; i < 2; i++)
    if (s->views[i])
      ctx->vk.vkDestroyBufferView (ctx->device, s->views[i], NULL);
  vq__vk_pipeline_clear (ctx, &s->pipeline);
  if (s->pool)
    ctx->vk.vkDestroyDescriptorPool (ctx->device, s->pool, NULL);
  vq__vk_buffer_clear (ctx, &s->bytes);
  vq__vk_buffer_clear (ctx, &s->table);
  guint8 *staging = s->staging;
  gsize staging_size = s->staging_size;
  memset (s, 0, sizeof *s);
  s->staging = staging;
  s->staging_size = staging_size;
}

void
vq__vk_frame_state_free (vq_vk_context *ctx, vq_vk_frame_state *s)
{
  if (!s)
    return;
  reset (ctx, s);
  g_free (s->staging);
  g_free (s);
}

/* Bytes of plane p of `frame` once packed without row padding. */
static gsize
packed_plane_bytes (const vq_frame *frame, int p, int32_t *row_bytes, int32_t *rows)
{
  int32_t cw = (frame->width + 1) / 2, ch = (frame->height + 1) / 2;
  *row_bytes = *rows = 0;
  switch (frame->format) {
  case VQ_PIXEL_RGB:
  case VQ_PIXEL_BGR:
    if (p == 0)
      *row_bytes = 3 * frame->width, *rows = frame->height;
    break;
  case VQ_PIXEL_NV12:
    if (p == 0)
      *row_bytes = frame->width, *rows = frame->height;
    else if (p == 1)
      *row_bytes = 2 * cw, *rows = ch;
    break;
  case VQ_PIXEL_I420:
    if (p == 0)
      *row_bytes = frame->width, *rows = frame->height;
    else
      *row_bytes = cw, *rows = ch;
    break;
  default: /* the 32-bit packed formats */
    if (p == 0)
      *row_bytes = 4 * frame->width, *rows = frame->height;
    break;
  }
  return (gsize) *row_bytes * *rows;
}

/* Specialization constants for this geometry (shaders/preprocess.comp). */
static void
geometry_spec (uint32_t spec[N_SPEC], const vq_frame *frame, const vq_vk_input_target *t,
               const vq__content_rect *rect, const vq_preprocess *pre, gsize plane_off[3])
{
  static const int offsets[VQ_PIXEL_FORMAT_COUNT][4] = {
    [VQ_PIXEL_RGB] = {3, 0, 1, 2},  [VQ_PIXEL_BGR] = {3, 2, 1, 0},
    [VQ_PIXEL_RGBA] = {4, 0, 1, 2}, [VQ_PIXEL_RGBX] = {4, 0, 1, 2},
    [VQ_PIXEL_BGRA] = {4, 2, 1, 0}, [VQ_PIXEL_BGRX] = {4, 2, 1, 0},
  };
  const int *o = offsets[frame->format];
  int32_t cw = (frame->width + 1) / 2;
  uint32_t values[N_SPEC] = {
    LOCAL,
    (uint32_t) frame->format,
    (uint32_t) o[0], (uint32_t) o[1], (uint32_t) o[2], (uint32_t) o[3],
    (uint32_t) frame->width, (uint32_t) frame->height,
    (uint32_t) plane_off[1], (uint32_t) plane_off[2],
    (uint32_t) (frame->format == VQ_PIXEL_NV12 ? 2 * cw : cw),
    (uint32_t) t->w, (uint32_t) t->h,
    (uint32_t) rect->x, (uint32_t) rect->y, (uint32_t) rect->w, (uint32_t) rect->h,
    (uint32_t) t->plane0,
    pre->color_order == VQ_COLOR_BGR,
    float_bits (pre->mean[0]), float_bits (pre->mean[1]), float_bits (pre->mean[2]),
    float_bits (pre->std[0]), float_bits (pre->std[1]), float_bits (pre->std[2]),
    float_bits ((float) Y_SCALE),
    float_bits ((float) (C_SCALE * 2.0 * (1.0 - KR))),
    float_bits ((float) (C_SCALE * 2.0 * (1.0 - KB) * KB / KG)),
    float_bits ((float) (C_SCALE * 2.0 * (1.0 - KR) * KR / KG)),
    float_bits ((float) (C_SCALE * 2.0 * (1.0 - KB))),
  };
  /* Packed formats have no BPP/offset entries for YUV: keep them valid. */
  if (frame->format == VQ_PIXEL_NV12 || frame->format == VQ_PIXEL_I420)
    values[2] = 1, values[3] = values[4] = values[5] = 0;
  memcpy (spec, values, sizeof values);
}

static gboolean
build (vq_vk_context *ctx, vq_vk_frame_state *s, const vq_vk_input_target *t, gsize bytes,
       const float *table, gsize table_floats, GError **error)
{
  static const VkDescriptorType bindings[] = {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                                              VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
                                              VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER};
  uint32_t pixels = (uint32_t) (t->w * t->h);
  s->views[2] = t->view;
  if (!vq__vk_buffer_init (ctx, &s->bytes, MAX (bytes, 16), false, error) ||
      !vq__vk_buffer_init (ctx, &s->table, table_floats * 4, false, error) ||
      !vq__vk_buffer_write (ctx, &s->table, 0, table, table_floats * 4, error) ||
      !vq__vk_buffer_view (ctx, &s->bytes, VK_FORMAT_R8_UINT, 0, VK_WHOLE_SIZE, &s->views[0],
                           error) ||
      !vq__vk_buffer_view (ctx, &s->table, VK_FORMAT_R32_SFLOAT, 0, VK_WHOLE_SIZE,
                           &s->views[1], error) ||
      !vq__vk_descriptor_pool_init (ctx, &s->pool, 1, error) ||
      !vq__vk_pipeline_init (ctx, &s->pipeline, "preprocess", bindings, 3, s->spec, N_SPEC,
                             error) ||
      !vq__vk_descriptor_set (ctx, s->pool, &s->pipeline, s->views, &s->set, error) ||
      !vq__vk_command_begin (ctx, &s->cmd, error))
    return FALSE;
  ctx->vk.vkCmdBindPipeline (s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->pipeline.pipeline);
  ctx->vk.vkCmdBindDescriptorSets (s->cmd, VK_PIPELINE_BIND_POINT_COMPUTE, s->pipeline.layout,
                                   0, 1, &s->set, 0, NULL);
  ctx->vk.vkCmdDispatch (s->cmd, (pixels + LOCAL - 1) / LOCAL, 1, 1);
  vq__vk_command_barrier (ctx, s->cmd);
  return vq__vk_command_end (ctx, s->cmd, error);
}

static gboolean
check_request (const vq_frame *frame, const vq_input_spec *input, const vq_preprocess *pre,
               const vq_vk_input_target *t, GError **error)
{
  if (!vq_frame_validate (frame, error))
    return FALSE;
  if (!input || !pre) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "no input spec or preprocessing given");
    return FALSE;
  }
  if (input->channels != 3 || t->c != 3 || input->width != t->w || input->height != t->h) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "Vulkan: the model input (%d channels, %dx%d) does not match the graph "
                 "input [1, %d, %d, %d]",
                 input->channels, input->width, input->height, t->c, t->h, t->w);
    return FALSE;
  }
  if ((int) pre->color_order < 0 || pre->color_order >= VQ_COLOR_ORDER_COUNT) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "unknown colour order %d",
                 (int) pre->color_order);
    return FALSE;
  }
  for (int c = 0; c < 3; c++)
    if (!isfinite (pre->mean[c]) || !isfinite (pre->std[c]) || pre->std[c] == 0.0f) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "normalisation of channel %d is invalid (mean %g, std %g)", c,
                   (double) pre->mean[c], (double) pre->std[c]);
      return FALSE;
    }
  return TRUE;
}

gboolean
vq__vk_engine_run_frame (vq_vk_engine *e, const vq_frame *frame, const vq_input_spec *input,
                         const vq_preprocess *pre, vq_fit_mode fit, vq_letterbox *mapping,
                         GError **error)
{
  vq_vk_input_target t = vq__vk_engine_input_target (e);
  vq_vk_context *ctx = t.ctx;

  if (!check_request (frame, input, pre, &t, error))
    return FALSE;
  if ((int) fit < 0 || fit >= VQ_FIT_MODE_COUNT)
    fit = pre->fit == VQ_RESIZE_STRETCH ? VQ_RESIZE_STRETCH : VQ_RESIZE_LETTERBOX;
  vq__content_rect rect = vq__content_rect_compute (frame->width, frame->height, t.w, t.h, fit);
  if (mapping)
    *mapping = vq_letterbox_compute (frame->width, frame->height, t.w, t.h, fit);

  gsize plane_off[3] = {0, 0, 0}, total = 0;
  int32_t row_bytes[3], rows[3];
  for (int p = 0; p < 3; p++) {
    plane_off[p] = total;
    total += packed_plane_bytes (frame, p, &row_bytes[p], &rows[p]);
  }
  if (total > ctx->properties.limits.maxTexelBufferElements) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "Vulkan: a %dx%d frame is larger than the device's texel buffers (%u bytes)",
                 frame->width, frame->height, ctx->properties.limits.maxTexelBufferElements);
    return FALSE;
  }

  if (!*t.state)
    *t.state = g_new0 (vq_vk_frame_state, 1);
  vq_vk_frame_state *s = *t.state;
  uint32_t spec[N_SPEC];
  geometry_spec (spec, frame, &t, &rect, pre, plane_off);
  if (!s->cmd || memcmp (spec, s->spec, sizeof spec) != 0) {
    reset (ctx, s);
    memcpy (s->spec, spec, sizeof spec);
    gsize table_floats = 3 * (gsize) rect.w + 3 * (gsize) rect.h;
    float *table = g_new (float, table_floats);
    axis_table (table, rect.w, frame->width);
    axis_table (table + 3 * rect.w, rect.h, frame->height);
    gboolean ok = build (ctx, s, &t, total, table, table_floats, error);
    g_free (table);
    if (!ok) {
      reset (ctx, s);
      return FALSE;
    }
  }

  if (s->staging_size < total) {
    g_free (s->staging);
    s->staging = g_malloc (total);
    s->staging_size = total;
  }
  for (int p = 0; p < 3; p++)
    for (int32_t y = 0; y < rows[p]; y++)
      memcpy (s->staging + plane_off[p] + (gsize) y * row_bytes[p],
              frame->planes[p] + (gsize) y * frame->strides[p], (gsize) row_bytes[p]);
  return vq__vk_buffer_write (ctx, &s->bytes, 0, s->staging, total, error) &&
         vq__vk_command_run (ctx, s->cmd, error) && vq__vk_engine_run_input_ready (e, error);
}
