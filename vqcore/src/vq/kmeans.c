/* Weighted k-means on d-dimensional points: k-means++ seeding from a fixed
 * seed, then Lloyd iterations. Used to initialise codebooks (with the
 * Hessian diagonal as per-dimension weights) and, unweighted, as the plain
 * weight-space baseline. */
#include <float.h>
#include <string.h>

#include "vq_private.h"

/* Points are processed in this many fixed chunks whatever the thread count,
 * and per-chunk sums are added in chunk order: results do not depend on
 * scheduling. */
#define N_CHUNKS 64

typedef struct {
  const vq__kmeans_problem *p;
  const double *centroids;
  uint8_t *labels;
  double *cost;      /* per point */
  double *sums;      /* N_CHUNKS x k x d: sum of w * x */
  double *weight_sums; /* N_CHUNKS x k x d: sum of w */
} lloyd_job;

static inline double
weighted_distance (const double *x, const double *w, const double *c, int32_t d)
{
  double s = 0.0;
  for (int32_t i = 0; i < d; i++) {
    double e = x[i] - c[i];
    s += (w ? w[i] : 1.0) * e * e;
  }
  return s;
}

static void
lloyd_chunk (void *context, int64_t chunk, int thread_index)
{
  lloyd_job *job = context;
  const vq__kmeans_problem *p = job->p;
  int32_t d = p->d, k = p->k;
  int64_t begin = p->n * chunk / N_CHUNKS, end = p->n * (chunk + 1) / N_CHUNKS;
  double *sums = job->sums + chunk * k * d;
  double *weight_sums = job->weight_sums + chunk * k * d;
  memset (sums, 0, (size_t) (k * d) * sizeof (double));
  memset (weight_sums, 0, (size_t) (k * d) * sizeof (double));
  for (int64_t n = begin; n < end; n++) {
    const double *x = p->points + n * d;
    const double *w = p->weights ? p->weights + n * d : NULL;
    double best = DBL_MAX;
    int32_t best_c = 0;
    for (int32_t c = 0; c < k; c++) {
      double dist = weighted_distance (x, w, job->centroids + c * d, d);
      if (dist < best) {
        best = dist;
        best_c = c;
      }
    }
    job->labels[n] = (uint8_t) best_c;
    job->cost[n] = best;
    for (int32_t i = 0; i < d; i++) {
      double wi = w ? w[i] : 1.0;
      sums[best_c * d + i] += wi * x[i];
      weight_sums[best_c * d + i] += wi;
    }
  }
}

/* k-means++: each next centroid is a point drawn with probability
 * proportional to its weighted distance to the nearest centroid so far. */
static void
seed_centroids (const vq__kmeans_problem *p, double *centroids, GRand *rand)
{
  int32_t d = p->d;
  double *nearest = g_new (double, (gsize) p->n);
  int64_t first = (int64_t) g_rand_int_range (rand, 0, (gint32) MIN (p->n, G_MAXINT32));
  memcpy (centroids, p->points + first * d, (size_t) d * sizeof (double));
  for (int64_t n = 0; n < p->n; n++)
    nearest[n] = weighted_distance (p->points + n * d, p->weights ? p->weights + n * d : NULL,
                                    centroids, d);
  for (int32_t c = 1; c < p->k; c++) {
    double total = 0.0;
    for (int64_t n = 0; n < p->n; n++)
      total += nearest[n];
    int64_t pick = 0;
    if (total > 0.0) {
      double target = g_rand_double (rand) * total, run = 0.0;
      for (pick = 0; pick < p->n - 1; pick++) {
        run += nearest[pick];
        if (run > target)
          break;
      }
    } else {
      pick = c % p->n; /* all points already covered: duplicates are harmless */
    }
    double *centroid = centroids + c * d;
    memcpy (centroid, p->points + pick * d, (size_t) d * sizeof (double));
    for (int64_t n = 0; n < p->n; n++) {
      double dist = weighted_distance (p->points + n * d,
                                       p->weights ? p->weights + n * d : NULL, centroid, d);
      if (dist < nearest[n])
        nearest[n] = dist;
    }
  }
  g_free (nearest);
}

double
vq__kmeans (const vq__kmeans_problem *p, double *centroids, uint8_t *labels)
{
  int32_t d = p->d, k = p->k;
  g_return_val_if_fail (k >= 1 && k <= 256 && d >= 1 && p->n >= 1, 0.0);
  GRand *rand = g_rand_new_with_seed (p->seed);
  seed_centroids (p, centroids, rand);

  lloyd_job job = { p, centroids, g_new (uint8_t, (gsize) p->n), g_new (double, (gsize) p->n),
                    g_new (double, (gsize) (N_CHUNKS * k * d)),
                    g_new (double, (gsize) (N_CHUNKS * k * d)) };
  double cost = 0.0;
  for (int32_t iteration = 0; iteration <= p->iterations; iteration++) {
    vq__parallel_for (N_CHUNKS, p->n_threads, lloyd_chunk, &job);
    cost = 0.0;
    for (int64_t n = 0; n < p->n; n++)
      cost += job.cost[n];
    if (iteration == p->iterations)
      break; /* the last pass only labels the points */
    for (int32_t c = 0; c < k; c++) {
      for (int32_t i = 0; i < d; i++) {
        double s = 0.0, w = 0.0;
        for (int chunk = 0; chunk < N_CHUNKS; chunk++) {
          s += job.sums[(chunk * k + c) * d + i];
          w += job.weight_sums[(chunk * k + c) * d + i];
        }
        if (w > 0.0)
          centroids[c * d + i] = s / w;
      }
    }
    /* An empty cluster takes over the worst-served point, so that no
     * codeword is wasted. */
    gboolean *used = g_new0 (gboolean, k);
    for (int64_t n = 0; n < p->n; n++)
      used[job.labels[n]] = TRUE;
    for (int32_t c = 0; c < k; c++) {
      if (used[c])
        continue;
      int64_t worst = 0;
      for (int64_t n = 1; n < p->n; n++)
        if (job.cost[n] > job.cost[worst])
          worst = n;
      if (job.cost[worst] <= 0.0)
        break;
      memcpy (centroids + c * d, p->points + worst * d, (size_t) d * sizeof (double));
      job.cost[worst] = 0.0;
    }
    g_free (used);
  }
  if (labels)
    memcpy (labels, job.labels, (size_t) p->n);
  g_free (job.labels);
  g_free (job.cost);
  g_free (job.sums);
  g_free (job.weight_sums);
  g_rand_free (rand);
  return cost;
}
