/* The detector front ends use: frame -> preprocess -> engine -> decode ->
 * NMS -> source pixels. It owns the model, the engine and the input tensor
 * (allocated once), so a run allocates only the candidate list it fills. */
#include "vqcore/detector.h"

#include <math.h>

#include "cpu/backend.h"
#include "detect_private.h"
#include "vqcore/error.h"

struct vq_detector {
  char *model_path;
  vq_model *model;
  vq_engine *engine;
  float *input; /* NCHW fp32, 3 x input.height x input.width */
  vq_decode_options decode; /* resolved: no "model default" markers left */
  vq_fit_mode fit;          /* resolved */
};

void
vq_detector_options_init (vq_detector_options *options)
{
  g_return_if_fail (options != NULL);
  *options = (vq_detector_options) { 0 };
  options->model_path = NULL;
  vq_engine_options_init (&options->engine);
  /* A detector only reads the graph outputs, so intermediate values may
   * share memory (about a quarter of the footprint for NanoDet). */
  options->engine.reuse_buffers = TRUE;
  options->decode.score_threshold = -1.0f;
  options->decode.nms_iou = -1.0f;
  options->decode.max_detections = -1;
  options->fit = VQ_FIT_MODE_COUNT;
}

/* Negative (or NaN) fields take the model's defaults. */
static vq_decode_options
resolve_decode_options (const vq_model *model, const vq_decode_options *requested)
{
  vq_decode_options resolved;
  vq_decode_options_from_model (&resolved, model);
  if (requested == NULL)
    return resolved;
  if (requested->score_threshold >= 0.0f)
    resolved.score_threshold = requested->score_threshold;
  if (requested->nms_iou >= 0.0f)
    resolved.nms_iou = requested->nms_iou;
  if (requested->max_detections >= 0)
    resolved.max_detections = requested->max_detections;
  return resolved;
}

static vq_fit_mode
resolve_fit (const vq_model *model, vq_fit_mode requested)
{
  if ((int) requested >= 0 && requested < VQ_FIT_MODE_COUNT)
    return requested;
  return model->preprocess.fit == VQ_RESIZE_STRETCH ? VQ_RESIZE_STRETCH : VQ_RESIZE_LETTERBOX;
}

vq_detector *
vq_detector_new (const vq_detector_options *options, GError **error)
{
  vq_detector_options defaults;
  if (options == NULL) {
    vq_detector_options_init (&defaults);
    options = &defaults;
  }

  vq_detector *detector = g_new0 (vq_detector, 1);
  if (options->model_path != NULL)
    detector->model_path = g_strdup (options->model_path);
  else if ((detector->model_path = vq_default_model_path (error)) == NULL)
    goto fail;

  /* The loader's errors already name the file. */
  detector->model = vq_model_load (detector->model_path, error);
  if (detector->model == NULL)
    goto fail;

  const vq_model *model = detector->model;
  if (!vq__decoder_supported (model->decoder.kind)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED, "%s: decoder kind %d is not supported",
                 detector->model_path, (int) model->decoder.kind);
    goto fail;
  }
  if (model->input.channels != 3 || model->input.width <= 0 || model->input.height <= 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "%s: model input %dx%dx%d is not a colour image", detector->model_path,
                 model->input.width, model->input.height, model->input.channels);
    goto fail;
  }

  detector->engine = vq_engine_new (model, &options->engine, error);
  if (detector->engine == NULL) {
    g_prefix_error (error, "%s: ", detector->model_path);
    goto fail;
  }
  detector->input = g_new (float, 3 * (size_t) model->input.width * model->input.height);
  detector->decode = resolve_decode_options (model, &options->decode);
  detector->fit = resolve_fit (model, options->fit);
  return detector;

fail:
  vq_detector_free (detector);
  return NULL;
}

void
vq_detector_free (vq_detector *detector)
{
  if (detector == NULL)
    return;
  /* The engine borrows the model: free it first. */
  if (detector->engine != NULL)
    vq_engine_free (detector->engine);
  if (detector->model != NULL)
    vq_model_free (detector->model);
  g_free (detector->input);
  g_free (detector->model_path);
  g_free (detector);
}

gboolean
vq_detector_run (vq_detector *detector, const vq_frame *frame, GArray *detections,
                 GError **error)
{
  if (detector == NULL || detections == NULL ||
      g_array_get_element_size (detections) != sizeof (vq_detection)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "vq_detector_run needs a detector and a GArray of vq_detection");
    return FALSE;
  }
  g_array_set_size (detections, 0);

  const vq_model *model = detector->model;
  vq_letterbox mapping;
  /* A backend that preprocesses on its device (Vulkan) takes the frame's
   * bytes; otherwise preprocess here and hand over the tensor. */
  gboolean done = FALSE;
  if (!vq__engine_run_frame (detector->engine, frame, &model->input, &model->preprocess,
                             detector->fit, &mapping, &done, error))
    return FALSE;
  if (!done && !vq_preprocess_frame (frame, &model->input, &model->preprocess, detector->fit,
                                     detector->input, &mapping, error))
    return FALSE;
  /* Likewise a backend may decode on its device, so that only candidate
   * boxes come back. */
  gboolean decoded = FALSE;
  if ((!done && !vq_engine_run (detector->engine, detector->input, error)) ||
      !vq__engine_decode (detector->engine, model, &detector->decode, detections, &decoded,
                          error) ||
      (!decoded &&
       !vq_decode_outputs (model, detector->engine, &detector->decode, detections, error))) {
    g_prefix_error (error, "%s: ", detector->model_path);
    return FALSE;
  }
  /* NMS in input pixels (where the model's boxes are consistent), then map
   * back; vq_unletterbox keeps the order. */
  vq_nms (detections, detector->decode.nms_iou, detector->decode.max_detections);
  vq_unletterbox (detections, &mapping, frame->width, frame->height);
  return TRUE;
}

const vq_model *
vq_detector_model (const vq_detector *detector)
{
  g_return_val_if_fail (detector != NULL, NULL);
  return detector->model;
}

vq_engine *
vq_detector_engine (vq_detector *detector)
{
  g_return_val_if_fail (detector != NULL, NULL);
  return detector->engine;
}

const char *
vq_detector_label (const vq_detector *detector, int32_t class_id)
{
  g_return_val_if_fail (detector != NULL, NULL);
  const vq_model *model = detector->model;
  if (model->labels != NULL && class_id >= 0 && class_id < model->decoder.num_classes) {
    /* Walk the NULL-terminated list rather than trusting its length. */
    int32_t i = 0;
    while (i < class_id && model->labels[i] != NULL)
      i++;
    if (model->labels[i] != NULL)
      return model->labels[i];
  }
  /* Interned strings live as long as the process, so the pointer stays
   * valid without the detector owning a cache. */
  char *name = g_strdup_printf ("class-%d", class_id);
  const char *interned = g_intern_string (name);
  g_free (name);
  return interned;
}

void
vq_detector_set_decode_options (vq_detector *detector, const vq_decode_options *options)
{
  g_return_if_fail (detector != NULL);
  detector->decode = resolve_decode_options (detector->model, options);
}
