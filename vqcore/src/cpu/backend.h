/* The interface every compute backend implements; vqcore/engine.h's public
 * functions (engine.c) dispatch through it. A backend's state is opaque to
 * the dispatcher. */
#ifndef VQ_CPU_BACKEND_H
#define VQ_CPU_BACKEND_H

#include <stddef.h>

#include "vqcore/engine.h"
#include "vqcore/detect.h"
#include "vqcore/image.h"

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
  /* Optional (NULL: not offered): preprocesses `frame` on the backend's
   * device, with vq_preprocess_frame()'s exact conventions, and runs the
   * graph on it, so the frame's bytes rather than a float tensor travel to
   * the device. */
  gboolean (*run_frame) (void *state, const vq_frame *frame, const vq_input_spec *input,
                         const vq_preprocess *pre, vq_fit_mode fit, vq_letterbox *mapping,
                         GError **error);
  /* Optional (NULL: not offered): decodes the last run's outputs on the
   * device into candidates (vq_decode_outputs()'s result and order, before
   * NMS), so only those travel back. *done FALSE when this model's head or
   * outputs are not supported: the caller decodes on the host. */
  gboolean (*decode) (void *state, const vq_model *model, const vq_decode_options *options,
                      GArray *out, gboolean *done, GError **error);
  /* Optional (NULL: "fp32"): how activations are stored. */
  const char *(*precision_name) (const void *state);
} vq__backend;

extern const vq__backend vq__cpu_backend;
/* Defined by the Vulkan backend (src/vulkan). engine.c refers to it weakly,
 * so the dispatcher links with or without that backend and reports
 * "Vulkan backend not built" when it is absent. */
extern const vq__backend vq__vulkan_backend;

/* For benchmarks: the backend's own state (e.g. vq_vk_engine * when the
 * backend is "vulkan", for its per-node GPU timestamps). */
void *vq__engine_backend_state (vq_engine *engine);

/* The backend's run_frame when it has one: returns its result with *done
 * TRUE. Without one, does nothing and returns TRUE with *done FALSE (the
 * caller preprocesses on the CPU and calls vq_engine_run). */
gboolean vq__engine_run_frame (vq_engine *engine, const vq_frame *frame,
                               const vq_input_spec *input, const vq_preprocess *pre,
                               vq_fit_mode fit, vq_letterbox *mapping, gboolean *done,
                               GError **error);

/* The backend's decode when it has one (see vq__backend.decode); else
 * returns TRUE with *done FALSE. */
gboolean vq__engine_decode (vq_engine *engine, const vq_model *model,
                            const vq_decode_options *options, GArray *out, gboolean *done,
                            GError **error);

/* For benchmarks and tests: the engine's activation memory in bytes. */
size_t vq__engine_activation_bytes (const vq_engine *engine);

#endif
