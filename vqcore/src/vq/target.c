/* Float targets for layer-by-layer quantization.
 *
 * On the quantized network a conv sees inputs X~ instead of the float X.
 * Quantizing W against H~ = X~^T X~ alone reproduces W applied to the
 * drifted inputs, so upstream errors (often a loss of gain) pass through
 * untouched; matching output means afterwards then turns a gain loss into an
 * offset, which is what lowered the detector's confidences. Instead each
 * row is first re-fitted to the float outputs,
 *     v = argmin ||X~ v + beta - X w||^2 + lambda ||v - w||^2,
 * on centred statistics (the bias absorbs the means), i.e.
 *     v = (Hc + lambda I)^-1 (Cc w + lambda w),
 *     Hc = X~^T X~ - n m~ m~^T,  Cc = X~^T X - n m~ m^T,
 * and v is what the quantizer then approximates under Hc. The ridge pulls
 * toward w rather than toward zero, so v = w exactly when X~ = X. */
#include <string.h>

#include "vq_private.h"

typedef struct {
  const double *l; /* Cholesky factor of Hc + lambda I */
  double *v;       /* rows x cols: right-hand sides in, solutions out */
  int64_t cols;
} solve_job;

static void
solve_row (void *context, int64_t o, int thread_index)
{
  solve_job *job = context;
  vq__cholesky_solve (job->l, job->cols, job->v + o * job->cols);
}

gboolean
vq__float_target (const vq__conv_stats *stats, const float *w, int64_t rows, double damp,
                  float *target, double *h_centred, int n_threads)
{
  int64_t cols = stats->cols;
  double n = (double) stats->n_rows;
  if (stats->cross == NULL || n < 1.0)
    return FALSE;
  double *mq = g_new (double, (gsize) cols), *mf = g_new (double, (gsize) cols);
  for (int64_t j = 0; j < cols; j++) {
    mq[j] = stats->row_sum[j] / n;
    mf[j] = stats->reference_row_sum[j] / n;
  }
  /* Hc into h_centred; Cc transposed into ct (multiply_by_h wants a h). */
  double *ct = g_new (double, (gsize) (cols * cols));
  double mean_diag = 0.0;
  for (int64_t i = 0; i < cols; i++)
    for (int64_t j = 0; j < cols; j++) {
      h_centred[i * cols + j] = stats->h[i * cols + j] - n * mq[i] * mq[j];
      ct[j * cols + i] = stats->cross[i * cols + j] - n * mq[i] * mf[j];
    }
  for (int64_t i = 0; i < cols; i++)
    mean_diag += h_centred[i * cols + i];
  mean_diag /= (double) cols;
  double lambda = damp * (mean_diag > 0.0 ? mean_diag : 1.0);

  double *a = g_memdup2 (h_centred, (gsize) (cols * cols) * sizeof (double));
  for (int64_t i = 0; i < cols; i++)
    a[i * cols + i] += lambda;
  gboolean ok = vq__cholesky (a, cols);
  if (ok) {
    double *wd = g_new (double, (gsize) (rows * cols));
    double *v = g_new (double, (gsize) (rows * cols));
    for (int64_t i = 0; i < rows * cols; i++)
      wd[i] = w[i];
    vq__multiply_by_h (wd, rows, ct, cols, v, n_threads); /* v_o = Cc w_o */
    for (int64_t i = 0; i < rows * cols; i++)
      v[i] += lambda * wd[i];
    solve_job job = { a, v, cols };
    vq__parallel_for (rows, n_threads, solve_row, &job);
    for (int64_t i = 0; i < rows * cols; i++)
      target[i] = (float) v[i];
    g_free (v);
    g_free (wd);
  }
  g_free (a);
  g_free (ct);
  g_free (mq);
  g_free (mf);
  return ok;
}
