/* Internal error helpers shared by the validators. */
#ifndef VQCORE_ERROR_PRIVATE_H
#define VQCORE_ERROR_PRIVATE_H

#include <glib.h>

/* Sets a VQ_ERROR_FORMAT error with a printf-style message; returns FALSE
 * so that checks read `return vq__fail_format (error, ...)`. */
gboolean vq__fail_format (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

#endif
