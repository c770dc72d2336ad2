/* vqcore's BT.601 limited-range YUV reading against FFmpeg's swscale, an
 * independent implementation, on a real decoded frame (vtest.avi at 20 s,
 * which the MPEG-4 decoder hands out as I420) and on the same frame
 * repacked as NV12. */
#include <libavutil/pixfmt.h>
#include <libswscale/swscale.h>
#include <math.h>
#include <string.h>

#include "media.h"
#include "test_util.h"
#include "vqcore/image.h"

typedef struct {
  int32_t w, h;
  guint8 *y, *u, *v; /* I420, tightly packed */
} yuv_frame;

static void
read_vtest_frame (int64_t index, yuv_frame *out)
{
  char *path = vq_test_opencv_file ("vtest.avi");
  GError *error = NULL;
  vq_media_reader *reader = vq_media_reader_open (path, &error);
  g_assert_no_error (error);
  vq_media_frame mf;
  int r;
  while ((r = vq_media_reader_next (reader, &mf, &error)) == 1 && mf.index < index)
    ;
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, 1);
  const vq_frame *f = &mf.frame;
  g_assert_cmpint (f->format, ==, VQ_PIXEL_I420);
  int32_t cw = (f->width + 1) / 2, ch = (f->height + 1) / 2;
  out->w = f->width;
  out->h = f->height;
  out->y = g_malloc ((size_t) f->width * f->height);
  out->u = g_malloc ((size_t) cw * ch);
  out->v = g_malloc ((size_t) cw * ch);
  for (int32_t y = 0; y < f->height; y++)
    memcpy (out->y + (size_t) y * f->width, f->planes[0] + (size_t) y * f->strides[0],
            f->width);
  for (int32_t y = 0; y < ch; y++) {
    memcpy (out->u + (size_t) y * cw, f->planes[1] + (size_t) y * f->strides[1], cw);
    memcpy (out->v + (size_t) y * cw, f->planes[2] + (size_t) y * f->strides[2], cw);
  }
  vq_media_reader_close (reader);
  g_free (path);
}

/* swscale's YUV -> RGB24 with BT.601 limited-range input. With point
 * sampling, chroma is replicated over each 2x2 block as vqcore does; the
 * accurate full-chroma path rounds to nearest (the default table path
 * truncates, about a level darker). So the two differ only by swscale's
 * final rounding to 8 bits. */
static guint8 *
swscale_to_rgb (const yuv_frame *f)
{
  struct SwsContext *ctx =
    sws_getContext (f->w, f->h, AV_PIX_FMT_YUV420P, f->w, f->h, AV_PIX_FMT_RGB24,
                    SWS_POINT | SWS_ACCURATE_RND | SWS_FULL_CHR_H_INT, NULL, NULL, NULL);
  g_assert_nonnull (ctx);
  const int *coeffs = sws_getCoefficients (SWS_CS_ITU601);
  g_assert_cmpint (sws_setColorspaceDetails (ctx, coeffs, 0, coeffs, 1, 0, 1 << 16, 1 << 16),
                   >=, 0);
  guint8 *rgb = g_malloc ((size_t) f->w * f->h * 3);
  int32_t cw = (f->w + 1) / 2;
  const uint8_t *src[4] = { f->y, f->u, f->v, NULL };
  const int src_stride[4] = { f->w, cw, cw, 0 };
  uint8_t *dst[4] = { rgb, NULL, NULL, NULL };
  const int dst_stride[4] = { f->w * 3, 0, 0, 0 };
  g_assert_cmpint (sws_scale (ctx, src, src_stride, 0, f->h, dst, dst_stride), ==, f->h);
  sws_freeContext (ctx);
  return rgb;
}

static float *
preprocess (const vq_frame *frame, int32_t width, int32_t height, vq_fit_mode fit)
{
  vq_input_spec input = { width, height, 3 };
  vq_preprocess raw = { VQ_COLOR_RGB, { 0, 0, 0 }, { 1, 1, 1 }, fit };
  float *out = g_new (float, 3 * (size_t) width * height);
  GError *error = NULL;
  g_assert_true (vq_preprocess_frame (frame, &input, &raw, fit, out, NULL, &error));
  g_assert_no_error (error);
  return out;
}

static void
compare (const float *got, const float *expected, size_t n, double max_bound,
         double mean_bound, const char *what)
{
  double max_err = 0, sum = 0;
  for (size_t i = 0; i < n; i++) {
    double e = fabs ((double) got[i] - expected[i]);
    max_err = MAX (max_err, e);
    sum += e;
  }
  g_test_message ("%s: max %.3f, mean %.4f levels", what, max_err, sum / n);
  g_assert_cmpfloat (max_err, <=, max_bound);
  g_assert_cmpfloat (sum / n, <=, mean_bound);
}

/* Per pixel (the input is the frame's own size, so sampling is the
 * identity): vqcore converts in float without rounding, swscale rounds to
 * 8 bits, so they differ by at most half a level (plus fixed-point slop);
 * on average by a quarter. Resampling to 416x416 averages that down. */
static void
test_i420_matches_swscale (void)
{
  yuv_frame f;
  read_vtest_frame (200, &f);
  guint8 *rgb = swscale_to_rgb (&f);
  int32_t cw = (f.w + 1) / 2;
  vq_frame i420 = { VQ_PIXEL_I420, f.w, f.h, { f.y, f.u, f.v }, { f.w, cw, cw } };
  vq_frame packed = { VQ_PIXEL_RGB, f.w, f.h, { rgb, NULL, NULL }, { f.w * 3, 0, 0 } };

  float *a = preprocess (&i420, f.w, f.h, VQ_RESIZE_STRETCH);
  float *b = preprocess (&packed, f.w, f.h, VQ_RESIZE_STRETCH);
  compare (a, b, 3 * (size_t) f.w * f.h, 0.6, 0.3, "I420 per pixel vs swscale");
  g_free (a);
  g_free (b);

  /* Into NanoDet's 416x416 letterbox: resampling averages the rounding. */
  a = preprocess (&i420, 416, 416, VQ_RESIZE_LETTERBOX);
  b = preprocess (&packed, 416, 416, VQ_RESIZE_LETTERBOX);
  compare (a, b, 3 * 416 * 416, 0.6, 0.2, "I420 416x416 vs swscale");
  g_free (a);
  g_free (b);

  /* NV12 holds the same samples, so it matches I420 exactly. */
  size_t chroma = (size_t) cw * ((f.h + 1) / 2);
  guint8 *uv = g_malloc (2 * chroma);
  for (size_t i = 0; i < chroma; i++) {
    uv[2 * i] = f.u[i];
    uv[2 * i + 1] = f.v[i];
  }
  vq_frame nv12 = { VQ_PIXEL_NV12, f.w, f.h, { f.y, uv, NULL }, { f.w, 2 * cw, 0 } };
  a = preprocess (&i420, 416, 416, VQ_RESIZE_LETTERBOX);
  b = preprocess (&nv12, 416, 416, VQ_RESIZE_LETTERBOX);
  g_assert_cmpmem (a, 3 * 416 * 416 * sizeof (float), b, 3 * 416 * 416 * sizeof (float));
  g_free (a);
  g_free (b);
  g_free (uv);

  g_free (rgb);
  g_free (f.y);
  g_free (f.u);
  g_free (f.v);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect/yuv/i420-vs-swscale", test_i420_matches_swscale);
  return g_test_run ();
}
