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
#include "gstvqdetect.h"

#include <string.h>

#include "gstvqresults.h"
#include "vqcore/error.h"
#include "vqdetectorpool.h"
#include "vqparams.h"
#include "vqschedule.h"

GST_DEBUG_CATEGORY_STATIC (gst_vq_detect_debug);
#define GST_CAT_DEFAULT gst_vq_detect_debug

#define VQ_DETECT_FORMATS "{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, NV12, I420 }"

enum {
  PROP_0,
  PROP_MODEL,
  PROP_BACKEND,
  PROP_DEVICE,
  PROP_THREADS,
  PROP_THRESHOLD,
  PROP_NMS_IOU,
  PROP_MAX_DETECTIONS,
  PROP_CLASSES,
  PROP_INTERVAL,
  PROP_ROI,
  PROP_RESIZE,
  PROP_MESSAGE,
  PROP_SKIP_LATE,
  PROP_SHARE_MODEL,
};

#define DEFAULT_PROP_MODEL NULL
#define DEFAULT_PROP_BACKEND VQ_BACKEND_AUTO
#define DEFAULT_PROP_DEVICE NULL
#define DEFAULT_PROP_THREADS 0
#define DEFAULT_PROP_THRESHOLD -1.0
#define DEFAULT_PROP_NMS_IOU -1.0
#define DEFAULT_PROP_MAX_DETECTIONS -1
#define DEFAULT_PROP_CLASSES NULL
#define DEFAULT_PROP_INTERVAL 1
#define DEFAULT_PROP_ROI NULL
#define DEFAULT_PROP_RESIZE VQ_RESIZE_LETTERBOX
#define DEFAULT_PROP_MESSAGE TRUE
#define DEFAULT_PROP_SKIP_LATE TRUE
#define DEFAULT_PROP_SHARE_MODEL TRUE

struct _GstVqDetect {
  GstVideoFilter parent;

  /* Properties, guarded by the object lock. */
  char *model;
  vq_backend_kind backend;
  char *device;
  gint threads;
  gdouble threshold;
  gdouble nms_iou;
  gint max_detections;
  char *classes;
  guint interval;
  char *roi_text;
  vq_fit_mode resize;
  gboolean post_messages;
  gboolean skip_late;
  gboolean share_model;

  /* Derived from properties once the model is known (object lock). */
  vq__pooled_detector *detector;
  vq__class_filter *class_filter;
  vq__rect roi;
  gboolean roi_set;
  GstClockTime earliest_time; /* from downstream QoS events */
  const char *backend_name;   /* interned, for the messages */
  const char *device_name;

  /* Serialises start, stop and model swaps (never held while streaming). */
  GMutex model_lock;

  /* Streaming thread only. */
  vq__schedule schedule;
  GArray *results;    /* vq__result: the last results, carried to skipped frames */
  GArray *detections; /* vq_detection scratch */
  GstClockTime last_latency;
};

G_DEFINE_TYPE (GstVqDetect, gst_vq_detect, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE (vqdetect, "vqdetect", GST_RANK_NONE, GST_TYPE_VQ_DETECT)

static GstStaticPadTemplate sink_template = GST_STATIC_PAD_TEMPLATE ("sink",
    GST_PAD_SINK, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VQ_DETECT_FORMATS)));

static GstStaticPadTemplate src_template = GST_STATIC_PAD_TEMPLATE ("src",
    GST_PAD_SRC, GST_PAD_ALWAYS,
    GST_STATIC_CAPS (GST_VIDEO_CAPS_MAKE (VQ_DETECT_FORMATS)));

GType
gst_vq_detect_backend_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {VQ_BACKEND_AUTO, "Vulkan when a usable device exists, else CPU", "auto"},
    {VQ_BACKEND_CPU, "CPU reference engine", "cpu"},
    {VQ_BACKEND_VULKAN, "Vulkan compute (any vendor's GPU)", "vulkan"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstVqDetectBackend", values));
  return type;
}

GType
gst_vq_detect_resize_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {VQ_RESIZE_LETTERBOX, "Keep the aspect ratio, pad with black", "letterbox"},
    {VQ_RESIZE_STRETCH, "Scale each axis to the model input", "stretch"},
    {0, NULL, NULL},
  };

  if (g_once_init_enter (&type))
    g_once_init_leave (&type, g_enum_register_static ("GstVqDetectResize", values));
  return type;
}

/* Posts a load failure as the GStreamer error that fits the vqcore error,
 * with a message that names the model file (vqcore's messages usually
 * start with it already) and the reason. */
static void
post_load_error (GstVqDetect *self, const char *path, const GError *error)
{
  GQuark domain = GST_RESOURCE_ERROR;
  gint code = GST_RESOURCE_ERROR_OPEN_READ;
  gchar *text;

  if (error->code == VQ_ERROR_NOT_FOUND
      || (path != NULL && !g_file_test (path, G_FILE_TEST_EXISTS)))
    code = GST_RESOURCE_ERROR_NOT_FOUND;
  else if (error->code == VQ_ERROR_INVALID)
    code = GST_RESOURCE_ERROR_SETTINGS;
  else if (error->code == VQ_ERROR_BACKEND) {
    domain = GST_LIBRARY_ERROR;
    code = GST_LIBRARY_ERROR_INIT;
  } else if (error->code != VQ_ERROR_IO) {
    domain = GST_STREAM_ERROR;
    code = GST_STREAM_ERROR_FORMAT;
  }

  if (path != NULL && strstr (error->message, path) == NULL)
    text = g_strdup_printf ("Could not load model \"%s\": %s", path, error->message);
  else
    text = g_strdup_printf ("Could not load model: %s", error->message);
  gst_element_message_full (GST_ELEMENT (self), GST_MESSAGE_ERROR, domain, code, text, NULL,
                            __FILE__, GST_FUNCTION, __LINE__);
}

/* Loads (or shares) the detector named by the current properties. */
static vq__pooled_detector *
load_detector (GstVqDetect *self, char **path_out, GError **error)
{
  vq_detector_options options;
  vq__pooled_detector *pooled;
  gboolean share;
  char *path, *device;

  GST_OBJECT_LOCK (self);
  path = g_strdup (self->model);
  device = g_strdup (self->device);
  vq_detector_options_init (&options);
  options.engine.backend = self->backend;
  options.engine.n_threads = self->threads;
  options.fit = self->resize;
  share = self->share_model;
  GST_OBJECT_UNLOCK (self);

  if (path == NULL || *path == '\0') {
    g_free (path);
    path = vq_default_model_path (error);
    if (path == NULL) {
      g_prefix_error (error, "the \"model\" property is not set; ");
      g_free (device);
      return NULL;
    }
  }
  options.model_path = path;
  options.engine.device = device;

  pooled = vq__detector_pool_acquire (&options, share, error);
  g_free (device);
  if (pooled != NULL) {
    vq_engine *engine = vq_detector_engine ((vq_detector *) vq__pooled_detector_peek (pooled));
    const char *backend_name = g_intern_string (vq_engine_backend_name (engine));
    const char *device_name = g_intern_string (vq_engine_device_name (engine));

    GST_INFO_OBJECT (self, "model %s on %s (%s), %u user(s)", path, backend_name, device_name,
                     vq__pooled_detector_users (pooled));
    GST_OBJECT_LOCK (self);
    self->backend_name = backend_name;
    self->device_name = device_name;
    GST_OBJECT_UNLOCK (self);
  }
  *path_out = path;
  return pooled;
}

static gboolean
parse_classes (GstVqDetect *self, vq__pooled_detector *pooled, const char *classes,
               vq__class_filter **filter, GError **error)
{
  const vq_model *model = vq_detector_model (vq__pooled_detector_peek (pooled));

  return vq__class_filter_parse (classes, (const char *const *) model->labels,
                                 model->decoder.num_classes, filter, error);
}

static gboolean
gst_vq_detect_start (GstBaseTransform *trans)
{
  GstVqDetect *self = GST_VQ_DETECT (trans);
  GError *error = NULL;
  vq__pooled_detector *pooled;
  vq__class_filter *filter = NULL;
  vq__rect roi;
  gboolean roi_set;
  char *path = NULL, *classes, *roi_text;

  g_mutex_lock (&self->model_lock);
  pooled = load_detector (self, &path, &error);
  if (pooled == NULL)
    goto load_failed;

  GST_OBJECT_LOCK (self);
  classes = g_strdup (self->classes);
  roi_text = g_strdup (self->roi_text);
  GST_OBJECT_UNLOCK (self);

  if (!parse_classes (self, pooled, classes, &filter, &error)
      || !vq__roi_parse (roi_text, &roi, &roi_set, &error))
    goto bad_setting;
  g_free (classes);
  g_free (roi_text);

  GST_OBJECT_LOCK (self);
  self->detector = pooled;
  self->class_filter = filter;
  self->roi = roi;
  self->roi_set = roi_set;
  self->earliest_time = GST_CLOCK_TIME_NONE;
  GST_OBJECT_UNLOCK (self);
  g_mutex_unlock (&self->model_lock);

  vq__schedule_reset (&self->schedule);
  g_array_set_size (self->results, 0);
  self->last_latency = 0;
  g_free (path);
  return TRUE;

  /* ERRORS */
load_failed:
  g_mutex_unlock (&self->model_lock);
  post_load_error (self, path, error);
  g_clear_error (&error);
  g_free (path);
  return FALSE;
bad_setting:
  g_mutex_unlock (&self->model_lock);
  GST_ELEMENT_ERROR (self, RESOURCE, SETTINGS, ("Invalid setting for model \"%s\": %s", path,
                     error->message), (NULL));
  g_clear_error (&error);
  vq__pooled_detector_unref (pooled);
  g_free (classes);
  g_free (roi_text);
  g_free (path);
  return FALSE;
}

static gboolean
gst_vq_detect_stop (GstBaseTransform *trans)
{
  GstVqDetect *self = GST_VQ_DETECT (trans);
  vq__pooled_detector *pooled;
  vq__class_filter *filter;

  g_mutex_lock (&self->model_lock);
  GST_OBJECT_LOCK (self);
  pooled = g_steal_pointer (&self->detector);
  filter = g_steal_pointer (&self->class_filter);
  GST_OBJECT_UNLOCK (self);
  g_mutex_unlock (&self->model_lock);

  vq__pooled_detector_unref (pooled);
  vq__class_filter_free (filter);
  g_array_set_size (self->results, 0);
  return TRUE;
}

/* Hot swap: load the new model beside the old one, then switch between two
 * frames. On failure the old model stays and the application is warned. */
static void
swap_model (GstVqDetect *self, char *old_model)
{
  GError *error = NULL;
  vq__pooled_detector *pooled, *old;
  vq__class_filter *filter = NULL, *old_filter;
  char *path = NULL, *classes;

  g_mutex_lock (&self->model_lock);
  GST_OBJECT_LOCK (self);
  if (self->detector == NULL) { /* not started: start() loads it */
    GST_OBJECT_UNLOCK (self);
    g_mutex_unlock (&self->model_lock);
    g_free (old_model);
    return;
  }
  classes = g_strdup (self->classes);
  GST_OBJECT_UNLOCK (self);

  pooled = load_detector (self, &path, &error);
  if (pooled == NULL || !parse_classes (self, pooled, classes, &filter, &error)) {
    GST_ELEMENT_WARNING (self, RESOURCE, OPEN_READ,
                         ("Could not switch to model \"%s\", keeping the current one: %s",
                          path ? path : "(default)", error->message), (NULL));
    g_clear_error (&error);
    vq__pooled_detector_unref (pooled);
    GST_OBJECT_LOCK (self);
    g_free (self->model);
    self->model = g_steal_pointer (&old_model);
    GST_OBJECT_UNLOCK (self);
  } else {
    GST_OBJECT_LOCK (self);
    old = self->detector;
    old_filter = self->class_filter;
    self->detector = pooled;
    self->class_filter = filter;
    GST_OBJECT_UNLOCK (self);
    vq__pooled_detector_unref (old);
    vq__class_filter_free (old_filter);
    GST_INFO_OBJECT (self, "switched to model %s", path);
  }
  g_mutex_unlock (&self->model_lock);
  g_free (classes);
  g_free (path);
  g_free (old_model);
}

/* Re-reads `classes` or `roi` set while running; a bad value is reported
 * as a warning and the previous one stays in force. */
static void
update_classes (GstVqDetect *self)
{
  GError *error = NULL;
  vq__class_filter *filter = NULL;
  vq__pooled_detector *pooled;
  char *classes;

  g_mutex_lock (&self->model_lock);
  GST_OBJECT_LOCK (self);
  pooled = self->detector ? vq__pooled_detector_ref (self->detector) : NULL;
  classes = g_strdup (self->classes);
  GST_OBJECT_UNLOCK (self);

  if (pooled != NULL) {
    if (parse_classes (self, pooled, classes, &filter, &error)) {
      GST_OBJECT_LOCK (self);
      vq__class_filter_free (self->class_filter);
      self->class_filter = filter;
      GST_OBJECT_UNLOCK (self);
    } else {
      GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("%s", error->message), (NULL));
      g_clear_error (&error);
    }
    vq__pooled_detector_unref (pooled);
  }
  g_mutex_unlock (&self->model_lock);
  g_free (classes);
}

static void
update_roi (GstVqDetect *self, const char *text)
{
  GError *error = NULL;
  vq__rect roi;
  gboolean roi_set;

  if (!vq__roi_parse (text, &roi, &roi_set, &error)) {
    GST_ELEMENT_WARNING (self, RESOURCE, SETTINGS, ("%s", error->message), (NULL));
    g_clear_error (&error);
    return;
  }
  GST_OBJECT_LOCK (self);
  self->roi = roi;
  self->roi_set = roi_set;
  GST_OBJECT_UNLOCK (self);
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
gst_vq_detect_set_property (GObject *object, guint prop_id, const GValue *value,
                            GParamSpec *pspec)
{
  GstVqDetect *self = GST_VQ_DETECT (object);
  char *old_model;

  switch (prop_id) {
    case PROP_MODEL:
      GST_OBJECT_LOCK (self);
      old_model = self->model;
      self->model = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      swap_model (self, old_model);
      return;
    case PROP_CLASSES:
      GST_OBJECT_LOCK (self);
      g_free (self->classes);
      self->classes = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      update_classes (self);
      return;
    case PROP_ROI:
      GST_OBJECT_LOCK (self);
      g_free (self->roi_text);
      self->roi_text = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      /* start() parses it again and fails loudly on a bad value. */
      update_roi (self, g_value_get_string (value));
      return;
    default:
      break;
  }

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_BACKEND:
      self->backend = g_value_get_enum (value);
      break;
    case PROP_DEVICE:
      g_free (self->device);
      self->device = g_value_dup_string (value);
      break;
    case PROP_THREADS:
      self->threads = g_value_get_int (value);
      break;
    case PROP_THRESHOLD:
      self->threshold = g_value_get_double (value);
      break;
    case PROP_NMS_IOU:
      self->nms_iou = g_value_get_double (value);
      break;
    case PROP_MAX_DETECTIONS:
      self->max_detections = g_value_get_int (value);
      break;
    case PROP_INTERVAL:
      self->interval = g_value_get_uint (value);
      break;
    case PROP_RESIZE:
      self->resize = g_value_get_enum (value);
      break;
    case PROP_MESSAGE:
      self->post_messages = g_value_get_boolean (value);
      break;
    case PROP_SKIP_LATE:
      self->skip_late = g_value_get_boolean (value);
      break;
    case PROP_SHARE_MODEL:
      self->share_model = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vq_detect_get_property (GObject *object, guint prop_id, GValue *value,
                            GParamSpec *pspec)
{
  GstVqDetect *self = GST_VQ_DETECT (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_MODEL:
      g_value_set_string (value, self->model);
      break;
    case PROP_BACKEND:
      g_value_set_enum (value, self->backend);
      break;
    case PROP_DEVICE:
      g_value_set_string (value, self->device);
      break;
    case PROP_THREADS:
      g_value_set_int (value, self->threads);
      break;
    case PROP_THRESHOLD:
      g_value_set_double (value, self->threshold);
      break;
    case PROP_NMS_IOU:
      g_value_set_double (value, self->nms_iou);
      break;
    case PROP_MAX_DETECTIONS:
      g_value_set_int (value, self->max_detections);
      break;
    case PROP_CLASSES:
      g_value_set_string (value, self->classes);
      break;
    case PROP_INTERVAL:
      g_value_set_uint (value, self->interval);
      break;
    case PROP_ROI:
      g_value_set_string (value, self->roi_text);
      break;
    case PROP_RESIZE:
      g_value_set_enum (value, self->resize);
      break;
    case PROP_MESSAGE:
      g_value_set_boolean (value, self->post_messages);
      break;
    case PROP_SKIP_LATE:
      g_value_set_boolean (value, self->skip_late);
      break;
    case PROP_SHARE_MODEL:
      g_value_set_boolean (value, self->share_model);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vq_detect_finalize (GObject *object)
{
  GstVqDetect *self = GST_VQ_DETECT (object);

  g_free (self->model);
  g_free (self->device);
  g_free (self->classes);
  g_free (self->roi_text);
  vq__class_filter_free (self->class_filter);
  vq__pooled_detector_unref (self->detector);
  g_array_unref (self->results);
  g_array_unref (self->detections);
  g_mutex_clear (&self->model_lock);
  G_OBJECT_CLASS (gst_vq_detect_parent_class)->finalize (object);
}

static void
install_properties (GObjectClass *gobject_class)
{
  const GParamFlags rw = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS;
  const GParamFlags ready = rw | GST_PARAM_MUTABLE_READY;
  const GParamFlags playing = rw | GST_PARAM_MUTABLE_PLAYING;

  g_object_class_install_property (gobject_class, PROP_MODEL,
      g_param_spec_string ("model", "Model",
          "Path of the .vqm model file (unset: $VQDETECT_MODEL, else "
          "~/.cache/vqdetect/nanodet.vqm, else the installed copy). Setting it "
          "while playing swaps the model between two frames", DEFAULT_PROP_MODEL, playing));
  g_object_class_install_property (gobject_class, PROP_BACKEND,
      g_param_spec_enum ("backend", "Backend", "Compute backend for inference",
          GST_TYPE_VQ_DETECT_BACKEND, DEFAULT_PROP_BACKEND, ready));
  g_object_class_install_property (gobject_class, PROP_DEVICE,
      g_param_spec_string ("device", "Device",
          "Vulkan device: index (\"0\") or part of its name (unset: the best one)",
          DEFAULT_PROP_DEVICE, ready));
  g_object_class_install_property (gobject_class, PROP_THREADS,
      g_param_spec_int ("threads", "Threads",
          "CPU backend worker threads (0 = one per core)", 0, 256, DEFAULT_PROP_THREADS, ready));
  g_object_class_install_property (gobject_class, PROP_THRESHOLD,
      g_param_spec_double ("threshold", "Threshold",
          "Minimum confidence of a detection (-1 = the model's default, 0.35 for NanoDet)",
          -1.0, 1.0, DEFAULT_PROP_THRESHOLD, playing));
  g_object_class_install_property (gobject_class, PROP_NMS_IOU,
      g_param_spec_double ("nms-iou", "NMS IoU",
          "Overlap (intersection over union) above which the weaker of two boxes of "
          "one class is dropped (-1 = the model's default, 0.6 for NanoDet)",
          -1.0, 1.0, DEFAULT_PROP_NMS_IOU, playing));
  g_object_class_install_property (gobject_class, PROP_MAX_DETECTIONS,
      g_param_spec_int ("max-detections", "Max detections",
          "Most detections kept per frame, best first (-1 = the model's default, 0 = no limit)",
          -1, 100000, DEFAULT_PROP_MAX_DETECTIONS, playing));
  g_object_class_install_property (gobject_class, PROP_CLASSES,
      g_param_spec_string ("classes", "Classes",
          "Comma-separated label names (or class ids) to keep, e.g. \"person,car\" "
          "(unset: all classes)", DEFAULT_PROP_CLASSES, playing));
  g_object_class_install_property (gobject_class, PROP_INTERVAL,
      g_param_spec_uint ("interval", "Interval",
          "Run inference on every Nth frame; the frames in between carry the last results",
          1, G_MAXINT, DEFAULT_PROP_INTERVAL, playing));
  g_object_class_install_property (gobject_class, PROP_ROI,
      g_param_spec_string ("roi", "Region of interest",
          "Detect only inside \"x,y,width,height\" (frame pixels; unset: the whole frame)",
          DEFAULT_PROP_ROI, playing));
  g_object_class_install_property (gobject_class, PROP_RESIZE,
      g_param_spec_enum ("resize", "Resize",
          "How frames are fitted to the model input", GST_TYPE_VQ_DETECT_RESIZE,
          DEFAULT_PROP_RESIZE, ready));
  g_object_class_install_property (gobject_class, PROP_MESSAGE,
      g_param_spec_boolean ("message", "Message",
          "Post a \"vqdetect\" element message with the detections and telemetry "
          "for every frame", DEFAULT_PROP_MESSAGE, playing));
  g_object_class_install_property (gobject_class, PROP_SKIP_LATE,
      g_param_spec_boolean ("skip-late", "Skip late",
          "Skip inference (carry the last results) on frames downstream QoS reports "
          "as late, so a slow detector never makes latency pile up",
          DEFAULT_PROP_SKIP_LATE, playing));
  g_object_class_install_property (gobject_class, PROP_SHARE_MODEL,
      g_param_spec_boolean ("share-model", "Share model",
          "Share one loaded model with other vqdetect elements of this process that "
          "use the same file, backend, device and resize mode", DEFAULT_PROP_SHARE_MODEL,
          ready));
}

static void
gst_vq_detect_class_init (GstVqDetectClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GstVideoFilterClass *filter_class = GST_VIDEO_FILTER_CLASS (klass);

  gobject_class->set_property = gst_vq_detect_set_property;
  gobject_class->get_property = gst_vq_detect_get_property;
  gobject_class->finalize = gst_vq_detect_finalize;
  install_properties (gobject_class);

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
  gst_type_mark_as_plugin_api (GST_TYPE_VQ_DETECT_RESIZE, 0);
  GST_DEBUG_CATEGORY_INIT (gst_vq_detect_debug, "vqdetect", 0, "vqdetect element");
}

static void
gst_vq_detect_init (GstVqDetect *self)
{
  self->model = g_strdup (DEFAULT_PROP_MODEL);
  self->backend = DEFAULT_PROP_BACKEND;
  self->device = g_strdup (DEFAULT_PROP_DEVICE);
  self->threads = DEFAULT_PROP_THREADS;
  self->threshold = DEFAULT_PROP_THRESHOLD;
  self->nms_iou = DEFAULT_PROP_NMS_IOU;
  self->max_detections = DEFAULT_PROP_MAX_DETECTIONS;
  self->classes = g_strdup (DEFAULT_PROP_CLASSES);
  self->interval = DEFAULT_PROP_INTERVAL;
  self->roi_text = g_strdup (DEFAULT_PROP_ROI);
  self->resize = DEFAULT_PROP_RESIZE;
  self->post_messages = DEFAULT_PROP_MESSAGE;
  self->skip_late = DEFAULT_PROP_SKIP_LATE;
  self->share_model = DEFAULT_PROP_SHARE_MODEL;
  self->earliest_time = GST_CLOCK_TIME_NONE;
  self->results = g_array_new (FALSE, FALSE, sizeof (vq__result));
  self->detections = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  g_mutex_init (&self->model_lock);
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
  /* GstVideoFilter drops late frames by default; a detector must pass every
   * frame on and only skip the inference (skip-late). */
  gst_base_transform_set_qos_enabled (GST_BASE_TRANSFORM (self), FALSE);
}
