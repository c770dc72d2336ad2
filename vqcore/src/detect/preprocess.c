/* Frame -> model input tensor: letterbox or stretch, bilinear resampling with
 * half-pixel centres, colour order and mean/std normalisation.
 *
 * Sampling: input pixel j of the content rectangle (see letterbox.c) takes
 * the source position  s = (j + 0.5) * src_w / rect_w - 0.5,  clamped to
 * [0, src_w - 1] (OpenCV's INTER_LINEAR and TF's half_pixel_centers), and
 * blends the two neighbouring source pixels; likewise for rows. The work is
 * separable: each source row that an output row needs is resampled
 * horizontally once into a float RGB row (two rows are cached, since
 * consecutive output rows share source rows), then output rows blend two of
 * those vertically and normalise. Column indices and weights are computed
 * once per call. Only the source pixels that are actually sampled are read
 * or colour-converted.
 *
 * YUV (NV12, I420) is BT.601 limited range ("studio swing": Y 16..235,
 * chroma 16..240 around 128), converted in floating point without rounding
 * and clamped to [0, 255]. Chroma is 4:2:0 and taken from the 2x2 block a
 * pixel belongs to (nearest sample), then the RGB values are resampled like
 * any packed format. */
#include "detect_private.h"

#include <math.h>
#include <string.h>

#include "vqcore/error.h"

/* The largest model input accepted: far beyond any detector, and it keeps
 * 3 * width * height comfortably inside 32 bits. */
#define VQ_MAX_INPUT_SIDE 8192

/* BT.601 luma weights; the limited-range scale factors turn 219 (luma) and
 * 224 (chroma) code values into the full 0..255 range. */
#define KR 0.299
#define KB 0.114
#define KG (1.0 - KR - KB)
#define Y_SCALE (255.0 / 219.0)
#define C_SCALE (255.0 / 224.0)
static const float yuv_y = (float) Y_SCALE;
static const float yuv_rv = (float) (C_SCALE * 2.0 * (1.0 - KR));
static const float yuv_gu = (float) (C_SCALE * 2.0 * (1.0 - KB) * KB / KG);
static const float yuv_gv = (float) (C_SCALE * 2.0 * (1.0 - KR) * KR / KG);
static const float yuv_bu = (float) (C_SCALE * 2.0 * (1.0 - KB));

/* Source positions for one axis: output index -> two source indices and the
 * weight of the second. */
typedef struct {
  int32_t *i0;
  int32_t *i1;
  float *w1;
} axis_table;

static void
axis_table_init (axis_table *table, int32_t n_out, int32_t n_src)
{
  table->i0 = g_new (int32_t, n_out);
  table->i1 = g_new (int32_t, n_out);
  table->w1 = g_new (float, n_out);
  double ratio = (double) n_src / n_out;
  for (int32_t j = 0; j < n_out; j++) {
    double s = (j + 0.5) * ratio - 0.5;
    s = CLAMP (s, 0.0, (double) (n_src - 1));
    int32_t i0 = (int32_t) s; /* s >= 0, so truncation is floor */
    table->i0[j] = i0;
    table->i1[j] = MIN (i0 + 1, n_src - 1);
    table->w1[j] = (float) (s - i0);
  }
}

static void
axis_table_clear (axis_table *table)
{
  g_free (table->i0);
  g_free (table->i1);
  g_free (table->w1);
}

/* Byte offsets of R, G, B within a packed pixel and the pixel size. */
typedef struct {
  int bpp;
  int r, g, b;
} packed_layout;

static gboolean
packed_layout_of (vq_pixel_format format, packed_layout *layout)
{
  switch (format) {
  case VQ_PIXEL_RGB:
    *layout = (packed_layout) { 3, 0, 1, 2 };
    return TRUE;
  case VQ_PIXEL_BGR:
    *layout = (packed_layout) { 3, 2, 1, 0 };
    return TRUE;
  case VQ_PIXEL_RGBA:
  case VQ_PIXEL_RGBX:
    *layout = (packed_layout) { 4, 0, 1, 2 };
    return TRUE;
  case VQ_PIXEL_BGRA:
  case VQ_PIXEL_BGRX:
    *layout = (packed_layout) { 4, 2, 1, 0 };
    return TRUE;
  case VQ_PIXEL_NV12:
  case VQ_PIXEL_I420:
  case VQ_PIXEL_FORMAT_COUNT:
  default:
    return FALSE;
  }
}

static inline float
lerp (float a, float b, float t)
{
  return a + (b - a) * t;
}

/* Resamples packed source row `row` into out[3 * j + {0,1,2}] = R, G, B. */
static void
hresample_packed (const uint8_t *row, const packed_layout *layout, const axis_table *cols,
                  int32_t n, float *out)
{
  const int bpp = layout->bpp, r = layout->r, g = layout->g, b = layout->b;
  for (int32_t j = 0; j < n; j++) {
    const uint8_t *p = row + (ptrdiff_t) cols->i0[j] * bpp;
    const uint8_t *q = row + (ptrdiff_t) cols->i1[j] * bpp;
    float t = cols->w1[j];
    out[3 * j + 0] = lerp (p[r], q[r], t);
    out[3 * j + 1] = lerp (p[g], q[g], t);
    out[3 * j + 2] = lerp (p[b], q[b], t);
  }
}

static inline void
yuv_to_rgb (int y, int u, int v, float rgb[3])
{
  float c = yuv_y * (float) (y - 16);
  float d = (float) (u - 128), e = (float) (v - 128);
  float r = c + yuv_rv * e;
  float g = c - yuv_gu * d - yuv_gv * e;
  float b = c + yuv_bu * d;
  rgb[0] = CLAMP (r, 0.0f, 255.0f);
  rgb[1] = CLAMP (g, 0.0f, 255.0f);
  rgb[2] = CLAMP (b, 0.0f, 255.0f);
}

/* Resamples source row y of a 4:2:0 frame, converting only the sampled
 * pixels. NV12 chroma is interleaved U, V (step 2); I420 has two planes. */
static void
hresample_yuv (const vq_frame *frame, int32_t y, const axis_table *cols, int32_t n,
               float *out)
{
  const uint8_t *yrow = frame->planes[0] + (ptrdiff_t) y * frame->strides[0];
  const uint8_t *urow, *vrow;
  int step;
  if (frame->format == VQ_PIXEL_NV12) {
    urow = frame->planes[1] + (ptrdiff_t) (y / 2) * frame->strides[1];
    vrow = urow + 1;
    step = 2;
  } else {
    urow = frame->planes[1] + (ptrdiff_t) (y / 2) * frame->strides[1];
    vrow = frame->planes[2] + (ptrdiff_t) (y / 2) * frame->strides[2];
    step = 1;
  }
  for (int32_t j = 0; j < n; j++) {
    int32_t x0 = cols->i0[j], x1 = cols->i1[j];
    float p[3], q[3];
    yuv_to_rgb (yrow[x0], urow[(x0 / 2) * step], vrow[(x0 / 2) * step], p);
    yuv_to_rgb (yrow[x1], urow[(x1 / 2) * step], vrow[(x1 / 2) * step], q);
    float t = cols->w1[j];
    out[3 * j + 0] = lerp (p[0], q[0], t);
    out[3 * j + 1] = lerp (p[1], q[1], t);
    out[3 * j + 2] = lerp (p[2], q[2], t);
  }
}

static gboolean
check_input_and_preprocess (const vq_input_spec *input, const vq_preprocess *pre,
                            GError **error)
{
  if (input == NULL || pre == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "no input spec or preprocessing given");
    return FALSE;
  }
  if (input->channels != 3) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "model input has %d channels; only 3 (colour) is supported", input->channels);
    return FALSE;
  }
  if (input->width <= 0 || input->height <= 0 || input->width > VQ_MAX_INPUT_SIDE ||
      input->height > VQ_MAX_INPUT_SIDE) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "model input size %dx%d is invalid",
                 input->width, input->height);
    return FALSE;
  }
  if ((int) pre->color_order < 0 || pre->color_order >= VQ_COLOR_ORDER_COUNT) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "unknown colour order %d",
                 (int) pre->color_order);
    return FALSE;
  }
  for (int c = 0; c < 3; c++) {
    if (!isfinite (pre->mean[c]) || !isfinite (pre->std[c]) || pre->std[c] == 0.0f) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "normalisation of channel %d is invalid (mean %g, std %g)", c,
                   (double) pre->mean[c], (double) pre->std[c]);
      return FALSE;
    }
  }
  return TRUE;
}

/* Writes the padding value of each channel everywhere outside `rect`. */
static void
fill_padding (float *out, int32_t width, int32_t height, const vq__content_rect *rect,
              const float pad[3])
{
  size_t plane = (size_t) width * height;
  for (int c = 0; c < 3; c++) {
    float *dst = out + c * plane;
    for (int32_t y = 0; y < height; y++) {
      float *row = dst + (size_t) y * width;
      if (y < rect->y || y >= rect->y + rect->h) {
        for (int32_t x = 0; x < width; x++)
          row[x] = pad[c];
        continue;
      }
      for (int32_t x = 0; x < rect->x; x++)
        row[x] = pad[c];
      for (int32_t x = rect->x + rect->w; x < width; x++)
        row[x] = pad[c];
    }
  }
}

gboolean
vq_preprocess_frame (const vq_frame *frame, const vq_input_spec *input,
                     const vq_preprocess *pre, vq_fit_mode fit, float *out,
                     vq_letterbox *mapping, GError **error)
{
  if (!vq_frame_validate (frame, error) || !check_input_and_preprocess (input, pre, error))
    return FALSE;
  if (out == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "no output tensor given");
    return FALSE;
  }
  /* VQ_FIT_MODE_COUNT (or anything out of range) means "the model's". */
  if ((int) fit < 0 || fit >= VQ_FIT_MODE_COUNT)
    fit = pre->fit == VQ_RESIZE_STRETCH ? VQ_RESIZE_STRETCH : VQ_RESIZE_LETTERBOX;

  const int32_t W = input->width, H = input->height;
  vq__content_rect rect = vq__content_rect_compute (frame->width, frame->height, W, H, fit);
  if (mapping != NULL)
    *mapping = vq_letterbox_compute (frame->width, frame->height, W, H, fit);

  /* Channel c of the tensor holds colour src_channel[c] of our RGB rows. */
  int src_channel[3];
  float pad[3];
  for (int c = 0; c < 3; c++) {
    src_channel[c] = pre->color_order == VQ_COLOR_BGR ? 2 - c : c;
    pad[c] = (0.0f - pre->mean[c]) / pre->std[c];
  }
  fill_padding (out, W, H, &rect, pad);

  axis_table cols, rows;
  axis_table_init (&cols, rect.w, frame->width);
  axis_table_init (&rows, rect.h, frame->height);

  packed_layout layout;
  gboolean packed = packed_layout_of (frame->format, &layout);
  float *hbuf[2] = { g_new (float, 3 * (size_t) rect.w), g_new (float, 3 * (size_t) rect.w) };
  int32_t tag[2] = { -1, -1 };
  size_t plane = (size_t) W * H;

  for (int32_t i = 0; i < rect.h; i++) {
    int32_t need[2] = { rows.i0[i], rows.i1[i] };
    for (int k = 0; k < 2; k++) {
      int32_t y = need[k];
      if (tag[0] == y || tag[1] == y)
        continue;
      /* Reuse the slot that holds neither needed row. */
      int slot = (tag[0] != need[0] && tag[0] != need[1]) ? 0 : 1;
      if (packed)
        hresample_packed (frame->planes[0] + (ptrdiff_t) y * frame->strides[0], &layout,
                          &cols, rect.w, hbuf[slot]);
      else
        hresample_yuv (frame, y, &cols, rect.w, hbuf[slot]);
      tag[slot] = y;
    }
    const float *r0 = hbuf[tag[0] == need[0] ? 0 : 1];
    const float *r1 = hbuf[tag[0] == need[1] ? 0 : 1];
    float t = rows.w1[i];
    for (int c = 0; c < 3; c++) {
      float *dst = out + c * plane + (size_t) (rect.y + i) * W + rect.x;
      const float *a = r0 + src_channel[c], *b = r1 + src_channel[c];
      const float mean = pre->mean[c], std = pre->std[c];
      for (int32_t j = 0; j < rect.w; j++)
        dst[j] = (lerp (a[3 * j], b[3 * j], t) - mean) / std;
    }
  }

  g_free (hbuf[0]);
  g_free (hbuf[1]);
  axis_table_clear (&cols);
  axis_table_clear (&rows);
  return TRUE;
}
