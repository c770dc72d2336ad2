/* conv.c — conv2d on the Vulkan device: weight upload, specialization
 * constants and pipeline. Which shader family runs a conv, and with which
 * tiles, is convfamily.c's choice; the shader designs are described in
 * shaders/conv2d_gemm.comp and conv2d_wino.comp. */
#include "conv.h"

#include <stdlib.h>

#include "common/half.h"

static int32_t
round_up4 (int32_t x)
{
  return (x + 3) / 4 * 4;
}

/* Dense rows as the shaders read them: [cout][cin/g rounded up to 4][kh][kw]
 * with zero padding, in the blob's own precision (fp16 stays fp16: the
 * texel-buffer format converts on load). */
static gboolean
upload_dense (vq_vk_context *ctx, vq_vk_conv *conv, const vq_blob *blob, int32_t cout,
              int32_t cin_g, int32_t khkw, int32_t *row4, VkFormat *format, GError **error)
{
  int32_t cin_gp = round_up4 (cin_g);
  int64_t row = (int64_t) cin_gp * khkw;
  size_t elem = blob->dtype == VQ_DTYPE_F16 ? 2 : 4;
  guint8 *packed = g_malloc0 ((size_t) (cout * row) * elem);

  for (int32_t n = 0; n < cout; n++)
    memcpy (packed + (size_t) (n * row) * elem,
            (const guint8 *) blob->data + (size_t) n * cin_g * khkw * elem,
            (size_t) cin_g * khkw * elem);
  *row4 = (int32_t) (row / 4);
  *format = elem == 2 ? VK_FORMAT_R16G16B16A16_SFLOAT : VK_FORMAT_R32G32B32A32_SFLOAT;
  gboolean ok = vq__vk_buffer_init (ctx, &conv->weights, (VkDeviceSize) (cout * row) * elem,
                                    false, error) &&
                vq__vk_buffer_write (ctx, &conv->weights, 0, packed,
                                     (VkDeviceSize) (cout * row) * elem, error);
  g_free (packed);
  return ok;
}

/* A blob as fp32 values, `count` of them with zero padding past its end. */
static float *
blob_to_f32 (const vq_blob *blob, int64_t count)
{
  int64_t numel = vq_shape_numel (&blob->shape);
  float *values = g_new0 (float, count);
  for (int64_t i = 0; i < numel && i < count; i++)
    values[i] = vq_blob_get_f32 (blob, i);
  return values;
}

static gboolean
upload_floats (vq_vk_context *ctx, vq_vk_buffer *buffer, const float *values, int64_t count,
               GError **error)
{
  return vq__vk_buffer_init (ctx, buffer, (VkDeviceSize) count * 4, false, error) &&
         vq__vk_buffer_write (ctx, buffer, 0, values, (VkDeviceSize) count * 4, error);
}

/* VQ indices for conv2d_gemm_vqc (d = 4) and conv2d_gemm_vqa (any d): per
 * output row n and 4-channel chunk c4 (36 weights for a 3x3 conv), the
 * indices of the sub-vectors that overlap the chunk, one byte each, low
 * byte of a 32-bit word first, in whole texels of 1, 2 or 4 words
 * (R32UI, RG32UI or RGBA32UI: conv->code_words): chunk (n, c4) at texel
 * (n * cin_g4 + c4) * conv->code_texels. Still indices, never decoded
 * weights.
 *
 * Why wide texels: each texel fetch is a function call in lavapipe's
 * generated code, of 40-60 instructions with the call, whatever the
 * format. A 3x3 chunk with d = 1 takes 3 fetches instead of 9 RGBA8UI
 * ones; d = 2, 2 instead of 5.
 *
 * Paired (conv->paired_indices; conv2d_gemm and _ksplit, whose lanes each
 * decode rows 2l and 2l + 1, when a chunk overlaps at most 2 sub-vectors,
 * as in a 1x1 conv with d >= 2): rows 2m and 2m + 1 share the word of
 * chunk (m, c4), bytes 0-1 and 2-3, so a lane fetches its indices once per
 * chunk instead of twice. A 1x1 chunk with d = 2 is then 1 index and 4
 * codebook fetches, against dense fp16's 2 fetches.
 * Returns NULL when the blob holds fewer indices than the weights need. */
static guint8 *
chunk_indices (const vq_vk_conv *conv, const vq_blob *indices, int32_t cout, int32_t cin_g4,
               int32_t khkw, int32_t d, gsize *bytes)
{
  int32_t chunk = 4 * khkw, per_row = (cin_g4 * chunk + d - 1) / d;
  const guint8 *data = indices->data;

  if ((indices->dtype == VQ_DTYPE_U4 ? indices->nbytes * 2 : indices->nbytes) <
      (gsize) cout * per_row)
    return NULL;
  gsize chunk_bytes = (gsize) conv->code_texels * conv->code_words * 4;
  gsize rows = conv->paired_indices ? (gsize) (cout + 1) / 2 : (gsize) cout;
  *bytes = MAX (rows * cin_g4 * chunk_bytes, 16);
  guint8 *chunked = g_malloc0 (*bytes);
  for (int32_t n = 0; n < cout; n++)
    for (int32_t c4 = 0; c4 < cin_g4; c4++) {
      int32_t first = c4 * chunk / d, last = (c4 * chunk + chunk - 1) / d;
      gsize at = conv->paired_indices
                   ? ((gsize) (n / 2) * cin_g4 + c4) * chunk_bytes + (gsize) (n % 2) * 2
                   : ((gsize) n * cin_g4 + c4) * chunk_bytes;
      for (int32_t sv = first; sv <= last; sv++) {
        gsize e = (gsize) n * per_row + (gsize) sv;
        guint8 code = indices->dtype == VQ_DTYPE_U4 ? (data[e / 2] >> (4 * (e % 2))) & 15 : data[e];
        chunked[at + (gsize) (sv - first)] = code;
      }
    }
  return chunked;
}

/* How chunk_indices lays out a conv's indices (the shader's VQ_PAIRED,
 * VQ_CODE_WORDS and VQ_CODE_TEXELS). wino: conv2d_wino, whose lanes decode
 * one row each, so there is nothing to pair. */
static void
chunk_layout (vq_vk_conv *conv, bool wino, int32_t cin_g4, int32_t khkw, int32_t d)
{
  int32_t slots = 0, chunk = 4 * khkw;
  for (int32_t c4 = 0; c4 < cin_g4; c4++)
    slots = MAX (slots, (c4 * chunk + chunk - 1) / d - c4 * chunk / d + 1);
  int32_t words = (slots + 3) / 4;
  conv->paired_indices = !wino && slots <= 2;
  conv->code_words = conv->paired_indices ? 1 : words <= 2 ? words : 4;
  conv->code_texels = conv->paired_indices ? 1 : (words + conv->code_words - 1) / conv->code_words;
}

static VkFormat
words_format (int32_t words)
{
  return words == 1 ? VK_FORMAT_R32_UINT
         : words == 2 ? VK_FORMAT_R32G32_UINT
                      : VK_FORMAT_R32G32B32A32_UINT;
}

/* 4-bit VQ indices for conv2d_gemm_vqw and conv2d_wino_vqw (d = 8, 12,
 * 16): each row's indices as they are (8 nibbles per 32-bit word, low
 * first), but every row starts a word: row n at word n * *row_words. So the
 * word a chunk reads and the shift inside it are the same in every lane of a
 * cluster, and one R32UI fetch serves many chunks. One more word past the
 * last row, which the shader may fetch (and not use). Still indices, never
 * decoded weights. Returns NULL when the blob holds fewer indices than the
 * weights need. */
static guint32 *
word_indices (const vq_blob *indices, int32_t cout, int32_t per_row, int32_t *row_words,
              gsize *bytes)
{
  const guint8 *data = indices->data;

  if (indices->nbytes * 2 < (gsize) cout * per_row)
    return NULL;
  *row_words = (per_row + 7) / 8;
  *bytes = ((gsize) cout * *row_words + 1) * 4;
  guint32 *words = g_malloc0 (*bytes);
  for (int32_t n = 0; n < cout; n++)
    for (int32_t sv = 0; sv < per_row; sv++) {
      gsize e = (gsize) n * per_row + (gsize) sv;
      guint32 code = (data[e / 2] >> (4 * (e % 2))) & 15;
      words[(gsize) n * *row_words + sv / 8] |= code << (4 * (sv % 8));
    }
  return words;
}

/* Whether conv2d_gemm_vqw/conv2d_wino_vqw runs this conv: 4-bit indices
 * with d = 8, 12, 16 on the GEMM path, kernels larger than 1x1, as long as
 * the sub-vectors one chunk overlaps fit in one word's 8 nibbles (3x3
 * kernels: d = 8 needs 5).
 * Against conv2d_*_vq4 (one R8UI index fetch and unpack per codebook
 * texel) it fetches one or two words only when a chunk moves into another
 * word. bench_vk_conv --cpu-time --runs 9 on lavapipe, vq4 d8 time / dense
 * fp32 time, old and new build run alternately: 3x3 on conv2d_wino
 * 1.06-1.11 -> 1.02-1.04, 3x3 on conv2d_gemm 1.03-1.06 -> 1.00-1.02 (as
 * the 8-bit d=4 column). 1x1 convs keep conv2d_gemm_vq4: there vqw ran
 * 1-1.5 % slower in every alternate run (vq4 d8 19.3-19.9 GFLOP/CPU-s
 * against 19.6-20.1, ratios 1.02-1.06 both), whether it cached the word or
 * fetched it every chunk; with the index work removed altogether (wrong
 * weights, only to locate the cost) it ran 0.98-1.03, so what is left on
 * 1x1 is the index handling, not the codebook fetch. */
static bool
words_vq (bool gemm, const vq_graph *graph, const vq_conv_params *p)
{
  if (!gemm || p->weights.dense >= 0 || graph->blobs[p->weights.indices].dtype != VQ_DTYPE_U4)
    return false;
  int32_t d = graph->blobs[p->weights.codebook].shape.dims[1];
  int32_t d4 = d / 4, khkw = p->kernel_h * p->kernel_w;
  return d % 4 == 0 && d > 4 && khkw > 1 && (d4 - 1 + khkw - 1) / d4 + 1 <= 8;
}

/* Whether conv2d_gemm_vqc/vqa runs this conv: VQ on the GEMM path (the
 * refusal check guarantees cin/groups % 4 == 0), except sub-vectors of 8,
 * 12, ... values: there one texel of the codebook is 4 weights of a row
 * (conv2d_gemm_vq8/vq4 with the indices as they are), faster than vqa's
 * unaligned walk (bench_vk_conv: vq4 d8 1.05 vs 1.25-1.34 on 3x3). */
static bool
chunked_vq (bool gemm, const vq_graph *graph, const vq_conv_params *p)
{
  if (!gemm || p->weights.dense >= 0)
    return false;
  int32_t d = graph->blobs[p->weights.codebook].shape.dims[1];
  return d == 4 || d % 4 != 0;
}

/* The codebook as fp32 RGBA texels, entries packed, for the shaders that
 * read it as floats (conv2d_direct, and the unchunked GEMM forms, whose
 * d is a multiple of 4 there, so that each entry starts a texel). */
static float *
codebook_texels (const vq_blob *codebook, int64_t *count)
{
  int64_t values_count = vq_shape_numel (&codebook->shape);
  *count = (values_count + 3) / 4 * 4;
  float *values = g_new0 (float, *count);
  for (int64_t i = 0; i < values_count; i++)
    values[i] = vq_blob_get_f32 (codebook, i);
  return values;
}

/* The codebook as the chunked forms read it (VQ_CODEBOOK_WORDS in
 * shaders/conv_weights.glsl): each entry as 32-bit words, fp16 pairs when
 * the codebook is fp16 (*halves; the values stay exactly the model's) and
 * fp32 bits otherwise, padded to 1, 2 or a multiple of 4 words, so an entry
 * is one R32UI or RG32UI texel, or whole RGBA32UI texels (*format).
 * On lavapipe (bench_vk_conv --cpu-time --runs 7, VQ time / dense fp32
 * time, fp32 words and pairs run alternately) pairs took d = 5 on the 3x3
 * head conv from 1.08-1.11 to 1.02-1.06, d = 2 on a 3x3 conv of 64
 * channels at 52x52 from 1.09 to 1.04 and on the 1x1 head conv from 1.10
 * to 1.06; what remained of the decode's cost there was the codebook
 * fetches (with them replaced by arithmetic on the index, d = 1 and d = 5
 * ran 0.98-1.00). */
static guint32 *
codebook_words (const vq_blob *codebook, bool *halves, VkFormat *format, gsize *bytes)
{
  int32_t k = codebook->shape.dims[0], d = codebook->shape.dims[1];
  *halves = codebook->dtype == VQ_DTYPE_F16 && d > 1;
  int32_t used = *halves ? (d + 1) / 2 : d;
  int32_t stride = used <= 2 ? used : round_up4 (used);
  *format = words_format (MIN (stride, 4));
  *bytes = (gsize) MAX (k * stride, 4) * 4;
  guint32 *words = g_malloc0 (*bytes);
  const uint16_t *half = codebook->data;
  for (int32_t e = 0; e < k; e++)
    for (int32_t i = 0; i < d; i++) {
      int64_t at = (int64_t) e * d + i;
      guint32 *word = &words[(int64_t) e * stride + (*halves ? i / 2 : i)];
      if (*halves) {
        *word |= (guint32) half[at] << (16 * (i % 2));
      } else {
        union {
          float f;
          guint32 u;
        } bits = {.f = vq_blob_get_f32 (codebook, at)};
        *word = bits.u;
      }
    }
  return words;
}

static gboolean
upload_vq (vq_vk_context *ctx, vq_vk_conv *conv, const vq_graph *graph,
           const vq_conv_params *p, int32_t cin_g, int32_t *row4, VkFormat *format,
           GError **error)
{
  const vq_blob *codebook = &graph->blobs[p->weights.codebook];
  const vq_blob *indices = &graph->blobs[p->weights.indices];
  int32_t d = codebook->shape.dims[1];
  gboolean ok;
  if (conv->chunked) {
    gsize bytes;
    guint32 *words = codebook_words (codebook, &conv->codebook_halves, format, &bytes);
    /* The shaders compute a d = 1 grid's entries: with one fetch per
     * weight gone, d = 1 costs what dense weights do on lavapipe, where
     * each fetch is a call in the generated code (README, "VQ decode"). */
    conv->codebook_grid = vq_codebook_grid_half (codebook);
    ok = vq__vk_buffer_init (ctx, &conv->weights, bytes, false, error) &&
         vq__vk_buffer_write (ctx, &conv->weights, 0, words, bytes, error);
    g_free (words);
  } else {
    int64_t count;
    float *values = codebook_texels (codebook, &count);
    ok = upload_floats (ctx, &conv->weights, values, count, error);
    g_free (values);
    *format = VK_FORMAT_R32G32B32A32_SFLOAT;
  }
  if (ok && words_vq (conv->gemm, graph, p)) {
    gsize bytes;
    guint32 *words = word_indices (indices, p->out_channels,
                                   (int32_t) ((cin_g * p->kernel_h * p->kernel_w + d - 1) / d),
                                   row4, &bytes);
    if (!words) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "Vulkan: conv indices hold fewer sub-vectors than the weights need");
      return FALSE;
    }
    ok = vq__vk_buffer_init (ctx, &conv->indices, bytes, false, error) &&
         vq__vk_buffer_write (ctx, &conv->indices, 0, words, bytes, error) &&
         vq__vk_buffer_view (ctx, &conv->indices, VK_FORMAT_R32_UINT, 0, VK_WHOLE_SIZE,
                             &conv->views[3], error);
    g_free (words);
    return ok;
  }
  if (ok && conv->chunked) {
    gsize bytes;
    guint8 *chunked = chunk_indices (conv, indices, p->out_channels, cin_g / 4,
                                     p->kernel_h * p->kernel_w, d, &bytes);
    if (!chunked) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT,
                   "Vulkan: conv indices hold fewer sub-vectors than the weights need");
      return FALSE;
    }
    *row4 = conv->code_texels;
    ok = vq__vk_buffer_init (ctx, &conv->indices, bytes, false, error) &&
         vq__vk_buffer_write (ctx, &conv->indices, 0, chunked, bytes, error) &&
         vq__vk_buffer_view (ctx, &conv->indices, words_format (conv->code_words), 0,
                             VK_WHOLE_SIZE, &conv->views[3], error);
    g_free (chunked);
    return ok;
  }
  return ok &&
         vq__vk_buffer_init (ctx, &conv->indices, MAX (indices->nbytes, 16), false, error) &&
         vq__vk_buffer_write (ctx, &conv->indices, 0, indices->data, indices->nbytes, error);
}

/* The views of the weight buffers; upload_vq has made the index view
 * already where the indices are words (the _vqw and chunked forms). */
static gboolean
create_views (vq_vk_context *ctx, vq_vk_conv *conv, VkFormat weight_format, GError **error)
{
  return vq__vk_buffer_view (ctx, &conv->weights, weight_format, 0, VK_WHOLE_SIZE,
                             &conv->views[2], error) &&
         (conv->views[3] ||
          vq__vk_buffer_view (ctx, &conv->indices, VK_FORMAT_R8_UINT, 0, VK_WHOLE_SIZE,
                              &conv->views[3], error)) &&
         vq__vk_buffer_view (ctx, &conv->bias, VK_FORMAT_R32_SFLOAT, 0, VK_WHOLE_SIZE,
                             &conv->views[4], error) &&
         vq__vk_buffer_view (ctx, &conv->scale, VK_FORMAT_R32_SFLOAT, 0, VK_WHOLE_SIZE,
                             &conv->views[5], error);
}

static const char *
weight_form (bool gemm, const vq_graph *graph, const vq_conv_params *p)
{
  if (p->weights.dense >= 0)
    return "dense";
  if (words_vq (gemm, graph, p))
    return "vqw";
  if (chunked_vq (gemm, graph, p))
    return graph->blobs[p->weights.codebook].shape.dims[1] == 4 ? "vqc" : "vqa";
  return graph->blobs[p->weights.indices].dtype == VQ_DTYPE_U4 ? "vq4" : "vq8";
}

gboolean
vq__vk_conv_prepare (vq_vk_context *ctx, vq_vk_conv *conv, const vq_graph *graph,
                     const vq_node *node, const vq_vk_conv_placement *placement,
                     vq_vk_conv_path path, GError **error)
{
  const vq_conv_params *p = &node->p.conv;
  const vq_shape *in = &graph->values[node->inputs[0]].shape;
  const vq_shape *out = &graph->values[node->outputs[0]].shape;
  int32_t cin_g = in->dims[1] / p->groups, cout = p->out_channels;
  int32_t khkw = p->kernel_h * p->kernel_w;
  int32_t row4 = 0, vq_d = 4, vq_row = 1;
  VkFormat weight_format;
  const char *refusal = path == VQ_VK_CONV_GEMM     ? vq__vk_conv_gemm_refusal (ctx, graph, node)
                        : path == VQ_VK_CONV_WINO   ? vq__vk_conv_wino_refusal (ctx, graph, node)
                        : path == VQ_VK_CONV_KSPLIT ? vq__vk_conv_ksplit_refusal (ctx, graph, node)
                                                    : NULL;

  memset (conv, 0, sizeof *conv);
  if (refusal) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED, "Vulkan: conv %s: %s", node->name,
                 refusal);
    return FALSE;
  }
  const char *family = path == VQ_VK_CONV_GEMM     ? "gemm"
                       : path == VQ_VK_CONV_WINO   ? "wino"
                       : path == VQ_VK_CONV_KSPLIT ? "ksplit"
                       : path == VQ_VK_CONV_DIRECT ? "direct"
                                                   : vq__vk_conv_auto_family (ctx, graph, node);
  conv->gemm = strcmp (family, "direct") != 0;
  conv->vq = p->weights.dense < 0;
  conv->chunked = chunked_vq (conv->gemm, graph, p);
  conv->macs = (int64_t) out->dims[2] * out->dims[3] * cout * cin_g * khkw;

  gboolean ok;
  if (conv->vq) {
    const vq_blob *codebook = &graph->blobs[p->weights.codebook];
    vq_d = codebook->shape.dims[1];
    if (conv->chunked)
      chunk_layout (conv, strcmp (family, "wino") == 0, cin_g / 4, khkw, vq_d);
    vq_row = (cin_g * khkw + vq_d - 1) / vq_d;
    ok = upload_vq (ctx, conv, graph, p, cin_g, &row4, &weight_format, error);
  } else {
    ok = upload_dense (ctx, conv, &graph->blobs[p->weights.dense], cout, cin_g, khkw, &row4,
                       &weight_format, error) &&
         vq__vk_buffer_init (ctx, &conv->indices, 16, false, error);
  }
  float *bias = p->bias >= 0 ? blob_to_f32 (&graph->blobs[p->bias], cout) : g_new0 (float, cout);
  ok = ok && upload_floats (ctx, &conv->bias, bias, cout, error);
  g_free (bias);
  if (ok && p->weights.scales >= 0) {
    float *scale = blob_to_f32 (&graph->blobs[p->weights.scales], cout);
    ok = upload_floats (ctx, &conv->scale, scale, cout, error);
    g_free (scale);
  } else if (ok) {
    ok = vq__vk_buffer_init (ctx, &conv->scale, 16, false, error);
  }
  ok = ok && create_views (ctx, conv, weight_format, error);
  if (!ok) {
    vq__vk_conv_clear (ctx, conv);
    return FALSE;
  }

  vq_vk_conv_tiling tiling;
  vq__vk_conv_tiling_for (ctx, graph, node, family, &tiling);
  const vq_node *act = placement->activation ? placement->activation : node;
  union {
    float f;
    uint32_t u;
  } alpha = {.f = act->act_alpha};
  uint32_t spec[] = {
    tiling.local,
    (uint32_t) in->dims[2],
    (uint32_t) in->dims[3],
    (uint32_t) placement->in_plane0,
    (uint32_t) (conv->gemm ? round_up4 (cin_g) / 4 : cin_g),
    (uint32_t) out->dims[2],
    (uint32_t) out->dims[3],
    (uint32_t) placement->out_plane0,
    (uint32_t) cout,
    (uint32_t) (cout / p->groups),
    (uint32_t) p->kernel_h,
    (uint32_t) p->kernel_w,
    (uint32_t) p->stride_h,
    (uint32_t) p->stride_w,
    (uint32_t) p->dilation_h,
    (uint32_t) p->dilation_w,
    (uint32_t) p->pad_top,
    (uint32_t) p->pad_left,
    (uint32_t) act->act,
    alpha.u,
    (uint32_t) row4,
    (uint32_t) vq_d,
    (uint32_t) vq_row,
    p->weights.scales >= 0,
    ctx->subgroup_size == 8,
    (uint32_t) tiling.rows,
    (uint32_t) (placement->activation ? placement->act_plane0 : 0),
    (uint32_t) (placement->activation ? placement->act_plane0 + placement->act_planes
                                      : G_MAXINT32),
    conv->codebook_halves,
    conv->paired_indices,
    (uint32_t) conv->code_words,
    (uint32_t) conv->codebook_grid,
  };
  G_STATIC_ASSERT (G_N_ELEMENTS (spec) == VQ_VK_CONV_SPEC_COUNT);
  memcpy (conv->spec, spec, sizeof spec);
  g_snprintf (conv->shader, sizeof conv->shader, "conv2d_%s_%s", family,
              weight_form (conv->gemm, graph, p));

  conv->dispatch[0] = tiling.dispatch[0];
  conv->dispatch[1] = tiling.dispatch[1];
  return TRUE;
}

gboolean
vq__vk_conv_build_pipeline (vq_vk_context *ctx, vq_vk_conv *conv, GError **error)
{
  static const VkDescriptorType bindings[] = {
    VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER, VK_DESCRIPTOR_TYPE_STORAGE_TEXEL_BUFFER,
    VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
    VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER, VK_DESCRIPTOR_TYPE_UNIFORM_TEXEL_BUFFER,
  };
  return vq__vk_pipeline_init (ctx, &conv->pipeline, conv->shader, bindings,
                               G_N_ELEMENTS (bindings), conv->spec, VQ_VK_CONV_SPEC_COUNT, error);
}

typedef struct {
  vq_vk_context *ctx;
  vq_vk_conv **convs;
  gint n;
  gint next; /* atomic: the next conv to build */
  GMutex lock;
  GError *error; /* the first failure */
} build_job;

static gpointer
build_worker (gpointer data)
{
  build_job *job = data;
  for (gint i; (i = g_atomic_int_add (&job->next, 1)) < job->n;) {
    GError *error = NULL;
    if (vq__vk_conv_build_pipeline (job->ctx, job->convs[i], &error))
      continue;
    g_mutex_lock (&job->lock);
    if (job->error)
      g_error_free (error);
    else
      job->error = error;
    g_mutex_unlock (&job->lock);
  }
  return NULL;
}

gboolean
vq__vk_conv_build_pipelines (vq_vk_context *ctx, vq_vk_conv **convs, guint n, GError **error)
{
  enum { MAX_THREADS = 8 };
  build_job job = {.ctx = ctx, .convs = convs, .n = (gint) n};
  GThread *workers[MAX_THREADS];
  guint threads = MIN (n, MIN (g_get_num_processors (), MAX_THREADS));

  g_mutex_init (&job.lock);
  for (guint t = 1; t < threads; t++)
    workers[t] = g_thread_new ("vq-vk-compile", build_worker, &job);
  build_worker (&job);
  for (guint t = 1; t < threads; t++)
    g_thread_join (workers[t]);
  g_mutex_clear (&job.lock);
  if (job.error) {
    g_propagate_error (error, job.error);
    return FALSE;
  }
  return TRUE;
}

gboolean
vq__vk_conv_init (vq_vk_context *ctx, vq_vk_conv *conv, const vq_graph *graph,
                  const vq_node *node, const vq_vk_conv_placement *placement,
                  vq_vk_conv_path path, GError **error)
{
  if (!vq__vk_conv_prepare (ctx, conv, graph, node, placement, path, error))
    return FALSE;
  if (!vq__vk_conv_build_pipeline (ctx, conv, error)) {
    vq__vk_conv_clear (ctx, conv);
    return FALSE;
  }
  return TRUE;
}

gboolean
vq__vk_conv_bind (vq_vk_context *ctx, vq_vk_conv *conv, VkDescriptorPool pool,
                  VkBufferView src, VkBufferView dst, GError **error)
{
  conv->views[0] = src;
  conv->views[1] = dst;
  return vq__vk_descriptor_set (ctx, pool, &conv->pipeline, conv->views, &conv->set, error);
}

void
vq__vk_conv_record (vq_vk_context *ctx, const vq_vk_conv *conv, VkCommandBuffer cmd)
{
  ctx->vk.vkCmdBindPipeline (cmd, VK_PIPELINE_BIND_POINT_COMPUTE, conv->pipeline.pipeline);
  ctx->vk.vkCmdBindDescriptorSets (cmd, VK_PIPELINE_BIND_POINT_COMPUTE, conv->pipeline.layout,
                                   0, 1, &conv->set, 0, NULL);
  ctx->vk.vkCmdDispatch (cmd, conv->dispatch[0], conv->dispatch[1], 1);
}

void
vq__vk_conv_clear (vq_vk_context *ctx, vq_vk_conv *conv)
{
  for (int i = 2; i < 6; i++)
    if (conv->views[i])
      ctx->vk.vkDestroyBufferView (ctx->device, conv->views[i], NULL);
  vq__vk_pipeline_clear (ctx, &conv->pipeline);
  vq__vk_buffer_clear (ctx, &conv->weights);
  vq__vk_buffer_clear (ctx, &conv->indices);
  vq__vk_buffer_clear (ctx, &conv->bias);
  vq__vk_buffer_clear (ctx, &conv->scale);
  memset (conv, 0, sizeof *conv);
}
