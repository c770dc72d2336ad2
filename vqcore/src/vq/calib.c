/* Calibration statistics of conv inputs: runs a model on calibration input
 * tensors and, for chosen convs, accumulates the Hessian H = X^T X of a
 * sample of im2col rows and the mean im2col row over every output position
 * (the latter drives bias correction, which needs exact means, not samples).
 *
 * Positions are drawn per (conv, frame) from a generator seeded by both, so
 * the sample does not depend on which other convs are collected alongside. */
#include <string.h>

#include "vq_private.h"
#include "vqcore/engine.h"
#include "vqcore/error.h"

typedef struct {
  int64_t cin, h, w, oh, ow, kh, kw, sh, sw, dh, dw, pt, pl;
} conv_geometry;

static conv_geometry
geometry_of (const vq_graph *graph, const vq_node *node)
{
  const vq_conv_params *c = &node->p.conv;
  const vq_shape *in = &graph->values[node->inputs[0]].shape;
  const vq_shape *out = &graph->values[node->outputs[0]].shape;
  conv_geometry g = { in->dims[1], in->dims[2], in->dims[3], out->dims[2], out->dims[3],
                      c->kernel_h, c->kernel_w, c->stride_h, c->stride_w, c->dilation_h,
                      c->dilation_w, c->pad_top, c->pad_left };
  return g;
}

/* Writes the im2col row of output position (oy, ox): [cin][kh][kw]. */
static void
im2col_row (const conv_geometry *g, const float *x, int64_t oy, int64_t ox, float *row)
{
  for (int64_t c = 0; c < g->cin; c++)
    for (int64_t ky = 0; ky < g->kh; ky++) {
      int64_t iy = oy * g->sh + ky * g->dh - g->pt;
      for (int64_t kx = 0; kx < g->kw; kx++) {
        int64_t ix = ox * g->sw + kx * g->dw - g->pl;
        *row++ = iy >= 0 && iy < g->h && ix >= 0 && ix < g->w ? x[(c * g->h + iy) * g->w + ix]
                                                               : 0.0f;
      }
    }
}

typedef struct {
  const conv_geometry *g;
  const float *x;
  double *sums; /* cols, this frame */
} mean_job;

/* Sums of im2col column (c, ky, kx) over all output positions, one input
 * channel per task: a plain sum over the strided window of valid inputs. */
static void
mean_channel (void *context, int64_t c, int thread_index)
{
  mean_job *job = context;
  const conv_geometry *g = job->g;
  const float *plane = job->x + c * g->h * g->w;
  for (int64_t ky = 0; ky < g->kh; ky++)
    for (int64_t kx = 0; kx < g->kw; kx++) {
      double s = 0.0;
      for (int64_t oy = 0; oy < g->oh; oy++) {
        int64_t iy = oy * g->sh + ky * g->dh - g->pt;
        if (iy < 0 || iy >= g->h)
          continue;
        for (int64_t ox = 0; ox < g->ow; ox++) {
          int64_t ix = ox * g->sw + kx * g->dw - g->pl;
          if (ix >= 0 && ix < g->w)
            s += plane[iy * g->w + ix];
        }
      }
      job->sums[(c * g->kh + ky) * g->kw + kx] = s;
    }
}

void
vq__conv_stats_init (vq__conv_stats *stats, const vq_graph *graph, uint32_t node,
                     gboolean want_hessian, int64_t rows_per_frame)
{
  memset (stats, 0, sizeof *stats);
  stats->node = node;
  const vq_node *n = &graph->nodes[node];
  const vq_shape *in = &graph->values[n->inputs[0]].shape;
  stats->cols = (int64_t) in->dims[1] / n->p.conv.groups * n->p.conv.kernel_h
                * n->p.conv.kernel_w;
  stats->mean = g_new0 (double, (gsize) stats->cols);
  stats->rows_per_frame = rows_per_frame;
  if (want_hessian)
    stats->h = g_new0 (double, (gsize) (stats->cols * stats->cols));
}

void
vq__conv_stats_want_cross (vq__conv_stats *stats)
{
  stats->cross = g_new0 (double, (gsize) (stats->cols * stats->cols));
  stats->row_sum = g_new0 (double, (gsize) stats->cols);
  stats->reference_row_sum = g_new0 (double, (gsize) stats->cols);
}

void
vq__conv_stats_clear (vq__conv_stats *stats)
{
  g_free (stats->h);
  g_free (stats->cross);
  g_free (stats->row_sum);
  g_free (stats->reference_row_sum);
  g_free (stats->mean);
  memset (stats, 0, sizeof *stats);
}

static void
free_buffers (gpointer data)
{
  float **buffers = data;
  for (float **b = buffers; *b; b++)
    g_free (*b);
  g_free (buffers);
}

void
vq__activation_cache_clear (vq__activation_cache *cache)
{
  if (cache->values)
    g_hash_table_unref (cache->values);
  memset (cache, 0, sizeof *cache);
}

static void
accumulate_frame (vq__conv_stats *stats, const vq_graph *graph, const float *x,
                  const float *x_reference, int frame, guint32 seed, int n_threads)
{
  const vq_node *node = &graph->nodes[stats->node];
  conv_geometry g = geometry_of (graph, node);
  int64_t positions = g.oh * g.ow;

  double *sums = g_new (double, (gsize) stats->cols);
  mean_job job = { &g, x, sums };
  vq__parallel_for (g.cin, n_threads, mean_channel, &job);
  /* Running mean over all positions of all frames so far. */
  double total = (double) (stats->n_positions + positions);
  for (int64_t j = 0; j < stats->cols; j++)
    stats->mean[j] = (stats->mean[j] * (double) stats->n_positions + sums[j]) / total;
  stats->n_positions += positions;
  g_free (sums);

  if (stats->h == NULL)
    return;
  int64_t rows = MIN (stats->rows_per_frame, positions);
  GRand *rand = g_rand_new_with_seed (seed ^ (stats->node * 2654435761u)
                                      ^ ((guint32) frame * 40503u));
  /* A partial Fisher-Yates shuffle picks `rows` distinct positions. */
  int32_t *order = g_new (int32_t, (gsize) positions);
  for (int64_t p = 0; p < positions; p++)
    order[p] = (int32_t) p;
  float *x_rows = g_new (float, (gsize) (rows * stats->cols));
  gboolean cross = stats->cross != NULL && x_reference != NULL;
  float *ref_rows = cross ? g_new (float, (gsize) (rows * stats->cols)) : NULL;
  for (int64_t r = 0; r < rows; r++) {
    int64_t pick = r + g_rand_int_range (rand, 0, (gint32) (positions - r));
    int32_t t = order[r];
    order[r] = order[pick];
    order[pick] = t;
    im2col_row (&g, x, order[r] / g.ow, order[r] % g.ow, x_rows + r * stats->cols);
    if (cross)
      im2col_row (&g, x_reference, order[r] / g.ow, order[r] % g.ow, ref_rows + r * stats->cols);
  }
  vq__hessian_accumulate (stats->h, stats->cols, x_rows, rows, n_threads);
  if (cross) {
    vq__cross_accumulate (stats->cross, stats->cols, x_rows, ref_rows, rows, n_threads);
    for (int64_t r = 0; r < rows; r++)
      for (int64_t j = 0; j < stats->cols; j++) {
        stats->row_sum[j] += x_rows[r * stats->cols + j];
        stats->reference_row_sum[j] += ref_rows[r * stats->cols + j];
      }
  }
  stats->n_rows += rows;
  g_free (ref_rows);
  g_free (x_rows);
  g_free (order);
  g_rand_free (rand);
}

gboolean
vq__collect_stats (const vq_model *model, const float *const *frames, int n_frames,
                   vq__conv_stats *stats, int n_stats, guint32 seed, int n_threads,
                   vq__activation_cache *keep, const vq__activation_cache *reference,
                   GError **error)
{
  /* Only the nodes before the last conv of interest need to run: a prefix
   * of the graph whose outputs are the inputs read here. */
  const vq_graph *graph = model->graph;
  uint32_t end = 0;
  uint32_t *inputs = g_new (uint32_t, MAX (n_stats, 1));
  for (int s = 0; s < n_stats; s++) {
    end = MAX (end, stats[s].node);
    inputs[s] = graph->nodes[stats[s].node].inputs[0];
  }
  vq_model prefix = *model;
  prefix.graph = vq__graph_copy_prefix (graph, end, inputs, (uint32_t) n_stats);
  prefix.mapping = NULL;
  g_free (inputs);
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_CPU;
  options.n_threads = n_threads;
  vq_engine *engine = vq_engine_new (&prefix, &options, error);
  if (engine == NULL) {
    vq_graph_free (prefix.graph);
    return FALSE;
  }
  gboolean ok = TRUE;
  float *buffer = NULL;
  int64_t buffer_size = 0;
  if (keep) {
    keep->n_frames = n_frames;
    keep->values = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, free_buffers);
  }
  for (int f = 0; f < n_frames && ok; f++) {
    if (!vq_engine_run (engine, frames[f], error)) {
      ok = FALSE;
      break;
    }
    for (int s = 0; s < n_stats; s++) {
      uint32_t value = graph->nodes[stats[s].node].inputs[0];
      int64_t numel = vq_shape_numel (&graph->values[value].shape);
      if (numel > buffer_size) {
        buffer = g_renew (float, buffer, (gsize) numel);
        buffer_size = numel;
      }
      if (!vq_engine_read_value (engine, value, buffer)) {
        g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                     "the engine did not keep the input of conv '%s'",
                     graph->nodes[stats[s].node].name);
        ok = FALSE;
        break;
      }
      const float *x_reference = NULL;
      if (reference && reference->values && f < reference->n_frames) {
        float **buffers = g_hash_table_lookup (reference->values, GUINT_TO_POINTER (value));
        x_reference = buffers ? buffers[f] : NULL;
      }
      accumulate_frame (&stats[s], graph, buffer, x_reference, f, seed, n_threads);
      if (keep) {
        float **buffers = g_hash_table_lookup (keep->values, GUINT_TO_POINTER (value));
        if (buffers == NULL) {
          buffers = g_new0 (float *, (gsize) n_frames + 1);
          g_hash_table_insert (keep->values, GUINT_TO_POINTER (value), buffers);
        }
        if (buffers[f] == NULL)
          buffers[f] = g_memdup2 (buffer, (gsize) numel * sizeof (float));
      }
    }
  }
  g_free (buffer);
  vq_engine_free (engine);
  vq_graph_free (prefix.graph);
  return ok;
}
