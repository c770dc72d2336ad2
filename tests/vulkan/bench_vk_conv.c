/* bench_vk_conv: GFLOP/s of the Vulkan conv2d shaders on NanoDet's conv
 * shapes, dense (fp32, fp16) and VQ (8-bit indices d=4 K=256, 4-bit indices
 * d=8 K=16), and the VQ/dense time ratio per shape. Not a test:
 *
 *   nice build/tests/vulkan/bench_vk_conv [--runs N] [--path gemm|ksplit|wino|direct]
 *                                         [--only SUBSTRING] [--cpu-time]
 *                                         [--vq-d D]
 *
 * --cpu-time divides by the CPU time of all the process's threads instead of
 * wall-clock time: on a loaded machine that still compares shader variants
 * fairly (multiply by the number of cores for an idle-machine estimate).
 * --vq-d sets the sub-vector length of the 8-bit VQ column (default 4; the
 * compressor uses 1..8, and d = 5 straddles the shader's 4-channel chunks).
 * VQ codebooks are fp16, as the compressor writes them; BENCH_F32_CODEBOOK=1
 * makes them fp32 (the shaders then read one value per 32-bit word).
 *
 * Each measurement submits one command buffer holding `reps` dispatches of
 * the conv (separated by barriers) and reports the median over --runs. */
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "layout.h"
#include "vk_test.h"

typedef struct {
  const char *name;
  int32_t cin, h, w, cout, k, stride;
} shape;

static const shape shapes[] = {
  {"head 3x3 128->128 @52", 128, 52, 52, 128, 3, 1},
  {"csp 3x3 32->32 @104", 32, 104, 104, 32, 3, 1},
  {"down 3x3/2 64->64 @104", 64, 104, 104, 64, 3, 2},
  {"csp 3x3 64->64 @52", 64, 52, 52, 64, 3, 1},
  {"csp 3x3 128->128 @26", 128, 26, 26, 128, 3, 1},
  {"down 3x3/2 128->128 @52", 128, 52, 52, 128, 3, 2},
  {"csp 3x3 256->256 @13", 256, 13, 13, 256, 3, 1},
  {"head 1x1 128->124 @52", 128, 52, 52, 124, 1, 1},
  {"stem 3x3/2 3->32 @416", 3, 416, 416, 32, 3, 2},
};

/* Seconds of CPU time used by all threads of this process (lavapipe's
 * workers included): robust against other load on a shared machine, where
 * wall-clock time is not. */
static double
process_cpu_seconds (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec + (double) ts.tv_nsec * 1e-9;
}

static gboolean opt_cpu_time = FALSE;

static int
compare (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* Median seconds per conv dispatch. */
static double
time_conv (vq_vk_context *ctx, const vq_graph *graph, vq_vk_conv_path path, int runs)
{
  const vq_node *node = &graph->nodes[0];
  const vq_shape *is = &graph->values[node->inputs[0]].shape;
  const vq_shape *os = &graph->values[node->outputs[0]].shape;
  gsize in_floats = vq__vk_packed_floats (is->dims[1], is->dims[2], is->dims[3]);
  gsize in_bytes = in_floats / 4 * vq__vk_activation_texel_bytes (ctx);
  gsize out_bytes = vq__vk_packed_floats (os->dims[1], os->dims[2], os->dims[3]) / 4 *
                    vq__vk_activation_texel_bytes (ctx);
  vq_vk_buffer src, dst;
  VkBufferView views[2];
  VkDescriptorPool pool;
  VkCommandBuffer cmd;
  vq_vk_conv conv;
  vq_vk_conv_placement placement = {.in_plane0 = 0, .out_plane0 = 0};
  GError *error = NULL;
  float *values = vq_vk_test_random (in_floats, 5, 1.0f);
  void *input = g_malloc (in_floats * 4);
  vq__vk_encode_activations (ctx, input, values, in_floats);
  g_free (values);

  if (!vq__vk_buffer_init (ctx, &src, in_bytes, false, &error) ||
      !vq__vk_buffer_write (ctx, &src, 0, input, in_bytes, &error) ||
      !vq__vk_buffer_init (ctx, &dst, out_bytes, false, &error) ||
      !vq__vk_buffer_view (ctx, &src, vq__vk_activation_format (ctx), 0, VK_WHOLE_SIZE,
                           &views[0], &error) ||
      !vq__vk_buffer_view (ctx, &dst, vq__vk_activation_format (ctx), 0, VK_WHOLE_SIZE,
                           &views[1], &error) ||
      !vq__vk_descriptor_pool_init (ctx, &pool, 1, &error) ||
      !vq__vk_conv_init (ctx, &conv, graph, node, &placement, path, &error) ||
      !vq__vk_conv_bind (ctx, &conv, pool, views[0], views[1], &error))
    g_error ("%s", error->message);

  /* Warm up (the first dispatch compiles the shader), then size the batch
   * to roughly 50 ms so the ~20 us submit cost does not count. */
  if (!vq__vk_command_begin (ctx, &cmd, &error))
    g_error ("%s", error->message);
  vq__vk_conv_record (ctx, &conv, cmd);
  gint64 t0 = g_get_monotonic_time ();
  if (!vq__vk_command_submit (ctx, cmd, FALSE, &error))
    g_error ("%s", error->message);
  if (!vq__vk_command_begin (ctx, &cmd, &error))
    g_error ("%s", error->message);
  vq__vk_conv_record (ctx, &conv, cmd);
  t0 = g_get_monotonic_time ();
  if (!vq__vk_command_submit (ctx, cmd, FALSE, &error))
    g_error ("%s", error->message);
  double once = (double) (g_get_monotonic_time () - t0) * 1e-6;
  int reps = CLAMP ((int) (0.05 / MAX (once, 1e-6)), 1, 200);

  if (!vq__vk_command_begin (ctx, &cmd, &error))
    g_error ("%s", error->message);
  for (int i = 0; i < reps; i++) {
    vq__vk_conv_record (ctx, &conv, cmd);
    vq__vk_command_barrier (ctx, cmd);
  }
  if (!vq__vk_command_end (ctx, cmd, &error))
    g_error ("%s", error->message);
  double *times = g_new (double, runs);
  for (int r = 0; r < runs; r++) {
    t0 = g_get_monotonic_time ();
    double c0 = process_cpu_seconds ();
    if (!vq__vk_command_run (ctx, cmd, &error))
      g_error ("%s", error->message);
    times[r] = opt_cpu_time ? (process_cpu_seconds () - c0) / reps
                            : (double) (g_get_monotonic_time () - t0) * 1e-6 / reps;
  }
  qsort (times, runs, sizeof *times, compare);
  double median = times[runs / 2];
  g_free (times);
  ctx->vk.vkFreeCommandBuffers (ctx->device, ctx->command_pool, 1, &cmd);
  vq__vk_conv_clear (ctx, &conv);
  ctx->vk.vkDestroyDescriptorPool (ctx->device, pool, NULL);
  ctx->vk.vkDestroyBufferView (ctx->device, views[0], NULL);
  ctx->vk.vkDestroyBufferView (ctx->device, views[1], NULL);
  vq__vk_buffer_clear (ctx, &src);
  vq__vk_buffer_clear (ctx, &dst);
  g_free (input);
  return median;
}

int
main (int argc, char **argv)
{
  int runs = 9;
  vq_vk_conv_path path = VQ_VK_CONV_AUTO;
  const char *only = NULL;
  int vq8_d = 4;

  for (int i = 1; i < argc; i++) {
    if (!strcmp (argv[i], "--runs") && i + 1 < argc)
      runs = atoi (argv[++i]);
    else if (!strcmp (argv[i], "--path") && i + 1 < argc)
      path = !strcmp (argv[++i], "direct") ? VQ_VK_CONV_DIRECT
             : !strcmp (argv[i], "wino")   ? VQ_VK_CONV_WINO
             : !strcmp (argv[i], "ksplit") ? VQ_VK_CONV_KSPLIT
                                           : VQ_VK_CONV_GEMM;
    else if (!strcmp (argv[i], "--cpu-time"))
      opt_cpu_time = TRUE;
    else if (!strcmp (argv[i], "--only") && i + 1 < argc)
      only = argv[++i];
    else if (!strcmp (argv[i], "--vq-d") && i + 1 < argc) {
      int d = atoi (argv[++i]); /* not inside CLAMP: it evaluates twice */
      vq8_d = CLAMP (d, 1, 16);
    }
    else {
      fprintf (stderr,
               "usage: %s [--runs N] [--path gemm|ksplit|wino|direct] [--only SUBSTRING] [--cpu-time]"
               " [--vq-d D]\n",
               argv[0]);
      return 2;
    }
  }
  runs = MAX (runs, 1);
  vq_vk_context *ctx = vq_vk_test_context ();
  if (!vq__vk_activations_choose (ctx, VQ_PRECISION_AUTO, NULL)) /* as the engine would */
    return 1;
  printf ("device: %s, %s activations, median of %d runs, %s\n", ctx->properties.deviceName,
          ctx->fp16_activations ? "fp16" : "fp32", runs,
          opt_cpu_time ? "GFLOP per CPU-second (all threads)" : "wall-clock GFLOP/s");
  char vq8_name[16];
  g_snprintf (vq8_name, sizeof vq8_name, "vq8 d%d", vq8_d);
  printf ("%-26s %9s %9s %9s %9s %7s %7s\n", "shape (GFLOP/s)", "fp32", "fp16", vq8_name,
          "vq4 d8", "vq8/32", "vq4/32");
  for (gsize s = 0; s < G_N_ELEMENTS (shapes); s++) {
    const shape *sh = &shapes[s];
    if (only && !strstr (sh->name, only))
      continue;
    vq_conv_case c = {
      .cin = sh->cin, .h = sh->h, .w = sh->w, .cout = sh->cout,
      .kh = sh->k, .kw = sh->k, .sh = sh->stride, .sw = sh->stride, .dh = 1, .dw = 1,
      .pad_top = sh->k / 2, .pad_left = sh->k / 2, .pad_bottom = sh->k / 2,
      .pad_right = sh->k / 2, .groups = 1, .act = VQ_ACT_LEAKY_RELU, .alpha = 0.1f,
      .bias = TRUE, .vq_f16 = !g_getenv ("BENCH_F32_CODEBOOK"),
    };
    double seconds[4];
    double flops = 0;
    for (int kind = 0; kind < 4; kind++) {
      c.weight_kind = kind;
      c.vq_d = kind == 3 ? 8 : vq8_d;
      c.vq_k = kind == 3 ? 16 : 256;
      if (kind >= 2 && sh->cin % 4 != 0) {
        seconds[kind] = 0;
        continue;
      }
      vq_graph *graph = vq_vk_test_conv_graph (&c, 7);
      const vq_shape *os = &graph->values[1].shape;
      flops = 2.0 * vq_conv_weight_count (graph, &graph->nodes[0]) * os->dims[2] * os->dims[3];
      seconds[kind] = time_conv (ctx, graph, path, runs);
      vq_graph_free (graph);
    }
    printf ("%-26s", sh->name);
    for (int kind = 0; kind < 4; kind++) {
      if (seconds[kind] > 0)
        printf (" %9.2f", flops / seconds[kind] * 1e-9);
      else
        printf (" %9s", "-");
    }
    if (seconds[2] > 0)
      printf (" %7.3f %7.3f", seconds[2] / seconds[0], seconds[3] / seconds[0]);
    printf ("   (%.2f ms fp32)\n", seconds[0] * 1e3);
  }
  int messages = g_atomic_int_get (&ctx->validation_messages);
  vq__vk_context_free (ctx);
  return messages == 0 ? 0 : 1;
}
