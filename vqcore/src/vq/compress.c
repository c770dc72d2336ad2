/* The layer-by-layer compressor (see vq_compress.h).
 *
 * Convs are grouped into levels: a conv's level is the number of convs on
 * the longest path from the graph input to it, so every conv of a level
 * reads activations that depend only on convs of lower levels. Each level
 * then costs one pass of the (partly quantized) network over the
 * calibration frames, instead of one pass per conv. */
#include <math.h>
#include <stdarg.h>
#include <string.h>

#include "vq_private.h"
#include "vqcore/error.h"


/* When the running compression started, for the log's time stamps. */
static _Thread_local gint64 log_start;

static void
say (const vq_compress_options *options, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
say (const vq_compress_options *options, const char *format, ...)
{
  if (options->log == NULL)
    return;
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  /* Wall-clock stamps show where the time goes. */
  char *stamped = g_strdup_printf ("[%6.1f s] %s",
                                   (double) (g_get_monotonic_time () - log_start) / 1e6, message);
  options->log (stamped, options->log_data);
  g_free (stamped);
  g_free (message);
}

/* Levels: longest conv count from the input, through any other ops. */
static int *
conv_levels (const vq_graph *graph)
{
  int *value_level = g_new0 (int, MAX (graph->n_values, 1));
  int *node_level = g_new0 (int, MAX (graph->n_nodes, 1));
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    int level = 0;
    for (uint32_t k = 0; k < node->n_inputs; k++)
      level = MAX (level, value_level[node->inputs[k]]);
    node_level[i] = level;
    for (uint32_t k = 0; k < node->n_outputs; k++)
      value_level[node->outputs[k]] = level + (node->op == VQ_OP_CONV2D ? 1 : 0);
  }
  g_free (value_level);
  return node_level;
}

static gboolean
resolve_overrides (const vq_graph *graph, vq__conv_entry *convs, uint32_t n_convs,
                   const vq_compress_options *options, GError **error)
{
  for (int i = 0; i < options->n_overrides; i++) {
    const char *name = options->override_names[i];
    gboolean found = FALSE;
    for (uint32_t c = 0; c < n_convs; c++) {
      char index_name[32];
      g_snprintf (index_name, sizeof index_name, "#%u", c);
      if (strcmp (graph->nodes[convs[c].node].name, name) == 0
          || strcmp (index_name, name) == 0) {
        convs[c].setting = options->override_settings[i];
        found = TRUE;
      }
    }
    if (!found) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "no conv named '%s' to apply a layer setting to (use a node name "
                   "from 'vq info --layers' or #i for the i-th conv)", name);
      return FALSE;
    }
  }
  return TRUE;
}

/* Quantizes one conv with Hessian h (NULL for the k-means method) and
 * writes the result into the working graph; a member of a shared group
 * uses the group's fitted codebook as it is, and the first member to be
 * quantized emits it. */
static gboolean
quantize_conv (vq_graph *graph, vq__conv_entry *conv, const float *weights, const double *h,
               GArray *groups, const vq_compress_options *options, GError **error)
{
  if (conv->setting.kind == VQ_LAYER_F32)
    return TRUE;
  if (conv->setting.kind == VQ_LAYER_F16) {
    vq__emit_dense (graph, conv->node, conv->weights, VQ_DTYPE_F16);
    return TRUE;
  }
  vq__quantize_options q;
  vq__quantize_options_init (&q, conv->setting.d, conv->setting.k);
  q.method = options->method == VQ_COMPRESS_KMEANS ? VQ__METHOD_KMEANS : VQ__METHOD_HESSIAN;
  q.rounds = options->rounds;
  q.seed = options->seed + conv->node;
  q.n_threads = options->n_threads;
  vq__shared_codebook *shared = conv->setting.group > 0
                                  ? vq__shared_codebook_find (groups, conv->setting.group)
                                  : NULL;
  if (shared)
    q.fixed_codebook = shared->codebook;
  vq__vq_layer layer;
  if (!vq__quantize_layer (weights, conv->rows, conv->cols, h, &q, &layer,
                           &conv->local_error, error)) {
    g_prefix_error (error, "conv '%s': ", graph->nodes[conv->node].name);
    return FALSE;
  }
  if (shared && shared->blob < 0) {
    char *name = g_strdup_printf ("shared%d/codebook", shared->group);
    shared->blob = vq__emit_codebook (graph, &layer, name);
    g_free (name);
  }
  vq__emit_vq (graph, conv->node, &layer, shared ? shared->blob : -1);
  vq__vq_layer_clear (&layer);
  return TRUE;
}

/* Makes the quantized conv's mean pre-activation output equal the float
 * network's: b' = b + mu_float . w - mu_quantized . w_decoded, per channel. */
static void
correct_bias (vq_graph *graph, const vq__conv_entry *conv, const double *mean_quantized)
{
  float *decoded = g_new (float, (gsize) (conv->rows * conv->cols));
  vq_conv_weights_to_f32 (graph, &graph->nodes[conv->node], decoded);
  float *bias = g_new (float, (gsize) conv->rows);
  for (int64_t o = 0; o < conv->rows; o++) {
    double shift = 0.0;
    for (int64_t j = 0; j < conv->cols; j++)
      shift += conv->reference.mean[j] * conv->weights[o * conv->cols + j]
               - mean_quantized[j] * decoded[o * conv->cols + j];
    bias[o] = (float) (conv->bias[o] + shift);
  }
  vq__emit_bias (graph, conv->node, bias);
  g_free (bias);
  g_free (decoded);
}

static void
log_conv (const vq_compress_options *options, const vq_graph *graph, const vq__conv_entry *conv)
{
  char setting[24];
  vq_layer_setting_format (&conv->setting, setting, sizeof setting);
  say (options, "  %-40s %-7s %4" G_GINT64_FORMAT " x %-5" G_GINT64_FORMAT
       " local output error %.4f", graph->nodes[conv->node].name, setting, conv->rows,
       conv->cols, conv->local_error);
}

/* Quantizes a conv of the current level: toward its float target when the
 * statistics carry cross terms, else toward its own weights. */
static gboolean
quantize_level_conv (vq_graph *graph, vq__conv_entry *conv, const vq__conv_stats *stats,
                     GArray *groups, const vq_compress_options *options, GError **error)
{
  if (stats->cross == NULL)
    return quantize_conv (graph, conv, conv->weights, stats->h, groups, options, error);
  float *target = g_new (float, (gsize) (conv->rows * conv->cols));
  double *h = g_new (double, (gsize) (conv->cols * conv->cols));
  gboolean ok;
  if (vq__float_target (stats, conv->weights, conv->rows, 0.01, target, h, options->n_threads))
    ok = quantize_conv (graph, conv, target, h, groups, options, error);
  else
    ok = quantize_conv (graph, conv, conv->weights, stats->h, groups, options, error);
  g_free (h);
  g_free (target);
  return ok;
}

static gboolean
quantize_all (vq_model *work, vq__conv_entry *convs, uint32_t n_convs, const float *const *frames,
              int n_frames, const vq__activation_cache *reference, GArray *groups,
              const vq_compress_options *options, GError **error)
{
  vq_graph *graph = work->graph;
  gboolean hessian = options->method == VQ_COMPRESS_HESSIAN;
  if (!hessian || !options->sequential) {
    for (uint32_t c = 0; c < n_convs; c++) {
      if (!quantize_conv (graph, &convs[c], convs[c].weights, convs[c].reference.h, groups,
                          options, error))
        return FALSE;
      if (hessian && options->bias_correction && convs[c].setting.kind == VQ_LAYER_VQ)
        correct_bias (graph, &convs[c], convs[c].reference.mean);
      log_conv (options, graph, &convs[c]);
    }
    return TRUE;
  }

  int max_level = 0;
  for (uint32_t c = 0; c < n_convs; c++)
    max_level = MAX (max_level, convs[c].level);
  vq__conv_stats *stats = g_new0 (vq__conv_stats, n_convs);
  uint32_t *members = g_new (uint32_t, n_convs);
  gboolean ok = TRUE;
  for (int level = 0; level <= max_level && ok; level++) {
    uint32_t n = 0;
    for (uint32_t c = 0; c < n_convs; c++)
      if (convs[c].level == level && convs[c].setting.kind == VQ_LAYER_VQ)
        members[n++] = c;
    /* Dense layers of this level need no statistics. */
    for (uint32_t c = 0; c < n_convs && ok; c++)
      if (convs[c].level == level && convs[c].setting.kind != VQ_LAYER_VQ) {
        ok = quantize_conv (graph, &convs[c], convs[c].weights, NULL, groups, options, error);
        convs[c].local_error = 0.0;
        log_conv (options, graph, &convs[c]);
      }
    if (n == 0 || !ok)
      continue;
    for (uint32_t i = 0; i < n; i++) {
      vq__conv_stats_init (&stats[i], graph, convs[members[i]].node, TRUE,
                           options->rows_per_frame);
      if (reference)
        vq__conv_stats_want_cross (&stats[i]);
    }
    say (options, "level %d: statistics of %u convs", level, n);
    ok = vq__collect_stats (work, frames, n_frames, stats, (int) n, options->seed,
                            options->n_threads, NULL, reference, error);
    for (uint32_t i = 0; i < n && ok; i++) {
      vq__conv_entry *conv = &convs[members[i]];
      ok = quantize_level_conv (graph, conv, &stats[i], groups, options, error);
      if (ok && options->bias_correction)
        correct_bias (graph, conv, stats[i].mean);
      if (ok)
        log_conv (options, graph, conv);
    }
    for (uint32_t i = 0; i < n; i++)
      vq__conv_stats_clear (&stats[i]);
  }
  g_free (members);
  g_free (stats);
  return ok;
}

/* Collects the shared-codebook groups of the final settings and fits each
 * one before the layer-by-layer pass (shared.c says why up front). */
static gboolean
fit_shared_codebooks (const vq_graph *graph, vq__conv_entry *convs, uint32_t n_convs,
                      GArray *groups, const vq_compress_options *options, GError **error)
{
  if (!vq__shared_codebooks_collect (graph, convs, n_convs, groups, error))
    return FALSE;
  for (guint g = 0; g < groups->len; g++) {
    vq__shared_codebook *shared = &g_array_index (groups, vq__shared_codebook, g);
    char setting[24];
    GString *names = g_string_new (NULL);
    for (uint32_t i = 0; i < shared->n_members; i++)
      g_string_append_printf (names, "%s%s", i ? ", " : "",
                              graph->nodes[convs[shared->members[i]].node].name);
    say (options, "shared codebook %s: %u convs (%s)",
         vq_layer_setting_format (&shared->setting, setting, sizeof setting),
         shared->n_members, names->str);
    g_string_free (names, TRUE);
    vq__quantize_options q;
    vq__quantize_options_init (&q, shared->setting.d, shared->setting.k);
    q.method = options->method == VQ_COMPRESS_KMEANS ? VQ__METHOD_KMEANS : VQ__METHOD_HESSIAN;
    q.rounds = MAX (1, options->rounds);
    q.seed = options->seed + 7919u * (guint32) shared->group;
    q.n_threads = options->n_threads;
    if (!vq__shared_codebook_fit (shared, convs, &q, error))
      return FALSE;
  }
  return TRUE;
}

static void
fill_report (vq_compress_report *report, const vq_graph *graph, const vq__conv_entry *convs,
             uint32_t n_convs, double seconds)
{
  memset (report, 0, sizeof *report);
  report->layers = g_new0 (vq_layer_report, MAX (n_convs, 1));
  report->n_layers = n_convs;
  for (uint32_t c = 0; c < n_convs; c++) {
    vq_layer_report *r = &report->layers[c];
    r->name = g_strdup (graph->nodes[convs[c].node].name);
    r->setting = convs[c].setting;
    r->weights = convs[c].rows * convs[c].cols;
    /* A shared codebook is counted once, at its first member. */
    gboolean first = TRUE;
    for (uint32_t p = 0; p < c && convs[c].setting.group > 0; p++)
      if (convs[p].setting.kind == VQ_LAYER_VQ && convs[p].setting.group == convs[c].setting.group)
        first = FALSE;
    r->bytes = vq__setting_bytes (&convs[c].setting, convs[c].rows, convs[c].cols, first);
    r->bits_per_weight = 8.0 * (double) r->bytes / (double) r->weights;
    r->local_error = convs[c].local_error;
    r->output_error = -1.0;
    r->sensitivity = convs[c].sensitivity;
    report->weight_bytes += r->bytes;
    report->weights += r->weights;
  }
  report->bits_per_weight = report->weights > 0
                              ? 8.0 * (double) report->weight_bytes / (double) report->weights
                              : 0.0;
  report->seconds = seconds;
}

vq_model *
vq_compress_model (const vq_model *model, const float *const *frames, int n_frames,
                   const vq_compress_options *options, vq_compress_report *report,
                   GError **error)
{
  gint64 start = g_get_monotonic_time ();
  log_start = start;
  if (n_frames < 1 && options->method == VQ_COMPRESS_HESSIAN) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "the Hessian method needs at least one calibration frame");
    return NULL;
  }
  vq_model *work = vq__model_copy (model);
  vq_graph *graph = work->graph;
  int *levels = conv_levels (graph);
  vq__conv_entry *convs = g_new0 (vq__conv_entry, MAX (graph->n_nodes, 1));
  uint32_t n_convs = 0;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    if (node->op != VQ_OP_CONV2D || node->p.conv.weights.dense < 0 || node->p.conv.groups != 1)
      continue; /* already quantized, or grouped (left dense) */
    vq__conv_entry *conv = &convs[n_convs++];
    conv->node = i;
    conv->rows = node->p.conv.out_channels;
    conv->cols = vq_conv_weight_count (graph, node) / conv->rows;
    conv->level = levels[i];
    conv->weights = g_new (float, (gsize) (conv->rows * conv->cols));
    vq_conv_weights_to_f32 (graph, node, conv->weights);
    conv->bias = g_new (float, (gsize) conv->rows);
    vq__conv_bias_to_f32 (graph, node, conv->bias);
    conv->setting.kind = VQ_LAYER_AUTO;
    conv->local_error = -1.0;
  }
  g_free (levels);

  vq_model *result = NULL;
  vq__activation_cache cache = { 0 };
  GArray *groups = g_array_new (FALSE, FALSE, sizeof (vq__shared_codebook));
  vq__conv_stats *reference = g_new0 (vq__conv_stats, MAX (n_convs, 1));
  if (!resolve_overrides (graph, convs, n_convs, options, error))
    goto done;

  /* The float network's statistics: input means for bias correction, and
   * Hessians for the allocator and for the non-sequential modes. */
  gboolean hessian = options->method == VQ_COMPRESS_HESSIAN;
  gboolean grouped = options->default_setting.group > 0;
  for (uint32_t c = 0; c < n_convs; c++)
    grouped = grouped || convs[c].setting.group > 0;
  /* Shared codebooks are fitted to the float Hessians (shared.c). */
  gboolean need_h = options->bits_per_weight > 0 || !options->sequential || hessian == FALSE
                    || grouped;
  gboolean keep_float = hessian && options->sequential && options->float_targets;
  if (n_frames > 0) {
    say (options, "calibration: float network on %d frames", n_frames);
    for (uint32_t c = 0; c < n_convs; c++)
      vq__conv_stats_init (&reference[c], graph, convs[c].node, need_h,
                           options->rows_per_frame);
    if (!vq__collect_stats (model, frames, n_frames, reference, (int) n_convs, options->seed,
                            options->n_threads, keep_float ? &cache : NULL, NULL, error))
      goto done;
    for (uint32_t c = 0; c < n_convs; c++)
      convs[c].reference = reference[c];
  }

  if (options->bits_per_weight > 0) {
    say (options, "allocating %.3f bits per weight by measured sensitivity",
         options->bits_per_weight);
    if (!vq__allocate_budget (model, frames, n_frames, convs, n_convs, options, error))
      goto done;
  }
  for (uint32_t c = 0; c < n_convs; c++)
    if (convs[c].setting.kind == VQ_LAYER_AUTO)
      convs[c].setting = options->default_setting;

  if (!fit_shared_codebooks (graph, convs, n_convs, groups, options, error))
    goto done;

  say (options, "quantizing %u convs (%s)", n_convs,
       hessian ? (options->sequential ? "Hessian, layer by layer" : "Hessian, float activations")
               : "plain k-means");
  if (!quantize_all (work, convs, n_convs, frames, n_frames, cache.values ? &cache : NULL,
                     groups, options, error))
    goto done;
  result = vq__model_copy (work);
  if (report)
    fill_report (report, graph, convs, n_convs,
                 (double) (g_get_monotonic_time () - start) / 1e6);

done:
  for (uint32_t c = 0; c < n_convs; c++) {
    g_free (convs[c].weights);
    g_free (convs[c].bias);
    vq__conv_stats_clear (&reference[c]);
  }
  g_free (reference);
  g_free (convs);
  vq__shared_codebooks_free (groups);
  vq__activation_cache_clear (&cache);
  vq_model_free (work);
  return result;
}
