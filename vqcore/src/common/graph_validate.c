/* vq_graph_validate(): the checks that make a graph safe to execute. The
 * loader runs it on every untrusted file, the importer on what it built,
 * so that engines can index blobs and values without checking again. */
#include <math.h>
#include <stdarg.h>

#include "vqcore/error.h"
#include "vqcore/graph.h"

#include "error_private.h"

#define MAX_DIM (1 << 24)
#define MAX_NUMEL ((int64_t) 1 << 31)


/* Formats a shape as "[1, 3, 416, 416]" into a static-free buffer. */
static const char *
shape_str (const vq_shape *shape, char buf[64])
{
  int n = g_snprintf (buf, 64, "[");
  for (uint32_t i = 0; i < shape->rank && i < VQ_MAX_RANK; i++)
    n += g_snprintf (buf + n, 64 - n, "%s%d", i ? ", " : "", shape->dims[i]);
  g_snprintf (buf + n, 64 - n, "]");
  return buf;
}

static gboolean
check_shape (const vq_shape *shape, const char *what, uint32_t id, const char *name,
             GError **error)
{
  if (shape->rank < 1 || shape->rank > VQ_MAX_RANK)
    return vq__fail_format (error, "%s %u '%s' has rank %u, expected 1 to %d", what, id, name, shape->rank,
                 VQ_MAX_RANK);
  int64_t numel = 1;
  for (uint32_t i = 0; i < shape->rank; i++) {
    if (shape->dims[i] < 1 || shape->dims[i] > MAX_DIM)
      return vq__fail_format (error, "%s %u '%s' has dim %u = %d, expected 1 to %d", what, id, name, i,
                   shape->dims[i], MAX_DIM);
    numel *= shape->dims[i];
    if (numel > MAX_NUMEL)
      return vq__fail_format (error, "%s %u '%s' has more than 2^31 elements", what, id, name);
  }
  return TRUE;
}

static gboolean
check_blob (const vq_blob *blob, uint32_t id, GError **error)
{
  if ((unsigned) blob->dtype >= VQ_DTYPE_COUNT)
    return vq__fail_format (error, "blob %u '%s' has an invalid dtype %d", id, blob->name, (int) blob->dtype);
  if (!check_shape (&blob->shape, "blob", id, blob->name, error))
    return FALSE;
  uint64_t expected = vq_dtype_bytes (blob->dtype, vq_shape_numel (&blob->shape));
  if (blob->nbytes != expected)
    return vq__fail_format (error, "blob %u '%s' has %" G_GUINT64_FORMAT " bytes, its %s shape needs %"
                 G_GUINT64_FORMAT, id, blob->name, blob->nbytes, vq_dtype_name (blob->dtype),
                 expected);
  if (blob->data == NULL)
    return vq__fail_format (error, "blob %u '%s' has no data", id, blob->name);
  return TRUE;
}

/* Everything a node check needs, and the node's name for messages. */
typedef struct {
  const vq_graph *graph;
  const vq_node *node;
  uint32_t index;
  GError **error;
  /* Per blob, the largest code in it as an indices blob, or -1 when not
   * scanned yet: a blob shared by many convs is scanned once, so a hostile
   * file cannot make validation quadratic. */
  int32_t *max_code;
} node_ctx;

static gboolean
node_fail (const node_ctx *ctx, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
node_fail (const node_ctx *ctx, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  vq__fail_format (ctx->error, "node %u '%s' (%s): %s", ctx->index, ctx->node->name,
        vq_op_name (ctx->node->op), message);
  g_free (message);
  return FALSE;
}

static const vq_shape *
in_shape (const node_ctx *ctx, uint32_t i)
{
  return &ctx->graph->values[ctx->node->inputs[i]].shape;
}

static const vq_shape *
out_shape (const node_ctx *ctx, uint32_t i)
{
  return &ctx->graph->values[ctx->node->outputs[i]].shape;
}

static gboolean
expect_shape (const node_ctx *ctx, const char *what, const vq_shape *actual,
              const vq_shape *expected)
{
  char a[64], e[64];
  if (!vq_shape_equal (actual, expected))
    return node_fail (ctx, "%s has shape %s, expected %s", what, shape_str (actual, a),
                      shape_str (expected, e));
  return TRUE;
}

static gboolean
expect_nchw (const node_ctx *ctx)
{
  char a[64];
  const vq_shape *in = in_shape (ctx, 0), *out = out_shape (ctx, 0);
  if (in->rank != 4 || in->dims[0] != 1)
    return node_fail (ctx, "input has shape %s, expected [1, C, H, W]", shape_str (in, a));
  if (out->rank != 4 || out->dims[0] != 1)
    return node_fail (ctx, "output has shape %s, expected [1, C, H, W]", shape_str (out, a));
  return TRUE;
}

/* Output size of a sliding window; -1 when the window does not fit. */
static int64_t
window_out (int64_t size, int64_t pad_a, int64_t pad_b, int64_t kernel, int64_t dilation,
            int64_t stride)
{
  int64_t span = dilation * (kernel - 1) + 1;
  int64_t padded = size + pad_a + pad_b;
  if (padded < span)
    return -1;
  return (padded - span) / stride + 1;
}

static gboolean
check_window (const node_ctx *ctx, int32_t kh, int32_t kw, int32_t sh, int32_t sw, int32_t dh,
              int32_t dw, const int32_t pads[4], int64_t *ho, int64_t *wo)
{
  const int32_t positive[] = { kh, kw, sh, sw, dh, dw };
  for (gsize i = 0; i < G_N_ELEMENTS (positive); i++)
    if (positive[i] < 1 || positive[i] > MAX_DIM)
      return node_fail (ctx, "kernel, stride and dilation must be 1 to %d (kernel %dx%d, stride "
                        "%dx%d, dilation %dx%d)", MAX_DIM, kh, kw, sh, sw, dh, dw);
  for (int i = 0; i < 4; i++)
    if (pads[i] < 0 || pads[i] > MAX_DIM)
      return node_fail (ctx, "padding must be 0 to %d (top %d, left %d, bottom %d, right %d)",
                        MAX_DIM, pads[0], pads[1], pads[2], pads[3]);
  const vq_shape *in = in_shape (ctx, 0);
  *ho = window_out (in->dims[2], pads[0], pads[2], kh, dh, sh);
  *wo = window_out (in->dims[3], pads[1], pads[3], kw, dw, sw);
  if (*ho < 1 || *wo < 1)
    return node_fail (ctx, "the %dx%d window does not fit the padded %dx%d input", kh, kw,
                      in->dims[2], in->dims[3]);
  return TRUE;
}

/* Resolves a blob reference: -1 gives NULL (absent); otherwise it must be
 * in range and of a float dtype when `float_only`. */
static gboolean
blob_ref (const node_ctx *ctx, int32_t id, const char *role, gboolean float_only,
          const vq_blob **out)
{
  *out = NULL;
  if (id == -1)
    return TRUE;
  if (id < 0 || (uint32_t) id >= ctx->graph->n_blobs)
    return node_fail (ctx, "%s blob id %d is out of range (%u blobs)", role, id,
                      ctx->graph->n_blobs);
  *out = &ctx->graph->blobs[id];
  if (float_only && (*out)->dtype != VQ_DTYPE_F32 && (*out)->dtype != VQ_DTYPE_F16)
    return node_fail (ctx, "%s blob '%s' has dtype %s, expected f32 or f16", role, (*out)->name,
                      vq_dtype_name ((*out)->dtype));
  return TRUE;
}

static int32_t
code_at (const vq_blob *indices, int64_t i)
{
  const uint8_t *bytes = indices->data;
  if (indices->dtype == VQ_DTYPE_U4)
    return (i & 1) ? bytes[i / 2] >> 4 : bytes[i / 2] & 0x0f;
  return bytes[i];
}

static gboolean
check_vq_weights (const node_ctx *ctx, const vq_blob *codebook, const vq_blob *indices,
                  int32_t indices_id, int64_t cout, int64_t row)
{
  char a[64];
  if (codebook->shape.rank != 2)
    return node_fail (ctx, "codebook '%s' has shape %s, expected [K, d]", codebook->name,
                      shape_str (&codebook->shape, a));
  int64_t k = codebook->shape.dims[0], d = codebook->shape.dims[1];
  int64_t max_k = indices->dtype == VQ_DTYPE_U8 ? 256 : indices->dtype == VQ_DTYPE_U4 ? 16 : 0;
  if (max_k == 0)
    return node_fail (ctx, "indices blob '%s' has dtype %s, expected u8 or u4", indices->name,
                      vq_dtype_name (indices->dtype));
  if (k > max_k)
    return node_fail (ctx, "codebook '%s' has %" G_GINT64_FORMAT " entries, more than %s "
                      "indices can address (%" G_GINT64_FORMAT ")", codebook->name, k,
                      vq_dtype_name (indices->dtype), max_k);
  int32_t dims[2] = { (int32_t) cout, (int32_t) ((row + d - 1) / d) };
  vq_shape expected = vq_shape_make (2, dims);
  if (!expect_shape (ctx, "indices blob", &indices->shape, &expected))
    return FALSE;
  /* Every index must address the codebook: engines look codes up without
   * checking. */
  int64_t n = vq_shape_numel (&indices->shape);
  int32_t *max_code = &ctx->max_code[indices_id];
  if (*max_code < 0) {
    int32_t largest = 0;
    for (int64_t i = 0; i < n; i++)
      largest = MAX (largest, code_at (indices, i));
    *max_code = largest;
  }
  if (*max_code < k)
    return TRUE;
  /* Rare error path: find the first offending index for the message. */
  for (int64_t i = 0; i < n; i++)
    if (code_at (indices, i) >= k)
      return node_fail (ctx, "index %" G_GINT64_FORMAT " of '%s' is %d, but codebook '%s' has "
                        "only %" G_GINT64_FORMAT " entries",
                        i, indices->name, code_at (indices, i), codebook->name, k);
  return TRUE;
}

static gboolean
check_conv (const node_ctx *ctx)
{
  const vq_conv_params *conv = &ctx->node->p.conv;
  if (!expect_nchw (ctx))
    return FALSE;
  const vq_shape *in = in_shape (ctx, 0);
  int64_t c = in->dims[1];
  if (conv->groups < 1 || conv->out_channels < 1 || conv->out_channels > MAX_DIM)
    return node_fail (ctx, "groups (%d) and out_channels (%d) must be positive", conv->groups,
                      conv->out_channels);
  if (c % conv->groups != 0 || conv->out_channels % conv->groups != 0)
    return node_fail (ctx, "%" G_GINT64_FORMAT " input and %d output channels are not both "
                      "divisible by %d groups", c, conv->out_channels, conv->groups);
  const int32_t pads[4] = { conv->pad_top, conv->pad_left, conv->pad_bottom, conv->pad_right };
  int64_t ho, wo;
  if (!check_window (ctx, conv->kernel_h, conv->kernel_w, conv->stride_h, conv->stride_w,
                     conv->dilation_h, conv->dilation_w, pads, &ho, &wo))
    return FALSE;
  vq_shape expected = vq_shape_4d (1, conv->out_channels, (int32_t) ho, (int32_t) wo);
  if (!expect_shape (ctx, "output", out_shape (ctx, 0), &expected))
    return FALSE;

  const vq_weight_ref *w = &conv->weights;
  const vq_blob *dense, *codebook, *indices, *scales, *bias;
  if (!blob_ref (ctx, w->dense, "dense weight", TRUE, &dense)
      || !blob_ref (ctx, w->codebook, "codebook", TRUE, &codebook)
      || !blob_ref (ctx, w->indices, "indices", FALSE, &indices)
      || !blob_ref (ctx, w->scales, "scales", TRUE, &scales)
      || !blob_ref (ctx, conv->bias, "bias", TRUE, &bias))
    return FALSE;
  int32_t cout = conv->out_channels;
  if (bias != NULL) {
    vq_shape bias_shape = vq_shape_make (1, &cout);
    if (!expect_shape (ctx, "bias blob", &bias->shape, &bias_shape))
      return FALSE;
  }
  gboolean is_vq = codebook != NULL || indices != NULL || scales != NULL;
  if ((dense != NULL) == is_vq)
    return node_fail (ctx, "needs either a dense weight blob or a codebook and indices, not %s",
                      dense != NULL ? "both" : "neither");
  if (dense != NULL) {
    vq_shape weight_shape = vq_shape_4d (cout, (int32_t) (c / conv->groups), conv->kernel_h,
                                         conv->kernel_w);
    return expect_shape (ctx, "dense weight blob", &dense->shape, &weight_shape);
  }
  if (codebook == NULL || indices == NULL)
    return node_fail (ctx, "VQ weights need both a codebook and an indices blob");
  if (scales != NULL) {
    vq_shape scale_shape = vq_shape_make (1, &cout);
    if (!expect_shape (ctx, "scales blob", &scales->shape, &scale_shape))
      return FALSE;
  }
  int64_t row = c / conv->groups * conv->kernel_h * conv->kernel_w;
  return check_vq_weights (ctx, codebook, indices, w->indices, cout, row);
}

static gboolean
check_pool (const node_ctx *ctx)
{
  const vq_pool_params *pool = &ctx->node->p.pool;
  if (!expect_nchw (ctx))
    return FALSE;
  if (isnan (pool->pad_value))
    return node_fail (ctx, "pad_value is NaN");
  const int32_t pads[4] = { pool->pad_top, pool->pad_left, pool->pad_bottom, pool->pad_right };
  int64_t ho, wo;
  if (!check_window (ctx, pool->kernel_h, pool->kernel_w, pool->stride_h, pool->stride_w, 1, 1,
                     pads, &ho, &wo))
    return FALSE;
  const vq_shape *in = in_shape (ctx, 0);
  vq_shape expected = vq_shape_4d (1, in->dims[1], (int32_t) ho, (int32_t) wo);
  return expect_shape (ctx, "output", out_shape (ctx, 0), &expected);
}

static gboolean
check_resize (const node_ctx *ctx)
{
  const vq_resize_params *resize = &ctx->node->p.resize;
  if (!expect_nchw (ctx))
    return FALSE;
  if ((unsigned) resize->mode >= VQ_RESIZE_MODE_COUNT)
    return node_fail (ctx, "invalid resize mode %d", (int) resize->mode);
  if (resize->align_corners && resize->half_pixel_centers)
    return node_fail (ctx, "align_corners and half_pixel_centers exclude each other");
  if (in_shape (ctx, 0)->dims[1] != out_shape (ctx, 0)->dims[1])
    return node_fail (ctx, "changes the channel count (%d to %d)", in_shape (ctx, 0)->dims[1],
                      out_shape (ctx, 0)->dims[1]);
  return TRUE;
}

/* Concat (many inputs, one output) and split (one input, many outputs):
 * the parts agree with the whole except along the axis, where they sum. */
static gboolean
check_axis_op (const node_ctx *ctx)
{
  gboolean is_concat = ctx->node->op == VQ_OP_CONCAT;
  const vq_shape *whole = is_concat ? out_shape (ctx, 0) : in_shape (ctx, 0);
  uint32_t n_parts = is_concat ? ctx->node->n_inputs : ctx->node->n_outputs;
  int32_t axis = ctx->node->p.axis.axis;
  if (axis < 0 || (uint32_t) axis >= whole->rank)
    return node_fail (ctx, "axis %d is out of range for rank %u", axis, whole->rank);
  int64_t sum = 0;
  char a[64], b[64];
  for (uint32_t i = 0; i < n_parts; i++) {
    const vq_shape *part = is_concat ? in_shape (ctx, i) : out_shape (ctx, i);
    gboolean ok = part->rank == whole->rank;
    for (uint32_t d = 0; ok && d < whole->rank; d++)
      ok = (int32_t) d == axis || part->dims[d] == whole->dims[d];
    if (!ok)
      return node_fail (ctx, "part %u has shape %s, which does not match %s except along axis %d",
                        i, shape_str (part, a), shape_str (whole, b), axis);
    sum += part->dims[axis];
  }
  if (sum != whole->dims[axis])
    return node_fail (ctx, "the parts sum to %" G_GINT64_FORMAT " along axis %d, expected %d", sum,
                      axis, whole->dims[axis]);
  return TRUE;
}

static gboolean
check_transpose (const node_ctx *ctx)
{
  const vq_shape *in = in_shape (ctx, 0), *out = out_shape (ctx, 0);
  const int32_t *perm = ctx->node->p.transpose.perm;
  if (in->rank != out->rank)
    return node_fail (ctx, "input rank %u differs from output rank %u", in->rank, out->rank);
  gboolean seen[VQ_MAX_RANK] = { FALSE };
  vq_shape expected = *in;
  for (uint32_t i = 0; i < in->rank; i++) {
    if (perm[i] < 0 || (uint32_t) perm[i] >= in->rank || seen[perm[i]])
      return node_fail (ctx, "perm is not a permutation of 0..%u", in->rank - 1);
    seen[perm[i]] = TRUE;
    expected.dims[i] = in->dims[perm[i]];
  }
  return expect_shape (ctx, "output", out, &expected);
}

static gboolean
check_op (const node_ctx *ctx)
{
  const vq_node *node = ctx->node;
  switch (node->op) {
  case VQ_OP_CONV2D:
    return check_conv (ctx);
  case VQ_OP_MAX_POOL:
  case VQ_OP_AVG_POOL:
    return check_pool (ctx);
  case VQ_OP_RESIZE:
    return check_resize (ctx);
  case VQ_OP_CONCAT:
  case VQ_OP_SPLIT:
    return check_axis_op (ctx);
  case VQ_OP_TRANSPOSE:
    return check_transpose (ctx);
  case VQ_OP_ADD:
    return expect_shape (ctx, "input 0", in_shape (ctx, 0), out_shape (ctx, 0))
           && expect_shape (ctx, "input 1", in_shape (ctx, 1), out_shape (ctx, 0));
  case VQ_OP_ACTIVATION:
    return expect_shape (ctx, "input", in_shape (ctx, 0), out_shape (ctx, 0));
  case VQ_OP_RESHAPE:
    if (vq_shape_numel (in_shape (ctx, 0)) != vq_shape_numel (out_shape (ctx, 0)))
      return node_fail (ctx, "changes the element count (%" G_GINT64_FORMAT " to %"
                        G_GINT64_FORMAT ")", vq_shape_numel (in_shape (ctx, 0)),
                        vq_shape_numel (out_shape (ctx, 0)));
    return TRUE;
  default:
    return node_fail (ctx, "unknown operation");
  }
}

/* Input and output counts per op: { min in, max in, min out, max out }. */
static const uint32_t io_counts[VQ_OP_COUNT][4] = {
  [VQ_OP_CONV2D] = { 1, 1, 1, 1 },     [VQ_OP_ADD] = { 2, 2, 1, 1 },
  [VQ_OP_CONCAT] = { 1, VQ_MAX_NODE_IO, 1, 1 }, [VQ_OP_RESIZE] = { 1, 1, 1, 1 },
  [VQ_OP_MAX_POOL] = { 1, 1, 1, 1 },   [VQ_OP_AVG_POOL] = { 1, 1, 1, 1 },
  [VQ_OP_ACTIVATION] = { 1, 1, 1, 1 }, [VQ_OP_SPLIT] = { 1, 1, 1, VQ_MAX_NODE_IO },
  [VQ_OP_RESHAPE] = { 1, 1, 1, 1 },    [VQ_OP_TRANSPOSE] = { 1, 1, 1, 1 },
};

/* Checks the node's op, activation, counts and value ids, and that it reads
 * only written values and writes only unwritten ones (then marks them). */
static gboolean
check_node_io (const node_ctx *ctx, gboolean *written)
{
  const vq_node *node = ctx->node;
  const vq_graph *graph = ctx->graph;
  if ((unsigned) node->op >= VQ_OP_COUNT)
    return vq__fail_format (ctx->error, "node %u '%s' has an invalid op %d", ctx->index, node->name,
                 (int) node->op);
  if ((unsigned) node->act >= VQ_ACT_COUNT)
    return node_fail (ctx, "invalid activation %d", (int) node->act);
  if (!isfinite (node->act_alpha))
    return node_fail (ctx, "act_alpha is not finite");
  if (node->act != VQ_ACT_NONE && node->op != VQ_OP_CONV2D && node->op != VQ_OP_ADD
      && node->op != VQ_OP_ACTIVATION)
    return node_fail (ctx, "has a fused %s activation, which only conv2d, add and activation "
                      "support", vq_activation_name (node->act));
  const uint32_t *counts = io_counts[node->op];
  if (node->n_inputs < counts[0] || node->n_inputs > counts[1] || node->n_outputs < counts[2]
      || node->n_outputs > counts[3])
    return node_fail (ctx, "has %u inputs and %u outputs, expected %u-%u and %u-%u",
                      node->n_inputs, node->n_outputs, counts[0], counts[1], counts[2],
                      counts[3]);
  for (uint32_t i = 0; i < node->n_inputs; i++) {
    uint32_t id = node->inputs[i];
    if (id >= graph->n_values)
      return node_fail (ctx, "input %u is value %u, out of range (%u values)", i, id,
                        graph->n_values);
    if (!written[id])
      return node_fail (ctx, "reads value %u '%s' before anything writes it (the nodes must be in "
                        "topological order)", id, graph->values[id].name);
  }
  for (uint32_t i = 0; i < node->n_outputs; i++) {
    uint32_t id = node->outputs[i];
    if (id >= graph->n_values)
      return node_fail (ctx, "output %u is value %u, out of range (%u values)", i, id,
                        graph->n_values);
    if (written[id])
      return node_fail (ctx, "writes value %u '%s', which is already written", id,
                        graph->values[id].name);
    written[id] = TRUE;
  }
  return TRUE;
}

bool
vq_graph_validate (const vq_graph *graph, GError **error)
{
  g_return_val_if_fail (graph != NULL, false);
  for (uint32_t i = 0; i < graph->n_blobs; i++)
    if (!check_blob (&graph->blobs[i], i, error))
      return false;
  for (uint32_t i = 0; i < graph->n_values; i++)
    if (!check_shape (&graph->values[i].shape, "value", i, graph->values[i].name, error))
      return false;
  if (graph->n_inputs == 0 || graph->n_outputs == 0)
    return vq__fail_format (error, "the graph has %u inputs and %u outputs; it needs at least one of each",
                 graph->n_inputs, graph->n_outputs);

  gboolean *written = g_new0 (gboolean, graph->n_values);
  int32_t *max_code = g_new (int32_t, graph->n_blobs + 1);
  for (uint32_t i = 0; i < graph->n_blobs; i++)
    max_code[i] = -1;
  gboolean ok = TRUE;
  for (uint32_t i = 0; i < graph->n_inputs && ok; i++) {
    uint32_t id = graph->inputs[i];
    if (id >= graph->n_values)
      ok = vq__fail_format (error, "graph input %u is value %u, out of range (%u values)", i, id,
                 graph->n_values);
    else if (written[id])
      ok = vq__fail_format (error, "graph input %u (value %u '%s') is listed twice", i, id,
                 graph->values[id].name);
    else
      written[id] = TRUE;
  }
  for (uint32_t i = 0; i < graph->n_nodes && ok; i++) {
    node_ctx ctx = { graph, &graph->nodes[i], i, error, max_code };
    ok = check_node_io (&ctx, written) && check_op (&ctx);
  }
  for (uint32_t i = 0; i < graph->n_outputs && ok; i++) {
    uint32_t id = graph->outputs[i];
    if (id >= graph->n_values)
      ok = vq__fail_format (error, "graph output %u is value %u, out of range (%u values)", i, id,
                 graph->n_values);
    else if (!written[id])
      ok = vq__fail_format (error, "graph output %u (value %u '%s') is never written", i, id,
                 graph->values[id].name);
  }
  for (uint32_t i = 0; i < graph->n_values && ok; i++)
    if (!written[i])
      ok = vq__fail_format (error, "value %u '%s' is never written (neither a graph input nor a node output)",
                 i, graph->values[i].name);
  g_free (written);
  g_free (max_code);
  return ok;
}
