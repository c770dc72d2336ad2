#include "test_util.h"

char *
vq_test_cache_dir (void)
{
  return g_build_filename (g_get_user_cache_dir (), "vqdetect", NULL);
}

static char *
require_file (char *path, const char *hint)
{
  if (!g_file_test (path, G_FILE_TEST_IS_REGULAR))
    g_error ("test data missing: %s (%s)", path, hint);
  return path;
}

char *
vq_test_cache_file (const char *name)
{
  char *dir = vq_test_cache_dir ();
  char *path = g_build_filename (dir, name, NULL);
  g_free (dir);
  return require_file (path, "run tests/run.sh, which fetches and converts the model");
}

char *
vq_test_opencv_file (const char *name)
{
  return require_file (g_build_filename ("/usr/share/doc/opencv-doc/examples/data", name, NULL),
                       "install the Debian package opencv-doc");
}

char *
vq_test_source_file (const char *relative)
{
  const char *root = g_getenv ("VQ_SOURCE_DIR");
  return require_file (g_build_filename (root ? root : ".", relative, NULL),
                       "run the test through meson test");
}

GBytes *
vq_test_read_file (const char *path)
{
  char *contents = NULL;
  gsize length = 0;
  GError *error = NULL;
  if (!g_file_get_contents (path, &contents, &length, &error))
    g_error ("%s", error->message);
  return g_bytes_new_take (contents, length);
}
