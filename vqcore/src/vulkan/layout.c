/* layout.c — host-side conversion between the IR's NCHW fp32 tensors and the
 * packed-4 layout the shaders use (described in shaders/common.glsl). */
#include "layout.h"

gsize
vq__vk_packed_floats (int32_t c, int32_t h, int32_t w)
{
  return (gsize) vq__vk_planes (c) * (gsize) h * (gsize) w * 4;
}

void
vq__vk_pack (float *dst, const float *src, int32_t c, int32_t h, int32_t w)
{
  gsize hw = (gsize) h * (gsize) w;

  memset (dst, 0, vq__vk_packed_floats (c, h, w) * sizeof (float));
  for (int32_t ch = 0; ch < c; ch++) {
    float *plane = dst + (gsize) (ch / 4) * hw * 4 + (ch % 4);
    const float *row = src + (gsize) ch * hw;
    for (gsize i = 0; i < hw; i++)
      plane[i * 4] = row[i];
  }
}

void
vq__vk_unpack (float *dst, const float *src, int32_t c, int32_t h, int32_t w)
{
  gsize hw = (gsize) h * (gsize) w;

  for (int32_t ch = 0; ch < c; ch++) {
    const float *plane = src + (gsize) (ch / 4) * hw * 4 + (ch % 4);
    float *row = dst + (gsize) ch * hw;
    for (gsize i = 0; i < hw; i++)
      row[i] = plane[i * 4];
  }
}
