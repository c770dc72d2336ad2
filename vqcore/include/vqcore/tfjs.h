/* vqcore/tfjs.h — imports a TensorFlow.js graph model (model.json + the
 * weight shards it names) into a vq_graph: constant folding, removal of
 * NCHW<->NHWC transpose pairs, Pad folded into conv/pool padding, bias and
 * activation fused into conv. */
#ifndef VQCORE_TFJS_H
#define VQCORE_TFJS_H

#include <glib.h>

#include "model.h"

G_BEGIN_DECLS

/* Imports the graph of `model_json_path` (weight files are looked up beside
 * it). Graph input 0 is the model's image input, in NCHW; graph outputs
 * follow the model's signature, sorted by output name. An unsupported op
 * fails with an error naming the op and the node. */
vq_graph *vq_tfjs_import_graph (const char *model_json_path, GError **error);

/* Imports and wraps the graph into a model with the metadata defaults for
 * NanoDet (COCO labels, BGR mean/std, letterbox, GFL decoder with strides
 * 8/16/32, the outputs matched to levels by their shapes). */
vq_model *vq_tfjs_import_nanodet (const char *model_json_path, GError **error);

G_END_DECLS

#endif /* VQCORE_TFJS_H */
