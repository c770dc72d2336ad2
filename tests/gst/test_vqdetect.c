/* placeholder */
#include <gst/check/gstcheck.h>
GST_START_TEST (test_x) { } GST_END_TEST;
static Suite *vqdetect_suite (void) { Suite *s = suite_create ("vqdetect"); TCase *tc = tcase_create ("g"); suite_add_tcase (s, tc); tcase_add_test (tc, test_x); return s; }
GST_CHECK_MAIN (vqdetect)
