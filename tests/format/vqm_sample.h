/* A small model that exercises every part of the .vqm format, and helpers
 * for the format tests (comparison, re-sealing edited files). */
#ifndef VQ_TEST_VQM_SAMPLE_H
#define VQ_TEST_VQM_SAMPLE_H

#include <glib.h>

#include "vqcore/model.h"

/* Input [1, 3, 16, 16]; every op kind; dense F32 and F16 convs (one
 * grouped), VQ convs with U8 and U4 indices, a codebook shared by two convs,
 * F32 and F16 scales, F32 and F16 biases; a two-level GFL decoder (strides
 * 2 and 4, 3 classes, reg_max 1) and three labels. */
vq_model *vq_test_sample_model (void);

/* The sample's node ids and blob ids, for tests that break one thing. */
enum {
  SAMPLE_NODE_CONV_DENSE_F32 = 0,
  SAMPLE_NODE_CONV_DENSE_F16 = 1,
  SAMPLE_NODE_CONV_VQ_U8 = 2,
  SAMPLE_NODE_CONV_VQ_U4 = 3,
  SAMPLE_NODE_CONV_VQ_SHARED = 4,
  SAMPLE_NODE_ADD = 5,
  SAMPLE_NODE_MAX_POOL = 6,
  SAMPLE_NODE_AVG_POOL = 7,
  SAMPLE_NODE_RESIZE = 8,
  SAMPLE_NODE_CONCAT = 9,
  SAMPLE_NODE_ACTIVATION = 10,
  SAMPLE_NODE_SPLIT = 11,
  SAMPLE_NODE_RESHAPE = 12,
  SAMPLE_NODE_TRANSPOSE = 13,
};
enum {
  SAMPLE_BLOB_CODEBOOK_U8 = 4, /* [20, 4] F32, shared by two convs */
  SAMPLE_BLOB_INDICES_U8 = 5,  /* [8, 18] U8 */
  SAMPLE_BLOB_INDICES_U4 = 8,  /* [8, 3] U4 */
};

/* Asserts (g_assert) that two models are equal in every field. */
void vq_test_assert_models_equal (const vq_model *a, const vq_model *b);

/* Serializes without validation (vq__vqm_serialize). */
GBytes *vq_test_serialize (const vq_model *model);

/* Offset of a section inside a serialized file (its kind from vqm.h) and,
 * when `section_size` is not NULL, its size; aborts when absent. */
gsize vq_test_section_offset (const guint8 *file, gsize size, uint32_t kind,
                              gsize *section_size);

/* Recomputes every checksum of an edited file so that the loader gets past
 * them to the structural checks. */
void vq_test_reseal (guint8 *file, gsize size);

/* Lays the file out again with the section of `replace_kind` (if not 0)
 * given new contents, and an extra section (if `extra` is not NULL)
 * appended to the table; then reseals it. */
GBytes *vq_test_relayout (GBytes *file, uint32_t replace_kind, GBytes *replacement,
                          uint32_t extra_kind, uint32_t extra_flags, GBytes *extra);

#endif
