/* vq_detector end to end: the real default model (the converted NanoDet in
 * the cache) on real frames: opencv-doc's vtest.avi at 20 s (frame 200,
 * pedestrians) and messi5.jpg, plus the errors a front end must report. */
#include <math.h>
#include <string.h>

#include "media.h"
#include "test_util.h"
#include "vqcore/detector.h"
#include "vqcore/error.h"

static vq_detector *shared_detector;

/* One detector for the whole program: loading and preparing the model is
 * the expensive part, and the tests below only change decode options. */
static vq_detector *
detector (void)
{
  if (shared_detector == NULL) {
    vq_detector_options options;
    vq_detector_options_init (&options);
    char *path = vq_test_cache_file ("nanodet.vqm");
    options.model_path = path;
    options.engine.backend = VQ_BACKEND_CPU;
    GError *error = NULL;
    shared_detector = vq_detector_new (&options, &error);
    g_assert_no_error (error);
    g_assert_nonnull (shared_detector);
    g_free (path);
  }
  return shared_detector;
}

/* A decoded frame, copied out of the reader so it outlives it. */
typedef struct {
  vq_frame frame;
  guint8 *planes[3];
} owned_frame;

static void
owned_frame_copy (owned_frame *dst, const vq_frame *src)
{
  memset (dst, 0, sizeof *dst);
  dst->frame = *src;
  for (int p = 0; p < 3; p++) {
    if (src->planes[p] == NULL)
      continue;
    /* Chroma planes of 4:2:0 formats have ceil(h / 2) rows. */
    int rows = p == 0 ? src->height : (src->height + 1) / 2;
    gsize size = (gsize) src->strides[p] * rows;
    dst->planes[p] = g_memdup2 (src->planes[p], size);
    dst->frame.planes[p] = dst->planes[p];
  }
}

static void
owned_frame_clear (owned_frame *f)
{
  for (int p = 0; p < 3; p++)
    g_free (f->planes[p]);
}

static void
read_frame (const char *name, int64_t index, owned_frame *out)
{
  char *path = vq_test_opencv_file (name);
  GError *error = NULL;
  vq_media_reader *reader = vq_media_reader_open (path, &error);
  g_assert_no_error (error);
  vq_media_frame mf;
  int r;
  while ((r = vq_media_reader_next (reader, &mf, &error)) == 1 && mf.index < index)
    ;
  g_assert_no_error (error);
  g_assert_cmpint (r, ==, 1);
  g_assert_cmpint (mf.index, ==, index);
  g_assert_true (vq_frame_validate (&mf.frame, &error));
  owned_frame_copy (out, &mf.frame);
  vq_media_reader_close (reader);
  g_free (path);
}

static GArray *
run (const vq_frame *frame)
{
  GArray *dets = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  GError *error = NULL;
  g_assert_true (vq_detector_run (detector (), frame, dets, &error));
  g_assert_no_error (error);
  return dets;
}

/* Boxes inside the frame, non-empty, best first; returns how many are
 * confident people. */
static int
check_detections (GArray *dets, const vq_frame *frame, float min_person_conf)
{
  int people = 0;
  for (guint i = 0; i < dets->len; i++) {
    const vq_detection *d = &g_array_index (dets, vq_detection, i);
    g_test_message ("%s %.3f at %.1f,%.1f %.1fx%.1f", vq_detector_label (detector (), d->class_id),
                    d->confidence, d->x, d->y, d->w, d->h);
    g_assert_cmpfloat (d->w, >, 0.0);
    g_assert_cmpfloat (d->h, >, 0.0);
    g_assert_cmpfloat (d->x, >=, 0.0);
    g_assert_cmpfloat (d->y, >=, 0.0);
    g_assert_cmpfloat (d->x + d->w, <=, frame->width + 1e-3);
    g_assert_cmpfloat (d->y + d->h, <=, frame->height + 1e-3);
    if (i > 0)
      g_assert_cmpfloat (g_array_index (dets, vq_detection, i - 1).confidence, >=, d->confidence);
    if (d->class_id == 0 && d->confidence >= min_person_conf)
      people++;
  }
  return people;
}

/* Frame 200 of vtest.avi and its detections with the model's defaults,
 * computed once: inference dominates the run time (especially under
 * AddressSanitizer), so tests share them. */
static owned_frame vtest_frame;
static GArray *vtest_detections;

static const vq_frame *
vtest (GArray **detections)
{
  if (vtest_detections == NULL) {
    read_frame ("vtest.avi", 200, &vtest_frame);
    vtest_detections = run (&vtest_frame.frame);
  }
  *detections = vtest_detections;
  return &vtest_frame.frame;
}

static void
test_vtest_pedestrians (void)
{
  GArray *dets;
  const vq_frame *frame = vtest (&dets);
  g_assert_cmpint (frame->width, ==, 768);
  g_assert_cmpint (frame->height, ==, 576);
  int people = check_detections (dets, frame, 0.5f);
  g_assert_cmpint (people, >=, 3);
  /* Walking people are taller than wide. */
  for (guint i = 0; i < dets->len; i++) {
    const vq_detection *d = &g_array_index (dets, vq_detection, i);
    if (d->class_id == 0 && d->confidence >= 0.5f)
      g_assert_cmpfloat (d->h, >, d->w);
  }

  /* The same frame again gives the same answer, bit for bit. */
  GArray *again = run (frame);
  g_assert_cmpuint (again->len, ==, dets->len);
  g_assert_cmpmem (again->data, again->len * sizeof (vq_detection), dets->data,
                   dets->len * sizeof (vq_detection));
  g_array_unref (again);
}

static void
test_messi_person (void)
{
  owned_frame f;
  read_frame ("messi5.jpg", 0, &f);
  GArray *dets = run (&f.frame);
  g_assert_cmpint (check_detections (dets, &f.frame, 0.5f), >=, 1);
  g_array_unref (dets);
  owned_frame_clear (&f);
}

static void
test_decode_options (void)
{
  GArray *all;
  const vq_frame *frame = vtest (&all);
  vq_detector *det = detector ();
  const vq_model *model = vq_detector_model (det);
  g_assert_cmpuint (all->len, >=, 3);

  vq_decode_options o = { -1.0f, -1.0f, 1 };
  vq_detector_set_decode_options (det, &o);
  GArray *one = run (frame);
  g_assert_cmpuint (one->len, ==, 1);
  g_assert_cmpmem (one->data, sizeof (vq_detection), all->data, sizeof (vq_detection));

  /* A threshold above every confidence found leaves nothing. */
  o = (vq_decode_options) { g_array_index (all, vq_detection, 0).confidence + 1e-3f, -1.0f, -1 };
  vq_detector_set_decode_options (det, &o);
  GArray *none = run (frame);
  g_assert_cmpuint (none->len, ==, 0);

  /* Negative fields restore the model's defaults. */
  o = (vq_decode_options) { -1.0f, -1.0f, -1 };
  vq_detector_set_decode_options (det, &o);
  GArray *back = run (frame);
  g_assert_cmpuint (back->len, ==, all->len);
  for (guint i = 0; i < back->len; i++)
    g_assert_cmpfloat (g_array_index (back, vq_detection, i).confidence, >=,
                       model->decoder.score_threshold);
  g_array_unref (one);
  g_array_unref (none);
  g_array_unref (back);
}

static void
test_labels (void)
{
  vq_detector *det = detector ();
  g_assert_cmpstr (vq_detector_label (det, 0), ==, "person");
  g_assert_cmpstr (vq_detector_label (det, 79), ==, "toothbrush");
  g_assert_cmpstr (vq_detector_label (det, 80), ==, "class-80");
  g_assert_cmpstr (vq_detector_label (det, -3), ==, "class--3");
  /* Interned: the same pointer every time. */
  g_assert_true (vq_detector_label (det, 1000) == vq_detector_label (det, 1000));
}

static void
test_errors (void)
{
  vq_detector_options options;
  vq_detector_options_init (&options);
  g_assert_cmpint (options.fit, ==, VQ_FIT_MODE_COUNT);
  g_assert_cmpfloat (options.decode.score_threshold, <, 0.0);
  options.model_path = "/nonexistent/dir/model.vqm";
  GError *error = NULL;
  g_assert_null (vq_detector_new (&options, &error));
  g_assert_nonnull (error);
  g_assert_true (error->domain == VQ_ERROR);
  g_assert_nonnull (strstr (error->message, "/nonexistent/dir/model.vqm"));
  g_clear_error (&error);

  /* A bad frame is reported, not crashed on. */
  guint8 px[12] = { 0 };
  vq_frame bad = { VQ_PIXEL_RGB, 4, 1, { px, NULL, NULL }, { 11, 0, 0 } };
  GArray *dets = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  g_assert_false (vq_detector_run (detector (), &bad, dets, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_assert_nonnull (strstr (error->message, "stride"));
  g_clear_error (&error);
  g_assert_cmpuint (dets->len, ==, 0);
  g_array_unref (dets);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect/detector/vtest-pedestrians", test_vtest_pedestrians);
  g_test_add_func ("/detect/detector/messi", test_messi_person);
  g_test_add_func ("/detect/detector/decode-options", test_decode_options);
  g_test_add_func ("/detect/detector/labels", test_labels);
  g_test_add_func ("/detect/detector/errors", test_errors);
  int status = g_test_run ();
  if (vtest_detections != NULL) {
    g_array_unref (vtest_detections);
    owned_frame_clear (&vtest_frame);
  }
  vq_detector_free (shared_detector);
  return status;
}
