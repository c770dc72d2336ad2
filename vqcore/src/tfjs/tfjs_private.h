/* Internal interfaces of the TF.js importer (vqcore/src/tfjs).
 *
 * The importer reads model.json and its weight shards into a vq__tfjs_model
 * (tfjs_json.c, tfjs_weights.c), then walks the TF graph in topological
 * order (tfjs_import.c). Every TF tensor becomes either a constant
 * (vq__tconst, folded eagerly by tfjs_const.c) or an activation bound to an
 * IR value. An activation remembers how its TF shape relates to the IR
 * value's physical storage (a permutation, tfjs_layout.c) and padding that
 * a later conv or pool absorbs, so that Transpose and Pad nodes cost
 * nothing. The op table (tfjs_ops.c) sends the remaining TF ops to their
 * handlers, one file per op family (tfjs_ops_*.c, tfjs_conv.c), which
 * turn them into IR nodes.
 */
#ifndef VQCORE_TFJS_PRIVATE_H
#define VQCORE_TFJS_PRIVATE_H

#include <stdint.h>

#include <json-glib/json-glib.h>

#include "vqcore/error.h"
#include "vqcore/graph.h"

/* TF constants may have more dimensions than IR values. */
#define VQ__TCONST_MAX_RANK 8
/* Bound on constant sizes, so that hostile files cannot make folding
 * allocate without limit (CNN weights are far below this: NanoDet's
 * largest has 1.2 M elements). */
#define VQ__TCONST_MAX_ELEMENTS (INT64_C (1) << 25)
/* Bound on each activation dimension, so that size arithmetic stays far
 * from int32 overflow whatever a file declares. */
#define VQ__TFJS_MAX_DIM (1 << 20)
/* Bound on the elements of one activation (16 GiB of floats). */
#define VQ__TFJS_MAX_VALUE_ELEMENTS (INT64_C (1) << 32)

/* A constant tensor. Integers of every TF width (and bools) are held as
 * int64; floats of every width as float32. */
typedef struct {
  gboolean is_float;
  int rank;
  int64_t dims[VQ__TCONST_MAX_RANK];
  int64_t numel;
  float *f;     /* numel floats when is_float */
  int64_t *i;   /* numel integers otherwise */
} vq__tconst;

/* Returns NULL with an error when the shape is invalid or too large. */
vq__tconst *vq__tconst_new (gboolean is_float, int rank, const int64_t *dims,
                            GError **error);
vq__tconst *vq__tconst_copy (const vq__tconst *c);
void vq__tconst_free (vq__tconst *c);
double vq__tconst_get (const vq__tconst *c, int64_t index);
/* Reads a constant as a list of at most `max` integers (a scalar counts as
 * one); FALSE when it is float or too long. */
gboolean vq__tconst_ints (const vq__tconst *c, int64_t *out, int max, int *n);

/* One node of the GraphDef. `inputs` omits control dependencies ("^x"). */
typedef struct {
  const char *name;
  const char *op;
  char **inputs;
  guint n_inputs;
  JsonObject *attr; /* may be NULL; borrowed from the parser */
  guint index;      /* position in the file */
} vq__tfjs_node;

typedef struct {
  char *path;          /* model.json */
  JsonParser *parser;  /* keeps the JSON objects alive */
  vq__tfjs_node *nodes;
  guint n_nodes;
  GHashTable *weights; /* name -> vq__tconst* (owned) */
  char **input_names;  /* signature inputs sorted by name, or NULL */
  char **output_names; /* signature outputs sorted by name, or NULL */
  int64_t float_weight_count; /* elements of all float weights */
} vq__tfjs_model;

gboolean vq__tfjs_model_load (const char *path, vq__tfjs_model *model, GError **error);
void vq__tfjs_model_clear (vq__tfjs_model *model);

/* Reads the weights manifest of `root` and the shards it names (relative
 * to `dir`) into model->weights. */
gboolean vq__tfjs_weights_load (JsonObject *root, const char *dir,
                                vq__tfjs_model *model, GError **error);

/* Members of a JSON object that must be a string, number or boolean;
 * `fallback` when absent or of another kind (tfjs_json.c). */
const char *vq__tfjs_json_string (JsonObject *object, const char *key, const char *fallback);
double vq__tfjs_json_double (JsonObject *object, const char *key, double fallback);
gboolean vq__tfjs_json_bool (JsonObject *object, const char *key, gboolean fallback);

/* Attribute access. Strings are base64 in the JSON and come back decoded
 * (newly allocated, NULL when absent). Lists come back in `out` with their
 * length in *n; FALSE when absent or malformed. */
char *vq__tfjs_attr_string (const vq__tfjs_node *node, const char *key);
gboolean vq__tfjs_attr_ints (const vq__tfjs_node *node, const char *key,
                             int64_t *out, int max, int *n);
char **vq__tfjs_attr_strings (const vq__tfjs_node *node, const char *key);
float vq__tfjs_attr_float (const vq__tfjs_node *node, const char *key, float fallback);
gboolean vq__tfjs_attr_bool (const vq__tfjs_node *node, const char *key, gboolean fallback);
int64_t vq__tfjs_attr_int (const vq__tfjs_node *node, const char *key, int64_t fallback);
/* The TF dtype enum name of a "type" attribute ("DT_FLOAT"), or NULL. */
const char *vq__tfjs_attr_type (const vq__tfjs_node *node, const char *key);
/* A Const node's inline "value" tensor (used when no weight carries it). */
vq__tconst *vq__tfjs_attr_tensor (const vq__tfjs_node *node, GError **error);
/* A shape attribute ("shape"): dims into out (-1 unknown); FALSE if absent. */
gboolean vq__tfjs_attr_shape (const vq__tfjs_node *node, const char *key,
                              int64_t *out, int max, int *rank);

/* Constant folding: TRUE when `op` can be computed from constant inputs. */
gboolean vq__tfjs_fold_supported (const char *op);
/* Computes the outputs of a constant node (at most `max_out`); returns the
 * number of outputs, or -1 with an error. */
int vq__tfjs_fold (const vq__tfjs_node *node, vq__tconst **inputs, guint n_inputs,
                   vq__tconst **outputs, int max_out, GError **error);

/* Folding of StridedSlice and Transpose (tfjs_const_slice.c), with the
 * signature of every folding function. */
int vq__tfjs_fold_strided_slice (const vq__tfjs_node *node, vq__tconst **in, guint n,
                                 vq__tconst **out, GError **error);
int vq__tfjs_fold_transpose (const vq__tfjs_node *node, vq__tconst **in, guint n,
                             vq__tconst **out, GError **error);

/* The result shape of Reshape, ExpandDims or Squeeze (node->op) applied
 * to a tensor of shape in_dims; `arg` is the shape or axis input. */
gboolean vq__tfjs_reshape_dims (const vq__tfjs_node *node, int in_rank, const int64_t *in_dims,
                                const vq__tconst *arg, int64_t *dims, int *rank, GError **error);

/* A TF tensor during import. */
typedef struct {
  gboolean is_const;
  vq__tconst *c;        /* constants */
  gboolean owns_const;
  uint32_t value;       /* activations: the IR value */
  int rank;
  int32_t dims[VQ_MAX_RANK]; /* the TF shape */
  /* Physical dimension i of the IR value holds TF dimension perm[i]. */
  int perm[VQ_MAX_RANK];
  /* Padding (in physical dimensions) that a consumer conv or pool must
   * apply; the IR value itself is unpadded. */
  gboolean padded;
  int32_t pad_before[VQ_MAX_RANK];
  int32_t pad_after[VQ_MAX_RANK];
  float pad_value;
} vq__tfjs_tensor;

/* Per IR value: how many IR nodes read it so far, how many TF consumers
 * (through all its aliases) are still to come, and the IR node writing it.
 * A conv can absorb a bias or an activation only when the value has no
 * other reader, past or future. */
typedef struct {
  int32_t reads;
  int32_t remaining;
  int32_t producer; /* node index, or -1 for graph inputs */
} vq__tfjs_value_info;

typedef struct {
  vq_graph *graph;
  const vq__tfjs_model *model;
  GHashTable *tensors;   /* tensor key -> vq__tfjs_tensor* (owned) */
  GHashTable *consumers; /* tensor key -> number of consuming inputs */
  GArray *values;        /* vq__tfjs_value_info per IR value */
  GHashTable *transposed; /* "value/perm" -> IR value with that layout */
  gboolean too_large;     /* a new value exceeded the size bounds */
} vq__tfjs_ctx;

/* "name" for output 0, "name:i" otherwise (newly allocated). */
char *vq__tfjs_tensor_key (const char *node, int index);

/* Registers output `index` of `node`. A tensor sharing an existing IR value
 * is an alias: its consumers are added to the value's pending uses. */
void vq__tfjs_set_output (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, int index,
                          const vq__tfjs_tensor *tensor);
/* Adds an IR value with the physical shape of the activation `t` (TF dims
 * and perm must be set) and stores its id in t->value. A shape beyond
 * VQ__TFJS_MAX_DIM / VQ__TFJS_MAX_VALUE_ELEMENTS sets ctx->too_large, which
 * fails the node being imported. */
uint32_t vq__tfjs_new_value (vq__tfjs_ctx *ctx, const char *name, vq__tfjs_tensor *t);
/* Appends an IR node, counting its reads; sets the producer of its outputs. */
vq_node *vq__tfjs_emit (vq__tfjs_ctx *ctx, const vq_node *node);
/* TRUE when the IR value has no reader besides the node being imported. */
gboolean vq__tfjs_sole_use (vq__tfjs_ctx *ctx, uint32_t value);

/* Layout (tfjs_layout.c). */
void vq__tfjs_perm_identity (int *perm, int rank);
gboolean vq__tfjs_perm_is (const int *perm, int rank, const int *wanted);
/* Sets *value to the IR value holding activation `t` with physical layout
 * `wanted`: t->value itself, or the output of a VQ_OP_TRANSPOSE node
 * (emitted once per value and layout). Padded tensors cannot be
 * transposed. */
gboolean vq__tfjs_materialize (vq__tfjs_ctx *ctx, const vq__tfjs_node *node,
                               const vq__tfjs_tensor *t, const int *wanted,
                               uint32_t *value, GError **error);
/* The physical shape of `t` in layout `perm`. */
vq_shape vq__tfjs_physical_shape (const vq__tfjs_tensor *t, const int *perm);
/* The physical IR dim holding TF dim `axis` (negative counts from the end);
 * -1 when out of range. */
int vq__tfjs_physical_axis (const vq__tfjs_tensor *t, int64_t axis);

/* The op table (tfjs_ops.c). */
typedef gboolean vq__tfjs_handler_func (vq__tfjs_ctx *ctx, const vq__tfjs_node *node,
                                        vq__tfjs_tensor **in, guint n_in, GError **error);
typedef vq__tfjs_handler_func *vq__tfjs_handler;
typedef struct {
  const char *op;
  vq__tfjs_handler handler;
  gboolean accepts_padded; /* may read tensors with pending padding */
} vq__tfjs_op_entry;

const vq__tfjs_op_entry *vq__tfjs_op_lookup (const char *op);

/* Steps the handlers share (tfjs_ops.c). The checks fail with an error
 * naming the node. */
gboolean vq__tfjs_need_inputs (const vq__tfjs_node *node, guint n_in, guint count,
                               GError **error);
/* Handlers see constants only where folding them is part of the op. */
gboolean vq__tfjs_need_activation (const vq__tfjs_node *node, const vq__tfjs_tensor *t,
                                   GError **error);
/* Both of the above for in[0], the operand of most ops. */
gboolean vq__tfjs_need_activation_input (const vq__tfjs_node *node, vq__tfjs_tensor **in,
                                         guint n_in, guint count, GError **error);
/* An activation not yet bound to an IR value, with TF shape `dims` and
 * layout `perm` (VQ_MAX_RANK entries), unpadded. */
vq__tfjs_tensor vq__tfjs_tensor_of_shape (int rank, const int32_t *dims, const int *perm);
/* The same for x's TF shape and layout. */
vq__tfjs_tensor vq__tfjs_tensor_like (const vq__tfjs_tensor *x);
/* Binds output 0 of `node` to `t` as it is, for ops that emit nothing;
 * a constant stays owned by the tensor it came from. */
void vq__tfjs_alias_output (vq__tfjs_ctx *ctx, const vq__tfjs_node *node,
                            const vq__tfjs_tensor *t);
/* Gives `ir` (inputs already set) one new output value, named after
 * `node`, with the TF shape and layout of `t`; appends `ir` and binds `t`
 * to output 0 of `node`. */
void vq__tfjs_emit_output (vq__tfjs_ctx *ctx, const vq__tfjs_node *node, vq_node *ir,
                           vq__tfjs_tensor *t);

/* Handlers, by op family (declared through their function type). */
/* tfjs_ops_layout.c: ops that only change how a value is seen. */
vq__tfjs_handler_func vq__tfjs_op_identity, vq__tfjs_op_transpose, vq__tfjs_op_pad;
/* tfjs_ops_elementwise.c */
vq__tfjs_handler_func vq__tfjs_op_binary, vq__tfjs_op_activation;
/* tfjs_ops_shape.c: ops whose output has a new shape. */
vq__tfjs_handler_func vq__tfjs_op_reshape, vq__tfjs_op_concat, vq__tfjs_op_split,
    vq__tfjs_op_resize;
/* tfjs_conv.c */
vq__tfjs_handler_func vq__tfjs_op_conv, vq__tfjs_op_pool;

/* Fusions into a conv (tfjs_conv.c). */
/* Adds, subtracts or multiplies a per-channel constant into the conv that
 * produced `x`; FALSE with an error when that is not possible. */
gboolean vq__tfjs_fold_channel_constant (vq__tfjs_ctx *ctx, const vq__tfjs_node *node,
                                         vq__tfjs_tensor *x, const vq__tconst *c,
                                         char operation, GError **error);
/* Fuses `act` into the producer of x's value when possible; returns TRUE
 * when it did. */
gboolean vq__tfjs_fuse_activation (vq__tfjs_ctx *ctx, vq__tfjs_tensor *x,
                                   vq_activation act, float alpha);

/* Clean-up after import (tfjs_optimize.c): dead nodes, late activation
 * fusion, unused values. */
void vq__tfjs_optimize (vq_graph *graph);

/* Error helpers: every message names the node and its op. */
void vq__tfjs_fail (GError **error, const vq__tfjs_node *node, gint code,
                    const char *format, ...) G_GNUC_PRINTF (4, 5);

#endif
