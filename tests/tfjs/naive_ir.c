/* The naive IR interpreter (see naive_ir.h). Every op is the textbook loop
 * over output elements; accumulation in double so that its own rounding
 * does not hide the importer's mistakes. */
#include "naive_ir.h"

#include <math.h>
#include <string.h>

static int64_t
numel (const vq_graph *g, uint32_t v)
{
  return vq_shape_numel (&g->values[v].shape);
}

static const int32_t *
dims (const vq_graph *g, uint32_t v)
{
  return g->values[v].shape.dims;
}

static void
run_conv (const vq_graph *g, const vq_node *node, float **values)
{
  const vq_conv_params *p = &node->p.conv;
  const int32_t *in = dims (g, node->inputs[0]), *out = dims (g, node->outputs[0]);
  const float *x = values[node->inputs[0]];
  float *y = values[node->outputs[0]];
  int64_t count = vq_conv_weight_count (g, node);
  float *w = g_new (float, count);
  vq_conv_weights_to_f32 (g, node, w);
  int cin_g = in[1] / p->groups, cout_g = p->out_channels / p->groups;
  for (int n = 0; n < out[0]; n++)
    for (int o = 0; o < out[1]; o++) {
      int group = o / cout_g;
      double b = p->bias >= 0 ? vq_blob_get_f32 (&g->blobs[p->bias], o) : 0.0;
      for (int oy = 0; oy < out[2]; oy++)
        for (int ox = 0; ox < out[3]; ox++) {
          double acc = b;
          for (int i = 0; i < cin_g; i++)
            for (int ky = 0; ky < p->kernel_h; ky++) {
              int iy = oy * p->stride_h - p->pad_top + ky * p->dilation_h;
              if (iy < 0 || iy >= in[2])
                continue;
              for (int kx = 0; kx < p->kernel_w; kx++) {
                int ix = ox * p->stride_w - p->pad_left + kx * p->dilation_w;
                if (ix < 0 || ix >= in[3])
                  continue;
                int c = group * cin_g + i;
                acc += (double) x[((n * in[1] + c) * in[2] + iy) * in[3] + ix]
                       * w[((o * cin_g + i) * p->kernel_h + ky) * p->kernel_w + kx];
              }
            }
          y[((n * out[1] + o) * out[2] + oy) * out[3] + ox]
              = vq_activation_apply (node->act, node->act_alpha, (float) acc);
        }
    }
  g_free (w);
}

static void
run_pool (const vq_graph *g, const vq_node *node, float **values)
{
  const vq_pool_params *p = &node->p.pool;
  const int32_t *in = dims (g, node->inputs[0]), *out = dims (g, node->outputs[0]);
  const float *x = values[node->inputs[0]];
  float *y = values[node->outputs[0]];
  gboolean is_max = node->op == VQ_OP_MAX_POOL;
  for (int nc = 0; nc < out[0] * out[1]; nc++)
    for (int oy = 0; oy < out[2]; oy++)
      for (int ox = 0; ox < out[3]; ox++) {
        double acc = is_max ? -INFINITY : 0.0;
        int counted = 0;
        for (int ky = 0; ky < p->kernel_h; ky++)
          for (int kx = 0; kx < p->kernel_w; kx++) {
            int iy = oy * p->stride_h - p->pad_top + ky, ix = ox * p->stride_w - p->pad_left + kx;
            gboolean inside = iy >= 0 && iy < in[2] && ix >= 0 && ix < in[3];
            double v = inside ? x[((int64_t) nc * in[2] + iy) * in[3] + ix]
                              : (is_max ? p->pad_value : 0.0);
            if (is_max)
              acc = v > acc ? v : acc;
            else
              acc += v;
            counted += inside || p->count_include_pad;
          }
        y[((int64_t) nc * out[2] + oy) * out[3] + ox]
            = (float) (is_max ? acc : acc / (counted ? counted : 1));
      }
}

/* TF's source coordinate for output index `o` (ResizeBilinear and
 * ResizeNearestNeighbor semantics). */
static double
source_coord (const vq_resize_params *p, int o, int in_size, int out_size)
{
  if (p->align_corners && out_size > 1)
    return o * (double) (in_size - 1) / (out_size - 1);
  double scale = (double) in_size / out_size;
  return p->half_pixel_centers ? (o + 0.5) * scale - (p->mode == VQ_RESIZE_BILINEAR ? 0.5 : 0.0)
                               : o * scale;
}

static void
run_resize (const vq_graph *g, const vq_node *node, float **values)
{
  const vq_resize_params *p = &node->p.resize;
  const int32_t *in = dims (g, node->inputs[0]), *out = dims (g, node->outputs[0]);
  const float *x = values[node->inputs[0]];
  float *y = values[node->outputs[0]];
  for (int nc = 0; nc < out[0] * out[1]; nc++)
    for (int oy = 0; oy < out[2]; oy++)
      for (int ox = 0; ox < out[3]; ox++) {
        const float *plane = x + (int64_t) nc * in[2] * in[3];
        double sy = source_coord (p, oy, in[2], out[2]), sx = source_coord (p, ox, in[3], out[3]);
        double v;
        if (p->mode == VQ_RESIZE_NEAREST) {
          int iy = (int) (p->align_corners ? round (sy) : floor (sy));
          int ix = (int) (p->align_corners ? round (sx) : floor (sx));
          iy = iy < 0 ? 0 : (iy >= in[2] ? in[2] - 1 : iy);
          ix = ix < 0 ? 0 : (ix >= in[3] ? in[3] - 1 : ix);
          v = plane[iy * in[3] + ix];
        } else {
          double fy = floor (sy), fx = floor (sx);
          int y0 = (int) fy < 0 ? 0 : (int) fy, x0 = (int) fx < 0 ? 0 : (int) fx;
          int y1 = (int) ceil (sy) >= in[2] ? in[2] - 1 : (int) ceil (sy);
          int x1 = (int) ceil (sx) >= in[3] ? in[3] - 1 : (int) ceil (sx);
          y0 = y0 >= in[2] ? in[2] - 1 : y0;
          x0 = x0 >= in[3] ? in[3] - 1 : x0;
          y1 = y1 < 0 ? 0 : y1;
          x1 = x1 < 0 ? 0 : x1;
          double ly = sy - fy, lx = sx - fx;
          double top = plane[y0 * in[3] + x0] + (plane[y0 * in[3] + x1] - plane[y0 * in[3] + x0]) * lx;
          double bot = plane[y1 * in[3] + x0] + (plane[y1 * in[3] + x1] - plane[y1 * in[3] + x0]) * lx;
          v = top + (bot - top) * ly;
        }
        y[((int64_t) nc * out[2] + oy) * out[3] + ox] = (float) v;
      }
}

/* Concat and split: the tensor is [outer][axis][inner]. */
static void
run_axis (const vq_graph *g, const vq_node *node, float **values)
{
  gboolean concat = node->op == VQ_OP_CONCAT;
  uint32_t whole = concat ? node->outputs[0] : node->inputs[0];
  const vq_shape *s = &g->values[whole].shape;
  int axis = node->p.axis.axis;
  int64_t outer = 1, inner = 1;
  for (int d = 0; d < axis; d++)
    outer *= s->dims[d];
  for (uint32_t d = (uint32_t) axis + 1; d < s->rank; d++)
    inner *= s->dims[d];
  uint32_t n_parts = concat ? node->n_inputs : node->n_outputs;
  const uint32_t *parts = concat ? node->inputs : node->outputs;
  int64_t offset = 0;
  for (uint32_t k = 0; k < n_parts; k++) {
    int64_t len = g->values[parts[k]].shape.dims[axis];
    for (int64_t o = 0; o < outer; o++)
      for (int64_t j = 0; j < len * inner; j++) {
        int64_t wi = (o * s->dims[axis] + offset) * inner + j, pi = o * len * inner + j;
        if (concat)
          values[whole][wi] = values[parts[k]][pi];
        else
          values[parts[k]][pi] = values[whole][wi];
      }
    offset += len;
  }
}

static void
run_transpose (const vq_graph *g, const vq_node *node, float **values)
{
  const vq_shape *in = &g->values[node->inputs[0]].shape, *out = &g->values[node->outputs[0]].shape;
  int64_t in_strides[VQ_MAX_RANK], acc = 1;
  for (int d = (int) in->rank - 1; d >= 0; d--) {
    in_strides[d] = acc;
    acc *= in->dims[d];
  }
  for (int64_t i = 0; i < numel (g, node->outputs[0]); i++) {
    int64_t rem = i, src = 0;
    for (int d = (int) out->rank - 1; d >= 0; d--) {
      src += (rem % out->dims[d]) * in_strides[node->p.transpose.perm[d]];
      rem /= out->dims[d];
    }
    values[node->outputs[0]][i] = values[node->inputs[0]][src];
  }
}

float **
naive_ir_run (const vq_graph *graph, const float *input)
{
  float **values = g_new0 (float *, graph->n_values);
  for (uint32_t v = 0; v < graph->n_values; v++)
    values[v] = g_new0 (float, numel (graph, v) ? numel (graph, v) : 1);
  memcpy (values[graph->inputs[0]], input, sizeof (float) * numel (graph, graph->inputs[0]));
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    float *y = values[node->outputs[0]];
    int64_t n = numel (graph, node->outputs[0]);
    switch (node->op) {
    case VQ_OP_CONV2D:
      run_conv (graph, node, values);
      break;
    case VQ_OP_ADD:
      for (int64_t j = 0; j < n; j++)
        y[j] = vq_activation_apply (node->act, node->act_alpha,
                                    values[node->inputs[0]][j] + values[node->inputs[1]][j]);
      break;
    case VQ_OP_ACTIVATION:
      for (int64_t j = 0; j < n; j++)
        y[j] = vq_activation_apply (node->act, node->act_alpha, values[node->inputs[0]][j]);
      break;
    case VQ_OP_MAX_POOL:
    case VQ_OP_AVG_POOL:
      run_pool (graph, node, values);
      break;
    case VQ_OP_RESIZE:
      run_resize (graph, node, values);
      break;
    case VQ_OP_CONCAT:
    case VQ_OP_SPLIT:
      run_axis (graph, node, values);
      break;
    case VQ_OP_RESHAPE:
      memcpy (y, values[node->inputs[0]], sizeof (float) * n);
      break;
    case VQ_OP_TRANSPOSE:
      run_transpose (graph, node, values);
      break;
    default:
      g_error ("naive_ir: unknown op %d", node->op);
    }
  }
  return values;
}

void
naive_ir_free (const vq_graph *graph, float **values)
{
  for (uint32_t v = 0; v < graph->n_values; v++)
    g_free (values[v]);
  g_free (values);
}
