/* plan.h — where every value of a graph lives in the device arena.
 *
 * Values are stored packed-4 (shaders/common.glsl). Several values share
 * storage without copies:
 *   - a concat's inputs are written by their producers straight into their
 *     channel range of the concat's output (concat is free);
 *   - split outputs, reshapes ([1,C,H,W] -> [1,C,H*W]) and the transpose
 *     [1,C,L] -> [1,L,C] are views of their input.
 * Each value therefore names a `parent` it lives inside (or -1 when it owns
 * storage: a "root") and the plane offset inside it. Roots get offsets in one
 * arena, planned from their lifetimes when buffers may be reused.
 */
#ifndef VQ_VULKAN_PLAN_H
#define VQ_VULKAN_PLAN_H

#include "vulkan_private.h"

typedef struct {
  int32_t parent;     /* value this one lives inside, -1 for a root */
  int32_t root;       /* resolved: the root value owning the storage */
  int32_t plane0;     /* resolved: first plane inside the root */
  int32_t c, h, w;    /* packed geometry of this value */
  bool transposed;    /* logical layout [1, h*w, c] (a transposed view) */
} vq_vk_place;

/* A concat input that could not be produced in place: copied at the concat. */
typedef struct {
  uint32_t node;
  uint32_t src;
  int32_t dst_plane0; /* in the concat output */
} vq_vk_copy;

typedef struct {
  uint32_t texel_bytes;  /* 16 (RGBA32F) or 8 (RGBA16F activations) */
  vq_vk_place *values;   /* one per graph value */
  VkDeviceSize *offsets; /* per value; meaningful for roots */
  VkDeviceSize arena_bytes;
  VkDeviceSize kept_bytes; /* what the arena would be without reuse */
  vq_vk_copy *copies;
  uint32_t n_copies;
  /* Per node: for an ADD, the RESIZE node whose output only it reads and
   * which it computes itself (resize_add: the resize never runs, and its
   * input lives until the add); -1 otherwise, and everywhere when buffers
   * are not reused (every value stays inspectable). */
  int32_t *fused_resize;
  /* Per node: for a CONV, the ACTIVATION node it applies itself to the
   * part of its output that only that node reads (a split's output, or the
   * whole output): the activation never runs and its output is a view of
   * the conv's. NanoDet's class-score sigmoids are such. -1 otherwise, and
   * everywhere when buffers are not reused. */
  int32_t *fused_activation;
} vq_vk_plan;

/* Bytes of root `value`'s storage. */
VkDeviceSize vq__vk_place_bytes (const vq_vk_plan *plan, uint32_t value);

/* Plans `graph`; fails with VQ_ERROR_UNSUPPORTED for layouts the backend
 * cannot express (e.g. a split at a channel not a multiple of 4). When
 * `reuse` is false every root keeps its own storage. */
gboolean vq__vk_plan_graph (const vq_graph *graph, uint32_t texel_bytes,
                            VkDeviceSize alignment, bool reuse, vq_vk_plan *plan,
                            GError **error);
void vq__vk_plan_clear (vq_vk_plan *plan);

#endif
