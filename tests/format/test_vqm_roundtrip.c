/* Round trips of the sample model through .vqm files: everything survives,
 * payloads are mapped and aligned, writing is atomic and deterministic, and
 * the room for growth (minor versions, unknown sections and metadata) works. */
#include <glib/gstdio.h>
#include <string.h>

#include "vqcore/error.h"
#include "vqcore/vqm.h"
#include "test_util.h"
#include "vqm_sample.h"

static char *tmp_dir;

static char *
tmp_path (const char *name)
{
  return g_build_filename (tmp_dir, name, NULL);
}

static void
test_roundtrip_mapped (void)
{
  vq_model *model = vq_test_sample_model ();
  char *path = tmp_path ("sample.vqm");
  GError *error = NULL;
  g_assert_true (vq_model_save (model, path, &error));
  g_assert_no_error (error);

  vq_model *loaded = vq_model_load (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (loaded);
  vq_test_assert_models_equal (model, loaded);

  /* Payloads are borrowed from the mapping and 64-byte aligned relative to
   * the file start (and so in memory: mappings start on a page). */
  g_assert_nonnull (loaded->mapping);
  const char *base = g_mapped_file_get_contents (loaded->mapping);
  gsize length = g_mapped_file_get_length (loaded->mapping);
  for (uint32_t i = 0; i < loaded->graph->n_blobs; i++) {
    const vq_blob *blob = &loaded->graph->blobs[i];
    const char *data = blob->data;
    g_assert_false (blob->owned);
    g_assert_true (data >= base && data + blob->nbytes <= base + length);
    g_assert_cmpuint ((gsize) (data - base) % VQM_ALIGNMENT, ==, 0);
    g_assert_cmpuint ((guintptr) data % VQM_ALIGNMENT, ==, 0);
  }
  /* The weights decode the same way through the loaded blobs. */
  for (uint32_t i = 0; i < model->graph->n_nodes; i++) {
    const vq_node *node = &model->graph->nodes[i];
    if (node->op != VQ_OP_CONV2D)
      continue;
    int64_t count = vq_conv_weight_count (model->graph, node);
    float *a = g_new (float, count), *b = g_new (float, count);
    vq_conv_weights_to_f32 (model->graph, node, a);
    vq_conv_weights_to_f32 (loaded->graph, &loaded->graph->nodes[i], b);
    g_assert_cmpmem (a, count * sizeof (float), b, count * sizeof (float));
    g_free (a);
    g_free (b);
  }
  vq_model_free (loaded);
  vq_model_free (model);
  g_unlink (path);
  g_free (path);
}

static void
test_roundtrip_bytes (void)
{
  vq_model *model = vq_test_sample_model ();
  GBytes *bytes = vq_test_serialize (model);
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  GError *error = NULL;
  vq_model *loaded = vq_model_load_from_bytes (data, size, &error);
  g_assert_no_error (error);
  vq_test_assert_models_equal (model, loaded);
  g_assert_null (loaded->mapping);
  for (uint32_t i = 0; i < loaded->graph->n_blobs; i++) {
    const guint8 *blob = loaded->graph->blobs[i].data;
    g_assert_true (loaded->graph->blobs[i].owned);
    g_assert_true (blob + loaded->graph->blobs[i].nbytes <= data || blob >= data + size);
  }
  /* A loaded model can be extended (the tables keep graph.c's capacity
   * rule) and saved again. */
  int32_t dims[1] = { 8 };
  vq_shape shape = vq_shape_make (1, dims);
  float zeros[8] = { 0 };
  for (int i = 0; i < 40; i++)
    vq_graph_add_blob_copy (loaded->graph, "extra", VQ_DTYPE_F32, &shape, zeros);
  g_assert_cmpuint (loaded->graph->n_blobs, ==, model->graph->n_blobs + 40);
  GBytes *again = vq_test_serialize (loaded);
  vq_model *reloaded = vq_model_load_from_bytes (g_bytes_get_data (again, NULL),
                                                 g_bytes_get_size (again), &error);
  g_assert_no_error (error);
  vq_test_assert_models_equal (loaded, reloaded);
  vq_model_free (reloaded);
  g_bytes_unref (again);
  vq_model_free (loaded);
  vq_model_free (model);
  g_bytes_unref (bytes);
}

static void
test_save_deterministic_and_atomic (void)
{
  vq_model *model = vq_test_sample_model ();
  char *path = tmp_path ("twice.vqm");
  GError *error = NULL;
  g_assert_true (vq_model_save (model, path, &error));
  GBytes *first = vq_test_read_file (path);
  /* Overwrite an existing file. */
  g_assert_true (vq_model_save (model, path, &error));
  g_assert_no_error (error);
  GBytes *second = vq_test_read_file (path);
  g_assert_true (g_bytes_equal (first, second));
  GBytes *serialized = vq_test_serialize (model);
  g_assert_true (g_bytes_equal (first, serialized));

  /* Nothing but the file is left behind in the directory. */
  GDir *dir = g_dir_open (tmp_dir, 0, &error);
  g_assert_no_error (error);
  const char *entry;
  int count = 0;
  while ((entry = g_dir_read_name (dir)) != NULL) {
    g_assert_cmpstr (entry, ==, "twice.vqm");
    count++;
  }
  g_assert_cmpint (count, ==, 1);
  g_dir_close (dir);

  /* An unwritable destination is an IO error naming the path. */
  char *bad = g_build_filename (tmp_dir, "no-such-dir", "x.vqm", NULL);
  g_assert_false (vq_model_save (model, bad, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_IO);
  g_assert_nonnull (strstr (error->message, bad));
  g_clear_error (&error);

  /* A missing file is an IO error naming the path. */
  g_assert_null (vq_model_load (bad, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_IO);
  g_assert_nonnull (strstr (error->message, bad));
  g_clear_error (&error);

  g_unlink (path);
  g_free (bad);
  g_free (path);
  g_bytes_unref (first);
  g_bytes_unref (second);
  g_bytes_unref (serialized);
  vq_model_free (model);
}

static void
test_save_refuses_invalid (void)
{
  vq_model *model = vq_test_sample_model ();
  g_free (model->labels[2]);
  model->labels[2] = NULL; /* 2 labels for 3 classes */
  char *path = tmp_path ("invalid.vqm");
  GError *error = NULL;
  g_assert_false (vq_model_save (model, path, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "labels"));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_error (&error);
  g_free (path);
  vq_model_free (model);
}

static vq_model *
load_bytes (GBytes *bytes, GError **error)
{
  return vq_model_load_from_bytes (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes),
                                   error);
}

static void
test_newer_minor_version_loads (void)
{
  vq_model *model = vq_test_sample_model ();
  GBytes *bytes = vq_test_serialize (model);
  gsize size = 0;
  guint8 *data = g_bytes_unref_to_data (bytes, &size);
  data[VQM_HEADER_VERSION_MINOR] = 7;
  vq_test_reseal (data, size);
  GError *error = NULL;
  vq_model *loaded = vq_model_load_from_bytes (data, size, &error);
  g_assert_no_error (error);
  vq_test_assert_models_equal (model, loaded);
  vq_model_free (loaded);

  /* A newer major version is refused as unsupported, saying so. */
  data[VQM_HEADER_VERSION_MAJOR] = VQM_VERSION_MAJOR + 1;
  vq_test_reseal (data, size);
  g_assert_null (vq_model_load_from_bytes (data, size, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "version 2.7 is newer"));
  g_clear_error (&error);
  g_free (data);
  vq_model_free (model);
}

static void
test_unknown_sections (void)
{
  vq_model *model = vq_test_sample_model ();
  GBytes *bytes = vq_test_serialize (model);
  GBytes *extra = g_bytes_new_static ("future data", 11);
  GError *error = NULL;

  /* An optional section of an unknown kind is skipped. */
  GBytes *optional = vq_test_relayout (bytes, 0, NULL, VQM_FOURCC ('X', 'T', 'R', 'A'), 0, extra);
  g_assert_cmpuint (g_bytes_get_size (optional), >, g_bytes_get_size (bytes));
  vq_model *loaded = load_bytes (optional, &error);
  g_assert_no_error (error);
  vq_test_assert_models_equal (model, loaded);
  vq_model_free (loaded);

  /* A required one makes the file unsupported, naming the section. */
  GBytes *required = vq_test_relayout (bytes, 0, NULL, VQM_FOURCC ('X', 'T', 'R', 'A'),
                                       VQM_SECTION_FLAG_REQUIRED, extra);
  g_assert_null (load_bytes (required, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (error->message, "'XTRA'"));
  g_clear_error (&error);

  g_bytes_unref (optional);
  g_bytes_unref (required);
  g_bytes_unref (extra);
  g_bytes_unref (bytes);
  vq_model_free (model);
}

/* Appends a metadata record to a copy of the sample's META section. */
static GBytes *
meta_with_record (GBytes *file, const char *key, uint32_t type, const void *payload,
                  uint32_t size)
{
  gsize file_size = 0;
  const guint8 *data = g_bytes_get_data (file, &file_size);
  gsize meta_size = 0;
  gsize meta = vq_test_section_offset (data, file_size, VQM_SECTION_META, &meta_size);
  GByteArray *out = g_byte_array_new ();
  g_byte_array_append (out, data + meta, (guint) meta_size);
  out->data[0]++; /* record count (< 255 here) */
  uint32_t key_len = GUINT32_TO_LE ((uint32_t) strlen (key));
  type = GUINT32_TO_LE (type);
  uint32_t size_le = GUINT32_TO_LE (size);
  g_byte_array_append (out, (const guint8 *) &key_len, 4);
  g_byte_array_append (out, (const guint8 *) key, (guint) strlen (key));
  static const guint8 zeros[4] = { 0 };
  g_byte_array_append (out, zeros, (4 - strlen (key) % 4) % 4);
  g_byte_array_append (out, (const guint8 *) &type, 4);
  g_byte_array_append (out, (const guint8 *) &size_le, 4);
  g_byte_array_append (out, payload, size);
  g_byte_array_append (out, zeros, (4 - size % 4) % 4);
  GBytes *section = g_byte_array_free_to_bytes (out);
  GBytes *result = vq_test_relayout (file, VQM_SECTION_META, section, 0, 0, NULL);
  g_bytes_unref (section);
  return result;
}

static void
test_unknown_metadata (void)
{
  vq_model *model = vq_test_sample_model ();
  GBytes *bytes = vq_test_serialize (model);
  GError *error = NULL;

  /* Unknown keys, of known and unknown types, are skipped. */
  GBytes *note = meta_with_record (bytes, "vendor.note", VQM_META_STRING, "hello", 5);
  vq_model *loaded = load_bytes (note, &error);
  g_assert_no_error (error);
  vq_test_assert_models_equal (model, loaded);
  vq_model_free (loaded);
  GBytes *odd = meta_with_record (bytes, "vendor.blob", 99, "\1\2\3", 3);
  loaded = load_bytes (odd, &error);
  g_assert_no_error (error);
  vq_model_free (loaded);

  /* A known key twice is an error naming it. */
  float threshold = 0.5f;
  GBytes *twice = meta_with_record (bytes, "decoder.nms_iou", VQM_META_F32, &threshold, 4);
  g_assert_null (load_bytes (twice, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_FORMAT);
  g_assert_nonnull (strstr (error->message, "'decoder.nms_iou' appears twice"));
  g_clear_error (&error);

  g_bytes_unref (note);
  g_bytes_unref (odd);
  g_bytes_unref (twice);
  g_bytes_unref (bytes);
  vq_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  GError *error = NULL;
  tmp_dir = g_dir_make_tmp ("vqm-roundtrip-XXXXXX", &error);
  g_assert_no_error (error);
  g_test_add_func ("/format/roundtrip/mapped", test_roundtrip_mapped);
  g_test_add_func ("/format/roundtrip/bytes", test_roundtrip_bytes);
  g_test_add_func ("/format/save/deterministic-atomic", test_save_deterministic_and_atomic);
  g_test_add_func ("/format/save/refuses-invalid", test_save_refuses_invalid);
  g_test_add_func ("/format/version/minor-and-major", test_newer_minor_version_loads);
  g_test_add_func ("/format/growth/unknown-sections", test_unknown_sections);
  g_test_add_func ("/format/growth/unknown-metadata", test_unknown_metadata);
  int status = g_test_run ();
  g_rmdir (tmp_dir);
  g_free (tmp_dir);
  return status;
}
