/* Internal interfaces shared by the files of vqcore/src/detect. */
#ifndef VQCORE_DETECT_PRIVATE_H
#define VQCORE_DETECT_PRIVATE_H

#include <glib.h>

#include "vqcore/detect.h"
#include "vqcore/image.h"

G_BEGIN_DECLS

/* Frames larger than this per side are refused: no video format comes close,
 * and it keeps every size product far from overflowing. */
#define VQ_MAX_FRAME_SIDE (1 << 16)

/* Where the scaled image lands in the model input, in whole input pixels:
 * columns [x, x + w) and rows [y, y + h); everything else is padding. The
 * vq_letterbox of the same frame is exactly
 *   scale_x = w / src_w, offset_x = x (likewise for y). */
typedef struct {
  int32_t x, y, w, h;
} vq__content_rect;

vq__content_rect vq__content_rect_compute (int32_t src_w, int32_t src_h, int32_t dst_w,
                                           int32_t dst_h, vq_fit_mode fit);

/* One decoder: appends candidates in model-input pixels to `out`. `outputs`
 * holds every graph output of the model, indexed like graph->outputs. */
typedef gboolean (*vq__decode_func) (const vq_model *model, const vq_tensor_view *outputs,
                                     uint32_t n_outputs, const vq_decode_options *options,
                                     GArray *out, GError **error);

/* TRUE when vq_decode_outputs has a decoder for `kind`. */
gboolean vq__decoder_supported (vq_decoder_kind kind);

gboolean vq__decode_nanodet_gfl (const vq_model *model, const vq_tensor_view *outputs,
                                 uint32_t n_outputs, const vq_decode_options *options,
                                 GArray *out, GError **error);

G_END_DECLS

#endif /* VQCORE_DETECT_PRIVATE_H */
