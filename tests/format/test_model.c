/* vq_model_validate() rule by rule, vq_model_compute_stats() against sums
 * worked out by hand from the sample's shapes, and vq_default_model_path()'s
 * search order. */
#include <glib/gstdio.h>
#include <math.h>
#include <string.h>

#include "vqcore/error.h"
#include "vqm_sample.h"

typedef struct {
  const char *name;
  void (*edit) (vq_model *model);
  const char *message;
} model_case;

static void e_input_shape (vq_model *m) { m->input.width = 32; }
static void e_channels (vq_model *m) { m->input.channels = 1; }
static void e_decoder_kind (vq_model *m) { m->decoder.kind = VQ_DECODER_KIND_COUNT; }
static void e_levels (vq_model *m) { m->decoder.n_levels = VQ_MAX_LEVELS + 1; }
static void e_stride (vq_model *m) { m->decoder.strides[1] = 8; }
static void e_score_index (vq_model *m) { m->decoder.score_outputs[0] = 4; }
static void e_box_shape (vq_model *m) { m->decoder.box_outputs[0] = 0; }
static void e_reg_max (vq_model *m) { m->decoder.reg_max = 2; }
static void e_classes (vq_model *m) { m->decoder.num_classes = 4; }
static void e_labels_null (vq_model *m) { g_strfreev (m->labels); m->labels = NULL; }
static void e_labels_extra (vq_model *m) { m->labels = g_renew (char *, m->labels, 5); m->labels[3] = g_strdup ("x"); m->labels[4] = NULL; }
static void e_mean_nan (vq_model *m) { m->preprocess.mean[1] = NAN; }
static void e_std_zero (vq_model *m) { m->preprocess.std[2] = 0.0f; }
static void e_threshold (vq_model *m) { m->decoder.score_threshold = 1.5f; }
static void e_iou (vq_model *m) { m->decoder.nms_iou = NAN; }
static void e_max_det (vq_model *m) { m->decoder.max_detections = 0; }
static void e_color (vq_model *m) { m->preprocess.color_order = VQ_COLOR_ORDER_COUNT; }
static void e_fit (vq_model *m) { m->preprocess.fit = (vq_fit_mode) -1; }

static const model_case cases[] = {
  { "input-shape", e_input_shape, "graph input 0 does not have the input shape [1, 3, 16, 32]" },
  { "channels", e_channels, "input has 1 channels" },
  { "decoder-kind", e_decoder_kind, "invalid decoder kind 1" },
  { "levels", e_levels, "decoder has 9 levels, expected 1 to 8" },
  { "stride", e_stride, "decoder level 1 (stride 8) score output 2 has shape [1, 16, 3], expected [1, 4, 3]" },
  { "score-index", e_score_index, "decoder level 0 score output index 4 is out of range (4 graph outputs)" },
  { "box-shape", e_box_shape, "box output 0 has shape [1, 64, 3], expected [1, 64, 8]" },
  { "reg-max", e_reg_max, "box output 1 has shape [1, 64, 8], expected [1, 64, 12]" },
  { "classes", e_classes, "score output 0 has shape [1, 64, 3], expected [1, 64, 4]" },
  { "labels-null", e_labels_null, "the model has no labels (it needs 3)" },
  { "labels-extra", e_labels_extra, "the model has more labels than its 3 classes" },
  { "mean-nan", e_mean_nan, "preprocessing channel 1 has mean nan" },
  { "std-zero", e_std_zero, "preprocessing channel 2 has mean 123.675 and std 0" },
  { "threshold", e_threshold, "score_threshold 1.5 is outside [0, 1]" },
  { "nms-iou", e_iou, "nms_iou nan is outside [0, 1]" },
  { "max-detections", e_max_det, "max_detections 0 must be positive" },
  { "color-order", e_color, "invalid colour order 2" },
  { "fit", e_fit, "invalid resize (fit) mode -1" },
};

static void
run_case (gconstpointer data)
{
  const model_case *c = data;
  vq_model *model = vq_test_sample_model ();
  c->edit (model);
  GError *error = NULL;
  g_assert_false (vq_model_validate (model, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_FORMAT);
  if (strstr (error->message, c->message) == NULL)
    g_error ("expected '%s' in: %s", c->message, error->message);
  g_error_free (error);
  vq_model_free (model);
}

/* The sample's convs, from the shapes vqm_sample.c builds (cout, cin/g, kh,
 * kw, output H*W), summed here independently of vq_model_compute_stats. */
static void
test_stats (void)
{
  vq_model *model = vq_test_sample_model ();
  vq_model_stats stats;
  vq_model_compute_stats (model, &stats);

  const int64_t conv0 = 8 * 3 * 3 * 3, conv1 = 8 * 4, conv2 = 8 * 8 * 3 * 3, conv3 = 8 * 8,
                conv4 = 8 * 8, head1 = 11 * 8;
  g_assert_cmpint (stats.n_conv, ==, 6);
  g_assert_cmpint (stats.n_conv_vq, ==, 3);
  g_assert_cmpint (stats.conv_weights, ==, conv0 + conv1 + conv2 + conv3 + conv4 + head1);
  g_assert_cmpint (stats.parameters, ==, stats.conv_weights + 8 + 8); /* two biases */
  g_assert_cmpuint (stats.dense_bytes, ==, conv0 * 4 + conv1 * 2 + head1 * 4);
  g_assert_cmpuint (stats.bias_bytes, ==, 8 * 4 + 8 * 2);
  /* codebook.a [20, 4] f32 counted once though two convs use it. */
  g_assert_cmpuint (stats.codebook_bytes, ==, 20 * 4 * 4 + 16 * 3 * 2);
  /* u8 [8, 18], u4 [8, 3] (12 bytes), u8 [8, 2]. */
  g_assert_cmpuint (stats.index_bytes, ==, 8 * 18 + 12 + 8 * 2);
  g_assert_cmpuint (stats.scale_bytes, ==, 8 * 4 + 8 * 2);
  g_assert_cmpuint (stats.total_bytes, ==, stats.dense_bytes + stats.bias_bytes
                    + stats.codebook_bytes + stats.index_bytes + stats.scale_bytes);
  double bits = 8.0 * (double) (stats.dense_bytes + stats.codebook_bytes + stats.index_bytes
                                + stats.scale_bytes) / (double) stats.conv_weights;
  g_assert_cmpfloat_with_epsilon (stats.bits_per_weight, bits, 1e-12);
  /* MACs: weights times output pixels (8x8 for the trunk, 4x4 for head1). */
  g_assert_cmpint (stats.macs, ==, (conv0 + conv1 + conv2 + conv3 + conv4) * 64 + head1 * 16);
  vq_model_free (model);
}

static char *cache_home;

static void
test_default_path (void)
{
  GError *error = NULL;
  char *model_dir = g_build_filename (cache_home, "vqdetect", NULL);
  char *cached = g_build_filename (model_dir, "nanodet.vqm", NULL);

  g_unsetenv ("VQDETECT_MODEL");
  char *path = vq_default_model_path (&error);
  if (path == NULL) {
    g_assert_error (error, VQ_ERROR, VQ_ERROR_NOT_FOUND);
    g_assert_nonnull (strstr (error->message, cached));
    g_assert_nonnull (strstr (error->message, "pipelines/setup.sh"));
    g_clear_error (&error);
  } else {
    /* An installed copy exists on this machine: it is the last resort. */
    g_assert_true (g_str_has_suffix (path, "vqdetect/nanodet.vqm"));
    g_assert_false (g_str_has_prefix (path, cache_home));
    g_free (path);
  }

  /* The cache copy comes before the installed one. */
  g_assert_cmpint (g_mkdir_with_parents (model_dir, 0700), ==, 0);
  g_assert_true (g_file_set_contents (cached, "x", 1, NULL));
  path = vq_default_model_path (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, cached);
  g_free (path);

  /* $VQDETECT_MODEL comes first, and a wrong one is an error. */
  char *chosen = g_build_filename (cache_home, "chosen.vqm", NULL);
  g_assert_true (g_file_set_contents (chosen, "x", 1, NULL));
  g_setenv ("VQDETECT_MODEL", chosen, TRUE);
  path = vq_default_model_path (&error);
  g_assert_no_error (error);
  g_assert_cmpstr (path, ==, chosen);
  g_free (path);
  g_setenv ("VQDETECT_MODEL", "/nonexistent/model.vqm", TRUE);
  g_assert_null (vq_default_model_path (&error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_NOT_FOUND);
  g_assert_nonnull (strstr (error->message, "/nonexistent/model.vqm"));
  g_clear_error (&error);
  g_unsetenv ("VQDETECT_MODEL");

  g_unlink (chosen);
  g_unlink (cached);
  g_rmdir (model_dir);
  g_free (chosen);
  g_free (cached);
  g_free (model_dir);
}

int
main (int argc, char **argv)
{
  /* g_get_user_cache_dir() caches its answer: point it at a private
   * directory before anything asks. */
  cache_home = g_dir_make_tmp ("vqm-cache-XXXXXX", NULL);
  g_setenv ("XDG_CACHE_HOME", cache_home, TRUE);
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/format/model/stats", test_stats);
  g_test_add_func ("/format/model/default-path", test_default_path);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    char *path = g_strdup_printf ("/format/model-validate/%s", cases[i].name);
    g_test_add_data_func (path, &cases[i], run_case);
    g_free (path);
  }
  int status = g_test_run ();
  g_rmdir (cache_home);
  g_free (cache_home);
  return status;
}
