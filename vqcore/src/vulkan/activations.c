/* activations.c — how activations are stored on a device: RGBA32F or
 * RGBA16F texels (arithmetic is fp32 either way), and the SPIR-V rewrite that
 * lets one compiled shader serve both.
 *
 * Why fp16 storage: llvmpipe stores every 32 bits of a texel in its own
 * lane-by-lane loop, so on lavapipe a conv's cost grows with the bytes it
 * writes. Halving them measured (vq bench --layers, the 2-core CI machine)
 * the stem conv 5.7 -> 4.3 ms, the 3x3 convs at 104x104 12-24 % faster, the
 * 13x13 layers unchanged, and the frame 72.9-74.9 -> 69.3-72.2 ms (vq bench
 * -n 30, default model). The accuracy it costs is bounded in the Vulkan
 * tests (test_vk_network, test_vk_frame, test_vk_conv).
 */
#include "vulkan_private.h"

#include "common/half.h"

/* SPIR-V: OpTypeImage's opcode and operands (word offsets in the instruction). */
enum {
  SPIRV_HEADER_WORDS = 5,
  OP_TYPE_IMAGE = 25,
  IMAGE_DIM = 3,
  IMAGE_SAMPLED = 7,
  IMAGE_FORMAT = 8,
  DIM_BUFFER = 5,
  SAMPLED_STORAGE = 2,
  FORMAT_RGBA32F = 1,
  FORMAT_RGBA16F = 2,
};

static gboolean
fp16_format_supported (const vq_vk_context *ctx)
{
  VkFormatProperties props;
  ctx->vk.vkGetPhysicalDeviceFormatProperties (ctx->physical, VK_FORMAT_R16G16B16A16_SFLOAT,
                                               &props);
  VkFormatFeatureFlags need = VK_FORMAT_FEATURE_STORAGE_TEXEL_BUFFER_BIT;
  return (props.bufferFeatures & need) == need;
}

gboolean
vq__vk_activations_choose (vq_vk_context *ctx, vq_precision precision, GError **error)
{
  ctx->fp16_activations = false;
  if (precision == VQ_PRECISION_FP32)
    return TRUE;
  if (precision == VQ_PRECISION_FP16) {
    if (!fp16_format_supported (ctx)) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                   "Vulkan: fp16 activations need RGBA16F storage texel buffers, which %s "
                   "lacks; use precision fp32 or auto",
                   ctx->properties.deviceName);
      return FALSE;
    }
    ctx->fp16_activations = true;
    return TRUE;
  }
  /* AUTO. Measured faster on lavapipe only; GPUs keep fp32 until measured. */
  gboolean fp16 = ctx->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU;
  const char *env = g_getenv ("VQ_VK_FP16_ACTIVATIONS");
  if (env && (strcmp (env, "0") == 0 || strcmp (env, "1") == 0))
    fp16 = env[0] == '1';
  ctx->fp16_activations = fp16 && fp16_format_supported (ctx);
  return TRUE;
}

VkFormat
vq__vk_activation_format (const vq_vk_context *ctx)
{
  return ctx->fp16_activations ? VK_FORMAT_R16G16B16A16_SFLOAT
                               : VK_FORMAT_R32G32B32A32_SFLOAT;
}

uint32_t
vq__vk_activation_texel_bytes (const vq_vk_context *ctx)
{
  return ctx->fp16_activations ? 8 : 16;
}

uint32_t *
vq__vk_spirv_for_activations (const vq_vk_context *ctx, const uint32_t *code, size_t bytes)
{
  if (!ctx->fp16_activations)
    return NULL;
  size_t n = bytes / 4;
  uint32_t *out = g_memdup2 (code, n * 4);
  for (size_t i = SPIRV_HEADER_WORDS; i < n;) {
    uint32_t words = out[i] >> 16, opcode = out[i] & 0xffff;
    if (words == 0 || i + words > n)
      break; /* malformed: leave the rest to the driver's own checks */
    /* Every rgba32f storage texel buffer of our shaders is an activation
     * (shaders/common.glsl). */
    if (opcode == OP_TYPE_IMAGE && words > IMAGE_FORMAT && out[i + IMAGE_DIM] == DIM_BUFFER &&
        out[i + IMAGE_SAMPLED] == SAMPLED_STORAGE && out[i + IMAGE_FORMAT] == FORMAT_RGBA32F)
      out[i + IMAGE_FORMAT] = FORMAT_RGBA16F;
    i += words;
  }
  return out;
}

void
vq__vk_encode_activations (const vq_vk_context *ctx, void *dst, const float *src, gsize n)
{
  if (!ctx->fp16_activations) {
    memcpy (dst, src, n * sizeof (float));
    return;
  }
  uint16_t *halves = dst;
  for (gsize i = 0; i < n; i++)
    halves[i] = vq__float_to_half (src[i]);
}

void
vq__vk_decode_activations (const vq_vk_context *ctx, float *dst, const void *src, gsize n)
{
  if (!ctx->fp16_activations) {
    memcpy (dst, src, n * sizeof (float));
    return;
  }
  const uint16_t *halves = src;
  for (gsize i = 0; i < n; i++)
    dst[i] = vq__half_to_float (halves[i]);
}
