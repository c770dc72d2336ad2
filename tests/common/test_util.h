/* Shared helpers for the test programs: where the real data lives. */
#ifndef VQ_TEST_UTIL_H
#define VQ_TEST_UTIL_H

#include <glib.h>

/* The directory holding the fetched NanoDet TF.js files and the converted
 * default model: $XDG_CACHE_HOME/vqdetect (or ~/.cache/vqdetect). */
char *vq_test_cache_dir (void);

/* Absolute path of a cached file (e.g. "nanodet.json", "nanodet.vqm");
 * aborts the test with a message naming the setup command when missing. */
char *vq_test_cache_file (const char *name);

/* Absolute path of a file from opencv-doc's examples/data (e.g.
 * "vtest.avi", "messi5.jpg"); aborts the test when missing. */
char *vq_test_opencv_file (const char *name);

/* Absolute path of a file in the source tree (e.g. "tests/reference/x"). */
char *vq_test_source_file (const char *relative);

/* Reads a whole file or aborts the test. */
GBytes *vq_test_read_file (const char *path);

#endif
