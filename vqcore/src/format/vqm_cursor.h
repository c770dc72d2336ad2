/* A bounds-checked little-endian reader over one section of a .vqm file.
 *
 * Every read checks the bytes that remain. The first failure records a
 * GError ("FILE: section 'NAME': MESSAGE") and makes the cursor sticky:
 * later reads return zeros and change nothing, so a parser may read a whole
 * record and test vq__cursor_ok() once before using any of it. */
#ifndef VQCORE_FORMAT_VQM_CURSOR_H
#define VQCORE_FORMAT_VQM_CURSOR_H

#include <glib.h>
#include <stdint.h>

typedef struct {
  const guint8 *data;
  gsize size;
  gsize pos;
  const char *file;    /* for messages */
  const char *section; /* for messages */
  GError **error;
  gboolean failed;
} vq__cursor;

void vq__cursor_init (vq__cursor *cursor, const guint8 *data, gsize size, const char *file,
                      const char *section, GError **error);

/* Records an error (if none yet) and returns FALSE. */
gboolean vq__cursor_fail (vq__cursor *cursor, int code, const char *format, ...)
    G_GNUC_PRINTF (3, 4);

static inline gboolean
vq__cursor_ok (const vq__cursor *cursor)
{
  return !cursor->failed;
}

static inline gsize
vq__cursor_remaining (const vq__cursor *cursor)
{
  return cursor->failed ? 0 : cursor->size - cursor->pos;
}

/* `what` names the field in the error message. */
uint32_t vq__cursor_u32 (vq__cursor *cursor, const char *what);
int32_t vq__cursor_i32 (vq__cursor *cursor, const char *what);
float vq__cursor_f32 (vq__cursor *cursor, const char *what);
uint64_t vq__cursor_u64 (vq__cursor *cursor, const char *what);
/* Returns a pointer into the data, or NULL after a failure. */
const guint8 *vq__cursor_bytes (vq__cursor *cursor, gsize n, const char *what);
/* Skips zero padding up to a multiple of 4; non-zero padding is an error. */
void vq__cursor_pad4 (vq__cursor *cursor, const char *what);
/* Reads a string (u32 length, UTF-8 without NUL, zero padding to 4) into a
 * new allocation; returns NULL after a failure. */
char *vq__cursor_string (vq__cursor *cursor, const char *what);

/* Checks that `count` records of at least `min_record` bytes each can fit in
 * what remains, before the caller allocates anything for them. */
gboolean vq__cursor_check_count (vq__cursor *cursor, uint64_t count, gsize min_record,
                                 const char *what);

/* Little-endian helpers for fixed-layout structures (header, table). */
static inline uint16_t
vq__le16 (const guint8 *p)
{
  return (uint16_t) (p[0] | (p[1] << 8));
}

static inline uint32_t
vq__le32 (const guint8 *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static inline uint64_t
vq__le64 (const guint8 *p)
{
  return (uint64_t) vq__le32 (p) | (uint64_t) vq__le32 (p + 4) << 32;
}

#endif
