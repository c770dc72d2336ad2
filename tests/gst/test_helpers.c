/* The GStreamer-free rules behind vqdetect: interval scheduling, late
 * frames, ROI and class parsing, the built-in font. */
#include <glib.h>

#include "vqfont.h"
#include "vqparams.h"
#include "vqschedule.h"

/* Interval N infers on frames 0, N, 2N, ... and counts the rest. */
static void
test_interval (void)
{
  for (guint interval = 1; interval <= 7; interval++) {
    vq__schedule s;
    guint inferred = 0;

    vq__schedule_reset (&s);
    for (guint frame = 0; frame < 100; frame++) {
      vq__frame_decision d = vq__schedule_next (&s, interval, FALSE);
      g_assert_cmpint (d == VQ__FRAME_INFER, ==, frame % interval == 0);
      if (d == VQ__FRAME_INFER) {
        vq__schedule_mark_inferred (&s);
        inferred++;
      }
      g_assert_cmpuint (vq__schedule_results_age (&s), ==, frame % interval);
      g_assert_cmpuint (s.frame_number, ==, frame + 1);
    }
    g_assert_cmpuint (s.frames_inferred, ==, inferred);
    g_assert_cmpuint (s.frames_inferred, ==, (100 + interval - 1) / interval);
    g_assert_cmpuint (s.frames_skipped, ==, 100 - s.frames_inferred);
  }
}

/* Late frames skip inference only when there are results to carry, and
 * a flush/caps change makes the next frame infer whatever the phase. */
static void
test_late_and_invalidate (void)
{
  vq__schedule s;

  vq__schedule_reset (&s);
  /* No results yet: even a late frame infers. */
  g_assert_cmpint (vq__schedule_next (&s, 1, TRUE), ==, VQ__FRAME_INFER);
  vq__schedule_mark_inferred (&s);
  g_assert_cmpint (vq__schedule_next (&s, 1, TRUE), ==, VQ__FRAME_SKIP_LATE);
  g_assert_cmpint (vq__schedule_next (&s, 1, TRUE), ==, VQ__FRAME_SKIP_LATE);
  g_assert_cmpuint (s.frames_late, ==, 2);
  g_assert_cmpuint (vq__schedule_results_age (&s), ==, 2);
  g_assert_cmpint (vq__schedule_next (&s, 1, FALSE), ==, VQ__FRAME_INFER);
  vq__schedule_mark_inferred (&s);

  /* Mid-interval invalidation: the very next frame infers. */
  g_assert_cmpint (vq__schedule_next (&s, 5, FALSE), ==, VQ__FRAME_SKIP_INTERVAL);
  vq__schedule_invalidate (&s);
  g_assert_cmpint (vq__schedule_next (&s, 5, FALSE), ==, VQ__FRAME_INFER);
  g_assert_cmpuint (s.frame_number, ==, 6); /* counters keep running */
  /* interval 0 is treated as 1, never a division by zero or a stall. */
  vq__schedule_mark_inferred (&s);
  g_assert_cmpint (vq__schedule_next (&s, 0, FALSE), ==, VQ__FRAME_INFER);
}

static void
test_roi_parse (void)
{
  const char *bad[] = { "1,2,3", "1,2,3,4,5", "a,b,c,d", "-1,0,10,10", "0,0,0,10",
                        "0,0,10,-5", "0,0,10,99999999999", "1,,2,3", "1.5,0,2,2" };
  vq__rect r;
  gboolean set = TRUE;
  GError *error = NULL;

  g_assert_true (vq__roi_parse (NULL, &r, &set, &error));
  g_assert_false (set);
  g_assert_true (vq__roi_parse("  ", &r, &set, &error));
  g_assert_false (set);
  g_assert_true (vq__roi_parse (" 10, 20 ,300,200 ", &r, &set, &error));
  g_assert_true (set);
  g_assert_cmpint (r.x, ==, 10);
  g_assert_cmpint (r.y, ==, 20);
  g_assert_cmpint (r.width, ==, 300);
  g_assert_cmpint (r.height, ==, 200);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++) {
    g_assert_false (vq__roi_parse (bad[i], &r, &set, &error));
    g_assert_nonnull (strstr (error->message, bad[i]));
    g_clear_error (&error);
  }
}

static void
test_roi_clip (void)
{
  vq__rect roi = { 101, 51, 1000, 20 }, out;

  /* Odd origin aligned down for 4:2:0, size cut at the frame edge. */
  g_assert_true (vq__roi_clip (&roi, 640, 480, 2, &out));
  g_assert_cmpint (out.x, ==, 100);
  g_assert_cmpint (out.y, ==, 50);
  g_assert_cmpint (out.width, ==, 540);
  g_assert_cmpint (out.height, ==, 21);
  g_assert_true (vq__roi_clip (&roi, 640, 480, 1, &out));
  g_assert_cmpint (out.x, ==, 101);
  g_assert_cmpint (out.width, ==, 539);
  /* Entirely outside: nothing to run on. */
  roi = (vq__rect) { 700, 0, 10, 10 };
  g_assert_false (vq__roi_clip (&roi, 640, 480, 1, &out));
  roi = (vq__rect) { G_MAXINT - 5, G_MAXINT - 5, G_MAXINT, G_MAXINT };
  g_assert_false (vq__roi_clip (&roi, 640, 480, 2, &out));
}

static void
test_classes (void)
{
  const char *labels[] = { "person", "bicycle", "car", "traffic light", NULL };
  vq__class_filter *filter = NULL;
  GError *error = NULL;

  g_assert_true (vq__class_filter_parse (NULL, labels, 4, &filter, &error));
  g_assert_null (filter);
  g_assert_true (vq__class_filter_keeps (filter, 3));
  g_assert_true (vq__class_filter_parse (" , ", labels, 4, &filter, &error));
  g_assert_null (filter);

  g_assert_true (vq__class_filter_parse ("Person, traffic light,1", labels, 4, &filter, &error));
  g_assert_no_error (error);
  g_assert_true (vq__class_filter_keeps (filter, 0));
  g_assert_true (vq__class_filter_keeps (filter, 1));
  g_assert_false (vq__class_filter_keeps (filter, 2));
  g_assert_true (vq__class_filter_keeps (filter, 3));
  g_assert_false (vq__class_filter_keeps (filter, 4));
  g_assert_false (vq__class_filter_keeps (filter, -1));
  vq__class_filter_free (filter);

  /* Unknown names and out-of-range ids are named in the error. */
  g_assert_false (vq__class_filter_parse ("person,unicorn,7", labels, 4, &filter, &error));
  g_assert_null (filter);
  g_assert_nonnull (strstr (error->message, "no class \"unicorn\", \"7\" "));
  g_clear_error (&error);
}

/* Every printable glyph has ink, stays inside its 5x7 box, and differs
 * from the others (a typo in the table would make two characters alike). */
static void
test_font (void)
{
  for (char c = 33; c < 127; c++) {
    guint ink = 0;

    for (guint col = 0; col < VQ__FONT_GLYPH_W; col++) {
      g_assert_cmpuint (vq__font_glyph (c)[col] & 0x80, ==, 0);
      for (guint row = 0; row < VQ__FONT_GLYPH_H; row++)
        ink += vq__font_pixel (c, col, row);
    }
    g_assert_cmpuint (ink, >, 0);
    for (char d = 33; d < c; d++)
      g_assert_true (memcmp (vq__font_glyph (c), vq__font_glyph (d), VQ__FONT_GLYPH_W) != 0);
  }
  /* Outside the table: '?' rather than a read past it. */
  g_assert_true (vq__font_glyph ('\x01') == vq__font_glyph ('?'));
  g_assert_true (vq__font_glyph ((char) 0xE9) == vq__font_glyph ('?'));
  g_assert_false (vq__font_pixel ('A', 5, 0));
  g_assert_false (vq__font_pixel ('A', 0, 7));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/gst/helpers/interval", test_interval);
  g_test_add_func ("/gst/helpers/late-and-invalidate", test_late_and_invalidate);
  g_test_add_func ("/gst/helpers/roi-parse", test_roi_parse);
  g_test_add_func ("/gst/helpers/roi-clip", test_roi_clip);
  g_test_add_func ("/gst/helpers/classes", test_classes);
  g_test_add_func ("/gst/helpers/font", test_font);
  return g_test_run ();
}
