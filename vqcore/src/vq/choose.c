/* The budget allocator's choice of one candidate setting per conv, given
 * each candidate's distortion cost and bytes (budget.c measures them).
 *
 * Candidates on a shared codebook ("pools", one per d and K) are priced
 * without the codebook; the pool's codebook bytes are reserved from the
 * budget once while the pool is open. A pool that ends with fewer than two
 * members saves nothing over private codebooks, so it is closed (its
 * candidates withdrawn, its bytes released) and the choice is made again;
 * pools only close, so this ends after at most n_pools + 1 rounds. */
#include <math.h>
#include <string.h>

#include "vq_private.h"

/* One round: Pareto-prune each conv's open candidates, start at the
 * cheapest, then greedily take the upgrade with the best distortion saved
 * per extra byte that still fits. Returns the bytes used. */
static double
choose_round (const vq__budget_problem *p, const gboolean *open, double budget, int *choice)
{
  int n = p->n_candidates;
  double *cost = g_new (double, (gsize) p->n_convs * (gsize) n);
  double used = 0.0;
  for (uint32_t c = 0; c < p->n_convs; c++) {
    double *cc = cost + (gsize) c * (gsize) n;
    const double *bc = p->bytes + (gsize) c * (gsize) n;
    choice[c] = -1;
    if (!p->automatic[c])
      continue;
    for (int s = 0; s < n; s++)
      cc[s] = p->pool[s] >= 0 && !open[p->pool[s]] ? INFINITY
                                                   : p->cost[(gsize) c * (gsize) n + (gsize) s];
    /* Drop dominated candidates (another is no larger and no worse), so
     * that the walk below only moves along the Pareto front. */
    for (int s = 0; s < n; s++)
      for (int t = 0; t < n; t++)
        if (s != t && isfinite (cc[s]) && isfinite (cc[t]) && bc[t] <= bc[s] && cc[t] <= cc[s]
            && (bc[t] < bc[s] || cc[t] < cc[s]))
          cc[s] = INFINITY;
    for (int s = 0; s < n; s++)
      if (isfinite (cc[s]) && (choice[c] < 0 || bc[s] < bc[choice[c]]))
        choice[c] = s;
    if (choice[c] >= 0)
      used += bc[choice[c]];
  }

  for (;;) {
    double best_ratio = 0.0;
    int best_c = -1, best_s = -1;
    for (uint32_t c = 0; c < p->n_convs; c++) {
      if (choice[c] < 0)
        continue;
      const double *cc = cost + (gsize) c * (gsize) n;
      const double *bc = p->bytes + (gsize) c * (gsize) n;
      for (int s = 0; s < n; s++) {
        double extra = bc[s] - bc[choice[c]];
        double saved = cc[choice[c]] - cc[s];
        if (!isfinite (cc[s]) || saved <= 0.0 || used + extra > budget)
          continue;
        double ratio = extra > 0.0 ? saved / extra : INFINITY;
        if (ratio > best_ratio) {
          best_ratio = ratio;
          best_c = (int) c;
          best_s = s;
        }
      }
    }
    if (best_c < 0)
      break;
    const double *bc = p->bytes + (gsize) best_c * (gsize) n;
    used += bc[best_s] - bc[choice[best_c]];
    choice[best_c] = best_s;
  }
  g_free (cost);
  return used;
}

void
vq__budget_choose (const vq__budget_problem *p, int *choice)
{
  gboolean *open = g_new (gboolean, (gsize) MAX (p->n_pools, 1));
  int *members = g_new (int, (gsize) MAX (p->n_pools, 1));
  for (int q = 0; q < p->n_pools; q++)
    open[q] = TRUE;
  for (;;) {
    double reserved = 0.0;
    for (int q = 0; q < p->n_pools; q++)
      if (open[q])
        reserved += p->pool_bytes[q];
    choose_round (p, open, p->budget - reserved, choice);
    memset (members, 0, sizeof (int) * (gsize) MAX (p->n_pools, 1));
    for (uint32_t c = 0; c < p->n_convs; c++)
      if (choice[c] >= 0 && p->pool[choice[c]] >= 0)
        members[p->pool[choice[c]]]++;
    gboolean closed = FALSE;
    for (int q = 0; q < p->n_pools; q++)
      if (open[q] && members[q] < 2) {
        open[q] = FALSE;
        closed = TRUE;
      }
    if (!closed)
      break;
  }
  g_free (members);
  g_free (open);
}
