/* Writes a seed corpus for fuzz_vqm_load into DIR: the format tests'
 * sample model (every op and weight kind) and cuts of it at section
 * boundaries. */
#include <stdio.h>

#include "vqcore/vqm.h"
#include "vqm_sample.h"

static void
write_seed (const char *dir, const char *name, const guint8 *data, gsize size)
{
  char *path = g_build_filename (dir, name, NULL);
  GError *error = NULL;
  if (!g_file_set_contents (path, (const char *) data, (gssize) size, &error))
    g_error ("%s", error->message);
  g_free (path);
}

int
main (int argc, char **argv)
{
  if (argc != 2) {
    fprintf (stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  g_mkdir_with_parents (argv[1], 0755);
  vq_model *model = vq_test_sample_model ();
  GBytes *bytes = vq_test_serialize (model);
  gsize size = 0;
  const guint8 *data = g_bytes_get_data (bytes, &size);
  write_seed (argv[1], "sample.vqm", data, size);
  /* Cuts: the header alone, header and table, and the file up to each
   * section start (the fuzzer grows them back in other ways). */
  write_seed (argv[1], "cut-header", data, VQM_HEADER_SIZE);
  const uint32_t kinds[] = { VQM_SECTION_META, VQM_SECTION_LABELS, VQM_SECTION_GRAPH,
                             VQM_SECTION_BLOBS, VQM_SECTION_DATA };
  for (gsize i = 0; i < G_N_ELEMENTS (kinds); i++) {
    char *name = g_strdup_printf ("cut-%zu", i);
    write_seed (argv[1], name, data, vq_test_section_offset (data, size, kinds[i], NULL));
    g_free (name);
  }
  printf ("%s: wrote %zu seeds\n", argv[1], G_N_ELEMENTS (kinds) + 2);
  g_bytes_unref (bytes);
  vq_model_free (model);
  return 0;
}
