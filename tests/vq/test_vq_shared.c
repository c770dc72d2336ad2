/* Codebooks shared by several layers, on small synthetic problems: the joint
 * codebook refit solves the joint least-squares problem (checked against an
 * independent dense solve) and beats either member's own optimum, the
 * joint fit is deterministic and F16-exact, and the budget chooser opens a shared codebook
 * only when at least two layers use it and counts its bytes once. */
#include <math.h>
#include <string.h>

#include <glib.h>

#include "common/half.h"
#include "vq/vq_private.h"

static double
gaussian (GRand *rand)
{
  double u1 = g_rand_double_range (rand, 1e-12, 1.0), u2 = g_rand_double (rand);
  return sqrt (-2.0 * log (u1)) * cos (2.0 * G_PI * u2);
}

/* H = X^T X of 4n correlated rows of n features, in double. */
static double *
correlated_hessian (GRand *rand, int64_t n)
{
  double *m = g_new (double, (gsize) (n * n));
  for (int64_t i = 0; i < n * n; i++)
    m[i] = (i % (n + 1) == 0 ? 1.0 : 0.0) + 0.4 * gaussian (rand);
  double *h = g_new0 (double, (gsize) (n * n));
  double *x = g_new (double, (gsize) n), *z = g_new (double, (gsize) n);
  for (int64_t r = 0; r < 4 * n; r++) {
    for (int64_t i = 0; i < n; i++)
      z[i] = gaussian (rand);
    for (int64_t j = 0; j < n; j++) {
      x[j] = 0.0;
      for (int64_t i = 0; i < n; i++)
        x[j] += z[i] * m[i * n + j];
    }
    for (int64_t i = 0; i < n; i++)
      for (int64_t j = 0; j < n; j++)
        h[i * n + j] += x[i] * x[j];
  }
  g_free (x);
  g_free (z);
  g_free (m);
  return h;
}

/* Solves a x = b (n x n) by Gaussian elimination with partial pivoting:
 * independent of the Cholesky code under test. */
static void
gauss_solve (double *a, double *b, int64_t n)
{
  for (int64_t col = 0; col < n; col++) {
    int64_t pivot = col;
    for (int64_t r = col + 1; r < n; r++)
      if (fabs (a[r * n + col]) > fabs (a[pivot * n + col]))
        pivot = r;
    for (int64_t j = 0; j < n; j++) {
      double t = a[col * n + j];
      a[col * n + j] = a[pivot * n + j];
      a[pivot * n + j] = t;
    }
    double t = b[col];
    b[col] = b[pivot];
    b[pivot] = t;
    g_assert_cmpfloat (fabs (a[col * n + col]), >, 0.0);
    for (int64_t r = col + 1; r < n; r++) {
      double f = a[r * n + col] / a[col * n + col];
      for (int64_t j = col; j < n; j++)
        a[r * n + j] -= f * a[col * n + j];
      b[r] -= f * b[col];
    }
  }
  for (int64_t r = n - 1; r >= 0; r--) {
    double s = b[r];
    for (int64_t j = r + 1; j < n; j++)
      s -= a[r * n + j] * b[j];
    b[r] = s / a[r * n + r];
  }
}

typedef struct {
  vq__vq_layer layer;
  double *w, *h; /* padded */
} member;

/* A layer of rows x cols random weights with codes covering every
 * codeword, scales far from 1 and its own correlated Hessian. */
static void
member_init (member *m, GRand *rand, int64_t rows, int64_t cols, int32_t d, int32_t k)
{
  vq__vq_layer_init (&m->layer, rows, cols, d, k);
  int64_t n = m->layer.cols_p;
  float *w = g_new (float, (gsize) (rows * cols));
  for (int64_t i = 0; i < rows * cols; i++)
    w[i] = (float) gaussian (rand);
  m->w = vq__pad_rows (w, rows, cols, n);
  g_free (w);
  double *h = correlated_hessian (rand, cols);
  m->h = vq__hessian_pad (h, cols, n);
  g_free (h);
  for (int64_t o = 0; o < rows; o++) {
    m->layer.scales[o] = 0.5 + 0.3 * (double) o;
    for (int64_t b = 0; b < m->layer.n_sub; b++)
      m->layer.codes[o * m->layer.n_sub + b] = (uint8_t) ((o * 3 + b) % k);
  }
  for (int64_t i = 0; i < (int64_t) k * d; i++)
    m->layer.codebook[i] = gaussian (rand);
}

static void
member_clear (member *m)
{
  vq__vq_layer_clear (&m->layer);
  g_free (m->w);
  g_free (m->h);
}

static void
test_joint_refit_is_joint_least_squares (void)
{
  /* Two layers of different widths (one padded), Hessians and weights
   * lambda share a d = 3, K = 4 codebook. The decoded rows are linear in
   * the K*d codewords, w^_o = s_o M_o c, so the joint optimum solves
   *   sum_L lambda_L sum_o s_o^2 M_o^T H_L M_o c = sum_L lambda_L sum_o s_o M_o^T H_L w_o,
   * built here from explicit M_o and solved by Gaussian elimination. */
  GRand *rand = g_rand_new_with_seed (5);
  const int32_t d = 3, k = 4;
  const int64_t kd = (int64_t) k * d;
  member m[2];
  member_init (&m[0], rand, 5, 12, d, k);
  member_init (&m[1], rand, 4, 10, d, k);
  memcpy (m[1].layer.codebook, m[0].layer.codebook, (size_t) kd * sizeof (double));
  double lambda[2] = { 0.7, 1.9 };

  double *a = g_new0 (double, (gsize) (kd * kd)), *rhs = g_new0 (double, (gsize) kd);
  for (int l = 0; l < 2; l++) {
    const vq__vq_layer *layer = &m[l].layer;
    int64_t n = layer->cols_p;
    double *mo = g_new (double, (gsize) (n * kd)), *hm = g_new (double, (gsize) (n * kd));
    for (int64_t o = 0; o < layer->rows; o++) {
      memset (mo, 0, (size_t) (n * kd) * sizeof (double));
      for (int64_t b = 0; b < layer->n_sub; b++)
        for (int32_t i = 0; i < d; i++)
          mo[(b * d + i) * kd + layer->codes[o * layer->n_sub + b] * d + i] = layer->scales[o];
      for (int64_t r = 0; r < n; r++) /* hm = H M */
        for (int64_t u = 0; u < kd; u++) {
          double s = 0.0;
          for (int64_t t = 0; t < n; t++)
            s += m[l].h[r * n + t] * mo[t * kd + u];
          hm[r * kd + u] = s;
        }
      for (int64_t u = 0; u < kd; u++) {
        for (int64_t v = 0; v < kd; v++) {
          double s = 0.0;
          for (int64_t r = 0; r < n; r++)
            s += mo[r * kd + u] * hm[r * kd + v];
          a[u * kd + v] += lambda[l] * s;
        }
        double s = 0.0;
        for (int64_t r = 0; r < n; r++)
          s += hm[r * kd + u] * m[l].w[o * n + r];
        rhs[u] += lambda[l] * s;
      }
    }
    g_free (mo);
    g_free (hm);
  }
  gauss_solve (a, rhs, kd);

  vq__vq_layer *layers[2] = { &m[0].layer, &m[1].layer };
  const double *ws[2] = { m[0].w, m[1].w }, *hs[2] = { m[0].h, m[1].h };
  double before = lambda[0] * vq__output_error (layers[0], ws[0], hs[0], NULL, 1)
                  + lambda[1] * vq__output_error (layers[1], ws[1], hs[1], NULL, 1);
  g_assert_true (vq__refit_codebook (layers, ws, hs, lambda, 2, 2));
  double scale = 0.0;
  for (int64_t i = 0; i < kd; i++)
    scale = MAX (scale, fabs (rhs[i]));
  for (int64_t i = 0; i < kd; i++) {
    /* Both members hold the same codebook, the exact joint solution (up
     * to the refit's 1e-7 ridge). */
    g_assert_cmpfloat (m[0].layer.codebook[i], ==, m[1].layer.codebook[i]);
    g_assert_cmpfloat (fabs (m[0].layer.codebook[i] - rhs[i]), <=, 1e-5 * scale);
  }
  double after = lambda[0] * vq__output_error (layers[0], ws[0], hs[0], NULL, 1)
                 + lambda[1] * vq__output_error (layers[1], ws[1], hs[1], NULL, 1);
  g_assert_cmpfloat (after, <, before);

  /* The joint optimum is not either member's own optimum: refitting to one
   * layer alone gives a codebook with a larger joint error. */
  double joint[12];
  memcpy (joint, m[0].layer.codebook, sizeof joint);
  for (int l = 0; l < 2; l++) {
    vq__vq_layer *one[1] = { layers[l] };
    g_assert_true (vq__refit_codebook (one, &ws[l], &hs[l], NULL, 1, 1));
    memcpy (layers[1 - l]->codebook, layers[l]->codebook, sizeof joint);
    double alone = lambda[0] * vq__output_error (layers[0], ws[0], hs[0], NULL, 1)
                   + lambda[1] * vq__output_error (layers[1], ws[1], hs[1], NULL, 1);
    g_assert_cmpfloat (alone, >, after);
    memcpy (layers[0]->codebook, joint, sizeof joint);
    memcpy (layers[1]->codebook, joint, sizeof joint);
  }
  g_free (a);
  g_free (rhs);
  member_clear (&m[0]);
  member_clear (&m[1]);
  g_rand_free (rand);
}

/* Three convs; candidates: 0 cheap (30 bytes, cost 5), 1 private codebook
 * (100 bytes, 40 of them its codebook, cost 1), 2 the same d and K on
 * pool 0 (60 bytes, cost 1.1; the pool's codebook is 40 bytes). */
static void
choose (double budget, int *choice)
{
  double cost[9], bytes[9];
  for (int c = 0; c < 3; c++) {
    cost[c * 3 + 0] = 5.0;
    bytes[c * 3 + 0] = 30.0;
    cost[c * 3 + 1] = 1.0;
    bytes[c * 3 + 1] = 100.0;
    cost[c * 3 + 2] = 1.1;
    bytes[c * 3 + 2] = 60.0;
  }
  gboolean automatic[3] = { TRUE, TRUE, TRUE };
  int pool[3] = { -1, -1, 0 };
  double pool_bytes[1] = { 40.0 };
  vq__budget_problem problem = { 3, 3, cost, bytes, automatic, pool, pool_bytes, 1, budget };
  vq__budget_choose (&problem, choice);
}

static void
test_budget_shares_when_it_pays (void)
{
  /* 200 bytes: two convs on the shared codebook and one cheap (2 x 60 +
   * 30 + 40 = 190 bytes, cost 7.2) beat the best private mix (one private
   * and two cheap, 160 bytes, cost 11). */
  int choice[3];
  choose (200.0, choice);
  int shared = 0, bytes = 0;
  for (int c = 0; c < 3; c++) {
    shared += choice[c] == 2;
    bytes += choice[c] == 0 ? 30 : choice[c] == 1 ? 100 : 60;
  }
  g_assert_cmpint (shared, ==, 2);
  g_assert_cmpint (bytes + 40, <=, 200);

  /* 165 bytes: with the codebook reserved only one conv fits on the pool,
   * which then saves nothing; the pool closes and the freed bytes buy one
   * private codebook instead (100 + 30 + 30). */
  choose (165.0, choice);
  int private = 0;
  shared = 0;
  for (int c = 0; c < 3; c++) {
    shared += choice[c] == 2;
    private += choice[c] == 1;
  }
  g_assert_cmpint (shared, ==, 0);
  g_assert_cmpint (private, ==, 1);
}

static void
test_shared_fit (void)
{
  /* Two members fitted jointly (seed + 3 rounds): the codewords are
   * F16-exact, the result does not depend on the thread count, and a
   * member quantized against it keeps it as it is. */
  GRand *rand = g_rand_new_with_seed (9);
  vq__conv_entry convs[2];
  memset (convs, 0, sizeof convs);
  int64_t shapes[2][2] = { { 12, 18 }, { 9, 10 } };
  for (int c = 0; c < 2; c++) {
    convs[c].rows = shapes[c][0];
    convs[c].cols = shapes[c][1];
    convs[c].weights = g_new (float, (gsize) (convs[c].rows * convs[c].cols));
    for (int64_t i = 0; i < convs[c].rows * convs[c].cols; i++)
      convs[c].weights[i] = (float) ((1.0 + c) * gaussian (rand));
    convs[c].reference.h = correlated_hessian (rand, convs[c].cols);
    convs[c].sensitivity = c + 1.0;
  }
  uint32_t members[2] = { 0, 1 };
  double *codebooks[3];
  for (int run = 0; run < 3; run++) {
    vq_layer_setting setting = { VQ_LAYER_VQ, 2, 8, 1 };
    vq__shared_codebook shared = { 1, setting, members, 2, NULL, -1 };
    vq__quantize_options options;
    vq__quantize_options_init (&options, 2, 8);
    options.rounds = run == 0 ? 0 : 3;
    options.n_threads = run == 2 ? 3 : 1;
    g_assert_true (vq__shared_codebook_fit (&shared, convs, &options, NULL));
    codebooks[run] = shared.codebook;
    for (int i = 0; i < 16; i++) /* stored as F16: exactly what the blob holds */
      g_assert_cmpfloat (shared.codebook[i], ==,
                         vq__half_to_float (vq__float_to_half ((float) shared.codebook[i])));
  }
  g_assert_cmpmem (codebooks[1], 16 * sizeof (double), codebooks[2], 16 * sizeof (double));

  /* Each member quantized against the fitted codebook: a real fit (a
   * finite error well below that of all-zero weights). */
  for (int c = 0; c < 2; c++) {
    vq__quantize_options options;
    vq__quantize_options_init (&options, 2, 8);
    options.fixed_codebook = codebooks[1];
    vq__vq_layer layer;
    double rel = 0.0;
    g_assert_true (vq__quantize_layer (convs[c].weights, convs[c].rows, convs[c].cols,
                                       convs[c].reference.h, &options, &layer, &rel, NULL));
    g_assert_cmpfloat (rel, >, 0.0);
    g_assert_cmpfloat (rel, <, 0.5);
    g_assert_cmpmem (layer.codebook, 16 * sizeof (double), codebooks[1], 16 * sizeof (double));
    vq__vq_layer_clear (&layer);
  }
  for (int run = 0; run < 3; run++)
    g_free (codebooks[run]);
  for (int c = 0; c < 2; c++) {
    g_free (convs[c].weights);
    g_free (convs[c].reference.h);
  }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vq/shared/joint-refit-is-least-squares",
                   test_joint_refit_is_joint_least_squares);
  g_test_add_func ("/vq/shared/budget-shares-when-it-pays", test_budget_shares_when_it_pays);
  g_test_add_func ("/vq/shared/fit", test_shared_fit);
  return g_test_run ();
}
