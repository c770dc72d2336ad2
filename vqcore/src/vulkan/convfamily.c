/* convfamily.c — which conv shader family runs a conv on this device
 * (conv2d_wino, conv2d_ksplit, conv2d_gemm or conv2d_direct), and the tile
 * shape and dispatch size it runs with. The shaders' designs are described
 * in shaders/conv2d_gemm.comp and conv2d_wino.comp; the figures below were
 * measured with tests/vulkan/bench_vk_conv. */
#include "conv.h"

#include <stdlib.h>

enum {
  LOCAL_SIZE = 64,
  TILE_N = 16,      /* output channels per conv2d_gemm / _ksplit cluster */
  WINO_TILE_N = 8,  /* per conv2d_wino cluster */
  KSPLIT_MAX = 32,  /* clusters per conv2d_ksplit workgroup */
};

/* An integer from the environment within [lowest, highest], or fallback:
 * the VQ_VK_* knobs below are for experiments and comparisons. */
static int
env_int (const char *name, int lowest, int highest, int fallback)
{
  const char *env = g_getenv (name);
  if (!env)
    return fallback;
  int value = atoi (env);
  return value >= lowest && value <= highest ? value : fallback;
}

/* Pixels per lane in conv2d_gemm (a cluster of 8 lanes covers 8 * rows).
 * Measured on lavapipe (bench_vk_conv --cpu-time, one cluster per
 * workgroup): 8 rows halve the shuffles per multiply-add and run every 3x3
 * conv of NanoDet 15-30 % faster than 4 rows, 13x13 outputs included (now
 * that workgroups are one cluster, the partly empty tile is small); 10-16
 * rows gain nothing more. 1x1 convs fall off a cliff at 6 rows (12 vs 18
 * GFLOP/CPU-s: register spills); 5 rows run dense 1x1 convs as fast as 4
 * and spread each decoded VQ weight over 25 % more pixels (VQ/dense on
 * NanoDet's d=2 1x1 convs 1.03-1.08 instead of 1.05-1.14). Tiles of 32
 * channels (4 rows per lane) measured the same as 16. */
static int
gemm_rows (int32_t khkw)
{
  return env_int ("VQ_VK_GEMM_ROWS", 1, 16, khkw > 1 ? 8 : 5);
}

/* Invocations per workgroup for conv2d_gemm. Every cluster of a workgroup
 * runs the whole K loop even when its pixels are past the output, so on
 * small outputs (13x13 = 169 pixels) 64-lane workgroups (8 clusters x 32
 * pixels = 256) waste a third of the work. On a CPU device (lavapipe) one
 * cluster per workgroup measured fastest on every NanoDet shape (8-16 %
 * more GFLOP per CPU-second, up to 27 % at 13x13: bench_vk_conv --cpu-time),
 * since the device also balances its threads better over many small
 * workgroups. Elsewhere take the largest size among those that waste the
 * least. Never below the subgroup size: clusters live inside one subgroup. */
static uint32_t
gemm_local_size (const vq_vk_context *ctx, int64_t pixels, int rows)
{
  uint32_t lowest = MAX (8u, ctx->subgroup_size), best = LOCAL_SIZE;
  int64_t best_slots = G_MAXINT64;
  int forced = env_int ("VQ_VK_GEMM_LOCAL", (int) lowest, LOCAL_SIZE, 0);

  if (forced && forced % (int) lowest == 0)
    return (uint32_t) forced;
  if (ctx->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU)
    return MIN (lowest, LOCAL_SIZE);
  for (uint32_t size = LOCAL_SIZE; size >= lowest; size /= 2) {
    int64_t per_group = (int64_t) size * rows; /* size / 8 clusters of 8 * rows */
    int64_t slots = (pixels + per_group - 1) / per_group * per_group;
    if (slots < best_slots) {
      best_slots = slots;
      best = size;
    }
  }
  return best;
}

/* Tiles (2x2 output pixels) per lane in conv2d_wino, whose clusters own 8
 * output channels (one row per lane): 2 tiles keep 256 accumulators per
 * lane. On lavapipe (bench_vk_conv --cpu-time) 2 tiles ran NanoDet's 3x3
 * convs fastest, dense and VQ alike: 1 tile 13 % slower, 3 tiles 3-10 %
 * (VQ/dense 1.02-1.07 there instead of 1.02-1.09), 4 tiles 30 % (spills).
 * Clusters of 16 channels with 1 tile ran dense as fast but VQ 5-10 %
 * slower (each lane decodes two rows per tile). */
static int
wino_rows (void)
{
  return env_int ("VQ_VK_WINO_ROWS", 1, 8, 2);
}

/* Pixels per lane in conv2d_ksplit. On the NVIDIA H200, the default VQ
 * NanoDet from frame to detections (vq bench, median of 50 frames) took
 * 1.15-1.26 ms with 4 rows, 1.90-2.36 ms with 1, 2.52-2.72 ms with 2 and
 * 2.10-2.18 ms with 8, whatever the lane target below. */
static int
ksplit_rows (void)
{
  return env_int ("VQ_VK_KSPLIT_ROWS", 1, 8, 4);
}

/* The conv's output pixels and input chunks of 4 channels per group. */
static void
conv_sizes (const vq_graph *graph, const vq_node *node, int64_t *pixels, int32_t *cin_g4)
{
  const vq_shape *in = &graph->values[node->inputs[0]].shape;
  const vq_shape *out = &graph->values[node->outputs[0]].shape;
  *pixels = (int64_t) out->dims[2] * out->dims[3];
  *cin_g4 = (in->dims[1] / node->p.conv.groups + 3) / 4;
}

/* Clusters per conv2d_ksplit workgroup (S), each taking every S-th input
 * chunk, or 0 when no S fits this device. S is the smallest power of two
 * that gives the conv VQ_VK_KSPLIT_LANES invocations in all, within what
 * the device allows: S divides the chunk count (every cluster runs the
 * same number of chunks), 8 * S is a whole number of subgroups and a legal
 * workgroup, and the partial sums fit in shared memory. With 4 rows on the
 * H200, targets of 16k, 64k and 256k lanes measured 1.26, 1.23 and 1.19 ms
 * per frame: within run-to-run noise, so the middle one stays.
 * VQ_VK_KSPLIT_CLUSTERS forces S, for experiments. */
static uint32_t
ksplit_clusters (const vq_vk_context *ctx, const vq_graph *graph, const vq_node *node, int rows)
{
  const VkPhysicalDeviceLimits *limits = &ctx->properties.limits;
  int32_t cout = node->p.conv.out_channels, cin_g4;
  int64_t pixels;
  conv_sizes (graph, node, &pixels, &cin_g4);
  int64_t tiles = (pixels + 8 * rows - 1) / (8 * rows) * ((cout + TILE_N - 1) / TILE_N);
  int64_t lanes = env_int ("VQ_VK_KSPLIT_LANES", 1, 1 << 24, 1 << 16);
  uint32_t lowest = MAX (1u, ctx->subgroup_size / 8);
  uint32_t most = MIN (MIN (limits->maxComputeWorkGroupSize[0],
                            limits->maxComputeWorkGroupInvocations) / 8,
                       limits->maxComputeSharedMemorySize / (uint32_t) (8 * rows * 4 * 16));
  uint32_t wanted = 1, s = 1;

  most = MIN (most, KSPLIT_MAX);
  if (most < lowest)
    return 0;
  while (wanted < most && tiles * 8 * wanted < lanes)
    wanted *= 2;
  wanted = (uint32_t) env_int ("VQ_VK_KSPLIT_CLUSTERS", 1, KSPLIT_MAX, (int) wanted);
  /* Powers of two only: subgroup sizes are powers of two. */
  while (s * 2 <= MIN (MAX (wanted, lowest), most))
    s *= 2;
  for (; s >= lowest; s /= 2)
    if (cin_g4 % (int32_t) s == 0)
      return s;
  return 0;
}

const char *
vq__vk_conv_gemm_refusal (const vq_vk_context *ctx, const vq_graph *graph, const vq_node *node)
{
  const vq_conv_params *p = &node->p.conv;
  int32_t cin = graph->values[node->inputs[0]].shape.dims[1];
  int32_t cin_g = cin / p->groups, cout_g = p->out_channels / p->groups;

  if (ctx->subgroup_size < 8)
    return "the device has no subgroup shuffles";
  if (p->groups > 1 && (cout_g % TILE_N != 0 || cin_g % 4 != 0))
    return "grouped conv whose groups are not multiples of 16 outputs and 4 inputs";
  if (p->weights.dense < 0 && cin_g % 4 != 0)
    return "VQ conv with input channels not a multiple of 4";
  return NULL;
}

const char *
vq__vk_conv_wino_refusal (const vq_vk_context *ctx, const vq_graph *graph, const vq_node *node)
{
  const vq_conv_params *p = &node->p.conv;
  const char *refusal = vq__vk_conv_gemm_refusal (ctx, graph, node);

  if (refusal)
    return refusal;
  if (p->kernel_h != 3 || p->kernel_w != 3 || p->stride_h != 1 || p->stride_w != 1 ||
      p->dilation_h != 1 || p->dilation_w != 1)
    return "not a 3x3 conv with stride 1 and dilation 1";
  return NULL;
}

const char *
vq__vk_conv_ksplit_refusal (const vq_vk_context *ctx, const vq_graph *graph,
                            const vq_node *node)
{
  const char *refusal = vq__vk_conv_gemm_refusal (ctx, graph, node);

  if (refusal)
    return refusal;
  if (!ksplit_clusters (ctx, graph, node, ksplit_rows ()))
    return "no split of its input channels fits this device's subgroups and workgroups";
  return NULL;
}

/* Whether AUTO runs conv2d_wino where it can. On a CPU device (lavapipe)
 * it ran NanoDet's 3x3 stride-1 convs 1.4-1.8x faster than conv2d_gemm
 * (bench_vk_conv --cpu-time). On the NVIDIA H200 the default VQ NanoDet
 * took 5.80 ms per frame with it against 8.12 ms with conv2d_gemm alone
 * and 1.15 ms with conv2d_ksplit, so GPUs do without it.
 * VQ_VK_WINOGRAD=0 or 1 overrides, for comparisons. */
static bool
wino_wanted (const vq_vk_context *ctx)
{
  return env_int ("VQ_VK_WINOGRAD", 0, 1,
                  ctx->properties.deviceType == VK_PHYSICAL_DEVICE_TYPE_CPU) != 0;
}

/* Whether AUTO runs conv2d_ksplit where it can: on GPUs, whose hundred
 * thousand lanes conv2d_gemm's one cluster per tile leaves idle on
 * NanoDet's late layers (a 13x13 conv with 128 outputs is 192 lanes). On
 * the NVIDIA H200 the default VQ NanoDet went from 8.12 ms per frame with
 * conv2d_gemm to 1.15 ms (vq bench, frame to detections). A CPU device
 * (lavapipe) already has more tiles than threads, and shared memory and
 * barriers are slow there. VQ_VK_KSPLIT=0 or 1 overrides, for comparisons. */
static bool
ksplit_wanted (const vq_vk_context *ctx)
{
  return env_int ("VQ_VK_KSPLIT", 0, 1,
                  ctx->properties.deviceType != VK_PHYSICAL_DEVICE_TYPE_CPU) != 0;
}

const char *
vq__vk_conv_auto_family (const vq_vk_context *ctx, const vq_graph *graph, const vq_node *node)
{
  if (vq__vk_conv_gemm_refusal (ctx, graph, node))
    return "direct";
  if (wino_wanted (ctx) && !vq__vk_conv_wino_refusal (ctx, graph, node))
    return "wino";
  if (ksplit_wanted (ctx) && !vq__vk_conv_ksplit_refusal (ctx, graph, node))
    return "ksplit";
  return "gemm";
}

void
vq__vk_conv_tiling_for (const vq_vk_context *ctx, const vq_graph *graph, const vq_node *node,
                        const char *family, vq_vk_conv_tiling *tiling)
{
  const vq_shape *out = &graph->values[node->outputs[0]].shape;
  int32_t cout = node->p.conv.out_channels, cin_g4;
  int64_t pixels;
  uint32_t per_group, tile_n;

  conv_sizes (graph, node, &pixels, &cin_g4);
  if (!strcmp (family, "direct")) {
    tiling->rows = 1;
    tiling->local = LOCAL_SIZE;
    tiling->dispatch[0] = (uint32_t) ((pixels + LOCAL_SIZE - 1) / LOCAL_SIZE);
    tiling->dispatch[1] = (uint32_t) (cout + 3) / 4;
    return;
  }
  if (!strcmp (family, "ksplit")) {
    tiling->rows = ksplit_rows ();
    tiling->local = 8 * ksplit_clusters (ctx, graph, node, tiling->rows);
    per_group = 8 * (uint32_t) tiling->rows; /* all clusters share one tile */
    tile_n = TILE_N;
  } else if (!strcmp (family, "wino")) {
    /* conv2d_wino's M dimension counts tiles of 2x2 pixels. */
    pixels = (int64_t) ((out->dims[2] + 1) / 2) * ((out->dims[3] + 1) / 2);
    tiling->rows = wino_rows ();
    tiling->local = gemm_local_size (ctx, pixels, tiling->rows);
    per_group = tiling->local * (uint32_t) tiling->rows;
    tile_n = WINO_TILE_N;
  } else {
    int32_t khkw = node->p.conv.kernel_h * node->p.conv.kernel_w;
    tiling->rows = gemm_rows (khkw);
    tiling->local = gemm_local_size (ctx, pixels, tiling->rows);
    per_group = tiling->local * (uint32_t) tiling->rows; /* local / 8 clusters of 8 * rows */
    tile_n = TILE_N;
  }
  tiling->dispatch[0] = (uint32_t) ((pixels + per_group - 1) / per_group);
  tiling->dispatch[1] = (uint32_t) (cout + (int32_t) tile_n - 1) / tile_n;
}
