/* Helpers shared by the CPU engine tests: random data, one-node graphs,
 * running a graph with a given thread count, and double-precision
 * reference activations. */
#ifndef VQ_CPU_TEST_H
#define VQ_CPU_TEST_H

#include <glib.h>

#include "vqcore/engine.h"
#include "vqcore/graph.h"

/* Uniform in [lo, hi). */
float cpu_test_uniform (GRand *rand, float lo, float hi);
float *cpu_test_random (GRand *rand, int64_t n, float lo, float hi);

/* A model that borrows `graph` (free with cpu_test_model_free, which also
 * frees the graph). */
vq_model *cpu_test_model (vq_graph *graph);
void cpu_test_model_free (vq_model *model);

/* Creates a CPU engine (asserting success). */
vq_engine *cpu_test_engine (const vq_model *model, int n_threads, gboolean reuse_buffers);

/* Runs the graph on `input` and returns a copy of output `index`. */
float *cpu_test_run (const vq_model *model, int n_threads, const float *input, uint32_t index);

/* The activation in double precision, from its textbook definition. */
double cpu_test_activation (vq_activation act, double alpha, double x);

/* Asserts |got[i] - want[i]| <= tolerance * magnitude[i] (+ 1e-7) for all
 * i (magnitude NULL: 1), naming the first element that fails. */
void cpu_test_assert_close (const char *what, const float *got, const double *want,
                            const double *magnitude, int64_t n, double tolerance);

#endif
