/* Elementwise ops: Add, AddV2, BiasAdd, Sub and Mul, and the activations
 * Relu, Relu6, LeakyRelu and Sigmoid. Whenever possible they disappear
 * into the conv that produced their operand (tfjs_conv.c). */
#include "tfjs_private.h"

#include <string.h>

/* A standalone activation node applying `act` to x. */
static void
emit_activation (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, const vq__tfjs_tensor *x,
                 vq_activation act, float alpha)
{
  vq_node a;
  vq_node_init (&a, VQ_OP_ACTIVATION, node->name);
  a.act = act;
  a.act_alpha = alpha;
  a.n_inputs = 1;
  a.inputs[0] = x->value;
  vq__tfjs_tensor t = vq__tfjs_tensor_like (x);
  vq__tfjs_emit_output (ctx, node, &a, &t);
}

/* x * sigmoid(x) is SiLU: when `s` is a standalone sigmoid of x's value,
 * emits a SiLU activation of x instead (the sigmoid, then unread, is
 * removed and the SiLU fused into x's conv by tfjs_optimize.c). */
static gboolean
emit_silu (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, const vq__tfjs_tensor *x,
           const vq__tfjs_tensor *s)
{
  int32_t producer = g_array_index (ctx->values, vq__tfjs_value_info, s->value).producer;
  if (producer < 0 || x->padded || s->padded || x->rank != s->rank
      || !vq__tfjs_perm_is (x->perm, x->rank, s->perm))
    return FALSE;
  const vq_node *sig = &ctx->graph->nodes[producer];
  if (sig->op != VQ_OP_ACTIVATION || sig->act != VQ_ACT_SIGMOID || sig->inputs[0] != x->value)
    return FALSE;
  emit_activation (ctx, node, x, VQ_ACT_SILU, 0.0f);
  return TRUE;
}

/* The sum of two activations of one shape. */
static gboolean
emit_add (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, const vq__tfjs_tensor *a,
          const vq__tfjs_tensor *b, GError **error)
{
  if (a->rank != b->rank || memcmp (a->dims, b->dims, sizeof (int32_t) * (size_t) a->rank) != 0) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "operands differ in shape (no broadcasting)");
    return FALSE;
  }
  vq_node add;
  vq_node_init (&add, VQ_OP_ADD, node->name);
  add.n_inputs = 2;
  add.inputs[0] = a->value;
  if (!vq__tfjs_materialize (ctx, node, b, a->perm, &add.inputs[1], error))
    return FALSE;
  vq__tfjs_tensor t = vq__tfjs_tensor_like (a);
  vq__tfjs_emit_output (ctx, node, &add, &t);
  return TRUE;
}

/* A constant operand goes into the producing conv, two activations of one
 * shape make an IR add (or SiLU, see emit_silu). */
gboolean
vq__tfjs_op_binary (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                    guint n_in, GError **error)
{
  if (!vq__tfjs_need_inputs (node, n_in, 2, error))
    return FALSE;
  gboolean is_sub = strcmp (node->op, "Sub") == 0, is_mul = strcmp (node->op, "Mul") == 0;
  char operation = is_sub ? '-' : is_mul ? '*' : '+';
  if (in[1]->is_const || (in[0]->is_const && !is_sub)) {
    vq__tfjs_tensor *x = in[1]->is_const ? in[0] : in[1];
    const vq__tconst *c = in[1]->is_const ? in[1]->c : in[0]->c;
    if (!vq__tfjs_fold_channel_constant (ctx, node, x, c, operation, error))
      return FALSE;
    vq__tfjs_alias_output (ctx, node, x);
    return TRUE;
  }
  if (!vq__tfjs_need_activation (node, in[0], error)
      || !vq__tfjs_need_activation (node, in[1], error))
    return FALSE;
  if (is_mul && (emit_silu (ctx, node, in[0], in[1]) || emit_silu (ctx, node, in[1], in[0])))
    return TRUE;
  if (operation != '+') {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                   "only addition of two activations is supported");
    return FALSE;
  }
  return emit_add (ctx, node, in[0], in[1], error);
}

gboolean
vq__tfjs_op_activation (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                        guint n_in, GError **error)
{
  if (!vq__tfjs_need_activation_input (node, in, n_in, 1, error))
    return FALSE;
  vq_activation act = VQ_ACT_RELU;
  float alpha = 0.0f;
  if (strcmp (node->op, "Relu6") == 0)
    act = VQ_ACT_RELU6;
  else if (strcmp (node->op, "Sigmoid") == 0)
    act = VQ_ACT_SIGMOID;
  else if (strcmp (node->op, "LeakyRelu") == 0) {
    act = VQ_ACT_LEAKY_RELU;
    alpha = vq__tfjs_attr_float (node, "alpha", 0.2f); /* TF's default */
  }
  vq__tfjs_tensor *x = in[0];
  if (vq__tfjs_fuse_activation (ctx, x, act, alpha))
    vq__tfjs_alias_output (ctx, node, x);
  else
    emit_activation (ctx, node, x, act, alpha);
  return TRUE;
}
