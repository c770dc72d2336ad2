/* The Vulkan runtime: device choice by index and name, errors as GErrors
 * (unknown device, VkResult mapping, impossible allocations, out-of-range
 * transfers), buffer round trips, and the engine API's Vulkan errors. */
#include "vk_test.h"

#include "vqcore/engine.h"

static vq_vk_context *ctx;

static void
test_choose_by_index_and_name (void)
{
  GError *error = NULL;
  vq_vk_context *by_index = vq__vk_context_new ("0", &error);
  g_assert_no_error (error);
  /* The first word of the device's name selects it too, in any case. */
  char **words = g_strsplit (by_index->properties.deviceName, " ", 2);
  char *upper = g_ascii_strup (words[0], -1);
  vq_vk_context *by_name = vq__vk_context_new (upper, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (by_name->properties.deviceName, ==, by_index->properties.deviceName);
  g_assert_cmpint (by_index->validation_messages + by_name->validation_messages, ==, 0);
  g_free (upper);
  g_strfreev (words);
  vq__vk_context_free (by_name);
  vq__vk_context_free (by_index);
}

static void
test_unknown_device (void)
{
  GError *error = NULL;
  g_assert_null (vq__vk_context_new ("no-such-gpu-anywhere", &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_NOT_FOUND);
  /* The message names what was asked for and what exists. */
  g_assert_nonnull (strstr (error->message, "no-such-gpu-anywhere"));
  g_assert_nonnull (strstr (error->message, ctx->properties.deviceName));
  g_clear_error (&error);
  g_assert_null (vq__vk_context_new ("999", &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_NOT_FOUND);
  g_clear_error (&error);
}

static void
test_result_mapping (void)
{
  GError *error = NULL;
  g_assert_true (vq__vk_check (VK_SUCCESS, "nothing", &error));
  g_assert_no_error (error);
  g_assert_false (vq__vk_check (VK_ERROR_DEVICE_LOST, "submitting", &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_BACKEND);
  g_assert_nonnull (strstr (error->message, "VK_ERROR_DEVICE_LOST"));
  g_assert_nonnull (strstr (error->message, "submitting"));
  g_clear_error (&error);
  g_assert_false (vq__vk_check (VK_ERROR_OUT_OF_DEVICE_MEMORY, "allocating", &error));
  g_assert_nonnull (strstr (error->message, "out of memory"));
  g_clear_error (&error);
  g_assert_false (vq__vk_check ((VkResult) -123456, "x", &error));
  g_assert_nonnull (strstr (error->message, "unknown VkResult"));
  g_clear_error (&error);
}

static void
test_buffer_round_trip_and_bounds (void)
{
  GError *error = NULL;
  vq_vk_buffer buffer;
  float *data = vq_vk_test_random (1000, 3, 10.0f), back[1000];

  g_assert_true (vq__vk_buffer_init (ctx, &buffer, sizeof back, false, &error));
  g_assert_true (vq__vk_buffer_write (ctx, &buffer, 0, data, sizeof back, &error));
  g_assert_true (vq__vk_buffer_read (ctx, &buffer, 0, back, sizeof back, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (data, sizeof back, back, sizeof back);
  g_assert_false (vq__vk_buffer_write (ctx, &buffer, 8, data, sizeof back, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);
  vq__vk_buffer_clear (ctx, &buffer);
  g_free (data);

  /* A petabyte: a clear error, never an abort. */
  g_assert_false (vq__vk_buffer_init (ctx, &buffer, (VkDeviceSize) 1 << 50, false, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_BACKEND);
  g_test_message ("%s", error->message);
  g_clear_error (&error);
  g_assert_cmpint (g_atomic_int_get (&ctx->validation_messages), ==, 0);
}

static void
test_engine_errors (void)
{
  vq_model model = {0};
  vq_engine_options options;
  GError *error = NULL;

  model.graph = vq_graph_new ();
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_VULKAN;
  options.device = "no-such-gpu-anywhere";
  g_assert_null (vq_engine_new (&model, &options, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_NOT_FOUND);
  g_clear_error (&error);
  vq_graph_free (model.graph);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ctx = vq_vk_test_context ();
  g_test_add_func ("/vulkan/device/choose-by-index-and-name", test_choose_by_index_and_name);
  g_test_add_func ("/vulkan/device/unknown-device", test_unknown_device);
  g_test_add_func ("/vulkan/device/result-mapping", test_result_mapping);
  g_test_add_func ("/vulkan/device/buffer-round-trip-and-bounds",
                   test_buffer_round_trip_and_bounds);
  g_test_add_func ("/vulkan/device/engine-errors", test_engine_errors);
  int status = g_test_run ();
  g_assert_cmpint (g_atomic_int_get (&ctx->validation_messages), ==, 0);
  vq__vk_context_free (ctx);
  return status;
}
