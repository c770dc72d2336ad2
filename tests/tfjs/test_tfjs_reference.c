/* End to end against TF.js on real images: the imported NanoDet, run by the
 * CPU engine, must give TF.js's six outputs (max abs diff < 1e-3) and the
 * same detections. TF.js's outputs are decoded by a small GFL decoder
 * written here from the model description (not vqcore's), so the
 * detection check also cross-checks vq_decode_outputs. */
#include <math.h>
#include <string.h>

#include "media.h"
#include "test_util.h"
#include "tfjs_test_util.h"
#include "vqcore/vqcore.h"

#define OUTPUT_TOLERANCE 1e-3
#define BOX_TOLERANCE 0.5

/* NanoDet GFL decoding (see the shared model notes): per level, per cell,
 * per class whose score passes the threshold, a box from the expected
 * distances of four softmaxes over reg_max + 1 bins, around the cell
 * centre. Double precision throughout. */
static void
reference_decode (const vq_model *model, GPtrArray *outputs, float threshold, GArray *out)
{
  const vq_decoder *dec = &model->decoder;
  int bins = dec->reg_max + 1;
  for (uint32_t l = 0; l < dec->n_levels; l++) {
    int stride = dec->strides[l];
    int grid = (model->input.width + stride - 1) / stride;
    const float *scores = g_bytes_get_data (g_ptr_array_index (outputs, dec->score_outputs[l]), NULL);
    const float *boxes = g_bytes_get_data (g_ptr_array_index (outputs, dec->box_outputs[l]), NULL);
    int cells = grid * ((model->input.height + stride - 1) / stride);
    for (int i = 0; i < cells; i++)
      for (int c = 0; c < dec->num_classes; c++) {
        float score = scores[i * dec->num_classes + c];
        if (!(score >= threshold))
          continue;
        double side[4];
        for (int s = 0; s < 4; s++) {
          const float *logit = boxes + (i * 4 + s) * bins;
          double sum = 0.0, expect = 0.0;
          for (int b = 0; b < bins; b++) {
            double e = exp ((double) logit[b]);
            sum += e;
            expect += e * b;
          }
          side[s] = expect / sum * stride;
        }
        double cx = (i % grid + 0.5) * stride, cy = (i / grid + 0.5) * stride;
        vq_detection d = { .class_id = c, .confidence = score,
                           .x = (float) (cx - side[0]), .y = (float) (cy - side[1]),
                           .w = (float) (side[0] + side[2]), .h = (float) (side[1] + side[3]) };
        g_array_append_val (out, d);
      }
  }
}

/* Decodes the frame of `path` at `seconds` (0: the first frame) into the
 * model's input tensor. */
static float *
model_input (const vq_model *model, const char *path, double seconds)
{
  GError *error = NULL;
  vq_media_reader *reader = vq_media_reader_open (path, &error);
  g_assert_no_error (error);
  vq_media_frame frame;
  int got;
  while ((got = vq_media_reader_next (reader, &frame, &error)) == 1 && frame.pts + 1e-6 < seconds)
    ;
  g_assert_no_error (error);
  g_assert_cmpint (got, ==, 1);
  float *input = g_new (float, 3 * model->input.width * model->input.height);
  vq_letterbox mapping;
  g_assert_true (vq_preprocess_frame (&frame.frame, &model->input, &model->preprocess,
                                      model->preprocess.fit, input, &mapping, &error));
  g_assert_no_error (error);
  vq_media_reader_close (reader);
  return input;
}

static void
check_image (gconstpointer data)
{
  const char *spec = data; /* "file@seconds" */
  char **parts = g_strsplit (spec, "@", 2);
  char *image = vq_test_opencv_file (parts[0]);
  char *json = vq_test_cache_file ("nanodet.json");
  GError *error = NULL;
  vq_model *model = vq_tfjs_import_nanodet (json, &error);
  g_assert_no_error (error);
  float *input = model_input (model, image, parts[1] ? g_ascii_strtod (parts[1], NULL) : 0.0);
  gsize count = 3 * (gsize) model->input.width * model->input.height;

  double ms = 0.0;
  GPtrArray *expected = tfjs_run_reference (json, input, count, "wasm", &ms);
  g_test_message ("%s: TF.js (wasm) %.1f ms per frame", spec, ms);
  g_assert_cmpuint (expected->len, ==, model->graph->n_outputs);

  vq_engine_options options;
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_CPU;
  vq_engine *engine = vq_engine_new (model, &options, &error);
  g_assert_no_error (error);
  g_assert_true (vq_engine_run (engine, input, &error));
  g_assert_no_error (error);
  for (uint32_t o = 0; o < model->graph->n_outputs; o++) {
    vq_tensor_view view = vq_engine_output (engine, o);
    gsize size;
    const float *want = g_bytes_get_data (g_ptr_array_index (expected, o), &size);
    g_assert_cmpuint (size, ==, vq_shape_numel (&view.shape) * sizeof (float));
    double diff = tfjs_max_abs_diff (view.data, want, size / sizeof (float));
    g_test_message ("%s: output %u (%s) max abs diff %.3g", spec, o,
                    model->graph->values[model->graph->outputs[o]].name, diff);
    g_assert_cmpfloat (diff, <, OUTPUT_TOLERANCE);
  }

  vq_decode_options decode;
  vq_decode_options_from_model (&decode, model);
  GArray *ours = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  GArray *theirs = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  g_assert_true (vq_decode_outputs (model, engine, &decode, ours, &error));
  g_assert_no_error (error);
  reference_decode (model, expected, decode.score_threshold, theirs);
  vq_nms (ours, decode.nms_iou, decode.max_detections);
  vq_nms (theirs, decode.nms_iou, decode.max_detections);
  g_test_message ("%s: %u detections", spec, ours->len);
  g_assert_cmpuint (ours->len, >, 0);
  g_assert_cmpuint (ours->len, ==, theirs->len);
  for (guint i = 0; i < ours->len; i++) {
    const vq_detection *a = &g_array_index (ours, vq_detection, i);
    const vq_detection *b = &g_array_index (theirs, vq_detection, i);
    g_test_message ("  %s %.3f (%.1f, %.1f, %.1f, %.1f)", model->labels[a->class_id],
                    a->confidence, a->x, a->y, a->w, a->h);
    g_assert_cmpint (a->class_id, ==, b->class_id);
    g_assert_cmpfloat (fabs (a->confidence - b->confidence), <, OUTPUT_TOLERANCE);
    g_assert_cmpfloat (fabs (a->x - b->x), <, BOX_TOLERANCE);
    g_assert_cmpfloat (fabs (a->y - b->y), <, BOX_TOLERANCE);
    g_assert_cmpfloat (fabs (a->w - b->w), <, BOX_TOLERANCE);
    g_assert_cmpfloat (fabs (a->h - b->h), <, BOX_TOLERANCE);
  }

  g_array_unref (ours);
  g_array_unref (theirs);
  vq_engine_free (engine);
  g_ptr_array_unref (expected);
  g_free (input);
  vq_model_free (model);
  g_free (json);
  g_free (image);
  g_strfreev (parts);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_data_func ("/tfjs/reference/messi5", "messi5.jpg", check_image);
  g_test_add_data_func ("/tfjs/reference/basketball1", "basketball1.png", check_image);
  g_test_add_data_func ("/tfjs/reference/vtest-20s", "vtest.avi@20", check_image);
  return g_test_run ();
}
