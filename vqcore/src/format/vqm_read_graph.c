/* Reads the GRPH (values, graph inputs/outputs, nodes) and BLOB sections of
 * a .vqm file into a vq_graph. Counts are bounded by the bytes that remain
 * before anything is allocated for them; ids and shapes are checked
 * afterwards by vq_graph_validate(). */
#include <string.h>

#include "vqcore/error.h"
#include "vqm_cursor.h"
#include "vqm_private.h"

#define MAX_DIM (1 << 24)
#define MAX_NUMEL ((int64_t) 1 << 31)

/* Allocates a zeroed table for `count` elements with the capacity that
 * graph.c's growth rule expects (a power of two), so a loaded graph can
 * still be extended with vq_graph_add_*(). */
static gpointer
table_new (uint32_t count, gsize element_size)
{
  if (count == 0)
    return NULL;
  gsize capacity = 1;
  while (capacity < count)
    capacity *= 2;
  return g_malloc0_n (capacity, element_size);
}

gsize
vq__vqm_params_size (vq_op op)
{
  switch (op) {
  case VQ_OP_CONV2D:
    return VQM_PARAMS_CONV2D_SIZE;
  case VQ_OP_MAX_POOL:
  case VQ_OP_AVG_POOL:
    return VQM_PARAMS_POOL_SIZE;
  case VQ_OP_RESIZE:
    return VQM_PARAMS_RESIZE_SIZE;
  case VQ_OP_CONCAT:
  case VQ_OP_SPLIT:
    return VQM_PARAMS_AXIS_SIZE;
  case VQ_OP_TRANSPOSE:
    return VQM_PARAMS_TRANSPOSE_SIZE;
  default:
    return 0;
  }
}

/* Reads rank and four dims; `what` is e.g. "value 3 'x'". */
static vq_shape
read_shape (vq__cursor *c, const char *what)
{
  vq_shape shape = { 0 };
  uint32_t rank = vq__cursor_u32 (c, "rank");
  for (int i = 0; i < VQ_MAX_RANK; i++)
    shape.dims[i] = vq__cursor_i32 (c, "dims");
  if (!vq__cursor_ok (c))
    return shape;
  if (rank < 1 || rank > VQ_MAX_RANK) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "%s has rank %u, expected 1 to %d", what, rank,
                     VQ_MAX_RANK);
    return shape;
  }
  shape.rank = rank;
  for (uint32_t i = rank; i < VQ_MAX_RANK; i++)
    if (shape.dims[i] != 0)
      vq__cursor_fail (c, VQ_ERROR_FORMAT, "%s has rank %u but a non-zero dim %u", what, rank, i);
  return shape;
}

static gboolean
read_bool (vq__cursor *c, const char *what, const char *node_name)
{
  uint32_t v = vq__cursor_u32 (c, what);
  if (v > 1)
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "node '%s': %s is %u, expected 0 or 1", node_name, what, v);
  return v == 1;
}

static void
read_params (vq__cursor *pc, vq_node *node)
{
  vq_conv_params *conv = &node->p.conv;
  vq_pool_params *pool = &node->p.pool;
  switch (node->op) {
  case VQ_OP_CONV2D:
    conv->kernel_h = vq__cursor_i32 (pc, "kernel_h");
    conv->kernel_w = vq__cursor_i32 (pc, "kernel_w");
    conv->stride_h = vq__cursor_i32 (pc, "stride_h");
    conv->stride_w = vq__cursor_i32 (pc, "stride_w");
    conv->dilation_h = vq__cursor_i32 (pc, "dilation_h");
    conv->dilation_w = vq__cursor_i32 (pc, "dilation_w");
    conv->pad_top = vq__cursor_i32 (pc, "pad_top");
    conv->pad_left = vq__cursor_i32 (pc, "pad_left");
    conv->pad_bottom = vq__cursor_i32 (pc, "pad_bottom");
    conv->pad_right = vq__cursor_i32 (pc, "pad_right");
    conv->groups = vq__cursor_i32 (pc, "groups");
    conv->out_channels = vq__cursor_i32 (pc, "out_channels");
    conv->weights.dense = vq__cursor_i32 (pc, "dense");
    conv->weights.codebook = vq__cursor_i32 (pc, "codebook");
    conv->weights.indices = vq__cursor_i32 (pc, "indices");
    conv->weights.scales = vq__cursor_i32 (pc, "scales");
    conv->bias = vq__cursor_i32 (pc, "bias");
    break;
  case VQ_OP_MAX_POOL:
  case VQ_OP_AVG_POOL:
    pool->kernel_h = vq__cursor_i32 (pc, "kernel_h");
    pool->kernel_w = vq__cursor_i32 (pc, "kernel_w");
    pool->stride_h = vq__cursor_i32 (pc, "stride_h");
    pool->stride_w = vq__cursor_i32 (pc, "stride_w");
    pool->pad_top = vq__cursor_i32 (pc, "pad_top");
    pool->pad_left = vq__cursor_i32 (pc, "pad_left");
    pool->pad_bottom = vq__cursor_i32 (pc, "pad_bottom");
    pool->pad_right = vq__cursor_i32 (pc, "pad_right");
    pool->pad_value = vq__cursor_f32 (pc, "pad_value");
    pool->count_include_pad = read_bool (pc, "count_include_pad", node->name);
    break;
  case VQ_OP_RESIZE:
    node->p.resize.mode = (vq_resize_mode) vq__cursor_u32 (pc, "resize mode");
    node->p.resize.align_corners = read_bool (pc, "align_corners", node->name);
    node->p.resize.half_pixel_centers = read_bool (pc, "half_pixel_centers", node->name);
    break;
  case VQ_OP_CONCAT:
  case VQ_OP_SPLIT:
    node->p.axis.axis = vq__cursor_i32 (pc, "axis");
    break;
  case VQ_OP_TRANSPOSE:
    for (int i = 0; i < VQ_MAX_RANK; i++)
      node->p.transpose.perm[i] = vq__cursor_i32 (pc, "perm");
    break;
  default:
    break;
  }
}

static void
read_node (vq__cursor *c, vq_graph *graph, uint32_t index)
{
  vq_node *node = &graph->nodes[index];
  memset (node, 0, sizeof *node);
  uint32_t op = vq__cursor_u32 (c, "node op");
  node->name = vq__cursor_string (c, "node name");
  graph->n_nodes = index + 1; /* the name is owned by the graph from here */
  node->act = (vq_activation) vq__cursor_u32 (c, "node activation");
  node->act_alpha = vq__cursor_f32 (c, "node act_alpha");
  node->n_inputs = vq__cursor_u32 (c, "node input count");
  node->n_outputs = vq__cursor_u32 (c, "node output count");
  if (!vq__cursor_ok (c))
    return;
  if (op >= VQ_OP_COUNT) {
    vq__cursor_fail (c, VQ_ERROR_UNSUPPORTED,
                     "node %u '%s' has operation %u, which this reader (format %d.%d) does not "
                     "know",
                     index, node->name, op, VQM_VERSION_MAJOR, VQM_VERSION_MINOR);
    return;
  }
  node->op = (vq_op) op;
  if (node->n_inputs > VQ_MAX_NODE_IO || node->n_outputs > VQ_MAX_NODE_IO) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "node %u '%s' has %u inputs and %u outputs (at most %d each)",
                     index, node->name, node->n_inputs, node->n_outputs, VQ_MAX_NODE_IO);
    return;
  }
  for (uint32_t i = 0; i < node->n_inputs; i++)
    node->inputs[i] = vq__cursor_u32 (c, "node input");
  for (uint32_t i = 0; i < node->n_outputs; i++)
    node->outputs[i] = vq__cursor_u32 (c, "node output");

  uint32_t params_size = vq__cursor_u32 (c, "node params size");
  const guint8 *params = vq__cursor_bytes (c, params_size, "node params");
  if (!vq__cursor_ok (c))
    return;
  gsize needed = vq__vqm_params_size (node->op);
  if (params_size % 4 != 0 || params_size < needed) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT,
                     "node %u '%s' (%s) has a %u-byte parameter block, expected a multiple of 4 "
                     "and at least %" G_GSIZE_FORMAT,
                     index, node->name, vq_op_name (node->op), params_size, needed);
    return;
  }
  /* The block is read through its own cursor; bytes past the known fields
   * belong to later minor versions and are ignored. */
  vq__cursor pc;
  vq__cursor_init (&pc, params, params_size, c->file, c->section, c->error);
  read_params (&pc, node);
  if (!vq__cursor_ok (&pc))
    c->failed = TRUE;
}

gboolean
vq__vqm_parse_graph (vq_graph *graph, const guint8 *data, gsize size, const char *file,
                     GError **error)
{
  vq__cursor c;
  vq__cursor_init (&c, data, size, file, "graph", error);
  uint32_t n_values = vq__cursor_u32 (&c, "value count");
  uint32_t n_nodes = vq__cursor_u32 (&c, "node count");
  uint32_t n_inputs = vq__cursor_u32 (&c, "graph input count");
  uint32_t n_outputs = vq__cursor_u32 (&c, "graph output count");

  if (!vq__cursor_check_count (&c, n_values, VQM_VALUE_RECORD_MIN, "values"))
    return FALSE;
  graph->values = table_new (n_values, sizeof (vq_value));
  for (uint32_t i = 0; i < n_values && vq__cursor_ok (&c); i++) {
    vq_value *value = &graph->values[i];
    value->name = vq__cursor_string (&c, "value name");
    graph->n_values = i + 1;
    char *what = g_strdup_printf ("value %u '%s'", i, value->name ? value->name : "");
    value->shape = read_shape (&c, what);
    g_free (what);
  }

  if (!vq__cursor_check_count (&c, (uint64_t) n_inputs + n_outputs, 4, "graph inputs and outputs"))
    return FALSE;
  graph->inputs = table_new (n_inputs, sizeof (uint32_t));
  graph->n_inputs = n_inputs;
  for (uint32_t i = 0; i < n_inputs; i++)
    graph->inputs[i] = vq__cursor_u32 (&c, "graph input");
  graph->outputs = table_new (n_outputs, sizeof (uint32_t));
  graph->n_outputs = n_outputs;
  for (uint32_t i = 0; i < n_outputs; i++)
    graph->outputs[i] = vq__cursor_u32 (&c, "graph output");

  if (!vq__cursor_check_count (&c, n_nodes, VQM_NODE_RECORD_MIN, "nodes"))
    return FALSE;
  graph->nodes = table_new (n_nodes, sizeof (vq_node));
  for (uint32_t i = 0; i < n_nodes && vq__cursor_ok (&c); i++)
    read_node (&c, graph, i);

  if (vq__cursor_ok (&c) && vq__cursor_remaining (&c) != 0)
    vq__cursor_fail (&c, VQ_ERROR_FORMAT, "%" G_GSIZE_FORMAT " unexpected bytes after the nodes",
                     vq__cursor_remaining (&c));
  return vq__cursor_ok (&c);
}

static void
read_blob (vq__cursor *c, vq_graph *graph, uint32_t index, const guint8 *payload,
           gsize payload_size, gboolean borrow)
{
  vq_blob *blob = &graph->blobs[index];
  memset (blob, 0, sizeof *blob);
  blob->name = vq__cursor_string (c, "blob name");
  graph->n_blobs = index + 1;
  uint32_t dtype = vq__cursor_u32 (c, "blob dtype");
  char *what = g_strdup_printf ("blob %u '%s'", index, blob->name ? blob->name : "");
  blob->shape = read_shape (c, what);
  uint64_t offset = vq__cursor_u64 (c, "blob offset");
  uint64_t nbytes = vq__cursor_u64 (c, "blob size");
  if (!vq__cursor_ok (c))
    goto out;
  if (dtype >= VQ_DTYPE_COUNT) {
    vq__cursor_fail (c, VQ_ERROR_UNSUPPORTED, "%s has dtype %u, which this reader does not know",
                     what, dtype);
    goto out;
  }
  blob->dtype = (vq_dtype) dtype;
  /* The shape must be sane before its element count means anything. */
  int64_t numel = 1;
  for (uint32_t i = 0; i < blob->shape.rank; i++) {
    int32_t dim = blob->shape.dims[i];
    if (dim < 1 || dim > MAX_DIM) {
      vq__cursor_fail (c, VQ_ERROR_FORMAT, "%s has dim %u = %d, expected 1 to %d", what, i, dim,
                       MAX_DIM);
      goto out;
    }
    numel *= dim;
    if (numel > MAX_NUMEL) {
      vq__cursor_fail (c, VQ_ERROR_FORMAT, "%s has more than 2^31 elements", what);
      goto out;
    }
  }
  uint64_t expected = vq_dtype_bytes (blob->dtype, numel);
  if (nbytes != expected) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT,
                     "%s has %" G_GUINT64_FORMAT " bytes, but %" G_GINT64_FORMAT " %s elements "
                     "need %" G_GUINT64_FORMAT,
                     what, nbytes, numel, vq_dtype_name (blob->dtype), expected);
    goto out;
  }
  if (offset % VQM_ALIGNMENT != 0) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "%s payload offset %" G_GUINT64_FORMAT
                     " is not a multiple of %d", what, offset, VQM_ALIGNMENT);
    goto out;
  }
  if (offset > payload_size || nbytes > payload_size - offset) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT,
                     "%s payload extends past the data section (offset %" G_GUINT64_FORMAT
                     " + size %" G_GUINT64_FORMAT " > %" G_GSIZE_FORMAT ")",
                     what, offset, nbytes, payload_size);
    goto out;
  }
  blob->nbytes = nbytes;
  if (borrow) {
    blob->data = payload + offset;
    blob->owned = false;
  } else {
    blob->data = g_memdup2 (payload + offset, (gsize) nbytes);
    blob->owned = true;
  }
out:
  g_free (what);
}

gboolean
vq__vqm_parse_blobs (vq_graph *graph, const guint8 *data, gsize size, const guint8 *payload,
                     gsize payload_size, gboolean borrow, const char *file, GError **error)
{
  vq__cursor c;
  vq__cursor_init (&c, data, size, file, "blobs", error);
  uint32_t n_blobs = vq__cursor_u32 (&c, "blob count");
  if (!vq__cursor_check_count (&c, n_blobs, VQM_BLOB_RECORD_MIN, "blobs"))
    return FALSE;
  graph->blobs = table_new (n_blobs, sizeof (vq_blob));
  for (uint32_t i = 0; i < n_blobs && vq__cursor_ok (&c); i++)
    read_blob (&c, graph, i, payload, payload_size, borrow);
  if (vq__cursor_ok (&c) && vq__cursor_remaining (&c) != 0)
    vq__cursor_fail (&c, VQ_ERROR_FORMAT, "%" G_GSIZE_FORMAT " unexpected bytes after the blobs",
                     vq__cursor_remaining (&c));
  return vq__cursor_ok (&c);
}
