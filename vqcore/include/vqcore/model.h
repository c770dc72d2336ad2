/* vqcore/model.h — a detector model: the graph plus everything an
 * application needs to use it (labels, input, preprocessing, decoder).
 *
 * A vq_model is what a .vqm file holds (the byte layout is documented in
 * vqcore/vqm.h). Load one with vq_model_load(), write one with
 * vq_model_save(), release it with vq_model_free().
 */
#ifndef VQCORE_MODEL_H
#define VQCORE_MODEL_H

#include <glib.h>

#include "graph.h"

G_BEGIN_DECLS

typedef enum {
  VQ_COLOR_RGB = 0, /* channel 0 of the input tensor is red */
  VQ_COLOR_BGR = 1, /* channel 0 is blue */
  VQ_COLOR_ORDER_COUNT
} vq_color_order;

typedef enum {
  VQ_RESIZE_LETTERBOX = 0, /* keep aspect ratio, centre, pad with black */
  VQ_RESIZE_STRETCH = 1,   /* scale each axis independently */
  VQ_FIT_MODE_COUNT
} vq_fit_mode;

/* How frame pixels become the input tensor:
 *   x = (pixel - mean[c]) / std[c]
 * for pixel values in 0..255, channel c in the model's colour order. */
typedef struct {
  vq_color_order color_order;
  float mean[3];
  float std[3];
  vq_fit_mode fit;
} vq_preprocess;

/* The model's single image input: an NCHW fp32 tensor [1, 3, height, width]
 * bound to graph input 0. */
typedef struct {
  int32_t width;
  int32_t height;
  int32_t channels;
} vq_input_spec;

typedef enum {
  /* NanoDet / Generalized Focal Loss head. For each level l, graph output
   * score_outputs[l] is [1, N_l, num_classes] (sigmoid already applied) and
   * box_outputs[l] is [1, N_l, 4 * (reg_max + 1)]. */
  VQ_DECODER_NANODET_GFL = 0,
  VQ_DECODER_KIND_COUNT
} vq_decoder_kind;

#define VQ_MAX_LEVELS 8

typedef struct {
  vq_decoder_kind kind;
  int32_t num_classes;
  int32_t reg_max;
  uint32_t n_levels;
  int32_t strides[VQ_MAX_LEVELS];
  int32_t score_outputs[VQ_MAX_LEVELS]; /* index into graph->outputs */
  int32_t box_outputs[VQ_MAX_LEVELS];   /* index into graph->outputs */
  /* Defaults that front ends use unless the user overrides them. */
  float score_threshold;
  float nms_iou;
  int32_t max_detections;
} vq_decoder;

typedef struct vq_model {
  char *name;        /* short name, e.g. "nanodet-m-416" */
  char *description; /* free text: provenance, licence */
  vq_graph *graph;
  vq_input_spec input;
  vq_preprocess preprocess;
  vq_decoder decoder;
  char **labels; /* NULL-terminated, decoder.num_classes entries */
  /* Private: the mapping blob payloads may point into. */
  GMappedFile *mapping;
} vq_model;

/* Loads and fully validates a .vqm file. On failure returns NULL and sets
 * `error` (domain VQ_ERROR) to a message naming the file and the problem. */
vq_model *vq_model_load (const char *path, GError **error);

/* Same, from bytes in memory (copied as needed; used by the fuzzer). */
vq_model *vq_model_load_from_bytes (const guint8 *data, gsize size, GError **error);

/* Writes the model to `path` atomically (temporary file + rename). */
gboolean vq_model_save (const vq_model *model, const char *path, GError **error);

void vq_model_free (vq_model *model);

/* Checks the metadata against the graph (input bound to graph input 0 with
 * the right shape, decoder outputs in range with the right shapes, labels
 * count). The loader and the importer both call it. */
gboolean vq_model_validate (const vq_model *model, GError **error);

/* The path of the default model: $VQDETECT_MODEL if set, else
 * $XDG_CACHE_HOME/vqdetect/nanodet.vqm (~/.cache when unset), else the
 * installed data directory's copy. Returns a newly allocated path that exists,
 * or NULL with an error that says where it looked and how to get it. */
char *vq_default_model_path (GError **error);

/* Statistics for `vq info`: parameter count and bytes per part. */
typedef struct {
  int64_t parameters;      /* conv weights + biases */
  int64_t conv_weights;    /* conv weights only (dense or VQ) */
  uint64_t dense_bytes;    /* bytes of dense weights */
  uint64_t bias_bytes;
  uint64_t codebook_bytes; /* each shared codebook counted once */
  uint64_t index_bytes;
  uint64_t scale_bytes;
  uint64_t total_bytes;    /* all blob bytes */
  double bits_per_weight;  /* 8 * (dense+codebook+index+scale bytes) / conv_weights */
  uint32_t n_conv;
  uint32_t n_conv_vq;
  int64_t macs;            /* multiply-accumulates per inference */
} vq_model_stats;

void vq_model_compute_stats (const vq_model *model, vq_model_stats *stats);

G_END_DECLS

#endif /* VQCORE_MODEL_H */
