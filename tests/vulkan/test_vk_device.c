/* The Vulkan runtime: device choice by index and name, errors as GErrors
 * (unknown device, VkResult mapping, impossible allocations, out-of-range
 * transfers), buffer round trips, and the engine API's Vulkan errors. */
#include "vk_test.h"

#include "backend.h"
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

static void
test_auto_policy (void)
{
  /* AUTO takes a GPU and declines a CPU device unless it is named; the
   * explanation says which case applied. */
  gboolean cpu_device = ctx->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  char *unnamed = vq__vk_auto_choice (NULL);
  char *named = vq__vk_auto_choice ("0");
  char *missing = vq__vk_auto_choice ("no-such-gpu-anywhere");

  g_test_message ("auto: %s / named: %s / missing: %s", unnamed, named, missing);
  g_assert_nonnull (strstr (unnamed, ctx->properties.deviceName));
  g_assert_true ((strstr (unnamed, "native CPU engine is faster") != NULL) == cpu_device);
  g_assert_nonnull (strstr (named, cpu_device ? "named explicitly" : "a GPU"));
  g_assert_nonnull (strstr (missing, "no usable Vulkan device"));
  g_free (unnamed);
  g_free (named);
  g_free (missing);

  /* The engine API follows the same policy. */
  vq_model model = {0};
  vq_engine_options options;
  GError *error = NULL;
  model.graph = vq_graph_new ();
  vq_shape shape = vq_shape_4d (1, 4, 2, 2);
  uint32_t v = vq_graph_add_value (model.graph, "x", &shape);
  uint32_t w = vq_graph_add_value (model.graph, "y", &shape);
  vq_node node;
  vq_node_init (&node, VQ_OP_ACTIVATION, "relu");
  node.act = VQ_ACT_RELU;
  node.n_inputs = node.n_outputs = 1;
  node.inputs[0] = v;
  node.outputs[0] = w;
  vq_graph_add_node (model.graph, &node);
  vq_graph_add_input (model.graph, v);
  vq_graph_add_output (model.graph, w);
  g_assert_true (vq_graph_validate (model.graph, &error));
  vq_engine_options_init (&options);
  vq_engine *engine = vq_engine_new (&model, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vq_engine_backend_name (engine), ==, cpu_device ? "cpu" : "vulkan");
  vq_engine_free (engine);
  options.device = "0";
  engine = vq_engine_new (&model, &options, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vq_engine_backend_name (engine), ==, "vulkan");
  vq_engine_free (engine);
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
  g_test_add_func ("/vulkan/device/auto-policy", test_auto_policy);
  int status = g_test_run ();
  g_assert_cmpint (g_atomic_int_get (&ctx->validation_messages), ==, 0);
  vq__vk_context_free (ctx);
  return status;
}
