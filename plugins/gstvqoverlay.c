/**
 * SECTION:element-vqoverlay
 * @title: vqoverlay
 *
 * Draws every #GstVideoRegionOfInterestMeta of a frame onto the frame
 * itself: the box outline, and above it the label and confidence on a
 * filled tag, in a colour that stays the same for a class across frames
 * and runs. It reads metadata from any producer (vqdetect, DL Streamer's
 * gvadetect, onnxobjectdetector, ...): the label is the meta's roi_type,
 * the confidence and class id come from its "detection" parameter
 * structure when present.
 *
 * It draws in the negotiated format (packed RGB variants, NV12, I420), so
 * no conversion to RGB is needed before it.
 *
 * ## Example launch line
 * |[
 * gst-launch-1.0 filesrc location=vtest.avi ! decodebin ! videoconvert ! vqdetect ! vqoverlay ! videoconvert ! autovideosink
 * ]|
 * (pipelines/display.sh runs this line.)
 */
#include "gstvqoverlay.h"

#include <stdio.h>

#include "gstvqcaps.h"
#include "vqdraw.h"

GST_DEBUG_CATEGORY_STATIC (gst_vq_overlay_debug);
#define GST_CAT_DEFAULT gst_vq_overlay_debug

enum {
  PROP_0,
  PROP_THICKNESS,
  PROP_FONT_SIZE,
  PROP_SHOW_LABELS,
  PROP_SHOW_CONFIDENCE,
};

#define DEFAULT_PROP_THICKNESS 2
#define DEFAULT_PROP_FONT_SIZE 0
#define DEFAULT_PROP_SHOW_LABELS TRUE
#define DEFAULT_PROP_SHOW_CONFIDENCE TRUE

struct _GstVqOverlay {
  GstVideoFilter parent;

  /* Properties, guarded by the object lock. */
  guint thickness;
  guint font_size;
  gboolean show_labels;
  gboolean show_confidence;
};

G_DEFINE_TYPE (GstVqOverlay, gst_vq_overlay, GST_TYPE_VIDEO_FILTER)
GST_ELEMENT_REGISTER_DEFINE (vqoverlay, "vqoverlay", GST_RANK_NONE, GST_TYPE_VQ_OVERLAY)

static GstStaticPadTemplate sink_template = VQ_GST_VIDEO_PAD_TEMPLATE ("sink", GST_PAD_SINK);
static GstStaticPadTemplate src_template = VQ_GST_VIDEO_PAD_TEMPLATE ("src", GST_PAD_SRC);

/* Glyph magnification: the font cell is 8 pixels high. Automatic size
 * keeps labels readable from SD (2x) to 4K (9x). */
static gint
font_scale (guint font_size, gint frame_height)
{
  if (font_size == 0)
    return MAX (1, frame_height / 240);
  return MAX (1, (gint) (font_size + 4) / 8);
}

static void
draw_tag (GstVideoFrame *frame, const vq__pen *fill, vq__color color,
          gint64 box_x, gint64 box_y, gint scale, const char *text)
{
  gint pad = scale;
  gint w = vq__text_width (text, scale) + 2 * pad;
  gint h = vq__text_height (scale) + pad;
  gint x = (gint) CLAMP (box_x, 0, MAX (0, GST_VIDEO_FRAME_WIDTH (frame) - w));
  /* Above the box when it fits, else just inside its top edge. */
  gint y = (gint) MIN (box_y - h >= 0 ? box_y - h : box_y, GST_VIDEO_FRAME_HEIGHT (frame));
  vq__pen ink = vq__pen_for_frame (frame, vq__color_contrast (color));

  vq__draw_fill_rect (frame, fill, x, y, w, h);
  vq__draw_text (frame, &ink, x + pad, y + pad, scale, text);
}

static void
draw_meta (GstVqOverlay *self, GstVideoFrame *frame, GstVideoRegionOfInterestMeta *meta,
           guint thickness, gint scale, gboolean show_labels, gboolean show_confidence)
{
  const char *label = g_quark_to_string (meta->roi_type);
  GstStructure *param = gst_video_region_of_interest_meta_get_param (meta, "detection");
  gint class_id = -1;
  gdouble confidence = -1.0;
  GString *text = g_string_new (NULL);
  vq__color color;
  vq__pen pen;

  if (param != NULL) {
    /* Ours writes class-id; DL Streamer writes label_id. */
    if (!gst_structure_get_int (param, "class-id", &class_id)
        && !gst_structure_get_int (param, "label_id", &class_id))
      class_id = -1;
    if (!gst_structure_get_double (param, "confidence", &confidence)) {
      gfloat f;
      confidence = gst_structure_get (param, "confidence", G_TYPE_FLOAT, &f, NULL) ? f : -1.0;
    }
  }

  color = vq__color_for_class (class_id, label);
  pen = vq__pen_for_frame (frame, color);
  vq__draw_outline (frame, &pen, meta->x, meta->y, meta->w, meta->h, (gint) thickness);

  if (show_labels && label != NULL && *label != '\0')
    g_string_append (text, label);
  if (show_confidence && confidence >= 0.0)
    g_string_append_printf (text, "%s%.2f", text->len ? " " : "", confidence);
  if (text->len > 0)
    draw_tag (frame, &pen, color, meta->x, meta->y, scale, text->str);

  GST_LOG_OBJECT (self, "drew %s at %u,%u %ux%u", text->str, meta->x, meta->y, meta->w, meta->h);
  g_string_free (text, TRUE);
}

static GstFlowReturn
gst_vq_overlay_transform_frame_ip (GstVideoFilter *filter, GstVideoFrame *frame)
{
  GstVqOverlay *self = GST_VQ_OVERLAY (filter);
  GstVideoRegionOfInterestMeta *meta;
  gpointer state = NULL;
  guint thickness;
  gint scale;
  gboolean show_labels, show_confidence;

  GST_OBJECT_LOCK (self);
  thickness = self->thickness;
  scale = font_scale (self->font_size, GST_VIDEO_FRAME_HEIGHT (frame));
  show_labels = self->show_labels;
  show_confidence = self->show_confidence;
  GST_OBJECT_UNLOCK (self);

  while ((meta = (GstVideoRegionOfInterestMeta *)
          gst_buffer_iterate_meta_filtered (frame->buffer, &state,
                                            GST_VIDEO_REGION_OF_INTEREST_META_API_TYPE)))
    draw_meta (self, frame, meta, thickness, scale, show_labels, show_confidence);
  return GST_FLOW_OK;
}

/* Frames without metadata pass untouched, so only map (and possibly copy)
 * buffers that have something to draw. */
static GstFlowReturn
gst_vq_overlay_transform_ip (GstBaseTransform *trans, GstBuffer *buf)
{
  GstVideoFilter *filter = GST_VIDEO_FILTER (trans);
  GstVideoFrame frame;
  GstFlowReturn ret;

  if (!filter->negotiated)
    goto not_negotiated;
  if (gst_buffer_get_video_region_of_interest_meta (buf) == NULL)
    return GST_FLOW_OK;
  if (!gst_video_frame_map (&frame, &filter->in_info, buf, GST_MAP_READWRITE))
    goto map_failed;
  ret = gst_vq_overlay_transform_frame_ip (filter, &frame);
  gst_video_frame_unmap (&frame);
  return ret;

  /* ERRORS */
not_negotiated:
  GST_ELEMENT_ERROR (trans, CORE, NEGOTIATION, (NULL), ("unknown format"));
  return GST_FLOW_NOT_NEGOTIATED;
map_failed:
  GST_ELEMENT_ERROR (trans, STREAM, FAILED, ("Could not map the video frame for drawing."),
                     (NULL));
  return GST_FLOW_ERROR;
}

static void
gst_vq_overlay_set_property (GObject *object, guint prop_id, const GValue *value,
                             GParamSpec *pspec)
{
  GstVqOverlay *self = GST_VQ_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_THICKNESS:
      self->thickness = g_value_get_uint (value);
      break;
    case PROP_FONT_SIZE:
      self->font_size = g_value_get_uint (value);
      break;
    case PROP_SHOW_LABELS:
      self->show_labels = g_value_get_boolean (value);
      break;
    case PROP_SHOW_CONFIDENCE:
      self->show_confidence = g_value_get_boolean (value);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vq_overlay_get_property (GObject *object, guint prop_id, GValue *value,
                             GParamSpec *pspec)
{
  GstVqOverlay *self = GST_VQ_OVERLAY (object);

  GST_OBJECT_LOCK (self);
  switch (prop_id) {
    case PROP_THICKNESS:
      g_value_set_uint (value, self->thickness);
      break;
    case PROP_FONT_SIZE:
      g_value_set_uint (value, self->font_size);
      break;
    case PROP_SHOW_LABELS:
      g_value_set_boolean (value, self->show_labels);
      break;
    case PROP_SHOW_CONFIDENCE:
      g_value_set_boolean (value, self->show_confidence);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, prop_id, pspec);
      break;
  }
  GST_OBJECT_UNLOCK (self);
}

static void
gst_vq_overlay_class_init (GstVqOverlayClass *klass)
{
  GObjectClass *gobject_class = G_OBJECT_CLASS (klass);
  GstElementClass *element_class = GST_ELEMENT_CLASS (klass);
  GstBaseTransformClass *trans_class = GST_BASE_TRANSFORM_CLASS (klass);
  GParamFlags flags = G_PARAM_READWRITE | G_PARAM_STATIC_STRINGS | GST_PARAM_MUTABLE_PLAYING;

  gobject_class->set_property = gst_vq_overlay_set_property;
  gobject_class->get_property = gst_vq_overlay_get_property;

  g_object_class_install_property (gobject_class, PROP_THICKNESS,
      g_param_spec_uint ("thickness", "Thickness",
          "Width of the box outline in pixels (drawn inside the box)",
          1, 64, DEFAULT_PROP_THICKNESS, flags));
  g_object_class_install_property (gobject_class, PROP_FONT_SIZE,
      g_param_spec_uint ("font-size", "Font size",
          "Height of label text in pixels, rounded to a multiple of 8 "
          "(0 = automatic: 8 pixels per 240 lines of video)",
          0, 512, DEFAULT_PROP_FONT_SIZE, flags));
  g_object_class_install_property (gobject_class, PROP_SHOW_LABELS,
      g_param_spec_boolean ("show-labels", "Show labels",
          "Write each box's label (class name) above it",
          DEFAULT_PROP_SHOW_LABELS, flags));
  g_object_class_install_property (gobject_class, PROP_SHOW_CONFIDENCE,
      g_param_spec_boolean ("show-confidence", "Show confidence",
          "Write each box's confidence (0.00 to 1.00) above it",
          DEFAULT_PROP_SHOW_CONFIDENCE, flags));

  gst_element_class_add_static_pad_template (element_class, &sink_template);
  gst_element_class_add_static_pad_template (element_class, &src_template);
  gst_element_class_set_static_metadata (element_class, "VQ detection overlay",
      "Filter/Effect/Video",
      "Draws region-of-interest metadata (boxes, labels, confidences) onto video in place",
      "vqdetect authors");

  /* Bypass GstVideoFilter's mapping: see gst_vq_overlay_transform_ip. */
  trans_class->transform_ip = GST_DEBUG_FUNCPTR (gst_vq_overlay_transform_ip);

  GST_DEBUG_CATEGORY_INIT (gst_vq_overlay_debug, "vqoverlay", 0, "vqoverlay element");
}

static void
gst_vq_overlay_init (GstVqOverlay *self)
{
  self->thickness = DEFAULT_PROP_THICKNESS;
  self->font_size = DEFAULT_PROP_FONT_SIZE;
  self->show_labels = DEFAULT_PROP_SHOW_LABELS;
  self->show_confidence = DEFAULT_PROP_SHOW_CONFIDENCE;
  gst_base_transform_set_in_place (GST_BASE_TRANSFORM (self), TRUE);
}
