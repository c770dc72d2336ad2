/* shaders/conv_weights.glsl — fetching conv weights, dense or decoded from a
 * VQ codebook, inside the shader (there is never a decompressed copy of VQ
 * weights in device memory).
 *
 * Both forms are addressed in the IR's row order: row n (output channel)
 * holds D values in [cin/groups][kh][kw] order. Defines choose the form:
 *   VQ_WEIGHTS_DENSE  weights: RGBA texels, row n at texel n * D/4 (D padded
 *                     to a multiple of 4 by the host).
 *   VQ_WEIGHTS_VQ8    codebook: RGBA texels, entry e at texel e * VQ_D/4;
 *   VQ_WEIGHTS_VQ4    indices: one byte (VQ8) or nibble (VQ4, low first) per
 *                     sub-vector, VQ_ROW sub-vectors per row, flat.
 * Every weight is a multiple of 4 values apart from a row start, so one
 * RGBA texel always covers 4 consecutive j in one sub-vector (VQ_D % 4 == 0).
 */
#ifndef VQ_CONV_WEIGHTS_GLSL
#define VQ_CONV_WEIGHTS_GLSL

#if defined(VQ_WEIGHTS_VQ8) || defined(VQ_WEIGHTS_VQ4)
#define VQ_WEIGHTS_VQ 1
#endif

#ifdef VQ_WEIGHTS_VQ
uint vq_index_at (uint e)
{
#ifdef VQ_WEIGHTS_VQ4
  uint byte_value = texelFetch (u_indices, int (e >> 1)).r;
  return (e & 1u) != 0u ? (byte_value >> 4) : (byte_value & 15u);
#else
  return texelFetch (u_indices, int (e)).r;
#endif
}
#endif

/* The 4 weights j4*4 .. j4*4+3 of row n (j4 counts texels along the row). */
vec4 vq_weight4 (uint n, uint j4)
{
#ifdef VQ_WEIGHTS_VQ
  uint j = j4 * 4u;
  uint code = vq_index_at (n * uint (VQ_ROW) + j / uint (VQ_D));
  return texelFetch (u_weights, int (code * uint (VQ_D / 4) + (j % uint (VQ_D)) / 4u));
#else
  return texelFetch (u_weights, int (n * uint (ROW4) + j4));
#endif
}

/* One weight, for shaders that walk the row element by element. */
float vq_weight1 (uint n, uint j)
{
#ifdef VQ_WEIGHTS_VQ
  uint code = vq_index_at (n * uint (VQ_ROW) + j / uint (VQ_D));
  uint e = code * uint (VQ_D) + j % uint (VQ_D);
  return texelFetch (u_weights, int (e >> 2))[e & 3u];
#else
  uint e = n * uint (ROW4) * 4u + j;
  return texelFetch (u_weights, int (e >> 2))[e & 3u];
#endif
}

#endif
