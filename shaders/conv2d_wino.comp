#version 450
/* shaders/conv2d_wino.comp — 3x3 stride-1 conv2d as Winograd F(2x2, 3x3),
 * all in one pass: no transformed copy of the input, the weights or the
 * products ever reaches memory.
 *
 * A tile is 2x2 output pixels, computed from the 4x4 input patch d around it
 * as Y = A^T [ sum over input channels of (G g G^T) .* (B^T d B) ] A: 16
 * multiplies per tile and channel pair instead of 36, so 2.25x fewer than
 * conv2d_gemm.comp, whose cluster layout this shader keeps: an 8-lane
 * cluster (one lavapipe subgroup) owns 8 * ROWS tiles x 16 output channels,
 * each lane ROWS tiles (ROWS, a specialization constant, counts tiles here)
 * with 16 transformed products x 16 channels of accumulators per tile.
 *
 * Per 4-input-channel chunk each lane fetches or decodes the 3x3 kernels of
 * its two output rows exactly as conv2d_gemm does (conv_chunk.glsl, VQ
 * included), transforms them (G g G^T: adds and halvings), and the lanes
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

const int KW = 3;
const int KHKW = 9;
const int IN_HW = IN_H * IN_W;
const int OUT_HW = OUT_H * OUT_W;
const int TILES_X = (OUT_W + 1) / 2;
const int TILES = TILES_X * ((OUT_H + 1) / 2);

layout (binding = 0, rgba32f) uniform readonly imageBuffer u_src;
layout (binding = 1, rgba32f) uniform writeonly imageBuffer u_dst;
layout (binding = 2) uniform samplerBuffer u_weights; /* dense rows or codebook */
layout (binding = 3) uniform usamplerBuffer u_indices; /* VQ indices */
layout (binding = 4) uniform samplerBuffer u_bias;    /* R32F, one per channel */
layout (binding = 5) uniform samplerBuffer u_scale;   /* R32F, VQ row scales */

/* Output channels per cluster: 8 lanes x VQ_LANE_ROWS rows each. */
#ifndef VQ_LANE_ROWS
#define VQ_LANE_ROWS 1
#endif
const int COLS = 8 * VQ_LANE_ROWS;

#include "conv_chunk.glsl"

/* G g G^T of this lane's two rows: u[h][i * 16 + 4 * a + b] for input channel
 * i of the chunk. G = [1 0 0; 1/2 1/2 1/2; 1/2 -1/2 1/2; 0 0 1]. */
float u[VQ_LANE_ROWS][4 * 16];

void transform_weights ()
{
  [[unroll]] for (int h = 0; h < VQ_LANE_ROWS; h++)
    [[unroll]] for (int i = 0; i < 4; i++) {
      float s[4][3]; /* G g: rows of the kernel combined */
      [[unroll]] for (int j = 0; j < 3; j++) {
        float g0 = w_rows[h][i * KHKW + j], g1 = w_rows[h][i * KHKW + KW + j];
        float g2 = w_rows[h][i * KHKW + 2 * KW + j];
        s[0][j] = g0;
        s[1][j] = 0.5 * (g0 + g1 + g2);
        s[2][j] = 0.5 * (g0 - g1 + g2);
        s[3][j] = g2;
      }
      [[unroll]] for (int a = 0; a < 4; a++) {
        u[h][i * 16 + 4 * a + 0] = s[a][0];
        u[h][i * 16 + 4 * a + 1] = 0.5 * (s[a][0] + s[a][1] + s[a][2]);
        u[h][i * 16 + 4 * a + 2] = 0.5 * (s[a][0] - s[a][1] + s[a][2]);
        u[h][i * 16 + 4 * a + 3] = s[a][2];
      }
    }
}

/* B^T d B of the 4x4 patch at `origin` of input plane `plane` (4 channels),
 * B^T = [1 0 -1 0; 0 1 1 0; 0 -1 1 0; 0 1 0 -1]; pixels outside read 0. */
void transform_input (int plane, ivec2 origin, out vec4 v[16])
{
  vec4 d[4][4];
  [[unroll]] for (int y = 0; y < 4; y++)
    [[unroll]] for (int x = 0; x < 4; x++) {
      ivec2 p = origin + ivec2 (x, y);
      bool inside = all (greaterThanEqual (p, ivec2 (0))) && p.x < IN_W && p.y < IN_H;
      int index = plane * IN_HW + p.y * IN_W + p.x;
      d[y][x] = inside ? imageLoad (u_src, inside ? index : 0) : vec4 (0.0);
    }
  vec4 t[4][4];
  [[unroll]] for (int x = 0; x < 4; x++) {
    t[0][x] = d[0][x] - d[2][x];
    t[1][x] = d[1][x] + d[2][x];
    t[2][x] = d[2][x] - d[1][x];
    t[3][x] = d[1][x] - d[3][x];
  }
  [[unroll]] for (int a = 0; a < 4; a++) {
    v[4 * a + 0] = t[a][0] - t[a][2];
    v[4 * a + 1] = t[a][1] + t[a][2];
    v[4 * a + 2] = t[a][2] - t[a][1];
    v[4 * a + 3] = t[a][1] - t[a][3];
  }
}

/* A^T m A for 4 output channels: the 2x2 pixels of a tile, y[2 * row + col].
 * A^T = [1 1 1 0; 0 1 -1 -1]. */
void transform_output (vec4 m[16], out vec4 y[4])
{
  vec4 r[2][4];
  [[unroll]] for (int b = 0; b < 4; b++) {
    r[0][b] = m[b] + m[4 + b] + m[8 + b];
    r[1][b] = m[4 + b] - m[8 + b] - m[12 + b];
  }
  [[unroll]] for (int i = 0; i < 2; i++) {
    y[2 * i + 0] = r[i][0] + r[i][1] + r[i][2];
    y[2 * i + 1] = r[i][1] - r[i][2] - r[i][3];
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
    origin[r] = m < TILES ? ivec2 (2 * tx - PL, 2 * ty - PT) : ivec2 (-1 << 20);
  }

  uint row[VQ_LANE_ROWS];
  [[unroll]] for (int h = 0; h < VQ_LANE_ROWS; h++)
    row[h] = uint (min (n0 + int (lane) * VQ_LANE_ROWS + h, COUT - 1));

  vec4 acc[ROWS][16][COLS / 4];
  [[unroll]] for (int r = 0; r < ROWS; r++)
    [[unroll]] for (int k = 0; k < 16; k++)
      [[unroll]] for (int q = 0; q < COLS / 4; q++)
        acc[r][k][q] = vec4 (0.0);

  int plane = IN_PLANE0 + group * CIN_G4;
  for (int c4 = 0; c4 < CIN_G4; c4++, plane++) {
    vq_load_chunk (row, c4);
    transform_weights ();
    vec4 v[ROWS][16];
    [[unroll]] for (int r = 0; r < ROWS; r++)
      transform_input (plane, origin[r], v[r]);
    [[unroll]] for (int k = 0; k < 16; k++)
      [[unroll]] for (int i = 0; i < 4; i++)
        [[unroll]] for (int q = 0; q < COLS / 4; q++) {
          /* Column c lives in lane c / VQ_LANE_ROWS, row c % VQ_LANE_ROWS. */
          vec4 w;
          [[unroll]] for (int j = 0; j < 4; j++) {
            int c = 4 * q + j;
            w[j] = subgroupShuffle (u[c % VQ_LANE_ROWS][i * 16 + k],
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
      vec4 m_tile[16];
      for (int k = 0; k < 16; k++)
        m_tile[k] = acc[r][k][q];
      vec4 y[4];
      transform_output (m_tile, y);
      ivec2 pixel = 2 * ivec2 (m % TILES_X, m / TILES_X);
      for (int p = 0; p < 4; p++) {
        ivec2 at = pixel + ivec2 (p & 1, p >> 1);
        if (at.x < OUT_W && at.y < OUT_H) {
          vec4 value = vq_activate (y[p] * scale + bias, ACT, ALPHA);
          imageStore (u_dst, (OUT_PLANE0 + n / 4) * OUT_HW + at.y * OUT_W + at.x,
                      mix (vec4 (0.0), value, real));
        }
      }
    }
  }
}
