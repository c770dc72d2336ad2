/* A deliberately simple, slow interpreter of the IR (direct loops, no
 * tiling, no threads), written from graph.h alone. It is a second oracle
 * for the importer tests that does not depend on the CPU engine. */
#ifndef VQ_TEST_NAIVE_IR_H
#define VQ_TEST_NAIVE_IR_H

#include "vqcore/graph.h"

/* Runs `graph` on `input` (graph input 0, fp32). Returns a newly allocated
 * array of all values (index = value id, each g_malloc'ed or NULL); free
 * with naive_ir_free. */
float **naive_ir_run (const vq_graph *graph, const float *input);
void naive_ir_free (const vq_graph *graph, float **values);

#endif
