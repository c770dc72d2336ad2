#version 450
/* shaders/pool2d.comp — max (VQ_POOL_MAX) or average pooling on packed-4
 * activations, one invocation per output texel (4 channels of one pixel).
 * Same rules as the CPU reference (vqcore/src/cpu/resize_pool.c): padded
 * cells take PAD_VALUE for the max, and count in the average's divisor only
 * when COUNT_PAD. */
#include "common.glsl"

layout (local_size_x = 64) in;

layout (constant_id = 1) const int IN_H = 1;
layout (constant_id = 2) const int IN_W = 1;
layout (constant_id = 3) const int IN_PLANE0 = 0;
layout (constant_id = 4) const int PLANES = 1;
layout (constant_id = 5) const int OUT_H = 1;
layout (constant_id = 6) const int OUT_W = 1;
layout (constant_id = 7) const int OUT_PLANE0 = 0;
layout (constant_id = 8) const int KH = 1;
layout (constant_id = 9) const int KW = 1;
layout (constant_id = 10) const int SH = 1;
layout (constant_id = 11) const int SW = 1;
layout (constant_id = 12) const int PT = 0;
layout (constant_id = 13) const int PL = 0;
layout (constant_id = 14) const float PAD_VALUE = 0.0;
layout (constant_id = 15) const bool COUNT_PAD = false;

layout (binding = 0, rgba32f) uniform readonly imageBuffer u_src;
layout (binding = 1, rgba32f) uniform writeonly imageBuffer u_dst;

void main ()
{
  int m = int (gl_GlobalInvocationID.x);
  int plane = int (gl_GlobalInvocationID.y);
  if (m >= OUT_H * OUT_W || plane >= PLANES)
    return;
  int oy = m / OUT_W;
  int ox = m - oy * OUT_W;
  int y0 = oy * SH - PT, x0 = ox * SW - PL;
  int base = (IN_PLANE0 + plane) * IN_H * IN_W;
  int valid = 0;
#ifdef VQ_POOL_MAX
  vec4 acc = vec4 (-1.0 / 0.0);
#else
  vec4 acc = vec4 (0.0);
#endif
  for (int ky = 0; ky < KH; ky++)
    for (int kx = 0; kx < KW; kx++) {
      int y = y0 + ky, x = x0 + kx;
      if (y < 0 || y >= IN_H || x < 0 || x >= IN_W)
        continue;
      vec4 v = imageLoad (u_src, base + y * IN_W + x);
#ifdef VQ_POOL_MAX
      acc = max (acc, v);
#else
      acc += v;
#endif
      valid++;
    }
#ifdef VQ_POOL_MAX
  if (valid < KH * KW)
    acc = max (acc, vec4 (PAD_VALUE));
#else
  acc /= float (COUNT_PAD ? KH * KW : max (valid, 1));
#endif
  imageStore (u_dst, (OUT_PLANE0 + plane) * OUT_H * OUT_W + m, acc);
}
