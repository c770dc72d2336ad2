#version 450
/* shaders/preprocess.comp — frame bytes -> the model's input tensor (packed-4,
 * written straight into the network's input value), the same computation as
 * vq_preprocess_frame() in vqcore/src/detect/preprocess.c, in the same order
 * of operations:
 *   - letterbox or stretch: the content rectangle (whole pixels) comes from
 *     the host (vq__content_rect_compute), pixels outside get (0 - mean) / std;
 *   - bilinear with half-pixel centres: source columns/rows and weights come
 *     from host tables computed with the CPU code's double-precision formula;
 *     each source row is interpolated horizontally first, then vertically;
 *   - YUV (NV12, I420) is BT.601 limited range with the CPU code's constants
 *     (spec constants), chroma from the pixel's 2x2 block, clamped to 0..255;
 *   - colour order, then (value - mean) / std.
 * `precise` keeps the compiler from fusing a * b + c into an FMA, which would
 * round differently from the CPU code. One invocation per output pixel. */
#include "common.glsl"

layout (local_size_x_id = 0) in;

layout (constant_id = 1) const int FORMAT = 0;      /* vq_pixel_format */
layout (constant_id = 2) const int BPP = 3;         /* packed formats */
layout (constant_id = 3) const int OFF_R = 0;       /* byte offsets in a packed pixel */
layout (constant_id = 4) const int OFF_G = 1;
layout (constant_id = 5) const int OFF_B = 2;
layout (constant_id = 6) const int SRC_W = 1;
layout (constant_id = 7) const int SRC_H = 1;
layout (constant_id = 8) const int PLANE1 = 0;      /* byte offsets of planes 1, 2 */
layout (constant_id = 9) const int PLANE2 = 0;
layout (constant_id = 10) const int CHROMA_STRIDE = 0;
layout (constant_id = 11) const int DST_W = 1;
layout (constant_id = 12) const int DST_H = 1;
layout (constant_id = 13) const int RECT_X = 0;
layout (constant_id = 14) const int RECT_Y = 0;
layout (constant_id = 15) const int RECT_W = 1;
layout (constant_id = 16) const int RECT_H = 1;
layout (constant_id = 17) const int OUT_PLANE0 = 0;
layout (constant_id = 18) const bool BGR = false;   /* tensor channel 0 = blue */
layout (constant_id = 19) const float MEAN0 = 0.0;
layout (constant_id = 20) const float MEAN1 = 0.0;
layout (constant_id = 21) const float MEAN2 = 0.0;
layout (constant_id = 22) const float STD0 = 1.0;
layout (constant_id = 23) const float STD1 = 1.0;
layout (constant_id = 24) const float STD2 = 1.0;
layout (constant_id = 25) const float YUV_Y = 1.0;
layout (constant_id = 26) const float YUV_RV = 0.0;
layout (constant_id = 27) const float YUV_GU = 0.0;
layout (constant_id = 28) const float YUV_GV = 0.0;
layout (constant_id = 29) const float YUV_BU = 0.0;

const int PIXEL_NV12 = 6;
const int PIXEL_I420 = 7;

layout (binding = 0) uniform usamplerBuffer u_frame; /* R8UI: the frame's bytes */
layout (binding = 1) uniform samplerBuffer u_table;  /* R32F: column, then row tables */
layout (binding = 2, rgba32f) uniform writeonly imageBuffer u_dst;

float byte_at (int offset)
{
  return float (texelFetch (u_frame, offset).r);
}

/* RGB of source pixel (x, y), as the CPU code computes it. */
vec3 source_rgb (int x, int y)
{
  if (FORMAT == PIXEL_NV12 || FORMAT == PIXEL_I420) {
    int yv = int (texelFetch (u_frame, y * SRC_W + x).r);
    int uv, vv;
    if (FORMAT == PIXEL_NV12) {
      int base = PLANE1 + (y / 2) * CHROMA_STRIDE + (x / 2) * 2;
      uv = int (texelFetch (u_frame, base).r);
      vv = int (texelFetch (u_frame, base + 1).r);
    } else {
      int offset = (y / 2) * CHROMA_STRIDE + x / 2;
      uv = int (texelFetch (u_frame, PLANE1 + offset).r);
      vv = int (texelFetch (u_frame, PLANE2 + offset).r);
    }
    precise float c = YUV_Y * float (yv - 16);
    precise float d = float (uv - 128), e = float (vv - 128);
    precise float r = c + YUV_RV * e;
    precise float g = c - YUV_GU * d - YUV_GV * e;
    precise float b = c + YUV_BU * d;
    return clamp (vec3 (r, g, b), vec3 (0.0), vec3 (255.0));
  }
  int p = (y * SRC_W + x) * BPP;
  return vec3 (byte_at (p + OFF_R), byte_at (p + OFF_G), byte_at (p + OFF_B));
}

vec3 lerp3 (vec3 a, vec3 b, float t)
{
  precise vec3 v = a + (b - a) * t;
  return v;
}

void main ()
{
  int index = int (gl_GlobalInvocationID.x);
  if (index >= DST_W * DST_H)
    return;
  int y = index / DST_W;
  int x = index - y * DST_W;
  vec3 mean = vec3 (MEAN0, MEAN1, MEAN2), std_dev = vec3 (STD0, STD1, STD2);
  precise vec3 value;

  if (x < RECT_X || x >= RECT_X + RECT_W || y < RECT_Y || y >= RECT_Y + RECT_H) {
    value = (vec3 (0.0) - mean) / std_dev;
  } else {
    int j = x - RECT_X, i = y - RECT_Y;
    int x0 = int (texelFetch (u_table, j).r);
    int x1 = int (texelFetch (u_table, RECT_W + j).r);
    float tx = texelFetch (u_table, 2 * RECT_W + j).r;
    int y0 = int (texelFetch (u_table, 3 * RECT_W + i).r);
    int y1 = int (texelFetch (u_table, 3 * RECT_W + RECT_H + i).r);
    float ty = texelFetch (u_table, 3 * RECT_W + 2 * RECT_H + i).r;
    vec3 h0 = lerp3 (source_rgb (x0, y0), source_rgb (x1, y0), tx);
    vec3 h1 = lerp3 (source_rgb (x0, y1), source_rgb (x1, y1), tx);
    vec3 rgb = lerp3 (h0, h1, ty);
    value = ((BGR ? rgb.bgr : rgb) - mean) / std_dev;
  }
  imageStore (u_dst, OUT_PLANE0 * DST_W * DST_H + index, vec4 (value, 0.0));
}
