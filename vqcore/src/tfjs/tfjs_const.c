/* Constant folding: the TF ops that may appear in subgraphs computing from
 * constants only (shape arithmetic, weight preprocessing). Each is
 * implemented generically, for any rank up to VQ__TCONST_MAX_RANK, with
 * every index checked. */
#include "tfjs_private.h"

#include <math.h>
#include <string.h>

typedef int (*fold_fn) (const vq__tfjs_node *node, vq__tconst **in, guint n,
                        vq__tconst **out, GError **error);

#define CHECK_INPUTS(count)                                                   \
  do {                                                                        \
    if (n < (count)) {                                                        \
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "expected %d inputs, got %u", \
                     (int) (count), n);                                       \
      return -1;                                                              \
    }                                                                         \
  } while (0)

static void
strides_of (const vq__tconst *c, int64_t *strides)
{
  int64_t s = 1;
  for (int d = c->rank - 1; d >= 0; d--) {
    strides[d] = s;
    s *= c->dims[d];
  }
}

static void
set_value (vq__tconst *c, int64_t i, double v)
{
  if (c->is_float)
    c->f[i] = (float) v;
  else
    c->i[i] = (int64_t) v;
}

/* Copies element `from` of `src` to element `to` of `dst` (same dtype). */
static void
copy_element (vq__tconst *dst, int64_t to, const vq__tconst *src, int64_t from)
{
  if (dst->is_float)
    dst->f[to] = src->f[from];
  else
    dst->i[to] = src->i[from];
}

/* Normalises a possibly negative axis against `rank`; -1 when invalid. */
static int
norm_axis (int64_t axis, int rank)
{
  if (axis < 0)
    axis += rank;
  return axis >= 0 && axis < rank ? (int) axis : -1;
}

static gboolean
scalar_int (const vq__tconst *c, int64_t *v)
{
  if (c->numel != 1)
    return FALSE;
  *v = (int64_t) vq__tconst_get (c, 0);
  return TRUE;
}

static int
fold_identity (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  CHECK_INPUTS (1);
  out[0] = vq__tconst_copy (in[0]);
  return 1;
}

static int
fold_cast (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  CHECK_INPUTS (1);
  const char *dst = vq__tfjs_attr_type (node, "DstT");
  gboolean to_float = dst && (strcmp (dst, "DT_FLOAT") == 0 || strcmp (dst, "DT_HALF") == 0
                              || strcmp (dst, "DT_DOUBLE") == 0);
  gboolean to_bool = dst && strcmp (dst, "DT_BOOL") == 0;
  out[0] = vq__tconst_new (to_float, in[0]->rank, in[0]->dims, error);
  if (out[0] == NULL)
    return -1;
  for (int64_t i = 0; i < in[0]->numel; i++) {
    double v = vq__tconst_get (in[0], i);
    set_value (out[0], i, to_bool ? (v != 0.0) : (to_float ? v : trunc (v)));
  }
  return 1;
}

static int
fold_shape (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  CHECK_INPUTS (1);
  int64_t rank = in[0]->rank;
  out[0] = vq__tconst_new (FALSE, 1, &rank, error);
  if (out[0] == NULL)
    return -1;
  for (int d = 0; d < in[0]->rank; d++)
    out[0]->i[d] = in[0]->dims[d];
  return 1;
}

/* Where with one input: the coordinates of the non-zero elements. */
static int
fold_where (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  if (n != 1) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "only the one-input form is supported");
    return -1;
  }
  const vq__tconst *c = in[0];
  int64_t count = 0;
  for (int64_t i = 0; i < c->numel; i++)
    count += vq__tconst_get (c, i) != 0.0;
  int64_t dims[2] = { count, c->rank };
  out[0] = vq__tconst_new (FALSE, 2, dims, error);
  if (out[0] == NULL)
    return -1;
  int64_t strides[VQ__TCONST_MAX_RANK];
  strides_of (c, strides);
  int64_t row = 0;
  for (int64_t i = 0; i < c->numel; i++) {
    if (vq__tconst_get (c, i) == 0.0)
      continue;
    for (int d = 0; d < c->rank; d++)
      out[0]->i[row * c->rank + d] = (i / strides[d]) % c->dims[d];
    row++;
  }
  return 1;
}

static int
fold_gather (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  CHECK_INPUTS (2);
  const vq__tconst *params = in[0], *indices = in[1];
  int64_t axis64 = 0;
  if (n >= 3 && !scalar_int (in[2], &axis64)) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "axis is not a scalar");
    return -1;
  }
  int axis = norm_axis (axis64, params->rank);
  if (axis < 0 || indices->is_float || vq__tfjs_attr_int (node, "batch_dims", 0) != 0
      || params->rank - 1 + indices->rank > VQ__TCONST_MAX_RANK) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "unsupported axis, indices or batch_dims");
    return -1;
  }
  int64_t dims[VQ__TCONST_MAX_RANK];
  int rank = 0;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++)
    outer *= (dims[rank++] = params->dims[d]);
  for (int d = 0; d < indices->rank; d++)
    dims[rank++] = indices->dims[d];
  for (int d = axis + 1; d < params->rank; d++)
    inner *= (dims[rank++] = params->dims[d]);
  out[0] = vq__tconst_new (params->is_float, rank, dims, error);
  if (out[0] == NULL)
    return -1;
  int64_t axis_len = params->dims[axis];
  for (int64_t o = 0; o < outer; o++)
    for (int64_t k = 0; k < indices->numel; k++) {
      int64_t idx = indices->i[k];
      if (idx < 0 || idx >= axis_len) {
        vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "index %" G_GINT64_FORMAT " out of range",
                       idx);
        vq__tconst_free (out[0]);
        return -1;
      }
      for (int64_t j = 0; j < inner; j++)
        copy_element (out[0], (o * indices->numel + k) * inner + j, params,
                      (o * axis_len + idx) * inner + j);
    }
  return 1;
}

static int
fold_sparse_to_dense (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out,
                      GError **error)
{
  CHECK_INPUTS (4);
  const vq__tconst *indices = in[0], *shape = in[1], *values = in[2], *dflt = in[3];
  int64_t dims[VQ__TCONST_MAX_RANK];
  int rank;
  if (!vq__tconst_ints (shape, dims, VQ__TCONST_MAX_RANK, &rank) || indices->is_float
      || indices->rank > 2 || dflt->numel != 1) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "malformed inputs");
    return -1;
  }
  /* Indices are a scalar, a vector (rank-1 output) or [N, rank]. */
  int64_t count = indices->rank == 0 ? 1 : indices->dims[0];
  int64_t width = indices->rank == 2 ? indices->dims[1] : 1;
  if (width != (rank ? rank : 1) || (values->numel != 1 && values->numel != count)) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "indices and values disagree with the shape");
    return -1;
  }
  out[0] = vq__tconst_new (values->is_float, rank, dims, error);
  if (out[0] == NULL)
    return -1;
  for (int64_t i = 0; i < out[0]->numel; i++)
    set_value (out[0], i, vq__tconst_get (dflt, 0));
  for (int64_t k = 0; k < count; k++) {
    int64_t flat = 0;
    for (int d = 0; d < rank; d++) {
      int64_t idx = indices->i[k * width + d];
      if (idx < 0 || idx >= dims[d]) {
        vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "index out of range");
        vq__tconst_free (out[0]);
        return -1;
      }
      flat = flat * dims[d] + idx;
    }
    set_value (out[0], flat, vq__tconst_get (values, values->numel == 1 ? 0 : k));
  }
  return 1;
}

static double
binary_apply (const char *op, double a, double b, gboolean is_float)
{
  if (strcmp (op, "Sub") == 0)
    return a - b;
  if (strcmp (op, "Mul") == 0)
    return a * b;
  if (strcmp (op, "Maximum") == 0)
    return a > b ? a : b;
  if (strcmp (op, "Minimum") == 0)
    return a < b ? a : b;
  if (strcmp (op, "RealDiv") == 0 || strcmp (op, "Div") == 0 || strcmp (op, "FloorDiv") == 0) {
    if (!is_float && b == 0.0)
      return 0.0; /* integer division by zero: defined as 0 rather than trap */
    double q = a / b;
    return (is_float && strcmp (op, "FloorDiv") != 0) ? q : floor (q);
  }
  return a + b; /* Add, AddV2, BiasAdd */
}

/* Elementwise binary ops with NumPy broadcasting. */
static int
fold_binary (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  CHECK_INPUTS (2);
  const vq__tconst *a = in[0], *b = in[1];
  int rank = MAX (a->rank, b->rank);
  int64_t dims[VQ__TCONST_MAX_RANK], sa[VQ__TCONST_MAX_RANK], sb[VQ__TCONST_MAX_RANK];
  int64_t stride_a = 1, stride_b = 1;
  for (int d = rank - 1; d >= 0; d--) {
    int da = d - (rank - a->rank), db = d - (rank - b->rank);
    int64_t la = da >= 0 ? a->dims[da] : 1, lb = db >= 0 ? b->dims[db] : 1;
    if (la != lb && la != 1 && lb != 1) {
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "shapes do not broadcast");
      return -1;
    }
    dims[d] = la == 1 ? lb : la;
    sa[d] = la == 1 ? 0 : stride_a;
    sb[d] = lb == 1 ? 0 : stride_b;
    stride_a *= la;
    stride_b *= lb;
  }
  gboolean is_float = a->is_float || b->is_float;
  out[0] = vq__tconst_new (is_float, rank, dims, error);
  if (out[0] == NULL)
    return -1;
  for (int64_t i = 0; i < out[0]->numel; i++) {
    int64_t rem = i, ia = 0, ib = 0;
    for (int d = rank - 1; d >= 0; d--) {
      int64_t coord = rem % dims[d];
      rem /= dims[d];
      ia += coord * sa[d];
      ib += coord * sb[d];
    }
    set_value (out[0], i, binary_apply (node->op, vq__tconst_get (a, ia),
                                        vq__tconst_get (b, ib), is_float));
  }
  return 1;
}

/* Concatenates `count` constants along `axis`; Pack is this on inputs that
 * each get a new axis of length 1. */
static vq__tconst *
concat (const vq__tfjs_node *node, vq__tconst **in, guint count, int64_t axis64,
        gboolean pack, GError **error)
{
  if (count == 0) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "nothing to concatenate");
    return NULL;
  }
  int rank = in[0]->rank + (pack ? 1 : 0);
  int axis = norm_axis (axis64, rank);
  if (axis < 0 || rank > VQ__TCONST_MAX_RANK) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "axis out of range");
    return NULL;
  }
  int64_t dims[VQ__TCONST_MAX_RANK];
  gboolean is_float = FALSE;
  for (guint k = 0; k < count; k++) {
    is_float = is_float || in[k]->is_float;
    if (in[k]->rank != in[0]->rank) {
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "inputs have different ranks");
      return NULL;
    }
  }
  for (int d = 0, s = 0; d < rank; d++)
    dims[d] = (pack && d == axis) ? 1 : in[0]->dims[s++];
  int64_t outer = 1, inner = 1, axis_total = 0;
  for (int d = 0; d < axis; d++)
    outer *= dims[d];
  for (int d = axis + 1; d < rank; d++)
    inner *= dims[d];
  for (guint k = 0; k < count; k++) {
    int64_t len = pack ? 1 : in[k]->dims[axis];
    if (in[k]->numel != outer * len * inner) {
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "input shapes disagree");
      return NULL;
    }
    axis_total += len;
  }
  dims[axis] = axis_total;
  vq__tconst *c = vq__tconst_new (is_float, rank, dims, error);
  if (c == NULL)
    return NULL;
  int64_t at = 0;
  for (int64_t o = 0; o < outer; o++)
    for (guint k = 0; k < count; k++) {
      int64_t chunk = in[k]->numel / outer;
      for (int64_t j = 0; j < chunk; j++)
        set_value (c, at++, vq__tconst_get (in[k], o * chunk + j));
    }
  return c;
}

static int
fold_concat (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  CHECK_INPUTS (2);
  gboolean v2 = strcmp (node->op, "ConcatV2") == 0;
  int64_t axis;
  if (!scalar_int (v2 ? in[n - 1] : in[0], &axis)) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "axis is not a scalar");
    return -1;
  }
  out[0] = concat (node, v2 ? in : in + 1, n - 1, axis, FALSE, error);
  return out[0] ? 1 : -1;
}

static int
fold_pack (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  CHECK_INPUTS (1);
  out[0] = concat (node, in, n, vq__tfjs_attr_int (node, "axis", 0), TRUE, error);
  return out[0] ? 1 : -1;
}

gboolean
vq__tfjs_reshape_dims (const vq__tfjs_node *node, int in_rank, const int64_t *in_dims,
                       const vq__tconst *arg, int64_t *dims, int *rank, GError **error)
{
  int64_t numel = 1;
  for (int d = 0; d < in_rank; d++)
    numel *= in_dims[d];
  *rank = 0;
  if (strcmp (node->op, "Reshape") == 0) {
    int64_t known = 1;
    int infer = -1;
    if (arg == NULL || !vq__tconst_ints (arg, dims, VQ__TCONST_MAX_RANK, rank))
      goto bad;
    for (int d = 0; d < *rank; d++) {
      if (dims[d] == -1 && infer < 0)
        infer = d;
      else if (dims[d] < 0)
        goto bad;
      else
        known *= dims[d];
    }
    if (infer >= 0)
      dims[infer] = known ? numel / known : 0;
  } else if (strcmp (node->op, "ExpandDims") == 0) {
    int64_t axis64 = 0;
    int axis = arg && scalar_int (arg, &axis64) ? norm_axis (axis64, in_rank + 1) : -1;
    if (axis < 0 || in_rank >= VQ__TCONST_MAX_RANK)
      goto bad;
    for (int d = 0, s = 0; d <= in_rank; d++)
      dims[(*rank)++] = d == axis ? 1 : in_dims[s++];
  } else { /* Squeeze: the listed axes of length 1, or all of them */
    int64_t axes[VQ__TCONST_MAX_RANK];
    int n_axes = 0;
    vq__tfjs_attr_ints (node, "squeeze_dims", axes, VQ__TCONST_MAX_RANK, &n_axes);
    for (int d = 0; d < in_rank; d++) {
      gboolean listed = n_axes == 0 && in_dims[d] == 1;
      for (int k = 0; k < n_axes; k++)
        listed = listed || norm_axis (axes[k], in_rank) == d;
      if (!listed)
        dims[(*rank)++] = in_dims[d];
    }
  }
  int64_t check = 1;
  for (int d = 0; d < *rank; d++) {
    if (dims[d] < 0 || (dims[d] > 0 && check > VQ__TCONST_MAX_ELEMENTS / dims[d]))
      goto bad;
    check *= dims[d];
  }
  if (check != numel)
    goto bad;
  return TRUE;
bad:
  vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "invalid target shape");
  return FALSE;
}

/* Reshape, ExpandDims and Squeeze only change the shape. */
static int
fold_reshape (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  CHECK_INPUTS (1);
  const vq__tconst *x = in[0];
  int64_t dims[VQ__TCONST_MAX_RANK];
  int rank = 0;
  if (!vq__tfjs_reshape_dims (node, x->rank, x->dims, n >= 2 ? in[1] : NULL, dims, &rank, error))
    return -1;
  out[0] = vq__tconst_new (x->is_float, rank, dims, error);
  if (out[0] == NULL)
    return -1;
  for (int64_t i = 0; i < x->numel; i++)
    copy_element (out[0], i, x, i);
  return 1;
}

static int
fold_fill (const vq__tfjs_node *node, vq__tconst **in, guint n, vq__tconst **out, GError **error)
{
  CHECK_INPUTS (2);
  int64_t dims[VQ__TCONST_MAX_RANK];
  int rank;
  if (!vq__tconst_ints (in[0], dims, VQ__TCONST_MAX_RANK, &rank) || in[1]->numel != 1) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "malformed inputs");
    return -1;
  }
  out[0] = vq__tconst_new (in[1]->is_float, rank, dims, error);
  if (out[0] == NULL)
    return -1;
  for (int64_t i = 0; i < out[0]->numel; i++)
    copy_element (out[0], i, in[1], 0);
  return 1;
}

static const struct {
  const char *op;
  fold_fn fn;
} fold_table[] = {
  { "Identity", fold_identity },
  { "StopGradient", fold_identity },
  { "Snapshot", fold_identity },
  { "Cast", fold_cast },
  { "Shape", fold_shape },
  { "Where", fold_where },
  { "GatherV2", fold_gather },
  { "Gather", fold_gather },
  { "SparseToDense", fold_sparse_to_dense },
  { "Add", fold_binary },
  { "AddV2", fold_binary },
  { "BiasAdd", fold_binary },
  { "Sub", fold_binary },
  { "Mul", fold_binary },
  { "RealDiv", fold_binary },
  { "Div", fold_binary },
  { "FloorDiv", fold_binary },
  { "Maximum", fold_binary },
  { "Minimum", fold_binary },
  { "Pack", fold_pack },
  { "ConcatV2", fold_concat },
  { "Concat", fold_concat },
  { "Reshape", fold_reshape },
  { "ExpandDims", fold_reshape },
  { "Squeeze", fold_reshape },
  { "Fill", fold_fill },
  { "StridedSlice", vq__tfjs_fold_strided_slice },
  { "Transpose", vq__tfjs_fold_transpose },
};

static fold_fn
lookup (const char *op)
{
  for (size_t i = 0; i < G_N_ELEMENTS (fold_table); i++)
    if (strcmp (fold_table[i].op, op) == 0)
      return fold_table[i].fn;
  return NULL;
}

gboolean
vq__tfjs_fold_supported (const char *op)
{
  return lookup (op) != NULL;
}

int
vq__tfjs_fold (const vq__tfjs_node *node, vq__tconst **inputs, guint n_inputs,
               vq__tconst **outputs, int max_out, GError **error)
{
  fold_fn fn = lookup (node->op);
  if (fn == NULL || max_out < 1) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "op cannot be folded");
    return -1;
  }
  return fn (node, inputs, n_inputs, outputs, error);
}
