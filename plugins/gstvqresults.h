/* gstvqresults.h — how vqdetect's results leave the element: video frames
 * turned into vq_frames, detections turned into region-of-interest metas
 * (DL Streamer's convention), a per-buffer telemetry meta, and the
 * per-frame bus message. */
#ifndef GST_VQ_RESULTS_H
#define GST_VQ_RESULTS_H

#include <gst/video/video.h>

#include "vqcore/detector.h"
#include "vqparams.h"
#include "vqschedule.h"

G_BEGIN_DECLS

/* A detection with its label interned, so results outlive the model that
 * produced them (the model can be swapped while the last results are
 * still being carried to skipped frames). Coordinates in frame pixels. */
typedef struct {
  vq_detection detection;
  GQuark label;
} vq__result;

/* Describes the `crop` rectangle of a mapped frame (already clipped and
 * aligned) as a vq_frame without copying. FALSE for formats vqcore lacks. */
gboolean vq__frame_from_video (const GstVideoFrame *frame, const vq__rect *crop,
                               vq_frame *out);

/* Adds one GstVideoRegionOfInterestMeta per result, each with a
 * "detection" parameter structure: label, class-id, confidence, plus DL
 * Streamer's label_id and normalised x_min/y_min/x_max/y_max. */
void vq__attach_results (GstBuffer *buffer, const GArray *results, gint width, gint height);

/* Everything the per-frame message and telemetry meta say about a frame. */
typedef struct {
  GstClockTime timestamp, running_time, stream_time, duration;
  gint width, height;
  gboolean inferred;
  GstClockTime inference_latency; /* this frame's inference, 0 when skipped */
  GstClockTime last_latency;      /* latency of the inference whose results it carries */
  const vq__schedule *schedule;
  const char *backend, *device; /* where inference runs, e.g. "cpu" */
  const char *precision;        /* activation storage, "fp32" or "fp16" */
} vq__frame_report;

/* The "vqdetect" structure posted as an element message. */
GstStructure *vq__report_to_structure (const vq__frame_report *report, const GArray *results);

/* Registers (once) and adds the "VqDetectTelemetry" custom meta; its
 * structure carries the report's counters and latencies. */
void vq__attach_telemetry (GstBuffer *buffer, const vq__frame_report *report);

G_END_DECLS

#endif /* GST_VQ_RESULTS_H */
