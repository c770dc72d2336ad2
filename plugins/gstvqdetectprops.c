/* gstvqdetectprops.c — vqdetect's properties: their specs (what
 * gst-inspect shows), defaults, and get/set. Settings that depend on the
 * model are re-checked through gstvqdetectmodel.c when they change. */
#include "gstvqdetectpriv.h"

enum {
  PROP_0,
  PROP_MODEL,
  PROP_BACKEND,
  PROP_DEVICE,
  PROP_PRECISION,
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
#define DEFAULT_PROP_PRECISION VQ_PRECISION_AUTO
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

/* Registers an enum type the first time any thread asks for it; `type`
 * is the caller's static cache. */
static GType
enum_type_once (GType *type, const char *name, const GEnumValue *values)
{
  if (g_once_init_enter (type))
    g_once_init_leave (type, g_enum_register_static (name, values));
  return *type;
}

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

  return enum_type_once (&type, "GstVqDetectBackend", values);
}

GType
gst_vq_detect_precision_get_type (void)
{
  static GType type = 0;
  static const GEnumValue values[] = {
    {VQ_PRECISION_AUTO, "Per device: fp16 where it measured faster (CPU devices)", "auto"},
    {VQ_PRECISION_FP32, "fp32 activations (results as the CPU engine's, to rounding)",
     "fp32"},
    {VQ_PRECISION_FP16, "fp16 activations (half the memory traffic; confidences within "
                        "about 0.002 of fp32)", "fp16"},
    {0, NULL, NULL},
  };

  return enum_type_once (&type, "GstVqDetectPrecision", values);
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

  return enum_type_once (&type, "GstVqDetectResize", values);
}

void
vq__detect_init_properties (GstVqDetect *self)
{
  self->model = g_strdup (DEFAULT_PROP_MODEL);
  self->backend = DEFAULT_PROP_BACKEND;
  self->device = g_strdup (DEFAULT_PROP_DEVICE);
  self->precision = DEFAULT_PROP_PRECISION;
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
}

void
vq__detect_free_properties (GstVqDetect *self)
{
  g_free (self->model);
  g_free (self->device);
  g_free (self->classes);
  g_free (self->roi_text);
}

void
vq__detect_set_property (GObject *object, guint prop_id, const GValue *value,
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
      vq__detect_swap_model (self, old_model);
      return;
    case PROP_CLASSES:
      GST_OBJECT_LOCK (self);
      g_free (self->classes);
      self->classes = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      vq__detect_update_classes (self);
      return;
    case PROP_ROI:
      GST_OBJECT_LOCK (self);
      g_free (self->roi_text);
      self->roi_text = g_value_dup_string (value);
      GST_OBJECT_UNLOCK (self);
      /* start() parses it again and fails loudly on a bad value. */
      vq__detect_update_roi (self, g_value_get_string (value));
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
    case PROP_PRECISION:
      self->precision = g_value_get_enum (value);
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

void
vq__detect_get_property (GObject *object, guint prop_id, GValue *value,
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
    case PROP_PRECISION:
      g_value_set_enum (value, self->precision);
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

void
vq__detect_install_properties (GObjectClass *gobject_class)
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
  g_object_class_install_property (gobject_class, PROP_PRECISION,
      g_param_spec_enum ("precision", "Precision",
          "How the Vulkan backend stores activations between layers (arithmetic is "
          "fp32 either way; the CPU backend is always fp32)",
          GST_TYPE_VQ_DETECT_PRECISION, DEFAULT_PROP_PRECISION, ready));
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
          "use the same file, backend, device, precision and resize mode",
          DEFAULT_PROP_SHARE_MODEL,
          ready));
}
