/* One layer's VQ state (codebook, codes, scales) and the measures shared by
 * every step: decoding, the output error E, and the plain nearest-codeword
 * assignment of the weight-space baseline. */
#include <float.h>
#include <math.h>
#include <string.h>

#include "vq_private.h"

void
vq__vq_layer_init (vq__vq_layer *layer, int64_t rows, int64_t cols, int32_t d, int32_t k)
{
  memset (layer, 0, sizeof *layer);
  layer->rows = rows;
  layer->cols = cols;
  layer->d = d;
  layer->k = k;
  layer->n_sub = (cols + d - 1) / d;
  layer->cols_p = layer->n_sub * d;
  layer->codebook = g_new0 (double, (gsize) (k * d));
  layer->codes = g_new0 (uint8_t, (gsize) (rows * layer->n_sub));
  layer->scales = g_new (double, (gsize) rows);
  for (int64_t o = 0; o < rows; o++)
    layer->scales[o] = 1.0;
}

void
vq__vq_layer_clear (vq__vq_layer *layer)
{
  g_free (layer->codebook);
  g_free (layer->codes);
  g_free (layer->scales);
  memset (layer, 0, sizeof *layer);
}

void
vq__vq_layer_decode (const vq__vq_layer *layer, double *out)
{
  int32_t d = layer->d;
  for (int64_t o = 0; o < layer->rows; o++) {
    double *row = out + o * layer->cols_p;
    for (int64_t b = 0; b < layer->n_sub; b++) {
      const double *c = layer->codebook + layer->codes[o * layer->n_sub + b] * d;
      for (int32_t i = 0; i < d; i++)
        row[b * d + i] = layer->scales[o] * c[i];
    }
  }
}

double *
vq__pad_rows (const float *w, int64_t rows, int64_t cols, int64_t cols_p)
{
  double *out = g_new0 (double, (gsize) (rows * cols_p));
  for (int64_t o = 0; o < rows; o++)
    for (int64_t j = 0; j < cols; j++)
      out[o * cols_p + j] = w[o * cols + j];
  return out;
}

void
vq__init_scales (vq__vq_layer *layer, const double *w)
{
  for (int64_t o = 0; o < layer->rows; o++) {
    double s = 0.0;
    for (int64_t j = 0; j < layer->cols; j++)
      s += w[o * layer->cols_p + j] * w[o * layer->cols_p + j];
    s = sqrt (s / (double) layer->cols);
    layer->scales[o] = s > 0.0 ? s : 1.0;
  }
}

void
vq__grid_init (vq__vq_layer *layer, const double *w)
{
  double half = layer->k / 2;
  for (int32_t i = 0; i < layer->k; i++)
    layer->codebook[i] = (i - half) / half;
  for (int64_t o = 0; o < layer->rows; o++) {
    double peak = 0.0;
    for (int64_t j = 0; j < layer->cols; j++)
      peak = MAX (peak, fabs (w[o * layer->cols_p + j]));
    layer->scales[o] = peak > 0.0 ? peak * half / (half - 1.0) : 1.0;
  }
}

double
vq__output_error (const vq__vq_layer *layer, const double *w, const double *h,
                  double *reference, int n_threads)
{
  int64_t n = layer->cols_p, count = layer->rows * n;
  double *e = g_new (double, (gsize) count);
  double *he = g_new (double, (gsize) count);
  vq__vq_layer_decode (layer, e);
  for (int64_t i = 0; i < count; i++)
    e[i] = w[i] - e[i];
  vq__multiply_by_h (e, layer->rows, h, n, he, n_threads);
  double err = 0.0;
  for (int64_t i = 0; i < count; i++)
    err += e[i] * he[i];
  if (reference) {
    vq__multiply_by_h (w, layer->rows, h, n, he, n_threads);
    double ref = 0.0;
    for (int64_t i = 0; i < count; i++)
      ref += w[i] * he[i];
    *reference = ref;
  }
  g_free (he);
  g_free (e);
  return err;
}

void
vq__assign_nearest (vq__vq_layer *layer, const double *w)
{
  int32_t d = layer->d;
  for (int64_t o = 0; o < layer->rows; o++) {
    for (int64_t b = 0; b < layer->n_sub; b++) {
      const double *x = w + o * layer->cols_p + b * d;
      /* Padding columns are never decoded, so they do not count. */
      int32_t live = (int32_t) MIN ((int64_t) d, layer->cols - b * d);
      double best = DBL_MAX;
      int32_t best_c = 0;
      for (int32_t c = 0; c < layer->k; c++) {
        const double *cw = layer->codebook + c * d;
        double dist = 0.0;
        for (int32_t i = 0; i < live; i++) {
          double e = x[i] / layer->scales[o] - cw[i];
          dist += e * e;
        }
        if (dist < best) {
          best = dist;
          best_c = c;
        }
      }
      layer->codes[o * layer->n_sub + b] = (uint8_t) best_c;
    }
  }
}
