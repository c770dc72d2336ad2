/* conv2d on the Vulkan device against a double-precision direct
 * convolution, for every shader path (direct, GEMM, K-split GEMM, Winograd), dense fp32/fp16 and
 * VQ weights (8- and 4-bit indices), every geometry parameter, and channel-range placement. */
#include "vk_test.h"

static vq_vk_context *ctx;

/* fp32 path: the bound from the issue. fp16 weights are exact in the
 * reference too (it decodes the same halves), so the bound is the same. */
#define NMSE_BOUND 1e-6
/* fp16 activation storage: the device reads inputs rounded to 11
 * significant bits and may truncate its outputs to them (lavapipe does):
 * relative errors up to 2^-10, an nmse of about (2^-10)^2 / 3 = 3.2e-7 from
 * the outputs alone. Measured on lavapipe: 1.8e-7 to 1.9e-7 on every family. */
#define FP16_NMSE_BOUND 2e-6

static void
check_case (const vq_conv_case *c, vq_vk_conv_path path, int32_t in_plane0, int32_t out_plane0)
{
  vq_graph *graph = vq_vk_test_conv_graph (c, 1234);
  const vq_shape *os = &graph->values[1].shape;
  gsize n_in = (gsize) c->cin * c->h * c->w;
  gsize n_out = (gsize) vq_shape_numel (os);
  float *input = vq_vk_test_random (n_in, 99, 1.0f);
  double *expected = vq_vk_test_reference_conv (graph, input);
  float *got = vq_vk_test_run_conv (ctx, graph, input, path, in_plane0, out_plane0);
  double nmse = vq_vk_test_nmse (got, expected, n_out);

  g_test_message ("conv %dx%d cin %d cout %d groups %d kind %d path %d%s: nmse %.3g", c->kh,
                  c->kw, c->cin, c->cout, c->groups, c->weight_kind, path,
                  ctx->fp16_activations ? " fp16 activations" : "", nmse);
  g_assert_cmpfloat (nmse, <=, ctx->fp16_activations ? FP16_NMSE_BOUND : NMSE_BOUND);
  /* A result of all zeros would pass a loose check on a zero reference. */
  double norm = 0;
  for (gsize i = 0; i < n_out; i++)
    norm += expected[i] * expected[i];
  g_assert_cmpfloat (norm, >, 0.0);
  g_assert_cmpint (g_atomic_int_get (&ctx->validation_messages), ==, 0);
  g_free (input);
  g_free (expected);
  g_free (got);
  vq_graph_free (graph);
}

static vq_conv_case
base_case (void)
{
  return (vq_conv_case) {
    .cin = 16, .h = 13, .w = 11, .cout = 32,
    .kh = 3, .kw = 3, .sh = 1, .sw = 1, .dh = 1, .dw = 1,
    .pad_top = 1, .pad_left = 1, .pad_bottom = 1, .pad_right = 1,
    .groups = 1, .act = VQ_ACT_LEAKY_RELU, .alpha = 0.1f,
    .weight_kind = 0, .vq_d = 4, .vq_k = 64, .bias = TRUE,
  };
}

/* A 1x1 conv, no padding. */
static void
make_pointwise (vq_conv_case *c)
{
  c->kh = c->kw = 1;
  c->pad_top = c->pad_left = c->pad_bottom = c->pad_right = 0;
}

/* VQ weights with sub-vectors of d and K codewords: 4-bit indices when K
 * fits them, else 8-bit. */
static void
make_vq (vq_conv_case *c, int32_t d, int32_t k)
{
  c->weight_kind = k <= 16 ? 3 : 2;
  c->vq_d = d;
  c->vq_k = k;
}

typedef const char *(*refusal_fn) (const vq_vk_context *ctx, const vq_graph *graph,
                                   const vq_node *node);

/* Whether a shader family takes this case on this device: conv2d_wino
 * (3x3, stride 1, no dilation, and what conv2d_gemm needs) or
 * conv2d_ksplit (what conv2d_gemm needs, and a split of the input chunks
 * this device's subgroups allow), asked through its refusal. */
static gboolean
family_runs (const vq_conv_case *c, refusal_fn refusal)
{
  vq_graph *graph = vq_vk_test_conv_graph (c, 1);
  gboolean runs = !refusal (ctx, graph, &graph->nodes[0]);
  vq_graph_free (graph);
  return runs;
}

static void
every_path (const vq_conv_case *c)
{
  check_case (c, VQ_VK_CONV_DIRECT, 0, 0);
  check_case (c, VQ_VK_CONV_GEMM, 0, 0);
  if (family_runs (c, vq__vk_conv_wino_refusal))
    check_case (c, VQ_VK_CONV_WINO, 0, 0);
  if (family_runs (c, vq__vk_conv_ksplit_refusal))
    check_case (c, VQ_VK_CONV_KSPLIT, 0, 0);
}

static void
test_dense_3x3 (void)
{
  vq_conv_case c = base_case ();
  every_path (&c);
}

static void
test_dense_1x1_ragged (void)
{
  /* cout not a multiple of the 16-channel tile, pixels not of 32. */
  vq_conv_case c = base_case ();
  c.cin = 24;
  c.cout = 20;
  make_pointwise (&c);
  c.act = VQ_ACT_RELU;
  c.h = 7;
  c.w = 9;
  every_path (&c);
}

static void
test_dense_first_layer_fp16 (void)
{
  /* Three input channels (padded to a plane of four), stride 2, fp16. */
  vq_conv_case c = base_case ();
  c.cin = 3;
  c.cout = 24;
  c.h = 33;
  c.w = 29;
  c.sh = c.sw = 2;
  c.weight_kind = 1;
  c.act = VQ_ACT_SIGMOID;
  every_path (&c);
}

static void
test_dense_dilated_asymmetric (void)
{
  vq_conv_case c = base_case ();
  c.kh = 3;
  c.kw = 2;
  c.dh = 2;
  c.dw = 3;
  c.sh = 1;
  c.sw = 2;
  c.pad_top = 2;
  c.pad_left = 1;
  c.pad_bottom = 0;
  c.pad_right = 3;
  c.act = VQ_ACT_HARD_SWISH;
  c.bias = FALSE;
  every_path (&c);
}

static void
test_grouped_and_depthwise (void)
{
  vq_conv_case c = base_case ();
  c.groups = 2;
  c.cin = 16;
  c.cout = 32;
  c.act = VQ_ACT_SILU;
  every_path (&c);

  c.groups = c.cin = c.cout = 12; /* depthwise: direct path only */
  c.act = VQ_ACT_RELU6;
  check_case (&c, VQ_VK_CONV_AUTO, 0, 0);
}

static void
test_vq8_3x3_scales (void)
{
  vq_conv_case c = base_case ();
  make_vq (&c, 4, 256);
  c.vq_scales = TRUE;
  every_path (&c);
  c.vq_d = 8; /* sub-vectors straddle channel chunks: 8 does not divide 4 * 9 */
  every_path (&c);
}

static void
test_vq4_1x1 (void)
{
  vq_conv_case c = base_case ();
  make_vq (&c, 8, 16);
  c.cin = 40;
  c.cout = 48;
  make_pointwise (&c);
  every_path (&c);
}

static void
test_vq4_words (void)
{
  /* 4-bit indices with d = 8, 12, 16 and kernels above 1x1 run
   * conv2d_gemm_vqw / conv2d_wino_vqw (each row's indices as whole 32-bit
   * words; test_vq4_1x1 covers conv2d_gemm_vq4). cin 20 makes rows of 180
   * weights: 23 sub-vectors of 8 (the last one padded), so rows span three
   * words and a chunk's sub-vectors cross a word boundary; cout 40 leaves a
   * partly filled tile. */
  vq_conv_case c = base_case ();
  c.cin = 20;
  c.cout = 40;
  c.vq_scales = TRUE;
  for (int32_t d = 8; d <= 16; d += 4) {
    make_vq (&c, d, 16);
    every_path (&c);
  }
  /* Grouped: words are counted per row, chunks within the group. */
  c = base_case ();
  make_vq (&c, 8, 16);
  c.groups = 2;
  c.cin = 24;
  c.cout = 32;
  every_path (&c);
}

static void
test_vq_chunked_d4 (void)
{
  /* d = 4 runs conv2d_gemm_vqc (indices re-laid out per 4-channel chunk).
   * 4-bit indices with an odd number of chunks per row (cin 20) put row
   * starts on odd nibbles; cout 40 leaves a partly filled 16-channel tile. */
  vq_conv_case c = base_case ();
  make_vq (&c, 4, 16);
  c.cin = 20;
  c.cout = 40;
  every_path (&c);
  /* 8-bit, 1x1 (4 indices per chunk: one texel exactly), stride 2, with
   * an fp32 and an fp16 codebook. */
  c = base_case ();
  make_vq (&c, 4, 256);
  make_pointwise (&c);
  c.sh = c.sw = 2;
  every_path (&c);
  c.vq_f16 = TRUE;
  every_path (&c);
  /* Grouped: chunks are counted within the group. */
  c = base_case ();
  make_vq (&c, 4, c.vq_k);
  c.groups = 2;
  c.cin = 24;
  c.cout = 32;
  c.vq_scales = TRUE;
  every_path (&c);
}

static void
test_vq_any_d (void)
{
  /* The compressor picks d per layer (1..6 in the default model): the GEMM
   * path decodes any d, sub-vectors straddling 4-channel chunks included
   * (36 weights per chunk: d = 5 and 7 never align, every phase of the
   * chunk start inside a sub-vector occurs). 8- and 4-bit indices. */
  vq_conv_case c = base_case ();
  c.vq_scales = TRUE;
  c.cout = 40;
  for (int32_t d = 1; d <= 7; d++) {
    if (d == 4)
      continue; /* conv2d_gemm_vqc, tested above */
    make_vq (&c, d, d % 2 ? 256 : 16);
    /* fp32 codebooks, and fp16 ones as the compressor writes them (the
     * shaders then read two values per word: conv_weights.glsl). */
    for (int f16 = 0; f16 < 2; f16++) {
      c.vq_f16 = f16;
      every_path (&c);
    }
  }
  c.vq_f16 = FALSE;
  /* 1x1 with d = 3: rows of 20 weights end in a padded sub-vector. */
  c = base_case ();
  make_vq (&c, 3, c.vq_k);
  c.cin = 20;
  make_pointwise (&c);
  every_path (&c);
}

/* Which codebook form the chunked shaders get: fp16 pairs exactly when the
 * codebook is fp16 and d > 1 (d = 1 keeps one fp32 word per entry: a pair
 * would not halve its fetches). */
static void
test_vq_codebook_halves (void)
{
  vq_conv_case c = base_case ();
  for (int32_t d = 1; d <= 6; d++)
    for (int f16 = 0; f16 < 2; f16++) {
      make_vq (&c, d, 256);
      c.vq_f16 = f16;
      vq_graph *graph = vq_vk_test_conv_graph (&c, 5);
      vq_vk_conv conv;
      vq_vk_conv_placement placement = {0};
      GError *error = NULL;
      g_assert_true (vq__vk_conv_prepare (ctx, &conv, graph, &graph->nodes[0], &placement,
                                          VQ_VK_CONV_GEMM, &error));
      g_assert_no_error (error);
      g_assert_true (conv.chunked);
      g_assert_cmpint (conv.codebook_halves, ==, f16 && d > 1);
      vq__vk_conv_clear (ctx, &conv);
      vq_graph_free (graph);
    }
}

/* The layout conv path `path` gives the case's indices (conv.c,
 * chunk_indices). */
static vq_vk_conv
index_layout (const vq_conv_case *c, vq_vk_conv_path path)
{
  vq_graph *graph = vq_vk_test_conv_graph (c, 5);
  vq_vk_conv conv;
  vq_vk_conv_placement placement = {0};
  GError *error = NULL;
  g_assert_true (vq__vk_conv_prepare (ctx, &conv, graph, &graph->nodes[0], &placement, path,
                                      &error));
  g_assert_no_error (error);
  g_assert_true (conv.chunked);
  vq_vk_conv layout = conv;
  vq__vk_conv_clear (ctx, &conv);
  vq_graph_free (graph);
  return layout;
}

/* Sub-vectors of length d overlapping one chunk of `chunk` weights, at most. */
static int32_t
slots_per_chunk (int32_t chunk, int32_t d, int32_t chunks)
{
  int32_t slots = 0;
  for (int32_t c4 = 0; c4 < chunks; c4++)
    slots = MAX (slots, (c4 * chunk + chunk - 1) / d - c4 * chunk / d + 1);
  return slots;
}

static void
test_vq_index_layout (void)
{
  /* The chunked forms read a chunk's indices as bytes of whole 32-bit
   * words, in texels of 1, 2 or 4 words (each texel fetch costs a function
   * call on lavapipe). Where a chunk overlaps at most 2 sub-vectors (1x1,
   * d >= 2), conv2d_gemm and _ksplit pair rows 2m and 2m + 1 in one word;
   * conv2d_wino, one row per lane, never does. An odd cout leaves the last
   * pair half empty, and every path must still match the reference. */
  for (int32_t d = 1; d <= 5; d++)
    for (int pointwise = 0; pointwise < 2; pointwise++) {
      vq_conv_case c = base_case ();
      make_vq (&c, d, 256);
      c.cout = 37;
      if (pointwise)
        make_pointwise (&c);
      int32_t chunk = 4 * c.kh * c.kw, slots = slots_per_chunk (chunk, d, c.cin / 4);
      vq_vk_conv gemm = index_layout (&c, VQ_VK_CONV_GEMM);
      g_assert_cmpint (gemm.paired_indices, ==, slots <= 2);
      g_assert_true (gemm.code_words == 1 || gemm.code_words == 2 || gemm.code_words == 4);
      if (!gemm.paired_indices) {
        int32_t words = gemm.code_texels * gemm.code_words;
        g_assert_cmpint (4 * words, >=, slots);
        g_assert_cmpint (4 * (words - gemm.code_words), <, slots); /* no empty texel */
      }
      if (!pointwise) {
        vq_vk_conv wino = index_layout (&c, VQ_VK_CONV_WINO);
        g_assert_false (wino.paired_indices);
        g_assert_cmpint (wino.code_texels, ==, gemm.code_texels);
      }
      g_test_message ("d %d, %dx%d: %d index slots per chunk, %s, %d texel(s) of %d word(s)",
                      d, c.kh, c.kw, slots, gemm.paired_indices ? "paired" : "unpaired",
                      gemm.code_texels, gemm.code_words);
      every_path (&c);
    }
}

static void
test_vq_grid_codebook (void)
{
  /* A d = 1 codebook that is the compressor's grid, (i - K/2) / (K/2):
   * the chunked shaders compute each weight from its index instead of
   * fetching it. It must be recognised with 8- and 4-bit indices, fp16 and
   * fp32 codebooks, 3x3 and 1x1, give the reference's results on every
   * path, and a learned d = 1 codebook must still be fetched. */
  static const int32_t ks[] = {256, 16};
  for (gsize i = 0; i < G_N_ELEMENTS (ks); i++)
    for (int f16 = 0; f16 < 2; f16++)
      for (int pointwise = 0; pointwise < 2; pointwise++) {
        vq_conv_case c = base_case ();
        make_vq (&c, 1, ks[i]);
        c.vq_grid = TRUE;
        c.vq_f16 = f16;
        c.cout = 37;
        if (pointwise)
          make_pointwise (&c);
        g_assert_cmpint (index_layout (&c, VQ_VK_CONV_GEMM).codebook_grid, ==, ks[i] / 2);
        if (!pointwise)
          g_assert_cmpint (index_layout (&c, VQ_VK_CONV_WINO).codebook_grid, ==, ks[i] / 2);
        every_path (&c);
      }
  vq_conv_case learned = base_case ();
  make_vq (&learned, 1, 256);
  g_assert_cmpint (index_layout (&learned, VQ_VK_CONV_GEMM).codebook_grid, ==, 0);
}

static void
test_ksplit_wide (void)
{
  /* Many input channels on few pixels, the shape conv2d_ksplit is for:
   * the widest split this device allows (every cluster takes a few of the
   * 64 chunks), a ragged last tile, dense and VQ. */
  vq_conv_case c = base_case ();
  c.cin = 256;
  c.cout = 36;
  c.h = 6;
  c.w = 7;
  check_case (&c, VQ_VK_CONV_KSPLIT, 0, 0);
  make_vq (&c, 4, 256);
  check_case (&c, VQ_VK_CONV_KSPLIT, 0, 0);
  check_case (&c, VQ_VK_CONV_GEMM, 0, 0);
}

/* conv2d_ksplit's split S on this device, for NanoDet-like shapes: within
 * the device's limits, a whole number of subgroups, dividing the chunk
 * count, every tile's partial sums in shared memory, and wider splits for
 * fewer pixels. */
static void
test_ksplit_tiling (void)
{
  const VkPhysicalDeviceLimits *limits = &ctx->properties.limits;
  static const int32_t sizes[][3] = {/* cin, h = w, cout */
                                     {32, 104, 32}, {128, 52, 128}, {256, 13, 128},
                                     {512, 13, 128}, {20, 26, 40}};
  uint32_t previous_local = 0;
  for (gsize i = 0; i < G_N_ELEMENTS (sizes); i++) {
    vq_conv_case c = base_case ();
    c.cin = sizes[i][0];
    c.h = c.w = sizes[i][1];
    c.cout = sizes[i][2];
    vq_graph *graph = vq_vk_test_conv_graph (&c, 1);
    const vq_node *node = &graph->nodes[0];
    vq_vk_conv_tiling tiling;
    g_assert_null (vq__vk_conv_ksplit_refusal (ctx, graph, node));
    vq__vk_conv_tiling_for (ctx, graph, node, "ksplit", &tiling);
    uint32_t split = tiling.local / 8, chunks = (uint32_t) (c.cin + 3) / 4;
    g_test_message ("ksplit %d@%d -> %d: %u clusters of %d pixels per lane, %u x %u groups",
                    c.cin, c.h, c.cout, split, tiling.rows, tiling.dispatch[0],
                    tiling.dispatch[1]);
    g_assert_cmpuint (tiling.local % 8, ==, 0);
    g_assert_cmpuint (tiling.local % MAX (ctx->subgroup_size, 8u), ==, 0);
    g_assert_cmpuint (tiling.local, <=, limits->maxComputeWorkGroupInvocations);
    g_assert_cmpuint (tiling.local, <=, limits->maxComputeWorkGroupSize[0]);
    g_assert_cmpuint (chunks % split, ==, 0);
    g_assert_cmpuint ((gsize) tiling.local * (gsize) tiling.rows * 4 * 16, <=,
                      limits->maxComputeSharedMemorySize);
    /* Every output pixel and channel has a workgroup. */
    g_assert_cmpuint ((gsize) tiling.dispatch[0] * 8 * (gsize) tiling.rows, >=,
                      (gsize) c.h * (gsize) c.w);
    g_assert_cmpuint ((gsize) tiling.dispatch[1] * 16, >=, (gsize) c.cout);
    /* 256@13 has far fewer tiles than 128@52, and twice the chunks. */
    if (i == 2)
      g_assert_cmpuint (tiling.local, >=, previous_local);
    previous_local = tiling.local;
    vq_graph_free (graph);
  }
}

static void
test_vq_general_fallback (void)
{
  /* d = 3 and three input channels: only the direct shader can decode. */
  vq_conv_case c = base_case ();
  make_vq (&c, 3, c.vq_k);
  c.cin = 3;
  check_case (&c, VQ_VK_CONV_AUTO, 0, 0);
}

static void
test_channel_ranges (void)
{
  /* Read from planes 2.. of a bigger value (split) and write into planes
   * 3.. of a concat destination; the planes before stay untouched. */
  vq_conv_case c = base_case ();
  check_case (&c, VQ_VK_CONV_GEMM, 2, 3);
  check_case (&c, VQ_VK_CONV_DIRECT, 1, 2);
  check_case (&c, VQ_VK_CONV_WINO, 1, 3);
  check_case (&c, VQ_VK_CONV_KSPLIT, 2, 1);
}

static void
test_fp16_activations (void)
{
  /* Every family reading and writing RGBA16F activations: dense and VQ
   * weights, depthwise, and channel ranges (plane offsets in 8-byte texels). */
  GError *error = NULL;
  if (!vq__vk_activations_choose (ctx, VQ_PRECISION_FP16, &error)) {
    g_test_skip (error->message);
    g_error_free (error);
    return;
  }
  vq_conv_case c = base_case ();
  every_path (&c);
  make_vq (&c, 4, 256);
  c.vq_scales = TRUE;
  every_path (&c);
  c = base_case ();
  make_pointwise (&c);
  make_vq (&c, 8, 16);
  every_path (&c);
  c = base_case ();
  c.groups = c.cin = c.cout = 16;
  check_case (&c, VQ_VK_CONV_AUTO, 0, 0);
  c = base_case ();
  check_case (&c, VQ_VK_CONV_GEMM, 2, 3);
  check_case (&c, VQ_VK_CONV_DIRECT, 1, 2);
  check_case (&c, VQ_VK_CONV_WINO, 1, 3);
  check_case (&c, VQ_VK_CONV_KSPLIT, 2, 1);
  ctx->fp16_activations = false;
}

static void
assert_refused (const vq_conv_case *c, vq_vk_conv_path path)
{
  vq_graph *graph = vq_vk_test_conv_graph (c, 1);
  vq_vk_conv conv;
  vq_vk_conv_placement placement = {.in_plane0 = 0, .out_plane0 = 0};
  GError *error = NULL;
  g_assert_false (vq__vk_conv_init (ctx, &conv, graph, &graph->nodes[0], &placement, path,
                                    &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED);
  g_error_free (error);
  vq_graph_free (graph);
}

static void
test_gemm_refuses (void)
{
  vq_conv_case c = base_case ();
  c.groups = c.cin = c.cout = 8;
  assert_refused (&c, VQ_VK_CONV_GEMM);
  assert_refused (&c, VQ_VK_CONV_WINO);
  assert_refused (&c, VQ_VK_CONV_KSPLIT);
}

static void
test_wino_refuses (void)
{
  /* Winograd F(2x2, 3x3) covers only 3x3 kernels at stride 1, dilation 1. */
  vq_conv_case c = base_case ();
  c.sh = 2;
  assert_refused (&c, VQ_VK_CONV_WINO);
  c = base_case ();
  c.dw = 2;
  assert_refused (&c, VQ_VK_CONV_WINO);
  c = base_case ();
  make_pointwise (&c);
  assert_refused (&c, VQ_VK_CONV_WINO);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  ctx = vq_vk_test_context ();
  g_test_add_func ("/vulkan/conv/dense-3x3", test_dense_3x3);
  g_test_add_func ("/vulkan/conv/dense-1x1-ragged", test_dense_1x1_ragged);
  g_test_add_func ("/vulkan/conv/dense-first-layer-fp16", test_dense_first_layer_fp16);
  g_test_add_func ("/vulkan/conv/dense-dilated-asymmetric", test_dense_dilated_asymmetric);
  g_test_add_func ("/vulkan/conv/grouped-and-depthwise", test_grouped_and_depthwise);
  g_test_add_func ("/vulkan/conv/vq8-3x3-scales", test_vq8_3x3_scales);
  g_test_add_func ("/vulkan/conv/vq4-1x1", test_vq4_1x1);
  g_test_add_func ("/vulkan/conv/vq4-words", test_vq4_words);
  g_test_add_func ("/vulkan/conv/vq-chunked-d4", test_vq_chunked_d4);
  g_test_add_func ("/vulkan/conv/vq-any-d", test_vq_any_d);
  g_test_add_func ("/vulkan/conv/vq-codebook-halves", test_vq_codebook_halves);
  g_test_add_func ("/vulkan/conv/vq-index-layout", test_vq_index_layout);
  g_test_add_func ("/vulkan/conv/vq-grid-codebook", test_vq_grid_codebook);
  g_test_add_func ("/vulkan/conv/ksplit-wide", test_ksplit_wide);
  g_test_add_func ("/vulkan/conv/ksplit-tiling", test_ksplit_tiling);
  g_test_add_func ("/vulkan/conv/vq-general-fallback", test_vq_general_fallback);
  g_test_add_func ("/vulkan/conv/channel-ranges", test_channel_ranges);
  g_test_add_func ("/vulkan/conv/fp16-activations", test_fp16_activations);
  g_test_add_func ("/vulkan/conv/gemm-refuses", test_gemm_refuses);
  g_test_add_func ("/vulkan/conv/wino-refuses", test_wino_refuses);
  int status = g_test_run ();
  g_assert_cmpint (g_atomic_int_get (&ctx->validation_messages), ==, 0);
  vq__vk_context_free (ctx);
  return status;
}
