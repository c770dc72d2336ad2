/* Codebooks shared by several convs (settings dDkK@G).
 *
 * A group's members have the same d and K; their rows are normalised by a
 * per-output-channel scale, so one codebook of unit-scale sub-vectors can
 * serve layers of very different magnitude. The codebook minimises the sum
 * over members of their weighted output errors
 *     sum_L lambda_L E_L,   lambda_L = gamma_L / sum_o w_o^T H_L w_o
 * (gamma_L the allocator's measured sensitivity, 1 without one): the
 * allocator's own distortion model, so a fragile layer pulls the codewords
 * toward its sub-vectors. With the codes fixed that is still one linear
 * least-squares problem in the K*d codewords: the members' normal equations
 * add up (vq__refit_codebook with layer weights).
 *
 * Why it is fitted up front, on the float network: the members sit at
 * different depths, and the layer-by-layer pass quantizes a layer only once
 * the layers before it are final (their activations feed its Hessian and
 * float target, their bias corrections are computed from them). Refitting a
 * shared codebook after a later member was quantized would change earlier
 * members' weights behind the later layers' backs. So the codebook is
 * fitted jointly from the float weights and float Hessians (seeding,
 * then rounds of per-member GPTVQ assignment and the joint closed-form
 * refit), rounded to F16 as it is stored, and then held fixed: each member,
 * in its turn in the layer-by-layer pass, gets its own Hessian-weighted
 * assignment, scales and bias correction against it. */
#include <math.h>
#include <string.h>

#include "common/half.h"
#include "vq_private.h"
#include "vqcore/error.h"

/* The codewords exactly as the F16 codebook blob will hold them, so that
 * assignments and scales are fitted to the stored values. */
static void
round_to_half (double *values, int64_t n)
{
  for (int64_t i = 0; i < n; i++)
    values[i] = vq__half_to_float (vq__float_to_half ((float) values[i]));
}

typedef struct {
  vq__vq_layer layer;
  double *w;      /* padded weights, rows x cols_p */
  double *hd, *u; /* padded damped H and its inverse factor (Hessian method) */
  double lambda;
} member_state;

static void
member_clear (member_state *m)
{
  vq__vq_layer_clear (&m->layer);
  g_free (m->w);
  g_free (m->hd);
  g_free (m->u);
}

/* Weighted k-means over the unit-scale sub-vectors of all members; each
 * dimension weighted by lambda s^2 H_jj (its share of the weighted output
 * error) when the members have Hessians. At most max_points sub-vectors,
 * taken evenly over the members' concatenation. */
static void
seed_pooled (member_state *members, uint32_t n, int32_t d, int32_t k,
             const vq__quantize_options *options, double *codebook)
{
  int64_t total = 0;
  for (uint32_t m = 0; m < n; m++)
    total += members[m].layer.rows * members[m].layer.n_sub;
  int64_t step = (total + options->kmeans_max_points - 1) / options->kmeans_max_points;
  int64_t n_points = (total + step - 1) / step;
  gboolean weighted = members[0].hd != NULL;
  double *points = g_new (double, (gsize) (n_points * d));
  double *weights = weighted ? g_new (double, (gsize) (n_points * d)) : NULL;
  uint32_t m = 0;
  int64_t first = 0; /* index of member m's first sub-vector */
  for (int64_t p = 0; p < n_points; p++) {
    int64_t index = p * step;
    while (index >= first + members[m].layer.rows * members[m].layer.n_sub) {
      first += members[m].layer.rows * members[m].layer.n_sub;
      m++;
    }
    const vq__vq_layer *layer = &members[m].layer;
    int64_t o = (index - first) / layer->n_sub, b = (index - first) % layer->n_sub;
    double s = layer->scales[o];
    for (int32_t i = 0; i < d; i++) {
      int64_t j = b * d + i;
      points[p * d + i] = members[m].w[o * layer->cols_p + j] / s;
      if (weights)
        weights[p * d + i] = members[m].lambda * s * s * members[m].hd[j * layer->cols_p + j];
    }
  }
  vq__kmeans_problem problem = { points, weights, n_points, d, k, options->kmeans_iterations,
                                 options->seed, options->n_threads };
  vq__kmeans (&problem, codebook, NULL);
  g_free (points);
  g_free (weights);
}

/* seed_only: the allocator's pooled codebooks need only the seeding
 * weights, so the Hessian is padded, not damped and factored, and lambda
 * uses its diagonal (sum_o sum_j w_oj^2 H_jj) for the energy. */
static gboolean
member_init (member_state *m, const vq__conv_entry *conv, int32_t d, int32_t k,
             gboolean hessian, gboolean seed_only, double damp, int n_threads, GError **error)
{
  memset (m, 0, sizeof *m);
  vq__vq_layer_init (&m->layer, conv->rows, conv->cols, d, k);
  int64_t n = m->layer.cols_p;
  m->w = vq__pad_rows (conv->weights, conv->rows, conv->cols, n);
  vq__init_scales (&m->layer, m->w);
  m->lambda = 1.0;
  if (!hessian)
    return TRUE;
  double gamma = conv->sensitivity > 0.0 ? conv->sensitivity : 1.0;
  double reference = 0.0;
  if (seed_only && conv->reference.h) {
    m->hd = vq__hessian_pad (conv->reference.h, conv->cols, n);
    for (int64_t o = 0; o < m->layer.rows; o++)
      for (int64_t j = 0; j < n; j++)
        reference += m->w[o * n + j] * m->w[o * n + j] * m->hd[j * n + j];
    m->lambda = reference > 0.0 ? gamma / reference : gamma;
    return TRUE;
  }
  vq__prepared_hessian prepared;
  if (conv->reference.h == NULL
      || !vq__prepared_hessian_init (&prepared, conv->reference.h, conv->cols, damp, n_threads)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "the calibration Hessian is not positive definite even after damping");
    return FALSE;
  }
  vq__prepared_hessian_pad (&prepared, n, &m->hd, &m->u);
  vq__prepared_hessian_clear (&prepared);
  vq__output_error (&m->layer, m->w, m->hd, &reference, n_threads);
  m->lambda = reference > 0.0 ? gamma / reference : gamma;
  return TRUE;
}

gboolean
vq__shared_codebook_fit (vq__shared_codebook *shared, const vq__conv_entry *convs,
                         const vq__quantize_options *options, GError **error)
{
  int32_t d = shared->setting.d, k = shared->setting.k;
  int64_t kd = (int64_t) k * d;
  uint32_t n = shared->n_members;
  gboolean hessian = options->method == VQ__METHOD_HESSIAN;
  gboolean seed_only = options->rounds <= 0;
  member_state *members = g_new0 (member_state, n);
  gboolean ok = TRUE;
  for (uint32_t i = 0; i < n && ok; i++) {
    ok = member_init (&members[i], &convs[shared->members[i]], d, k, hessian, seed_only,
                      options->damp, options->n_threads, error);
    if (!ok)
      g_prefix_error (error, "shared codebook @%d, member %u: ", shared->group, i);
  }
  if (ok) {
    shared->codebook = g_new (double, (gsize) kd);
    seed_pooled (members, n, d, k, options, shared->codebook);
    round_to_half (shared->codebook, kd);
  }

  vq__vq_layer **layers = g_new (vq__vq_layer *, n);
  const double **ws = g_new (const double *, n), **hs = g_new (const double *, n);
  double *lambda = g_new (double, n);
  for (uint32_t i = 0; i < n; i++) {
    layers[i] = &members[i].layer;
    ws[i] = members[i].w;
    hs[i] = members[i].hd;
    lambda[i] = members[i].lambda;
  }
  double *candidate = g_new (double, (gsize) kd);
  double best = INFINITY;
  if (ok)
    memcpy (candidate, shared->codebook, (size_t) kd * sizeof (double));
  /* Each candidate codebook (the seed, then each joint refit) is judged
   * by the weighted error after the members are assigned against it, as
   * they will be; the codes' refit need not beat the seed (GPTVQ's
   * assignment is greedy), so the seed stays in the running. */
  for (int32_t round = 0; ok && hessian && !seed_only && round <= options->rounds; round++) {
    double total = 0.0;
    for (uint32_t i = 0; i < n; i++) {
      /* As the layer pass will: from RMS scales, alternate assignment and
       * scale refit, keep the best. */
      memcpy (layers[i]->codebook, candidate, (size_t) kd * sizeof (double));
      vq__init_scales (layers[i], ws[i]);
      double member_best = INFINITY;
      uint8_t *codes = g_new (uint8_t, (gsize) (layers[i]->rows * layers[i]->n_sub));
      double *scales = g_new (double, (gsize) layers[i]->rows);
      for (int32_t pass = 0; pass < MAX (1, options->rounds); pass++) {
        vq__assign_gptvq (layers[i], ws[i], members[i].u, options->n_threads);
        vq__refit_scales (layers[i], ws[i], hs[i], options->n_threads);
        double e = vq__output_error (layers[i], ws[i], hs[i], NULL, options->n_threads);
        if (e < member_best) {
          member_best = e;
          memcpy (codes, layers[i]->codes, (size_t) (layers[i]->rows * layers[i]->n_sub));
          memcpy (scales, layers[i]->scales, (size_t) layers[i]->rows * sizeof (double));
        }
      }
      memcpy (layers[i]->codes, codes, (size_t) (layers[i]->rows * layers[i]->n_sub));
      memcpy (layers[i]->scales, scales, (size_t) layers[i]->rows * sizeof (double));
      g_free (codes);
      g_free (scales);
      total += lambda[i] * member_best;
    }
    if (total < best) {
      best = total;
      memcpy (shared->codebook, candidate, (size_t) kd * sizeof (double));
    }
    if (round == options->rounds
        || !vq__refit_codebook (layers, ws, hs, lambda, (int) n, options->n_threads))
      break;
    memcpy (candidate, layers[0]->codebook, (size_t) kd * sizeof (double));
    round_to_half (candidate, kd);
  }
  g_free (candidate);
  g_free (lambda);
  g_free (hs);
  g_free (ws);
  g_free (layers);
  for (uint32_t i = 0; i < n; i++)
    member_clear (&members[i]);
  g_free (members);
  return ok;
}

gboolean
vq__shared_codebooks_collect (const vq_graph *graph, const vq__conv_entry *convs,
                              uint32_t n_convs, GArray *groups, GError **error)
{
  for (uint32_t c = 0; c < n_convs; c++) {
    const vq_layer_setting *s = &convs[c].setting;
    if (s->kind != VQ_LAYER_VQ || s->group <= 0)
      continue;
    vq__shared_codebook *shared = NULL;
    for (guint g = 0; g < groups->len; g++)
      if (g_array_index (groups, vq__shared_codebook, g).group == s->group)
        shared = &g_array_index (groups, vq__shared_codebook, g);
    if (shared == NULL) {
      vq__shared_codebook fresh = { s->group, *s, g_new (uint32_t, n_convs), 0, NULL, -1 };
      g_array_append_val (groups, fresh);
      shared = &g_array_index (groups, vq__shared_codebook, groups->len - 1);
    } else if (shared->setting.d != s->d || shared->setting.k != s->k) {
      char a[24], b[24];
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "conv '%s' is %s but shared codebook group %d is %s (a group's convs need "
                   "the same d and K)", graph->nodes[convs[c].node].name,
                   vq_layer_setting_format (s, a, sizeof a), s->group,
                   vq_layer_setting_format (&shared->setting, b, sizeof b));
      return FALSE;
    }
    shared->members[shared->n_members++] = c;
  }
  return TRUE;
}

vq__shared_codebook *
vq__shared_codebook_find (GArray *groups, int32_t group)
{
  for (guint g = 0; groups && g < groups->len; g++)
    if (g_array_index (groups, vq__shared_codebook, g).group == group)
      return &g_array_index (groups, vq__shared_codebook, g);
  return NULL;
}

void
vq__shared_codebooks_free (GArray *groups)
{
  if (groups == NULL)
    return;
  for (guint g = 0; g < groups->len; g++) {
    vq__shared_codebook *shared = &g_array_index (groups, vq__shared_codebook, g);
    g_free (shared->members);
    g_free (shared->codebook);
  }
  g_array_free (groups, TRUE);
}
