/* The op table: how each supported TF op becomes IR (or only changes how
 * an existing IR value is seen). Convolutions and pools are in
 * tfjs_conv.c. */
#include "tfjs_private.h"

#include <string.h>

static gboolean
need_inputs (const vq__tfjs_node *node, guint n_in, guint count, GError **error)
{
  if (n_in >= count)
    return TRUE;
  vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "expected %u inputs, got %u", count, n_in);
  return FALSE;
}

static gboolean
need_act (const vq__tfjs_node *node, const vq__tfjs_tensor *t, GError **error)
{
  if (!t->is_const)
    return TRUE;
  vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                 "a constant operand is only supported where it can be folded");
  return FALSE;
}

/* A new activation with x's layout and TF shape `dims`. */
static vq__tfjs_tensor
derived (const vq__tfjs_tensor *x, int rank, const int32_t *dims)
{
  vq__tfjs_tensor t = { 0 };
  t.rank = rank;
  memcpy (t.dims, dims, sizeof (int32_t) * (size_t) rank);
  memcpy (t.perm, x->perm, sizeof t.perm);
  return t;
}

static gboolean
op_identity (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
             GError **error)
{
  if (!need_inputs (node, n_in, 1, error))
    return FALSE;
  vq__tfjs_tensor t = *in[0];
  t.owns_const = FALSE;
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

/* A Transpose only changes which TF dimension each physical one holds. */
static gboolean
op_transpose (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
              GError **error)
{
  if (!need_inputs (node, n_in, 2, error) || !need_act (node, in[0], error))
    return FALSE;
  const vq__tfjs_tensor *x = in[0];
  int64_t q[VQ__TCONST_MAX_RANK];
  int n = 0, inverse[VQ_MAX_RANK] = { 0 };
  gboolean seen[VQ_MAX_RANK] = { FALSE };
  gboolean ok = in[1]->is_const && vq__tconst_ints (in[1]->c, q, VQ__TCONST_MAX_RANK, &n)
                && n == x->rank;
  for (int i = 0; ok && i < n; i++) {
    ok = q[i] >= 0 && q[i] < n && !seen[q[i]];
    if (ok) {
      seen[q[i]] = TRUE;
      inverse[q[i]] = i;
    }
  }
  if (!ok) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "the permutation is not a constant "
                   "permutation of the input's %d dimensions", x->rank);
    return FALSE;
  }
  vq__tfjs_tensor t = *x;
  for (int i = 0; i < n; i++) {
    t.dims[i] = x->dims[q[i]];
    t.perm[i] = inverse[x->perm[i]];
  }
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

/* Pad and PadV2 become pending padding that the consuming conv or pool
 * absorbs (tfjs_conv.c). */
static gboolean
op_pad (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
        GError **error)
{
  if (!need_inputs (node, n_in, 2, error) || !need_act (node, in[0], error))
    return FALSE;
  const vq__tfjs_tensor *x = in[0];
  const vq__tconst *pads = in[1]->is_const ? in[1]->c : NULL;
  float value = 0.0f;
  if (n_in >= 3) {
    if (!in[2]->is_const || in[2]->c->numel != 1) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "the pad value is not a constant scalar");
      return FALSE;
    }
    value = (float) vq__tconst_get (in[2]->c, 0);
  }
  if (pads == NULL || pads->numel != 2 * x->rank || pads->is_float) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "paddings are not a constant [%d, 2]",
                   x->rank);
    return FALSE;
  }
  vq__tfjs_tensor t = *x;
  gboolean any = FALSE;
  for (int i = 0; i < x->rank; i++) {
    int64_t before = pads->i[2 * x->perm[i]], after = pads->i[2 * x->perm[i] + 1];
    if (before < 0 || after < 0 || before > 65536 || after > 65536) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "negative or huge padding");
      return FALSE;
    }
    if (x->dims[x->perm[i]] + before + after > VQ__TFJS_MAX_DIM) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "the padded tensor is too large");
      return FALSE;
    }
    t.pad_before[i] += (int32_t) before;
    t.pad_after[i] += (int32_t) after;
    t.dims[x->perm[i]] += (int32_t) (before + after);
    any = any || before || after;
  }
  if (any && x->padded && x->pad_value != value) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "two Pads with different values");
    return FALSE;
  }
  if (any) {
    t.padded = TRUE;
    t.pad_value = value;
  }
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
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
  vq_node a;
  vq_node_init (&a, VQ_OP_ACTIVATION, node->name);
  a.act = VQ_ACT_SILU;
  a.n_inputs = 1;
  a.inputs[0] = x->value;
  vq__tfjs_tensor t = derived (x, x->rank, x->dims);
  a.n_outputs = 1;
  a.outputs[0] = vq__tfjs_new_value (ctx, node->name, &t);
  vq__tfjs_emit (ctx, &a);
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

/* Elementwise ops: a constant operand goes into the producing conv, two
 * activations of one shape make an IR add (or SiLU, see emit_silu). */
static gboolean
op_binary (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
           GError **error)
{
  if (!need_inputs (node, n_in, 2, error))
    return FALSE;
  gboolean is_sub = strcmp (node->op, "Sub") == 0, is_mul = strcmp (node->op, "Mul") == 0;
  char operation = is_sub ? '-' : is_mul ? '*' : '+';
  if (in[1]->is_const || (in[0]->is_const && !is_sub)) {
    vq__tfjs_tensor *x = in[1]->is_const ? in[0] : in[1];
    const vq__tconst *c = in[1]->is_const ? in[1]->c : in[0]->c;
    if (!vq__tfjs_fold_channel_constant (ctx, node, x, c, operation, error))
      return FALSE;
    vq__tfjs_tensor t = *x;
    vq__tfjs_set_output (ctx, node, 0, &t);
    return TRUE;
  }
  if (!need_act (node, in[0], error) || !need_act (node, in[1], error))
    return FALSE;
  if (is_mul && (emit_silu (ctx, node, in[0], in[1]) || emit_silu (ctx, node, in[1], in[0])))
    return TRUE;
  if (operation != '+') {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                   "only addition of two activations is supported");
    return FALSE;
  }
  const vq__tfjs_tensor *a = in[0], *b = in[1];
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
  vq__tfjs_tensor t = derived (a, a->rank, a->dims);
  add.n_outputs = 1;
  add.outputs[0] = vq__tfjs_new_value (ctx, node->name, &t);
  vq__tfjs_emit (ctx, &add);
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

static gboolean
op_activation (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
               GError **error)
{
  if (!need_inputs (node, n_in, 1, error) || !need_act (node, in[0], error))
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
  if (vq__tfjs_fuse_activation (ctx, x, act, alpha)) {
    vq__tfjs_tensor t = *x;
    vq__tfjs_set_output (ctx, node, 0, &t);
    return TRUE;
  }
  vq_node a;
  vq_node_init (&a, VQ_OP_ACTIVATION, node->name);
  a.act = act;
  a.act_alpha = alpha;
  a.n_inputs = 1;
  a.inputs[0] = x->value;
  vq__tfjs_tensor t = derived (x, x->rank, x->dims);
  a.n_outputs = 1;
  a.outputs[0] = vq__tfjs_new_value (ctx, node->name, &t);
  vq__tfjs_emit (ctx, &a);
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

static gboolean
const_axis (const vq__tfjs_node *node, const vq__tfjs_tensor *t, int64_t *axis, GError **error)
{
  if (t->is_const && t->c->numel == 1 && !t->c->is_float) {
    *axis = t->c->i[0];
    return TRUE;
  }
  vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "the axis is not a constant integer");
  return FALSE;
}

static gboolean
op_concat (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
           GError **error)
{
  if (!need_inputs (node, n_in, 2, error))
    return FALSE;
  gboolean v2 = strcmp (node->op, "ConcatV2") == 0;
  vq__tfjs_tensor **parts = v2 ? in : in + 1;
  guint n = n_in - 1;
  int64_t axis;
  if (!const_axis (node, v2 ? in[n_in - 1] : in[0], &axis, error))
    return FALSE;
  if (vq__tfjs_attr_int (node, "N", n) != n) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "attribute N disagrees with the %u inputs", n);
    return FALSE;
  }
  if (n > VQ_MAX_NODE_IO) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "more than %d inputs", VQ_MAX_NODE_IO);
    return FALSE;
  }
  for (guint k = 0; k < n; k++)
    if (!need_act (node, parts[k], error))
      return FALSE;
  const vq__tfjs_tensor *first = parts[0];
  int tf_axis = (int) (axis < 0 ? axis + first->rank : axis);
  int phys = vq__tfjs_physical_axis (first, axis);
  if (phys < 0) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "axis %" G_GINT64_FORMAT " out of range", axis);
    return FALSE;
  }
  vq_node c;
  vq_node_init (&c, VQ_OP_CONCAT, node->name);
  vq__tfjs_tensor t = derived (first, first->rank, first->dims);
  t.dims[tf_axis] = 0;
  for (guint k = 0; k < n; k++) {
    const vq__tfjs_tensor *p = parts[k];
    for (int d = 0; d < first->rank; d++)
      if (p->rank != first->rank || (d != tf_axis && p->dims[d] != first->dims[d])) {
        vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "input %u has a mismatching shape", k);
        return FALSE;
      }
    if (!vq__tfjs_materialize (ctx, node, p, first->perm, &c.inputs[k], error))
      return FALSE;
    t.dims[tf_axis] += p->dims[tf_axis];
  }
  c.n_inputs = n;
  c.p.axis.axis = phys;
  c.n_outputs = 1;
  c.outputs[0] = vq__tfjs_new_value (ctx, node->name, &t);
  vq__tfjs_emit (ctx, &c);
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

static gboolean
op_split (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
          GError **error)
{
  if (!need_inputs (node, n_in, 2, error))
    return FALSE;
  gboolean v = strcmp (node->op, "SplitV") == 0;
  if (v && !need_inputs (node, n_in, 3, error))
    return FALSE;
  vq__tfjs_tensor *x = v ? in[0] : in[1];
  int64_t axis, sizes[VQ_MAX_NODE_IO];
  int n = 0;
  if (!need_act (node, x, error) || !const_axis (node, v ? in[2] : in[0], &axis, error))
    return FALSE;
  int phys = vq__tfjs_physical_axis (x, axis);
  if (phys < 0) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "axis %" G_GINT64_FORMAT " out of range", axis);
    return FALSE;
  }
  int tf_axis = x->perm[phys];
  int64_t len = x->dims[tf_axis], known = 0;
  if (v) {
    int infer = -1;
    if (!in[1]->is_const || !vq__tconst_ints (in[1]->c, sizes, VQ_MAX_NODE_IO, &n)) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                     "size_splits is not a constant list of at most %d", VQ_MAX_NODE_IO);
      return FALSE;
    }
    for (int k = 0; k < n; k++)
      if (sizes[k] == -1 && infer < 0)
        infer = k;
      else
        known += sizes[k];
    if (infer >= 0)
      sizes[infer] = len - known;
  } else {
    n = (int) vq__tfjs_attr_int (node, "num_split", 0);
    if (n < 1 || n > VQ_MAX_NODE_IO || len % n != 0) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "num_split %d does not divide %d", n,
                     (int) len);
      return FALSE;
    }
    for (int k = 0; k < n; k++)
      sizes[k] = len / n;
  }
  int64_t total = 0;
  for (int k = 0; k < n; k++) {
    if (sizes[k] <= 0) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "empty or negative split");
      return FALSE;
    }
    total += sizes[k];
  }
  if (total != len || n < 1) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "split sizes do not add up to %d", (int) len);
    return FALSE;
  }
  vq_node s;
  vq_node_init (&s, VQ_OP_SPLIT, node->name);
  s.n_inputs = 1;
  s.inputs[0] = x->value;
  s.p.axis.axis = phys;
  s.n_outputs = (uint32_t) n;
  vq__tfjs_tensor outs[VQ_MAX_NODE_IO];
  for (int k = 0; k < n; k++) {
    outs[k] = derived (x, x->rank, x->dims);
    outs[k].dims[tf_axis] = (int32_t) sizes[k];
    char *name = vq__tfjs_tensor_key (node->name, k);
    s.outputs[k] = vq__tfjs_new_value (ctx, name, &outs[k]);
    g_free (name);
  }
  vq__tfjs_emit (ctx, &s);
  for (int k = 0; k < n; k++)
    vq__tfjs_set_output (ctx, node, k, &outs[k]);
  return TRUE;
}

static gboolean
op_resize (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
           GError **error)
{
  static const int nhwc[4] = { 0, 3, 1, 2 };
  if (!need_inputs (node, n_in, 2, error) || !need_act (node, in[0], error))
    return FALSE;
  const vq__tfjs_tensor *x = in[0];
  int64_t size[2];
  int n = 0;
  if (x->rank != 4 || !in[1]->is_const || !vq__tconst_ints (in[1]->c, size, 2, &n) || n != 2
      || size[0] < 1 || size[1] < 1 || size[0] > VQ__TFJS_MAX_DIM || size[1] > VQ__TFJS_MAX_DIM) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                   "needs a 4-D input and a constant positive size [2]");
    return FALSE;
  }
  vq_node r;
  vq_node_init (&r, VQ_OP_RESIZE, node->name);
  r.p.resize.mode = strcmp (node->op, "ResizeBilinear") == 0 ? VQ_RESIZE_BILINEAR : VQ_RESIZE_NEAREST;
  r.p.resize.align_corners = vq__tfjs_attr_bool (node, "align_corners", FALSE);
  r.p.resize.half_pixel_centers = vq__tfjs_attr_bool (node, "half_pixel_centers", FALSE);
  r.n_inputs = 1;
  if (!vq__tfjs_materialize (ctx, node, x, nhwc, &r.inputs[0], error))
    return FALSE;
  int32_t dims[4] = { x->dims[0], (int32_t) size[0], (int32_t) size[1], x->dims[3] };
  vq__tfjs_tensor t = derived (x, 4, dims);
  memcpy (t.perm, nhwc, sizeof nhwc);
  r.n_outputs = 1;
  r.outputs[0] = vq__tfjs_new_value (ctx, node->name, &t);
  vq__tfjs_emit (ctx, &r);
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

/* Reshape, Squeeze and ExpandDims of an activation: computed on the shape
 * with the constant folder, then an IR reshape of the value in TF layout. */
static gboolean
op_reshape (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in,
            GError **error)
{
  if (!need_inputs (node, n_in, 1, error) || !need_act (node, in[0], error))
    return FALSE;
  const vq__tfjs_tensor *x = in[0];
  int64_t dims[VQ__TCONST_MAX_RANK], target[VQ__TCONST_MAX_RANK];
  int rank = 0;
  for (int d = 0; d < x->rank; d++)
    dims[d] = x->dims[d];
  const vq__tconst *arg = n_in >= 2 && in[1]->is_const ? in[1]->c : NULL;
  if (strcmp (node->op, "Squeeze") != 0 && arg == NULL) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "the shape is not a constant");
    return FALSE;
  }
  if (!vq__tfjs_reshape_dims (node, x->rank, dims, arg, target, &rank, error))
    return FALSE;
  if (rank > VQ_MAX_RANK) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "result of rank %d (at most %d)", rank,
                   VQ_MAX_RANK);
    return FALSE;
  }
  int32_t tdims[VQ_MAX_RANK];
  for (int d = 0; d < rank; d++) {
    if (target[d] < 1 || target[d] > VQ__TFJS_MAX_DIM) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "result dimension %d is empty or too large",
                     d);
      return FALSE;
    }
    tdims[d] = (int32_t) target[d];
  }
  if (rank == x->rank && memcmp (tdims, x->dims, sizeof (int32_t) * (size_t) rank) == 0) {
    vq__tfjs_tensor t = *x;
    vq__tfjs_set_output (ctx, node, 0, &t);
    return TRUE;
  }
  int identity[VQ_MAX_RANK];
  vq__tfjs_perm_identity (identity, x->rank);
  vq_node r;
  vq_node_init (&r, VQ_OP_RESHAPE, node->name);
  r.n_inputs = 1;
  if (!vq__tfjs_materialize (ctx, node, x, identity, &r.inputs[0], error))
    return FALSE;
  vq__tfjs_tensor t = { 0 };
  t.rank = rank;
  memcpy (t.dims, tdims, sizeof (int32_t) * (size_t) rank);
  vq__tfjs_perm_identity (t.perm, rank);
  r.n_outputs = 1;
  r.outputs[0] = vq__tfjs_new_value (ctx, node->name, &t);
  vq__tfjs_emit (ctx, &r);
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

static const vq__tfjs_op_entry op_table[] = {
  { "Identity", op_identity, TRUE },
  { "StopGradient", op_identity, TRUE },
  { "Snapshot", op_identity, TRUE },
  { "Transpose", op_transpose, TRUE },
  { "Pad", op_pad, TRUE },
  { "PadV2", op_pad, TRUE },
  { "Add", op_binary, FALSE },
  { "AddV2", op_binary, FALSE },
  { "BiasAdd", op_binary, FALSE },
  { "Sub", op_binary, FALSE },
  { "Mul", op_binary, FALSE },
  { "Relu", op_activation, FALSE },
  { "Relu6", op_activation, FALSE },
  { "LeakyRelu", op_activation, FALSE },
  { "Sigmoid", op_activation, FALSE },
  { "ConcatV2", op_concat, FALSE },
  { "Concat", op_concat, FALSE },
  { "Split", op_split, FALSE },
  { "SplitV", op_split, FALSE },
  { "ResizeBilinear", op_resize, FALSE },
  { "ResizeNearestNeighbor", op_resize, FALSE },
  { "Reshape", op_reshape, FALSE },
  { "Squeeze", op_reshape, FALSE },
  { "ExpandDims", op_reshape, FALSE },
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
