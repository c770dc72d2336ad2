/* The engine dispatcher (options, backend choice, errors) and whole-graph
 * behaviour of the CPU engine: a small detector-like graph run with and
 * without buffer reuse, on several thread counts, checked against a chain
 * of the engine's own single-op results and for bitwise determinism. */
#include <math.h>
#include <string.h>
#include <sys/resource.h>

#include "cpu/backend.h"
#include "cpu/memplan.h"
#include "cpu/threadpool.h"
#include "cpu_test.h"
#include "vqcore/error.h"

static void
test_options_and_names (void)
{
  vq_engine_options options;
  memset (&options, 0x5a, sizeof options);
  vq_engine_options_init (&options);
  g_assert_cmpint (options.backend, ==, VQ_BACKEND_AUTO);
  g_assert_cmpint (options.n_threads, ==, 0);
  g_assert_null (options.device);
  g_assert_false (options.reuse_buffers);

  vq_backend_kind kind = VQ_BACKEND_COUNT;
  g_assert_true (vq_backend_kind_parse ("cpu", &kind));
  g_assert_cmpint (kind, ==, VQ_BACKEND_CPU);
  g_assert_true (vq_backend_kind_parse ("Vulkan", &kind));
  g_assert_cmpint (kind, ==, VQ_BACKEND_VULKAN);
  g_assert_true (vq_backend_kind_parse ("auto", &kind));
  g_assert_cmpint (kind, ==, VQ_BACKEND_AUTO);
  g_assert_false (vq_backend_kind_parse ("gpu", &kind));
  g_assert_false (vq_backend_kind_parse ("", &kind));
  g_assert_false (vq_backend_kind_parse (NULL, &kind));
  for (int k = 0; k < VQ_BACKEND_COUNT; k++) {
    g_assert_true (vq_backend_kind_parse (vq_backend_kind_name ((vq_backend_kind) k), &kind));
    g_assert_cmpint (kind, ==, k);
  }
  g_assert_cmpstr (vq_backend_kind_name (VQ_BACKEND_COUNT), ==, "invalid");
}

/* input [1,4,16,16] -> conv 3x3 8 leaky -> max pool 2 -> resize x2 ->
 * concat with the conv output -> conv 1x1 6 -> split 2+4 -> add(first two
 * channels of each part... ) Kept small; the point is the plumbing. */
typedef struct {
  vq_graph *graph;
  uint32_t input, conv1, pool, up, cat, conv2, part_a, part_b, part_c, sum;
} small_net;

static int32_t
dense_blob (vq_graph *graph, GRand *rand, int32_t cout, int32_t cin, int32_t k)
{
  vq_shape shape = vq_shape_4d (cout, cin, k, k);
  float *w = cpu_test_random (rand, vq_shape_numel (&shape), -0.5f, 0.5f);
  return (int32_t) vq_graph_add_blob_owned (graph, "w", VQ_DTYPE_F32, &shape, w);
}

static void
add_simple (vq_graph *graph, vq_op op, uint32_t in, uint32_t out, vq_node *node)
{
  node->n_inputs = 1;
  node->inputs[0] = in;
  node->n_outputs = 1;
  node->outputs[0] = out;
  g_assert_cmpint (node->op, ==, op);
  vq_graph_add_node (graph, node);
}

static small_net
build_small_net (GRand *rand)
{
  small_net net;
  vq_graph *graph = net.graph = vq_graph_new ();
  vq_shape s_in = vq_shape_4d (1, 4, 16, 16), s_conv1 = vq_shape_4d (1, 8, 16, 16);
  vq_shape s_pool = vq_shape_4d (1, 8, 8, 8), s_cat = vq_shape_4d (1, 16, 16, 16);
  vq_shape s_conv2 = vq_shape_4d (1, 6, 16, 16), s_part = vq_shape_4d (1, 2, 16, 16);
  net.input = vq_graph_add_value (graph, "input", &s_in);
  net.conv1 = vq_graph_add_value (graph, "conv1", &s_conv1);
  net.pool = vq_graph_add_value (graph, "pool", &s_pool);
  net.up = vq_graph_add_value (graph, "up", &s_conv1);
  net.cat = vq_graph_add_value (graph, "cat", &s_cat);
  net.conv2 = vq_graph_add_value (graph, "conv2", &s_conv2);
  net.part_a = vq_graph_add_value (graph, "a", &s_part);
  net.part_b = vq_graph_add_value (graph, "b", &s_part);
  net.part_c = vq_graph_add_value (graph, "c", &s_part);
  net.sum = vq_graph_add_value (graph, "sum", &s_part);
  vq_graph_add_input (graph, net.input);

  vq_node node;
  vq_node_init (&node, VQ_OP_CONV2D, "conv1");
  node.p.conv.kernel_h = node.p.conv.kernel_w = 3;
  node.p.conv.pad_top = node.p.conv.pad_left = node.p.conv.pad_bottom = node.p.conv.pad_right = 1;
  node.p.conv.out_channels = 8;
  node.p.conv.weights.dense = dense_blob (graph, rand, 8, 4, 3);
  node.act = VQ_ACT_LEAKY_RELU;
  node.act_alpha = 0.1f;
  add_simple (graph, VQ_OP_CONV2D, net.input, net.conv1, &node);

  vq_node_init (&node, VQ_OP_MAX_POOL, "pool");
  node.p.pool.kernel_h = node.p.pool.kernel_w = 2;
  node.p.pool.stride_h = node.p.pool.stride_w = 2;
  add_simple (graph, VQ_OP_MAX_POOL, net.conv1, net.pool, &node);

  vq_node_init (&node, VQ_OP_RESIZE, "up");
  node.p.resize.half_pixel_centers = TRUE;
  add_simple (graph, VQ_OP_RESIZE, net.pool, net.up, &node);

  vq_node_init (&node, VQ_OP_CONCAT, "cat");
  node.p.axis.axis = 1;
  node.n_inputs = 2;
  node.inputs[0] = net.up;
  node.inputs[1] = net.conv1;
  node.n_outputs = 1;
  node.outputs[0] = net.cat;
  vq_graph_add_node (graph, &node);

  vq_node_init (&node, VQ_OP_CONV2D, "conv2");
  node.p.conv.out_channels = 6;
  node.p.conv.weights.dense = dense_blob (graph, rand, 6, 16, 1);
  add_simple (graph, VQ_OP_CONV2D, net.cat, net.conv2, &node);

  vq_node_init (&node, VQ_OP_SPLIT, "split");
  node.p.axis.axis = 1;
  node.n_inputs = 1;
  node.inputs[0] = net.conv2;
  node.n_outputs = 3;
  node.outputs[0] = net.part_a;
  node.outputs[1] = net.part_b;
  node.outputs[2] = net.part_c;
  vq_graph_add_node (graph, &node);

  vq_node_init (&node, VQ_OP_ADD, "sum");
  node.act = VQ_ACT_SIGMOID;
  node.n_inputs = 2;
  node.inputs[0] = net.part_a;
  node.inputs[1] = net.part_b;
  node.n_outputs = 1;
  node.outputs[0] = net.sum;
  vq_graph_add_node (graph, &node);

  vq_graph_add_output (graph, net.sum);
  vq_graph_add_output (graph, net.part_c);
  return net;
}

static float *
read_value (vq_engine *engine, const vq_graph *graph, uint32_t id)
{
  float *data = g_new (float, vq_shape_numel (&graph->values[id].shape));
  g_assert_true (vq_engine_read_value (engine, id, data));
  return data;
}

static void
test_small_net (void)
{
  GRand *rand = g_rand_new_with_seed (20);
  small_net net = build_small_net (rand);
  vq_model *model = cpu_test_model (net.graph);
  const vq_graph *graph = net.graph;
  float *input = cpu_test_random (rand, 4 * 16 * 16, -1.0f, 1.0f);

  vq_engine *engine = cpu_test_engine (model, 2, FALSE);
  g_assert_cmpstr (vq_engine_backend_name (engine), ==, "cpu");
  g_assert_nonnull (strstr (vq_engine_device_name (engine), "2 threads"));
  GError *error = NULL;
  g_assert_true (vq_engine_run (engine, input, &error));
  g_assert_no_error (error);

  /* Every value can be read back; check the plumbing op by op against
   * the values the engine read them from. */
  float *conv1 = read_value (engine, graph, net.conv1);
  float *pool = read_value (engine, graph, net.pool);
  float *up = read_value (engine, graph, net.up);
  float *cat = read_value (engine, graph, net.cat);
  float *conv2 = read_value (engine, graph, net.conv2);
  float *in_back = read_value (engine, graph, net.input);
  g_assert_cmpmem (in_back, 1024 * sizeof (float), input, 1024 * sizeof (float));
  for (int c = 0; c < 8; c++)
    for (int y = 0; y < 8; y++)
      for (int x = 0; x < 8; x++) {
        const float *p = conv1 + (c * 16 + 2 * y) * 16 + 2 * x;
        float m = fmaxf (fmaxf (p[0], p[1]), fmaxf (p[16], p[17]));
        g_assert_cmpfloat (pool[(c * 8 + y) * 8 + x], ==, m);
      }
  g_assert_cmpmem (cat, 2048 * sizeof (float), up, 2048 * sizeof (float));
  g_assert_cmpmem (cat + 2048, 2048 * sizeof (float), conv1, 2048 * sizeof (float));
  vq_tensor_view sum = vq_engine_output (engine, 0);
  vq_tensor_view part_c = vq_engine_output (engine, 1);
  g_assert_cmpint (sum.shape.dims[1], ==, 2);
  for (int i = 0; i < 512; i++) {
    double want = 1.0 / (1.0 + exp (-((double) conv2[i] + conv2[512 + i])));
    g_assert_cmpfloat_with_epsilon (sum.data[i], want, 1e-6);
    g_assert_cmpfloat (part_c.data[i], ==, conv2[1024 + i]);
  }
  float *sum_copy = g_memdup2 (sum.data, 512 * sizeof (float));
  float *part_c_copy = g_memdup2 (part_c.data, 512 * sizeof (float));
  size_t kept_bytes = vq__engine_activation_bytes (engine);

  /* Running again gives the same bits. */
  g_assert_true (vq_engine_run (engine, input, &error));
  g_assert_cmpmem (vq_engine_output (engine, 0).data, 512 * sizeof (float), sum_copy,
                   512 * sizeof (float));

  /* Out-of-range value ids are refused, not read. */
  float dummy[1];
  g_assert_false (vq_engine_read_value (engine, graph->n_values, dummy));
  vq_engine_free (engine);

  /* With buffer reuse, and any thread count: the same bits, less memory,
   * and intermediate values are no longer readable. */
  for (int threads = 1; threads <= 4; threads++) {
    engine = cpu_test_engine (model, threads, TRUE);
    g_assert_cmpuint (vq__engine_activation_bytes (engine), <, kept_bytes);
    g_assert_true (vq_engine_run (engine, input, &error));
    g_assert_no_error (error);
    g_assert_cmpmem (vq_engine_output (engine, 0).data, 512 * sizeof (float), sum_copy,
                     512 * sizeof (float));
    g_assert_cmpmem (vq_engine_output (engine, 1).data, 512 * sizeof (float), part_c_copy,
                     512 * sizeof (float));
    float *out_back = read_value (engine, graph, net.part_c);
    g_assert_cmpmem (out_back, 512 * sizeof (float), part_c_copy, 512 * sizeof (float));
    g_free (out_back);
    float *scratch = g_new (float, 4096);
    g_assert_false (vq_engine_read_value (engine, net.cat, scratch));
    g_free (scratch);
    vq_engine_free (engine);
  }

  g_free (conv1);
  g_free (pool);
  g_free (up);
  g_free (cat);
  g_free (conv2);
  g_free (in_back);
  g_free (sum_copy);
  g_free (part_c_copy);
  g_free (input);
  cpu_test_model_free (model);
  g_rand_free (rand);
}

static void
test_errors (void)
{
  GRand *rand = g_rand_new_with_seed (21);
  small_net net = build_small_net (rand);
  vq_model *model = cpu_test_model (net.graph);
  vq_engine_options options;
  GError *error = NULL;

  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_VULKAN;
  g_assert_null (vq_engine_new (model, &options, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_BACKEND);
  g_assert_nonnull (strstr (error->message, "Vulkan"));
  g_clear_error (&error);

  vq_engine_options_init (&options);
  options.backend = (vq_backend_kind) 42;
  g_assert_null (vq_engine_new (model, &options, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);

  vq_engine_options_init (&options);
  options.n_threads = -3;
  g_assert_null (vq_engine_new (model, &options, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);

  g_assert_null (vq_engine_new (NULL, NULL, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);

  /* AUTO and NULL options work (CPU for now). */
  vq_engine *engine = vq_engine_new (model, NULL, &error);
  g_assert_no_error (error);
  g_assert_nonnull (engine);
  g_assert_false (vq_engine_run (engine, NULL, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);
  vq_engine_free (engine);
  vq_engine_free (NULL);

  /* A second graph input is refused with a message, not ignored. */
  vq_shape extra = vq_shape_4d (1, 1, 2, 2);
  uint32_t id = vq_graph_add_value (net.graph, "extra", &extra);
  vq_graph_add_input (net.graph, id);
  g_assert_null (vq_engine_new (model, NULL, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED);
  g_clear_error (&error);

  cpu_test_model_free (model);
  g_rand_free (rand);
}

/* Activations that do not fit fail with an error instead of aborting:
 * a valid graph with 1 GiB values, run in a subprocess whose address space
 * is limited to 512 MiB. */
static void
test_out_of_memory (void)
{
#if defined(__SANITIZE_ADDRESS__)
  g_test_skip ("AddressSanitizer needs more address space than the limit leaves");
  return;
#endif
  if (!g_test_subprocess ()) {
    g_test_trap_subprocess (NULL, 0, G_TEST_SUBPROCESS_DEFAULT);
    g_test_trap_assert_passed ();
    return;
  }
  struct rlimit limit = { 512u << 20, 512u << 20 };
  g_assert_cmpint (setrlimit (RLIMIT_AS, &limit), ==, 0);

  vq_graph *graph = vq_graph_new ();
  vq_shape big = vq_shape_4d (1, 1, 16384, 16384);
  uint32_t in = vq_graph_add_value (graph, "in", &big);
  uint32_t out = vq_graph_add_value (graph, "out", &big);
  vq_graph_add_input (graph, in);
  vq_shape ws = vq_shape_4d (1, 1, 1, 1);
  float w = 1.0f;
  vq_node node;
  vq_node_init (&node, VQ_OP_CONV2D, "big");
  node.p.conv.out_channels = 1;
  node.p.conv.weights.dense = (int32_t) vq_graph_add_blob_copy (graph, "w", VQ_DTYPE_F32, &ws,
                                                                &w);
  node.n_inputs = 1;
  node.inputs[0] = in;
  node.n_outputs = 1;
  node.outputs[0] = out;
  vq_graph_add_node (graph, &node);
  vq_graph_add_output (graph, out);
  vq_model *model = cpu_test_model (graph);

  GError *error = NULL;
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.n_threads = 1;
  g_assert_null (vq_engine_new (model, &options, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_BACKEND);
  g_assert_nonnull (strstr (error->message, "out of memory"));
  g_clear_error (&error);
  cpu_test_model_free (model);
}

/* parallel_for visits every index exactly once, in ranges of at most
 * `grain`, for any thread count, and reports valid thread indices. */
typedef struct {
  gint *visits;
  gint64 grain;
  int threads;
  gint bad;
} visit_job;

static void
visit_range (void *context, int64_t begin, int64_t end, int thread_index)
{
  visit_job *job = context;
  if (end - begin > job->grain || thread_index < 0 || thread_index >= job->threads)
    g_atomic_int_inc (&job->bad);
  for (int64_t i = begin; i < end; i++)
    g_atomic_int_inc (&job->visits[i]);
}

static void
test_threadpool (void)
{
  for (int threads = 1; threads <= 4; threads++) {
    GError *error = NULL;
    vq__threadpool *pool = vq__threadpool_new (threads, &error);
    g_assert_no_error (error);
    g_assert_cmpint (vq__threadpool_size (pool), ==, threads);
    const int64_t sizes[] = { 0, 1, 7, 64, 1000, 4099 };
    const int64_t grains[] = { 0, 1, 3, 100, 5000 };
    for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
      for (guint g = 0; g < G_N_ELEMENTS (grains); g++)
        for (int repeat = 0; repeat < 3; repeat++) {
          int64_t n = sizes[s];
          visit_job job = { g_new0 (gint, MAX (n, 1)), 0, threads, 0 };
          job.grain = grains[g] > 0 ? grains[g] : (n + threads - 1) / threads;
          job.grain = MAX (job.grain, 1);
          vq__threadpool_parallel_for (pool, n, grains[g], visit_range, &job);
          g_assert_cmpint (job.bad, ==, 0);
          for (int64_t i = 0; i < n; i++)
            g_assert_cmpint (job.visits[i], ==, 1);
          g_free (job.visits);
        }
    vq__threadpool_free (pool);
  }
}

/* Whether value `a` may live inside value `b` because a chain of concats
 * (along their outermost non-unit axis) puts it there; *offset receives
 * where, in floats. */
static gboolean
inside (const vq_graph *graph, uint32_t a, uint32_t b, size_t *offset)
{
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    if (node->op != VQ_OP_CONCAT)
      continue;
    const vq_shape *out = &graph->values[node->outputs[0]].shape;
    gboolean flat = TRUE;
    for (int d = 0; d < node->p.axis.axis; d++)
      flat = flat && out->dims[d] == 1;
    size_t at = 0;
    for (uint32_t k = 0; k < node->n_inputs && flat; k++) {
      if (node->inputs[k] == a) {
        size_t rest = 0;
        if (node->outputs[0] == b || inside (graph, node->outputs[0], b, &rest)) {
          *offset = at + rest;
          return TRUE;
        }
      }
      at += vq_shape_numel (&graph->values[node->inputs[k]].shape);
    }
  }
  return FALSE;
}

/* With reuse, two values whose lifetimes overlap never share memory unless
 * one is a concat input placed exactly where the concat output holds it;
 * the arena is smaller than the kept layout. Lifetimes are recomputed here
 * from the node order. */
static void
test_memplan (void)
{
  GRand *rand = g_rand_new_with_seed (22);
  small_net net = build_small_net (rand);
  const vq_graph *graph = net.graph;
  uint32_t nv = graph->n_values;
  size_t *offsets = g_new (size_t, nv), *kept_offsets = g_new (size_t, nv);
  gboolean *kept = g_new (gboolean, nv), *kept_all = g_new (gboolean, nv);
  size_t reuse_total = vq__memplan (graph, TRUE, offsets, kept);
  size_t kept_total = vq__memplan (graph, FALSE, kept_offsets, kept_all);
  g_assert_cmpuint (reuse_total, <, kept_total);

  int64_t *first = g_new (int64_t, nv), *last = g_new (int64_t, nv);
  for (uint32_t v = 0; v < nv; v++) {
    first[v] = -1;
    last[v] = -1;
    g_assert_true (kept_all[v]);
    g_assert_cmpuint (kept_offsets[v] % 16, ==, 0);
    g_assert_cmpuint (offsets[v] % 16, ==, 0);
  }
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    for (uint32_t k = 0; k < graph->nodes[i].n_outputs; k++)
      first[graph->nodes[i].outputs[k]] = last[graph->nodes[i].outputs[k]] = i;
    for (uint32_t k = 0; k < graph->nodes[i].n_inputs; k++)
      last[graph->nodes[i].inputs[k]] = i;
  }
  for (uint32_t k = 0; k < graph->n_outputs; k++)
    last[graph->outputs[k]] = graph->n_nodes;
  last[graph->inputs[0]] = graph->n_nodes;
  for (uint32_t v = 0; v < nv; v++)
    g_assert_cmpint (kept[v], ==, last[v] == (int64_t) graph->n_nodes);

  int overlapping_pairs = 0;
  for (uint32_t a = 0; a < nv; a++)
    for (uint32_t b = a + 1; b < nv; b++) {
      size_t size_a = vq_shape_numel (&graph->values[a].shape);
      size_t size_b = vq_shape_numel (&graph->values[b].shape);
      g_assert_cmpuint (offsets[a] + size_a, <=, reuse_total);
      gboolean live_together = first[a] <= last[b] && first[b] <= last[a];
      gboolean share = offsets[a] < offsets[b] + size_b && offsets[b] < offsets[a] + size_a;
      overlapping_pairs += live_together;
      size_t where = 0;
      if (inside (graph, a, b, &where) && offsets[a] == offsets[b] + where)
        continue;
      if (inside (graph, b, a, &where) && offsets[b] == offsets[a] + where)
        continue;
      if (live_together && share)
        g_error ("values %u and %u are live together but share memory", a, b);
    }
  g_assert_cmpint (overlapping_pairs, >, 0);
  /* The concat's inputs sit in its output: the concat copies nothing. */
  g_assert_cmpuint (offsets[net.up], ==, offsets[net.cat]);
  g_assert_cmpuint (offsets[net.conv1], ==, offsets[net.cat] + 2048);
  g_assert_cmpuint (kept_offsets[net.conv1], ==, kept_offsets[net.cat] + 2048);
  g_free (offsets);
  g_free (kept_offsets);
  g_free (kept);
  g_free (kept_all);
  g_free (first);
  g_free (last);
  vq_graph_free (net.graph);
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpu/engine/options-and-names", test_options_and_names);
  g_test_add_func ("/cpu/engine/small-net", test_small_net);
  g_test_add_func ("/cpu/engine/errors", test_errors);
  g_test_add_func ("/cpu/engine/out-of-memory", test_out_of_memory);
  g_test_add_func ("/cpu/engine/threadpool", test_threadpool);
  g_test_add_func ("/cpu/engine/memplan", test_memplan);
  return g_test_run ();
}
