/* vq convert — imports a TF.js graph model (NanoDet) into a .vqm file,
 * with the metadata defaults of vq_tfjs_import_nanodet() and options to
 * override them. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "vqcore/vqcore.h"

typedef struct {
  char *output;
  char *name;
  char *labels;
  char *color_order;
  char *mean;
  char *std;
  char *resize;
  double threshold;
  double nms_iou;
  int max_detections;
} convert_options;

/* Parses "a,b,c" into three finite floats. */
static gboolean
parse_triple (const char *text, const char *option, float *out, GError **error)
{
  char **parts = g_strsplit (text, ",", -1);
  gboolean ok = g_strv_length (parts) == 3;
  for (int i = 0; ok && i < 3; i++) {
    char *end = NULL;
    double v = g_ascii_strtod (g_strstrip (parts[i]), &end);
    ok = end != parts[i] && *end == '\0' && isfinite (v);
    out[i] = (float) v;
  }
  g_strfreev (parts);
  if (!ok)
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "%s expects three numbers separated by commas, got '%s'", option, text);
  return ok;
}

/* One label per line; trailing empty lines are ignored. */
static char **
read_labels (const char *path, GError **error)
{
  char *contents = NULL;
  GError *local = NULL;
  if (!g_file_get_contents (path, &contents, NULL, &local)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_IO, "cannot read labels: %s", local->message);
    g_error_free (local);
    return NULL;
  }
  char **lines = g_strsplit (contents, "\n", -1);
  g_free (contents);
  guint n = g_strv_length (lines);
  for (guint i = 0; i < n; i++)
    g_strchomp (lines[i]); /* also drops the \r of CRLF files */
  while (n > 0 && lines[n - 1][0] == '\0') {
    g_free (lines[n - 1]);
    lines[--n] = NULL;
  }
  return lines;
}

static gboolean
apply_options (vq_model *model, const convert_options *o, GError **error)
{
  if (o->name) {
    g_free (model->name);
    model->name = g_strdup (o->name);
  }
  if (o->labels) {
    char **labels = read_labels (o->labels, error);
    if (labels == NULL)
      return FALSE;
    guint n = g_strv_length (labels);
    if ((int32_t) n != model->decoder.num_classes) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "%s has %u labels but the model has %d "
                   "classes", o->labels, n, model->decoder.num_classes);
      g_strfreev (labels);
      return FALSE;
    }
    g_strfreev (model->labels);
    model->labels = labels;
  }
  if (o->color_order) {
    if (g_ascii_strcasecmp (o->color_order, "rgb") == 0)
      model->preprocess.color_order = VQ_COLOR_RGB;
    else if (g_ascii_strcasecmp (o->color_order, "bgr") == 0)
      model->preprocess.color_order = VQ_COLOR_BGR;
    else {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "--color-order must be rgb or bgr, not '%s'", o->color_order);
      return FALSE;
    }
  }
  if (o->mean && !parse_triple (o->mean, "--mean", model->preprocess.mean, error))
    return FALSE;
  if (o->std && !parse_triple (o->std, "--std", model->preprocess.std, error))
    return FALSE;
  if (o->resize) {
    if (strcmp (o->resize, "letterbox") == 0)
      model->preprocess.fit = VQ_RESIZE_LETTERBOX;
    else if (strcmp (o->resize, "stretch") == 0)
      model->preprocess.fit = VQ_RESIZE_STRETCH;
    else {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "--resize must be letterbox or stretch, not '%s'", o->resize);
      return FALSE;
    }
  }
  if (!isnan (o->threshold)) {
    if (!(o->threshold >= 0.0 && o->threshold <= 1.0)) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "--threshold must be in 0..1");
      return FALSE;
    }
    model->decoder.score_threshold = (float) o->threshold;
  }
  if (!isnan (o->nms_iou)) {
    if (!(o->nms_iou >= 0.0 && o->nms_iou <= 1.0)) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "--nms-iou must be in 0..1");
      return FALSE;
    }
    model->decoder.nms_iou = (float) o->nms_iou;
  }
  if (o->max_detections != G_MININT) {
    if (o->max_detections < 1) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "--max-detections must be at least 1");
      return FALSE;
    }
    model->decoder.max_detections = o->max_detections;
  }
  return vq_model_validate (model, error);
}

int
vq_cmd_convert (int argc, char **argv)
{
  convert_options o = { .threshold = NAN, .nms_iou = NAN, .max_detections = G_MININT };
  GOptionEntry entries[] = {
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &o.output, "Write the model to FILE (required)", "FILE" },
    { "name", 0, 0, G_OPTION_ARG_STRING, &o.name, "Model name (default nanodet-m-416)", "NAME" },
    { "labels", 0, 0, G_OPTION_ARG_FILENAME, &o.labels, "Class names, one per line (default COCO)", "FILE" },
    { "color-order", 0, 0, G_OPTION_ARG_STRING, &o.color_order, "Input channel order: rgb or bgr (default bgr)", "ORDER" },
    { "mean", 0, 0, G_OPTION_ARG_STRING, &o.mean, "Per-channel mean in 0..255 units (default 103.53,116.28,123.675)", "A,B,C" },
    { "std", 0, 0, G_OPTION_ARG_STRING, &o.std, "Per-channel std (default 57.375,57.12,58.395)", "A,B,C" },
    { "resize", 0, 0, G_OPTION_ARG_STRING, &o.resize, "letterbox or stretch (default letterbox)", "MODE" },
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &o.threshold, "Default score threshold (0.35)", "T" },
    { "nms-iou", 0, 0, G_OPTION_ARG_DOUBLE, &o.nms_iou, "Default NMS IoU threshold (0.6)", "IOU" },
    { "max-detections", 0, 0, G_OPTION_ARG_INT, &o.max_detections, "Default detection limit (100)", "N" },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
  };
  GError *error = NULL;
  gboolean ok = vq_tool_parse_options (&argc, &argv, entries,
      "MODEL.json -o OUT.vqm - import a TF.js model",
      "Imports a TensorFlow.js graph model (model.json and the weight files\n"
      "beside it) with NanoDet's metadata (COCO labels, BGR mean/std, letterbox,\n"
      "GFL decoder at strides 8/16/32) and writes a .vqm model.", &error);
  if (ok && (argc != 2 || o.output == NULL))
    g_set_error (&error, VQ_ERROR, VQ_ERROR_INVALID,
                 "expected one MODEL.json and -o OUT.vqm (see 'vq convert --help')");
  vq_model *model = NULL;
  if (error == NULL)
    model = vq_tfjs_import_nanodet (argv[1], &error);
  if (model != NULL && apply_options (model, &o, &error))
    vq_model_save (model, o.output, &error);

  int status = 0;
  if (error != NULL) {
    status = vq_tool_fail ("convert", error->message);
    g_error_free (error);
  } else {
    vq_model_stats stats;
    vq_model_compute_stats (model, &stats);
    printf ("vq convert: %s: %s, %u nodes, %u convs, %" G_GINT64_FORMAT " parameters -> %s\n",
            argv[1], model->name, model->graph->n_nodes, stats.n_conv, stats.parameters, o.output);
  }
  vq_model_free (model);
  g_free (o.output);
  g_free (o.name);
  g_free (o.labels);
  g_free (o.color_order);
  g_free (o.mean);
  g_free (o.std);
  g_free (o.resize);
  return status;
}
