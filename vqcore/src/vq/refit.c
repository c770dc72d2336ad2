/* Closed-form least-squares refits for fixed codes: the codebook (all
 * layers sharing it at once) and the per-row scales.
 *
 * For row o with scale s, codes k_b and weights w, the decoded row is
 * s * sum_b E_b c_{k_b}, with E_b placing a codeword at block b. Setting the
 * gradient of E to zero gives the normal equations
 *     sum_o s^2 sum_{b1,b2} E_{k_b1}^T H[b1,b2] E_{k_b2} c = sum_o s sum_b1 E_{k_b1}^T (H w)_b1
 * in the K*d unknowns of the codebook. */
#include <math.h>
#include <string.h>

#include "vq_private.h"

/* Rows are summed in this many fixed chunks, each into its own normal
 * matrix, and the chunks are added in order: deterministic for any thread
 * count, with memory bounded by N_CHUNKS normal matrices. */
#define N_CHUNKS 4

typedef struct {
  const vq__vq_layer *layer;
  const double *w, *h, *hw; /* hw = w h, rows x cols_p */
  double weight;
  double *a, *rhs; /* N_CHUNKS partial normal matrices and right-hand sides */
  int64_t kd;
} normal_job;

static void
normal_chunk (void *context, int64_t chunk, int thread_index)
{
  normal_job *job = context;
  const vq__vq_layer *layer = job->layer;
  int64_t n = layer->cols_p, n_sub = layer->n_sub, kd = job->kd;
  int32_t d = layer->d;
  double *a = job->a + chunk * kd * kd;
  double *rhs = job->rhs + chunk * kd;
  int64_t begin = layer->rows * chunk / N_CHUNKS, end = layer->rows * (chunk + 1) / N_CHUNKS;
  for (int64_t o = begin; o < end; o++) {
    const uint8_t *codes = layer->codes + o * n_sub;
    const double *hw = job->hw + o * n;
    double s = layer->scales[o];
    double s2 = job->weight * s * s;
    for (int64_t b1 = 0; b1 < n_sub; b1++) {
      int64_t k1 = codes[b1];
      for (int32_t i = 0; i < d; i++) {
        rhs[k1 * d + i] += job->weight * s * hw[b1 * d + i];
        const double *hrow = job->h + (b1 * d + i) * n;
        double *arow = a + (k1 * d + i) * kd;
        for (int64_t b2 = 0; b2 < n_sub; b2++) {
          double *ablock = arow + codes[b2] * d;
          const double *hblock = hrow + b2 * d;
          for (int32_t t = 0; t < d; t++)
            ablock[t] += s2 * hblock[t];
        }
      }
    }
  }
}

gboolean
vq__refit_codebook (vq__vq_layer *const *layers, const double *const *w,
                    const double *const *h, const double *layer_weight, int n,
                    int n_threads)
{
  g_return_val_if_fail (n >= 1, FALSE);
  int32_t d = layers[0]->d, k = layers[0]->k;
  int64_t kd = (int64_t) k * d;
  double *a = g_new0 (double, (gsize) (kd * kd));
  double *rhs = g_new0 (double, (gsize) kd);
  double *part_a = g_new (double, (gsize) (N_CHUNKS * kd * kd));
  double *part_rhs = g_new (double, (gsize) (N_CHUNKS * kd));
  for (int l = 0; l < n; l++) {
    memset (part_a, 0, (size_t) (N_CHUNKS * kd * kd) * sizeof (double));
    memset (part_rhs, 0, (size_t) (N_CHUNKS * kd) * sizeof (double));
    double *hw = g_new (double, (gsize) (layers[l]->rows * layers[l]->cols_p));
    vq__multiply_by_h (w[l], layers[l]->rows, h[l], layers[l]->cols_p, hw, n_threads);
    normal_job job = { layers[l], w[l], h[l], hw, layer_weight ? layer_weight[l] : 1.0,
                       part_a, part_rhs, kd };
    vq__parallel_for (N_CHUNKS, n_threads, normal_chunk, &job);
    g_free (hw);
    for (int c = 0; c < N_CHUNKS; c++) {
      for (int64_t i = 0; i < kd * kd; i++)
        a[i] += part_a[c * kd * kd + i];
      for (int64_t i = 0; i < kd; i++)
        rhs[i] += part_rhs[c * kd + i];
    }
  }
  g_free (part_a);
  g_free (part_rhs);

  /* A ridge pulling toward the current codewords: tiny next to the data
   * terms, yet it makes A definite and leaves unused codewords unchanged. */
  double trace = 0.0;
  for (int64_t i = 0; i < kd; i++)
    trace += a[i * kd + i];
  double ridge = 1e-7 * (trace > 0.0 ? trace / (double) kd : 1.0);
  const double *current = layers[0]->codebook;
  for (int64_t i = 0; i < kd; i++) {
    a[i * kd + i] += ridge;
    rhs[i] += ridge * current[i];
  }
  gboolean ok = vq__cholesky (a, kd);
  if (ok) {
    vq__cholesky_solve (a, kd, rhs);
    for (int l = 0; l < n; l++)
      memcpy (layers[l]->codebook, rhs, (size_t) kd * sizeof (double));
  }
  g_free (a);
  g_free (rhs);
  return ok;
}

void
vq__refit_scales (vq__vq_layer *layer, const double *w, const double *h, int n_threads)
{
  int64_t n = layer->cols_p, count = layer->rows * n;
  double *c = g_new (double, (gsize) count);
  double *hc = g_new (double, (gsize) count);
  /* Unscaled decoded rows: decode with unit scales. */
  double *scales = layer->scales;
  layer->scales = g_new (double, (gsize) layer->rows);
  for (int64_t o = 0; o < layer->rows; o++)
    layer->scales[o] = 1.0;
  vq__vq_layer_decode (layer, c);
  g_free (layer->scales);
  layer->scales = scales;
  vq__multiply_by_h (c, layer->rows, h, n, hc, n_threads);
  for (int64_t o = 0; o < layer->rows; o++) {
    double num = 0.0, den = 0.0;
    for (int64_t i = 0; i < n; i++) {
      num += w[o * n + i] * hc[o * n + i];
      den += c[o * n + i] * hc[o * n + i];
    }
    /* A row whose codewords decode to nothing keeps its scale, and so does
     * one whose best scale would be zero (assignment divides by it). */
    if (den > 0.0 && num != 0.0 && isfinite (num / den))
      layer->scales[o] = num / den;
  }
  g_free (hc);
  g_free (c);
}
