/* vq bench — times the full per-frame path (preprocess -> graph -> decode ->
 * NMS, as vq_detector_run does it: preprocessing and decoding on the device
 * when the backend offers them) on a synthetic frame and on a real one, and prints the device,
 * latency median/p90/min, frames per second, GFLOP/s and, on Vulkan, a
 * per-layer table from GPU timestamps. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "commands.h"
#include "cpu/backend.h"
#include "media.h"
#include "vqcore/tfjs.h"
#include "vqcore/vqcore.h"
#include "vulkan/backend.h"
#include "vulkan/convtime.h"

typedef struct {
  char *model;
  char *backend;
  char *device;
  char *precision;
  char *frame;
  int iterations;
  gboolean json;
  gboolean layers;
  gboolean conv_shapes;
} bench_args;

typedef struct {
  double median, p90, min;
  double cpu_median; /* CPU ms of all the process's threads per frame */
  guint detections;
} timing;

static int
compare_doubles (const void *a, const void *b)
{
  double x = *(const double *) a, y = *(const double *) b;
  return x < y ? -1 : x > y;
}

/* CPU time of every thread of the process (lavapipe's workers included), in
 * ms: on a machine shared with other work this still measures what a frame
 * costs, where wall-clock time measures the neighbours too. */
static double
process_cpu_ms (void)
{
  struct timespec ts;
  clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
  return (double) ts.tv_sec * 1e3 + (double) ts.tv_nsec * 1e-6;
}

static void
summarize (double *ms, double *cpu, int iterations, timing *out)
{
  qsort (ms, iterations, sizeof *ms, compare_doubles);
  qsort (cpu, iterations, sizeof *cpu, compare_doubles);
  out->median = ms[iterations / 2];
  out->p90 = ms[MIN (iterations - 1, (int) (iterations * 0.9))];
  out->min = ms[0];
  out->cpu_median = cpu[iterations / 2];
}

static vq_model *
load_model (const char *path, GError **error)
{
  char *default_path = NULL;
  vq_model *model;
  if (!path)
    path = default_path = vq_default_model_path (error);
  if (!path)
    return NULL;
  /* A TF.js model.json is imported on the fly, so the bench works before
   * `vq convert` has run. */
  model = g_str_has_suffix (path, ".json") ? vq_tfjs_import_nanodet (path, error)
                                          : vq_model_load (path, error);
  g_free (default_path);
  return model;
}

/* A deterministic 768x576 RGB test pattern (gradients and a checkerboard). */
static guint8 *
synthetic_frame (vq_frame *frame)
{
  const int w = 768, h = 576;
  guint8 *pixels = g_malloc ((gsize) w * h * 3);
  for (int y = 0; y < h; y++)
    for (int x = 0; x < w; x++) {
      guint8 *p = pixels + ((gsize) y * w + x) * 3;
      gboolean check = ((x / 48) + (y / 48)) % 2;
      p[0] = (guint8) (x * 255 / w);
      p[1] = (guint8) (y * 255 / h);
      p[2] = check ? 200 : 40;
    }
  memset (frame, 0, sizeof *frame);
  frame->format = VQ_PIXEL_RGB;
  frame->width = w;
  frame->height = h;
  frame->planes[0] = pixels;
  frame->strides[0] = w * 3;
  return pixels;
}

static gboolean
time_frame (vq_model *model, vq_engine *engine, const vq_frame *frame, int iterations,
            timing *out, timing *graph, GError **error)
{
  gsize n_input = (gsize) 3 * model->input.width * model->input.height;
  float *input = g_new (float, n_input);
  double *ms = g_new (double, iterations);
  double *cpu = g_new (double, iterations);
  double *graph_ms = g_new (double, iterations);
  double *graph_cpu = g_new (double, iterations);
  GArray *detections = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  vq_decode_options decode;
  gboolean ok = TRUE;

  vq_decode_options_from_model (&decode, model);
  /* One untimed run: first dispatches may still compile shaders. */
  for (int i = -1; i < iterations && ok; i++) {
    gint64 t0 = g_get_monotonic_time ();
    double c0 = process_cpu_ms ();
    /* The detector's path: the backend preprocesses on its device when it
     * can (Vulkan), else the CPU does. */
    gboolean done = FALSE;
    ok = vq__engine_run_frame (engine, frame, &model->input, &model->preprocess,
                               VQ_FIT_MODE_COUNT, NULL, &done, error) &&
         (done || (vq_preprocess_frame (frame, &model->input, &model->preprocess,
                                        VQ_FIT_MODE_COUNT, input, NULL, error) &&
                   vq_engine_run (engine, input, error)));
    /* Likewise the decode: on the device when the backend offers it. */
    gboolean decoded = FALSE;
    if (ok) {
      g_array_set_size (detections, 0);
      ok = vq__engine_decode (engine, model, &decode, detections, &decoded, error) &&
           (decoded || vq_decode_outputs (model, engine, &decode, detections, error));
    }
    if (ok)
      vq_nms (detections, decode.nms_iou, decode.max_detections);
    if (i >= 0) {
      ms[i] = (double) (g_get_monotonic_time () - t0) / 1000.0;
      cpu[i] = process_cpu_ms () - c0;
    }
  }
  /* The graph alone, on the same input: what TF.js's own timing covers. */
  if (ok && graph)
    ok = vq_preprocess_frame (frame, &model->input, &model->preprocess, VQ_FIT_MODE_COUNT,
                              input, NULL, error);
  for (int i = 0; i < iterations && ok && graph; i++) {
    gint64 t0 = g_get_monotonic_time ();
    double c0 = process_cpu_ms ();
    ok = vq_engine_run (engine, input, error);
    /* TF.js's figure includes downloading the outputs; so does this one. */
    for (uint32_t o = 0; ok && o < model->graph->n_outputs; o++)
      (void) vq_engine_output (engine, o);
    graph_ms[i] = (double) (g_get_monotonic_time () - t0) / 1000.0;
    graph_cpu[i] = process_cpu_ms () - c0;
  }
  if (ok) {
    summarize (ms, cpu, iterations, out);
    out->detections = detections->len;
    if (graph)
      summarize (graph_ms, graph_cpu, iterations, graph);
  }
  g_array_unref (detections);
  g_free (ms);
  g_free (cpu);
  g_free (graph_ms);
  g_free (graph_cpu);
  g_free (input);
  return ok;
}

static void
print_layers (vq_model *model, vq_engine *engine)
{
  const vq_graph *graph = model->graph;
  double *ms = g_new0 (double, graph->n_nodes);
  vq_vk_engine *vk = vq__engine_backend_state (engine);

  if (vq__vk_engine_node_times (vk, ms)) {
    printf ("\n%-4s %-10s %-44s %9s %9s  %s\n", "node", "op", "name", "ms", "GFLOP/s", "shader");
    for (uint32_t t = 0; t < graph->n_nodes; t++) {
      int64_t macs = vq__vk_engine_node_macs (vk, t);
      if (ms[t] <= 0.0 && macs == 0)
        continue;
      printf ("%-4u %-10s %-44.44s %9.3f", t, vq_op_name (graph->nodes[t].op),
              graph->nodes[t].name, ms[t]);
      const char *shader = vq__vk_engine_node_shader (vk, t);
      if (macs > 0 && ms[t] > 0)
        printf (" %9.2f", 2.0 * (double) macs / (ms[t] * 1e6));
      else if (shader)
        printf (" %9s", "");
      printf (shader ? "  %s\n" : "\n", shader);
    }
  }
  g_free (ms);
}

static gboolean
real_frame (const char *path, vq_media_reader **reader, vq_frame *frame, GError **error)
{
  vq_media_frame media;
  *reader = vq_media_reader_open (path, error);
  if (!*reader)
    return FALSE;
  /* vtest.avi's frame 200 has pedestrians; stills have one frame. A frame
   * is valid only until the next call, so stop at the one wanted. */
  int64_t declared = vq_media_reader_declared_frames (*reader);
  int64_t wanted = declared > 1 ? MIN (200, declared - 1) : 0;
  for (int64_t i = 0; i <= wanted; i++) {
    int r = vq_media_reader_next (*reader, &media, error);
    if (r < 0)
      return FALSE;
    if (r == 0) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_FORMAT, "%s: ends before frame %" G_GINT64_FORMAT,
                   path, wanted);
      return FALSE;
    }
  }
  *frame = media.frame;
  return TRUE;
}

/* The 1-minute load average, so a figure can be judged (other work on a
 * shared machine inflates wall-clock times); -1 when unknown. */
static double
machine_load (void)
{
  char *text = NULL;
  double load = -1.0;
  if (g_file_get_contents ("/proc/loadavg", &text, NULL, NULL))
    load = g_ascii_strtod (text, NULL);
  g_free (text);
  return load;
}

static void
print_json_timing (const char *name, const timing *t)
{
  printf ("\"%s\": {\"median_ms\": %.3f, \"p90_ms\": %.3f, \"min_ms\": %.3f, "
          "\"cpu_ms\": %.3f",
          name, t->median, t->p90, t->min, t->cpu_median);
  if (t->detections != G_MAXUINT)
    printf (", \"detections\": %u", t->detections);
  printf ("}");
}

static void
print_row (const char *name, const timing *t, int64_t macs, gboolean detections)
{
  printf ("%-10s %9.2f %9.2f %9.2f %9.2f %8.2f %9.2f", name, t->median, t->p90, t->min,
          t->cpu_median, 1000.0 / t->median, 2.0 * (double) macs / (t->median * 1e6));
  if (detections)
    printf (" %5u", t->detections);
  printf ("\n");
}

/* Two convs with the same input/output shapes and kernel cost the same. */
static gboolean
same_conv_shape (const vq_graph *g, const vq_node *a, const vq_node *b)
{
  const vq_conv_params *p = &a->p.conv, *q = &b->p.conv;
  return vq_shape_equal (&g->values[a->inputs[0]].shape, &g->values[b->inputs[0]].shape) &&
         vq_shape_equal (&g->values[a->outputs[0]].shape, &g->values[b->outputs[0]].shape) &&
         p->kernel_h == q->kernel_h && p->kernel_w == q->kernel_w &&
         p->stride_h == q->stride_h && p->stride_w == q->stride_w && p->groups == q->groups;
}

/* The in-shader VQ decode's cost per conv shape of the model: each distinct
 * shape run alone with dense fp32 and fp16 weights and with VQ weights (GPU
 * timestamps, the fastest of `runs`, variants interleaved). VQ is compared
 * with dense fp16, the precision of its codebooks. */
static gboolean
print_conv_shapes (const vq_model *model, const char *device, int runs, GError **error)
{
  const vq_graph *g = model->graph;
  printf ("\n%-30s %3s %-6s %8s %8s %8s %8s %8s %6s %6s %6s  %s\n", "conv shape (in -> out)",
          "n", "shader", "f32 ms", "f16 ms", "vq8 ms", "vq4 ms", "d1 ms", "vq8/d", "vq4/d",
          "d1/d", "model's own VQ: ms, /d, setting");
  for (uint32_t t = 0; t < g->n_nodes; t++) {
    const vq_node *node = &g->nodes[t];
    gboolean seen = FALSE;
    int count = 0;
    if (node->op != VQ_OP_CONV2D)
      continue;
    for (uint32_t u = 0; u < g->n_nodes; u++)
      if (g->nodes[u].op == VQ_OP_CONV2D && same_conv_shape (g, node, &g->nodes[u])) {
        seen |= u < t;
        count++;
      }
    if (seen)
      continue;
    vq_vk_conv_times times;
    if (!vq__vk_conv_times (g, t, device, runs, &times, error))
      return FALSE;
    const vq_shape *in = &g->values[node->inputs[0]].shape;
    const vq_shape *out = &g->values[node->outputs[0]].shape;
    char *name = g_strdup_printf ("%dx%d/%d %d@%d -> %d@%d", node->p.conv.kernel_h,
                                  node->p.conv.kernel_w, node->p.conv.stride_h, in->dims[1],
                                  in->dims[2], out->dims[1], out->dims[2]);
    double dense = times.dense16_ms;
    printf ("%-30s %3d %-6s %8.3f %8.3f", name, count, times.family, times.dense_ms, dense);
    if (times.vq8_ms > 0)
      printf (" %8.3f %8.3f %8.3f %6.3f %6.3f %6.3f", times.vq8_ms, times.vq4_ms, times.grid_ms,
              times.vq8_ms / dense, times.vq4_ms / dense, times.grid_ms / dense);
    else
      printf (" %8s %8s %8s %6s %6s %6s", "-", "-", "-", "-", "-", "-");
    if (times.own_ms > 0) {
      const vq_shape *cb = &g->blobs[node->p.conv.weights.codebook].shape;
      printf ("  %7.3f %6.3f d%dk%d", times.own_ms, times.own_ms / dense, cb->dims[1],
              cb->dims[0]);
    }
    printf ("\n");
    g_free (name);
  }
  printf ("(shader: conv2d_wino, _ksplit, _gemm or _direct, the same for dense and VQ\n"
          " weights; f32, f16: dense weights; vq8: 8-bit indices, d=4, K=256; vq4: 4-bit\n"
          " indices, d=8, K=16; d1: 8-bit indices, d=1, K=256 on the grid codebook the\n"
          " compressor writes for d=1, computed from the index in the shader; VQ\n"
          " codebooks in fp16 as the compressor writes them, so /d\n"
          " divides by the f16 time; n: convs of that shape; the first such conv's own VQ\n"
          " weights when it has them; fastest of %d runs each, variants interleaved;\n"
          " GPU-timestamp wall time: compare the ratios, not the ms, on a loaded machine)\n",
          runs);
  return TRUE;
}

int
vq_cmd_bench (int argc, char **argv)
{
  bench_args args = {.iterations = 20};
  GOptionEntry entries[] = {
    {"model", 'm', 0, G_OPTION_ARG_FILENAME, &args.model,
     "Model (.vqm, or a TF.js model.json); default: the default model", "FILE"},
    {"backend", 'b', 0, G_OPTION_ARG_STRING, &args.backend,
     "Compute backend: auto, cpu or vulkan (default auto)", "NAME"},
    {"device", 0, 0, G_OPTION_ARG_STRING, &args.device,
     "Vulkan device index or name (default: the best one)", "DEVICE"},
    {"precision", 0, 0, G_OPTION_ARG_STRING, &args.precision,
     "Vulkan activation storage: auto, fp32 or fp16 (default auto: fp16 on CPU devices)", "P"},
    {"iterations", 'n', 0, G_OPTION_ARG_INT, &args.iterations,
     "Timed runs per frame (default 20)", "N"},
    {"frame", 0, 0, G_OPTION_ARG_FILENAME, &args.frame,
     "Real frame: an image, or a video's frame 200 (default: opencv-doc's vtest.avi)", "FILE"},
    {"layers", 0, 0, G_OPTION_ARG_NONE, &args.layers,
     "Vulkan: print the per-layer table from GPU timestamps", NULL},
    {"conv-shapes", 0, 0, G_OPTION_ARG_NONE, &args.conv_shapes,
     "Vulkan: time each distinct conv shape alone, dense vs VQ (the decode's cost)", NULL},
    {"json", 0, 0, G_OPTION_ARG_NONE, &args.json, "Print one JSON object", NULL},
    {NULL, 0, 0, 0, NULL, NULL, NULL}};
  GError *error = NULL;
  vq_model *model = NULL;
  vq_engine *engine = NULL;
  vq_media_reader *reader = NULL;
  guint8 *pixels = NULL;
  int status = 1;

  if (!vq_tool_parse_options (&argc, &argv, entries, "- time the per-frame path", NULL, &error))
    goto out;
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.device = args.device;
  options.reuse_buffers = TRUE;
  if (args.backend && !vq_backend_kind_parse (args.backend, &options.backend)) {
    g_set_error (&error, VQ_ERROR, VQ_ERROR_INVALID,
                 "--backend must be auto, cpu or vulkan, not \"%s\"", args.backend);
    goto out;
  }
  if (args.precision && !vq_precision_parse (args.precision, &options.precision)) {
    g_set_error (&error, VQ_ERROR, VQ_ERROR_INVALID,
                 "--precision must be auto, fp32 or fp16, not \"%s\"", args.precision);
    goto out;
  }
  if (args.iterations < 1) {
    g_set_error (&error, VQ_ERROR, VQ_ERROR_INVALID, "--iterations must be at least 1");
    goto out;
  }
  model = load_model (args.model, &error);
  if (!model)
    goto out;
  gint64 t0 = g_get_monotonic_time ();
  engine = vq_engine_new (model, &options, &error);
  if (!engine)
    goto out;
  double start_ms = (double) (g_get_monotonic_time () - t0) / 1000.0;

  vq_frame synthetic, real;
  timing t_synthetic, t_real, t_graph = {.detections = G_MAXUINT};
  pixels = synthetic_frame (&synthetic);
  const char *frame_path = args.frame ? args.frame
                                      : "/usr/share/doc/opencv-doc/examples/data/vtest.avi";
  if (!time_frame (model, engine, &synthetic, args.iterations, &t_synthetic, NULL, &error) ||
      !real_frame (frame_path, &reader, &real, &error) ||
      !time_frame (model, engine, &real, args.iterations, &t_real, &t_graph, &error))
    goto out;

  vq_model_stats stats;
  vq_model_compute_stats (model, &stats);
  double gflops = 2.0 * (double) stats.macs / (t_real.median * 1e6);
  const char *backend = vq_engine_backend_name (engine);
  const char *precision = vq_engine_precision_name (engine);
  double load = machine_load ();
  if (args.json) {
    printf ("{\"backend\": \"%s\", \"device\": \"%s\", \"model\": \"%s\", \"iterations\": %d, "
            "\"load_average\": %.2f, \"start_ms\": %.1f, \"activation_bytes\": %zu, "
            "\"precision\": \"%s\", "
            "\"median_ms\": %.3f, \"p90_ms\": %.3f, \"min_ms\": %.3f, \"cpu_ms\": %.3f, "
            "\"fps\": %.2f, \"gflops\": %.2f, ",
            backend, vq_engine_device_name (engine), model->name ? model->name : "",
            args.iterations, load, start_ms, vq__engine_activation_bytes (engine), precision,
            t_real.median, t_real.p90, t_real.min, t_real.cpu_median, 1000.0 / t_real.median,
            gflops);
    print_json_timing ("synthetic", &t_synthetic);
    printf (", ");
    print_json_timing ("real", &t_real);
    printf (", ");
    print_json_timing ("graph", &t_graph);
    printf ("}\n");
  } else {
    printf ("backend %s, device %s\n", backend, vq_engine_device_name (engine));
    if (options.backend == VQ_BACKEND_AUTO) {
      char *why = vq__vk_auto_choice (args.device);
      printf ("backend auto chose %s: %s\n", backend, why);
      g_free (why);
    }
    printf ("engine start %.1f ms, activation memory %.2f MiB (%s), load average %.2f\n",
            start_ms, (double) vq__engine_activation_bytes (engine) / (1024.0 * 1024.0),
            precision, load);
    printf ("%-10s %9s %9s %9s %9s %8s %9s %5s\n", "frame", "median", "p90", "min", "CPU ms",
            "fps", "GFLOP/s", "dets");
    print_row ("synthetic", &t_synthetic, stats.macs, TRUE);
    print_row ("real", &t_real, stats.macs, TRUE);
    print_row ("graph", &t_graph, stats.macs, FALSE);
    printf ("(ms per frame, %d runs each: preprocess -> graph -> decode -> NMS; \"graph\" is\n"
            " the engine alone on the real frame's input; CPU ms = CPU time of all threads,\n"
            " median; GFLOP/s from the wall-clock median)\n",
            args.iterations);
    if (args.layers && strcmp (backend, "vulkan") == 0)
      print_layers (model, engine);
  }
  if (args.conv_shapes && !args.json) {
    if (strcmp (backend, "vulkan") != 0) {
      g_set_error (&error, VQ_ERROR, VQ_ERROR_INVALID, "--conv-shapes needs --backend vulkan");
      goto out;
    }
    if (!print_conv_shapes (model, args.device, args.iterations, &error))
      goto out;
  }
  status = 0;

out:
  vq_tool_report_error ("bench", error);
  if (reader)
    vq_media_reader_close (reader);
  g_free (pixels);
  vq_engine_free (engine);
  vq_model_free (model);
  g_free (args.model);
  g_free (args.backend);
  g_free (args.device);
  g_free (args.precision);
  g_free (args.frame);
  return status;
}
