/* The CPU kernels of every op except conv2d (conv.h). Each reads its
 * inputs from and writes its outputs to values[id] (fp32 buffers sized by
 * the graph's value shapes); the graph has been validated, so shapes agree
 * with each op's rules. Work is split over output elements, rows or
 * channels only, so results do not depend on the thread count. */
#ifndef VQ_CPU_OPS_H
#define VQ_CPU_OPS_H

#include "threadpool.h"
#include "vqcore/graph.h"

typedef struct {
  const vq_graph *graph;
  float *const *values; /* indexed by value id */
  vq__threadpool *pool;
} vq__op_context;

void vq__op_add (const vq__op_context *ctx, const vq_node *node);
void vq__op_activation (const vq__op_context *ctx, const vq_node *node);
void vq__op_concat (const vq__op_context *ctx, const vq_node *node);
void vq__op_split (const vq__op_context *ctx, const vq_node *node);
void vq__op_reshape (const vq__op_context *ctx, const vq_node *node);
void vq__op_transpose (const vq__op_context *ctx, const vq_node *node);
void vq__op_resize (const vq__op_context *ctx, const vq_node *node);
void vq__op_pool (const vq__op_context *ctx, const vq_node *node);

/* Normalises a concat/split axis (negative counts from the end). */
int vq__op_axis (int32_t axis, uint32_t rank);

#endif
