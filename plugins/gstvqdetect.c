/**
 * SECTION:element-vqdetect
 * @title: vqdetect
 *
 * Detects objects (80 COCO classes with the default NanoDet model) in raw
 * video and attaches one #GstVideoRegionOfInterestMeta per detection to
 * the buffer. The video itself passes through untouched and uncopied: the
 * frame is only read. Any resolution and frame rate is accepted; resizing,
 * letterboxing and colour conversion to the model's input happen inside.
 *
 * Each meta's roi_type is the label; its "detection" parameter structure
 * holds `label`, `class-id` and `confidence` (plus DL Streamer's `label_id`
 * and normalised `x_min`, `y_min`, `x_max`, `y_max`), so elements written
 * for DL Streamer read it unchanged. Coordinates are in buffer pixels.
 *
 * Unless #GstVqDetect:message is off, every frame also posts an element
 * message named "vqdetect" with the running time, the frame number, the
 * detections (an array of "detection" structures with label, class-id,
 * confidence, x, y, width, height) and telemetry: whether the detector ran
 * on this frame, its inference latency, and how many frames were skipped
 * by #GstVqDetect:interval or because downstream reported them late.
 *
 * Elements in one process that open the same model file with the same
 * backend share its weights (#GstVqDetect:share-model). Setting
 * #GstVqDetect:model while playing swaps the model between two frames.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 -e filesrc location=vtest.avi ! decodebin ! videoconvert ! vqdetect ! vqoverlay ! videoconvert ! x264enc ! mp4mux ! filesink location=vtest-detected.mp4
 * ]|
 * (pipelines/demo.sh runs this line.)
 */
#include "gstvqdetectpriv.h"

#include "gstvqcaps.h"

GST_DEBUG_CATEGORY (vq__detect_debug);
#define GST_CAT_DEFAULT vq__detect_debug

G_DEFINE_TYPE (GstVqDetect, gst_vq_detect, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE (vqdetect, "vqdetect", GST_RANK_NONE, GST_TYPE_VQ_DETECT)

static GstStaticPadTemplate sink_template = VQ_GST_VIDEO_PAD_TEMPLATE ("sink", GST_PAD_SINK);
static GstStaticPadTemplate src_template = VQ_GST_VIDEO_PAD_TEMPLATE ("src", GST_PAD_SRC);

static gboolean
gst_vq_detect_start (GstBaseTransform *trans)
{
  GstVqDetect *self = GST_VQ_DETECT (trans);

  /* The model is loaded once here, not per caps or per frame. */
  if (!vq__detect_load (self))
    return FALSE;
  vq__schedule_reset (&self->schedule);
  g_array_set_size (self->results, 0);
  self->last_latency = 0;
  return TRUE;
}

static gboolean
gst_vq_detect_stop (GstBaseTransform *trans)
{
  GstVqDetect *self = GST_VQ_DETECT (trans);

  vq__detect_unload (self);
  g_array_set_size (self->results, 0);
  return TRUE;
}

static gboolean
gst_vq_detect_set_info (GstVideoFilter *filter, GstCaps *incaps, GstVideoInfo *in_info,
                        GstCaps *outcaps, GstVideoInfo *out_info)
{
  GstVqDetect *self = GST_VQ_DETECT (filter);

  /* New caps (e.g. a resolution change): boxes from the old picture do not
   * belong on the new one, so the next frame runs the detector. */
  GST_DEBUG_OBJECT (self, "negotiated %dx%d", GST_VIDEO_INFO_WIDTH (in_info),
                    GST_VIDEO_INFO_HEIGHT (in_info));
  vq__schedule_invalidate (&self->schedule);
  g_array_set_size (self->results, 0);
  return TRUE;
}

static gboolean
gst_vq_detect_sink_event (GstBaseTransform *trans, GstEvent *event)
{
  GstVqDetect *self = GST_VQ_DETECT (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_FLUSH_STOP) {
    /* After a seek the carried boxes belong to another moment. */
    vq__schedule_invalidate (&self->schedule);
    g_array_set_size (self->results, 0);
    GST_OBJECT_LOCK (self);
    self->earliest_time = GST_CLOCK_TIME_NONE;
    GST_OBJECT_UNLOCK (self);
  }
  return GST_BASE_TRANSFORM_CLASS (gst_vq_detect_parent_class)->sink_event (trans, event);
}

static gboolean
gst_vq_detect_src_event (GstBaseTransform *trans, GstEvent *event)
{
  GstVqDetect *self = GST_VQ_DETECT (trans);

  if (GST_EVENT_TYPE (event) == GST_EVENT_QOS) {
    GstQOSType type;
    gdouble proportion;
    GstClockTimeDiff diff;
    GstClockTime timestamp;

    /* The same estimate GstBaseTransform uses for its own QoS: a frame is
     * late when its running time is before timestamp + 2 * diff. */
    gst_event_parse_qos (event, &type, &proportion, &diff, &timestamp);
    GST_OBJECT_LOCK (self);
    if (GST_CLOCK_TIME_IS_VALID (timestamp)) {
      if (diff > 0)
        self->earliest_time = timestamp + 2 * (GstClockTime) diff;
      else
        self->earliest_time = (GstClockTime) MAX ((GstClockTimeDiff) timestamp + diff, 0);
    }
    GST_OBJECT_UNLOCK (self);
  }
  return GST_BASE_TRANSFORM_CLASS (gst_vq_detect_parent_class)->src_event (trans, event);
}

static gboolean
gst_vq_detect_propose_allocation (GstBaseTransform *trans, GstQuery *decide_query,
                                  GstQuery *query)
{
  if (!GST_BASE_TRANSFORM_CLASS (gst_vq_detect_parent_class)->propose_allocation (
          trans, decide_query, query))
    return FALSE;
  /* Tells upstream that ROI metas are welcome here. */
  gst_query_add_allocation_meta (query, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE, NULL);
  return TRUE;
}

/* Resolves "model default" (-1) settings against the model. */
static void
decode_options_for (const vq__pooled_detector *pooled, gdouble threshold, gdouble nms_iou,
                    gint max_detections, vq_decode_options *decode)
{
  vq_decode_options_from_model (decode, vq_detector_model (vq__pooled_detector_peek (pooled)));
  if (threshold >= 0.0)
    decode->score_threshold = (float) threshold;
  if (nms_iou >= 0.0)
    decode->nms_iou = (float) nms_iou;
  if (max_detections >= 0)
    decode->max_detections = max_detections;
}

/* Runs the detector on the frame (or its ROI) and replaces self->results. */
static GstFlowReturn
infer (GstVqDetect *self, GstBuffer *buf, vq__pooled_detector *pooled,
       const vq_decode_options *decode_in, const vq__rect *roi, gboolean roi_set)
{
  GstVideoFilter *filter = GST_VIDEO_FILTER (self);
  GstVideoInfo *info = &filter->in_info;
  const vq_detector *det = vq__pooled_detector_peek (pooled);
  vq_decode_options decode = *decode_in;
  GError *error = NULL;
  GstVideoFrame frame;
  vq_frame vframe;
  vq__rect crop = { 0, 0, GST_VIDEO_INFO_WIDTH (info), GST_VIDEO_INFO_HEIGHT (info) };
  gint align = GST_VIDEO_FORMAT_INFO_IS_YUV (info->finfo) ? 2 : 1;
  gint64 start;
  gint max_kept;
  gboolean ok;

  g_array_set_size (self->results, 0);
  if (roi_set && !vq__roi_clip (roi, crop.width, crop.height, align, &crop)) {
    GST_LOG_OBJECT (self, "roi lies outside the %dx%d frame", GST_VIDEO_INFO_WIDTH (info),
                    GST_VIDEO_INFO_HEIGHT (info));
    return GST_FLOW_OK;
  }

  /* Read-only mapping: mapping for writing would copy shared memory. */
  if (!gst_video_frame_map (&frame, info, buf, GST_MAP_READ))
    goto map_failed;
  if (!vq__frame_from_video (&frame, &crop, &vframe)) {
    gst_video_frame_unmap (&frame);
    goto map_failed;
  }

  /* With a class filter NMS must not cut the list before filtering. */
  max_kept = decode.max_detections;
  GST_OBJECT_LOCK (self);
  if (self->class_filter != NULL)
    decode.max_detections = 0;
  GST_OBJECT_UNLOCK (self);

  start = g_get_monotonic_time ();
  ok = vq__pooled_detector_run (pooled, &decode, &vframe, self->detections, &error);
  self->last_latency = (GstClockTime) (g_get_monotonic_time () - start) * GST_USECOND;
  gst_video_frame_unmap (&frame);
  if (!ok)
    goto run_failed;

  GST_OBJECT_LOCK (self);
  for (guint i = 0; i < self->detections->len; i++) {
    vq_detection d = g_array_index (self->detections, vq_detection, i);
    vq__result r;

    if (!vq__class_filter_keeps (self->class_filter, d.class_id))
      continue;
    if (max_kept > 0 && self->results->len >= (guint) max_kept)
      break;
    d.x += (float) crop.x;
    d.y += (float) crop.y;
    r.detection = d;
    r.label = g_quark_from_string (vq_detector_label (det, d.class_id));
    g_array_append_val (self->results, r);
  }
  GST_OBJECT_UNLOCK (self);
  return GST_FLOW_OK;

  /* ERRORS */
map_failed:
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Could not read the video frame."), (NULL));
  return GST_FLOW_ERROR;
run_failed:
  GST_ELEMENT_ERROR (self, STREAM, FAILED, ("Detection failed: %s", error->message), (NULL));
  g_clear_error (&error);
  return GST_FLOW_ERROR;
}

static GstFlowReturn
gst_vq_detect_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstVqDetect *self = GST_VQ_DETECT (trans);
  GstVideoFilter *filter = GST_VIDEO_FILTER (trans);
  vq__pooled_detector *pooled;
  vq_decode_options decode;
  vq__frame_decision decision;
  vq__frame_report report = { 0 };
  vq__rect roi;
  gboolean roi_set, post, late;
  guint interval;
  GstFlowReturn ret = GST_FLOW_OK;

  if (!filter->negotiated)
    goto not_negotiated;

  report.timestamp = GST_BUFFER_PTS (buf);
  report.duration = GST_BUFFER_DURATION (buf);
  report.running_time = gst_segment_to_running_time (&trans->segment, GST_FORMAT_TIME,
                                                     report.timestamp);
  report.stream_time = gst_segment_to_stream_time (&trans->segment, GST_FORMAT_TIME,
                                                   report.timestamp);
  report.width = GST_VIDEO_INFO_WIDTH (&filter->in_info);
  report.height = GST_VIDEO_INFO_HEIGHT (&filter->in_info);

  GST_OBJECT_LOCK (self);
  if (self->detector == NULL) {
    GST_OBJECT_UNLOCK (self);
    goto not_started;
  }
  pooled = vq__pooled_detector_ref (self->detector);
  decode_options_for (pooled, self->threshold, self->nms_iou, self->max_detections, &decode);
  roi = self->roi;
  roi_set = self->roi_set;
  interval = self->interval;
  post = self->post_messages;
  report.backend = self->backend_name;
  report.device = self->device_name;
  report.precision = self->precision_name;
  late = self->skip_late && GST_CLOCK_TIME_IS_VALID (self->earliest_time)
         && GST_CLOCK_TIME_IS_VALID (report.running_time)
         && report.running_time <= self->earliest_time;
  GST_OBJECT_UNLOCK (self);

  decision = vq__schedule_next (&self->schedule, interval, late);
  if (decision == VQ__FRAME_INFER) {
    ret = infer (self, buf, pooled, &decode, &roi, roi_set);
    if (ret == GST_FLOW_OK) {
      vq__schedule_mark_inferred (&self->schedule);
      report.inferred = TRUE;
      report.inference_latency = self->last_latency;
    }
  } else {
    GST_LOG_OBJECT (self, "frame %" G_GUINT64_FORMAT " carries results (%s)",
                    self->schedule.frame_number - 1,
                    decision == VQ__FRAME_SKIP_LATE ? "late" : "interval");
  }
  vq__pooled_detector_unref (pooled);
  if (ret != GST_FLOW_OK)
    return ret;

  report.last_latency = self->last_latency;
  report.schedule = &self->schedule;
  vq__attach_results (buf, self->results, report.width, report.height);
  vq__attach_telemetry (buf, &report);
  if (post)
    gst_element_post_message (GST_ELEMENT (self),
        gst_message_new_element (GST_OBJECT (self),
                                 vq__report_to_structure (&report, self->results)));
  return GST_FLOW_OK;

  /* ERRORS */
not_negotiated:
  GST_ELEMENT_ERROR (self, CORE, NEGOTIATION, (NULL), ("no caps before the first buffer"));
  return GST_FLOW_NOT_NEGOTIATED;
not_started:
  GST_ELEMENT_ERROR (self, CORE, STATE_CHANGE, (NULL), ("buffer before start"));
  return GST_FLOW_ERROR;
}

static void
gst_vq_detect_finalize (GObject *object)
{
  GstVqDetect *self = GST_VQ_DETECT (object);

  vq__detect_free_properties (self);
  vq__class_filter_free (self->class_filter);
  vq__pooled_detector_unref (self->detector);
  g_array_unref (self->results);
  g_array_unref (self->detections);
  g_mutex_clear (&self->model_lock);
  G_OBJECT_CLASS (gst_vq_detect_parent_class)->finalize (object);
}

static void
gst_vq_detect_class_init (GstVqDetectClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  gobject_class->set_property = vq__detect_set_property;
  gobject_class->get_property = vq__detect_get_property;
  gobject_class->finalize = gst_vq_detect_finalize;
  vq__detect_install_properties (gobject_class);

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VQ object detector",
      "Filter/Analyzer/Video",
      "Detects objects with a vector-quantized NanoDet model and attaches "
      "region-of-interest metadata; the video passes through untouched",
      "vqdetect authors");

  trans_class->start = GST_DEBUG_FUNCPTR (gst_vq_detect_start);
  trans_class->stop = GST_DEBUG_FUNCPTR (gst_vq_detect_stop);
  trans_class->sink_event = GST_DEBUG_FUNCPTR (gst_vq_detect_sink_event);
  trans_class->src_event = GST_DEBUG_FUNCPTR (gst_vq_detect_src_event);
  trans_class->propose_allocation = GST_DEBUG_FUNCPTR (gst_vq_detect_propose_allocation);
  /* Our own transform_ip maps the frame read-only (see infer()). */
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vq_detect_transform_ip);
  filter_class->set_info = GST_DEBUG_FUNCPTR (gst_vq_detect_set_info);

  gst_type_mark_as_plugin_api (GST_TYPE_VQ_DETECT_BACKEND, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VQ_DETECT_PRECISION, 0);
  gst_type_mark_as_plugin_api (GST_TYPE_VQ_DETECT_RESIZE, 0);
  GST_DEBUG_CATEGORY_INIT (vq__detect_debug, "vqdetect", 0, "vqdetect element");
}

static void
gst_vq_detect_init (GstVqDetect *self)
{
  vq__detect_init_properties (self);
  self->earliest_time = GST_CLOCK_TIME_NONE;
  self->results = g_array_new (FALSE, FALSE, sizeof (vq__result));
  self->detections = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  g_mutex_init (&self->model_lock);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  /* GstVideoFilter drops late frames by default; a detector must pass every
   * frame on and only skip the inference (skip-late). */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}
