/* Decoding media into model input tensors for `vq compress` and `vq eval`:
 * the same FFmpeg reader and preprocessing as `vq detect`, so calibration
 * and evaluation see exactly what inference sees. */
#ifndef VQ_TOOL_FRAMES_H
#define VQ_TOOL_FRAMES_H

#include <glib.h>

#include "vqcore/model.h"

typedef struct {
  int64_t start;  /* first video frame index taken */
  int64_t every;  /* then every Nth */
  int64_t max;    /* at most this many per file (0: no limit) */
} vq_tool_frame_selection;

/* Decodes every path and returns a GPtrArray of g_malloc'ed float tensors
 * (3 x input.height x input.width, preprocessed for `model`). A file that
 * holds a single frame (an image) always contributes it, whatever `start`
 * says. *labels (may be NULL) receives "path#index" for each tensor. */
GPtrArray *vq_tool_load_tensors (const vq_model *model, char **paths,
                                 const vq_tool_frame_selection *selection, GPtrArray **labels,
                                 GError **error);

#endif
