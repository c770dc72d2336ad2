/* vqdraw.h — filled rectangles, outlines and bitmap text drawn straight
 * into a mapped GstVideoFrame in any 8-bit packed RGB or planar/semi-planar
 * YUV format (the overlay must not force a conversion to RGB). Everything
 * is clipped to the frame, so callers may pass boxes that leave it. */
#ifndef VQ_DRAW_H
#define VQ_DRAW_H

#include <gst/video/video.h>

G_BEGIN_DECLS

typedef struct {
  guint8 r, g, b;
} vq__color;

/* A colour turned into the frame's component values (Y'CbCr with the
 * frame's matrix and range for YUV formats). */
typedef struct {
  guint8 value[GST_VIDEO_MAX_COMPONENTS];
} vq__pen;

vq__pen vq__pen_for_frame (const GstVideoFrame *frame, vq__color color);

void vq__draw_fill_rect (GstVideoFrame *frame, const vq__pen *pen,
                         gint x, gint y, gint width, gint height);

/* An outline `thickness` pixels wide lying inside the box, so a box that
 * touches the frame border stays fully visible. */
void vq__draw_outline (GstVideoFrame *frame, const vq__pen *pen, gint64 x, gint64 y,
                       gint64 width, gint64 height, gint thickness);

/* Text with its top-left corner at (x, y), glyphs magnified `scale` times. */
void vq__draw_text (GstVideoFrame *frame, const vq__pen *pen, gint x, gint y,
                    gint scale, const char *text);
gint vq__text_width (const char *text, gint scale);
gint vq__text_height (gint scale);

/* A stable, saturated colour: from the class id when known (>= 0), which
 * keeps neighbouring classes apart, else from a hash of the label. */
vq__color vq__color_for_class (gint class_id, const char *label);

/* Black or white, whichever reads better on `background`. */
vq__color vq__color_contrast (vq__color background);

G_END_DECLS

#endif /* VQ_DRAW_H */
