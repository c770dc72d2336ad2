/* The op table: which handler turns each supported TF op into IR (or only
 * changes how an existing IR value is seen), and the checks and emission
 * steps that the handlers share. The handlers live with their op family:
 * tfjs_ops_layout.c, tfjs_ops_elementwise.c, tfjs_ops_shape.c and
 * tfjs_conv.c. */
#include "tfjs_private.h"

#include <string.h>

gboolean
vq__tfjs_need_inputs (const vq__tfjs_node *node, guint n_in, guint count, GError **error)
{
  if (n_in >= count)
    return TRUE;
  vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "expected %u inputs, got %u", count, n_in);
  return FALSE;
}

gboolean
vq__tfjs_need_activation (const vq__tfjs_node *node, const vq__tfjs_tensor *t, GError **error)
{
  if (!t->is_const)
    return TRUE;
  vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                 "a constant operand is only supported where it can be folded");
  return FALSE;
}

gboolean
vq__tfjs_need_activation_input (const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
                                guint count, GError **error)
{
  return vq__tfjs_need_inputs (node, n_in, count, error)
         && vq__tfjs_need_activation (node, in[0], error);
}

vq__tfjs_tensor
vq__tfjs_tensor_of_shape (int rank, const int32_t *dims, const int *perm)
{
  vq__tfjs_tensor t = { 0 };
  t.rank = rank;
  memcpy (t.dims, dims, sizeof (int32_t) * (size_t) rank);
  memcpy (t.perm, perm, sizeof t.perm);
  return t;
}

vq__tfjs_tensor
vq__tfjs_tensor_like (const vq__tfjs_tensor *x)
{
  return vq__tfjs_tensor_of_shape (x->rank, x->dims, x->perm);
}

void
vq__tfjs_alias_output (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, const vq__tfjs_tensor *t)
{
  vq__tfjs_tensor alias = *t;
  /* The tensor `t` came from keeps freeing its constant. */
  alias.owns_const = FALSE;
  vq__tfjs_set_output (ctx, node, 0, &alias);
}

void
vq__tfjs_emit_output (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq_node *ir,
                      vq__tfjs_tensor *t)
{
  ir->n_outputs = 1;
  ir->outputs[0] = vq__tfjs_new_value (ctx, node->name, t);
  vq__tfjs_emit (ctx, ir);
  vq__tfjs_set_output (ctx, node, 0, t);
}

static const vq__tfjs_op_entry op_table[] = {
  { "Identity", vq__tfjs_op_identity, TRUE },
  { "StopGradient", vq__tfjs_op_identity, TRUE },
  { "Snapshot", vq__tfjs_op_identity, TRUE },
  { "Transpose", vq__tfjs_op_transpose, TRUE },
  { "Pad", vq__tfjs_op_pad, TRUE },
  { "PadV2", vq__tfjs_op_pad, TRUE },
  { "Add", vq__tfjs_op_binary, FALSE },
  { "AddV2", vq__tfjs_op_binary, FALSE },
  { "BiasAdd", vq__tfjs_op_binary, FALSE },
  { "Sub", vq__tfjs_op_binary, FALSE },
  { "Mul", vq__tfjs_op_binary, FALSE },
  { "Relu", vq__tfjs_op_activation, FALSE },
  { "Relu6", vq__tfjs_op_activation, FALSE },
  { "LeakyRelu", vq__tfjs_op_activation, FALSE },
  { "Sigmoid", vq__tfjs_op_activation, FALSE },
  { "ConcatV2", vq__tfjs_op_concat, FALSE },
  { "Concat", vq__tfjs_op_concat, FALSE },
  { "Split", vq__tfjs_op_split, FALSE },
  { "SplitV", vq__tfjs_op_split, FALSE },
  { "ResizeBilinear", vq__tfjs_op_resize, FALSE },
  { "ResizeNearestNeighbor", vq__tfjs_op_resize, FALSE },
  { "Reshape", vq__tfjs_op_reshape, FALSE },
  { "Squeeze", vq__tfjs_op_reshape, FALSE },
  { "ExpandDims", vq__tfjs_op_reshape, FALSE },
  { "Conv2D", vq__tfjs_op_conv, TRUE },
  { "DepthwiseConv2dNative", vq__tfjs_op_conv, TRUE },
  { "_FusedConv2D", vq__tfjs_op_conv, TRUE },
  { "FusedDepthwiseConv2dNative", vq__tfjs_op_conv, TRUE },
  { "MaxPool", vq__tfjs_op_pool, TRUE },
  { "AvgPool", vq__tfjs_op_pool, TRUE },
};

const vq__tfjs_op_entry *
vq__tfjs_op_lookup (const char *op)
{
  for (size_t i = 0; i < G_N_ELEMENTS (op_table); i++)
    if (strcmp (op_table[i].op, op) == 0)
      return &op_table[i];
  return NULL;
}
