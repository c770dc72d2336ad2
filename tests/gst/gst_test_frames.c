/* Decodes real frames through filesrc ! decodebin ! videoconvert ! appsink. */
#include "gst_test_frames.h"

#include "test_util.h"

GstSample *
vq_test_decode_frame (const char *path, double seconds, const char *format, int width,
                      int height)
{
  GError *error = NULL;
  gchar *size = width > 0 ? g_strdup_printf (",width=%d,height=%d,pixel-aspect-ratio=1/1",
                                             width, height) : g_strdup ("");
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! videoconvert ! "
                                 "videoscale ! video/x-raw,format=%s%s ! "
                                 "appsink name=sink sync=false", path, format, size);
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstElement *sink;
  GstSample *sample = NULL;

  if (pipeline == NULL)
    g_error ("%s: %s", desc, error->message);
  sink = gst_bin_get_by_name (GST_BIN (pipeline), "sink");
  if (gst_element_set_state (pipeline, GST_STATE_PAUSED) == GST_STATE_CHANGE_FAILURE
      || gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND) != GST_STATE_CHANGE_SUCCESS)
    g_error ("cannot decode %s", path);
  if (seconds > 0.0) {
    if (!gst_element_seek_simple (pipeline, GST_FORMAT_TIME,
                                  GST_SEEK_FLAG_FLUSH | GST_SEEK_FLAG_ACCURATE,
                                  (gint64) (seconds * GST_SECOND)))
      g_error ("cannot seek %s to %.2f s", path, seconds);
    gst_element_get_state (pipeline, NULL, NULL, 30 * GST_SECOND);
  }
  g_signal_emit_by_name (sink, "pull-preroll", &sample);
  if (sample == NULL)
    g_error ("no frame from %s", path);

  gst_element_set_state (pipeline, GST_STATE_NULL);
  gst_object_unref (sink);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (size);
  return sample;
}

GstSample *
vq_test_vtest_frame (double seconds, const char *format)
{
  char *path = vq_test_opencv_file ("vtest.avi");
  GstSample *sample = vq_test_decode_frame (path, seconds, format, 0, 0);

  g_free (path);
  return sample;
}
