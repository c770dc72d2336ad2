/* Per-conv output error of a compressed model against its float original on
 * calibration frames: what each layer's output actually became, with all
 * upstream quantization included. */
#include <string.h>

#include "vq_private.h"
#include "vqcore/engine.h"
#include "vqcore/error.h"

static vq_engine *
cpu_engine (const vq_model *model, int n_threads, GError **error)
{
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_CPU;
  options.n_threads = n_threads;
  return vq_engine_new (model, &options, error);
}

gboolean
vq_compress_measure (const vq_model *reference, const vq_model *compressed,
                     const float *const *frames, int n_frames, int n_threads,
                     vq_compress_report *report, GError **error)
{
  const vq_graph *graph = reference->graph;
  if (graph->n_nodes != compressed->graph->n_nodes
      || graph->n_values != compressed->graph->n_values) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "the compressed model's graph does not match the reference's");
    return FALSE;
  }
  uint32_t *values = g_new (uint32_t, MAX (report->n_layers, 1));
  for (uint32_t l = 0; l < report->n_layers; l++) {
    values[l] = G_MAXUINT32;
    for (uint32_t i = 0; i < graph->n_nodes; i++)
      if (graph->nodes[i].op == VQ_OP_CONV2D
          && strcmp (graph->nodes[i].name, report->layers[l].name) == 0)
        values[l] = graph->nodes[i].outputs[0];
  }
  vq_engine *a = cpu_engine (reference, n_threads, error);
  vq_engine *b = a ? cpu_engine (compressed, n_threads, error) : NULL;
  gboolean ok = a != NULL && b != NULL;
  double *diff = g_new0 (double, MAX (report->n_layers, 1));
  double *energy = g_new0 (double, MAX (report->n_layers, 1));
  float *va = NULL, *vb = NULL;
  int64_t size = 0;
  for (int f = 0; f < n_frames && ok; f++) {
    ok = vq_engine_run (a, frames[f], error) && vq_engine_run (b, frames[f], error);
    for (uint32_t l = 0; l < report->n_layers && ok; l++) {
      if (values[l] == G_MAXUINT32)
        continue;
      int64_t n = vq_shape_numel (&graph->values[values[l]].shape);
      if (n > size) {
        va = g_renew (float, va, (gsize) n);
        vb = g_renew (float, vb, (gsize) n);
        size = n;
      }
      if (!vq_engine_read_value (a, values[l], va) || !vq_engine_read_value (b, values[l], vb)) {
        g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND, "the engine did not keep '%s'",
                     report->layers[l].name);
        ok = FALSE;
        break;
      }
      for (int64_t k = 0; k < n; k++) {
        double e = (double) vb[k] - va[k];
        diff[l] += e * e;
        energy[l] += (double) va[k] * va[k];
      }
    }
  }
  for (uint32_t l = 0; l < report->n_layers && ok; l++)
    report->layers[l].output_error = energy[l] > 0.0 ? diff[l] / energy[l] : -1.0;
  g_free (va);
  g_free (vb);
  g_free (diff);
  g_free (energy);
  g_free (values);
  if (b)
    vq_engine_free (b);
  if (a)
    vq_engine_free (a);
  return ok;
}
