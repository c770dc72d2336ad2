/* adapter.c — the Vulkan engine behind the engine API: backend AUTO's
 * device policy, and the vq__backend table engine.c dispatches through
 * (including the optional device preprocessing and decoding entries). */
#include "backend.h"

#include "cpu/backend.h"

/* Backend AUTO's policy, in one place. A CPU-type Vulkan device (lavapipe)
 * is declined unless the caller named a device: on this project's test
 * machine (2 cores, AVX-512) NanoDet-416 costs ~0.19 CPU-s per frame through
 * lavapipe and ~0.05 through the native CPU engine (`vq bench`, float and
 * VQ models alike), so the CPU engine is the faster choice wherever lavapipe
 * is the best device. Any
 * other device type (discrete, integrated, virtual GPU) is taken. Returns
 * NULL when AUTO takes the device, else why not (g_free). */
char *
vq__vk_auto_declines (const vq_vk_context *ctx)
{
  if (ctx->properties.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU)
    return NULL;
  return g_strdup_printf ("the best Vulkan device, %s, is a CPU device (software "
                          "rasterizer), where the native CPU engine is faster; name it "
                          "(device option) to use it anyway",
                          ctx->properties.deviceName);
}

char *
vq__vk_auto_choice (const char *device)
{
  GError *error = NULL;
  vq_vk_context *ctx = vq__vk_context_new (device, &error);
  char *why;

  if (!ctx) {
    why = g_strdup_printf ("no usable Vulkan device (%s)", error->message);
    g_error_free (error);
    return why;
  }
  why = device ? NULL : vq__vk_auto_declines (ctx);
  if (!why)
    why = g_strdup_printf ("Vulkan device %s (%s)", ctx->properties.deviceName,
                           ctx->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU
                             ? "a CPU device, named explicitly"
                             : "a GPU");
  vq__vk_context_free (ctx);
  return why;
}

/* The vq__backend adapter for engine.c. */

static void *
vulkan_create (const vq_model *model, const vq_engine_options *options, GError **error)
{
  /* Under AUTO a CPU Vulkan device (lavapipe) is declined unless named
   * (vq__vk_auto_declines() has the policy and its measurements). */
  gboolean decline_cpu = options->backend == VQ_BACKEND_AUTO && !options->device;
  return vq__vk_engine_new_full (model->graph, options->device, options->reuse_buffers,
                                 options->precision, decline_cpu, error);
}

static void
vulkan_destroy (void *state)
{
  vq__vk_engine_free (state);
}

static gboolean
vulkan_run (void *state, const float *input, GError **error)
{
  return vq__vk_engine_run (state, input, error);
}

static vq_tensor_view
vulkan_output (void *state, uint32_t index)
{
  return vq__vk_engine_output_view (state, index);
}

static gboolean
vulkan_read_value (void *state, uint32_t value_id, float *out)
{
  return vq__vk_engine_read_value (state, value_id, out);
}

static const char *
vulkan_device_name (const void *state)
{
  return vq__vk_engine_device_name (state);
}

static size_t
vulkan_activation_bytes (const void *state)
{
  return vq__vk_engine_arena_bytes (state);
}

static const char *
vulkan_precision_name (const void *state)
{
  return vq__vk_engine_activation_type (state);
}

static gboolean
vulkan_run_frame (void *state, const vq_frame *frame, const vq_input_spec *input,
                  const vq_preprocess *pre, vq_fit_mode fit, vq_letterbox *mapping,
                  GError **error)
{
  return vq__vk_engine_run_frame (state, frame, input, pre, fit, mapping, error);
}

static gboolean
vulkan_decode (void *state, const vq_model *model, const vq_decode_options *options,
               GArray *out, gboolean *done, GError **error)
{
  return vq__vk_engine_decode (state, model, options, out, done, error);
}

const vq__backend vq__vulkan_backend = {
  .name = "vulkan",
  .create = vulkan_create,
  .destroy = vulkan_destroy,
  .run = vulkan_run,
  .output = vulkan_output,
  .read_value = vulkan_read_value,
  .device_name = vulkan_device_name,
  .activation_bytes = vulkan_activation_bytes,
  .run_frame = vulkan_run_frame,
  .decode = vulkan_decode,
  .precision_name = vulkan_precision_name,
};
