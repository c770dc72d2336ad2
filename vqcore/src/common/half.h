/* IEEE 754 half precision <-> single precision, exact for every value
 * (round to nearest even on the way down). */
#ifndef VQCORE_HALF_H
#define VQCORE_HALF_H

#include <stdint.h>

float vq__half_to_float (uint16_t h);
uint16_t vq__float_to_half (float f);

#endif
