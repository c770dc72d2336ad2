/* Damaged inputs never crash the importer: deterministic byte-level
 * mutations of the real model.json (numbers, brackets, quotes, deletions)
 * must each give either a valid graph or an error, never both, never
 * neither. Run it under ASan/UBSan to make "no crash" mean "no undefined
 * behaviour". VQ_ROBUST_ITERATIONS and VQ_ROBUST_SEED override the
 * mutation count and the seed (for longer runs by hand). */
#include <stdlib.h>
#include <string.h>

#include <glib/gstdio.h>

#include "test_util.h"
#include "vqcore/error.h"
#include "vqcore/tfjs.h"

static void
mutate (GString *text, GRand *rand)
{
  static const char replacements[] = "0123456789-\"{}[],: xe.";
  gsize len = text->len;
  gsize at = (gsize) g_rand_int_range (rand, 0, (gint32) len);
  switch (g_rand_int_range (rand, 0, 5)) {
  case 0: /* replace one byte */
    text->str[at] = replacements[g_rand_int_range (rand, 0, sizeof replacements - 1)];
    break;
  case 1: { /* rewrite the number under `at` (if any) to an extreme */
    static const char *const numbers[] = { "0", "-1", "1", "99999999999", "-99999999", "65537",
                                           "3", "4294967296" };
    gsize start = at, end = at;
    while (start > 0 && g_ascii_isdigit (text->str[start - 1]))
      start--;
    while (end < len && g_ascii_isdigit (text->str[end]))
      end++;
    if (end > start) {
      g_string_erase (text, (gssize) start, (gssize) (end - start));
      g_string_insert (text, (gssize) start, numbers[g_rand_int_range (rand, 0, G_N_ELEMENTS (numbers))]);
    }
    break;
  }
  case 2: /* delete a short span */
    g_string_erase (text, (gssize) at, (gssize) MIN (len - at, (gsize) g_rand_int_range (rand, 1, 24)));
    break;
  case 3: { /* duplicate a short span */
    gsize n = MIN (len - at, (gsize) g_rand_int_range (rand, 1, 40));
    char *span = g_strndup (text->str + at, n);
    g_string_insert (text, (gssize) at, span);
    g_free (span);
    break;
  }
  default: { /* swap an op name for another supported or unsupported one */
    static const char *const ops[] = { "Conv2D", "Relu", "Pad", "Transpose", "Reshape",
                                       "ConcatV2", "Identity", "SplitV", "MaxPool", "Foo" };
    /* nanodet.json is written without spaces ("op":"Conv2D"). */
    const char *op = strstr (text->str + at, "\"op\":\"");
    if (op != NULL) {
      gsize start = (gsize) (op - text->str) + 6;
      gsize end = start;
      while (end < text->len && text->str[end] != '"')
        end++;
      g_string_erase (text, (gssize) start, (gssize) (end - start));
      g_string_insert (text, (gssize) start, ops[g_rand_int_range (rand, 0, G_N_ELEMENTS (ops))]);
    }
    break;
  }
  }
}

static void
test_mutations (void)
{
  char *src = vq_test_cache_file ("nanodet.json");
  char *src_bin = vq_test_cache_file ("nanodet.bin");
  GBytes *json = vq_test_read_file (src);
  GBytes *bin = vq_test_read_file (src_bin);
  GError *error = NULL;
  char *dir = g_dir_make_tmp ("vq-tfjs-robust-XXXXXX", &error);
  g_assert_no_error (error);
  char *json_path = g_build_filename (dir, "nanodet.json", NULL);
  char *bin_path = g_build_filename (dir, "nanodet.bin", NULL);
  g_assert_true (g_file_set_contents (bin_path, g_bytes_get_data (bin, NULL),
                                      (gssize) g_bytes_get_size (bin), NULL));
  const char *env = g_getenv ("VQ_ROBUST_ITERATIONS");
  int iterations = env ? atoi (env) : 120;
  int imported = 0;
  const char *seed = g_getenv ("VQ_ROBUST_SEED");
  GRand *rand = g_rand_new_with_seed (seed ? (guint32) atoi (seed) : 4242);
  for (int i = 0; i < iterations; i++) {
    GString *text = g_string_new_len (g_bytes_get_data (json, NULL), (gssize) g_bytes_get_size (json));
    int rounds = g_rand_int_range (rand, 1, 4);
    for (int r = 0; r < rounds; r++)
      mutate (text, rand);
    g_assert_true (g_file_set_contents (json_path, text->str, (gssize) text->len, NULL));
    vq_graph *graph = vq_tfjs_import_graph (json_path, &error);
    g_assert_true ((graph != NULL) != (error != NULL));
    if (graph != NULL) {
      imported++;
      g_assert_true (vq_graph_validate (graph, NULL));
      vq_graph_free (graph);
    } else {
      g_assert_true (error->domain == VQ_ERROR);
      g_assert_cmpuint (strlen (error->message), >, 0);
      g_clear_error (&error);
    }
    g_string_free (text, TRUE);
  }
  g_test_message ("%d of %d mutated models still imported", imported, iterations);
  /* Some mutations are harmless (inside a name), some are not. */
  g_assert_cmpint (imported, <, iterations);
  g_rand_free (rand);
  g_remove (json_path);
  g_remove (bin_path);
  g_rmdir (dir);
  g_free (json_path);
  g_free (bin_path);
  g_free (dir);
  g_bytes_unref (json);
  g_bytes_unref (bin);
  g_free (src);
  g_free (src_bin);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tfjs/robust/mutations", test_mutations);
  return g_test_run ();
}
