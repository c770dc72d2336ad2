/* CRC-32, slicing by 8: the loader checksums the whole weight payload on
 * every load, so the byte-at-a-time loop (about 400 MB/s) would cost more
 * than the mapping itself; eight tables make it several times faster. */
#include "crc32.h"

#include <glib.h>

static uint32_t crc_tables[8][256];

static gpointer
init_tables (gpointer unused)
{
  for (uint32_t i = 0; i < 256; i++) {
    uint32_t c = i;
    for (int k = 0; k < 8; k++)
      c = (c & 1) ? 0xEDB88320u ^ (c >> 1) : c >> 1;
    crc_tables[0][i] = c;
  }
  for (uint32_t i = 0; i < 256; i++)
    for (int t = 1; t < 8; t++)
      crc_tables[t][i] = (crc_tables[t - 1][i] >> 8) ^ crc_tables[0][crc_tables[t - 1][i] & 0xff];
  return NULL;
}

uint32_t
vq__crc32 (uint32_t crc, const void *data, size_t size)
{
  static GOnce once = G_ONCE_INIT;
  g_once (&once, init_tables, NULL);

  const uint8_t *p = data;
  crc = ~crc;
  /* Bytes are combined explicitly (not loaded as a word) so the result does
   * not depend on the host's byte order or on alignment. */
  while (size >= 8) {
    uint32_t lo = crc ^ ((uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16
                         | (uint32_t) p[3] << 24);
    crc = crc_tables[7][lo & 0xff] ^ crc_tables[6][(lo >> 8) & 0xff]
          ^ crc_tables[5][(lo >> 16) & 0xff] ^ crc_tables[4][lo >> 24]
          ^ crc_tables[3][p[4]] ^ crc_tables[2][p[5]] ^ crc_tables[1][p[6]]
          ^ crc_tables[0][p[7]];
    p += 8;
    size -= 8;
  }
  while (size--)
    crc = crc_tables[0][(crc ^ *p++) & 0xff] ^ (crc >> 8);
  return ~crc;
}
