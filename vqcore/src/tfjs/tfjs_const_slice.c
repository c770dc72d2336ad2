/* Constant folding of StridedSlice and Transpose: the two folds that
 * rearrange elements rather than compute them. */
#include "tfjs_private.h"

#include <string.h>

/* StridedSlice with begin/end/shrink-axis masks (the form shape arithmetic
 * uses, e.g. "take dims 1..2 of Shape(x)"); ellipsis and new-axis masks
 * are refused. */
int
vq__tfjs_fold_strided_slice (const vq__tfjs_node *node, vq__tconst **in, guint n,
                             vq__tconst **out, GError **error)
{
  if (n < 4) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "expected 4 inputs, got %u", n);
    return -1;
  }
  const vq__tconst *x = in[0];
  int64_t begin[VQ__TCONST_MAX_RANK], end[VQ__TCONST_MAX_RANK], step[VQ__TCONST_MAX_RANK];
  int nb, ne, ns;
  if (!vq__tconst_ints (in[1], begin, VQ__TCONST_MAX_RANK, &nb)
      || !vq__tconst_ints (in[2], end, VQ__TCONST_MAX_RANK, &ne)
      || !vq__tconst_ints (in[3], step, VQ__TCONST_MAX_RANK, &ns)
      || nb != ne || nb != ns || nb > x->rank) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "malformed begin/end/strides");
    return -1;
  }
  if (vq__tfjs_attr_int (node, "ellipsis_mask", 0) != 0
      || vq__tfjs_attr_int (node, "new_axis_mask", 0) != 0) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "ellipsis and new-axis masks are not supported");
    return -1;
  }
  int64_t begin_mask = vq__tfjs_attr_int (node, "begin_mask", 0);
  int64_t end_mask = vq__tfjs_attr_int (node, "end_mask", 0);
  int64_t shrink_mask = vq__tfjs_attr_int (node, "shrink_axis_mask", 0);

  int64_t start[VQ__TCONST_MAX_RANK], stride[VQ__TCONST_MAX_RANK], len[VQ__TCONST_MAX_RANK];
  int64_t out_dims[VQ__TCONST_MAX_RANK];
  int out_rank = 0;
  for (int d = 0; d < x->rank; d++) {
    int64_t size = x->dims[d];
    if (d >= nb) {
      start[d] = 0;
      stride[d] = 1;
      len[d] = size;
      out_dims[out_rank++] = size;
      continue;
    }
    int64_t s = step[d], b = begin[d], e = end[d];
    if (s == 0) {
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "stride 0");
      return -1;
    }
    if (shrink_mask & (INT64_C (1) << d)) {
      b = b < 0 ? b + size : b;
      if (b < 0 || b >= size) {
        vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "index out of range");
        return -1;
      }
      start[d] = b;
      stride[d] = 1;
      len[d] = 1;
      continue;
    }
    /* Python slice semantics, clamped to the dimension. */
    int64_t lo = s > 0 ? 0 : -1, hi = s > 0 ? size : size - 1;
    if (begin_mask & (INT64_C (1) << d))
      b = s > 0 ? 0 : size - 1;
    else
      b = CLAMP (b < 0 ? b + size : b, lo, hi);
    if (end_mask & (INT64_C (1) << d))
      e = s > 0 ? size : -1;
    else
      e = CLAMP (e < 0 ? e + size : e, lo, hi);
    int64_t count = s > 0 ? (e - b + s - 1) / s : (b - e + (-s) - 1) / (-s);
    start[d] = b;
    stride[d] = s;
    len[d] = count > 0 ? count : 0;
    out_dims[out_rank++] = len[d];
  }
  out[0] = vq__tconst_new (x->is_float, out_rank, out_dims, error);
  if (out[0] == NULL)
    return -1;
  int64_t strides[VQ__TCONST_MAX_RANK], acc = 1;
  for (int d = x->rank - 1; d >= 0; d--) {
    strides[d] = acc;
    acc *= x->dims[d];
  }
  for (int64_t i = 0; i < out[0]->numel; i++) {
    int64_t rem = i, src = 0;
    for (int d = x->rank - 1; d >= 0; d--) {
      int64_t coord = rem % len[d];
      rem /= len[d];
      src += (start[d] + coord * stride[d]) * strides[d];
    }
    if (x->is_float)
      out[0]->f[i] = x->f[src];
    else
      out[0]->i[i] = x->i[src];
  }
  return 1;
}

int
vq__tfjs_fold_transpose (const vq__tfjs_node *node, vq__tconst **in, guint n,
                         vq__tconst **out, GError **error)
{
  if (n < 2) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "expected 2 inputs, got %u", n);
    return -1;
  }
  const vq__tconst *x = in[0];
  int64_t perm[VQ__TCONST_MAX_RANK];
  int np;
  gboolean seen[VQ__TCONST_MAX_RANK] = { FALSE };
  gboolean ok = vq__tconst_ints (in[1], perm, VQ__TCONST_MAX_RANK, &np) && np == x->rank;
  for (int d = 0; ok && d < np; d++) {
    ok = perm[d] >= 0 && perm[d] < np && !seen[perm[d]];
    if (ok)
      seen[perm[d]] = TRUE;
  }
  if (!ok) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "invalid permutation");
    return -1;
  }
  int64_t dims[VQ__TCONST_MAX_RANK], src_strides[VQ__TCONST_MAX_RANK], acc = 1;
  for (int d = x->rank - 1; d >= 0; d--) {
    src_strides[d] = acc;
    acc *= x->dims[d];
  }
  for (int d = 0; d < np; d++)
    dims[d] = x->dims[perm[d]];
  out[0] = vq__tconst_new (x->is_float, np, dims, error);
  if (out[0] == NULL)
    return -1;
  for (int64_t i = 0; i < out[0]->numel; i++) {
    int64_t rem = i, src = 0;
    for (int d = np - 1; d >= 0; d--) {
      int64_t coord = rem % dims[d];
      rem /= dims[d];
      src += coord * src_strides[perm[d]];
    }
    if (x->is_float)
      out[0]->f[i] = x->f[src];
    else
      out[0]->i[i] = x->i[src];
  }
  return 1;
}
