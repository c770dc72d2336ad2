/* vq_iou and vq_nms on hand-built boxes. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "vqcore/detect.h"

static vq_detection
box (int32_t class_id, float confidence, float x, float y, float w, float h)
{
  return (vq_detection) { class_id, confidence, x, y, w, h };
}

static void
test_iou_known (void)
{
  vq_detection a = box (0, 1, 0, 0, 10, 10);
  vq_detection half = box (0, 1, 5, 0, 10, 10);    /* overlap 5x10 */
  vq_detection inner = box (0, 1, 2, 2, 5, 5);     /* inside a */
  vq_detection far = box (0, 1, 20, 20, 5, 5);     /* disjoint */
  vq_detection touch = box (0, 1, 10, 0, 10, 10);  /* shares an edge */
  vq_detection corner = box (0, 1, 5, 5, 10, 10);  /* overlap 5x5 */
  vq_detection empty = box (0, 1, 2, 2, 0, 5);

  g_assert_cmpfloat_with_epsilon (vq_iou (&a, &a), 1.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (vq_iou (&a, &half), 50.0 / 150.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (vq_iou (&half, &a), 50.0 / 150.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (vq_iou (&a, &inner), 25.0 / 100.0, 1e-6);
  g_assert_cmpfloat_with_epsilon (vq_iou (&a, &corner), 25.0 / 175.0, 1e-6);
  g_assert_cmpfloat (vq_iou (&a, &far), ==, 0.0);
  g_assert_cmpfloat (vq_iou (&a, &touch), ==, 0.0);
  g_assert_cmpfloat (vq_iou (&a, &empty), ==, 0.0);
  g_assert_cmpfloat (vq_iou (&empty, &empty), ==, 0.0);
}

static GArray *
array_of (const vq_detection *boxes, guint n)
{
  GArray *a = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  g_array_append_vals (a, boxes, n);
  return a;
}

#define DET(a, i) (&g_array_index ((a), vq_detection, (i)))

static void
test_nms_same_class_suppressed (void)
{
  vq_detection boxes[] = {
    box (0, 0.6f, 1, 0, 10, 10),   /* IoU with the best = 9/11 = 0.82 */
    box (0, 0.9f, 0, 0, 10, 10),
    box (0, 0.5f, 50, 50, 10, 10), /* far away */
    box (0, 0.4f, 5, 0, 10, 10),   /* IoU with the best = 1/3, kept at 0.5 */
  };
  GArray *a = array_of (boxes, G_N_ELEMENTS (boxes));
  vq_nms (a, 0.5f, 0);
  g_assert_cmpuint (a->len, ==, 3);
  g_assert_cmpfloat (DET (a, 0)->confidence, ==, 0.9f);
  g_assert_cmpfloat (DET (a, 1)->confidence, ==, 0.5f);
  g_assert_cmpfloat (DET (a, 2)->confidence, ==, 0.4f);
  g_array_unref (a);

  /* At a threshold of 0.3 the 1/3 overlap is suppressed too. */
  a = array_of (boxes, G_N_ELEMENTS (boxes));
  vq_nms (a, 0.3f, 0);
  g_assert_cmpuint (a->len, ==, 2);
  g_assert_cmpfloat (DET (a, 1)->confidence, ==, 0.5f);
  g_array_unref (a);
}

static void
test_nms_classes_independent (void)
{
  vq_detection boxes[] = {
    box (0, 0.9f, 0, 0, 10, 10),
    box (1, 0.8f, 0, 0, 10, 10), /* same box, other class: kept */
    box (0, 0.7f, 0, 0, 10, 10), /* same box, same class: dropped */
    box (2, 0.6f, 1, 1, 10, 10),
  };
  GArray *a = array_of (boxes, G_N_ELEMENTS (boxes));
  vq_nms (a, 0.5f, 0);
  g_assert_cmpuint (a->len, ==, 3);
  g_assert_cmpint (DET (a, 0)->class_id, ==, 0);
  g_assert_cmpint (DET (a, 1)->class_id, ==, 1);
  g_assert_cmpint (DET (a, 2)->class_id, ==, 2);
  g_array_unref (a);
}

static void
test_nms_greedy_chain (void)
{
  /* IoU(A, B) = 0.67, IoU(B, C) = 0.54, IoU(A, C) = 0.33. Greedy NMS
   * removes B (by A) and then keeps C, because only kept boxes suppress. */
  vq_detection boxes[] = {
    box (0, 0.9f, 0, 0, 10, 10),
    box (0, 0.8f, 2, 0, 10, 10),
    box (0, 0.7f, 5, 0, 10, 10),
  };
  GArray *a = array_of (boxes, G_N_ELEMENTS (boxes));
  vq_nms (a, 0.5f, 0);
  g_assert_cmpuint (a->len, ==, 2);
  g_assert_cmpfloat (DET (a, 0)->x, ==, 0.0);
  g_assert_cmpfloat (DET (a, 1)->x, ==, 5.0);
  g_array_unref (a);
}

static void
test_nms_max_detections (void)
{
  vq_detection boxes[8];
  for (int i = 0; i < 8; i++)
    boxes[i] = box (i % 3, 0.1f * (float) (i + 1), 20.0f * i, 0, 10, 10);
  GArray *a = array_of (boxes, 8);
  vq_nms (a, 0.5f, 3);
  g_assert_cmpuint (a->len, ==, 3);
  /* The three best survive, best first. */
  g_assert_cmpfloat (DET (a, 0)->confidence, ==, boxes[7].confidence);
  g_assert_cmpfloat (DET (a, 1)->confidence, ==, boxes[6].confidence);
  g_assert_cmpfloat (DET (a, 2)->confidence, ==, boxes[5].confidence);
  g_array_unref (a);

  a = array_of (boxes, 8);
  vq_nms (a, 0.5f, -1);
  g_assert_cmpuint (a->len, ==, 8);
  for (guint i = 1; i < a->len; i++)
    g_assert_cmpfloat (DET (a, i - 1)->confidence, >=, DET (a, i)->confidence);
  g_array_unref (a);

  a = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  vq_nms (a, 0.5f, 10);
  g_assert_cmpuint (a->len, ==, 0);
  g_array_unref (a);
}

/* Equal confidences are ordered by class, then top, then left; every input
 * order gives byte-identical output. */
static const vq_detection tie_boxes[5] = {
  { 3, 0.5f, 0, 0, 10, 10 },   { 1, 0.5f, 40, 20, 10, 10 }, { 1, 0.5f, 20, 20, 10, 10 },
  { 1, 0.5f, 60, 0, 10, 10 },  { 2, 0.7f, 100, 0, 10, 10 },
};

/* Runs NMS on every permutation of tie_boxes (recursively fixing position
 * k) and compares with the expected order; returns how many it ran. */
static int
check_permutations (vq_detection *perm, int k, const vq_detection *expected)
{
  if (k == 5) {
    GArray *a = array_of (perm, 5);
    vq_nms (a, 0.5f, 0);
    g_assert_cmpuint (a->len, ==, 5);
    g_assert_cmpmem (a->data, 5 * sizeof (vq_detection), expected, 5 * sizeof (vq_detection));
    g_array_unref (a);
    return 1;
  }
  int n = 0;
  for (int i = k; i < 5; i++) {
    vq_detection t = perm[k];
    perm[k] = perm[i];
    perm[i] = t;
    n += check_permutations (perm, k + 1, expected);
    perm[i] = perm[k];
    perm[k] = t;
  }
  return n;
}

static void
test_nms_deterministic_ties (void)
{
  const vq_detection *b = tie_boxes;
  const vq_detection expected[5] = { b[4], b[3], b[2], b[1], b[0] };
  vq_detection perm[5];
  memcpy (perm, tie_boxes, sizeof perm);
  g_assert_cmpint (check_permutations (perm, 0, expected), ==, 120);
}

static void
test_nms_nan_last (void)
{
  vq_detection boxes[] = {
    box (0, NAN, 0, 0, 10, 10),
    box (0, 0.2f, 50, 0, 10, 10),
  };
  GArray *a = array_of (boxes, 2);
  vq_nms (a, 0.5f, 0);
  g_assert_cmpuint (a->len, ==, 2);
  g_assert_cmpfloat (DET (a, 0)->confidence, ==, 0.2f);
  g_assert_true (isnan (DET (a, 1)->confidence));
  g_array_unref (a);
}

/* The textbook loop, written here independently: sort best first (with
 * the documented tie order), then keep a box unless an already kept box of
 * its class overlaps it by more than the threshold; stop at max. */
static int
naive_order (gconstpointer pa, gconstpointer pb)
{
  const vq_detection *a = pa, *b = pb;
  if (a->confidence != b->confidence)
    return a->confidence > b->confidence ? -1 : 1;
  if (a->class_id != b->class_id)
    return a->class_id < b->class_id ? -1 : 1;
  if (a->y != b->y)
    return a->y < b->y ? -1 : 1;
  if (a->x != b->x)
    return a->x < b->x ? -1 : 1;
  if (a->h != b->h)
    return a->h < b->h ? -1 : 1;
  return a->w < b->w ? -1 : a->w > b->w;
}

static GArray *
naive_nms (const vq_detection *boxes, guint n, float iou, int32_t max)
{
  vq_detection *sorted = g_memdup2 (boxes, n * sizeof *boxes);
  if (n > 0) /* qsort's pointer must not be NULL, even for zero elements */
    qsort (sorted, n, sizeof *sorted, (int (*) (const void *, const void *)) naive_order);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  for (guint i = 0; i < n && (max <= 0 || out->len < (guint) max); i++) {
    gboolean keep = TRUE;
    for (guint k = 0; k < out->len && keep; k++) {
      const vq_detection *o = DET (out, k);
      if (o->class_id != sorted[i].class_id)
        continue;
      /* IoU from corner coordinates, in double. */
      double ix = MIN (o->x + o->w, sorted[i].x + sorted[i].w) - MAX (o->x, sorted[i].x);
      double iy = MIN (o->y + o->h, sorted[i].y + sorted[i].h) - MAX (o->y, sorted[i].y);
      double inter = ix > 0 && iy > 0 ? ix * iy : 0;
      double uni = (double) o->w * o->h + (double) sorted[i].w * sorted[i].h - inter;
      keep = !(uni > 0 && inter / uni > iou);
    }
    if (keep)
      g_array_append_val (out, sorted[i]);
  }
  g_free (sorted);
  return out;
}

/* Random clustered boxes (many overlaps, repeated confidences) against the
 * naive loop, for several thresholds and limits. Box sides are integers
 * below 40, so an IoU is p / q with q < 1700, which differs from a
 * threshold of k / 10000 (when not equal) by at least 1 / (10000 q) > 5e-8:
 * more than float rounding, so float and double agree on every
 * comparison. */
static void
test_nms_matches_naive (void)
{
  GRand *rand = g_rand_new_with_seed (77);
  for (int round = 0; round < 40; round++) {
    guint n = (guint) g_rand_int_range (rand, 0, 400);
    vq_detection *boxes = g_new (vq_detection, MAX (n, 1));
    for (guint i = 0; i < n; i++) {
      float cx = (float) g_rand_int_range (rand, 0, 8) * 30.0f;
      boxes[i] = box (g_rand_int_range (rand, 0, 4),
                      (float) g_rand_int_range (rand, 1, 50) / 50.0f,
                      cx + (float) g_rand_int_range (rand, -8, 9),
                      (float) g_rand_int_range (rand, -8, 9),
                      (float) g_rand_int_range (rand, 10, 30), (float) g_rand_int_range (rand, 10, 30));
    }
    const float thresholds[] = { 0.3013f, 0.5013f, 0.7013f };
    const int32_t limits[] = { 0, 5, 100 };
    for (guint t = 0; t < G_N_ELEMENTS (thresholds); t++) {
      for (guint m = 0; m < G_N_ELEMENTS (limits); m++) {
        GArray *a = array_of (boxes, n);
        vq_nms (a, thresholds[t], limits[m]);
        GArray *expected = naive_nms (boxes, n, thresholds[t], limits[m]);
        g_assert_cmpuint (a->len, ==, expected->len);
        g_assert_cmpmem (a->data, a->len * sizeof (vq_detection), expected->data,
                         expected->len * sizeof (vq_detection));
        g_array_unref (a);
        g_array_unref (expected);
      }
    }
    g_free (boxes);
  }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect/nms/iou", test_iou_known);
  g_test_add_func ("/detect/nms/same-class", test_nms_same_class_suppressed);
  g_test_add_func ("/detect/nms/classes", test_nms_classes_independent);
  g_test_add_func ("/detect/nms/greedy-chain", test_nms_greedy_chain);
  g_test_add_func ("/detect/nms/max-detections", test_nms_max_detections);
  g_test_add_func ("/detect/nms/deterministic-ties", test_nms_deterministic_ties);
  g_test_add_func ("/detect/nms/nan-last", test_nms_nan_last);
  g_test_add_func ("/detect/nms/matches-naive", test_nms_matches_naive);
  return g_test_run ();
}
