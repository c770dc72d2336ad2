/* Resize (bilinear, nearest) and pooling (max, average) on NCHW values.
 *
 * Resize follows TensorFlow's kernels (resize_bilinear_op.cc,
 * resize_nearest_neighbor_op.cc) in single precision, because the models
 * come from TensorFlow: with half_pixel_centers the source coordinate is
 * (dst + 0.5) * scale - 0.5 for bilinear and (dst + 0.5) * scale, floored,
 * for nearest; with align_corners scale = (in - 1) / (out - 1). */
#include "ops.h"

#include <math.h>

typedef struct {
  int64_t lower, upper;
  float lerp;
} interpolation;

static float
resize_scale (int64_t in, int64_t out, bool align_corners)
{
  return (align_corners && out > 1) ? (float) (in - 1) / (float) (out - 1)
                                    : (float) in / (float) out;
}

/* TensorFlow's compute_interpolation_weights. */
static void
bilinear_weights (int64_t in, int64_t out, const vq_resize_params *params, interpolation *w)
{
  float scale = resize_scale (in, out, params->align_corners);
  for (int64_t i = 0; i < out; i++) {
    float src = params->half_pixel_centers ? ((float) i + 0.5f) * scale - 0.5f
                                           : (float) i * scale;
    float src_floor = floorf (src);
    w[i].lower = MAX ((int64_t) src_floor, 0);
    w[i].upper = MIN ((int64_t) ceilf (src), in - 1);
    w[i].lerp = src - src_floor;
  }
}

/* TensorFlow's nearest-neighbour source index. */
static void
nearest_index (int64_t in, int64_t out, const vq_resize_params *params, interpolation *w)
{
  float scale = resize_scale (in, out, params->align_corners);
  for (int64_t i = 0; i < out; i++) {
    float src = params->half_pixel_centers ? ((float) i + 0.5f) * scale : (float) i * scale;
    int64_t index = (int64_t) (params->align_corners ? roundf (src) : floorf (src));
    index = MIN (index, in - 1);
    if (params->half_pixel_centers)
      index = MAX (index, 0);
    w[i].lower = w[i].upper = index;
    w[i].lerp = 0.0f;
  }
}

typedef struct {
  const vq__op_context *ctx;
  const vq_node *node;
  int64_t h, w, oh, ow;
  const interpolation *ys, *xs;
} resize_job;

static void
resize_planes (void *context, int64_t begin, int64_t end, int thread_index)
{
  const resize_job *job = context;
  const vq_node *node = job->node;
  const float *input = job->ctx->values[node->inputs[0]];
  float *output = job->ctx->values[node->outputs[0]];
  bool bilinear = node->p.resize.mode == VQ_RESIZE_BILINEAR;

  for (int64_t plane = begin; plane < end; plane++) {
    const float *in = input + plane * job->h * job->w;
    float *out = output + plane * job->oh * job->ow;
    for (int64_t y = 0; y < job->oh; y++) {
      const float *top = in + job->ys[y].lower * job->w;
      const float *bottom = in + job->ys[y].upper * job->w;
      float y_lerp = job->ys[y].lerp;
      float *row = out + y * job->ow;
      if (!bilinear) {
        for (int64_t x = 0; x < job->ow; x++)
          row[x] = top[job->xs[x].lower];
        continue;
      }
      for (int64_t x = 0; x < job->ow; x++) {
        const interpolation *xi = &job->xs[x];
        float top_v = top[xi->lower] + (top[xi->upper] - top[xi->lower]) * xi->lerp;
        float bottom_v = bottom[xi->lower] + (bottom[xi->upper] - bottom[xi->lower]) * xi->lerp;
        row[x] = top_v + (bottom_v - top_v) * y_lerp;
      }
    }
  }
}

void
vq__op_resize (const vq__op_context *ctx, const vq_node *node)
{
  const vq_shape *in = &ctx->graph->values[node->inputs[0]].shape;
  const vq_shape *out = &ctx->graph->values[node->outputs[0]].shape;
  resize_job job = { ctx, node, in->dims[2], in->dims[3], out->dims[2], out->dims[3],
                     NULL, NULL };
  interpolation *ys = g_new (interpolation, job.oh);
  interpolation *xs = g_new (interpolation, job.ow);
  if (node->p.resize.mode == VQ_RESIZE_BILINEAR) {
    bilinear_weights (job.h, job.oh, &node->p.resize, ys);
    bilinear_weights (job.w, job.ow, &node->p.resize, xs);
  } else {
    nearest_index (job.h, job.oh, &node->p.resize, ys);
    nearest_index (job.w, job.ow, &node->p.resize, xs);
  }
  job.ys = ys;
  job.xs = xs;
  vq__threadpool_parallel_for (ctx->pool, (int64_t) in->dims[0] * in->dims[1], 0,
                               resize_planes, &job);
  g_free (ys);
  g_free (xs);
}

typedef struct {
  const vq__op_context *ctx;
  const vq_node *node;
  int64_t h, w, oh, ow;
} pool_job;

/* Cells outside the input are padding: they take pad_value (max pool) or
 * count in the divisor when count_include_pad (average pool). The window
 * never reaches past the declared padding (the validator's output size
 * rule), so only the clipping to the input needs care. Every output visits
 * its cells in (ky, kx) order, padding first for the max, whichever of the
 * two loops below computes it. */
static float
pool_one (const vq_pool_params *p, bool is_max, const float *in, int64_t h, int64_t w,
          int64_t oy, int64_t ox)
{
  int64_t y0 = oy * p->stride_h - p->pad_top, x0 = ox * p->stride_w - p->pad_left;
  int64_t ky0 = MAX (0, -y0), ky1 = MIN (p->kernel_h, h - y0);
  int64_t kx0 = MAX (0, -x0), kx1 = MIN (p->kernel_w, w - x0);
  int64_t cells = (int64_t) p->kernel_h * p->kernel_w;
  int64_t valid = MAX (ky1 - ky0, 0) * MAX (kx1 - kx0, 0);
  float acc = is_max ? (valid < cells ? p->pad_value : -INFINITY) : 0.0f;
  for (int64_t ky = ky0; ky < ky1; ky++) {
    const float *row = in + (y0 + ky) * w + x0;
    for (int64_t kx = kx0; kx < kx1; kx++)
      acc = is_max ? (row[kx] > acc ? row[kx] : acc) : acc + row[kx];
  }
  if (is_max)
    return acc;
  int64_t count = valid;
  if (p->count_include_pad) {
    acc += p->pad_value * (float) (cells - valid);
    count = cells;
  }
  return count > 0 ? acc / (float) count : 0.0f;
}

static void
pool_planes (void *context, int64_t begin, int64_t end, int thread_index)
{
  const pool_job *job = context;
  const vq_node *node = job->node;
  const vq_pool_params *p = &node->p.pool;
  const float *input = job->ctx->values[node->inputs[0]];
  float *output = job->ctx->values[node->outputs[0]];
  bool is_max = node->op == VQ_OP_MAX_POOL;
  int64_t h = job->h, w = job->w, ow = job->ow;
  int64_t sw = p->stride_w;

  /* Output columns whose window lies inside the input horizontally. */
  int64_t ox_lo = (p->pad_left + sw - 1) / sw;
  int64_t ox_hi = w + p->pad_left - p->kernel_w < 0 ? 0 : (w + p->pad_left - p->kernel_w) / sw + 1;
  ox_hi = MIN (ox_hi, ow);
  ox_lo = MIN (ox_lo, ox_hi);

  for (int64_t plane = begin; plane < end; plane++) {
    const float *in = input + plane * h * w;
    float *out = output + plane * job->oh * ow;
    for (int64_t oy = 0; oy < job->oh; oy++) {
      float *out_row = out + oy * ow;
      for (int64_t ox = 0; ox < ox_lo; ox++)
        out_row[ox] = pool_one (p, is_max, in, h, w, oy, ox);
      for (int64_t ox = ox_hi; ox < ow; ox++)
        out_row[ox] = pool_one (p, is_max, in, h, w, oy, ox);
      if (ox_lo == ox_hi)
        continue;

      /* The interior, a whole row segment at a time so that the loops over
       * ox vectorize. */
      int64_t y0 = oy * p->stride_h - p->pad_top;
      int64_t ky0 = MAX (0, -y0), ky1 = MIN (p->kernel_h, h - y0);
      int64_t rows = MAX (ky1 - ky0, 0);
      int64_t cells = (int64_t) p->kernel_h * p->kernel_w;
      int64_t valid = rows * p->kernel_w;
      float start = is_max ? (valid < cells ? p->pad_value : -INFINITY) : 0.0f;
      for (int64_t ox = ox_lo; ox < ox_hi; ox++)
        out_row[ox] = start;
      for (int64_t ky = ky0; ky < ky1; ky++) {
        for (int64_t kx = 0; kx < p->kernel_w; kx++) {
          const float *src = in + (y0 + ky) * w + kx - p->pad_left;
          if (is_max) {
            for (int64_t ox = ox_lo; ox < ox_hi; ox++) {
              float v = src[ox * sw];
              out_row[ox] = v > out_row[ox] ? v : out_row[ox];
            }
          } else {
            for (int64_t ox = ox_lo; ox < ox_hi; ox++)
              out_row[ox] += src[ox * sw];
          }
        }
      }
      if (!is_max) {
        float extra = p->count_include_pad ? p->pad_value * (float) (cells - valid) : 0.0f;
        int64_t count = p->count_include_pad ? cells : valid;
        for (int64_t ox = ox_lo; ox < ox_hi; ox++) {
          float sum = out_row[ox] + extra;
          out_row[ox] = count > 0 ? sum / (float) count : 0.0f;
        }
      }
    }
  }
}

void
vq__op_pool (const vq__op_context *ctx, const vq_node *node)
{
  const vq_shape *in = &ctx->graph->values[node->inputs[0]].shape;
  const vq_shape *out = &ctx->graph->values[node->outputs[0]].shape;
  pool_job job = { ctx, node, in->dims[2], in->dims[3], out->dims[2], out->dims[3] };
  vq__threadpool_parallel_for (ctx->pool, (int64_t) in->dims[0] * in->dims[1], 0,
                               pool_planes, &job);
}
