/* The CPU backend: plans activation memory and conv weights at creation,
 * then runs the nodes in order on a thread pool. It is the reference the
 * other backends are compared with, so it favours plain, deterministic code:
 * every kernel gives bit-identical results for any thread count. */
#include <string.h>
#include <time.h>

#include "backend.h"
#include "conv.h"
#include "gemm.h"
#include "memplan.h"
#include "ops.h"
#include "threadpool.h"
#include "vqcore/error.h"

typedef struct {
  const vq_graph *graph;
  vq__threadpool *pool;
  vq__conv_plan *convs; /* indexed by node; used for conv2d nodes */
  float *arena;
  size_t arena_floats;
  float **values;    /* per value id, into the arena */
  gboolean *kept;    /* per value id: still intact after a run */
  float *scratch_block;
  float **scratch;   /* per thread, into scratch_block */
  size_t scratch_floats;
  char *device_name;
  /* VQ_CPU_PROFILE set in the environment: CPU microseconds (all threads)
   * spent per node, summed over runs and printed (g_message) when the
   * engine is freed. CPU rather than wall time, so that the profile means
   * something on a machine busy with other work. */
  gint64 *node_us;
  int runs;
} cpu_engine;

static void cpu_destroy (void *state);

static char *
cpu_model_name (void)
{
  char *contents = NULL;
  char *name = NULL;
  if (g_file_get_contents ("/proc/cpuinfo", &contents, NULL, NULL)) {
    char **lines = g_strsplit (contents, "\n", -1);
    for (char **line = lines; *line != NULL && name == NULL; line++) {
      if (g_str_has_prefix (*line, "model name")) {
        const char *colon = strchr (*line, ':');
        if (colon != NULL)
          name = g_strstrip (g_strdup (colon + 1));
      }
    }
    g_strfreev (lines);
    g_free (contents);
  }
  return name != NULL ? name : g_strdup ("CPU");
}

static gboolean
check_supported (const vq_graph *graph, GError **error)
{
  if (graph->n_inputs != 1) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "the CPU engine runs graphs with exactly one input, this one has %u",
                 graph->n_inputs);
    return FALSE;
  }
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    if ((unsigned) node->op >= VQ_OP_COUNT) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED, "node %u '%s' has unknown op %d", i,
                   node->name, (int) node->op);
      return FALSE;
    }
  }
  return TRUE;
}

static void *
cpu_create (const vq_model *model, const vq_engine_options *options, GError **error)
{
  const vq_graph *graph = model->graph;
  if (!check_supported (graph, error))
    return NULL;

  cpu_engine *engine = g_new0 (cpu_engine, 1);
  engine->graph = graph;
  engine->pool = vq__threadpool_new (options->n_threads, error);
  if (engine->pool == NULL)
    goto fail;

  /* Conv weights: decoded (VQ) and packed once. */
  engine->convs = g_new0 (vq__conv_plan, graph->n_nodes);
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    if (graph->nodes[i].op != VQ_OP_CONV2D)
      continue;
    if (!vq__conv_prepare (&engine->convs[i], graph, &graph->nodes[i], error)) {
      g_prefix_error (error, "node %u '%s': ", i, graph->nodes[i].name);
      goto fail;
    }
    engine->scratch_floats = MAX (engine->scratch_floats,
                                  vq__conv_scratch_floats (&engine->convs[i],
                                                           vq__threadpool_size (engine->pool)));
  }

  /* Activations: one arena, laid out by vq__memplan. */
  size_t *offsets = g_new (size_t, graph->n_values);
  engine->kept = g_new0 (gboolean, graph->n_values);
  engine->arena_floats = vq__memplan (graph, options->reuse_buffers, offsets, engine->kept);
  engine->arena = g_try_malloc0_n (MAX (engine->arena_floats, 1), sizeof (float));
  if (engine->arena == NULL) {
    g_free (offsets);
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                 "out of memory (%" G_GSIZE_FORMAT " MiB of activations)",
                 engine->arena_floats * sizeof (float) >> 20);
    goto fail;
  }
  engine->values = g_new (float *, graph->n_values);
  for (uint32_t v = 0; v < graph->n_values; v++)
    engine->values[v] = engine->arena + offsets[v];
  g_free (offsets);

  int threads = vq__threadpool_size (engine->pool);
  engine->scratch_block = g_try_malloc_n (MAX (engine->scratch_floats, 1) * (size_t) threads,
                                          sizeof (float));
  if (engine->scratch_block == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND, "out of memory (conv scratch)");
    goto fail;
  }
  engine->scratch = g_new (float *, threads);
  for (int t = 0; t < threads; t++)
    engine->scratch[t] = engine->scratch_block + (size_t) t * engine->scratch_floats;

  char *cpu = cpu_model_name ();
  engine->device_name = g_strdup_printf ("%s (%d thread%s, %s)", cpu, threads,
                                         threads == 1 ? "" : "s", vq__gemm_variant ());
  g_free (cpu);
  if (g_getenv ("VQ_CPU_PROFILE") != NULL)
    engine->node_us = g_new0 (gint64, graph->n_nodes);
  g_debug ("cpu engine: %u nodes, activation arena %.1f MiB (%s), scratch %.1f MiB",
           graph->n_nodes, engine->arena_floats * 4.0 / (1 << 20),
           options->reuse_buffers ? "buffers reused" : "every value kept",
           engine->scratch_floats * 4.0 * threads / (1 << 20));
  return engine;

fail:
  cpu_destroy (engine);
  return NULL;
}

static void
print_profile (const cpu_engine *engine)
{
  const vq_graph *graph = engine->graph;
  gint64 per_op[VQ_OP_COUNT] = { 0 }, total = 0;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    per_op[graph->nodes[i].op] += engine->node_us[i];
    total += engine->node_us[i];
  }
  double runs = MAX (engine->runs, 1);
  g_message ("cpu profile over %d runs: %.2f CPU ms per run", engine->runs, total / runs / 1e3);
  for (int op = 0; op < VQ_OP_COUNT; op++)
    if (per_op[op] > 0)
      g_message ("  %-10s %8.2f ms", vq_op_name ((vq_op) op), per_op[op] / runs / 1e3);
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    const vq_shape *out = &graph->values[node->outputs[0]].shape;
    char *geometry = node->op == VQ_OP_CONV2D
                         ? g_strdup_printf ("k%dx%d s%d g%d in %d", node->p.conv.kernel_h,
                                            node->p.conv.kernel_w, node->p.conv.stride_h,
                                            node->p.conv.groups,
                                            graph->values[node->inputs[0]].shape.dims[1])
                         : g_strdup ("");
    g_message ("  node %3u %-10s %8.3f ms  out [%d %d %d %d] %s", i, vq_op_name (node->op),
               engine->node_us[i] / runs / 1e3, out->dims[0], out->dims[1], out->dims[2],
               out->dims[3], geometry);
    g_free (geometry);
  }
}

static void
cpu_destroy (void *state)
{
  cpu_engine *engine = state;
  if (engine == NULL)
    return;
  if (engine->node_us != NULL && engine->runs > 0)
    print_profile (engine);
  g_free (engine->node_us);
  if (engine->convs != NULL)
    for (uint32_t i = 0; i < engine->graph->n_nodes; i++)
      vq__conv_clear (&engine->convs[i]);
  g_free (engine->convs);
  vq__threadpool_free (engine->pool);
  g_free (engine->arena);
  g_free (engine->values);
  g_free (engine->kept);
  g_free (engine->scratch_block);
  g_free (engine->scratch);
  g_free (engine->device_name);
  g_free (engine);
}

static gint64
cpu_microseconds (void)
{
  struct timespec now;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &now);
  return (gint64) now.tv_sec * 1000000 + now.tv_nsec / 1000;
}

static gboolean
cpu_run (void *state, const float *input, GError **error)
{
  cpu_engine *engine = state;
  const vq_graph *graph = engine->graph;
  uint32_t input_id = graph->inputs[0];
  memcpy (engine->values[input_id], input,
          (size_t) vq_shape_numel (&graph->values[input_id].shape) * sizeof (float));

  vq__op_context ctx = { graph, engine->values, engine->pool };
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    gint64 start = engine->node_us != NULL ? cpu_microseconds () : 0;
    switch (node->op) {
    case VQ_OP_CONV2D:
      vq__conv_run (&engine->convs[i], engine->pool, engine->scratch,
                    engine->values[node->inputs[0]], engine->values[node->outputs[0]]);
      break;
    case VQ_OP_ADD:
      vq__op_add (&ctx, node);
      break;
    case VQ_OP_CONCAT:
      vq__op_concat (&ctx, node);
      break;
    case VQ_OP_RESIZE:
      vq__op_resize (&ctx, node);
      break;
    case VQ_OP_MAX_POOL:
    case VQ_OP_AVG_POOL:
      vq__op_pool (&ctx, node);
      break;
    case VQ_OP_ACTIVATION:
      vq__op_activation (&ctx, node);
      break;
    case VQ_OP_SPLIT:
      vq__op_split (&ctx, node);
      break;
    case VQ_OP_RESHAPE:
      vq__op_reshape (&ctx, node);
      break;
    case VQ_OP_TRANSPOSE:
      vq__op_transpose (&ctx, node);
      break;
    default:
      /* Excluded by check_supported(). */
      g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED, "node %u: unknown op", i);
      return FALSE;
    }
    if (engine->node_us != NULL)
      engine->node_us[i] += cpu_microseconds () - start;
  }
  engine->runs++;
  return TRUE;
}

static vq_tensor_view
cpu_output (void *state, uint32_t index)
{
  cpu_engine *engine = state;
  uint32_t id = engine->graph->outputs[index];
  vq_tensor_view view = { engine->graph->values[id].shape, engine->values[id] };
  return view;
}

static gboolean
cpu_read_value (void *state, uint32_t value_id, float *out)
{
  cpu_engine *engine = state;
  if (!engine->kept[value_id])
    return FALSE;
  memcpy (out, engine->values[value_id],
          (size_t) vq_shape_numel (&engine->graph->values[value_id].shape) * sizeof (float));
  return TRUE;
}

static const char *
cpu_device_name (const void *state)
{
  const cpu_engine *engine = state;
  return engine->device_name;
}

static size_t
cpu_activation_bytes (const void *state)
{
  const cpu_engine *engine = state;
  return engine->arena_floats * sizeof (float);
}

const vq__backend vq__cpu_backend = {
  .name = "cpu",
  .create = cpu_create,
  .destroy = cpu_destroy,
  .run = cpu_run,
  .output = cpu_output,
  .read_value = cpu_read_value,
  .device_name = cpu_device_name,
  .activation_bytes = cpu_activation_bytes,
};
