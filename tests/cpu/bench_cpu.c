/* bench_cpu: how fast the CPU engine runs a model, or NanoDet-like conv
 * layers when no model is given.
 *
 *   bench_cpu [--threads N] [--runs N] [--reuse] [MODEL.vqm | model.json]
 *
 * Prints the median (and fastest) milliseconds per run after one warm-up
 * run, the GFLOP/s the median gives (2 * multiply-adds of the convs /
 * time), the median CPU time of all threads together and the activation
 * memory. Run it with `nice` on a shared machine. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cpu/backend.h"
#include "vqcore/engine.h"
#include "vqcore/error.h"
#include "vqcore/model.h"
#include "vqcore/tfjs.h"

static int opt_threads = 0;
static int opt_runs = 10;
static gboolean opt_reuse = FALSE;

static double
conv_flops (const vq_graph *graph)
{
  double flops = 0.0;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    if (node->op != VQ_OP_CONV2D)
      continue;
    const vq_shape *out = &graph->values[node->outputs[0]].shape;
    flops += 2.0 * (double) vq_conv_weight_count (graph, node) * out->dims[2] * out->dims[3];
  }
  return flops;
}

static double
process_cpu_seconds (void)
{
  struct timespec now;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
  return now.tv_sec + now.tv_nsec / 1e9;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return (x > y) - (x < y);
}

/* Runs the model opt_runs times; returns the median seconds, or < 0. */
static double
time_model (const vq_model *model, const char *label)
{
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_CPU;
  options.n_threads = opt_threads;
  options.reuse_buffers = opt_reuse;
  GError *error = NULL;
  vq_engine *engine = vq_engine_new (model, &options, &error);
  if (engine == NULL) {
    fprintf (stderr, "bench_cpu: %s: %s\n", label, error->message);
    g_error_free (error);
    return -1.0;
  }

  const vq_graph *graph = model->graph;
  int64_t n = vq_shape_numel (&graph->values[graph->inputs[0]].shape);
  float *input = g_new (float, n);
  GRand *rand = g_rand_new_with_seed (7);
  for (int64_t i = 0; i < n; i++)
    input[i] = (float) g_rand_double_range (rand, -2.0, 2.0);
  g_rand_free (rand);

  double *seconds = g_new (double, opt_runs);
  double *cpu_seconds = g_new (double, opt_runs);
  gboolean ok = vq_engine_run (engine, input, &error); /* warm-up */
  for (int r = 0; ok && r < opt_runs; r++) {
    double cpu_start = process_cpu_seconds ();
    gint64 start = g_get_monotonic_time ();
    ok = vq_engine_run (engine, input, &error);
    seconds[r] = (g_get_monotonic_time () - start) / 1e6;
    cpu_seconds[r] = process_cpu_seconds () - cpu_start;
  }
  double median = -1.0;
  if (!ok) {
    fprintf (stderr, "bench_cpu: %s: %s\n", label, error->message);
    g_error_free (error);
  } else {
    qsort (seconds, opt_runs, sizeof (double), compare_doubles);
    qsort (cpu_seconds, opt_runs, sizeof (double), compare_doubles);
    median = seconds[opt_runs / 2];
    double flops = conv_flops (graph);
    /* CPU time summed over all threads: on a busy machine it shows what
     * the work costs when wall time includes waiting for a core. */
    printf ("%-34s %9.2f ms (min %.2f)  %7.2f GFLOP  %7.1f GFLOP/s  cpu %7.2f ms  "
            "activations %.1f MiB  [%s]\n", label, median * 1e3, seconds[0] * 1e3, flops / 1e9,
            flops / median / 1e9, cpu_seconds[opt_runs / 2] * 1e3,
            vq__engine_activation_bytes (engine) / 1048576.0, vq_engine_device_name (engine));
  }
  g_free (seconds);
  g_free (cpu_seconds);
  g_free (input);
  vq_engine_free (engine);
  return median;
}

/* One conv with LeakyReLU, random weights. */
static vq_model *
conv_model (int cin, int size, int cout, int k, int stride)
{
  vq_graph *graph = vq_graph_new ();
  int out = (size + 2 * (k / 2) - k) / stride + 1;
  vq_shape s_in = vq_shape_4d (1, cin, size, size), s_out = vq_shape_4d (1, cout, out, out);
  vq_shape s_w = vq_shape_4d (cout, cin, k, k);
  uint32_t in = vq_graph_add_value (graph, "in", &s_in);
  uint32_t o = vq_graph_add_value (graph, "out", &s_out);
  vq_graph_add_input (graph, in);
  GRand *rand = g_rand_new_with_seed (3);
  float *w = g_new (float, vq_shape_numel (&s_w));
  for (int64_t i = 0; i < vq_shape_numel (&s_w); i++)
    w[i] = (float) g_rand_double_range (rand, -0.1, 0.1);
  g_rand_free (rand);
  vq_node node;
  vq_node_init (&node, VQ_OP_CONV2D, "conv");
  node.p.conv.kernel_h = node.p.conv.kernel_w = k;
  node.p.conv.stride_h = node.p.conv.stride_w = stride;
  node.p.conv.pad_top = node.p.conv.pad_left = node.p.conv.pad_bottom = node.p.conv.pad_right = k / 2;
  node.p.conv.out_channels = cout;
  node.p.conv.weights.dense = (int32_t) vq_graph_add_blob_owned (graph, "w", VQ_DTYPE_F32, &s_w,
                                                                 w);
  node.act = VQ_ACT_LEAKY_RELU;
  node.act_alpha = 0.1f;
  node.n_inputs = 1;
  node.inputs[0] = in;
  node.n_outputs = 1;
  node.outputs[0] = o;
  vq_graph_add_node (graph, &node);
  vq_graph_add_output (graph, o);
  vq_model *model = g_new0 (vq_model, 1);
  model->graph = graph;
  return model;
}

static int
run_synthetic (void)
{
  static const int layers[][5] = {
    /* cin, size, cout, kernel, stride */
    { 3, 416, 24, 3, 2 },   { 32, 104, 32, 3, 1 },  { 64, 104, 64, 1, 1 },
    { 128, 52, 128, 3, 1 }, { 96, 52, 96, 1, 1 },   { 256, 26, 256, 3, 1 },
    { 512, 13, 128, 1, 1 }, { 256, 13, 256, 3, 1 }, { 128, 52, 128, 3, 2 },
  };
  for (guint i = 0; i < G_N_ELEMENTS (layers); i++) {
    const int *l = layers[i];
    char *label = g_strdup_printf ("conv %dx%d s%d %d->%d on %dx%d", l[3], l[3], l[4], l[0],
                                   l[2], l[1], l[1]);
    vq_model *model = conv_model (l[0], l[1], l[2], l[3], l[4]);
    double t = time_model (model, label);
    vq_graph_free (model->graph);
    g_free (model);
    g_free (label);
    if (t < 0)
      return 1;
  }
  return 0;
}

int
main (int argc, char **argv)
{
  const char *path = NULL;
  for (int i = 1; i < argc; i++) {
    if (strcmp (argv[i], "--threads") == 0 && i + 1 < argc)
      opt_threads = atoi (argv[++i]);
    else if (strcmp (argv[i], "--runs") == 0 && i + 1 < argc) {
      opt_runs = atoi (argv[++i]);
      opt_runs = MAX (opt_runs, 1);
    }
    else if (strcmp (argv[i], "--reuse") == 0)
      opt_reuse = TRUE;
    else if (argv[i][0] != '-' && path == NULL)
      path = argv[i];
    else {
      fprintf (stderr, "usage: bench_cpu [--threads N] [--runs N] [--reuse] "
                       "[MODEL.vqm | model.json]\n");
      return 2;
    }
  }
  if (path == NULL)
    return run_synthetic ();

  GError *error = NULL;
  vq_model *model = g_str_has_suffix (path, ".json") ? vq_tfjs_import_nanodet (path, &error)
                                                     : vq_model_load (path, &error);
  if (model == NULL) {
    fprintf (stderr, "bench_cpu: %s\n", error->message);
    g_error_free (error);
    return 1;
  }
  double t = time_model (model, path);
  vq_model_free (model);
  return t < 0 ? 1 : 0;
}
