/* vq_preprocess_frame: every pixel format against the RGB path, bilinear
 * sampling against analytic values, colour order, frame validation. The
 * format conversions here are written independently of vqcore's readers. */
#include <math.h>
#include <string.h>

#include "vqcore/error.h"
#include "vqcore/image.h"

/* An RGB test image: smooth colour (like natural images, whose chroma
 * varies slowly) plus per-pixel luma detail from a fixed-seed generator. */
static guint8 *
make_rgb (int32_t w, int32_t h, guint32 seed)
{
  GRand *rand = g_rand_new_with_seed (seed);
  guint8 *rgb = g_malloc ((size_t) w * h * 3);
  for (int32_t y = 0; y < h; y++) {
    for (int32_t x = 0; x < w; x++) {
      double base[3] = {
        128 + 90 * sin (x * 0.05 + y * 0.02),
        128 + 90 * cos (x * 0.03 - y * 0.04),
        128 + 90 * sin (x * 0.02 + y * 0.06 + 1.0),
      };
      double detail = g_rand_double_range (rand, -25.0, 25.0);
      for (int c = 0; c < 3; c++)
        rgb[((size_t) y * w + x) * 3 + c] = (guint8) CLAMP (lround (base[c] + detail), 0, 255);
    }
  }
  g_rand_free (rand);
  return rgb;
}

/* Planes of a converted frame, with rows `pad` bytes longer than needed and
 * the extra bytes set to a value that would show if it were read. */
typedef struct {
  vq_frame frame;
  guint8 *planes[3];
} test_frame;

static guint8 *
alloc_plane (int32_t row_bytes, int32_t rows, int32_t pad, int32_t *stride)
{
  *stride = row_bytes + pad;
  guint8 *p = g_malloc ((size_t) *stride * rows);
  memset (p, 0xAB, (size_t) *stride * rows);
  return p;
}

static void
test_frame_clear (test_frame *t)
{
  for (int p = 0; p < 3; p++)
    g_free (t->planes[p]);
}

/* Packed formats: where R, G, B and the fourth byte go. */
static void
to_packed (const guint8 *rgb, int32_t w, int32_t h, vq_pixel_format format, int32_t pad,
           test_frame *t)
{
  static const struct {
    int bpp, r, g, b, a;
  } layouts[] = {
    [VQ_PIXEL_RGB] = { 3, 0, 1, 2, -1 },  [VQ_PIXEL_BGR] = { 3, 2, 1, 0, -1 },
    [VQ_PIXEL_RGBA] = { 4, 0, 1, 2, 3 },  [VQ_PIXEL_BGRA] = { 4, 2, 1, 0, 3 },
    [VQ_PIXEL_RGBX] = { 4, 0, 1, 2, 3 },  [VQ_PIXEL_BGRX] = { 4, 2, 1, 0, 3 },
  };
  const int bpp = layouts[format].bpp;
  memset (t, 0, sizeof *t);
  t->frame.format = format;
  t->frame.width = w;
  t->frame.height = h;
  t->planes[0] = alloc_plane (w * bpp, h, pad, &t->frame.strides[0]);
  t->frame.planes[0] = t->planes[0];
  for (int32_t y = 0; y < h; y++) {
    for (int32_t x = 0; x < w; x++) {
      const guint8 *s = rgb + ((size_t) y * w + x) * 3;
      guint8 *d = t->planes[0] + (size_t) y * t->frame.strides[0] + (size_t) x * bpp;
      d[layouts[format].r] = s[0];
      d[layouts[format].g] = s[1];
      d[layouts[format].b] = s[2];
      if (layouts[format].a >= 0)
        d[layouts[format].a] = (guint8) (x * 7 + y * 13); /* alpha must be ignored */
    }
  }
}

/* BT.601 limited-range RGB -> YUV, the textbook forward equations:
 *   E = Kr R + Kg G + Kb B,  Y = 16 + 219/255 E,
 *   U = 128 + 224/255 (B - E) / (2 (1 - Kb)),  V = 128 + 224/255 (R - E) / (2 (1 - Kr)).
 * Chroma of a 2x2 block is the mean over its pixels (fewer at odd edges). */
static void
to_yuv420 (const guint8 *rgb, int32_t w, int32_t h, vq_pixel_format format, int32_t pad,
           test_frame *t)
{
  const double kr = 0.299, kb = 0.114, kg = 1 - kr - kb;
  const int32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
  memset (t, 0, sizeof *t);
  t->frame.format = format;
  t->frame.width = w;
  t->frame.height = h;
  t->planes[0] = alloc_plane (w, h, pad, &t->frame.strides[0]);
  if (format == VQ_PIXEL_NV12) {
    t->planes[1] = alloc_plane (2 * cw, ch, pad + 1, &t->frame.strides[1]);
  } else {
    t->planes[1] = alloc_plane (cw, ch, pad + 1, &t->frame.strides[1]);
    t->planes[2] = alloc_plane (cw, ch, pad + 2, &t->frame.strides[2]);
  }
  for (int p = 0; p < 3; p++)
    t->frame.planes[p] = t->planes[p];

  double *u = g_new0 (double, (size_t) cw * ch), *v = g_new0 (double, (size_t) cw * ch);
  int *count = g_new0 (int, (size_t) cw * ch);
  for (int32_t y = 0; y < h; y++) {
    for (int32_t x = 0; x < w; x++) {
      const guint8 *s = rgb + ((size_t) y * w + x) * 3;
      double e = kr * s[0] + kg * s[1] + kb * s[2];
      t->planes[0][(size_t) y * t->frame.strides[0] + x] =
        (guint8) CLAMP (lround (16 + 219.0 / 255.0 * e), 0, 255);
      size_t ci = (size_t) (y / 2) * cw + x / 2;
      u[ci] += 128 + 224.0 / 255.0 * (s[2] - e) / (2 * (1 - kb));
      v[ci] += 128 + 224.0 / 255.0 * (s[0] - e) / (2 * (1 - kr));
      count[ci]++;
    }
  }
  for (int32_t cy = 0; cy < ch; cy++) {
    for (int32_t cx = 0; cx < cw; cx++) {
      size_t ci = (size_t) cy * cw + cx;
      guint8 uu = (guint8) CLAMP (lround (u[ci] / count[ci]), 0, 255);
      guint8 vv = (guint8) CLAMP (lround (v[ci] / count[ci]), 0, 255);
      if (format == VQ_PIXEL_NV12) {
        guint8 *row = t->planes[1] + (size_t) cy * t->frame.strides[1];
        row[2 * cx] = uu;
        row[2 * cx + 1] = vv;
      } else {
        t->planes[1][(size_t) cy * t->frame.strides[1] + cx] = uu;
        t->planes[2][(size_t) cy * t->frame.strides[2] + cx] = vv;
      }
    }
  }
  g_free (u);
  g_free (v);
  g_free (count);
}

static const vq_preprocess nanodet_pre = {
  VQ_COLOR_BGR, { 103.53f, 116.28f, 123.675f }, { 57.375f, 57.12f, 58.395f },
  VQ_RESIZE_LETTERBOX
};

static float *
preprocess (const vq_frame *frame, const vq_input_spec *input, const vq_preprocess *pre,
            vq_fit_mode fit)
{
  float *out = g_new (float, 3 * (size_t) input->width * input->height);
  GError *error = NULL;
  vq_letterbox m;
  g_assert_true (vq_preprocess_frame (frame, input, pre, fit, out, &m, &error));
  g_assert_no_error (error);
  return out;
}

typedef struct {
  int32_t w, h;
  vq_input_spec input;
  vq_fit_mode fit;
} format_case;

/* Odd sizes, up- and downscaling, letterbox and stretch. */
static const format_case format_cases[] = {
  { 101, 67, { 64, 64, 3 }, VQ_RESIZE_LETTERBOX },
  { 37, 23, { 96, 80, 3 }, VQ_RESIZE_LETTERBOX },
  { 333, 479, { 128, 96, 3 }, VQ_RESIZE_STRETCH },
  { 1, 1, { 16, 16, 3 }, VQ_RESIZE_LETTERBOX },
  { 3, 5, { 20, 20, 3 }, VQ_RESIZE_STRETCH },
};

static void
test_packed_formats_exact (void)
{
  static const vq_pixel_format formats[] = { VQ_PIXEL_BGR,  VQ_PIXEL_RGBA, VQ_PIXEL_BGRA,
                                             VQ_PIXEL_RGBX, VQ_PIXEL_BGRX };
  for (guint i = 0; i < G_N_ELEMENTS (format_cases); i++) {
    const format_case *fc = &format_cases[i];
    guint8 *rgb = make_rgb (fc->w, fc->h, 1234 + i);
    test_frame ref;
    to_packed (rgb, fc->w, fc->h, VQ_PIXEL_RGB, 5, &ref);
    float *expected = preprocess (&ref.frame, &fc->input, &nanodet_pre, fc->fit);
    size_t n = 3 * (size_t) fc->input.width * fc->input.height;
    for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
      test_frame t;
      to_packed (rgb, fc->w, fc->h, formats[f], 3 + f, &t);
      float *got = preprocess (&t.frame, &fc->input, &nanodet_pre, fc->fit);
      g_assert_cmpmem (got, n * sizeof (float), expected, n * sizeof (float));
      g_free (got);
      test_frame_clear (&t);
    }
    g_free (expected);
    test_frame_clear (&ref);
    g_free (rgb);
  }
}

/* YUV 4:2:0 against the RGB path, compared in pixel units (tensor * std +
 * mean). Both sides see the same luma detail; the differences come from
 * 8-bit rounding of Y, U, V (up to about 1 level of R, G or B), from chroma
 * being one sample per 2x2 block (small here because chroma is smooth), and
 * from clamping out-of-gamut values. Bounds: max 6 levels, mean 1.5. */
static void
test_yuv_formats_close (void)
{
  static const vq_pixel_format formats[] = { VQ_PIXEL_NV12, VQ_PIXEL_I420 };
  const float *std = nanodet_pre.std;
  for (guint i = 0; i < G_N_ELEMENTS (format_cases); i++) {
    const format_case *fc = &format_cases[i];
    guint8 *rgb = make_rgb (fc->w, fc->h, 99 + i);
    test_frame ref;
    to_packed (rgb, fc->w, fc->h, VQ_PIXEL_RGB, 0, &ref);
    float *expected = preprocess (&ref.frame, &fc->input, &nanodet_pre, fc->fit);
    size_t plane = (size_t) fc->input.width * fc->input.height;
    for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
      test_frame t;
      to_yuv420 (rgb, fc->w, fc->h, formats[f], 7, &t);
      float *got = preprocess (&t.frame, &fc->input, &nanodet_pre, fc->fit);
      double max_err = 0, sum_err = 0;
      for (int c = 0; c < 3; c++) {
        for (size_t k = 0; k < plane; k++) {
          double e = fabs ((got[c * plane + k] - expected[c * plane + k]) * std[c]);
          max_err = MAX (max_err, e);
          sum_err += e;
        }
      }
      g_test_message ("%s %dx%d: max %.2f, mean %.3f levels", vq_pixel_format_name (formats[f]),
                      fc->w, fc->h, max_err, sum_err / (3.0 * plane));
      g_assert_cmpfloat (max_err, <=, 6.0);
      g_assert_cmpfloat (sum_err / (3.0 * plane), <=, 1.5);
      g_free (got);
      test_frame_clear (&t);
    }
    g_free (expected);
    test_frame_clear (&ref);
    g_free (rgb);
  }
}

/* Grey levels have U = V = 128, so only the luma scale matters: Y = 16 is
 * black and Y = 235 white exactly, and Y = 16 + 219 k / 255 is k. */
static void
test_yuv_grey_levels (void)
{
  const int32_t w = 5, h = 3;
  guint8 yplane[15], uv[6 * 2], u[3 * 2], v[3 * 2];
  const guint8 levels[5] = { 16, 235, 126, 0, 255 };
  for (int32_t y = 0; y < h; y++)
    for (int32_t x = 0; x < w; x++)
      yplane[y * w + x] = levels[x];
  memset (uv, 128, sizeof uv);
  memset (u, 128, sizeof u);
  memset (v, 128, sizeof v);
  vq_frame nv12 = { VQ_PIXEL_NV12, w, h, { yplane, uv, NULL }, { w, 6, 0 } };
  vq_frame i420 = { VQ_PIXEL_I420, w, h, { yplane, u, v }, { w, 3, 3 } };
  vq_input_spec input = { 5, 3, 3 };
  vq_preprocess raw = { VQ_COLOR_RGB, { 0, 0, 0 }, { 1, 1, 1 }, VQ_RESIZE_STRETCH };
  const vq_frame *frames[] = { &nv12, &i420 };
  for (int f = 0; f < 2; f++) {
    float *out = preprocess (frames[f], &input, &raw, VQ_FIT_MODE_COUNT);
    for (int c = 0; c < 3; c++) {
      for (int32_t x = 0; x < w; x++) {
        double expect = CLAMP ((levels[x] - 16) * 255.0 / 219.0, 0.0, 255.0);
        g_assert_cmpfloat_with_epsilon (out[c * 15 + 1 * w + x], expect, 1e-3);
      }
    }
    g_free (out);
  }
}

/* Pure colours: the BT.601 inverse of (Y, U, V) for a saturated red is
 * R = 255, G = B = 0 (within rounding of the 8-bit code values). */
static void
test_yuv_red (void)
{
  const double kr = 0.299, kb = 0.114;
  guint8 yv = (guint8) lround (16 + 219.0 * kr);
  guint8 uv = (guint8) lround (128 - 224.0 * kr / (2 * (1 - kb)));
  guint8 vv = (guint8) lround (128 + 224.0 * (1 - kr) / (2 * (1 - kr)));
  guint8 yplane[4] = { yv, yv, yv, yv }, u[1] = { uv }, v[1] = { vv };
  vq_frame i420 = { VQ_PIXEL_I420, 2, 2, { yplane, u, v }, { 2, 1, 1 } };
  vq_input_spec input = { 2, 2, 3 };
  vq_preprocess raw = { VQ_COLOR_RGB, { 0, 0, 0 }, { 1, 1, 1 }, VQ_RESIZE_STRETCH };
  float *out = preprocess (&i420, &input, &raw, VQ_FIT_MODE_COUNT);
  g_assert_cmpfloat (out[0], >=, 253.0);
  g_assert_cmpfloat (out[4], <=, 2.0);
  g_assert_cmpfloat (out[8], <=, 2.0);
  g_free (out);
}

/* Bilinear with half-pixel centres on f(x, y) = 5 + 2x + 3y, which bilinear
 * interpolation reproduces exactly: output pixel (i, j) must equal
 * f(clamp((i + 0.5) * w / W - 0.5), clamp((j + 0.5) * h / H - 0.5)). */
static void
check_gradient (int32_t w, int32_t h, int32_t W, int32_t H)
{
  guint8 *grey = g_malloc ((size_t) w * h * 3);
  for (int32_t y = 0; y < h; y++)
    for (int32_t x = 0; x < w; x++)
      memset (grey + ((size_t) y * w + x) * 3, 5 + 2 * x + 3 * y, 3);
  vq_frame frame = { VQ_PIXEL_RGB, w, h, { grey, NULL, NULL }, { w * 3, 0, 0 } };
  vq_input_spec input = { W, H, 3 };
  vq_preprocess raw = { VQ_COLOR_RGB, { 0, 0, 0 }, { 1, 1, 1 }, VQ_RESIZE_STRETCH };
  float *out = preprocess (&frame, &input, &raw, VQ_RESIZE_STRETCH);
  for (int32_t j = 0; j < H; j++) {
    double sy = CLAMP ((j + 0.5) * h / H - 0.5, 0.0, h - 1.0);
    for (int32_t i = 0; i < W; i++) {
      double sx = CLAMP ((i + 0.5) * w / W - 0.5, 0.0, w - 1.0);
      double expect = 5 + 2 * sx + 3 * sy;
      for (int c = 0; c < 3; c++)
        g_assert_cmpfloat_with_epsilon (out[(size_t) c * W * H + (size_t) j * W + i], expect,
                                        1e-3);
    }
  }
  g_free (out);
  g_free (grey);
}

static void
test_bilinear_known_values (void)
{
  check_gradient (50, 40, 80, 64);  /* upscale */
  check_gradient (50, 40, 20, 13);  /* downscale */
  check_gradient (50, 40, 50, 40);  /* identity */
  check_gradient (2, 1, 7, 3);      /* clamping dominates */
  check_gradient (41, 3, 17, 29);   /* mixed */
}

/* A 2x1 frame [0, 255] letterboxed into 4x4: scale 2, image rows 1..2.
 * Columns sample at x = (i + 0.5) / 2 - 0.5 = -0.25, 0.25, 0.75, 1.25, i.e.
 * 0, 63.75, 191.25, 255 after clamping. */
static void
test_bilinear_letterbox_small (void)
{
  guint8 px[6] = { 0, 0, 0, 255, 255, 255 };
  vq_frame frame = { VQ_PIXEL_RGB, 2, 1, { px, NULL, NULL }, { 6, 0, 0 } };
  vq_input_spec input = { 4, 4, 3 };
  vq_preprocess raw = { VQ_COLOR_RGB, { 0, 0, 0 }, { 1, 1, 1 }, VQ_RESIZE_LETTERBOX };
  float *out = preprocess (&frame, &input, &raw, VQ_FIT_MODE_COUNT);
  for (int32_t j = 0; j < 4; j++) {
    for (int32_t i = 0; i < 4; i++) {
      double sx = CLAMP ((i + 0.5) / 2.0 - 0.5, 0.0, 1.0);
      double expect = (j == 1 || j == 2) ? 255.0 * sx : 0.0;
      g_assert_cmpfloat_with_epsilon (out[j * 4 + i], expect, 1e-4);
    }
  }
  g_free (out);
}

/* BGR order puts blue in channel 0 and uses mean/std in that order. */
static void
test_color_order (void)
{
  const int32_t w = 9, h = 7;
  guint8 *rgb = make_rgb (w, h, 7);
  vq_frame frame = { VQ_PIXEL_RGB, w, h, { rgb, NULL, NULL }, { w * 3, 0, 0 } };
  vq_input_spec input = { 9, 7, 3 };
  vq_preprocess as_rgb = { VQ_COLOR_RGB, { 0, 0, 0 }, { 1, 1, 1 }, VQ_RESIZE_STRETCH };
  vq_preprocess as_bgr = { VQ_COLOR_BGR, { 10, 20, 30 }, { 2, 4, 8 }, VQ_RESIZE_STRETCH };
  float *a = preprocess (&frame, &input, &as_rgb, VQ_FIT_MODE_COUNT);
  float *b = preprocess (&frame, &input, &as_bgr, VQ_FIT_MODE_COUNT);
  const size_t plane = (size_t) w * h;
  for (size_t k = 0; k < plane; k++) {
    /* Same size: identity sampling, so the pixels themselves. */
    const guint8 *p = rgb + k * 3;
    g_assert_cmpfloat (a[k], ==, p[0]);
    g_assert_cmpfloat (a[plane + k], ==, p[1]);
    g_assert_cmpfloat (a[2 * plane + k], ==, p[2]);
    for (int c = 0; c < 3; c++)
      g_assert_cmpfloat (b[c * plane + k], ==, (a[(2 - c) * plane + k] - as_bgr.mean[c]) /
                                                   as_bgr.std[c]);
  }
  g_free (a);
  g_free (b);
  g_free (rgb);
}

/* Random sizes, strides, formats and fits with planes allocated to the
 * last byte the frame may use (stride * (rows - 1) + row bytes), so that
 * AddressSanitizer catches any read past a frame; every value must be a
 * normalised pixel in [0, 255]. */
static void
test_random_frames_in_bounds (void)
{
  GRand *rand = g_rand_new_with_seed (2024);
  vq_preprocess raw = { VQ_COLOR_BGR, { 0, 0, 0 }, { 1, 1, 1 }, VQ_RESIZE_LETTERBOX };
  for (int iter = 0; iter < 300; iter++) {
    vq_pixel_format format = (vq_pixel_format) g_rand_int_range (rand, 0, VQ_PIXEL_FORMAT_COUNT);
    int32_t w = g_rand_int_range (rand, 1, 40), h = g_rand_int_range (rand, 1, 40);
    int32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
    int32_t row[3] = { 0, 0, 0 }, rows[3] = { h, ch, ch };
    switch (format) {
    case VQ_PIXEL_RGB:
    case VQ_PIXEL_BGR:
      row[0] = 3 * w;
      break;
    case VQ_PIXEL_NV12:
      row[0] = w;
      row[1] = 2 * cw;
      break;
    case VQ_PIXEL_I420:
      row[0] = w;
      row[1] = row[2] = cw;
      break;
    default:
      row[0] = 4 * w;
      break;
    }
    vq_frame frame = { format, w, h, { NULL, NULL, NULL }, { 0, 0, 0 } };
    guint8 *planes[3] = { NULL, NULL, NULL };
    for (int p = 0; p < 3; p++) {
      if (row[p] == 0)
        continue;
      frame.strides[p] = row[p] + g_rand_int_range (rand, 0, 9);
      size_t size = (size_t) frame.strides[p] * (rows[p] - 1) + row[p];
      planes[p] = g_malloc (size);
      for (size_t k = 0; k < size; k++)
        planes[p][k] = (guint8) g_rand_int (rand);
      frame.planes[p] = planes[p];
    }
    vq_input_spec input = { g_rand_int_range (rand, 1, 48), g_rand_int_range (rand, 1, 48), 3 };
    vq_fit_mode fit = g_rand_boolean (rand) ? VQ_RESIZE_STRETCH : VQ_RESIZE_LETTERBOX;
    float *out = preprocess (&frame, &input, &raw, fit);
    for (size_t k = 0; k < 3 * (size_t) input.width * input.height; k++) {
      g_assert_cmpfloat (out[k], >=, 0.0f);
      g_assert_cmpfloat (out[k], <=, 255.0f);
    }
    g_free (out);
    for (int p = 0; p < 3; p++)
      g_free (planes[p]);
  }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect/preprocess/packed-formats", test_packed_formats_exact);
  g_test_add_func ("/detect/preprocess/yuv-formats", test_yuv_formats_close);
  g_test_add_func ("/detect/preprocess/yuv-grey", test_yuv_grey_levels);
  g_test_add_func ("/detect/preprocess/yuv-red", test_yuv_red);
  g_test_add_func ("/detect/preprocess/bilinear", test_bilinear_known_values);
  g_test_add_func ("/detect/preprocess/bilinear-letterbox", test_bilinear_letterbox_small);
  g_test_add_func ("/detect/preprocess/color-order", test_color_order);
  g_test_add_func ("/detect/preprocess/random-in-bounds", test_random_frames_in_bounds);
  return g_test_run ();
}
