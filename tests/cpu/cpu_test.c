#include "cpu_test.h"

#include <math.h>

#include "vqcore/error.h"

float
cpu_test_uniform (GRand *rand, float lo, float hi)
{
  return (float) g_rand_double_range (rand, lo, hi);
}

float *
cpu_test_random (GRand *rand, int64_t n, float lo, float hi)
{
  float *data = g_new (float, MAX (n, 1));
  for (int64_t i = 0; i < n; i++)
    data[i] = cpu_test_uniform (rand, lo, hi);
  return data;
}

vq_model *
cpu_test_model (vq_graph *graph)
{
  GError *error = NULL;
  if (!vq_graph_validate (graph, &error))
    g_error ("test graph does not validate: %s", error->message);
  vq_model *model = g_new0 (vq_model, 1);
  model->graph = graph;
  return model;
}

void
cpu_test_model_free (vq_model *model)
{
  vq_graph_free (model->graph);
  g_free (model);
}

vq_engine *
cpu_test_engine (const vq_model *model, int n_threads, gboolean reuse_buffers)
{
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_CPU;
  options.n_threads = n_threads;
  options.reuse_buffers = reuse_buffers;
  GError *error = NULL;
  vq_engine *engine = vq_engine_new (model, &options, &error);
  g_assert_no_error (error);
  g_assert_nonnull (engine);
  return engine;
}

float *
cpu_test_run (const vq_model *model, int n_threads, const float *input, uint32_t index)
{
  vq_engine *engine = cpu_test_engine (model, n_threads, FALSE);
  GError *error = NULL;
  g_assert_true (vq_engine_run (engine, input, &error));
  g_assert_no_error (error);
  vq_tensor_view view = vq_engine_output (engine, index);
  const vq_value *value = &model->graph->values[model->graph->outputs[index]];
  g_assert_true (vq_shape_equal (&view.shape, &value->shape));
  float *copy = g_memdup2 (view.data, (gsize) vq_shape_numel (&view.shape) * sizeof (float));
  vq_engine_free (engine);
  return copy;
}

double
cpu_test_activation (vq_activation act, double alpha, double x)
{
  switch (act) {
  case VQ_ACT_NONE:
    return x;
  case VQ_ACT_RELU:
    return fmax (x, 0.0);
  case VQ_ACT_RELU6:
    return fmin (fmax (x, 0.0), 6.0);
  case VQ_ACT_LEAKY_RELU:
    return x >= 0.0 ? x : alpha * x;
  case VQ_ACT_SIGMOID:
    return 1.0 / (1.0 + exp (-x));
  case VQ_ACT_HARD_SWISH:
    return x * fmin (fmax (x + 3.0, 0.0), 6.0) / 6.0;
  case VQ_ACT_SILU:
    return x / (1.0 + exp (-x));
  default:
    g_assert_not_reached ();
  }
}

void
cpu_test_assert_close (const char *what, const float *got, const double *want,
                       const double *magnitude, int64_t n, double tolerance)
{
  for (int64_t i = 0; i < n; i++) {
    double bound = tolerance * (magnitude ? magnitude[i] : 1.0) + 1e-7;
    double diff = fabs ((double) got[i] - want[i]);
    if (!(diff <= bound))
      g_error ("%s: element %" G_GINT64_FORMAT " is %.9g, expected %.9g (diff %.3g > %.3g)",
               what, i, got[i], want[i], diff, bound);
  }
}
