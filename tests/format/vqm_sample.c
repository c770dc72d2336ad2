#include "vqm_sample.h"

#include <string.h>

#include "common/half.h"
#include "format/crc32.h"
#include "format/vqm_private.h"
#include "vqcore/vqm.h"

/* Deterministic pseudo-random payloads (a fixed-seed GRand). */
static uint32_t
add_float_blob (vq_graph *graph, GRand *rand, const char *name, vq_dtype dtype,
                vq_shape shape)
{
  int64_t n = vq_shape_numel (&shape);
  if (dtype == VQ_DTYPE_F16) {
    uint16_t *data = g_new (uint16_t, n);
    for (int64_t i = 0; i < n; i++)
      data[i] = vq__float_to_half ((float) g_rand_double_range (rand, -1.0, 1.0));
    return vq_graph_add_blob_owned (graph, name, dtype, &shape, data);
  }
  float *data = g_new (float, n);
  for (int64_t i = 0; i < n; i++)
    data[i] = (float) g_rand_double_range (rand, -1.0, 1.0);
  return vq_graph_add_blob_owned (graph, name, dtype, &shape, data);
}

static uint32_t
add_index_blob (vq_graph *graph, GRand *rand, const char *name, vq_dtype dtype, int32_t rows,
                int32_t cols, int32_t k)
{
  int32_t dims[2] = { rows, cols };
  vq_shape shape = vq_shape_make (2, dims);
  int64_t n = (int64_t) rows * cols;
  uint8_t *data = g_malloc0 (vq_dtype_bytes (dtype, n));
  for (int64_t i = 0; i < n; i++) {
    uint8_t code = (uint8_t) g_rand_int_range (rand, 0, k);
    if (dtype == VQ_DTYPE_U4)
      data[i / 2] |= (uint8_t) ((i & 1) ? code << 4 : code);
    else
      data[i] = code;
  }
  return vq_graph_add_blob_owned (graph, name, dtype, &shape, data);
}

static uint32_t
value (vq_graph *graph, const char *name, uint32_t rank, int32_t d0, int32_t d1, int32_t d2,
       int32_t d3)
{
  int32_t dims[4] = { d0, d1, d2, d3 };
  vq_shape shape = vq_shape_make (rank, dims);
  return vq_graph_add_value (graph, name, &shape);
}

static vq_node *
node (vq_graph *graph, vq_op op, const char *name, uint32_t in0, uint32_t in1, uint32_t out)
{
  vq_node n;
  vq_node_init (&n, op, name);
  n.n_inputs = in1 == UINT32_MAX ? 1 : 2;
  n.inputs[0] = in0;
  n.inputs[1] = in1;
  n.n_outputs = 1;
  n.outputs[0] = out;
  return vq_graph_add_node (graph, &n);
}

vq_model *
vq_test_sample_model (void)
{
  GRand *rand = g_rand_new_with_seed (1234);
  vq_graph *g = vq_graph_new ();
  const uint32_t none = UINT32_MAX;
  int32_t c8 = 8;

  /* Blobs 0..3: dense F32 [8,3,3,3] + bias F32, dense F16 [8,4,1,1] + bias F16. */
  uint32_t w0 = add_float_blob (g, rand, "conv0.weight", VQ_DTYPE_F32, vq_shape_4d (8, 3, 3, 3));
  uint32_t b0 = add_float_blob (g, rand, "conv0.bias", VQ_DTYPE_F32, vq_shape_make (1, &c8));
  uint32_t w1 = add_float_blob (g, rand, "conv1.weight", VQ_DTYPE_F16, vq_shape_4d (8, 4, 1, 1));
  uint32_t b1 = add_float_blob (g, rand, "conv1.bias", VQ_DTYPE_F16, vq_shape_make (1, &c8));
  /* Blobs 4..10: VQ parts. */
  int32_t cb_a_dims[2] = { 20, 4 }, cb_b_dims[2] = { 16, 3 };
  uint32_t cb_a = add_float_blob (g, rand, "codebook.a", VQ_DTYPE_F32, vq_shape_make (2, cb_a_dims));
  uint32_t idx2 = add_index_blob (g, rand, "conv2.indices", VQ_DTYPE_U8, 8, 18, 20);
  uint32_t sc2 = add_float_blob (g, rand, "conv2.scales", VQ_DTYPE_F32, vq_shape_make (1, &c8));
  uint32_t cb_b = add_float_blob (g, rand, "codebook.b", VQ_DTYPE_F16, vq_shape_make (2, cb_b_dims));
  uint32_t idx3 = add_index_blob (g, rand, "conv3.indices", VQ_DTYPE_U4, 8, 3, 16);
  uint32_t idx4 = add_index_blob (g, rand, "conv4.indices", VQ_DTYPE_U8, 8, 2, 20);
  uint32_t sc4 = add_float_blob (g, rand, "conv4.scales", VQ_DTYPE_F16, vq_shape_make (1, &c8));
  uint32_t w16 = add_float_blob (g, rand, "head1.weight", VQ_DTYPE_F32, vq_shape_4d (11, 8, 1, 1));
  g_assert_cmpuint (cb_a, ==, SAMPLE_BLOB_CODEBOOK_U8);
  g_assert_cmpuint (idx2, ==, SAMPLE_BLOB_INDICES_U8);
  g_assert_cmpuint (idx3, ==, SAMPLE_BLOB_INDICES_U4);

  uint32_t v0 = value (g, "input", 4, 1, 3, 16, 16);
  vq_graph_add_input (g, v0);
  uint32_t v1 = value (g, "c0", 4, 1, 8, 8, 8);
  uint32_t v2 = value (g, "c1", 4, 1, 8, 8, 8);
  uint32_t v3 = value (g, "c2", 4, 1, 8, 8, 8);
  uint32_t v4 = value (g, "c3", 4, 1, 8, 8, 8);
  uint32_t v5 = value (g, "c4", 4, 1, 8, 8, 8);
  uint32_t v6 = value (g, "sum", 4, 1, 8, 8, 8);
  uint32_t v7 = value (g, "maxpool", 4, 1, 8, 4, 4);
  uint32_t v8 = value (g, "avgpool", 4, 1, 8, 4, 4);
  uint32_t v9 = value (g, "up", 4, 1, 8, 8, 8);
  uint32_t v10 = value (g, "cat", 4, 1, 16, 8, 8);
  uint32_t v11 = value (g, "hswish", 4, 1, 16, 8, 8);
  uint32_t v12 = value (g, "score0.nchw", 4, 1, 3, 8, 8);
  uint32_t v13 = value (g, "box0.nchw", 4, 1, 8, 8, 8);
  uint32_t v14 = value (g, "rest0", 4, 1, 5, 8, 8);
  uint32_t v15 = value (g, "score0.flat", 3, 1, 3, 64, 0);
  uint32_t v16 = value (g, "score0", 3, 1, 64, 3, 0);
  uint32_t v17 = value (g, "box0.flat", 3, 1, 8, 64, 0);
  uint32_t v18 = value (g, "box0", 3, 1, 64, 8, 0);
  uint32_t v19 = value (g, "head1", 4, 1, 11, 4, 4);
  uint32_t v20 = value (g, "score1.nchw", 4, 1, 3, 4, 4);
  uint32_t v21 = value (g, "box1.nchw", 4, 1, 8, 4, 4);
  uint32_t v22 = value (g, "score1.flat", 3, 1, 3, 16, 0);
  uint32_t v23 = value (g, "score1", 3, 1, 16, 3, 0);
  uint32_t v24 = value (g, "box1.flat", 3, 1, 8, 16, 0);
  uint32_t v25 = value (g, "box1", 3, 1, 16, 8, 0);

  vq_node *n = node (g, VQ_OP_CONV2D, "conv0", v0, none, v1);
  n->p.conv.kernel_h = n->p.conv.kernel_w = 3;
  n->p.conv.stride_h = n->p.conv.stride_w = 2;
  n->p.conv.pad_top = n->p.conv.pad_left = 1;
  n->p.conv.pad_bottom = 0;
  n->p.conv.pad_right = 0;
  n->p.conv.out_channels = 8;
  n->p.conv.weights.dense = (int32_t) w0;
  n->p.conv.bias = (int32_t) b0;
  n->act = VQ_ACT_LEAKY_RELU;
  n->act_alpha = 0.1f;

  n = node (g, VQ_OP_CONV2D, "conv1", v1, none, v2);
  n->p.conv.groups = 2;
  n->p.conv.out_channels = 8;
  n->p.conv.weights.dense = (int32_t) w1;
  n->p.conv.bias = (int32_t) b1;
  n->act = VQ_ACT_RELU;

  n = node (g, VQ_OP_CONV2D, "conv2.vq_u8", v2, none, v3);
  n->p.conv.kernel_h = n->p.conv.kernel_w = 3;
  n->p.conv.dilation_h = n->p.conv.dilation_w = 2;
  n->p.conv.pad_top = n->p.conv.pad_left = n->p.conv.pad_bottom = n->p.conv.pad_right = 2;
  n->p.conv.out_channels = 8;
  n->p.conv.weights.codebook = (int32_t) cb_a;
  n->p.conv.weights.indices = (int32_t) idx2;
  n->p.conv.weights.scales = (int32_t) sc2;
  n->act = VQ_ACT_SILU;

  n = node (g, VQ_OP_CONV2D, "conv3.vq_u4", v3, none, v4);
  n->p.conv.out_channels = 8;
  n->p.conv.weights.codebook = (int32_t) cb_b;
  n->p.conv.weights.indices = (int32_t) idx3;
  n->act = VQ_ACT_SIGMOID;

  n = node (g, VQ_OP_CONV2D, "conv4.vq_shared", v3, none, v5);
  n->p.conv.out_channels = 8;
  n->p.conv.weights.codebook = (int32_t) cb_a;
  n->p.conv.weights.indices = (int32_t) idx4;
  n->p.conv.weights.scales = (int32_t) sc4;

  n = node (g, VQ_OP_ADD, "add", v4, v5, v6);
  n->act = VQ_ACT_RELU6;

  n = node (g, VQ_OP_MAX_POOL, "maxpool", v6, none, v7);
  n->p.pool.kernel_h = n->p.pool.kernel_w = 2;
  n->p.pool.stride_h = n->p.pool.stride_w = 2;

  n = node (g, VQ_OP_AVG_POOL, "avgpool", v7, none, v8);
  n->p.pool.kernel_h = n->p.pool.kernel_w = 3;
  n->p.pool.pad_top = n->p.pool.pad_left = n->p.pool.pad_bottom = n->p.pool.pad_right = 1;
  n->p.pool.count_include_pad = true;

  n = node (g, VQ_OP_RESIZE, "upsample", v8, none, v9);
  n->p.resize.mode = VQ_RESIZE_BILINEAR;
  n->p.resize.half_pixel_centers = true;

  n = node (g, VQ_OP_CONCAT, "concat", v9, v6, v10);
  n->p.axis.axis = 1;

  n = node (g, VQ_OP_ACTIVATION, "hswish", v10, none, v11);
  n->act = VQ_ACT_HARD_SWISH;

  n = node (g, VQ_OP_SPLIT, "split0", v11, none, v12);
  n->p.axis.axis = 1;
  n->n_outputs = 3;
  n->outputs[1] = v13;
  n->outputs[2] = v14;

  node (g, VQ_OP_RESHAPE, "score0.reshape", v12, none, v15);
  n = node (g, VQ_OP_TRANSPOSE, "score0.transpose", v15, none, v16);
  n->p.transpose.perm[1] = 2;
  n->p.transpose.perm[2] = 1;
  node (g, VQ_OP_RESHAPE, "box0.reshape", v13, none, v17);
  n = node (g, VQ_OP_TRANSPOSE, "box0.transpose", v17, none, v18);
  n->p.transpose.perm[1] = 2;
  n->p.transpose.perm[2] = 1;

  n = node (g, VQ_OP_CONV2D, "head1", v7, none, v19);
  n->p.conv.out_channels = 11;
  n->p.conv.weights.dense = (int32_t) w16;
  n = node (g, VQ_OP_SPLIT, "split1", v19, none, v20);
  n->p.axis.axis = 1;
  n->n_outputs = 2;
  n->outputs[1] = v21;
  node (g, VQ_OP_RESHAPE, "score1.reshape", v20, none, v22);
  n = node (g, VQ_OP_TRANSPOSE, "score1.transpose", v22, none, v23);
  n->p.transpose.perm[1] = 2;
  n->p.transpose.perm[2] = 1;
  node (g, VQ_OP_RESHAPE, "box1.reshape", v21, none, v24);
  n = node (g, VQ_OP_TRANSPOSE, "box1.transpose", v24, none, v25);
  n->p.transpose.perm[1] = 2;
  n->p.transpose.perm[2] = 1;

  vq_graph_add_output (g, v16);
  vq_graph_add_output (g, v18);
  vq_graph_add_output (g, v23);
  vq_graph_add_output (g, v25);

  vq_model *model = g_new0 (vq_model, 1);
  model->name = g_strdup ("sample-16");
  model->description = g_strdup ("format test model: every op, dense and VQ weights — ünïcode");
  model->graph = g;
  model->input = (vq_input_spec) { .width = 16, .height = 16, .channels = 3 };
  model->preprocess = (vq_preprocess) { .color_order = VQ_COLOR_BGR,
                                        .mean = { 103.53f, 116.28f, 123.675f },
                                        .std = { 57.375f, 57.12f, 58.395f },
                                        .fit = VQ_RESIZE_STRETCH };
  vq_decoder *dec = &model->decoder;
  dec->kind = VQ_DECODER_NANODET_GFL;
  dec->num_classes = 3;
  dec->reg_max = 1;
  dec->n_levels = 2;
  dec->strides[0] = 2;
  dec->strides[1] = 4;
  dec->score_outputs[0] = 0;
  dec->box_outputs[0] = 1;
  dec->score_outputs[1] = 2;
  dec->box_outputs[1] = 3;
  dec->score_threshold = 0.35f;
  dec->nms_iou = 0.6f;
  dec->max_detections = 50;
  const char *labels[] = { "cat", "dog", "traffic light", NULL };
  model->labels = g_strdupv ((char **) labels);
  g_rand_free (rand);
  return model;
}

static void
assert_shapes_equal (const vq_shape *a, const vq_shape *b)
{
  g_assert_cmpuint (a->rank, ==, b->rank);
  for (uint32_t i = 0; i < a->rank; i++)
    g_assert_cmpint (a->dims[i], ==, b->dims[i]);
}

static void
assert_nodes_equal (const vq_node *a, const vq_node *b)
{
  g_assert_cmpint (a->op, ==, b->op);
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpint (a->act, ==, b->act);
  g_assert_cmpfloat (a->act_alpha, ==, b->act_alpha);
  g_assert_cmpmem (a->inputs, a->n_inputs * 4, b->inputs, b->n_inputs * 4);
  g_assert_cmpmem (a->outputs, a->n_outputs * 4, b->outputs, b->n_outputs * 4);
  const vq_conv_params *ca = &a->p.conv, *cb = &b->p.conv;
  const vq_pool_params *pa = &a->p.pool, *pb = &b->p.pool;
  switch (a->op) {
  case VQ_OP_CONV2D: {
    const int32_t fa[] = { ca->kernel_h, ca->kernel_w, ca->stride_h, ca->stride_w, ca->dilation_h,
      ca->dilation_w, ca->pad_top, ca->pad_left, ca->pad_bottom, ca->pad_right, ca->groups,
      ca->out_channels, ca->weights.dense, ca->weights.codebook, ca->weights.indices,
      ca->weights.scales, ca->bias };
    const int32_t fb[] = { cb->kernel_h, cb->kernel_w, cb->stride_h, cb->stride_w, cb->dilation_h,
      cb->dilation_w, cb->pad_top, cb->pad_left, cb->pad_bottom, cb->pad_right, cb->groups,
      cb->out_channels, cb->weights.dense, cb->weights.codebook, cb->weights.indices,
      cb->weights.scales, cb->bias };
    g_assert_cmpmem (fa, sizeof fa, fb, sizeof fb);
    break;
  }
  case VQ_OP_MAX_POOL:
  case VQ_OP_AVG_POOL: {
    const int32_t fa[] = { pa->kernel_h, pa->kernel_w, pa->stride_h, pa->stride_w, pa->pad_top,
      pa->pad_left, pa->pad_bottom, pa->pad_right };
    const int32_t fb[] = { pb->kernel_h, pb->kernel_w, pb->stride_h, pb->stride_w, pb->pad_top,
      pb->pad_left, pb->pad_bottom, pb->pad_right };
    g_assert_cmpmem (fa, sizeof fa, fb, sizeof fb);
    g_assert_cmpmem (&pa->pad_value, 4, &pb->pad_value, 4); /* bitwise: -inf */
    g_assert_cmpint (pa->count_include_pad, ==, pb->count_include_pad);
    break;
  }
  case VQ_OP_RESIZE:
    g_assert_cmpint (a->p.resize.mode, ==, b->p.resize.mode);
    g_assert_cmpint (a->p.resize.align_corners, ==, b->p.resize.align_corners);
    g_assert_cmpint (a->p.resize.half_pixel_centers, ==, b->p.resize.half_pixel_centers);
    break;
  case VQ_OP_CONCAT:
  case VQ_OP_SPLIT:
    g_assert_cmpint (a->p.axis.axis, ==, b->p.axis.axis);
    break;
  case VQ_OP_TRANSPOSE:
    g_assert_cmpmem (a->p.transpose.perm, 16, b->p.transpose.perm, 16);
    break;
  default:
    break;
  }
}

void
vq_test_assert_models_equal (const vq_model *a, const vq_model *b)
{
  g_assert_cmpstr (a->name, ==, b->name);
  g_assert_cmpstr (a->description, ==, b->description);
  g_assert_cmpmem (&a->input, sizeof a->input, &b->input, sizeof b->input);
  g_assert_cmpint (a->preprocess.color_order, ==, b->preprocess.color_order);
  g_assert_cmpint (a->preprocess.fit, ==, b->preprocess.fit);
  g_assert_cmpmem (a->preprocess.mean, 12, b->preprocess.mean, 12);
  g_assert_cmpmem (a->preprocess.std, 12, b->preprocess.std, 12);
  const vq_decoder *da = &a->decoder, *db = &b->decoder;
  g_assert_cmpint (da->kind, ==, db->kind);
  g_assert_cmpint (da->num_classes, ==, db->num_classes);
  g_assert_cmpint (da->reg_max, ==, db->reg_max);
  g_assert_cmpuint (da->n_levels, ==, db->n_levels);
  g_assert_cmpmem (da->strides, da->n_levels * 4, db->strides, db->n_levels * 4);
  g_assert_cmpmem (da->score_outputs, da->n_levels * 4, db->score_outputs, db->n_levels * 4);
  g_assert_cmpmem (da->box_outputs, da->n_levels * 4, db->box_outputs, db->n_levels * 4);
  g_assert_cmpfloat (da->score_threshold, ==, db->score_threshold);
  g_assert_cmpfloat (da->nms_iou, ==, db->nms_iou);
  g_assert_cmpint (da->max_detections, ==, db->max_detections);
  g_assert_cmpuint (g_strv_length (a->labels), ==, g_strv_length (b->labels));
  for (guint i = 0; a->labels[i] != NULL; i++)
    g_assert_cmpstr (a->labels[i], ==, b->labels[i]);

  const vq_graph *ga = a->graph, *gb = b->graph;
  g_assert_cmpuint (ga->n_blobs, ==, gb->n_blobs);
  for (uint32_t i = 0; i < ga->n_blobs; i++) {
    g_assert_cmpstr (ga->blobs[i].name, ==, gb->blobs[i].name);
    g_assert_cmpint (ga->blobs[i].dtype, ==, gb->blobs[i].dtype);
    assert_shapes_equal (&ga->blobs[i].shape, &gb->blobs[i].shape);
    g_assert_cmpmem (ga->blobs[i].data, ga->blobs[i].nbytes, gb->blobs[i].data,
                     gb->blobs[i].nbytes);
  }
  g_assert_cmpuint (ga->n_values, ==, gb->n_values);
  for (uint32_t i = 0; i < ga->n_values; i++) {
    g_assert_cmpstr (ga->values[i].name, ==, gb->values[i].name);
    assert_shapes_equal (&ga->values[i].shape, &gb->values[i].shape);
  }
  g_assert_cmpmem (ga->inputs, ga->n_inputs * 4, gb->inputs, gb->n_inputs * 4);
  g_assert_cmpmem (ga->outputs, ga->n_outputs * 4, gb->outputs, gb->n_outputs * 4);
  g_assert_cmpuint (ga->n_nodes, ==, gb->n_nodes);
  for (uint32_t i = 0; i < ga->n_nodes; i++)
    assert_nodes_equal (&ga->nodes[i], &gb->nodes[i]);
}

GBytes *
vq_test_serialize (const vq_model *model)
{
  gsize size = 0;
  guint8 *bytes = vq__vqm_serialize (model, &size);
  return g_bytes_new_take (bytes, size);
}

static uint32_t
le32 (const guint8 *p)
{
  return (uint32_t) p[0] | (uint32_t) p[1] << 8 | (uint32_t) p[2] << 16 | (uint32_t) p[3] << 24;
}

static void
put32 (guint8 *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8) (v >> (8 * i));
}

gsize
vq_test_section_offset (const guint8 *file, gsize size, uint32_t kind, gsize *section_size)
{
  uint32_t n = le32 (file + VQM_HEADER_N_SECTIONS);
  for (uint32_t i = 0; i < n; i++) {
    const guint8 *entry = file + VQM_HEADER_SIZE + i * VQM_SECTION_ENTRY_SIZE;
    if (le32 (entry) == kind) {
      g_assert_cmpuint (le32 (entry + 8), <=, size);
      if (section_size != NULL)
        *section_size = le32 (entry + 16);
      return le32 (entry + 8);
    }
  }
  g_error ("section 0x%08x not found", kind);
  return 0;
}

void
vq_test_reseal (guint8 *file, gsize size)
{
  /* Hostile tests set absurd counts: touch only what lies in the file. */
  uint64_t n = le32 (file + VQM_HEADER_N_SECTIONS);
  uint64_t fit = (size - VQM_HEADER_SIZE) / VQM_SECTION_ENTRY_SIZE;
  for (uint64_t i = 0; i < MIN (n, fit); i++) {
    guint8 *entry = file + VQM_HEADER_SIZE + i * VQM_SECTION_ENTRY_SIZE;
    uint64_t offset = le32 (entry + 8), length = le32 (entry + 16);
    if (offset <= size && length <= size - offset)
      put32 (entry + 24, vq__crc32 (0, file + offset, length));
  }
  if (n <= fit)
    put32 (file + VQM_HEADER_TABLE_CRC,
           vq__crc32 (0, file + VQM_HEADER_SIZE, n * VQM_SECTION_ENTRY_SIZE));
  put32 (file + VQM_HEADER_CRC, vq__crc32 (0, file, VQM_HEADER_CRC));
}

static void
put64 (guint8 *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (guint8) (v >> (8 * i));
}

GBytes *
vq_test_relayout (GBytes *file, uint32_t replace_kind, GBytes *replacement, uint32_t extra_kind,
                  uint32_t extra_flags, GBytes *extra)
{
  gsize size = 0;
  const guint8 *in = g_bytes_get_data (file, &size);
  uint32_t n = le32 (in + VQM_HEADER_N_SECTIONS);
  uint32_t total = n + (extra != NULL ? 1 : 0);
  gsize table_end = VQM_HEADER_SIZE + (gsize) total * VQM_SECTION_ENTRY_SIZE;
  GByteArray *out = g_byte_array_sized_new ((guint) size + 256);
  g_byte_array_set_size (out, (guint) table_end);
  memset (out->data, 0, out->len);
  memcpy (out->data, in, VQM_HEADER_SIZE);
  for (uint32_t i = 0; i < total; i++) {
    uint32_t kind, flags;
    const guint8 *payload;
    gsize length;
    if (i < n) {
      const guint8 *entry = in + VQM_HEADER_SIZE + i * VQM_SECTION_ENTRY_SIZE;
      kind = le32 (entry);
      flags = le32 (entry + 4);
      payload = in + le32 (entry + 8);
      length = le32 (entry + 16);
      if (kind == replace_kind && replacement != NULL)
        payload = g_bytes_get_data (replacement, &length);
    } else {
      kind = extra_kind;
      flags = extra_flags;
      payload = g_bytes_get_data (extra, &length);
    }
    guint pad = (VQM_ALIGNMENT - out->len % VQM_ALIGNMENT) % VQM_ALIGNMENT;
    g_byte_array_set_size (out, out->len + pad);
    memset (out->data + out->len - pad, 0, pad);
    guint8 entry[VQM_SECTION_ENTRY_SIZE] = { 0 };
    put32 (entry, kind);
    put32 (entry + 4, flags);
    put64 (entry + 8, out->len);
    put64 (entry + 16, length);
    g_byte_array_append (out, payload, (guint) length);
    memcpy (out->data + VQM_HEADER_SIZE + i * VQM_SECTION_ENTRY_SIZE, entry, sizeof entry);
  }
  put32 (out->data + VQM_HEADER_N_SECTIONS, total);
  put64 (out->data + VQM_HEADER_FILE_SIZE, out->len);
  vq_test_reseal (out->data, out->len);
  gsize out_size = out->len;
  return g_bytes_new_take (g_byte_array_free (out, FALSE), out_size);
}
