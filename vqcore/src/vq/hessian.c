/* The layer Hessian H = X^T X of calibration activations, and the
 * conditioning it needs before factorisation. */
#include <string.h>

#include "vq_private.h"

#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VQ_CLONES __attribute__ ((target_clones ("avx2", "default")))
#endif
#endif
#ifndef VQ_CLONES
#define VQ_CLONES
#endif

/* Rows of H per task, and calibration rows summed in float before they are
 * added into the double H: a 16 x cols float tile stays in L2 while the
 * chunk streams by, and 128-term float sums lose nothing that matters next
 * to the damping added afterwards. */
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
  double *h;
  int64_t cols;
  const float *x;
  int64_t n_rows;
} accumulate_job;

VQ_CLONES static void
accumulate_tile (float *tile, int64_t width, int64_t i0, int64_t rows_here, const float *x,
                 int64_t cols, int64_t r0, int64_t r1)
{
  for (int64_t r = r0; r < r1; r++) {
    const float *xr = x + r * cols + i0;
    for (int64_t ii = 0; ii < rows_here; ii++) {
      float a = xr[ii];
      if (a == 0.0f)
        continue; /* zero padding and dead activations are common */
      float *t = tile + ii * width;
      for (int64_t j = 0; j < width; j++)
        t[j] += a * xr[j];
    }
  }
}

static void
accumulate_task (void *context, int64_t task, int thread_index)
{
  accumulate_job *job = context;
  int64_t cols = job->cols;
  int64_t i0 = task * TILE_ROWS;
  int64_t rows_here = MIN (TILE_ROWS, cols - i0);
  int64_t width = cols - i0; /* the upper triangle from column i0 on */
  float *tile = g_new (float, (gsize) (TILE_ROWS * width));
  for (int64_t r0 = 0; r0 < job->n_rows; r0 += CHUNK) {
    memset (tile, 0, (size_t) (TILE_ROWS * width) * sizeof (float));
    accumulate_tile (tile, width, i0, rows_here, job->x, cols, r0, MIN (r0 + CHUNK, job->n_rows));
    for (int64_t ii = 0; ii < rows_here; ii++) {
      double *h = job->h + (i0 + ii) * cols + i0;
      const float *t = tile + ii * width;
      for (int64_t j = ii; j < width; j++)
        h[j] += t[j];
    }
  }
  g_free (tile);
}

void
vq__hessian_accumulate (double *h, int64_t cols, const float *x, int64_t n_rows, int n_threads)
{
  accumulate_job job = { h, cols, x, n_rows };
  /* Only the upper triangle is accumulated; mirror it afterwards. Tasks are
   * interleaved big/small by construction (row blocks near the top are the
   * widest), and claimed dynamically, which balances them well enough. */
  vq__parallel_for ((cols + TILE_ROWS - 1) / TILE_ROWS, n_threads, accumulate_task, &job);
  for (int64_t i = 0; i < cols; i++)
    for (int64_t j = 0; j < i; j++)
      h[i * cols + j] = h[j * cols + i];
}
