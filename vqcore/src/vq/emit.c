/* Writes quantized layers into a graph in the representation of graph.h:
 * an F16 codebook [K, d] (or a shared one), indices [cout, ceil(D/d)] as U8,
 * or U4 packed two per byte (low nibble first) when K <= 16, and F16
 * per-output-channel scales. Old blobs are left for vq__graph_copy_compact
 * to drop. */
#include <string.h>

#include "common/half.h"
#include "vq_private.h"

static uint16_t *
to_half (const double *values, int64_t n)
{
  uint16_t *out = g_new (uint16_t, (gsize) MAX (n, 1));
  for (int64_t i = 0; i < n; i++)
    out[i] = vq__float_to_half ((float) values[i]);
  return out;
}

int32_t
vq__emit_codebook (vq_graph *graph, const vq__vq_layer *layer, const char *name)
{
  vq_shape shape = vq_shape_make (2, (int32_t[]) { layer->k, layer->d });
  return (int32_t) vq_graph_add_blob_owned (graph, name, VQ_DTYPE_F16, &shape,
                                            to_half (layer->codebook, layer->k * layer->d));
}

void
vq__emit_vq (vq_graph *graph, uint32_t node_index, const vq__vq_layer *layer,
             int32_t codebook_blob)
{
  char *base = g_strdup (graph->nodes[node_index].name);
  char *name;
  if (codebook_blob < 0) {
    name = g_strconcat (base, "/codebook", NULL);
    codebook_blob = vq__emit_codebook (graph, layer, name);
    g_free (name);
  }

  int64_t count = layer->rows * layer->n_sub;
  vq_dtype dtype = layer->k <= 16 ? VQ_DTYPE_U4 : VQ_DTYPE_U8;
  uint8_t *indices = g_new0 (uint8_t, (gsize) MAX (vq_dtype_bytes (dtype, count), 1));
  for (int64_t i = 0; i < count; i++) {
    if (dtype == VQ_DTYPE_U8)
      indices[i] = layer->codes[i];
    else
      indices[i / 2] |= (uint8_t) ((layer->codes[i] & 0x0f) << ((i & 1) ? 4 : 0));
  }
  vq_shape index_shape = vq_shape_make (2, (int32_t[]) { (int32_t) layer->rows,
                                                         (int32_t) layer->n_sub });
  name = g_strconcat (base, "/indices", NULL);
  int32_t index_blob = (int32_t) vq_graph_add_blob_owned (graph, name, dtype, &index_shape,
                                                          indices);
  g_free (name);

  vq_shape scale_shape = vq_shape_make (1, (int32_t[]) { (int32_t) layer->rows });
  name = g_strconcat (base, "/scales", NULL);
  int32_t scale_blob = (int32_t) vq_graph_add_blob_owned (graph, name, VQ_DTYPE_F16,
                                                          &scale_shape,
                                                          to_half (layer->scales, layer->rows));
  g_free (name);
  g_free (base);

  vq_weight_ref *w = &graph->nodes[node_index].p.conv.weights;
  w->dense = -1;
  w->codebook = codebook_blob;
  w->indices = index_blob;
  w->scales = scale_blob;
}

void
vq__emit_dense (vq_graph *graph, uint32_t node_index, const float *weights, vq_dtype dtype)
{
  const vq_node *node = &graph->nodes[node_index];
  int64_t count = vq_conv_weight_count (graph, node);
  const vq_value *in = &graph->values[node->inputs[0]];
  const vq_conv_params *conv = &node->p.conv;
  vq_shape shape = vq_shape_4d (conv->out_channels, in->shape.dims[1] / conv->groups,
                                conv->kernel_h, conv->kernel_w);
  void *data = dtype == VQ_DTYPE_F16 ? (void *) vq__halves_new (weights, (size_t) count)
                                     : g_memdup2 (weights, (gsize) count * sizeof (float));
  char *name = g_strconcat (node->name, "/weights", NULL);
  int32_t blob = (int32_t) vq_graph_add_blob_owned (graph, name, dtype, &shape, data);
  g_free (name);
  vq_weight_ref *w = &graph->nodes[node_index].p.conv.weights;
  w->dense = blob;
  w->codebook = w->indices = w->scales = -1;
}

void
vq__emit_bias (vq_graph *graph, uint32_t node_index, const float *bias)
{
  const vq_node *node = &graph->nodes[node_index];
  vq_shape shape = vq_shape_make (1, (int32_t[]) { node->p.conv.out_channels });
  char *name = g_strconcat (node->name, "/bias", NULL);
  int32_t blob = (int32_t) vq_graph_add_blob_copy (graph, name, VQ_DTYPE_F32, &shape, bias);
  g_free (name);
  graph->nodes[node_index].p.conv.bias = blob;
}

void
vq__conv_bias_to_f32 (const vq_graph *graph, const vq_node *node, float *out)
{
  int32_t bias = node->p.conv.bias;
  for (int32_t o = 0; o < node->p.conv.out_channels; o++)
    out[o] = bias >= 0 ? vq_blob_get_f32 (&graph->blobs[bias], o) : 0.0f;
}
