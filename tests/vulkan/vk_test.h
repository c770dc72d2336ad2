/* Helpers shared by the Vulkan tests: a device (or meson's skip code 77 when
 * none exists), single-conv graphs with dense or k-means VQ weights, a
 * double-precision reference convolution, and running one conv on the
 * device. */
#ifndef VQ_VK_TEST_H
#define VQ_VK_TEST_H

#include <glib.h>

#include "conv.h"

#define VQ_TEST_SKIP 77

/* Opens the default device, or exits with 77 when no Vulkan device exists. */
vq_vk_context *vq_vk_test_context (void);

typedef struct {
  int32_t cin, h, w, cout;
  int32_t kh, kw, sh, sw, dh, dw;
  int32_t pad_top, pad_left, pad_bottom, pad_right;
  int32_t groups;
  vq_activation act;
  float alpha;
  /* weights: dense fp32 (0), dense fp16 (1), VQ with U8 (2) or U4 (3) indices */
  int weight_kind;
  int32_t vq_d;        /* VQ sub-vector length */
  int32_t vq_k;        /* VQ codebook entries */
  gboolean vq_scales;  /* per-output-channel scales */
  gboolean vq_f16;     /* an fp16 codebook, as the compressor writes */
  /* d = 1 only: the compressor's grid codebook, entry i = (i - K/2) / (K/2),
   * each row scaled to its peak and rounded to the nearest entry */
  gboolean vq_grid;
  gboolean bias;
} vq_conv_case;

/* A graph with one conv node (input value 0, output value 1), weights drawn
 * from `seed`. VQ weights come from plain k-means on random dense weights. */
vq_graph *vq_vk_test_conv_graph (const vq_conv_case *c, guint32 seed);

/* Direct convolution in double precision on NCHW input (the oracle). */
double *vq_vk_test_reference_conv (const vq_graph *graph, const float *input);

/* Runs node 0 of `graph` on the device; returns the NCHW output (g_free). */
float *vq_vk_test_run_conv (vq_vk_context *ctx, const vq_graph *graph, const float *input,
                            vq_vk_conv_path path, int32_t in_plane0, int32_t out_plane0);

/* sum((y - ref)^2) / sum(ref^2) */
double vq_vk_test_nmse (const float *y, const double *ref, gsize n);

float *vq_vk_test_random (gsize n, guint32 seed, float scale);

#endif
