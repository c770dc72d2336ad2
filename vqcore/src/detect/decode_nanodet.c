/* NanoDet's Generalized Focal Loss head (see docs in vqcore/model.h).
 *
 * Level l with stride s covers the input with a grid of ceil(W / s) x
 * ceil(H / s) cells, row-major. Cell i has class scores (already sigmoid)
 * and, per side (left, top, right, bottom), reg_max + 1 logits over the
 * distances 0..reg_max in units of the stride: the side's distance is the
 * expectation under their softmax. The anchor is the cell centre
 * ((i mod G + 0.5) s, (i div G + 0.5) s). */
#include "detect_private.h"

#include <math.h>

#include "vqcore/error.h"

/* Bins per side are few (11 for NanoDet); the cap bounds a stack buffer. */
#define MAX_BINS 64

/* Checks that `view` holds exactly `cells` rows of `width` floats (any
 * leading dims of 1, e.g. [1, N, C] or [N, C]). */
static gboolean
check_view (const vq_tensor_view *view, const char *what, uint32_t level, uint32_t index,
            int64_t cells, int64_t width, GError **error)
{
  int64_t numel = 1;
  gboolean dims_ok = view->shape.rank >= 1 && view->shape.rank <= VQ_MAX_RANK;
  for (uint32_t d = 0; dims_ok && d < view->shape.rank; d++) {
    if (view->shape.dims[d] <= 0)
      dims_ok = FALSE;
    else
      numel *= view->shape.dims[d];
  }
  if (view->data == NULL || !dims_ok ||
      view->shape.dims[view->shape.rank - 1] != width || numel != cells * width) {
    char *dims = g_strdup ("");
    for (uint32_t d = 0; d < MIN (view->shape.rank, (uint32_t) VQ_MAX_RANK); d++) {
      char *next = g_strdup_printf ("%s%s%d", dims, d ? ", " : "", view->shape.dims[d]);
      g_free (dims);
      dims = next;
    }
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                 "level %u %s output %u has shape [%s]%s; expected %" G_GINT64_FORMAT
                 " cells x %" G_GINT64_FORMAT,
                 level, what, index, dims, view->data == NULL ? " and no data" : "", cells,
                 width);
    g_free (dims);
    return FALSE;
  }
  return TRUE;
}

/* The expected distance of one side: sum_b softmax(logits)_b * b. */
static float
side_distance (const float *logits, int bins)
{
  float peak = logits[0];
  for (int b = 1; b < bins; b++)
    peak = MAX (peak, logits[b]);
  float weights[MAX_BINS];
  float sum = 0.0f, expect = 0.0f;
  for (int b = 0; b < bins; b++) {
    weights[b] = expf (logits[b] - peak);
    sum += weights[b];
    expect += weights[b] * (float) b;
  }
  return expect / sum;
}

static void
decode_level (const float *scores, const float *boxes, int32_t grid_w, int64_t cells,
              int32_t n_classes, int bins, float stride, float threshold, GArray *out)
{
  for (int64_t i = 0; i < cells; i++) {
    const float *cell_scores = scores + i * n_classes;
    /* The hot path: most cells have no class above the threshold, and only
     * those that do pay for the softmaxes. */
    float best = cell_scores[0];
    for (int32_t c = 1; c < n_classes; c++)
      best = MAX (best, cell_scores[c]);
    if (!(best >= threshold))
      continue;

    const float *logits = boxes + i * 4 * bins;
    float left = side_distance (logits, bins) * stride;
    float top = side_distance (logits + bins, bins) * stride;
    float right = side_distance (logits + 2 * bins, bins) * stride;
    float bottom = side_distance (logits + 3 * bins, bins) * stride;
    float cx = ((float) (i % grid_w) + 0.5f) * stride;
    float cy = ((float) (i / grid_w) + 0.5f) * stride;
    for (int32_t c = 0; c < n_classes; c++) {
      if (!(cell_scores[c] >= threshold))
        continue;
      vq_detection d = {
        .class_id = c,
        .confidence = cell_scores[c],
        .x = cx - left,
        .y = cy - top,
        .w = left + right,
        .h = top + bottom,
      };
      g_array_append_val (out, d);
    }
  }
}

gboolean
vq__decode_nanodet_gfl (const vq_model *model, const vq_tensor_view *outputs,
                        uint32_t n_outputs, const vq_decode_options *options, GArray *out,
                        GError **error)
{
  const vq_decoder *dec = &model->decoder;
  if (dec->num_classes <= 0 || dec->reg_max < 0 || dec->reg_max + 1 > MAX_BINS) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "num_classes %d / reg_max %d out of range (reg_max at most %d)",
                 dec->num_classes, dec->reg_max, MAX_BINS - 1);
    return FALSE;
  }
  if (dec->n_levels == 0 || dec->n_levels > VQ_MAX_LEVELS) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%u levels (1 to %d allowed)",
                 dec->n_levels, VQ_MAX_LEVELS);
    return FALSE;
  }
  if (model->input.width <= 0 || model->input.height <= 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "invalid input size %dx%d",
                 model->input.width, model->input.height);
    return FALSE;
  }

  const int bins = dec->reg_max + 1;
  for (uint32_t l = 0; l < dec->n_levels; l++) {
    int32_t stride = dec->strides[l];
    int32_t so = dec->score_outputs[l], bo = dec->box_outputs[l];
    if (stride <= 0) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "level %u has stride %d", l, stride);
      return FALSE;
    }
    if (so < 0 || (uint32_t) so >= n_outputs || bo < 0 || (uint32_t) bo >= n_outputs) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "level %u names outputs %d (scores) and %d (boxes) but the graph has %u", l,
                   so, bo, n_outputs);
      return FALSE;
    }
    int32_t grid_w = (model->input.width + stride - 1) / stride;
    int32_t grid_h = (model->input.height + stride - 1) / stride;
    int64_t cells = (int64_t) grid_w * grid_h;
    if (!check_view (&outputs[so], "score", l, (uint32_t) so, cells, dec->num_classes, error) ||
        !check_view (&outputs[bo], "box", l, (uint32_t) bo, cells, 4 * (int64_t) bins, error))
      return FALSE;
    decode_level (outputs[so].data, outputs[bo].data, grid_w, cells, dec->num_classes, bins,
                  (float) stride, options->score_threshold, out);
  }
  return TRUE;
}
