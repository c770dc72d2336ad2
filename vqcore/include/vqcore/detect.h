/* vqcore/detect.h — detections and the decoders that produce them from a
 * model's raw outputs, plus non-maximum suppression. */
#ifndef VQCORE_DETECT_H
#define VQCORE_DETECT_H

#include <glib.h>

#include "engine.h"
#include "image.h"
#include "model.h"

G_BEGIN_DECLS

typedef struct {
  int32_t class_id;
  float confidence;
  float x, y, w, h; /* top-left corner and size */
} vq_detection;

typedef struct {
  float score_threshold;
  float nms_iou;
  int32_t max_detections;
} vq_decode_options;

/* Fills options with the model's decoder defaults. */
void vq_decode_options_from_model (vq_decode_options *options, const vq_model *model);

/* Decodes raw outputs (after a vq_engine_run) into candidate boxes in
 * model-input pixels, one per (cell, class) with score >= the threshold,
 * before NMS. The decoder is chosen by model->decoder.kind (an unknown kind
 * is VQ_ERROR_UNSUPPORTED; outputs of the wrong shape VQ_ERROR_FORMAT).
 * Appends to `out` (GArray of vq_detection). */
gboolean vq_decode_outputs (const vq_model *model, vq_engine *engine,
                            const vq_decode_options *options, GArray *out,
                            GError **error);

/* Class-aware non-maximum suppression: sorts by confidence (ties by class,
 * then position, so results are deterministic), drops boxes overlapping a
 * kept box of the same class by more than iou_threshold, keeps at most
 * max_detections (<= 0: no limit). Works in place. */
void vq_nms (GArray *detections, float iou_threshold, int32_t max_detections);

float vq_iou (const vq_detection *a, const vq_detection *b);

/* Maps boxes from model-input pixels back to source pixels and clips them
 * to the frame; drops boxes that end up empty. */
void vq_unletterbox (GArray *detections, const vq_letterbox *mapping,
                     int32_t src_w, int32_t src_h);

G_END_DECLS

#endif /* VQCORE_DETECT_H */
