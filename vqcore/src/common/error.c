#include "vqcore/error.h"

#include "error_private.h"

G_DEFINE_QUARK (vq-error-quark, vq_error)

gboolean
vq__fail_format (GError **error, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, VQ_ERROR, VQ_ERROR_FORMAT, message);
  g_free (message);
  return FALSE;
}
