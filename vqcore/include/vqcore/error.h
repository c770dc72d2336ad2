/* vqcore/error.h — the GError domain every vqcore function reports into. */
#ifndef VQCORE_ERROR_H
#define VQCORE_ERROR_H

#include <glib.h>

G_BEGIN_DECLS

#define VQ_ERROR (vq_error_quark ())
GQuark vq_error_quark (void);

typedef enum {
  VQ_ERROR_IO,          /* a file could not be opened, read or written */
  VQ_ERROR_FORMAT,      /* a file is not what it claims: bad magic, bounds, checksum */
  VQ_ERROR_UNSUPPORTED, /* valid input that vqcore cannot handle (op, version, pixel format) */
  VQ_ERROR_INVALID,     /* a bad argument or option */
  VQ_ERROR_BACKEND,     /* a compute backend failed (no device, out of memory, device lost) */
  VQ_ERROR_NOT_FOUND,   /* the default model or a named device does not exist */
} VqErrorCode;

G_END_DECLS

#endif /* VQCORE_ERROR_H */
