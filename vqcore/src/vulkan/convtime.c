/* convtime.c — one conv of a model timed alone, dense vs VQ (see
 * convtime.h). Each variant is a one-node graph run by its own
 * vq_vk_engine, so the figures come from the same shaders, tile choices and
 * barriers as the whole network. */
#include "convtime.h"

#include <stdlib.h>

#include "backend.h"
#include "common/half.h"
#include "conv.h"

enum { VARIANTS = 6 };

/* A graph holding a copy of conv `src` of `model` with random weights:
 * dense fp32 (variant 0) or fp16 (4), VQ d=4 K=256 8-bit indices (1), VQ
 * d=8 K=16 4-bit indices (2), VQ d=1 K=256 on the compressor's grid
 * codebook (5), VQ codebooks in fp16 as the compressor writes them; or the
 * model's own VQ weights (3). */
static vq_graph *
conv_graph (const vq_graph *model, const vq_node *src, int variant, GRand *rand)
{
  const vq_conv_params *sp = &src->p.conv;
  vq_graph *graph = vq_graph_new ();
  uint32_t in = vq_graph_add_value (graph, "input", &model->values[src->inputs[0]].shape);
  uint32_t out = vq_graph_add_value (graph, "output", &model->values[src->outputs[0]].shape);
  int32_t cin_g = model->values[src->inputs[0]].shape.dims[1] / sp->groups;
  int32_t row = cin_g * sp->kernel_h * sp->kernel_w;
  vq_node node;

  vq_node_init (&node, VQ_OP_CONV2D, "conv");
  node.n_inputs = 1;
  node.inputs[0] = in;
  node.n_outputs = 1;
  node.outputs[0] = out;
  node.act = src->act;
  node.act_alpha = src->act_alpha;
  node.p.conv = *sp;
  vq_conv_params *p = &node.p.conv;
  p->weights.dense = p->weights.codebook = p->weights.indices = p->weights.scales = -1;
  p->bias = -1;

  if (variant == 3) {
    /* The model's own VQ weights, as they are. */
    const vq_blob *cb = &model->blobs[sp->weights.codebook];
    const vq_blob *ix = &model->blobs[sp->weights.indices];
    p->weights.codebook = (int32_t) vq_graph_add_blob_copy (graph, "codebook", cb->dtype,
                                                            &cb->shape, cb->data);
    p->weights.indices = (int32_t) vq_graph_add_blob_copy (graph, "indices", ix->dtype,
                                                           &ix->shape, ix->data);
    if (sp->weights.scales >= 0) {
      const vq_blob *sc = &model->blobs[sp->weights.scales];
      p->weights.scales = (int32_t) vq_graph_add_blob_copy (graph, "scales", sc->dtype,
                                                            &sc->shape, sc->data);
    }
  } else if (variant == 0 || variant == 4) {
    gsize count = (gsize) sp->out_channels * row;
    float *w = g_new (float, count);
    for (gsize i = 0; i < count; i++)
      w[i] = (float) g_rand_double_range (rand, -0.1, 0.1);
    vq_shape shape = vq_shape_4d (sp->out_channels, cin_g, sp->kernel_h, sp->kernel_w);
    if (variant == 4) {
      uint16_t *half = vq__halves_new (w, count);
      g_free (w);
      p->weights.dense =
        (int32_t) vq_graph_add_blob_owned (graph, "w", VQ_DTYPE_F16, &shape, half);
    } else {
      p->weights.dense = (int32_t) vq_graph_add_blob_owned (graph, "w", VQ_DTYPE_F32, &shape, w);
    }
  } else {
    gboolean grid = variant == 5, four_bit = variant == 2;
    int32_t d = grid ? 1 : four_bit ? 8 : 4, k = four_bit ? 16 : 256;
    int32_t per_row = (row + d - 1) / d;
    gsize n_vectors = (gsize) sp->out_channels * per_row;
    uint16_t *codebook = g_new (uint16_t, (gsize) k * d);
    for (int32_t i = 0; i < k * d; i++)
      codebook[i] = vq__float_to_half (grid ? (float) (i - k / 2) / (float) (k / 2)
                                            : (float) g_rand_double_range (rand, -0.1, 0.1));
    gsize bytes = four_bit ? (n_vectors + 1) / 2 : n_vectors;
    guint8 *indices = g_new (guint8, bytes);
    for (gsize i = 0; i < bytes; i++)
      indices[i] = (guint8) g_rand_int_range (rand, 0, 256);
    vq_shape cb_shape = vq_shape_make (2, (int32_t[]) {k, d});
    vq_shape idx_shape = vq_shape_make (2, (int32_t[]) {sp->out_channels, per_row});
    p->weights.codebook = (int32_t) vq_graph_add_blob_owned (graph, "codebook", VQ_DTYPE_F16,
                                                             &cb_shape, codebook);
    p->weights.indices = (int32_t) vq_graph_add_blob_owned (
      graph, "indices", four_bit ? VQ_DTYPE_U4 : VQ_DTYPE_U8, &idx_shape, indices);
  }
  vq_graph_add_node (graph, &node);
  vq_graph_add_input (graph, in);
  vq_graph_add_output (graph, out);
  return graph;
}

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

gboolean
vq__vk_conv_times (const vq_graph *model, uint32_t node, const char *device, int runs,
                   vq_vk_conv_times *times, GError **error)
{
  const vq_node *src = &model->nodes[node];
  vq_graph *graphs[VARIANTS] = {NULL};
  vq_vk_engine *engines[VARIANTS] = {NULL};
  double *ms[VARIANTS] = {NULL};
  float *input = NULL;
  GRand *rand = g_rand_new_with_seed (node + 1);
  gboolean ok = FALSE;

  memset (times, 0, sizeof *times);
  if (node >= model->n_nodes || src->op != VQ_OP_CONV2D || runs < 1) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "node %u is not a conv2d", node);
    goto out;
  }
  int32_t cin_g = model->values[src->inputs[0]].shape.dims[1] / src->p.conv.groups;
  for (int v = 0; v < VARIANTS; v++) {
    /* conv2d_gemm decodes VQ weights 4 input channels at a time; variant 3
     * exists only for a VQ layer. */
    if ((v != 0 && v != 4 && cin_g % 4 != 0) || (v == 3 && src->p.conv.weights.dense >= 0))
      continue;
    graphs[v] = conv_graph (model, src, v, rand);
    if (!vq_graph_validate (graphs[v], error))
      goto out;
    engines[v] = vq__vk_engine_new (graphs[v], device, TRUE, error);
    if (!engines[v])
      goto out;
    if (v == 0)
      times->family = vq__vk_conv_auto_family (vq__vk_engine_context (engines[0], NULL),
                                                graphs[0], &graphs[0]->nodes[0]);
    ms[v] = g_new (double, runs);
  }
  gsize n_in = (gsize) vq_shape_numel (&model->values[src->inputs[0]].shape);
  input = g_new (float, n_in);
  for (gsize i = 0; i < n_in; i++)
    input[i] = (float) g_rand_double_range (rand, -1.0, 1.0);
  /* One untimed run each: the first dispatch may compile the shader. */
  for (int r = -1; r < runs; r++)
    for (int v = 0; v < VARIANTS; v++) {
      double node_ms = 0;
      if (!engines[v])
        continue;
      if (!vq__vk_engine_run (engines[v], input, error))
        goto out;
      if (!vq__vk_engine_node_times (engines[v], &node_ms)) {
        g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                     "Vulkan: the device has no timestamps");
        goto out;
      }
      if (r >= 0)
        ms[v][r] = node_ms;
    }
  /* The fastest run: other processes and a stalled device thread only ever
   * add time (on lavapipe one late thread delays the whole dispatch), so
   * the minimum compares variants more steadily than the median. */
  double *fastest[VARIANTS] = {&times->dense_ms, &times->vq8_ms, &times->vq4_ms,
                               &times->own_ms, &times->dense16_ms, &times->grid_ms};
  for (int v = 0; v < VARIANTS; v++)
    if (ms[v]) {
      qsort (ms[v], runs, sizeof (double), compare_doubles);
      *fastest[v] = ms[v][0];
    }
  ok = TRUE;

out:
  for (int v = 0; v < VARIANTS; v++) {
    vq__vk_engine_free (engines[v]);
    if (graphs[v])
      vq_graph_free (graphs[v]);
    g_free (ms[v]);
  }
  g_free (input);
  g_rand_free (rand);
  return ok;
}
