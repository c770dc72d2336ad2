/* The layer Hessian H = X^T X of calibration activations, and the
 * conditioning it needs before factorisation. */
#include <math.h>
#include <string.h>

#include "cpu/gemm.h"
#include "vq_private.h"

#define TILE_ROWS 16
#define CHUNK 128

void
vq__hessian_damp (double *h, int64_t n, double damp)
{
  double mean = 0.0;
  int64_t live = 0;
  for (int64_t i = 0; i < n; i++)
    if (h[i * n + i] > 0.0) {
      mean += h[i * n + i];
      live++;
    }
  mean = live > 0 ? mean / (double) live : 1.0;
  for (int64_t i = 0; i < n; i++) {
    if (!(h[i * n + i] > 0.0)) {
      /* A dead input: its weights never reach the output, so any value is
       * free; a unit diagonal keeps the factorisation well defined. */
      for (int64_t j = 0; j < n; j++)
        h[i * n + j] = h[j * n + i] = 0.0;
      h[i * n + i] = mean;
    }
    h[i * n + i] += damp * mean;
  }
}

double *
vq__hessian_pad (const double *h, int64_t cols, int64_t cols_p)
{
  double *out = g_new0 (double, (gsize) (cols_p * cols_p));
  double mean = 0.0;
  for (int64_t i = 0; i < cols; i++) {
    memcpy (out + i * cols_p, h + i * cols, (size_t) cols * sizeof (double));
    mean += h[i * cols + i];
  }
  mean = cols > 0 ? mean / (double) cols : 1.0;
  /* Padding holds zeros that are never decoded: a diagonal a million times
   * smaller than the real ones makes their error count for nothing while
   * keeping H invertible. */
  for (int64_t i = cols; i < cols_p; i++)
    out[i * cols_p + i] = 1e-6 * (mean > 0.0 ? mean : 1.0);
  return out;
}

typedef struct {
  const float *packed_a, *packed_b;
  float *c;
  int64_t cols, n_rows;
} accumulate_job;

static void
accumulate_task (void *context, int64_t task, int thread_index)
{
  accumulate_job *job = context;
  vq__gemm_epilogue none = { NULL, VQ_ACT_NONE, 0.0f };
  int64_t begin = task * TILE_ROWS, end = MIN (begin + TILE_ROWS, job->cols);
  vq__gemm_run (job->packed_a, job->cols, job->n_rows, 0, job->n_rows, begin, end,
                job->packed_b, job->n_rows * VQ_GEMM_NR, job->cols, job->c, job->cols, &none);
}

void
vq__cross_accumulate (double *c, int64_t cols, const float *a, const float *b, int64_t n_rows,
                      int n_threads)
{
  float *at = g_new (float, (gsize) (cols * MIN (n_rows, CHUNK)));
  float *packed_a = g_new (float, vq__gemm_packed_a_floats (cols, MIN (n_rows, CHUNK)));
  float *packed_b = g_new (float, vq__gemm_packed_b_floats (MIN (n_rows, CHUNK), cols));
  float *product = g_new (float, (gsize) (cols * cols));
  for (int64_t r0 = 0; r0 < n_rows; r0 += CHUNK) {
    int64_t rows = MIN (CHUNK, n_rows - r0);
    const float *chunk_a = a + r0 * cols, *chunk_b = b + r0 * cols;
    /* A = chunk_a^T (cols x rows), B = chunk_b (rows x cols). */
    for (int64_t r = 0; r < rows; r++)
      for (int64_t i = 0; i < cols; i++)
        at[i * rows + r] = chunk_a[r * cols + i];
    vq__gemm_pack_a (at, rows, cols, rows, packed_a);
    vq__gemm_pack_b (chunk_b, cols, rows, cols, packed_b);
    accumulate_job job = { packed_a, packed_b, product, cols, rows };
    vq__parallel_for ((cols + TILE_ROWS - 1) / TILE_ROWS, n_threads, accumulate_task, &job);
    for (int64_t i = 0; i < cols * cols; i++)
      c[i] += product[i];
  }
  g_free (product);
  g_free (packed_b);
  g_free (packed_a);
  g_free (at);
}

void
vq__hessian_accumulate (double *h, int64_t cols, const float *x, int64_t n_rows, int n_threads)
{
  vq__cross_accumulate (h, cols, x, x, n_rows, n_threads);
}

gboolean
vq__prepared_hessian_init (vq__prepared_hessian *prepared, const double *h, int64_t cols,
                           double damp, int n_threads)
{
  prepared->cols = cols;
  prepared->damped = g_memdup2 (h, (gsize) (cols * cols) * sizeof (double));
  vq__hessian_damp (prepared->damped, cols, damp);
  prepared->u = g_memdup2 (prepared->damped, (gsize) (cols * cols) * sizeof (double));
  if (!vq__inverse_cholesky_upper (prepared->u, cols, n_threads)) {
    vq__prepared_hessian_clear (prepared);
    return FALSE;
  }
  return TRUE;
}

void
vq__prepared_hessian_clear (vq__prepared_hessian *prepared)
{
  g_free (prepared->damped);
  g_free (prepared->u);
  memset (prepared, 0, sizeof *prepared);
}

void
vq__prepared_hessian_pad (const vq__prepared_hessian *prepared, int64_t cols_p,
                          double **damped, double **u)
{
  int64_t cols = prepared->cols;
  *damped = vq__hessian_pad (prepared->damped, cols, cols_p);
  /* H_p = [H 0; 0 e I] gives H_p^-1 = [H^-1 0; 0 I/e], whose factor is
   * [U 0; 0 I/sqrt(e)] with e the padded diagonal vq__hessian_pad chose. */
  double *out = g_new0 (double, (gsize) (cols_p * cols_p));
  for (int64_t i = 0; i < cols; i++)
    memcpy (out + i * cols_p, prepared->u + i * cols, (size_t) cols * sizeof (double));
  for (int64_t i = cols; i < cols_p; i++)
    out[i * cols_p + i] = 1.0 / sqrt ((*damped)[i * cols_p + i]);
  *u = out;
}
