/* Convolution: planning (weight decoding and packing at engine creation)
 * and execution (im2col + GEMM, or a direct loop), see conv.h. */
#include "conv.h"

#include <string.h>

#include "gemm.h"
#include "vqcore/error.h"

/* Output columns per task. Each chunk streams all of A (the weights) once,
 * so wide chunks keep that traffic low for the big-K layers of small
 * feature maps; B is packed and consumed one K block (VQ_GEMM_KC rows) at a
 * time, so only that much (at most 256 KiB) needs to stay in L2. Shared
 * mode packs a whole chunk (k x chunk floats), hence the cap. */
#define CHUNK_MAX 512
#define CHUNK_MAX_FLOATS (4 * 1024 * 1024)

/* Grouped convs with this few output channels per group (depthwise ones)
 * would fill a GEMM tile (VQ_GEMM_MR rows) mostly with padding, so they run
 * a direct loop. */
#define DIRECT_MAX_COUT_PER_GROUP 3

static float *
try_new_floats (size_t count, GError **error)
{
  float *data = g_try_malloc_n (MAX (count, 1), sizeof (float));
  if (data == NULL)
    g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                 "out of memory (%" G_GSIZE_FORMAT " floats for conv weights)", count);
  return data;
}

gboolean
vq__conv_prepare (vq__conv_plan *plan, const vq_graph *graph, const vq_node *node,
                  GError **error)
{
  const vq_conv_params *conv = &node->p.conv;
  const vq_shape *in = &graph->values[node->inputs[0]].shape;
  const vq_shape *out = &graph->values[node->outputs[0]].shape;

  memset (plan, 0, sizeof *plan);
  plan->batch = in->dims[0];
  plan->cin = in->dims[1];
  plan->h = in->dims[2];
  plan->w = in->dims[3];
  plan->cout = out->dims[1];
  plan->oh = out->dims[2];
  plan->ow = out->dims[3];
  plan->kh = conv->kernel_h;
  plan->kw = conv->kernel_w;
  plan->sh = conv->stride_h;
  plan->sw = conv->stride_w;
  plan->dh = conv->dilation_h;
  plan->dw = conv->dilation_w;
  plan->pt = conv->pad_top;
  plan->pl = conv->pad_left;
  plan->groups = conv->groups;
  plan->cin_g = plan->cin / plan->groups;
  plan->cout_g = plan->cout / plan->groups;
  plan->k = plan->cin_g * plan->kh * plan->kw;
  plan->act = node->act;
  plan->alpha = node->act_alpha;
  plan->identity = plan->kh == 1 && plan->kw == 1 && plan->sh == 1 && plan->sw == 1 &&
                   plan->pt == 0 && plan->pl == 0 && plan->oh == plan->h && plan->ow == plan->w;
  plan->direct = plan->groups > 1 && plan->cout_g <= DIRECT_MAX_COUT_PER_GROUP;

  /* As few chunks as the limits allow, of equal width (whole panels), so
   * that the tasks are alike. */
  int64_t n = plan->oh * plan->ow;
  int64_t chunk = CHUNK_MAX_FLOATS / MAX (plan->k, 1);
  chunk = CLAMP (chunk / VQ_GEMM_NR * VQ_GEMM_NR, VQ_GEMM_NR, CHUNK_MAX);
  int64_t n_chunks = (n + chunk - 1) / chunk;
  chunk = (n + n_chunks - 1) / n_chunks;
  plan->chunk = MAX ((chunk + VQ_GEMM_NR - 1) / VQ_GEMM_NR * VQ_GEMM_NR, VQ_GEMM_NR);

  plan->bias = try_new_floats ((size_t) plan->cout, error);
  if (plan->bias == NULL)
    goto fail;
  for (int64_t o = 0; o < plan->cout; o++)
    plan->bias[o] = conv->bias >= 0 ? vq_blob_get_f32 (&graph->blobs[conv->bias], o) : 0.0f;

  size_t count = (size_t) vq_conv_weight_count (graph, node);
  float *dense = try_new_floats (count, error);
  if (dense == NULL)
    goto fail;
  vq_conv_weights_to_f32 (graph, node, dense);
  if (plan->direct) {
    plan->weights = dense;
    return TRUE;
  }

  plan->weights_per_group = vq__gemm_packed_a_floats (plan->cout_g, plan->k);
  plan->weights = try_new_floats (plan->weights_per_group * (size_t) plan->groups, error);
  if (plan->weights == NULL) {
    g_free (dense);
    goto fail;
  }
  for (int64_t g = 0; g < plan->groups; g++)
    vq__gemm_pack_a (dense + g * plan->cout_g * plan->k, plan->k, plan->cout_g, plan->k,
                     plan->weights + g * plan->weights_per_group);
  g_free (dense);
  return TRUE;

fail:
  vq__conv_clear (plan);
  return FALSE;
}

void
vq__conv_clear (vq__conv_plan *plan)
{
  g_free (plan->weights);
  g_free (plan->bias);
  plan->weights = NULL;
  plan->bias = NULL;
}

/* Shared mode: fewer column chunks than threads (small feature maps). */
static gboolean
use_shared (const vq__conv_plan *plan, int threads)
{
  int64_t n = plan->oh * plan->ow;
  int64_t tasks = plan->groups * ((n + plan->chunk - 1) / plan->chunk);
  return threads > 1 && tasks < threads && !plan->direct;
}

size_t
vq__conv_scratch_floats (const vq__conv_plan *plan, int threads)
{
  if (plan->direct)
    return 0;
  if (use_shared (plan, threads))
    return vq__gemm_packed_b_floats (plan->k, plan->chunk);
  return vq__gemm_packed_b_floats (MIN (plan->k, VQ_GEMM_KC), plan->chunk);
}

/* Writes rows [k0, k0 + kc) of the im2col matrix of group g, for output
 * columns [n0, n0 + nc), straight into the packed-B layout of gemm.h
 * (panels of VQ_GEMM_NR columns, kc rows each), so the columns are written
 * once and never copied again. Row kk = (ci, ky, kx) of a panel is a run of
 * consecutive output pixels: each piece between an output-row and a panel
 * boundary is a strided copy of one input row, with zeros where the kernel
 * hangs over the padding. */
VQ_CLONES static void
im2col_packed (const vq__conv_plan *plan, const float *input, int64_t g, int64_t n0,
               int64_t nc, int64_t k0, int64_t kc, float *packed)
{
  const int64_t nr = VQ_GEMM_NR;
  int64_t taps = plan->kh * plan->kw;

  /* Lanes past the last column feed only discarded results; zero them so
   * that they hold no garbage. */
  if (nc % nr != 0) {
    float *last = packed + (nc / nr) * nr * kc;
    for (int64_t row = 0; row < kc; row++)
      memset (last + row * nr + nc % nr, 0, (size_t) (nr - nc % nr) * sizeof (float));
  }

  for (int64_t row = 0; row < kc; row++) {
    int64_t kk = k0 + row;
    int64_t ci = kk / taps, ky = kk % taps / plan->kw, kx = kk % plan->kw;
    const float *channel = input + (g * plan->cin_g + ci) * plan->h * plan->w;
    int64_t ix_base = kx * plan->dw - plan->pl;
    /* Output columns ox whose input column ox * sw + ix_base is inside. */
    int64_t valid_lo = ix_base >= 0 ? 0 : (-ix_base + plan->sw - 1) / plan->sw;
    int64_t valid_hi = plan->w - 1 - ix_base < 0 ? 0 : (plan->w - 1 - ix_base) / plan->sw + 1;

    /* Walk the chunk's output pixels in pieces that end at an output row or
     * a panel boundary, tracking (oy, ox) without divisions. */
    int64_t oy = n0 / plan->ow, ox0 = n0 % plan->ow;
    for (int64_t local = 0; local < nc;) {
      int64_t lane = local % nr;
      int64_t ox1 = MIN (plan->ow, ox0 + MIN (nr - lane, nc - local));
      /* d[ox] is this row's lane for output pixel (oy, ox). */
      float *d = packed + (local / nr) * nr * kc + row * nr + lane - ox0;
      int64_t iy = oy * plan->sh - plan->pt + ky * plan->dh;
      if (iy < 0 || iy >= plan->h) {
        for (int64_t ox = ox0; ox < ox1; ox++)
          d[ox] = 0.0f;
      } else {
        const float *src = channel + iy * plan->w + ix_base;
        int64_t lo = CLAMP (valid_lo, ox0, ox1);
        int64_t hi = CLAMP (valid_hi, lo, ox1);
        for (int64_t ox = ox0; ox < lo; ox++)
          d[ox] = 0.0f;
        if (plan->sw == 1)
          for (int64_t ox = lo; ox < hi; ox++)
            d[ox] = src[ox];
        else
          for (int64_t ox = lo; ox < hi; ox++)
            d[ox] = src[ox * plan->sw];
        for (int64_t ox = hi; ox < ox1; ox++)
          d[ox] = 0.0f;
      }
      local += ox1 - ox0;
      ox0 = ox1;
      if (ox0 == plan->ow) {
        ox0 = 0;
        oy++;
      }
    }
  }
}

typedef struct {
  const vq__conv_plan *plan;
  float *const *scratch;
  const float *input;
  float *output;
  int64_t n_chunks;
  int64_t m_splits;
  /* Shared mode: one chunk (g, n0, nc) packed by all threads into
   * scratch[0], then multiplied by all threads. */
  int64_t g, n0, nc;
} conv_job;

/* Packs rows [k0, k0 + kc) of the B matrix (im2col of group g) for
 * columns [n0, n0 + nc); `packed` is the chunk's buffer and p0..p1 the
 * panels to write, so threads can share one chunk. */
static void
pack_columns (const conv_job *job, int64_t g, int64_t n0, int64_t nc, int64_t p0, int64_t p1,
              int64_t k0, int64_t kc, float *packed)
{
  const vq__conv_plan *plan = job->plan;
  int64_t n = plan->oh * plan->ow;
  int64_t first = p0 * VQ_GEMM_NR;
  int64_t width = MIN (p1 * VQ_GEMM_NR, nc) - first;
  float *dst = packed + first * kc;
  if (width <= 0)
    return;
  if (plan->identity)
    vq__gemm_pack_b (job->input + (g * plan->cin_g + k0) * n + n0 + first, n, kc, width, dst);
  else
    im2col_packed (plan, job->input, g, n0 + first, width, k0, kc, dst);
}

/* Multiplies row range `split` of group g with packed B rows [k0, k0 + kc)
 * of columns [n0, n0 + nc). */
static void
gemm_rows (const conv_job *job, int64_t g, int64_t n0, int64_t nc, int64_t split, int64_t k0,
           int64_t kc, const float *packed)
{
  const vq__conv_plan *plan = job->plan;
  int64_t n = plan->oh * plan->ow;
  int64_t m_panels = (plan->cout_g + VQ_GEMM_MR - 1) / VQ_GEMM_MR;
  int64_t m_begin = split * m_panels / job->m_splits * VQ_GEMM_MR;
  int64_t m_end = MIN ((split + 1) * m_panels / job->m_splits * VQ_GEMM_MR, plan->cout_g);
  vq__gemm_epilogue epilogue = { plan->bias + g * plan->cout_g, plan->act, plan->alpha };
  vq__gemm_run (plan->weights + g * plan->weights_per_group, plan->cout_g, plan->k, k0, k0 + kc,
                m_begin, m_end, packed, kc * VQ_GEMM_NR, nc,
                job->output + g * plan->cout_g * n + n0, n, &epilogue);
}

/* Shared mode packs all k rows at once: one barrier between packing and
 * multiplying, rather than one per K block. */
static void
shared_pack_task (void *context, int64_t begin, int64_t end, int thread_index)
{
  const conv_job *job = context;
  pack_columns (job, job->g, job->n0, job->nc, begin, end, 0, job->plan->k, job->scratch[0]);
}

static void
shared_gemm_task (void *context, int64_t begin, int64_t end, int thread_index)
{
  const conv_job *job = context;
  for (int64_t split = begin; split < end; split++)
    gemm_rows (job, job->g, job->n0, job->nc, split, 0, job->plan->k, job->scratch[0]);
}

/* Independent mode: each task packs its own chunk and multiplies one row
 * range of it, one K block at a time, so that the packed block (KC x chunk
 * floats) is still in L2 when the GEMM reads it. */
static void
gemm_task (void *context, int64_t begin, int64_t end, int thread_index)
{
  const conv_job *job = context;
  const vq__conv_plan *plan = job->plan;
  int64_t n = plan->oh * plan->ow;
  float *packed = job->scratch[thread_index];

  for (int64_t task = begin; task < end; task++) {
    int64_t split = task % job->m_splits;
    int64_t chunk = (task / job->m_splits) % job->n_chunks;
    int64_t g = task / job->m_splits / job->n_chunks;
    int64_t n0 = chunk * plan->chunk;
    int64_t nc = MIN (plan->chunk, n - n0);
    int64_t panels = (nc + VQ_GEMM_NR - 1) / VQ_GEMM_NR;
    for (int64_t k0 = 0; k0 < plan->k; k0 += VQ_GEMM_KC) {
      int64_t kc = MIN (VQ_GEMM_KC, plan->k - k0);
      pack_columns (job, g, n0, nc, 0, panels, k0, kc, packed);
      gemm_rows (job, g, n0, nc, split, k0, kc, packed);
    }
  }
}

/* One output row of one channel, summed in (ci, ky, kx) order: each tap
 * adds its weight times a (strided) input row segment to the whole output
 * row, a loop that vectorizes. */
static void
direct_task (void *context, int64_t begin, int64_t end, int thread_index)
{
  const conv_job *job = context;
  const vq__conv_plan *plan = job->plan;
  for (int64_t task = begin; task < end; task++) {
    int64_t o = task / plan->oh;
    int64_t oy = task % plan->oh;
    int64_t g = o / plan->cout_g;
    const float *weights = plan->weights + o * plan->k;
    float *out = job->output + (o * plan->oh + oy) * plan->ow;
    for (int64_t ox = 0; ox < plan->ow; ox++)
      out[ox] = 0.0f;
    int64_t kk = 0;
    for (int64_t ci = 0; ci < plan->cin_g; ci++) {
      const float *channel = job->input + (g * plan->cin_g + ci) * plan->h * plan->w;
      for (int64_t ky = 0; ky < plan->kh; ky++) {
        int64_t iy = oy * plan->sh - plan->pt + ky * plan->dh;
        if (iy < 0 || iy >= plan->h) {
          kk += plan->kw;
          continue;
        }
        for (int64_t kx = 0; kx < plan->kw; kx++, kk++) {
          int64_t ix_base = kx * plan->dw - plan->pl;
          int64_t lo = ix_base >= 0 ? 0 : (-ix_base + plan->sw - 1) / plan->sw;
          int64_t hi = plan->w - 1 - ix_base < 0 ? 0 : (plan->w - 1 - ix_base) / plan->sw + 1;
          lo = MIN (lo, plan->ow);
          hi = CLAMP (hi, lo, plan->ow);
          const float *src = channel + iy * plan->w + ix_base;
          float weight = weights[kk];
          for (int64_t ox = lo; ox < hi; ox++)
            out[ox] += weight * src[ox * plan->sw];
        }
      }
    }
    for (int64_t ox = 0; ox < plan->ow; ox++)
      out[ox] += plan->bias[o];
    vq__activation_row (out, plan->ow, plan->act, plan->alpha);
  }
}

void
vq__conv_run (const vq__conv_plan *plan, vq__threadpool *pool, float *const *scratch,
              const float *input, float *output)
{
  int64_t n = plan->oh * plan->ow;
  int threads = vq__threadpool_size (pool);
  conv_job job = { plan, scratch, NULL, NULL, 0, 1, 0, 0, 0 };
  job.n_chunks = (n + plan->chunk - 1) / plan->chunk;

  /* Small images give few column chunks; then split the output channels
   * too, into one row range per thread, so that every thread gets the same
   * work (not needed when the equal chunks divide evenly among the threads).
   * With fewer chunks than threads, the threads first pack each
   * chunk together and then multiply it together (shared mode); otherwise
   * each row range repeats its chunk's im2col, cheap next to its GEMM. */
  int64_t m_panels = (plan->cout_g + VQ_GEMM_MR - 1) / VQ_GEMM_MR;
  int64_t tasks = plan->groups * job.n_chunks;
  gboolean shared = use_shared (plan, threads);
  if (shared)
    job.m_splits = MIN (m_panels, 2 * threads);
  else if (threads > 1 && tasks < 4 * threads && tasks % threads != 0)
    job.m_splits = MIN (m_panels, threads);

  for (int64_t b = 0; b < plan->batch; b++) {
    job.input = input + b * plan->cin * plan->h * plan->w;
    job.output = output + b * plan->cout * n;
    if (plan->direct) {
      vq__threadpool_parallel_for (pool, plan->cout * plan->oh,
                                   MAX (1, plan->cout * plan->oh / (8 * threads)),
                                   direct_task, &job);
    } else if (shared) {
      for (int64_t t = 0; t < tasks; t++) {
        job.g = t / job.n_chunks;
        job.n0 = t % job.n_chunks * plan->chunk;
        job.nc = MIN (plan->chunk, n - job.n0);
        int64_t panels = (job.nc + VQ_GEMM_NR - 1) / VQ_GEMM_NR;
        vq__threadpool_parallel_for (pool, panels, 0, shared_pack_task, &job);
        vq__threadpool_parallel_for (pool, job.m_splits, 1, shared_gemm_task, &job);
      }
    } else
      vq__threadpool_parallel_for (pool, tasks * job.m_splits, 1, gemm_task, &job);
  }
}
