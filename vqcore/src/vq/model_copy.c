/* Deep copies of a model, dropping the blobs no node references: the
 * compressor replaces conv weights blob by blob and compacts at the end, so
 * the saved file holds only what the graph uses. */
#include <string.h>

#include "vq_private.h"

static void
mark (gboolean *used, int32_t blob, uint32_t n_blobs)
{
  if (blob >= 0 && (uint32_t) blob < n_blobs)
    used[blob] = TRUE;
}

static int32_t
remap (const int32_t *ids, int32_t blob)
{
  return blob >= 0 ? ids[blob] : -1;
}

vq_graph *
vq__graph_copy_compact (const vq_graph *graph)
{
  return vq__graph_copy_prefix (graph, graph->n_nodes, NULL, 0);
}

vq_graph *
vq__graph_copy_prefix (const vq_graph *graph, uint32_t n_nodes, const uint32_t *outputs,
                       uint32_t n_outputs)
{
  gboolean *used = g_new0 (gboolean, MAX (graph->n_blobs, 1));
  for (uint32_t i = 0; i < n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    if (node->op != VQ_OP_CONV2D)
      continue;
    const vq_conv_params *conv = &node->p.conv;
    mark (used, conv->weights.dense, graph->n_blobs);
    mark (used, conv->weights.codebook, graph->n_blobs);
    mark (used, conv->weights.indices, graph->n_blobs);
    mark (used, conv->weights.scales, graph->n_blobs);
    mark (used, conv->bias, graph->n_blobs);
  }

  vq_graph *copy = vq_graph_new ();
  int32_t *ids = g_new (int32_t, MAX (graph->n_blobs, 1));
  for (uint32_t b = 0; b < graph->n_blobs; b++) {
    const vq_blob *blob = &graph->blobs[b];
    ids[b] = used[b] ? (int32_t) vq_graph_add_blob_copy (copy, blob->name, blob->dtype,
                                                         &blob->shape, blob->data)
                     : -1;
  }
  for (uint32_t v = 0; v < graph->n_values; v++)
    vq_graph_add_value (copy, graph->values[v].name, &graph->values[v].shape);
  for (uint32_t i = 0; i < n_nodes; i++) {
    vq_node node = graph->nodes[i];
    if (node.op == VQ_OP_CONV2D) {
      vq_conv_params *conv = &node.p.conv;
      conv->weights.dense = remap (ids, conv->weights.dense);
      conv->weights.codebook = remap (ids, conv->weights.codebook);
      conv->weights.indices = remap (ids, conv->weights.indices);
      conv->weights.scales = remap (ids, conv->weights.scales);
      conv->bias = remap (ids, conv->bias);
    }
    vq_graph_add_node (copy, &node);
  }
  for (uint32_t i = 0; i < graph->n_inputs; i++)
    vq_graph_add_input (copy, graph->inputs[i]);
  if (outputs)
    for (uint32_t i = 0; i < n_outputs; i++)
      vq_graph_add_output (copy, outputs[i]);
  else
    for (uint32_t i = 0; i < graph->n_outputs; i++)
      vq_graph_add_output (copy, graph->outputs[i]);
  g_free (ids);
  g_free (used);
  return copy;
}

vq_model *
vq__model_copy (const vq_model *model)
{
  vq_model *copy = g_new0 (vq_model, 1);
  copy->name = g_strdup (model->name);
  copy->description = g_strdup (model->description);
  copy->graph = vq__graph_copy_compact (model->graph);
  copy->input = model->input;
  copy->preprocess = model->preprocess;
  copy->decoder = model->decoder;
  copy->labels = g_strdupv (model->labels);
  return copy;
}
