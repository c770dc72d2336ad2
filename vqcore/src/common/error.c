#include "vqcore/error.h"

G_DEFINE_QUARK (vq-error-quark, vq_error)
