/* conv.h — one conv2d node on the Vulkan device. */
#ifndef VQ_VULKAN_CONV_H
#define VQ_VULKAN_CONV_H

#include "vulkan_private.h"

typedef enum {
  VQ_VK_CONV_AUTO = 0, /* per device: see vq__vk_conv_auto_family */
  VQ_VK_CONV_GEMM,     /* fails when conv2d_gemm cannot run this conv */
  VQ_VK_CONV_DIRECT,
  VQ_VK_CONV_WINO,     /* fails when conv2d_wino cannot run this conv */
  VQ_VK_CONV_KSPLIT,   /* fails when conv2d_ksplit cannot run this conv */
} vq_vk_conv_path;

/* Where the conv reads and writes inside packed-4 activation views: the
 * first plane of its input (a split) and of its output (a concat). With
 * `activation` set (an ACTIVATION node fused into the conv, plan.h), the
 * conv applies that activation to its output planes [act_plane0,
 * act_plane0 + act_planes) and none elsewhere, instead of its own. */
typedef struct {
  int32_t in_plane0;
  int32_t out_plane0;
  const vq_node *activation;
  int32_t act_plane0, act_planes;
} vq_vk_conv_placement;

/* Specialization constants of the conv shaders (see conv.c). */
enum { VQ_VK_CONV_SPEC_COUNT = 32 };

typedef struct {
  vq_vk_pipeline pipeline;
  vq_vk_buffer weights;  /* dense rows or the codebook */
  vq_vk_buffer indices;  /* VQ indices; 16 dummy bytes when dense */
  vq_vk_buffer bias;
  vq_vk_buffer scale;    /* VQ row scales; dummy when absent */
  VkBufferView views[6]; /* [0], [1] (src, dst) are owned by the caller */
  VkDescriptorSet set;
  uint32_t dispatch[2];
  bool gemm;             /* conv2d_gemm, _ksplit or _wino (same weight forms) */
  bool vq;
  bool chunked;          /* VQ indices re-laid out for conv2d_gemm_vqc/vqa */
  bool codebook_halves;  /* chunked: the codebook as fp16 pairs */
  int32_t codebook_grid; /* chunked, d = 1: K/2 of a grid codebook, else 0 */
  /* chunked: how the indices are laid out (conv.c, chunk_indices) */
  bool paired_indices;   /* two rows' indices per word */
  int32_t code_words;    /* 32-bit words per index texel: 1, 2 or 4 */
  int32_t code_texels;   /* index texels per row and chunk */
  int64_t macs;          /* multiply-accumulates per run */
  /* The pipeline to build, kept from _prepare to _build_pipeline. */
  char shader[32];
  uint32_t spec[VQ_VK_CONV_SPEC_COUNT];
} vq_vk_conv;

/* Uploads the node's weights (dense rows, or codebook + indices: never a
 * decoded copy) and builds its pipeline: _prepare then _build_pipeline. */
gboolean vq__vk_conv_init (vq_vk_context *ctx, vq_vk_conv *conv, const vq_graph *graph,
                           const vq_node *node, const vq_vk_conv_placement *placement,
                           vq_vk_conv_path path, GError **error);
/* The two halves of vq__vk_conv_init. Drivers compile in _build_pipeline
 * (about 1 s per conv on an NVIDIA H200 when the pipeline cache is cold),
 * so engines call it for all convs at once from several threads; it only
 * creates Vulkan objects of its own. On failure _prepare clears the conv;
 * after a failed _build_pipeline the caller clears it. */
gboolean vq__vk_conv_prepare (vq_vk_context *ctx, vq_vk_conv *conv, const vq_graph *graph,
                              const vq_node *node, const vq_vk_conv_placement *placement,
                              vq_vk_conv_path path, GError **error);
gboolean vq__vk_conv_build_pipeline (vq_vk_context *ctx, vq_vk_conv *conv, GError **error);
/* _build_pipeline for n prepared convs on up to 8 threads. */
gboolean vq__vk_conv_build_pipelines (vq_vk_context *ctx, vq_vk_conv **convs, guint n,
                                      GError **error);
/* Binds the packed-4 views (RGBA32F or RGBA16F, activations.c) of the input
 * and output values. */
gboolean vq__vk_conv_bind (vq_vk_context *ctx, vq_vk_conv *conv, VkDescriptorPool pool,
                           VkBufferView src, VkBufferView dst, GError **error);
void vq__vk_conv_record (vq_vk_context *ctx, const vq_vk_conv *conv, VkCommandBuffer cmd);
void vq__vk_conv_clear (vq_vk_context *ctx, vq_vk_conv *conv);

/* Why conv2d_gemm cannot run `node` on this device, or NULL when it can. */
const char *vq__vk_conv_gemm_refusal (const vq_vk_context *ctx, const vq_graph *graph,
                                      const vq_node *node);
/* The shader family VQ_VK_CONV_AUTO picks for `node` on this device:
 * "wino", "ksplit", "gemm" or "direct". */
const char *vq__vk_conv_auto_family (const vq_vk_context *ctx, const vq_graph *graph,
                                     const vq_node *node);
/* Why conv2d_wino cannot run `node` on this device, or NULL when it can. */
const char *vq__vk_conv_wino_refusal (const vq_vk_context *ctx, const vq_graph *graph,
                                      const vq_node *node);
/* Why conv2d_ksplit cannot run `node` on this device, or NULL when it can. */
const char *vq__vk_conv_ksplit_refusal (const vq_vk_context *ctx, const vq_graph *graph,
                                        const vq_node *node);

/* How a conv shader family runs `node` (convfamily.c). */
typedef struct {
  int rows;             /* pixels (2x2 tiles for wino) per lane */
  uint32_t local;       /* invocations per workgroup */
  uint32_t dispatch[2]; /* workgroups: output pixels, output channels */
} vq_vk_conv_tiling;

/* `family` is one that can run `node` (see the refusals above). */
void vq__vk_conv_tiling_for (const vq_vk_context *ctx, const vq_graph *graph,
                             const vq_node *node, const char *family,
                             vq_vk_conv_tiling *tiling);

#endif
