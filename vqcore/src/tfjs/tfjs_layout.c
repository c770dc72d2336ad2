/* Layout tracking: how a TF tensor's shape maps onto its IR value.
 *
 * Models converted from PyTorch through ONNX wrap every NHWC Conv2D in a
 * pair of Transposes. Rather than executing them, the importer records for
 * each activation a permutation `perm`: physical dimension i of the IR value
 * holds TF dimension perm[i]. A TF Transpose then only changes the
 * permutation, and a real VQ_OP_TRANSPOSE appears only where a consumer
 * needs a particular layout that the value does not have (a Reshape, a graph
 * output, a conv in the other data format).
 *
 * IR transposes follow NumPy: output dimension i is input dimension
 * p.transpose.perm[i]. */
#include "tfjs_private.h"

#include <string.h>

void
vq__tfjs_perm_identity (int *perm, int rank)
{
  for (int i = 0; i < VQ_MAX_RANK; i++)
    perm[i] = i < rank ? i : 0;
}

gboolean
vq__tfjs_perm_is (const int *perm, int rank, const int *wanted)
{
  for (int i = 0; i < rank; i++)
    if (perm[i] != wanted[i])
      return FALSE;
  return TRUE;
}

vq_shape
vq__tfjs_physical_shape (const vq__tfjs_tensor *t, const int *perm)
{
  int32_t dims[VQ_MAX_RANK];
  for (int i = 0; i < t->rank; i++)
    dims[i] = t->dims[perm[i]];
  return vq_shape_make ((uint32_t) t->rank, dims);
}

int
vq__tfjs_physical_axis (const vq__tfjs_tensor *t, int64_t axis)
{
  if (axis < 0)
    axis += t->rank;
  if (axis < 0 || axis >= t->rank)
    return -1;
  for (int i = 0; i < t->rank; i++)
    if (t->perm[i] == axis)
      return i;
  return -1;
}

gboolean
vq__tfjs_materialize (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, const vq__tfjs_tensor *t,
                      const int *wanted, uint32_t *value, GError **error)
{
  if (vq__tfjs_perm_is (t->perm, t->rank, wanted)) {
    *value = t->value;
    return TRUE;
  }
  if (t->padded) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                   "reads a padded tensor in another layout; the Pad cannot be folded");
    return FALSE;
  }
  GString *key = g_string_new (NULL);
  g_string_printf (key, "%u/", t->value);
  for (int i = 0; i < t->rank; i++)
    g_string_append_printf (key, "%d", wanted[i]);
  gpointer cached;
  if (g_hash_table_lookup_extended (ctx->transposed, key->str, NULL, &cached)) {
    *value = GPOINTER_TO_UINT (cached);
    g_string_free (key, TRUE);
    return TRUE;
  }

  /* New physical dim i holds TF dim wanted[i], which the old layout keeps
   * in physical dim inverse[wanted[i]]. */
  int inverse[VQ_MAX_RANK] = { 0 };
  for (int i = 0; i < t->rank; i++)
    inverse[t->perm[i]] = i;
  vq_node tr;
  char *name = g_strdup_printf ("%s/layout_%s", node->name, ctx->graph->values[t->value].name);
  vq_node_init (&tr, VQ_OP_TRANSPOSE, name);
  for (int i = 0; i < t->rank; i++)
    tr.p.transpose.perm[i] = inverse[wanted[i]];
  vq_shape shape = vq__tfjs_physical_shape (t, wanted);
  tr.n_inputs = 1;
  tr.inputs[0] = t->value;
  tr.n_outputs = 1;
  tr.outputs[0] = vq_graph_add_value (ctx->graph, name, &shape);
  vq__tfjs_value_info fresh = { 0, 0, -1 };
  g_array_append_val (ctx->values, fresh);
  vq__tfjs_emit (ctx, &tr);
  g_free (name);
  *value = tr.outputs[0];
  g_hash_table_insert (ctx->transposed, g_string_free (key, FALSE), GUINT_TO_POINTER (*value));
  return TRUE;
}
