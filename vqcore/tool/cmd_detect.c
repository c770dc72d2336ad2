/* vq detect — decodes a video or image with FFmpeg, runs the detector on
 * its frames and prints one JSON object per processed frame (JSON Lines). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "media.h"
#include "vqcore/vqcore.h"

typedef struct {
  char *model;
  char *backend;
  char *device;
  char *precision;
  char *output;
  char *resize;
  double threshold;
  double nms_iou;
  int max_detections;
  int every;
  int max_frames;
  int threads;
  gboolean stats;
} detect_args;

static gboolean
parse_args (int argc, char **argv, detect_args *args, char **input, GError **error)
{
  GOptionEntry entries[] = {
    { "model", 'm', 0, G_OPTION_ARG_FILENAME, &args->model,
      "Model file (.vqm); default: the default model (see 'vq info')", "FILE" },
    { "threshold", 't', 0, G_OPTION_ARG_DOUBLE, &args->threshold,
      "Minimum confidence, 0..1 (default 0.35)", "T" },
    { "nms-iou", 0, 0, G_OPTION_ARG_DOUBLE, &args->nms_iou,
      "IoU above which same-class boxes are suppressed, 0..1 (default 0.6)", "IOU" },
    { "max-detections", 0, 0, G_OPTION_ARG_INT, &args->max_detections,
      "Keep at most N boxes per frame (default: the model's, 100)", "N" },
    { "every", 0, 0, G_OPTION_ARG_INT, &args->every,
      "Process every Nth decoded frame (default 1)", "N" },
    { "max-frames", 0, 0, G_OPTION_ARG_INT, &args->max_frames,
      "Stop after processing N frames (default: all)", "N" },
    { "backend", 'b', 0, G_OPTION_ARG_STRING, &args->backend,
      "Compute backend: auto, cpu or vulkan (default auto)", "NAME" },
    { "device", 0, 0, G_OPTION_ARG_STRING, &args->device,
      "Vulkan device index or name (default: the best one)", "DEVICE" },
    { "precision", 0, 0, G_OPTION_ARG_STRING, &args->precision,
      "Vulkan activation storage: auto, fp32 or fp16 (default auto: fp16 on CPU devices)", "P" },
    { "threads", 0, 0, G_OPTION_ARG_INT, &args->threads,
      "CPU backend threads (default: one per core)", "N" },
    { "resize", 0, 0, G_OPTION_ARG_STRING, &args->resize,
      "How frames fit the model input: letterbox or stretch (default: the model's)", "MODE" },
    { "output", 'o', 0, G_OPTION_ARG_FILENAME, &args->output,
      "Write JSON Lines to FILE instead of standard output", "FILE" },
    { "stats", 0, 0, G_OPTION_ARG_NONE, &args->stats,
      "Print frames processed and frames per second on standard error", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
  };
  if (!vq_tool_parse_options (&argc, &argv, entries, "VIDEO|IMAGE - detect objects",
          "Prints one JSON object per processed frame:\n"
          "{\"frame\": n, \"pts\": seconds, \"width\": w, \"height\": h, \"detections\": "
          "[{\"label\", \"class_id\", \"confidence\", \"x\", \"y\", \"w\", \"h\"}]}\n"
          "with box coordinates in source-frame pixels.", error))
    return FALSE;
  if (argc != 2) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "expected exactly one video or image file (see 'vq detect --help')");
    return FALSE;
  }
  if (args->every < 1 || args->max_frames < 0 || args->threads < 0
      || (args->threshold >= 0 && args->threshold > 1) || args->nms_iou > 1) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "--every must be >= 1, --threshold and --nms-iou within 0..1, "
                 "--max-frames and --threads >= 0");
    return FALSE;
  }
  *input = g_strdup (argv[1]);
  return TRUE;
}

static gboolean
make_options (const detect_args *args, vq_detector_options *options, GError **error)
{
  vq_detector_options_init (options);
  options->model_path = args->model;
  options->engine.n_threads = args->threads;
  options->engine.device = args->device;
  if (args->backend && !vq_backend_kind_parse (args->backend, &options->engine.backend)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "unknown backend '%s' (expected auto, cpu or vulkan)", args->backend);
    return FALSE;
  }
  if (args->precision && !vq_precision_parse (args->precision, &options->engine.precision)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "unknown precision '%s' (expected auto, fp32 or fp16)", args->precision);
    return FALSE;
  }
  if (args->resize) {
    if (g_ascii_strcasecmp (args->resize, "letterbox") == 0)
      options->fit = VQ_RESIZE_LETTERBOX;
    else if (g_ascii_strcasecmp (args->resize, "stretch") == 0)
      options->fit = VQ_RESIZE_STRETCH;
    else {
      g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                   "unknown resize mode '%s' (expected letterbox or stretch)", args->resize);
      return FALSE;
    }
  }
  options->decode.score_threshold = (float) args->threshold;
  options->decode.nms_iou = (float) args->nms_iou;
  options->decode.max_detections = args->max_detections;
  return TRUE;
}

static void
append_json_string (GString *out, const char *text)
{
  g_string_append_c (out, '"');
  for (const unsigned char *p = (const unsigned char *) text; *p; p++) {
    if (*p == '"' || *p == '\\')
      g_string_append_printf (out, "\\%c", *p);
    else if (*p < 0x20)
      g_string_append_printf (out, "\\u%04x", *p);
    else
      g_string_append_c (out, (char) *p);
  }
  g_string_append_c (out, '"');
}

/* Formats floats with a fixed number of decimals and a '.' whatever the
 * locale, so the output is valid JSON everywhere. */
static void
append_number (GString *out, const char *name, double value, int decimals)
{
  char buffer[G_ASCII_DTOSTR_BUF_SIZE];
  char format[8];
  g_snprintf (format, sizeof format, "%%.%df", decimals);
  g_string_append_printf (out, "\"%s\": %s", name,
                          g_ascii_formatd (buffer, sizeof buffer, format, value));
}

static void
format_frame (GString *out, const vq_detector *detector, const vq_media_frame *frame,
              const GArray *detections)
{
  g_string_truncate (out, 0);
  g_string_append_printf (out, "{\"frame\": %" G_GINT64_FORMAT ", ", frame->index);
  append_number (out, "pts", frame->pts, 3);
  g_string_append_printf (out, ", \"width\": %d, \"height\": %d, \"detections\": [",
                          frame->frame.width, frame->frame.height);
  for (guint i = 0; i < detections->len; i++) {
    const vq_detection *d = &g_array_index (detections, vq_detection, i);
    g_string_append (out, i ? ", {\"label\": " : "{\"label\": ");
    append_json_string (out, vq_detector_label (detector, d->class_id));
    g_string_append_printf (out, ", \"class_id\": %d, ", d->class_id);
    append_number (out, "confidence", d->confidence, 4);
    g_string_append (out, ", ");
    append_number (out, "x", d->x, 1);
    g_string_append (out, ", ");
    append_number (out, "y", d->y, 1);
    g_string_append (out, ", ");
    append_number (out, "w", d->w, 1);
    g_string_append (out, ", ");
    append_number (out, "h", d->h, 1);
    g_string_append_c (out, '}');
  }
  g_string_append (out, "]}\n");
}

/* Decodes and detects frame by frame. Frames decoded before an error are
 * still printed, so a truncated video loses nothing that could be read. */
static gboolean
run_detection (const detect_args *args, const char *input, FILE *out, GError **error)
{
  vq_detector_options options;
  if (!make_options (args, &options, error))
    return FALSE;
  vq_media_reader *reader = vq_media_reader_open (input, error);
  if (reader == NULL)
    return FALSE;
  vq_detector *detector = vq_detector_new (&options, error);
  if (detector == NULL) {
    vq_media_reader_close (reader);
    return FALSE;
  }

  GArray *detections = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  GString *line = g_string_new (NULL);
  vq_media_frame frame;
  gboolean ok = TRUE;
  int processed = 0;
  gint64 start = g_get_monotonic_time ();
  int status;
  while ((args->max_frames == 0 || processed < args->max_frames)
         && (status = vq_media_reader_next (reader, &frame, error)) != 0) {
    if (status < 0) {
      ok = FALSE;
      break;
    }
    if (frame.index % args->every != 0)
      continue;
    if (!vq_detector_run (detector, &frame.frame, detections, error)) {
      g_prefix_error (error, "%s: frame %" G_GINT64_FORMAT ": ", input, frame.index);
      ok = FALSE;
      break;
    }
    format_frame (line, detector, &frame, detections);
    if (fputs (line->str, out) == EOF || fflush (out) == EOF) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_IO, "cannot write output: %s", g_strerror (errno));
      ok = FALSE;
      break;
    }
    processed++;
  }
  double seconds = (double) (g_get_monotonic_time () - start) / 1e6;
  if (args->stats)
    fprintf (stderr, "vq detect: %d frames in %.2f s (%.2f frames per second, backend %s)\n",
             processed, seconds, seconds > 0 ? processed / seconds : 0.0,
             vq_engine_backend_name (vq_detector_engine (detector)));

  g_string_free (line, TRUE);
  g_array_free (detections, TRUE);
  vq_detector_free (detector);
  vq_media_reader_close (reader);
  return ok;
}

int
vq_cmd_detect (int argc, char **argv)
{
  detect_args args = { .threshold = -1, .nms_iou = -1, .max_detections = -1, .every = 1 };
  char *input = NULL;
  GError *error = NULL;
  int status = 1;
  FILE *out = stdout;

  if (!parse_args (argc, argv, &args, &input, &error))
    goto done;
  if (args.output && (out = fopen (args.output, "w")) == NULL) {
    g_set_error (&error, VQ_ERROR, VQ_ERROR_IO, "cannot write %s: %s", args.output,
                 g_strerror (errno));
    out = stdout;
    goto done;
  }
  if (run_detection (&args, input, out, &error))
    status = 0;

done:
  if (out != stdout && fclose (out) != 0 && status == 0) {
    g_set_error (&error, VQ_ERROR, VQ_ERROR_IO, "cannot write %s", args.output);
    status = 1;
  }
  vq_tool_report_error ("detect", error);
  g_free (input);
  g_free (args.model);
  g_free (args.backend);
  g_free (args.device);
  g_free (args.precision);
  g_free (args.output);
  g_free (args.resize);
  return status;
}
