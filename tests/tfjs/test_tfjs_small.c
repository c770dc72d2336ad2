/* Small hand-written TF.js models: each exercises part of the op table
 * (padding modes, fusion, depthwise, pools, resize, constant folding) and
 * is checked for its IR structure and, through the naive interpreter,
 * against TF.js itself. Plus the importer's error paths. */
#include <math.h>
#include <string.h>

#include <glib/gstdio.h>

#include "naive_ir.h"
#include "test_util.h"
#include "tfjs_test_util.h"
#include "vqcore/error.h"
#include "vqcore/tfjs.h"

#define TOLERANCE 1e-4

/* TF.js reads `dilations` without a default. */
#define NO_DILATION "\"dilations\": {\"list\": {\"i\": [\"1\", \"1\", \"1\", \"1\"]}}, "

typedef struct {
  char *dir;
  char *b64_same, *b64_valid, *b64_explicit, *b64_nhwc, *b64_nchw;
} fixture;

static void
fixture_setup (fixture *f, gconstpointer data)
{
  GError *error = NULL;
  f->dir = g_dir_make_tmp ("vq-tfjs-small-XXXXXX", &error);
  g_assert_no_error (error);
  f->b64_same = tfjs_b64 ("SAME");
  f->b64_valid = tfjs_b64 ("VALID");
  f->b64_explicit = tfjs_b64 ("EXPLICIT");
  f->b64_nhwc = tfjs_b64 ("NHWC");
  f->b64_nchw = tfjs_b64 ("NCHW");
}

static void
fixture_teardown (fixture *f, gconstpointer data)
{
  const char *files[] = { "model.json", "model.bin" };
  /* VQ_TEST_KEEP=1 keeps the models for debugging with the reference. */
  for (size_t i = 0; i < G_N_ELEMENTS (files) && !g_getenv ("VQ_TEST_KEEP"); i++) {
    char *p = g_build_filename (f->dir, files[i], NULL);
    g_remove (p);
    g_free (p);
  }
  g_rmdir (f->dir);
  g_free (f->dir);
  g_free (f->b64_same);
  g_free (f->b64_valid);
  g_free (f->b64_explicit);
  g_free (f->b64_nhwc);
  g_free (f->b64_nchw);
}

static void
add_placeholder (tfjs_builder *b, const char *name, const int *dims)
{
  char *attrs = g_strdup_printf ("\"dtype\": {\"type\": \"DT_FLOAT\"}, \"shape\": {\"shape\": "
                                 "{\"dim\": [{\"size\": \"%d\"}, {\"size\": \"%d\"}, {\"size\": "
                                 "\"%d\"}, {\"size\": \"%d\"}]}}", dims[0], dims[1], dims[2], dims[3]);
  tfjs_add_node (b, name, "Placeholder", "", attrs);
  g_free (attrs);
}

static void
add_random_f32 (tfjs_builder *b, const char *name, int rank, const int *shape, guint32 seed)
{
  gsize n = 1;
  for (int i = 0; i < rank; i++)
    n *= (gsize) shape[i];
  float *data = g_new (float, n);
  tfjs_fill_random (data, n, seed);
  tfjs_add_const_f32 (b, name, rank, shape, data, seed % 2 == 0);
  g_free (data);
}

/* Runs the imported graph with the naive interpreter and TF.js on the same
 * random input (TF layout `tf_dims`, NHWC or NCHW) and compares outputs.
 * TF.js's wasm backend has no NCHW convs; NCHW models use its CPU one. */
static void
compare_with_tfjs (const char *json, const vq_graph *graph, const int *tf_dims, gboolean nhwc)
{
  gsize count = (gsize) tf_dims[0] * tf_dims[1] * tf_dims[2] * tf_dims[3];
  float *tf_input = g_new (float, count), *ir_input = g_new (float, count);
  tfjs_fill_random (tf_input, count, 7);
  if (nhwc) {
    int h = tf_dims[1], w = tf_dims[2], c = tf_dims[3];
    for (int y = 0; y < h; y++)
      for (int x = 0; x < w; x++)
        for (int k = 0; k < c; k++)
          ir_input[(k * h + y) * w + x] = tf_input[(y * w + x) * c + k];
  } else {
    memcpy (ir_input, tf_input, count * sizeof (float));
  }
  GPtrArray *expected = tfjs_run_reference (json, tf_input, count, nhwc ? "wasm" : "cpu", NULL);
  g_assert_cmpuint (expected->len, ==, graph->n_outputs);
  float **values = naive_ir_run (graph, ir_input);
  for (uint32_t o = 0; o < graph->n_outputs; o++) {
    gsize size;
    const float *want = g_bytes_get_data (g_ptr_array_index (expected, o), &size);
    gsize n = (gsize) vq_shape_numel (&graph->values[graph->outputs[o]].shape);
    g_assert_cmpuint (size, ==, n * sizeof (float));
    double diff = tfjs_max_abs_diff (values[graph->outputs[o]], want, n);
    g_test_message ("output %u: max abs diff %.3g", o, diff);
    g_assert_cmpfloat (diff, <, TOLERANCE);
  }
  naive_ir_free (graph, values);
  g_ptr_array_unref (expected);
  g_free (tf_input);
  g_free (ir_input);
}

static const vq_node *
find_node (const vq_graph *graph, vq_op op, int nth)
{
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    if (graph->nodes[i].op == op && nth-- == 0)
      return &graph->nodes[i];
  g_assert_not_reached ();
  return NULL;
}

/* SAME stride-2 conv + BiasAdd + Relu6, depthwise SAME conv + Add + Relu,
 * MaxPool SAME: TF's asymmetric SAME padding (extra pixel at the end),
 * fusion of bias and activation, depthwise as groups = channels. */
static void
test_same_relu6_depthwise (fixture *f, gconstpointer data)
{
  tfjs_builder *b = tfjs_builder_new ();
  const int in_dims[4] = { 1, 10, 9, 3 };
  add_placeholder (b, "x", in_dims);
  add_random_f32 (b, "w1", 4, (int[]) { 3, 3, 3, 4 }, 1);
  add_random_f32 (b, "b1", 1, (int[]) { 4 }, 2);
  add_random_f32 (b, "w2", 4, (int[]) { 3, 3, 4, 2 }, 3);
  add_random_f32 (b, "b2", 1, (int[]) { 8 }, 4);
  char *conv1 = g_strdup_printf ("%s\"strides\": {\"list\": {\"i\": [\"1\", \"2\", \"2\", \"1\"]}}, "
                                 "\"padding\": {\"s\": \"%s\"}, \"data_format\": {\"s\": \"%s\"}",
                                 NO_DILATION, f->b64_same, f->b64_nhwc);
  char *conv2 = g_strdup_printf ("%s\"strides\": {\"list\": {\"i\": [\"1\", \"1\", \"1\", \"1\"]}}, "
                                 "\"padding\": {\"s\": \"%s\"}", NO_DILATION, f->b64_same);
  char *pool = g_strdup_printf ("\"ksize\": {\"list\": {\"i\": [\"1\", \"2\", \"2\", \"1\"]}}, "
                                "\"strides\": {\"list\": {\"i\": [\"1\", \"2\", \"2\", \"1\"]}}, "
                                "\"padding\": {\"s\": \"%s\"}", f->b64_same);
  tfjs_add_node (b, "net/conv1", "Conv2D", "\"x\", \"w1\"", conv1);
  tfjs_add_node (b, "net/bias1", "BiasAdd", "\"net/conv1\", \"b1\"", "");
  tfjs_add_node (b, "net/relu6", "Relu6", "\"net/bias1\"", "");
  tfjs_add_node (b, "net/dw", "DepthwiseConv2dNative", "\"net/relu6\", \"w2\"", conv2);
  tfjs_add_node (b, "net/bias2", "AddV2", "\"net/dw\", \"b2\"", "");
  tfjs_add_node (b, "net/relu", "Relu", "\"net/bias2\"", "");
  tfjs_add_node (b, "net/pool", "MaxPool", "\"net/relu\"", pool);
  tfjs_add_node (b, "Identity", "Identity", "\"net/pool\"", "");
  const char *outputs[] = { "Identity:0", NULL };
  char *json = tfjs_builder_write (b, f->dir, "x", outputs);

  GError *error = NULL;
  vq_graph *graph = vq_tfjs_import_graph (json, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_CONV2D), ==, 2);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_ACTIVATION), ==, 0);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_MAX_POOL), ==, 1);
  /* The NHWC input is stored NCHW; only the NHWC output needs a transpose. */
  vq_shape in = vq_shape_4d (1, 3, 10, 9);
  g_assert_true (vq_shape_equal (&graph->values[graph->inputs[0]].shape, &in));
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_TRANSPOSE), ==, 1);

  /* SAME, stride 2: 10x9 -> 5x5; total padding (5-1)*2+3-10 = 1 rows
   * (all at the bottom) and (5-1)*2+3-9 = 2 columns (one each side). */
  const vq_node *c1 = find_node (graph, VQ_OP_CONV2D, 0);
  g_assert_cmpint (c1->p.conv.stride_h, ==, 2);
  g_assert_cmpint (c1->p.conv.pad_top, ==, 0);
  g_assert_cmpint (c1->p.conv.pad_bottom, ==, 1);
  g_assert_cmpint (c1->p.conv.pad_left, ==, 1);
  g_assert_cmpint (c1->p.conv.pad_right, ==, 1);
  g_assert_cmpint (c1->act, ==, VQ_ACT_RELU6);
  g_assert_cmpint (c1->p.conv.bias, >=, 0);
  const vq_node *c2 = find_node (graph, VQ_OP_CONV2D, 1);
  g_assert_cmpint (c2->p.conv.groups, ==, 4);
  g_assert_cmpint (c2->p.conv.out_channels, ==, 8);
  g_assert_cmpint (c2->act, ==, VQ_ACT_RELU);
  g_assert_cmpint (c2->p.conv.pad_top, ==, 1);
  const vq_node *p = find_node (graph, VQ_OP_MAX_POOL, 0);
  g_assert_cmpint (p->p.pool.pad_top, ==, 0);
  g_assert_cmpint (p->p.pool.pad_bottom, ==, 1);
  g_assert_true (isinf (p->p.pool.pad_value));

  compare_with_tfjs (json, graph, in_dims, TRUE);
  vq_graph_free (graph);
  g_free (json);
  g_free (conv1);
  g_free (conv2);
  g_free (pool);
  tfjs_builder_free (b);
}

/* _FusedConv2D (BiasAdd + LeakyRelu) with EXPLICIT padding and dilation,
 * a Pad folded into an AvgPool (padded zeros counted), nearest resize,
 * concat across layouts, Sigmoid that cannot fuse (two readers). */
static void
test_fused_explicit_avgpool_resize (fixture *f, gconstpointer data)
{
  tfjs_builder *b = tfjs_builder_new ();
  const int in_dims[4] = { 1, 8, 8, 2 };
  add_placeholder (b, "x", in_dims);
  add_random_f32 (b, "w", 4, (int[]) { 3, 3, 2, 6 }, 11);
  add_random_f32 (b, "bias", 1, (int[]) { 6 }, 12);
  tfjs_add_const_i32 (b, "pads", 2, (int[]) { 4, 2 }, (int32_t[]) { 0, 0, 1, 1, 1, 1, 0, 0 });
  tfjs_add_const_i32 (b, "size", 1, (int[]) { 1 }, (int32_t[]) { 8 });
  tfjs_add_const_i32 (b, "size2", 1, (int[]) { 2 }, (int32_t[]) { 8, 8 });
  tfjs_add_const_i32 (b, "axis", 0, NULL, (int32_t[]) { 3 });
  char *fused_ops[2] = { tfjs_b64 ("BiasAdd"), tfjs_b64 ("LeakyRelu") };
  char *conv = g_strdup_printf (
      "\"strides\": {\"list\": {\"i\": [\"1\", \"1\", \"1\", \"1\"]}}, "
      "\"dilations\": {\"list\": {\"i\": [\"1\", \"2\", \"2\", \"1\"]}}, "
      "\"padding\": {\"s\": \"%s\"}, \"explicit_paddings\": {\"list\": {\"i\": "
      "[\"0\", \"0\", \"2\", \"2\", \"1\", \"3\", \"0\", \"0\"]}}, "
      "\"fused_ops\": {\"list\": {\"s\": [\"%s\", \"%s\"]}}, \"num_args\": {\"i\": \"1\"}, "
      "\"leakyrelu_alpha\": {\"f\": 0.3}", f->b64_explicit, fused_ops[0], fused_ops[1]);
  char *pool = g_strdup_printf ("\"ksize\": {\"list\": {\"i\": [\"1\", \"3\", \"3\", \"1\"]}}, "
                                "\"strides\": {\"list\": {\"i\": [\"1\", \"2\", \"2\", \"1\"]}}, "
                                "\"padding\": {\"s\": \"%s\"}", f->b64_valid);
  tfjs_add_node (b, "conv", "_FusedConv2D", "\"x\", \"w\", \"bias\"", conv);
  tfjs_add_node (b, "sig", "Sigmoid", "\"conv\"", "");
  tfjs_add_node (b, "pad", "Pad", "\"sig\", \"pads\"", "");
  tfjs_add_node (b, "pool", "AvgPool", "\"pad\"", pool);
  tfjs_add_node (b, "up", "ResizeNearestNeighbor", "\"pool\", \"size2\"",
                 "\"half_pixel_centers\": {\"b\": true}");
  tfjs_add_node (b, "cat", "ConcatV2", "\"up\", \"sig\", \"conv\", \"axis\"",
                 "\"N\": {\"i\": \"3\"}");
  tfjs_add_node (b, "Identity", "Identity", "\"cat\"", "");
  const char *outputs[] = { "Identity:0", NULL };
  char *json = tfjs_builder_write (b, f->dir, "x", outputs);

  GError *error = NULL;
  vq_graph *graph = vq_tfjs_import_graph (json, &error);
  g_assert_no_error (error);
  const vq_node *c = find_node (graph, VQ_OP_CONV2D, 0);
  g_assert_cmpint (c->act, ==, VQ_ACT_LEAKY_RELU);
  g_assert_cmpfloat_with_epsilon (c->act_alpha, 0.3, 1e-6);
  g_assert_cmpint (c->p.conv.dilation_h, ==, 2);
  g_assert_cmpint (c->p.conv.pad_top, ==, 2);
  g_assert_cmpint (c->p.conv.pad_bottom, ==, 2);
  g_assert_cmpint (c->p.conv.pad_left, ==, 1);
  g_assert_cmpint (c->p.conv.pad_right, ==, 3);
  /* The conv output is read twice, so the Sigmoid stays standalone. */
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_ACTIVATION), ==, 1);
  const vq_node *p = find_node (graph, VQ_OP_AVG_POOL, 0);
  g_assert_true (p->p.pool.count_include_pad);
  g_assert_cmpint (p->p.pool.pad_left, ==, 1);
  g_assert_cmpint (find_node (graph, VQ_OP_RESIZE, 0)->p.resize.mode, ==, VQ_RESIZE_NEAREST);
  g_assert_cmpint (find_node (graph, VQ_OP_CONCAT, 0)->p.axis.axis, ==, 1);

  compare_with_tfjs (json, graph, in_dims, TRUE);
  vq_graph_free (graph);
  g_free (json);
  g_free (conv);
  g_free (pool);
  g_free (fused_ops[0]);
  g_free (fused_ops[1]);
  tfjs_builder_free (b);
}

/* Constant folding: the Reshape target and a per-channel scale are
 * computed from constants by Where, Cast, GatherV2, SparseToDense (with
 * zero-size inputs, as in NanoDet), Shape, StridedSlice, Pack, Sub and
 * Mul; the folded scale goes into the conv weights. NCHW conv. */
static void
test_constant_folding (fixture *f, gconstpointer data)
{
  tfjs_builder *b = tfjs_builder_new ();
  const int in_dims[4] = { 1, 3, 6, 6 };
  add_placeholder (b, "x", in_dims);
  add_random_f32 (b, "w", 4, (int[]) { 1, 1, 3, 4 }, 21);
  tfjs_add_const_i32 (b, "empty_idx", 2, (int[]) { 0, 1 }, NULL);
  tfjs_add_const_i32 (b, "dense_shape", 1, (int[]) { 1 }, (int32_t[]) { 3 });
  tfjs_add_const_i32 (b, "empty_vals", 1, (int[]) { 0 }, NULL);
  tfjs_add_const_i32 (b, "zero", 0, NULL, (int32_t[]) { 0 });
  tfjs_add_const_i32 (b, "base", 1, (int[]) { 3 }, (int32_t[]) { 1, 4, -1 });
  tfjs_add_const_i32 (b, "mask", 1, (int[]) { 4 }, (int32_t[]) { 0, 3, 0, 5 });
  tfjs_add_const_i32 (b, "gaxis", 0, NULL, (int32_t[]) { 0 });
  tfjs_add_const_i32 (b, "begin", 1, (int[]) { 1 }, (int32_t[]) { 1 });
  tfjs_add_const_i32 (b, "end", 1, (int[]) { 1 }, (int32_t[]) { 2 });
  tfjs_add_const_i32 (b, "step", 1, (int[]) { 1 }, (int32_t[]) { 1 });
  char *nchw = g_strdup_printf ("%s\"strides\": {\"list\": {\"i\": [\"1\", \"1\", \"1\", \"1\"]}}, "
                                "\"padding\": {\"s\": \"%s\"}, \"data_format\": {\"s\": \"%s\"}",
                                NO_DILATION, f->b64_valid, f->b64_nchw);
  tfjs_add_node (b, "conv", "Conv2D", "\"x\", \"w\"", nchw);
  /* shape = base + SparseToDense(empty) = [1, 4, -1]. */
  tfjs_add_node (b, "s2d", "SparseToDense", "\"empty_idx\", \"dense_shape\", \"empty_vals\", \"zero\"", "");
  tfjs_add_node (b, "shape", "AddV2", "\"base\", \"s2d\"", "");
  /* scale = Cast([C, C, gathered...] - 2) with C = Shape(conv)[1] = 4 and
   * gathered = mask[Where(mask)] = [3, 5]: [2, 2, 1, 3] per channel. */
  tfjs_add_const_i32 (b, "two", 0, NULL, (int32_t[]) { 2 });
  tfjs_add_node (b, "where", "Where", "\"mask\"", "");
  tfjs_add_node (b, "where_col", "Squeeze", "\"where\"", "");
  tfjs_add_node (b, "gathered", "GatherV2", "\"mask\", \"where_col\", \"gaxis\"", "");
  tfjs_add_node (b, "conv_shape", "Shape", "\"conv\"", "");
  tfjs_add_node (b, "channels", "StridedSlice", "\"conv_shape\", \"begin\", \"end\", \"step\"",
                 "\"shrink_axis_mask\": {\"i\": \"1\"}");
  tfjs_add_node (b, "packed", "Pack", "\"channels\", \"channels\"", "");
  tfjs_add_node (b, "joined", "ConcatV2", "\"packed\", \"gathered\", \"gaxis\"",
                 "\"N\": {\"i\": \"2\"}");
  tfjs_add_node (b, "scale_i", "Sub", "\"joined\", \"two\"", "");
  tfjs_add_node (b, "scale", "Cast", "\"scale_i\"", "\"DstT\": {\"type\": \"DT_FLOAT\"}");
  tfjs_add_node (b, "scale4", "Reshape", "\"scale\", \"cshape\"", "");
  tfjs_add_const_i32 (b, "cshape", 1, (int[]) { 3 }, (int32_t[]) { 4, 1, 1 });
  tfjs_add_node (b, "scaled", "Mul", "\"conv\", \"scale4\"", "");
  tfjs_add_node (b, "reshaped", "Reshape", "\"scaled\", \"shape\"", "");
  tfjs_add_node (b, "Identity", "Identity", "\"reshaped\"", "");
  const char *outputs[] = { "Identity:0", NULL };
  char *json = tfjs_builder_write (b, f->dir, "x", outputs);

  GError *error = NULL;
  vq_graph *graph = vq_tfjs_import_graph (json, &error);
  g_assert_no_error (error);
  /* Everything constant vanished: one conv (scale folded into it) and the
   * reshape to [1, 4, 36]. */
  g_assert_cmpuint (graph->n_nodes, ==, 2);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_RESHAPE), ==, 1);
  vq_shape out = vq_shape_make (3, (int32_t[]) { 1, 4, 36 });
  g_assert_true (vq_shape_equal (&graph->values[graph->outputs[0]].shape, &out));
  compare_with_tfjs (json, graph, in_dims, FALSE);
  vq_graph_free (graph);
  g_free (json);
  g_free (nchw);
  tfjs_builder_free (b);
}

/* x * sigmoid(x) after a conv becomes one conv with a fused SiLU. */
static void
test_silu (fixture *f, gconstpointer data)
{
  tfjs_builder *b = tfjs_builder_new ();
  const int in_dims[4] = { 1, 5, 5, 3 };
  add_placeholder (b, "x", in_dims);
  add_random_f32 (b, "w", 4, (int[]) { 3, 3, 3, 4 }, 31);
  add_random_f32 (b, "bias", 1, (int[]) { 4 }, 32);
  char *conv = g_strdup_printf ("%s\"strides\": {\"list\": {\"i\": [\"1\", \"1\", \"1\", \"1\"]}}, "
                                "\"padding\": {\"s\": \"%s\"}", NO_DILATION, f->b64_same);
  tfjs_add_node (b, "conv", "Conv2D", "\"x\", \"w\"", conv);
  tfjs_add_node (b, "biased", "BiasAdd", "\"conv\", \"bias\"", "");
  tfjs_add_node (b, "sig", "Sigmoid", "\"biased\"", "");
  tfjs_add_node (b, "swish", "Mul", "\"sig\", \"biased\"", "");
  const char *outputs[] = { "swish:0", NULL };
  char *json = tfjs_builder_write (b, f->dir, "x", outputs);
  GError *error = NULL;
  vq_graph *graph = vq_tfjs_import_graph (json, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_CONV2D), ==, 1);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_ACTIVATION), ==, 0);
  g_assert_cmpint (find_node (graph, VQ_OP_CONV2D, 0)->act, ==, VQ_ACT_SILU);
  /* input, conv output, transposed output: nothing left over. */
  g_assert_cmpuint (graph->n_values, ==, 3);
  compare_with_tfjs (json, graph, in_dims, TRUE);
  vq_graph_free (graph);
  g_free (json);
  g_free (conv);
  tfjs_builder_free (b);
}

static char *
import_error (const char *json, gint *code)
{
  GError *error = NULL;
  vq_graph *graph = vq_tfjs_import_graph (json, &error);
  g_assert_null (graph);
  g_assert_nonnull (error);
  g_assert_true (error->domain == VQ_ERROR);
  *code = error->code;
  char *message = g_strdup (error->message);
  g_test_message ("error: %s", message);
  g_error_free (error);
  return message;
}

static void
test_unsupported_op (fixture *f, gconstpointer data)
{
  tfjs_builder *b = tfjs_builder_new ();
  add_placeholder (b, "x", (int[]) { 1, 4, 4, 3 });
  tfjs_add_node (b, "bar/baz", "Erf", "\"x\"", "");
  tfjs_add_node (b, "Identity", "Identity", "\"bar/baz\"", "");
  const char *outputs[] = { "Identity:0", NULL };
  char *json = tfjs_builder_write (b, f->dir, "x", outputs);
  gint code;
  char *message = import_error (json, &code);
  g_assert_cmpint (code, ==, VQ_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (message, "unsupported op 'Erf' at node 'bar/baz'"));
  g_free (message);
  g_free (json);
  tfjs_builder_free (b);
}

/* A Pad that feeds something other than a conv or pool cannot be folded. */
static void
test_pad_not_foldable (fixture *f, gconstpointer data)
{
  tfjs_builder *b = tfjs_builder_new ();
  add_placeholder (b, "x", (int[]) { 1, 4, 4, 3 });
  tfjs_add_const_i32 (b, "pads", 2, (int[]) { 4, 2 }, (int32_t[]) { 0, 0, 1, 1, 1, 1, 0, 0 });
  tfjs_add_node (b, "pad", "Pad", "\"x\", \"pads\"", "");
  tfjs_add_node (b, "act", "Relu", "\"pad\"", "");
  const char *outputs[] = { "act:0", NULL };
  char *json = tfjs_builder_write (b, f->dir, "x", outputs);
  gint code;
  char *message = import_error (json, &code);
  g_assert_cmpint (code, ==, VQ_ERROR_UNSUPPORTED);
  g_assert_nonnull (strstr (message, "'act'"));
  g_assert_nonnull (strstr (message, "Pad"));
  g_free (message);
  g_free (json);
  tfjs_builder_free (b);
}

/* Every supported op, given no inputs, fails with an error that names
 * the node (a handler that returned FALSE without one made the importer
 * return neither a graph nor an error). */
static void
test_no_inputs (fixture *f, gconstpointer data)
{
  static const char *const ops[] = {
    "Identity", "StopGradient", "Snapshot", "Transpose", "Pad", "PadV2", "Add", "AddV2",
    "BiasAdd", "Sub", "Mul", "Relu", "Relu6", "LeakyRelu", "Sigmoid", "ConcatV2", "Concat",
    "Split", "SplitV", "ResizeBilinear", "ResizeNearestNeighbor", "Reshape", "Squeeze",
    "ExpandDims", "Conv2D", "DepthwiseConv2dNative", "_FusedConv2D",
    "FusedDepthwiseConv2dNative", "MaxPool", "AvgPool",
  };
  for (size_t i = 0; i < G_N_ELEMENTS (ops); i++) {
    tfjs_builder *b = tfjs_builder_new ();
    add_placeholder (b, "x", (int[]) { 1, 4, 4, 3 });
    tfjs_add_node (b, "lonely", ops[i], "", "");
    const char *outputs[] = { "lonely:0", NULL };
    char *json = tfjs_builder_write (b, f->dir, "x", outputs);
    g_test_message ("op %s", ops[i]);
    gint code;
    char *message = import_error (json, &code);
    g_assert_nonnull (strstr (message, "'lonely'"));
    g_free (message);
    g_free (json);
    tfjs_builder_free (b);
  }
}

/* Copies nanodet.json beside a damaged (or missing) nanodet.bin. */
static char *
damaged_nanodet (fixture *f, gssize keep_bytes)
{
  char *src_json = vq_test_cache_file ("nanodet.json");
  char *src_bin = vq_test_cache_file ("nanodet.bin");
  GBytes *json = vq_test_read_file (src_json);
  GBytes *bin = vq_test_read_file (src_bin);
  char *json_path = g_build_filename (f->dir, "model.json", NULL);
  /* The manifest names nanodet.bin; rename it to the fixture's file. */
  char *text = g_strndup (g_bytes_get_data (json, NULL), g_bytes_get_size (json));
  char *at = strstr (text, "\"nanodet.bin\"");
  g_assert_nonnull (at);
  memcpy (at, "\"model.bin\"  ", 13);
  g_assert_true (g_file_set_contents (json_path, text, -1, NULL));
  if (keep_bytes >= 0) {
    char *bin_path = g_build_filename (f->dir, "model.bin", NULL);
    g_assert_true (g_file_set_contents (bin_path, g_bytes_get_data (bin, NULL), keep_bytes, NULL));
    g_free (bin_path);
  }
  g_free (text);
  g_bytes_unref (json);
  g_bytes_unref (bin);
  g_free (src_json);
  g_free (src_bin);
  return json_path;
}

static void
test_truncated_bin (fixture *f, gconstpointer data)
{
  char *json = damaged_nanodet (f, 7574558 / 2);
  gint code;
  char *message = import_error (json, &code);
  g_assert_cmpint (code, ==, VQ_ERROR_FORMAT);
  g_assert_nonnull (strstr (message, "truncated"));
  g_free (message);
  g_free (json);
}

static void
test_missing_bin (fixture *f, gconstpointer data)
{
  char *json = damaged_nanodet (f, -1);
  gint code;
  char *message = import_error (json, &code);
  g_assert_cmpint (code, ==, VQ_ERROR_IO);
  g_assert_nonnull (strstr (message, "model.bin"));
  g_free (message);
  g_free (json);
}

static void
test_bad_json (fixture *f, gconstpointer data)
{
  const char *cases[] = {
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": [",
    "[1, 2, 3]",
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": [{\"op\": \"Const\"}]}}",
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": [{\"name\": \"a\", \"op\": "
    "\"Relu\", \"input\": [\"missing\"]}]}}",
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": [{\"name\": \"a\", \"op\": "
    "\"Relu\", \"input\": [\"b\"]}, {\"name\": \"b\", \"op\": \"Relu\", \"input\": [\"a\"]}, "
    "{\"name\": \"c\", \"op\": \"Relu\", \"input\": [\"a\"]}]}}",
    /* Members of the wrong JSON kind (json-glib's getters warn on these or
     * return NULL where a string was expected). */
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": [{\"name\": {}, \"op\": "
    "\"Relu\"}]}}",
    "{\"format\": 5, \"modelTopology\": {\"node\": [{\"name\": \"a\", \"op\": [], "
    "\"input\": [\"b\"]}]}}",
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": [{\"name\": \"c\", \"op\": "
    "\"Const\", \"attr\": {\"value\": {\"tensor\": {\"dtype\": {}, \"tensorShape\": "
    "{\"unknownRank\": []}}}}}, {\"name\": \"i\", \"op\": \"Identity\", \"input\": [\"c\"]}]}}",
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": []}, \"weightsManifest\": "
    "[{\"paths\": [\"model.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [1], "
    "\"dtype\": 5}]}]}",
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": []}, \"weightsManifest\": "
    "[{\"paths\": [\"model.bin\"], \"weights\": [{\"name\": [], \"shape\": [1], "
    "\"dtype\": \"float32\"}]}]}",
    "{\"format\": \"graph-model\", \"modelTopology\": {\"node\": []}, \"weightsManifest\": "
    "[{\"paths\": [\"model.bin\"], \"weights\": [{\"name\": \"w\", \"shape\": [1], "
    "\"dtype\": \"float32\", \"quantization\": {\"dtype\": 8}}]}]}",
  };
  char *path = g_build_filename (f->dir, "model.json", NULL);
  char *bin = g_build_filename (f->dir, "model.bin", NULL);
  g_assert_true (g_file_set_contents (bin, "\0\0\0\0", 4, NULL));
  for (size_t i = 0; i < G_N_ELEMENTS (cases); i++) {
    g_assert_true (g_file_set_contents (path, cases[i], -1, NULL));
    gint code;
    char *message = import_error (path, &code);
    g_assert_nonnull (strstr (message, "model.json"));
    g_free (message);
  }
  g_remove (path);
  g_remove (bin);
  g_free (bin);
  char *missing = g_build_filename (f->dir, "nope.json", NULL);
  gint code;
  char *message = import_error (missing, &code);
  g_assert_cmpint (code, ==, VQ_ERROR_IO);
  g_free (message);
  g_free (missing);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add (path, fixture, NULL, fixture_setup, fn, fixture_teardown)
  ADD ("/tfjs/small/same-relu6-depthwise", test_same_relu6_depthwise);
  ADD ("/tfjs/small/fused-explicit-avgpool-resize", test_fused_explicit_avgpool_resize);
  ADD ("/tfjs/small/constant-folding", test_constant_folding);
  ADD ("/tfjs/small/silu", test_silu);
  ADD ("/tfjs/small/unsupported-op", test_unsupported_op);
  ADD ("/tfjs/small/pad-not-foldable", test_pad_not_foldable);
  ADD ("/tfjs/small/no-inputs", test_no_inputs);
  ADD ("/tfjs/small/truncated-bin", test_truncated_bin);
  ADD ("/tfjs/small/missing-bin", test_missing_bin);
  ADD ("/tfjs/small/bad-json", test_bad_json);
  return g_test_run ();
}
