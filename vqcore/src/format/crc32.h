/* CRC-32 as used by zlib, PNG and the .vqm format (reflected polynomial
 * 0xEDB88320). */
#ifndef VQCORE_FORMAT_CRC32_H
#define VQCORE_FORMAT_CRC32_H

#include <stddef.h>
#include <stdint.h>

/* Continues a CRC: start with crc = 0 and feed the bytes in any chunks. */
uint32_t vq__crc32 (uint32_t crc, const void *data, size_t size);

#endif
