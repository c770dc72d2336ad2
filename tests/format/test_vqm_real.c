/* The real NanoDet through the .vqm format: imported from the cached TF.js
 * files, saved, loaded back (mapped) and compared; its statistics checked
 * against the facts in shared/guide/model.md (34 convs, 3.79 M parameters,
 * 2.09 G MACs at 416x416, 80 COCO labels); and `vq info` run on it. */
#include <glib/gstdio.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/wait.h>

#include "test_util.h"
#include "vqcore/vqcore.h"
#include "vqm_sample.h"

static char *tmp_dir;
static char *model_path; /* the saved real model */
static vq_model *imported;

static void
test_roundtrip_real (void)
{
  GError *error = NULL;
  gint64 start = g_get_monotonic_time ();
  vq_model *loaded = vq_model_load (model_path, &error);
  gint64 elapsed = g_get_monotonic_time () - start;
  g_assert_no_error (error);
  g_test_message ("loaded %s in %.1f ms (mapping and checksumming every byte)", model_path,
                  elapsed / 1000.0);
  vq_test_assert_models_equal (imported, loaded);
  const char *base = g_mapped_file_get_contents (loaded->mapping);
  for (uint32_t i = 0; i < loaded->graph->n_blobs; i++) {
    const char *data = loaded->graph->blobs[i].data;
    g_assert_false (loaded->graph->blobs[i].owned);
    g_assert_cmpuint ((gsize) (data - base) % 64, ==, 0);
  }
  vq_model_free (loaded);
}

static void
test_stats_real (void)
{
  vq_model_stats stats;
  vq_model_compute_stats (imported, &stats);
  g_assert_cmpuint (stats.n_conv, ==, 34);
  g_assert_cmpuint (stats.n_conv_vq, ==, 0);
  g_assert_cmpint (stats.parameters, >=, 3785000);
  g_assert_cmpint (stats.parameters, <=, 3795000);
  g_assert_cmpint (stats.macs, >=, 2085000000);
  g_assert_cmpint (stats.macs, <=, 2095000000);
  /* All dense: bits per weight is the dense element size (every dense blob
   * shares one dtype here). */
  const vq_graph *graph = imported->graph;
  vq_dtype dtype = VQ_DTYPE_COUNT;
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    if (graph->nodes[i].op == VQ_OP_CONV2D) {
      vq_dtype d = graph->blobs[graph->nodes[i].p.conv.weights.dense].dtype;
      g_assert_true (dtype == VQ_DTYPE_COUNT || dtype == d);
      dtype = d;
    }
  g_assert_cmpfloat (stats.bits_per_weight, ==, 8.0 * (double) vq_dtype_bytes (dtype, 1));
  g_assert_cmpuint (g_strv_length (imported->labels), ==, 80);
  g_assert_cmpstr (imported->labels[0], ==, "person");
  g_assert_cmpstr (imported->labels[79], ==, "toothbrush");
  g_assert_cmpint (imported->input.width, ==, 416);
}

/* Runs `vq ARGS...`; returns the exit status, stdout and stderr. */
static int
run_vq (char **out, char **err, const char *const *args)
{
  const char *tool = g_getenv ("VQ_TOOL");
  g_assert_nonnull (tool);
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) tool);
  for (int i = 0; args[i] != NULL; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  int status = 0;
  GError *error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL, out,
                               err, &status, &error));
  g_assert_no_error (error);
  g_ptr_array_free (argv, TRUE);
  return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static void
test_vq_info (void)
{
  vq_model_stats stats;
  vq_model_compute_stats (imported, &stats);
  char *out = NULL, *err = NULL;

  g_assert_cmpint (run_vq (&out, &err, (const char *[]) { "info", model_path, "--json", NULL }), ==, 0);
  JsonParser *parser = json_parser_new ();
  GError *error = NULL;
  g_assert_true (json_parser_load_from_data (parser, out, -1, &error));
  g_assert_no_error (error);
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  g_assert_cmpstr (json_object_get_string_member (root, "path"), ==, model_path);
  g_assert_cmpstr (json_object_get_string_member (root, "name"), ==, imported->name);
  g_assert_cmpint (json_object_get_int_member (root, "parameters"), ==, stats.parameters);
  g_assert_cmpint (json_object_get_int_member (root, "bytes"), ==, (gint64) stats.total_bytes);
  g_assert_cmpint (json_object_get_int_member (root, "dense_bytes"), ==, (gint64) stats.dense_bytes);
  g_assert_cmpfloat_with_epsilon (json_object_get_double_member (root, "bits_per_weight"),
                                  stats.bits_per_weight, 1e-9);
  g_assert_cmpint (json_object_get_int_member (root, "layers"), ==, imported->graph->n_nodes);
  JsonArray *labels = json_object_get_array_member (root, "labels");
  g_assert_cmpuint (json_array_get_length (labels), ==, 80);
  g_assert_cmpstr (json_array_get_string_element (labels, 79), ==, "toothbrush");
  JsonObject *decoder = json_object_get_object_member (root, "decoder");
  g_assert_cmpint (json_array_get_length (json_object_get_array_member (decoder, "strides")), ==, 3);
  g_assert_cmpint (json_object_get_int_member (json_object_get_object_member (root, "input"), "width"), ==, 416);
  g_assert_cmpstr (json_object_get_string_member (json_object_get_object_member (root, "preprocess"), "color_order"), ==, "bgr");
  g_object_unref (parser);
  g_free (out);
  g_free (err);

  /* Text: one line per layer, and the default model via $VQDETECT_MODEL. */
  g_setenv ("VQDETECT_MODEL", model_path, TRUE);
  g_assert_cmpint (run_vq (&out, &err, (const char *[]) { "info", NULL }), ==, 0);
  g_unsetenv ("VQDETECT_MODEL");
  char *path_line = g_strdup_printf ("Path:          %s\n", model_path);
  g_assert_nonnull (strstr (out, path_line));
  char *layers = g_strdup_printf ("Layers (%u):", imported->graph->n_nodes);
  g_assert_nonnull (strstr (out, layers));
  g_free (layers);
  g_assert_nonnull (strstr (out, "Labels (80):"));
  g_assert_nonnull (strstr (out, "toothbrush"));
  g_free (path_line);
  g_free (out);
  g_free (err);

  /* Errors: one line on stderr, exit status 1. */
  g_assert_cmpint (run_vq (&out, &err, (const char *[]) { "info", "/nonexistent.vqm", NULL }), ==, 1);
  g_assert_true (g_str_has_prefix (err, "vq info: /nonexistent.vqm: "));
  g_assert_cmpint (strchr (err, '\n') - err, ==, (long) strlen (err) - 1);
  g_assert_cmpstr (out, ==, "");
  g_free (out);
  g_free (err);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  char *json = vq_test_cache_file ("nanodet.json");
  GError *error = NULL;
  imported = vq_tfjs_import_nanodet (json, &error);
  g_assert_no_error (error);
  tmp_dir = g_dir_make_tmp ("vqm-real-XXXXXX", &error);
  g_assert_no_error (error);
  model_path = g_build_filename (tmp_dir, "nanodet.vqm", NULL);
  g_assert_true (vq_model_save (imported, model_path, &error));
  g_assert_no_error (error);

  g_test_add_func ("/format/real/roundtrip", test_roundtrip_real);
  g_test_add_func ("/format/real/stats", test_stats_real);
  g_test_add_func ("/format/real/vq-info", test_vq_info);
  int status = g_test_run ();

  g_unlink (model_path);
  g_rmdir (tmp_dir);
  g_free (model_path);
  g_free (tmp_dir);
  g_free (json);
  vq_model_free (imported);
  return status;
}
