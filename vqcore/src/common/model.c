/* vq_model helpers that do not depend on the file format: release,
 * validation of the metadata against the graph, statistics for `vq info`,
 * and where the default model lives. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "vqcore/error.h"
#include "vqcore/model.h"

#include "error_private.h"

#ifndef VQ_DATADIR
#define VQ_DATADIR "/usr/local/share/vqdetect"
#endif

#define MAX_INPUT_SIDE 16384
#define MAX_CLASSES 100000
#define MAX_REG_MAX 1024

void
vq_model_free (vq_model *model)
{
  if (model == NULL)
    return;
  g_free (model->name);
  g_free (model->description);
  /* The graph may borrow the mapping: free it first. */
  vq_graph_free (model->graph);
  g_strfreev (model->labels);
  if (model->mapping != NULL)
    g_mapped_file_unref (model->mapping);
  g_free (model);
}


static gboolean
check_output (const vq_model *model, const char *what, uint32_t level, int32_t index,
              int32_t n, int32_t width, GError **error)
{
  const vq_graph *graph = model->graph;
  if (index < 0 || (uint32_t) index >= graph->n_outputs)
    return vq__fail_format (error, "decoder level %u %s output index %d is out of range (%u graph outputs)",
                 level, what, index, graph->n_outputs);
  if (graph->outputs[index] >= graph->n_values)
    return vq__fail_format (error, "graph output %d is out of range", index);
  const vq_shape *shape = &graph->values[graph->outputs[index]].shape;
  if (shape->rank != 3 || shape->dims[0] != 1 || shape->dims[1] != n || shape->dims[2] != width) {
    char buf[96] = "";
    int len = 0;
    for (uint32_t i = 0; i < shape->rank && i < VQ_MAX_RANK; i++)
      len += g_snprintf (buf + len, sizeof buf - len, "%s%d", i ? ", " : "", shape->dims[i]);
    return vq__fail_format (error, "decoder level %u (stride %d) %s output %d has shape [%s], expected "
                 "[1, %d, %d]", level, model->decoder.strides[level], what, index, buf, n, width);
  }
  return TRUE;
}

static gboolean
check_decoder (const vq_model *model, GError **error)
{
  const vq_decoder *dec = &model->decoder;
  if ((unsigned) dec->kind >= VQ_DECODER_KIND_COUNT)
    return vq__fail_format (error, "invalid decoder kind %d", (int) dec->kind);
  if (dec->num_classes < 1 || dec->num_classes > MAX_CLASSES)
    return vq__fail_format (error, "decoder num_classes %d is out of range (1 to %d)", dec->num_classes,
                 MAX_CLASSES);
  if (dec->reg_max < 0 || dec->reg_max > MAX_REG_MAX)
    return vq__fail_format (error, "decoder reg_max %d is out of range (0 to %d)", dec->reg_max, MAX_REG_MAX);
  if (dec->n_levels < 1 || dec->n_levels > VQ_MAX_LEVELS)
    return vq__fail_format (error, "decoder has %u levels, expected 1 to %d", dec->n_levels, VQ_MAX_LEVELS);
  if (!(dec->score_threshold >= 0.0f && dec->score_threshold <= 1.0f))
    return vq__fail_format (error, "decoder score_threshold %g is outside [0, 1]", dec->score_threshold);
  if (!(dec->nms_iou >= 0.0f && dec->nms_iou <= 1.0f))
    return vq__fail_format (error, "decoder nms_iou %g is outside [0, 1]", dec->nms_iou);
  if (dec->max_detections < 1)
    return vq__fail_format (error, "decoder max_detections %d must be positive", dec->max_detections);
  for (uint32_t l = 0; l < dec->n_levels; l++) {
    int32_t stride = dec->strides[l];
    if (stride < 1 || stride > MAX_INPUT_SIDE)
      return vq__fail_format (error, "decoder level %u stride %d is out of range", l, stride);
    /* Grids round up: a partial cell at the border still gets an anchor. */
    int64_t n = (int64_t) ((model->input.height + stride - 1) / stride)
                * ((model->input.width + stride - 1) / stride);
    if (!check_output (model, "score", l, dec->score_outputs[l], (int32_t) n, dec->num_classes,
                       error)
        || !check_output (model, "box", l, dec->box_outputs[l], (int32_t) n,
                          4 * (dec->reg_max + 1), error))
      return FALSE;
  }
  return TRUE;
}

gboolean
vq_model_validate (const vq_model *model, GError **error)
{
  g_return_val_if_fail (model != NULL, FALSE);
  const vq_graph *graph = model->graph;
  if (graph == NULL || graph->n_inputs < 1)
    return vq__fail_format (error, "the model has no graph input");
  const vq_input_spec *in = &model->input;
  if (in->channels != 3)
    return vq__fail_format (error, "input has %d channels; only 3-channel images are supported", in->channels);
  if (in->width < 1 || in->width > MAX_INPUT_SIDE || in->height < 1 || in->height > MAX_INPUT_SIDE)
    return vq__fail_format (error, "input size %dx%d is out of range (1 to %d)", in->width, in->height,
                 MAX_INPUT_SIDE);
  if (graph->inputs[0] >= graph->n_values)
    return vq__fail_format (error, "graph input 0 is out of range");
  vq_shape expected = vq_shape_4d (1, in->channels, in->height, in->width);
  const vq_shape *actual = &graph->values[graph->inputs[0]].shape;
  if (!vq_shape_equal (actual, &expected))
    return vq__fail_format (error, "graph input 0 does not have the input shape [1, %d, %d, %d] (rank %u, "
                 "dims %d, %d, %d, %d)", in->channels, in->height, in->width, actual->rank,
                 actual->dims[0], actual->dims[1], actual->dims[2], actual->dims[3]);

  const vq_preprocess *pre = &model->preprocess;
  if ((unsigned) pre->color_order >= VQ_COLOR_ORDER_COUNT)
    return vq__fail_format (error, "invalid colour order %d", (int) pre->color_order);
  if ((unsigned) pre->fit >= VQ_FIT_MODE_COUNT)
    return vq__fail_format (error, "invalid resize (fit) mode %d", (int) pre->fit);
  for (int c = 0; c < 3; c++)
    if (!isfinite (pre->mean[c]) || !isfinite (pre->std[c]) || pre->std[c] == 0.0f)
      return vq__fail_format (error, "preprocessing channel %d has mean %g and std %g; both must be finite "
                   "and std non-zero", c, pre->mean[c], pre->std[c]);

  if (!check_decoder (model, error))
    return FALSE;

  /* Labels are required: an application needs nothing but the model file,
   * and that includes the class names. */
  if (model->labels == NULL)
    return vq__fail_format (error, "the model has no labels (it needs %d)", model->decoder.num_classes);
  int32_t n_labels = 0;
  while (n_labels <= model->decoder.num_classes && model->labels[n_labels] != NULL)
    n_labels++;
  if (n_labels > model->decoder.num_classes)
    return vq__fail_format (error, "the model has more labels than its %d classes",
                 model->decoder.num_classes);
  if (n_labels != model->decoder.num_classes)
    return vq__fail_format (error, "the model has %d labels but %d classes", n_labels,
                 model->decoder.num_classes);
  return TRUE;
}

/* Adds a blob's bytes to a per-part total unless some conv already counted
 * it (shared codebooks are stored, and counted, once). */
static void
count_blob (const vq_graph *graph, int32_t id, gboolean *seen, uint64_t *total)
{
  if (id < 0 || (uint32_t) id >= graph->n_blobs || seen[id])
    return;
  seen[id] = TRUE;
  *total += graph->blobs[id].nbytes;
}

void
vq_model_compute_stats (const vq_model *model, vq_model_stats *stats)
{
  memset (stats, 0, sizeof *stats);
  const vq_graph *graph = model->graph;
  gboolean *seen = g_new0 (gboolean, graph->n_blobs + 1);
  for (uint32_t i = 0; i < graph->n_blobs; i++)
    stats->total_bytes += graph->blobs[i].nbytes;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    if (node->op != VQ_OP_CONV2D)
      continue;
    const vq_conv_params *conv = &node->p.conv;
    int64_t weights = vq_conv_weight_count (graph, node);
    const vq_shape *out = &graph->values[node->outputs[0]].shape;
    stats->n_conv++;
    stats->conv_weights += weights;
    stats->parameters += weights + (conv->bias >= 0 ? conv->out_channels : 0);
    stats->macs += weights * out->dims[2] * out->dims[3];
    if (conv->weights.dense < 0)
      stats->n_conv_vq++;
    count_blob (graph, conv->weights.dense, seen, &stats->dense_bytes);
    count_blob (graph, conv->weights.codebook, seen, &stats->codebook_bytes);
    count_blob (graph, conv->weights.indices, seen, &stats->index_bytes);
    count_blob (graph, conv->weights.scales, seen, &stats->scale_bytes);
    count_blob (graph, conv->bias, seen, &stats->bias_bytes);
  }
  g_free (seen);
  uint64_t weight_bytes = stats->dense_bytes + stats->codebook_bytes + stats->index_bytes
                          + stats->scale_bytes;
  stats->bits_per_weight = stats->conv_weights > 0
                               ? 8.0 * (double) weight_bytes / (double) stats->conv_weights
                               : 0.0;
}

char *
vq_default_model_path (GError **error)
{
  const char *env = g_getenv ("VQDETECT_MODEL");
  if (env != NULL && *env != '\0') {
    /* An explicit choice that is wrong is an error, not a reason to fall
     * back to another model silently. */
    if (g_file_test (env, G_FILE_TEST_IS_REGULAR))
      return g_strdup (env);
    g_set_error (error, VQ_ERROR, VQ_ERROR_NOT_FOUND,
                 "VQDETECT_MODEL is set to '%s', which is not a file", env);
    return NULL;
  }
  char *cached = g_build_filename (g_get_user_cache_dir (), "vqdetect", "nanodet.vqm", NULL);
  if (g_file_test (cached, G_FILE_TEST_IS_REGULAR))
    return cached;
  char *installed = g_build_filename (VQ_DATADIR, "nanodet.vqm", NULL);
  if (g_file_test (installed, G_FILE_TEST_IS_REGULAR)) {
    g_free (cached);
    return installed;
  }
  g_set_error (error, VQ_ERROR, VQ_ERROR_NOT_FOUND,
               "no default model: looked for $VQDETECT_MODEL (unset), %s and %s; run "
               "pipelines/setup.sh, which fetches NanoDet and converts it",
               cached, installed);
  g_free (cached);
  g_free (installed);
  return NULL;
}
