/* Helpers shared by the importer tests: small hand-written TF.js models
 * written to a temporary directory, and the TF.js reference runner. */
#ifndef VQ_TFJS_TEST_UTIL_H
#define VQ_TFJS_TEST_UTIL_H

#include <glib.h>

#include "vqcore/graph.h"

/* A model under construction: nodes as JSON text, weights as bytes. */
typedef struct {
  GString *nodes;    /* comma-separated node objects */
  GString *manifest; /* comma-separated weight entries */
  GByteArray *bin;
} tfjs_builder;

tfjs_builder *tfjs_builder_new (void);
void tfjs_builder_free (tfjs_builder *b);

/* base64 of a string, as TF.js writes string attributes (newly allocated). */
char *tfjs_b64 (const char *s);

/* A float32 Const node with weight data (stored as float16 when `half`). */
void tfjs_add_const_f32 (tfjs_builder *b, const char *name, int rank, const int *shape,
                         const float *data, gboolean half);
/* An int32 Const node with weight data. */
void tfjs_add_const_i32 (tfjs_builder *b, const char *name, int rank, const int *shape,
                         const int32_t *data);
/* A node: `inputs` is a JSON list body ("\"a\", \"b\""), `attrs` a JSON
 * object body (may be ""). */
void tfjs_add_node (tfjs_builder *b, const char *name, const char *op, const char *inputs,
                    const char *attrs);
/* Writes DIR/model.json and DIR/model.bin with one signature input
 * `input` and the given outputs (NULL-terminated "name:0" list). Returns
 * the JSON path (newly allocated). */
char *tfjs_builder_write (tfjs_builder *b, const char *dir, const char *input,
                          const char *const *outputs);

/* Runs tests/reference/tfjs_reference.mjs on `model_json` with `input`
 * (raw float32 in the model's TF input layout) on TF.js backend `backend`
 * ("wasm" or "cpu"). Returns the outputs (in output-name order) as a
 * GPtrArray of GBytes, or fails the test; sets *ms_per_run when not NULL. */
GPtrArray *tfjs_run_reference (const char *model_json, const float *input, gsize count,
                               const char *backend, double *ms_per_run);

/* Deterministic pseudo-random floats in [-1, 1). */
void tfjs_fill_random (float *out, gsize count, guint32 seed);

/* Max |a - b| over `count` floats. */
double tfjs_max_abs_diff (const float *a, const float *b, gsize count);

/* Counts the IR nodes with op `op`. */
guint tfjs_count_op (const vq_graph *graph, vq_op op);

#endif
