/* vq_graph_validate() on graphs broken in one place each: every rule gives
 * an error that names the node (or value, or blob) and the problem. */
#include <math.h>
#include <string.h>

#include "vqcore/error.h"
#include "vqm_sample.h"

typedef struct {
  const char *name;
  void (*edit) (vq_graph *graph);
  const char *message; /* a substring of the expected error */
} graph_case;

static vq_node *
node_at (vq_graph *g, int i)
{
  return &g->nodes[i];
}

static vq_conv_params *
conv_at (vq_graph *g, int i)
{
  return &g->nodes[i].p.conv;
}

/* Each edit breaks one rule of the sample graph. */
static void e_conv_out_shape (vq_graph *g) { g->values[1].shape.dims[2] = 7; }
static void e_conv_groups (vq_graph *g) { conv_at (g, SAMPLE_NODE_CONV_DENSE_F16)->groups = 3; }
static void e_conv_stride (vq_graph *g) { conv_at (g, 0)->stride_h = 0; }
static void e_conv_dilation (vq_graph *g) { conv_at (g, SAMPLE_NODE_CONV_VQ_U8)->dilation_w = -1; }
static void e_conv_padding (vq_graph *g) { conv_at (g, 0)->pad_left = -1; }
static void e_conv_kernel_too_big (vq_graph *g) { conv_at (g, 0)->kernel_h = 40; }
static void e_conv_out_channels (vq_graph *g) { conv_at (g, 0)->out_channels = 9; }
static void e_conv_dense_dtype (vq_graph *g) { conv_at (g, 0)->weights.dense = SAMPLE_BLOB_INDICES_U8; }
static void e_conv_dense_shape (vq_graph *g) { conv_at (g, 0)->weights.dense = 2; }
static void e_conv_both (vq_graph *g) { conv_at (g, 0)->weights.codebook = SAMPLE_BLOB_CODEBOOK_U8; }
static void e_conv_neither (vq_graph *g) { conv_at (g, 0)->weights.dense = -1; }
static void e_conv_blob_range (vq_graph *g) { conv_at (g, 0)->weights.dense = 99; }
static void e_conv_blob_negative (vq_graph *g) { conv_at (g, 0)->bias = -7; }
static void e_conv_bias_shape (vq_graph *g) { conv_at (g, 0)->bias = SAMPLE_BLOB_CODEBOOK_U8; }
static void e_vq_no_indices (vq_graph *g) { conv_at (g, SAMPLE_NODE_CONV_VQ_U8)->weights.indices = -1; }
static void e_vq_u4_k (vq_graph *g) { conv_at (g, SAMPLE_NODE_CONV_VQ_U4)->weights.codebook = SAMPLE_BLOB_CODEBOOK_U8; }
static void e_vq_index_dtype (vq_graph *g) { conv_at (g, SAMPLE_NODE_CONV_VQ_U4)->weights.indices = 7; }
static void e_vq_index_shape (vq_graph *g) { conv_at (g, SAMPLE_NODE_CONV_VQ_SHARED)->weights.indices = SAMPLE_BLOB_INDICES_U8; }
static void e_vq_codebook_rank (vq_graph *g) { conv_at (g, SAMPLE_NODE_CONV_VQ_U8)->weights.codebook = 0; }
static void e_vq_scales_shape (vq_graph *g) { conv_at (g, SAMPLE_NODE_CONV_VQ_U8)->weights.scales = SAMPLE_BLOB_CODEBOOK_U8; }
static void e_vq_index_value (vq_graph *g) { ((uint8_t *) g->blobs[SAMPLE_BLOB_INDICES_U8].data)[100] = 255; }
static void e_dense_scales (vq_graph *g) { conv_at (g, 0)->weights.scales = 6; }
static void e_add_shape (vq_graph *g) { node_at (g, SAMPLE_NODE_ADD)->inputs[1] = 0; }
static void e_add_inputs (vq_graph *g) { node_at (g, SAMPLE_NODE_ADD)->n_inputs = 1; }
static void e_concat_axis (vq_graph *g) { node_at (g, SAMPLE_NODE_CONCAT)->p.axis.axis = 4; }
static void e_concat_sum (vq_graph *g) { g->values[10].shape.dims[1] = 17; }
static void e_concat_other_dim (vq_graph *g) { node_at (g, SAMPLE_NODE_CONCAT)->inputs[0] = 7; }
static void e_split_sum (vq_graph *g) { node_at (g, SAMPLE_NODE_SPLIT)->n_outputs = 2; }
static void e_resize_channels (vq_graph *g) { node_at (g, SAMPLE_NODE_RESIZE)->inputs[0] = 0; }
static void e_resize_flags (vq_graph *g) { node_at (g, SAMPLE_NODE_RESIZE)->p.resize.align_corners = true; }
static void e_resize_rank (vq_graph *g) { g->values[9].shape = vq_shape_make (3, (int32_t[]) { 1, 8, 64 }); }
static void e_pool_window (vq_graph *g) { node_at (g, SAMPLE_NODE_AVG_POOL)->p.pool.kernel_w = 9; }
static void e_pool_nan (vq_graph *g) { node_at (g, SAMPLE_NODE_MAX_POOL)->p.pool.pad_value = NAN; }
static void e_pool_out (vq_graph *g) { node_at (g, SAMPLE_NODE_MAX_POOL)->p.pool.stride_h = 1; }
static void e_reshape_numel (vq_graph *g) { g->values[15].shape.dims[2] = 63; }
static void e_transpose_perm (vq_graph *g) { node_at (g, SAMPLE_NODE_TRANSPOSE)->p.transpose.perm[1] = 0; }
static void e_transpose_shape (vq_graph *g) { node_at (g, SAMPLE_NODE_TRANSPOSE)->p.transpose.perm[1] = 1; node_at (g, SAMPLE_NODE_TRANSPOSE)->p.transpose.perm[2] = 2; }
static void e_activation_enum (vq_graph *g) { node_at (g, SAMPLE_NODE_ACTIVATION)->act = VQ_ACT_COUNT; }
static void e_activation_shape (vq_graph *g) { node_at (g, SAMPLE_NODE_ACTIVATION)->inputs[0] = 6; }
static void e_fused_on_concat (vq_graph *g) { node_at (g, SAMPLE_NODE_CONCAT)->act = VQ_ACT_RELU; }
static void e_alpha_inf (vq_graph *g) { node_at (g, 0)->act_alpha = INFINITY; }
static void e_op_enum (vq_graph *g) { node_at (g, 3)->op = VQ_OP_COUNT; }
static void e_input_range (vq_graph *g) { node_at (g, 3)->inputs[0] = 1000; }
static void e_output_range (vq_graph *g) { node_at (g, 3)->outputs[0] = 1000; }
static void e_written_twice (vq_graph *g) { node_at (g, 3)->outputs[0] = 3; }
static void e_topological (vq_graph *g) { vq_node t = g->nodes[2]; g->nodes[2] = g->nodes[3]; g->nodes[3] = t; }
static void e_graph_input_range (vq_graph *g) { g->inputs[0] = 1000; }
static void e_graph_input_twice (vq_graph *g) { vq_graph_add_input (g, 0); }
static void e_graph_output_range (vq_graph *g) { g->outputs[1] = 1000; }
static void e_graph_output_unwritten (vq_graph *g) { vq_shape s = vq_shape_4d (1, 1, 1, 1); g->outputs[1] = vq_graph_add_value (g, "dangling", &s); }
static void e_never_written (vq_graph *g) { vq_shape s = vq_shape_4d (1, 1, 1, 1); vq_graph_add_value (g, "unused", &s); }
static void e_no_outputs (vq_graph *g) { g->n_outputs = 0; }
static void e_value_dim (vq_graph *g) { g->values[4].shape.dims[3] = 0; }
static void e_value_rank (vq_graph *g) { g->values[4].shape.rank = 5; }
static void e_value_huge (vq_graph *g) { vq_shape s = vq_shape_4d (1, 1 << 16, 1 << 16, 1); g->values[4].shape = s; }
static void e_blob_nbytes (vq_graph *g) { g->blobs[1].nbytes = 31; }
static void e_blob_dtype (vq_graph *g) { g->blobs[1].dtype = VQ_DTYPE_COUNT; }
static void e_blob_dim (vq_graph *g) { g->blobs[1].shape.dims[0] = -8; }

static const graph_case cases[] = {
  { "conv-output-shape", e_conv_out_shape, "node 0 'conv0' (conv2d): output has shape [1, 8, 7, 8], expected [1, 8, 8, 8]" },
  { "conv-groups", e_conv_groups, "not both divisible by 3 groups" },
  { "conv-stride", e_conv_stride, "kernel, stride and dilation must be 1" },
  { "conv-dilation", e_conv_dilation, "dilation 2x-1" },
  { "conv-padding", e_conv_padding, "padding must be 0" },
  { "conv-kernel", e_conv_kernel_too_big, "window does not fit" },
  { "conv-out-channels", e_conv_out_channels, "output has shape [1, 8, 8, 8], expected [1, 9, 8, 8]" },
  { "conv-dense-dtype", e_conv_dense_dtype, "dense weight blob 'conv2.indices' has dtype u8" },
  { "conv-dense-shape", e_conv_dense_shape, "dense weight blob has shape [8, 4, 1, 1], expected [8, 3, 3, 3]" },
  { "conv-dense-and-vq", e_conv_both, "not both" },
  { "conv-no-weights", e_conv_neither, "not neither" },
  { "conv-blob-range", e_conv_blob_range, "dense weight blob id 99 is out of range" },
  { "conv-blob-negative", e_conv_blob_negative, "bias blob id -7 is out of range" },
  { "conv-bias-shape", e_conv_bias_shape, "bias blob has shape [20, 4], expected [8]" },
  { "vq-no-indices", e_vq_no_indices, "need both a codebook and an indices blob" },
  { "vq-u4-codebook-size", e_vq_u4_k, "has 20 entries, more than u4 indices can address (16)" },
  { "vq-index-dtype", e_vq_index_dtype, "indices blob 'codebook.b' has dtype f16, expected u8 or u4" },
  { "vq-index-shape", e_vq_index_shape, "indices blob has shape [8, 18], expected [8, 2]" },
  { "vq-codebook-rank", e_vq_codebook_rank, "codebook 'conv0.weight' has shape [8, 3, 3, 3], expected [K, d]" },
  { "vq-scales-shape", e_vq_scales_shape, "scales blob has shape [20, 4], expected [8]" },
  { "vq-index-value", e_vq_index_value, "index 100 of 'conv2.indices' is 255" },
  { "dense-with-scales", e_dense_scales, "not both" },
  { "add-shape", e_add_shape, "input 1 has shape [1, 3, 16, 16], expected [1, 8, 8, 8]" },
  { "add-inputs", e_add_inputs, "has 1 inputs and 1 outputs, expected 2-2 and 1-1" },
  { "concat-axis", e_concat_axis, "axis 4 is out of range for rank 4" },
  { "concat-sum", e_concat_sum, "the parts sum to 16 along axis 1, expected 17" },
  { "concat-other-dim", e_concat_other_dim, "part 0 has shape [1, 8, 4, 4]" },
  { "split-sum", e_split_sum, "the parts sum to 11 along axis 1, expected 16" },
  { "resize-channels", e_resize_channels, "changes the channel count (3 to 8)" },
  { "resize-flags", e_resize_flags, "exclude each other" },
  { "resize-rank", e_resize_rank, "node 8 'upsample' (resize): output has shape [1, 8, 64], expected [1, C, H, W]" },
  { "pool-window", e_pool_window, "the 3x9 window does not fit the padded 4x4 input" },
  { "pool-nan", e_pool_nan, "pad_value is NaN" },
  { "pool-output", e_pool_out, "output has shape [1, 8, 4, 4], expected [1, 8, 7, 4]" },
  { "reshape-numel", e_reshape_numel, "changes the element count (192 to 189)" },
  { "transpose-perm", e_transpose_perm, "perm is not a permutation of 0..2" },
  { "transpose-shape", e_transpose_shape, "output has shape [1, 64, 3], expected [1, 3, 64]" },
  { "activation-enum", e_activation_enum, "invalid activation 7" },
  { "activation-shape", e_activation_shape, "input has shape [1, 8, 8, 8], expected [1, 16, 8, 8]" },
  { "fused-on-concat", e_fused_on_concat, "has a fused relu activation, which only" },
  { "alpha-inf", e_alpha_inf, "act_alpha is not finite" },
  { "op-enum", e_op_enum, "node 3 'conv3.vq_u4' has an invalid op 10" },
  { "input-range", e_input_range, "input 0 is value 1000, out of range" },
  { "output-range", e_output_range, "output 0 is value 1000, out of range" },
  { "written-twice", e_written_twice, "writes value 3 'c2', which is already written" },
  { "topological", e_topological, "node 2 'conv3.vq_u4' (conv2d): reads value 3 'c2' before anything writes it" },
  { "graph-input-range", e_graph_input_range, "graph input 0 is value 1000, out of range" },
  { "graph-input-twice", e_graph_input_twice, "graph input 1 (value 0 'input') is listed twice" },
  { "graph-output-range", e_graph_output_range, "graph output 1 is value 1000, out of range" },
  { "graph-output-unwritten", e_graph_output_unwritten, "graph output 1 (value 26 'dangling') is never written" },
  { "value-never-written", e_never_written, "value 26 'unused' is never written" },
  { "no-outputs", e_no_outputs, "needs at least one of each" },
  { "value-dim", e_value_dim, "value 4 'c3' has dim 3 = 0" },
  { "value-rank", e_value_rank, "value 4 'c3' has rank 5" },
  { "value-huge", e_value_huge, "value 4 'c3' has more than 2^31 elements" },
  { "blob-nbytes", e_blob_nbytes, "blob 1 'conv0.bias' has 31 bytes, its f32 shape needs 32" },
  { "blob-dtype", e_blob_dtype, "blob 1 'conv0.bias' has an invalid dtype 5" },
  { "blob-dim", e_blob_dim, "blob 1 'conv0.bias' has dim 0 = -8" },
};

static void
run_case (gconstpointer data)
{
  const graph_case *c = data;
  vq_model *model = vq_test_sample_model ();
  c->edit (model->graph);
  GError *error = NULL;
  g_assert_false (vq_graph_validate (model->graph, &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_FORMAT);
  if (strstr (error->message, c->message) == NULL)
    g_error ("expected '%s' in: %s", c->message, error->message);
  g_error_free (error);
  vq_model_free (model);
}

static void
test_sample_is_valid (void)
{
  vq_model *model = vq_test_sample_model ();
  GError *error = NULL;
  g_assert_true (vq_graph_validate (model->graph, &error));
  g_assert_no_error (error);
  g_assert_true (vq_model_validate (model, &error));
  g_assert_no_error (error);
  vq_model_free (model);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/format/graph-validate/sample-is-valid", test_sample_is_valid);
  for (gsize i = 0; i < G_N_ELEMENTS (cases); i++) {
    char *path = g_strdup_printf ("/format/graph-validate/%s", cases[i].name);
    g_test_add_data_func (path, &cases[i], run_case);
    g_free (path);
  }
  return g_test_run ();
}
