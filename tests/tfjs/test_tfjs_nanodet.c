/* Imports the real NanoDet TF.js model and checks the IR's structure
 * against facts counted independently from model.json with json-glib. */
#include <math.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "test_util.h"
#include "tfjs_test_util.h"
#include "vqcore/error.h"
#include "vqcore/model.h"
#include "vqcore/tfjs.h"

typedef struct {
  guint conv2d;          /* Conv2D nodes */
  guint pad;             /* Pad + PadV2 nodes */
  guint concat, resize, split, sigmoid, reshape, maxpool;
  gint64 float_weights;  /* elements of float non-scalar weights in the manifest */
  GPtrArray *output_names; /* signature outputs, sorted */
  GArray *output_shapes;   /* gint32[3] per output */
} json_facts;

static gint
compare_strings (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

static json_facts
count_json (const char *path)
{
  json_facts f = { 0 };
  JsonParser *parser = json_parser_new ();
  GError *error = NULL;
  g_assert_true (json_parser_load_from_file (parser, path, &error));
  JsonObject *root = json_node_get_object (json_parser_get_root (parser));
  JsonArray *nodes = json_object_get_array_member (
      json_object_get_object_member (root, "modelTopology"), "node");
  for (guint i = 0; i < json_array_get_length (nodes); i++) {
    const char *op = json_object_get_string_member (json_array_get_object_element (nodes, i), "op");
    f.conv2d += strcmp (op, "Conv2D") == 0;
    f.pad += strcmp (op, "Pad") == 0 || strcmp (op, "PadV2") == 0;
    f.concat += strcmp (op, "ConcatV2") == 0;
    f.resize += strcmp (op, "ResizeBilinear") == 0;
    f.split += strcmp (op, "SplitV") == 0;
    f.sigmoid += strcmp (op, "Sigmoid") == 0;
    f.reshape += strcmp (op, "Reshape") == 0;
    f.maxpool += strcmp (op, "MaxPool") == 0;
  }
  JsonArray *groups = json_object_get_array_member (root, "weightsManifest");
  for (guint g = 0; g < json_array_get_length (groups); g++) {
    JsonArray *weights = json_object_get_array_member (json_array_get_object_element (groups, g),
                                                       "weights");
    for (guint i = 0; i < json_array_get_length (weights); i++) {
      JsonObject *w = json_array_get_object_element (weights, i);
      JsonArray *shape = json_object_get_array_member (w, "shape");
      /* Parameters are the float tensors; the one float scalar is the
       * PadV2 value, not a parameter. */
      if (strcmp (json_object_get_string_member (w, "dtype"), "float32") != 0
          || json_array_get_length (shape) == 0)
        continue;
      gint64 n = 1;
      for (guint d = 0; d < json_array_get_length (shape); d++)
        n *= json_array_get_int_element (shape, d);
      f.float_weights += n;
    }
  }
  JsonObject *outputs = json_object_get_object_member (
      json_object_get_object_member (root, "signature"), "outputs");
  GList *names = json_object_get_members (outputs);
  f.output_names = g_ptr_array_new_with_free_func (g_free);
  for (GList *l = names; l; l = l->next)
    g_ptr_array_add (f.output_names, g_strdup (l->data));
  g_list_free (names);
  g_ptr_array_sort (f.output_names, compare_strings);
  f.output_shapes = g_array_new (FALSE, FALSE, sizeof (gint32) * 3);
  for (guint i = 0; i < f.output_names->len; i++) {
    JsonObject *o = json_object_get_object_member (outputs, g_ptr_array_index (f.output_names, i));
    JsonArray *dims = json_object_get_array_member (
        json_object_get_object_member (o, "tensorShape"), "dim");
    g_assert_cmpuint (json_array_get_length (dims), ==, 3);
    gint32 s[3];
    for (guint d = 0; d < 3; d++)
      s[d] = (gint32) g_ascii_strtoll (json_object_get_string_member (
                                           json_array_get_object_element (dims, d), "size"),
                                       NULL, 10);
    g_array_append_val (f.output_shapes, s);
  }
  g_object_unref (parser);
  return f;
}

static void
test_structure (void)
{
  char *path = vq_test_cache_file ("nanodet.json");
  json_facts f = count_json (path);
  GError *error = NULL;
  vq_graph *graph = vq_tfjs_import_graph (path, &error);
  g_assert_no_error (error);
  g_assert_nonnull (graph);

  for (int op = 0; op < VQ_OP_COUNT; op++)
    g_test_message ("%-10s %u", vq_op_name (op), tfjs_count_op (graph, op));

  /* Every Conv2D became one IR conv with the bias and activation fused:
   * no standalone add-of-constant or LeakyRelu remains, so the only
   * standalone activations are the head sigmoids. */
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_CONV2D), ==, f.conv2d);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_ACTIVATION), ==, f.sigmoid);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_CONCAT), ==, f.concat);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_RESIZE), ==, f.resize);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_SPLIT), ==, f.split);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_RESHAPE), ==, f.reshape);
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_MAX_POOL), ==, f.maxpool);
  /* Transposes remain only at the heads: one per Reshape'd output. */
  g_assert_cmpuint (tfjs_count_op (graph, VQ_OP_TRANSPOSE), ==, f.reshape);

  /* Each Pad went into a conv or the pool: the sum of their padding is at
   * least one pixel per Pad node, and the pool pads with -inf exactly as
   * the PadV2 did. */
  guint padded = 0;
  int64_t params = 0;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    if (node->op == VQ_OP_CONV2D) {
      const vq_conv_params *p = &node->p.conv;
      padded += p->pad_top > 0;
      g_assert_cmpint (p->pad_top, ==, (p->kernel_h - 1) / 2);
      g_assert_cmpint (p->pad_left, ==, (p->kernel_w - 1) / 2);
      g_assert_cmpint (node->act == VQ_ACT_NONE || node->act == VQ_ACT_LEAKY_RELU, ==, TRUE);
      g_assert_cmpint (p->bias, >=, 0);
      params += vq_conv_weight_count (graph, node) + p->out_channels;
    } else if (node->op == VQ_OP_MAX_POOL) {
      padded += node->p.pool.pad_top > 0;
      g_assert_true (isinf (node->p.pool.pad_value) && node->p.pool.pad_value < 0);
    }
  }
  g_assert_cmpuint (padded, ==, f.pad);
  g_assert_cmpint (params, ==, f.float_weights);

  /* Inputs and outputs. */
  g_assert_cmpuint (graph->n_inputs, ==, 1);
  vq_shape expected_in = vq_shape_4d (1, 3, 416, 416);
  g_assert_true (vq_shape_equal (&graph->values[graph->inputs[0]].shape, &expected_in));
  g_assert_cmpuint (graph->n_outputs, ==, f.output_names->len);
  for (uint32_t o = 0; o < graph->n_outputs; o++) {
    const gint32 *s = &g_array_index (f.output_shapes, gint32, 3 * o);
    vq_shape expected = vq_shape_make (3, s);
    g_assert_true (vq_shape_equal (&graph->values[graph->outputs[o]].shape, &expected));
  }
  vq_graph_free (graph);
  g_ptr_array_unref (f.output_names);
  g_array_unref (f.output_shapes);
  g_free (path);
}

static void
test_nanodet_model (void)
{
  char *path = vq_test_cache_file ("nanodet.json");
  GError *error = NULL;
  vq_model *model = vq_tfjs_import_nanodet (path, &error);
  g_assert_no_error (error);
  g_assert_true (vq_model_validate (model, &error));
  g_assert_cmpint (model->decoder.num_classes, ==, 80);
  g_assert_cmpstr (model->labels[0], ==, "person");
  g_assert_cmpstr (model->labels[79], ==, "toothbrush");
  g_assert_null (model->labels[80]);
  /* Levels: stride s has ceil(416 / s)^2 cells; scores carry 80 classes,
   * boxes 4 * (reg_max + 1). */
  for (uint32_t l = 0; l < model->decoder.n_levels; l++) {
    int32_t g = (416 + model->decoder.strides[l] - 1) / model->decoder.strides[l];
    const vq_graph *graph = model->graph;
    const vq_shape *s = &graph->values[graph->outputs[model->decoder.score_outputs[l]]].shape;
    const vq_shape *b = &graph->values[graph->outputs[model->decoder.box_outputs[l]]].shape;
    g_assert_cmpint (s->dims[1], ==, g * g);
    g_assert_cmpint (s->dims[2], ==, 80);
    g_assert_cmpint (b->dims[1], ==, g * g);
    g_assert_cmpint (b->dims[2], ==, 4 * (model->decoder.reg_max + 1));
  }
  vq_model_stats stats;
  vq_model_compute_stats (model, &stats);
  g_test_message ("parameters %" G_GINT64_FORMAT ", MACs %" G_GINT64_FORMAT, stats.parameters,
                  stats.macs);
  g_assert_cmpint (stats.n_conv, ==, 34);
  vq_model_free (model);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/tfjs/nanodet/structure", test_structure);
  g_test_add_func ("/tfjs/nanodet/model", test_nanodet_model);
  return g_test_run ();
}
