/* vqdetect: caps, metadata on real frames, interval, classes, roi, bus
 * messages, errors, resolution changes, state cycling, model sharing. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>
#include <glib/gstdio.h>

#include "gst_test_frames.h"
#include "gstvqresults.h"
#include "test_util.h"
#include "vqcore/detector.h"
#include "vqdetectorpool.h"

static const char *formats[] = { "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "NV12", "I420" };

static char *
model_path (void)
{
  return vq_test_cache_file ("nanodet.vqm");
}

/* vqdetect with the test model, CPU backend, `props`, and a bus. */
static GstElement *
make_detect (const char *props, GstBus **bus)
{
  char *path = model_path ();
  gchar *desc = g_strdup_printf ("vqdetect model=\"%s\" backend=cpu %s", path, props);
  GError *error = NULL;
  GstElement *e = gst_parse_launch (desc, &error);

  fail_unless (e != NULL, "%s", error ? error->message : desc);
  if (bus != NULL) {
    *bus = gst_bus_new ();
    gst_element_set_bus (e, *bus);
  }
  g_free (desc);
  g_free (path);
  return e;
}

static GstHarness *
detect_harness (const char *props, GstSample *sample, GstBus **bus)
{
  GstHarness *h = gst_harness_new_with_element (make_detect (props, bus), "sink", "src");

  gst_object_unref (h->element); /* the harness holds its own reference */
  gst_harness_set_src_caps (h, gst_caps_copy (gst_sample_get_caps (sample)));
  return h;
}

/* Pushes the sample's buffer (shared, not copied) with timestamp `n` * 100 ms. */
static GstBuffer *
push_pull (GstHarness *h, GstSample *sample, guint n)
{
  GstBuffer *in = gst_buffer_copy (gst_sample_get_buffer (sample));

  GST_BUFFER_PTS (in) = n * 100 * GST_MSECOND;
  GST_BUFFER_DURATION (in) = 100 * GST_MSECOND;
  return gst_harness_push_and_pull (h, in);
}

typedef struct {
  GQuark label;
  gint class_id;
  gdouble confidence;
  guint x, y, w, h;
} meta_box;

static GArray *
boxes_of (GstBuffer *buf)
{
  GArray *boxes = g_array_new (FALSE, TRUE, sizeof (meta_box));
  GstVideoRegionOfInterestMeta *meta;
  gpointer state = NULL;

  while ((meta = (GstVideoRegionOfInterestMeta *) gst_buffer_iterate_meta_filtered (
              buf, &state, GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE))) {
    GstStructure *param = gst_video_region_of_interest_meta_get_param (meta, "detection");
    meta_box b = { meta->roi_type, -1, -1.0, meta->x, meta->y, meta->w, meta->h };

    fail_unless (param != NULL);
    fail_unless (gst_structure_get_int (param, "class-id", &b.class_id));
    fail_unless (gst_structure_get_double (param, "confidence", &b.confidence));
    fail_unless_equals_string (gst_structure_get_string (param, "label"),
                               g_quark_to_string (meta->roi_type));
    g_array_append_val (boxes, b);
  }
  return boxes;
}

static guint
count_label (GArray *boxes, const char *label)
{
  guint n = 0;

  for (guint i = 0; i < boxes->len; i++)
    n += g_array_index (boxes, meta_box, i).label == g_quark_from_string (label);
  return n;
}

static gboolean
same_boxes (GArray *a, GArray *b)
{
  if (a->len != b->len)
    return FALSE;
  return a->len == 0 || memcmp (a->data, b->data, a->len * sizeof (meta_box)) == 0;
}

static double
box_iou (const meta_box *a, const meta_box *b)
{
  double x0 = MAX (a->x, b->x), y0 = MAX (a->y, b->y);
  double x1 = MIN (a->x + a->w, b->x + b->w), y1 = MIN (a->y + a->h, b->y + b->h);
  double inter = MAX (0.0, x1 - x0) * MAX (0.0, y1 - y0);

  return inter / ((double) a->w * a->h + (double) b->w * b->h - inter);
}

/* Runs vqcore's detector directly on (a crop of) the sample. */
static GArray *
detector_reference (GstSample *sample, const vq__rect *crop, const vq_decode_options *decode)
{
  char *path = model_path ();
  vq_detector_options options;
  vq_detector *det;
  GstVideoInfo info;
  GstVideoFrame frame;
  vq_frame vframe;
  GArray *dets = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  GError *error = NULL;

  vq_detector_options_init (&options);
  options.model_path = path;
  options.engine.backend = VQ_BACKEND_CPU;
  options.fit = VQ_RESIZE_LETTERBOX;
  det = vq_detector_new (&options, &error);
  fail_unless (det != NULL, "%s", error ? error->message : "");
  if (decode != NULL)
    vq_detector_set_decode_options (det, decode);
  fail_unless (gst_video_info_from_caps (&info, gst_sample_get_caps (sample)));
  fail_unless (gst_video_frame_map (&frame, &info, gst_sample_get_buffer (sample), GST_MAP_READ));
  fail_unless (vq__frame_from_video (&frame, crop, &vframe));
  fail_unless (vq_detector_run (det, &vframe, dets, &error), "%s", error ? error->message : "");
  gst_video_frame_unmap (&frame);
  for (guint i = 0; i < dets->len; i++) {
    g_array_index (dets, vq_detection, i).x += (float) crop->x;
    g_array_index (dets, vq_detection, i).y += (float) crop->y;
  }
  vq_detector_free (det);
  g_free (path);
  return dets;
}

static void
assert_boxes_match_reference (GArray *boxes, GArray *dets)
{
  fail_unless_equals_int (boxes->len, dets->len);
  for (guint i = 0; i < dets->len; i++) {
    const vq_detection *d = &g_array_index (dets, vq_detection, i);
    const meta_box *b = &g_array_index (boxes, meta_box, i);

    fail_unless_equals_int (b->class_id, d->class_id);
    fail_unless (fabs (b->confidence - d->confidence) < 1e-6);
    fail_unless (fabs (b->x - d->x) <= 1.0 && fabs (b->y - d->y) <= 1.0);
    fail_unless (fabs (b->w - d->w) <= 1.5 && fabs (b->h - d->h) <= 1.5);
  }
}

GST_START_TEST (test_caps)
{
  const char *refused[] = {
    "video/x-raw,format=YUY2,width=64,height=48,framerate=30/1",
    "video/x-raw,format=GRAY8,width=64,height=48,framerate=30/1",
    "video/x-raw(memory:GLMemory),format=RGBA,width=64,height=48,framerate=30/1",
    "audio/x-raw,format=S16LE,rate=48000,channels=2,layout=interleaved",
  };
  GstElement *e = gst_element_factory_make ("vqdetect", NULL);
  GstPad *sink = gst_element_get_static_pad (e, "sink");

  /* Every format at any size and rate: the model's 416x416 is never imposed. */
  for (guint i = 0; i < G_N_ELEMENTS (formats); i++) {
    const char *sizes[] = { "width=7,height=5,framerate=0/1", "width=768,height=576,framerate=10/1",
                            "width=3840,height=2160,framerate=60000/1001" };
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++) {
      gchar *text = g_strdup_printf ("video/x-raw,format=%s,%s", formats[i], sizes[s]);
      GstCaps *caps = gst_caps_from_string (text);

      fail_unless (gst_pad_query_accept_caps (sink, caps), "refused %s", text);
      gst_caps_unref (caps);
      g_free (text);
    }
  }
  for (guint i = 0; i < G_N_ELEMENTS (refused); i++) {
    GstCaps *caps = gst_caps_from_string (refused[i]);

    fail_if (gst_pad_query_accept_caps (sink, caps), "accepted %s", refused[i]);
    gst_caps_unref (caps);
  }
  gst_object_unref (sink);
  gst_object_unref (e);
}
GST_END_TEST

/* A real frame: people found with sane boxes, exactly what vqcore's
 * detector says, and the picture neither copied nor changed. */
GST_START_TEST (test_real_frame_metadata)
{
  GstSample *sample = vq_test_vtest_frame (20.0, "BGRx");
  GstHarness *h = detect_harness ("", sample, NULL);
  GstBuffer *in = gst_sample_get_buffer (sample), *out;
  GstMapInfo map_in, map_out;
  vq__rect full = { 0, 0, 768, 576 };
  GArray *boxes, *dets;

  out = push_pull (h, sample, 0);
  boxes = boxes_of (out);
  fail_unless (count_label (boxes, "person") >= 3, "only %u people", count_label (boxes, "person"));
  for (guint i = 0; i < boxes->len; i++) {
    const meta_box *b = &g_array_index (boxes, meta_box, i);

    fail_unless (b->confidence >= 0.35 && b->confidence <= 1.0);
    fail_unless (b->w > 0 && b->h > 0 && b->x + b->w <= 768 && b->y + b->h <= 576);
    fail_unless (i == 0 || b->confidence <= g_array_index (boxes, meta_box, i - 1).confidence);
  }
  dets = detector_reference (sample, &full, NULL);
  assert_boxes_match_reference (boxes, dets);

  /* In place and read-only: same memory, same bytes. */
  fail_unless (gst_buffer_peek_memory (out, 0) == gst_buffer_peek_memory (in, 0));
  fail_unless (gst_buffer_map (in, &map_in, GST_MAP_READ));
  fail_unless (gst_buffer_map (out, &map_out, GST_MAP_READ));
  fail_unless (map_in.data == map_out.data);
  gst_buffer_unmap (out, &map_out);
  gst_buffer_unmap (in, &map_in);

  g_array_unref (dets);
  g_array_unref (boxes);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
  gst_sample_unref (sample);
}
GST_END_TEST

/* The same picture in every format gives the same people. */
GST_START_TEST (test_formats_agree)
{
  GArray *ref = NULL;

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstSample *sample = vq_test_vtest_frame (20.0, formats[f]);
    GstHarness *h = detect_harness ("", sample, NULL);
    GstBuffer *out = push_pull (h, sample, 0);
    GArray *boxes = boxes_of (out);

    if (ref == NULL) {
      ref = g_array_ref (boxes);
    } else {
      for (guint i = 0; i < ref->len; i++) {
        const meta_box *r = &g_array_index (ref, meta_box, i);
        double best = 0.0;

        if (r->confidence < 0.5)
          continue; /* borderline boxes may come and go with YUV rounding */
        for (guint j = 0; j < boxes->len; j++)
          if (g_array_index (boxes, meta_box, j).label == r->label)
            best = MAX (best, box_iou (r, &g_array_index (boxes, meta_box, j)));
        fail_unless (best > 0.8, "%s: %s at %u,%u best IoU %.2f", formats[f],
                     g_quark_to_string (r->label), r->x, r->y, best);
      }
    }
    g_array_unref (boxes);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
    gst_sample_unref (sample);
  }
  g_array_unref (ref);
}
GST_END_TEST

static GstStructure *
pop_report (GstBus *bus)
{
  GstMessage *msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT);
  GstStructure *s;

  fail_unless (msg != NULL, "no vqdetect message");
  fail_unless (gst_message_has_name (msg, "vqdetect"));
  s = gst_structure_copy (gst_message_get_structure (msg));
  gst_message_unref (msg);
  return s;
}

static gboolean
report_inferred (const GstStructure *s)
{
  gboolean inferred = FALSE;

  fail_unless (gst_structure_get_boolean (s, "inferred", &inferred));
  return inferred;
}

/* interval=3: frames 0, 3, 6 run the detector, the others carry exactly
 * the boxes of the last inferred frame, and the telemetry counts it. */
GST_START_TEST (test_interval)
{
  GstSample *samples[2] = { vq_test_vtest_frame (20.0, "I420"), vq_test_vtest_frame (40.0, "I420") };
  GstBus *bus;
  GstHarness *h = detect_harness ("interval=3", samples[0], &bus);
  GArray *last = NULL;

  for (guint n = 0; n < 7; n++) {
    /* Alternate pictures so carried results are told from fresh ones. */
    GstBuffer *out = push_pull (h, samples[n % 2], n);
    GArray *boxes = boxes_of (out);
    GstStructure *s = pop_report (bus);
    guint64 skipped = 0, age = 0, latency = 0;

    fail_unless_equals_int (report_inferred (s), n % 3 == 0);
    fail_unless (gst_structure_get_uint64 (s, "frames-skipped", &skipped));
    fail_unless (gst_structure_get_uint64 (s, "results-age", &age));
    fail_unless (gst_structure_get_uint64 (s, "inference-latency", &latency));
    fail_unless_equals_uint64 (skipped, n - n / 3);
    fail_unless_equals_uint64 (age, n % 3);
    fail_unless ((latency > 0) == (n % 3 == 0));
    if (n % 3 != 0)
      fail_unless (same_boxes (boxes, last), "frame %u does not carry the last results", n);
    else if (last != NULL && n % 2 != (n - 3) % 2)
      fail_if (same_boxes (boxes, last), "frame %u: new picture, same boxes", n);
    if (last)
      g_array_unref (last);
    last = boxes;
    gst_structure_free (s);
    gst_buffer_unref (out);
  }
  g_array_unref (last);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  gst_sample_unref (samples[0]);
  gst_sample_unref (samples[1]);
}
GST_END_TEST

/* Downstream QoS says frames before 1 s are late: with results to carry,
 * late frames skip inference (counted), on time ones run it; with
 * skip-late=false every frame runs. The telemetry meta rides along. */
GST_START_TEST (test_skip_late)
{
  GstSample *sample = vq_test_vtest_frame (20.0, "I420");
  const gboolean settings[] = { TRUE, FALSE };

  for (guint i = 0; i < G_N_ELEMENTS (settings); i++) {
    GstBus *bus;
    GstHarness *h = detect_harness (settings[i] ? "" : "skip-late=false", sample, &bus);
    const gboolean expect[] = { TRUE, !settings[i], !settings[i], TRUE };
    guint64 late = 0;

    gst_buffer_unref (push_pull (h, sample, 0));
    gst_structure_free (pop_report (bus));
    fail_unless (gst_harness_push_upstream_event (h,
        gst_event_new_qos (GST_QOS_TYPE_THROTTLE, 1.0, 0, 1 * GST_SECOND)));
    for (guint n = 1; n < 4; n++) {
      /* Frames at 0.1 s, 0.2 s: late; frame 3 at 10 s: on time. */
      GstBuffer *out = push_pull (h, sample, n == 3 ? 100 : n);
      GstStructure *s = pop_report (bus);
      GstCustomMeta *meta = gst_buffer_get_custom_meta (out, "VqDetectTelemetry");
      gboolean inferred = FALSE;

      fail_unless_equals_int (report_inferred (s), expect[n]);
      fail_unless (meta != NULL);
      fail_unless (gst_structure_get_boolean (gst_custom_meta_get_structure (meta), "inferred",
                                              &inferred));
      fail_unless_equals_int (inferred, expect[n]);
      fail_unless (gst_structure_get_uint64 (s, "frames-late", &late));
      gst_structure_free (s);
      gst_buffer_unref (out);
    }
    fail_unless_equals_uint64 (late, settings[i] ? 2 : 0);
    gst_harness_teardown (h);
    gst_object_unref (bus);
  }
  gst_sample_unref (sample);
}
GST_END_TEST

/* classes keeps exactly the unfiltered detections of those classes. */
GST_START_TEST (test_classes)
{
  GstSample *sample = vq_test_vtest_frame (20.0, "RGB");
  GstHarness *all = detect_harness ("max-detections=0", sample, NULL);
  GstHarness *some = detect_harness ("max-detections=0 classes=\"car, truck,person\"", sample, NULL);
  GstBuffer *a = push_pull (all, sample, 0), *b = push_pull (some, sample, 0);
  GArray *boxes_all = boxes_of (a), *boxes_some = boxes_of (b), *expected;
  GstBus *bus;
  GstMessage *msg;
  GError *error = NULL;

  expected = g_array_new (FALSE, TRUE, sizeof (meta_box));
  for (guint i = 0; i < boxes_all->len; i++) {
    const meta_box *x = &g_array_index (boxes_all, meta_box, i);
    if (x->class_id == 0 || x->class_id == 2 || x->class_id == 7) /* person, car, truck */
      g_array_append_val (expected, *x);
  }
  fail_unless (expected->len >= 3);
  fail_unless (same_boxes (boxes_some, expected));

  /* An unknown class name fails the start, naming it. */
  {
    GstElement *e = make_detect ("classes=person,unicorn", &bus);
    fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
    msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
    fail_unless (msg != NULL);
    gst_message_parse_error (msg, &error, NULL);
    fail_unless (strstr (error->message, "unicorn") != NULL, "%s", error->message);
    g_clear_error (&error);
    gst_message_unref (msg);
    gst_element_set_state (e, GST_STATE_NULL);
    gst_object_unref (e);
  }

  gst_object_unref (bus);
  g_array_unref (expected);
  g_array_unref (boxes_all);
  g_array_unref (boxes_some);
  gst_buffer_unref (a);
  gst_buffer_unref (b);
  gst_harness_teardown (all);
  gst_harness_teardown (some);
  gst_sample_unref (sample);
}
GST_END_TEST

/* roi: detections come from the crop only, in full-frame coordinates,
 * and equal the detector's output on that crop. A roi outside the frame
 * gives no detections and no error. */
GST_START_TEST (test_roi)
{
  GstSample *sample = vq_test_vtest_frame (20.0, "NV12");
  GstHarness *h = detect_harness ("roi=\"385,101,383,475\"", sample, NULL);
  GstHarness *outside = detect_harness ("roi=\"2000,0,100,100\"", sample, NULL);
  vq__rect crop = { 384, 100, 384, 476 }; /* origin aligned to the 4:2:0 grid */
  GstBuffer *out = push_pull (h, sample, 0), *out2 = push_pull (outside, sample, 0);
  GArray *boxes = boxes_of (out), *none = boxes_of (out2), *dets;

  fail_unless (boxes->len >= 1);
  for (guint i = 0; i < boxes->len; i++) {
    const meta_box *b = &g_array_index (boxes, meta_box, i);
    fail_unless (b->x >= 384 && b->y >= 100 && b->x + b->w <= 768 && b->y + b->h <= 576);
  }
  dets = detector_reference (sample, &crop, NULL);
  assert_boxes_match_reference (boxes, dets);
  fail_unless_equals_int (none->len, 0);

  g_array_unref (dets);
  g_array_unref (boxes);
  g_array_unref (none);
  gst_buffer_unref (out);
  gst_buffer_unref (out2);
  gst_harness_teardown (h);
  gst_harness_teardown (outside);
  gst_sample_unref (sample);
}
GST_END_TEST

/* One message per frame with times, frame numbers and the detections as
 * fields matching the metas; none with message=false. */
GST_START_TEST (test_bus_messages)
{
  GstSample *sample = vq_test_vtest_frame (20.0, "BGR");
  GstBus *bus, *quiet_bus;
  GstHarness *h = detect_harness ("", sample, &bus);
  GstHarness *quiet = detect_harness ("message=false", sample, &quiet_bus);
  GstBuffer *out;

  for (guint n = 0; n < 2; n++) {
    GstStructure *s;
    const GValue *list;
    GArray *boxes;
    guint64 frame = 99, running = 0, inferred_count = 0;
    guint num = 0;
    gint width = 0;

    out = push_pull (h, sample, n);
    boxes = boxes_of (out);
    s = pop_report (bus);
    fail_unless (gst_structure_get_uint64 (s, "frame-number", &frame));
    fail_unless (gst_structure_get_uint64 (s, "running-time", &running));
    fail_unless (gst_structure_get_uint64 (s, "frames-inferred", &inferred_count));
    fail_unless (gst_structure_get_uint (s, "num-detections", &num));
    fail_unless (gst_structure_get_int (s, "width", &width));
    fail_unless_equals_uint64 (frame, n);
    fail_unless_equals_uint64 (running, n * 100 * GST_MSECOND);
    fail_unless_equals_uint64 (inferred_count, n + 1);
    fail_unless_equals_int (width, 768);
    fail_unless_equals_int (num, boxes->len);
    list = gst_structure_get_value (s, "detections");
    fail_unless (GST_VALUE_HOLDS_ARRAY (list));
    fail_unless_equals_int (gst_value_array_get_size (list), boxes->len);
    for (guint i = 0; i < boxes->len; i++) {
      const GstStructure *d = gst_value_get_structure (gst_value_array_get_value (list, i));
      const meta_box *b = &g_array_index (boxes, meta_box, i);
      gdouble conf = 0, x = 0;

      fail_unless_equals_string (gst_structure_get_string (d, "label"),
                                 g_quark_to_string (b->label));
      fail_unless (gst_structure_get_double (d, "confidence", &conf));
      fail_unless (gst_structure_get_double (d, "x", &x));
      fail_unless (conf == b->confidence);
      fail_unless (fabs (x - b->x) <= 1.0);
    }
    gst_structure_free (s);
    g_array_unref (boxes);
    gst_buffer_unref (out);
  }
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_ELEMENT) == NULL);

  out = push_pull (quiet, sample, 0);
  fail_unless (gst_buffer_get_video_region_of_interest_meta (out) != NULL);
  fail_unless (gst_bus_pop_filtered (quiet_bus, GST_MESSAGE_ELEMENT) == NULL);
  gst_buffer_unref (out);

  gst_harness_teardown (h);
  gst_harness_teardown (quiet);
  gst_object_unref (bus);
  gst_object_unref (quiet_bus);
  gst_sample_unref (sample);
}
GST_END_TEST

/* The state change fails; the error names the file and the reason. */
static void
assert_start_fails (const char *model, const char *reason)
{
  GstElement *e = gst_element_factory_make ("vqdetect", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *error = NULL;
  gchar *debug = NULL;

  g_object_set (e, "model", model, NULL);
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &error, &debug);
  fail_unless (strstr (error->message, model) != NULL, "no file name in: %s", error->message);
  fail_unless (strstr (error->message, reason) != NULL, "no \"%s\" in: %s", reason, error->message);
  g_clear_error (&error);
  g_free (debug);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  gst_object_unref (bus);
}

GST_START_TEST (test_missing_and_corrupt_model)
{
  char *dir = g_dir_make_tmp ("vqgst-XXXXXX", NULL);
  char *missing = g_build_filename (dir, "missing.vqm", NULL);
  char *garbage = g_build_filename (dir, "garbage.vqm", NULL);
  char *truncated = g_build_filename (dir, "truncated.vqm", NULL);
  char *path = model_path ();
  GBytes *real = vq_test_read_file (path);
  gsize size;
  const char *data = g_bytes_get_data (real, &size);

  {
    /* Longer than a .vqm header, so the loader gets to the magic number. */
    gchar *text = g_strnfill (200, 'x');
    fail_unless (g_file_set_contents (garbage, text, -1, NULL));
    g_free (text);
  }
  fail_unless (g_file_set_contents (truncated, data, (gssize) (size / 2), NULL));
  assert_start_fails (missing, "No such file");
  assert_start_fails (garbage, "not a .vqm model file");
  assert_start_fails (truncated, "truncated");

  g_unlink (garbage);
  g_unlink (truncated);
  g_rmdir (dir);
  g_bytes_unref (real);
  g_free (path);
  g_free (missing);
  g_free (garbage);
  g_free (truncated);
  g_free (dir);
}
GST_END_TEST

/* No model property and no usable default: the start fails and says
 * where the default came from (gst-launch and the full search path are
 * covered by test_pipelines.py). */
GST_START_TEST (test_no_default_model)
{
  GstElement *e = gst_element_factory_make ("vqdetect", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *error = NULL;

  g_setenv ("VQDETECT_MODEL", "/nonexistent/default.vqm", TRUE);
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (g_error_matches (error, GST_RESOURCE_ERROR, GST_RESOURCE_ERROR_NOT_FOUND));
  fail_unless (strstr (error->message, "\"model\" property is not set") != NULL, "%s",
               error->message);
  fail_unless (strstr (error->message, "/nonexistent/default.vqm") != NULL, "%s", error->message);
  g_unsetenv ("VQDETECT_MODEL");
  g_clear_error (&error);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  gst_object_unref (bus);
}
GST_END_TEST

/* A backend that cannot start (here: a named device that does not exist)
 * fails the state change with a message that says so and names it. */
GST_START_TEST (test_no_usable_backend)
{
  char *path = model_path ();
  GstElement *e = gst_element_factory_make ("vqdetect", NULL);
  GstBus *bus = gst_bus_new ();
  GstMessage *msg;
  GError *error = NULL;

  g_object_set (e, "model", path, "device", "no-such-gpu-42", NULL);
  gst_util_set_object_arg (G_OBJECT (e), "backend", "vulkan");
  gst_element_set_bus (e, bus);
  fail_unless_equals_int (gst_element_set_state (e, GST_STATE_PAUSED), GST_STATE_CHANGE_FAILURE);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_ERROR);
  fail_unless (msg != NULL);
  gst_message_parse_error (msg, &error, NULL);
  fail_unless (strstr (error->message, "No usable compute backend") != NULL, "%s", error->message);
  fail_unless (strstr (error->message, "no-such-gpu-42") != NULL, "%s", error->message);
  fail_unless (strstr (error->message, path) != NULL, "%s", error->message);
  g_clear_error (&error);
  gst_message_unref (msg);
  gst_element_set_state (e, GST_STATE_NULL);
  gst_object_unref (e);
  gst_object_unref (bus);
  g_free (path);
}
GST_END_TEST

/* New caps mid-stream: renegotiates, runs the detector at once (even
 * inside an interval) and reports boxes in the new frame's pixels. */
GST_START_TEST (test_resolution_change)
{
  GstSample *big = vq_test_vtest_frame (20.0, "I420");
  char *path = vq_test_opencv_file ("vtest.avi");
  GstSample *small = vq_test_decode_frame (path, 20.0, "I420", 384, 288);
  GstBus *bus;
  GstHarness *h = detect_harness ("interval=10", big, &bus);
  GstBuffer *out;
  GArray *boxes_big, *boxes_small;
  GstStructure *s;

  out = push_pull (h, big, 0);
  boxes_big = boxes_of (out);
  gst_buffer_unref (out);
  gst_structure_free (pop_report (bus));

  gst_harness_set_src_caps (h, gst_caps_copy (gst_sample_get_caps (small)));
  out = push_pull (h, small, 1);
  boxes_small = boxes_of (out);
  s = pop_report (bus);
  fail_unless (report_inferred (s));
  gst_structure_free (s);
  fail_unless (boxes_small->len >= 3);
  for (guint i = 0; i < boxes_small->len; i++) {
    const meta_box *b = &g_array_index (boxes_small, meta_box, i);
    fail_unless (b->x + b->w <= 384 && b->y + b->h <= 288);
  }
  /* Half the size, same people: the largest box roughly halves. */
  fail_unless (fabs (g_array_index (boxes_small, meta_box, 0).h * 2.0
                     - g_array_index (boxes_big, meta_box, 0).h) < 24.0);
  gst_buffer_unref (out);

  /* And back again. */
  gst_harness_set_src_caps (h, gst_caps_copy (gst_sample_get_caps (big)));
  out = push_pull (h, big, 2);
  s = pop_report (bus);
  fail_unless (report_inferred (s));
  gst_structure_free (s);
  gst_buffer_unref (out);

  g_array_unref (boxes_big);
  g_array_unref (boxes_small);
  gst_harness_teardown (h);
  gst_object_unref (bus);
  gst_sample_unref (big);
  gst_sample_unref (small);
  g_free (path);
}
GST_END_TEST

/* Flushing mid-stream and EOS neither hang nor keep stale results. */
GST_START_TEST (test_flush_and_eos)
{
  GstSample *sample = vq_test_vtest_frame (20.0, "RGBA");
  GstBus *bus;
  GstHarness *h = detect_harness ("interval=100", sample, &bus);
  GstBuffer *out;
  GstStructure *s;
  GstEvent *ev;

  gst_buffer_unref (push_pull (h, sample, 0));
  gst_structure_free (pop_report (bus));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_start ()));
  fail_unless (gst_harness_push_event (h, gst_event_new_flush_stop (TRUE)));
  {
    GstSegment seg;
    gst_segment_init (&seg, GST_FORMAT_TIME);
    fail_unless (gst_harness_push_event (h, gst_event_new_segment (&seg)));
  }
  out = push_pull (h, sample, 1);
  s = pop_report (bus);
  fail_unless (report_inferred (s)); /* no carrying across a flush */
  gst_structure_free (s);
  gst_buffer_unref (out);

  fail_unless (gst_harness_push_event (h, gst_event_new_eos ()));
  while ((ev = gst_harness_try_pull_event (h)) != NULL) {
    gboolean eos = GST_EVENT_TYPE (ev) == GST_EVENT_EOS;
    gst_event_unref (ev);
    if (eos)
      break;
  }
  gst_harness_teardown (h);
  gst_object_unref (bus);
  gst_sample_unref (sample);
}
GST_END_TEST

static void
link_decoded_pad (GstElement *decodebin, GstPad *pad, GstElement *convert)
{
  GstPad *sink = gst_element_get_static_pad (convert, "sink");

  if (!gst_pad_is_linked (sink))
    gst_pad_link (pad, sink);
  gst_object_unref (sink);
}

/* 20 PLAYING <-> NULL cycles of a real decoding pipeline: each cycle
 * produces detections, and nothing hangs. (decodebin is linked by hand:
 * gst_parse_launch's delayed linking only works for the first run.) */
GST_START_TEST (test_state_cycles)
{
  char *video = vq_test_opencv_file ("vtest.avi");
  char *path = model_path ();
  gchar *desc = g_strdup_printf ("filesrc location=\"%s\" ! decodebin name=dec  "
                                 "videoconvert name=convert ! vqdetect model=\"%s\" "
                                 "backend=cpu interval=1000 ! fakesink", video, path);
  GstElement *pipeline = gst_parse_launch (desc, NULL);
  GstElement *dec = gst_bin_get_by_name (GST_BIN (pipeline), "dec");
  GstElement *convert = gst_bin_get_by_name (GST_BIN (pipeline), "convert");
  GstBus *bus = gst_element_get_bus (pipeline);

  g_signal_connect (dec, "pad-added", G_CALLBACK (link_decoded_pad), convert);
  for (guint cycle = 0; cycle < 20; cycle++) {
    GstMessage *msg;

    fail_if (gst_element_set_state (pipeline, GST_STATE_PLAYING) == GST_STATE_CHANGE_FAILURE);
    msg = gst_bus_timed_pop_filtered (bus, 60 * GST_SECOND,
                                      GST_MESSAGE_ELEMENT | GST_MESSAGE_ERROR);
    fail_unless (msg != NULL && GST_MESSAGE_TYPE (msg) == GST_MESSAGE_ELEMENT, "cycle %u", cycle);
    gst_message_unref (msg);
    fail_unless_equals_int (gst_element_set_state (pipeline, GST_STATE_NULL),
                            GST_STATE_CHANGE_SUCCESS);
    gst_bus_set_flushing (bus, TRUE); /* drop what is left */
    gst_bus_set_flushing (bus, FALSE);
  }
  gst_object_unref (bus);
  gst_object_unref (dec);
  gst_object_unref (convert);
  gst_object_unref (pipeline);
  g_free (desc);
  g_free (path);
  g_free (video);
}
GST_END_TEST

/* Two elements on one model file share one detector; share-model=false
 * or another backend gets its own. */
GST_START_TEST (test_model_sharing)
{
  char *path = model_path ();
  vq_detector_options options;
  vq__pooled_detector *a, *b, *c;
  GError *error = NULL;

  vq_detector_options_init (&options);
  options.model_path = path;
  options.engine.backend = VQ_BACKEND_CPU;
  options.fit = VQ_RESIZE_LETTERBOX;
  a = vq__detector_pool_acquire (&options, TRUE, &error);
  b = vq__detector_pool_acquire (&options, TRUE, &error);
  c = vq__detector_pool_acquire (&options, FALSE, &error);
  fail_unless (a != NULL && b != NULL && c != NULL);
  fail_unless (a == b);
  fail_unless (c != a);
  fail_unless_equals_int (vq__pooled_detector_users (a), 2);
  vq__pooled_detector_unref (b);
  fail_unless_equals_int (vq__pooled_detector_users (a), 1);
  vq__pooled_detector_unref (a);
  vq__pooled_detector_unref (c);
  g_free (path);
}
GST_END_TEST

/* Setting `model` while playing swaps it; a bad file only warns and the
 * current model keeps working. */
GST_START_TEST (test_model_hot_swap)
{
  GstSample *sample = vq_test_vtest_frame (20.0, "BGRx");
  GstBus *bus;
  GstHarness *h = detect_harness ("", sample, &bus);
  char *dir = g_dir_make_tmp ("vqgst-XXXXXX", NULL);
  char *copy = g_build_filename (dir, "copy.vqm", NULL);
  char *bad = g_build_filename (dir, "bad.vqm", NULL);
  char *path = model_path (), *now = NULL;
  GBytes *bytes = vq_test_read_file (path);
  GstBuffer *out;
  GArray *before, *after;
  GstMessage *msg;

  fail_unless (g_file_set_contents (copy, g_bytes_get_data (bytes, NULL),
                                    (gssize) g_bytes_get_size (bytes), NULL));
  fail_unless (g_file_set_contents (bad, "nope", -1, NULL));
  out = push_pull (h, sample, 0);
  before = boxes_of (out);
  gst_buffer_unref (out);

  g_object_set (h->element, "model", bad, NULL);
  msg = gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING);
  fail_unless (msg != NULL);
  gst_message_unref (msg);
  g_object_get (h->element, "model", &now, NULL);
  fail_unless_equals_string (now, path);
  g_free (now);

  g_object_set (h->element, "model", copy, NULL);
  fail_unless (gst_bus_pop_filtered (bus, GST_MESSAGE_WARNING) == NULL);
  out = push_pull (h, sample, 1);
  after = boxes_of (out);
  fail_unless (same_boxes (before, after));
  gst_buffer_unref (out);

  gst_harness_teardown (h);
  gst_object_unref (bus);
  g_array_unref (before);
  g_array_unref (after);
  g_unlink (copy);
  g_unlink (bad);
  g_rmdir (dir);
  g_bytes_unref (bytes);
  g_free (copy);
  g_free (bad);
  g_free (dir);
  g_free (path);
  gst_sample_unref (sample);
}
GST_END_TEST

static Suite *
vqdetect_suite (void)
{
  Suite *s = suite_create ("vqdetect");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_caps);
  tcase_add_test (tc, test_real_frame_metadata);
  tcase_add_test (tc, test_formats_agree);
  tcase_add_test (tc, test_interval);
  tcase_add_test (tc, test_skip_late);
  tcase_add_test (tc, test_classes);
  tcase_add_test (tc, test_roi);
  tcase_add_test (tc, test_bus_messages);
  tcase_add_test (tc, test_missing_and_corrupt_model);
  tcase_add_test (tc, test_no_default_model);
  tcase_add_test (tc, test_no_usable_backend);
  tcase_add_test (tc, test_resolution_change);
  tcase_add_test (tc, test_flush_and_eos);
  tcase_add_test (tc, test_state_cycles);
  tcase_add_test (tc, test_model_sharing);
  tcase_add_test (tc, test_model_hot_swap);
  return s;
}

GST_CHECK_MAIN (vqdetect)
