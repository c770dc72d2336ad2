/* Letterbox mapping: vq_letterbox_compute, vq_unletterbox and the padding
 * that vq_preprocess_frame writes around the image. */
#include <math.h>
#include <string.h>

#include "vqcore/detect.h"
#include "vqcore/error.h"
#include "vqcore/image.h"

typedef struct {
  int32_t w, h;
} size2;

/* Landscape, portrait, square, tiny, huge and extreme aspect ratios. */
static const size2 frame_sizes[] = {
  { 768, 576 }, { 576, 768 }, { 500, 500 }, { 1, 1 },      { 3, 2 },     { 2, 3 },
  { 1920, 1080 }, { 7680, 4320 }, { 10000, 3 }, { 3, 10000 }, { 416, 416 }, { 417, 415 },
};
static const size2 input_sizes[] = { { 416, 416 }, { 320, 256 }, { 255, 321 } };

/* Checks what a letterbox must be, from first principles: the image scaled
 * by s = min(W/w, H/h), to within one input pixel, centred, inside the
 * input, at whole-pixel offsets. */
static void
check_letterbox_shape (size2 src, size2 dst)
{
  vq_letterbox m = vq_letterbox_compute (src.w, src.h, dst.w, dst.h, VQ_RESIZE_LETTERBOX);
  double s = fmin ((double) dst.w / src.w, (double) dst.h / src.h);
  double cw = src.w * (double) m.scale_x, ch = src.h * (double) m.scale_y;

  /* Within half a pixel of the exact size, except that an image never
   * shrinks below one input pixel. */
  g_assert_cmpfloat (fabs (cw - MAX (src.w * s, 1.0)), <=, 0.5 + 1e-3);
  g_assert_cmpfloat (fabs (ch - MAX (src.h * s, 1.0)), <=, 0.5 + 1e-3);
  /* At least one axis fills the input (unless rounding to one pixel). */
  g_assert_true (fabs (cw - dst.w) < 1e-3 || fabs (ch - dst.h) < 1e-3);
  g_assert_cmpfloat (m.offset_x, ==, floorf (m.offset_x));
  g_assert_cmpfloat (m.offset_y, ==, floorf (m.offset_y));
  g_assert_cmpfloat (m.offset_x, >=, 0.0);
  g_assert_cmpfloat (m.offset_y, >=, 0.0);
  /* Centred: the left and right margins differ by at most one pixel. */
  double right = dst.w - (m.offset_x + cw), bottom = dst.h - (m.offset_y + ch);
  g_assert_cmpfloat (fabs (right - m.offset_x), <=, 1.0 + 1e-3);
  g_assert_cmpfloat (fabs (bottom - m.offset_y), <=, 1.0 + 1e-3);
  g_assert_cmpfloat (right, >=, -1e-3);
  g_assert_cmpfloat (bottom, >=, -1e-3);
}

static void
test_letterbox_shape (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (frame_sizes); i++)
    for (guint j = 0; j < G_N_ELEMENTS (input_sizes); j++)
      check_letterbox_shape (frame_sizes[i], input_sizes[j]);
}

static void
test_stretch_mapping (void)
{
  vq_letterbox m = vq_letterbox_compute (768, 576, 416, 320, VQ_RESIZE_STRETCH);
  g_assert_cmpfloat_with_epsilon (m.scale_x, 416.0 / 768.0, 1e-7);
  g_assert_cmpfloat_with_epsilon (m.scale_y, 320.0 / 576.0, 1e-7);
  g_assert_cmpfloat (m.offset_x, ==, 0.0);
  g_assert_cmpfloat (m.offset_y, ==, 0.0);
  /* Unusable sizes give the identity instead of dividing by zero. */
  m = vq_letterbox_compute (0, 576, 416, 416, VQ_RESIZE_LETTERBOX);
  g_assert_cmpfloat (m.scale_x, ==, 1.0);
  g_assert_cmpfloat (m.offset_x, ==, 0.0);
}

/* Maps a source box into the input with the forward formula of image.h. */
static vq_detection
forward (const vq_letterbox *m, vq_detection d)
{
  vq_detection r = d;
  r.x = d.x * m->scale_x + m->offset_x;
  r.y = d.y * m->scale_y + m->offset_y;
  r.w = d.w * m->scale_x;
  r.h = d.h * m->scale_y;
  return r;
}

static void
test_unletterbox_roundtrip (void)
{
  for (guint i = 0; i < G_N_ELEMENTS (frame_sizes); i++) {
    for (guint j = 0; j < G_N_ELEMENTS (input_sizes); j++) {
      for (int fit = 0; fit < VQ_FIT_MODE_COUNT; fit++) {
        size2 src = frame_sizes[i], dst = input_sizes[j];
        vq_letterbox m = vq_letterbox_compute (src.w, src.h, dst.w, dst.h, fit);
        /* Whole frame, a centred box, a box at the bottom-right corner. */
        vq_detection boxes[] = {
          { 1, 0.9f, 0, 0, (float) src.w, (float) src.h },
          { 2, 0.8f, src.w * 0.25f, src.h * 0.3f, src.w * 0.5f, src.h * 0.4f },
          { 3, 0.7f, src.w * 0.75f, src.h * 0.5f, src.w * 0.25f, src.h * 0.5f },
        };
        GArray *a = g_array_new (FALSE, FALSE, sizeof (vq_detection));
        for (guint k = 0; k < G_N_ELEMENTS (boxes); k++) {
          vq_detection f = forward (&m, boxes[k]);
          g_array_append_val (a, f);
        }
        vq_unletterbox (a, &m, src.w, src.h);
        g_assert_cmpuint (a->len, ==, G_N_ELEMENTS (boxes));
        double tol_x = 1e-5 * src.w + 1e-5, tol_y = 1e-5 * src.h + 1e-5;
        for (guint k = 0; k < a->len; k++) {
          const vq_detection *d = &g_array_index (a, vq_detection, k);
          g_assert_cmpint (d->class_id, ==, boxes[k].class_id);
          g_assert_cmpfloat (d->confidence, ==, boxes[k].confidence);
          g_assert_cmpfloat_with_epsilon (d->x, boxes[k].x, tol_x);
          g_assert_cmpfloat_with_epsilon (d->y, boxes[k].y, tol_y);
          g_assert_cmpfloat_with_epsilon (d->w, boxes[k].w, tol_x);
          g_assert_cmpfloat_with_epsilon (d->h, boxes[k].h, tol_y);
        }
        g_array_unref (a);
      }
    }
  }
}

static void
test_unletterbox_clips_and_drops (void)
{
  /* 768x576 into 416x416: content rows 52..364 (312 rows), full width. */
  vq_letterbox m = vq_letterbox_compute (768, 576, 416, 416, VQ_RESIZE_LETTERBOX);
  g_assert_cmpfloat (m.offset_y, ==, 52.0);
  vq_detection boxes[] = {
    { 0, 0.9f, -20, 40, 100, 100 }, /* leaves the frame left and top */
    { 0, 0.8f, 10, 0, 50, 40 },     /* entirely in the top padding */
    { 0, 0.7f, 300, 300, 0, 10 },   /* empty */
    { 0, 0.6f, 400, 350, 50, 50 },  /* leaves right and bottom */
    { 0, 0.5f, NAN, 10, 10, 10 },   /* garbage from a broken model */
  };
  GArray *a = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  g_array_append_vals (a, boxes, G_N_ELEMENTS (boxes));
  vq_unletterbox (a, &m, 768, 576);
  g_assert_cmpuint (a->len, ==, 2);
  const vq_detection *d0 = &g_array_index (a, vq_detection, 0);
  const vq_detection *d1 = &g_array_index (a, vq_detection, 1);
  g_assert_cmpfloat (d0->confidence, ==, 0.9f);
  g_assert_cmpfloat (d0->x, ==, 0.0);
  g_assert_cmpfloat (d0->y, ==, 0.0);
  g_assert_cmpfloat_with_epsilon (d0->w, 80.0 / m.scale_x, 1e-3);
  g_assert_cmpfloat_with_epsilon (d0->h, (140.0 - 52.0) / m.scale_y, 1e-3);
  g_assert_cmpfloat (d1->confidence, ==, 0.6f);
  g_assert_cmpfloat_with_epsilon (d1->x + d1->w, 768.0, 1e-3);
  g_assert_cmpfloat_with_epsilon (d1->y + d1->h, 576.0, 1e-3);
  g_assert_cmpfloat_with_epsilon (d1->x, 400.0 / m.scale_x, 1e-3);
  g_array_unref (a);
}

/* Preprocesses a solid white frame and checks every pixel: the padding is
 * exactly (0 - mean) / std and the image exactly (255 - mean) / std, with
 * the boundary where the mapping says. */
static void
check_padding (int32_t fw, int32_t fh, int32_t iw, int32_t ih, vq_fit_mode fit)
{
  guint8 *pixels = g_malloc ((size_t) fw * fh * 3);
  memset (pixels, 255, (size_t) fw * fh * 3);
  vq_frame frame = { VQ_PIXEL_RGB, fw, fh, { pixels, NULL, NULL }, { fw * 3, 0, 0 } };
  vq_input_spec input = { iw, ih, 3 };
  vq_preprocess pre = { VQ_COLOR_BGR, { 103.53f, 116.28f, 123.675f },
                        { 57.375f, 57.12f, 58.395f }, VQ_RESIZE_LETTERBOX };
  float *out = g_new (float, 3 * (size_t) iw * ih);
  vq_letterbox m;
  GError *error = NULL;
  g_assert_true (vq_preprocess_frame (&frame, &input, &pre, fit, out, &m, &error));
  g_assert_no_error (error);

  double x0 = m.offset_x, x1 = m.offset_x + fw * (double) m.scale_x;
  double y0 = m.offset_y, y1 = m.offset_y + fh * (double) m.scale_y;
  int64_t padded = 0;
  for (int c = 0; c < 3; c++) {
    float pad = (0.0f - pre.mean[c]) / pre.std[c];
    float white = (255.0f - pre.mean[c]) / pre.std[c];
    for (int32_t y = 0; y < ih; y++) {
      for (int32_t x = 0; x < iw; x++) {
        /* A pixel is image when its centre lies inside the mapped frame. */
        gboolean inside = x + 0.5 > x0 && x + 0.5 < x1 && y + 0.5 > y0 && y + 0.5 < y1;
        float v = out[(size_t) c * iw * ih + (size_t) y * iw + x];
        g_assert_cmpfloat (v, ==, inside ? white : pad);
        padded += !inside;
      }
    }
  }
  if (fit == VQ_RESIZE_STRETCH)
    g_assert_cmpint (padded, ==, 0);
  else if (fw * ih != fh * iw)
    g_assert_cmpint (padded, >, 0);
  g_free (out);
  g_free (pixels);
}

static void
test_padding_exact (void)
{
  check_padding (768, 576, 416, 416, VQ_RESIZE_LETTERBOX);
  check_padding (576, 768, 416, 416, VQ_RESIZE_LETTERBOX);
  check_padding (300, 300, 416, 416, VQ_RESIZE_LETTERBOX);
  check_padding (1, 1, 416, 416, VQ_RESIZE_LETTERBOX);
  check_padding (4000, 7, 416, 416, VQ_RESIZE_LETTERBOX);
  check_padding (7, 3001, 320, 256, VQ_RESIZE_LETTERBOX);
  check_padding (768, 576, 416, 416, VQ_RESIZE_STRETCH);
  /* VQ_FIT_MODE_COUNT takes the model's fit (letterbox here). */
  check_padding (1920, 1080, 416, 416, VQ_FIT_MODE_COUNT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect/letterbox/shape", test_letterbox_shape);
  g_test_add_func ("/detect/letterbox/stretch", test_stretch_mapping);
  g_test_add_func ("/detect/letterbox/unletterbox-roundtrip", test_unletterbox_roundtrip);
  g_test_add_func ("/detect/letterbox/unletterbox-clip", test_unletterbox_clips_and_drops);
  g_test_add_func ("/detect/letterbox/padding-exact", test_padding_exact);
  return g_test_run ();
}
