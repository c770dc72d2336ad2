/* Internal interfaces between the parts of the .vqm reader and writer. */
#ifndef VQCORE_FORMAT_VQM_PRIVATE_H
#define VQCORE_FORMAT_VQM_PRIVATE_H

#include <glib.h>

#include "vqcore/model.h"
#include "vqcore/vqm.h"

/* Parses one section's bytes into `model` (or its graph). `file` names the
 * file in error messages. Each returns FALSE with `error` set on the first
 * problem; the partially filled model stays safe to free. */
gboolean vq__vqm_parse_meta (vq_model *model, const guint8 *data, gsize size, const char *file,
                             GError **error);
gboolean vq__vqm_parse_labels (vq_model *model, const guint8 *data, gsize size, const char *file,
                               GError **error);
gboolean vq__vqm_parse_graph (vq_graph *graph, const guint8 *data, gsize size, const char *file,
                              GError **error);
/* Binds blob payloads: pointers into `payload` (the DATA section) when
 * `borrow`, else owned copies. */
gboolean vq__vqm_parse_blobs (vq_graph *graph, const guint8 *data, gsize size,
                              const guint8 *payload, gsize payload_size, gboolean borrow,
                              const char *file, GError **error);

/* Serializes a model into a new buffer without validating it first (the
 * tests use it to craft bad files); vq_model_save() validates, then calls
 * this. Never fails; returns g_free()-able bytes. */
guint8 *vq__vqm_serialize (const vq_model *model, gsize *size);

/* Minimum parameter block size of an op in version 1.0. */
gsize vq__vqm_params_size (vq_op op);

/* Metadata keys of version 1.0. */
#define VQM_KEY_NAME "model.name"
#define VQM_KEY_DESCRIPTION "model.description"
#define VQM_KEY_INPUT_WIDTH "input.width"
#define VQM_KEY_INPUT_HEIGHT "input.height"
#define VQM_KEY_INPUT_CHANNELS "input.channels"
#define VQM_KEY_COLOR_ORDER "preprocess.color_order"
#define VQM_KEY_MEAN "preprocess.mean"
#define VQM_KEY_STD "preprocess.std"
#define VQM_KEY_FIT "preprocess.fit"
#define VQM_KEY_DECODER_KIND "decoder.kind"
#define VQM_KEY_NUM_CLASSES "decoder.num_classes"
#define VQM_KEY_REG_MAX "decoder.reg_max"
#define VQM_KEY_STRIDES "decoder.strides"
#define VQM_KEY_SCORE_OUTPUTS "decoder.score_outputs"
#define VQM_KEY_BOX_OUTPUTS "decoder.box_outputs"
#define VQM_KEY_SCORE_THRESHOLD "decoder.score_threshold"
#define VQM_KEY_NMS_IOU "decoder.nms_iou"
#define VQM_KEY_MAX_DETECTIONS "decoder.max_detections"

#endif
