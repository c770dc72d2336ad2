/* gstvqdetectmodel.c — vqdetect's model: loading (shared through the
 * detector pool), load errors as GStreamer errors, swapping the model
 * while playing, and the settings checked against the model's labels. */
#include "gstvqdetectpriv.h"

#include <string.h>

#include "vqcore/error.h"

#define GST_CAT_DEFAULT vq__detect_debug

/* Posts a load failure as the GStreamer error that fits the vqcore error,
 * with a message that names the model file and the reason. Failures of
 * the compute backend (no device, a named device that does not exist)
 * are told apart from problems with the file. */
static void
post_load_error (GstVqDetect *self, const char *path, const GError *error)
{
  gboolean file_exists = path != NULL && g_file_test (path, G_FILE_TEST_IS_REGULAR);
  gboolean backend = error->code == VQ_ERROR_BACKEND
                     || (error->code == VQ_ERROR_NOT_FOUND && file_exists);
  GQuark domain = GST_RESOURCE_ERROR;
  gint code = GST_RESOURCE_ERROR_OPEN_READ;
  gchar *text;

  if (error->code == VQ_ERROR_NOT_FOUND || (path != NULL && !file_exists))
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

  if (backend)
    text = g_strdup_printf ("No usable compute backend for model \"%s\": %s", path,
                            error->message);
  /* vqcore's messages usually start with the file name already. */
  else if (path != NULL && strstr (error->message, path) == NULL)
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
  options.engine.precision = self->precision;
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
    const char *precision_name = g_intern_string (vq_engine_precision_name (engine));

    GST_INFO_OBJECT (self, "model %s on %s (%s, %s activations), %u user(s)", path,
                     backend_name, device_name, precision_name,
                     vq__pooled_detector_users (pooled));
    GST_OBJECT_LOCK (self);
    self->backend_name = backend_name;
    self->device_name = device_name;
    self->precision_name = precision_name;
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

gboolean
vq__detect_load (GstVqDetect *self)
{
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

void
vq__detect_unload (GstVqDetect *self)
{
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
}

/* Hot swap: load the new model beside the old one, then switch between two
 * frames. On failure the old model stays and the application is warned. */
void
vq__detect_swap_model (GstVqDetect *self, char *old_model)
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
void
vq__detect_update_classes (GstVqDetect *self)
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

void
vq__detect_update_roi (GstVqDetect *self, const char *text)
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
