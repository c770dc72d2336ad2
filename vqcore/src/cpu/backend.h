/* The interface every compute backend implements; vqcore/engine.h's public
 * functions (engine.c) dispatch through it. A backend's state is opaque to
 * the dispatcher. */
#ifndef VQ_CPU_BACKEND_H
#define VQ_CPU_BACKEND_H

#include <stddef.h>

#include "vqcore/engine.h"

typedef struct {
  const char *name; /* "cpu", "vulkan" */
  /* Prepares the model's graph (already validated) for inference. */
  void *(*create) (const vq_model *model, const vq_engine_options *options, GError **error);
  void (*destroy) (void *state);
  gboolean (*run) (void *state, const float *input, GError **error);
  /* index < number of graph outputs (checked by the dispatcher). */
  vq_tensor_view (*output) (void *state, uint32_t index);
  /* value_id < number of graph values (checked by the dispatcher). */
  gboolean (*read_value) (void *state, uint32_t value_id, float *out);
  const char *(*device_name) (const void *state);
  /* Bytes of activation memory the backend holds (for reports). */
  size_t (*activation_bytes) (const void *state);
} vq__backend;

extern const vq__backend vq__cpu_backend;
/* Defined by the Vulkan backend (src/vulkan). engine.c refers to it weakly,
 * so the dispatcher links with or without that backend and reports
 * "Vulkan backend not built" when it is absent. */
extern const vq__backend vq__vulkan_backend;

/* For benchmarks: the backend's own state (e.g. vq_vk_engine * when the
 * backend is "vulkan", for its per-node GPU timestamps). */
void *vq__engine_backend_state (vq_engine *engine);

/* For benchmarks and tests: the engine's activation memory in bytes. */
size_t vq__engine_activation_bytes (const vq_engine *engine);

#endif
