/* The quantizer's algorithms on small synthetic problems whose optimum is
 * known from the mathematics: Cholesky identities, k-means on points that
 * are exact copies of K vectors, zero gradients after the closed-form
 * refits, GPTVQ reducing to nearest-codeword rounding when H is diagonal and
 * beating it when inputs are correlated. */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "vq/vq_private.h"

/* A reproducible Gaussian from GLib's Mersenne Twister (Box-Muller). */
static double
gaussian (GRand *rand)
{
  double u1 = g_rand_double_range (rand, 1e-12, 1.0), u2 = g_rand_double (rand);
  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

/* Calibration-like inputs: n rows of cols correlated features x = z M. */
static float *
correlated_inputs (GRand *rand, int64_t n, int64_t cols, double mixing)
{
  double *m = g_new (double, (gsize) (cols * cols));
  for (int64_t i = 0; i < cols * cols; i++)
    m[i] = (i % (cols + 1) == 0 ? 1.0 : 0.0) + mixing * gaussian (rand);
  float *x = g_new (float, (gsize) (n * cols));
  double *z = g_new (double, (gsize) cols);
  for (int64_t r = 0; r < n; r++) {
    for (int64_t i = 0; i < cols; i++)
      z[i] = gaussian (rand);
    for (int64_t j = 0; j < cols; j++) {
      double s = 0.0;
      for (int64_t i = 0; i < cols; i++)
        s += z[i] * m[i * cols + j];
      x[r * cols + j] = (float) s;
    }
  }
  g_free (z);
  g_free (m);
  return x;
}

/* H = X^T X computed naively in double: the independent reference. */
static double *
naive_hessian (const float *x, int64_t n, int64_t cols)
{
  double *h = g_new0 (double, (gsize) (cols * cols));
  for (int64_t r = 0; r < n; r++)
    for (int64_t i = 0; i < cols; i++)
      for (int64_t j = 0; j < cols; j++)
        h[i * cols + j] += (double) x[r * cols + i] * x[r * cols + j];
  return h;
}

static double *
random_spd (GRand *rand, int64_t n)
{
  float *x = correlated_inputs (rand, 3 * n, n, 0.3);
  double *h = naive_hessian (x, 3 * n, n);
  g_free (x);
  return h;
}

static void
test_hessian_accumulate (void)
{
  GRand *rand = g_rand_new_with_seed (7);
  int64_t n = 700, cols = 45; /* not multiples of the tile or chunk sizes */
  float *x = correlated_inputs (rand, n, cols, 0.5);
  double *expected = naive_hessian (x, n, cols);
  double *h = g_new0 (double, (gsize) (cols * cols));
  vq__hessian_accumulate (h, cols, x, n / 2, 2);
  vq__hessian_accumulate (h, cols, x + (n / 2) * cols, n - n / 2, 1);
  for (int64_t i = 0; i < cols * cols; i++)
    g_assert_cmpfloat (fabs (h[i] - expected[i]), <=, 1e-4 * (1.0 + fabs (expected[i])));
  g_free (h);
  g_free (expected);
  g_free (x);
  g_rand_free (rand);
}

static void
test_cholesky (void)
{
  GRand *rand = g_rand_new_with_seed (3);
  int64_t n = 37;
  double *h = random_spd (rand, n);

  /* Solve H x = b and check the residual. */
  double *l = g_memdup2 (h, (gsize) (n * n) * sizeof (double));
  g_assert_true (vq__cholesky (l, n));
  double b[37], x[37];
  for (int64_t i = 0; i < n; i++)
    b[i] = x[i] = gaussian (rand);
  vq__cholesky_solve (l, n, x);
  for (int64_t i = 0; i < n; i++) {
    double s = 0.0;
    for (int64_t j = 0; j < n; j++)
      s += h[i * n + j] * x[j];
    g_assert_cmpfloat (fabs (s - b[i]), <, 1e-8 * (1.0 + fabs (b[i])));
  }

  /* U upper with U^T U = H^-1, i.e. U H U^T = I. */
  double *u = g_memdup2 (h, (gsize) (n * n) * sizeof (double));
  g_assert_true (vq__inverse_cholesky_upper (u, n, 2));
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < i; j++)
      g_assert_cmpfloat (u[i * n + j], ==, 0.0);
  for (int64_t i = 0; i < n; i++)
    for (int64_t j = 0; j < n; j++) {
      double s = 0.0;
      for (int64_t a = 0; a < n; a++)
        for (int64_t c = 0; c < n; c++)
          s += u[i * n + a] * h[a * n + c] * u[j * n + c];
      g_assert_cmpfloat (fabs (s - (i == j ? 1.0 : 0.0)), <, 1e-9);
    }

  /* Not positive definite: refused, not crashed. */
  double bad[4] = { 1.0, 2.0, 2.0, 1.0 };
  g_assert_false (vq__cholesky (bad, 2));
  g_free (u);
  g_free (l);
  g_free (h);
  g_rand_free (rand);
}

static void
test_kmeans_exact_clusters (void)
{
  /* 5 distinct 3-d vectors, each repeated: k = 5 must find them exactly
   * (zero cost), whatever the seeding picks first. */
  const double centres[5][3] = { { 0, 0, 0 }, { 4, 0, 1 }, { -3, 5, 2 }, { 1, -6, 0 },
                                 { 8, 8, -8 } };
  int64_t n = 5 * 40;
  double *points = g_new (double, (gsize) (n * 3));
  for (int64_t p = 0; p < n; p++)
    memcpy (points + p * 3, centres[(p * 7) % 5], sizeof centres[0]);
  double centroids[5 * 3];
  uint8_t *labels = g_new (uint8_t, (gsize) n);
  for (guint32 seed = 1; seed <= 4; seed++) {
    vq__kmeans_problem problem = { points, NULL, n, 3, 5, 20, seed, 2 };
    double cost = vq__kmeans (&problem, centroids, labels);
    g_assert_cmpfloat (cost, <, 1e-20);
    for (int c = 0; c < 5; c++) {
      gboolean found = FALSE;
      for (int t = 0; t < 5; t++)
        found |= memcmp (centroids + t * 3, centres[c], sizeof centres[0]) == 0;
      g_assert_true (found);
    }
    for (int64_t p = 0; p < n; p++)
      g_assert_cmpmem (centroids + labels[p] * 3, sizeof centres[0], points + p * 3,
                       sizeof centres[0]);
  }
  g_free (labels);
  g_free (points);
}

static void
test_kmeans_weighted_mean (void)
{
  /* One cluster: the optimum is the per-dimension weighted mean. */
  GRand *rand = g_rand_new_with_seed (11);
  int64_t n = 300;
  double *points = g_new (double, (gsize) (n * 2));
  double *weights = g_new (double, (gsize) (n * 2));
  double num[2] = { 0, 0 }, den[2] = { 0, 0 };
  for (int64_t i = 0; i < n * 2; i++) {
    points[i] = gaussian (rand);
    weights[i] = g_rand_double_range (rand, 0.1, 3.0);
    num[i % 2] += weights[i] * points[i];
    den[i % 2] += weights[i];
  }
  double centroid[2];
  vq__kmeans_problem problem = { points, weights, n, 2, 1, 5, 1, 1 };
  vq__kmeans (&problem, centroid, NULL);
  for (int i = 0; i < 2; i++)
    g_assert_cmpfloat (fabs (centroid[i] - num[i] / den[i]), <, 1e-12);
  g_free (points);
  g_free (weights);
  g_rand_free (rand);
}

/* A small layer: random weights, a random correlated Hessian. */
typedef struct {
  int64_t rows, cols;
  float *w;
  double *h;
} problem;

static problem
make_problem (guint32 seed, int64_t rows, int64_t cols, double mixing)
{
  GRand *rand = g_rand_new_with_seed (seed);
  problem p = { rows, cols, g_new (float, (gsize) (rows * cols)), NULL };
  for (int64_t i = 0; i < rows * cols; i++)
    p.w[i] = (float) (gaussian (rand) * (1.0 + (double) (i / cols % 3)));
  float *x = correlated_inputs (rand, 4 * cols, cols, mixing);
  p.h = naive_hessian (x, 4 * cols, cols);
  g_free (x);
  g_rand_free (rand);
  return p;
}

static void
problem_clear (problem *p)
{
  g_free (p->w);
  g_free (p->h);
}

static void
test_refit_is_least_squares (void)
{
  /* After the codebook refit, E is stationary in every codebook entry (zero
   * gradient, by central differences) and no single-entry move lowers it:
   * E is a convex quadratic in the codebook, so that is the exact optimum. */
  problem p = make_problem (5, 12, 10, 0.4); /* d = 3 leaves a padded block */
  vq__quantize_options options;
  vq__quantize_options_init (&options, 3, 6);
  options.method = VQ__METHOD_KMEANS;
  vq__vq_layer layer;
  g_assert_true (vq__quantize_layer (p.w, p.rows, p.cols, NULL, &options, &layer, NULL, NULL));
  double *w = vq__pad_rows (p.w, p.rows, p.cols, layer.cols_p);
  double *h = vq__hessian_pad (p.h, p.cols, layer.cols_p);
  double before = vq__output_error (&layer, w, h, NULL, 1);
  vq__vq_layer *layers[1] = { &layer };
  const double *ws[1] = { w }, *hs[1] = { h };
  g_assert_true (vq__refit_codebook (layers, ws, hs, NULL, 1, 2));
  double after = vq__output_error (&layer, w, h, NULL, 1);
  g_assert_cmpfloat (after, <, before);
  for (int64_t i = 0; i < layer.k * layer.d; i++) {
    double keep = layer.codebook[i], step = 1e-4 * (1.0 + fabs (keep));
    layer.codebook[i] = keep + step;
    double up = vq__output_error (&layer, w, h, NULL, 1);
    layer.codebook[i] = keep - step;
    double down = vq__output_error (&layer, w, h, NULL, 1);
    layer.codebook[i] = keep;
    g_assert_cmpfloat (up, >=, after * (1.0 - 1e-12));
    g_assert_cmpfloat (down, >=, after * (1.0 - 1e-12));
    double gradient = (up - down) / (2.0 * step);
    double curvature = (up + down - 2.0 * after) / (step * step);
    /* The gradient is tiny next to what one step of curvature would give. */
    g_assert_cmpfloat (fabs (gradient), <=, 1e-5 * (1.0 + curvature * (1.0 + fabs (keep))));
  }

  /* The scale refit: E is stationary in every scale too. */
  vq__refit_scales (&layer, w, h, 2);
  double base = vq__output_error (&layer, w, h, NULL, 1);
  for (int64_t o = 0; o < layer.rows; o++) {
    double keep = layer.scales[o], step = 1e-4 * fabs (keep);
    layer.scales[o] = keep + step;
    double up = vq__output_error (&layer, w, h, NULL, 1);
    layer.scales[o] = keep - step;
    double down = vq__output_error (&layer, w, h, NULL, 1);
    layer.scales[o] = keep;
    g_assert_cmpfloat (up, >=, base * (1.0 - 1e-12));
    g_assert_cmpfloat (down, >=, base * (1.0 - 1e-12));
  }
  g_free (w);
  g_free (h);
  vq__vq_layer_clear (&layer);
  problem_clear (&p);
}

static void
test_gptvq_diagonal_is_nearest (void)
{
  /* With a diagonal H, U is diagonal, nothing is fed back, and within a
   * block the metric is diagonal: for d = 1 GPTVQ must pick exactly the
   * nearest codeword. */
  problem p = make_problem (9, 10, 16, 0.0);
  int64_t n = p.cols;
  double *h = g_new0 (double, (gsize) (n * n));
  for (int64_t i = 0; i < n; i++)
    h[i * n + i] = 1.0 + (double) i;
  vq__quantize_options options;
  vq__quantize_options_init (&options, 1, 8);
  options.method = VQ__METHOD_KMEANS;
  vq__vq_layer layer;
  g_assert_true (vq__quantize_layer (p.w, p.rows, p.cols, NULL, &options, &layer, NULL, NULL));
  double *w = vq__pad_rows (p.w, p.rows, p.cols, layer.cols_p);
  uint8_t *nearest = g_memdup2 (layer.codes, (gsize) (layer.rows * layer.n_sub));
  double *u = g_memdup2 (h, (gsize) (n * n) * sizeof (double));
  g_assert_true (vq__inverse_cholesky_upper (u, n, 1));
  vq__assign_gptvq (&layer, w, u, 2);
  g_assert_cmpmem (layer.codes, layer.rows * layer.n_sub, nearest, layer.rows * layer.n_sub);
  g_free (u);
  g_free (nearest);
  g_free (w);
  g_free (h);
  vq__vq_layer_clear (&layer);
  problem_clear (&p);
}

/* p quantized with options' d and K by plain k-means and by the Hessian
 * method, with each one's relative output error. */
static void
quantize_both (const problem *p, vq__quantize_options *options, vq__vq_layer *plain,
               double *plain_rel, vq__vq_layer *hessian, double *hessian_rel)
{
  options->method = VQ__METHOD_KMEANS;
  g_assert_true (vq__quantize_layer (p->w, p->rows, p->cols, p->h, options, plain, plain_rel,
                                     NULL));
  options->method = VQ__METHOD_HESSIAN;
  g_assert_true (vq__quantize_layer (p->w, p->rows, p->cols, p->h, options, hessian,
                                     hessian_rel, NULL));
}

static void
test_gptvq_beats_nearest (void)
{
  /* Correlated inputs: with the same codebook and scales, the Hessian-aware
   * assignment gives a clearly smaller output error than nearest-codeword
   * rounding in weight space. */
  problem p = make_problem (13, 48, 36, 0.5);
  vq__quantize_options options;
  vq__quantize_options_init (&options, 4, 16);
  options.method = VQ__METHOD_KMEANS;
  vq__vq_layer layer;
  g_assert_true (vq__quantize_layer (p.w, p.rows, p.cols, NULL, &options, &layer, NULL, NULL));
  double *w = vq__pad_rows (p.w, p.rows, p.cols, layer.cols_p);
  double *h = vq__hessian_pad (p.h, p.cols, layer.cols_p);
  double *u = g_memdup2 (h, (gsize) (layer.cols_p * layer.cols_p) * sizeof (double));
  vq__hessian_damp (u, layer.cols_p, 0.01);
  g_assert_true (vq__inverse_cholesky_upper (u, layer.cols_p, 2));
  double nearest_error = vq__output_error (&layer, w, h, NULL, 1);
  vq__assign_gptvq (&layer, w, u, 2);
  double gptvq_error = vq__output_error (&layer, w, h, NULL, 1);
  g_test_message ("output error: nearest %.4g, GPTVQ %.4g", nearest_error, gptvq_error);
  g_assert_cmpfloat (gptvq_error, <, 0.9 * nearest_error);

  /* The whole Hessian method against plain k-means, same d and K. */
  double plain_rel, hessian_rel;
  vq__vq_layer plain, hessian;
  quantize_both (&p, &options, &plain, &plain_rel, &hessian, &hessian_rel);
  g_test_message ("relative output error: k-means %.4g, Hessian method %.4g", plain_rel,
                  hessian_rel);
  g_assert_cmpfloat (hessian_rel, <, 0.7 * plain_rel);
  vq__vq_layer_clear (&plain);
  vq__vq_layer_clear (&hessian);
  g_free (u);
  g_free (w);
  g_free (h);
  vq__vq_layer_clear (&layer);
  problem_clear (&p);
}

static void
test_d1_grid (void)
{
  /* d = 1 (an even, power-of-two K) quantizes on the grid (i - K/2) / (K/2)
   * that the Vulkan shaders compute instead of fetch: the codebook is
   * exactly that grid after every refit, plain rounding (scale at the row's
   * peak) never clips, so each weight is within half a step, s / K, of
   * its value, and the Hessian method's error feedback still beats it. */
  problem p = make_problem (17, 24, 27, 0.5);
  static const int32_t ks[] = {256, 16, 4};
  for (gsize i = 0; i < G_N_ELEMENTS (ks); i++) {
    int32_t k = ks[i];
    vq__quantize_options options;
    vq__quantize_options_init (&options, 1, k);
    double plain_rel, hessian_rel;
    vq__vq_layer plain, hessian;
    quantize_both (&p, &options, &plain, &plain_rel, &hessian, &hessian_rel);
    for (int32_t e = 0; e < k; e++) {
      double grid = (double) (e - k / 2) / (double) (k / 2);
      g_assert_cmpfloat (plain.codebook[e], ==, grid);
      g_assert_cmpfloat (hessian.codebook[e], ==, grid);
    }
    for (int64_t o = 0; o < p.rows; o++)
      for (int64_t j = 0; j < p.cols; j++) {
        double s = plain.scales[o];
        double decoded = s * plain.codebook[plain.codes[o * plain.n_sub + j]];
        g_assert_cmpfloat (fabs (p.w[o * p.cols + j] - decoded), <=, s / k * (1.0 + 1e-9));
      }
    g_test_message ("K = %d: relative output error, rounding %.4g, Hessian method %.4g", k,
                    plain_rel, hessian_rel);
    g_assert_cmpfloat (hessian_rel, <, plain_rel);
    vq__vq_layer_clear (&plain);
    vq__vq_layer_clear (&hessian);
  }
  problem_clear (&p);
}

static void
test_deterministic_across_threads (void)
{
  problem p = make_problem (17, 40, 27, 0.3);
  vq__quantize_options options;
  vq__quantize_options_init (&options, 3, 32);
  vq__vq_layer a, b;
  options.n_threads = 1;
  g_assert_true (vq__quantize_layer (p.w, p.rows, p.cols, p.h, &options, &a, NULL, NULL));
  options.n_threads = 3;
  g_assert_true (vq__quantize_layer (p.w, p.rows, p.cols, p.h, &options, &b, NULL, NULL));
  g_assert_cmpmem (a.codes, a.rows * a.n_sub, b.codes, b.rows * b.n_sub);
  g_assert_cmpmem (a.codebook, a.k * a.d * sizeof (double), b.codebook,
                   b.k * b.d * sizeof (double));
  g_assert_cmpmem (a.scales, a.rows * sizeof (double), b.scales, b.rows * sizeof (double));
  vq__vq_layer_clear (&a);
  vq__vq_layer_clear (&b);
  problem_clear (&p);
}

static void
test_bad_options (void)
{
  float w[4] = { 1, 2, 3, 4 };
  vq__quantize_options options;
  vq__quantize_options_init (&options, 2, 300);
  vq__vq_layer layer;
  GError *error = NULL;
  g_assert_false (vq__quantize_layer (w, 2, 2, NULL, &options, &layer, NULL, &error));
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "K = 300"));
  g_error_free (error);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vq/hessian/accumulate", test_hessian_accumulate);
  g_test_add_func ("/vq/linalg/cholesky", test_cholesky);
  g_test_add_func ("/vq/kmeans/exact-clusters", test_kmeans_exact_clusters);
  g_test_add_func ("/vq/kmeans/weighted-mean", test_kmeans_weighted_mean);
  g_test_add_func ("/vq/refit/least-squares", test_refit_is_least_squares);
  g_test_add_func ("/vq/assign/diagonal-is-nearest", test_gptvq_diagonal_is_nearest);
  g_test_add_func ("/vq/assign/gptvq-beats-nearest", test_gptvq_beats_nearest);
  g_test_add_func ("/vq/quantize/d1-grid", test_d1_grid);
  g_test_add_func ("/vq/quantize/deterministic", test_deterministic_across_threads);
  g_test_add_func ("/vq/quantize/bad-options", test_bad_options);
  return g_test_run ();
}
