/* libFuzzer target: vq_model_load_from_bytes() on arbitrary bytes must
 * either fail with an error or return a model that is safe to use: the
 * statistics and the decoding of every conv's weights (which index blobs
 * with the file's own shapes and codes) run under ASan/UBSan here, and the
 * model must survive another write and read (the writer and the reader
 * agree on everything the reader accepts). */
#include <stdint.h>
#include <stdlib.h>

#include "format/vqm_private.h"
#include "vqcore/model.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  GError *error = NULL;
  vq_model *model = vq_model_load_from_bytes (data, size, &error);
  if (model == NULL) {
    if (error == NULL || error->message == NULL || error->message[0] == '\0')
      abort (); /* a failure must say why */
    g_error_free (error);
    return 0;
  }
  vq_model_stats stats;
  vq_model_compute_stats (model, &stats);
  const vq_graph *graph = model->graph;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    if (graph->nodes[i].op != VQ_OP_CONV2D)
      continue;
    int64_t count = vq_conv_weight_count (graph, &graph->nodes[i]);
    float *weights = g_new (float, count);
    vq_conv_weights_to_f32 (graph, &graph->nodes[i], weights);
    g_free (weights);
  }
  gsize again_size = 0;
  guint8 *again = vq__vqm_serialize (model, &again_size);
  vq_model *reloaded = vq_model_load_from_bytes (again, again_size, &error);
  if (reloaded == NULL)
    abort (); /* the writer produced a file the reader refuses */
  vq_model_free (reloaded);
  g_free (again);
  vq_model_free (model);
  return 0;
}
