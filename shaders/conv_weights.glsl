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
 *
 * The chunked forms of conv_chunk.glsl (VQ_WEIGHTS_VQ_CHUNKED, _ANY_D) read
 * the codebook as 32-bit words instead (VQ_CODEBOOK_WORDS below).
 */
#ifndef VQ_CONV_WEIGHTS_GLSL
#define VQ_CONV_WEIGHTS_GLSL

#if defined(VQ_WEIGHTS_VQ8) || defined(VQ_WEIGHTS_VQ4)
#define VQ_WEIGHTS_VQ 1
#endif

#if defined(VQ_WEIGHTS_VQ_CHUNKED) || defined(VQ_WEIGHTS_VQ_ANY_D)
#define VQ_CODEBOOK_WORDS 1
#endif

#ifdef VQ_CODEBOOK_WORDS
/* The codebook as 32-bit words (conv.c, codebook_words): each entry's d
 * values as fp32 bits, one per word, or, from an fp16 codebook, as fp16
 * pairs, two per word (low half first). An entry takes VQ_CB_TEXELS texels
 * of 1, 2 or 4 words (R32UI, RG32UI or RGBA32UI views). Pairs keep the
 * model's own fp16 values and halve what is fetched: one RGBA32UI texel is
 * a whole entry of up to 8 values, where fp32 needs two. */
layout (binding = 2) uniform usamplerBuffer u_weights;
layout (constant_id = 28) const bool VQ_CB_HALVES = false;
const int VQ_CB_WORDS = VQ_CB_HALVES ? (VQ_D + 1) / 2 : VQ_D;
const int VQ_CB_TEXELS = VQ_CB_WORDS <= 2 ? 1 : (VQ_CB_WORDS + 3) / 4;

/* Value m of the entry whose texels are t; m is a constant once loops are
 * unrolled, so both forms fold to one word and at most one unpack. */
#define VQ_CB_VALUE(t, m)                                                     \
  (VQ_CB_HALVES ? unpackHalf2x16 ((t)[min ((m) / 8, VQ_CB_TEXELS - 1)][((m) / 2) % 4])[(m) % 2] \
                : uintBitsToFloat ((t)[min ((m) / 4, VQ_CB_TEXELS - 1)][(m) % 4]))

/* d = 1 with the compressor's grid codebook, entry i = (i - VQ_CB_GRID) /
 * VQ_CB_GRID (vq/layer.c, vq__grid_init; vq_codebook_grid_half checks every
 * entry): the weight is computed from the index, exactly as the table holds
 * it, instead of fetched. 0: a learned codebook, fetched. */
layout (constant_id = 31) const int VQ_CB_GRID = 0;
#define VQ_CB_GRID_VALUE(code)                                                \
  (float (int (code) - VQ_CB_GRID) * (1.0 / float (VQ_CB_GRID)))

/* Fetches the texels t of codebook entry `code`. */
#define VQ_CB_FETCH(t, code)                                                  \
  [[unroll]] for (int t_ = 0; t_ < VQ_CB_TEXELS; t_++)                        \
    t[t_] = texelFetch (u_weights, int (code) * VQ_CB_TEXELS + t_)
#else
layout (binding = 2) uniform samplerBuffer u_weights; /* dense rows or codebook */
#endif

#if defined(VQ_WEIGHTS_VQ) && !defined(VQ_CODEBOOK_WORDS)
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

#ifndef VQ_CODEBOOK_WORDS
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

#endif
