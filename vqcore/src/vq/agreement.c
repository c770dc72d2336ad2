/* Agreement between two detectors: the reference model's detections (at or
 * above the score threshold) serve as ground truth for the candidate's
 * ranked detections. mAP@IoU uses COCO's matching (candidates in score
 * order, each taking the unmatched same-class reference box it overlaps
 * most, if at least `iou`) and COCO's 101-point interpolated AP, averaged
 * over the classes the reference contains. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vq_compress.h"

typedef struct {
  float score;
  int64_t order; /* arrival order: a deterministic tie-break */
  gboolean hit;
} scored_hit;

struct vq_agreement_builder {
  float iou, threshold;
  GHashTable *hits;      /* class id -> GArray of scored_hit */
  GHashTable *positives; /* class id -> reference box count */
  int64_t arrivals;
  int64_t reference_boxes, candidate_boxes, candidate_hits;
};

vq_agreement_builder *
vq_agreement_builder_new (float iou_threshold, float score_threshold)
{
  vq_agreement_builder *b = g_new0 (vq_agreement_builder, 1);
  b->iou = iou_threshold;
  b->threshold = score_threshold;
  b->hits = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL,
                                   (GDestroyNotify) g_array_unref);
  b->positives = g_hash_table_new (g_direct_hash, g_direct_equal);
  return b;
}

void
vq_agreement_builder_free (vq_agreement_builder *builder)
{
  if (builder == NULL)
    return;
  g_hash_table_unref (builder->hits);
  g_hash_table_unref (builder->positives);
  g_free (builder);
}

static int
by_confidence (const void *a, const void *b)
{
  const vq_detection *x = *(const vq_detection *const *) a;
  const vq_detection *y = *(const vq_detection *const *) b;
  if (x->confidence != y->confidence)
    return x->confidence > y->confidence ? -1 : 1;
  return x < y ? -1 : (x > y ? 1 : 0);
}

void
vq_agreement_builder_add_frame (vq_agreement_builder *b, const GArray *reference,
                                const GArray *candidate)
{
  guint n_ref = reference->len, n_cand = candidate->len;
  gboolean *taken = g_new0 (gboolean, MAX (n_ref, 1));
  for (guint r = 0; r < n_ref; r++) {
    const vq_detection *d = &g_array_index (reference, vq_detection, r);
    if (d->confidence < b->threshold) {
      taken[r] = TRUE; /* below the threshold: not ground truth */
      continue;
    }
    gpointer key = GINT_TO_POINTER (d->class_id);
    g_hash_table_insert (b->positives, key,
                         GINT_TO_POINTER (GPOINTER_TO_INT (g_hash_table_lookup (b->positives,
                                                                                key)) + 1));
    b->reference_boxes++;
  }
  const vq_detection **ranked = g_new (const vq_detection *, MAX (n_cand, 1));
  for (guint c = 0; c < n_cand; c++)
    ranked[c] = &g_array_index (candidate, vq_detection, c);
  qsort (ranked, n_cand, sizeof *ranked, by_confidence);
  for (guint c = 0; c < n_cand; c++) {
    const vq_detection *d = ranked[c];
    int best = -1;
    float best_iou = b->iou;
    for (guint r = 0; r < n_ref; r++) {
      const vq_detection *g = &g_array_index (reference, vq_detection, r);
      if (taken[r] || g->class_id != d->class_id)
        continue;
      float iou = vq_iou (d, g);
      if (iou >= best_iou) {
        best_iou = iou;
        best = (int) r;
      }
    }
    if (best >= 0)
      taken[best] = TRUE;
    GArray *hits = g_hash_table_lookup (b->hits, GINT_TO_POINTER (d->class_id));
    if (hits == NULL) {
      hits = g_array_new (FALSE, FALSE, sizeof (scored_hit));
      g_hash_table_insert (b->hits, GINT_TO_POINTER (d->class_id), hits);
    }
    scored_hit hit = { d->confidence, b->arrivals++, best >= 0 };
    g_array_append_val (hits, hit);
    if (d->confidence >= b->threshold) {
      b->candidate_boxes++;
      b->candidate_hits += best >= 0;
    }
  }
  g_free (ranked);
  g_free (taken);
}

static int
by_score (const void *a, const void *b)
{
  const scored_hit *x = a, *y = b;
  if (x->score != y->score)
    return x->score > y->score ? -1 : 1;
  return x->order < y->order ? -1 : (x->order > y->order ? 1 : 0);
}

/* COCO's AP: precision made monotone from the right, then sampled at
 * recall 0, 0.01, ..., 1. */
static double
average_precision (GArray *hits, int64_t positives)
{
  if (hits == NULL || hits->len == 0)
    return 0.0;
  qsort (hits->data, hits->len, sizeof (scored_hit), by_score);
  guint n = hits->len;
  double *precision = g_new (double, n);
  double *recall = g_new (double, n);
  int64_t tp = 0;
  for (guint i = 0; i < n; i++) {
    tp += g_array_index (hits, scored_hit, i).hit;
    precision[i] = (double) tp / (double) (i + 1);
    recall[i] = (double) tp / (double) positives;
  }
  for (guint i = n - 1; i > 0; i--)
    if (precision[i] > precision[i - 1])
      precision[i - 1] = precision[i];
  double sum = 0.0;
  guint i = 0;
  for (int t = 0; t <= 100; t++) {
    double r = t / 100.0;
    while (i < n && recall[i] < r - 1e-12)
      i++;
    if (i < n)
      sum += precision[i];
  }
  g_free (precision);
  g_free (recall);
  return sum / 101.0;
}

void
vq_agreement_builder_finish (vq_agreement_builder *b, vq_agreement *result)
{
  memset (result, 0, sizeof *result);
  GHashTableIter iter;
  gpointer key, value;
  double sum = 0.0;
  g_hash_table_iter_init (&iter, b->positives);
  while (g_hash_table_iter_next (&iter, &key, &value)) {
    sum += average_precision (g_hash_table_lookup (b->hits, key), GPOINTER_TO_INT (value));
    result->n_classes++;
  }
  result->map50 = result->n_classes > 0 ? sum / result->n_classes : -1.0;
  result->reference_boxes = b->reference_boxes;
  result->candidate_boxes = b->candidate_boxes;
  result->precision = b->candidate_boxes > 0
                        ? (double) b->candidate_hits / (double) b->candidate_boxes : 1.0;
  result->recall = b->reference_boxes > 0
                     ? (double) b->candidate_hits / (double) b->reference_boxes : 1.0;
}
