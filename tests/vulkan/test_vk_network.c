/* The whole NanoDet graph on the Vulkan backend against the CPU reference
 * engine, on real frames (vtest.avi, messi5.jpg): every intermediate value,
 * the outputs, and the decoded detections must agree. Also checks that the
 * lifetime-planned arena (reuse_buffers) changes nothing but its size. */
#include <math.h>

#include "../../vqcore/src/media/media.h"
#include "backend.h"
#include "cpu/backend.h"
#include "test_util.h"
#include "vqcore/detect.h"
#include "vqcore/tfjs.h"
#include "vk_test.h"

static vq_model *model;

/* How closely the Vulkan engine must follow the CPU engine, per
 * activation storage precision. */
typedef struct {
  vq_precision precision;
  double nmse;        /* per value, against the CPU's */
  float confidence;   /* per detection, absolute difference */
  double iou;         /* per detection, at least */
} agreement;

/* fp32 on both sides; only summation order and fma differ. */
static const agreement FP32 = {VQ_PRECISION_FP32, 1e-6, 1e-4f, 0.999};
/* fp16 activation storage (the default on CPU devices): every stored value
 * keeps 11 significant bits, and the rounding compounds over ~45 layers.
 * Measured on lavapipe: worst value nmse 1.7e-5 (vtest) and 2.1e-5 (messi5),
 * confidences within 0.0020, boxes at IoU 0.9977 or more, same objects.
 * The bounds leave about 5x room; a wrong value is off by far more. */
static const agreement FP16 = {VQ_PRECISION_FP16, 1e-4, 5e-3f, 0.99};

static float *
frame_input (const char *file, int64_t index)
{
  GError *error = NULL;
  char *path = vq_test_opencv_file (file);
  vq_media_reader *reader = vq_media_reader_open (path, &error);
  vq_media_frame frame;
  g_assert_no_error (error);
  for (int64_t i = 0; i <= index; i++)
    g_assert_cmpint (vq_media_reader_next (reader, &frame, &error), ==, 1);
  float *input = g_new (float, 3 * model->input.width * model->input.height);
  g_assert_true (vq_preprocess_frame (&frame.frame, &model->input, &model->preprocess,
                                      VQ_FIT_MODE_COUNT, input, NULL, &error));
  g_assert_no_error (error);
  vq_media_reader_close (reader);
  g_free (path);
  return input;
}

static vq_engine *
engine_new (vq_backend_kind kind, gboolean reuse, const agreement *agree)
{
  vq_engine_options options;
  GError *error = NULL;
  vq_engine_options_init (&options);
  options.backend = kind;
  options.reuse_buffers = reuse;
  options.precision = agree->precision;
  vq_engine *engine = vq_engine_new (model, &options, &error);
  g_assert_no_error (error);
  return engine;
}

static GArray *
detections (vq_engine *engine)
{
  vq_decode_options options;
  GError *error = NULL;
  GArray *out = g_array_new (FALSE, FALSE, sizeof (vq_detection));
  vq_decode_options_from_model (&options, model);
  g_assert_true (vq_decode_outputs (model, engine, &options, out, &error));
  g_assert_no_error (error);
  vq_nms (out, options.nms_iou, options.max_detections);
  return out;
}

/* Reads of `value` by nodes (graph outputs count as reads); of those, by
 * nodes of `op`. */
static uint32_t
reads_of (const vq_graph *graph, uint32_t value, vq_op op, uint32_t *by_op)
{
  uint32_t reads = 0;
  *by_op = 0;
  for (uint32_t t = 0; t < graph->n_nodes; t++)
    for (uint32_t i = 0; i < graph->nodes[t].n_inputs; i++)
      if (graph->nodes[t].inputs[i] == value) {
        reads++;
        *by_op += graph->nodes[t].op == op;
      }
  for (uint32_t o = 0; o < graph->n_outputs; o++)
    reads += graph->outputs[o] == value;
  return reads;
}

/* The node that writes `value`, or NULL. */
static const vq_node *
writer_of (const vq_graph *graph, uint32_t value)
{
  for (uint32_t t = 0; t < graph->n_nodes; t++)
    for (uint32_t k = 0; k < graph->nodes[t].n_outputs; k++)
      if (graph->nodes[t].outputs[k] == value)
        return &graph->nodes[t];
  return NULL;
}

/* Resizes whose output only an add reads: those the planned engine fuses
 * into the add (resize_add), counted here from the graph alone. */
static uint32_t
fusable_resizes (const vq_graph *graph)
{
  uint32_t count = 0;
  for (uint32_t r = 0; r < graph->n_nodes; r++) {
    if (graph->nodes[r].op != VQ_OP_RESIZE)
      continue;
    uint32_t add_reads;
    count += reads_of (graph, graph->nodes[r].outputs[0], VQ_OP_ADD, &add_reads) == 1 &&
             add_reads == 1;
  }
  return count;
}

/* Activation nodes that read, alone, a conv's output or a split of it
 * that only the split reads, the conv having no activation of its own:
 * those the planned engine has the conv apply (plan.h). From the graph. */
static uint32_t
fusable_activations (const vq_graph *graph)
{
  uint32_t count = 0;
  for (uint32_t a = 0; a < graph->n_nodes; a++) {
    if (graph->nodes[a].op != VQ_OP_ACTIVATION)
      continue;
    uint32_t value = graph->nodes[a].inputs[0], unused;
    for (int hop = 0; hop < 2; hop++) {
      const vq_node *from = writer_of (graph, value);
      if (reads_of (graph, value, VQ_OP_ACTIVATION, &unused) != 1 || !from)
        break;
      if (from->op == VQ_OP_CONV2D) {
        count += from->act == VQ_ACT_NONE;
        break;
      }
      if (from->op != VQ_OP_SPLIT)
        break;
      value = from->inputs[0];
    }
  }
  return count;
}

/* Nodes of `engine` that run `shader`. */
static uint32_t
nodes_running (vq_engine *engine, const vq_graph *graph, const char *shader)
{
  vq_vk_engine *vk = vq__engine_backend_state (engine);
  uint32_t count = 0;
  for (uint32_t t = 0; t < graph->n_nodes; t++)
    count += g_strcmp0 (vq__vk_engine_node_shader (vk, t), shader) == 0;
  return count;
}

static void
compare_on (const char *file, int64_t index, const agreement *agree)
{
  const vq_graph *graph = model->graph;
  float *input = frame_input (file, index);
  vq_engine *cpu = engine_new (VQ_BACKEND_CPU, FALSE, agree);
  vq_engine *vk = engine_new (VQ_BACKEND_VULKAN, FALSE, agree);
  double worst = 0;
  GError *error = NULL;

  g_assert_cmpstr (vq_engine_backend_name (vk), ==, "vulkan");
  g_assert_true (vq_engine_run (cpu, input, &error));
  g_assert_true (vq_engine_run (vk, input, &error));
  g_assert_no_error (error);

  /* Layer by layer: a wrong value is found where it first goes wrong. */
  for (uint32_t v = 0; v < graph->n_values; v++) {
    gsize n = (gsize) vq_shape_numel (&graph->values[v].shape);
    float *a = g_new (float, n), *b = g_new (float, n);
    double *ref = g_new (double, n);
    g_assert_true (vq_engine_read_value (cpu, v, a));
    g_assert_true (vq_engine_read_value (vk, v, b));
    for (gsize i = 0; i < n; i++)
      ref[i] = a[i];
    double nmse = vq_vk_test_nmse (b, ref, n);
    worst = MAX (worst, nmse);
    if (nmse > agree->nmse)
      g_error ("%s frame %" G_GINT64_FORMAT ": value %u (%s) nmse %.3g", file, index, v,
               graph->values[v].name, nmse);
    g_free (a);
    g_free (b);
    g_free (ref);
  }

  GArray *d_cpu = detections (cpu), *d_vk = detections (vk);
  g_test_message ("%s: %u detections on the CPU, %u on Vulkan; worst value nmse %.3g", file,
                  d_cpu->len, d_vk->len, worst);
  g_assert_cmpuint (d_cpu->len, >, 0);
  g_assert_cmpuint (d_cpu->len, ==, d_vk->len);
  for (guint i = 0; i < d_cpu->len; i++) {
    const vq_detection *a = &g_array_index (d_cpu, vq_detection, i);
    const vq_detection *b = &g_array_index (d_vk, vq_detection, i);
    g_test_message ("  %d %.4f vs %d %.4f, iou %.5f", a->class_id, a->confidence, b->class_id,
                    b->confidence, vq_iou (a, b));
    g_assert_cmpint (a->class_id, ==, b->class_id);
    g_assert_cmpfloat (fabsf (a->confidence - b->confidence), <, agree->confidence);
    g_assert_cmpfloat (vq_iou (a, b), >, agree->iou);
  }

  /* The planned arena: same outputs, less memory, the FPN's resizes
   * computed inside their adds and the score sigmoids inside their convs
   * (never while every value is kept). In fp32 those are the same
   * operations, so the same bits; fp16 storage rounds the separate passes'
   * intermediate values and the fused ones not, so there both only stay
   * within the bound of the CPU's outputs. */
  vq_engine *vk_reuse = engine_new (VQ_BACKEND_VULKAN, TRUE, agree);
  g_assert_true (vq_engine_run (vk_reuse, input, &error));
  g_assert_cmpuint (fusable_resizes (graph), >, 0);
  g_assert_cmpuint (nodes_running (vk_reuse, graph, "resize_add"), ==, fusable_resizes (graph));
  g_assert_cmpuint (nodes_running (vk, graph, "resize_add"), ==, 0);
  uint32_t resizes = 0;
  for (uint32_t t = 0; t < graph->n_nodes; t++)
    resizes += graph->nodes[t].op == VQ_OP_RESIZE;
  g_assert_cmpuint (nodes_running (vk, graph, "resize"), ==, resizes);
  /* NanoDet's class-score sigmoids run inside their convs. */
  uint32_t activations = 0;
  for (uint32_t t = 0; t < graph->n_nodes; t++)
    activations += graph->nodes[t].op == VQ_OP_ACTIVATION;
  g_assert_cmpuint (fusable_activations (graph), >, 0);
  g_assert_cmpuint (nodes_running (vk, graph, "eltwise_activation"), ==, activations);
  g_assert_cmpuint (nodes_running (vk_reuse, graph, "eltwise_activation"), ==,
                    activations - fusable_activations (graph));
  for (uint32_t o = 0; o < graph->n_outputs; o++) {
    vq_tensor_view x = vq_engine_output (vk, o), y = vq_engine_output (vk_reuse, o);
    vq_tensor_view r = vq_engine_output (cpu, o);
    gsize n = (gsize) vq_shape_numel (&r.shape);
    if (agree == &FP32)
      g_assert_cmpmem (x.data, vq_shape_numel (&x.shape) * 4, y.data,
                       vq_shape_numel (&y.shape) * 4);
    double *ref = g_new (double, n);
    for (gsize i = 0; i < n; i++)
      ref[i] = r.data[i];
    g_assert_cmpuint (vq_shape_numel (&y.shape), ==, n);
    g_assert_cmpfloat (vq_vk_test_nmse (y.data, ref, n), <=, agree->nmse);
    g_free (ref);
  }
  g_test_message ("arena: %zu bytes planned, %zu kept", vq__engine_activation_bytes (vk_reuse),
                  vq__engine_activation_bytes (vk));
  g_assert_cmpuint (vq__engine_activation_bytes (vk_reuse), <,
                    vq__engine_activation_bytes (vk));

  g_assert_cmpint (vq__vk_validation_messages (), ==, 0);
  g_array_unref (d_cpu);
  g_array_unref (d_vk);
  vq_engine_free (vk_reuse);
  vq_engine_free (vk);
  vq_engine_free (cpu);
  g_free (input);
}

/* One test: a real frame and the agreement asked of it. */
typedef struct {
  const char *file;
  int64_t index;
  const agreement *agree;
} frame_case;

static const frame_case CASES[] = {
  {"vtest.avi", 200, &FP32},
  {"messi5.jpg", 0, &FP32},
  {"vtest.avi", 200, &FP16},
  {"messi5.jpg", 0, &FP16},
};

static void
test_frame (gconstpointer data)
{
  const frame_case *c = data;
  compare_on (c->file, c->index, c->agree);
}

int
main (int argc, char **argv)
{
  GError *error = NULL;
  g_test_init (&argc, &argv, NULL);
  vq__vk_context_free (vq_vk_test_context ()); /* skips (77) without a device */
  char *json = vq_test_cache_file ("nanodet.json");
  model = vq_tfjs_import_nanodet (json, &error);
  g_assert_no_error (error);
  g_free (json);
  g_test_add_data_func ("/vulkan/network/vtest-frame-200", &CASES[0], test_frame);
  g_test_add_data_func ("/vulkan/network/messi5", &CASES[1], test_frame);
  g_test_add_data_func ("/vulkan/network/vtest-frame-200-fp16", &CASES[2], test_frame);
  g_test_add_data_func ("/vulkan/network/messi5-fp16", &CASES[3], test_frame);
  int status = g_test_run ();
  g_assert_cmpint (vq__vk_validation_messages (), ==, 0);
  vq_model_free (model);
  return status;
}
