/* Convolutions and pools: Conv2D, DepthwiseConv2dNative and their fused
 * forms, MaxPool and AvgPool, in either data format, with SAME, VALID or
 * EXPLICIT padding plus any Pad folded in front; and the fusions into a
 * conv of what follows it (bias, per-channel scale, activation). */
#include "tfjs_private.h"

#include <math.h>
#include <string.h>

static const int layout_nhwc[4] = { 0, 3, 1, 2 }; /* physical NCHW of a TF NHWC tensor */
static const int layout_nchw[4] = { 0, 1, 2, 3 };

/* The geometry shared by convs and pools, in physical (NCHW) terms. */
typedef struct {
  gboolean nchw;
  int32_t n, c, h, w;   /* the unpadded input */
  int32_t kh, kw, sh, sw, dh, dw;
  int32_t pad[4];       /* top, left, bottom, right: folded Pad + op padding */
  int32_t pending[4];   /* the part that came from a folded Pad */
  int32_t oh, ow;
} window;

static gboolean
read_window_attrs (const vq__tfjs_node *node, window *win, GError **error)
{
  char *format = vq__tfjs_attr_string (node, "data_format");
  win->nchw = format && strcmp (format, "NCHW") == 0;
  gboolean format_ok = format == NULL || win->nchw || strcmp (format, "NHWC") == 0;
  g_free (format);
  if (!format_ok) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "data_format must be NHWC or NCHW");
    return FALSE;
  }
  int hdim = win->nchw ? 2 : 1, wdim = win->nchw ? 3 : 2;
  int64_t v[4];
  int n;
  win->sh = win->sw = win->dh = win->dw = 1;
  if (vq__tfjs_attr_ints (node, "strides", v, 4, &n) && n == 4) {
    win->sh = (int32_t) v[hdim];
    win->sw = (int32_t) v[wdim];
  }
  if (vq__tfjs_attr_ints (node, "dilations", v, 4, &n) && n == 4) {
    win->dh = (int32_t) v[hdim];
    win->dw = (int32_t) v[wdim];
  }
  if (vq__tfjs_attr_ints (node, "ksize", v, 4, &n) && n == 4) {
    win->kh = (int32_t) v[hdim];
    win->kw = (int32_t) v[wdim];
  }
  if (win->sh < 1 || win->sw < 1 || win->dh < 1 || win->dw < 1 || win->sh > 1024
      || win->sw > 1024 || win->dh > 1024 || win->dw > 1024) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "invalid strides or dilations");
    return FALSE;
  }
  return TRUE;
}

/* Binds the input (in the layout the op's data format needs) and computes
 * the padding and output size. */
static gboolean
resolve_window (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, const vq__tfjs_tensor *x,
                window *win, uint32_t *value, GError **error)
{
  const int *wanted = win->nchw ? layout_nchw : layout_nhwc;
  if (x->is_const || x->rank != 4) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "needs a 4-D activation input");
    return FALSE;
  }
  if (!vq__tfjs_materialize (ctx, node, x, wanted, value, error))
    return FALSE;
  if (x->padded && (x->pad_before[0] || x->pad_after[0] || x->pad_before[1] || x->pad_after[1])) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "a folded Pad pads batch or channels");
    return FALSE;
  }
  const vq_shape *phys = &ctx->graph->values[*value].shape;
  win->n = phys->dims[0];
  win->c = phys->dims[1];
  win->h = phys->dims[2];
  win->w = phys->dims[3];
  win->pending[0] = x->pad_before[2];
  win->pending[1] = x->pad_before[3];
  win->pending[2] = x->pad_after[2];
  win->pending[3] = x->pad_after[3];
  if (win->kh < 1 || win->kw < 1 || win->kh > 4096 || win->kw > 4096) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "invalid kernel size");
    return FALSE;
  }

  int64_t in_h = (int64_t) win->h + win->pending[0] + win->pending[2];
  int64_t in_w = (int64_t) win->w + win->pending[1] + win->pending[3];
  int64_t eff_h = (int64_t) (win->kh - 1) * win->dh + 1, eff_w = (int64_t) (win->kw - 1) * win->dw + 1;
  int32_t extra[4] = { 0, 0, 0, 0 };
  char *padding = vq__tfjs_attr_string (node, "padding");
  if (padding && strcmp (padding, "SAME") == 0) {
    /* TF's SAME: output = ceil(input / stride), the odd pixel at the end. */
    int64_t oh = (in_h + win->sh - 1) / win->sh, ow = (in_w + win->sw - 1) / win->sw;
    int64_t th = MAX ((oh - 1) * win->sh + eff_h - in_h, 0);
    int64_t tw = MAX ((ow - 1) * win->sw + eff_w - in_w, 0);
    if (th > 2 * 65536 || tw > 2 * 65536)
      th = tw = -2; /* reported as invalid below */
    extra[0] = (int32_t) (th / 2);
    extra[2] = (int32_t) (th - th / 2);
    extra[1] = (int32_t) (tw / 2);
    extra[3] = (int32_t) (tw - tw / 2);
  } else if (padding && strcmp (padding, "EXPLICIT") == 0) {
    int64_t e[8];
    int n = 0;
    int hdim = win->nchw ? 2 : 1, wdim = win->nchw ? 3 : 2;
    if (!vq__tfjs_attr_ints (node, "explicit_paddings", e, 8, &n) || n != 8) {
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "EXPLICIT padding without 8 explicit_paddings");
      g_free (padding);
      return FALSE;
    }
    /* Out-of-range values become -1 and are reported below. */
    int64_t pick[4] = { e[2 * hdim], e[2 * wdim], e[2 * hdim + 1], e[2 * wdim + 1] };
    for (int i = 0; i < 4; i++)
      extra[i] = pick[i] >= 0 && pick[i] <= 65536 ? (int32_t) pick[i] : -1;
  } else if (padding == NULL || strcmp (padding, "VALID") != 0) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "padding '%s' is not supported",
                   padding ? padding : "(none)");
    g_free (padding);
    return FALSE;
  }
  g_free (padding);
  for (int i = 0; i < 4; i++) {
    if (extra[i] < 0 || extra[i] > 65536) {
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "invalid padding");
      return FALSE;
    }
    win->pad[i] = win->pending[i] + extra[i];
  }
  int64_t span_h = (int64_t) win->h + win->pad[0] + win->pad[2] - eff_h;
  int64_t span_w = (int64_t) win->w + win->pad[1] + win->pad[3] - eff_w;
  if (span_h < 0 || span_w < 0) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "the window is larger than the padded input");
    return FALSE;
  }
  win->oh = (int32_t) (span_h / win->sh + 1);
  win->ow = (int32_t) (span_w / win->sw + 1);
  return TRUE;
}

/* Copies a window's kernel, strides and padding into IR conv or pool
 * params: vq_conv_params and vq_pool_params name these fields alike, and a
 * macro serves both types. A conv also takes the dilations. */
#define SET_WINDOW_PARAMS(params, win)    \
  do {                                    \
    (params)->kernel_h = (win)->kh;       \
    (params)->kernel_w = (win)->kw;       \
    (params)->stride_h = (win)->sh;       \
    (params)->stride_w = (win)->sw;       \
    (params)->pad_top = (win)->pad[0];    \
    (params)->pad_left = (win)->pad[1];   \
    (params)->pad_bottom = (win)->pad[2]; \
    (params)->pad_right = (win)->pad[3];  \
  } while (0)

/* The TF tensor an op with this window produces, in its data format. */
static vq__tfjs_tensor
window_output (const window *win, int32_t channels)
{
  if (win->nchw) {
    int32_t dims[4] = { win->n, channels, win->oh, win->ow };
    return vq__tfjs_tensor_of_shape (4, dims, layout_nchw);
  }
  int32_t dims[4] = { win->n, win->oh, win->ow, channels };
  return vq__tfjs_tensor_of_shape (4, dims, layout_nhwc);
}

static gboolean
parse_fused_ops (const vq__tfjs_node *node, gboolean *bias, vq_activation *act,
                 float *alpha, GError **error)
{
  char **ops = vq__tfjs_attr_strings (node, "fused_ops");
  gboolean ok = TRUE;
  *bias = FALSE;
  *act = VQ_ACT_NONE;
  for (char **op = ops; ok && *op; op++) {
    if (strcmp (*op, "BiasAdd") == 0)
      *bias = TRUE;
    else if (strcmp (*op, "Relu") == 0)
      *act = VQ_ACT_RELU;
    else if (strcmp (*op, "Relu6") == 0)
      *act = VQ_ACT_RELU6;
    else if (strcmp (*op, "Sigmoid") == 0)
      *act = VQ_ACT_SIGMOID;
    else if (strcmp (*op, "LeakyRelu") == 0) {
      *act = VQ_ACT_LEAKY_RELU;
      *alpha = vq__tfjs_attr_float (node, "leakyrelu_alpha", 0.2f);
    } else {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "unsupported fused op '%s'", *op);
      ok = FALSE;
    }
  }
  g_strfreev (ops);
  return ok;
}

gboolean
vq__tfjs_op_conv (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                  guint n_in, GError **error)
{
  gboolean depthwise = strstr (node->op, "Depthwise") != NULL;
  gboolean fused = strstr (node->op, "Fused") != NULL;
  gboolean has_bias = FALSE;
  vq_activation act = VQ_ACT_NONE;
  float alpha = 0.0f;
  if (n_in < 2 || !in[1]->is_const || !in[1]->c->is_float || in[1]->c->rank != 4) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "the filter is not a constant 4-D float tensor");
    return FALSE;
  }
  if (fused && !parse_fused_ops (node, &has_bias, &act, &alpha, error))
    return FALSE;
  const vq__tconst *filter = in[1]->c;
  const vq__tconst *bias = NULL;
  if (has_bias) {
    bias = n_in >= 3 && in[2]->is_const ? in[2]->c : NULL;
    if (bias == NULL) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "the fused bias is not a constant");
      return FALSE;
    }
  }
  window win = { 0 };
  if (!read_window_attrs (node, &win, error))
    return FALSE;
  win.kh = (int32_t) filter->dims[0];
  win.kw = (int32_t) filter->dims[1];
  uint32_t input;
  if (!resolve_window (ctx, node, in[0], &win, &input, error))
    return FALSE;
  if (in[0]->padded && in[0]->pad_value != 0.0f) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "a folded Pad has a non-zero value");
    return FALSE;
  }

  /* TF filters are [kh, kw, cin/groups, cout] (depthwise: [kh, kw, cin,
   * multiplier]); the IR wants [cout, cin/groups, kh, kw]. */
  int64_t kh = filter->dims[0], kw = filter->dims[1], fi = filter->dims[2], fo = filter->dims[3];
  int64_t groups, cout, cin_g;
  if (depthwise) {
    groups = win.c;
    cout = win.c * fo;
    cin_g = 1;
    if (fi != win.c) {
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "filter has %d input channels, input %d",
                     (int) fi, win.c);
      return FALSE;
    }
  } else {
    cin_g = fi;
    cout = fo;
    groups = fi > 0 && win.c % fi == 0 ? win.c / fi : 0;
    if (groups < 1 || cout % groups != 0) {
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT,
                     "filter input channels %d do not divide the input's %d", (int) fi, win.c);
      return FALSE;
    }
  }
  if (bias != NULL && bias->numel != cout) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "bias has %d values for %d channels",
                   (int) bias->numel, (int) cout);
    return FALSE;
  }
  float *w = g_new (float, cout * cin_g * kh * kw);
  for (int64_t o = 0; o < cout; o++)
    for (int64_t i = 0; i < cin_g; i++)
      for (int64_t y = 0; y < kh; y++)
        for (int64_t x = 0; x < kw; x++) {
          int64_t src = depthwise ? ((y * kw + x) * fi + o / fo) * fo + o % fo
                                  : ((y * kw + x) * fi + i) * fo + o;
          w[((o * cin_g + i) * kh + y) * kw + x] = filter->f[src];
        }

  vq_node conv;
  vq_node_init (&conv, VQ_OP_CONV2D, node->name);
  vq_conv_params *p = &conv.p.conv;
  SET_WINDOW_PARAMS (p, &win);
  p->dilation_h = win.dh;
  p->dilation_w = win.dw;
  p->groups = (int32_t) groups;
  p->out_channels = (int32_t) cout;
  char *blob_name = g_strdup_printf ("%s/weights", node->name);
  vq_shape wshape = vq_shape_4d ((int32_t) cout, (int32_t) cin_g, (int32_t) kh, (int32_t) kw);
  p->weights.dense = (int32_t) vq_graph_add_blob_owned (ctx->graph, blob_name, VQ_DTYPE_F32, &wshape, w);
  g_free (blob_name);
  if (bias != NULL) {
    float *b = g_new (float, cout);
    for (int64_t o = 0; o < cout; o++)
      b[o] = (float) vq__tconst_get (bias, o);
    vq_shape bshape = vq_shape_make (1, (int32_t[]) { (int32_t) cout });
    blob_name = g_strdup_printf ("%s/bias", node->name);
    p->bias = (int32_t) vq_graph_add_blob_owned (ctx->graph, blob_name, VQ_DTYPE_F32, &bshape, b);
    g_free (blob_name);
  }
  conv.act = act;
  conv.act_alpha = alpha;
  conv.n_inputs = 1;
  conv.inputs[0] = input;
  vq__tfjs_tensor t = window_output (&win, (int32_t) cout);
  vq__tfjs_emit_output (ctx, node, &conv, &t);
  return TRUE;
}

gboolean
vq__tfjs_op_pool (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in,
                  guint n_in, GError **error)
{
  gboolean is_max = strcmp (node->op, "MaxPool") == 0;
  window win = { 0 };
  uint32_t input;
  if (!vq__tfjs_need_inputs (node, n_in, 1, error) || !read_window_attrs (node, &win, error)
      || !resolve_window (ctx, node, in[0], &win, &input, error))
    return FALSE;
  const vq__tfjs_tensor *x = in[0];
  gboolean from_pad = FALSE, from_op = FALSE;
  for (int i = 0; i < 4; i++) {
    from_pad = from_pad || win.pending[i] != 0;
    from_op = from_op || win.pad[i] != win.pending[i];
  }
  vq_node pool;
  vq_node_init (&pool, is_max ? VQ_OP_MAX_POOL : VQ_OP_AVG_POOL, node->name);
  vq_pool_params *p = &pool.p.pool;
  /* Padded cells take one value (max) or one counting rule (avg) in the
   * IR. TF's SAME padding never wins a max (-inf) and is not counted by an
   * average; cells of a folded Pad hold the pad value and are counted. */
  if (is_max) {
    p->pad_value = from_pad ? x->pad_value : -INFINITY;
    if (from_pad && from_op && x->pad_value != -INFINITY) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                     "SAME padding after a Pad with a finite value cannot be expressed");
      return FALSE;
    }
  } else {
    if (from_pad && (from_op || x->pad_value != 0.0f)) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                     "an average pool over a non-zero Pad or a Pad plus SAME padding");
      return FALSE;
    }
    p->count_include_pad = from_pad;
  }
  SET_WINDOW_PARAMS (p, &win);
  pool.n_inputs = 1;
  pool.inputs[0] = input;
  vq__tfjs_tensor t = window_output (&win, win.c);
  vq__tfjs_emit_output (ctx, node, &pool, &t);
  return TRUE;
}

/* The conv node writing x's value, when nothing else reads that value. */
static vq_node *
fusable_producer (vq__tfjs_ctx *ctx, const vq__tfjs_tensor *x)
{
  if (x->is_const || x->padded || !vq__tfjs_sole_use (ctx, x->value))
    return NULL;
  int32_t producer = g_array_index (ctx->values, vq__tfjs_value_info, x->value).producer;
  return &ctx->graph->nodes[producer];
}

gboolean
vq__tfjs_fold_channel_constant (vq__tfjs_ctx *ctx, const vq__tfjs_node *node,
                                vq__tfjs_tensor *x, const vq__tconst *c, char operation,
                                GError **error)
{
  vq_node *conv = fusable_producer (ctx, x);
  if (conv == NULL || conv->op != VQ_OP_CONV2D || conv->act != VQ_ACT_NONE || x->rank != 4) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                   "a constant operand is only supported right after a convolution "
                   "whose output nothing else reads");
    return FALSE;
  }
  /* The constant must broadcast along the channel dimension only. TF's
   * BiasAdd aligns its 1-D bias with C of its data_format; other ops align
   * shapes from the right. */
  int channel = x->perm[1];
  int32_t cout = conv->p.conv.out_channels;
  gboolean ok = c->numel == 1 || c->numel == cout;
  char *format = strcmp (node->op, "BiasAdd") == 0 ? vq__tfjs_attr_string (node, "data_format") : NULL;
  if (format != NULL && strcmp (format, "NCHW") == 0)
    ok = ok && c->rank == 1 && channel == 1;
  else
    for (int d = 0; ok && d < c->rank; d++) {
      int xd = d + x->rank - c->rank;
      ok = c->dims[d] == 1 || (xd == channel && c->dims[d] == cout);
    }
  g_free (format);
  if (!ok || c->rank > x->rank) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                   "the constant operand is not per-channel for %d channels", cout);
    return FALSE;
  }
  vq_conv_params *p = &conv->p.conv;
  if (p->bias < 0) {
    vq_shape bshape = vq_shape_make (1, &cout);
    char *name = g_strdup_printf ("%s/bias", conv->name);
    p->bias = (int32_t) vq_graph_add_blob_owned (ctx->graph, name, VQ_DTYPE_F32, &bshape,
                                                 g_new0 (float, cout));
    g_free (name);
  }
  float *bias = (float *) ctx->graph->blobs[p->bias].data;
  float *w = (float *) ctx->graph->blobs[p->weights.dense].data;
  int64_t row = ctx->graph->blobs[p->weights.dense].shape.dims[1] * p->kernel_h * p->kernel_w;
  for (int32_t o = 0; o < cout; o++) {
    float v = (float) vq__tconst_get (c, c->numel == 1 ? 0 : o);
    if (operation == '+') {
      bias[o] += v;
    } else if (operation == '-') {
      bias[o] -= v;
    } else {
      bias[o] *= v;
      for (int64_t j = 0; j < row; j++)
        w[o * row + j] *= v;
    }
  }
  return TRUE;
}

gboolean
vq__tfjs_fuse_activation (vq__tfjs_ctx *ctx, vq__tfjs_tensor *x, vq_activation act, float alpha)
{
  vq_node *producer = fusable_producer (ctx, x);
  if (producer == NULL || producer->act != VQ_ACT_NONE
      || (producer->op != VQ_OP_CONV2D && producer->op != VQ_OP_ADD))
    return FALSE;
  producer->act = act;
  producer->act_alpha = alpha;
  return TRUE;
}
