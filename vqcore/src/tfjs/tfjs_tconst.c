/* Constant tensors of the TF graph (weights and folded shape arithmetic). */
#include "tfjs_private.h"

#include <string.h>

vq__tconst *
vq__tconst_new (gboolean is_float, int rank, const int64_t *dims, GError **error)
{
  if (rank < 0 || rank > VQ__TCONST_MAX_RANK) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "constant of rank %d (at most %d supported)", rank, VQ__TCONST_MAX_RANK);
    return NULL;
  }
  int64_t numel = 1;
  for (int d = 0; d < rank; d++) {
    if (dims[d] < 0 || (dims[d] > 0 && numel > VQ__TCONST_MAX_ELEMENTS / dims[d])) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "constant with an invalid or too large shape (dimension %d is %" G_GINT64_FORMAT ")",
                   d, dims[d]);
      return NULL;
    }
    numel *= dims[d];
  }
  vq__tconst *c = g_new0 (vq__tconst, 1);
  c->is_float = is_float;
  c->rank = rank;
  memcpy (c->dims, dims, sizeof (int64_t) * (size_t) rank);
  c->numel = numel;
  /* Zero-size constants are legal (e.g. the empty index lists of
   * SparseToDense); keep a non-NULL pointer anyway. */
  if (is_float)
    c->f = g_new0 (float, numel ? numel : 1);
  else
    c->i = g_new0 (int64_t, numel ? numel : 1);
  return c;
}

vq__tconst *
vq__tconst_copy (const vq__tconst *c)
{
  vq__tconst *copy = g_new0 (vq__tconst, 1);
  *copy = *c;
  size_t n = (size_t) (c->numel ? c->numel : 1);
  copy->f = c->f ? g_memdup2 (c->f, n * sizeof (float)) : NULL;
  copy->i = c->i ? g_memdup2 (c->i, n * sizeof (int64_t)) : NULL;
  return copy;
}

void
vq__tconst_free (vq__tconst *c)
{
  if (c == NULL)
    return;
  g_free (c->f);
  g_free (c->i);
  g_free (c);
}

double
vq__tconst_get (const vq__tconst *c, int64_t index)
{
  return c->is_float ? (double) c->f[index] : (double) c->i[index];
}

gboolean
vq__tconst_ints (const vq__tconst *c, int64_t *out, int max, int *n)
{
  *n = 0;
  if (c->is_float || c->rank > 1 || c->numel > max)
    return FALSE;
  for (int64_t i = 0; i < c->numel; i++)
    out[i] = c->i[i];
  *n = (int) c->numel;
  return TRUE;
}
