/* Preprocessing on the Vulkan device (shaders/preprocess.comp) against the
 * CPU reference vq_preprocess_frame(), on a real photo (messi5.jpg) in every
 * pixel format, letterboxed and stretched, with odd sizes (odd chroma) and
 * padded strides; the errors for a mismatched model input and a bad frame;
 * the detector through the device path; and the detection head decoded on
 * the device (shaders/decode.comp) against vq_decode_outputs(). */
#include <math.h>

#include "../../vqcore/src/media/media.h"
#include "backend.h"
#include "cpu/backend.h"
#include "test_util.h"
#include "vk_test.h"
#include "vqcore/detector.h"

/* Normalised values span about +-2.2; 1e-4 is 0.006 of a pixel level.
 * Geometry mistakes (a pixel of offset, a wrong weight) are far larger on a
 * photo. With fp16 activations each value also keeps only 11 significant
 * bits: one unit in the last of them (2^-10 relative), since a device may
 * truncate rather than round (lavapipe does). */
#define TOLERANCE 1e-4
#define FP16_RELATIVE (1.0 / 1024)

static guint8 *photo;  /* RGB, photo_w x photo_h */
static int32_t photo_w, photo_h;

static void
load_photo (void)
{
  GError *error = NULL;
  char *path = vq_test_opencv_file ("messi5.jpg");
  vq_media_reader *reader = vq_media_reader_open (path, &error);
  vq_media_frame media;
  g_assert_no_error (error);
  g_assert_cmpint (vq_media_reader_next (reader, &media, &error), ==, 1);
  const vq_frame *f = &media.frame;
  photo_w = f->width;
  photo_h = f->height;
  photo = g_malloc ((gsize) photo_w * photo_h * 3);
  /* The reader's packed RGB or BGR; convert to RGB. */
  g_assert_true (f->format == VQ_PIXEL_RGB || f->format == VQ_PIXEL_BGR);
  for (int32_t y = 0; y < photo_h; y++)
    for (int32_t x = 0; x < photo_w; x++)
      for (int c = 0; c < 3; c++)
        photo[((gsize) y * photo_w + x) * 3 + c] =
          f->planes[0][(gsize) y * f->strides[0] + x * 3 + (f->format == VQ_PIXEL_BGR ? 2 - c : c)];
  vq_media_reader_close (reader);
  g_free (path);
}

static guint8
clamp_byte (double v)
{
  return (guint8) CLAMP (lround (v), 0, 255);
}

/* The top-left w x h of the photo in `format`, rows padded by 13 bytes. */
static guint8 *
make_frame (vq_pixel_format format, int32_t w, int32_t h, vq_frame *frame)
{
  static const int order[][4] = {
    [VQ_PIXEL_RGB] = {3, 0, 1, 2},  [VQ_PIXEL_BGR] = {3, 2, 1, 0},
    [VQ_PIXEL_RGBA] = {4, 0, 1, 2}, [VQ_PIXEL_RGBX] = {4, 0, 1, 2},
    [VQ_PIXEL_BGRA] = {4, 2, 1, 0}, [VQ_PIXEL_BGRX] = {4, 2, 1, 0},
  };
  int32_t cw = (w + 1) / 2, ch = (h + 1) / 2;
  memset (frame, 0, sizeof *frame);
  frame->format = format;
  frame->width = w;
  frame->height = h;
  if (format == VQ_PIXEL_NV12 || format == VQ_PIXEL_I420) {
    int32_t ys = w + 13, cs = (format == VQ_PIXEL_NV12 ? 2 * cw : cw) + 13;
    gsize y_bytes = (gsize) ys * h, c_bytes = (gsize) cs * ch;
    guint8 *data = g_malloc0 (y_bytes + 2 * c_bytes);
    for (int32_t y = 0; y < h; y++)
      for (int32_t x = 0; x < w; x++) {
        const guint8 *p = photo + ((gsize) y * photo_w + x) * 3;
        data[(gsize) y * ys + x] = clamp_byte (16 + 0.257 * p[0] + 0.504 * p[1] + 0.098 * p[2]);
      }
    for (int32_t y = 0; y < ch; y++)
      for (int32_t x = 0; x < cw; x++) {
        const guint8 *p = photo + ((gsize) (2 * y) * photo_w + 2 * x) * 3;
        guint8 u = clamp_byte (128 - 0.148 * p[0] - 0.291 * p[1] + 0.439 * p[2]);
        guint8 v = clamp_byte (128 + 0.439 * p[0] - 0.368 * p[1] - 0.071 * p[2]);
        if (format == VQ_PIXEL_NV12) {
          data[y_bytes + (gsize) y * cs + 2 * x] = u;
          data[y_bytes + (gsize) y * cs + 2 * x + 1] = v;
        } else {
          data[y_bytes + (gsize) y * cs + x] = u;
          data[y_bytes + c_bytes + (gsize) y * cs + x] = v;
        }
      }
    frame->planes[0] = data;
    frame->strides[0] = ys;
    frame->planes[1] = data + y_bytes;
    frame->strides[1] = cs;
    if (format == VQ_PIXEL_I420) {
      frame->planes[2] = data + y_bytes + c_bytes;
      frame->strides[2] = cs;
    }
    return data;
  }
  const int *o = order[format];
  int32_t stride = w * o[0] + 13;
  guint8 *data = g_malloc0 ((gsize) stride * h);
  for (int32_t y = 0; y < h; y++)
    for (int32_t x = 0; x < w; x++) {
      const guint8 *p = photo + ((gsize) y * photo_w + x) * 3;
      guint8 *q = data + (gsize) y * stride + x * o[0];
      q[o[1]] = p[0];
      q[o[2]] = p[1];
      q[o[3]] = p[2];
      if (o[0] == 4)
        q[3] = (guint8) (x * 7 + y); /* alpha / padding: must be ignored */
    }
  frame->planes[0] = data;
  frame->strides[0] = stride;
  return data;
}

/* An engine whose graph is input [1, 3, h, w] -> relu -> output: only its
 * input value matters here (kept, so it can be read back). */
static vq_vk_engine *
input_engine (int32_t w, int32_t h, vq_precision precision, vq_graph **graph_out)
{
  GError *error = NULL;
  vq_graph *graph = vq_graph_new ();
  vq_shape shape = vq_shape_4d (1, 3, h, w);
  uint32_t in = vq_graph_add_value (graph, "input", &shape);
  uint32_t out = vq_graph_add_value (graph, "output", &shape);
  vq_node node;
  vq_node_init (&node, VQ_OP_ACTIVATION, "relu");
  node.act = VQ_ACT_RELU;
  node.n_inputs = node.n_outputs = 1;
  node.inputs[0] = in;
  node.outputs[0] = out;
  vq_graph_add_node (graph, &node);
  vq_graph_add_input (graph, in);
  vq_graph_add_output (graph, out);
  g_assert_true (vq_graph_validate (graph, &error));
  vq_vk_engine *e = vq__vk_engine_new_full (graph, NULL, TRUE, precision, FALSE, &error);
  g_assert_no_error (error);
  if (precision != VQ_PRECISION_AUTO)
    g_assert_cmpint (vq__vk_engine_input_target (e).ctx->fp16_activations, ==,
                     precision == VQ_PRECISION_FP16);
  *graph_out = graph;
  return e;
}

static void
compare (vq_vk_engine *e, const vq_frame *frame, const vq_input_spec *input,
         const vq_preprocess *pre, vq_fit_mode fit)
{
  GError *error = NULL;
  gsize n = (gsize) 3 * input->width * input->height;
  float *cpu = g_new (float, n), *gpu = g_new (float, n);
  vq_letterbox cpu_map, gpu_map;

  g_assert_true (vq_preprocess_frame (frame, input, pre, fit, cpu, &cpu_map, &error));
  g_assert_no_error (error);
  g_assert_true (vq__vk_engine_run_frame (e, frame, input, pre, fit, &gpu_map, &error));
  g_assert_no_error (error);
  g_assert_true (vq__vk_engine_read_value (e, 0, gpu));
  gboolean fp16 = vq__vk_engine_input_target (e).ctx->fp16_activations;
  double worst = 0, excess = 0, lo = G_MAXDOUBLE, hi = -G_MAXDOUBLE;
  for (gsize i = 0; i < n; i++) {
    double err = fabs ((double) cpu[i] - gpu[i]);
    worst = MAX (worst, err);
    excess = MAX (excess, err - TOLERANCE - (fp16 ? fabs (cpu[i]) * FP16_RELATIVE : 0));
    lo = MIN (lo, cpu[i]);
    hi = MAX (hi, cpu[i]);
  }
  g_test_message ("%s %dx%d fit %d, %s: max |cpu - gpu| %.3g (values %.3g .. %.3g)",
                  vq_pixel_format_name (frame->format), frame->width, frame->height, fit,
                  fp16 ? "fp16" : "fp32", worst, lo, hi);
  g_assert_cmpfloat (excess, <=, 0.0);
  /* A real picture, not a constant (values span a good part of 0..255). */
  g_assert_cmpfloat ((hi - lo) * pre->std[0], >, 60.0);
  g_assert_cmpmem (&cpu_map, sizeof cpu_map, &gpu_map, sizeof gpu_map);
  g_assert_cmpint (g_atomic_int_get (&vq__vk_engine_input_target (e).ctx->validation_messages),
                   ==, 0);
  g_free (cpu);
  g_free (gpu);
}

static void
test_every_format (gconstpointer precision)
{
  vq_graph *graph;
  vq_vk_engine *e = input_engine (96, 80, GPOINTER_TO_INT (precision), &graph);
  vq_input_spec input = {96, 80, 3};
  vq_preprocess pre = {VQ_COLOR_BGR, {103.53f, 116.28f, 123.675f},
                       {57.375f, 57.12f, 58.395f}, VQ_RESIZE_LETTERBOX};

  for (int f = 0; f < VQ_PIXEL_FORMAT_COUNT; f++) {
    vq_frame frame;
    /* Odd sizes: the last chroma sample covers one pixel. */
    guint8 *data = make_frame ((vq_pixel_format) f, 301, 199, &frame);
    compare (e, &frame, &input, &pre, VQ_FIT_MODE_COUNT);
    g_free (data);
  }
  vq__vk_engine_free (e);
  vq_graph_free (graph);
}

static void
test_fit_modes_and_sizes (gconstpointer precision)
{
  vq_graph *graph;
  vq_vk_engine *e = input_engine (64, 64, GPOINTER_TO_INT (precision), &graph);
  vq_input_spec input = {64, 64, 3};
  vq_preprocess pre = {VQ_COLOR_RGB, {0, 0, 0}, {255, 255, 255}, VQ_RESIZE_LETTERBOX};
  /* Tall, wide, upscaled and the whole photo; both fits. The geometry
   * changes every call, so the pipeline is rebuilt each time. */
  int32_t sizes[][2] = {{40, 170}, {250, 31}, {17, 23}, {photo_w, photo_h}};
  for (gsize s = 0; s < G_N_ELEMENTS (sizes); s++)
    for (int fit = 0; fit < VQ_FIT_MODE_COUNT; fit++) {
      vq_frame frame;
      guint8 *data = make_frame (s % 2 ? VQ_PIXEL_I420 : VQ_PIXEL_BGRX, sizes[s][0],
                                 sizes[s][1], &frame);
      compare (e, &frame, &input, &pre, (vq_fit_mode) fit);
      g_free (data);
    }
  vq__vk_engine_free (e);
  vq_graph_free (graph);
}

static void
test_errors (void)
{
  vq_graph *graph;
  vq_vk_engine *e = input_engine (32, 32, VQ_PRECISION_AUTO, &graph);
  vq_preprocess pre = {VQ_COLOR_RGB, {0, 0, 0}, {1, 1, 1}, VQ_RESIZE_LETTERBOX};
  vq_input_spec wrong = {48, 32, 3}, right = {32, 32, 3};
  vq_frame frame;
  GError *error = NULL;
  guint8 *data = make_frame (VQ_PIXEL_RGB, 40, 30, &frame);

  g_assert_false (vq__vk_engine_run_frame (e, &frame, &wrong, &pre, VQ_FIT_MODE_COUNT, NULL,
                                           &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);
  pre.std[1] = 0.0f;
  g_assert_false (vq__vk_engine_run_frame (e, &frame, &right, &pre, VQ_FIT_MODE_COUNT, NULL,
                                           &error));
  g_assert_error (error, VQ_ERROR, VQ_ERROR_INVALID);
  g_clear_error (&error);
  pre.std[1] = 1.0f;
  frame.strides[0] = 10; /* shorter than a row */
  g_assert_false (vq__vk_engine_run_frame (e, &frame, &right, &pre, VQ_FIT_MODE_COUNT, NULL,
                                           &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_free (data);
  vq__vk_engine_free (e);
  vq_graph_free (graph);
}

static vq_detector *
detector_new (vq_backend_kind backend, vq_precision precision)
{
  GError *error = NULL;
  vq_detector_options options;
  vq_detector_options_init (&options);
  char *path = vq_test_cache_file ("nanodet.vqm");
  options.model_path = path;
  options.engine.backend = backend;
  options.engine.precision = precision;
  options.engine.device = backend == VQ_BACKEND_VULKAN ? "0" : NULL;
  vq_detector *detector = vq_detector_new (&options, &error);
  g_assert_no_error (error);
  g_free (path);
  return detector;
}

/* How far the device's detections may be from the CPU's, per activation
 * storage: fp32 differs only in summation order; fp16 rounds every stored
 * value to 11 significant bits (measured on lavapipe: confidences within
 * 0.0025, box edges within 0.12 px on this 548x342 photo). */
typedef struct {
  vq_precision precision;
  double confidence, pixels;
} detector_agreement;

static const detector_agreement DETECTOR_FP32 = {VQ_PRECISION_FP32, 1e-3, 0.5};
static const detector_agreement DETECTOR_FP16 = {VQ_PRECISION_FP16, 5e-3, 0.5};

static void
test_detector_uses_device_preprocessing (gconstpointer agreement)
{
  /* vq_detector_run on Vulkan takes the frame's bytes (backend run_frame)
   * and finds what the CPU engine finds, on the photo in two formats. */
  const detector_agreement *agree = agreement;
  vq_detector *cpu = detector_new (VQ_BACKEND_CPU, agree->precision);
  vq_detector *gpu = detector_new (VQ_BACKEND_VULKAN, agree->precision);
  g_assert_cmpstr (vq_engine_backend_name (vq_detector_engine (gpu)), ==, "vulkan");
  vq_pixel_format formats[] = {VQ_PIXEL_NV12, VQ_PIXEL_BGRX};
  for (gsize f = 0; f < G_N_ELEMENTS (formats); f++) {
    GError *error = NULL;
    vq_frame frame;
    guint8 *data = make_frame (formats[f], photo_w, photo_h, &frame);
    GArray *a = g_array_new (FALSE, FALSE, sizeof (vq_detection));
    GArray *b = g_array_new (FALSE, FALSE, sizeof (vq_detection));
    g_assert_true (vq_detector_run (cpu, &frame, a, &error));
    g_assert_true (vq_detector_run (gpu, &frame, b, &error));
    g_assert_no_error (error);
    g_test_message ("%s: %u detections on the CPU, %u on Vulkan",
                    vq_pixel_format_name (formats[f]), a->len, b->len);
    g_assert_cmpuint (a->len, >, 0);
    g_assert_cmpuint (a->len, ==, b->len);
    for (guint i = 0; i < a->len; i++) {
      const vq_detection *x = &g_array_index (a, vq_detection, i);
      const vq_detection *y = &g_array_index (b, vq_detection, i);
      g_test_message ("  %d %.4f vs %.4f, box %.2f %.2f %.2f %.2f", x->class_id,
                      x->confidence, y->confidence, x->x - y->x, x->y - y->y, x->w - y->w,
                      x->h - y->h);
      g_assert_cmpint (x->class_id, ==, y->class_id);
      g_assert_cmpfloat_with_epsilon (x->confidence, y->confidence, agree->confidence);
      g_assert_cmpfloat_with_epsilon (x->x, y->x, agree->pixels);
      g_assert_cmpfloat_with_epsilon (x->y, y->y, agree->pixels);
      g_assert_cmpfloat_with_epsilon (x->w, y->w, agree->pixels);
      g_assert_cmpfloat_with_epsilon (x->h, y->h, agree->pixels);
    }
    g_array_unref (a);
    g_array_unref (b);
    g_free (data);
  }
  /* A bad frame is an error through this path too. */
  GError *error = NULL;
  vq_frame bad = {.format = VQ_PIXEL_RGB, .width = 8, .height = 8};
  GArray *none = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  g_assert_false (vq_detector_run (gpu, &bad, none, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_array_unref (none);
  vq_detector_free (cpu);
  vq_detector_free (gpu);
}

static void
test_device_decode (gconstpointer precision)
{
  /* Candidates decoded on the device against vq_decode_outputs() on the
   * same run's outputs: same boxes, classes and scores, same order; at the
   * model's threshold and at a low one (thousands of candidates). */
  GError *error = NULL;
  char *path = vq_test_cache_file ("nanodet.vqm");
  vq_model *model = vq_model_load (path, &error);
  g_assert_no_error (error);
  vq_engine_options options;
  vq_engine_options_init (&options);
  options.backend = VQ_BACKEND_VULKAN;
  options.device = "0";
  options.precision = GPOINTER_TO_INT (precision);
  vq_engine *engine = vq_engine_new (model, &options, &error);
  g_assert_no_error (error);
  vq_vk_engine *vk = vq__engine_backend_state (engine);
  vq_frame frame;
  guint8 *data = make_frame (VQ_PIXEL_RGB, photo_w, photo_h, &frame);
  g_assert_true (vq__vk_engine_run_frame (vk, &frame, &model->input, &model->preprocess,
                                          VQ_FIT_MODE_COUNT, NULL, &error));
  g_assert_no_error (error);

  float thresholds[] = {model->decoder.score_threshold, 0.05f, 0.6f};
  for (gsize t = 0; t < G_N_ELEMENTS (thresholds); t++) {
    vq_decode_options decode;
    vq_decode_options_from_model (&decode, model);
    decode.score_threshold = thresholds[t];
    GArray *host = g_array_new (FALSE, FALSE, sizeof (vq_detection));
    GArray *device = g_array_new (FALSE, FALSE, sizeof (vq_detection));
    gboolean done = FALSE;
    g_assert_true (vq__vk_engine_decode (vk, model, &decode, device, &done, &error));
    g_assert_no_error (error);
    g_assert_true (done);
    g_assert_true (vq_decode_outputs (model, engine, &decode, host, &error));
    g_assert_no_error (error);
    g_test_message ("threshold %.2f: %u candidates on the host, %u on the device",
                    (double) thresholds[t], host->len, device->len);
    g_assert_cmpuint (host->len, >, 0);
    g_assert_cmpuint (host->len, ==, device->len);
    double worst = 0;
    for (guint i = 0; i < host->len; i++) {
      const vq_detection *a = &g_array_index (host, vq_detection, i);
      const vq_detection *b = &g_array_index (device, vq_detection, i);
      g_assert_cmpint (a->class_id, ==, b->class_id);
      g_assert_cmpfloat (a->confidence, ==, b->confidence);
      worst = MAX (worst, fabs (a->x - b->x) + fabs (a->y - b->y) + fabs (a->w - b->w) +
                            fabs (a->h - b->h));
    }
    g_test_message ("largest box difference %.3g px", worst);
    g_assert_cmpfloat (worst, <=, 1e-3);
    g_array_unref (host);
    g_array_unref (device);
  }
  g_assert_cmpint (g_atomic_int_get (&vq__vk_engine_context (vk, NULL)->validation_messages),
                   ==, 0);
  g_free (data);
  vq_engine_free (engine);
  vq_model_free (model);
  g_free (path);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  vq__vk_context_free (vq_vk_test_context ()); /* skips (77) without a device */
  load_photo ();
  gconstpointer fp32 = GINT_TO_POINTER (VQ_PRECISION_FP32);
  gconstpointer fp16 = GINT_TO_POINTER (VQ_PRECISION_FP16);
  g_test_add_data_func ("/vulkan/frame/every-format", fp32, test_every_format);
  g_test_add_data_func ("/vulkan/frame/every-format-fp16", fp16, test_every_format);
  g_test_add_data_func ("/vulkan/frame/fit-modes-and-sizes", fp32, test_fit_modes_and_sizes);
  g_test_add_data_func ("/vulkan/frame/fit-modes-and-sizes-fp16", fp16,
                        test_fit_modes_and_sizes);
  g_test_add_func ("/vulkan/frame/errors", test_errors);
  g_test_add_data_func ("/vulkan/frame/detector", &DETECTOR_FP32,
                        test_detector_uses_device_preprocessing);
  g_test_add_data_func ("/vulkan/frame/detector-fp16", &DETECTOR_FP16,
                        test_detector_uses_device_preprocessing);
  g_test_add_data_func ("/vulkan/frame/device-decode", fp32, test_device_decode);
  g_test_add_data_func ("/vulkan/frame/device-decode-fp16", fp16, test_device_decode);
  int status = g_test_run ();
  g_free (photo);
  return status;
}
