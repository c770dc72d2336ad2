/* `vq convert`: the real model with every metadata override, and each kind
 * of bad input failing with one line on stderr and exit status 1. */
#include <string.h>

#include <glib/gstdio.h>

#include "test_util.h"
#include "vqcore/vqcore.h"

typedef struct {
  char *dir;
} fixture;

static void
fixture_setup (fixture *f, gconstpointer data)
{
  GError *error = NULL;
  f->dir = g_dir_make_tmp ("vq-convert-XXXXXX", &error);
  g_assert_no_error (error);
}

static void
fixture_teardown (fixture *f, gconstpointer data)
{
  GDir *dir = g_dir_open (f->dir, 0, NULL);
  const char *name;
  while (dir && (name = g_dir_read_name (dir)) != NULL) {
    char *path = g_build_filename (f->dir, name, NULL);
    g_remove (path);
    g_free (path);
  }
  if (dir)
    g_dir_close (dir);
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* Runs `vq convert ARGS...`; returns the exit status (failing the test if
 * the tool died from a signal). */
static int
run_convert (const char *const *args, char **out, char **err)
{
  const char *tool = g_getenv ("VQ_TOOL");
  g_assert_nonnull (tool);
  GPtrArray *argv = g_ptr_array_new ();
  g_ptr_array_add (argv, (gpointer) tool);
  g_ptr_array_add (argv, "convert");
  for (int i = 0; args[i]; i++)
    g_ptr_array_add (argv, (gpointer) args[i]);
  g_ptr_array_add (argv, NULL);
  int status = 0;
  GError *error = NULL;
  g_assert_true (g_spawn_sync (NULL, (char **) argv->pdata, NULL, G_SPAWN_DEFAULT, NULL, NULL,
                               out, err, &status, &error));
  g_assert_no_error (error);
  g_ptr_array_unref (argv);
  g_assert_true (WIFEXITED (status));
  return WEXITSTATUS (status);
}

static void
test_convert_with_overrides (fixture *f, gconstpointer data)
{
  char *json = vq_test_cache_file ("nanodet.json");
  char *labels = g_build_filename (f->dir, "labels.txt", NULL);
  GString *text = g_string_new (NULL);
  for (int i = 0; i < 80; i++)
    g_string_append_printf (text, "class %d\r\n", i);
  g_string_append (text, "\n");
  g_assert_true (g_file_set_contents (labels, text->str, -1, NULL));
  char *output = g_build_filename (f->dir, "out.vqm", NULL);
  const char *args[] = { json, "-o", output, "--name", "custom", "--labels", labels,
                         "--color-order", "rgb", "--mean", "1,2,3", "--std", "4, 5, 6",
                         "--resize", "stretch", "--threshold", "0.5", "--nms-iou", "0.4",
                         "--max-detections", "7", NULL };
  char *out = NULL, *err = NULL;
  g_assert_cmpint (run_convert (args, &out, &err), ==, 0);
  g_test_message ("%s", out);
  /* One summary line naming the output and the conv count. */
  g_assert_nonnull (strstr (out, output));
  g_assert_nonnull (strstr (out, "34 convs"));
  g_assert_cmpint (strchr (out, '\n') - out, ==, (int) strlen (out) - 1);

  GError *error = NULL;
  vq_model *model = vq_model_load (output, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (model->name, ==, "custom");
  g_assert_cmpstr (model->labels[0], ==, "class 0");
  g_assert_cmpstr (model->labels[79], ==, "class 79");
  g_assert_cmpint (model->preprocess.color_order, ==, VQ_COLOR_RGB);
  g_assert_cmpfloat (model->preprocess.mean[2], ==, 3.0f);
  g_assert_cmpfloat (model->preprocess.std[1], ==, 5.0f);
  g_assert_cmpint (model->preprocess.fit, ==, VQ_RESIZE_STRETCH);
  g_assert_cmpfloat (model->decoder.score_threshold, ==, 0.5f);
  g_assert_cmpfloat (model->decoder.nms_iou, ==, 0.4f);
  g_assert_cmpint (model->decoder.max_detections, ==, 7);
  vq_model_free (model);
  g_string_free (text, TRUE);
  g_free (out);
  g_free (err);
  g_free (output);
  g_free (labels);
  g_free (json);
}

/* Writes a damaged copy of the model into the fixture: "missing-bin",
 * "truncated-bin", "bad-json" or "unsupported-op". */
static char *
damaged_model (fixture *f, const char *kind)
{
  char *src = vq_test_cache_file ("nanodet.json");
  char *src_bin = vq_test_cache_file ("nanodet.bin");
  GBytes *json = vq_test_read_file (src);
  GBytes *bin = vq_test_read_file (src_bin);
  char *text = g_strndup (g_bytes_get_data (json, NULL), g_bytes_get_size (json));
  if (strcmp (kind, "bad-json") == 0)
    text[g_bytes_get_size (json) / 2] = '\0';
  if (strcmp (kind, "unsupported-op") == 0) {
    char *at = strstr (text, "\"op\": \"LeakyRelu\"");
    if (at == NULL)
      at = strstr (text, "\"op\":\"LeakyRelu\"");
    g_assert_nonnull (at);
    memcpy (strstr (at, "LeakyRelu"), "LeakyReLX", 9);
  }
  char *path = g_build_filename (f->dir, "nanodet.json", NULL);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  char *bin_path = g_build_filename (f->dir, "nanodet.bin", NULL);
  g_remove (bin_path);
  if (strcmp (kind, "missing-bin") != 0) {
    gssize size = (gssize) g_bytes_get_size (bin);
    g_assert_true (g_file_set_contents (bin_path, g_bytes_get_data (bin, NULL),
                                        strcmp (kind, "truncated-bin") == 0 ? size - 1000 : size,
                                        NULL));
  }
  g_free (bin_path);
  g_free (text);
  g_bytes_unref (json);
  g_bytes_unref (bin);
  g_free (src);
  g_free (src_bin);
  return path;
}

static void
test_convert_errors (fixture *f, gconstpointer data)
{
  const char *kinds[] = { "missing-file", "bad-json", "missing-bin", "truncated-bin",
                          "unsupported-op", "bad-labels", "bad-option" };
  const char *expect[] = { "No such file", "Parse error", "nanodet.bin", "truncated",
                           "unsupported op 'LeakyReLX'", "labels", "--resize" };
  char *output = g_build_filename (f->dir, "out.vqm", NULL);
  for (size_t k = 0; k < G_N_ELEMENTS (kinds); k++) {
    char *json = strcmp (kinds[k], "missing-file") == 0
                     ? g_build_filename (f->dir, "absent.json", NULL)
                     : damaged_model (f, strncmp (kinds[k], "bad-", 4) == 0
                                             && strcmp (kinds[k], "bad-json") != 0
                                         ? "intact" : kinds[k]);
    char *labels = g_build_filename (f->dir, "three.txt", NULL);
    g_assert_true (g_file_set_contents (labels, "a\nb\nc\n", -1, NULL));
    const char *args_plain[] = { json, "-o", output, NULL };
    const char *args_labels[] = { json, "-o", output, "--labels", labels, NULL };
    const char *args_option[] = { json, "-o", output, "--resize", "squash", NULL };
    const char *const *args = strcmp (kinds[k], "bad-labels") == 0 ? args_labels
                              : strcmp (kinds[k], "bad-option") == 0 ? args_option : args_plain;
    char *out = NULL, *err = NULL;
    g_assert_cmpint (run_convert (args, &out, &err), ==, 1);
    g_test_message ("%s: %s", kinds[k], err);
    g_assert_true (g_str_has_prefix (err, "vq convert: "));
    g_assert_nonnull (strstr (err, expect[k]));
    /* One line, nothing on stdout, no output file. */
    g_assert_cmpint (strchr (err, '\n') - err, ==, (int) strlen (err) - 1);
    g_assert_cmpstr (out, ==, "");
    g_assert_false (g_file_test (output, G_FILE_TEST_EXISTS));
    g_free (out);
    g_free (err);
    g_free (labels);
    g_free (json);
  }
  g_free (output);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/tfjs/convert/overrides", fixture, NULL, fixture_setup,
              test_convert_with_overrides, fixture_teardown);
  g_test_add ("/tfjs/convert/errors", fixture, NULL, fixture_setup, test_convert_errors,
              fixture_teardown);
  return g_test_run ();
}
