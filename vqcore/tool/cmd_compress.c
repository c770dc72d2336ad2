/* vq compress — turns a float model into a vector-quantized one with
 * unlabelled calibration media (see vqcore/src/vq/vq_compress.h), and
 * prints per layer and in total: bits per weight (codebooks and scales
 * included), bytes, and the layer's output error on the calibration data. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "frames.h"
#include "vq/vq_compress.h"
#include "vqcore/vqcore.h"

typedef struct {
  char *output;
  char **calib;
  char **layers;
  char *setting;
  char *method;
  char *share;
  double bits;
  int calib_start;
  int calib_every;
  int calib_max;
  int rows;
  int rounds;
  int seed;
  int threads;
  gboolean no_sequential;
  gboolean no_float_targets;
  gboolean no_bias_correction;
  gboolean no_measure;
  gboolean quiet;
} compress_args;

static void
log_line (const char *message, void *user_data)
{
  fprintf (stderr, "%s\n", message);
}

static gboolean
parse_args (int argc, char **argv, compress_args *args, char **input, GError **error)
{
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &args->output,
      "Write the compressed model to FILE (required)", "FILE" },
    { "calib", 'c', 0, G_OPTION_ARG_FILENAME_ARRAY, &args->calib,
      "Calibration video or image (repeat for several; required unless --method kmeans)",
      "MEDIA" },
    { "calib-start", 0, 0, G_OPTION_ARG_INT, &args->calib_start,
      "First video frame used for calibration (default 0; images always count)", "N" },
    { "calib-every", 0, 0, G_OPTION_ARG_INT, &args->calib_every,
      "Use every Nth video frame from --calib-start (default 12)", "N" },
    { "calib-max", 0, 0, G_OPTION_ARG_INT, &args->calib_max,
      "At most N frames per calibration file (default 0: no limit)", "N" },
    { "bits", 'b', 0, G_OPTION_ARG_DOUBLE, &args->bits,
      "Budget in bits per weight over all convs, codebooks and scales included; "
      "settings are chosen by measured sensitivity (default: none, use --setting)", "B" },
    { "setting", 's', 0, G_OPTION_ARG_STRING, &args->setting,
      "Setting of every layer not chosen otherwise: dDkK (D values per sub-vector, K "
      "codewords; K <= 16 packs indices in 4 bits), f16 or f32; dDkK@G shares one codebook "
      "with every layer of group G (default d4k256)", "S" },
    { "layer", 'l', 0, G_OPTION_ARG_STRING_ARRAY, &args->layers,
      "Override one layer: NAME=SETTING, NAME a conv node name or #i for the i-th conv "
      "(repeatable; e.g. --layer '#0=f16', --layer '#5=d4k256@1' --layer '#6=d4k256@1' "
      "to share one codebook)", "NAME=S" },
    { "share", 0, 0, G_OPTION_ARG_STRING, &args->share,
      "With --bits: auto (layers of the same d and K may share one codebook, stored "
      "once, where that measures better per byte) or none (default none)", "MODE" },
    { "method", 'm', 0, G_OPTION_ARG_STRING, &args->method,
      "hessian (output-error assignment, LS refits, layer by layer, bias correction) or "
      "kmeans (plain k-means on the weights, the baseline) (default hessian)", "M" },
    { "rows", 0, 0, G_OPTION_ARG_INT, &args->rows,
      "im2col rows sampled per frame and layer for the Hessian (default 1024)", "N" },
    { "rounds", 0, 0, G_OPTION_ARG_INT, &args->rounds,
      "Assignment + refit rounds per layer (default 2)", "N" },
    { "no-sequential", 0, 0, G_OPTION_ARG_NONE, &args->no_sequential,
      "Quantize every layer on float activations instead of layer by layer", NULL },
    { "no-float-targets", 0, 0, G_OPTION_ARG_NONE, &args->no_float_targets,
      "Layer by layer, fit each layer to its own weights rather than to the float "
      "network's outputs", NULL },
    { "no-bias-correction", 0, 0, G_OPTION_ARG_NONE, &args->no_bias_correction,
      "Skip the per-channel bias correction", NULL },
    { "no-measure", 0, 0, G_OPTION_ARG_NONE, &args->no_measure,
      "Skip measuring each layer's output error against the float model", NULL },
    { "seed", 0, 0, G_OPTION_ARG_INT, &args->seed, "Random seed (default 1)", "N" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &args->threads,
      "Worker threads (default: one per core)", "N" },
    { "quiet", 'q', 0, G_OPTION_ARG_NONE, &args->quiet, "No progress messages", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
  };
  if (!vq_tool_parse_options (&argc, &argv, entries, "IN.vqm - vector-quantize a model's convs",
          "Example:\n  vq compress nanodet.vqm -o nanodet-vq.vqm --bits 2.2 \\\n"
          "    --calib vtest.avi --calib-start 400 --calib-every 12 --calib aero1.jpg", error))
    return FALSE;
  if (argc != 2 || args->output == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "expected one input model and -o OUT.vqm (see 'vq compress --help')");
    return FALSE;
  }
  if (args->calib_every < 1 || args->calib_start < 0 || args->calib_max < 0 || args->rows < 1
      || args->rounds < 1 || args->threads < 0 || args->bits < 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "--calib-every, --rows and --rounds must be >= 1; --calib-start, "
                 "--calib-max, --threads and --bits >= 0");
    return FALSE;
  }
  *input = g_strdup (argv[1]);
  return TRUE;
}

static gboolean
make_options (const compress_args *args, vq_compress_options *options, GPtrArray *names,
              GArray *settings, GError **error)
{
  vq_compress_options_init (options);
  if (args->method && strcmp (args->method, "kmeans") == 0)
    options->method = VQ_COMPRESS_KMEANS;
  else if (args->method && strcmp (args->method, "hessian") != 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "unknown method '%s' (expected hessian or kmeans)", args->method);
    return FALSE;
  }
  if (args->share && strcmp (args->share, "auto") == 0)
    options->share = VQ_SHARE_AUTO;
  else if (args->share && strcmp (args->share, "none") == 0)
    options->share = VQ_SHARE_NONE;
  else if (args->share) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "unknown --share '%s' (expected auto or none)", args->share);
    return FALSE;
  }
  if (args->setting && !vq_layer_setting_parse (args->setting, &options->default_setting, error))
    return FALSE;
  for (char **l = args->layers; l && *l; l++) {
    const char *eq = strrchr (*l, '=');
    vq_layer_setting setting;
    if (eq == NULL || eq == *l) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "bad --layer '%s' (expected NAME=SETTING)", *l);
      return FALSE;
    }
    if (!vq_layer_setting_parse (eq + 1, &setting, error))
      return FALSE;
    g_ptr_array_add (names, g_strndup (*l, (gsize) (eq - *l)));
    g_array_append_val (settings, setting);
  }
  options->override_names = (const char *const *) names->pdata;
  options->override_settings = (const vq_layer_setting *) (void *) settings->data;
  options->n_overrides = (int) settings->len;
  options->bits_per_weight = args->bits;
  options->rows_per_frame = args->rows;
  options->rounds = args->rounds;
  options->sequential = !args->no_sequential;
  options->float_targets = !args->no_float_targets;
  options->bias_correction = !args->no_bias_correction;
  options->seed = (guint32) args->seed;
  options->n_threads = args->threads;
  if (!args->quiet)
    options->log = log_line;
  return TRUE;
}

/* Which layers share a codebook (their bytes above count it once, at the
 * first member). */
static void
print_groups (const vq_compress_report *report)
{
  for (uint32_t i = 0; i < report->n_layers; i++) {
    const vq_layer_setting *s = &report->layers[i].setting;
    gboolean first = s->kind == VQ_LAYER_VQ && s->group > 0;
    for (uint32_t p = 0; p < i && first; p++)
      if (report->layers[p].setting.kind == VQ_LAYER_VQ
          && report->layers[p].setting.group == s->group)
        first = FALSE;
    if (!first)
      continue;
    GString *members = g_string_new (NULL);
    uint32_t n = 0;
    for (uint32_t j = i; j < report->n_layers; j++)
      if (report->layers[j].setting.kind == VQ_LAYER_VQ
          && report->layers[j].setting.group == s->group) {
        g_string_append_printf (members, "%s#%u", n ? " " : "", j);
        n++;
      }
    printf ("shared codebook @%d: d%dk%d, %d bytes stored once for %u layers (%s); "
            "saves %" G_GUINT64_FORMAT " bytes\n", s->group, s->d, s->k, 2 * s->d * s->k, n,
            members->str, (uint64_t) (n - 1) * 2u * (uint64_t) (s->d * s->k));
    g_string_free (members, TRUE);
  }
}

static void
print_report (const vq_model *original, const vq_model *compressed,
              const vq_compress_report *report)
{
  printf ("%-4s %-40s %-9s %9s %9s %7s %9s %9s\n", "#", "layer", "setting", "weights",
          "bytes", "bits/w", "local-err", "out-err");
  for (uint32_t i = 0; i < report->n_layers; i++) {
    const vq_layer_report *l = &report->layers[i];
    char setting[24];
    printf ("%-4u %-40s %-9s %9" G_GINT64_FORMAT " %9" G_GUINT64_FORMAT " %7.3f %9.5f %9.5f\n",
            i, l->name, vq_layer_setting_format (&l->setting, setting, sizeof setting),
            l->weights, l->bytes, l->bits_per_weight, l->local_error, l->output_error);
  }
  print_groups (report);
  vq_model_stats before, after;
  vq_model_compute_stats (original, &before);
  vq_model_compute_stats (compressed, &after);
  uint64_t weight_bytes = after.dense_bytes + after.codebook_bytes + after.index_bytes
                          + after.scale_bytes;
  printf ("total: %" G_GINT64_FORMAT " conv weights, %" G_GUINT64_FORMAT " weight bytes "
          "(indices %" G_GUINT64_FORMAT ", codebooks %" G_GUINT64_FORMAT ", scales %"
          G_GUINT64_FORMAT ", dense %" G_GUINT64_FORMAT "), %.3f bits per weight\n",
          after.conv_weights, weight_bytes, after.index_bytes, after.codebook_bytes,
          after.scale_bytes, after.dense_bytes, after.bits_per_weight);
  printf ("model: %" G_GUINT64_FORMAT " blob bytes (biases %" G_GUINT64_FORMAT "); "
          "%.1fx smaller than fp32 (%" G_GUINT64_FORMAT "), %.1fx than fp16 (%" G_GUINT64_FORMAT
          "); %.1f s\n", after.total_bytes, after.bias_bytes,
          (double) (before.parameters * 4) / (double) after.total_bytes,
          (uint64_t) before.parameters * 4,
          (double) (before.parameters * 2) / (double) after.total_bytes,
          (uint64_t) before.parameters * 2, report->seconds);
}

static gboolean
run_compress (const compress_args *args, const char *input, GError **error)
{
  GPtrArray *names = g_ptr_array_new_with_free_func (g_free);
  GArray *settings = g_array_new (FALSE, FALSE, sizeof (vq_layer_setting));
  vq_compress_options options;
  vq_model *model = NULL, *compressed = NULL;
  GPtrArray *tensors = NULL;
  vq_compress_report report = { 0 };
  gboolean ok = FALSE;

  if (!make_options (args, &options, names, settings, error))
    goto done;
  if (args->calib == NULL && options.method == VQ_COMPRESS_HESSIAN) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "--calib MEDIA is required (the hessian method learns from activations)");
    goto done;
  }
  model = vq_model_load (input, error);
  if (model == NULL)
    goto done;
  vq_tool_frame_selection selection = { args->calib_start, args->calib_every, args->calib_max };
  tensors = vq_tool_load_tensors (model, args->calib, &selection, NULL, error);
  if (tensors == NULL)
    goto done;
  if (!args->quiet)
    fprintf (stderr, "vq compress: %u calibration frames\n", tensors->len);
  compressed = vq_compress_model (model, (const float *const *) tensors->pdata,
                                  (int) tensors->len, &options, &report, error);
  if (compressed == NULL)
    goto done;
  if (!args->no_measure && tensors->len > 0
      && !vq_compress_measure (model, compressed, (const float *const *) tensors->pdata,
                               (int) tensors->len, args->threads, &report, error))
    goto done;
  if (!vq_model_save (compressed, args->output, error))
    goto done;
  print_report (model, compressed, &report);
  ok = TRUE;

done:
  vq_compress_report_clear (&report);
  vq_model_free (compressed);
  vq_model_free (model);
  if (tensors)
    g_ptr_array_unref (tensors);
  g_array_free (settings, TRUE);
  g_ptr_array_unref (names);
  return ok;
}

int
vq_cmd_compress (int argc, char **argv)
{
  compress_args args = { .calib_every = 12, .rows = 1024, .rounds = 2, .seed = 1 };
  char *input = NULL;
  GError *error = NULL;
  int status = 1;
  if (parse_args (argc, argv, &args, &input, &error) && run_compress (&args, input, &error))
    status = 0;
  vq_tool_report_error ("compress", error);
  g_free (input);
  g_free (args.output);
  g_strfreev (args.calib);
  g_strfreev (args.layers);
  g_free (args.setting);
  g_free (args.method);
  g_free (args.share);
  return status;
}
