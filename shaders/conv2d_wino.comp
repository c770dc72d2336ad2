#version 450
/* shaders/conv2d_wino.comp — 3x3 stride-1 conv2d as Winograd F(2x2, 3x3),
 * all in one pass: no transformed copy of the input, the weights or the
 * products ever reaches memory.
 *
 * A tile is 2x2 output pixels, computed from the 4x4 input patch d around it
 * as Y = A^T [ sum over input channels of (G g G^T) .* (B^T d B) ] A: 16
 * multiplies per tile and channel pair instead of 36, 2.25x fewer than
 * conv2d_gemm.comp, whose cluster design this shader keeps: an 8-lane
 * cluster (one lavapipe subgroup) owns 8 * ROWS tiles x 8 output channels,
 * each lane ROWS tiles (ROWS, a specialization constant, counts tiles here)
 * with 16 products x 8 channels of accumulators per tile.
 *
 * Per 4-input-channel chunk each lane fetches or decodes the 3x3 kernels of
 * its output row exactly as conv2d_gemm does (conv_chunk.glsl, VQ
 * included), transforms them (G g G^T: adds and scalings), and the lanes
 * share them with subgroupShuffle. So a VQ weight is decoded once per chunk
 * and used for 16 products of 8 * ROWS tiles, and dense weights need no
 * transformed copy on the device either.
 *
 * Requirements (checked by the host, which otherwise uses conv2d_gemm): a
 * 3x3 kernel, stride 1, dilation 1, and conv2d_gemm's own requirements.
 */
#extension GL_KHR_shader_subgroup_basic : require
#extension GL_KHR_shader_subgroup_shuffle : require
#extension GL_EXT_control_flow_attributes : require

#include "common.glsl"

layout (local_size_x_id = 0) in;

/* The same constants as conv2d_gemm.comp, so the host fills one table; the
 * kernel size, stride and dilation are fixed here. */
layout (constant_id = 1) const int IN_H = 1;
layout (constant_id = 2) const int IN_W = 1;
layout (constant_id = 3) const int IN_PLANE0 = 0;  /* first input plane (split) */
layout (constant_id = 4) const int CIN_G4 = 1;     /* input planes per group */
layout (constant_id = 5) const int OUT_H = 1;
layout (constant_id = 6) const int OUT_W = 1;
layout (constant_id = 7) const int OUT_PLANE0 = 0; /* first output plane (concat) */
layout (constant_id = 8) const int COUT = 1;
layout (constant_id = 9) const int COUT_G = 1;     /* output channels per group */
layout (constant_id = 16) const int PT = 0;
layout (constant_id = 17) const int PL = 0;
layout (constant_id = 18) const int ACT = 0;
layout (constant_id = 19) const float ALPHA = 0.0;
layout (constant_id = 20) const int ROW4 = 1;      /* dense: texels per row */
layout (constant_id = 21) const int VQ_D = 4;      /* VQ sub-vector length */
layout (constant_id = 22) const int VQ_ROW = 1;    /* VQ: sub-vectors per row */
layout (constant_id = 23) const bool HAS_SCALE = false;
layout (constant_id = 24) const bool CLUSTER_IS_SUBGROUP = true;
layout (constant_id = 25) const int ROWS = 2;      /* tiles per lane */
layout (constant_id = 26) const int ACT_FIRST = 0;  /* ACT applies to output planes */
layout (constant_id = 27) const int ACT_END = 1;    /* [ACT_FIRST, ACT_END) only */

const int KW = 3;
const int KHKW = 9;
const int IN_HW = IN_H * IN_W;
const int OUT_HW = OUT_H * OUT_W;

layout (binding = 0, rgba32f) uniform readonly imageBuffer u_src;
layout (binding = 1, rgba32f) uniform writeonly imageBuffer u_dst;
/* binding 2, u_weights (dense rows or codebook): conv_weights.glsl */
layout (binding = 3) uniform usamplerBuffer u_indices; /* VQ indices */
layout (binding = 4) uniform samplerBuffer u_bias;    /* R32F, one per channel */
layout (binding = 5) uniform samplerBuffer u_scale;   /* R32F, VQ row scales */

/* Output channels per cluster: 8 lanes x VQ_LANE_ROWS rows each. */
#ifndef VQ_LANE_ROWS
#define VQ_LANE_ROWS 1
#endif
const int COLS = 8 * VQ_LANE_ROWS;

#include "conv_chunk.glsl"

/* The tile: TM x TM output pixels from a TA x TA input patch, TA = TM + 2.
 * The 1-D transforms below are B^T (input), G (weights) and A^T (output) of
 * Lavin and Gray's F(2, 3); each 2-D transform applies them along columns,
 * then rows. (F(4x4, 3x3), 36 products per 16 pixels, is the same code
 * with larger 1-D transforms; it passed the tests, but on lavapipe one conv
 * shape's benchmark had not finished after 14 minutes.) */
const int TM = 2;
const int TA = TM + 2;
const int NXI = TA * TA; /* products per tile and channel pair */
const int TILES_X = (OUT_W + TM - 1) / TM;
const int TILES = TILES_X * ((OUT_H + TM - 1) / TM);

/* Interpolation points 0, 1, -1 and infinity. */
void input_1d (vec4 d[4], out vec4 t[4])
{
  t[0] = d[0] - d[2];
  t[1] = d[1] + d[2];
  t[2] = d[2] - d[1];
  t[3] = d[1] - d[3];
}

void weight_1d (float g[3], out float r[4])
{
  r[0] = g[0];
  r[1] = 0.5 * (g[0] + g[1] + g[2]);
  r[2] = 0.5 * (g[0] - g[1] + g[2]);
  r[3] = g[2];
}

void output_1d (vec4 m[4], out vec4 y[2])
{
  y[0] = m[0] + m[1] + m[2];
  y[1] = m[1] - m[2] - m[3];
}

/* G g G^T of this lane's rows: u[h][i * NXI + TA * a + b] for input channel
 * i of the chunk. */
float u[VQ_LANE_ROWS][4 * NXI];

void transform_weights ()
{
  [[unroll]] for (int h = 0; h < VQ_LANE_ROWS; h++)
    [[unroll]] for (int i = 0; i < 4; i++) {
      float s[TA][3]; /* G g: the kernel's rows combined, per column j */
      [[unroll]] for (int j = 0; j < 3; j++) {
        float g[3], r[TA];
        [[unroll]] for (int y = 0; y < 3; y++)
          g[y] = w_rows[h][i * KHKW + KW * y + j];
        weight_1d (g, r);
        [[unroll]] for (int a = 0; a < TA; a++)
          s[a][j] = r[a];
      }
      [[unroll]] for (int a = 0; a < TA; a++) {
        float r[TA];
        weight_1d (s[a], r);
        [[unroll]] for (int b = 0; b < TA; b++)
          u[h][i * NXI + TA * a + b] = r[b];
      }
    }
}

/* B^T d B of the patch at `origin` of input plane `plane` (4 channels);
 * pixels outside read 0. */
void transform_input (int plane, ivec2 origin, out vec4 v[NXI])
{
  vec4 t[TA][TA]; /* B^T d */
  [[unroll]] for (int x = 0; x < TA; x++) {
    vec4 column[TA], r[TA];
    [[unroll]] for (int y = 0; y < TA; y++) {
      ivec2 p = origin + ivec2 (x, y);
      bool inside = all (greaterThanEqual (p, ivec2 (0))) && p.x < IN_W && p.y < IN_H;
      int index = plane * IN_HW + p.y * IN_W + p.x;
      column[y] = inside ? imageLoad (u_src, inside ? index : 0) : vec4 (0.0);
    }
    input_1d (column, r);
    [[unroll]] for (int a = 0; a < TA; a++)
      t[a][x] = r[a];
  }
  [[unroll]] for (int a = 0; a < TA; a++) {
    vec4 r[TA];
    input_1d (t[a], r);
    [[unroll]] for (int b = 0; b < TA; b++)
      v[TA * a + b] = r[b];
  }
}

/* A^T m A for 4 output channels: the tile's pixels, y[TM * row + col]. */
void transform_output (vec4 m[NXI], out vec4 y[TM * TM])
{
  vec4 t[TM][TA]; /* A^T m */
  [[unroll]] for (int b = 0; b < TA; b++) {
    vec4 column[TA], r[TM];
    [[unroll]] for (int a = 0; a < TA; a++)
      column[a] = m[TA * a + b];
    output_1d (column, r);
    [[unroll]] for (int i = 0; i < TM; i++)
      t[i][b] = r[i];
  }
  [[unroll]] for (int i = 0; i < TM; i++) {
    vec4 r[TM];
    output_1d (t[i], r);
    [[unroll]] for (int j = 0; j < TM; j++)
      y[TM * i + j] = r[j];
  }
}

void main ()
{
  uint lane = gl_SubgroupInvocationID & 7u;
  uint cluster_base = CLUSTER_IS_SUBGROUP ? 0u : (gl_SubgroupInvocationID & ~7u);
  uint cluster = gl_SubgroupID * (gl_SubgroupSize >> 3) + (gl_SubgroupInvocationID >> 3);
  uint clusters_per_group = gl_WorkGroupSize.x >> 3;
  int m0 = int ((gl_WorkGroupID.x * clusters_per_group + cluster) * uint (8 * ROWS));
  int n0 = int (gl_WorkGroupID.y) * COLS;
  int group = n0 / COUT_G;

  /* Top-left input pixel of each of this lane's tiles; a tile past the
   * output gets an origin that fails every bounds check, so it reads zeros. */
  ivec2 origin[ROWS];
  for (int r = 0; r < ROWS; r++) {
    int m = m0 + r * 8 + int (lane);
    int ty = m / TILES_X;
    int tx = m - ty * TILES_X;
    origin[r] = m < TILES ? ivec2 (TM * tx - PL, TM * ty - PT) : ivec2 (-1 << 20);
  }

  uint row[VQ_LANE_ROWS];
  [[unroll]] for (int h = 0; h < VQ_LANE_ROWS; h++)
    row[h] = uint (min (n0 + int (lane) * VQ_LANE_ROWS + h, COUT - 1));

  vec4 acc[ROWS][NXI][COLS / 4];
  [[unroll]] for (int r = 0; r < ROWS; r++)
    [[unroll]] for (int k = 0; k < NXI; k++)
      [[unroll]] for (int q = 0; q < COLS / 4; q++)
        acc[r][k][q] = vec4 (0.0);

  int plane = IN_PLANE0 + group * CIN_G4;
#ifdef VQ_WEIGHTS_VQ
  /* VQ weights are decoded a chunk ahead: the codebook fetches wait on the
   * index fetches, and issued before this chunk's multiply-adds they no
   * longer hold them up. Dense weights (one fetch, nothing to wait on) run
   * 1-2 % slower that way, so they keep the plain order. */
  vq_load_chunk (row, 0);
#endif
  for (int c4 = 0; c4 < CIN_G4; c4++, plane++) {
#ifdef VQ_WEIGHTS_VQ
    transform_weights ();
    if (c4 + 1 < CIN_G4)
      vq_load_chunk (row, c4 + 1);
#else
    vq_load_chunk (row, c4);
    transform_weights ();
#endif
    vec4 v[ROWS][NXI];
    [[unroll]] for (int r = 0; r < ROWS; r++)
      transform_input (plane, origin[r], v[r]);
    [[unroll]] for (int k = 0; k < NXI; k++)
      [[unroll]] for (int i = 0; i < 4; i++)
        [[unroll]] for (int q = 0; q < COLS / 4; q++) {
          /* Column c lives in lane c / VQ_LANE_ROWS, row c % VQ_LANE_ROWS. */
          vec4 w;
          [[unroll]] for (int j = 0; j < 4; j++) {
            int c = 4 * q + j;
            w[j] = subgroupShuffle (u[c % VQ_LANE_ROWS][i * NXI + k],
                                    cluster_base + uint (c / VQ_LANE_ROWS));
          }
          [[unroll]] for (int r = 0; r < ROWS; r++)
            acc[r][k][q] = fma (vec4 (v[r][k][i]), w, acc[r][k][q]);
        }
  }

  for (int q = 0; q < COLS / 4; q++) {
    int n = n0 + 4 * q;
    if (n >= COUT)
      break;
    vec4 bias, scale = vec4 (1.0);
    for (int k = 0; k < 4; k++) {
      int nk = min (n + k, COUT - 1);
      bias[k] = texelFetch (u_bias, nk).r;
      if (HAS_SCALE)
        scale[k] = texelFetch (u_scale, nk).r;
    }
    bvec4 real = lessThan (ivec4 (n) + ivec4 (0, 1, 2, 3), ivec4 (COUT));
    for (int r = 0; r < ROWS; r++) {
      int m = m0 + r * 8 + int (lane);
      if (m >= TILES)
        continue;
      vec4 m_tile[NXI];
      for (int k = 0; k < NXI; k++)
        m_tile[k] = acc[r][k][q];
      vec4 y[TM * TM];
      transform_output (m_tile, y);
      ivec2 pixel = TM * ivec2 (m % TILES_X, m / TILES_X);
      for (int p = 0; p < TM * TM; p++) {
        ivec2 at = pixel + ivec2 (p % TM, p / TM);
        if (at.x < OUT_W && at.y < OUT_H) {
          vec4 value =
            vq_activate_planes (y[p] * scale + bias, n / 4, ACT, ALPHA, ACT_FIRST, ACT_END);
          imageStore (u_dst, (OUT_PLANE0 + n / 4) * OUT_HW + at.y * OUT_W + at.x,
                      mix (vec4 (0.0), value, real));
        }
      }
    }
  }
}
