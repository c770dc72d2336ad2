/* shaders/common.glsl — what every vqdetect compute shader shares.
 *
 * Activation layout ("packed-4"): a value with C channels and H x W pixels is
 * stored as ceil(C/4) planes of H*W RGBA32F texels; texel (plane, y, x) holds
 * channels 4*plane .. 4*plane+3 of pixel (y, x). Channels past C are zero.
 * Shaders declare activations, and nothing else, as rgba32f storage texel
 * buffers: where activations are stored in fp16 the runtime rewrites exactly
 * those declarations to rgba16f (vqcore/src/vulkan/activations.c), so one
 * SPIR-V serves both. Arithmetic is fp32 either way.
 * Shaders read and write activations through storage texel buffers
 * (imageBuffer) because on lavapipe texel loads are several times faster
 * than storage-buffer loads (see shared/guide/vulkan.md). A node reading or
 * writing part of a value (split, concat) gets a plane offset, so concat
 * costs nothing: producers write straight into their channel range.
 */
#ifndef VQ_COMMON_GLSL
#define VQ_COMMON_GLSL

#define VQ_ACT_NONE 0
#define VQ_ACT_RELU 1
#define VQ_ACT_RELU6 2
#define VQ_ACT_LEAKY_RELU 3
#define VQ_ACT_SIGMOID 4
#define VQ_ACT_HARD_SWISH 5
#define VQ_ACT_SILU 6

/* Same formulas as vq_activation_apply() in vqcore/src/common/graph.c. */
vec4 vq_activate (vec4 x, int act, float alpha)
{
  if (act == VQ_ACT_RELU)
    return max (x, vec4 (0.0));
  if (act == VQ_ACT_RELU6)
    return clamp (x, vec4 (0.0), vec4 (6.0));
  if (act == VQ_ACT_LEAKY_RELU)
    return mix (alpha * x, x, greaterThanEqual (x, vec4 (0.0)));
  if (act == VQ_ACT_SIGMOID)
    return 1.0 / (1.0 + exp (-x));
  if (act == VQ_ACT_HARD_SWISH)
    return x * clamp (x + 3.0, vec4 (0.0), vec4 (6.0)) / 6.0;
  if (act == VQ_ACT_SILU)
    return x / (1.0 + exp (-x));
  return x;
}

/* A conv's activation on output plane `plane` (of its own output): `act`
 * inside planes [first, end), none elsewhere. The runtime fuses an
 * activation node that reads only part of a conv's output (a split) into
 * the conv this way (vqcore/src/vulkan/plan.h); otherwise the range is
 * every plane. */
vec4 vq_activate_planes (vec4 x, int plane, int act, float alpha, int first, int end)
{
  return plane >= first && plane < end ? vq_activate (x, act, alpha) : x;
}

float vq_activate1 (float x, int act, float alpha)
{
  return vq_activate (vec4 (x), act, alpha).x;
}

#endif
