/* gstvqresults.c — detections to metadata and bus messages. */
#include "gstvqresults.h"

#define VQ_TELEMETRY_META_NAME "VqDetectTelemetry"

gboolean
vq__frame_from_video (const GstVideoFrame *frame, const vq__rect *crop, vq_frame *out)
{
  static const struct {
    GstVideoFormat gst;
    vq_pixel_format vq;
  } formats[] = {
    {GST_VIDEO_FORMAT_RGB, VQ_PIXEL_RGB},   {GST_VIDEO_FORMAT_BGR, VQ_PIXEL_BGR},
    {GST_VIDEO_FORMAT_RGBA, VQ_PIXEL_RGBA}, {GST_VIDEO_FORMAT_BGRA, VQ_PIXEL_BGRA},
    {GST_VIDEO_FORMAT_RGBx, VQ_PIXEL_RGBX}, {GST_VIDEO_FORMAT_BGRx, VQ_PIXEL_BGRX},
    {GST_VIDEO_FORMAT_NV12, VQ_PIXEL_NV12}, {GST_VIDEO_FORMAT_I420, VQ_PIXEL_I420},
  };
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  gboolean found = FALSE;

  memset (out, 0, sizeof *out);
  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    if (formats[i].gst == GST_VIDEO_FRAME_FORMAT (frame)) {
      out->format = formats[i].vq;
      found = TRUE;
    }
  }
  if (!found)
    return FALSE;

  out->width = crop->width;
  out->height = crop->height;
  /* Offset every plane to the crop origin at that plane's subsampling;
   * the origin is aligned to the chroma grid by vq__roi_clip. */
  for (guint plane = 0; plane < GST_VIDEO_FRAME_N_PLANES (frame); plane++) {
    gint comp[GST_VIDEO_MAX_COMPONENTS];
    guint8 *data = GST_VIDEO_FRAME_PLANE_DATA (frame, plane);
    gint stride = GST_VIDEO_FRAME_PLANE_STRIDE (frame, plane);
    gint pstride, ws, hs;

    gst_video_format_info_component (finfo, plane, comp);
    pstride = GST_VIDEO_FORMAT_INFO_PSTRIDE (finfo, comp[0]);
    ws = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, comp[0]);
    hs = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, comp[0]);
    out->planes[plane] = data + (gsize) (crop->y >> hs) * stride
                         + (gsize) (crop->x >> ws) * pstride;
    out->strides[plane] = stride;
  }
  return TRUE;
}

void
vq__attach_results (GstBuffer *buffer, const GArray *results, gint width, gint height)
{
  for (guint i = 0; i < results->len; i++) {
    const vq__result *r = &g_array_index (results, vq__result, i);
    const vq_detection *d = &r->detection;
    /* ROI metas hold whole pixels; round outward-safe and clamp. */
    gint x = CLAMP ((gint) (d->x + 0.5f), 0, MAX (width - 1, 0));
    gint y = CLAMP ((gint) (d->y + 0.5f), 0, MAX (height - 1, 0));
    gint x1 = CLAMP ((gint) (d->x + d->w + 0.5f), x + 1, width);
    gint y1 = CLAMP ((gint) (d->y + d->h + 0.5f), y + 1, height);
    GstVideoRegionOfInterestMeta *meta;
    GstStructure *s;

    meta = gst_buffer_add_video_region_of_interest_meta_id (buffer, r->label, (guint) x,
                                                            (guint) y, (guint) (x1 - x),
                                                            (guint) (y1 - y));
    meta->id = (gint) i;
    meta->parent_id = -1;
    s = gst_structure_new ("detection",
                           "label", G_TYPE_STRING, g_quark_to_string (r->label),
                           "class-id", G_TYPE_INT, d->class_id,
                           "confidence", G_TYPE_DOUBLE, (gdouble) d->confidence,
                           "label_id", G_TYPE_INT, d->class_id,
                           "x_min", G_TYPE_DOUBLE, (gdouble) d->x / width,
                           "y_min", G_TYPE_DOUBLE, (gdouble) d->y / height,
                           "x_max", G_TYPE_DOUBLE, (gdouble) (d->x + d->w) / width,
                           "y_max", G_TYPE_DOUBLE, (gdouble) (d->y + d->h) / height,
                           NULL);
    gst_video_region_of_interest_meta_add_param (meta, s);
  }
}

static GstStructure *
result_to_structure (const vq__result *r)
{
  const vq_detection *d = &r->detection;

  return gst_structure_new ("detection",
                            "label", G_TYPE_STRING, g_quark_to_string (r->label),
                            "class-id", G_TYPE_INT, d->class_id,
                            "confidence", G_TYPE_DOUBLE, (gdouble) d->confidence,
                            "x", G_TYPE_DOUBLE, (gdouble) d->x,
                            "y", G_TYPE_DOUBLE, (gdouble) d->y,
                            "width", G_TYPE_DOUBLE, (gdouble) d->w,
                            "height", G_TYPE_DOUBLE, (gdouble) d->h,
                            NULL);
}

static void
set_counters (GstStructure *s, const vq__frame_report *report)
{
  const vq__schedule *schedule = report->schedule;

  gst_structure_set (s,
                     "frame-number", G_TYPE_UINT64, schedule->frame_number - 1,
                     "inferred", G_TYPE_BOOLEAN, report->inferred,
                     "results-age", G_TYPE_UINT64, vq__schedule_results_age (schedule),
                     "inference-latency", G_TYPE_UINT64, (guint64) report->inference_latency,
                     "results-latency", G_TYPE_UINT64, (guint64) report->last_latency,
                     "frames-inferred", G_TYPE_UINT64, schedule->frames_inferred,
                     "frames-skipped", G_TYPE_UINT64, schedule->frames_skipped,
                     "frames-late", G_TYPE_UINT64, schedule->frames_late,
                     NULL);
}

GstStructure *
vq__report_to_structure (const vq__frame_report *report, const GArray *results)
{
  GstStructure *s;
  GValue list = G_VALUE_INIT;

  s = gst_structure_new ("vqdetect",
                         "timestamp", G_TYPE_UINT64, (guint64) report->timestamp,
                         "running-time", G_TYPE_UINT64, (guint64) report->running_time,
                         "stream-time", G_TYPE_UINT64, (guint64) report->stream_time,
                         "duration", G_TYPE_UINT64, (guint64) report->duration,
                         "width", G_TYPE_INT, report->width,
                         "height", G_TYPE_INT, report->height,
                         NULL);
  set_counters (s, report);
  gst_structure_set (s, "backend", G_TYPE_STRING, report->backend,
                     "device", G_TYPE_STRING, report->device,
                     "precision", G_TYPE_STRING, report->precision, NULL);

  /* An array (ordered, by falling confidence) of "detection" structures. */
  g_value_init (&list, GST_TYPE_ARRAY);
  for (guint i = 0; i < results->len; i++) {
    GValue item = G_VALUE_INIT;

    g_value_init (&item, GST_TYPE_STRUCTURE);
    g_value_take_boxed (&item, result_to_structure (&g_array_index (results, vq__result, i)));
    gst_value_array_append_and_take_value (&list, &item);
  }
  gst_structure_set (s, "num-detections", G_TYPE_UINT, results->len, NULL);
  gst_structure_take_value (s, "detections", &list);
  return s;
}

void
vq__attach_telemetry (GstBuffer *buffer, const vq__frame_report *report)
{
  static const gchar *tags[] = { NULL };
  static gsize registered = 0;
  GstCustomMeta *meta;

  if (g_once_init_enter (&registered)) {
    gst_meta_register_custom (VQ_TELEMETRY_META_NAME, tags, NULL, NULL, NULL);
    g_once_init_leave (&registered, 1);
  }
  meta = gst_buffer_add_custom_meta (buffer, VQ_TELEMETRY_META_NAME);
  if (meta != NULL)
    set_counters (gst_custom_meta_get_structure (meta), report);
}
