/* IEEE 754 half precision <-> single precision, exact for every value
 * (round to nearest even on the way down). */
#ifndef VQCORE_HALF_H
#define VQCORE_HALF_H

#include <stddef.h>
#include <stdint.h>

float vq__half_to_float (uint16_t h);
uint16_t vq__float_to_half (float f);
/* A new array (g_free) holding the n values as halves. */
uint16_t *vq__halves_new (const float *values, size_t n);

#endif
