/* Construction, queries and helpers for the IR described in vqcore/graph.h. */
#include "vqcore/graph.h"

#include <math.h>
#include <string.h>

#include "half.h"

vq_graph *
vq_graph_new (void)
{
  return g_new0 (vq_graph, 1);
}

void
vq_graph_free (vq_graph *graph)
{
  if (graph == NULL)
    return;
  for (uint32_t i = 0; i < graph->n_blobs; i++) {
    g_free (graph->blobs[i].name);
    if (graph->blobs[i].owned)
      g_free ((void *) graph->blobs[i].data);
  }
  for (uint32_t i = 0; i < graph->n_values; i++)
    g_free (graph->values[i].name);
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    g_free (graph->nodes[i].name);
  g_free (graph->blobs);
  g_free (graph->values);
  g_free (graph->nodes);
  g_free (graph->inputs);
  g_free (graph->outputs);
  g_free (graph);
}

/* Grows an array by one element when its count reaches a power of two. */
static void *
grow (void *array, uint32_t count, size_t element_size)
{
  if (count == 0 || (count & (count - 1)) == 0)
    return g_realloc_n (array, count == 0 ? 1 : (gsize) count * 2, element_size);
  return array;
}

uint32_t
vq_graph_add_value (vq_graph *graph, const char *name, const vq_shape *shape)
{
  graph->values = grow (graph->values, graph->n_values, sizeof (vq_value));
  vq_value *value = &graph->values[graph->n_values];
  value->name = g_strdup (name ? name : "");
  value->shape = *shape;
  return graph->n_values++;
}

uint32_t
vq_graph_add_blob_owned (vq_graph *graph, const char *name, vq_dtype dtype,
                         const vq_shape *shape, void *data)
{
  graph->blobs = grow (graph->blobs, graph->n_blobs, sizeof (vq_blob));
  vq_blob *blob = &graph->blobs[graph->n_blobs];
  blob->name = g_strdup (name ? name : "");
  blob->dtype = dtype;
  blob->shape = *shape;
  blob->nbytes = vq_dtype_bytes (dtype, vq_shape_numel (shape));
  blob->data = data;
  blob->owned = TRUE;
  return graph->n_blobs++;
}

uint32_t
vq_graph_add_blob_copy (vq_graph *graph, const char *name, vq_dtype dtype,
                        const vq_shape *shape, const void *data)
{
  uint64_t nbytes = vq_dtype_bytes (dtype, vq_shape_numel (shape));
  return vq_graph_add_blob_owned (graph, name, dtype, shape,
                                  g_memdup2 (data, (gsize) nbytes));
}

vq_node *
vq_graph_add_node (vq_graph *graph, const vq_node *node)
{
  graph->nodes = grow (graph->nodes, graph->n_nodes, sizeof (vq_node));
  vq_node *copy = &graph->nodes[graph->n_nodes++];
  *copy = *node;
  copy->name = g_strdup (node->name ? node->name : "");
  return copy;
}

void
vq_graph_add_input (vq_graph *graph, uint32_t value)
{
  graph->inputs = grow (graph->inputs, graph->n_inputs, sizeof (uint32_t));
  graph->inputs[graph->n_inputs++] = value;
}

void
vq_graph_add_output (vq_graph *graph, uint32_t value)
{
  graph->outputs = grow (graph->outputs, graph->n_outputs, sizeof (uint32_t));
  graph->outputs[graph->n_outputs++] = value;
}

void
vq_node_init (vq_node *node, vq_op op, const char *name)
{
  memset (node, 0, sizeof *node);
  node->op = op;
  node->name = (char *) name; /* copied by vq_graph_add_node */
  node->act = VQ_ACT_NONE;
  if (op == VQ_OP_CONV2D) {
    vq_conv_params *conv = &node->p.conv;
    conv->kernel_h = conv->kernel_w = 1;
    conv->stride_h = conv->stride_w = 1;
    conv->dilation_h = conv->dilation_w = 1;
    conv->groups = 1;
    conv->weights.dense = conv->weights.codebook = -1;
    conv->weights.indices = conv->weights.scales = -1;
    conv->bias = -1;
  } else if (op == VQ_OP_MAX_POOL || op == VQ_OP_AVG_POOL) {
    node->p.pool.kernel_h = node->p.pool.kernel_w = 1;
    node->p.pool.stride_h = node->p.pool.stride_w = 1;
    node->p.pool.pad_value = op == VQ_OP_MAX_POOL ? -INFINITY : 0.0f;
  } else if (op == VQ_OP_TRANSPOSE) {
    for (int i = 0; i < VQ_MAX_RANK; i++)
      node->p.transpose.perm[i] = i;
  }
}

vq_shape
vq_shape_make (uint32_t rank, const int32_t *dims)
{
  vq_shape shape = { 0 };
  shape.rank = rank > VQ_MAX_RANK ? VQ_MAX_RANK : rank;
  for (uint32_t i = 0; i < shape.rank; i++)
    shape.dims[i] = dims[i];
  return shape;
}

vq_shape
vq_shape_4d (int32_t n, int32_t c, int32_t h, int32_t w)
{
  int32_t dims[4] = { n, c, h, w };
  return vq_shape_make (4, dims);
}

int64_t
vq_shape_numel (const vq_shape *shape)
{
  int64_t n = 1;
  for (uint32_t i = 0; i < shape->rank && i < VQ_MAX_RANK; i++)
    n *= shape->dims[i];
  return n;
}

bool
vq_shape_equal (const vq_shape *a, const vq_shape *b)
{
  if (a->rank != b->rank)
    return false;
  for (uint32_t i = 0; i < a->rank; i++)
    if (a->dims[i] != b->dims[i])
      return false;
  return true;
}

uint64_t
vq_dtype_bytes (vq_dtype dtype, int64_t numel)
{
  if (numel < 0)
    return 0;
  switch (dtype) {
  case VQ_DTYPE_F32:
  case VQ_DTYPE_I32:
    return (uint64_t) numel * 4;
  case VQ_DTYPE_F16:
    return (uint64_t) numel * 2;
  case VQ_DTYPE_U8:
    return (uint64_t) numel;
  case VQ_DTYPE_U4:
    return ((uint64_t) numel + 1) / 2;
  default:
    return 0;
  }
}

const char *
vq_dtype_name (vq_dtype dtype)
{
  static const char *const names[] = { "f32", "f16", "i32", "u8", "u4" };
  return (unsigned) dtype < VQ_DTYPE_COUNT ? names[dtype] : "invalid";
}

const char *
vq_op_name (vq_op op)
{
  static const char *const names[] = { "conv2d", "add", "concat", "resize",
    "max_pool", "avg_pool", "activation", "split", "reshape", "transpose" };
  return (unsigned) op < VQ_OP_COUNT ? names[op] : "invalid";
}

const char *
vq_activation_name (vq_activation act)
{
  static const char *const names[] = { "none", "relu", "relu6", "leaky_relu",
    "sigmoid", "hard_swish", "silu" };
  return (unsigned) act < VQ_ACT_COUNT ? names[act] : "invalid";
}

float
vq_activation_apply (vq_activation act, float alpha, float x)
{
  switch (act) {
  case VQ_ACT_RELU:
    return x > 0.0f ? x : 0.0f;
  case VQ_ACT_RELU6:
    return x < 0.0f ? 0.0f : (x > 6.0f ? 6.0f : x);
  case VQ_ACT_LEAKY_RELU:
    return x >= 0.0f ? x : alpha * x;
  case VQ_ACT_SIGMOID:
    return 1.0f / (1.0f + expf (-x));
  case VQ_ACT_HARD_SWISH: {
    float r = x + 3.0f;
    r = r < 0.0f ? 0.0f : (r > 6.0f ? 6.0f : r);
    return x * r / 6.0f;
  }
  case VQ_ACT_SILU:
    return x / (1.0f + expf (-x));
  default:
    return x;
  }
}

float
vq_blob_get_f32 (const vq_blob *blob, int64_t i)
{
  if (blob->dtype == VQ_DTYPE_F16)
    return vq__half_to_float (((const uint16_t *) blob->data)[i]);
  return ((const float *) blob->data)[i];
}

bool
vq_codebook_grid_fits (int32_t k, int32_t d)
{
  return d == 1 && k >= 4 && (k & (k - 1)) == 0;
}

int32_t
vq_codebook_grid_half (const vq_blob *codebook)
{
  if (codebook->shape.rank != 2)
    return 0;
  int32_t k = codebook->shape.dims[0];
  if (!vq_codebook_grid_fits (k, codebook->shape.dims[1]))
    return 0;
  int32_t half = k / 2;
  for (int32_t i = 0; i < k; i++)
    if (vq_blob_get_f32 (codebook, i) != (float) (i - half) * (1.0f / (float) half))
      return 0;
  return half;
}

int64_t
vq_conv_weight_count (const vq_graph *graph, const vq_node *node)
{
  const vq_conv_params *conv = &node->p.conv;
  const vq_value *in = &graph->values[node->inputs[0]];
  int64_t cin_per_group = in->shape.dims[1] / conv->groups;
  return (int64_t) conv->out_channels * cin_per_group * conv->kernel_h * conv->kernel_w;
}

static uint32_t
vq_index_at (const vq_blob *indices, int64_t i)
{
  const uint8_t *bytes = indices->data;
  if (indices->dtype == VQ_DTYPE_U4)
    return (i & 1) ? bytes[i / 2] >> 4 : bytes[i / 2] & 0x0f;
  return bytes[i];
}

void
vq_conv_weights_to_f32 (const vq_graph *graph, const vq_node *node, float *out)
{
  const vq_conv_params *conv = &node->p.conv;
  const vq_weight_ref *w = &conv->weights;
  int64_t count = vq_conv_weight_count (graph, node);

  if (w->dense >= 0) {
    const vq_blob *dense = &graph->blobs[w->dense];
    for (int64_t i = 0; i < count; i++)
      out[i] = vq_blob_get_f32 (dense, i);
    return;
  }

  const vq_blob *codebook = &graph->blobs[w->codebook];
  const vq_blob *indices = &graph->blobs[w->indices];
  const vq_blob *scales = w->scales >= 0 ? &graph->blobs[w->scales] : NULL;
  int64_t K = codebook->shape.dims[0];
  int64_t d = codebook->shape.dims[1];
  int64_t row = count / conv->out_channels;
  int64_t per_row = (row + d - 1) / d;

  /* Convert the codebook once: per-weight fp16 conversions made decoding
   * NanoDet slow enough to show under valgrind. */
  float *entries = g_new (float, K * d);
  for (int64_t i = 0; i < K * d; i++)
    entries[i] = vq_blob_get_f32 (codebook, i);
  for (int64_t o = 0; o < conv->out_channels; o++) {
    float scale = scales ? vq_blob_get_f32 (scales, o) : 1.0f;
    float *dst = out + o * row;
    for (int64_t s = 0; s < per_row; s++) {
      const float *code = entries + (int64_t) vq_index_at (indices, o * per_row + s) * d;
      int64_t n = MIN (d, row - s * d); /* the last sub-vector may be padding */
      for (int64_t j = 0; j < n; j++)
        dst[s * d + j] = code[j] * scale;
    }
  }
  g_free (entries);
}
