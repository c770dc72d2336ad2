/* The loader against broken and hostile files: every truncation, every
 * single-bit flip, and crafted files whose checksums are right but whose
 * structure lies. Each must fail cleanly with an error that says what is
 * wrong (run under ASan/UBSan in CI to catch any out-of-bounds read). */
#include <glib/gstdio.h>
#include <string.h>

#include "vqcore/error.h"
#include "vqcore/vqm.h"
#include "vqm_sample.h"

static GBytes *sample_file;

/* A writable copy of the sample file. */
static guint8 *
sample_copy (gsize *size)
{
  return g_memdup2 (g_bytes_get_data (sample_file, size), g_bytes_get_size (sample_file));
}

static void
expect_error (const guint8 *data, gsize size, int code, const char *substring)
{
  GError *error = NULL;
  vq_model *model = vq_model_load_from_bytes (data, size, &error);
  if (model != NULL)
    g_error ("a bad file loaded (expected an error containing '%s')", substring);
  g_assert_nonnull (error);
  if (!g_error_matches (error, VQ_ERROR, code) || strstr (error->message, substring) == NULL)
    g_error ("expected error %d containing '%s', got %d: %s", code, substring, error->code,
             error->message);
  g_assert_true (g_str_has_prefix (error->message, "<memory>: "));
  g_error_free (error);
}

static void
test_truncated_everywhere (void)
{
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (sample_file, &size);
  for (gsize length = 0; length < size; length++) {
    /* A fresh allocation of exactly `length` bytes, so ASan sees any read
     * past it. */
    guint8 *prefix = g_memdup2 (data, length);
    GError *error = NULL;
    g_assert_null (vq_model_load_from_bytes (prefix, length, &error));
    g_assert_error (error, VQ_ERROR, VQ_ERROR_FORMAT);
    if (length >= VQM_HEADER_SIZE)
      g_assert_nonnull (strstr (error->message, "truncated"));
    g_error_free (error);
    g_free (prefix);
  }
  expect_error (data, 10, VQ_ERROR_FORMAT, "too small to be a .vqm file (10 bytes");

  /* The same through a real file: the message names it. */
  char *dir = g_dir_make_tmp ("vqm-corrupt-XXXXXX", NULL);
  char *path = g_build_filename (dir, "cut.vqm", NULL);
  g_assert_true (g_file_set_contents (path, (const char *) data, (gssize) size / 2, NULL));
  GError *error = NULL;
  g_assert_null (vq_model_load (path, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_FORMAT);
  g_assert_true (g_str_has_prefix (error->message, path));
  g_clear_error (&error);
  g_assert_true (g_file_set_contents (path, "", 0, NULL));
  g_assert_null (vq_model_load (path, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_FORMAT);
  g_clear_error (&error);
  g_unlink (path);
  g_rmdir (dir);
  g_free (path);
  g_free (dir);
}

static void
test_every_bit_flip (void)
{
  gsize size = 0;
  guint8 *data = sample_copy (&size);
  gsize rejected = 0;
  for (gsize bit = 0; bit < size * 8; bit++) {
    data[bit / 8] ^= (guint8) (1u << (bit % 8));
    GError *error = NULL;
    vq_model *model = vq_model_load_from_bytes (data, size, &error);
    if (model != NULL)
      g_error ("flipping bit %" G_GSIZE_FORMAT " (byte %" G_GSIZE_FORMAT ") went unnoticed", bit,
               bit / 8);
    /* Flips in the major version read as a newer (unsupported) version. */
    g_assert_true (g_error_matches (error, VQ_ERROR, VQ_ERROR_FORMAT)
                   || g_error_matches (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED));
    rejected++;
    g_error_free (error);
    data[bit / 8] ^= (guint8) (1u << (bit % 8));
  }
  g_assert_cmpuint (rejected, ==, size * 8);
  /* And the unflipped copy still loads. */
  GError *error = NULL;
  vq_model *model = vq_model_load_from_bytes (data, size, &error);
  g_assert_no_error (error);
  vq_model_free (model);
  g_free (data);
}

static void
put32 (guint8 *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8) (v >> (8 * i));
}

static void
put64 (guint8 *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (guint8) (v >> (8 * i));
}

/* The table entry of a section kind. */
static guint8 *
entry_of (guint8 *data, uint32_t kind)
{
  for (int i = 0; i < 5; i++) {
    guint8 *entry = data + VQM_HEADER_SIZE + i * VQM_SECTION_ENTRY_SIZE;
    if ((uint32_t) (entry[0] | entry[1] << 8 | entry[2] << 16 | (uint32_t) entry[3] << 24) == kind)
      return entry;
  }
  g_assert_not_reached ();
}

/* Patches 4 bytes at `offset` within a section, reseals, and expects an
 * error. */
static void
expect_patched_error (uint32_t kind, gsize offset, uint32_t value, int code,
                      const char *substring)
{
  gsize size = 0;
  guint8 *data = sample_copy (&size);
  gsize start = vq_test_section_offset (data, size, kind, NULL);
  put32 (data + start + offset, value);
  vq_test_reseal (data, size);
  expect_error (data, size, code, substring);
  g_free (data);
}

static void
test_hostile_header_and_table (void)
{
  gsize size = 0;
  guint8 *data;

  data = sample_copy (&size);
  data[0] = 'X';
  expect_error (data, size, VQ_ERROR_FORMAT, "bad magic");
  g_free (data);

  data = sample_copy (&size);
  data[VQM_HEADER_VERSION_MAJOR] = 0;
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "unknown format version 0.0");
  g_free (data);

  data = sample_copy (&size);
  data[VQM_HEADER_FLAGS] ^= 1; /* not resealed */
  expect_error (data, size, VQ_ERROR_FORMAT, "header checksum mismatch");
  g_free (data);

  /* Trailing junk. */
  data = g_malloc0 (size + 64);
  memcpy (data, g_bytes_get_data (sample_file, NULL), size);
  expect_error (data, size + 64, VQ_ERROR_FORMAT, "more than the");
  g_free (data);

  data = sample_copy (&size);
  put32 (data + VQM_HEADER_N_SECTIONS, 0xffffffffu);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "sections is more than");
  g_free (data);

  data = sample_copy (&size);
  put32 (data + VQM_HEADER_N_SECTIONS, 4000);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "section table (offset 64");
  g_free (data);

  data = sample_copy (&size);
  put64 (data + VQM_HEADER_TABLE_OFFSET, G_MAXUINT64 - 8);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "lies outside the file");
  g_free (data);

  data = sample_copy (&size);
  put32 (data + VQM_HEADER_ENTRY_SIZE, 12);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "entry size 12 is invalid");
  g_free (data);

  /* A section past the end, with the exact message format. */
  data = sample_copy (&size);
  put64 (entry_of (data, VQM_SECTION_GRAPH) + 8, 1024);
  put64 (entry_of (data, VQM_SECTION_GRAPH) + 16, 99999);
  vq_test_reseal (data, size);
  char *expected = g_strdup_printf ("section 'graph' extends past end of file (offset 1024 + size "
                                    "99999 > %" G_GSIZE_FORMAT ")", size);
  expect_error (data, size, VQ_ERROR_FORMAT, expected);
  g_free (expected);
  g_free (data);

  /* A size that overflows offset + size. */
  data = sample_copy (&size);
  put64 (entry_of (data, VQM_SECTION_DATA) + 16, G_MAXUINT64 - 32);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "section 'data' extends past end of file");
  g_free (data);

  data = sample_copy (&size);
  put64 (entry_of (data, VQM_SECTION_META) + 8, 65);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "not a multiple of 64");
  g_free (data);

  /* Overlapping sections: LABL moved onto META. */
  data = sample_copy (&size);
  guint8 *meta = entry_of (data, VQM_SECTION_META);
  memcpy (entry_of (data, VQM_SECTION_LABELS) + 8, meta + 8, 8);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "overlaps");
  /* The layout is checked before any section checksum (so a table of
   * overlapping sections cannot make the loader checksum the file many
   * times over): a bad META checksum still reports the overlap. */
  data[vq_test_section_offset (data, size, VQM_SECTION_META, NULL) + 1] ^= 0x40;
  expect_error (data, size, VQ_ERROR_FORMAT, "overlaps");
  g_free (data);

  /* A section overlapping the header. */
  data = sample_copy (&size);
  put64 (entry_of (data, VQM_SECTION_LABELS) + 8, 0);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "'header' (offset 0, size 64) overlaps 'labels'");
  g_free (data);

  /* Non-zero padding outside every section. */
  data = sample_copy (&size);
  data[VQM_HEADER_SIZE + 5 * VQM_SECTION_ENTRY_SIZE + 3] = 7;
  expect_error (data, size, VQ_ERROR_FORMAT, "outside every section");
  g_free (data);

  /* A known section twice, and a required one missing. */
  data = sample_copy (&size);
  put32 (entry_of (data, VQM_SECTION_LABELS), VQM_SECTION_META);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "section 'meta' appears twice");
  g_free (data);

  data = sample_copy (&size);
  guint8 *labels = entry_of (data, VQM_SECTION_LABELS);
  put32 (labels, VQM_FOURCC ('l', 'a', 'b', 'x'));
  put32 (labels + 4, 0);
  vq_test_reseal (data, size);
  expect_error (data, size, VQ_ERROR_FORMAT, "required section 'labels' is missing");
  g_free (data);
}

static void
test_hostile_sections (void)
{
  /* Counts that cannot fit in the section: no allocation happens. */
  expect_patched_error (VQM_SECTION_GRAPH, 0, 0xffffffffu, VQ_ERROR_FORMAT,
                        "4294967295 values cannot fit");
  expect_patched_error (VQM_SECTION_GRAPH, 4, 0x7fffffffu, VQ_ERROR_FORMAT, "nodes cannot fit");
  expect_patched_error (VQM_SECTION_GRAPH, 8, 0x40000000u, VQ_ERROR_FORMAT,
                        "graph inputs and outputs cannot fit");
  expect_patched_error (VQM_SECTION_BLOBS, 0, 0xfffffff0u, VQ_ERROR_FORMAT, "blobs cannot fit");
  expect_patched_error (VQM_SECTION_META, 0, 0xffffffffu, VQ_ERROR_FORMAT,
                        "metadata records cannot fit");
  expect_patched_error (VQM_SECTION_LABELS, 0, 0x20000000u, VQ_ERROR_FORMAT, "labels cannot fit");
  /* A string longer than the section. */
  expect_patched_error (VQM_SECTION_META, 4, 0x7ffffff0u, VQ_ERROR_FORMAT,
                        "unexpected end of section reading metadata key");
  /* The first value's rank (after count words and the name "input"). */
  expect_patched_error (VQM_SECTION_GRAPH, 16 + 4 + 8, 7, VQ_ERROR_FORMAT,
                        "value 0 'input' has rank 7");
  /* The first value's name: invalid UTF-8. */
  expect_patched_error (VQM_SECTION_GRAPH, 20, 0xfffefdfcu, VQ_ERROR_FORMAT, "not valid UTF-8");
  /* The first blob's dtype (after the count and the name "conv0.weight"). */
  expect_patched_error (VQM_SECTION_BLOBS, 4 + 4 + 12, 9, VQ_ERROR_UNSUPPORTED, "dtype 9");
  /* The first blob's offset: misaligned, then past the data section. */
  expect_patched_error (VQM_SECTION_BLOBS, 20 + 4 + 4 + 16, 8, VQ_ERROR_FORMAT,
                        "not a multiple of 64");
  expect_patched_error (VQM_SECTION_BLOBS, 20 + 4 + 4 + 16, 0x40000000u, VQ_ERROR_FORMAT,
                        "payload extends past the data section");
  /* Its size disagreeing with its shape. */
  expect_patched_error (VQM_SECTION_BLOBS, 20 + 4 + 4 + 16 + 8, 7, VQ_ERROR_FORMAT,
                        "has 7 bytes, but 216 f32 elements need 864");
  /* Its first dim absurd. */
  expect_patched_error (VQM_SECTION_BLOBS, 20 + 4 + 4, 0x7fffffff, VQ_ERROR_FORMAT,
                        "blob 0 'conv0.weight' has dim 0 = 2147483647");
  /* Metadata of the wrong type: the first record's type (after the count
   * and the key "model.name"). */
  expect_patched_error (VQM_SECTION_META, 4 + 4 + 12, VQM_META_I32, VQ_ERROR_FORMAT,
                        "'model.name' has type i32 (1), expected string");
}

/* Edits a model in memory (bypassing validation) and checks the loader
 * rejects the file it serializes to. */
typedef void (*model_edit) (vq_model *model);

static void
expect_model_error (model_edit edit, int code, const char *substring)
{
  vq_model *model = vq_test_sample_model ();
  edit (model);
  GBytes *bytes = vq_test_serialize (model);
  expect_error (g_bytes_get_data (bytes, NULL), g_bytes_get_size (bytes), code, substring);
  g_bytes_unref (bytes);
  vq_model_free (model);
}

static void
edit_index_out_of_range (vq_model *model)
{
  uint8_t *indices = (uint8_t *) model->graph->blobs[SAMPLE_BLOB_INDICES_U8].data;
  indices[17] = 20; /* the codebook has 20 entries */
}

static void
edit_swap_nodes (vq_model *model)
{
  vq_node tmp = model->graph->nodes[SAMPLE_NODE_CONV_DENSE_F32];
  model->graph->nodes[SAMPLE_NODE_CONV_DENSE_F32] = model->graph->nodes[SAMPLE_NODE_CONV_DENSE_F16];
  model->graph->nodes[SAMPLE_NODE_CONV_DENSE_F16] = tmp;
}

static void
edit_read_unwritten (vq_model *model)
{
  vq_shape shape = vq_shape_4d (1, 8, 8, 8);
  uint32_t orphan = vq_graph_add_value (model->graph, "orphan", &shape);
  model->graph->nodes[SAMPLE_NODE_ADD].inputs[1] = orphan;
}

static void
edit_bad_op (vq_model *model)
{
  model->graph->nodes[SAMPLE_NODE_RESHAPE].op = (vq_op) 99;
}

static void
edit_bad_activation (vq_model *model)
{
  model->graph->nodes[SAMPLE_NODE_ADD].act = (vq_activation) 42;
}

static void
edit_bad_color_order (vq_model *model)
{
  model->preprocess.color_order = (vq_color_order) 5;
}

static void
edit_bad_resize_bool (vq_model *model)
{
  /* A bool the writer stores as 1; an enum far out of range instead. */
  model->graph->nodes[SAMPLE_NODE_RESIZE].p.resize.mode = (vq_resize_mode) 1000;
}

static void
edit_too_many_levels (vq_model *model)
{
  model->decoder.n_levels = 0;
}

static void
test_hostile_models (void)
{
  expect_model_error (edit_index_out_of_range, VQ_ERROR_FORMAT,
                      "index 17 of 'conv2.indices' is 20, but codebook 'codebook.a' has only 20");
  expect_model_error (edit_swap_nodes, VQ_ERROR_FORMAT, "topological order");
  expect_model_error (edit_read_unwritten, VQ_ERROR_FORMAT,
                      "node 5 'add' (add): reads value 26 'orphan' before anything writes it");
  expect_model_error (edit_bad_op, VQ_ERROR_UNSUPPORTED, "operation 99");
  expect_model_error (edit_bad_activation, VQ_ERROR_FORMAT, "invalid activation 42");
  expect_model_error (edit_bad_color_order, VQ_ERROR_FORMAT, "invalid colour order 5");
  expect_model_error (edit_bad_resize_bool, VQ_ERROR_FORMAT, "invalid resize mode 1000");
  expect_model_error (edit_too_many_levels, VQ_ERROR_FORMAT, "'decoder.strides' has 0 bytes");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  vq_model *model = vq_test_sample_model ();
  sample_file = vq_test_serialize (model);
  vq_model_free (model);
  g_test_add_func ("/format/corrupt/truncated", test_truncated_everywhere);
  g_test_add_func ("/format/corrupt/bit-flips", test_every_bit_flip);
  g_test_add_func ("/format/hostile/header-and-table", test_hostile_header_and_table);
  g_test_add_func ("/format/hostile/sections", test_hostile_sections);
  g_test_add_func ("/format/hostile/models", test_hostile_models);
  int status = g_test_run ();
  g_bytes_unref (sample_file);
  return status;
}
