/* conv2d on the CPU engine against a direct seven-loop convolution in
 * double precision, over many shapes, weight encodings (dense F32/F16, VQ
 * with U8/U4 indices, scales, shared codebooks) and fused activations. */
#include <math.h>
#include <string.h>

#include "common/half.h"
#include "cpu/gemm.h"
#include "cpu_test.h"
#include "vqcore/engine.h"

typedef enum { W_F32, W_F16, W_VQ_U8, W_VQ_U4 } weight_kind;

typedef struct {
  int cin, h, w, cout;
  int kh, kw, sh, sw, dh, dw;
  int pt, pl, pb, pr;
  int groups;
  vq_activation act;
  weight_kind weights;
  int d;           /* VQ sub-vector length */
  gboolean scales; /* VQ per-channel scales */
  gboolean bias;
  gboolean f16_codebook;
} conv_case;

/* A value exactly representable in half precision (k / 2048, |k| < 2048),
 * so that F16 weights mean the same to the engine and to the reference. */
static float
half_exact (GRand *rand)
{
  return (float) g_rand_int_range (rand, -2047, 2048) / 2048.0f;
}

static int
out_size (int size, int pad_a, int pad_b, int kernel, int dilation, int stride)
{
  return (size + pad_a + pad_b - dilation * (kernel - 1) - 1) / stride + 1;
}

/* Adds one conv reading value `input` to the graph, filling `reference`
 * (cout x D floats, D = cin/groups*kh*kw) with the weights it means, by
 * this test's own reading of graph.h. `shared_codebook` >= 0 reuses a
 * codebook blob. Returns the output value id. */
static uint32_t
add_conv (vq_graph *graph, GRand *rand, const conv_case *c, uint32_t input,
          int32_t shared_codebook, int32_t *codebook_out, float *reference, float *bias_out)
{
  int oh = out_size (c->h, c->pt, c->pb, c->kh, c->dh, c->sh);
  int ow = out_size (c->w, c->pl, c->pr, c->kw, c->dw, c->sw);
  vq_shape out_shape = vq_shape_4d (1, c->cout, oh, ow);
  uint32_t output = vq_graph_add_value (graph, "conv_out", &out_shape);
  int64_t row = (int64_t) c->cin / c->groups * c->kh * c->kw;
  int64_t count = c->cout * row;

  vq_node node;
  vq_node_init (&node, VQ_OP_CONV2D, "conv");
  vq_conv_params *p = &node.p.conv;
  p->kernel_h = c->kh;
  p->kernel_w = c->kw;
  p->stride_h = c->sh;
  p->stride_w = c->sw;
  p->dilation_h = c->dh;
  p->dilation_w = c->dw;
  p->pad_top = c->pt;
  p->pad_left = c->pl;
  p->pad_bottom = c->pb;
  p->pad_right = c->pr;
  p->groups = c->groups;
  p->out_channels = c->cout;
  node.act = c->act;
  node.act_alpha = c->act == VQ_ACT_LEAKY_RELU ? 0.1f : 0.0f;
  node.n_inputs = 1;
  node.inputs[0] = input;
  node.n_outputs = 1;
  node.outputs[0] = output;

  vq_shape wshape = vq_shape_4d (c->cout, c->cin / c->groups, c->kh, c->kw);
  if (c->weights == W_F32) {
    for (int64_t i = 0; i < count; i++)
      reference[i] = cpu_test_uniform (rand, -1.0f, 1.0f);
    p->weights.dense = (int32_t) vq_graph_add_blob_copy (graph, "w", VQ_DTYPE_F32, &wshape,
                                                         reference);
  } else if (c->weights == W_F16) {
    uint16_t *halves = g_new (uint16_t, (gsize) count);
    for (int64_t i = 0; i < count; i++) {
      reference[i] = half_exact (rand);
      halves[i] = vq__float_to_half (reference[i]);
    }
    p->weights.dense = (int32_t) vq_graph_add_blob_owned (graph, "w", VQ_DTYPE_F16, &wshape,
                                                          halves);
  } else {
    int k = c->weights == W_VQ_U4 ? 16 : 200;
    int d = c->d;
    int32_t codebook_id = shared_codebook;
    if (codebook_id < 0) {
      int32_t dims[2] = { k, d };
      vq_shape cb_shape = vq_shape_make (2, dims);
      if (c->f16_codebook) {
        uint16_t *halves = g_new (uint16_t, (gsize) (k * d));
        for (int i = 0; i < k * d; i++)
          halves[i] = vq__float_to_half (half_exact (rand));
        codebook_id = (int32_t) vq_graph_add_blob_owned (graph, "cb", VQ_DTYPE_F16, &cb_shape,
                                                         halves);
      } else {
        float *entries = cpu_test_random (rand, k * d, -1.0f, 1.0f);
        codebook_id = (int32_t) vq_graph_add_blob_owned (graph, "cb", VQ_DTYPE_F32, &cb_shape,
                                                         entries);
      }
    }
    *codebook_out = codebook_id;
    k = graph->blobs[codebook_id].shape.dims[0];
    d = graph->blobs[codebook_id].shape.dims[1];

    int64_t per_row = (row + d - 1) / d;
    int64_t n_codes = c->cout * per_row;
    uint8_t *codes = g_new (uint8_t, (gsize) n_codes);
    for (int64_t i = 0; i < n_codes; i++)
      codes[i] = (uint8_t) g_rand_int_range (rand, 0, k);
    int32_t idims[2] = { c->cout, (int32_t) per_row };
    vq_shape ishape = vq_shape_make (2, idims);
    if (c->weights == W_VQ_U4) {
      uint8_t *packed = g_new0 (uint8_t, (gsize) (n_codes + 1) / 2);
      for (int64_t i = 0; i < n_codes; i++)
        packed[i / 2] |= (uint8_t) (codes[i] << (4 * (i & 1))); /* low nibble first */
      p->weights.indices = (int32_t) vq_graph_add_blob_owned (graph, "idx", VQ_DTYPE_U4,
                                                              &ishape, packed);
    } else {
      p->weights.indices = (int32_t) vq_graph_add_blob_copy (graph, "idx", VQ_DTYPE_U8,
                                                             &ishape, codes);
    }
    p->weights.codebook = codebook_id;

    float *scale = NULL;
    if (c->scales) {
      scale = cpu_test_random (rand, c->cout, 0.25f, 2.0f);
      int32_t cout = c->cout;
      vq_shape sshape = vq_shape_make (1, &cout);
      p->weights.scales = (int32_t) vq_graph_add_blob_copy (graph, "scales", VQ_DTYPE_F32,
                                                            &sshape, scale);
    }
    /* Looked up only now: adding blobs may move the blob table. */
    const vq_blob *codebook = &graph->blobs[codebook_id];
    for (int64_t o = 0; o < c->cout; o++)
      for (int64_t j = 0; j < row; j++) {
        int64_t code = codes[o * per_row + j / d];
        reference[o * row + j] = vq_blob_get_f32 (codebook, code * d + j % d)
                                 * (scale ? scale[o] : 1.0f);
      }
    g_free (scale);
    g_free (codes);
  }

  for (int o = 0; o < c->cout; o++)
    bias_out[o] = 0.0f;
  if (c->bias) {
    for (int o = 0; o < c->cout; o++)
      bias_out[o] = cpu_test_uniform (rand, -1.0f, 1.0f);
    int32_t cout = c->cout;
    vq_shape bshape = vq_shape_make (1, &cout);
    p->bias = (int32_t) vq_graph_add_blob_copy (graph, "bias", VQ_DTYPE_F32, &bshape, bias_out);
  }
  vq_graph_add_node (graph, &node);
  return output;
}

/* The direct convolution, in double: want = act(bias + sum w x), and the
 * magnitude |bias| + sum |w x| that bounds the rounding error. */
static void
reference_conv (const conv_case *c, const float *input, const float *weights, const float *bias,
                double *want, double *magnitude)
{
  int oh = out_size (c->h, c->pt, c->pb, c->kh, c->dh, c->sh);
  int ow = out_size (c->w, c->pl, c->pr, c->kw, c->dw, c->sw);
  int cin_g = c->cin / c->groups, cout_g = c->cout / c->groups;
  for (int o = 0; o < c->cout; o++) {
    int g = o / cout_g;
    for (int y = 0; y < oh; y++)
      for (int x = 0; x < ow; x++) {
        double sum = bias[o], mag = fabs (bias[o]);
        for (int ci = 0; ci < cin_g; ci++)
          for (int ky = 0; ky < c->kh; ky++)
            for (int kx = 0; kx < c->kw; kx++) {
              int iy = y * c->sh - c->pt + ky * c->dh;
              int ix = x * c->sw - c->pl + kx * c->dw;
              if (iy < 0 || iy >= c->h || ix < 0 || ix >= c->w)
                continue;
              double term = (double) weights[((o * cin_g + ci) * c->kh + ky) * c->kw + kx]
                            * input[((g * cin_g + ci) * c->h + iy) * c->w + ix];
              sum += term;
              mag += fabs (term);
            }
        int64_t i = ((int64_t) o * oh + y) * ow + x;
        want[i] = cpu_test_activation (c->act, 0.1, sum);
        magnitude[i] = mag;
      }
  }
}

static const char *const weight_names[] = { "f32", "f16", "vq-u8", "vq-u4" };

static void
check_case (const conv_case *c, GRand *rand, gboolean check_threads)
{
  vq_graph *graph = vq_graph_new ();
  vq_shape in_shape = vq_shape_4d (1, c->cin, c->h, c->w);
  uint32_t input = vq_graph_add_value (graph, "in", &in_shape);
  vq_graph_add_input (graph, input);
  int64_t row = (int64_t) c->cin / c->groups * c->kh * c->kw;
  float *weights = g_new (float, c->cout * row);
  float *bias = g_new (float, c->cout);
  int32_t codebook = -1;
  uint32_t output = add_conv (graph, rand, c, input, -1, &codebook, weights, bias);
  vq_graph_add_output (graph, output);
  vq_model *model = cpu_test_model (graph);

  float *data = cpu_test_random (rand, vq_shape_numel (&in_shape), -1.0f, 1.0f);
  int64_t n = vq_shape_numel (&graph->values[output].shape);
  double *want = g_new (double, n);
  double *magnitude = g_new (double, n);
  reference_conv (c, data, weights, bias, want, magnitude);

  char *what = g_strdup_printf (
      "conv cin=%d %dx%d cout=%d k=%dx%d s=%dx%d d=%dx%d pad=%d,%d,%d,%d g=%d act=%s w=%s",
      c->cin, c->h, c->w, c->cout, c->kh, c->kw, c->sh, c->sw, c->dh, c->dw, c->pt, c->pl,
      c->pb, c->pr, c->groups, vq_activation_name (c->act), weight_names[c->weights]);
  float *got = cpu_test_run (model, 2, data, 0);
  cpu_test_assert_close (what, got, want, magnitude, n, 1e-5);

  if (check_threads) {
    /* Every GEMM variant this machine runs is close to the reference, and
     * the FMA ones agree bit for bit. */
    const char *const variants[] = { "generic", "avx2+fma", "avx512+fma" };
    float *fused = NULL;
    for (guint v = 0; v < G_N_ELEMENTS (variants); v++) {
      if (!vq__gemm_force_variant (variants[v]))
        continue;
      float *other = cpu_test_run (model, 2, data, 0);
      char *label = g_strdup_printf ("%s [%s]", what, variants[v]);
      cpu_test_assert_close (label, other, want, magnitude, n, 1e-5);
      g_free (label);
      if (v > 0 && fused != NULL)
        g_assert_cmpmem (other, n * sizeof (float), fused, n * sizeof (float));
      if (v > 0 && fused == NULL)
        fused = other;
      else
        g_free (other);
    }
    g_free (fused);
    vq__gemm_force_variant (NULL);

    /* Bit-identical for any thread count. */
    for (int threads = 1; threads <= 3; threads += 2) {
      float *again = cpu_test_run (model, threads, data, 0);
      g_assert_cmpmem (again, n * sizeof (float), got, n * sizeof (float));
      g_free (again);
    }
  }
  g_free (what);
  g_free (got);
  g_free (want);
  g_free (magnitude);
  g_free (data);
  g_free (weights);
  g_free (bias);
  cpu_test_model_free (model);
}

static conv_case
plain (int cin, int h, int w, int cout, int k, int stride)
{
  conv_case c = { cin, h, w, cout, k, k, stride, stride, 1, 1, k / 2, k / 2, k / 2, k / 2,
                  1, VQ_ACT_NONE, W_F32, 4, FALSE, TRUE, FALSE };
  return c;
}

/* Hand-picked shapes: each kernel path and the blocking boundaries. */
static void
test_conv_shapes (void)
{
  GRand *rand = g_rand_new_with_seed (1);
  conv_case cases[16];
  int n = 0;
  cases[n++] = plain (3, 17, 19, 5, 3, 1);   /* tiny, partial tiles */
  cases[n++] = plain (16, 9, 9, 16, 1, 1);   /* 1x1: im2col is the identity */
  cases[n++] = plain (200, 7, 11, 24, 1, 1); /* 1x1 with K > the K block */
  cases[n++] = plain (48, 30, 30, 70, 3, 1); /* several K blocks and column chunks */
  cases[n++] = plain (12, 20, 21, 9, 3, 2);  /* stride 2 */
  cases[n++] = plain (6, 15, 14, 10, 5, 1);  /* 5x5 */
  cases[n++] = plain (6, 15, 14, 10, 5, 2);
  cases[n] = plain (8, 16, 16, 8, 3, 1);     /* dilation 2 */
  cases[n].dh = cases[n].dw = 2;
  cases[n].pt = cases[n].pl = cases[n].pb = cases[n].pr = 2;
  n++;
  cases[n] = plain (8, 13, 12, 12, 3, 1);    /* asymmetric padding (TF "SAME", stride 2) */
  cases[n].sh = cases[n].sw = 2;
  cases[n].pt = 0;
  cases[n].pl = 1;
  cases[n].pb = 1;
  cases[n].pr = 0;
  n++;
  cases[n] = plain (8, 10, 10, 12, 3, 1);    /* groups 2 */
  cases[n].groups = 2;
  n++;
  cases[n] = plain (16, 12, 12, 16, 3, 1);   /* depthwise */
  cases[n].groups = 16;
  n++;
  cases[n] = plain (10, 12, 11, 20, 3, 2);   /* depthwise, multiplier 2, stride 2 */
  cases[n].groups = 10;
  n++;
  cases[n] = plain (9, 8, 8, 6, 1, 2);       /* 1x1 stride 2: not the identity */
  cases[n].pt = cases[n].pl = cases[n].pb = cases[n].pr = 0;
  n++;
  cases[n] = plain (4, 6, 6, 3, 3, 1);       /* no bias, a big pad */
  cases[n].bias = FALSE;
  cases[n].pt = cases[n].pr = 3;
  n++;
  for (int i = 0; i < n; i++)
    check_case (&cases[i], rand, TRUE);
  g_rand_free (rand);
}

/* Every activation fused into a conv. */
static void
test_conv_activations (void)
{
  GRand *rand = g_rand_new_with_seed (2);
  for (int act = 0; act < VQ_ACT_COUNT; act++) {
    conv_case c = plain (7, 11, 10, 13, 3, 1);
    c.act = (vq_activation) act;
    /* Inputs in [-1, 1) give sums of a few units: every branch is used. */
    check_case (&c, rand, FALSE);
  }
  g_rand_free (rand);
}

/* Weight encodings: F16 dense, VQ with U8 and U4 indices, with and without
 * scales, F32 and F16 codebooks, d not dividing the row length. */
static void
test_conv_weight_kinds (void)
{
  GRand *rand = g_rand_new_with_seed (3);
  const int ds[] = { 1, 3, 4, 9, 16 };
  for (int kind = W_F16; kind <= W_VQ_U4; kind++)
    for (guint i = 0; i < G_N_ELEMENTS (ds); i++) {
      conv_case c = plain (5 + (int) i, 9, 10, 11, i % 2 ? 3 : 1, 1);
      c.weights = (weight_kind) kind;
      c.d = ds[i];
      c.scales = i % 2 == 0;
      c.f16_codebook = i % 3 == 1;
      c.groups = i == 4 ? (5 + (int) i) : 1;
      c.cout = i == 4 ? 2 * c.cin : c.cout;
      check_case (&c, rand, FALSE);
    }
  g_rand_free (rand);
}

/* Random geometry: 60 cases drawn from the ranges the IR allows. */
static void
test_conv_random (void)
{
  GRand *rand = g_rand_new_with_seed (4);
  const int kernels[] = { 1, 3, 5 };
  for (int i = 0; i < 60; i++) {
    conv_case c;
    memset (&c, 0, sizeof c);
    c.groups = g_rand_int_range (rand, 0, 4) == 0 ? g_rand_int_range (rand, 2, 4) : 1;
    c.cin = c.groups * g_rand_int_range (rand, 1, 12);
    c.cout = c.groups * g_rand_int_range (rand, 1, 14);
    if (g_rand_int_range (rand, 0, 6) == 0)
      c.groups = c.cin = c.cout = g_rand_int_range (rand, 2, 12); /* depthwise */
    c.kh = kernels[g_rand_int_range (rand, 0, 3)];
    c.kw = g_rand_boolean (rand) ? c.kh : kernels[g_rand_int_range (rand, 0, 3)];
    c.sh = g_rand_int_range (rand, 1, 3);
    c.sw = g_rand_int_range (rand, 1, 3);
    c.dh = g_rand_int_range (rand, 1, 3);
    c.dw = g_rand_int_range (rand, 1, 3);
    c.pt = g_rand_int_range (rand, 0, 3);
    c.pl = g_rand_int_range (rand, 0, 3);
    c.pb = g_rand_int_range (rand, 0, 3);
    c.pr = g_rand_int_range (rand, 0, 3);
    c.h = g_rand_int_range (rand, (c.kh - 1) * c.dh + 1, 24);
    c.w = g_rand_int_range (rand, (c.kw - 1) * c.dw + 1, 24);
    c.act = (vq_activation) g_rand_int_range (rand, 0, VQ_ACT_COUNT);
    c.weights = (weight_kind) g_rand_int_range (rand, 0, 4);
    c.d = g_rand_int_range (rand, 1, 10);
    c.scales = g_rand_boolean (rand);
    c.bias = g_rand_boolean (rand);
    c.f16_codebook = g_rand_boolean (rand);
    check_case (&c, rand, i % 10 == 0);
  }
  g_rand_free (rand);
}

/* Two convs reading one input and sharing one VQ codebook. */
static void
test_conv_shared_codebook (void)
{
  GRand *rand = g_rand_new_with_seed (5);
  conv_case a = plain (6, 10, 10, 8, 3, 1), b = plain (6, 10, 10, 12, 1, 1);
  a.weights = b.weights = W_VQ_U8;
  a.d = b.d = 3;
  a.scales = TRUE;

  vq_graph *graph = vq_graph_new ();
  vq_shape in_shape = vq_shape_4d (1, 6, 10, 10);
  uint32_t input = vq_graph_add_value (graph, "in", &in_shape);
  vq_graph_add_input (graph, input);
  float wa[8 * 54], wb[12 * 6], ba[8], bb[12];
  int32_t codebook = -1, codebook_b = -1;
  uint32_t out_a = add_conv (graph, rand, &a, input, -1, &codebook, wa, ba);
  uint32_t out_b = add_conv (graph, rand, &b, input, codebook, &codebook_b, wb, bb);
  g_assert_cmpint (codebook, ==, codebook_b);
  vq_graph_add_output (graph, out_a);
  vq_graph_add_output (graph, out_b);
  vq_model *model = cpu_test_model (graph);

  float *data = cpu_test_random (rand, 600, -1.0f, 1.0f);
  double want_a[800], mag_a[800], want_b[1200], mag_b[1200];
  reference_conv (&a, data, wa, ba, want_a, mag_a);
  reference_conv (&b, data, wb, bb, want_b, mag_b);
  float *got_a = cpu_test_run (model, 2, data, 0);
  float *got_b = cpu_test_run (model, 2, data, 1);
  cpu_test_assert_close ("shared codebook, conv a", got_a, want_a, mag_a, 800, 1e-5);
  cpu_test_assert_close ("shared codebook, conv b", got_b, want_b, mag_b, 1200, 1e-5);
  g_free (got_a);
  g_free (got_b);
  g_free (data);
  cpu_test_model_free (model);
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpu/conv/shapes", test_conv_shapes);
  g_test_add_func ("/cpu/conv/activations", test_conv_activations);
  g_test_add_func ("/cpu/conv/weight-kinds", test_conv_weight_kinds);
  g_test_add_func ("/cpu/conv/random", test_conv_random);
  g_test_add_func ("/cpu/conv/shared-codebook", test_conv_shared_codebook);
  return g_test_run ();
}
