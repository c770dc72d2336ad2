/* Reads a TF.js graph model's model.json: the GraphDef nodes, the
 * signature, and (through tfjs_weights.c) the weights. Also the accessors
 * for node attributes, which the JSON encodes protobuf-style: integers as
 * strings, strings as base64. */
#include "tfjs_private.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

/* Reads a JSON number or a numeric string (protobuf JSON writes int64 as
 * strings). */
static gboolean
node_int64 (JsonNode *node, int64_t *out)
{
  if (node == NULL || !JSON_NODE_HOLDS_VALUE (node))
    return FALSE;
  GType type = json_node_get_value_type (node);
  if (type == G_TYPE_INT64) {
    *out = json_node_get_int (node);
    return TRUE;
  }
  if (type == G_TYPE_DOUBLE) {
    *out = (int64_t) json_node_get_double (node);
    return TRUE;
  }
  if (type == G_TYPE_STRING) {
    const char *text = json_node_get_string (node);
    char *end = NULL;
    gint64 v = g_ascii_strtoll (text, &end, 10);
    if (end == text || *end != '\0')
      return FALSE;
    *out = v;
    return TRUE;
  }
  return FALSE;
}

/* The member `key` when it holds a number, string or boolean. */
static JsonNode *
value_member (JsonObject *object, const char *key)
{
  JsonNode *member = json_object_get_member (object, key);
  return member != NULL && JSON_NODE_HOLDS_VALUE (member) ? member : NULL;
}

/* json-glib's *_member_with_default getters warn (a g_critical, fatal in
 * tests) when the member is an object or array, and the string one returns
 * NULL for a number; a damaged file must get the fallback instead. */
const char *
vq__tfjs_json_string (JsonObject *object, const char *key, const char *fallback)
{
  JsonNode *member = value_member (object, key);
  const char *s = member ? json_node_get_string (member) : NULL;
  return s ? s : fallback;
}

double
vq__tfjs_json_double (JsonObject *object, const char *key, double fallback)
{
  JsonNode *member = value_member (object, key);
  return member ? json_node_get_double (member) : fallback;
}

gboolean
vq__tfjs_json_bool (JsonObject *object, const char *key, gboolean fallback)
{
  JsonNode *member = value_member (object, key);
  return member ? json_node_get_boolean (member) : fallback;
}

static JsonObject *
attr_object (const vq__tfjs_node *node, const char *key)
{
  if (node->attr == NULL || !json_object_has_member (node->attr, key))
    return NULL;
  JsonNode *member = json_object_get_member (node->attr, key);
  return JSON_NODE_HOLDS_OBJECT (member) ? json_node_get_object (member) : NULL;
}

static char *
decode_base64_string (const char *text)
{
  gsize length = 0;
  guchar *bytes = g_base64_decode (text, &length);
  char *s = g_strndup ((const char *) bytes, length);
  g_free (bytes);
  return s;
}

char *
vq__tfjs_attr_string (const vq__tfjs_node *node, const char *key)
{
  JsonObject *a = attr_object (node, key);
  if (a == NULL || !json_object_has_member (a, "s"))
    return NULL;
  const char *text = vq__tfjs_json_string (a, "s", NULL);
  return text ? decode_base64_string (text) : NULL;
}

static JsonArray *
attr_list (const vq__tfjs_node *node, const char *key, const char *kind)
{
  JsonObject *a = attr_object (node, key);
  if (a == NULL || !json_object_has_member (a, "list"))
    return NULL;
  JsonNode *list = json_object_get_member (a, "list");
  if (!JSON_NODE_HOLDS_OBJECT (list))
    return NULL;
  JsonObject *lo = json_node_get_object (list);
  if (!json_object_has_member (lo, kind))
    return NULL;
  JsonNode *items = json_object_get_member (lo, kind);
  return JSON_NODE_HOLDS_ARRAY (items) ? json_node_get_array (items) : NULL;
}

gboolean
vq__tfjs_attr_ints (const vq__tfjs_node *node, const char *key, int64_t *out,
                    int max, int *n)
{
  JsonObject *a = attr_object (node, key);
  *n = 0;
  if (a == NULL)
    return FALSE;
  JsonArray *items = attr_list (node, key, "i");
  if (items == NULL)
    /* An empty list is written as {"list": {}}. */
    return json_object_has_member (a, "list");
  guint len = json_array_get_length (items);
  if (len > (guint) max)
    return FALSE;
  for (guint i = 0; i < len; i++)
    if (!node_int64 (json_array_get_element (items, i), &out[i]))
      return FALSE;
  *n = (int) len;
  return TRUE;
}

char **
vq__tfjs_attr_strings (const vq__tfjs_node *node, const char *key)
{
  JsonArray *items = attr_list (node, key, "s");
  guint len = items ? json_array_get_length (items) : 0;
  char **out = g_new0 (char *, len + 1);
  for (guint i = 0; i < len; i++) {
    const char *text = json_node_get_string (json_array_get_element (items, i));
    out[i] = decode_base64_string (text ? text : "");
  }
  return out;
}

float
vq__tfjs_attr_float (const vq__tfjs_node *node, const char *key, float fallback)
{
  JsonObject *a = attr_object (node, key);
  if (a == NULL || !json_object_has_member (a, "f"))
    return fallback;
  JsonNode *v = json_object_get_member (a, "f");
  if (!JSON_NODE_HOLDS_VALUE (v))
    return fallback;
  if (json_node_get_value_type (v) == G_TYPE_STRING) {
    /* Protobuf JSON spells non-finite floats as strings. */
    const char *s = json_node_get_string (v);
    if (g_strcmp0 (s, "Infinity") == 0)
      return INFINITY;
    if (g_strcmp0 (s, "-Infinity") == 0)
      return -INFINITY;
    return (float) g_ascii_strtod (s, NULL);
  }
  return (float) json_node_get_double (v);
}

gboolean
vq__tfjs_attr_bool (const vq__tfjs_node *node, const char *key, gboolean fallback)
{
  JsonObject *a = attr_object (node, key);
  if (a == NULL || !json_object_has_member (a, "b"))
    return fallback;
  return vq__tfjs_json_bool (a, "b", fallback);
}

int64_t
vq__tfjs_attr_int (const vq__tfjs_node *node, const char *key, int64_t fallback)
{
  JsonObject *a = attr_object (node, key);
  int64_t v;
  if (a == NULL || !node_int64 (json_object_get_member (a, "i"), &v))
    return fallback;
  return v;
}

const char *
vq__tfjs_attr_type (const vq__tfjs_node *node, const char *key)
{
  JsonObject *a = attr_object (node, key);
  return a ? vq__tfjs_json_string (a, "type", NULL) : NULL;
}

/* Reads a TensorShapeProto ({"dim": [{"size": "3"}, {}]}); an absent size
 * is 0 (proto3 default), "unknownRank" gives FALSE. */
static gboolean
read_shape (JsonObject *shape, int64_t *out, int max, int *rank)
{
  *rank = 0;
  if (vq__tfjs_json_bool (shape, "unknownRank", FALSE))
    return FALSE;
  if (!json_object_has_member (shape, "dim"))
    return TRUE;
  JsonNode *dim = json_object_get_member (shape, "dim");
  if (!JSON_NODE_HOLDS_ARRAY (dim))
    return FALSE;
  JsonArray *dims = json_node_get_array (dim);
  guint len = json_array_get_length (dims);
  if (len > (guint) max)
    return FALSE;
  for (guint i = 0; i < len; i++) {
    JsonNode *d = json_array_get_element (dims, i);
    out[i] = 0;
    if (!JSON_NODE_HOLDS_OBJECT (d))
      return FALSE;
    JsonObject *dobj = json_node_get_object (d);
    if (json_object_has_member (dobj, "size")
        && !node_int64 (json_object_get_member (dobj, "size"), &out[i]))
      return FALSE;
  }
  *rank = (int) len;
  return TRUE;
}

gboolean
vq__tfjs_attr_shape (const vq__tfjs_node *node, const char *key, int64_t *out,
                     int max, int *rank)
{
  JsonObject *a = attr_object (node, key);
  *rank = 0;
  if (a == NULL || !json_object_has_member (a, "shape"))
    return FALSE;
  JsonNode *s = json_object_get_member (a, "shape");
  return JSON_NODE_HOLDS_OBJECT (s) && read_shape (json_node_get_object (s), out, max, rank);
}

vq__tconst *
vq__tfjs_attr_tensor (const vq__tfjs_node *node, GError **error)
{
  JsonObject *a = attr_object (node, "value");
  JsonNode *tn = a && json_object_has_member (a, "tensor")
                     ? json_object_get_member (a, "tensor") : NULL;
  if (tn == NULL || !JSON_NODE_HOLDS_OBJECT (tn)) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "constant has no weight and no value");
    return NULL;
  }
  JsonObject *t = json_node_get_object (tn);
  const char *dtype = vq__tfjs_json_string (t, "dtype", "");
  gboolean is_float = strcmp (dtype, "DT_FLOAT") == 0 || strcmp (dtype, "DT_HALF") == 0
                      || strcmp (dtype, "DT_DOUBLE") == 0;
  int64_t dims[VQ__TCONST_MAX_RANK];
  int rank = 0;
  JsonNode *sn = json_object_has_member (t, "tensorShape")
                     ? json_object_get_member (t, "tensorShape") : NULL;
  if (sn != NULL && (!JSON_NODE_HOLDS_OBJECT (sn)
                     || !read_shape (json_node_get_object (sn), dims, VQ__TCONST_MAX_RANK, &rank))) {
    vq__tfjs_fail (error, node, VQ_ERROR_FORMAT, "constant has a malformed shape");
    return NULL;
  }
  vq__tconst *c = vq__tconst_new (is_float, rank, dims, error);
  if (c == NULL)
    return NULL;
  /* Inline values come as a list that may be shorter than the tensor (the
   * last value repeats, as in TensorFlow's MakeNdarray). Only small
   * constants are written inline; tensorContent is not supported. */
  const char *list_key = is_float ? "floatVal"
                         : json_object_has_member (t, "int64Val") ? "int64Val"
                         : json_object_has_member (t, "boolVal") ? "boolVal" : "intVal";
  JsonNode *ln = json_object_has_member (t, list_key) ? json_object_get_member (t, list_key) : NULL;
  JsonArray *list = ln && JSON_NODE_HOLDS_ARRAY (ln) ? json_node_get_array (ln) : NULL;
  guint len = list ? json_array_get_length (list) : 0;
  if (c->numel > 0 && len == 0) {
    vq__tfjs_fail (error, node, VQ_ERROR_UNSUPPORTED,
                   "constant value is not in the weights and has no inline %s", list_key);
    vq__tconst_free (c);
    return NULL;
  }
  for (int64_t i = 0; i < c->numel; i++) {
    JsonNode *e = json_array_get_element (list, (guint) MIN ((int64_t) len - 1, i));
    if (is_float) {
      c->f[i] = JSON_NODE_HOLDS_VALUE (e) ? (float) json_node_get_double (e) : 0.0f;
    } else if (strcmp (list_key, "boolVal") == 0) {
      c->i[i] = JSON_NODE_HOLDS_VALUE (e) && json_node_get_boolean (e);
    } else if (!node_int64 (e, &c->i[i])) {
      c->i[i] = 0;
    }
  }
  return c;
}

/* ---- model.json ---------------------------------------------------------- */

static char **
sorted_member_names (JsonObject *signature, const char *member)
{
  if (signature == NULL || !json_object_has_member (signature, member))
    return NULL;
  JsonNode *n = json_object_get_member (signature, member);
  if (!JSON_NODE_HOLDS_OBJECT (n))
    return NULL;
  GList *names = json_object_get_members (json_node_get_object (n));
  names = g_list_sort (names, (GCompareFunc) strcmp);
  guint count = g_list_length (names);
  char **out = count ? g_new0 (char *, count + 1) : NULL;
  guint i = 0;
  for (GList *l = names; l && out; l = l->next)
    out[i++] = g_strdup (l->data);
  g_list_free (names);
  return out;
}

static gboolean
read_nodes (JsonObject *topology, vq__tfjs_model *model, GError **error)
{
  JsonNode *nn = json_object_has_member (topology, "node")
                     ? json_object_get_member (topology, "node") : NULL;
  if (nn == NULL || !JSON_NODE_HOLDS_ARRAY (nn)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: modelTopology has no node list",
                 model->path);
    return FALSE;
  }
  JsonArray *nodes = json_node_get_array (nn);
  model->n_nodes = json_array_get_length (nodes);
  model->nodes = g_new0 (vq__tfjs_node, model->n_nodes);
  for (guint i = 0; i < model->n_nodes; i++) {
    vq__tfjs_node *node = &model->nodes[i];
    node->index = i;
    JsonNode *en = json_array_get_element (nodes, i);
    JsonObject *o = JSON_NODE_HOLDS_OBJECT (en) ? json_node_get_object (en) : NULL;
    node->name = o ? vq__tfjs_json_string (o, "name", NULL) : NULL;
    node->op = o ? vq__tfjs_json_string (o, "op", NULL) : NULL;
    if (node->name == NULL || node->op == NULL) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "%s: node %u has no name or op", model->path, i);
      return FALSE;
    }
    JsonNode *an = json_object_has_member (o, "attr") ? json_object_get_member (o, "attr") : NULL;
    node->attr = an && JSON_NODE_HOLDS_OBJECT (an) ? json_node_get_object (an) : NULL;
    JsonNode *in = json_object_has_member (o, "input") ? json_object_get_member (o, "input") : NULL;
    JsonArray *inputs = in && JSON_NODE_HOLDS_ARRAY (in) ? json_node_get_array (in) : NULL;
    guint len = inputs ? json_array_get_length (inputs) : 0;
    node->inputs = g_new0 (char *, len + 1);
    for (guint j = 0; j < len; j++) {
      const char *s = json_node_get_string (json_array_get_element (inputs, j));
      if (s == NULL) {
        g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                     "%s: node '%s' has a malformed input list", model->path, node->name);
        return FALSE;
      }
      if (s[0] == '^')
        continue; /* control dependency: no data flows */
      /* "x:0" and "x" name the same tensor. */
      size_t n = strlen (s);
      node->inputs[node->n_inputs++] = n > 2 && strcmp (s + n - 2, ":0") == 0
                                           ? g_strndup (s, n - 2) : g_strdup (s);
    }
  }
  return TRUE;
}

gboolean
vq__tfjs_model_load (const char *path, vq__tfjs_model *model, GError **error)
{
  memset (model, 0, sizeof *model);
  model->path = g_strdup (path);
  model->parser = json_parser_new ();
  GError *local = NULL;
  if (!json_parser_load_from_file (model->parser, path, &local)) {
    gboolean io = local->domain == G_FILE_ERROR;
    /* json-glib's parse errors already start with the file name. */
    if (g_str_has_prefix (local->message, path))
      g_set_error_literal (error, VQ_ERROR, io ? VQ_ERROR_IO : VQ_ERROR_FORMAT, local->message);
    else
      g_set_error (error, VQ_ERROR, io ? VQ_ERROR_IO : VQ_ERROR_FORMAT,
                   "%s: %s", path, local->message);
    g_error_free (local);
    return FALSE;
  }
  JsonNode *root_node = json_parser_get_root (model->parser);
  JsonObject *root = root_node && JSON_NODE_HOLDS_OBJECT (root_node)
                         ? json_node_get_object (root_node) : NULL;
  JsonNode *tn = root && json_object_has_member (root, "modelTopology")
                     ? json_object_get_member (root, "modelTopology") : NULL;
  if (tn == NULL || !JSON_NODE_HOLDS_OBJECT (tn)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                 "%s: not a TF.js graph model (no modelTopology object)", path);
    return FALSE;
  }
  const char *format = vq__tfjs_json_string (root, "format", "graph-model");
  if (strcmp (format, "graph-model") != 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "%s: format '%s' is not supported (only graph-model)", path, format);
    return FALSE;
  }
  if (!read_nodes (json_node_get_object (tn), model, error))
    return FALSE;

  JsonNode *sn = json_object_has_member (root, "signature")
                     ? json_object_get_member (root, "signature") : NULL;
  JsonObject *signature = sn && JSON_NODE_HOLDS_OBJECT (sn) ? json_node_get_object (sn) : NULL;
  model->input_names = sorted_member_names (signature, "inputs");
  model->output_names = sorted_member_names (signature, "outputs");

  char *dir = g_path_get_dirname (path);
  gboolean ok = vq__tfjs_weights_load (root, dir, model, error);
  g_free (dir);
  return ok;
}

void
vq__tfjs_model_clear (vq__tfjs_model *model)
{
  for (guint i = 0; i < model->n_nodes; i++)
    g_strfreev (model->nodes[i].inputs);
  g_free (model->nodes);
  if (model->weights)
    g_hash_table_unref (model->weights);
  g_strfreev (model->input_names);
  g_strfreev (model->output_names);
  g_clear_object (&model->parser);
  g_free (model->path);
  memset (model, 0, sizeof *model);
}
