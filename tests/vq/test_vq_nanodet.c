/* The compressor on the real NanoDet with real calibration frames
 * (vtest.avi frames 400 and later; frame 200 is held out): the result is a
 * VQ model of about 2 bits per weight, saves and loads, decodes to exactly
 * its codebook lookups, and still finds the pedestrians of frame 200 that
 * the float model finds. */
#include <string.h>

#include <glib.h>
#include <glib/gstdio.h>

#include "media.h"
#include "test_util.h"
#include "vq/vq_compress.h"
#include "vqcore/vqcore.h"

#define PERSON 0

/* Decodes frame `index` of `path` into `out` (its preprocessed tensor). */
static float *
tensor_of_frame (const vq_model *model, const char *path, int64_t index)
{
  GError *error = NULL;
  vq_media_reader *reader = vq_media_reader_open (path, &error);
  g_assert_no_error (error);
  vq_media_frame frame;
  float *tensor = NULL;
  while (tensor == NULL && vq_media_reader_next (reader, &frame, &error) > 0) {
    if (frame.index != index)
      continue;
    tensor = g_new (float, 3 * model->input.width * model->input.height);
    g_assert_true (vq_preprocess_frame (&frame.frame, &model->input, &model->preprocess,
                                        model->preprocess.fit, tensor, NULL, &error));
  }
  g_assert_no_error (error);
  g_assert_nonnull (tensor);
  vq_media_reader_close (reader);
  return tensor;
}

static GArray *
detect (const vq_model *model, const float *tensor)
{
  GError *error = NULL;
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_CPU;
  vq_engine *engine = vq_engine_new (model, &options, &error);
  g_assert_no_error (error);
  g_assert_true (vq_engine_run (engine, tensor, &error));
  vq_decode_options decode;
  vq_decode_options_from_model (&decode, model);
  GArray *boxes = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  g_assert_true (vq_decode_outputs (model, engine, &decode, boxes, &error));
  vq_nms (boxes, decode.nms_iou, decode.max_detections);
  vq_engine_free (engine);
  return boxes;
}

static void
test_compressed_nanodet_finds_pedestrians (void)
{
  char *model_path = vq_test_cache_file ("nanodet-float.vqm");
  char *video = vq_test_opencv_file ("vtest.avi");
  GError *error = NULL;
  vq_model *model = vq_model_load (model_path, &error);
  g_assert_no_error (error);

  /* Calibration: frames 400, 448, ..., 784, never frame 200. */
  GPtrArray *frames = g_ptr_array_new_with_free_func (g_free);
  for (int64_t index = 400; index < 795; index += 48)
    g_ptr_array_add (frames, tensor_of_frame (model, video, index));

  vq_compress_options options;
  vq_compress_options_init (&options);
  options.rounds = 1;
  options.rows_per_frame = 512;
  vq_compress_report report = { 0 };
  vq_model *compressed = vq_compress_model (model, (const float *const *) frames->pdata,
                                            (int) frames->len, &options, &report, &error);
  g_assert_no_error (error);
  g_test_message ("compressed in %.1f s to %.3f bits per weight", report.seconds,
                  report.bits_per_weight);

  /* About 2 bits per weight with codebooks and scales, as vq info counts. */
  char *path = g_build_filename (g_get_tmp_dir (), "vq-test-nanodet-vq.vqm", NULL);
  g_assert_true (vq_model_save (compressed, path, &error));
  g_assert_no_error (error);
  vq_model *loaded = vq_model_load (path, &error);
  g_assert_no_error (error);
  vq_model_stats stats;
  vq_model_compute_stats (loaded, &stats);
  g_assert_cmpuint (stats.n_conv_vq, ==, stats.n_conv);
  g_assert_cmpfloat (stats.bits_per_weight, >, 2.0);
  g_assert_cmpfloat (stats.bits_per_weight, <, 2.3);
  g_assert_cmpfloat_with_epsilon (stats.bits_per_weight, report.bits_per_weight, 1e-9);

  /* Decoded weights are exactly codebook[index] * scale. */
  const vq_graph *graph = loaded->graph;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    if (node->op != VQ_OP_CONV2D)
      continue;
    const vq_blob *codebook = &graph->blobs[node->p.conv.weights.codebook];
    const vq_blob *indices = &graph->blobs[node->p.conv.weights.indices];
    const vq_blob *scales = &graph->blobs[node->p.conv.weights.scales];
    int64_t count = vq_conv_weight_count (graph, node);
    int64_t rows = node->p.conv.out_channels, cols = count / rows;
    int64_t d = codebook->shape.dims[1], per_row = indices->shape.dims[1];
    float *decoded = g_new (float, count);
    vq_conv_weights_to_f32 (graph, node, decoded);
    const uint8_t *codes = indices->data;
    g_assert_cmpint (indices->dtype, ==, VQ_DTYPE_U8);
    for (int64_t o = 0; o < rows; o++)
      for (int64_t j = 0; j < cols; j++)
        g_assert_cmpfloat (decoded[o * cols + j], ==,
                           vq_blob_get_f32 (codebook, codes[o * per_row + j / d] * d + j % d)
                             * vq_blob_get_f32 (scales, o));
    g_free (decoded);
  }

  /* Frame 200: the float model's pedestrians are found again. */
  float *tensor = tensor_of_frame (model, video, 200);
  GArray *reference = detect (model, tensor);
  GArray *candidate = detect (loaded, tensor);
  int people = 0, found = 0;
  for (guint r = 0; r < reference->len; r++) {
    const vq_detection *p = &g_array_index (reference, vq_detection, r);
    if (p->class_id != PERSON || p->confidence < 0.5f)
      continue;
    people++;
    for (guint c = 0; c < candidate->len; c++) {
      const vq_detection *q = &g_array_index (candidate, vq_detection, c);
      if (q->class_id == PERSON && vq_iou (p, q) >= 0.5f) {
        found++;
        break;
      }
    }
  }
  g_test_message ("frame 200: float model %d pedestrians at >= 0.5, compressed finds %d",
                  people, found);
  g_assert_cmpint (people, >=, 3);
  g_assert_cmpint (found * 10, >=, people * 8);

  g_array_free (reference, TRUE);
  g_array_free (candidate, TRUE);
  g_free (tensor);
  g_unlink (path);
  g_free (path);
  vq_compress_report_clear (&report);
  vq_model_free (loaded);
  vq_model_free (compressed);
  g_ptr_array_unref (frames);
  vq_model_free (model);
  g_free (video);
  g_free (model_path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vq/nanodet/compressed-finds-pedestrians",
                   test_compressed_nanodet_finds_pedestrians);
  return g_test_run ();
}
