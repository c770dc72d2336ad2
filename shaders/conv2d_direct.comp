#version 450
/* shaders/conv2d_direct.comp — conv2d, one invocation per output element.
 * Slow but general: any groups (depthwise included), any channel counts, any
 * VQ sub-vector length. The host uses it where conv2d_gemm's tiling does not
 * apply. Weights as in conv_weights.glsl; invocation (m, n) computes output
 * channel n at pixel m.
 */
#include "common.glsl"

layout (local_size_x = 64) in;

layout (constant_id = 1) const int IN_H = 1;
layout (constant_id = 2) const int IN_W = 1;
layout (constant_id = 3) const int IN_PLANE0 = 0;
layout (constant_id = 4) const int CIN_G = 1;      /* input channels per group */
layout (constant_id = 5) const int OUT_H = 1;
layout (constant_id = 6) const int OUT_W = 1;
layout (constant_id = 7) const int OUT_PLANE0 = 0;
layout (constant_id = 8) const int COUT = 1;
layout (constant_id = 9) const int COUT_G = 1;
layout (constant_id = 10) const int KH = 1;
layout (constant_id = 11) const int KW = 1;
layout (constant_id = 12) const int SH = 1;
layout (constant_id = 13) const int SW = 1;
layout (constant_id = 14) const int DH = 1;
layout (constant_id = 15) const int DW = 1;
layout (constant_id = 16) const int PT = 0;
layout (constant_id = 17) const int PL = 0;
layout (constant_id = 18) const int ACT = 0;
layout (constant_id = 19) const float ALPHA = 0.0;
layout (constant_id = 20) const int ROW4 = 1;
layout (constant_id = 21) const int VQ_D = 4;
layout (constant_id = 22) const int VQ_ROW = 1;
layout (constant_id = 23) const bool HAS_SCALE = false;
layout (constant_id = 26) const int ACT_FIRST = 0;  /* ACT applies to output planes */
layout (constant_id = 27) const int ACT_END = 1;    /* [ACT_FIRST, ACT_END) only */

const int KHKW = KH * KW;
const int IN_HW = IN_H * IN_W;
const int OUT_HW = OUT_H * OUT_W;

layout (binding = 0, rgba32f) uniform readonly imageBuffer u_src;
layout (binding = 1, rgba32f) uniform writeonly imageBuffer u_dst;
/* binding 2, u_weights (dense rows or codebook): conv_weights.glsl */
layout (binding = 3) uniform usamplerBuffer u_indices;
layout (binding = 4) uniform samplerBuffer u_bias;
layout (binding = 5) uniform samplerBuffer u_scale;

#include "conv_weights.glsl"

void main ()
{
  int m = int (gl_GlobalInvocationID.x);
  int n4 = int (gl_GlobalInvocationID.y); /* output plane */
  if (m >= OUT_HW || n4 * 4 >= COUT)
    return;
  int oy = m / OUT_W;
  int ox = m - oy * OUT_W;

  vec4 result = vec4 (0.0);
  for (int k = 0; k < 4; k++) {
    int n = n4 * 4 + k;
    if (n >= COUT)
      break;
    int c_first = (n / COUT_G) * CIN_G;
    float sum = 0.0;
    for (int c = 0; c < CIN_G; c++) {
      int cc = c_first + c;
      int plane_base = (IN_PLANE0 + cc / 4) * IN_HW;
      for (int t = 0; t < KHKW; t++) {
        int ky = t / KW;
        int kx = t - ky * KW;
        int iy = oy * SH - PT + ky * DH;
        int ix = ox * SW - PL + kx * DW;
        if (iy < 0 || iy >= IN_H || ix < 0 || ix >= IN_W)
          continue;
        float x = imageLoad (u_src, plane_base + iy * IN_W + ix)[cc & 3];
        sum = fma (x, vq_weight1 (uint (n), uint (c * KHKW + t)), sum);
      }
    }
    float scale = HAS_SCALE ? texelFetch (u_scale, n).r : 1.0;
    float value = sum * scale + texelFetch (u_bias, n).r;
    result[k] = n4 >= ACT_FIRST && n4 < ACT_END ? vq_activate1 (value, ACT, ALPHA) : value;
  }
  imageStore (u_dst, (OUT_PLANE0 + n4) * OUT_HW + m, result);
}
