/* Quantizes one layer: seeds a codebook by k-means, then (Hessian method)
 * alternates GPTVQ assignment with the closed-form codebook and scale
 * refits, keeping the round with the smallest output error. With d = 1 the
 * codebook is a fixed uniform grid instead (vq__grid_init). */
#include <math.h>
#include <string.h>

#include "vq_private.h"
#include "vqcore/error.h"

void
vq__quantize_options_init (vq__quantize_options *options, int32_t d, int32_t k)
{
  memset (options, 0, sizeof *options);
  options->d = d;
  options->k = k;
  options->method = VQ__METHOD_HESSIAN;
  options->rounds = 3;
  options->kmeans_iterations = 12;
  options->kmeans_max_points = 1 << 16;
  options->damp = 0.01;
  options->seed = 1;
  options->n_threads = 0;
}

/* Seeds the codebook with k-means over the rows' sub-vectors divided by
 * their row scale, each dimension weighted by s_o^2 H_jj (its share of the
 * output error) unless `h` is NULL. */
static void
seed_codebook (vq__vq_layer *layer, const double *w, const double *h,
               const vq__quantize_options *options)
{
  int32_t d = layer->d;
  int64_t total = layer->rows * layer->n_sub;
  int64_t step = (total + options->kmeans_max_points - 1) / options->kmeans_max_points;
  int64_t n = (total + step - 1) / step;
  double *points = g_new (double, (gsize) (n * d));
  double *weights = h ? g_new (double, (gsize) (n * d)) : NULL;
  for (int64_t p = 0; p < n; p++) {
    int64_t index = p * step;
    int64_t o = index / layer->n_sub, b = index % layer->n_sub;
    double s = layer->scales[o];
    for (int32_t i = 0; i < d; i++) {
      int64_t j = b * d + i;
      points[p * d + i] = w[o * layer->cols_p + j] / s;
      if (weights)
        weights[p * d + i] = s * s * h[j * layer->cols_p + j];
    }
  }
  vq__kmeans_problem problem = { points, weights, n, d, layer->k,
                                 options->kmeans_iterations, options->seed,
                                 options->n_threads };
  vq__kmeans (&problem, layer->codebook, NULL);
  g_free (points);
  g_free (weights);
}

typedef struct {
  double *codebook;
  uint8_t *codes;
  double *scales;
} layer_snapshot;

static void
snapshot_take (layer_snapshot *snap, const vq__vq_layer *layer)
{
  memcpy (snap->codebook, layer->codebook, (size_t) (layer->k * layer->d) * sizeof (double));
  memcpy (snap->codes, layer->codes, (size_t) (layer->rows * layer->n_sub));
  memcpy (snap->scales, layer->scales, (size_t) layer->rows * sizeof (double));
}

static void
snapshot_restore (const layer_snapshot *snap, vq__vq_layer *layer)
{
  memcpy (layer->codebook, snap->codebook, (size_t) (layer->k * layer->d) * sizeof (double));
  memcpy (layer->codes, snap->codes, (size_t) (layer->rows * layer->n_sub));
  memcpy (layer->scales, snap->scales, (size_t) layer->rows * sizeof (double));
}

gboolean
vq__quantize_layer (const float *w, int64_t rows, int64_t cols, const double *h,
                    const vq__quantize_options *options, vq__vq_layer *out,
                    double *rel_error, GError **error)
{
  if (options->d < 1 || options->k < 1 || options->k > 256 || rows < 1 || cols < 1) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "cannot quantize a %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT
                 " layer with d = %d, K = %d (need d >= 1, 1 <= K <= 256)",
                 rows, cols, options->d, options->k);
    return FALSE;
  }
  vq__vq_layer_init (out, rows, cols, options->d, options->k);
  int64_t n = out->cols_p;
  double *wp = vq__pad_rows (w, rows, cols, n);
  double *hp = h ? vq__hessian_pad (h, cols, n) : NULL;
  double *hd = NULL, *u = NULL;
  vq__init_scales (out, wp);
  if (hp && options->method == VQ__METHOD_HESSIAN) {
    vq__prepared_hessian own = { 0 };
    const vq__prepared_hessian *prepared = options->prepared;
    if (prepared == NULL && vq__prepared_hessian_init (&own, h, cols, options->damp,
                                                       options->n_threads))
      prepared = &own;
    if (prepared == NULL) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "the calibration Hessian of a %" G_GINT64_FORMAT " x %" G_GINT64_FORMAT
                   " layer is not positive definite even after damping", rows, cols);
      g_free (wp);
      g_free (hp);
      vq__vq_layer_clear (out);
      return FALSE;
    }
    vq__prepared_hessian_pad (prepared, n, &hd, &u);
    vq__prepared_hessian_clear (&own);
  }

  gboolean grid =
    options->fixed_codebook == NULL && vq_codebook_grid_fits (options->k, options->d);
  if (grid)
    vq__grid_init (out, wp);
  else if (options->fixed_codebook)
    memcpy (out->codebook, options->fixed_codebook,
            (size_t) (options->k * options->d) * sizeof (double));
  else
    seed_codebook (out, wp, hd, options);

  if (!hd) {
    vq__assign_nearest (out, wp);
  } else {
    layer_snapshot best = { g_new (double, (gsize) (out->k * out->d)),
                            g_new (uint8_t, (gsize) (rows * out->n_sub)),
                            g_new (double, (gsize) rows) };
    double best_error = INFINITY;
    for (int32_t round = 0; round < MAX (1, options->rounds); round++) {
      vq__assign_gptvq (out, wp, u, options->n_threads);
      if (!options->fixed_codebook && !grid) {
        vq__vq_layer *layers[1] = { out };
        const double *ws[1] = { wp }, *hs[1] = { hd };
        vq__refit_codebook (layers, ws, hs, NULL, 1, options->n_threads);
      }
      vq__refit_scales (out, wp, hd, options->n_threads);
      double e = vq__output_error (out, wp, hd, NULL, options->n_threads);
      if (e < best_error) {
        best_error = e;
        snapshot_take (&best, out);
      }
    }
    snapshot_restore (&best, out);
    g_free (best.codebook);
    g_free (best.codes);
    g_free (best.scales);
  }

  if (rel_error) {
    *rel_error = -1.0;
    if (hp) {
      double reference = 0.0;
      double e = vq__output_error (out, wp, hp, &reference, options->n_threads);
      *rel_error = reference > 0.0 ? e / reference : 0.0;
    }
  }
  g_free (wp);
  g_free (hp);
  g_free (hd);
  g_free (u);
  return TRUE;
}
