/* Reads the META (typed metadata records) and LABL sections of a .vqm file
 * into a vq_model. Value checks (enum ranges, shapes against the graph) are
 * vq_model_validate's job; this file only checks that records are well
 * formed, present once and of the expected type and length. */
#include <string.h>

#include "vqcore/error.h"
#include "vqm_cursor.h"
#include "vqm_private.h"

typedef struct {
  uint32_t type;
  uint32_t size;
  const guint8 *payload;
} meta_record;

static const char *
meta_type_name (uint32_t type)
{
  switch (type) {
  case VQM_META_I32:
    return "i32";
  case VQM_META_F32:
    return "f32";
  case VQM_META_STRING:
    return "string";
  case VQM_META_U64:
    return "u64";
  case VQM_META_F64:
    return "f64";
  case VQM_META_BYTES:
    return "bytes";
  default:
    return "unknown";
  }
}

/* Finds a required record of `type`; for I32/F32 `count` is the exact
 * number of elements wanted, or 0 for "one or more". */
static const meta_record *
lookup (vq__cursor *c, GHashTable *records, const char *key, uint32_t type, uint32_t count)
{
  if (!vq__cursor_ok (c))
    return NULL;
  const meta_record *record = g_hash_table_lookup (records, key);
  if (record == NULL) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "required metadata '%s' is missing", key);
    return NULL;
  }
  if (record->type != type) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "metadata '%s' has type %s (%u), expected %s", key,
                     meta_type_name (record->type), record->type, meta_type_name (type));
    return NULL;
  }
  if (type == VQM_META_I32 || type == VQM_META_F32) {
    uint32_t n = record->size / 4;
    if (record->size % 4 != 0 || (count > 0 && n != count) || (count == 0 && n == 0)) {
      if (count > 0)
        vq__cursor_fail (c, VQ_ERROR_FORMAT, "metadata '%s' has %u bytes, expected %u %s values",
                         key, record->size, count, meta_type_name (type));
      else
        vq__cursor_fail (c, VQ_ERROR_FORMAT,
                         "metadata '%s' has %u bytes, expected one or more %s values", key,
                         record->size, meta_type_name (type));
      return NULL;
    }
  }
  return record;
}

static int32_t
get_i32 (vq__cursor *c, GHashTable *records, const char *key)
{
  const meta_record *record = lookup (c, records, key, VQM_META_I32, 1);
  return record ? (int32_t) vq__le32 (record->payload) : 0;
}

static float
get_f32_at (const meta_record *record, uint32_t i)
{
  uint32_t bits = vq__le32 (record->payload + 4 * i);
  float f;
  memcpy (&f, &bits, sizeof f);
  return f;
}

static float
get_f32 (vq__cursor *c, GHashTable *records, const char *key)
{
  const meta_record *record = lookup (c, records, key, VQM_META_F32, 1);
  return record ? get_f32_at (record, 0) : 0.0f;
}

static char *
get_string (vq__cursor *c, GHashTable *records, const char *key)
{
  const meta_record *record = lookup (c, records, key, VQM_META_STRING, 0);
  if (record == NULL)
    return NULL;
  const char *text = (const char *) record->payload;
  if (memchr (text, 0, record->size) != NULL
      || !g_utf8_validate_len (text, record->size, NULL)) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "metadata '%s' is not NUL-free UTF-8 text", key);
    return NULL;
  }
  return g_strndup (text, record->size);
}

/* Reads a per-level array; all three level arrays must have one length. */
static void
get_levels (vq__cursor *c, GHashTable *records, const char *key, int32_t *out,
            uint32_t *n_levels)
{
  const meta_record *record = lookup (c, records, key, VQM_META_I32, 0);
  if (record == NULL)
    return;
  uint32_t n = record->size / 4;
  if (*n_levels == 0 && (n == 0 || n > VQ_MAX_LEVELS)) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "metadata '%s' has %u levels, expected 1 to %d", key, n,
                     VQ_MAX_LEVELS);
    return;
  }
  if (*n_levels != 0 && n != *n_levels) {
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "metadata '%s' has %u levels but '%s' has %u", key, n,
                     VQM_KEY_STRIDES, *n_levels);
    return;
  }
  *n_levels = n;
  for (uint32_t i = 0; i < n; i++)
    out[i] = (int32_t) vq__le32 (record->payload + 4 * i);
}

static void
read_records (vq__cursor *c, GHashTable *records)
{
  uint32_t count = vq__cursor_u32 (c, "record count");
  if (!vq__cursor_check_count (c, count, VQM_META_RECORD_MIN, "metadata records"))
    return;
  for (uint32_t i = 0; i < count && vq__cursor_ok (c); i++) {
    char *key = vq__cursor_string (c, "metadata key");
    meta_record record;
    record.type = vq__cursor_u32 (c, "metadata type");
    record.size = vq__cursor_u32 (c, "metadata size");
    record.payload = vq__cursor_bytes (c, record.size, "metadata value");
    vq__cursor_pad4 (c, "metadata value");
    if (!vq__cursor_ok (c)) {
      g_free (key);
      return;
    }
    if (g_hash_table_contains (records, key)) {
      vq__cursor_fail (c, VQ_ERROR_FORMAT, "metadata '%s' appears twice", key);
      g_free (key);
      return;
    }
    /* Unknown keys and types stay in the table unread: later minor
     * versions may add them. */
    g_hash_table_insert (records, key, g_memdup2 (&record, sizeof record));
  }
  if (vq__cursor_ok (c) && vq__cursor_remaining (c) != 0)
    vq__cursor_fail (c, VQ_ERROR_FORMAT, "%" G_GSIZE_FORMAT " unexpected bytes after the records",
                     vq__cursor_remaining (c));
}

gboolean
vq__vqm_parse_meta (vq_model *model, const guint8 *data, gsize size, const char *file,
                    GError **error)
{
  vq__cursor c;
  vq__cursor_init (&c, data, size, file, "meta", error);
  GHashTable *records = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  read_records (&c, records);

  model->name = get_string (&c, records, VQM_KEY_NAME);
  model->description = get_string (&c, records, VQM_KEY_DESCRIPTION);

  model->input.width = get_i32 (&c, records, VQM_KEY_INPUT_WIDTH);
  model->input.height = get_i32 (&c, records, VQM_KEY_INPUT_HEIGHT);
  model->input.channels = get_i32 (&c, records, VQM_KEY_INPUT_CHANNELS);

  vq_preprocess *pre = &model->preprocess;
  pre->color_order = (vq_color_order) get_i32 (&c, records, VQM_KEY_COLOR_ORDER);
  pre->fit = (vq_fit_mode) get_i32 (&c, records, VQM_KEY_FIT);
  const meta_record *mean = lookup (&c, records, VQM_KEY_MEAN, VQM_META_F32, 3);
  const meta_record *std = lookup (&c, records, VQM_KEY_STD, VQM_META_F32, 3);
  for (uint32_t i = 0; i < 3 && mean != NULL && std != NULL; i++) {
    pre->mean[i] = get_f32_at (mean, i);
    pre->std[i] = get_f32_at (std, i);
  }

  vq_decoder *dec = &model->decoder;
  dec->kind = (vq_decoder_kind) get_i32 (&c, records, VQM_KEY_DECODER_KIND);
  dec->num_classes = get_i32 (&c, records, VQM_KEY_NUM_CLASSES);
  dec->reg_max = get_i32 (&c, records, VQM_KEY_REG_MAX);
  dec->n_levels = 0;
  get_levels (&c, records, VQM_KEY_STRIDES, dec->strides, &dec->n_levels);
  get_levels (&c, records, VQM_KEY_SCORE_OUTPUTS, dec->score_outputs, &dec->n_levels);
  get_levels (&c, records, VQM_KEY_BOX_OUTPUTS, dec->box_outputs, &dec->n_levels);
  dec->score_threshold = get_f32 (&c, records, VQM_KEY_SCORE_THRESHOLD);
  dec->nms_iou = get_f32 (&c, records, VQM_KEY_NMS_IOU);
  dec->max_detections = get_i32 (&c, records, VQM_KEY_MAX_DETECTIONS);

  g_hash_table_unref (records);
  return vq__cursor_ok (&c);
}

gboolean
vq__vqm_parse_labels (vq_model *model, const guint8 *data, gsize size, const char *file,
                      GError **error)
{
  vq__cursor c;
  vq__cursor_init (&c, data, size, file, "labels", error);
  uint32_t count = vq__cursor_u32 (&c, "label count");
  /* Each label takes at least its 4-byte length. */
  if (!vq__cursor_check_count (&c, count, 4, "labels"))
    return FALSE;
  model->labels = g_new0 (char *, (gsize) count + 1);
  for (uint32_t i = 0; i < count && vq__cursor_ok (&c); i++)
    model->labels[i] = vq__cursor_string (&c, "label");
  if (vq__cursor_ok (&c) && vq__cursor_remaining (&c) != 0)
    vq__cursor_fail (&c, VQ_ERROR_FORMAT, "%" G_GSIZE_FORMAT " unexpected bytes after the labels",
                     vq__cursor_remaining (&c));
  return vq__cursor_ok (&c);
}
