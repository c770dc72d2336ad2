/* Times vq_preprocess_frame for every pixel format at 768x576 (vtest.avi)
 * and 1920x1080 into NanoDet's 416x416 input. Not a test: run by hand. */
#include <stdio.h>
#include <string.h>

#include "vqcore/image.h"

int
main (int argc, char **argv)
{
  const int sizes[2][2] = { { 768, 576 }, { 1920, 1080 } };
  const int iterations = argc > 1 ? atoi (argv[1]) : 50;
  vq_input_spec input = { 416, 416, 3 };
  vq_preprocess pre = { VQ_COLOR_BGR, { 103.53f, 116.28f, 123.675f },
                        { 57.375f, 57.12f, 58.395f }, VQ_RESIZE_LETTERBOX };
  float *out = g_new (float, 3 * 416 * 416);
  for (int s = 0; s < 2; s++) {
    int w = sizes[s][0], h = sizes[s][1];
    guint8 *buf = g_malloc ((size_t) w * h * 4);
    for (size_t i = 0; i < (size_t) w * h * 4; i++)
      buf[i] = (guint8) (i * 2654435761u >> 24);
    for (int f = 0; f < VQ_PIXEL_FORMAT_COUNT; f++) {
      int bpp = f <= VQ_PIXEL_BGR ? 3 : 4;
      vq_frame frame = { (vq_pixel_format) f, w, h, { buf, NULL, NULL }, { w * bpp, 0, 0 } };
      if (f == VQ_PIXEL_NV12) {
        frame.planes[1] = buf + (size_t) w * h;
        frame.strides[0] = w;
        frame.strides[1] = w;
      } else if (f == VQ_PIXEL_I420) {
        frame.planes[1] = buf + (size_t) w * h;
        frame.planes[2] = buf + (size_t) w * h * 2;
        frame.strides[0] = w;
        frame.strides[1] = frame.strides[2] = w / 2;
      }
      GError *error = NULL;
      gint64 best = G_MAXINT64;
      for (int i = 0; i < iterations; i++) {
        gint64 t0 = g_get_monotonic_time ();
        if (!vq_preprocess_frame (&frame, &input, &pre, VQ_FIT_MODE_COUNT, out, NULL, &error)) {
          fprintf (stderr, "%s\n", error->message);
          return 1;
        }
        best = MIN (best, g_get_monotonic_time () - t0);
      }
      printf ("%4dx%-4d %-5s best of %d: %.3f ms\n", w, h,
              vq_pixel_format_name ((vq_pixel_format) f), iterations, best / 1000.0);
    }
    g_free (buf);
  }
  g_free (out);
  return 0;
}
