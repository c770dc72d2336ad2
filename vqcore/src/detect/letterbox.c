/* The mapping between source-frame pixels and model-input pixels, and its
 * inverse for detections.
 *
 * Convention (documented here once, used by preprocess.c and vq_unletterbox):
 * coordinates are continuous, pixel i covering [i, i + 1). Letterbox scales
 * by s = min(W / w, H / h) and rounds the scaled image to whole input pixels,
 * new_w = round(w * s) (at least 1, at most W), likewise new_h; the image is
 * centred with an INTEGER offset x0 = (W - new_w) / 2 (integer division, so
 * an odd leftover pixel goes to the right/bottom). The per-axis scales are
 * then new_w / w and new_h / h, which differ from s by less than one input
 * pixel over the whole image. Every input pixel is therefore either all image
 * or all padding, the mapping input = source * scale + offset is exact affine
 * (vq_unletterbox inverts it exactly), and the result equals "resize to
 * new_w x new_h, then pad", which is what the NanoDet reference code does
 * with OpenCV. Stretch maps the frame onto the whole input (offsets 0). */
#include "detect_private.h"

#include <math.h>

vq__content_rect
vq__content_rect_compute (int32_t src_w, int32_t src_h, int32_t dst_w, int32_t dst_h,
                          vq_fit_mode fit)
{
  vq__content_rect rect = { 0, 0, dst_w, dst_h };
  if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0 || fit == VQ_RESIZE_STRETCH)
    return rect;

  double scale = MIN ((double) dst_w / src_w, (double) dst_h / src_h);
  int64_t new_w = (int64_t) llround (src_w * scale);
  int64_t new_h = (int64_t) llround (src_h * scale);
  rect.w = (int32_t) CLAMP (new_w, 1, (int64_t) dst_w);
  rect.h = (int32_t) CLAMP (new_h, 1, (int64_t) dst_h);
  rect.x = (dst_w - rect.w) / 2;
  rect.y = (dst_h - rect.h) / 2;
  return rect;
}

vq_letterbox
vq_letterbox_compute (int32_t src_w, int32_t src_h, int32_t dst_w, int32_t dst_h,
                      vq_fit_mode fit)
{
  vq_letterbox mapping = { 1.0f, 1.0f, 0.0f, 0.0f };
  /* An unusable size gives the identity rather than a division by zero. */
  if (src_w <= 0 || src_h <= 0 || dst_w <= 0 || dst_h <= 0)
    return mapping;
  vq__content_rect rect = vq__content_rect_compute (src_w, src_h, dst_w, dst_h, fit);
  mapping.scale_x = (float) ((double) rect.w / src_w);
  mapping.scale_y = (float) ((double) rect.h / src_h);
  mapping.offset_x = (float) rect.x;
  mapping.offset_y = (float) rect.y;
  return mapping;
}

void
vq_unletterbox (GArray *detections, const vq_letterbox *mapping, int32_t src_w,
                int32_t src_h)
{
  g_return_if_fail (detections != NULL && mapping != NULL);
  g_return_if_fail (g_array_get_element_size (detections) == sizeof (vq_detection));

  /* A degenerate mapping cannot be inverted: nothing maps back. */
  if (!(mapping->scale_x > 0.0f) || !(mapping->scale_y > 0.0f)) {
    g_array_set_size (detections, 0);
    return;
  }
  double sx = 1.0 / mapping->scale_x, sy = 1.0 / mapping->scale_y;
  double max_x = MAX (src_w, 0), max_y = MAX (src_h, 0);
  guint kept = 0;
  for (guint i = 0; i < detections->len; i++) {
    vq_detection d = g_array_index (detections, vq_detection, i);
    /* Map both corners, then clip to the frame [0, w] x [0, h]. Double
     * precision keeps forward-then-back within float rounding. */
    double x0 = ((double) d.x - mapping->offset_x) * sx;
    double y0 = ((double) d.y - mapping->offset_y) * sy;
    double x1 = ((double) d.x + d.w - mapping->offset_x) * sx;
    double y1 = ((double) d.y + d.h - mapping->offset_y) * sy;
    x0 = CLAMP (x0, 0.0, max_x);
    y0 = CLAMP (y0, 0.0, max_y);
    x1 = CLAMP (x1, 0.0, max_x);
    y1 = CLAMP (y1, 0.0, max_y);
    /* The negated comparison also drops NaN boxes. */
    if (!(x1 > x0) || !(y1 > y0))
      continue;
    d.x = (float) x0;
    d.y = (float) y0;
    d.w = (float) (x1 - x0);
    d.h = (float) (y1 - y0);
    g_array_index (detections, vq_detection, kept++) = d;
  }
  g_array_set_size (detections, kept);
}
