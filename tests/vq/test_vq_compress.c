/* The compressor on the format tests' small sample model (every op kind,
 * dense F32/F16 convs, a grouped conv, convs already VQ): what it writes is
 * graph.h's VQ representation, decodes to exactly the codebook lookups,
 * survives save/load unchanged, runs on the CPU engine, is deterministic,
 * stores a codebook shared by two convs once, and bad options fail with a
 * message. */
#include <math.h>
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "vq/vq_compress.h"
#include "vqcore/vqcore.h"
#include "vqm_sample.h"

#define N_FRAMES 6

static float **
calibration_frames (const vq_model *model)
{
  GRand *rand = g_rand_new_with_seed (21);
  int64_t n = (int64_t) model->input.channels * model->input.height * model->input.width;
  float **frames = g_new (float *, N_FRAMES);
  for (int f = 0; f < N_FRAMES; f++) {
    frames[f] = g_new (float, n);
    for (int64_t i = 0; i < n; i++)
      frames[f][i] = (float) (sin (0.3 * (double) i + f) + g_rand_double_range (rand, -0.5, 0.5));
  }
  g_rand_free (rand);
  return frames;
}

static void
free_frames (float **frames)
{
  for (int f = 0; f < N_FRAMES; f++)
    g_free (frames[f]);
  g_free (frames);
}

/* Compresses the sample with every compressible conv at `setting`. */
static vq_model *
compress_sample (const vq_model *model, float **frames, const char *setting,
                 vq_compress_method method, vq_compress_report *report)
{
  vq_compress_options options;
  vq_compress_options_init (&options);
  options.method = method;
  options.n_threads = 2;
  options.rows_per_frame = 64;
  g_assert_true (vq_layer_setting_parse (setting, &options.default_setting, NULL));
  GError *error = NULL;
  vq_model *out = vq_compress_model (model, (const float *const *) frames, N_FRAMES, &options,
                                     report, &error);
  g_assert_no_error (error);
  g_assert_nonnull (out);
  return out;
}

/* W[o][j] = codebook[index[o][j / d]][j % d] * scale[o], read straight from
 * the blobs, against what the engine decodes. */
static void
assert_decodes_to_lookups (const vq_graph *graph, const vq_node *node)
{
  const vq_weight_ref *w = &node->p.conv.weights;
  const vq_blob *codebook = &graph->blobs[w->codebook];
  const vq_blob *indices = &graph->blobs[w->indices];
  const vq_blob *scales = &graph->blobs[w->scales];
  int64_t count = vq_conv_weight_count (graph, node);
  int64_t rows = node->p.conv.out_channels, cols = count / rows;
  int64_t d = codebook->shape.dims[1], per_row = (cols + d - 1) / d;
  g_assert_cmpint (indices->shape.dims[0], ==, rows);
  g_assert_cmpint (indices->shape.dims[1], ==, per_row);
  float *decoded = g_new (float, count);
  vq_conv_weights_to_f32 (graph, node, decoded);
  const uint8_t *bytes = indices->data;
  for (int64_t o = 0; o < rows; o++)
    for (int64_t j = 0; j < cols; j++) {
      int64_t i = o * per_row + j / d;
      uint32_t code = indices->dtype == VQ_DTYPE_U4 ? (bytes[i / 2] >> ((i & 1) * 4)) & 15
                                                    : bytes[i];
      g_assert_cmpint (code, <, codebook->shape.dims[0]);
      float expected = vq_blob_get_f32 (codebook, code * d + j % d) * vq_blob_get_f32 (scales, o);
      g_assert_cmpfloat (decoded[o * cols + j], ==, expected);
    }
  g_free (decoded);
}

/* The model saved at `path` runs on the CPU engine, and its outputs equal
 * those of the same network with the decoded weights stored densely. */
static void
assert_engine_equals_decoded (const char *path, const float *frame)
{
  GError *error = NULL;
  vq_model *loaded = vq_model_load (path, &error);
  g_assert_no_error (error);
  vq_model *dense = vq_model_load (path, &error);
  g_assert_no_error (error);
  for (uint32_t i = 0; i < dense->graph->n_nodes; i++) {
    vq_node *node = &dense->graph->nodes[i];
    if (node->op != VQ_OP_CONV2D || node->p.conv.weights.dense >= 0)
      continue;
    int64_t count = vq_conv_weight_count (dense->graph, node);
    float *weights = g_new (float, count);
    vq_conv_weights_to_f32 (dense->graph, node, weights);
    const vq_value *in = &dense->graph->values[node->inputs[0]];
    vq_shape shape = vq_shape_4d (node->p.conv.out_channels, in->shape.dims[1] / node->p.conv.groups,
                                  node->p.conv.kernel_h, node->p.conv.kernel_w);
    node->p.conv.weights.dense = (int32_t) vq_graph_add_blob_owned (dense->graph, "decoded",
                                                                   VQ_DTYPE_F32, &shape, weights);
    node = &dense->graph->nodes[i];
    node->p.conv.weights.codebook = node->p.conv.weights.indices = -1;
    node->p.conv.weights.scales = -1;
  }
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_CPU;
  vq_engine *a = vq_engine_new (loaded, &options, &error);
  g_assert_no_error (error);
  vq_engine *b = vq_engine_new (dense, &options, &error);
  g_assert_no_error (error);
  g_assert_true (vq_engine_run (a, frame, &error));
  g_assert_true (vq_engine_run (b, frame, &error));
  for (uint32_t o = 0; o < loaded->graph->n_outputs; o++) {
    vq_tensor_view va = vq_engine_output (a, o), vb = vq_engine_output (b, o);
    g_assert_cmpmem (va.data, vq_shape_numel (&va.shape) * 4, vb.data,
                     vq_shape_numel (&vb.shape) * 4);
  }
  vq_engine_free (a);
  vq_engine_free (b);
  vq_model_free (dense);
  vq_model_free (loaded);
}

static void
test_round_trip (void)
{
  vq_model *model = vq_test_sample_model ();
  float **frames = calibration_frames (model);
  vq_compress_report report = { 0 };
  vq_model *out = compress_sample (model, frames, "d2k16", VQ_COMPRESS_HESSIAN, &report);
  GError *error = NULL;
  g_assert_true (vq_model_validate (out, &error));

  /* Every dense ungrouped conv became VQ with U4 indices (K = 16); the
   * grouped one and the convs already VQ kept their weights. */
  uint32_t converted = 0;
  for (uint32_t i = 0; i < out->graph->n_nodes; i++) {
    const vq_node *before = &model->graph->nodes[i], *after = &out->graph->nodes[i];
    if (after->op != VQ_OP_CONV2D)
      continue;
    if (before->p.conv.weights.dense >= 0 && before->p.conv.groups == 1) {
      g_assert_cmpint (after->p.conv.weights.dense, ==, -1);
      g_assert_cmpint (out->graph->blobs[after->p.conv.weights.indices].dtype, ==, VQ_DTYPE_U4);
      assert_decodes_to_lookups (out->graph, after);
      converted++;
    } else {
      g_assert_cmpint (after->p.conv.weights.dense >= 0, ==, before->p.conv.weights.dense >= 0);
    }
  }
  g_assert_cmpuint (converted, ==, report.n_layers);
  g_assert_cmpuint (converted, >=, 1);

  /* Bits per weight as vq_model_compute_stats counts them agree with the
   * report: indices + scales + codebooks. */
  g_assert_cmpfloat (report.bits_per_weight, >, 2.0);

  char *path = g_build_filename (g_get_tmp_dir (), "vq-test-compress.vqm", NULL);
  g_assert_true (vq_model_save (out, path, &error));
  g_assert_no_error (error);
  vq_model *loaded = vq_model_load (path, &error);
  g_assert_no_error (error);
  vq_test_assert_models_equal (out, loaded);

  /* The loaded model runs on the CPU engine, and its outputs equal those of
   * the same network with the decoded weights stored densely. */
  assert_engine_equals_decoded (path, frames[0]);

  /* The measured per-layer output errors are finite and small-ish. */
  g_assert_true (vq_compress_measure (model, out, (const float *const *) frames, N_FRAMES, 2,
                                      &report, &error));
  g_assert_no_error (error);
  for (uint32_t l = 0; l < report.n_layers; l++) {
    g_assert_cmpfloat (report.layers[l].output_error, >=, 0.0);
    g_assert_cmpfloat (report.layers[l].output_error, <, 1.0);
  }

  g_unlink (path);
  g_free (path);
  vq_compress_report_clear (&report);
  vq_model_free (loaded);
  vq_model_free (out);
  free_frames (frames);
  vq_model_free (model);
}

/* Compresses the sample with its two compressible convs (conv0, head1) at
 * settings s0 and s1. */
static vq_model *
compress_pair (const vq_model *model, float **frames, const char *s0, const char *s1,
               int n_threads, vq_compress_report *report, GError **error)
{
  vq_compress_options options;
  vq_compress_options_init (&options);
  options.n_threads = n_threads;
  options.rows_per_frame = 64;
  const char *names[2] = { "conv0", "head1" };
  vq_layer_setting settings[2];
  g_assert_true (vq_layer_setting_parse (s0, &settings[0], NULL));
  g_assert_true (vq_layer_setting_parse (s1, &settings[1], NULL));
  options.override_names = names;
  options.override_settings = settings;
  options.n_overrides = 2;
  return vq_compress_model (model, (const float *const *) frames, N_FRAMES, &options, report,
                            error);
}

static const vq_node *
find_node (const vq_graph *graph, const char *name)
{
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    if (strcmp (graph->nodes[i].name, name) == 0)
      return &graph->nodes[i];
  g_assert_not_reached ();
}

static gint64
file_size (const char *path)
{
  GStatBuf st;
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  return (gint64) st.st_size;
}

static void
test_shared_codebook (void)
{
  vq_model *model = vq_test_sample_model ();
  float **frames = calibration_frames (model);
  GError *error = NULL;
  vq_compress_report report = { 0 }, plain_report = { 0 };
  vq_model *shared = compress_pair (model, frames, "d2k16@1", "d2k16@1", 2, &report, &error);
  g_assert_no_error (error);
  vq_model *plain = compress_pair (model, frames, "d2k16", "d2k16", 2, &plain_report, &error);
  g_assert_no_error (error);
  g_assert_true (vq_model_validate (shared, &error));

  /* Both convs point at one codebook blob and decode to its lookups. */
  const vq_node *a = find_node (shared->graph, "conv0"), *b = find_node (shared->graph, "head1");
  g_assert_cmpint (a->p.conv.weights.codebook, >=, 0);
  g_assert_cmpint (a->p.conv.weights.codebook, ==, b->p.conv.weights.codebook);
  g_assert_cmpint (a->p.conv.weights.indices, !=, b->p.conv.weights.indices);
  assert_decodes_to_lookups (shared->graph, a);
  assert_decodes_to_lookups (shared->graph, b);
  const vq_blob *codebook = &shared->graph->blobs[a->p.conv.weights.codebook];
  uint64_t codebook_bytes = (uint64_t) vq_shape_numel (&codebook->shape) * 2;
  g_assert_cmpuint (codebook_bytes, ==, 16 * 2 * 2);
  g_assert_cmpint (find_node (plain->graph, "conv0")->p.conv.weights.codebook, !=,
                   find_node (plain->graph, "head1")->p.conv.weights.codebook);

  /* Counted once: by the model's statistics, by the report (at the first
   * member), and in the file. */
  vq_model_stats with, without;
  vq_model_compute_stats (shared, &with);
  vq_model_compute_stats (plain, &without);
  g_assert_cmpuint (without.codebook_bytes - with.codebook_bytes, ==, codebook_bytes);
  g_assert_cmpuint (plain_report.weight_bytes - report.weight_bytes, ==, codebook_bytes);
  g_assert_cmpint (report.layers[0].setting.group, ==, 1);
  g_assert_cmpuint (report.layers[0].bytes, ==, plain_report.layers[0].bytes);
  g_assert_cmpuint (plain_report.layers[1].bytes - report.layers[1].bytes, ==, codebook_bytes);
  char *path = g_build_filename (g_get_tmp_dir (), "vq-test-shared.vqm", NULL);
  char *plain_path = g_build_filename (g_get_tmp_dir (), "vq-test-unshared.vqm", NULL);
  g_assert_true (vq_model_save (shared, path, &error));
  g_assert_true (vq_model_save (plain, plain_path, &error));
  g_assert_no_error (error);
  g_assert_cmpint (file_size (plain_path) - file_size (path), >=, (gint64) codebook_bytes);

  /* Save/load keeps the sharing; the CPU engine computes with exactly the
   * codebook lookups. */
  vq_model *loaded = vq_model_load (path, &error);
  g_assert_no_error (error);
  vq_test_assert_models_equal (shared, loaded);
  g_assert_cmpint (find_node (loaded->graph, "conv0")->p.conv.weights.codebook, ==,
                   find_node (loaded->graph, "head1")->p.conv.weights.codebook);
  assert_decodes_to_lookups (loaded->graph, find_node (loaded->graph, "head1"));
  assert_engine_equals_decoded (path, frames[1]);

  /* The same file for any thread count. */
  vq_model *one = compress_pair (model, frames, "d2k16@1", "d2k16@1", 1, NULL, &error);
  g_assert_no_error (error);
  GBytes *bytes_a = vq_test_serialize (shared), *bytes_b = vq_test_serialize (one);
  g_assert_true (g_bytes_equal (bytes_a, bytes_b));
  g_bytes_unref (bytes_a);
  g_bytes_unref (bytes_b);

  /* A group's convs must agree on d and K. */
  g_assert_null (compress_pair (model, frames, "d2k16@1", "d3k16@1", 2, NULL, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "group 1"));
  g_clear_error (&error);

  g_unlink (path);
  g_unlink (plain_path);
  g_free (path);
  g_free (plain_path);
  vq_compress_report_clear (&report);
  vq_compress_report_clear (&plain_report);
  vq_model_free (one);
  vq_model_free (loaded);
  vq_model_free (plain);
  vq_model_free (shared);
  free_frames (frames);
  vq_model_free (model);
}

static void
test_d1_grid (void)
{
  /* d = 1 private codebooks come out as the uniform grid the Vulkan shaders
   * compute instead of fetch, and are recognised as such once written in
   * fp16 (8- and 4-bit indices); a shared d = 1 codebook is learned, and a
   * grid with one entry moved is not a grid. */
  vq_model *model = vq_test_sample_model ();
  float **frames = calibration_frames (model);
  GError *error = NULL;
  vq_model *grids = compress_pair (model, frames, "d1k256", "d1k16", 2, NULL, &error);
  g_assert_no_error (error);
  vq_model *shared = compress_pair (model, frames, "d1k256@1", "d1k256@1", 2, NULL, &error);
  g_assert_no_error (error);
  const char *names[2] = { "conv0", "head1" };
  const int32_t ks[2] = { 256, 16 };
  for (int i = 0; i < 2; i++) {
    const vq_node *node = find_node (grids->graph, names[i]);
    vq_blob *codebook = &grids->graph->blobs[node->p.conv.weights.codebook];
    g_assert_cmpint (codebook->dtype, ==, VQ_DTYPE_F16);
    g_assert_cmpint (vq_codebook_grid_half (codebook), ==, ks[i] / 2);
    ((uint16_t *) codebook->data)[3] ^= 1; /* one ulp */
    g_assert_cmpint (vq_codebook_grid_half (codebook), ==, 0);
    node = find_node (shared->graph, names[i]);
    g_assert_cmpint (vq_codebook_grid_half (&shared->graph->blobs[node->p.conv.weights.codebook]),
                     ==, 0);
  }
  vq_model_free (grids);
  vq_model_free (shared);
  free_frames (frames);
  vq_model_free (model);
}

static void
test_deterministic (void)
{
  vq_model *model = vq_test_sample_model ();
  float **frames = calibration_frames (model);
  vq_model *a = compress_sample (model, frames, "d4k32", VQ_COMPRESS_HESSIAN, NULL);
  vq_model *b = compress_sample (model, frames, "d4k32", VQ_COMPRESS_HESSIAN, NULL);
  GBytes *bytes_a = vq_test_serialize (a), *bytes_b = vq_test_serialize (b);
  g_assert_true (g_bytes_equal (bytes_a, bytes_b));
  g_bytes_unref (bytes_a);
  g_bytes_unref (bytes_b);
  vq_model_free (a);
  vq_model_free (b);
  free_frames (frames);
  vq_model_free (model);
}

static void
test_bad_options (void)
{
  vq_model *model = vq_test_sample_model ();
  float **frames = calibration_frames (model);
  vq_compress_options options;
  vq_compress_options_init (&options);
  const char *names[] = { "no-such-conv" };
  vq_layer_setting settings[1] = { { VQ_LAYER_F16, 0, 0, 0 } };
  options.override_names = names;
  options.override_settings = settings;
  options.n_overrides = 1;
  GError *error = NULL;
  g_assert_null (vq_compress_model (model, (const float *const *) frames, N_FRAMES, &options,
                                    NULL, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "no-such-conv"));
  g_clear_error (&error);

  vq_compress_options_init (&options);
  g_assert_null (vq_compress_model (model, NULL, 0, &options, NULL, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);

  vq_layer_setting setting;
  const char *bad[] = { "d0k16", "d4k300", "d4", "x", "d4k16x", "" };
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_false (vq_layer_setting_parse (bad[i], &setting, &error));
    g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
    g_clear_error (&error);
  }
  g_assert_true (vq_layer_setting_parse ("d3k256", &setting, NULL));
  g_assert_cmpint (setting.d, ==, 3);
  g_assert_cmpint (setting.k, ==, 256);
  g_assert_cmpint (setting.group, ==, 0);
  const char *bad_groups[] = { "d4k256@", "d4k256@0", "d4k256@x", "d4k256@-1", "d4k256@1x",
                               "d4k256@ 1", "f16@1" };
  for (guint i = 0; i < G_N_ELEMENTS (bad_groups); i++) {
    g_assert_false (vq_layer_setting_parse (bad_groups[i], &setting, &error));
    g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
    g_clear_error (&error);
  }
  g_assert_true (vq_layer_setting_parse ("d4k256@12", &setting, NULL));
  g_assert_cmpint (setting.group, ==, 12);
  char text[24];
  g_assert_cmpstr (vq_layer_setting_format (&setting, text, sizeof text), ==, "d4k256@12");
  free_frames (frames);
  vq_model_free (model);
}

static vq_detection
box (int32_t class_id, float confidence, float x)
{
  vq_detection d = { class_id, confidence, x, 10.0f, 20.0f, 40.0f };
  return d;
}

static void
test_agreement (void)
{
  /* Two frames; the reference has 3 persons (class 0) and 1 car (class 2)
   * at or above 0.35, and one box below it that is not ground truth. */
  GArray *ref[2], *cand[2];
  for (int f = 0; f < 2; f++) {
    ref[f] = g_array_new (FALSE, FALSE, sizeof (vq_detection));
    cand[f] = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  }
  vq_detection r[] = { box (0, 0.9f, 0), box (0, 0.8f, 100), box (2, 0.6f, 200),
                       box (0, 0.2f, 300) };
  g_array_append_vals (ref[0], r, 4);
  vq_detection r1[] = { box (0, 0.7f, 50) };
  g_array_append_vals (ref[1], r1, 1);

  /* Identical detections agree perfectly. */
  vq_agreement result;
  vq_agreement_builder *b = vq_agreement_builder_new (0.5f, 0.35f);
  for (int f = 0; f < 2; f++)
    vq_agreement_builder_add_frame (b, ref[f], ref[f]);
  vq_agreement_builder_finish (b, &result);
  vq_agreement_builder_free (b);
  g_assert_cmpfloat (result.map50, ==, 1.0);
  g_assert_cmpfloat (result.precision, ==, 1.0);
  g_assert_cmpfloat (result.recall, ==, 1.0);
  g_assert_cmpint (result.reference_boxes, ==, 4);
  g_assert_cmpint (result.n_classes, ==, 2);

  /* The candidate finds the car and one of three persons (another, shifted by a
   * box width: IoU 0) plus a low-scored false person. Person AP:
   * one hit at rank 1 -> precision 1 up to recall 1/3, so 34 of the 101
   * recall points score 1; car AP 1. Precision 2/3 at 0.35 (the 0.1 box does
   * not count), recall 2/4. */
  vq_detection c[] = { box (0, 0.95f, 0), box (0, 0.5f, 120), box (2, 0.4f, 200),
                       box (0, 0.1f, 600) };
  g_array_append_vals (cand[0], c, 4);
  b = vq_agreement_builder_new (0.5f, 0.35f);
  for (int f = 0; f < 2; f++)
    vq_agreement_builder_add_frame (b, ref[f], cand[f]);
  vq_agreement_builder_finish (b, &result);
  vq_agreement_builder_free (b);
  g_assert_cmpfloat_with_epsilon (result.map50, (34.0 / 101.0 + 1.0) / 2.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (result.precision, 2.0 / 3.0, 1e-9);
  g_assert_cmpfloat_with_epsilon (result.recall, 2.0 / 4.0, 1e-9);
  for (int f = 0; f < 2; f++) {
    g_array_free (ref[f], TRUE);
    g_array_free (cand[f], TRUE);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vq/compress/round-trip", test_round_trip);
  g_test_add_func ("/vq/compress/deterministic", test_deterministic);
  g_test_add_func ("/vq/compress/shared-codebook", test_shared_codebook);
  g_test_add_func ("/vq/compress/d1-grid", test_d1_grid);
  g_test_add_func ("/vq/compress/bad-options", test_bad_options);
  g_test_add_func ("/vq/eval/agreement", test_agreement);
  return g_test_run ();
}
