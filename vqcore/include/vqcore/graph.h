/* vqcore/graph.h — the in-memory intermediate representation (IR).
 *
 * A graph is three tables:
 *   - blobs:  constant payloads (dense weights, biases, VQ codebooks, VQ
 *             indices, per-channel scales), each with a dtype and a shape;
 *   - values: the activation tensors that flow between nodes, always fp32,
 *             stored densely in row-major order of their shape. Image-like
 *             values are NCHW with N = 1, e.g. [1, 32, 208, 208];
 *   - nodes:  operations in topological order, each reading values (by id)
 *             and writing values (by id).
 *
 * The IR is deliberately small and general: conv2d (any kernel, stride,
 * dilation, padding, groups, with fused bias and activation), add, concat,
 * resize, pooling, standalone activations, split, reshape and transpose.
 *
 * Conv weights are either dense (fp32/fp16) or vector-quantized: the row of
 * output channel o (D = cin/groups * kh * kw values, in [cin/g][kh][kw]
 * order) is cut into ceil(D / d) sub-vectors of d consecutive values; each is
 * replaced by an index into a codebook blob of shape [K, d]. The last
 * sub-vector of a row is padded with zeros when d does not divide D. The
 * weight is  W[o][j] = codebook[index[o][j / d]][j % d] * scale[o]
 * (scale is 1 when absent). Several convs may reference the same codebook.
 *
 * Ownership: the graph owns everything reachable from it; vq_graph_free()
 * releases it. Blob payloads are either owned (heap) or borrowed from a
 * memory mapping that the model keeps alive (see model.h).
 */
#ifndef VQCORE_GRAPH_H
#define VQCORE_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <glib.h>

#ifdef __cplusplus
extern "C" {
#endif

#define VQ_MAX_RANK 4
#define VQ_MAX_NODE_IO 16

typedef enum {
  VQ_DTYPE_F32 = 0,
  VQ_DTYPE_F16 = 1,
  VQ_DTYPE_I32 = 2,
  VQ_DTYPE_U8 = 3, /* VQ indices, one byte each */
  VQ_DTYPE_U4 = 4, /* VQ indices, two per byte, low nibble first */
  VQ_DTYPE_COUNT
} vq_dtype;

typedef struct {
  uint32_t rank;
  int32_t dims[VQ_MAX_RANK];
} vq_shape;

typedef struct {
  char *name;
  vq_dtype dtype;
  vq_shape shape;
  uint64_t nbytes;   /* exact payload size: vq_dtype_bytes(dtype, numel) */
  const void *data;  /* payload; owned unless the graph borrows a mapping */
  bool owned;        /* true when vq_graph_free() must g_free(data) */
} vq_blob;

typedef struct {
  char *name;
  vq_shape shape; /* fp32, row-major */
} vq_value;

typedef enum {
  VQ_OP_CONV2D = 0,
  VQ_OP_ADD = 1,        /* elementwise, same shapes, optional fused act */
  VQ_OP_CONCAT = 2,
  VQ_OP_RESIZE = 3,
  VQ_OP_MAX_POOL = 4,
  VQ_OP_AVG_POOL = 5,
  VQ_OP_ACTIVATION = 6, /* standalone activation */
  VQ_OP_SPLIT = 7,
  VQ_OP_RESHAPE = 8,    /* target shape = the output value's shape */
  VQ_OP_TRANSPOSE = 9,
  VQ_OP_COUNT
} vq_op;

typedef enum {
  VQ_ACT_NONE = 0,
  VQ_ACT_RELU = 1,
  VQ_ACT_RELU6 = 2,
  VQ_ACT_LEAKY_RELU = 3, /* alpha in act_alpha */
  VQ_ACT_SIGMOID = 4,
  VQ_ACT_HARD_SWISH = 5,
  VQ_ACT_SILU = 6,
  VQ_ACT_COUNT
} vq_activation;

typedef enum {
  VQ_RESIZE_BILINEAR = 0,
  VQ_RESIZE_NEAREST = 1,
  VQ_RESIZE_MODE_COUNT
} vq_resize_mode;

/* Which blobs make up a conv's weights. Exactly one of `dense` or
 * (`codebook` + `indices`) is set; unused references are -1. */
typedef struct {
  int32_t dense;    /* [cout, cin/groups, kh, kw], F32 or F16 */
  int32_t codebook; /* [K, d], F32 or F16 */
  int32_t indices;  /* [cout, ceil(D/d)], U8 or U4 */
  int32_t scales;   /* [cout], F32 or F16, optional */
} vq_weight_ref;

typedef struct {
  int32_t kernel_h, kernel_w;
  int32_t stride_h, stride_w;
  int32_t dilation_h, dilation_w;
  int32_t pad_top, pad_left, pad_bottom, pad_right;
  int32_t groups;
  int32_t out_channels;
  vq_weight_ref weights;
  int32_t bias; /* blob [cout] F32 or F16, or -1 */
} vq_conv_params;

typedef struct {
  int32_t kernel_h, kernel_w;
  int32_t stride_h, stride_w;
  int32_t pad_top, pad_left, pad_bottom, pad_right;
  /* Max pool: value of padded cells (-inf unless the source padded with a
   * constant). Avg pool: when true padded cells count in the divisor. */
  float pad_value;
  bool count_include_pad;
} vq_pool_params;

typedef struct {
  vq_resize_mode mode;
  bool align_corners;
  bool half_pixel_centers;
  /* The output size is the output value's H and W. */
} vq_resize_params;

typedef struct {
  int32_t axis; /* concat/split axis, in the value's rank */
} vq_axis_params;

typedef struct {
  int32_t perm[VQ_MAX_RANK];
} vq_transpose_params;

typedef struct {
  vq_op op;
  char *name;
  uint32_t n_inputs;
  uint32_t inputs[VQ_MAX_NODE_IO];  /* value ids */
  uint32_t n_outputs;
  uint32_t outputs[VQ_MAX_NODE_IO]; /* value ids; split sizes = output shapes */
  vq_activation act;                /* fused activation (conv, add, activation) */
  float act_alpha;
  union {
    vq_conv_params conv;
    vq_pool_params pool;
    vq_resize_params resize;
    vq_axis_params axis;
    vq_transpose_params transpose;
  } p;
} vq_node;

typedef struct vq_graph {
  vq_blob *blobs;
  uint32_t n_blobs;
  vq_value *values;
  uint32_t n_values;
  vq_node *nodes;
  uint32_t n_nodes;
  uint32_t *inputs; /* value ids of graph inputs */
  uint32_t n_inputs;
  uint32_t *outputs; /* value ids of graph outputs, in a fixed order */
  uint32_t n_outputs;
} vq_graph;

/* Construction. Each add function returns the new element's id. Names are
 * copied. vq_graph_add_blob_owned takes ownership of `data` (g_malloc'ed);
 * vq_graph_add_blob_copy copies it. */
vq_graph *vq_graph_new (void);
void vq_graph_free (vq_graph *graph);
uint32_t vq_graph_add_value (vq_graph *graph, const char *name, const vq_shape *shape);
uint32_t vq_graph_add_blob_owned (vq_graph *graph, const char *name, vq_dtype dtype,
                                  const vq_shape *shape, void *data);
uint32_t vq_graph_add_blob_copy (vq_graph *graph, const char *name, vq_dtype dtype,
                                 const vq_shape *shape, const void *data);
/* Appends a node (copied); returns a pointer valid until the next add. */
vq_node *vq_graph_add_node (vq_graph *graph, const vq_node *node);
void vq_graph_add_input (vq_graph *graph, uint32_t value);
void vq_graph_add_output (vq_graph *graph, uint32_t value);

/* A node initialised with no inputs, no fused activation, -1 blob refs. */
void vq_node_init (vq_node *node, vq_op op, const char *name);

/* Shapes and sizes. */
vq_shape vq_shape_make (uint32_t rank, const int32_t *dims);
vq_shape vq_shape_4d (int32_t n, int32_t c, int32_t h, int32_t w);
int64_t vq_shape_numel (const vq_shape *shape);
bool vq_shape_equal (const vq_shape *a, const vq_shape *b);
/* Bytes needed for `numel` elements (U4 rounds up to whole bytes). */
uint64_t vq_dtype_bytes (vq_dtype dtype, int64_t numel);
const char *vq_dtype_name (vq_dtype dtype);
const char *vq_op_name (vq_op op);
const char *vq_activation_name (vq_activation act);

/* Applies an activation to one value. */
float vq_activation_apply (vq_activation act, float alpha, float x);

/* Reads element i of a F32 or F16 blob as float. */
float vq_blob_get_f32 (const vq_blob *blob, int64_t i);

/* Whether a K x d codebook can be the uniform grid (i - K/2) / (K/2) that
 * the compressor writes for d = 1: d = 1 and K a power of two >= 4, so
 * that every entry is exact in fp16 and fp32. */
bool vq_codebook_grid_fits (int32_t k, int32_t d);

/* K/2 when a K x d codebook is that grid, entry i exactly (i - K/2) / (K/2)
 * as fp32 computes it; 0 otherwise. That is symmetric per-row linear
 * quantization, and the Vulkan shaders compute its entries from the index
 * instead of fetching them. */
int32_t vq_codebook_grid_half (const vq_blob *codebook);

/* Number of weights a conv has (cout * cin/groups * kh * kw), dense or VQ. */
int64_t vq_conv_weight_count (const vq_graph *graph, const vq_node *node);

/* Writes the conv's weights, dense or decoded from VQ, as fp32
 * [cout][cin/groups][kh][kw] into `out` (vq_conv_weight_count floats). */
void vq_conv_weights_to_f32 (const vq_graph *graph, const vq_node *node, float *out);

/* Checks the whole graph for internal consistency: ids in range, shapes
 * agreeing with each op's rules, blob sizes matching shapes, topological
 * order. Used by the loader on untrusted files and by the importer. */
bool vq_graph_validate (const vq_graph *graph, GError **error);

#ifdef __cplusplus
}
#endif

#endif /* VQCORE_GRAPH_H */
