/* backend.h — the Vulkan engine (a whole graph on one device), used through
 * vq__vulkan_backend by engine.c and directly by the Vulkan tests and
 * `vq bench` for what the public API does not expose (per-node timestamps,
 * arena size, start-up time). */
#ifndef VQ_VULKAN_BACKEND_H
#define VQ_VULKAN_BACKEND_H

#include "vulkan_private.h"

#include "vqcore/detect.h"
#include "vqcore/image.h"
#include "vqcore/model.h"

typedef struct vq_vk_engine vq_vk_engine;
typedef struct vq_vk_frame_state vq_vk_frame_state;
typedef struct vq_vk_decode_state vq_vk_decode_state;

/* Where graph output `index` lives: the packed-4 view of its root, first
 * plane, channels and pixels of that storage, and whether the output is a
 * transposed view ([1, N, C] read from C channels x N pixels). */
typedef struct {
  VkBufferView view;
  int32_t plane0;
  int32_t c, hw;
  bool transposed;
} vq_vk_output_place;

/* Where the graph input lives on the device, for device-side preprocessing
 * (frame.c): the packed-4 view of its root value, its first plane, its
 * shape, and the engine's slot for the preprocessing state. */
typedef struct {
  vq_vk_context *ctx;
  VkBufferView view;
  int32_t plane0;
  int32_t c, h, w;
  vq_vk_frame_state **state;
} vq_vk_input_target;

/* `device`: NULL, an index or a name substring. With `reuse` activation
 * memory is shared between values whose lifetimes do not overlap, and
 * vq__vk_engine_read_value() only works for graph inputs and outputs. */
vq_vk_engine *vq__vk_engine_new (const vq_graph *graph, const char *device, gboolean reuse,
                                 GError **error);
/* Same, with activations stored as `precision` asks (AUTO in
 * vq__vk_engine_new); with `decline_cpu_device` fails when the chosen
 * device is a CPU device (backend AUTO prefers the CPU engine there). */
vq_vk_engine *vq__vk_engine_new_full (const vq_graph *graph, const char *device, gboolean reuse,
                                      vq_precision precision, gboolean decline_cpu_device,
                                      GError **error);
void vq__vk_engine_free (vq_vk_engine *engine);
/* NULL when backend AUTO takes ctx's device, else why not (g_free). */
char *vq__vk_auto_declines (const vq_vk_context *ctx);
/* What backend AUTO makes of the Vulkan devices, in words (g_free): the
 * device it would use, or why it uses the CPU engine instead (for reports
 * such as `vq bench`; opens and closes a device, compiles nothing). */
char *vq__vk_auto_choice (const char *device);
gboolean vq__vk_engine_run (vq_vk_engine *engine, const float *input, GError **error);
const float *vq__vk_engine_output (vq_vk_engine *engine, uint32_t index);
/* Output `index` with its logical shape (read back on first use after a
 * run). */
vq_tensor_view vq__vk_engine_output_view (vq_vk_engine *engine, uint32_t index);
/* Runs the network on what is already in the input value (written on the
 * device) and reads the outputs back. */
gboolean vq__vk_engine_run_input_ready (vq_vk_engine *engine, GError **error);
vq_vk_input_target vq__vk_engine_input_target (vq_vk_engine *engine);
/* Preprocesses `frame` on the device into the graph input, exactly as
 * vq_preprocess_frame() does on the CPU (shaders/preprocess.comp), then
 * runs the network. `fit` VQ_FIT_MODE_COUNT means the model's. */
gboolean vq__vk_engine_run_frame (vq_vk_engine *engine, const vq_frame *frame,
                                  const vq_input_spec *input, const vq_preprocess *pre,
                                  vq_fit_mode fit, vq_letterbox *mapping, GError **error);
void vq__vk_frame_state_free (vq_vk_context *ctx, vq_vk_frame_state *state);
gboolean vq__vk_engine_output_place (vq_vk_engine *engine, uint32_t index,
                                     vq_vk_output_place *place);
/* The engine's device, and its slot for the decoding state. */
vq_vk_context *vq__vk_engine_context (vq_vk_engine *engine, vq_vk_decode_state ***decode);
/* Decodes the last run's outputs on the device (shaders/decode.comp) into
 * candidates in model-input pixels, in vq_decode_outputs()'s order, before
 * NMS; *done FALSE (and nothing appended) when the model's decoder or output
 * layout is not one the shader handles: then decode on the host. */
gboolean vq__vk_engine_decode (vq_vk_engine *engine, const vq_model *model,
                               const vq_decode_options *options, GArray *out, gboolean *done,
                               GError **error);
void vq__vk_decode_state_free (vq_vk_context *ctx, vq_vk_decode_state *state);
gboolean vq__vk_engine_read_value (vq_vk_engine *engine, uint32_t id, float *out);
const char *vq__vk_engine_device_name (const vq_vk_engine *engine);
gsize vq__vk_engine_arena_bytes (const vq_vk_engine *engine);
/* "fp16" or "fp32": how the arena stores activations (activations.c). */
const char *vq__vk_engine_activation_type (const vq_vk_engine *engine);
double vq__vk_engine_create_ms (const vq_vk_engine *engine);
/* Milliseconds each node took in the last run (GPU timestamps); FALSE when
 * the device has none. `ms` holds one entry per node. */
gboolean vq__vk_engine_node_times (vq_vk_engine *engine, double *ms);
int64_t vq__vk_engine_node_macs (const vq_vk_engine *engine, uint32_t node);
/* The shader a node runs (e.g. "conv2d_wino_vqa", "resize_add"); NULL for
 * nodes that run none (views, and resizes an add computes itself). */
const char *vq__vk_engine_node_shader (const vq_vk_engine *engine, uint32_t node);

#endif
