#version 450
/* shaders/eltwise.comp — elementwise ops on packed-4 activations, one
 * invocation per texel: with VQ_ELTWISE_ADD out = act(a + b), otherwise
 * out = act(a) (a standalone activation). */
#include "common.glsl"

layout (local_size_x = 64) in;

layout (constant_id = 1) const int HW = 1;
layout (constant_id = 2) const int PLANES = 1;
layout (constant_id = 3) const int A_PLANE0 = 0;
layout (constant_id = 4) const int B_PLANE0 = 0;
layout (constant_id = 5) const int OUT_PLANE0 = 0;
layout (constant_id = 6) const int ACT = 0;
layout (constant_id = 7) const float ALPHA = 0.0;
layout (constant_id = 8) const int CHANNELS = 4; /* real channels: padding stays 0 */

layout (binding = 0, rgba32f) uniform readonly imageBuffer u_a;
layout (binding = 1, rgba32f) uniform writeonly imageBuffer u_dst;
#ifdef VQ_ELTWISE_ADD
layout (binding = 2, rgba32f) uniform readonly imageBuffer u_b;
#endif

void main ()
{
  int m = int (gl_GlobalInvocationID.x);
  int plane = int (gl_GlobalInvocationID.y);
  if (m >= HW || plane >= PLANES)
    return;
  vec4 v = imageLoad (u_a, (A_PLANE0 + plane) * HW + m);
#ifdef VQ_ELTWISE_ADD
  v += imageLoad (u_b, (B_PLANE0 + plane) * HW + m);
#endif
  v = vq_activate (v, ACT, ALPHA);
  /* An activation such as sigmoid would turn padding channels into 0.5. */
  bvec4 real = lessThan (ivec4 (plane * 4) + ivec4 (0, 1, 2, 3), ivec4 (CHANNELS));
  imageStore (u_dst, (OUT_PLANE0 + plane) * HW + m, mix (vec4 (0.0), v, real));
}
