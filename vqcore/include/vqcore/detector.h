/* vqcore/detector.h — the one call front ends use: frame in, detections out.
 * It owns a model and an engine, and runs preprocess -> graph -> decode ->
 * NMS -> map back to source pixels. vq detect and the GStreamer element
 * are thin layers over it. */
#ifndef VQCORE_DETECTOR_H
#define VQCORE_DETECTOR_H

#include <glib.h>

#include "detect.h"
#include "engine.h"
#include "image.h"
#include "model.h"

G_BEGIN_DECLS

typedef struct vq_detector vq_detector;

typedef struct {
  const char *model_path; /* NULL = the default model */
  vq_engine_options engine;
  vq_decode_options decode; /* negative fields = the model's defaults */
  vq_fit_mode fit;          /* VQ_FIT_MODE_COUNT = the model's default */
} vq_detector_options;

void vq_detector_options_init (vq_detector_options *options);

vq_detector *vq_detector_new (const vq_detector_options *options, GError **error);
void vq_detector_free (vq_detector *detector);

/* Detects objects in `frame`. `detections` is cleared and filled with
 * vq_detection entries in source pixels, sorted by confidence. A detector
 * holds one input tensor and one engine: run one frame at a time on it (use
 * one detector per thread). */
gboolean vq_detector_run (vq_detector *detector, const vq_frame *frame,
                          GArray *detections, GError **error);

const vq_model *vq_detector_model (const vq_detector *detector);
vq_engine *vq_detector_engine (vq_detector *detector);
/* The label of a class id, or "class-N" when the model has none. */
const char *vq_detector_label (const vq_detector *detector, int32_t class_id);
/* Changes thresholds between frames. */
void vq_detector_set_decode_options (vq_detector *detector, const vq_decode_options *options);

G_END_DECLS

#endif /* VQCORE_DETECTOR_H */
