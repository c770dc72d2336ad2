#version 450
/* shaders/decode.comp — NanoDet's Generalized Focal Loss head decoded on the
 * device, one level per dispatch, one invocation per grid cell, the same
 * computation as vq__decode_nanodet_gfl() (vqcore/src/detect/
 * decode_nanodet.c): a cell whose best class score reaches the threshold
 * gets its four side distances (softmax expectation over the bins, times
 * the stride) and emits one candidate per class at or above the threshold.
 * Only the candidates travel back to the host (NMS stays there).
 *
 * The outputs are read where the network left them: class scores and box
 * logits in packed-4 layout, channel = class or bin, pixel = cell (the
 * graph's trailing transposes are views). Candidates are appended through an
 * atomic counter; the host restores the CPU decoder's order (level, cell,
 * class). Element 1 of the counter buffer holds the threshold's bits. */
#include "common.glsl"

layout (local_size_x_id = 0) in;

layout (constant_id = 1) const int CELLS = 1;
layout (constant_id = 2) const int GRID_W = 1;
layout (constant_id = 3) const int CLASSES = 1;
layout (constant_id = 4) const int BINS = 1;
layout (constant_id = 5) const float STRIDE = 1.0;
layout (constant_id = 6) const int SCORE_PLANE0 = 0;
layout (constant_id = 7) const int BOX_PLANE0 = 0;
layout (constant_id = 8) const int LEVEL = 0;
layout (constant_id = 9) const int CAPACITY = 1;  /* candidates the buffer holds */

layout (binding = 0, rgba32f) uniform readonly imageBuffer u_scores;
layout (binding = 1, rgba32f) uniform readonly imageBuffer u_boxes;
layout (binding = 2, r32ui) uniform coherent uimageBuffer u_counter;
/* Float bits in an integer buffer: only activations are rgba32f images
 * (common.glsl), and candidates stay fp32 when activations are fp16. */
layout (binding = 3, rgba32ui) uniform writeonly uimageBuffer u_candidates;

float score_at (int cell, int c)
{
  return imageLoad (u_scores, (SCORE_PLANE0 + c / 4) * CELLS + cell)[c % 4];
}

float logit_at (int cell, int k)
{
  return imageLoad (u_boxes, (BOX_PLANE0 + k / 4) * CELLS + cell)[k % 4];
}

/* sum_b softmax(logits)_b * b, in the CPU code's order of operations. */
float side_distance (int cell, int side)
{
  float peak = logit_at (cell, side * BINS);
  for (int b = 1; b < BINS; b++)
    peak = max (peak, logit_at (cell, side * BINS + b));
  precise float sum = 0.0, expect = 0.0;
  for (int b = 0; b < BINS; b++) {
    precise float w = exp (logit_at (cell, side * BINS + b) - peak);
    sum += w;
    expect += w * float (b);
  }
  return expect / sum;
}

void main ()
{
  int cell = int (gl_GlobalInvocationID.x);
  if (cell >= CELLS)
    return;
  float threshold = uintBitsToFloat (imageLoad (u_counter, 1).r);
  float best = score_at (cell, 0);
  for (int c = 1; c < CLASSES; c++)
    best = max (best, score_at (cell, c));
  if (!(best >= threshold))
    return;
  precise float left = side_distance (cell, 0) * STRIDE;
  precise float top = side_distance (cell, 1) * STRIDE;
  precise float right = side_distance (cell, 2) * STRIDE;
  precise float bottom = side_distance (cell, 3) * STRIDE;
  precise float cx = (float (cell % GRID_W) + 0.5) * STRIDE;
  precise float cy = (float (cell / GRID_W) + 0.5) * STRIDE;
  for (int c = 0; c < CLASSES; c++) {
    float score = score_at (cell, c);
    if (!(score >= threshold))
      continue;
    int slot = int (imageAtomicAdd (u_counter, 0, 1u));
    if (slot >= CAPACITY)
      continue; /* the host sees the count and refuses */
    imageStore (u_candidates, 2 * slot,
                floatBitsToUint (vec4 (float (cell), float (c), score, cx - left)));
    imageStore (u_candidates, 2 * slot + 1,
                floatBitsToUint (vec4 (cy - top, left + right, top + bottom, float (LEVEL))));
  }
}
