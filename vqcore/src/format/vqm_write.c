/* Writes a vq_model as a .vqm file (layout in vqcore/vqm.h). The whole file
 * is assembled in memory, then written atomically, so a reader never sees a
 * half-written model. */
#include <string.h>

#include "crc32.h"
#include "vqcore/error.h"
#include "vqm_private.h"

/* The order sections are written in. */
static const uint32_t section_order[] = {
  VQM_SECTION_META, VQM_SECTION_LABELS, VQM_SECTION_GRAPH, VQM_SECTION_BLOBS, VQM_SECTION_DATA,
};
#define N_SECTIONS G_N_ELEMENTS (section_order)

static void
put_u16_at (guint8 *p, uint16_t v)
{
  p[0] = (guint8) v;
  p[1] = (guint8) (v >> 8);
}

static void
put_u32_at (guint8 *p, uint32_t v)
{
  for (int i = 0; i < 4; i++)
    p[i] = (guint8) (v >> (8 * i));
}

static void
put_u64_at (guint8 *p, uint64_t v)
{
  for (int i = 0; i < 8; i++)
    p[i] = (guint8) (v >> (8 * i));
}

static void
put_u32 (GByteArray *out, uint32_t v)
{
  guint8 bytes[4];
  put_u32_at (bytes, v);
  g_byte_array_append (out, bytes, 4);
}

static void
put_i32 (GByteArray *out, int32_t v)
{
  put_u32 (out, (uint32_t) v);
}

static void
put_f32 (GByteArray *out, float v)
{
  uint32_t bits;
  memcpy (&bits, &v, sizeof bits);
  put_u32 (out, bits);
}

static void
put_u64 (GByteArray *out, uint64_t v)
{
  guint8 bytes[8];
  put_u64_at (bytes, v);
  g_byte_array_append (out, bytes, 8);
}

static void
pad_to (GByteArray *out, guint alignment)
{
  static const guint8 zeros[VQM_ALIGNMENT] = { 0 };
  guint pad = (alignment - out->len % alignment) % alignment;
  g_byte_array_append (out, zeros, pad);
}

static void
put_string (GByteArray *out, const char *s)
{
  gsize length = s ? strlen (s) : 0;
  put_u32 (out, (uint32_t) length);
  g_byte_array_append (out, (const guint8 *) (s ? s : ""), (guint) length);
  pad_to (out, 4);
}

static void
put_shape (GByteArray *out, const vq_shape *shape)
{
  put_u32 (out, shape->rank);
  for (uint32_t i = 0; i < VQ_MAX_RANK; i++)
    put_i32 (out, i < shape->rank ? shape->dims[i] : 0);
}

/* A metadata record: key, type, size, payload of `count` 4-byte values (or
 * a string when type is STRING). */
static void
put_meta (GByteArray *out, const char *key, uint32_t type, const void *values, uint32_t count)
{
  put_string (out, key);
  put_u32 (out, type);
  if (type == VQM_META_STRING) {
    const char *s = values ? values : "";
    put_u32 (out, (uint32_t) strlen (s));
    g_byte_array_append (out, (const guint8 *) s, (guint) strlen (s));
  } else {
    put_u32 (out, count * 4);
    /* memcpy: the values are int32_t or float arrays. */
    for (uint32_t i = 0; i < count; i++) {
      uint32_t word;
      memcpy (&word, (const guint8 *) values + 4 * i, 4);
      put_u32 (out, word);
    }
  }
  pad_to (out, 4);
}

static void
put_meta_i32 (GByteArray *out, const char *key, int32_t v)
{
  put_meta (out, key, VQM_META_I32, &v, 1);
}

static void
put_meta_f32 (GByteArray *out, const char *key, float v)
{
  put_meta (out, key, VQM_META_F32, &v, 1);
}

static void
write_meta (GByteArray *out, const vq_model *model)
{
  const vq_decoder *dec = &model->decoder;
  uint32_t levels = MIN (dec->n_levels, VQ_MAX_LEVELS);
  put_u32 (out, 18); /* record count: keep in step with the records below */
  put_meta (out, VQM_KEY_NAME, VQM_META_STRING, model->name, 0);
  put_meta (out, VQM_KEY_DESCRIPTION, VQM_META_STRING, model->description, 0);
  put_meta_i32 (out, VQM_KEY_INPUT_WIDTH, model->input.width);
  put_meta_i32 (out, VQM_KEY_INPUT_HEIGHT, model->input.height);
  put_meta_i32 (out, VQM_KEY_INPUT_CHANNELS, model->input.channels);
  put_meta_i32 (out, VQM_KEY_COLOR_ORDER, (int32_t) model->preprocess.color_order);
  put_meta (out, VQM_KEY_MEAN, VQM_META_F32, model->preprocess.mean, 3);
  put_meta (out, VQM_KEY_STD, VQM_META_F32, model->preprocess.std, 3);
  put_meta_i32 (out, VQM_KEY_FIT, (int32_t) model->preprocess.fit);
  put_meta_i32 (out, VQM_KEY_DECODER_KIND, (int32_t) dec->kind);
  put_meta_i32 (out, VQM_KEY_NUM_CLASSES, dec->num_classes);
  put_meta_i32 (out, VQM_KEY_REG_MAX, dec->reg_max);
  put_meta (out, VQM_KEY_STRIDES, VQM_META_I32, dec->strides, levels);
  put_meta (out, VQM_KEY_SCORE_OUTPUTS, VQM_META_I32, dec->score_outputs, levels);
  put_meta (out, VQM_KEY_BOX_OUTPUTS, VQM_META_I32, dec->box_outputs, levels);
  put_meta_f32 (out, VQM_KEY_SCORE_THRESHOLD, dec->score_threshold);
  put_meta_f32 (out, VQM_KEY_NMS_IOU, dec->nms_iou);
  put_meta_i32 (out, VQM_KEY_MAX_DETECTIONS, dec->max_detections);
}

static void
write_labels (GByteArray *out, const vq_model *model)
{
  uint32_t count = model->labels ? g_strv_length (model->labels) : 0;
  put_u32 (out, count);
  for (uint32_t i = 0; i < count; i++)
    put_string (out, model->labels[i]);
}

static void
write_params (GByteArray *out, const vq_node *node)
{
  const vq_conv_params *conv = &node->p.conv;
  const vq_pool_params *pool = &node->p.pool;
  put_u32 (out, (uint32_t) vq__vqm_params_size (node->op));
  switch (node->op) {
  case VQ_OP_CONV2D: {
    const int32_t fields[] = { conv->kernel_h, conv->kernel_w, conv->stride_h, conv->stride_w,
      conv->dilation_h, conv->dilation_w, conv->pad_top, conv->pad_left, conv->pad_bottom,
      conv->pad_right, conv->groups, conv->out_channels, conv->weights.dense,
      conv->weights.codebook, conv->weights.indices, conv->weights.scales, conv->bias };
    G_STATIC_ASSERT (sizeof fields == VQM_PARAMS_CONV2D_SIZE);
    for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
      put_i32 (out, fields[i]);
    break;
  }
  case VQ_OP_MAX_POOL:
  case VQ_OP_AVG_POOL: {
    const int32_t fields[] = { pool->kernel_h, pool->kernel_w, pool->stride_h, pool->stride_w,
      pool->pad_top, pool->pad_left, pool->pad_bottom, pool->pad_right };
    for (gsize i = 0; i < G_N_ELEMENTS (fields); i++)
      put_i32 (out, fields[i]);
    put_f32 (out, pool->pad_value);
    put_u32 (out, pool->count_include_pad ? 1 : 0);
    break;
  }
  case VQ_OP_RESIZE:
    put_u32 (out, (uint32_t) node->p.resize.mode);
    put_u32 (out, node->p.resize.align_corners ? 1 : 0);
    put_u32 (out, node->p.resize.half_pixel_centers ? 1 : 0);
    break;
  case VQ_OP_CONCAT:
  case VQ_OP_SPLIT:
    put_i32 (out, node->p.axis.axis);
    break;
  case VQ_OP_TRANSPOSE:
    for (int i = 0; i < VQ_MAX_RANK; i++)
      put_i32 (out, node->p.transpose.perm[i]);
    break;
  default:
    break;
  }
}

static void
write_graph (GByteArray *out, const vq_graph *graph)
{
  put_u32 (out, graph->n_values);
  put_u32 (out, graph->n_nodes);
  put_u32 (out, graph->n_inputs);
  put_u32 (out, graph->n_outputs);
  for (uint32_t i = 0; i < graph->n_values; i++) {
    put_string (out, graph->values[i].name);
    put_shape (out, &graph->values[i].shape);
  }
  for (uint32_t i = 0; i < graph->n_inputs; i++)
    put_u32 (out, graph->inputs[i]);
  for (uint32_t i = 0; i < graph->n_outputs; i++)
    put_u32 (out, graph->outputs[i]);
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    uint32_t n_in = MIN (node->n_inputs, VQ_MAX_NODE_IO);
    uint32_t n_out = MIN (node->n_outputs, VQ_MAX_NODE_IO);
    put_u32 (out, (uint32_t) node->op);
    put_string (out, node->name);
    put_u32 (out, (uint32_t) node->act);
    put_f32 (out, node->act_alpha);
    put_u32 (out, n_in);
    put_u32 (out, n_out);
    for (uint32_t j = 0; j < n_in; j++)
      put_u32 (out, node->inputs[j]);
    for (uint32_t j = 0; j < n_out; j++)
      put_u32 (out, node->outputs[j]);
    write_params (out, node);
  }
}

/* Writes the blob table and fills `data` with the 64-aligned payloads. */
static void
write_blobs (GByteArray *out, GByteArray *data, const vq_graph *graph)
{
  put_u32 (out, graph->n_blobs);
  for (uint32_t i = 0; i < graph->n_blobs; i++) {
    const vq_blob *blob = &graph->blobs[i];
    pad_to (data, VQM_ALIGNMENT);
    put_string (out, blob->name);
    put_u32 (out, (uint32_t) blob->dtype);
    put_shape (out, &blob->shape);
    put_u64 (out, data->len);
    put_u64 (out, blob->nbytes);
    if (blob->data != NULL) {
      g_byte_array_append (data, blob->data, (guint) blob->nbytes);
    } else {
      guint start = data->len;
      g_byte_array_set_size (data, start + (guint) blob->nbytes);
      memset (data->data + start, 0, blob->nbytes);
    }
  }
}

guint8 *
vq__vqm_serialize (const vq_model *model, gsize *size)
{
  GByteArray *parts[N_SECTIONS];
  for (gsize i = 0; i < N_SECTIONS; i++)
    parts[i] = g_byte_array_new ();
  write_meta (parts[0], model);
  write_labels (parts[1], model);
  write_graph (parts[2], model->graph);
  write_blobs (parts[3], parts[4], model->graph);

  GByteArray *file = g_byte_array_new ();
  g_byte_array_set_size (file, VQM_HEADER_SIZE + N_SECTIONS * VQM_SECTION_ENTRY_SIZE);
  memset (file->data, 0, file->len);
  guint8 entries[N_SECTIONS][VQM_SECTION_ENTRY_SIZE] = { { 0 } };
  for (gsize i = 0; i < N_SECTIONS; i++) {
    pad_to (file, VQM_ALIGNMENT);
    guint8 *entry = entries[i];
    put_u32_at (entry, section_order[i]);
    put_u32_at (entry + 4, VQM_SECTION_FLAG_REQUIRED);
    put_u64_at (entry + 8, file->len);
    put_u64_at (entry + 16, parts[i]->len);
    put_u32_at (entry + 24, vq__crc32 (0, parts[i]->data, parts[i]->len));
    g_byte_array_append (file, parts[i]->data, parts[i]->len);
    g_byte_array_unref (parts[i]);
  }
  memcpy (file->data + VQM_HEADER_SIZE, entries, sizeof entries);

  guint8 *h = file->data;
  memcpy (h + VQM_HEADER_MAGIC, VQM_MAGIC, VQM_MAGIC_SIZE);
  put_u16_at (h + VQM_HEADER_VERSION_MAJOR, VQM_VERSION_MAJOR);
  put_u16_at (h + VQM_HEADER_VERSION_MINOR, VQM_VERSION_MINOR);
  put_u64_at (h + VQM_HEADER_FILE_SIZE, file->len);
  put_u64_at (h + VQM_HEADER_TABLE_OFFSET, VQM_HEADER_SIZE);
  put_u32_at (h + VQM_HEADER_N_SECTIONS, N_SECTIONS);
  put_u32_at (h + VQM_HEADER_ENTRY_SIZE, VQM_SECTION_ENTRY_SIZE);
  put_u32_at (h + VQM_HEADER_TABLE_CRC, vq__crc32 (0, entries, sizeof entries));
  put_u32_at (h + VQM_HEADER_CRC, vq__crc32 (0, h, VQM_HEADER_CRC));

  *size = file->len;
  return g_byte_array_free (file, FALSE);
}

gboolean
vq_model_save (const vq_model *model, const char *path, GError **error)
{
  g_return_val_if_fail (model != NULL && model->graph != NULL && path != NULL, FALSE);
  GError *local = NULL;
  if (!vq_graph_validate (model->graph, &local) || !vq_model_validate (model, &local)) {
    g_propagate_prefixed_error (error, local, "%s: refusing to write an invalid model: ", path);
    return FALSE;
  }
  gsize size = 0;
  guint8 *bytes = vq__vqm_serialize (model, &size);
  gboolean ok = g_file_set_contents_full (path, (const char *) bytes, (gssize) size,
                                          G_FILE_SET_CONTENTS_CONSISTENT, 0666, &local);
  g_free (bytes);
  if (!ok) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_IO, "%s: cannot write model: %s", path,
                 local->message);
    g_error_free (local);
  }
  return ok;
}
