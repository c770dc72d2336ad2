/* Frame validation, pixel format names, and the model specs that
 * vq_preprocess_frame refuses: every bad input is an error naming the
 * problem, and nothing is written. */
#include <string.h>

#include "vqcore/error.h"
#include "vqcore/image.h"

static const vq_preprocess nanodet_pre = {
  VQ_COLOR_BGR, { 103.53f, 116.28f, 123.675f }, { 57.375f, 57.12f, 58.395f },
  VQ_RESIZE_LETTERBOX
};

static void
expect_invalid (const vq_frame *frame, const char *fragment)
{
  GError *error = NULL;
  g_assert_false (vq_frame_validate (frame, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == VQ_ERROR);
  g_assert_nonnull (strstr (error->message, fragment));
  g_clear_error (&error);

  /* vq_preprocess_frame validates too, and writes nothing. */
  vq_input_spec input = { 8, 8, 3 };
  float out[3 * 64];
  for (int i = 0; i < 3 * 64; i++)
    out[i] = 42.0f;
  g_assert_false (
    vq_preprocess_frame (frame, &input, &nanodet_pre, VQ_FIT_MODE_COUNT, out, NULL, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  for (int i = 0; i < 3 * 64; i++)
    g_assert_cmpfloat (out[i], ==, 42.0f);
}

static void
test_frame_validation (void)
{
  guint8 buf[64 * 64 * 4] = { 0 };
  expect_invalid (NULL, "no frame");
  vq_frame f = { VQ_PIXEL_RGB, 0, 4, { buf, NULL, NULL }, { 30, 0, 0 } };
  expect_invalid (&f, "size 0x4");
  f = (vq_frame) { VQ_PIXEL_RGB, 10, -3, { buf, NULL, NULL }, { 30, 0, 0 } };
  expect_invalid (&f, "size 10x-3");
  f = (vq_frame) { VQ_PIXEL_RGB, 10, 4, { NULL, NULL, NULL }, { 30, 0, 0 } };
  expect_invalid (&f, "plane 0 is missing");
  f = (vq_frame) { VQ_PIXEL_RGB, 10, 4, { buf, NULL, NULL }, { 29, 0, 0 } };
  expect_invalid (&f, "stride 29 of plane 0");
  f = (vq_frame) { VQ_PIXEL_BGRX, 10, 4, { buf, NULL, NULL }, { 39, 0, 0 } };
  expect_invalid (&f, "stride 39");
  f = (vq_frame) { VQ_PIXEL_RGB, 10, 4, { buf, NULL, NULL }, { -30, 0, 0 } };
  expect_invalid (&f, "stride -30");
  /* Odd width 11: chroma rows are 6 samples (12 bytes interleaved). */
  f = (vq_frame) { VQ_PIXEL_NV12, 11, 5, { buf, buf, NULL }, { 11, 11, 0 } };
  expect_invalid (&f, "stride 11 of plane 1");
  f = (vq_frame) { VQ_PIXEL_NV12, 11, 5, { buf, NULL, NULL }, { 11, 12, 0 } };
  expect_invalid (&f, "plane 1 is missing");
  f = (vq_frame) { VQ_PIXEL_I420, 11, 5, { buf, buf, buf }, { 11, 6, 5 } };
  expect_invalid (&f, "stride 5 of plane 2");
  f = (vq_frame) { VQ_PIXEL_I420, 11, 5, { buf, buf, NULL }, { 11, 6, 6 } };
  expect_invalid (&f, "plane 2 is missing");
  f = (vq_frame) { VQ_PIXEL_I420, 11, 5, { buf, buf, buf }, { 10, 6, 6 } };
  expect_invalid (&f, "stride 10 of plane 0");
  f = (vq_frame) { (vq_pixel_format) 99, 10, 4, { buf, NULL, NULL }, { 40, 0, 0 } };
  expect_invalid (&f, "unknown pixel format");
  f = (vq_frame) { VQ_PIXEL_RGB, 1 << 20, 1, { buf, NULL, NULL }, { 3 << 20, 0, 0 } };
  expect_invalid (&f, "exceeds the limit");

  /* The minimum strides are accepted. */
  GError *error = NULL;
  f = (vq_frame) { VQ_PIXEL_NV12, 11, 5, { buf, buf, NULL }, { 11, 12, 0 } };
  g_assert_true (vq_frame_validate (&f, &error));
  f = (vq_frame) { VQ_PIXEL_I420, 11, 5, { buf, buf, buf }, { 11, 6, 6 } };
  g_assert_true (vq_frame_validate (&f, &error));
  f = (vq_frame) { VQ_PIXEL_RGBA, 11, 5, { buf, NULL, NULL }, { 44, 0, 0 } };
  g_assert_true (vq_frame_validate (&f, &error));
  g_assert_no_error (error);
}

static void
test_bad_model_spec (void)
{
  guint8 buf[4 * 4 * 3] = { 0 };
  vq_frame f = { VQ_PIXEL_RGB, 4, 4, { buf, NULL, NULL }, { 12, 0, 0 } };
  float out[3 * 16];
  GError *error = NULL;
  vq_input_spec grey = { 4, 4, 1 };
  g_assert_false (vq_preprocess_frame (&f, &grey, &nanodet_pre, VQ_FIT_MODE_COUNT, out, NULL,
                                       &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  vq_input_spec input = { 4, 4, 3 };
  vq_preprocess zero_std = nanodet_pre;
  zero_std.std[1] = 0.0f;
  g_assert_false (vq_preprocess_frame (&f, &input, &zero_std, VQ_FIT_MODE_COUNT, out, NULL,
                                       &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "channel 1"));
  g_clear_error (&error);

  g_assert_false (vq_preprocess_frame (&f, &input, &nanodet_pre, VQ_FIT_MODE_COUNT, NULL, NULL,
                                       &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);
}

static void
test_format_names (void)
{
  for (int f = 0; f < VQ_PIXEL_FORMAT_COUNT; f++) {
    vq_pixel_format parsed = VQ_PIXEL_FORMAT_COUNT;
    const char *name = vq_pixel_format_name ((vq_pixel_format) f);
    g_assert_true (vq_pixel_format_parse (name, &parsed));
    g_assert_cmpint (parsed, ==, f);
    char *lower = g_ascii_strdown (name, -1);
    g_assert_true (vq_pixel_format_parse (lower, &parsed));
    g_assert_cmpint (parsed, ==, f);
    g_free (lower);
  }
  vq_pixel_format parsed;
  g_assert_false (vq_pixel_format_parse ("YUY2", &parsed));
  g_assert_false (vq_pixel_format_parse ("", &parsed));
  g_assert_false (vq_pixel_format_parse (NULL, &parsed));
  g_assert_cmpstr (vq_pixel_format_name ((vq_pixel_format) 42), ==, "unknown");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect/frame/validation", test_frame_validation);
  g_test_add_func ("/detect/frame/bad-model-spec", test_bad_model_spec);
  g_test_add_func ("/detect/frame/format-names", test_format_names);
  return g_test_run ();
}
