/* Dense Cholesky factorisation, solves and the inverse factor that
 * GPTQ-style error feedback needs. Sizes here are at most a few thousand
 * (cin * kh * kw of one conv, or K * d for a codebook refit), so plain
 * cache-friendly loops over contiguous rows are fast enough; the triangular
 * inverse, the costliest part, runs its columns in parallel. */
#include <math.h>
#include <string.h>

#include "vq_private.h"

/* Dot product of contiguous vectors with four partial sums: the fixed
 * association keeps results identical from run to run while letting the
 * CPU overlap the additions. */
static double
dot (const double *a, const double *b, int64_t n)
{
  double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
  int64_t i = 0;
  for (; i + 4 <= n; i += 4) {
    s0 += a[i] * b[i];
    s1 += a[i + 1] * b[i + 1];
    s2 += a[i + 2] * b[i + 2];
    s3 += a[i + 3] * b[i + 3];
  }
  for (; i < n; i++)
    s0 += a[i] * b[i];
  return (s0 + s1) + (s2 + s3);
}

gboolean
vq__cholesky (double *a, int64_t n)
{
  for (int64_t i = 0; i < n; i++) {
    double *row_i = a + i * n;
    for (int64_t j = 0; j <= i; j++) {
      const double *row_j = a + j * n;
      double s = row_i[j] - dot (row_i, row_j, j);
      if (j == i) {
        if (!(s > 0.0) || !isfinite (s))
          return FALSE;
        row_i[i] = sqrt (s);
      } else {
        row_i[j] = s / row_j[j];
      }
    }
    memset (row_i + i + 1, 0, (size_t) (n - i - 1) * sizeof (double));
  }
  return TRUE;
}

void
vq__cholesky_solve (const double *l, int64_t n, double *b)
{
  /* L y = b, then L^T x = y. */
  for (int64_t i = 0; i < n; i++)
    b[i] = (b[i] - dot (l + i * n, b, i)) / l[i * n + i];
  for (int64_t i = n - 1; i >= 0; i--) {
    double s = b[i];
    for (int64_t k = i + 1; k < n; k++)
      s -= l[k * n + i] * b[k];
    b[i] = s / l[i * n + i];
  }
}

typedef struct {
  const double *l; /* lower factor */
  double *inverse; /* column-major result: column j at inverse + j * n */
  int64_t n;
} inverse_job;

/* Column j of L^-1 by forward substitution; entries above j are zero. */
static void
inverse_column (void *context, int64_t j, int thread_index)
{
  inverse_job *job = context;
  int64_t n = job->n;
  double *y = job->inverse + j * n;
  memset (y, 0, (size_t) n * sizeof (double));
  y[j] = 1.0 / job->l[j * n + j];
  for (int64_t i = j + 1; i < n; i++) {
    const double *row = job->l + i * n;
    y[i] = -dot (row + j, y + j, i - j) / row[i];
  }
}

gboolean
vq__inverse_cholesky_upper (double *a, int64_t n, int n_threads)
{
  /* With J the index reversal, factor J a J = L L^T. Then a = R R^T with
   * R = J L J upper triangular, so a^-1 = R^-T R^-1 and U = R^-1 =
   * J L^-1 J: one factorisation and one triangular inverse. */
  double *r = g_new (double, (gsize) (n * n));
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++)
      r[i * n + j] = a[(n - 1 - i) * n + (n - 1 - j)];
  if (!vq__cholesky (r, n)) {
    g_free (r);
    return FALSE;
  }
  double *inverse = g_new (double, (gsize) (n * n));
  inverse_job job = { r, inverse, n };
  vq__parallel_for (n, n_threads, inverse_column, &job);
  /* L^-1[i][j] is inverse[j * n + i]; U[i][j] = L^-1[n-1-i][n-1-j]. */
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++)
      a[i * n + j] = inverse[(n - 1 - j) * n + (n - 1 - i)];
  g_free (inverse);
  g_free (r);
  return TRUE;
}

#if defined(__x86_64__) && defined(__has_attribute)
#if __has_attribute(target_clones)
#define VQ_CLONES __attribute__ ((target_clones ("avx2", "default")))
#endif
#endif
#ifndef VQ_CLONES
#define VQ_CLONES
#endif

/* Rows of A per task: their rows of the product stay in cache while H
 * streams by once. */
#define PRODUCT_TILE 8

typedef struct {
  const double *a, *h;
  double *out;
  int64_t rows, n;
} product_job;

VQ_CLONES static void
product_tile (void *context, int64_t tile, int thread_index)
{
  product_job *job = context;
  int64_t n = job->n;
  int64_t r0 = tile * PRODUCT_TILE, r1 = MIN (r0 + PRODUCT_TILE, job->rows);
  memset (job->out + r0 * n, 0, (size_t) ((r1 - r0) * n) * sizeof (double));
  for (int64_t i = 0; i < n; i++) {
    const double *hi = job->h + i * n;
    for (int64_t r = r0; r < r1; r++) {
      double a = job->a[r * n + i];
      if (a == 0.0)
        continue;
      double *out = job->out + r * n;
      for (int64_t j = 0; j < n; j++)
        out[j] += a * hi[j];
    }
  }
}

void
vq__multiply_by_h (const double *a, int64_t rows, const double *h, int64_t n, double *out,
                   int n_threads)
{
  product_job job = { a, h, out, rows, n };
  vq__parallel_for ((rows + PRODUCT_TILE - 1) / PRODUCT_TILE, n_threads, product_tile, &job);
}
