/* vulkan_private.h — the Vulkan compute runtime behind VQ_BACKEND_VULKAN.
 *
 * The Vulkan loader is opened at run time (dlopen), so libvqcore starts and
 * falls back to the CPU engine on machines without one. Every Vulkan entry
 * point is called through the function table in vq_vk_context; every
 * VkResult that is not VK_SUCCESS becomes a GError (VQ_ERROR_BACKEND).
 */
#ifndef VQ_VULKAN_PRIVATE_H
#define VQ_VULKAN_PRIVATE_H

#define VK_NO_PROTOTYPES
#include <vulkan/vulkan.h>

#include <glib.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "vqcore/error.h"
#include "vqcore/engine.h"
#include "vqcore/graph.h"

/* Entry points resolved from the loader before an instance exists. */
#define VQ_VK_GLOBAL_FUNCTIONS(X)                                                     \
  X (vkCreateInstance)                                                                \
  X (vkEnumerateInstanceExtensionProperties)                                          \
  X (vkEnumerateInstanceLayerProperties)

#define VQ_VK_INSTANCE_FUNCTIONS(X)                                                   \
  X (vkDestroyInstance)                                                               \
  X (vkEnumeratePhysicalDevices)                                                      \
  X (vkGetPhysicalDeviceProperties)                                                   \
  X (vkGetPhysicalDeviceProperties2)                                                  \
  X (vkGetPhysicalDeviceFeatures2)                                                    \
  X (vkGetPhysicalDeviceQueueFamilyProperties)                                        \
  X (vkGetPhysicalDeviceMemoryProperties)                                             \
  X (vkGetPhysicalDeviceFormatProperties)                                             \
  X (vkCreateDevice)                                                                  \
  X (vkGetDeviceProcAddr)

#define VQ_VK_DEVICE_FUNCTIONS(X)                                                     \
  X (vkDestroyDevice)                                                                 \
  X (vkGetDeviceQueue)                                                                \
  X (vkDeviceWaitIdle)                                                                \
  X (vkCreateBuffer)                                                                  \
  X (vkDestroyBuffer)                                                                 \
  X (vkGetBufferMemoryRequirements)                                                   \
  X (vkAllocateMemory)                                                                \
  X (vkFreeMemory)                                                                    \
  X (vkBindBufferMemory)                                                              \
  X (vkMapMemory)                                                                     \
  X (vkUnmapMemory)                                                                   \
  X (vkFlushMappedMemoryRanges)                                                       \
  X (vkInvalidateMappedMemoryRanges)                                                  \
  X (vkCreateBufferView)                                                              \
  X (vkDestroyBufferView)                                                             \
  X (vkCreateShaderModule)                                                            \
  X (vkDestroyShaderModule)                                                           \
  X (vkCreateDescriptorSetLayout)                                                     \
  X (vkDestroyDescriptorSetLayout)                                                    \
  X (vkCreatePipelineLayout)                                                          \
  X (vkDestroyPipelineLayout)                                                         \
  X (vkCreateComputePipelines)                                                        \
  X (vkDestroyPipeline)                                                               \
  X (vkCreatePipelineCache)                                                           \
  X (vkDestroyPipelineCache)                                                          \
  X (vkGetPipelineCacheData)                                                          \
  X (vkCreateDescriptorPool)                                                          \
  X (vkDestroyDescriptorPool)                                                         \
  X (vkAllocateDescriptorSets)                                                        \
  X (vkUpdateDescriptorSets)                                                          \
  X (vkCreateCommandPool)                                                             \
  X (vkDestroyCommandPool)                                                            \
  X (vkAllocateCommandBuffers)                                                        \
  X (vkFreeCommandBuffers)                                                            \
  X (vkBeginCommandBuffer)                                                            \
  X (vkEndCommandBuffer)                                                              \
  X (vkCmdBindPipeline)                                                               \
  X (vkCmdBindDescriptorSets)                                                         \
  X (vkCmdDispatch)                                                                   \
  X (vkCmdPipelineBarrier)                                                            \
  X (vkCmdCopyBuffer)                                                                 \
  X (vkCmdFillBuffer)                                                                 \
  X (vkCmdWriteTimestamp)                                                             \
  X (vkCmdResetQueryPool)                                                             \
  X (vkCreateQueryPool)                                                               \
  X (vkDestroyQueryPool)                                                              \
  X (vkGetQueryPoolResults)                                                           \
  X (vkQueueSubmit)                                                                   \
  X (vkCreateFence)                                                                   \
  X (vkDestroyFence)                                                                  \
  X (vkWaitForFences)                                                                 \
  X (vkResetFences)

#define VQ_VK_DECLARE(name) PFN_##name name;

typedef struct {
  PFN_vkGetInstanceProcAddr vkGetInstanceProcAddr;
  VQ_VK_GLOBAL_FUNCTIONS (VQ_VK_DECLARE)
  VQ_VK_INSTANCE_FUNCTIONS (VQ_VK_DECLARE)
  VQ_VK_DEVICE_FUNCTIONS (VQ_VK_DECLARE)
  /* VK_EXT_debug_utils; NULL when the extension is absent. */
  PFN_vkCreateDebugUtilsMessengerEXT vkCreateDebugUtilsMessengerEXT;
  PFN_vkDestroyDebugUtilsMessengerEXT vkDestroyDebugUtilsMessengerEXT;
} vq_vk_functions;

/* One Vulkan device, its compute queue and what the shaders need to know
 * about it. */
typedef struct {
  void *library; /* the dlopen()ed loader */
  vq_vk_functions vk;
  VkInstance instance;
  VkDebugUtilsMessengerEXT messenger;
  VkPhysicalDevice physical;
  VkPhysicalDeviceProperties properties;
  VkPhysicalDeviceMemoryProperties memory;
  uint32_t subgroup_size;   /* 0 when subgroup shuffles are unavailable */
  VkDevice device;
  VkQueue queue;
  uint32_t queue_family;
  VkCommandPool command_pool;
  VkFence fence;
  VkPipelineCache pipeline_cache;
  char *pipeline_cache_path; /* NULL: the cache is not persisted */
  double timestamp_period_ns; /* 0 when the queue has no timestamps */
  /* Activations stored as RGBA16F texels instead of RGBA32F (activations.c);
   * chosen by the engine before it creates pipelines, false otherwise. */
  bool fp16_activations;
  /* Validation-layer messages of severity warning or error seen so far
   * (tests assert that this stays 0). */
  gint validation_messages;
} vq_vk_context;

/* error.c */
const char *vq__vk_result_name (VkResult result);
/* Sets `error` to "<what>: <VkResult name>" unless result is VK_SUCCESS;
 * returns TRUE on success. */
gboolean vq__vk_check (VkResult result, const char *what, GError **error);

/* loader.c */
gboolean vq__vk_load_loader (vq_vk_functions *vk, void **library, GError **error);
void vq__vk_load_instance_functions (vq_vk_functions *vk, VkInstance instance);
gboolean vq__vk_load_device_functions (vq_vk_functions *vk, VkDevice device, GError **error);

/* device.c. `device` selects a device by index ("0") or by a case-insensitive
 * substring of its name; NULL picks discrete, then integrated, virtual, CPU. */
vq_vk_context *vq__vk_context_new (const char *device, GError **error);
void vq__vk_context_free (vq_vk_context *ctx);
/* Validation warnings and errors seen by every context of the process. */
int vq__vk_validation_messages (void);

/* activations.c. Sets ctx->fp16_activations as `precision` asks; AUTO: fp16
 * on CPU devices, where it measured faster, unless VQ_VK_FP16_ACTIVATIONS=0|1
 * says otherwise. Fails when fp16 is asked for and the device lacks it. */
gboolean vq__vk_activations_choose (vq_vk_context *ctx, vq_precision precision,
                                    GError **error);
VkFormat vq__vk_activation_format (const vq_vk_context *ctx);
uint32_t vq__vk_activation_texel_bytes (const vq_vk_context *ctx);
/* A copy of a shader's SPIR-V whose rgba32f storage texel buffers are
 * rgba16f when activations are fp16 (g_free), or NULL: use it as it is. */
uint32_t *vq__vk_spirv_for_activations (const vq_vk_context *ctx, const uint32_t *code,
                                        size_t bytes);
/* n packed fp32 values to / from the arena's texel format. */
void vq__vk_encode_activations (const vq_vk_context *ctx, void *dst, const float *src, gsize n);
void vq__vk_decode_activations (const vq_vk_context *ctx, float *dst, const void *src, gsize n);

/* buffer.c */
typedef struct {
  VkBuffer buffer;
  VkDeviceMemory memory;
  VkDeviceSize size;
  void *mapped; /* non-NULL when the memory is host-visible and mapped */
  bool coherent;
  bool cached; /* host reads through `mapped` are cached (fast) */
} vq_vk_buffer;

/* Device buffer usable as storage/uniform texel buffer and transfer target. */
gboolean vq__vk_buffer_init (vq_vk_context *ctx, vq_vk_buffer *buffer, VkDeviceSize size,
                             bool host_visible, GError **error);
void vq__vk_buffer_clear (vq_vk_context *ctx, vq_vk_buffer *buffer);
/* Copies bytes into / out of a buffer (through a staging buffer when the
 * memory is not mappable, and for reads when it is mapped but uncached). */
gboolean vq__vk_buffer_write (vq_vk_context *ctx, vq_vk_buffer *buffer, VkDeviceSize offset,
                              const void *data, VkDeviceSize size, GError **error);
gboolean vq__vk_buffer_read (vq_vk_context *ctx, vq_vk_buffer *buffer, VkDeviceSize offset,
                             void *data, VkDeviceSize size, GError **error);
gboolean vq__vk_buffer_view (vq_vk_context *ctx, vq_vk_buffer *buffer, VkFormat format,
                             VkDeviceSize offset, VkDeviceSize range, VkBufferView *view,
                             GError **error);

/* command.c */
gboolean vq__vk_command_begin (vq_vk_context *ctx, VkCommandBuffer *cmd, GError **error);
/* Ends recording. */
gboolean vq__vk_command_end (vq_vk_context *ctx, VkCommandBuffer cmd, GError **error);
/* Submits a recorded buffer and waits for it (replay). */
gboolean vq__vk_command_run (vq_vk_context *ctx, VkCommandBuffer cmd, GError **error);
/* Ends, submits, waits; the buffer stays recorded for replay when `keep`. */
gboolean vq__vk_command_submit (vq_vk_context *ctx, VkCommandBuffer cmd, gboolean keep,
                                GError **error);
/* Makes compute-shader writes visible to later compute reads and writes. */
void vq__vk_command_barrier (vq_vk_context *ctx, VkCommandBuffer cmd);

/* pipeline.c */
typedef struct {
  VkDescriptorSetLayout set_layout;
  VkPipelineLayout layout;
  VkPipeline pipeline;
  uint32_t n_bindings;
  VkDescriptorType bindings[8];
} vq_vk_pipeline;

/* Builds a compute pipeline from the embedded module `shader`; spec[i] is the
 * 4-byte value of specialization constant i. */
gboolean vq__vk_pipeline_init (vq_vk_context *ctx, vq_vk_pipeline *pipeline, const char *shader,
                               const VkDescriptorType *bindings, uint32_t n_bindings,
                               const uint32_t *spec, uint32_t n_spec, GError **error);
void vq__vk_pipeline_clear (vq_vk_context *ctx, vq_vk_pipeline *pipeline);
/* Writes the pipeline cache to its file (best effort, errors reported). */
gboolean vq__vk_pipeline_cache_save (vq_vk_context *ctx, GError **error);

/* Descriptor sets: one pool sized for `max_sets` sets of up to 8 texel
 * buffers each. */
gboolean vq__vk_descriptor_pool_init (vq_vk_context *ctx, VkDescriptorPool *pool,
                                      uint32_t max_sets, GError **error);
gboolean vq__vk_descriptor_set (vq_vk_context *ctx, VkDescriptorPool pool,
                                const vq_vk_pipeline *pipeline, const VkBufferView *views,
                                VkDescriptorSet *set, GError **error);

#endif
