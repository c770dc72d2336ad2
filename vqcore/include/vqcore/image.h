/* vqcore/image.h — video frames in common pixel formats, and their
 * conversion to a model's input tensor (letterbox or stretch, colour order,
 * mean/std normalisation). */
#ifndef VQCORE_IMAGE_H
#define VQCORE_IMAGE_H

#include <glib.h>

#include "model.h"

G_BEGIN_DECLS

typedef enum {
  VQ_PIXEL_RGB = 0,  /* packed 24-bit */
  VQ_PIXEL_BGR = 1,
  VQ_PIXEL_RGBA = 2, /* packed 32-bit, alpha ignored */
  VQ_PIXEL_BGRA = 3,
  VQ_PIXEL_RGBX = 4,
  VQ_PIXEL_BGRX = 5,
  VQ_PIXEL_NV12 = 6, /* Y plane + interleaved UV plane, 4:2:0 */
  VQ_PIXEL_I420 = 7, /* Y, U, V planes, 4:2:0 */
  VQ_PIXEL_FORMAT_COUNT
} vq_pixel_format;

/* A frame the caller owns. Planes and strides in bytes; packed formats use
 * plane 0 only. YUV is BT.601 limited range (what decoders emit for SD and
 * what GStreamer assumes by default for these formats). */
typedef struct {
  vq_pixel_format format;
  int32_t width;
  int32_t height;
  const uint8_t *planes[3];
  int32_t strides[3];
} vq_frame;

/* Maps between source-frame pixels and model-input pixels:
 *   input_x = source_x * scale_x + offset_x   (likewise for y). */
typedef struct {
  float scale_x, scale_y;
  float offset_x, offset_y;
} vq_letterbox;

const char *vq_pixel_format_name (vq_pixel_format format);
/* Parses names like "RGB", "BGRx", "NV12" (case-insensitive). */
gboolean vq_pixel_format_parse (const char *text, vq_pixel_format *format);

/* Checks dimensions, strides and planes; FALSE with an error when unusable. */
gboolean vq_frame_validate (const vq_frame *frame, GError **error);

/* Computes the mapping from a src_w x src_h frame to the model input.
 * Letterbox rounds the scaled image to whole input pixels (at least one)
 * and centres it at integer offsets, so scale_x and scale_y may differ by
 * less than a pixel's worth; every input pixel is all image or all padding
 * (details in src/detect/letterbox.c). Unusable sizes give the identity. */
vq_letterbox vq_letterbox_compute (int32_t src_w, int32_t src_h, int32_t dst_w,
                                   int32_t dst_h, vq_fit_mode fit);

/* Writes the model input tensor (NCHW fp32, 3 x input.height x input.width)
 * for `frame` into `out`: bilinear sampling with half-pixel centres, black
 * padding outside the letterboxed image, colour order and mean/std from
 * `pre`. `fit` overrides pre->fit (VQ_FIT_MODE_COUNT: use pre->fit).
 * Returns the mapping used (`mapping` may be NULL). */
gboolean vq_preprocess_frame (const vq_frame *frame, const vq_input_spec *input,
                              const vq_preprocess *pre, vq_fit_mode fit,
                              float *out, vq_letterbox *mapping, GError **error);

G_END_DECLS

#endif /* VQCORE_IMAGE_H */
