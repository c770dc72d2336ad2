/* error.c — VkResult to GError. */
#include "vulkan_private.h"

const char *
vq__vk_result_name (VkResult result)
{
  switch (result) {
#define CASE(r) \
  case r:       \
    return #r;
    CASE (VK_SUCCESS)
    CASE (VK_NOT_READY)
    CASE (VK_TIMEOUT)
    CASE (VK_EVENT_SET)
    CASE (VK_EVENT_RESET)
    CASE (VK_INCOMPLETE)
    CASE (VK_ERROR_OUT_OF_HOST_MEMORY)
    CASE (VK_ERROR_OUT_OF_DEVICE_MEMORY)
    CASE (VK_ERROR_INITIALIZATION_FAILED)
    CASE (VK_ERROR_DEVICE_LOST)
    CASE (VK_ERROR_MEMORY_MAP_FAILED)
    CASE (VK_ERROR_LAYER_NOT_PRESENT)
    CASE (VK_ERROR_EXTENSION_NOT_PRESENT)
    CASE (VK_ERROR_FEATURE_NOT_PRESENT)
    CASE (VK_ERROR_INCOMPATIBLE_DRIVER)
    CASE (VK_ERROR_TOO_MANY_OBJECTS)
    CASE (VK_ERROR_FORMAT_NOT_SUPPORTED)
    CASE (VK_ERROR_FRAGMENTED_POOL)
    CASE (VK_ERROR_UNKNOWN)
    CASE (VK_ERROR_OUT_OF_POOL_MEMORY)
    CASE (VK_ERROR_INVALID_EXTERNAL_HANDLE)
    CASE (VK_ERROR_FRAGMENTATION)
    CASE (VK_ERROR_INVALID_OPAQUE_CAPTURE_ADDRESS)
    CASE (VK_PIPELINE_COMPILE_REQUIRED)
#undef CASE
  default:
    return "unknown VkResult";
  }
}

static const char *
result_hint (VkResult result)
{
  switch (result) {
  case VK_ERROR_OUT_OF_DEVICE_MEMORY:
    return " (the Vulkan device is out of memory)";
  case VK_ERROR_OUT_OF_HOST_MEMORY:
    return " (out of host memory)";
  case VK_ERROR_DEVICE_LOST:
    return " (the Vulkan device was lost; recreate the engine)";
  case VK_ERROR_INCOMPATIBLE_DRIVER:
    return " (no Vulkan 1.1 driver)";
  default:
    return "";
  }
}

gboolean
vq__vk_check (VkResult result, const char *what, GError **error)
{
  if (result == VK_SUCCESS)
    return TRUE;
  g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND, "Vulkan: %s failed: %s (%d)%s", what,
               vq__vk_result_name (result), (int) result, result_hint (result));
  return FALSE;
}
