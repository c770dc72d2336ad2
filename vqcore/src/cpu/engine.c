/* The public engine API (vqcore/engine.h): option handling and dispatch to
 * a backend through vq__backend (backend.h). */
#include "backend.h"

#include <string.h>

#include "vqcore/error.h"

struct vq_engine {
  const vq__backend *backend;
  void *state;
  const vq_model *model;
};

void
vq_engine_options_init (vq_engine_options *options)
{
  g_return_if_fail (options != NULL);
  memset (options, 0, sizeof *options);
  options->backend = VQ_BACKEND_AUTO;
  options->n_threads = 0;
  options->device = NULL;
  options->reuse_buffers = FALSE;
  options->precision = VQ_PRECISION_AUTO;
}

/* A weak reference: NULL when no Vulkan backend is linked in. */
#if defined(__GNUC__) && defined(__ELF__)
extern const vq__backend vq__vulkan_backend __attribute__ ((weak));
#define VULKAN_BACKEND (&vq__vulkan_backend)
#else
#define VULKAN_BACKEND ((const vq__backend *) NULL)
#endif

static const vq__backend *
vulkan_backend (void)
{
  const vq__backend *backend = VULKAN_BACKEND;
  return backend;
}

vq_engine *
vq_engine_new (const vq_model *model, const vq_engine_options *options, GError **error)
{
  vq_engine_options defaults;
  if (options == NULL) {
    vq_engine_options_init (&defaults);
    options = &defaults;
  }
  if (model == NULL || model->graph == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "no model (or a model without a graph)");
    return NULL;
  }
  if (options->n_threads < 0) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID,
                 "n_threads must be 0 (one per core) or positive, not %d", options->n_threads);
    return NULL;
  }

  const vq__backend *backend = NULL;
  void *state = NULL;
  switch (options->backend) {
  case VQ_BACKEND_AUTO:
    /* Vulkan when it is built and finds a device, else the CPU. */
    if (vulkan_backend () != NULL) {
      GError *vulkan_error = NULL;
      state = vulkan_backend ()->create (model, options, &vulkan_error);
      if (state != NULL) {
        backend = vulkan_backend ();
        break;
      }
      g_debug ("no Vulkan engine (%s), using the CPU", vulkan_error->message);
      g_error_free (vulkan_error);
    }
    backend = &vq__cpu_backend;
    state = backend->create (model, options, error);
    break;
  case VQ_BACKEND_CPU:
    backend = &vq__cpu_backend;
    state = backend->create (model, options, error);
    break;
  case VQ_BACKEND_VULKAN:
    backend = vulkan_backend ();
    if (backend == NULL) {
      g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND, "Vulkan backend not built");
      return NULL;
    }
    state = backend->create (model, options, error);
    break;
  default:
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "unknown backend kind %d",
                 (int) options->backend);
    return NULL;
  }
  if (state == NULL)
    return NULL;

  vq_engine *engine = g_new0 (vq_engine, 1);
  engine->backend = backend;
  engine->state = state;
  engine->model = model;
  return engine;
}

void
vq_engine_free (vq_engine *engine)
{
  if (engine == NULL)
    return;
  engine->backend->destroy (engine->state);
  g_free (engine);
}

gboolean
vq_engine_run (vq_engine *engine, const float *input, GError **error)
{
  g_return_val_if_fail (engine != NULL, FALSE);
  if (input == NULL) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_INVALID, "no input tensor");
    return FALSE;
  }
  return engine->backend->run (engine->state, input, error);
}

vq_tensor_view
vq_engine_output (vq_engine *engine, uint32_t index)
{
  vq_tensor_view none = { { 0, { 0, 0, 0, 0 } }, NULL };
  g_return_val_if_fail (engine != NULL, none);
  g_return_val_if_fail (index < engine->model->graph->n_outputs, none);
  return engine->backend->output (engine->state, index);
}

gboolean
vq_engine_read_value (vq_engine *engine, uint32_t value_id, float *out)
{
  g_return_val_if_fail (engine != NULL && out != NULL, FALSE);
  if (value_id >= engine->model->graph->n_values)
    return FALSE;
  return engine->backend->read_value (engine->state, value_id, out);
}

const char *
vq_engine_backend_name (const vq_engine *engine)
{
  g_return_val_if_fail (engine != NULL, NULL);
  return engine->backend->name;
}

const char *
vq_engine_device_name (const vq_engine *engine)
{
  g_return_val_if_fail (engine != NULL, NULL);
  return engine->backend->device_name (engine->state);
}

void *
vq__engine_backend_state (vq_engine *engine)
{
  return engine->state;
}

gboolean
vq__engine_run_frame (vq_engine *engine, const vq_frame *frame, const vq_input_spec *input,
                      const vq_preprocess *pre, vq_fit_mode fit, vq_letterbox *mapping,
                      gboolean *done, GError **error)
{
  *done = engine->backend->run_frame != NULL;
  if (!*done)
    return TRUE;
  return engine->backend->run_frame (engine->state, frame, input, pre, fit, mapping, error);
}

gboolean
vq__engine_decode (vq_engine *engine, const vq_model *model, const vq_decode_options *options,
                   GArray *out, gboolean *done, GError **error)
{
  *done = FALSE;
  if (engine->backend->decode == NULL)
    return TRUE;
  return engine->backend->decode (engine->state, model, options, out, done, error);
}

size_t
vq__engine_activation_bytes (const vq_engine *engine)
{
  return engine->backend->activation_bytes ? engine->backend->activation_bytes (engine->state)
                                           : 0;
}

/* Index of `text` (any case) in `names`, or -1 (also for NULL). */
static int
name_index (const char *text, const char *const *names, int count)
{
  for (int i = 0; text != NULL && i < count; i++)
    if (g_ascii_strcasecmp (text, names[i]) == 0)
      return i;
  return -1;
}

static const char *const kind_names[VQ_BACKEND_COUNT] = { "auto", "cpu", "vulkan" };

const char *
vq_backend_kind_name (vq_backend_kind kind)
{
  return (unsigned) kind < VQ_BACKEND_COUNT ? kind_names[kind] : "invalid";
}

static const char *const precision_names[VQ_PRECISION_COUNT] = { "auto", "fp32", "fp16" };

const char *
vq_precision_name (vq_precision precision)
{
  return (unsigned) precision < VQ_PRECISION_COUNT ? precision_names[precision] : "invalid";
}

gboolean
vq_precision_parse (const char *text, vq_precision *precision)
{
  int i = name_index (text, precision_names, VQ_PRECISION_COUNT);
  if (i >= 0 && precision != NULL)
    *precision = (vq_precision) i;
  return i >= 0;
}

const char *
vq_engine_precision_name (const vq_engine *engine)
{
  g_return_val_if_fail (engine != NULL, NULL);
  return engine->backend->precision_name ? engine->backend->precision_name (engine->state)
                                         : "fp32";
}

gboolean
vq_backend_kind_parse (const char *text, vq_backend_kind *kind)
{
  int i = name_index (text, kind_names, VQ_BACKEND_COUNT);
  if (i >= 0 && kind != NULL)
    *kind = (vq_backend_kind) i;
  return i >= 0;
}
