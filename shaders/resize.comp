#version 450
/* shaders/resize.comp — bilinear (or, with NEAREST, nearest-neighbour)
 * resize of packed-4 activations, one invocation per output texel. Source
 * coordinates follow TensorFlow like the CPU reference
 * (vqcore/src/cpu/resize_pool.c).
 *
 * With VQ_RESIZE_ADD it also computes the add that is the resize's only
 * consumer (an FPN's upsample-and-add): out = act(resize(src) + addend).
 * The resized value is then never stored and read back, which on lavapipe,
 * where every texel store goes lane by lane, is most of a resize's cost. */
#include "common.glsl"

layout (local_size_x = 64) in;

layout (constant_id = 1) const int IN_H = 1;
layout (constant_id = 2) const int IN_W = 1;
layout (constant_id = 3) const int IN_PLANE0 = 0;
layout (constant_id = 4) const int PLANES = 1;
layout (constant_id = 5) const int OUT_H = 1;
layout (constant_id = 6) const int OUT_W = 1;
layout (constant_id = 7) const int OUT_PLANE0 = 0;
layout (constant_id = 8) const bool NEAREST = false;
layout (constant_id = 9) const bool ALIGN_CORNERS = false;
layout (constant_id = 10) const bool HALF_PIXEL = false;
layout (constant_id = 11) const int ADD_PLANE0 = 0;
layout (constant_id = 12) const int ACT = 0;
layout (constant_id = 13) const float ALPHA = 0.0;
layout (constant_id = 14) const int CHANNELS = 4; /* real channels: padding stays 0 */

layout (binding = 0, rgba32f) uniform readonly imageBuffer u_src;
layout (binding = 1, rgba32f) uniform writeonly imageBuffer u_dst;
#ifdef VQ_RESIZE_ADD
layout (binding = 2, rgba32f) uniform readonly imageBuffer u_addend;
#endif

float scale_of (int in_size, int out_size)
{
  return (ALIGN_CORNERS && out_size > 1) ? float (in_size - 1) / float (out_size - 1)
                                         : float (in_size) / float (out_size);
}

/* lower, upper source index and the weight of upper. */
void bilinear (int i, int in_size, int out_size, out int lower, out int upper, out float lerp)
{
  float scale = scale_of (in_size, out_size);
  float src = HALF_PIXEL ? (float (i) + 0.5) * scale - 0.5 : float (i) * scale;
  float src_floor = floor (src);
  lower = max (int (src_floor), 0);
  upper = min (int (ceil (src)), in_size - 1);
  lerp = src - src_floor;
}

int nearest (int i, int in_size, int out_size)
{
  float scale = scale_of (in_size, out_size);
  float src = HALF_PIXEL ? (float (i) + 0.5) * scale : float (i) * scale;
  int index = int (ALIGN_CORNERS ? roundEven (src) : floor (src));
  index = min (index, in_size - 1);
  return HALF_PIXEL ? max (index, 0) : index;
}

void main ()
{
  int m = int (gl_GlobalInvocationID.x);
  int plane = int (gl_GlobalInvocationID.y);
  if (m >= OUT_H * OUT_W || plane >= PLANES)
    return;
  int oy = m / OUT_W;
  int ox = m - oy * OUT_W;
  int base = (IN_PLANE0 + plane) * IN_H * IN_W;
  vec4 result;
  if (NEAREST) {
    result = imageLoad (u_src, base + nearest (oy, IN_H, OUT_H) * IN_W + nearest (ox, IN_W, OUT_W));
  } else {
    int y0, y1, x0, x1;
    float ly, lx;
    bilinear (oy, IN_H, OUT_H, y0, y1, ly);
    bilinear (ox, IN_W, OUT_W, x0, x1, lx);
    vec4 tl = imageLoad (u_src, base + y0 * IN_W + x0);
    vec4 tr = imageLoad (u_src, base + y0 * IN_W + x1);
    vec4 bl = imageLoad (u_src, base + y1 * IN_W + x0);
    vec4 br = imageLoad (u_src, base + y1 * IN_W + x1);
    vec4 top = tl + (tr - tl) * lx;
    vec4 bottom = bl + (br - bl) * lx;
    result = top + (bottom - top) * ly;
  }
#ifdef VQ_RESIZE_ADD
  /* The same additions as the separate add (eltwise.comp), bit for bit. */
  result = vq_activate (result + imageLoad (u_addend, (ADD_PLANE0 + plane) * OUT_H * OUT_W + m),
                        ACT, ALPHA);
  bvec4 real = lessThan (ivec4 (plane * 4) + ivec4 (0, 1, 2, 3), ivec4 (CHANNELS));
  result = mix (vec4 (0.0), result, real);
#endif
  imageStore (u_dst, (OUT_PLANE0 + plane) * OUT_H * OUT_W + m, result);
}
