/* 2-D convolution on the CPU: im2col + GEMM (gemm.h) for ordinary convs,
 * the im2col written straight into the GEMM's packed layout; for 1x1
 * stride-1 unpadded convs im2col is the identity and the input rows are
 * packed as they are. Depthwise-like convs (few output channels per group,
 * where a GEMM tile would be mostly empty) run a direct loop. Bias and
 * activation are applied as each output tile is finished. */
#ifndef VQ_CPU_CONV_H
#define VQ_CPU_CONV_H

#include <stdbool.h>

#include <glib.h>

#include "threadpool.h"
#include "vqcore/graph.h"

typedef struct {
  int64_t batch, cin, h, w;
  int64_t cout, oh, ow;
  int64_t kh, kw, sh, sw, dh, dw, pt, pl;
  int64_t groups, cin_g, cout_g;
  int64_t k; /* reduction length: cin_g * kh * kw */
  bool identity; /* 1x1, stride 1, no padding: B is the input itself */
  bool direct;   /* depthwise-like: a direct loop instead of a GEMM */
  int64_t chunk; /* output columns per task, a multiple of VQ_GEMM_NR */
  float *weights; /* GEMM: groups x packed A; direct: [cout][k] */
  size_t weights_per_group; /* floats */
  float *bias;    /* [cout]; zeros when the conv has none */
  vq_activation act;
  float alpha;
} vq__conv_plan;

/* Decodes the conv's weights (dense F32/F16 or VQ) into the layout the
 * kernels use. Fails only when memory runs out. */
gboolean vq__conv_prepare (vq__conv_plan *plan, const vq_graph *graph, const vq_node *node,
                           GError **error);
void vq__conv_clear (vq__conv_plan *plan);

/* Floats of per-thread scratch vq__conv_run needs with `threads` threads. */
size_t vq__conv_scratch_floats (const vq__conv_plan *plan, int threads);

/* scratch[t] is thread t's buffer of vq__conv_scratch_floats floats. */
void vq__conv_run (const vq__conv_plan *plan, vq__threadpool *pool, float *const *scratch,
                   const float *input, float *output);

#endif
