/* Reads a TF.js weights manifest and its binary shards.
 *
 * Each manifest group lists weights (name, shape, dtype, optional
 * quantization) and the shard files that, concatenated, hold their bytes in
 * list order. Float weights may be stored quantized: as float16
 * ({"dtype": "float16"}), or affinely as uint8/uint16 (value = q * scale +
 * min). Every length is checked against the bytes that the shards hold. */
#include "tfjs_private.h"

#include <string.h>

#include "common/half.h"

typedef enum {
  STORE_F32,
  STORE_I32,
  STORE_BOOL,
  STORE_F16,
  STORE_U8_AFFINE,
  STORE_U16_AFFINE,
} storage;

static int
storage_bytes (storage s)
{
  switch (s) {
  case STORE_F32:
  case STORE_I32:
    return 4;
  case STORE_F16:
  case STORE_U16_AFFINE:
    return 2;
  default:
    return 1;
  }
}

/* Concatenates the shards of one group. */
static GBytes *
read_shards (JsonObject *group, const char *dir, const char *model_path, GError **error)
{
  JsonNode *pn = json_object_has_member (group, "paths") ? json_object_get_member (group, "paths") : NULL;
  if (pn == NULL || !JSON_NODE_HOLDS_ARRAY (pn)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                 "%s: a weightsManifest group has no paths", model_path);
    return NULL;
  }
  JsonArray *paths = json_node_get_array (pn);
  GByteArray *all = g_byte_array_new ();
  for (guint i = 0; i < json_array_get_length (paths); i++) {
    const char *name = json_node_get_string (json_array_get_element (paths, i));
    if (name == NULL || name[0] == '\0' || g_path_is_absolute (name) || strstr (name, "..")) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "%s: invalid weight shard path in the manifest", model_path);
      g_byte_array_unref (all);
      return NULL;
    }
    char *file = g_build_filename (dir, name, NULL);
    char *contents = NULL;
    gsize length = 0;
    GError *local = NULL;
    if (!g_file_get_contents (file, &contents, &length, &local)) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_IO, "cannot read weight shard %s: %s",
                   file, local->message);
      g_error_free (local);
      g_free (file);
      g_byte_array_unref (all);
      return NULL;
    }
    g_byte_array_append (all, (const guint8 *) contents, (guint) length);
    g_free (contents);
    g_free (file);
  }
  return g_byte_array_free_to_bytes (all);
}

static gboolean
parse_storage (JsonObject *w, const char *name, const char *model_path, storage *s,
               gboolean *is_float, float *scale, float *min, GError **error)
{
  const char *dtype = vq__tfjs_json_string (w, "dtype", "");
  if (strcmp (dtype, "float32") == 0) {
    *s = STORE_F32;
    *is_float = TRUE;
  } else if (strcmp (dtype, "int32") == 0) {
    *s = STORE_I32;
    *is_float = FALSE;
  } else if (strcmp (dtype, "bool") == 0) {
    *s = STORE_BOOL;
    *is_float = FALSE;
  } else {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "%s: weight '%s' has unsupported dtype '%s'", model_path, name, dtype);
    return FALSE;
  }
  JsonNode *qn = json_object_has_member (w, "quantization") ? json_object_get_member (w, "quantization") : NULL;
  if (qn == NULL || JSON_NODE_HOLDS_NULL (qn))
    return TRUE;
  if (!JSON_NODE_HOLDS_OBJECT (qn))
    goto bad;
  JsonObject *q = json_node_get_object (qn);
  const char *qtype = vq__tfjs_json_string (q, "dtype", "");
  if (strcmp (qtype, "float16") == 0) {
    *s = STORE_F16;
    return TRUE;
  }
  if (strcmp (qtype, "uint8") == 0 || strcmp (qtype, "uint16") == 0) {
    *s = qtype[4] == '8' ? STORE_U8_AFFINE : STORE_U16_AFFINE;
    *scale = (float) vq__tfjs_json_double (q, "scale", 1.0);
    *min = (float) vq__tfjs_json_double (q, "min", 0.0);
    return TRUE;
  }
bad:
  g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
               "%s: weight '%s' has an unsupported quantization", model_path, name);
  return FALSE;
}

static void
decode (vq__tconst *c, storage s, const guint8 *p, float scale, float min)
{
  for (int64_t i = 0; i < c->numel; i++) {
    double v;
    switch (s) {
    case STORE_F32: {
      float f;
      memcpy (&f, p + 4 * i, 4);
      v = f;
      break;
    }
    case STORE_I32: {
      int32_t x;
      memcpy (&x, p + 4 * i, 4);
      c->i[i] = x;
      continue;
    }
    case STORE_BOOL:
      c->i[i] = p[i] != 0;
      continue;
    case STORE_F16: {
      uint16_t h;
      memcpy (&h, p + 2 * i, 2);
      v = vq__half_to_float (h);
      break;
    }
    case STORE_U8_AFFINE:
      v = p[i] * scale + min;
      break;
    default: {
      uint16_t q;
      memcpy (&q, p + 2 * i, 2);
      v = q * scale + min;
      break;
    }
    }
    if (c->is_float)
      c->f[i] = (float) v;
    else
      c->i[i] = (int64_t) v;
  }
}

static gboolean
load_group (JsonObject *group, const char *dir, vq__tfjs_model *model, GError **error)
{
  GBytes *bytes = read_shards (group, dir, model->path, error);
  if (bytes == NULL)
    return FALSE;
  gsize total = 0;
  const guint8 *data = g_bytes_get_data (bytes, &total);
  JsonNode *wn = json_object_has_member (group, "weights") ? json_object_get_member (group, "weights") : NULL;
  JsonArray *weights = wn && JSON_NODE_HOLDS_ARRAY (wn) ? json_node_get_array (wn) : NULL;
  guint64 offset = 0;
  gboolean ok = weights != NULL;
  if (!ok)
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                 "%s: a weightsManifest group has no weights list", model->path);
  for (guint i = 0; ok && i < json_array_get_length (weights); i++) {
    JsonNode *en = json_array_get_element (weights, i);
    JsonObject *w = JSON_NODE_HOLDS_OBJECT (en) ? json_node_get_object (en) : NULL;
    const char *name = w ? vq__tfjs_json_string (w, "name", NULL) : NULL;
    JsonNode *sn = name && json_object_has_member (w, "shape") ? json_object_get_member (w, "shape") : NULL;
    JsonArray *shape = sn && JSON_NODE_HOLDS_ARRAY (sn) ? json_node_get_array (sn) : NULL;
    if (shape == NULL || json_array_get_length (shape) > VQ__TCONST_MAX_RANK) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "%s: weight %u of the manifest has no name or a bad shape", model->path, i);
      ok = FALSE;
      break;
    }
    int64_t dims[VQ__TCONST_MAX_RANK];
    int rank = (int) json_array_get_length (shape);
    gboolean shape_ok = TRUE;
    for (int d = 0; d < rank; d++) {
      JsonNode *dn = json_array_get_element (shape, (guint) d);
      shape_ok = shape_ok && JSON_NODE_HOLDS_VALUE (dn)
                 && json_node_get_value_type (dn) == G_TYPE_INT64;
      dims[d] = shape_ok ? json_node_get_int (dn) : 0;
    }
    if (!shape_ok) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "%s: weight '%s' has a malformed shape", model->path, name);
      ok = FALSE;
      break;
    }
    storage s;
    gboolean is_float;
    float scale = 1.0f, min = 0.0f;
    if (!parse_storage (w, name, model->path, &s, &is_float, &scale, &min, error)) {
      ok = FALSE;
      break;
    }
    vq__tconst *c = vq__tconst_new (is_float, rank, dims, error);
    if (c == NULL) {
      g_prefix_error (error, "%s: weight '%s': ", model->path, name);
      ok = FALSE;
      break;
    }
    guint64 need = (guint64) c->numel * (guint64) storage_bytes (s);
    if (offset + need > total) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "%s: weight data is truncated: '%s' needs bytes %" G_GUINT64_FORMAT
                   "..%" G_GUINT64_FORMAT " but the shards hold %" G_GSIZE_FORMAT,
                   model->path, name, offset, offset + need, total);
      vq__tconst_free (c);
      ok = FALSE;
      break;
    }
    decode (c, s, data + offset, scale, min);
    offset += need;
    if (is_float)
      model->float_weight_count += c->numel;
    g_hash_table_replace (model->weights, g_strdup (name), c);
  }
  g_bytes_unref (bytes);
  return ok;
}

gboolean
vq__tfjs_weights_load (JsonObject *root, const char *dir, vq__tfjs_model *model,
                       GError **error)
{
  model->weights = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) vq__tconst_free);
  if (!json_object_has_member (root, "weightsManifest"))
    return TRUE; /* a model may have no weights at all */
  JsonNode *mn = json_object_get_member (root, "weightsManifest");
  if (!JSON_NODE_HOLDS_ARRAY (mn)) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: weightsManifest is not a list",
                 model->path);
    return FALSE;
  }
  JsonArray *groups = json_node_get_array (mn);
  for (guint g = 0; g < json_array_get_length (groups); g++) {
    JsonNode *gn = json_array_get_element (groups, g);
    if (!JSON_NODE_HOLDS_OBJECT (gn)) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "%s: weightsManifest group %u is not an object", model->path, g);
      return FALSE;
    }
    if (!load_group (json_node_get_object (gn), dir, model, error))
      return FALSE;
  }
  return TRUE;
}
