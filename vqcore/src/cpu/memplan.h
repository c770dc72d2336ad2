/* Activation memory layout for the CPU engine: every value gets an offset
 * into one arena. Without reuse each value has its own region, so every
 * value can be read back after a run; with reuse, values whose lifetimes do
 * not overlap share memory (graph inputs and outputs always live to the
 * end). Either way, inputs of a concat along its outermost non-unit axis
 * are placed inside its output, so that the concat copies nothing. */
#ifndef VQ_CPU_MEMPLAN_H
#define VQ_CPU_MEMPLAN_H

#include <stddef.h>

#include <glib.h>

#include "vqcore/graph.h"

/* Fills offsets[v] (in floats; 64-byte aligned except for values placed
 * inside a concat output) and kept[v] (the value is intact after a run)
 * for every value; returns the arena size in floats. */
size_t vq__memplan (const vq_graph *graph, gboolean reuse, size_t *offsets, gboolean *kept);

#endif
