/* pipeline.c — compute pipelines from the embedded SPIR-V, descriptor sets,
 * and the on-disk pipeline cache. */
#include "vulkan_private.h"

#include <glib/gstdio.h>

#include "vq_spirv.h"

static const vq_spirv_module *
find_module (const char *name)
{
  for (const vq_spirv_module *m = vq__spirv_modules; m->name; m++)
    if (strcmp (m->name, name) == 0)
      return m;
  return NULL;
}

gboolean
vq__vk_pipeline_init (vq_vk_context *ctx, vq_vk_pipeline *pipeline, const char *shader,
                      const VkDescriptorType *bindings, uint32_t n_bindings,
                      const uint32_t *spec, uint32_t n_spec, GError **error)
{
  const vq_spirv_module *module = find_module (shader);
  VkShaderModule shader_module = VK_NULL_HANDLE;
  VkDescriptorSetLayoutBinding layout_bindings[8];
  VkSpecializationMapEntry entries[64];

  memset (pipeline, 0, sizeof *pipeline);
  if (!module) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND, "Vulkan: no embedded shader named %s",
                 shader);
    return FALSE;
  }
  g_return_val_if_fail (n_bindings <= G_N_ELEMENTS (layout_bindings), FALSE);
  g_return_val_if_fail (n_spec <= G_N_ELEMENTS (entries), FALSE);

  pipeline->n_bindings = n_bindings;
  for (uint32_t i = 0; i < n_bindings; i++) {
    pipeline->bindings[i] = bindings[i];
    layout_bindings[i] = (VkDescriptorSetLayoutBinding) {
      .binding = i,
      .descriptorType = bindings[i],
      .descriptorCount = 1,
      .stageFlags = VK_SHADER_STAGE_COMPUTE_BIT,
    };
  }
  VkDescriptorSetLayoutCreateInfo set_info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_LAYOUT_CREATE_INFO,
    .bindingCount = n_bindings,
    .pBindings = layout_bindings,
  };
  if (!vq__vk_check (ctx->vk.vkCreateDescriptorSetLayout (ctx->device, &set_info, NULL,
                                                          &pipeline->set_layout),
                     "creating a descriptor set layout", error))
    goto fail;
  VkPipelineLayoutCreateInfo layout_info = {
    .sType = VK_STRUCTURE_TYPE_PIPELINE_LAYOUT_CREATE_INFO,
    .setLayoutCount = 1,
    .pSetLayouts = &pipeline->set_layout,
  };
  if (!vq__vk_check (ctx->vk.vkCreatePipelineLayout (ctx->device, &layout_info, NULL,
                                                     &pipeline->layout),
                     "creating a pipeline layout", error))
    goto fail;

  uint32_t *rewritten = vq__vk_spirv_for_activations (ctx, module->code, module->size);
  VkShaderModuleCreateInfo module_info = {
    .sType = VK_STRUCTURE_TYPE_SHADER_MODULE_CREATE_INFO,
    .codeSize = module->size,
    .pCode = rewritten ? rewritten : module->code,
  };
  VkResult created = ctx->vk.vkCreateShaderModule (ctx->device, &module_info, NULL,
                                                   &shader_module);
  g_free (rewritten);
  if (!vq__vk_check (created, "creating a shader module", error))
    goto fail;

  for (uint32_t i = 0; i < n_spec; i++)
    entries[i] = (VkSpecializationMapEntry) {
      .constantID = i,
      .offset = i * 4,
      .size = 4,
    };
  VkSpecializationInfo spec_info = {
    .mapEntryCount = n_spec,
    .pMapEntries = entries,
    .dataSize = n_spec * 4,
    .pData = spec,
  };
  VkComputePipelineCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_COMPUTE_PIPELINE_CREATE_INFO,
    .stage = {
      .sType = VK_STRUCTURE_TYPE_PIPELINE_SHADER_STAGE_CREATE_INFO,
      .stage = VK_SHADER_STAGE_COMPUTE_BIT,
      .module = shader_module,
      .pName = "main",
      .pSpecializationInfo = &spec_info,
    },
    .layout = pipeline->layout,
  };
  char *what = g_strdup_printf ("creating the %s pipeline", shader);
  gint64 start = g_get_monotonic_time ();
  gboolean ok = vq__vk_check (ctx->vk.vkCreateComputePipelines (ctx->device,
                                                                ctx->pipeline_cache, 1, &info,
                                                                NULL, &pipeline->pipeline),
                              what, error);
  /* Drivers compile here (cold starts: G_MESSAGES_DEBUG=all shows which). */
  g_debug ("vqcore: %s: %.1f ms", what, (double) (g_get_monotonic_time () - start) / 1000.0);
  g_free (what);
  ctx->vk.vkDestroyShaderModule (ctx->device, shader_module, NULL);
  if (ok)
    return TRUE;

fail:
  vq__vk_pipeline_clear (ctx, pipeline);
  return FALSE;
}

void
vq__vk_pipeline_clear (vq_vk_context *ctx, vq_vk_pipeline *pipeline)
{
  if (pipeline->pipeline)
    ctx->vk.vkDestroyPipeline (ctx->device, pipeline->pipeline, NULL);
  if (pipeline->layout)
    ctx->vk.vkDestroyPipelineLayout (ctx->device, pipeline->layout, NULL);
  if (pipeline->set_layout)
    ctx->vk.vkDestroyDescriptorSetLayout (ctx->device, pipeline->set_layout, NULL);
  memset (pipeline, 0, sizeof *pipeline);
}

gboolean
vq__vk_pipeline_cache_save (vq_vk_context *ctx, GError **error)
{
  size_t size = 0;

  if (!ctx->pipeline_cache || !ctx->pipeline_cache_path)
    return TRUE;
  if (!vq__vk_check (ctx->vk.vkGetPipelineCacheData (ctx->device, ctx->pipeline_cache, &size,
                                                     NULL),
                     "reading the pipeline cache", error))
    return FALSE;
  void *data = g_malloc (size ? size : 1);
  gboolean ok = vq__vk_check (ctx->vk.vkGetPipelineCacheData (ctx->device, ctx->pipeline_cache,
                                                              &size, data),
                              "reading the pipeline cache", error);
  if (ok) {
    char *dir = g_path_get_dirname (ctx->pipeline_cache_path);
    g_mkdir_with_parents (dir, 0755);
    g_free (dir);
    ok = g_file_set_contents (ctx->pipeline_cache_path, data, (gssize) size, error);
  }
  g_free (data);
  return ok;
}

gboolean
vq__vk_descriptor_pool_init (vq_vk_context *ctx, VkDescriptorPool *pool, uint32_t max_sets,
                             GError **error)
{
  VkDescriptorPoolSize sizes[] = {
    {VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, max_sets * 8},
    {VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, max_sets * 8},
  };
  VkDescriptorPoolCreateInfo info = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_POOL_CREATE_INFO,
    .maxSets = max_sets,
    .poolSizeCount = G_N_ELEMENTS (sizes),
    .pPoolSizes = sizes,
  };
  return vq__vk_check (ctx->vk.vkCreateDescriptorPool (ctx->device, &info, NULL, pool),
                       "creating a descriptor pool", error);
}

gboolean
vq__vk_descriptor_set (vq_vk_context *ctx, VkDescriptorPool pool, const vq_vk_pipeline *pipeline,
                       const VkBufferView *views, VkDescriptorSet *set, GError **error)
{
  VkWriteDescriptorSet writes[8];
  VkDescriptorSetAllocateInfo alloc = {
    .sType = VK_STRUCTURE_TYPE_DESCRIPTOR_SET_ALLOCATE_INFO,
    .descriptorPool = pool,
    .descriptorSetCount = 1,
    .pSetLayouts = &pipeline->set_layout,
  };
  if (!vq__vk_check (ctx->vk.vkAllocateDescriptorSets (ctx->device, &alloc, set),
                     "allocating a descriptor set", error))
    return FALSE;
  for (uint32_t i = 0; i < pipeline->n_bindings; i++)
    writes[i] = (VkWriteDescriptorSet) {
      .sType = VK_STRUCTURE_TYPE_WRITE_DESCRIPTOR_SET,
      .dstSet = *set,
      .dstBinding = i,
      .descriptorCount = 1,
      .descriptorType = pipeline->bindings[i],
      .pTexelBufferView = &views[i],
    };
  ctx->vk.vkUpdateDescriptorSets (ctx->device, pipeline->n_bindings, writes, 0, NULL);
  return TRUE;
}
