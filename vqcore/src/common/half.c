#include "half.h"

#include <glib.h>
#include <string.h>

float
vq__half_to_float (uint16_t h)
{
  uint32_t sign = (uint32_t) (h & 0x8000) << 16;
  uint32_t exponent = (h >> 10) & 0x1f;
  uint32_t mantissa = h & 0x3ff;
  uint32_t bits;

  if (exponent == 0) {
    if (mantissa == 0) {
      bits = sign;
    } else {
      /* Subnormal: normalise it. */
      exponent = 127 - 15 + 1;
      while ((mantissa & 0x400) == 0) {
        mantissa <<= 1;
        exponent--;
      }
      mantissa &= 0x3ff;
      bits = sign | (exponent << 23) | (mantissa << 13);
    }
  } else if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
  } else {
    bits = sign | ((exponent + 127 - 15) << 23) | (mantissa << 13);
  }
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

uint16_t
vq__float_to_half (float f)
{
  uint32_t bits;
  memcpy (&bits, &f, sizeof bits);
  uint16_t sign = (uint16_t) ((bits >> 16) & 0x8000);
  uint32_t exponent = (bits >> 23) & 0xff;
  uint32_t mantissa = bits & 0x7fffff;

  if (exponent == 0xff) /* inf or NaN (keep NaN quiet and non-zero) */
    return sign | 0x7c00 | (mantissa ? 0x200 : 0);

  int32_t e = (int32_t) exponent - 127 + 15;
  if (e >= 0x1f)
    return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10)
      return sign;
    /* Subnormal half: shift the implicit leading one in, round to even. */
    mantissa |= 0x800000;
    uint32_t shift = (uint32_t) (14 - e);
    uint32_t half_mantissa = mantissa >> shift;
    uint32_t remainder = mantissa & ((1u << shift) - 1);
    uint32_t halfway = 1u << (shift - 1);
    if (remainder > halfway || (remainder == halfway && (half_mantissa & 1)))
      half_mantissa++;
    return sign | (uint16_t) half_mantissa;
  }
  uint32_t half = ((uint32_t) e << 10) | (mantissa >> 13);
  uint32_t remainder = mantissa & 0x1fff;
  /* Round to nearest even, without a branch: the remainder is as good as
   * random, and a mispredicted branch per value made converting a frame's
   * activations (Vulkan fp16 arena) twice as slow. A carry into the
   * exponent is the correct rounding. */
  half += (uint32_t) (remainder > 0x1000) | ((uint32_t) (remainder == 0x1000) & half & 1u);
  return sign | (uint16_t) half;
}

uint16_t *
vq__halves_new (const float *values, size_t n)
{
  uint16_t *halves = g_new (uint16_t, MAX (n, 1));
  for (size_t i = 0; i < n; i++)
    halves[i] = vq__float_to_half (values[i]);
  return halves;
}
