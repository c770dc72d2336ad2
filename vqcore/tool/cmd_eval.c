/* vq eval — how well a second model agrees with a first on the same frames:
 * the first (reference) model's detections at the score threshold act as
 * ground truth; the second's detections give mAP@IoU (0.5 by default), and
 * precision and recall at the threshold. Prints one JSON object. */
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "frames.h"
#include "vq/vq_compress.h"
#include "vqcore/vqcore.h"

/* Candidates are ranked down to this score so that the precision/recall
 * curve behind mAP is traced well below the operating threshold. */
#define CANDIDATE_FLOOR 0.05f

typedef struct {
  int start;
  int every;
  int max;
  int threads;
  double threshold;
  double iou;
} eval_args;

static gboolean
detect_tensor (const vq_model *model, vq_engine *engine, const float *tensor, float threshold,
               GArray *out, GError **error)
{
  vq_decode_options options;
  vq_decode_options_from_model (&options, model);
  options.score_threshold = threshold;
  g_array_set_size (out, 0);
  if (!vq_engine_run (engine, tensor, error)
      || !vq_decode_outputs (model, engine, &options, out, error))
    return FALSE;
  vq_nms (out, options.nms_iou, options.max_detections);
  return TRUE;
}

static void
print_model (const char *key, const char *path, const vq_model *model)
{
  vq_model_stats stats;
  vq_model_compute_stats (model, &stats);
  printf ("\"%s\": {\"path\": \"%s\", \"bytes\": %" G_GUINT64_FORMAT
          ", \"bits_per_weight\": %.4f}, ", key, path, stats.total_bytes, stats.bits_per_weight);
}

static gboolean
run_eval (const eval_args *args, char **paths, GError **error)
{
  vq_model *reference = vq_model_load (paths[0], error);
  vq_model *candidate = reference ? vq_model_load (paths[1], error) : NULL;
  vq_engine *ref_engine = NULL, *cand_engine = NULL;
  GPtrArray *tensors = NULL;
  gboolean ok = FALSE;
  if (candidate == NULL)
    goto done;
  if (reference->input.width != candidate->input.width
      || reference->input.height != candidate->input.height
      || memcmp (&reference->preprocess, &candidate->preprocess, sizeof reference->preprocess)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "%s and %s take different inputs; compare models of the same network",
                 paths[0], paths[1]);
    goto done;
  }
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_CPU;
  options.n_threads = args->threads;
  options.reuse_buffers = TRUE;
  ref_engine = vq_engine_new (reference, &options, error);
  cand_engine = ref_engine ? vq_engine_new (candidate, &options, error) : NULL;
  if (cand_engine == NULL)
    goto done;
  vq_tool_frame_selection selection = { args->start, args->every, args->max };
  tensors = vq_tool_load_tensors (reference, paths + 2, &selection, NULL, error);
  if (tensors == NULL)
    goto done;
  float threshold = args->threshold >= 0 ? (float) args->threshold
                                         : reference->decoder.score_threshold;
  vq_agreement_builder *builder = vq_agreement_builder_new ((float) args->iou, threshold);
  GArray *ref_boxes = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  GArray *cand_boxes = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  ok = TRUE;
  for (guint f = 0; f < tensors->len && ok; f++) {
    ok = detect_tensor (reference, ref_engine, tensors->pdata[f], threshold, ref_boxes, error)
         && detect_tensor (candidate, cand_engine, tensors->pdata[f],
                           MIN (threshold, CANDIDATE_FLOOR), cand_boxes, error);
    if (ok)
      vq_agreement_builder_add_frame (builder, ref_boxes, cand_boxes);
  }
  if (ok) {
    vq_agreement result;
    vq_agreement_builder_finish (builder, &result);
    printf ("{");
    print_model ("reference", paths[0], reference);
    print_model ("candidate", paths[1], candidate);
    printf ("\"frames\": %u, \"threshold\": %.2f, \"iou\": %.2f, \"map\": %.4f, "
            "\"precision\": %.4f, \"recall\": %.4f, \"reference_boxes\": %" G_GINT64_FORMAT
            ", \"candidate_boxes\": %" G_GINT64_FORMAT ", \"classes\": %d}\n",
            tensors->len, threshold, args->iou, result.map50, result.precision, result.recall,
            result.reference_boxes, result.candidate_boxes, result.n_classes);
  }
  g_array_free (ref_boxes, TRUE);
  g_array_free (cand_boxes, TRUE);
  vq_agreement_builder_free (builder);

done:
  if (tensors)
    g_ptr_array_unref (tensors);
  if (cand_engine)
    vq_engine_free (cand_engine);
  if (ref_engine)
    vq_engine_free (ref_engine);
  vq_model_free (candidate);
  vq_model_free (reference);
  return ok;
}

int
vq_cmd_eval (int argc, char **argv)
{
  eval_args args = { .every = 10, .threshold = -1, .iou = 0.5 };
  GOptionEntry entries[] = {
    { "start", 0, 0, G_OPTION_ARG_INT, &args.start,
      "First video frame evaluated (default 0; images always count)", "N" },
    { "every", 0, 0, G_OPTION_ARG_INT, &args.every, "Every Nth video frame (default 10)", "N" },
    { "max", 0, 0, G_OPTION_ARG_INT, &args.max, "At most N frames per file (default all)", "N" },
    { "threshold", 0, 0, G_OPTION_ARG_DOUBLE, &args.threshold,
      "Score threshold of the reference's ground truth and of precision/recall "
      "(default: the model's, 0.35)", "T" },
    { "iou", 0, 0, G_OPTION_ARG_DOUBLE, &args.iou, "IoU for a match (default 0.5)", "IOU" },
    { "threads", 't', 0, G_OPTION_ARG_INT, &args.threads,
      "CPU threads (default: one per core)", "N" },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
  };
  GError *error = NULL;
  int status = 1;
  if (!vq_tool_parse_options (&argc, &argv, entries,
          "REFERENCE.vqm CANDIDATE.vqm MEDIA... - detection agreement of two models",
          "Prints {\"map\", \"precision\", \"recall\", ...}: mAP of CANDIDATE's detections "
          "against REFERENCE's (those at the threshold act as ground truth).", &error))
    goto done;
  if (argc < 4) {
    g_set_error (&error, VQ_ERROR, VQ_ERROR_INVALID,
                 "expected two models and at least one video or image (see 'vq eval --help')");
    goto done;
  }
  if (args.every < 1 || args.start < 0 || args.max < 0 || args.threads < 0 || args.iou <= 0
      || args.iou > 1 || args.threshold > 1) {
    g_set_error (&error, VQ_ERROR, VQ_ERROR_INVALID,
                 "--every must be >= 1, --iou in (0, 1], --threshold <= 1, others >= 0");
    goto done;
  }
  if (run_eval (&args, argv + 1, &error))
    status = 0;

done:
  vq_tool_report_error ("eval", error);
  return status;
}
