/* Internal interfaces of vqcore/src/vq, the label-free vector quantizer.
 *
 * Notation used throughout: a conv's weights W are `rows` output channels by
 * `cols` = D = cin/groups * kh * kw values, in the [cin/g][kh][kw] order of
 * graph.h. A row is cut into n_sub = ceil(D / d) sub-vectors of d values;
 * the quantizer works on the padded width cols_p = n_sub * d, with zero
 * weights in the padding. H = X^T X (cols_p x cols_p) is the layer's input
 * Hessian from calibration activations X (im2col rows). The quantity every
 * step minimises is the output error
 *     E = sum_o (w_o - s_o c_o)^T H (w_o - s_o c_o)
 * where c_o is row o's decoded codewords and s_o its scale.
 *
 * All matrices are row-major doubles; everything is deterministic (fixed
 * seeds, fixed work partitions, fixed summation orders), so the same inputs
 * give bit-identical results for any thread count.
 */
#ifndef VQCORE_VQ_PRIVATE_H
#define VQCORE_VQ_PRIVATE_H

#include <stdint.h>

#include <glib.h>

#include "vq_compress.h"
#include "vqcore/model.h"

G_BEGIN_DECLS

/* ---- threads (parallel.c) ---- */

typedef void (*vq__task_func) (void *context, int64_t task, int thread_index);

/* Runs func(context, t, thread) for t in [0, n_tasks) on up to n_threads
 * threads (<= 0: one per processor). Tasks must write disjoint outputs. */
void vq__parallel_for (int64_t n_tasks, int n_threads, vq__task_func func, void *context);
int vq__thread_count (int requested);

/* ---- dense linear algebra (linalg.c) ---- */

/* In-place lower Cholesky factor of the SPD matrix a (n x n): a = L L^T,
 * upper triangle zeroed. FALSE when a is not positive definite. */
gboolean vq__cholesky (double *a, int64_t n);
/* Solves a x = b with a's Cholesky factor l (from vq__cholesky); b is
 * overwritten with x. */
void vq__cholesky_solve (const double *l, int64_t n, double *b);
/* Replaces the SPD matrix a with the upper triangular U such that
 * a^-1 = U^T U (the factor GPTQ-style error feedback walks). */
gboolean vq__inverse_cholesky_upper (double *a, int64_t n, int n_threads);

/* out = a h for a (rows x n) and a symmetric h (n x n); each row of the
 * result is summed in the same order whatever the thread count. */
void vq__multiply_by_h (const double *a, int64_t rows, const double *h, int64_t n, double *out,
                        int n_threads);

/* ---- the Hessian (hessian.c) ---- */

/* Adds a fraction `damp` of the mean diagonal to the diagonal (and 1 to the
 * diagonal of dead inputs, whose weights then cost nothing to move), so that
 * H is safely positive definite. */
void vq__hessian_damp (double *h, int64_t n, double damp);

/* Grows a cols x cols Hessian to the padded width n_sub * d: padded columns
 * get a tiny diagonal (they hold no weight; see the top of this file). */
double *vq__hessian_pad (const double *h, int64_t cols, int64_t cols_p);

/* Accumulates c += a^T b for n_rows rows of a and b (row stride cols). */
void vq__cross_accumulate (double *c, int64_t cols, const float *a, const float *b,
                           int64_t n_rows, int n_threads);
/* Accumulates h += x^T x for n_rows rows of x (row stride cols, floats). */
void vq__hessian_accumulate (double *h, int64_t cols, const float *x, int64_t n_rows,
                             int n_threads);

/* The damped H (cols x cols) and U with U^T U = damped H^-1. Padding to a
 * multiple of d appends a tiny diagonal, which leaves both block diagonal,
 * so one factorisation serves every d (vq__prepared_hessian_pad). */
typedef struct vq__prepared_hessian {
  int64_t cols;
  double *damped;
  double *u;
} vq__prepared_hessian;

gboolean vq__prepared_hessian_init (vq__prepared_hessian *prepared, const double *h,
                                    int64_t cols, double damp, int n_threads);
void vq__prepared_hessian_clear (vq__prepared_hessian *prepared);
/* Padded copies of the damped H and of U for width cols_p. */
void vq__prepared_hessian_pad (const vq__prepared_hessian *prepared, int64_t cols_p,
                               double **damped, double **u);

/* ---- k-means on sub-vectors (kmeans.c) ---- */

typedef struct {
  const double *points;  /* n x d */
  const double *weights; /* n x d per-dimension weights, or NULL for 1 */
  int64_t n;
  int32_t d;
  int32_t k;
  int32_t iterations;
  guint32 seed;
  int n_threads;
} vq__kmeans_problem;

/* Weighted k-means (k-means++ seeding, then Lloyd): minimises
 * sum_p sum_i w_pi (x_pi - c_i)^2. Writes the k x d centroids and, when
 * `labels` is not NULL, each point's centroid. Returns the final cost. */
double vq__kmeans (const vq__kmeans_problem *problem, double *centroids, uint8_t *labels);

/* ---- one layer's VQ state (layer.c, assign.c, refit.c) ---- */

typedef struct {
  int64_t rows, cols;  /* cout, D */
  int32_t d, k;
  int64_t n_sub, cols_p;
  double *codebook;    /* k x d */
  uint8_t *codes;      /* rows x n_sub */
  double *scales;      /* rows */
} vq__vq_layer;

void vq__vq_layer_init (vq__vq_layer *layer, int64_t rows, int64_t cols, int32_t d, int32_t k);
void vq__vq_layer_clear (vq__vq_layer *layer);
/* Writes the decoded weights s_o * codebook[code] (rows x cols_p). */
void vq__vq_layer_decode (const vq__vq_layer *layer, double *out);

/* Pads rows x cols weights to rows x cols_p with zeros. */
double *vq__pad_rows (const float *w, int64_t rows, int64_t cols, int64_t cols_p);

/* E (see the top) for weights w (rows x cols_p) and the layer's decoding;
 * when `reference` is not NULL also sum_o w_o^T H w_o into it. */
double vq__output_error (const vq__vq_layer *layer, const double *w, const double *h,
                         double *reference, int n_threads);

/* Nearest codeword for each sub-vector of w / s_o in plain squared distance
 * (the weight-space baseline). */
void vq__assign_nearest (vq__vq_layer *layer, const double *w);

/* Hessian-aware assignment with error feedback (GPTVQ): walks the column
 * blocks left to right; each block picks the codeword minimising
 * || U_BB^-T (v_B - c) ||^2 and pushes its error onto the columns not yet
 * quantized. u is the upper factor of H^-1 (vq__inverse_cholesky_upper). */
void vq__assign_gptvq (vq__vq_layer *layer, const double *w, const double *u, int n_threads);

/* Closed-form least-squares codebook for fixed codes and scales: solves the
 * K*d normal equations of E (summed over `n` layers sharing the codebook,
 * each weighted by layer_weight[i]) with a small ridge toward the current
 * codewords, which also keeps unused codewords where they are. */
gboolean vq__refit_codebook (vq__vq_layer *const *layers, const double *const *w,
                             const double *const *h, const double *layer_weight, int n,
                             int n_threads);

/* Closed-form best scale per row for fixed codes and codebook. */
void vq__refit_scales (vq__vq_layer *layer, const double *w, const double *h, int n_threads);

/* Initial scales: the root mean square of each row (1 for a zero row). */
void vq__init_scales (vq__vq_layer *layer, const double *w);

/* A private codebook whose shape fits the uniform grid (i - K/2) / (K/2)
 * (vq_codebook_grid_fits: d = 1, K a power of two >= 4) is that grid:
 * symmetric per-row linear quantization, exact in fp16, whose entries the
 * Vulkan shaders compute from the index instead of fetching them
 * (vq_codebook_grid_half, vulkan/conv.c); on a CPU device a fetch per
 * weight cost d = 1 about 5 % over dense weights. Shared codebooks stay
 * learned. vq__grid_init sets the grid and, per row, the scale that puts
 * the row's largest magnitude on its last positive level (K/2 - 1) / (K/2). */
void vq__grid_init (vq__vq_layer *layer, const double *w);

/* ---- one layer, start to finish (quantize.c) ---- */

typedef enum {
  VQ__METHOD_KMEANS = 0,  /* plain k-means on the weights, nearest codeword */
  VQ__METHOD_HESSIAN = 1, /* H-weighted k-means, GPTVQ assignment, LS refits */
} vq__method;

typedef struct {
  int32_t d, k;
  vq__method method;
  int32_t rounds;            /* assignment + refit rounds (Hessian method) */
  int32_t kmeans_iterations;
  int64_t kmeans_max_points; /* larger layers seed k-means on a subsample */
  double damp;               /* fraction of the mean diagonal added to H */
  guint32 seed;
  int n_threads;
  /* A codebook shared with other layers (k x d) that this layer must use
   * as it is: no seeding and no codebook refit. NULL for a private one. */
  const double *fixed_codebook;
  /* The damped Hessian and its inverse factor (vq__hessian_prepare) when
   * the caller reuses them across settings; NULL to compute them here. */
  const struct vq__prepared_hessian *prepared;
} vq__quantize_options;

void vq__quantize_options_init (vq__quantize_options *options, int32_t d, int32_t k);

/* Quantizes rows x cols weights w. h (cols x cols, not yet damped) is the
 * layer's input Hessian; the k-means method ignores it except to report the
 * error, and takes NULL. On success `out` holds the result and rel_error
 * (when not NULL) E / sum_o w_o^T H w_o measured with the undamped H
 * (-1 when h is NULL). */
gboolean vq__quantize_layer (const float *w, int64_t rows, int64_t cols, const double *h,
                             const vq__quantize_options *options, vq__vq_layer *out,
                             double *rel_error, GError **error);

/* ---- calibration statistics (calib.c) ---- */

typedef struct {
  uint32_t node;          /* conv node index */
  int64_t cols;           /* D = cin/groups * kh * kw */
  double *h;              /* cols x cols sum of sampled x^T x, or NULL */
  double *mean;           /* cols: mean im2col row over every position */
  int64_t n_rows;         /* rows summed into h */
  int64_t n_positions;    /* positions averaged into mean */
  int64_t rows_per_frame; /* positions sampled per frame for h */
  /* With a float reference (vq__collect_stats' `reference`): the same
   * sampled positions of the float network's input X, giving
   * cross = X~^T X, and the sums of the sampled rows of X~ and X. */
  double *cross;
  double *row_sum, *reference_row_sum;
} vq__conv_stats;

/* The float network's conv inputs, per frame, kept by the float pass so
 * that later passes can pair quantized and float activations. */
typedef struct {
  int n_frames;
  GHashTable *values; /* value id -> float ** (one buffer per frame) */
} vq__activation_cache;

void vq__activation_cache_clear (vq__activation_cache *cache);

void vq__conv_stats_init (vq__conv_stats *stats, const vq_graph *graph, uint32_t node,
                          gboolean want_hessian, int64_t rows_per_frame);
/* Also collect the cross terms against a float reference. */
void vq__conv_stats_want_cross (vq__conv_stats *stats);
void vq__conv_stats_clear (vq__conv_stats *stats);

/* Runs `model` (CPU engine) on each frame (input tensors of graph input 0's
 * shape) and accumulates stats for the listed convs (groups must be 1).
 * `keep` (may be NULL) receives every listed conv's input per frame;
 * `reference` (may be NULL) supplies the float inputs for cross terms. */
gboolean vq__collect_stats (const vq_model *model, const float *const *frames, int n_frames,
                            vq__conv_stats *stats, int n_stats, guint32 seed, int n_threads,
                            vq__activation_cache *keep, const vq__activation_cache *reference,
                            GError **error);

/* ---- settings.c ---- */

/* Bytes a conv of rows x cols weights takes under `setting`: indices,
 * scales and, when count_codebook, its codebook; or its dense weights. */
uint64_t vq__setting_bytes (const vq_layer_setting *setting, int64_t rows, int64_t cols,
                            gboolean count_codebook);

/* ---- float targets (target.c) ---- */

/* From stats with cross terms, the rows v (rows x cols) that best map the
 * quantized network's inputs to the float network's outputs (see target.c),
 * and the centred Hessian they should be quantized under. FALSE when the
 * stats lack cross terms or the system is singular. */
gboolean vq__float_target (const vq__conv_stats *stats, const float *w, int64_t rows,
                           double damp, float *target, double *h_centred, int n_threads);

/* ---- the compressor's per-conv state (compress.c, budget.c) ---- */

typedef struct {
  uint32_t node;
  int64_t rows, cols;
  int level;                /* convs on the longest path from the input */
  float *weights;           /* float reference, [cout][D] */
  float *bias;              /* float reference, [cout] */
  vq_layer_setting setting;
  vq__conv_stats reference; /* float network: input means (and H) */
  double local_error;
  double sensitivity;
} vq__conv_entry;

/* Chooses a setting for every VQ_LAYER_AUTO conv so that the whole model
 * stays within options->bits_per_weight, by measured sensitivity. */
gboolean vq__allocate_budget (const vq_model *model, const float *const *frames, int n_frames,
                              vq__conv_entry *convs, uint32_t n_convs,
                              const vq_compress_options *options, GError **error);

/* ---- the allocator's choice (choose.c) ---- */

typedef struct {
  uint32_t n_convs;
  int n_candidates;
  const double *cost;        /* n_convs x n_candidates: sensitivity x error */
  const double *bytes;       /* the same: bytes without any shared codebook */
  const gboolean *automatic; /* per conv: chosen here (else choice -1) */
  const int *pool;           /* per candidate: its shared codebook, or -1 */
  const double *pool_bytes;  /* per pool: the shared codebook's bytes */
  int n_pools;
  double budget;             /* bytes for the automatic convs and pools */
} vq__budget_problem;

/* One candidate per automatic conv within the budget, greedily by
 * distortion saved per byte; pools left with fewer than two members are
 * closed (see choose.c). */
void vq__budget_choose (const vq__budget_problem *problem, int *choice);

/* ---- codebooks shared by several convs (shared.c) ---- */

typedef struct {
  int32_t group;            /* the settings' @G */
  vq_layer_setting setting; /* d and K of every member */
  uint32_t *members;        /* indices of the member conv entries, in order */
  uint32_t n_members;
  double *codebook;         /* k x d, F16-exact, once fitted */
  int32_t blob;             /* its blob in the working graph, -1 until emitted */
} vq__shared_codebook;

/* Appends to `groups` (a GArray of vq__shared_codebook) one entry per
 * group used by the convs' settings; fails when a group's convs disagree
 * on d or K. */
gboolean vq__shared_codebooks_collect (const vq_graph *graph, const vq__conv_entry *convs,
                                       uint32_t n_convs, GArray *groups, GError **error);
vq__shared_codebook *vq__shared_codebook_find (GArray *groups, int32_t group);
void vq__shared_codebooks_free (GArray *groups);

/* Fits the group's codebook jointly to its members' float weights and
 * float Hessians (conv->reference.h; see shared.c): pooled k-means seeding,
 * then options->rounds of per-member assignment and the joint
 * least-squares refit (none with rounds = 0: the seed alone, as the budget
 * allocator uses it). options: method, rounds, damp, seed,
 * kmeans_max_points, n_threads. */
gboolean vq__shared_codebook_fit (vq__shared_codebook *shared, const vq__conv_entry *convs,
                                  const vq__quantize_options *options, GError **error);

/* ---- model plumbing (model_copy.c, emit.c) ---- */

/* Deep copies; blobs that no node references are left out. */
vq_graph *vq__graph_copy_compact (const vq_graph *graph);
/* The same for the first n_nodes nodes only, with `outputs` (value ids) as
 * the graph outputs (NULL: the original ones): a model that computes just
 * what a calibration pass reads. */
vq_graph *vq__graph_copy_prefix (const vq_graph *graph, uint32_t n_nodes,
                                 const uint32_t *outputs, uint32_t n_outputs);
vq_model *vq__model_copy (const vq_model *model);

/* Adds the layer's codebook as an F16 [K, d] blob; returns its id. */
int32_t vq__emit_codebook (vq_graph *graph, const vq__vq_layer *layer, const char *name);
/* Points conv node `node_index` at new VQ blobs for `layer`: its own
 * codebook when codebook_blob < 0, else that (shared) one. */
void vq__emit_vq (vq_graph *graph, uint32_t node_index, const vq__vq_layer *layer,
                  int32_t codebook_blob);
/* Points the conv at new dense weights (fp32 [cout][cin/g][kh][kw] input)
 * stored as `dtype` (F32 or F16). */
void vq__emit_dense (vq_graph *graph, uint32_t node_index, const float *weights,
                     vq_dtype dtype);
/* Gives the conv a new F32 bias blob. */
void vq__emit_bias (vq_graph *graph, uint32_t node_index, const float *bias);
/* The conv's bias as floats (zeros when it has none). */
void vq__conv_bias_to_f32 (const vq_graph *graph, const vq_node *node, float *out);

G_END_DECLS

#endif /* VQCORE_VQ_PRIVATE_H */
