/* Pixel formats and frame validation (vqcore/image.h). */
#include "detect_private.h"

#include <string.h>

#include "vqcore/error.h"
#include "vqcore/image.h"

static const char *const format_names[VQ_PIXEL_FORMAT_COUNT] = {
  [VQ_PIXEL_RGB] = "RGB",   [VQ_PIXEL_BGR] = "BGR",   [VQ_PIXEL_RGBA] = "RGBA",
  [VQ_PIXEL_BGRA] = "BGRA", [VQ_PIXEL_RGBX] = "RGBx", [VQ_PIXEL_BGRX] = "BGRx",
  [VQ_PIXEL_NV12] = "NV12", [VQ_PIXEL_I420] = "I420",
};

const char *
vq_pixel_format_name (vq_pixel_format format)
{
  if ((int) format < 0 || format >= VQ_PIXEL_FORMAT_COUNT)
    return "unknown";
  return format_names[format];
}

gboolean
vq_pixel_format_parse (const char *text, vq_pixel_format *format)
{
  if (text == NULL)
    return FALSE;
  for (int i = 0; i < VQ_PIXEL_FORMAT_COUNT; i++) {
    if (g_ascii_strcasecmp (text, format_names[i]) == 0) {
      if (format != NULL)
        *format = (vq_pixel_format) i;
      return TRUE;
    }
  }
  /* GStreamer and FFmpeg spell I420 as YUV420P / yuv420p too. */
  if (g_ascii_strcasecmp (text, "YUV420P") == 0) {
    if (format != NULL)
      *format = VQ_PIXEL_I420;
    return TRUE;
  }
  return FALSE;
}

/* Bytes per row each plane needs at least, or 0 for an unused plane. The
 * chroma planes of 4:2:0 formats are ceil(w/2) samples wide, so odd widths
 * keep their last column. */
static int64_t
min_stride (vq_pixel_format format, int32_t width, int plane)
{
  int64_t chroma_w = ((int64_t) width + 1) / 2;
  switch (format) {
  case VQ_PIXEL_RGB:
  case VQ_PIXEL_BGR:
    return plane == 0 ? 3 * (int64_t) width : 0;
  case VQ_PIXEL_RGBA:
  case VQ_PIXEL_BGRA:
  case VQ_PIXEL_RGBX:
  case VQ_PIXEL_BGRX:
    return plane == 0 ? 4 * (int64_t) width : 0;
  case VQ_PIXEL_NV12:
    return plane == 0 ? width : plane == 1 ? 2 * chroma_w : 0;
  case VQ_PIXEL_I420:
    return plane == 0 ? width : chroma_w;
  case VQ_PIXEL_FORMAT_COUNT:
  default:
    return 0;
  }
}

gboolean
vq_frame_validate (const vq_frame *frame, GError **error)
{
  if (frame == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "no frame given");
    return FALSE;
  }
  if ((int) frame->format < 0 || frame->format >= VQ_PIXEL_FORMAT_COUNT) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED, "unknown pixel format %d",
                 (int) frame->format);
    return FALSE;
  }
  const char *name = vq_pixel_format_name (frame->format);
  if (frame->width <= 0 || frame->height <= 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "%s frame has invalid size %dx%d", name,
                 frame->width, frame->height);
    return FALSE;
  }
  /* Every row offset is computed in 64 bits, but keep sizes far from where
   * a caller's own int arithmetic would overflow. */
  if (frame->width > VQ_MAX_FRAME_SIDE || frame->height > VQ_MAX_FRAME_SIDE) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "%s frame size %dx%d exceeds the limit of %d pixels per side", name,
                 frame->width, frame->height, VQ_MAX_FRAME_SIDE);
    return FALSE;
  }
  for (int p = 0; p < 3; p++) {
    int64_t need = min_stride (frame->format, frame->width, p);
    if (need == 0)
      continue;
    if (frame->planes[p] == NULL) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "%s frame: plane %d is missing", name,
                   p);
      return FALSE;
    }
    if ((int64_t) frame->strides[p] < need) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "%s frame: stride %d of plane %d is smaller than its row (%" G_GINT64_FORMAT
                   " bytes for width %d)",
                   name, frame->strides[p], p, need, frame->width);
      return FALSE;
    }
  }
  return TRUE;
}
