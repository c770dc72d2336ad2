/* vqcore/engine.h — runs a model's graph on a compute backend.
 *
 * Backends sit behind one small interface (a struct of function pointers,
 * see src/cpu/backend.h). The CPU engine is the reference every
 * other backend is tested against.
 */
#ifndef VQCORE_ENGINE_H
#define VQCORE_ENGINE_H

#include <glib.h>

#include "model.h"

G_BEGIN_DECLS

typedef enum {
  VQ_BACKEND_AUTO = 0, /* Vulkan when a device exists, else CPU */
  VQ_BACKEND_CPU = 1,
  VQ_BACKEND_VULKAN = 2,
  VQ_BACKEND_COUNT
} vq_backend_kind;

/* How a Vulkan engine stores activations between layers; arithmetic is
 * fp32 either way, and the CPU engine is always fp32. fp16 halves the
 * bytes every layer writes and reads, and rounds each stored value to 11
 * significant bits (detections move by about 0.002 in confidence). */
typedef enum {
  VQ_PRECISION_AUTO = 0, /* per device: fp16 where it measured faster (CPU devices) */
  VQ_PRECISION_FP32 = 1,
  VQ_PRECISION_FP16 = 2,
  VQ_PRECISION_COUNT
} vq_precision;

typedef struct {
  vq_backend_kind backend;
  int n_threads;      /* CPU: worker threads, 0 = one per core */
  const char *device; /* Vulkan: index or name substring, NULL = best */
  /* CPU: share activation memory between values whose lifetimes do not
   * overlap. Then vq_engine_read_value() only works for the graph's inputs
   * and outputs; by default (FALSE) every value is kept. */
  gboolean reuse_buffers;
  vq_precision precision; /* Vulkan: activation storage */
} vq_engine_options;

typedef struct vq_engine vq_engine;

/* A tensor the engine hands back: fp32, row-major, owned by the engine and
 * valid until the next vq_engine_run() or vq_engine_free(). */
typedef struct {
  vq_shape shape;
  const float *data;
} vq_tensor_view;

void vq_engine_options_init (vq_engine_options *options);

/* Prepares `model` for inference. The engine borrows the model: keep it alive
 * until vq_engine_free(). */
vq_engine *vq_engine_new (const vq_model *model, const vq_engine_options *options,
                          GError **error);
void vq_engine_free (vq_engine *engine);

/* Runs the graph on `input` (fp32, the shape of graph input 0). Afterwards
 * vq_engine_output() returns each graph output. */
gboolean vq_engine_run (vq_engine *engine, const float *input, GError **error);
vq_tensor_view vq_engine_output (vq_engine *engine, uint32_t index);

/* Copies the value with id `value_id` after a run (for tests and layer-wise
 * comparisons); returns FALSE when the backend did not keep it. */
gboolean vq_engine_read_value (vq_engine *engine, uint32_t value_id, float *out);

const char *vq_engine_backend_name (const vq_engine *engine);
const char *vq_engine_device_name (const vq_engine *engine);
const char *vq_backend_kind_name (vq_backend_kind kind);
/* Parses "auto", "cpu", "vulkan"; returns FALSE for anything else. */
gboolean vq_backend_kind_parse (const char *text, vq_backend_kind *kind);
const char *vq_precision_name (vq_precision precision);
/* Parses "auto", "fp32", "fp16"; returns FALSE for anything else. */
gboolean vq_precision_parse (const char *text, vq_precision *precision);
/* The activation storage the engine uses: "fp32" or "fp16". */
const char *vq_engine_precision_name (const vq_engine *engine);

G_END_DECLS

#endif /* VQCORE_ENGINE_H */
