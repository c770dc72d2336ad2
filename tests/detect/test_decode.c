/* vq_decode_outputs with the NanoDet GFL decoder on synthetic outputs. The
 * engine is a test double defined here (the test links vqcore's detect and
 * common parts only), so the decoder is tested on its own. */
#include <math.h>
#include <string.h>

#include "vqcore/detect.h"
#include "vqcore/error.h"

/* The fake engine: hands back whatever tensors the test put in it. */
#define N_OUT 6
struct vq_engine {
  vq_tensor_view views[N_OUT];
  float *buffers[N_OUT];
};

vq_tensor_view vq_engine_output (vq_engine *engine, uint32_t index);

vq_tensor_view
vq_engine_output (vq_engine *engine, uint32_t index)
{
  vq_tensor_view none = { { 0, { 0 } }, NULL };
  return index < N_OUT ? engine->views[index] : none;
}

/* A model whose outputs are listed out of level order on purpose: level l
 * reads scores from score_out[l] and boxes from box_out[l]. */
static const int32_t score_out[3] = { 4, 0, 2 };
static const int32_t box_out[3] = { 1, 5, 3 };

typedef struct {
  vq_model model;
  vq_engine engine;
  int32_t cells[3];
} fixture;

static void
fixture_init (fixture *fx, int32_t width, int32_t height, int32_t n_classes, int32_t reg_max,
              float base_score, guint32 seed)
{
  memset (fx, 0, sizeof *fx);
  vq_model *m = &fx->model;
  m->name = (char *) "synthetic";
  m->input = (vq_input_spec) { width, height, 3 };
  m->decoder.kind = VQ_DECODER_NANODET_GFL;
  m->decoder.num_classes = n_classes;
  m->decoder.reg_max = reg_max;
  m->decoder.n_levels = 3;
  m->decoder.score_threshold = 0.35f;
  m->decoder.nms_iou = 0.6f;
  m->decoder.max_detections = 100;
  m->graph = vq_graph_new ();

  GRand *rand = g_rand_new_with_seed (seed);
  const int32_t strides[3] = { 8, 16, 32 };
  const int32_t bins = reg_max + 1;
  for (int l = 0; l < 3; l++) {
    m->decoder.strides[l] = strides[l];
    m->decoder.score_outputs[l] = score_out[l];
    m->decoder.box_outputs[l] = box_out[l];
    int32_t cells = ((width + strides[l] - 1) / strides[l]) * ((height + strides[l] - 1) / strides[l]);
    fx->cells[l] = cells;
    vq_shape ss = vq_shape_make (3, (int32_t[]) { 1, cells, n_classes });
    vq_shape bs = vq_shape_make (3, (int32_t[]) { 1, cells, 4 * bins });
    float *scores = g_new (float, (size_t) cells * n_classes);
    float *boxes = g_new (float, (size_t) cells * 4 * bins);
    for (int64_t k = 0; k < (int64_t) cells * n_classes; k++)
      scores[k] = base_score < 0 ? (float) g_rand_double (rand) : base_score;
    for (int64_t k = 0; k < (int64_t) cells * 4 * bins; k++)
      boxes[k] = (float) g_rand_double_range (rand, -4.0, 4.0);
    fx->engine.views[score_out[l]] = (vq_tensor_view) { ss, scores };
    fx->engine.views[box_out[l]] = (vq_tensor_view) { bs, boxes };
    fx->engine.buffers[score_out[l]] = scores;
    fx->engine.buffers[box_out[l]] = boxes;
  }
  /* The graph only needs its output list for the decoder's range checks. */
  for (int o = 0; o < N_OUT; o++)
    vq_graph_add_output (m->graph, vq_graph_add_value (m->graph, "out",
                                                       &fx->engine.views[o].shape));
  g_rand_free (rand);
}

static void
fixture_clear (fixture *fx)
{
  for (int o = 0; o < N_OUT; o++)
    g_free (fx->engine.buffers[o]);
  vq_graph_free (fx->model.graph);
}

static float *
scores_of (fixture *fx, int level)
{
  return fx->engine.buffers[score_out[level]];
}

static float *
boxes_of (fixture *fx, int level)
{
  return fx->engine.buffers[box_out[level]];
}

/* The expected box of one cell, straight from the GFL formula in double. */
static void
expected_box (const float *logits, int bins, int32_t stride, int32_t grid_w, int32_t cell,
              double box[4])
{
  double dist[4];
  for (int side = 0; side < 4; side++) {
    const float *z = logits + side * bins;
    double sum = 0, expect = 0;
    for (int b = 0; b < bins; b++) {
      double e = exp (z[b]);
      sum += e;
      expect += e * b;
    }
    dist[side] = expect / sum * stride;
  }
  double cx = (cell % grid_w + 0.5) * stride, cy = (cell / grid_w + 0.5) * stride;
  box[0] = cx - dist[0];
  box[1] = cy - dist[1];
  box[2] = dist[0] + dist[2];
  box[3] = dist[1] + dist[3];
}

static void
assert_box (const vq_detection *d, const double box[4])
{
  g_assert_cmpfloat_with_epsilon (d->x, box[0], 1e-3);
  g_assert_cmpfloat_with_epsilon (d->y, box[1], 1e-3);
  g_assert_cmpfloat_with_epsilon (d->w, box[2], 1e-3);
  g_assert_cmpfloat_with_epsilon (d->h, box[3], 1e-3);
}

static GArray *
decode (fixture *fx, float threshold)
{
  vq_decode_options options;
  vq_decode_options_from_model (&options, &fx->model);
  options.score_threshold = threshold;
  GArray *out = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  GError *error = NULL;
  g_assert_true (vq_decode_outputs (&fx->model, &fx->engine, &options, out, &error));
  g_assert_no_error (error);
  return out;
}

static const vq_detection *
find_class (GArray *a, int32_t class_id)
{
  for (guint i = 0; i < a->len; i++)
    if (g_array_index (a, vq_detection, i).class_id == class_id)
      return &g_array_index (a, vq_detection, i);
  return NULL;
}

/* One hot cell at level 1 (stride 16, grid 5x3 for a 72x40 input): cell 7
 * is column 2, row 1. Two of its classes pass; both get the cell's box. */
static void
test_one_hot_cell (void)
{
  fixture fx;
  fixture_init (&fx, 72, 40, 3, 4, 0.01f, 1);
  scores_of (&fx, 1)[7 * 3 + 2] = 0.9f;
  scores_of (&fx, 1)[7 * 3 + 0] = 0.5f;
  scores_of (&fx, 1)[7 * 3 + 1] = 0.3f;
  GArray *out = decode (&fx, 0.4f);
  g_assert_cmpuint (out->len, ==, 2);
  double box[4];
  expected_box (boxes_of (&fx, 1) + 7 * 4 * 5, 5, 16, 5, 7, box);
  const vq_detection *a = find_class (out, 2), *b = find_class (out, 0);
  g_assert_nonnull (a);
  g_assert_nonnull (b);
  g_assert_cmpfloat (a->confidence, ==, 0.9f);
  g_assert_cmpfloat (b->confidence, ==, 0.5f);
  assert_box (a, box);
  assert_box (b, box);
  g_array_unref (out);
  fixture_clear (&fx);
}

/* A peaked distribution: all mass on bin 3 of every side gives distances of
 * exactly 3 strides. */
static void
test_peaked_distribution (void)
{
  fixture fx;
  fixture_init (&fx, 64, 64, 2, 7, 0.0f, 2);
  float *logits = boxes_of (&fx, 0) + 9 * 4 * 8; /* level 0, cell 9 = (1, 1) */
  for (int side = 0; side < 4; side++)
    for (int b = 0; b < 8; b++)
      logits[side * 8 + b] = b == 3 ? 60.0f : -60.0f;
  scores_of (&fx, 0)[9 * 2 + 1] = 0.8f;
  GArray *out = decode (&fx, 0.5f);
  g_assert_cmpuint (out->len, ==, 1);
  const vq_detection *d = &g_array_index (out, vq_detection, 0);
  g_assert_cmpint (d->class_id, ==, 1);
  /* Anchor (12, 12), 24 pixels each way. */
  g_assert_cmpfloat_with_epsilon (d->x, 12.0 - 24.0, 1e-4);
  g_assert_cmpfloat_with_epsilon (d->y, 12.0 - 24.0, 1e-4);
  g_assert_cmpfloat_with_epsilon (d->w, 48.0, 1e-4);
  g_assert_cmpfloat_with_epsilon (d->h, 48.0, 1e-4);
  g_array_unref (out);
  fixture_clear (&fx);
}

/* A score equal to the threshold passes, the next float below does not. */
static void
test_threshold (void)
{
  fixture fx;
  fixture_init (&fx, 72, 40, 3, 4, 0.01f, 3);
  scores_of (&fx, 0)[44 * 3 + 1] = 0.4f;
  scores_of (&fx, 0)[43 * 3 + 1] = nextafterf (0.4f, 0.0f);
  scores_of (&fx, 2)[0 * 3 + 0] = NAN; /* a broken model never passes */
  GArray *out = decode (&fx, 0.4f);
  g_assert_cmpuint (out->len, ==, 1);
  const vq_detection *d = &g_array_index (out, vq_detection, 0);
  double box[4];
  /* Cell 44 is the last of the 9x5 grid: column 8, row 4. */
  expected_box (boxes_of (&fx, 0) + 44 * 4 * 5, 5, 8, 9, 44, box);
  assert_box (d, box);
  g_array_unref (out);

  out = decode (&fx, 0.41f);
  g_assert_cmpuint (out->len, ==, 0);
  g_array_unref (out);
  /* A threshold of 0 takes every (cell, class): 3 x (45 + 15 + 6) minus the NaN. */
  out = decode (&fx, 0.0f);
  g_assert_cmpuint (out->len, ==, 3 * (45 + 15 + 6) - 1);
  g_array_unref (out);
  fixture_clear (&fx);
}

/* The last cell of every level: grids are ceil(72/s) x ceil(40/s), so the
 * anchors are (68, 36) at stride 8, (72, 40) at 16 and (80, 48) at 32. */
static void
test_levels (void)
{
  fixture fx;
  fixture_init (&fx, 72, 40, 3, 4, 0.01f, 4);
  const int32_t strides[3] = { 8, 16, 32 }, grid_w[3] = { 9, 5, 3 };
  const double anchors[3][2] = { { 68, 36 }, { 72, 40 }, { 80, 48 } };
  for (int l = 0; l < 3; l++)
    scores_of (&fx, l)[(fx.cells[l] - 1) * 3 + l] = 0.7f;
  GArray *out = decode (&fx, 0.5f);
  g_assert_cmpuint (out->len, ==, 3);
  for (int l = 0; l < 3; l++) {
    const vq_detection *d = find_class (out, l);
    g_assert_nonnull (d);
    int32_t cell = fx.cells[l] - 1;
    g_assert_cmpint ((cell % grid_w[l]) * strides[l] + strides[l] / 2, ==, (int) anchors[l][0]);
    g_assert_cmpint ((cell / grid_w[l]) * strides[l] + strides[l] / 2, ==, (int) anchors[l][1]);
    double box[4];
    expected_box (boxes_of (&fx, l) + (size_t) cell * 4 * 5, 5, strides[l], grid_w[l], cell,
                  box);
    assert_box (d, box);
  }
  g_array_unref (out);
  fixture_clear (&fx);
}

/* NanoDet's real configuration (416x416, 80 classes, reg_max 10) with random
 * scores, against a naive decoder: every (cell, class) in level, cell, class
 * order, box from the formula in double. */
static void
test_nanodet_shape_random (void)
{
  fixture fx;
  fixture_init (&fx, 416, 416, 80, 10, -1.0f, 5);
  g_assert_cmpint (fx.cells[0] + fx.cells[1] + fx.cells[2], ==, 3549);
  const float threshold = 0.995f;
  GArray *out = decode (&fx, threshold);
  const int32_t strides[3] = { 8, 16, 32 };
  guint k = 0;
  for (int l = 0; l < 3; l++) {
    int32_t grid_w = (416 + strides[l] - 1) / strides[l];
    for (int32_t cell = 0; cell < fx.cells[l]; cell++) {
      for (int32_t c = 0; c < 80; c++) {
        float s = scores_of (&fx, l)[(size_t) cell * 80 + c];
        if (s < threshold)
          continue;
        g_assert_cmpuint (k, <, out->len);
        const vq_detection *d = &g_array_index (out, vq_detection, k++);
        g_assert_cmpint (d->class_id, ==, c);
        g_assert_cmpfloat (d->confidence, ==, s);
        double box[4];
        expected_box (boxes_of (&fx, l) + (size_t) cell * 44, 11, strides[l], grid_w, cell, box);
        assert_box (d, box);
      }
    }
  }
  g_assert_cmpuint (k, ==, out->len);
  g_assert_cmpuint (k, >, 100); /* about 0.5% of 283920 */
  g_array_unref (out);
  fixture_clear (&fx);
}

static void
expect_decode_error (fixture *fx, gint code, const char *fragment)
{
  vq_decode_options options;
  vq_decode_options_from_model (&options, &fx->model);
  GArray *out = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  GError *error = NULL;
  g_assert_false (vq_decode_outputs (&fx->model, &fx->engine, &options, out, &error));
  g_assert_error (error, VQ_ERROR, code);
  if (fragment != NULL && strstr (error->message, fragment) == NULL)
    g_error ("message \"%s\" lacks \"%s\"", error->message, fragment);
  g_clear_error (&error);
  g_array_unref (out);
}

static void
test_decode_errors (void)
{
  fixture fx;
  fixture_init (&fx, 72, 40, 3, 4, 0.01f, 6);

  fx.model.decoder.kind = (vq_decoder_kind) 7;
  expect_decode_error (&fx, VQ_ERROR_UNSUPPORTED, "unknown decoder kind 7");
  fx.model.decoder.kind = VQ_DECODER_KIND_COUNT;
  expect_decode_error (&fx, VQ_ERROR_UNSUPPORTED, "decoder kind");
  fx.model.decoder.kind = VQ_DECODER_NANODET_GFL;

  /* A score tensor with one cell too few for level 0. */
  fx.engine.views[score_out[0]].shape.dims[1] = 44;
  expect_decode_error (&fx, VQ_ERROR_FORMAT, "level 0 score output 4 has shape [1, 44, 3]");
  fx.engine.views[score_out[0]].shape.dims[1] = 45;

  /* Box bins that do not match reg_max. */
  fx.model.decoder.reg_max = 5;
  expect_decode_error (&fx, VQ_ERROR_FORMAT, "level 0 box output 1");
  fx.model.decoder.reg_max = 200;
  expect_decode_error (&fx, VQ_ERROR_UNSUPPORTED, "reg_max");
  fx.model.decoder.reg_max = 4;

  fx.model.decoder.score_outputs[2] = 6;
  expect_decode_error (&fx, VQ_ERROR_FORMAT, "graph has 6");
  fx.model.decoder.score_outputs[2] = -1;
  expect_decode_error (&fx, VQ_ERROR_FORMAT, "level 2");
  fx.model.decoder.score_outputs[2] = score_out[2];

  fx.model.decoder.strides[1] = 0;
  expect_decode_error (&fx, VQ_ERROR_FORMAT, "stride 0");
  fx.model.decoder.strides[1] = 16;

  fx.model.decoder.n_levels = VQ_MAX_LEVELS + 1;
  expect_decode_error (&fx, VQ_ERROR_FORMAT, "levels");
  fx.model.decoder.n_levels = 3;

  fx.model.decoder.num_classes = 0;
  expect_decode_error (&fx, VQ_ERROR_UNSUPPORTED, "num_classes");
  fx.model.decoder.num_classes = 3;

  const float *keep = fx.engine.views[box_out[2]].data;
  fx.engine.views[box_out[2]].data = NULL;
  expect_decode_error (&fx, VQ_ERROR_FORMAT, "no data");
  fx.engine.views[box_out[2]].data = keep;

  /* A wrong element size in the output array. */
  vq_decode_options options;
  vq_decode_options_from_model (&options, &fx.model);
  GArray *wrong = g_array_new (FALSE, FALSE, sizeof (int));
  GError *error = NULL;
  g_assert_false (vq_decode_outputs (&fx.model, &fx.engine, &options, wrong, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);
  g_array_unref (wrong);

  /* After all that, the fixture decodes again. */
  GArray *out = decode (&fx, 0.0f);
  g_assert_cmpuint (out->len, ==, 3 * 66);
  g_array_unref (out);
  fixture_clear (&fx);
}

static void
test_options_from_model (void)
{
  fixture fx;
  fixture_init (&fx, 72, 40, 3, 4, 0.01f, 7);
  fx.model.decoder.score_threshold = 0.25f;
  fx.model.decoder.nms_iou = 0.45f;
  fx.model.decoder.max_detections = 17;
  vq_decode_options o = { -1, -1, -1 };
  vq_decode_options_from_model (&o, &fx.model);
  g_assert_cmpfloat (o.score_threshold, ==, 0.25f);
  g_assert_cmpfloat (o.nms_iou, ==, 0.45f);
  g_assert_cmpint (o.max_detections, ==, 17);
  fixture_clear (&fx);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/detect/decode/one-hot-cell", test_one_hot_cell);
  g_test_add_func ("/detect/decode/peaked-distribution", test_peaked_distribution);
  g_test_add_func ("/detect/decode/threshold", test_threshold);
  g_test_add_func ("/detect/decode/levels", test_levels);
  g_test_add_func ("/detect/decode/nanodet-random", test_nanodet_shape_random);
  g_test_add_func ("/detect/decode/errors", test_decode_errors);
  g_test_add_func ("/detect/decode/options-from-model", test_options_from_model);
  return g_test_run ();
}
