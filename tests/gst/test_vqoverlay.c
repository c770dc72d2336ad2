/* vqoverlay: boxes and labels drawn in place in every supported format. */
#include <gst/check/gstcheck.h>
#include <gst/check/gstharness.h>
#include <gst/video/video.h>

#define W 64
#define H 48
#define BG 0x40 /* every component of the blank frame, chroma at neutral */

static const char *formats[] = { "RGB", "BGR", "RGBA", "BGRA", "RGBx", "BGRx", "NV12", "I420" };

static GstBuffer *
blank_frame (GstVideoInfo *info)
{
  GstBuffer *buf = gst_buffer_new_allocate (NULL, GST_VIDEO_INFO_SIZE (info), NULL);
  GstVideoFrame frame;

  fail_unless (gst_video_frame_map (&frame, info, buf, GST_MAP_WRITE));
  for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (&frame); c++) {
    gboolean chroma = GST_VIDEO_FORMAT_INFO_IS_YUV (info->finfo) && c > 0;
    for (gint y = 0; y < GST_VIDEO_FRAME_COMP_HEIGHT (&frame, c); y++)
      for (gint x = 0; x < GST_VIDEO_FRAME_COMP_WIDTH (&frame, c); x++)
        GST_VIDEO_FRAME_COMP_DATA (&frame, c)[y * GST_VIDEO_FRAME_COMP_STRIDE (&frame, c)
            + x * GST_VIDEO_FRAME_COMP_PSTRIDE (&frame, c)] = chroma ? 128 : BG;
  }
  gst_video_frame_unmap (&frame);
  return buf;
}

/* All components of pixel (x, y), chroma at the subsampled position. */
static void
read_pixel (GstVideoFrame *frame, gint x, gint y, guint8 out[4])
{
  const GstVideoFormatInfo *finfo = frame->info.finfo;

  memset (out, 0, 4);
  for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (frame); c++) {
    gint cx = x >> GST_VIDEO_FORMAT_INFO_W_SUB (finfo, c);
    gint cy = y >> GST_VIDEO_FORMAT_INFO_H_SUB (finfo, c);
    out[c] = GST_VIDEO_FRAME_COMP_DATA (frame, c)[cy * GST_VIDEO_FRAME_COMP_STRIDE (frame, c)
        + cx * GST_VIDEO_FRAME_COMP_PSTRIDE (frame, c)];
  }
}

static gboolean
pixel_changed (GstVideoFrame *frame, gint x, gint y)
{
  guint8 px[4];
  gboolean yuv = GST_VIDEO_FORMAT_INFO_IS_YUV (frame->info.finfo);

  read_pixel (frame, x, y, px);
  for (guint c = 0; c < GST_VIDEO_FRAME_N_COMPONENTS (frame); c++) {
    guint8 expected = (yuv && c > 0) ? 128 : BG;
    /* Alpha of the blank frame is BG too; drawing makes it opaque. */
    if (px[c] != expected)
      return TRUE;
  }
  return FALSE;
}

static GstHarness *
overlay_harness (const char *format, const char *props, GstVideoInfo *info)
{
  gchar *desc = g_strdup_printf ("vqoverlay %s", props);
  GstHarness *h = gst_harness_new_parse (desc);
  gchar *caps = g_strdup_printf ("video/x-raw,format=%s,width=%d,height=%d,framerate=30/1",
                                 format, W, H);
  GstCaps *c = gst_caps_from_string (caps);

  fail_unless (gst_video_info_from_caps (info, c));
  gst_harness_set_src_caps (h, c);
  g_free (caps);
  g_free (desc);
  return h;
}

/* The box: (16,20) 24x20, outline 2 pixels wide inside it. */
#define BX 16
#define BY 20
#define BW 24
#define BH 20
#define T 2

GST_START_TEST (test_box_every_format)
{
  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    GstVideoInfo info;
    GstHarness *h = overlay_harness (formats[f], "show-labels=false thickness=2", &info);
    GstBuffer *in = blank_frame (&info), *out;
    GstVideoFrame frame;

    gst_buffer_add_video_region_of_interest_meta (in, "person", BX, BY, BW, BH);
    out = gst_harness_push_and_pull (h, in);
    fail_unless (out != NULL);
    fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));

    /* Every pixel of the outline band changed ... */
    for (gint y = BY; y < BY + BH; y++)
      for (gint x = BX; x < BX + BW; x++) {
        gboolean on_outline = x < BX + T || x >= BX + BW - T || y < BY + T || y >= BY + BH - T;
        if (on_outline)
          fail_unless (pixel_changed (&frame, x, y), "%s: outline pixel %d,%d unchanged",
                       formats[f], x, y);
      }
    /* ... the inside did not (one pixel margin for 2x2 chroma samples that
     * straddle the outline), nor did the rest of the frame away from the
     * box (no label drawn, show-labels=false). */
    for (gint y = 0; y < H; y++)
      for (gint x = 0; x < W; x++) {
        gboolean inside = x >= BX + T + 2 && x < BX + BW - T - 2 && y >= BY + T + 2
                          && y < BY + BH - T - 2;
        gboolean outside = x < BX - 2 || x >= BX + BW + 2 || y < BY - 2 || y >= BY + BH + 2;
        if (inside || outside)
          fail_if (pixel_changed (&frame, x, y), "%s: pixel %d,%d changed", formats[f], x, y);
      }

    gst_video_frame_unmap (&frame);
    gst_buffer_unref (out);
    gst_harness_teardown (h);
  }
}
GST_END_TEST

static gint
count_changed (GstVideoFrame *frame, gint x0, gint y0, gint x1, gint y1)
{
  gint n = 0;

  for (gint y = MAX (y0, 0); y < MIN (y1, H); y++)
    for (gint x = MAX (x0, 0); x < MIN (x1, W); x++)
      n += pixel_changed (frame, x, y);
  return n;
}

/* A label tag appears above the box with labels on, and nothing there
 * with labels and confidence off; a third-party meta (DL Streamer's
 * label_id + double confidence) is drawn the same way. */
GST_START_TEST (test_labels)
{
  const char *props[] = { "font-size=8", "font-size=8 show-labels=false show-confidence=false" };

  for (guint f = 0; f < G_N_ELEMENTS (formats); f++) {
    for (guint p = 0; p < G_N_ELEMENTS (props); p++) {
      GstVideoInfo info;
      GstHarness *h = overlay_harness (formats[f], props[p], &info);
      GstBuffer *in = blank_frame (&info), *out;
      GstVideoRegionOfInterestMeta *meta;
      GstVideoFrame frame;
      gint changed;

      meta = gst_buffer_add_video_region_of_interest_meta (in, "car", BX, BY, BW, BH);
      gst_video_region_of_interest_meta_add_param (meta,
          gst_structure_new ("detection", "label_id", G_TYPE_INT, 2,
                             "confidence", G_TYPE_DOUBLE, 0.75, NULL));
      out = gst_harness_push_and_pull (h, in);
      fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
      /* The 8-pixel-high tag sits right above the box. */
      changed = count_changed (&frame, BX, BY - 8, W, BY - 1);
      if (p == 0)
        fail_unless (changed > 20, "%s: label tag missing (%d pixels)", formats[f], changed);
      else
        fail_unless (changed == 0, "%s: %d pixels above the box", formats[f], changed);
      gst_video_frame_unmap (&frame);
      gst_buffer_unref (out);
      gst_harness_teardown (h);
    }
  }
}
GST_END_TEST

static void
outline_colour (const char *format, const char *label, gint class_id, guint8 out[4])
{
  GstVideoInfo info;
  GstHarness *h = overlay_harness (format, "show-labels=false", &info);
  GstBuffer *in = blank_frame (&info), *buf;
  GstVideoRegionOfInterestMeta *meta;
  GstVideoFrame frame;

  meta = gst_buffer_add_video_region_of_interest_meta (in, label, BX, BY, BW, BH);
  if (class_id >= 0)
    gst_video_region_of_interest_meta_add_param (meta,
        gst_structure_new ("detection", "class-id", G_TYPE_INT, class_id, NULL));
  buf = gst_harness_push_and_pull (h, in);
  fail_unless (gst_video_frame_map (&frame, &info, buf, GST_MAP_READ));
  read_pixel (&frame, BX, BY, out);
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (buf);
  gst_harness_teardown (h);
}

/* One class, one colour (across frames and elements); classes differ. */
GST_START_TEST (test_stable_colours)
{
  guint8 a[4], b[4], c[4], d[4], e[4];

  outline_colour ("RGB", "person", 0, a);
  outline_colour ("RGB", "person", 0, b);
  outline_colour ("RGB", "bicycle", 1, c);
  outline_colour ("RGB", "dog", -1, d);
  outline_colour ("RGB", "dog", -1, e);
  fail_unless (memcmp (a, b, 3) == 0);
  fail_unless (memcmp (a, c, 3) != 0);
  fail_unless (memcmp (d, e, 3) == 0);
}
GST_END_TEST

/* Boxes leaving the frame, empty and huge ones are clipped, never written
 * out of bounds (run under valgrind/ASan to make that bite). */
GST_START_TEST (test_clipping)
{
  GstVideoInfo info;
  GstHarness *h = overlay_harness ("I420", "thickness=64 font-size=64", &info);
  GstBuffer *in = blank_frame (&info), *out;
  GstVideoFrame frame;

  gst_buffer_add_video_region_of_interest_meta (in, "edge", W - 5, H - 5, 1000, 1000);
  gst_buffer_add_video_region_of_interest_meta (in, "empty", 3, 3, 0, 0);
  gst_buffer_add_video_region_of_interest_meta (in, "huge", 0, 0, G_MAXUINT / 2, G_MAXUINT / 2);
  out = gst_harness_push_and_pull (h, in);
  fail_unless (gst_video_frame_map (&frame, &info, out, GST_MAP_READ));
  fail_unless (pixel_changed (&frame, W - 1, H - 1));
  gst_video_frame_unmap (&frame);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST

/* Frames without metadata are passed on untouched and unmapped. */
GST_START_TEST (test_no_meta_passthrough)
{
  GstVideoInfo info;
  GstHarness *h = overlay_harness ("NV12", "", &info);
  GstBuffer *in = blank_frame (&info), *out;
  GstMemory *mem = gst_buffer_peek_memory (in, 0);

  out = gst_harness_push_and_pull (h, in);
  fail_unless (gst_buffer_peek_memory (out, 0) == mem);
  gst_buffer_unref (out);
  gst_harness_teardown (h);
}
GST_END_TEST

GST_START_TEST (test_refuses_other_caps)
{
  GstHarness *h = gst_harness_new ("vqoverlay");
  GstCaps *caps = gst_caps_from_string ("video/x-raw,format=YUY2,width=64,height=48,framerate=30/1");

  gst_harness_set_src_caps (h, caps);
  fail_unless_equals_int (gst_harness_push (h, gst_buffer_new_allocate (NULL, 64 * 48 * 2, NULL)),
                          GST_FLOW_NOT_NEGOTIATED);
  gst_harness_teardown (h);
}
GST_END_TEST

static Suite *
vqoverlay_suite (void)
{
  Suite *s = suite_create ("vqoverlay");
  TCase *tc = tcase_create ("general");

  suite_add_tcase (s, tc);
  tcase_add_test (tc, test_box_every_format);
  tcase_add_test (tc, test_labels);
  tcase_add_test (tc, test_stable_colours);
  tcase_add_test (tc, test_clipping);
  tcase_add_test (tc, test_no_meta_passthrough);
  tcase_add_test (tc, test_refuses_other_caps);
  return s;
}

GST_CHECK_MAIN (vqoverlay)
