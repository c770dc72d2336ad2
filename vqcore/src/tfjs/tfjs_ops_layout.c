/* Ops that emit no IR: Identity, Transpose and Pad only change how the TF
 * graph sees an existing IR value (its layout, or padding that a later
 * conv or pool absorbs; see tfjs_layout.c and tfjs_conv.c). */
#include "tfjs_private.h"

gboolean
vq__tfjs_op_identity (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                      guint n_in, GError **error)
{
  if (!vq__tfjs_need_inputs (node, n_in, 1, error))
    return FALSE;
  vq__tfjs_alias_output (ctx, node, in[0]);
  return TRUE;
}

/* A Transpose only changes which TF dimension each physical one holds. */
gboolean
vq__tfjs_op_transpose (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                       guint n_in, GError **error)
{
  if (!vq__tfjs_need_activation_input (node, in, n_in, 2, error))
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
  vq__tfjs_alias_output (ctx, node, &t);
  return TRUE;
}

/* The constant value of PadV2 (TF's Pad pads with zeros). */
static gboolean
pad_value (const vq__tfjs_node *node, vq__tfjs_tensor **in, guint n_in, float *value,
           GError **error)
{
  *value = 0.0f;
  if (n_in < 3)
    return TRUE;
  if (!in[2]->is_const || in[2]->c->numel != 1) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "the pad value is not a constant scalar");
    return FALSE;
  }
  *value = (float) vq__tconst_get (in[2]->c, 0);
  return TRUE;
}

/* Pad and PadV2 become pending padding that the consuming conv or pool
 * absorbs. */
gboolean
vq__tfjs_op_pad (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                 guint n_in, GError **error)
{
  if (!vq__tfjs_need_activation_input (node, in, n_in, 2, error))
    return FALSE;
  const vq__tfjs_tensor *x = in[0];
  const vq__tconst *pads = in[1]->is_const ? in[1]->c : NULL;
  float value;
  if (!pad_value (node, in, n_in, &value, error))
    return FALSE;
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
  vq__tfjs_alias_output (ctx, node, &t);
  return TRUE;
}
