/* Hessian-aware codeword assignment with error feedback (GPTVQ; van Baalen
 * et al. 2024, after GPTQ). Rows are independent, so they are processed in
 * tiles in parallel; within a row the column blocks go left to right.
 *
 * With H^-1 = U^T U (U upper), the loss of rounding block B of a row to
 * codeword c, once every later column is optimally re-fitted, is
 * || U_BB^-T (v_B - c) ||^2, and that re-fit moves the later columns R by
 * -err^T U[B, R] with err = U_BB^-T (v_B - c). Precomputing M_B = U_BB^-T
 * and M_B c for every codeword turns each choice into a nearest-neighbour
 * search in d dimensions. */
#include <float.h>
#include <string.h>

#include "vq_private.h"

#define TILE 16

typedef struct {
  vq__vq_layer *layer;
  const double *w, *u;
  const double *m;      /* n_sub x d x d: M_B, lower triangular */
  const double *mapped; /* n_sub x k x d: M_B c for each codeword */
} gptvq_job;

static void
gptvq_tile (void *context, int64_t tile, int thread_index)
{
  gptvq_job *job = context;
  vq__vq_layer *layer = job->layer;
  int64_t n = layer->cols_p;
  int32_t d = layer->d, k = layer->k;
  int64_t r0 = tile * TILE, r1 = MIN (r0 + TILE, layer->rows);
  double *v = g_new (double, (gsize) (TILE * n));
  double *err = g_new (double, (gsize) (TILE * d));
  double *mv = g_new (double, (gsize) d);

  for (int64_t o = r0; o < r1; o++)
    for (int64_t j = 0; j < n; j++)
      v[(o - r0) * n + j] = job->w[o * n + j] / layer->scales[o];

  for (int64_t b = 0; b < layer->n_sub; b++) {
    const double *m = job->m + b * d * d;
    const double *mapped = job->mapped + b * k * d;
    int64_t j0 = b * d, j1 = j0 + d;
    for (int64_t o = r0; o < r1; o++) {
      const double *vb = v + (o - r0) * n + j0;
      for (int32_t i = 0; i < d; i++) {
        double s = 0.0;
        for (int32_t t = 0; t <= i; t++)
          s += m[i * d + t] * vb[t];
        mv[i] = s;
      }
      double best = DBL_MAX;
      int32_t best_c = 0;
      for (int32_t c = 0; c < k; c++) {
        const double *mc = mapped + c * d;
        double dist = 0.0;
        for (int32_t i = 0; i < d; i++) {
          double e = mv[i] - mc[i];
          dist += e * e;
        }
        if (dist < best) {
          best = dist;
          best_c = c;
        }
      }
      layer->codes[o * layer->n_sub + b] = (uint8_t) best_c;
      for (int32_t i = 0; i < d; i++)
        err[(o - r0) * d + i] = mv[i] - mapped[best_c * d + i];
    }
    if (j1 >= n)
      continue;
    /* Error feedback onto the columns not yet quantized. */
    for (int32_t i = 0; i < d; i++) {
      const double *u_row = job->u + (j0 + i) * n + j1;
      for (int64_t o = r0; o < r1; o++) {
        double e = err[(o - r0) * d + i];
        double *vr = v + (o - r0) * n + j1;
        for (int64_t j = 0; j < n - j1; j++)
          vr[j] -= e * u_row[j];
      }
    }
  }
  g_free (mv);
  g_free (err);
  g_free (v);
}

void
vq__assign_gptvq (vq__vq_layer *layer, const double *w, const double *u, int n_threads)
{
  int64_t n = layer->cols_p;
  int32_t d = layer->d, k = layer->k;
  double *m = g_new0 (double, (gsize) (layer->n_sub * d * d));
  double *mapped = g_new (double, (gsize) (layer->n_sub * k * d));
  for (int64_t b = 0; b < layer->n_sub; b++) {
    /* M = (U_BB^T)^-1: invert the lower triangular U_BB^T column by column. */
    double *mb = m + b * d * d;
    const double *ub = u + b * d * n + b * d; /* U_BB[i][j] = ub[i * n + j] */
    for (int32_t col = 0; col < d; col++) {
      for (int32_t i = col; i < d; i++) {
        double s = i == col ? 1.0 : 0.0;
        for (int32_t t = col; t < i; t++)
          s -= ub[t * n + i] * mb[t * d + col]; /* (U^T)[i][t] = U[t][i] */
        mb[i * d + col] = s / ub[i * n + i];
      }
    }
    for (int32_t c = 0; c < k; c++)
      for (int32_t i = 0; i < d; i++) {
        double s = 0.0;
        for (int32_t t = 0; t <= i; t++)
          s += mb[i * d + t] * layer->codebook[c * d + t];
        mapped[(b * k + c) * d + i] = s;
      }
  }
  gptvq_job job = { layer, w, u, m, mapped };
  vq__parallel_for ((layer->rows + TILE - 1) / TILE, n_threads, gptvq_tile, &job);
  g_free (mapped);
  g_free (m);
}
