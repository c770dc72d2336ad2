/* vq info — describes a .vqm model: its layers, size (parameters, bytes per
 * part, bits per weight), labels, input, preprocessing and decoder; as text
 * or, with --json, as one JSON object. */
#include <stdio.h>
#include <string.h>

#include <json-glib/json-glib.h>

#include "commands.h"
#include "vqcore/vqcore.h"

static const char *
color_order_name (vq_color_order order)
{
  return order == VQ_COLOR_BGR ? "bgr" : "rgb";
}

static const char *
fit_name (vq_fit_mode fit)
{
  return fit == VQ_RESIZE_STRETCH ? "stretch" : "letterbox";
}

static const char *
decoder_name (vq_decoder_kind kind)
{
  return kind == VQ_DECODER_NANODET_GFL ? "nanodet-gfl" : "unknown";
}

static char *
shape_string (const vq_shape *shape)
{
  GString *s = g_string_new ("[");
  for (uint32_t i = 0; i < shape->rank; i++)
    g_string_append_printf (s, "%s%d", i ? ", " : "", shape->dims[i]);
  g_string_append_c (s, ']');
  return g_string_free (s, FALSE);
}

/* How many convs reference a codebook blob. */
static int
codebook_users (const vq_graph *graph, int32_t codebook)
{
  int users = 0;
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    if (graph->nodes[i].op == VQ_OP_CONV2D && graph->nodes[i].p.conv.weights.codebook == codebook)
      users++;
  return users;
}

/* The details column: kernel, stride, groups, activation and weights. */
static char *
node_details (const vq_graph *graph, const vq_node *node)
{
  GString *s = g_string_new (NULL);
  if (node->op == VQ_OP_CONV2D) {
    const vq_conv_params *conv = &node->p.conv;
    g_string_append_printf (s, "%dx%d s%d", conv->kernel_h, conv->kernel_w, conv->stride_h);
    if (conv->stride_w != conv->stride_h)
      g_string_append_printf (s, "x%d", conv->stride_w);
    if (conv->groups != 1)
      g_string_append_printf (s, " g%d", conv->groups);
    if (conv->dilation_h != 1 || conv->dilation_w != 1)
      g_string_append_printf (s, " d%dx%d", conv->dilation_h, conv->dilation_w);
    const vq_weight_ref *w = &conv->weights;
    if (w->dense >= 0) {
      g_string_append_printf (s, " dense %s", vq_dtype_name (graph->blobs[w->dense].dtype));
    } else {
      const vq_blob *codebook = &graph->blobs[w->codebook];
      const vq_blob *indices = &graph->blobs[w->indices];
      g_string_append_printf (s, " vq K=%d d=%d %s %s-codebook", codebook->shape.dims[0],
                              codebook->shape.dims[1], vq_dtype_name (indices->dtype),
                              vq_dtype_name (codebook->dtype));
      if (vq_codebook_grid_half (codebook) > 0)
        g_string_append (s, " (grid)");
      if (w->scales >= 0)
        g_string_append_printf (s, " scales-%s", vq_dtype_name (graph->blobs[w->scales].dtype));
      int users = codebook_users (graph, w->codebook);
      if (users > 1)
        g_string_append_printf (s, " shared(%d)", users);
    }
  } else if (node->op == VQ_OP_MAX_POOL || node->op == VQ_OP_AVG_POOL) {
    g_string_append_printf (s, "%dx%d s%d", node->p.pool.kernel_h, node->p.pool.kernel_w,
                            node->p.pool.stride_h);
  } else if (node->op == VQ_OP_CONCAT || node->op == VQ_OP_SPLIT) {
    g_string_append_printf (s, "axis %d", node->p.axis.axis);
  } else if (node->op == VQ_OP_RESIZE) {
    g_string_append (s, node->p.resize.mode == VQ_RESIZE_NEAREST ? "nearest" : "bilinear");
  }
  if (node->act != VQ_ACT_NONE) {
    g_string_append_printf (s, "%s%s", s->len ? " " : "", vq_activation_name (node->act));
    if (node->act == VQ_ACT_LEAKY_RELU)
      g_string_append_printf (s, "(%g)", node->act_alpha);
  }
  return g_string_free (s, FALSE);
}

/* Appends `items` separated by ", ", wrapping lines at `width` columns
 * with `indent` spaces in front of continuation lines. */
static void
print_wrapped (FILE *out, char **items, int indent, int width)
{
  int column = indent;
  for (int i = 0; items[i] != NULL; i++) {
    int length = (int) strlen (items[i]) + (items[i + 1] ? 1 : 0);
    if (i > 0 && column + 1 + length > width) {
      fprintf (out, "\n%*s", indent, "");
      column = indent;
    } else if (i > 0) {
      fputc (' ', out);
      column++;
    }
    fprintf (out, "%s%s", items[i], items[i + 1] ? "," : "");
    column += length;
  }
  fputc ('\n', out);
}

static void
print_text (const vq_model *model, const char *path, const vq_model_stats *stats)
{
  const vq_graph *graph = model->graph;
  printf ("Model:         %s\n", model->name);
  printf ("Description:   %s\n", model->description);
  printf ("Path:          %s\n", path);
  printf ("\nLayers (%u):\n", graph->n_nodes);
  /* Imported names can be long: size the name column to fit them. */
  int name_width = 8;
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    name_width = MAX (name_width, (int) g_utf8_strlen (graph->nodes[i].name, -1));
  name_width = MIN (name_width, 60);
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    char *shape = shape_string (&graph->values[node->outputs[0]].shape);
    char *details = node_details (graph, node);
    char *line = g_strdup_printf ("  %3u  %-10s %-*s  %-18s %s", i, vq_op_name (node->op),
                                  name_width, node->name, shape, details);
    printf ("%s\n", g_strchomp (line));
    g_free (line);
    g_free (shape);
    g_free (details);
  }
  printf ("\nParameters:    %" G_GINT64_FORMAT " (%" G_GINT64_FORMAT " conv weights in %u convs, "
          "%u vector-quantized)\n",
          stats->parameters, stats->conv_weights, stats->n_conv, stats->n_conv_vq);
  printf ("Bytes:         %" G_GUINT64_FORMAT " total: dense %" G_GUINT64_FORMAT ", bias %"
          G_GUINT64_FORMAT ", codebooks %" G_GUINT64_FORMAT ", indices %" G_GUINT64_FORMAT
          ", scales %" G_GUINT64_FORMAT "\n",
          stats->total_bytes, stats->dense_bytes, stats->bias_bytes, stats->codebook_bytes,
          stats->index_bytes, stats->scale_bytes);
  printf ("Bits/weight:   %.3f\n", stats->bits_per_weight);
  printf ("MACs:          %" G_GINT64_FORMAT " per inference (%.3f G)\n", stats->macs,
          (double) stats->macs / 1e9);
  printf ("Input:         %dx%d, %d channels (NCHW fp32 [1, %d, %d, %d])\n", model->input.width,
          model->input.height, model->input.channels, model->input.channels,
          model->input.height, model->input.width);
  const vq_preprocess *pre = &model->preprocess;
  printf ("Preprocessing: %s, mean (%g, %g, %g), std (%g, %g, %g), %s\n",
          color_order_name (pre->color_order), pre->mean[0], pre->mean[1], pre->mean[2],
          pre->std[0], pre->std[1], pre->std[2], fit_name (pre->fit));
  const vq_decoder *dec = &model->decoder;
  printf ("Decoder:       %s, %d classes, reg_max %d, strides", decoder_name (dec->kind),
          dec->num_classes, dec->reg_max);
  for (uint32_t l = 0; l < dec->n_levels; l++)
    printf ("%s%d", l ? "/" : " ", dec->strides[l]);
  printf (", score threshold %g, NMS IoU %g, at most %d detections\n", dec->score_threshold,
          dec->nms_iou, dec->max_detections);
  char *heading = g_strdup_printf ("Labels (%u):", g_strv_length (model->labels));
  printf ("%-15s", heading);
  g_free (heading);
  print_wrapped (stdout, model->labels, 15, 100);
}

static void
add_int_array (JsonBuilder *b, const char *name, const int32_t *values, uint32_t n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (uint32_t i = 0; i < n; i++)
    json_builder_add_int_value (b, values[i]);
  json_builder_end_array (b);
}

static void
add_float_array (JsonBuilder *b, const char *name, const float *values, uint32_t n)
{
  json_builder_set_member_name (b, name);
  json_builder_begin_array (b);
  for (uint32_t i = 0; i < n; i++)
    json_builder_add_double_value (b, values[i]);
  json_builder_end_array (b);
}

static void
member_int (JsonBuilder *b, const char *name, gint64 value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_int_value (b, value);
}

static void
member_string (JsonBuilder *b, const char *name, const char *value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_string_value (b, value);
}

static void
member_double (JsonBuilder *b, const char *name, double value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, value);
}

static void
print_json (const vq_model *model, const char *path, const vq_model_stats *stats)
{
  JsonBuilder *b = json_builder_new ();
  json_builder_begin_object (b);
  member_string (b, "path", path);
  member_string (b, "name", model->name);
  member_string (b, "description", model->description);
  member_int (b, "layers", model->graph->n_nodes);
  member_int (b, "convs", stats->n_conv);
  member_int (b, "vq_convs", stats->n_conv_vq);
  member_int (b, "parameters", stats->parameters);
  member_int (b, "conv_weights", stats->conv_weights);
  member_int (b, "bytes", (gint64) stats->total_bytes);
  member_int (b, "dense_bytes", (gint64) stats->dense_bytes);
  member_int (b, "bias_bytes", (gint64) stats->bias_bytes);
  member_int (b, "codebook_bytes", (gint64) stats->codebook_bytes);
  member_int (b, "index_bytes", (gint64) stats->index_bytes);
  member_int (b, "scale_bytes", (gint64) stats->scale_bytes);
  member_double (b, "bits_per_weight", stats->bits_per_weight);
  member_int (b, "macs", stats->macs);

  json_builder_set_member_name (b, "labels");
  json_builder_begin_array (b);
  for (int i = 0; model->labels[i] != NULL; i++)
    json_builder_add_string_value (b, model->labels[i]);
  json_builder_end_array (b);

  json_builder_set_member_name (b, "input");
  json_builder_begin_object (b);
  member_int (b, "width", model->input.width);
  member_int (b, "height", model->input.height);
  member_int (b, "channels", model->input.channels);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "preprocess");
  json_builder_begin_object (b);
  member_string (b, "color_order", color_order_name (model->preprocess.color_order));
  add_float_array (b, "mean", model->preprocess.mean, 3);
  add_float_array (b, "std", model->preprocess.std, 3);
  member_string (b, "resize", fit_name (model->preprocess.fit));
  json_builder_end_object (b);

  const vq_decoder *dec = &model->decoder;
  json_builder_set_member_name (b, "decoder");
  json_builder_begin_object (b);
  member_string (b, "kind", decoder_name (dec->kind));
  member_int (b, "num_classes", dec->num_classes);
  member_int (b, "reg_max", dec->reg_max);
  add_int_array (b, "strides", dec->strides, dec->n_levels);
  member_double (b, "score_threshold", dec->score_threshold);
  member_double (b, "nms_iou", dec->nms_iou);
  member_int (b, "max_detections", dec->max_detections);
  json_builder_end_object (b);
  json_builder_end_object (b);

  JsonNode *root = json_builder_get_root (b);
  char *text = json_to_string (root, TRUE);
  printf ("%s\n", text);
  g_free (text);
  json_node_unref (root);
  g_object_unref (b);
}

int
vq_cmd_info (int argc, char **argv)
{
  gboolean json = FALSE;
  GOptionEntry entries[] = {
    { "json", 0, 0, G_OPTION_ARG_NONE, &json, "Print one JSON object instead of text", NULL },
    { NULL, 0, 0, 0, NULL, NULL, NULL }
  };
  GError *error = NULL;
  gboolean ok = vq_tool_parse_options (&argc, &argv, entries, "[MODEL] - describe a .vqm model",
      "Without MODEL, describes the default model: $VQDETECT_MODEL, else\n"
      "$XDG_CACHE_HOME/vqdetect/nanodet.vqm, else the installed copy.", &error);
  if (!ok || argc > 2) {
    int status = vq_tool_fail ("info", error ? error->message
                                             : "expected at most one model file (see 'vq info --help')");
    g_clear_error (&error);
    return status;
  }

  char *path = argc == 2 ? g_strdup (argv[1]) : vq_default_model_path (&error);
  vq_model *model = path ? vq_model_load (path, &error) : NULL;
  if (model == NULL) {
    int status = vq_tool_fail ("info", error->message);
    g_error_free (error);
    g_free (path);
    return status;
  }
  vq_model_stats stats;
  vq_model_compute_stats (model, &stats);
  if (json)
    print_json (model, path, &stats);
  else
    print_text (model, path, &stats);
  vq_model_free (model);
  g_free (path);
  return 0;
}
