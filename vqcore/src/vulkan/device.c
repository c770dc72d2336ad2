/* device.c — instance, device choice, compute queue, validation messages.
 *
 * Device preference: a discrete GPU, then integrated, virtual, and a CPU
 * device (lavapipe) last; the caller may name one by index or by part of its
 * name. Only Vulkan 1.1 core is required; subgroup shuffles are used when the
 * device has them (ctx->subgroup_size), otherwise the general shaders run.
 */
#include "vulkan_private.h"

#include <stdlib.h>

/* All validation messages of the process, for tests that only see engines. */
static gint total_validation_messages;

int
vq__vk_validation_messages (void)
{
  return g_atomic_int_get (&total_validation_messages);
}

static VKAPI_ATTR VkBool32 VKAPI_CALL
on_validation_message (VkDebugUtilsMessageSeverityFlagBitsEXT severity,
                       VkDebugUtilsMessageTypeFlagsEXT type,
                       const VkDebugUtilsMessengerCallbackDataEXT *data, void *user_data)
{
  vq_vk_context *ctx = user_data;

  /* Every warning or error counts: the tests run with the Khronos validation
   * layer and require that it stays silent. */
  g_atomic_int_inc (&ctx->validation_messages);
  g_atomic_int_inc (&total_validation_messages);
  g_printerr ("vqcore Vulkan validation (%s): %s\n",
              severity >= VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT ? "error" : "warning",
              data && data->pMessage ? data->pMessage : "(no message)");
  return VK_FALSE;
}

static gboolean
has_instance_extension (vq_vk_functions *vk, const char *name)
{
  uint32_t count = 0;
  gboolean found = FALSE;

  if (vk->vkEnumerateInstanceExtensionProperties (NULL, &count, NULL) != VK_SUCCESS)
    return FALSE;
  VkExtensionProperties *props = g_new0 (VkExtensionProperties, count);
  if (vk->vkEnumerateInstanceExtensionProperties (NULL, &count, props) == VK_SUCCESS)
    for (uint32_t i = 0; i < count && !found; i++)
      found = strcmp (props[i].extensionName, name) == 0;
  g_free (props);
  return found;
}

static gboolean
create_instance (vq_vk_context *ctx, GError **error)
{
  gboolean debug_utils = has_instance_extension (&ctx->vk, VK_EXT_DEBUG_UTILS_EXTENSION_NAME);
  const char *extensions[] = {VK_EXT_DEBUG_UTILS_EXTENSION_NAME};
  VkApplicationInfo app = {
    .sType = VK_STRUCTURE_TYPE_APPLICATION_INFO,
    .pApplicationName = "vqdetect",
    .pEngineName = "vqcore",
    .apiVersion = VK_API_VERSION_1_1,
  };
  VkInstanceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_INSTANCE_CREATE_INFO,
    .pApplicationInfo = &app,
    .enabledExtensionCount = debug_utils ? 1 : 0,
    .ppEnabledExtensionNames = extensions,
  };
  if (!vq__vk_check (ctx->vk.vkCreateInstance (&info, NULL, &ctx->instance),
                     "creating the instance", error))
    return FALSE;
  vq__vk_load_instance_functions (&ctx->vk, ctx->instance);

  if (debug_utils && ctx->vk.vkCreateDebugUtilsMessengerEXT) {
    VkDebugUtilsMessengerCreateInfoEXT messenger = {
      .sType = VK_STRUCTURE_TYPE_DEBUG_UTILS_MESSENGER_CREATE_INFO_EXT,
      .messageSeverity = VK_DEBUG_UTILS_MESSAGE_SEVERITY_WARNING_BIT_EXT |
                         VK_DEBUG_UTILS_MESSAGE_SEVERITY_ERROR_BIT_EXT,
      .messageType = VK_DEBUG_UTILS_MESSAGE_TYPE_GENERAL_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_VALIDATION_BIT_EXT |
                     VK_DEBUG_UTILS_MESSAGE_TYPE_PERFORMANCE_BIT_EXT,
      .pfnUserCallback = on_validation_message,
      .pUserData = ctx,
    };
    if (!vq__vk_check (ctx->vk.vkCreateDebugUtilsMessengerEXT (ctx->instance, &messenger, NULL,
                                                               &ctx->messenger),
                       "creating the debug messenger", error))
      return FALSE;
  }
  return TRUE;
}

static int
type_rank (VkPhysicalDeviceType type)
{
  switch (type) {
  case VK_PHYSICAL_DEVICE_TYPE_DISCRETE_GPU:
    return 4;
  case VK_PHYSICAL_DEVICE_TYPE_INTEGRATED_GPU:
    return 3;
  case VK_PHYSICAL_DEVICE_TYPE_VIRTUAL_GPU:
    return 2;
  case VK_PHYSICAL_DEVICE_TYPE_CPU:
    return 1;
  default:
    return 0;
  }
}

static gboolean
compute_queue_family (vq_vk_context *ctx, VkPhysicalDevice physical, uint32_t *family,
                      uint32_t *timestamp_bits)
{
  uint32_t count = 0;
  gboolean found = FALSE;

  ctx->vk.vkGetPhysicalDeviceQueueFamilyProperties (physical, &count, NULL);
  VkQueueFamilyProperties *families = g_new0 (VkQueueFamilyProperties, count);
  ctx->vk.vkGetPhysicalDeviceQueueFamilyProperties (physical, &count, families);
  for (uint32_t i = 0; i < count && !found; i++)
    if (families[i].queueFlags & VK_QUEUE_COMPUTE_BIT) {
      *family = i;
      *timestamp_bits = families[i].timestampValidBits;
      found = TRUE;
    }
  g_free (families);
  return found;
}

static gboolean
usable (vq_vk_context *ctx, VkPhysicalDevice physical)
{
  VkPhysicalDeviceProperties props;
  uint32_t family, bits;

  ctx->vk.vkGetPhysicalDeviceProperties (physical, &props);
  return props.apiVersion >= VK_API_VERSION_1_1 &&
         compute_queue_family (ctx, physical, &family, &bits);
}

static gboolean
is_index (const char *text)
{
  if (!*text)
    return FALSE;
  for (const char *p = text; *p; p++)
    if (!g_ascii_isdigit (*p))
      return FALSE;
  return TRUE;
}

static gboolean
choose_device (vq_vk_context *ctx, const char *wanted, GError **error)
{
  uint32_t count = 0;
  VkResult result = ctx->vk.vkEnumeratePhysicalDevices (ctx->instance, &count, NULL);
  if (!vq__vk_check (result, "listing devices", error))
    return FALSE;
  if (count == 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND, "Vulkan: no Vulkan device exists");
    return FALSE;
  }
  VkPhysicalDevice *devices = g_new0 (VkPhysicalDevice, count);
  result = ctx->vk.vkEnumeratePhysicalDevices (ctx->instance, &count, devices);
  if (result == VK_INCOMPLETE)
    result = VK_SUCCESS;
  if (!vq__vk_check (result, "listing devices", error)) {
    g_free (devices);
    return FALSE;
  }

  int best = -1, best_rank = -1;
  GString *names = g_string_new (NULL);
  for (uint32_t i = 0; i < count; i++) {
    VkPhysicalDeviceProperties props;
    ctx->vk.vkGetPhysicalDeviceProperties (devices[i], &props);
    g_string_append_printf (names, "%s%u: %s", i ? ", " : "", i, props.deviceName);
    if (!usable (ctx, devices[i]))
      continue;
    if (wanted) {
      gboolean match;
      if (is_index (wanted)) {
        match = strtoul (wanted, NULL, 10) == i;
      } else {
        char *a = g_ascii_strdown (props.deviceName, -1), *b = g_ascii_strdown (wanted, -1);
        match = strstr (a, b) != NULL;
        g_free (a);
        g_free (b);
      }
      if (match && best < 0)
        best = (int) i;
    } else if (type_rank (props.deviceType) > best_rank) {
      best = (int) i;
      best_rank = type_rank (props.deviceType);
    }
  }
  if (best < 0) {
    if (wanted)
      g_set_error (error, VQ_ERROR, VQ_ERROR_NOT_FOUND,
                   "Vulkan: no usable device matches \"%s\" (devices: %s)", wanted, names->str);
    else
      g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                   "Vulkan: no device supports Vulkan 1.1 compute (devices: %s)", names->str);
  } else {
    ctx->physical = devices[best];
  }
  g_string_free (names, TRUE);
  g_free (devices);
  return best >= 0;
}

static void
query_subgroups (vq_vk_context *ctx)
{
  VkPhysicalDeviceSubgroupProperties subgroup = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_SUBGROUP_PROPERTIES,
  };
  VkPhysicalDeviceProperties2 props2 = {
    .sType = VK_STRUCTURE_TYPE_PHYSICAL_DEVICE_PROPERTIES_2,
    .pNext = &subgroup,
  };
  ctx->vk.vkGetPhysicalDeviceProperties2 (ctx->physical, &props2);
  /* conv2d_gemm exchanges weights within clusters of 8 lanes. */
  gboolean shuffle = (subgroup.supportedOperations & VK_SUBGROUP_FEATURE_SHUFFLE_BIT) &&
                     (subgroup.supportedStages & VK_SHADER_STAGE_COMPUTE_BIT);
  ctx->subgroup_size = shuffle && subgroup.subgroupSize >= 8 &&
                               subgroup.subgroupSize % 8 == 0
                         ? subgroup.subgroupSize
                         : 0;
}

static gboolean
create_device (vq_vk_context *ctx, GError **error)
{
  uint32_t timestamp_bits = 0;
  compute_queue_family (ctx, ctx->physical, &ctx->queue_family, &timestamp_bits);
  ctx->vk.vkGetPhysicalDeviceProperties (ctx->physical, &ctx->properties);
  ctx->vk.vkGetPhysicalDeviceMemoryProperties (ctx->physical, &ctx->memory);
  ctx->timestamp_period_ns = timestamp_bits ? ctx->properties.limits.timestampPeriod : 0.0;
  query_subgroups (ctx);

  float priority = 1.0f;
  VkDeviceQueueCreateInfo queue = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_QUEUE_CREATE_INFO,
    .queueFamilyIndex = ctx->queue_family,
    .queueCount = 1,
    .pQueuePriorities = &priority,
  };
  VkDeviceCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DEVICE_CREATE_INFO,
    .queueCreateInfoCount = 1,
    .pQueueCreateInfos = &queue,
  };
  if (!vq__vk_check (ctx->vk.vkCreateDevice (ctx->physical, &info, NULL, &ctx->device),
                     "creating the device", error))
    return FALSE;
  if (!vq__vk_load_device_functions (&ctx->vk, ctx->device, error))
    return FALSE;
  ctx->vk.vkGetDeviceQueue (ctx->device, ctx->queue_family, 0, &ctx->queue);

  VkCommandPoolCreateInfo pool = {
    .sType = VK_STRUCTURE_TYPE_COMMAND_POOL_CREATE_INFO,
    .flags = VK_COMMAND_POOL_CREATE_RESET_COMMAND_BUFFER_BIT,
    .queueFamilyIndex = ctx->queue_family,
  };
  VkFenceCreateInfo fence = {.sType = VK_STRUCTURE_TYPE_FENCE_CREATE_INFO};
  return vq__vk_check (ctx->vk.vkCreateCommandPool (ctx->device, &pool, NULL,
                                                    &ctx->command_pool),
                       "creating the command pool", error) &&
         vq__vk_check (ctx->vk.vkCreateFence (ctx->device, &fence, NULL, &ctx->fence),
                       "creating a fence", error);
}

/* The pipeline cache lives in $XDG_CACHE_HOME/vqdetect, one file per device
 * and driver version, so a second start skips shader compilation. */
static void
create_pipeline_cache (vq_vk_context *ctx)
{
  const VkPhysicalDeviceProperties *p = &ctx->properties;
  char *name = g_strdup_printf ("vulkan-pipelines-%04x-%04x-%08x.bin", p->vendorID,
                                p->deviceID, p->driverVersion);
  gchar *contents = NULL;
  gsize length = 0;

  if (!g_getenv ("VQ_VULKAN_NO_PIPELINE_CACHE"))
    ctx->pipeline_cache_path = g_build_filename (g_get_user_cache_dir (), "vqdetect", name, NULL);
  g_free (name);
  if (ctx->pipeline_cache_path)
    g_file_get_contents (ctx->pipeline_cache_path, &contents, &length, NULL);

  VkPipelineCacheCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_CACHE_CREATE_INFO,
    .initialDataSize = length,
    .pInitialData = contents,
  };
  /* The driver validates the header and ignores data from another device;
   * a cache that cannot be created only costs start-up time. */
  if (ctx->vk.vkCreatePipelineCache (ctx->device, &info, NULL, &ctx->pipeline_cache) !=
      VK_SUCCESS) {
    info.initialDataSize = 0;
    info.pInitialData = NULL;
    if (ctx->vk.vkCreatePipelineCache (ctx->device, &info, NULL, &ctx->pipeline_cache) !=
        VK_SUCCESS)
      ctx->pipeline_cache = VK_NULL_HANDLE;
  }
  g_free (contents);
}

vq_vk_context *
vq__vk_context_new (const char *device, GError **error)
{
  vq_vk_context *ctx = g_new0 (vq_vk_context, 1);

  if (!vq__vk_load_loader (&ctx->vk, &ctx->library, error) || !create_instance (ctx, error) ||
      !choose_device (ctx, device, error) || !create_device (ctx, error)) {
    vq__vk_context_free (ctx);
    return NULL;
  }
  create_pipeline_cache (ctx);
  return ctx;
}

void
vq__vk_context_free (vq_vk_context *ctx)
{
  if (!ctx)
    return;
  if (ctx->device) {
    ctx->vk.vkDeviceWaitIdle (ctx->device);
    if (ctx->pipeline_cache)
      ctx->vk.vkDestroyPipelineCache (ctx->device, ctx->pipeline_cache, NULL);
    if (ctx->fence)
      ctx->vk.vkDestroyFence (ctx->device, ctx->fence, NULL);
    if (ctx->command_pool)
      ctx->vk.vkDestroyCommandPool (ctx->device, ctx->command_pool, NULL);
    ctx->vk.vkDestroyDevice (ctx->device, NULL);
  }
  if (ctx->messenger)
    ctx->vk.vkDestroyDebugUtilsMessengerEXT (ctx->instance, ctx->messenger, NULL);
  if (ctx->instance)
    ctx->vk.vkDestroyInstance (ctx->instance, NULL);
  /* The loader stays loaded: drivers (lavapipe's LLVM among them) register
   * process-wide state that does not survive being unloaded. */
  g_free (ctx->pipeline_cache_path);
  g_free (ctx);
}
