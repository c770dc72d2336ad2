/* Bits-per-weight budget allocation by measured sensitivity.
 *
 * The detector's output distortion is modelled as additive over layers:
 *     distortion ~ sum_L gamma_L * eps_L(setting_L)
 * where eps_L is the layer's relative output error under a setting and
 * gamma_L how strongly relative noise at layer L's output reaches the
 * network's outputs. Both are measured, not guessed:
 *   - eps_L(s): each candidate setting is tried on the layer (k-means seeded
 *     on every row, GPTVQ on a sample of rows, error from the float H);
 *   - gamma_L: Gaussian noise of known relative output energy is injected
 *     into layer L's weights and the change of the model's outputs (scores
 *     and box logits, relative to their energy) is measured on a few
 *     calibration frames.
 * Settings are then chosen greedily: start every layer at its cheapest
 * candidate and repeatedly take the upgrade with the best distortion
 * reduction per byte that still fits the budget (choose.c).
 *
 * With VQ_SHARE_AUTO every VQ candidate also comes in a shared variant: one
 * codebook per d and K for all layers that pick it (a "pool"), priced
 * without the codebook, whose bytes are reserved once. Its eps is measured
 * against a pooled codebook seeded over all automatic layers (the final
 * shared codebook is then fitted to the actual members, shared.c). */
#include <math.h>
#include <string.h>

#include "vq_private.h"
#include "vqcore/engine.h"
#include "vqcore/error.h"

static const char *const candidate_names[] = {
  "d8k256", "d4k16", "d6k256", "d5k256", "d3k16", "d4k256", "d2k16", "d3k256",
  "d2k256", "d1k256", "f16",
};
#define N_CANDIDATES G_N_ELEMENTS (candidate_names)

/* Rows of a layer on which a candidate's error is measured. */
#define PROXY_ROWS 32
/* Relative output noise injected to measure gamma, and frames used. */
#define NOISE_LEVEL 0.01
#define SENSITIVITY_FRAMES 4

/* eps for one candidate: codebook seeded on all rows (or the given shared
 * one), then GPTVQ and scale refit on PROXY_ROWS evenly spaced rows, error
 * relative to those rows. */
static double
candidate_error (const vq__conv_entry *conv, const vq__prepared_hessian *prepared,
                 const vq_layer_setting *setting, const double *shared_codebook,
                 const vq_compress_options *options)
{
  if (setting->kind == VQ_LAYER_F16)
    return 1.0 / (3.0 * 4194304.0); /* (2^-11)^2 / 3: fp16 rounding noise */
  int64_t rows = MIN (PROXY_ROWS, conv->rows);
  float *w = g_new (float, (gsize) (rows * conv->cols));
  for (int64_t r = 0; r < rows; r++)
    memcpy (w + r * conv->cols, conv->weights + (r * conv->rows / rows) * conv->cols,
            (size_t) conv->cols * sizeof (float));

  /* Seed on all rows (the codebook must serve the whole layer). */
  vq__quantize_options q;
  vq__quantize_options_init (&q, setting->d, setting->k);
  q.method = VQ__METHOD_KMEANS;
  q.kmeans_iterations = 6;
  q.kmeans_max_points = 1 << 14;
  q.seed = options->seed + conv->node;
  q.n_threads = options->n_threads;
  vq__vq_layer layer;
  vq__vq_layer_init (&layer, rows, conv->cols, setting->d, setting->k);
  if (shared_codebook) {
    memcpy (layer.codebook, shared_codebook,
            (size_t) (setting->k * setting->d) * sizeof (double));
  } else {
    vq__vq_layer full;
    if (!vq__quantize_layer (conv->weights, conv->rows, conv->cols, NULL, &q, &full, NULL,
                             NULL)) {
      vq__vq_layer_clear (&layer);
      g_free (w);
      return 1.0;
    }
    memcpy (layer.codebook, full.codebook, (size_t) (setting->k * setting->d) * sizeof (double));
    vq__vq_layer_clear (&full);
  }

  double *wp = vq__pad_rows (w, rows, conv->cols, layer.cols_p);
  double *hd, *u;
  vq__prepared_hessian_pad (prepared, layer.cols_p, &hd, &u);
  if (shared_codebook == NULL && vq_codebook_grid_fits (setting->k, setting->d))
    vq__grid_init (&layer, wp); /* the same grid, the proxy rows' scales */
  else
    vq__init_scales (&layer, wp);
  vq__assign_gptvq (&layer, wp, u, options->n_threads);
  vq__refit_scales (&layer, wp, hd, options->n_threads);
  double reference = 0.0;
  double e = vq__output_error (&layer, wp, hd, &reference, options->n_threads);
  vq__vq_layer_clear (&layer);
  g_free (wp);
  g_free (hd);
  g_free (u);
  g_free (w);
  return reference > 0.0 ? e / reference : 0.0;
}

/* Relative squared difference of all graph outputs, summed over outputs. */
static double
output_distortion (vq_engine *engine, const vq_graph *graph, float *const *reference)
{
  double total = 0.0;
  for (uint32_t i = 0; i < graph->n_outputs; i++) {
    vq_tensor_view view = vq_engine_output (engine, i);
    int64_t n = vq_shape_numel (&view.shape);
    double diff = 0.0, energy = 0.0;
    for (int64_t k = 0; k < n; k++) {
      double e = view.data[k] - reference[i][k];
      diff += e * e;
      energy += (double) reference[i][k] * reference[i][k];
    }
    total += energy > 0.0 ? diff / energy : 0.0;
  }
  return total;
}

/* gamma_L for every conv: output distortion per unit of injected relative
 * output noise. */
static gboolean
measure_sensitivity (const vq_model *model, const float *const *frames, int n_frames,
                     vq__conv_entry *convs, uint32_t n_convs,
                     const vq_compress_options *options, GError **error)
{
  int n = MIN (n_frames, SENSITIVITY_FRAMES);
  const vq_graph *graph = model->graph;
  vq_engine_options engine_options;
  vq_engine_options_init (&engine_options);
  engine_options.backend = VQ_BACKEND_CPU;
  engine_options.n_threads = options->n_threads;
  engine_options.reuse_buffers = TRUE;

  /* Reference outputs of the float model. */
  float **reference = g_new0 (float *, (gsize) (n * graph->n_outputs));
  vq_engine *engine = vq_engine_new (model, &engine_options, error);
  if (engine == NULL) {
    g_free (reference);
    return FALSE;
  }
  gboolean ok = TRUE;
  for (int f = 0; f < n && ok; f++) {
    ok = vq_engine_run (engine, frames[f], error);
    for (uint32_t i = 0; i < graph->n_outputs && ok; i++) {
      vq_tensor_view view = vq_engine_output (engine, i);
      reference[f * graph->n_outputs + i] =
        g_memdup2 (view.data, (gsize) vq_shape_numel (&view.shape) * sizeof (float));
    }
  }
  vq_engine_free (engine);

  GRand *rand = g_rand_new_with_seed (options->seed ^ 0x5e115e);
  for (uint32_t c = 0; c < n_convs && ok; c++) {
    vq__conv_entry *conv = &convs[c];
    int64_t count = conv->rows * conv->cols;
    const double *h = conv->reference.h;
    double trace = 0.0, energy = 0.0;
    for (int64_t j = 0; j < conv->cols; j++)
      trace += h[j * conv->cols + j];
    for (int64_t o = 0; o < conv->rows; o++) {
      const float *w = conv->weights + o * conv->cols;
      for (int64_t i = 0; i < conv->cols; i++) {
        double hw = 0.0;
        for (int64_t j = 0; j < conv->cols; j++)
          hw += h[i * conv->cols + j] * w[j];
        energy += w[i] * hw;
      }
    }
    /* iid noise of variance v costs v * rows * tr(H) of output energy. */
    double sigma = trace > 0.0 ? sqrt (NOISE_LEVEL * energy / ((double) conv->rows * trace))
                               : 0.0;
    float *noisy = g_new (float, (gsize) count);
    for (int64_t i = 0; i < count; i++) {
      double u1 = g_rand_double_range (rand, 1e-12, 1.0), u2 = g_rand_double (rand);
      noisy[i] = (float) (conv->weights[i] + sigma * sqrt (-2.0 * log (u1))
                                                 * cos (2.0 * G_PI * u2));
    }
    vq_model *perturbed = vq__model_copy (model);
    vq__emit_dense (perturbed->graph, conv->node, noisy, VQ_DTYPE_F32);
    g_free (noisy);
    engine = vq_engine_new (perturbed, &engine_options, error);
    ok = engine != NULL;
    double distortion = 0.0;
    for (int f = 0; f < n && ok; f++) {
      ok = vq_engine_run (engine, frames[f], error);
      if (ok)
        distortion += output_distortion (engine, graph, reference + f * graph->n_outputs);
    }
    vq_engine_free (engine);
    vq_model_free (perturbed);
    conv->sensitivity = distortion / ((double) MAX (n, 1) * NOISE_LEVEL);
  }
  g_rand_free (rand);
  for (int i = 0; i < n * (int) graph->n_outputs; i++)
    g_free (reference[i]);
  g_free (reference);
  return ok;
}

/* Bytes of the convs the user set, a shared codebook counted once. */
static uint64_t
fixed_bytes (const vq__conv_entry *convs, uint32_t n_convs)
{
  uint64_t total = 0;
  for (uint32_t c = 0; c < n_convs; c++) {
    const vq_layer_setting *s = &convs[c].setting;
    if (s->kind == VQ_LAYER_AUTO)
      continue;
    gboolean first = TRUE;
    for (uint32_t p = 0; p < c && s->kind == VQ_LAYER_VQ && s->group > 0; p++)
      if (convs[p].setting.kind == VQ_LAYER_VQ && convs[p].setting.group == s->group)
        first = FALSE;
    total += vq__setting_bytes (s, convs[c].rows, convs[c].cols, first);
  }
  return total;
}

/* The pools' codebooks: for each VQ candidate, k-means seeded over the
 * sub-vectors of all automatic convs (shared.c with no refit rounds). */
static double **
pool_codebooks (const vq__conv_entry *convs, uint32_t n_convs, const vq_layer_setting *settings,
                int n_pools, const vq_compress_options *options)
{
  double **codebooks = g_new0 (double *, (gsize) n_pools);
  vq__shared_codebook pool = { 0 };
  pool.members = g_new (uint32_t, n_convs);
  for (uint32_t c = 0; c < n_convs; c++)
    if (convs[c].setting.kind == VQ_LAYER_AUTO)
      pool.members[pool.n_members++] = c;
  for (int q = 0; q < n_pools && pool.n_members > 0; q++) {
    pool.setting = settings[q];
    vq__quantize_options o;
    vq__quantize_options_init (&o, settings[q].d, settings[q].k);
    o.rounds = 0;
    o.kmeans_iterations = 8;
    o.seed = options->seed + 104729u * (guint32) (q + 1);
    o.n_threads = options->n_threads;
    if (vq__shared_codebook_fit (&pool, convs, &o, NULL))
      codebooks[q] = g_steal_pointer (&pool.codebook);
  }
  g_free (pool.members);
  return codebooks;
}

gboolean
vq__allocate_budget (const vq_model *model, const float *const *frames, int n_frames,
                     vq__conv_entry *convs, uint32_t n_convs,
                     const vq_compress_options *options, GError **error)
{
  int64_t total_weights = 0;
  int32_t max_group = MAX (options->default_setting.group, 0);
  for (uint32_t c = 0; c < n_convs; c++) {
    total_weights += convs[c].rows * convs[c].cols;
    max_group = MAX (max_group, convs[c].setting.group);
  }
  double budget = options->bits_per_weight * (double) total_weights / 8.0
                  - (double) fixed_bytes (convs, n_convs);
  if (n_frames < 1 || convs[0].reference.h == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "a bits-per-weight budget needs calibration frames");
    return FALSE;
  }
  if (!measure_sensitivity (model, frames, n_frames, convs, n_convs, options, error))
    return FALSE;

  /* Candidates: the private ones, then (sharing) the VQ ones again on a
   * pool's codebook; pool q is private candidate q's d and K. */
  int n_pools = options->share == VQ_SHARE_AUTO ? (int) N_CANDIDATES - 1 : 0;
  int n = (int) N_CANDIDATES + n_pools;
  vq_layer_setting *settings = g_new (vq_layer_setting, (gsize) n);
  int *pool = g_new (int, (gsize) n);
  double *pool_bytes = g_new (double, (gsize) MAX (n_pools, 1));
  for (int s = 0; s < n; s++) {
    vq_layer_setting_parse (candidate_names[s % N_CANDIDATES], &settings[s], NULL);
    pool[s] = s >= (int) N_CANDIDATES ? s - (int) N_CANDIDATES : -1;
  }
  for (int q = 0; q < n_pools; q++) {
    g_assert (settings[q].kind == VQ_LAYER_VQ); /* f16 is the last candidate */
    pool_bytes[q] = 2.0 * settings[q].k * settings[q].d;
  }
  double **codebooks = pool_codebooks (convs, n_convs, settings, n_pools, options);

  double *cost = g_new (double, (gsize) n_convs * (gsize) n);
  double *bytes = g_new (double, (gsize) n_convs * (gsize) n);
  gboolean *automatic = g_new (gboolean, n_convs);
  gboolean ok = TRUE;
  for (uint32_t c = 0; c < n_convs && ok; c++) {
    automatic[c] = convs[c].setting.kind == VQ_LAYER_AUTO;
    if (!automatic[c])
      continue;
    vq__prepared_hessian prepared;
    if (!vq__prepared_hessian_init (&prepared, convs[c].reference.h, convs[c].cols, 0.01,
                                    options->n_threads)) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "conv '%s': the calibration Hessian is not positive definite",
                   model->graph->nodes[convs[c].node].name);
      ok = FALSE;
      break;
    }
    GString *line = g_string_new (NULL);
    double private_eps[N_CANDIDATES]; /* pools come after every private one */
    for (int s = 0; s < n; s++) {
      const double *shared = pool[s] >= 0 ? codebooks[pool[s]] : NULL;
      double eps = pool[s] >= 0 && shared == NULL
                     ? INFINITY
                     : candidate_error (&convs[c], &prepared, &settings[s], shared, options);
      /* A codebook shared with other layers fits this one no better than
       * its own would; the pool's H-weighted seed can measure better than
       * the private candidate's plain k-means seed, and that bias made the
       * allocator over-share (tests/vq/RESULTS.md). */
      if (pool[s] >= 0)
        eps = MAX (eps, private_eps[pool[s]]);
      else
        private_eps[s] = eps;
      cost[(gsize) c * (gsize) n + (gsize) s] = convs[c].sensitivity * eps;
      bytes[(gsize) c * (gsize) n + (gsize) s] =
        (double) vq__setting_bytes (&settings[s], convs[c].rows, convs[c].cols, pool[s] < 0);
      g_string_append_printf (line, " %s%s:%.4f", candidate_names[s % N_CANDIDATES],
                              pool[s] >= 0 ? "@" : "", eps);
    }
    vq__prepared_hessian_clear (&prepared);
    if (options->log) {
      char *message = g_strdup_printf ("  %-40s sensitivity %.3g, error%s",
                                       model->graph->nodes[convs[c].node].name,
                                       convs[c].sensitivity, line->str);
      options->log (message, options->log_data);
      g_free (message);
    }
    g_string_free (line, TRUE);
  }

  if (ok) {
    int *choice = g_new (int, n_convs);
    vq__budget_problem problem = { n_convs, n, cost, bytes, automatic, pool, pool_bytes,
                                   n_pools, budget };
    vq__budget_choose (&problem, choice);
    /* Pools that kept members become groups numbered after the user's,
     * in the order of their first member. */
    int32_t *group_of_pool = g_new0 (int32_t, (gsize) MAX (n_pools, 1));
    for (uint32_t c = 0; c < n_convs; c++) {
      if (choice[c] < 0)
        continue;
      convs[c].setting = settings[choice[c]];
      int q = pool[choice[c]];
      if (q >= 0) {
        if (group_of_pool[q] == 0)
          group_of_pool[q] = ++max_group;
        convs[c].setting.group = group_of_pool[q];
      }
    }
    g_free (group_of_pool);
    g_free (choice);
  }
  for (int q = 0; q < n_pools; q++)
    g_free (codebooks[q]);
  g_free (codebooks);
  g_free (automatic);
  g_free (cost);
  g_free (bytes);
  g_free (pool_bytes);
  g_free (pool);
  g_free (settings);
  return ok;
}
