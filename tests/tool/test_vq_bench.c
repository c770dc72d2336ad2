/* `vq bench` end to end on the real default model and opencv-doc's
 * vtest.avi: the JSON figures agree with one another and across backends,
 * and the per-layer table names the shader each conv ran. It checks what is
 * reported, never how fast: speed is for the printed figures. */
#include <json-glib/json-glib.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "test_util.h"
#include "tool_run.h"

/* `vq bench ARGS...` (NULL-terminated), with NAME=VALUE added to the
 * environment when NAME is not NULL. */
#define run_bench(name, value, ...) tool_run (name, value, "bench", __VA_ARGS__)

/* Whether a failed Vulkan run failed only because there is no device. */
static gboolean
no_vulkan_device (const tool_run_result *r)
{
  return r->status != 0 && strstr (r->err, "no Vulkan") != NULL;
}

static JsonObject *
parse_object (const char *text, JsonNode **root)
{
  GError *error = NULL;
  *root = json_from_string (text, &error);
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (*root));
  return json_node_get_object (*root);
}

/* The figures of one backend's JSON report agree with one another; returns
 * the GFLOP per frame they imply and the real frame's detections. */
static void
check_report (JsonObject *o, const char *backend, double *gflop, gint64 *detections)
{
  g_assert_cmpstr (json_object_get_string_member (o, "backend"), ==, backend);
  g_assert_cmpstr (json_object_get_string_member (o, "model"), ==, "nanodet-m-416");
  g_assert_true (strlen (json_object_get_string_member (o, "device")) > 0);
  g_assert_cmpint (json_object_get_int_member (o, "iterations"), ==, 3);
  double median = json_object_get_double_member (o, "median_ms");
  double p90 = json_object_get_double_member (o, "p90_ms");
  double min = json_object_get_double_member (o, "min_ms");
  g_assert_cmpfloat (min, >, 0.0);
  g_assert_cmpfloat (min, <=, median);
  g_assert_cmpfloat (median, <=, p90);
  /* fps and GFLOP/s are printed rounded to 2 decimals. */
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (o, "fps"), 1000.0 / median,
                                  0.01);
  *gflop = json_object_get_double_member (o, "gflops") * median / 1000.0;
  g_assert_cmpfloat (*gflop, >, 0.0);
  JsonObject *real = json_object_get_object_member (o, "real");
  g_assert_cmpfloat (json_object_get_double_member (real, "median_ms"), ==, median);
  *detections = json_object_get_int_member (real, "detections");
  g_assert_cmpint (*detections, >, 0); /* vtest.avi frame 200 shows pedestrians */
}

static void
test_json_across_backends (void)
{
  tool_run_result cpu = run_bench (NULL, NULL, "--backend", "cpu", "-n", "3", "--json", NULL);
  g_assert_cmpint (cpu.status, ==, 0);
  JsonNode *cpu_root;
  double cpu_gflop;
  gint64 cpu_detections;
  JsonObject *cpu_report = parse_object (cpu.out, &cpu_root);
  check_report (cpu_report, "cpu", &cpu_gflop, &cpu_detections);
  g_assert_cmpstr (json_object_get_string_member (cpu_report, "precision"), ==, "fp32");

  tool_run_result vk = run_bench (NULL, NULL, "--backend", "vulkan", "-n", "3", "--json", NULL);
  if (no_vulkan_device (&vk)) {
    g_test_skip ("no Vulkan device");
  } else {
    g_assert_cmpint (vk.status, ==, 0);
    JsonNode *vk_root;
    double vk_gflop;
    gint64 vk_detections;
    JsonObject *o = parse_object (vk.out, &vk_root);
    check_report (o, "vulkan", &vk_gflop, &vk_detections);
    /* Both count the same network's work, and find the same objects. */
    g_assert_cmpfloat (fabs (vk_gflop - cpu_gflop), <, 0.01 * cpu_gflop);
    g_assert_cmpint (vk_detections, ==, cpu_detections);
    g_assert_cmpint (json_object_get_int_member (o, "activation_bytes"), >, 0);
    json_node_unref (vk_root);
  }
  json_node_unref (cpu_root);
  tool_run_result_clear (&cpu);
  tool_run_result_clear (&vk);
}

/* The words of one line of vq bench's text output. */
static GPtrArray *
line_words (const char *line)
{
  char **fields = g_strsplit_set (line, " ", -1);
  GPtrArray *words = g_ptr_array_new_with_free_func (g_free);
  for (char **f = fields; *f; f++)
    if (**f)
      g_ptr_array_add (words, g_strdup (*f));
  g_strfreev (fields);
  return words;
}

/* Counts the conv lines of the --layers table in `out`, and those whose
 * shader column names a pipeline of `family` (conv2d_<family>_...). */
static void
count_conv_shaders (const char *out, const char *family, int *convs, int *in_family)
{
  char **lines = g_strsplit (out, "\n", -1);
  char *prefix = g_strdup_printf ("conv2d_%s_", family);
  gboolean in_table = FALSE;
  *convs = *in_family = 0;
  for (char **line = lines; *line; line++) {
    if (g_str_has_prefix (*line, "node "))
      in_table = TRUE;
    if (!in_table)
      continue;
    GPtrArray *words = line_words (*line);
    if (words->len >= 2 && !strcmp (g_ptr_array_index (words, 1), "conv2d")) {
      const char *shader = g_ptr_array_index (words, words->len - 1);
      g_assert_true (g_str_has_prefix (shader, "conv2d_"));
      (*convs)++;
      *in_family += g_str_has_prefix (shader, prefix);
    }
    g_ptr_array_free (words, TRUE);
  }
  g_free (prefix);
  g_strfreev (lines);
}

/* The detections column of the "real" line (the real frame's objects). */
static int
real_detections (const char *out)
{
  char **lines = g_strsplit (out, "\n", -1);
  int detections = -1;
  for (char **line = lines; *line && detections < 0; line++)
    if (g_str_has_prefix (*line, "real ")) {
      GPtrArray *words = line_words (*line);
      detections = atoi (g_ptr_array_index (words, words->len - 1));
      g_ptr_array_free (words, TRUE);
    }
  g_strfreev (lines);
  return detections;
}

/* `vq bench --backend vulkan -n 1 --layers` with NAME=VALUE set. */
static tool_run_result
run_layers (const char *name, const char *value)
{
  tool_run_result r = run_bench (name, value, "--backend", "vulkan", "-n", "1", "--layers", NULL);
  g_assert_cmpint (r.status, ==, 0);
  return r;
}

static void
test_layers_name_shaders (void)
{
  tool_run_result on = run_bench (NULL, NULL, "--backend", "vulkan", "-n", "1", "--layers", NULL);
  if (no_vulkan_device (&on)) {
    g_test_skip ("no Vulkan device");
    tool_run_result_clear (&on);
    return;
  }
  g_assert_cmpint (on.status, ==, 0);
  tool_run_result off = run_layers ("VQ_VK_WINOGRAD", "0");
  tool_run_result forced = run_layers ("VQ_VK_WINOGRAD", "1");
  tool_run_result ksplit = run_layers ("VQ_VK_KSPLIT", "1");

  int convs_on, wino_on, convs_off, wino_off, convs_forced, wino_forced;
  count_conv_shaders (on.out, "wino", &convs_on, &wino_on);
  count_conv_shaders (off.out, "wino", &convs_off, &wino_off);
  count_conv_shaders (forced.out, "wino", &convs_forced, &wino_forced);
  g_assert_cmpint (convs_on, >, 0);
  g_assert_cmpint (convs_off, ==, convs_on);
  g_assert_cmpint (convs_forced, ==, convs_on);
  /* NanoDet's 3x3 stride-1 convs take Winograd when asked to, and never
   * when it is off; by default, on a CPU device (lavapipe) only. */
  g_assert_cmpint (wino_off, ==, 0);
  g_assert_cmpint (wino_forced, >, 0);
  g_assert_cmpint (wino_forced, <, convs_forced); /* stride 2 and 1x1 stay GEMM */
  if (strstr (on.out, "llvmpipe"))
    g_assert_cmpint (wino_on, ==, wino_forced);

  /* The K-split GEMM (a GPU's default) takes every conv that neither
   * Winograd nor the direct shader does, and finds the same objects. */
  int convs_ksplit, ksplit_ksplit, ksplit_on, wino_ksplit;
  count_conv_shaders (ksplit.out, "ksplit", &convs_ksplit, &ksplit_ksplit);
  count_conv_shaders (ksplit.out, "wino", &convs_ksplit, &wino_ksplit);
  count_conv_shaders (on.out, "ksplit", &convs_on, &ksplit_on);
  g_assert_cmpint (convs_ksplit, ==, convs_on);
  g_assert_cmpint (ksplit_ksplit, >, 0);
  g_assert_cmpint (ksplit_ksplit + wino_ksplit, ==, convs_ksplit);
  if (strstr (on.out, "llvmpipe"))
    g_assert_cmpint (ksplit_on, ==, 0);
  g_assert_cmpint (real_detections (on.out), >, 0);
  g_assert_cmpint (real_detections (ksplit.out), ==, real_detections (on.out));
  g_assert_cmpint (real_detections (off.out), ==, real_detections (on.out));

  tool_run_result_clear (&on);
  tool_run_result_clear (&off);
  tool_run_result_clear (&forced);
  tool_run_result_clear (&ksplit);
}

/* Words ms_at and ratio_at of a --conv-shapes row: a VQ time and its ratio
 * to the fp16 dense time f16, all printed to 3 decimals. */
static void
check_vq_ratio (GPtrArray *words, guint ms_at, guint ratio_at, double f16)
{
  double vq = g_ascii_strtod (g_ptr_array_index (words, ms_at), NULL);
  double ratio = g_ascii_strtod (g_ptr_array_index (words, ratio_at), NULL);
  g_assert_cmpfloat (vq, >, 0.0);
  g_assert_cmpfloat (fabs (ratio - vq / f16), <=, 0.002 + 0.0006 / f16 * ratio);
}

/* One row of the --conv-shapes table: "KxK/S C@H -> C@H", then n, shader,
 * f32 ms, f16 ms, vq8 ms, vq4 ms, d1 ms, vq8/d, vq4/d, d1/d [own ms, own/d,
 * setting]. */
static void
check_conv_shape_row (GPtrArray *words, int *convs)
{
  g_assert_cmpuint (words->len, >=, 4 + 10);
  *convs += atoi (g_ptr_array_index (words, 4));
  const char *shader = g_ptr_array_index (words, 5);
  g_assert_true (!strcmp (shader, "wino") || !strcmp (shader, "gemm") ||
                 !strcmp (shader, "ksplit") || !strcmp (shader, "direct"));
  double f32 = g_ascii_strtod (g_ptr_array_index (words, 6), NULL);
  double f16 = g_ascii_strtod (g_ptr_array_index (words, 7), NULL);
  g_assert_cmpfloat (f32, >, 0.0);
  g_assert_cmpfloat (f16, >, 0.0);
  if (!strcmp (g_ptr_array_index (words, 8), "-"))
    return; /* no VQ variant: cin % 4 != 0 (the stem) */
  /* Each VQ/dense ratio is that VQ time over the fp16 dense time. */
  check_vq_ratio (words, 8, 11, f16);
  check_vq_ratio (words, 9, 12, f16);
  check_vq_ratio (words, 10, 13, f16);
  if (words->len > 14) {
    int d = 0, k = 0;
    check_vq_ratio (words, 14, 15, f16);
    g_assert_cmpint (sscanf (g_ptr_array_index (words, 16), "d%dk%d", &d, &k), ==, 2);
    g_assert_cmpint (d, >=, 1);
    g_assert_cmpint (k, >=, 2);
  }
}

static void
test_conv_shapes (void)
{
  /* --conv-shapes times every distinct conv shape of the model alone, dense
   * and VQ: the shapes cover every conv, and the ratios are the times'. */
  tool_run_result r = run_bench (NULL, NULL, "--backend", "vulkan", "-n", "1", "--layers",
                                 "--conv-shapes", NULL);
  if (no_vulkan_device (&r)) {
    g_test_skip ("no Vulkan device");
    tool_run_result_clear (&r);
    return;
  }
  g_assert_cmpint (r.status, ==, 0);
  int convs = 0, in_family, shape_convs = 0, rows = 0, own_rows = 0;
  count_conv_shaders (r.out, "wino", &convs, &in_family);
  char **lines = g_strsplit (r.out, "\n", -1);
  for (char **line = lines; *line; line++) {
    if (!g_str_has_prefix (*line, "3x3/") && !g_str_has_prefix (*line, "1x1/"))
      continue;
    GPtrArray *words = line_words (*line);
    check_conv_shape_row (words, &shape_convs);
    rows++;
    own_rows += words->len > 14;
    g_ptr_array_free (words, TRUE);
  }
  g_strfreev (lines);
  g_test_message ("%d conv shapes, %d with the model's own VQ weights, %d convs", rows,
                  own_rows, convs);
  g_assert_cmpint (rows, >, 1);
  g_assert_cmpint (rows, <, convs); /* NanoDet repeats shapes */
  g_assert_cmpint (shape_convs, ==, convs);
  g_assert_cmpint (own_rows, >, 0);
  tool_run_result_clear (&r);
}

static void
test_precisions (void)
{
  /* --precision fp16 (lavapipe's default) reports itself, halves the arena
   * and finds the same objects as fp32; a bad value is one clear error. */
  tool_run_result fp32 = run_bench (NULL, NULL, "--backend", "vulkan", "--precision", "fp32",
                                    "-n", "1", "--json", NULL);
  if (no_vulkan_device (&fp32)) {
    g_test_skip ("no Vulkan device");
    tool_run_result_clear (&fp32);
    return;
  }
  tool_run_result fp16 = run_bench (NULL, NULL, "--backend", "vulkan", "--precision", "fp16",
                                    "-n", "1", "--json", NULL);
  tool_run_result bad = run_bench (NULL, NULL, "--backend", "vulkan", "--precision", "fp8",
                                   "-n", "1", NULL);
  g_assert_cmpint (fp32.status, ==, 0);
  g_assert_cmpint (fp16.status, ==, 0);
  g_assert_cmpint (bad.status, !=, 0);
  g_assert_nonnull (strstr (bad.err, "--precision must be auto, fp32 or fp16"));
  JsonNode *root32, *root16;
  JsonObject *o32 = parse_object (fp32.out, &root32), *o16 = parse_object (fp16.out, &root16);
  g_assert_cmpstr (json_object_get_string_member (o32, "precision"), ==, "fp32");
  g_assert_cmpstr (json_object_get_string_member (o16, "precision"), ==, "fp16");
  gint64 bytes32 = json_object_get_int_member (o32, "activation_bytes");
  gint64 bytes16 = json_object_get_int_member (o16, "activation_bytes");
  g_test_message ("arena: %" G_GINT64_FORMAT " bytes fp32, %" G_GINT64_FORMAT " fp16", bytes32,
                  bytes16);
  g_assert_cmpint (bytes16, <, bytes32);
  g_assert_cmpint (bytes16 * 2, >=, bytes32);
  gint64 d32 = json_object_get_int_member (json_object_get_object_member (o32, "real"),
                                           "detections");
  gint64 d16 = json_object_get_int_member (json_object_get_object_member (o16, "real"),
                                           "detections");
  g_assert_cmpint (d32, >, 0);
  g_assert_cmpint (d16, ==, d32);
  json_node_unref (root32);
  json_node_unref (root16);
  tool_run_result_clear (&fp32);
  tool_run_result_clear (&fp16);
  tool_run_result_clear (&bad);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tool/bench/json-across-backends", test_json_across_backends);
  g_test_add_func ("/tool/bench/layers-name-shaders", test_layers_name_shaders);
  g_test_add_func ("/tool/bench/precisions", test_precisions);
  g_test_add_func ("/tool/bench/conv-shapes", test_conv_shapes);
  return g_test_run ();
}
