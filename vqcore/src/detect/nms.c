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

void
vq_nms (GArray *detections, float iou_threshold, int32_t max_detections)
{
  g_return_if_fail (detections != NULL);
  g_return_if_fail (g_array_get_element_size (detections) == sizeof (vq_detection));

  g_array_sort (detections, compare_detections);
  /* Greedy: walk in order, keep a box unless a kept box of its class
   * overlaps it too much. Kept boxes are compacted to the front. */
  guint kept = 0;
  vq_detection *d = (vq_detection *) (void *) detections->data;
  for (guint i = 0; i < detections->len; i++) {
    if (max_detections > 0 && kept >= (guint) max_detections)
      break;
    gboolean suppressed = FALSE;
    for (guint k = 0; k < kept && !suppressed; k++)
      suppressed = d[k].class_id == d[i].class_id && vq_iou (&d[k], &d[i]) > iou_threshold;
    if (!suppressed)
      d[kept++] = d[i];
  }
  g_array_set_size (detections, kept);
}
