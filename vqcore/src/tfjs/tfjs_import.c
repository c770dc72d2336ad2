/* The importer's driver: picks the nodes the outputs need, orders them
 * topologically, folds constants, dispatches the rest to the op table and
 * binds graph inputs and outputs. */
#include "vqcore/tfjs.h"

#include <stdarg.h>
#include <string.h>

#include "tfjs_private.h"

void
vq__tfjs_fail (GError **error, const vq__tfjs_node *node, gint code, const char *format, ...)
{
  va_list args;
  va_start (args, format);
  char *message = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, VQ_ERROR, code, "op '%s' at node '%s': %s", node->op, node->name, message);
  g_free (message);
}

char *
vq__tfjs_tensor_key (const char *node, int index)
{
  return index == 0 ? g_strdup (node) : g_strdup_printf ("%s:%d", node, index);
}

static vq__tfjs_value_info *
info_of (vq__tfjs_ctx *ctx, uint32_t value)
{
  return &g_array_index (ctx->values, vq__tfjs_value_info, value);
}

void
vq__tfjs_set_output (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, int index,
                     const vq__tfjs_tensor *tensor)
{
  char *key = vq__tfjs_tensor_key (node->name, index);
  vq__tfjs_tensor *copy = g_memdup2 (tensor, sizeof *tensor);
  if (!copy->is_const)
    info_of (ctx, copy->value)->remaining
        += GPOINTER_TO_INT (g_hash_table_lookup (ctx->consumers, key));
  g_hash_table_replace (ctx->tensors, key, copy);
}

uint32_t
vq__tfjs_new_value (vq__tfjs_ctx *ctx, const char *name, vq__tfjs_tensor *t)
{
  vq_shape shape = vq__tfjs_physical_shape (t, t->perm);
  int64_t numel = 1;
  for (uint32_t d = 0; d < shape.rank; d++) {
    if (shape.dims[d] < 1 || shape.dims[d] > VQ__TFJS_MAX_DIM
        || numel > VQ__TFJS_MAX_VALUE_ELEMENTS / shape.dims[d]) {
      ctx->too_large = TRUE;
      break;
    }
    numel *= shape.dims[d];
  }
  t->value = vq_graph_add_value (ctx->graph, name, &shape);
  vq__tfjs_value_info fresh = { 0, 0, -1 };
  g_array_append_val (ctx->values, fresh);
  return t->value;
}

vq_node *
vq__tfjs_emit (vq__tfjs_ctx *ctx, const vq_node *node)
{
  for (uint32_t i = 0; i < node->n_inputs; i++)
    info_of (ctx, node->inputs[i])->reads++;
  for (uint32_t i = 0; i < node->n_outputs; i++)
    info_of (ctx, node->outputs[i])->producer = (int32_t) ctx->graph->n_nodes;
  return vq_graph_add_node (ctx->graph, node);
}

gboolean
vq__tfjs_sole_use (vq__tfjs_ctx *ctx, uint32_t value)
{
  vq__tfjs_value_info *info = info_of (ctx, value);
  return info->reads == 0 && info->remaining == 0 && info->producer >= 0;
}

static void
tensor_free (vq__tfjs_tensor *t)
{
  if (t->owns_const)
    vq__tconst_free (t->c);
  g_free (t);
}

/* The node name part of a tensor key ("x:1" -> "x"). */
static char *
node_of_key (const char *key)
{
  const char *colon = strrchr (key, ':');
  return colon ? g_strndup (key, (gsize) (colon - key)) : g_strdup (key);
}

/* Orders the nodes that `roots` depend on, inputs first (iterative
 * depth-first search, so that deep graphs cannot exhaust the stack). */
static GArray *
topological_order (const vq__tfjs_model *model, GHashTable *by_name, GPtrArray *roots,
                   GError **error)
{
  guint8 *state = g_new0 (guint8, model->n_nodes); /* 0 new, 1 open, 2 done */
  GArray *order = g_array_new (FALSE, FALSE, sizeof (guint));
  GArray *stack = g_array_new (FALSE, FALSE, sizeof (guint) * 2);
  for (guint r = 0; r < roots->len; r++) {
    guint root = GPOINTER_TO_UINT (g_ptr_array_index (roots, r));
    if (state[root])
      continue;
    guint frame[2] = { root, 0 };
    g_array_append_val (stack, frame);
    state[root] = 1;
    while (stack->len) {
      guint *top = &g_array_index (stack, guint, (stack->len - 1) * 2);
      const vq__tfjs_node *node = &model->nodes[top[0]];
      if (top[1] >= node->n_inputs) {
        state[top[0]] = 2;
        g_array_append_val (order, top[0]);
        g_array_set_size (stack, stack->len - 1);
        continue;
      }
      char *name = node_of_key (node->inputs[top[1]++]);
      gpointer found;
      gboolean known = g_hash_table_lookup_extended (by_name, name, NULL, &found);
      if (!known) {
        g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                     "%s: node '%s' reads '%s', which no node produces", model->path,
                     node->name, name);
      } else if (state[GPOINTER_TO_UINT (found)] == 1) {
        g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: the graph has a cycle through '%s'",
                     model->path, name);
        known = FALSE;
      } else if (state[GPOINTER_TO_UINT (found)] == 0) {
        guint next[2] = { GPOINTER_TO_UINT (found), 0 };
        state[next[0]] = 1;
        g_array_append_val (stack, next);
      }
      g_free (name);
      if (!known) {
        g_array_unref (order);
        order = NULL;
        break;
      }
    }
    if (order == NULL)
      break;
  }
  g_array_unref (stack);
  g_free (state);
  return order;
}

static gboolean
import_placeholder (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, GError **error)
{
  int64_t dims[VQ_MAX_RANK];
  int rank = 0;
  const char *dtype = vq__tfjs_attr_type (node, "dtype");
  if (dtype && strcmp (dtype, "DT_FLOAT") != 0) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "input of type %s (only DT_FLOAT)", dtype);
    return FALSE;
  }
  if (!vq__tfjs_attr_shape (node, "shape", dims, VQ_MAX_RANK, &rank) || rank < 1) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "input without a known shape of rank 1..4");
    return FALSE;
  }
  vq__tfjs_tensor t = { 0 };
  t.rank = rank;
  for (int d = 0; d < rank; d++) {
    if (d == 0 && dims[d] == -1)
      dims[d] = 1; /* any batch size: import for one frame */
    if (dims[d] <= 0 || dims[d] > VQ__TFJS_MAX_DIM) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                     "input dimension %d is unknown or invalid; a fixed input size is needed", d);
      return FALSE;
    }
    t.dims[d] = (int32_t) dims[d];
  }
  /* The graph input is NCHW. An image input that TF holds as NHWC (a small
   * last dimension, a large second one) is stored transposed. */
  vq__tfjs_perm_identity (t.perm, rank);
  if (rank == 4 && t.dims[3] <= 4 && t.dims[1] > 4) {
    static const int nhwc[4] = { 0, 3, 1, 2 };
    memcpy (t.perm, nhwc, sizeof nhwc);
  }
  vq__tfjs_new_value (ctx, node->name, &t);
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

static gboolean
import_const (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, GError **error)
{
  vq__tfjs_tensor t = { 0 };
  t.is_const = TRUE;
  t.c = g_hash_table_lookup (ctx->model->weights, node->name);
  if (t.c == NULL) {
    t.c = vq__tfjs_attr_tensor (node, error);
    if (t.c == NULL)
      return FALSE;
    t.owns_const = TRUE;
  }
  vq__tfjs_set_output (ctx, node, 0, &t);
  return TRUE;
}

static gboolean
import_folded (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq__tfjs_tensor **in, GError **error)
{
  vq__tconst *args[VQ_MAX_NODE_IO], *outs[VQ_MAX_NODE_IO] = { NULL };
  vq__tconst *shape = NULL;
  if (node->n_inputs > VQ_MAX_NODE_IO) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED, "too many inputs");
    return FALSE;
  }
  for (guint i = 0; i < node->n_inputs; i++)
    args[i] = in[i]->c;
  if (!in[0]->is_const) {
    /* Shape of an activation: its TF shape is static. */
    int64_t dims[VQ_MAX_RANK];
    for (int d = 0; d < in[0]->rank; d++)
      dims[d] = in[0]->dims[d];
    shape = vq__tconst_new (FALSE, in[0]->rank, dims, error);
    if (shape == NULL)
      return FALSE;
    args[0] = shape;
  }
  int n = vq__tfjs_fold (node, args, node->n_inputs, outs, VQ_MAX_NODE_IO, error);
  vq__tconst_free (shape);
  for (int k = 0; k < n; k++) {
    vq__tfjs_tensor t = { 0 };
    t.is_const = TRUE;
    t.owns_const = TRUE;
    t.c = outs[k];
    vq__tfjs_set_output (ctx, node, k, &t);
  }
  return n >= 0;
}

static gboolean
import_node (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, GError **error)
{
  if (strcmp (node->op, "Const") == 0)
    return import_const (ctx, node, error);
  if (strcmp (node->op, "Placeholder") == 0)
    return import_placeholder (ctx, node, error);

  vq__tfjs_tensor **in = g_new0 (vq__tfjs_tensor *, node->n_inputs + 1);
  gboolean all_const = TRUE, any_padded = FALSE, ok = TRUE;
  for (guint i = 0; i < node->n_inputs; i++) {
    in[i] = g_hash_table_lookup (ctx->tensors, node->inputs[i]);
    if (in[i] == NULL) {
      vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "input '%s' does not exist", node->inputs[i]);
      g_free (in);
      return FALSE;
    }
    all_const = all_const && in[i]->is_const;
    any_padded = any_padded || in[i]->padded;
  }
  gboolean shape_of_act = strcmp (node->op, "Shape") == 0 && node->n_inputs == 1;
  if ((all_const || shape_of_act) && node->n_inputs > 0 && vq__tfjs_fold_supported (node->op)) {
    ok = import_folded (ctx, node, in, error);
    g_free (in);
    return ok;
  }

  const vq__tfjs_op_entry *entry = vq__tfjs_op_lookup (node->op);
  if (entry == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED, "unsupported op '%s' at node '%s'",
                 node->op, node->name);
    ok = FALSE;
  } else if (any_padded && !entry->accepts_padded) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                   "reads a padded tensor; a Pad can only be folded into a conv or pool");
    ok = FALSE;
  } else {
    for (guint i = 0; i < node->n_inputs; i++)
      if (!in[i]->is_const)
        info_of (ctx, in[i]->value)->remaining--;
    ok = entry->handler (ctx, node, in, node->n_inputs, error);
    if (ok && ctx->too_large) {
      vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                     "an output is empty or too large (a dimension above %d or more than %"
                     G_GINT64_FORMAT " elements)", VQ__TFJS_MAX_DIM, VQ__TFJS_MAX_VALUE_ELEMENTS);
      ok = FALSE;
    }
  }
  g_free (in);
  return ok;
}

static gint
compare_keys (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* Output tensor keys: the signature's outputs sorted by name, else every
 * non-constant tensor nothing reads, sorted by name. */
static GPtrArray *
output_keys (const vq__tfjs_model *model, GHashTable *read)
{
  GPtrArray *keys = g_ptr_array_new_with_free_func (g_free);
  if (model->output_names != NULL) {
    for (char **n = model->output_names; *n; n++) {
      size_t len = strlen (*n);
      g_ptr_array_add (keys, len > 2 && strcmp (*n + len - 2, ":0") == 0
                                 ? g_strndup (*n, len - 2) : g_strdup (*n));
    }
    return keys;
  }
  for (guint i = 0; i < model->n_nodes; i++) {
    const vq__tfjs_node *node = &model->nodes[i];
    if (strcmp (node->op, "Const") != 0 && !g_hash_table_contains (read, node->name))
      g_ptr_array_add (keys, g_strdup (node->name));
  }
  g_ptr_array_sort (keys, compare_keys);
  return keys;
}

static gboolean
bind_outputs (vq__tfjs_ctx *ctx, GPtrArray *keys, GError **error)
{
  for (guint k = 0; k < keys->len; k++) {
    const char *key = g_ptr_array_index (keys, k);
    vq__tfjs_tensor *t = g_hash_table_lookup (ctx->tensors, key);
    if (t == NULL || t->is_const || t->padded) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                   "%s: output '%s' is %s", ctx->model->path, key,
                   t == NULL ? "not produced by the graph"
                   : t->is_const ? "a constant" : "a bare Pad");
      return FALSE;
    }
    /* Outputs are returned in the model's own (TF) layout. */
    int identity[VQ_MAX_RANK];
    vq__tfjs_perm_identity (identity, t->rank);
    vq__tfjs_node pseudo = { .name = key, .op = "output" };
    uint32_t value;
    if (!vq__tfjs_materialize (ctx, &pseudo, t, identity, &value, error))
      return FALSE;
    /* Name output values after the model's outputs (inputs keep theirs). */
    gboolean is_input = FALSE;
    for (uint32_t i = 0; i < ctx->graph->n_inputs; i++)
      is_input = is_input || ctx->graph->inputs[i] == value;
    if (!is_input) {
      g_free (ctx->graph->values[value].name);
      ctx->graph->values[value].name = g_strdup (key);
    }
    vq_graph_add_output (ctx->graph, value);
  }
  return TRUE;
}

static vq_graph *
import_model (const vq__tfjs_model *model, GError **error)
{
  GHashTable *by_name = g_hash_table_new (g_str_hash, g_str_equal);
  GHashTable *read = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gboolean ok = TRUE;
  for (guint i = 0; i < model->n_nodes; i++) {
    if (ok && g_hash_table_contains (by_name, model->nodes[i].name)) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: two nodes are named '%s'",
                   model->path, model->nodes[i].name);
      ok = FALSE;
    }
    g_hash_table_insert (by_name, (gpointer) model->nodes[i].name, GUINT_TO_POINTER (i));
    for (guint j = 0; j < model->nodes[i].n_inputs; j++)
      g_hash_table_add (read, node_of_key (model->nodes[i].inputs[j]));
  }
  GPtrArray *keys = output_keys (model, read);
  GPtrArray *roots = g_ptr_array_new ();
  GPtrArray *input_nodes = g_ptr_array_new ();
  if (ok && keys->len == 0) {
    ok = FALSE;
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: the model has no outputs", model->path);
  }
  /* Every input is imported, used or not, so that input 0 stays input 0. */
  for (guint i = 0; ok && i < model->n_nodes; i++)
    if (strcmp (model->nodes[i].op, "Placeholder") == 0)
      g_ptr_array_add (input_nodes, GUINT_TO_POINTER (i));
  if (ok && model->input_names != NULL) {
    g_ptr_array_set_size (input_nodes, 0);
    for (char **n = model->input_names; ok && *n; n++) {
      char *name = node_of_key (*n);
      gpointer idx;
      ok = g_hash_table_lookup_extended (by_name, name, NULL, &idx);
      if (ok)
        g_ptr_array_add (input_nodes, idx);
      else
        g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: signature input '%s' has no node",
                     model->path, *n);
      g_free (name);
    }
  }
  for (guint i = 0; ok && i < input_nodes->len; i++)
    g_ptr_array_add (roots, g_ptr_array_index (input_nodes, i));
  for (guint k = 0; ok && k < keys->len; k++) {
    char *name = node_of_key (g_ptr_array_index (keys, k));
    gpointer idx;
    ok = g_hash_table_lookup_extended (by_name, name, NULL, &idx);
    if (ok)
      g_ptr_array_add (roots, idx);
    else
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: output '%s' has no node",
                   model->path, name);
    g_free (name);
  }
  GArray *order = ok ? topological_order (model, by_name, roots, error) : NULL;

  vq__tfjs_ctx ctx = { 0 };
  ctx.graph = vq_graph_new ();
  ctx.model = model;
  ctx.tensors = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                       (GDestroyNotify) tensor_free);
  ctx.consumers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  ctx.values = g_array_new (FALSE, TRUE, sizeof (vq__tfjs_value_info));
  ctx.transposed = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  if (order != NULL) {
    /* Consumers per tensor, counting graph outputs as one more reader, so
     * that nothing is fused into a value the application reads. */
    for (guint k = 0; k < order->len; k++) {
      const vq__tfjs_node *node = &model->nodes[g_array_index (order, guint, k)];
      /* Shape reads no data (it is folded from the static shape). */
      if (strcmp (node->op, "Shape") == 0)
        continue;
      for (guint j = 0; j < node->n_inputs; j++) {
        gpointer old = g_hash_table_lookup (ctx.consumers, node->inputs[j]);
        g_hash_table_replace (ctx.consumers, g_strdup (node->inputs[j]),
                              GINT_TO_POINTER (GPOINTER_TO_INT (old) + 1));
      }
    }
    for (guint k = 0; k < keys->len; k++) {
      const char *key = g_ptr_array_index (keys, k);
      gpointer old = g_hash_table_lookup (ctx.consumers, key);
      g_hash_table_replace (ctx.consumers, g_strdup (key),
                            GINT_TO_POINTER (GPOINTER_TO_INT (old) + 1));
    }
  }
  ok = order != NULL;
  for (guint k = 0; ok && k < order->len; k++)
    ok = import_node (&ctx, &model->nodes[g_array_index (order, guint, k)], error);
  for (guint i = 0; ok && i < input_nodes->len; i++) {
    const vq__tfjs_node *node = &model->nodes[GPOINTER_TO_UINT (g_ptr_array_index (input_nodes, i))];
    vq__tfjs_tensor *t = g_hash_table_lookup (ctx.tensors, node->name);
    ok = t != NULL && !t->is_const;
    if (ok)
      vq_graph_add_input (ctx.graph, t->value);
    else
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: input '%s' is not a Placeholder",
                   model->path, node->name);
  }
  ok = ok && bind_outputs (&ctx, keys, error);
  if (ok)
    vq__tfjs_optimize (ctx.graph);

  if (order)
    g_array_unref (order);
  g_hash_table_unref (ctx.tensors);
  g_hash_table_unref (ctx.consumers);
  g_hash_table_unref (ctx.transposed);
  g_array_unref (ctx.values);
  g_ptr_array_unref (keys);
  g_ptr_array_unref (roots);
  g_ptr_array_unref (input_nodes);
  g_hash_table_unref (read);
  g_hash_table_unref (by_name);
  if (!ok) {
    vq_graph_free (ctx.graph);
    return NULL;
  }
  return ctx.graph;
}

vq_graph *
vq_tfjs_import_graph (const char *model_json_path, GError **error)
{
  g_return_val_if_fail (model_json_path != NULL, NULL);
  vq__tfjs_model model;
  vq_graph *graph = NULL;
  if (vq__tfjs_model_load (model_json_path, &model, error)) {
    GError *local = NULL;
    graph = import_model (&model, &local);
    /* Op-level messages name the node; add the file. */
    if (local != NULL && !g_str_has_prefix (local->message, model_json_path))
      g_prefix_error (&local, "%s: ", model_json_path);
    if (local != NULL)
      g_propagate_error (error, local);
  }
  vq__tfjs_model_clear (&model);
  if (graph != NULL && !vq_graph_validate (graph, error)) {
    g_prefix_error (error, "%s: the imported graph is invalid: ", model_json_path);
    vq_graph_free (graph);
    return NULL;
  }
  return graph;
}
