/* layout.h — NCHW <-> packed-4 (see shaders/common.glsl) on the host. */
#ifndef VQ_VULKAN_LAYOUT_H
#define VQ_VULKAN_LAYOUT_H

#include <glib.h>
#include <stdint.h>
#include <string.h>

static inline int32_t
vq__vk_planes (int32_t channels)
{
  return (channels + 3) / 4;
}

/* Floats a packed-4 tensor of c x h x w occupies (whole planes). */
gsize vq__vk_packed_floats (int32_t c, int32_t h, int32_t w);
/* dst: packed-4, vq__vk_packed_floats() floats, padding channels zeroed. */
void vq__vk_pack (float *dst, const float *src, int32_t c, int32_t h, int32_t w);
/* dst: NCHW c x h x w. */
void vq__vk_unpack (float *dst, const float *src, int32_t c, int32_t h, int32_t w);

#endif
