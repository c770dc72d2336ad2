/* The bounds-checked section reader declared in vqm_cursor.h. */
#include "vqm_cursor.h"

#include <string.h>

#include "vqcore/error.h"

void
vq__cursor_init (vq__cursor *cursor, const guint8 *data, gsize size, const char *file,
                 const char *section, GError **error)
{
  cursor->data = data;
  cursor->size = size;
  cursor->pos = 0;
  cursor->file = file;
  cursor->section = section;
  cursor->error = error;
  cursor->failed = FALSE;
}

gboolean
vq__cursor_fail (vq__cursor *cursor, int code, const char *format, ...)
{
  if (cursor->failed)
    return FALSE;
  cursor->failed = TRUE;
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (cursor->error, VQ_ERROR, code, "%s: section '%s': %s", cursor->file,
               cursor->section, message);
  g_free (message);
  return FALSE;
}

/* Returns the next n bytes and advances, or NULL (and fails) when fewer
 * remain. */
static const guint8 *
take (vq__cursor *cursor, gsize n, const char *what)
{
  if (cursor->failed)
    return NULL;
  gsize left = cursor->size - cursor->pos;
  if (n > left) {
    vq__cursor_fail (cursor, VQ_ERROR_FORMAT,
                     "unexpected end of section reading %s (at offset %" G_GSIZE_FORMAT
                     ", needs %" G_GSIZE_FORMAT " bytes, %" G_GSIZE_FORMAT " left)",
                     what, cursor->pos, n, left);
    return NULL;
  }
  const guint8 *p = cursor->data + cursor->pos;
  cursor->pos += n;
  return p;
}

uint32_t
vq__cursor_u32 (vq__cursor *cursor, const char *what)
{
  const guint8 *p = take (cursor, 4, what);
  return p ? vq__le32 (p) : 0;
}

int32_t
vq__cursor_i32 (vq__cursor *cursor, const char *what)
{
  return (int32_t) vq__cursor_u32 (cursor, what);
}

float
vq__cursor_f32 (vq__cursor *cursor, const char *what)
{
  uint32_t bits = vq__cursor_u32 (cursor, what);
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

uint64_t
vq__cursor_u64 (vq__cursor *cursor, const char *what)
{
  const guint8 *p = take (cursor, 8, what);
  return p ? vq__le64 (p) : 0;
}

const guint8 *
vq__cursor_bytes (vq__cursor *cursor, gsize n, const char *what)
{
  return take (cursor, n, what);
}

void
vq__cursor_pad4 (vq__cursor *cursor, const char *what)
{
  gsize pad = (4 - (cursor->pos & 3)) & 3;
  const guint8 *p = take (cursor, pad, what);
  for (gsize i = 0; p != NULL && i < pad; i++)
    if (p[i] != 0) {
      vq__cursor_fail (cursor, VQ_ERROR_FORMAT, "non-zero padding after %s at offset %" G_GSIZE_FORMAT,
                       what, cursor->pos - pad + i);
      return;
    }
}

char *
vq__cursor_string (vq__cursor *cursor, const char *what)
{
  gsize start = cursor->pos;
  uint32_t length = vq__cursor_u32 (cursor, what);
  const guint8 *bytes = take (cursor, length, what);
  vq__cursor_pad4 (cursor, what);
  if (bytes == NULL || cursor->failed)
    return NULL;
  if (memchr (bytes, 0, length) != NULL) {
    vq__cursor_fail (cursor, VQ_ERROR_FORMAT, "%s at offset %" G_GSIZE_FORMAT " contains a NUL byte",
                     what, start);
    return NULL;
  }
  const char *end = NULL;
  if (!g_utf8_validate_len ((const char *) bytes, length, &end)) {
    vq__cursor_fail (cursor, VQ_ERROR_FORMAT,
                     "%s at offset %" G_GSIZE_FORMAT " is not valid UTF-8 (bad byte at +%"
                     G_GSIZE_FORMAT ")",
                     what, start, (gsize) (end - (const char *) bytes));
    return NULL;
  }
  return g_strndup ((const char *) bytes, length);
}

gboolean
vq__cursor_check_count (vq__cursor *cursor, uint64_t count, gsize min_record, const char *what)
{
  if (cursor->failed)
    return FALSE;
  gsize left = cursor->size - cursor->pos;
  if (min_record > 0 && count > left / min_record)
    return vq__cursor_fail (cursor, VQ_ERROR_FORMAT,
                            "%" G_GUINT64_FORMAT " %s cannot fit in the %" G_GSIZE_FORMAT
                            " bytes that remain (each needs at least %" G_GSIZE_FORMAT ")",
                            count, what, left, min_record);
  return TRUE;
}
