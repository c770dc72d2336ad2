/* A 100-frame pipeline (decode -> vqdetect -> vqoverlay) leaks nothing:
 * GStreamer's leaks tracer checks every GstObject and GstMiniObject the
 * run creates; run it under valgrind or ASan (meson test --suite
 * gst-valgrind, or the ASan build) to also cover plain allocations. */
#include <gst/gst.h>

#include "test_util.h"

#define FRAMES 100

static GstTracer *
leaks_tracer (void)
{
  GList *tracers = gst_tracing_get_active_tracers ();
  GstTracer *found = NULL;

  for (GList *l = tracers; l != NULL; l = l->next)
    if (found == NULL && g_str_has_prefix (G_OBJECT_TYPE_NAME (l->data), "GstLeaksTracer"))
      found = gst_object_ref (l->data);
  g_list_free_full (tracers, gst_object_unref);
  return found;
}

static GstPadProbeReturn
count_buffer (GstPad *pad, GstPadProbeInfo *info, gpointer counter)
{
  g_atomic_int_inc ((gint *) counter);
  return GST_PAD_PROBE_OK;
}

static guint
run_pipeline (const char *video, guint interval)
{
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin ! identity eos-after=%d ! "
                                 "videoconvert ! vqdetect name=detect backend=cpu interval=%u ! vqoverlay ! "
                                 "fakesink", video, FRAMES, interval);
  GError *error = NULL;
  GstElement *pipeline = gst_parse_launch (desc, &error);
  GstBus *bus;
  GstMessage *msg;
  guint messages = 0, detections = 0;
  gboolean done = FALSE;
  gint entered = 0;

  g_assert_no_error (error);
  /* Count the frames that reach vqdetect: identity's eos-after sometimes
   * lets one frame fewer through, and what matters here is one message per
   * frame the element saw. */
  GstElement *detect = gst_bin_get_by_name (GST_BIN (pipeline), "detect");
  GstPad *sink_pad = gst_element_get_static_pad (detect, "sink");
  gst_pad_add_probe (sink_pad, GST_PAD_PROBE_TYPE_BUFFER, count_buffer, &entered, NULL);
  gst_object_unref (sink_pad);
  gst_object_unref (detect);
  bus = gst_element_get_bus (pipeline);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_PLAYING), !=,
                   GST_STATE_CHANGE_FAILURE);
  while (!done && (msg = gst_bus_timed_pop (bus, 600 * GST_SECOND)) != NULL) {
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ERROR) {
      gst_message_parse_error (msg, &error, NULL);
      g_error ("%s", error->message);
    }
    if (GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT && gst_message_has_name (msg, "vqdetect")) {
      guint n = 0;
      gst_structure_get_uint (gst_message_get_structure (msg), "num-detections", &n);
      detections += n;
      messages++;
    }
    done = GST_MESSAGE_TYPE (msg) == GST_MESSAGE_EOS;
    gst_message_unref (msg);
  }
  g_assert_true (done);
  g_assert_cmpint (gst_element_set_state (pipeline, GST_STATE_NULL), ==, GST_STATE_CHANGE_SUCCESS);
  gst_object_unref (bus);
  gst_object_unref (pipeline);
  g_free (desc);
  g_assert_cmpuint (messages, ==, (guint) g_atomic_int_get (&entered));
  g_assert_cmpuint (messages, >=, FRAMES - 1);
  g_assert_cmpuint (detections, >, 0);
  return messages;
}

/* Objects the tracer saw created and not destroyed between start and
 * checkpoint (its lists hold both, keyed by address). Returns their count
 * and logs their types. */
static guint
count_leaked (GstStructure *checkpoint)
{
  const GValue *created = gst_structure_get_value (checkpoint, "objects-created-list");
  const GValue *removed = gst_structure_get_value (checkpoint, "objects-removed-list");
  GHashTable *gone = g_hash_table_new (g_str_hash, g_str_equal);
  guint leaked = 0;

  g_assert_nonnull (created);
  g_assert_nonnull (removed);
  for (guint i = 0; i < gst_value_list_get_size (removed); i++) {
    const GstStructure *o = gst_value_get_structure (gst_value_list_get_value (removed, i));
    g_hash_table_add (gone, (gpointer) gst_structure_get_string (o, "address"));
  }
  for (guint i = 0; i < gst_value_list_get_size (created); i++) {
    const GstStructure *o = gst_value_get_structure (gst_value_list_get_value (created, i));
    if (!g_hash_table_contains (gone, gst_structure_get_string (o, "address"))) {
      g_test_message ("leaked: %s at %s", gst_structure_get_string (o, "type-name"),
                      gst_structure_get_string (o, "address"));
      leaked++;
    }
  }
  g_hash_table_unref (gone);
  return leaked;
}

static void
test_no_leaks (void)
{
  char *video = vq_test_opencv_file ("vtest.avi");
  GstTracer *tracer = leaks_tracer ();
  GstStructure *checkpoint = NULL;
  const char *env = g_getenv ("VQ_LEAK_INTERVAL");
  guint interval = (guint) g_ascii_strtoull (env ? env : "10", NULL, 10);

  g_assert_nonnull (tracer);
  /* A first run creates the process-wide things that live on by design
   * (caps caches, buffer pool types, plugin features); everything the
   * second run creates must be gone when its pipeline is freed. */
  run_pipeline (video, interval);
  g_signal_emit_by_name (tracer, "activity-start-tracking");
  run_pipeline (video, interval);
  /* Streaming threads drop their task's last reference just after the
   * pipeline stopped; wait for them, or the task looks leaked. */
  gst_task_cleanup_all ();
  g_signal_emit_by_name (tracer, "activity-get-checkpoint", &checkpoint);
  g_signal_emit_by_name (tracer, "activity-stop-tracking");
  g_assert_nonnull (checkpoint);
  g_assert_cmpuint (count_leaked (checkpoint), ==, 0);
  gst_structure_free (checkpoint);
  gst_object_unref (tracer);
  g_free (video);
}

int
main (int argc, char **argv)
{
  int status;

  /* Before gst_init(), which reads it. */
  g_setenv ("GST_TRACERS", "leaks", TRUE);
  g_test_init (&argc, &argv, NULL);
  gst_init (&argc, &argv);
  g_test_add_func ("/gst/leaks/pipeline-100-frames", test_no_leaks);
  status = g_test_run ();
  /* Lets valgrind and LeakSanitizer see a clean exit. */
  gst_deinit ();
  return status;
}
