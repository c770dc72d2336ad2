/* vq/vq_compress.h — label-free vector quantization of a model's convs.
 *
 * vq_compress_model() turns a float model into a VQ model (graph.h's
 * representation) using calibration input tensors only: no labels. With
 * the Hessian method each conv is quantized on the activations of the
 * already-quantized network (layer by layer), with codewords assigned to
 * minimise the layer's output error (GPTVQ), codebook and scales refitted in
 * closed form, and a per-channel bias correction. The k-means method is the
 * plain weight-space baseline. A bits-per-weight budget is spread over the
 * layers by their measured sensitivity (budget.c), or set per layer.
 *
 * Used by `vq compress` and the tests; part of libvqcore but not (yet) of
 * its installed headers.
 */
#ifndef VQCORE_VQ_COMPRESS_H
#define VQCORE_VQ_COMPRESS_H

#include <glib.h>

#include "vqcore/detect.h"
#include "vqcore/model.h"

G_BEGIN_DECLS

typedef enum {
  VQ_LAYER_AUTO = 0, /* chosen by the budget (or the default setting) */
  VQ_LAYER_VQ = 1,   /* d values per sub-vector, K codewords */
  VQ_LAYER_F16 = 2,  /* dense fp16 */
  VQ_LAYER_F32 = 3,  /* left as it is */
} vq_layer_kind;

typedef struct {
  vq_layer_kind kind;
  int32_t d, k;
  /* VQ only: 0 for a codebook of the layer's own; G >= 1 to share one
   * codebook (stored once) with every other conv of group G, which must
   * have the same d and K. */
  int32_t group;
} vq_layer_setting;

typedef enum {
  VQ_SHARE_NONE = 0, /* the budget gives every layer a codebook of its own */
  VQ_SHARE_AUTO = 1, /* the budget may also put layers of the same d and K
                      * on one shared codebook where that measures better
                      * per byte */
} vq_share_mode;

typedef enum {
  VQ_COMPRESS_HESSIAN = 0, /* GPTVQ + LS refits + layer by layer + bias correction */
  VQ_COMPRESS_KMEANS = 1,  /* plain k-means on the weights (baseline) */
} vq_compress_method;

typedef void (*vq_compress_log_func) (const char *message, void *user_data);

typedef struct {
  vq_compress_method method;
  /* Overall bits per weight (conv weights, codebooks and scales counted)
   * that the budget allocator must not exceed; <= 0 gives every automatic
   * layer `default_setting`. */
  double bits_per_weight;
  vq_layer_setting default_setting;
  vq_share_mode share;      /* what the budget allocator may choose */
  /* Per-layer settings that override the allocator: names of conv nodes
   * (or "#i" for the i-th conv) and their settings. */
  const char *const *override_names;
  const vq_layer_setting *override_settings;
  int n_overrides;
  int64_t rows_per_frame;   /* im2col rows per frame and conv sampled for H */
  int32_t rounds;           /* assignment + refit rounds per layer */
  gboolean sequential;      /* quantize on the quantized network's activations */
  gboolean float_targets;   /* layer by layer: fit each conv to the float
                             * network's outputs, not to its own weights */
  gboolean bias_correction;
  guint32 seed;
  int n_threads;            /* 0: one per processor */
  vq_compress_log_func log; /* progress messages, or NULL */
  void *log_data;
} vq_compress_options;

void vq_compress_options_init (vq_compress_options *options);

/* Parses "f16", "f32", or "dDkK" (e.g. "d4k256"), optionally followed by
 * "@G" (G >= 1) for a codebook shared by group G (e.g. "d4k256@1"). */
gboolean vq_layer_setting_parse (const char *text, vq_layer_setting *setting, GError **error);
/* Writes e.g. "d4k256", "d4k256@2" or "f16" into buffer (at least 24
 * bytes). */
const char *vq_layer_setting_format (const vq_layer_setting *setting, char *buffer, gsize size);

/* What happened to one conv. */
typedef struct {
  char *name;
  vq_layer_setting setting;
  int64_t weights;
  uint64_t bytes;       /* weight bytes: indices + scales + codebook (a shared
                         * codebook counted at its first user) or dense */
  double bits_per_weight;
  double local_error;   /* relative output error from its own quantization */
  double output_error;  /* relative error of its output, quantized network vs
                         * float, on the calibration data (-1: not measured) */
  double sensitivity;   /* allocator's weight for the layer (0: not measured) */
} vq_layer_report;

typedef struct {
  vq_layer_report *layers;
  uint32_t n_layers;
  uint64_t weight_bytes;  /* sum of the layers' bytes */
  int64_t weights;
  double bits_per_weight;
  double seconds;
} vq_compress_report;

void vq_compress_report_clear (vq_compress_report *report);

/* Compresses `model` with `n_frames` calibration input tensors (each the
 * shape of graph input 0, preprocessed exactly as at inference). Returns a
 * new model; `report` (may be NULL) receives per-layer figures. */
vq_model *vq_compress_model (const vq_model *model, const float *const *frames, int n_frames,
                             const vq_compress_options *options, vq_compress_report *report,
                             GError **error);

/* Measures, for every conv, the relative error of the compressed model's
 * output against the float model's on the frames (fills output_error). */
gboolean vq_compress_measure (const vq_model *reference, const vq_model *compressed,
                              const float *const *frames, int n_frames, int n_threads,
                              vq_compress_report *report, GError **error);

/* ---- agreement between two models' detections (agreement.c) ---- */

typedef struct {
  double map50;      /* mean over reference classes of AP at IoU 0.5 */
  double precision;  /* at the default score threshold */
  double recall;
  int64_t reference_boxes;
  int64_t candidate_boxes; /* at the default threshold */
  int32_t n_classes; /* classes present in the reference */
} vq_agreement;

/* Accumulates detections frame by frame, then summarises. */
typedef struct vq_agreement_builder vq_agreement_builder;

vq_agreement_builder *vq_agreement_builder_new (float iou_threshold, float score_threshold);
/* `reference` holds the ground truth (detections at or above the threshold)
 * and `candidate` the second model's ranked detections (any score). */
void vq_agreement_builder_add_frame (vq_agreement_builder *builder, const GArray *reference,
                                     const GArray *candidate);
void vq_agreement_builder_finish (vq_agreement_builder *builder, vq_agreement *result);
void vq_agreement_builder_free (vq_agreement_builder *builder);

G_END_DECLS

#endif /* VQCORE_VQ_COMPRESS_H */
