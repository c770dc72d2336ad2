/* `vq detect` end to end: the real default model on opencv-doc's media,
 * JSON Lines output, and one clear error line for every kind of bad input. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>

#include "test_util.h"
#include "tool_run.h"

/* `vq detect ARGS...` (NULL-terminated). */
#define run_vq(...) tool_run (NULL, NULL, "detect", __VA_ARGS__)

/* Parses every output line as a JSON object; returns a list of JsonNode. */
static GPtrArray *
parse_lines (const char *text)
{
  GPtrArray *frames = g_ptr_array_new_with_free_func ((GDestroyNotify) json_node_unref);
  char **lines = g_strsplit (text, "\n", -1);
  for (char **line = lines; *line; line++) {
    if (**line == '\0')
      continue;
    GError *error = NULL;
    JsonNode *node = json_from_string (*line, &error);
    g_assert_no_error (error);
    g_assert_true (JSON_NODE_HOLDS_OBJECT (node));
    g_ptr_array_add (frames, node);
  }
  g_strfreev (lines);
  return frames;
}

static int
count_label (JsonObject *frame, const char *label, double min_confidence)
{
  JsonArray *detections = json_object_get_array_member (frame, "detections");
  int n = 0;
  for (guint i = 0; i < json_array_get_length (detections); i++) {
    JsonObject *d = json_array_get_object_element (detections, i);
    if (strcmp (json_object_get_string_member (d, "label"), label) == 0
        && json_object_get_double_member (d, "confidence") >= min_confidence)
      n++;
  }
  return n;
}

static void
assert_one_error_line (const tool_run_result *r, const char *must_contain)
{
  g_assert_cmpint (r->status, !=, 0);
  g_assert_true (g_str_has_prefix (r->err, "vq detect: "));
  g_assert_nonnull (strstr (r->err, must_contain));
  /* exactly one line */
  const char *newline = strchr (r->err, '\n');
  g_assert_nonnull (newline);
  g_assert_cmpstr (newline + 1, ==, "");
}

static void
test_vtest_frame_200_pedestrians (void)
{
  char *video = vq_test_opencv_file ("vtest.avi");
  tool_run_result r = run_vq ("--every", "200", "--max-frames", "2", video, NULL);
  g_assert_cmpint (r.status, ==, 0);
  GPtrArray *frames = parse_lines (r.out);
  g_assert_cmpuint (frames->len, ==, 2);

  JsonObject *frame = json_node_get_object (frames->pdata[1]);
  g_assert_cmpint (json_object_get_int_member (frame, "frame"), ==, 200);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (frame, "pts"), 20.0, 1e-6);
  g_assert_cmpint (json_object_get_int_member (frame, "width"), ==, 768);
  g_assert_cmpint (json_object_get_int_member (frame, "height"), ==, 576);
  int people = count_label (frame, "person", 0.5);
  g_test_message ("frame 200: %d persons at >= 0.5", people);
  g_assert_cmpint (people, >=, 5);

  /* Every box lies inside the frame and has a label matching its class. */
  JsonArray *detections = json_object_get_array_member (frame, "detections");
  for (guint i = 0; i < json_array_get_length (detections); i++) {
    JsonObject *d = json_array_get_object_element (detections, i);
    double x = json_object_get_double_member (d, "x");
    double y = json_object_get_double_member (d, "y");
    double w = json_object_get_double_member (d, "w");
    double h = json_object_get_double_member (d, "h");
    double c = json_object_get_double_member (d, "confidence");
    g_assert_cmpfloat (x, >=, 0);
    g_assert_cmpfloat (y, >=, 0);
    g_assert_cmpfloat (w, >, 0);
    g_assert_cmpfloat (h, >, 0);
    g_assert_cmpfloat (x + w, <=, 768.05);
    g_assert_cmpfloat (y + h, <=, 576.05);
    g_assert_cmpfloat (c, >=, 0.35);
    g_assert_cmpfloat (c, <=, 1.0);
    if (json_object_get_int_member (d, "class_id") == 0)
      g_assert_cmpstr (json_object_get_string_member (d, "label"), ==, "person");
  }
  g_ptr_array_free (frames, TRUE);
  tool_run_result_clear (&r);
  g_free (video);
}

static void
test_every_keeps_decoder_frame_numbers (void)
{
  char *video = vq_test_opencv_file ("vtest.avi");
  tool_run_result r =
    run_vq ("--every", "7", "--max-frames", "3", "--threshold", "0.9", video, NULL);
  g_assert_cmpint (r.status, ==, 0);
  GPtrArray *frames = parse_lines (r.out);
  g_assert_cmpuint (frames->len, ==, 3);
  for (guint i = 0; i < frames->len; i++) {
    JsonObject *frame = json_node_get_object (frames->pdata[i]);
    g_assert_cmpint (json_object_get_int_member (frame, "frame"), ==, 7 * i);
    g_assert_cmpfloat_with_epsilon (json_object_get_double_member (frame, "pts"), 0.7 * i, 1e-6);
    /* --threshold applies: nothing below 0.9 */
    g_assert_cmpint (count_label (frame, "person", 0.0), ==, count_label (frame, "person", 0.9));
  }
  g_ptr_array_free (frames, TRUE);
  tool_run_result_clear (&r);
  g_free (video);
}

static void
test_image_and_output_file (void)
{
  char *image = vq_test_opencv_file ("messi5.jpg");
  char *dir = g_dir_make_tmp ("vqdetect-XXXXXX", NULL);
  char *out_path = g_build_filename (dir, "out.jsonl", NULL);
  tool_run_result r = run_vq ("--output", out_path, image, NULL);
  g_assert_cmpint (r.status, ==, 0);
  g_assert_cmpstr (r.out, ==, "");

  char *contents = NULL;
  g_assert_true (g_file_get_contents (out_path, &contents, NULL, NULL));
  GPtrArray *frames = parse_lines (contents);
  g_assert_cmpuint (frames->len, ==, 1);
  JsonObject *frame = json_node_get_object (frames->pdata[0]);
  g_assert_cmpint (json_object_get_int_member (frame, "width"), ==, 548);
  g_assert_cmpint (count_label (frame, "person", 0.35), >=, 1);

  g_ptr_array_free (frames, TRUE);
  g_free (contents);
  g_unlink (out_path);
  g_rmdir (dir);
  g_free (out_path);
  g_free (dir);
  tool_run_result_clear (&r);
  g_free (image);
}

static void
test_missing_file (void)
{
  tool_run_result r = run_vq ("/nonexistent/cam.mp4", NULL);
  assert_one_error_line (&r, "/nonexistent/cam.mp4");
  g_assert_cmpstr (r.out, ==, "");
  tool_run_result_clear (&r);
}

static void
test_not_a_video (void)
{
  char *path = g_build_filename (g_get_tmp_dir (), "vqdetect-not-a-video.avi", NULL);
  g_assert_true (g_file_set_contents (path, "this is not a video\n", -1, NULL));
  tool_run_result r = run_vq (path, NULL);
  assert_one_error_line (&r, path);
  g_unlink (path);
  g_free (path);
  tool_run_result_clear (&r);
}

/* A video cut short still yields the frames before the cut, then an error. */
static void
test_truncated_video (void)
{
  char *video = vq_test_opencv_file ("vtest.avi");
  GBytes *bytes = vq_test_read_file (video);
  char *path = g_build_filename (g_get_tmp_dir (), "vqdetect-truncated.avi", NULL);
  gsize keep = g_bytes_get_size (bytes) / 8;
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL), keep, NULL));

  tool_run_result r = run_vq ("--every", "10", "--threshold", "0.9", path, NULL);
  assert_one_error_line (&r, "truncated");
  GPtrArray *frames = parse_lines (r.out);
  g_assert_cmpuint (frames->len, >, 0);
  g_ptr_array_free (frames, TRUE);

  g_unlink (path);
  g_free (path);
  g_bytes_unref (bytes);
  tool_run_result_clear (&r);
  g_free (video);
}

static void
test_corrupt_model (void)
{
  char *video = vq_test_opencv_file ("vtest.avi");
  char *model = vq_test_cache_file ("nanodet.vqm");
  GBytes *bytes = vq_test_read_file (model);
  char *path = g_build_filename (g_get_tmp_dir (), "vqdetect-corrupt.vqm", NULL);

  /* truncated */
  g_assert_true (g_file_set_contents (path, g_bytes_get_data (bytes, NULL),
                                      g_bytes_get_size (bytes) / 2, NULL));
  tool_run_result r = run_vq ("--model", path, video, NULL);
  assert_one_error_line (&r, path);
  g_assert_cmpstr (r.out, ==, "");
  tool_run_result_clear (&r);

  /* not a model at all */
  g_assert_true (g_file_set_contents (path, "garbage", -1, NULL));
  r = run_vq ("--model", path, video, NULL);
  assert_one_error_line (&r, path);
  tool_run_result_clear (&r);

  /* missing */
  r = run_vq ("--model", "/nonexistent/model.vqm", video, NULL);
  assert_one_error_line (&r, "/nonexistent/model.vqm");
  tool_run_result_clear (&r);

  g_unlink (path);
  g_free (path);
  g_bytes_unref (bytes);
  g_free (model);
  g_free (video);
}

static void
test_bad_options (void)
{
  char *video = vq_test_opencv_file ("vtest.avi");
  const char *bad[][2] = {
    { "--threshold", "1.5" }, { "--every", "0" }, { "--backend", "opencl" },
    { "--resize", "crop" },
  };
  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++) {
    tool_run_result r = run_vq (bad[i][0], bad[i][1], video, NULL);
    assert_one_error_line (&r, "");
    g_assert_cmpstr (r.out, ==, "");
    tool_run_result_clear (&r);
  }
  g_free (video);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vq-detect/vtest-frame-200-pedestrians", test_vtest_frame_200_pedestrians);
  g_test_add_func ("/vq-detect/every-keeps-frame-numbers", test_every_keeps_decoder_frame_numbers);
  g_test_add_func ("/vq-detect/image-and-output-file", test_image_and_output_file);
  g_test_add_func ("/vq-detect/missing-file", test_missing_file);
  g_test_add_func ("/vq-detect/not-a-video", test_not_a_video);
  g_test_add_func ("/vq-detect/truncated-video", test_truncated_video);
  g_test_add_func ("/vq-detect/corrupt-model", test_corrupt_model);
  g_test_add_func ("/vq-detect/bad-options", test_bad_options);
  return g_test_run ();
}
