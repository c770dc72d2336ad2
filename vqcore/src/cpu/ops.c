/* Elementwise and data-movement ops: add, activation, concat, split,
 * reshape, transpose. Resize and pooling live in resize_pool.c. */
#include "ops.h"

#include <string.h>

#include "gemm.h"

/* Elementwise work is split into chunks of this many floats. */
#define ELEMENT_GRAIN (64 * 1024)

static int64_t
numel (const vq__op_context *ctx, uint32_t value)
{
  return vq_shape_numel (&ctx->graph->values[value].shape);
}

int
vq__op_axis (int32_t axis, uint32_t rank)
{
  return axis < 0 ? axis + (int) rank : axis;
}

typedef struct {
  const vq__op_context *ctx;
  const vq_node *node;
} node_job;

static void
add_range (void *context, int64_t begin, int64_t end, int thread_index)
{
  const node_job *job = context;
  const vq_node *node = job->node;
  float *out = job->ctx->values[node->outputs[0]];
  const float *first = job->ctx->values[node->inputs[0]];
  const float *second = job->ctx->values[node->inputs[1]];
  for (int64_t i = begin; i < end; i++)
    out[i] = first[i] + second[i];
  /* More than two inputs are summed left to right. */
  for (uint32_t k = 2; k < node->n_inputs; k++) {
    const float *more = job->ctx->values[node->inputs[k]];
    for (int64_t i = begin; i < end; i++)
      out[i] += more[i];
  }
  vq__activation_row (out + begin, end - begin, node->act, node->act_alpha);
}

void
vq__op_add (const vq__op_context *ctx, const vq_node *node)
{
  node_job job = { ctx, node };
  if (node->n_inputs < 2) {
    /* A one-input add is a copy (with the fused activation). */
    int64_t n = numel (ctx, node->outputs[0]);
    float *out = ctx->values[node->outputs[0]];
    memmove (out, ctx->values[node->inputs[0]], (size_t) n * sizeof (float));
    vq__activation_row (out, n, node->act, node->act_alpha);
    return;
  }
  vq__threadpool_parallel_for (ctx->pool, numel (ctx, node->outputs[0]), ELEMENT_GRAIN,
                               add_range, &job);
}

static void
activation_range (void *context, int64_t begin, int64_t end, int thread_index)
{
  const node_job *job = context;
  const vq_node *node = job->node;
  float *out = job->ctx->values[node->outputs[0]];
  const float *in = job->ctx->values[node->inputs[0]];
  memmove (out + begin, in + begin, (size_t) (end - begin) * sizeof (float));
  vq__activation_row (out + begin, end - begin, node->act, node->act_alpha);
}

void
vq__op_activation (const vq__op_context *ctx, const vq_node *node)
{
  node_job job = { ctx, node };
  vq__threadpool_parallel_for (ctx->pool, numel (ctx, node->outputs[0]), ELEMENT_GRAIN,
                               activation_range, &job);
}

/* For a split or concat along `axis`: the number of blocks before the axis
 * (outer) and the floats per axis step after it (inner). */
static void
axis_layout (const vq_shape *shape, int axis, int64_t *outer, int64_t *inner)
{
  *outer = 1;
  *inner = 1;
  for (int i = 0; i < (int) shape->rank; i++) {
    if (i < axis)
      *outer *= shape->dims[i];
    else if (i > axis)
      *inner *= shape->dims[i];
  }
}

void
vq__op_concat (const vq__op_context *ctx, const vq_node *node)
{
  const vq_shape *out_shape = &ctx->graph->values[node->outputs[0]].shape;
  int axis = vq__op_axis (node->p.axis.axis, out_shape->rank);
  int64_t outer, inner;
  axis_layout (out_shape, axis, &outer, &inner);
  int64_t out_block = out_shape->dims[axis] * inner;
  float *out = ctx->values[node->outputs[0]];

  int64_t offset = 0;
  for (uint32_t k = 0; k < node->n_inputs; k++) {
    const float *in = ctx->values[node->inputs[k]];
    int64_t block = ctx->graph->values[node->inputs[k]].shape.dims[axis] * inner;
    /* An input the memory plan put in its place is there already. */
    if (in != out + offset)
      for (int64_t o = 0; o < outer; o++)
        memcpy (out + o * out_block + offset, in + o * block, (size_t) block * sizeof (float));
    offset += block;
  }
}

void
vq__op_split (const vq__op_context *ctx, const vq_node *node)
{
  const vq_shape *in_shape = &ctx->graph->values[node->inputs[0]].shape;
  int axis = vq__op_axis (node->p.axis.axis, in_shape->rank);
  int64_t outer, inner;
  axis_layout (in_shape, axis, &outer, &inner);
  int64_t in_block = in_shape->dims[axis] * inner;
  const float *in = ctx->values[node->inputs[0]];

  int64_t offset = 0;
  for (uint32_t k = 0; k < node->n_outputs; k++) {
    float *out = ctx->values[node->outputs[k]];
    int64_t block = ctx->graph->values[node->outputs[k]].shape.dims[axis] * inner;
    for (int64_t o = 0; o < outer; o++)
      memcpy (out + o * block, in + o * in_block + offset, (size_t) block * sizeof (float));
    offset += block;
  }
}

void
vq__op_reshape (const vq__op_context *ctx, const vq_node *node)
{
  memmove (ctx->values[node->outputs[0]], ctx->values[node->inputs[0]],
           (size_t) numel (ctx, node->outputs[0]) * sizeof (float));
}

void
vq__op_transpose (const vq__op_context *ctx, const vq_node *node)
{
  const vq_shape *in_shape = &ctx->graph->values[node->inputs[0]].shape;
  const vq_shape *out_shape = &ctx->graph->values[node->outputs[0]].shape;
  uint32_t rank = in_shape->rank;

  /* Pad both to rank 4 with leading unit dimensions. */
  int64_t in_stride[VQ_MAX_RANK];
  int64_t stride = 1;
  for (int i = (int) rank - 1; i >= 0; i--) {
    in_stride[i] = stride;
    stride *= in_shape->dims[i];
  }
  int64_t dims[4] = { 1, 1, 1, 1 };
  int64_t src_stride[4] = { 0, 0, 0, 0 };
  for (uint32_t i = 0; i < rank; i++) {
    dims[4 - rank + i] = out_shape->dims[i];
    src_stride[4 - rank + i] = in_stride[node->p.transpose.perm[i]];
  }

  const float *in = ctx->values[node->inputs[0]];
  float *out = ctx->values[node->outputs[0]];
  int64_t o = 0;
  for (int64_t a = 0; a < dims[0]; a++)
    for (int64_t b = 0; b < dims[1]; b++)
      for (int64_t c = 0; c < dims[2]; c++) {
        const float *src = in + a * src_stride[0] + b * src_stride[1] + c * src_stride[2];
        for (int64_t d = 0; d < dims[3]; d++)
          out[o++] = src[d * src_stride[3]];
      }
}
