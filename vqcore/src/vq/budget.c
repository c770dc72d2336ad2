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
 * reduction per byte that still fits the budget. */
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

/* eps for one candidate: codebook seeded on all rows, then GPTVQ and scale
 * refit on PROXY_ROWS evenly spaced rows, error relative to those rows. */
static double
candidate_error (const vq__conv_entry *conv, const vq__prepared_hessian *prepared,
                 const vq_layer_setting *setting, const vq_compress_options *options)
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
  vq__vq_layer full;
  if (!vq__quantize_layer (conv->weights, conv->rows, conv->cols, NULL, &q, &full, NULL, NULL)) {
    g_free (w);
    return 1.0;
  }
  vq__vq_layer layer;
  vq__vq_layer_init (&layer, rows, conv->cols, setting->d, setting->k);
  memcpy (layer.codebook, full.codebook, (size_t) (setting->k * setting->d) * sizeof (double));
  vq__vq_layer_clear (&full);

  double *wp = vq__pad_rows (w, rows, conv->cols, layer.cols_p);
  double *hd, *u;
  vq__prepared_hessian_pad (prepared, layer.cols_p, &hd, &u);
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

gboolean
vq__allocate_budget (const vq_model *model, const float *const *frames, int n_frames,
                     vq__conv_entry *convs, uint32_t n_convs,
                     const vq_compress_options *options, GError **error)
{
  int64_t total_weights = 0;
  uint64_t fixed_bytes = 0;
  for (uint32_t c = 0; c < n_convs; c++) {
    total_weights += convs[c].rows * convs[c].cols;
    if (convs[c].setting.kind != VQ_LAYER_AUTO)
      fixed_bytes += vq__setting_bytes (&convs[c].setting, convs[c].rows, convs[c].cols, TRUE);
  }
  double budget = options->bits_per_weight * (double) total_weights / 8.0 - (double) fixed_bytes;
  if (n_frames < 1 || convs[0].reference.h == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "a bits-per-weight budget needs calibration frames");
    return FALSE;
  }
  if (!measure_sensitivity (model, frames, n_frames, convs, n_convs, options, error))
    return FALSE;

  vq_layer_setting settings[N_CANDIDATES];
  for (guint s = 0; s < N_CANDIDATES; s++)
    vq_layer_setting_parse (candidate_names[s], &settings[s], NULL);
  double *cost = g_new (double, n_convs * N_CANDIDATES);
  double *bytes = g_new (double, n_convs * N_CANDIDATES);
  int *choice = g_new (int, n_convs);
  double used = 0.0;
  for (uint32_t c = 0; c < n_convs; c++) {
    choice[c] = -1;
    if (convs[c].setting.kind != VQ_LAYER_AUTO)
      continue;
    vq__prepared_hessian prepared;
    if (!vq__prepared_hessian_init (&prepared, convs[c].reference.h, convs[c].cols, 0.01,
                                    options->n_threads)) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "conv '%s': the calibration Hessian is not positive definite",
                   model->graph->nodes[convs[c].node].name);
      g_free (cost);
      g_free (bytes);
      g_free (choice);
      return FALSE;
    }
    GString *line = g_string_new (NULL);
    for (guint s = 0; s < N_CANDIDATES; s++) {
      double eps = candidate_error (&convs[c], &prepared, &settings[s], options);
      cost[c * N_CANDIDATES + s] = convs[c].sensitivity * eps;
      bytes[c * N_CANDIDATES + s] =
        (double) vq__setting_bytes (&settings[s], convs[c].rows, convs[c].cols, TRUE);
      g_string_append_printf (line, " %s:%.4f", candidate_names[s], eps);
      if (choice[c] < 0 || bytes[c * N_CANDIDATES + s] < bytes[c * N_CANDIDATES + choice[c]])
        choice[c] = (int) s;
    }
    vq__prepared_hessian_clear (&prepared);
    /* Drop dominated candidates (another is no larger and no worse), so
     * that the greedy walk below only moves along the Pareto front and
     * never keeps a setting a cheaper, better one beats. */
    for (guint s = 0; s < N_CANDIDATES; s++)
      for (guint t = 0; t < N_CANDIDATES; t++) {
        double *cs = &cost[c * N_CANDIDATES + s], *ct = &cost[c * N_CANDIDATES + t];
        double bs = bytes[c * N_CANDIDATES + s], bt = bytes[c * N_CANDIDATES + t];
        if (s != t && isfinite (*cs) && bt <= bs && *ct <= *cs && (bt < bs || *ct < *cs))
          *cs = INFINITY;
      }
    for (guint s = 0; s < N_CANDIDATES; s++)
      if (isfinite (cost[c * N_CANDIDATES + s])
          && (!isfinite (cost[c * N_CANDIDATES + choice[c]])
              || bytes[c * N_CANDIDATES + s] < bytes[c * N_CANDIDATES + choice[c]]))
        choice[c] = (int) s;
    if (options->log) {
      char *message = g_strdup_printf ("  %-40s sensitivity %.3g, error%s",
                                       model->graph->nodes[convs[c].node].name,
                                       convs[c].sensitivity, line->str);
      options->log (message, options->log_data);
      g_free (message);
    }
    g_string_free (line, TRUE);
    used += bytes[c * N_CANDIDATES + choice[c]];
  }

  /* Greedy upgrades by distortion saved per extra byte. */
  for (;;) {
    double best_ratio = 0.0;
    int best_c = -1, best_s = -1;
    for (uint32_t c = 0; c < n_convs; c++) {
      if (choice[c] < 0)
        continue;
      double now_cost = cost[c * N_CANDIDATES + choice[c]];
      double now_bytes = bytes[c * N_CANDIDATES + choice[c]];
      for (guint s = 0; s < N_CANDIDATES; s++) {
        double extra = bytes[c * N_CANDIDATES + s] - now_bytes;
        double saved = now_cost - cost[c * N_CANDIDATES + s];
        if (!isfinite (cost[c * N_CANDIDATES + s]) || saved <= 0.0 || used + extra > budget)
          continue;
        double ratio = extra > 0.0 ? saved / extra : INFINITY;
        if (ratio > best_ratio) {
          best_ratio = ratio;
          best_c = (int) c;
          best_s = (int) s;
        }
      }
    }
    if (best_c < 0)
      break;
    used += bytes[best_c * N_CANDIDATES + best_s] - bytes[best_c * N_CANDIDATES + choice[best_c]];
    choice[best_c] = best_s;
  }
  for (uint32_t c = 0; c < n_convs; c++)
    if (choice[c] >= 0)
      convs[c].setting = settings[choice[c]];
  g_free (cost);
  g_free (bytes);
  g_free (choice);
  return TRUE;
}
