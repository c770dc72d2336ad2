/* The CPU engine's non-conv ops against naive implementations written
 * here: add, activation, concat, split, reshape, transpose, resize
 * (TensorFlow semantics), max and average pooling with padding. */
#include <math.h>
#include <string.h>

#include "cpu_test.h"

/* A graph of one node with the given input and output shapes. */
static vq_model *
one_node (const vq_node *node_template, uint32_t n_in, const vq_shape *in_shapes, uint32_t n_out,
          const vq_shape *out_shapes, uint32_t *first_input)
{
  vq_graph *graph = vq_graph_new ();
  vq_node node = *node_template;
  node.n_inputs = n_in;
  node.n_outputs = n_out;
  for (uint32_t i = 0; i < n_in; i++)
    node.inputs[i] = vq_graph_add_value (graph, "in", &in_shapes[i]);
  for (uint32_t i = 0; i < n_out; i++)
    node.outputs[i] = vq_graph_add_value (graph, "out", &out_shapes[i]);
  vq_graph_add_input (graph, node.inputs[0]);
  vq_graph_add_node (graph, &node);
  for (uint32_t i = 0; i < n_out; i++)
    vq_graph_add_output (graph, node.outputs[i]);
  *first_input = node.inputs[0];
  return cpu_test_model (graph);
}

/* Graphs take one input; a two-input op reads a split of it. */
static void
test_add (void)
{
  GRand *rand = g_rand_new_with_seed (10);
  for (int act = 0; act < VQ_ACT_COUNT; act++) {
    vq_graph *graph = vq_graph_new ();
    vq_shape whole = vq_shape_4d (1, 6, 33, 35), half = vq_shape_4d (1, 3, 33, 35);
    uint32_t in = vq_graph_add_value (graph, "in", &whole);
    uint32_t a = vq_graph_add_value (graph, "a", &half);
    uint32_t b = vq_graph_add_value (graph, "b", &half);
    uint32_t sum = vq_graph_add_value (graph, "sum", &half);
    vq_graph_add_input (graph, in);
    vq_node node;
    vq_node_init (&node, VQ_OP_SPLIT, "split");
    node.p.axis.axis = 1;
    node.n_inputs = 1;
    node.inputs[0] = in;
    node.n_outputs = 2;
    node.outputs[0] = a;
    node.outputs[1] = b;
    vq_graph_add_node (graph, &node);
    vq_node_init (&node, VQ_OP_ADD, "add");
    node.act = (vq_activation) act;
    node.act_alpha = 0.25f;
    node.n_inputs = 2;
    node.inputs[0] = a;
    node.inputs[1] = b;
    node.n_outputs = 1;
    node.outputs[0] = sum;
    vq_graph_add_node (graph, &node);
    vq_graph_add_output (graph, sum);
    vq_model *model = cpu_test_model (graph);

    int64_t n = vq_shape_numel (&half);
    float *data = cpu_test_random (rand, 2 * n, -4.0f, 4.0f);
    double *want = g_new (double, n);
    for (int64_t i = 0; i < n; i++)
      want[i] = cpu_test_activation ((vq_activation) act, 0.25, (double) data[i] + data[n + i]);
    float *got = cpu_test_run (model, 2, data, 0);
    cpu_test_assert_close (vq_activation_name ((vq_activation) act), got, want, NULL, n, 1e-6);
    g_free (got);
    g_free (want);
    g_free (data);
    cpu_test_model_free (model);
  }
  g_rand_free (rand);
}

static void
test_activation (void)
{
  GRand *rand = g_rand_new_with_seed (11);
  int32_t dims[2] = { 7, 100003 }; /* several work chunks */
  vq_shape shape = vq_shape_make (2, dims);
  int64_t n = vq_shape_numel (&shape);
  float *data = cpu_test_random (rand, n, -8.0f, 8.0f);
  double *want = g_new (double, n);
  for (int act = 0; act < VQ_ACT_COUNT; act++) {
    vq_node node;
    vq_node_init (&node, VQ_OP_ACTIVATION, "act");
    node.act = (vq_activation) act;
    node.act_alpha = 0.1f;
    uint32_t input;
    vq_model *model = one_node (&node, 1, &shape, 1, &shape, &input);
    for (int64_t i = 0; i < n; i++)
      want[i] = cpu_test_activation ((vq_activation) act, 0.1, data[i]);
    float *got = cpu_test_run (model, 2, data, 0);
    cpu_test_assert_close (vq_activation_name ((vq_activation) act), got, want, NULL, n, 1e-6);
    /* The same formula as the IR's scalar helper, bit for bit. */
    for (int64_t i = 0; i < n; i += 97)
      g_assert_true (got[i] == vq_activation_apply ((vq_activation) act, 0.1f, data[i]));
    g_free (got);
    cpu_test_model_free (model);
  }
  g_free (want);
  g_free (data);
  g_rand_free (rand);
}

/* Multi-index of flat position i in a shape (row-major). */
static void
unflatten (const vq_shape *shape, int64_t i, int64_t *index)
{
  for (int d = (int) shape->rank - 1; d >= 0; d--) {
    index[d] = i % shape->dims[d];
    i /= shape->dims[d];
  }
}

static int64_t
flatten (const vq_shape *shape, const int64_t *index)
{
  int64_t i = 0;
  for (uint32_t d = 0; d < shape->rank; d++)
    i = i * shape->dims[d] + index[d];
  return i;
}

/* Concat along every axis of rank-2..4 values, and split back: split is
 * checked element by element; concat(split(x)) must give x back. */
static void
test_concat_split (void)
{
  GRand *rand = g_rand_new_with_seed (12);
  for (uint32_t rank = 2; rank <= 4; rank++) {
    for (uint32_t axis = 0; axis < rank; axis++) {
      int32_t dims[4] = { 3, 4, 5, 6 };
      vq_shape whole = vq_shape_make (rank, dims);
      int32_t sizes[3] = { 1, whole.dims[axis] + 1, 2 };
      whole.dims[axis] = sizes[0] + sizes[1] + sizes[2];
      vq_shape parts[3];
      for (int p = 0; p < 3; p++) {
        parts[p] = whole;
        parts[p].dims[axis] = sizes[p];
      }

      vq_graph *graph = vq_graph_new ();
      uint32_t in = vq_graph_add_value (graph, "in", &whole);
      vq_graph_add_input (graph, in);
      vq_node split;
      vq_node_init (&split, VQ_OP_SPLIT, "split");
      split.p.axis.axis = (int32_t) axis;
      split.n_inputs = 1;
      split.inputs[0] = in;
      split.n_outputs = 3;
      for (int p = 0; p < 3; p++)
        split.outputs[p] = vq_graph_add_value (graph, "part", &parts[p]);
      vq_graph_add_node (graph, &split);
      vq_node concat;
      vq_node_init (&concat, VQ_OP_CONCAT, "concat");
      concat.p.axis.axis = (int32_t) axis;
      concat.n_inputs = 3;
      for (int p = 0; p < 3; p++)
        concat.inputs[p] = split.outputs[p];
      concat.n_outputs = 1;
      concat.outputs[0] = vq_graph_add_value (graph, "joined", &whole);
      vq_graph_add_node (graph, &concat);
      for (int p = 0; p < 3; p++)
        vq_graph_add_output (graph, split.outputs[p]);
      vq_graph_add_output (graph, concat.outputs[0]);
      vq_model *model = cpu_test_model (graph);

      int64_t n = vq_shape_numel (&whole);
      float *data = cpu_test_random (rand, n, -1.0f, 1.0f);
      int64_t start = 0;
      for (uint32_t p = 0; p < 3; p++) {
        float *got = cpu_test_run (model, 2, data, p);
        for (int64_t i = 0; i < vq_shape_numel (&parts[p]); i++) {
          int64_t index[4];
          unflatten (&parts[p], i, index);
          index[axis] += start;
          g_assert_cmpfloat (got[i], ==, data[flatten (&whole, index)]);
        }
        start += sizes[p];
        g_free (got);
      }
      float *joined = cpu_test_run (model, 2, data, 3);
      g_assert_cmpmem (joined, n * sizeof (float), data, n * sizeof (float));
      g_free (joined);
      g_free (data);
      cpu_test_model_free (model);
    }
  }
  g_rand_free (rand);
}

static void
test_transpose_reshape (void)
{
  GRand *rand = g_rand_new_with_seed (13);
  int32_t dims[4] = { 2, 3, 4, 5 };
  vq_shape in_shape = vq_shape_make (4, dims);
  int64_t n = vq_shape_numel (&in_shape);
  float *data = cpu_test_random (rand, n, -1.0f, 1.0f);
  int tested = 0;
  /* All 24 permutations of rank 4. */
  for (int a = 0; a < 4; a++)
    for (int b = 0; b < 4; b++)
      for (int c = 0; c < 4; c++)
        for (int d = 0; d < 4; d++) {
          if (a == b || a == c || a == d || b == c || b == d || c == d)
            continue;
          int32_t perm[4] = { a, b, c, d };
          vq_node node;
          vq_node_init (&node, VQ_OP_TRANSPOSE, "t");
          memcpy (node.p.transpose.perm, perm, sizeof perm);
          vq_shape out_shape = in_shape;
          for (int i = 0; i < 4; i++)
            out_shape.dims[i] = in_shape.dims[perm[i]];
          uint32_t input;
          vq_model *model = one_node (&node, 1, &in_shape, 1, &out_shape, &input);
          float *got = cpu_test_run (model, 1, data, 0);
          for (int64_t i = 0; i < n; i++) {
            int64_t out_index[4], in_index[4];
            unflatten (&out_shape, i, out_index);
            for (int k = 0; k < 4; k++)
              in_index[perm[k]] = out_index[k];
            g_assert_cmpfloat (got[i], ==, data[flatten (&in_shape, in_index)]);
          }
          g_free (got);
          cpu_test_model_free (model);
          tested++;
        }
  g_assert_cmpint (tested, ==, 24);

  /* Rank 3 and a reshape: the elements keep their row-major order. */
  int32_t dims3[3] = { 6, 4, 5 }, dims3t[3] = { 5, 6, 4 };
  vq_shape s3 = vq_shape_make (3, dims3), s3t = vq_shape_make (3, dims3t);
  vq_node node;
  vq_node_init (&node, VQ_OP_TRANSPOSE, "t3");
  node.p.transpose.perm[0] = 2;
  node.p.transpose.perm[1] = 0;
  node.p.transpose.perm[2] = 1;
  uint32_t input;
  vq_model *model = one_node (&node, 1, &s3, 1, &s3t, &input);
  float *got = cpu_test_run (model, 2, data, 0);
  for (int64_t z = 0; z < 5; z++)
    for (int64_t x = 0; x < 6; x++)
      for (int64_t y = 0; y < 4; y++)
        g_assert_cmpfloat (got[(z * 6 + x) * 4 + y], ==, data[(x * 4 + y) * 5 + z]);
  g_free (got);
  cpu_test_model_free (model);

  vq_node_init (&node, VQ_OP_RESHAPE, "r");
  model = one_node (&node, 1, &in_shape, 1, &s3t, &input);
  got = cpu_test_run (model, 2, data, 0);
  g_assert_cmpmem (got, 120 * sizeof (float), data, 120 * sizeof (float));
  g_free (got);
  cpu_test_model_free (model);
  g_free (data);
  g_rand_free (rand);
}

/* Resize, from TensorFlow's definition: the source coordinate of output
 * pixel i is (i + 0.5) * in / out - 0.5 with half-pixel centres, i * (in -
 * 1) / (out - 1) with aligned corners, i * in / out otherwise; bilinear
 * clamps it into [0, in - 1] and blends its two neighbours. Nearest uses
 * floor((i + 0.5) * in / out) (half-pixel; exact integer arithmetic here),
 * round(i * (in - 1) / (out - 1)) (aligned), or floor(i * in / out). */
static double
source_coordinate (int64_t i, int64_t in, int64_t out, const vq_resize_params *p)
{
  if (p->align_corners)
    return out > 1 ? (double) i * (in - 1) / (out - 1) : 0.0;
  if (p->half_pixel_centers)
    return ((double) i + 0.5) * in / out - 0.5;
  return (double) i * in / out;
}

static int64_t
nearest_source (int64_t i, int64_t in, int64_t out, const vq_resize_params *p)
{
  int64_t s;
  if (p->align_corners)
    s = out > 1 ? (int64_t) floor ((double) i * (in - 1) / (out - 1) + 0.5) : 0;
  else if (p->half_pixel_centers)
    s = (2 * i + 1) * in / (2 * out);
  else
    s = i * in / out;
  return MIN (s, in - 1);
}

static void
resize_reference (const vq_resize_params *p, const float *in, int64_t c, int64_t h, int64_t w,
                  int64_t oh, int64_t ow, double *want)
{
  for (int64_t ch = 0; ch < c; ch++)
    for (int64_t y = 0; y < oh; y++)
      for (int64_t x = 0; x < ow; x++) {
        const float *plane = in + ch * h * w;
        double v;
        if (p->mode == VQ_RESIZE_NEAREST) {
          v = plane[nearest_source (y, h, oh, p) * w + nearest_source (x, w, ow, p)];
        } else {
          double sy = CLAMP (source_coordinate (y, h, oh, p), 0.0, (double) (h - 1));
          double sx = CLAMP (source_coordinate (x, w, ow, p), 0.0, (double) (w - 1));
          int64_t y0 = (int64_t) floor (sy), x0 = (int64_t) floor (sx);
          int64_t y1 = MIN (y0 + 1, h - 1), x1 = MIN (x0 + 1, w - 1);
          double fy = sy - y0, fx = sx - x0;
          v = (1 - fy) * ((1 - fx) * plane[y0 * w + x0] + fx * plane[y0 * w + x1])
              + fy * ((1 - fx) * plane[y1 * w + x0] + fx * plane[y1 * w + x1]);
        }
        want[(ch * oh + y) * ow + x] = v;
      }
}

static void
test_resize (void)
{
  GRand *rand = g_rand_new_with_seed (14);
  const int sizes[][4] = { { 13, 13, 26, 26 }, { 26, 26, 52, 52 }, { 7, 5, 14, 10 },
                           { 10, 12, 5, 6 },   { 9, 7, 17, 23 },   { 8, 8, 8, 8 },
                           { 1, 5, 3, 9 },     { 6, 6, 9, 9 } };
  for (guint s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int mode = 0; mode < VQ_RESIZE_MODE_COUNT; mode++)
      for (int variant = 0; variant < 3; variant++) {
        int64_t c = 3, h = sizes[s][0], w = sizes[s][1], oh = sizes[s][2], ow = sizes[s][3];
        vq_node node;
        vq_node_init (&node, VQ_OP_RESIZE, "resize");
        node.p.resize.mode = (vq_resize_mode) mode;
        node.p.resize.half_pixel_centers = variant == 0;
        node.p.resize.align_corners = variant == 1;
        vq_shape in_shape = vq_shape_4d (1, (int32_t) c, (int32_t) h, (int32_t) w);
        vq_shape out_shape = vq_shape_4d (1, (int32_t) c, (int32_t) oh, (int32_t) ow);
        uint32_t input;
        vq_model *model = one_node (&node, 1, &in_shape, 1, &out_shape, &input);
        float *data = cpu_test_random (rand, c * h * w, -1.0f, 1.0f);
        double *want = g_new (double, c * oh * ow);
        resize_reference (&node.p.resize, data, c, h, w, oh, ow, want);
        float *got = cpu_test_run (model, 2, data, 0);
        char *what = g_strdup_printf ("resize %s %ldx%ld -> %ldx%ld %s",
                                      mode ? "nearest" : "bilinear", (long) h, (long) w,
                                      (long) oh, (long) ow,
                                      variant == 0 ? "half_pixel" : variant == 1 ? "align" : "legacy");
        cpu_test_assert_close (what, got, want, NULL, c * oh * ow, 1e-5);
        /* Same size with half-pixel centres is the identity, exactly. */
        if (h == oh && w == ow && variant == 0)
          g_assert_cmpmem (got, c * h * w * sizeof (float), data, c * h * w * sizeof (float));
        g_free (what);
        g_free (got);
        g_free (want);
        g_free (data);
        cpu_test_model_free (model);
      }
  g_rand_free (rand);
}

/* A linear ramp stays a ramp under bilinear align_corners upsampling. */
static void
test_resize_ramp (void)
{
  vq_node node;
  vq_node_init (&node, VQ_OP_RESIZE, "resize");
  node.p.resize.align_corners = TRUE;
  vq_shape in_shape = vq_shape_4d (1, 1, 5, 5), out_shape = vq_shape_4d (1, 1, 9, 9);
  uint32_t input;
  vq_model *model = one_node (&node, 1, &in_shape, 1, &out_shape, &input);
  float data[25];
  for (int y = 0; y < 5; y++)
    for (int x = 0; x < 5; x++)
      data[y * 5 + x] = (float) (2 * x + 4 * y);
  float *got = cpu_test_run (model, 1, data, 0);
  for (int y = 0; y < 9; y++)
    for (int x = 0; x < 9; x++)
      g_assert_cmpfloat_with_epsilon (got[y * 9 + x], (float) (x + 2 * y), 1e-5);
  g_free (got);
  cpu_test_model_free (model);
}

typedef struct {
  int k, s, pt, pl, pb, pr;
  gboolean include_pad;
  float pad_value;
} pool_case;

static void
test_pool (void)
{
  GRand *rand = g_rand_new_with_seed (15);
  const pool_case cases[] = {
    { 2, 2, 0, 0, 0, 0, FALSE, -INFINITY }, { 3, 2, 1, 1, 1, 1, FALSE, -INFINITY },
    { 3, 1, 1, 1, 1, 1, TRUE, -INFINITY },  { 3, 2, 0, 0, 1, 1, FALSE, 0.0f },
    { 5, 1, 2, 2, 2, 2, FALSE, 0.5f },      { 2, 1, 1, 0, 0, 1, TRUE, 0.0f },
    { 3, 3, 2, 0, 2, 1, TRUE, 0.0f },
  };
  for (int op = VQ_OP_MAX_POOL; op <= VQ_OP_AVG_POOL; op++)
    for (guint i = 0; i < G_N_ELEMENTS (cases); i++) {
      const pool_case *pc = &cases[i];
      int c = 4, h = 11, w = 12;
      int oh = (h + pc->pt + pc->pb - pc->k) / pc->s + 1;
      int ow = (w + pc->pl + pc->pr - pc->k) / pc->s + 1;
      vq_node node;
      vq_node_init (&node, (vq_op) op, "pool");
      vq_pool_params *p = &node.p.pool;
      p->kernel_h = p->kernel_w = pc->k;
      p->stride_h = p->stride_w = pc->s;
      p->pad_top = pc->pt;
      p->pad_left = pc->pl;
      p->pad_bottom = pc->pb;
      p->pad_right = pc->pr;
      p->count_include_pad = pc->include_pad;
      p->pad_value = op == VQ_OP_MAX_POOL ? pc->pad_value : 0.0f;
      vq_shape in_shape = vq_shape_4d (1, c, h, w), out_shape = vq_shape_4d (1, c, oh, ow);
      uint32_t input;
      vq_model *model = one_node (&node, 1, &in_shape, 1, &out_shape, &input);
      float *data = cpu_test_random (rand, c * h * w, -1.0f, 1.0f);
      double *want = g_new (double, c * oh * ow);
      for (int ch = 0; ch < c; ch++)
        for (int y = 0; y < oh; y++)
          for (int x = 0; x < ow; x++) {
            double best = -INFINITY, sum = 0.0;
            int valid = 0, cells = 0;
            for (int ky = 0; ky < pc->k; ky++)
              for (int kx = 0; kx < pc->k; kx++) {
                int iy = y * pc->s - pc->pt + ky, ix = x * pc->s - pc->pl + kx;
                cells++;
                if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                  best = fmax (best, p->pad_value);
                  continue;
                }
                double v = data[(ch * h + iy) * w + ix];
                best = fmax (best, v);
                sum += v;
                valid++;
              }
            double avg = sum / (pc->include_pad ? cells : valid);
            want[(ch * oh + y) * ow + x] = op == VQ_OP_MAX_POOL ? best : avg;
          }
      float *got = cpu_test_run (model, 2, data, 0);
      cpu_test_assert_close (op == VQ_OP_MAX_POOL ? "max pool" : "avg pool", got, want, NULL,
                             c * oh * ow, 1e-6);
      g_free (got);
      g_free (want);
      g_free (data);
      cpu_test_model_free (model);
    }
  g_rand_free (rand);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/cpu/ops/add", test_add);
  g_test_add_func ("/cpu/ops/activation", test_activation);
  g_test_add_func ("/cpu/ops/concat-split", test_concat_split);
  g_test_add_func ("/cpu/ops/transpose-reshape", test_transpose_reshape);
  g_test_add_func ("/cpu/ops/resize", test_resize);
  g_test_add_func ("/cpu/ops/resize-ramp", test_resize_ramp);
  g_test_add_func ("/cpu/ops/pool", test_pool);
  return g_test_run ();
}
