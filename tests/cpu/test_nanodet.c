/* The whole NanoDet (imported from TF.js) on a real photo: outputs finite,
 * scores in [0, 1], bit-identical across runs, thread counts and buffer
 * reuse, and the real-weight convs of the 13x13 level equal to a direct
 * double-precision convolution of the engine's own inputs. (Agreement with
 * TF.js itself is the importer's test.) */
#include <math.h>
#include <string.h>

#include "cpu_test.h"
#include "media.h"
#include "test_util.h"
#include "vqcore/image.h"
#include "vqcore/tfjs.h"

static vq_model *model;
static float *input;

static void
load_model_and_input (void)
{
  char *json = vq_test_cache_file ("nanodet.json");
  GError *error = NULL;
  model = vq_tfjs_import_nanodet (json, &error);
  g_assert_no_error (error);
  g_free (json);

  char *photo = vq_test_opencv_file ("messi5.jpg");
  vq_media_reader *reader = vq_media_reader_open (photo, &error);
  g_assert_no_error (error);
  vq_media_frame frame;
  g_assert_cmpint (vq_media_reader_next (reader, &frame, &error), ==, 1);
  input = g_new (float, 3 * model->input.width * model->input.height);
  g_assert_true (vq_preprocess_frame (&frame.frame, &model->input, &model->preprocess,
                                      VQ_FIT_MODE_COUNT, input, NULL, &error));
  g_assert_no_error (error);
  vq_media_reader_close (reader);
  g_free (photo);
}

/* Copies of every graph output after one run. */
static float **
run_outputs (int threads, gboolean reuse)
{
  vq_engine *engine = cpu_test_engine (model, threads, reuse);
  GError *error = NULL;
  g_assert_true (vq_engine_run (engine, input, &error));
  g_assert_no_error (error);
  const vq_graph *graph = model->graph;
  float **outputs = g_new (float *, graph->n_outputs);
  for (uint32_t i = 0; i < graph->n_outputs; i++) {
    vq_tensor_view view = vq_engine_output (engine, i);
    outputs[i] = g_memdup2 (view.data, vq_shape_numel (&view.shape) * sizeof (float));
  }
  vq_engine_free (engine);
  return outputs;
}

static void
free_outputs (float **outputs)
{
  for (uint32_t i = 0; i < model->graph->n_outputs; i++)
    g_free (outputs[i]);
  g_free (outputs);
}

static void
test_outputs (void)
{
  const vq_graph *graph = model->graph;
  const vq_decoder *decoder = &model->decoder;
  float **reference = run_outputs (2, FALSE);

  for (uint32_t i = 0; i < graph->n_outputs; i++) {
    int64_t n = vq_shape_numel (&graph->values[graph->outputs[i]].shape);
    for (int64_t j = 0; j < n; j++)
      g_assert_true (isfinite (reference[i][j]));
  }
  /* Scores went through a sigmoid; on this photo of football players the
   * best "person" (class 0) score is a confident one. */
  float best_person = 0.0f;
  for (uint32_t l = 0; l < decoder->n_levels; l++) {
    uint32_t out = (uint32_t) decoder->score_outputs[l];
    const vq_shape *shape = &graph->values[graph->outputs[out]].shape;
    int64_t n = vq_shape_numel (shape);
    for (int64_t j = 0; j < n; j++) {
      g_assert_cmpfloat (reference[out][j], >=, 0.0f);
      g_assert_cmpfloat (reference[out][j], <=, 1.0f);
      if (j % decoder->num_classes == 0)
        best_person = MAX (best_person, reference[out][j]);
    }
  }
  g_assert_cmpfloat (best_person, >, 0.5f);

  /* Bit-identical: 1 and 2 threads, kept or reused buffers, a second run. */
  const struct { int threads; gboolean reuse; } variants[] = { { 1, FALSE }, { 2, TRUE },
                                                               { 3, TRUE }, { 2, FALSE } };
  for (guint v = 0; v < G_N_ELEMENTS (variants); v++) {
    float **again = run_outputs (variants[v].threads, variants[v].reuse);
    for (uint32_t i = 0; i < graph->n_outputs; i++) {
      gsize bytes = vq_shape_numel (&graph->values[graph->outputs[i]].shape) * sizeof (float);
      g_assert_cmpmem (again[i], bytes, reference[i], bytes);
    }
    free_outputs (again);
  }
  free_outputs (reference);
}

static void
test_small_level_convs (void)
{
  const vq_graph *graph = model->graph;
  vq_engine *engine = cpu_test_engine (model, 2, FALSE);
  GError *error = NULL;
  g_assert_true (vq_engine_run (engine, input, &error));
  int checked = 0;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    const vq_shape *out_shape = &graph->values[node->outputs[0]].shape;
    if (node->op != VQ_OP_CONV2D || out_shape->dims[2] > 13)
      continue;
    const vq_shape *in_shape = &graph->values[node->inputs[0]].shape;
    const vq_conv_params *p = &node->p.conv;
    int64_t cin = in_shape->dims[1], h = in_shape->dims[2], w = in_shape->dims[3];
    int64_t cout = out_shape->dims[1], oh = out_shape->dims[2], ow = out_shape->dims[3];
    int64_t cin_g = cin / p->groups, cout_g = cout / p->groups;
    float *in = g_new (float, vq_shape_numel (in_shape));
    float *got = g_new (float, vq_shape_numel (out_shape));
    float *weights = g_new (float, vq_conv_weight_count (graph, node));
    g_assert_true (vq_engine_read_value (engine, node->inputs[0], in));
    g_assert_true (vq_engine_read_value (engine, node->outputs[0], got));
    vq_conv_weights_to_f32 (graph, node, weights);
    double *want = g_new (double, vq_shape_numel (out_shape));
    double *magnitude = g_new (double, vq_shape_numel (out_shape));
    for (int64_t o = 0; o < cout; o++)
      for (int64_t y = 0; y < oh; y++)
        for (int64_t x = 0; x < ow; x++) {
          double bias = p->bias >= 0 ? vq_blob_get_f32 (&graph->blobs[p->bias], o) : 0.0;
          double sum = bias, mag = fabs (bias);
          for (int64_t ci = 0; ci < cin_g; ci++)
            for (int64_t ky = 0; ky < p->kernel_h; ky++)
              for (int64_t kx = 0; kx < p->kernel_w; kx++) {
                int64_t iy = y * p->stride_h - p->pad_top + ky * p->dilation_h;
                int64_t ix = x * p->stride_w - p->pad_left + kx * p->dilation_w;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                  continue;
                double term = (double) weights[((o * cin_g + ci) * p->kernel_h + ky)
                                                 * p->kernel_w + kx]
                              * in[((o / cout_g * cin_g + ci) * h + iy) * w + ix];
                sum += term;
                mag += fabs (term);
              }
          int64_t k = (o * oh + y) * ow + x;
          want[k] = cpu_test_activation (node->act, node->act_alpha, sum);
          magnitude[k] = mag;
        }
    char *what = g_strdup_printf ("NanoDet node %u '%s'", i, node->name);
    cpu_test_assert_close (what, got, want, magnitude, vq_shape_numel (out_shape), 1e-5);
    g_free (what);
    g_free (want);
    g_free (magnitude);
    g_free (in);
    g_free (got);
    g_free (weights);
    checked++;
  }
  g_assert_cmpint (checked, >=, 8);
  vq_engine_free (engine);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  load_model_and_input ();
  g_test_add_func ("/cpu/nanodet/outputs", test_outputs);
  g_test_add_func ("/cpu/nanodet/small-level-convs", test_small_level_convs);
  int status = g_test_run ();
  vq_model_free (model);
  g_free (input);
  return status;
}
