/* convtime.h — how much the in-shader VQ decode costs on this device: one
 * conv of a model, run alone with dense fp32 and fp16 weights and with VQ
 * weights of the same shape, timed by GPU timestamps (`vq bench
 * --conv-shapes`). */
#ifndef VQ_VULKAN_CONVTIME_H
#define VQ_VULKAN_CONVTIME_H

#include "vulkan_private.h"

typedef struct {
  double dense_ms; /* fastest ms per dispatch, dense fp32 weights */
  double dense16_ms; /* dense fp16 weights: the precision of VQ codebooks */
  double vq8_ms;   /* VQ, 8-bit indices, d = 4, K = 256; 0 when not applicable */
  double vq4_ms;   /* VQ, 4-bit indices, d = 8, K = 16; 0 when not applicable */
  double grid_ms;  /* VQ, 8-bit indices, d = 1, K = 256 on the compressor's
                      grid codebook; 0 when not applicable */
  double own_ms;   /* the model's own VQ weights; 0 when the layer is dense */
  const char *family; /* the shader family that ran: "wino", "gemm" or "direct" */
} vq_vk_conv_times;

/* Times node `node` (a conv2d of `graph`) on `device` (NULL: the default),
 * the fastest of `runs` runs per variant, the variants interleaved run by run so that load
 * from other processes affects each alike. Weights are random: the time
 * does not depend on their values. */
gboolean vq__vk_conv_times (const vq_graph *graph, uint32_t node, const char *device, int runs,
                            vq_vk_conv_times *times, GError **error);

#endif
