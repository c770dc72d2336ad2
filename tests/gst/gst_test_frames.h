/* Real video frames for the element tests, decoded by GStreamer itself. */
#ifndef VQ_GST_TEST_FRAMES_H
#define VQ_GST_TEST_FRAMES_H

#include <gst/gst.h>

/* Decodes the frame of `path` (video or image) at `seconds`, converted to
 * `format` and, when width > 0, scaled to width x height. Aborts the test
 * when the file cannot be decoded. */
GstSample *vq_test_decode_frame (const char *path, double seconds, const char *format,
                                 int width, int height);

/* The opencv-doc vtest.avi frame at `seconds` (pedestrians, 768x576). */
GstSample *vq_test_vtest_frame (double seconds, const char *format);

#endif
