#include "vk_test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "common/half.h"
#include "layout.h"

vq_vk_context *
vq_vk_test_context (void)
{
  GError *error = NULL;
  vq_vk_context *ctx = vq__vk_context_new (g_getenv ("VQ_TEST_VULKAN_DEVICE"), &error);
  if (!ctx) {
    /* Only "there is no device at all" skips; any other failure is a bug. */
    if (g_error_matches (error, VQ_ERROR, VQ_ERROR_BACKEND) &&
        (strstr (error->message, "no Vulkan") != NULL)) {
      printf ("SKIP: %s\n", error->message);
      exit (VQ_TEST_SKIP);
    }
    g_error ("creating a Vulkan context: %s", error->message);
  }
  return ctx;
}

float *
vq_vk_test_random (gsize n, guint32 seed, float scale)
{
  GRand *rand = g_rand_new_with_seed (seed);
  float *values = g_new (float, n);
  for (gsize i = 0; i < n; i++)
    values[i] = (float) g_rand_double_range (rand, -scale, scale);
  g_rand_free (rand);
  return values;
}

/* Plain k-means (Lloyd) on the rows' sub-vectors: K codewords of length d. */
static void
kmeans (const float *vectors, gsize n, int32_t d, int32_t k, float *codebook, guint8 *assign)
{
  for (int32_t e = 0; e < k; e++)
    memcpy (codebook + e * d, vectors + ((gsize) e * 7919 % n) * d, d * sizeof (float));
  for (int iter = 0; iter < 8; iter++) {
    for (gsize i = 0; i < n; i++) {
      double best = INFINITY;
      for (int32_t e = 0; e < k; e++) {
        double dist = 0;
        for (int32_t j = 0; j < d; j++) {
          double diff = vectors[i * d + j] - codebook[e * d + j];
          dist += diff * diff;
        }
        if (dist < best) {
          best = dist;
          assign[i] = (guint8) e;
        }
      }
    }
    double *sum = g_new0 (double, (gsize) k * d);
    int *count = g_new0 (int, k);
    for (gsize i = 0; i < n; i++) {
      count[assign[i]]++;
      for (int32_t j = 0; j < d; j++)
        sum[assign[i] * d + j] += vectors[i * d + j];
    }
    for (int32_t e = 0; e < k; e++)
      if (count[e])
        for (int32_t j = 0; j < d; j++)
          codebook[e * d + j] = (float) (sum[e * d + j] / count[e]);
    g_free (sum);
    g_free (count);
  }
}

/* The d = 1 grid codebook (i - K/2) / (K/2) and each value's nearest entry
 * (values lie in [-1, 1] once rows are scaled to their peak). */
static void
grid (const float *values, gsize n, int32_t k, float *codebook, guint8 *assign)
{
  float half = (float) (k / 2);
  for (int32_t i = 0; i < k; i++)
    codebook[i] = ((float) i - half) / half;
  for (gsize i = 0; i < n; i++)
    assign[i] = (guint8) CLAMP (lroundf (values[i] * half + half), 0, k - 1);
}

vq_graph *
vq_vk_test_conv_graph (const vq_conv_case *c, guint32 seed)
{
  vq_graph *graph = vq_graph_new ();
  int32_t oh = (c->h + c->pad_top + c->pad_bottom - c->dh * (c->kh - 1) - 1) / c->sh + 1;
  int32_t ow = (c->w + c->pad_left + c->pad_right - c->dw * (c->kw - 1) - 1) / c->sw + 1;
  vq_shape in_shape = vq_shape_4d (1, c->cin, c->h, c->w);
  vq_shape out_shape = vq_shape_4d (1, c->cout, oh, ow);
  uint32_t in = vq_graph_add_value (graph, "input", &in_shape);
  uint32_t out = vq_graph_add_value (graph, "output", &out_shape);
  int32_t cin_g = c->cin / c->groups;
  int32_t row = cin_g * c->kh * c->kw;
  gsize count = (gsize) c->cout * row;
  float *dense = vq_vk_test_random (count, seed, 1.0f / sqrtf ((float) row));
  vq_node node;

  vq_node_init (&node, VQ_OP_CONV2D, "conv");
  node.n_inputs = 1;
  node.inputs[0] = in;
  node.n_outputs = 1;
  node.outputs[0] = out;
  node.act = c->act;
  node.act_alpha = c->alpha;
  vq_conv_params *p = &node.p.conv;
  p->kernel_h = c->kh;
  p->kernel_w = c->kw;
  p->stride_h = c->sh;
  p->stride_w = c->sw;
  p->dilation_h = c->dh;
  p->dilation_w = c->dw;
  p->pad_top = c->pad_top;
  p->pad_left = c->pad_left;
  p->pad_bottom = c->pad_bottom;
  p->pad_right = c->pad_right;
  p->groups = c->groups;
  p->out_channels = c->cout;

  vq_shape wshape = vq_shape_4d (c->cout, cin_g, c->kh, c->kw);
  if (c->weight_kind == 0) {
    p->weights.dense = (int32_t) vq_graph_add_blob_copy (graph, "w", VQ_DTYPE_F32, &wshape,
                                                         dense);
  } else if (c->weight_kind == 1) {
    p->weights.dense = (int32_t) vq_graph_add_blob_owned (graph, "w", VQ_DTYPE_F16, &wshape,
                                                          vq__halves_new (dense, count));
  } else {
    int32_t d = c->vq_d, per_row = (row + d - 1) / d;
    gsize n_vectors = (gsize) c->cout * per_row;
    float *vectors = g_new0 (float, n_vectors * d);
    float *scales = g_new (float, c->cout);
    for (int32_t o = 0; o < c->cout; o++) {
      /* With scales, each row is normalised first so one codebook fits all. */
      double norm = 0;
      for (int32_t j = 0; j < row; j++)
        norm += dense[o * row + j] * dense[o * row + j];
      scales[o] = c->vq_scales ? (float) sqrt (norm / row) * (1.0f + 0.5f * (o % 3)) : 1.0f;
      if (c->vq_grid) {
        float peak = 0;
        for (int32_t j = 0; j < row; j++)
          peak = MAX (peak, fabsf (dense[o * row + j]));
        scales[o] = peak * (float) c->vq_k / (float) (c->vq_k - 2);
      }
      for (int32_t j = 0; j < row; j++)
        vectors[(gsize) o * per_row * d + j] = dense[o * row + j] / scales[o];
    }
    float *codebook = g_new0 (float, (gsize) c->vq_k * d);
    guint8 *assign = g_new0 (guint8, n_vectors);
    if (c->vq_grid)
      grid (vectors, n_vectors, c->vq_k, codebook, assign);
    else
      kmeans (vectors, n_vectors, d, c->vq_k, codebook, assign);
    vq_shape cb_shape = vq_shape_make (2, (int32_t[]) {c->vq_k, d});
    vq_shape idx_shape = vq_shape_make (2, (int32_t[]) {c->cout, per_row});
    if (c->vq_f16) {
      uint16_t *half = vq__halves_new (codebook, (gsize) c->vq_k * d);
      g_free (codebook);
      p->weights.codebook = (int32_t) vq_graph_add_blob_owned (graph, "codebook", VQ_DTYPE_F16,
                                                               &cb_shape, half);
    } else {
      p->weights.codebook = (int32_t) vq_graph_add_blob_owned (graph, "codebook", VQ_DTYPE_F32,
                                                               &cb_shape, codebook);
    }
    if (c->weight_kind == 3) {
      guint8 *packed = g_new0 (guint8, (n_vectors + 1) / 2);
      for (gsize i = 0; i < n_vectors; i++)
        packed[i / 2] |= (guint8) ((assign[i] & 15) << (4 * (i % 2)));
      p->weights.indices = (int32_t) vq_graph_add_blob_owned (graph, "indices", VQ_DTYPE_U4,
                                                              &idx_shape, packed);
      g_free (assign);
    } else {
      p->weights.indices = (int32_t) vq_graph_add_blob_owned (graph, "indices", VQ_DTYPE_U8,
                                                              &idx_shape, assign);
    }
    if (c->vq_scales || c->vq_grid) {
      vq_shape s_shape = vq_shape_make (1, (int32_t[]) {c->cout});
      p->weights.scales = (int32_t) vq_graph_add_blob_copy (graph, "scales", VQ_DTYPE_F32,
                                                            &s_shape, scales);
    }
    g_free (scales);
    g_free (vectors);
  }
  g_free (dense);
  if (c->bias) {
    vq_shape b_shape = vq_shape_make (1, (int32_t[]) {c->cout});
    float *bias = vq_vk_test_random (c->cout, seed + 1, 0.5f);
    p->bias = (int32_t) vq_graph_add_blob_owned (graph, "bias", VQ_DTYPE_F32, &b_shape, bias);
  }
  vq_graph_add_node (graph, &node);
  vq_graph_add_input (graph, in);
  vq_graph_add_output (graph, out);
  GError *error = NULL;
  if (!vq_graph_validate (graph, &error))
    g_error ("test graph invalid: %s", error->message);
  return graph;
}

double *
vq_vk_test_reference_conv (const vq_graph *graph, const float *input)
{
  const vq_node *node = &graph->nodes[0];
  const vq_conv_params *p = &node->p.conv;
  const vq_shape *is = &graph->values[node->inputs[0]].shape;
  const vq_shape *os = &graph->values[node->outputs[0]].shape;
  int32_t cin = is->dims[1], h = is->dims[2], w = is->dims[3];
  int32_t cout = os->dims[1], oh = os->dims[2], ow = os->dims[3];
  int32_t cin_g = cin / p->groups, cout_g = cout / p->groups;
  float *weights = g_new (float, vq_conv_weight_count (graph, node));
  double *out = g_new0 (double, (gsize) cout * oh * ow);

  vq_conv_weights_to_f32 (graph, node, weights);
  for (int32_t o = 0; o < cout; o++) {
    int32_t g = o / cout_g;
    double bias = p->bias >= 0 ? vq_blob_get_f32 (&graph->blobs[p->bias], o) : 0.0;
    for (int32_t y = 0; y < oh; y++)
      for (int32_t x = 0; x < ow; x++) {
        double sum = bias;
        for (int32_t c = 0; c < cin_g; c++)
          for (int32_t ky = 0; ky < p->kernel_h; ky++)
            for (int32_t kx = 0; kx < p->kernel_w; kx++) {
              int32_t iy = y * p->stride_h - p->pad_top + ky * p->dilation_h;
              int32_t ix = x * p->stride_w - p->pad_left + kx * p->dilation_w;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w)
                continue;
              double wv = weights[((o * cin_g + c) * p->kernel_h + ky) * p->kernel_w + kx];
              sum += wv * input[((gsize) (g * cin_g + c) * h + iy) * w + ix];
            }
        out[((gsize) o * oh + y) * ow + x] = vq_activation_apply (node->act, node->act_alpha,
                                                                  (float) sum);
        if (node->act == VQ_ACT_NONE)
          out[((gsize) o * oh + y) * ow + x] = sum;
      }
  }
  g_free (weights);
  return out;
}

float *
vq_vk_test_run_conv (vq_vk_context *ctx, const vq_graph *graph, const float *input,
                     vq_vk_conv_path path, int32_t in_plane0, int32_t out_plane0)
{
  const vq_node *node = &graph->nodes[0];
  const vq_shape *is = &graph->values[node->inputs[0]].shape;
  const vq_shape *os = &graph->values[node->outputs[0]].shape;
  int32_t cin = is->dims[1], h = is->dims[2], w = is->dims[3];
  int32_t cout = os->dims[1], oh = os->dims[2], ow = os->dims[3];
  gsize in_plane = (gsize) h * w * 4, out_plane = (gsize) oh * ow * 4;
  gsize in_floats = in_plane0 * in_plane + vq__vk_packed_floats (cin, h, w);
  gsize out_floats = out_plane0 * out_plane + vq__vk_packed_floats (cout, oh, ow);
  /* Bytes per value in the device's activation format (fp32 or fp16). */
  gsize value_bytes = vq__vk_activation_texel_bytes (ctx) / 4;
  float *packed_in = g_new0 (float, in_floats);
  float *packed_out = g_new0 (float, out_floats);
  void *texels = g_malloc0 (MAX (in_floats, out_floats) * 4);
  float *result = g_new (float, (gsize) cout * oh * ow);
  vq_vk_buffer src, dst;
  VkBufferView src_view, dst_view;
  VkDescriptorPool pool;
  VkCommandBuffer cmd;
  vq_vk_conv conv;
  vq_vk_conv_placement placement = {.in_plane0 = in_plane0, .out_plane0 = out_plane0};
  GError *error = NULL;

  vq__vk_pack (packed_in + in_plane0 * in_plane, input, cin, h, w);
  vq__vk_encode_activations (ctx, texels, packed_in, in_floats);
  if (!vq__vk_buffer_init (ctx, &src, in_floats * value_bytes, false, &error) ||
      !vq__vk_buffer_write (ctx, &src, 0, texels, in_floats * value_bytes, &error))
    g_error ("%s", error->message);
  vq__vk_encode_activations (ctx, texels, packed_out, out_floats);
  if (!vq__vk_buffer_init (ctx, &dst, out_floats * value_bytes, false, &error) ||
      !vq__vk_buffer_write (ctx, &dst, 0, texels, out_floats * value_bytes, &error) ||
      !vq__vk_buffer_view (ctx, &src, vq__vk_activation_format (ctx), 0, VK_WHOLE_SIZE,
                           &src_view, &error) ||
      !vq__vk_buffer_view (ctx, &dst, vq__vk_activation_format (ctx), 0, VK_WHOLE_SIZE,
                           &dst_view, &error) ||
      !vq__vk_descriptor_pool_init (ctx, &pool, 1, &error) ||
      !vq__vk_conv_init (ctx, &conv, graph, node, &placement, path, &error) ||
      !vq__vk_conv_bind (ctx, &conv, pool, src_view, dst_view, &error) ||
      !vq__vk_command_begin (ctx, &cmd, &error))
    g_error ("%s", error->message);
  vq__vk_conv_record (ctx, &conv, cmd);
  if (!vq__vk_command_submit (ctx, cmd, FALSE, &error) ||
      !vq__vk_buffer_read (ctx, &dst, 0, texels, out_floats * value_bytes, &error))
    g_error ("%s", error->message);
  vq__vk_decode_activations (ctx, packed_out, texels, out_floats);
  vq__vk_unpack (result, packed_out + out_plane0 * out_plane, cout, oh, ow);
  /* Planes before the output range must be untouched (concat neighbours). */
  for (gsize i = 0; i < out_plane0 * out_plane; i++)
    g_assert_cmpfloat (packed_out[i], ==, 0.0f);

  vq__vk_conv_clear (ctx, &conv);
  ctx->vk.vkDestroyDescriptorPool (ctx->device, pool, NULL);
  ctx->vk.vkDestroyBufferView (ctx->device, src_view, NULL);
  ctx->vk.vkDestroyBufferView (ctx->device, dst_view, NULL);
  vq__vk_buffer_clear (ctx, &src);
  vq__vk_buffer_clear (ctx, &dst);
  g_free (packed_in);
  g_free (packed_out);
  g_free (texels);
  return result;
}

double
vq_vk_test_nmse (const float *y, const double *ref, gsize n)
{
  double err = 0, norm = 0;
  for (gsize i = 0; i < n; i++) {
    err += (y[i] - ref[i]) * (y[i] - ref[i]);
    norm += ref[i] * ref[i];
  }
  return norm > 0 ? err / norm : err;
}
