#include "tfjs_test_util.h"

#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "common/half.h"
#include "test_util.h"

tfjs_builder *
tfjs_builder_new (void)
{
  tfjs_builder *b = g_new0 (tfjs_builder, 1);
  b->nodes = g_string_new (NULL);
  b->manifest = g_string_new (NULL);
  b->bin = g_byte_array_new ();
  return b;
}

void
tfjs_builder_free (tfjs_builder *b)
{
  g_string_free (b->nodes, TRUE);
  g_string_free (b->manifest, TRUE);
  g_byte_array_unref (b->bin);
  g_free (b);
}

char *
tfjs_b64 (const char *s)
{
  return g_base64_encode ((const guchar *) s, strlen (s));
}

static char *
shape_json (int rank, const int *shape)
{
  GString *s = g_string_new ("[");
  for (int i = 0; i < rank; i++)
    g_string_append_printf (s, "%s%d", i ? ", " : "", shape[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

static void
add_const_node (tfjs_builder *b, const char *name, const char *dtype)
{
  if (b->nodes->len)
    g_string_append (b->nodes, ",\n");
  g_string_append_printf (b->nodes,
                          "{\"name\": \"%s\", \"op\": \"Const\", \"attr\": {\"dtype\": "
                          "{\"type\": \"%s\"}}}", name, dtype);
}

static void
add_manifest (tfjs_builder *b, const char *name, int rank, const int *shape, const char *dtype,
              const char *quant)
{
  char *s = shape_json (rank, shape);
  if (b->manifest->len)
    g_string_append (b->manifest, ",\n");
  g_string_append_printf (b->manifest, "{\"name\": \"%s\", \"shape\": %s, \"dtype\": \"%s\"%s}",
                          name, s, dtype, quant);
  g_free (s);
}

static gsize
count_of (int rank, const int *shape)
{
  gsize n = 1;
  for (int i = 0; i < rank; i++)
    n *= (gsize) shape[i];
  return n;
}

void
tfjs_add_const_f32 (tfjs_builder *b, const char *name, int rank, const int *shape,
                    const float *data, gboolean half)
{
  add_const_node (b, name, "DT_FLOAT");
  add_manifest (b, name, rank, shape, "float32",
                half ? ", \"quantization\": {\"dtype\": \"float16\", \"original_dtype\": \"float32\"}"
                     : "");
  for (gsize i = 0; i < count_of (rank, shape); i++) {
    if (half) {
      uint16_t h = vq__float_to_half (data[i]);
      g_byte_array_append (b->bin, (const guint8 *) &h, 2);
    } else {
      g_byte_array_append (b->bin, (const guint8 *) &data[i], 4);
    }
  }
}

void
tfjs_add_const_i32 (tfjs_builder *b, const char *name, int rank, const int *shape,
                    const int32_t *data)
{
  add_const_node (b, name, "DT_INT32");
  add_manifest (b, name, rank, shape, "int32", "");
  g_byte_array_append (b->bin, (const guint8 *) data, (guint) (4 * count_of (rank, shape)));
}

void
tfjs_add_node (tfjs_builder *b, const char *name, const char *op, const char *inputs,
               const char *attrs)
{
  if (b->nodes->len)
    g_string_append (b->nodes, ",\n");
  g_string_append_printf (b->nodes, "{\"name\": \"%s\", \"op\": \"%s\", \"input\": [%s], "
                          "\"attr\": {%s}}", name, op, inputs, attrs ? attrs : "");
}

char *
tfjs_builder_write (tfjs_builder *b, const char *dir, const char *input,
                    const char *const *outputs)
{
  GString *outs = g_string_new (NULL);
  for (int i = 0; outputs[i]; i++)
    g_string_append_printf (outs, "%s\"%s\": {\"name\": \"%s\", \"dtype\": \"DT_FLOAT\"}",
                            i ? ", " : "", outputs[i], outputs[i]);
  char *json = g_strdup_printf (
      "{\"format\": \"graph-model\", \"generatedBy\": \"vqdetect tests\", "
      "\"convertedBy\": \"hand\",\n"
      "\"signature\": {\"inputs\": {\"%s:0\": {\"name\": \"%s:0\", \"dtype\": \"DT_FLOAT\"}}, "
      "\"outputs\": {%s}},\n"
      "\"modelTopology\": {\"node\": [\n%s\n], \"library\": {}, \"versions\": {}},\n"
      "\"weightsManifest\": [{\"paths\": [\"model.bin\"], \"weights\": [\n%s\n]}]}\n",
      input, input, outs->str, b->nodes->str, b->manifest->str);
  char *json_path = g_build_filename (dir, "model.json", NULL);
  char *bin_path = g_build_filename (dir, "model.bin", NULL);
  GError *error = NULL;
  g_assert_true (g_file_set_contents (json_path, json, -1, &error));
  g_assert_true (g_file_set_contents (bin_path, (const char *) b->bin->data, b->bin->len, &error));
  g_assert_no_error (error);
  g_free (bin_path);
  g_free (json);
  g_string_free (outs, TRUE);
  return json_path;
}

GPtrArray *
tfjs_run_reference (const char *model_json, const float *input, gsize count,
                    const char *backend, double *ms_per_run)
{
  char *script = vq_test_source_file ("tests/reference/tfjs_reference.mjs");
  char *ref_dir = g_path_get_dirname (script);
  char *modules = g_build_filename (ref_dir, "node_modules", "@tensorflow", "tfjs-core", NULL);
  if (!g_file_test (modules, G_FILE_TEST_IS_DIR))
    g_error ("the TF.js reference is not installed: run `npm ci --prefix tests/reference`");
  char *node = g_find_program_in_path ("node");
  if (node == NULL)
    g_error ("node is not in PATH; the TF.js reference needs Node.js 18 or later");

  GError *error = NULL;
  char *tmp = g_dir_make_tmp ("vq-tfjs-ref-XXXXXX", &error);
  g_assert_no_error (error);
  char *input_path = g_build_filename (tmp, "input.f32", NULL);
  char *out_dir = g_build_filename (tmp, "out", NULL);
  g_assert_true (g_file_set_contents (input_path, (const char *) input,
                                      (gssize) (count * sizeof (float)), &error));
  char *argv[] = { node, script, (char *) model_json, input_path, out_dir, "--backend",
                   (char *) backend, NULL };
  char *out = NULL, *err = NULL;
  int status = 0;
  g_assert_true (g_spawn_sync (NULL, argv, NULL, G_SPAWN_DEFAULT, NULL, NULL, &out, &err,
                               &status, &error));
  g_assert_no_error (error);
  if (!g_spawn_check_wait_status (status, NULL))
    g_error ("TF.js reference failed on %s:\n%s", model_json, err);

  char *listing_path = g_build_filename (out_dir, "outputs.json", NULL);
  GBytes *listing = vq_test_read_file (listing_path);
  const char *ms = strstr (g_bytes_get_data (listing, NULL), "\"ms_per_run\":");
  if (ms_per_run)
    *ms_per_run = ms ? g_ascii_strtod (ms + 13, NULL) : 0.0;
  GPtrArray *outputs = g_ptr_array_new_with_free_func ((GDestroyNotify) g_bytes_unref);
  for (int i = 0;; i++) {
    char *name = g_strdup_printf ("output_%d.f32", i);
    char *path = g_build_filename (out_dir, name, NULL);
    gboolean exists = g_file_test (path, G_FILE_TEST_EXISTS);
    if (exists) {
      g_ptr_array_add (outputs, vq_test_read_file (path));
      g_remove (path);
    }
    g_free (path);
    g_free (name);
    if (!exists)
      break;
  }
  g_remove (listing_path);
  g_remove (out_dir);
  g_remove (input_path);
  g_remove (tmp);
  g_bytes_unref (listing);
  g_free (listing_path);
  g_free (out_dir);
  g_free (input_path);
  g_free (tmp);
  g_free (out);
  g_free (err);
  g_free (node);
  g_free (modules);
  g_free (ref_dir);
  g_free (script);
  return outputs;
}

void
tfjs_fill_random (float *out, gsize count, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  for (gsize i = 0; i < count; i++)
    out[i] = (float) g_rand_double_range (rand, -1.0, 1.0);
  g_rand_free (rand);
}

double
tfjs_max_abs_diff (const float *a, const float *b, gsize count)
{
  double worst = 0.0;
  for (gsize i = 0; i < count; i++) {
    double d = fabs ((double) a[i] - (double) b[i]);
    if (!(d <= worst)) /* also catches NaN */
      worst = isnan (d) ? INFINITY : d;
  }
  return worst;
}

guint
tfjs_count_op (const vq_graph *graph, vq_op op)
{
  guint n = 0;
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    n += graph->nodes[i].op == op;
  return n;
}
