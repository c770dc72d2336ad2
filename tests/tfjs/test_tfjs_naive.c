/* The imported NanoDet IR, run by the naive interpreter (naive_ir.c), must
 * reproduce TF.js's outputs (tests/reference) on a random input. This
 * checks the importer end to end without depending on the CPU engine. */
#include <string.h>

#include "naive_ir.h"
#include "test_util.h"
#include "tfjs_test_util.h"
#include "vqcore/tfjs.h"

/* fp32 accumulation orders differ between TF.js and the double-precision
 * loops; observed differences are ~1e-5, far below any layout or padding
 * mistake (those give errors of order 0.1 to 1). */
#define TOLERANCE 1e-3

static void
test_nanodet_random_input (void)
{
  char *path = vq_test_cache_file ("nanodet.json");
  GError *error = NULL;
  vq_graph *graph = vq_tfjs_import_graph (path, &error);
  g_assert_no_error (error);

  gsize count = (gsize) vq_shape_numel (&graph->values[graph->inputs[0]].shape);
  float *input = g_new (float, count);
  /* Roughly the range of normalised image data. */
  tfjs_fill_random (input, count, 20240601);
  for (gsize i = 0; i < count; i++)
    input[i] *= 2.0f;

  double ms = 0.0;
  GPtrArray *expected = tfjs_run_reference (path, input, count, "wasm", &ms);
  g_test_message ("TF.js (wasm) %.1f ms per run", ms);
  g_assert_cmpuint (expected->len, ==, graph->n_outputs);

  float **values = naive_ir_run (graph, input);
  for (uint32_t o = 0; o < graph->n_outputs; o++) {
    gsize size = 0;
    const float *want = g_bytes_get_data (g_ptr_array_index (expected, o), &size);
    gsize n = (gsize) vq_shape_numel (&graph->values[graph->outputs[o]].shape);
    g_assert_cmpuint (size, ==, n * sizeof (float));
    double diff = tfjs_max_abs_diff (values[graph->outputs[o]], want, n);
    g_test_message ("output %u (%s): max abs diff %.3g", o,
                    graph->values[graph->outputs[o]].name, diff);
    g_assert_cmpfloat (diff, <, TOLERANCE);
  }
  naive_ir_free (graph, values);
  g_ptr_array_unref (expected);
  g_free (input);
  vq_graph_free (graph);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tfjs/naive/nanodet-random", test_nanodet_random_input);
  return g_test_run ();
}
