/* Intersection over union and class-aware non-maximum suppression. */
#include "detect_private.h"

#include <math.h>

float
vq_iou (const vq_detection *a, const vq_detection *b)
{
  g_return_val_if_fail (a != NULL && b != NULL, 0.0f);
  float ix0 = MAX (a->x, b->x), iy0 = MAX (a->y, b->y);
  float ix1 = MIN (a->x + a->w, b->x + b->w), iy1 = MIN (a->y + a->h, b->y + b->h);
  float iw = ix1 - ix0, ih = iy1 - iy0;
  if (!(iw > 0.0f) || !(ih > 0.0f))
    return 0.0f;
  float inter = iw * ih;
  float uni = a->w * a->h + b->w * b->h - inter;
  /* Degenerate (zero-area or negative-size) boxes overlap nothing. */
  if (!(uni > 0.0f))
    return 0.0f;
  return inter / uni;
}

static int
compare_float_asc (float a, float b)
{
  return a < b ? -1 : a > b ? 1 : 0;
}

/* Highest confidence first (NaN last); ties by class id, then top, left,
 * height, width, so equal inputs in any order give the same output. */
static int
compare_detections (gconstpointer pa, gconstpointer pb)
{
  const vq_detection *a = pa, *b = pb;
  gboolean a_nan = isnan (a->confidence), b_nan = isnan (b->confidence);
  if (a_nan != b_nan)
    return a_nan ? 1 : -1;
  int r = compare_float_asc (b->confidence, a->confidence);
  if (r == 0)
    r = (a->class_id > b->class_id) - (a->class_id < b->class_id);
  if (r == 0)
    r = compare_float_asc (a->y, b->y);
  if (r == 0)
    r = compare_float_asc (a->x, b->x);
  if (r == 0)
    r = compare_float_asc (a->h, b->h);
  if (r == 0)
    r = compare_float_asc (a->w, b->w);
  return r;
}

/* Orders indices of the sorted detections by class, keeping rank order
 * within a class. */
static int
compare_by_class_data (gconstpointer pa, gconstpointer pb, gpointer data)
{
  const vq_detection *base = data;
  guint a = *(const guint *) pa, b = *(const guint *) pb;
  int32_t ca = base[a].class_id, cb = base[b].class_id;
  if (ca != cb)
    return ca < cb ? -1 : 1;
  return a < b ? -1 : a > b;
}

void
vq_nms (GArray *detections, float iou_threshold, int32_t max_detections)
{
  g_return_if_fail (detections != NULL);
  g_return_if_fail (g_array_get_element_size (detections) == sizeof (vq_detection));

  g_array_sort (detections, compare_detections);
  const guint n = detections->len;
  vq_detection *d = (vq_detection *) (void *) detections->data;

  /* Greedy: walk the boxes best first, keep a box unless a kept box of its
   * class overlaps it too much, stop at max_detections. Kept boxes are
   * chained per class, so a box is compared only with its own class (this
   * matters with a low threshold: hundreds of thousands of candidates over
   * 80 classes). Classes get dense slot numbers through a sort by class. */
  guint *order = g_new (guint, MAX (n, 1));
  guint *slot = g_new (guint, MAX (n, 1));
  for (guint i = 0; i < n; i++)
    order[i] = i;
  g_qsort_with_data (order, (gint) n, sizeof (guint), compare_by_class_data, d);
  guint n_slots = 0;
  for (guint k = 0; k < n; k++) {
    if (k > 0 && d[order[k]].class_id != d[order[k - 1]].class_id)
      n_slots++;
    slot[order[k]] = n_slots;
  }
  n_slots = n > 0 ? n_slots + 1 : 0;

  const guint none = G_MAXUINT;
  guint *head = g_new (guint, MAX (n_slots, 1)); /* last kept box of a class */
  guint *next = order;                           /* reused: kept-chain links */
  gboolean *keep = g_new0 (gboolean, MAX (n, 1));
  for (guint c = 0; c < n_slots; c++)
    head[c] = none;
  guint n_kept = 0;
  for (guint i = 0; i < n; i++) {
    if (max_detections > 0 && n_kept >= (guint) max_detections)
      break;
    gboolean suppressed = FALSE;
    for (guint k = head[slot[i]]; k != none && !suppressed; k = next[k])
      suppressed = vq_iou (&d[k], &d[i]) > iou_threshold;
    if (!suppressed) {
      next[i] = head[slot[i]];
      head[slot[i]] = i;
      keep[i] = TRUE;
      n_kept++;
    }
  }

  guint out = 0;
  for (guint i = 0; i < n; i++)
    if (keep[i])
      d[out++] = d[i];
  g_array_set_size (detections, out);
  g_free (order);
  g_free (slot);
  g_free (head);
  g_free (keep);
}
