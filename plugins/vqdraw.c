/* vqdraw.c — format-agnostic drawing: every component plane is written at
 * its own subsampling, which covers packed RGB, NV12 and I420 alike. */
#include "vqdraw.h"

#include <math.h>

#include "vqfont.h"

static guint8
clamp_u8 (double value)
{
  return (guint8) CLAMP (lround (value), 0, 255);
}

vq__pen
vq__pen_for_frame (const GstVideoFrame *frame, vq__color color)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  vq__pen pen;

  memset (&pen, 0, sizeof pen);
  if (GST_VIDEO_FORMAT_INFO_IS_YUV (finfo)) {
    const GstVideoColorimetry *cm = &frame->info.colorimetry;
    gdouble kr = 0.299, kb = 0.114; /* BT.601 unless the caps say otherwise */
    double r = color.r / 255.0, g = color.g / 255.0, b = color.b / 255.0;
    double y, cb, cr;

    gst_video_color_matrix_get_Kr_Kb (cm->matrix, &kr, &kb);
    y = kr * r + (1.0 - kr - kb) * g + kb * b;
    cb = (b - y) / (2.0 * (1.0 - kb));
    cr = (r - y) / (2.0 * (1.0 - kr));
    if (cm->range == GST_VIDEO_COLOR_RANGE_0_255) {
      pen.value[GST_VIDEO_COMP_Y] = clamp_u8 (255.0 * y);
      pen.value[GST_VIDEO_COMP_U] = clamp_u8 (128.0 + 255.0 * cb);
      pen.value[GST_VIDEO_COMP_V] = clamp_u8 (128.0 + 255.0 * cr);
    } else {
      pen.value[GST_VIDEO_COMP_Y] = clamp_u8 (16.0 + 219.0 * y);
      pen.value[GST_VIDEO_COMP_U] = clamp_u8 (128.0 + 224.0 * cb);
      pen.value[GST_VIDEO_COMP_V] = clamp_u8 (128.0 + 224.0 * cr);
    }
  } else {
    pen.value[GST_VIDEO_COMP_R] = color.r;
    pen.value[GST_VIDEO_COMP_G] = color.g;
    pen.value[GST_VIDEO_COMP_B] = color.b;
    /* Opaque, so the box shows when the frame is later composited. */
    pen.value[GST_VIDEO_COMP_A] = 255;
  }
  return pen;
}

void
vq__draw_fill_rect (GstVideoFrame *frame, const vq__pen *pen, gint x, gint y,
                    gint width, gint height)
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;
  gint x0 = MAX (x, 0), y0 = MAX (y, 0);
  gint x1 = MIN ((gint64) x + width, GST_VIDEO_FRAME_WIDTH (frame));
  gint y1 = MIN ((gint64) y + height, GST_VIDEO_FRAME_HEIGHT (frame));

  if (x0 >= x1 || y0 >= y1)
    return;

  for (guint comp = 0; comp < GST_VIDEO_FRAME_N_COMPONENTS (frame); comp++) {
    guint8 *data = GST_VIDEO_FRAME_COMP_DATA (frame, comp);
    gint stride = GST_VIDEO_FRAME_COMP_STRIDE (frame, comp);
    gint pstride = GST_VIDEO_FRAME_COMP_PSTRIDE (frame, comp);
    guint ws = GST_VIDEO_FORMAT_INFO_W_SUB (finfo, comp);
    guint hs = GST_VIDEO_FORMAT_INFO_H_SUB (finfo, comp);
    /* A subsampled sample is coloured when any pixel it covers is. */
    gint cx0 = x0 >> ws, cx1 = ((x1 - 1) >> ws) + 1;
    gint cy0 = y0 >> hs, cy1 = ((y1 - 1) >> hs) + 1;
    guint8 value = pen->value[comp];

    for (gint row = cy0; row < cy1; row++) {
      guint8 *p = data + (gsize) row * stride + (gsize) cx0 * pstride;

      if (pstride == 1) {
        memset (p, value, (gsize) (cx1 - cx0));
        continue;
      }
      for (gint col = cx0; col < cx1; col++, p += pstride)
        *p = value;
    }
  }
}

void
vq__draw_outline (GstVideoFrame *frame, const vq__pen *pen, gint64 x, gint64 y,
                  gint64 width, gint64 height, gint thickness)
{
  gint t = MAX (thickness, 1);
  /* Edges beyond the frame stay beyond it (not moved onto the border),
   * and the arithmetic below cannot overflow. */
  gint64 lo = -(gint64) t - 1;
  gint x0 = (gint) CLAMP (x, lo, GST_VIDEO_FRAME_WIDTH (frame) + (gint64) t + 1);
  gint y0 = (gint) CLAMP (y, lo, GST_VIDEO_FRAME_HEIGHT (frame) + (gint64) t + 1);
  gint x1 = (gint) CLAMP (x + width, lo, GST_VIDEO_FRAME_WIDTH (frame) + (gint64) t + 1);
  gint y1 = (gint) CLAMP (y + height, lo, GST_VIDEO_FRAME_HEIGHT (frame) + (gint64) t + 1);
  gint w = x1 - x0, h = y1 - y0;

  if (width <= 0 || height <= 0 || w <= 0 || h <= 0)
    return;
  if (2 * t >= w || 2 * t >= h) {
    vq__draw_fill_rect (frame, pen, x0, y0, w, h);
    return;
  }
  vq__draw_fill_rect (frame, pen, x0, y0, w, t);
  vq__draw_fill_rect (frame, pen, x0, y1 - t, w, t);
  vq__draw_fill_rect (frame, pen, x0, y0 + t, t, h - 2 * t);
  vq__draw_fill_rect (frame, pen, x1 - t, y0 + t, t, h - 2 * t);
}

gint
vq__text_width (const char *text, gint scale)
{
  return (gint) strlen (text) * VQ__FONT_CELL_W * scale;
}

gint
vq__text_height (gint scale)
{
  return VQ__FONT_CELL_H * scale;
}

void
vq__draw_text (GstVideoFrame *frame, const vq__pen *pen, gint x, gint y,
               gint scale, const char *text)
{
  scale = MAX (scale, 1);
  for (; *text != '\0'; text++, x += VQ__FONT_CELL_W * scale) {
    if (x >= GST_VIDEO_FRAME_WIDTH (frame))
      break;
    for (guint col = 0; col < VQ__FONT_GLYPH_W; col++)
      for (guint row = 0; row < VQ__FONT_GLYPH_H; row++)
        if (vq__font_pixel (*text, col, row))
          vq__draw_fill_rect (frame, pen, x + (gint) col * scale,
                              y + (gint) row * scale, scale, scale);
  }
}

static vq__color
color_from_hue (double hue)
{
  /* HSV with s = 0.85, v = 0.95: bright enough to stand out on video. */
  double h = fmod (hue, 1.0) * 6.0, v = 0.95, s = 0.85;
  double c = v * s, xx = c * (1.0 - fabs (fmod (h, 2.0) - 1.0)), m = v - c;
  double r = 0, g = 0, b = 0;

  switch ((int) h) {
    case 0: r = c; g = xx; break;
    case 1: r = xx; g = c; break;
    case 2: g = c; b = xx; break;
    case 3: g = xx; b = c; break;
    case 4: r = xx; b = c; break;
    default: r = c; b = xx; break;
  }
  return (vq__color) { clamp_u8 (255.0 * (r + m)), clamp_u8 (255.0 * (g + m)),
                       clamp_u8 (255.0 * (b + m)) };
}

vq__color
vq__color_for_class (gint class_id, const char *label)
{
  /* The golden ratio spreads consecutive ids around the colour wheel. */
  const double golden = 0.618033988749895;

  if (class_id >= 0)
    return color_from_hue (0.08 + class_id * golden);
  return color_from_hue ((label ? g_str_hash (label) : 0) % 1000 / 1000.0);
}

vq__color
vq__color_contrast (vq__color background)
{
  double luma = 0.299 * background.r + 0.587 * background.g + 0.114 * background.b;

  return luma > 140.0 ? (vq__color) { 0, 0, 0 } : (vq__color) { 255, 255, 255 };
}
