/* Raw model outputs -> candidate detections. The decoder is picked from a
 * table indexed by model->decoder.kind, so another head (SSD, CenterNet,
 * YOLO) is one new file and one new table entry; callers never change. */
#include "detect_private.h"

#include "vqcore/error.h"

static const struct {
  const char *name;
  vq__decode_func decode;
} decoders[VQ_DECODER_KIND_COUNT] = {
  [VQ_DECODER_NANODET_GFL] = { "nanodet-gfl", vq__decode_nanodet_gfl },
};

gboolean
vq__decoder_supported (vq_decoder_kind kind)
{
  return (int) kind >= 0 && kind < VQ_DECODER_KIND_COUNT && decoders[kind].decode != NULL;
}

void
vq_decode_options_from_model (vq_decode_options *options, const vq_model *model)
{
  g_return_if_fail (options != NULL && model != NULL);
  options->score_threshold = model->decoder.score_threshold;
  options->nms_iou = model->decoder.nms_iou;
  options->max_detections = model->decoder.max_detections;
}

gboolean
vq_decode_outputs (const vq_model *model, vq_engine *engine,
                   const vq_decode_options *options, GArray *out, GError **error)
{
  if (model == NULL || engine == NULL || options == NULL || out == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "decode needs a model, an engine, options and an output array");
    return FALSE;
  }
  if (g_array_get_element_size (out) != sizeof (vq_detection)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "decode output array does not hold vq_detection elements");
    return FALSE;
  }
  int kind = (int) model->decoder.kind;
  if (!vq__decoder_supported (model->decoder.kind)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED, "model %s: unknown decoder kind %d",
                 model->name ? model->name : "(unnamed)", kind);
    return FALSE;
  }
  if (model->graph == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "model %s has no graph",
                 model->name ? model->name : "(unnamed)");
    return FALSE;
  }

  /* Hand the decoder every graph output, so it validates indices and shapes
   * against what the engine actually produced. */
  uint32_t n = model->graph->n_outputs;
  vq_tensor_view *views = g_new0 (vq_tensor_view, MAX (n, 1));
  for (uint32_t i = 0; i < n; i++)
    views[i] = vq_engine_output (engine, i);
  gboolean ok = decoders[kind].decode (model, views, n, options, out, error);
  if (!ok)
    g_prefix_error (error, "%s decoder: ", decoders[kind].name);
  g_free (views);
  return ok;
}
