/* gstvqdetectpriv.h — what the files of the vqdetect element share: the
 * instance struct, model management (gstvqdetectmodel.c) and properties
 * (gstvqdetectprops.c). Not installed. */
#ifndef GST_VQ_DETECT_PRIV_H
#define GST_VQ_DETECT_PRIV_H

#include "gstvqdetect.h"
#include "gstvqresults.h"
#include "vqdetectorpool.h"
#include "vqparams.h"
#include "vqschedule.h"

G_BEGIN_DECLS

GST_DEBUG_CATEGORY_EXTERN (vq__detect_debug);

struct _GstVqDetect {
  GstVideoFilter parent;

  /* Properties, guarded by the object lock. */
  char *model;
  vq_backend_kind backend;
  char *device;
  vq_precision precision;
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
  const char *precision_name; /* interned: "fp32" or "fp16" */

  /* Serialises start, stop and model swaps (never held while streaming). */
  GMutex model_lock;

  /* Streaming thread only. */
  vq__schedule schedule;
  GArray *results;    /* vq__result: the last results, carried to skipped frames */
  GArray *detections; /* vq_detection scratch */
  GstClockTime last_latency;
};

/* gstvqdetectmodel.c: loads the model and the settings that depend on
 * it; on failure posts the error and returns FALSE. */
gboolean vq__detect_load (GstVqDetect *self);
void vq__detect_unload (GstVqDetect *self);
/* Called when `model` changed; takes `old_model` (restored on failure). */
void vq__detect_swap_model (GstVqDetect *self, char *old_model);
void vq__detect_update_classes (GstVqDetect *self);
void vq__detect_update_roi (GstVqDetect *self, const char *text);

/* gstvqdetectprops.c */
void vq__detect_install_properties (GObjectClass *gobject_class);
void vq__detect_init_properties (GstVqDetect *self);
void vq__detect_free_properties (GstVqDetect *self);
void vq__detect_set_property (GObject *object, guint prop_id, const GValue *value,
                              GParamSpec *pspec);
void vq__detect_get_property (GObject *object, guint prop_id, GValue *value,
                              GParamSpec *pspec);

G_END_DECLS

#endif /* GST_VQ_DETECT_PRIV_H */
