/* loader.c — opens the Vulkan loader at run time and resolves entry points,
 * so that a missing libvulkan is an error the caller can handle (and fall
 * back to the CPU engine) instead of a program that does not start. */
#include "vulkan_private.h"

#include <dlfcn.h>

gboolean
vq__vk_load_loader (vq_vk_functions *vk, void **library, GError **error)
{
  static const char *const names[] = {"libvulkan.so.1", "libvulkan.so"};
  void *handle = NULL;

  for (gsize i = 0; i < G_N_ELEMENTS (names) && !handle; i++)
    handle = dlopen (names[i], RTLD_NOW | RTLD_LOCAL);
  if (!handle) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                 "Vulkan: no Vulkan loader (libvulkan.so.1) could be opened: %s", dlerror ());
    return FALSE;
  }
  /* ISO C forbids converting void * to a function pointer; go through a
   * union like every dlsym() user that compiles with -pedantic. */
  union {
    void *object;
    PFN_vkGetInstanceProcAddr function;
  } symbol;
  symbol.object = dlsym (handle, "vkGetInstanceProcAddr");
  if (!symbol.object) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                 "Vulkan: the loader has no vkGetInstanceProcAddr");
    dlclose (handle);
    return FALSE;
  }
  memset (vk, 0, sizeof *vk);
  vk->vkGetInstanceProcAddr = symbol.function;
#define LOAD_GLOBAL(name) vk->name = (PFN_##name) vk->vkGetInstanceProcAddr (NULL, #name);
  VQ_VK_GLOBAL_FUNCTIONS (LOAD_GLOBAL)
#undef LOAD_GLOBAL
  if (!vk->vkCreateInstance || !vk->vkEnumerateInstanceExtensionProperties) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                 "Vulkan: the loader lacks vkCreateInstance");
    dlclose (handle);
    return FALSE;
  }
  *library = handle;
  return TRUE;
}

void
vq__vk_load_instance_functions (vq_vk_functions *vk, VkInstance instance)
{
#define LOAD_INSTANCE(name) vk->name = (PFN_##name) vk->vkGetInstanceProcAddr (instance, #name);
  VQ_VK_INSTANCE_FUNCTIONS (LOAD_INSTANCE)
  LOAD_INSTANCE (vkCreateDebugUtilsMessengerEXT)
  LOAD_INSTANCE (vkDestroyDebugUtilsMessengerEXT)
#undef LOAD_INSTANCE
}

gboolean
vq__vk_load_device_functions (vq_vk_functions *vk, VkDevice device, GError **error)
{
  const char *missing = NULL;
#define LOAD_DEVICE(name)                                                  \
  vk->name = (PFN_##name) vk->vkGetDeviceProcAddr (device, #name);         \
  if (!vk->name && !missing)                                               \
    missing = #name;
  VQ_VK_DEVICE_FUNCTIONS (LOAD_DEVICE)
#undef LOAD_DEVICE
  if (missing) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND, "Vulkan: the driver lacks %s", missing);
    return FALSE;
  }
  return TRUE;
}
