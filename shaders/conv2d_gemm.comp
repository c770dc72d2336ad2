#version 450
/* shaders/conv2d_gemm.comp — conv2d as an implicit GEMM, designed for how
 * lavapipe executes (shared/guide/vulkan.md): M = output pixels, N = output
 * channels, K = input channels x taps.
 *
 * An 8-lane cluster (one lavapipe subgroup) owns a tile of 8 * ROWS pixels x
 * 16 output channels; each lane keeps ROWS pixels x 16 channels of
 * accumulators in registers (ROWS is chosen per layer by the host). Activations come through a storage texel buffer (one RGBA
 * load = 4 input channels of one pixel). The weights of a 4-channel chunk
 * are fetched (dense) or decoded from the codebook (VQ) once per cluster:
 * lane l loads the rows of channels 2l and 2l+1, and the lanes exchange them
 * with subgroupShuffle instead of every lane loading all 16 rows. No shared
 * memory and no barriers: both are slow on lavapipe.
 *
 * Requirements (checked by the host, which otherwise uses conv2d_direct):
 * cin/groups % 4 == 0 for VQ (dense rows are padded by the host), and a
 * 16-channel tile never straddles two groups. VQ sub-vectors of any length
 * are decoded (VQ_WEIGHTS_VQ_ANY_D); d = 4 has a faster layout
 * (VQ_WEIGHTS_VQ_CHUNKED).
 *
 * VQ_KSPLIT (conv2d_ksplit_*, for GPUs): every cluster of a workgroup works
 * on the same tile and takes every S-th input chunk (S = clusters per
 * workgroup); the partial sums meet in shared memory. A GPU then runs S
 * times more invocations on the small late layers (13x13 x 128 outputs are
 * a few hundred lanes otherwise, on a device with 100k+), each with an S-th
 * of the K loop. The host makes S divide CIN_G4, so every cluster runs the
 * same number of chunks. The codebook stays in its texel buffer, which the
 * GPU's texture cache holds on chip: staging it in shared memory per
 * workgroup measured worse on the NVIDIA H200 (VQ/dense of the d=1 convs
 * on 32 channels at 104x104 1.05-1.07 -> 1.23-1.43, other shapes within
 * 2 %), each workgroup having too little work to hide the staging.
 */
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

#include "common.glsl"

layout (local_size_x_id = 0) in;

layout (constant_id = 1) const int IN_H = 1;
layout (constant_id = 2) const int IN_W = 1;
layout (constant_id = 3) const int IN_PLANE0 = 0;  /* first input plane (split) */
layout (constant_id = 4) const int CIN_G4 = 1;     /* input planes per group */
layout (constant_id = 5) const int OUT_H = 1;
layout (constant_id = 6) const int OUT_W = 1;
layout (constant_id = 7) const int OUT_PLANE0 = 0; /* first output plane (concat) */
layout (constant_id = 8) const int COUT = 1;
layout (constant_id = 9) const int COUT_G = 1;     /* output channels per group */
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
layout (constant_id = 20) const int ROW4 = 1;      /* dense: texels per row */
layout (constant_id = 21) const int VQ_D = 4;      /* VQ sub-vector length */
layout (constant_id = 22) const int VQ_ROW = 1;    /* VQ: sub-vectors per row */
layout (constant_id = 23) const bool HAS_SCALE = false;
layout (constant_id = 24) const bool CLUSTER_IS_SUBGROUP = true;
layout (constant_id = 25) const int ROWS = 4;      /* pixels per lane */
layout (constant_id = 26) const int ACT_FIRST = 0;  /* ACT applies to output planes */
layout (constant_id = 27) const int ACT_END = 1;    /* [ACT_FIRST, ACT_END) only */

const int KHKW = KH * KW;
const int IN_HW = IN_H * IN_W;
const int OUT_HW = OUT_H * OUT_W;

layout (binding = 0, rgba32f) uniform readonly imageBuffer u_src;
layout (binding = 1, rgba32f) uniform writeonly imageBuffer u_dst;
/* binding 2, u_weights (dense rows or codebook): conv_weights.glsl */
layout (binding = 3) uniform usamplerBuffer u_indices; /* VQ indices (R8UI; words chunked) */
layout (binding = 4) uniform samplerBuffer u_bias;    /* R32F, one per channel */
layout (binding = 5) uniform samplerBuffer u_scale;   /* R32F, VQ row scales */

/* VQ indices a chunk ahead (conv_chunk.glsl). Measured for conv2d_ksplit
 * on the NVIDIA H200; on lavapipe, for conv2d_gemm (model's own VQ / dense
 * fp16, median of 6 runs of vq bench --conv-shapes, with and without):
 * the 1x1 convs with d = 2 at 26x26 and 13x13 went from 1.024-1.033 to
 * 0.990-1.008, except the smallest (128->124 at 13x13, 0.2 ms), 1.034 ->
 * 1.058; the others, stride 2 included, stayed within 1 %. */
#define VQ_PREFETCH_CODES 1
#include "conv_chunk.glsl"

#ifdef VQ_KSPLIT
/* Partial sums, slot-major so that the 8 lanes of a cluster write
 * consecutive elements: [(r * 4 + q) * S + cluster] * 8 + lane. */
shared vec4 s_partial[gl_WorkGroupSize.x * ROWS * 4];
#endif

/* Bias and VQ row scale of output channels n .. n+3 (channels past COUT
 * repeat the last one; their results are never kept). */
void load_epilogue (int n, out vec4 bias, out vec4 scale)
{
  scale = vec4 (1.0);
  for (int k = 0; k < 4; k++) {
    int nk = min (n + k, COUT - 1);
    bias[k] = texelFetch (u_bias, nk).r;
    if (HAS_SCALE)
      scale[k] = texelFetch (u_scale, nk).r;
  }
}

/* Stores channels n .. n+3 of output pixel m: scale, bias and activation
 * applied, zeros in the channels past COUT (the packed plane's padding). */
void store_output (int m, int n, vec4 acc, vec4 bias, vec4 scale)
{
  bvec4 real = lessThan (ivec4 (n) + ivec4 (0, 1, 2, 3), ivec4 (COUT));
  vec4 v = vq_activate_planes (acc * scale + bias, n / 4, ACT, ALPHA, ACT_FIRST, ACT_END);
  imageStore (u_dst, (OUT_PLANE0 + n / 4) * OUT_HW + m, mix (vec4 (0.0), v, real));
}

void main ()
{
  uint lane = gl_SubgroupInvocationID & 7u;
  uint cluster_base = CLUSTER_IS_SUBGROUP ? 0u : (gl_SubgroupInvocationID & ~7u);
  uint cluster = gl_SubgroupID * (gl_SubgroupSize >> 3) + (gl_SubgroupInvocationID >> 3);
  uint clusters_per_group = gl_WorkGroupSize.x >> 3;
#ifdef VQ_KSPLIT
  const int SPLIT = int (clusters_per_group);
  int c4_first = int (cluster);
  int m0 = int (gl_WorkGroupID.x * uint (8 * ROWS));
#else
  const int SPLIT = 1;
  int c4_first = 0;
  int m0 = int ((gl_WorkGroupID.x * clusters_per_group + cluster) * uint (8 * ROWS));
#endif
  int n0 = int (gl_WorkGroupID.y * 16u);
  int group = n0 / COUT_G;

  /* Input origin of each of this lane's 4 pixels; an out-of-range pixel gets
   * an origin that fails every bounds check, so it reads zeros. */
  ivec2 origin[ROWS];
  for (int r = 0; r < ROWS; r++) {
    int m = m0 + r * 8 + int (lane);
    int oy = m / OUT_W;
    int ox = m - oy * OUT_W;
    origin[r] = m < OUT_HW ? ivec2 (ox * SW - PL, oy * SH - PT) : ivec2 (-1 << 20);
  }

  /* The two rows this lane fetches; rows past COUT repeat the last row (their
   * results are never stored). */
  uint row[2];
  row[0] = uint (min (n0 + int (lane) * 2, COUT - 1));
  row[1] = uint (min (n0 + int (lane) * 2 + 1, COUT - 1));

  vec4 acc[ROWS][4];
  for (int r = 0; r < ROWS; r++)
    for (int q = 0; q < 4; q++)
      acc[r][q] = vec4 (0.0);

  int plane = IN_PLANE0 + group * CIN_G4 + c4_first;
#ifdef VQ_PREFETCH_CODES
  vq_prefetch_codes (row, c4_first);
#endif
  for (int c4 = c4_first; c4 < CIN_G4; c4 += SPLIT, plane += SPLIT) {
    vq_load_chunk (row, c4);
#ifdef VQ_PREFETCH_CODES
    vq_prefetch_codes (row, c4 + SPLIT);
#endif

    for (int t = 0; t < KHKW; t++) {
      int ky = t / KW;
      int kx = t - ky * KW;
      vec4 a[ROWS];
      for (int r = 0; r < ROWS; r++) {
        ivec2 p = origin[r] + ivec2 (kx * DW, ky * DH);
        bool inside = all (greaterThanEqual (p, ivec2 (0))) && p.x < IN_W && p.y < IN_H;
        int index = plane * IN_HW + p.y * IN_W + p.x;
        a[r] = inside ? imageLoad (u_src, inside ? index : 0) : vec4 (0.0);
      }
      for (int q = 0; q < 4; q++) {
        for (int i = 0; i < 4; i++) {
          /* Columns 4q..4q+3 live in lanes 2q (rows 0,1) and 2q+1 (rows 0,1). */
          float own0 = w_rows[0][i * KHKW + t];
          float own1 = w_rows[1][i * KHKW + t];
          uint src_lane = cluster_base + uint (2 * q);
          vec4 w = vec4 (subgroupShuffle (own0, src_lane), subgroupShuffle (own1, src_lane),
                         subgroupShuffle (own0, src_lane + 1u),
                         subgroupShuffle (own1, src_lane + 1u));
          for (int r = 0; r < ROWS; r++)
            acc[r][q] = fma (vec4 (a[r][i]), w, acc[r][q]);
        }
      }
    }
  }

#ifdef VQ_KSPLIT
  for (int r = 0; r < ROWS; r++)
    for (int q = 0; q < 4; q++)
      s_partial[((r * 4 + q) * SPLIT + int (cluster)) * 8 + int (lane)] = acc[r][q];
  barrier ();
  /* Invocation i finishes slot i (and i + S * 8, ...): one pixel, 4 channels. */
  for (int slot = int (gl_LocalInvocationID.x); slot < 8 * ROWS * 4; slot += 8 * SPLIT) {
    int slot_lane = slot & 7, rq = slot >> 3;
    int r = rq >> 2, q = rq & 3;
    int m = m0 + r * 8 + slot_lane, n = n0 + 4 * q;
    if (m >= OUT_HW || n >= COUT)
      continue;
    vec4 sum = vec4 (0.0);
    for (int k = 0; k < SPLIT; k++)
      sum += s_partial[(rq * SPLIT + k) * 8 + slot_lane];
    vec4 bias, scale;
    load_epilogue (n, bias, scale);
    store_output (m, n, sum, bias, scale);
  }
#else
  for (int q = 0; q < 4; q++) {
    int n = n0 + 4 * q;
    if (n >= COUT)
      break;
    vec4 bias, scale;
    load_epilogue (n, bias, scale);
    for (int r = 0; r < ROWS; r++) {
      int m = m0 + r * 8 + int (lane);
      if (m < OUT_HW) {
        store_output (m, n, acc[r][q], bias, scale);
      }
    }
  }
#endif
}
