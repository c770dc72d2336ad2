/* Ops whose output has a new shape: Reshape, Squeeze and ExpandDims;
 * ConcatV2 and Concat; Split and SplitV; ResizeBilinear and
 * ResizeNearestNeighbor. Each becomes one IR node. */
#include "tfjs_private.h"

#include <string.h>

/* Reshape, Squeeze and ExpandDims of an activation: computed on the shape
 * with the constant folder, then an IR reshape of the value in TF layout. */
gboolean
vq__tfjs_op_reshape (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                     guint n_in, GError **error)
{
  if (!vq__tfjs_need_activation_input (node, in, n_in, 1, error))
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
    vq__tfjs_alias_output (ctx, node, x);
    return TRUE;
  }
  int in_layout[VQ_MAX_RANK], out_layout[VQ_MAX_RANK];
  vq__tfjs_perm_identity (in_layout, x->rank);
  vq__tfjs_perm_identity (out_layout, rank);
  vq_node r;
  vq_node_init (&r, VQ_OP_RESHAPE, node->name);
  r.n_inputs = 1;
  if (!vq__tfjs_materialize (ctx, node, x, in_layout, &r.inputs[0], error))
    return FALSE;
  vq__tfjs_tensor t = vq__tfjs_tensor_of_shape (rank, tdims, out_layout);
  vq__tfjs_emit_output (ctx, node, &r, &t);
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

/* The physical dimension of x holding TF axis `axis`, or -1 with an error. */
static int
physical_axis (const vq__tfjs_node *node, const vq__tfjs_tensor *x, int64_t axis, GError **error)
{
  int phys = vq__tfjs_physical_axis (x, axis);
  if (phys < 0)
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "axis %" G_GINT64_FORMAT " out of range", axis);
  return phys;
}

gboolean
vq__tfjs_op_concat (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                    guint n_in, GError **error)
{
  if (!vq__tfjs_need_inputs (node, n_in, 2, error))
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
    if (!vq__tfjs_need_activation (node, parts[k], error))
      return FALSE;
  const vq__tfjs_tensor *first = parts[0];
  int tf_axis = (int) (axis < 0 ? axis + first->rank : axis);
  int phys = physical_axis (node, first, axis, error);
  if (phys < 0)
    return FALSE;
  vq_node c;
  vq_node_init (&c, VQ_OP_CONCAT, node->name);
  vq__tfjs_tensor t = vq__tfjs_tensor_like (first);
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
  vq__tfjs_emit_output (ctx, node, &c, &t);
  return TRUE;
}

/* The sizes SplitV's size_splits (one may be -1, the rest) or Split's
 * num_split (equal parts) cut `len` into; *n of them, each positive. */
static gboolean
split_sizes (const vq__tfjs_node *node, vq__tfjs_tensor **in, gboolean v, int64_t len,
             int64_t *sizes, int *n, GError **error)
{
  int64_t known = 0;
  if (v) {
    int infer = -1;
    if (!in[1]->is_const || !vq__tconst_ints (in[1]->c, sizes, VQ_MAX_NODE_IO, n)) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                     "size_splits is not a constant list of at most %d", VQ_MAX_NODE_IO);
      return FALSE;
    }
    for (int k = 0; k < *n; k++)
      if (sizes[k] == -1 && infer < 0)
        infer = k;
      else
        known += sizes[k];
    if (infer >= 0)
      sizes[infer] = len - known;
  } else {
    *n = (int) vq__tfjs_attr_int (node, "num_split", 0);
    if (*n < 1 || *n > VQ_MAX_NODE_IO || len % *n != 0) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "num_split %d does not divide %d", *n,
                     (int) len);
      return FALSE;
    }
    for (int k = 0; k < *n; k++)
      sizes[k] = len / *n;
  }
  int64_t total = 0;
  for (int k = 0; k < *n; k++) {
    if (sizes[k] <= 0) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "empty or negative split");
      return FALSE;
    }
    total += sizes[k];
  }
  if (total != len || *n < 1) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "split sizes do not add up to %d", (int) len);
    return FALSE;
  }
  return TRUE;
}

gboolean
vq__tfjs_op_split (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                   guint n_in, GError **error)
{
  if (!vq__tfjs_need_inputs (node, n_in, 2, error))
    return FALSE;
  gboolean v = strcmp (node->op, "SplitV") == 0;
  if (v && !vq__tfjs_need_inputs (node, n_in, 3, error))
    return FALSE;
  vq__tfjs_tensor *x = v ? in[0] : in[1];
  int64_t axis, sizes[VQ_MAX_NODE_IO];
  int n = 0;
  if (!vq__tfjs_need_activation (node, x, error)
      || !const_axis (node, v ? in[2] : in[0], &axis, error))
    return FALSE;
  int phys = physical_axis (node, x, axis, error);
  if (phys < 0)
    return FALSE;
  int tf_axis = x->perm[phys];
  if (!split_sizes (node, in, v, x->dims[tf_axis], sizes, &n, error))
    return FALSE;
  vq_node s;
  vq_node_init (&s, VQ_OP_SPLIT, node->name);
  s.n_inputs = 1;
  s.inputs[0] = x->value;
  s.p.axis.axis = phys;
  s.n_outputs = (uint32_t) n;
  vq__tfjs_tensor outs[VQ_MAX_NODE_IO];
  for (int k = 0; k < n; k++) {
    outs[k] = vq__tfjs_tensor_like (x);
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

gboolean
vq__tfjs_op_resize (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                    guint n_in, GError **error)
{
  static const int nhwc[4] = { 0, 3, 1, 2 };
  if (!vq__tfjs_need_activation_input (node, in, n_in, 2, error))
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
  vq__tfjs_tensor t = vq__tfjs_tensor_of_shape (4, dims, nhwc);
  vq__tfjs_emit_output (ctx, node, &r, &t);
  return TRUE;
}
