/* plan.c — value placement (aliases, free concat) and arena offsets from
 * lifetimes. See plan.h. */
#include "plan.h"

#include "layout.h"

VkDeviceSize
vq__vk_place_bytes (const vq_vk_plan *plan, uint32_t value)
{
  const vq_vk_place *place = &plan->values[value];
  return (VkDeviceSize) vq__vk_planes (place->c) * place->h * place->w * plan->texel_bytes;
}

static gboolean
unsupported (GError **error, const vq_node *node, const char *why)
{
  g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED, "Vulkan backend: node %s (%s): %s",
               node->name, vq_op_name (node->op), why);
  return FALSE;
}

static gboolean
geometry (const vq_graph *graph, uint32_t value, vq_vk_place *place, GError **error)
{
  const vq_shape *s = &graph->values[value].shape;
  place->parent = -1;
  place->plane0 = 0;
  if (s->rank < 2 || s->rank > 4 || s->dims[0] != 1) {
    g_set_error (error, VQ_ERROR, VQ_ERROR_UNSUPPORTED,
                 "Vulkan backend: value %s: only [1, C(, H)(, W)] tensors are supported",
                 graph->values[value].name);
    return FALSE;
  }
  place->c = s->dims[1];
  place->h = s->rank == 4 ? s->dims[2] : 1;
  place->w = s->rank == 4 ? s->dims[3] : (s->rank == 3 ? s->dims[2] : 1);
  return TRUE;
}

/* Aliases for view-like ops; concat placement. */
static gboolean
place_node (const vq_graph *graph, uint32_t index, vq_vk_plan *plan, bool *is_input,
            GError **error)
{
  const vq_node *node = &graph->nodes[index];
  vq_vk_place *v = plan->values;

  switch (node->op) {
  case VQ_OP_RESHAPE: {
    vq_vk_place *in = &v[node->inputs[0]], *out = &v[node->outputs[0]];
    if (in->transposed || in->c != out->c || (int64_t) in->h * in->w != (int64_t) out->h * out->w)
      return unsupported (error, node, "only reshapes that keep the channel count");
    out->parent = (int32_t) node->inputs[0];
    out->h = in->h;
    out->w = in->w;
    return TRUE;
  }
  case VQ_OP_TRANSPOSE: {
    const vq_shape *s = &graph->values[node->inputs[0]].shape;
    const int32_t *perm = node->p.transpose.perm;
    vq_vk_place *in = &v[node->inputs[0]], *out = &v[node->outputs[0]];
    if (s->rank != 3 || perm[0] != 0 || perm[1] != 2 || perm[2] != 1 || in->transposed)
      return unsupported (error, node, "only the transpose [1,C,L] -> [1,L,C]");
    *out = *in;
    out->parent = (int32_t) node->inputs[0];
    out->transposed = true;
    return TRUE;
  }
  case VQ_OP_SPLIT: {
    const vq_shape *s = &graph->values[node->inputs[0]].shape;
    int32_t offset = 0;
    if (node->p.axis.axis != 1 || s->rank != 4)
      return unsupported (error, node, "only splits along channels");
    for (uint32_t k = 0; k < node->n_outputs; k++) {
      vq_vk_place *out = &v[node->outputs[k]];
      if (offset % 4 != 0)
        return unsupported (error, node, "a split at a channel that is not a multiple of 4");
      out->parent = (int32_t) node->inputs[0];
      out->plane0 = offset / 4;
      offset += out->c;
    }
    return TRUE;
  }
  case VQ_OP_CONCAT: {
    const vq_shape *s = &graph->values[node->outputs[0]].shape;
    int32_t offset = 0;
    if (node->p.axis.axis != 1 || s->rank != 4)
      return unsupported (error, node, "only concats along channels");
    for (uint32_t k = 0; k < node->n_inputs; k++) {
      uint32_t id = node->inputs[k];
      vq_vk_place *in = &v[id];
      if (offset % 4 != 0)
        return unsupported (error, node, "a concat at a channel that is not a multiple of 4");
      /* A value is produced in place only once, and only if a node writes
       * it (graph inputs are uploaded) and it is not an alias already. */
      gboolean repeated = FALSE;
      for (uint32_t j = 0; j < k; j++)
        repeated |= node->inputs[j] == id;
      if (in->parent < 0 && !is_input[id] && !repeated) {
        in->parent = (int32_t) node->outputs[0];
        in->plane0 = offset / 4;
      } else {
        plan->copies = g_renew (vq_vk_copy, plan->copies, plan->n_copies + 1);
        plan->copies[plan->n_copies++] = (vq_vk_copy) {index, id, offset / 4};
      }
      offset += in->c;
    }
    return TRUE;
  }
  default:
    return TRUE;
  }
}

/* Turns (parent, plane offset inside the parent) into (root, plane offset
 * inside the root). */
static void
resolve (vq_vk_plan *plan, uint32_t n_values)
{
  int32_t *relative = g_new (int32_t, n_values);
  for (uint32_t i = 0; i < n_values; i++)
    relative[i] = plan->values[i].plane0;
  for (uint32_t i = 0; i < n_values; i++) {
    int32_t root = (int32_t) i, plane0 = 0;
    while (plan->values[root].parent >= 0) {
      plane0 += relative[root];
      root = plan->values[root].parent;
    }
    plan->values[i].root = root;
    plan->values[i].plane0 = plane0;
  }
  g_free (relative);
}

/* How many node inputs read `value`, graph outputs counted as readers. */
static uint32_t
readers (const vq_graph *graph, uint32_t value)
{
  uint32_t count = 0;
  for (uint32_t t = 0; t < graph->n_nodes; t++)
    for (uint32_t i = 0; i < graph->nodes[t].n_inputs; i++)
      count += graph->nodes[t].inputs[i] == value;
  for (uint32_t o = 0; o < graph->n_outputs; o++)
    count += graph->outputs[o] == value;
  return count;
}

/* The node that produces `value`, or -1 (a graph input). */
static int32_t
producer (const vq_graph *graph, uint32_t value)
{
  for (uint32_t t = 0; t < graph->n_nodes; t++)
    for (uint32_t k = 0; k < graph->nodes[t].n_outputs; k++)
      if (graph->nodes[t].outputs[k] == value)
        return (int32_t) t;
  return -1;
}

/* The RESIZE node whose output only the ADD node `add` reads, or -1. */
static int32_t
fusable_resize (const vq_graph *graph, uint32_t add)
{
  const vq_node *node = &graph->nodes[add];
  if (node->op != VQ_OP_ADD || node->n_inputs != 2)
    return -1;
  for (uint32_t i = 0; i < 2; i++) {
    uint32_t value = node->inputs[i];
    int32_t from = producer (graph, value);
    if (from >= 0 && graph->nodes[from].op == VQ_OP_RESIZE && readers (graph, value) == 1)
      return from;
  }
  return -1;
}

/* The CONV node that can apply ACTIVATION node `act` itself, or -1: the
 * activation's input is the conv's output, or one output of a split of it,
 * nothing else reads what it reads, and the conv has no activation of its
 * own and none fused yet. The activation's output must be free to become a
 * view (not already written in place into a concat). */
static int32_t
fusable_activation (const vq_graph *graph, const vq_vk_plan *plan, uint32_t act)
{
  const vq_node *node = &graph->nodes[act];
  if (node->op != VQ_OP_ACTIVATION || plan->values[node->outputs[0]].parent >= 0)
    return -1;
  uint32_t input = node->inputs[0];
  int32_t from = producer (graph, input);
  if (from < 0 || readers (graph, input) != 1)
    return -1;
  if (graph->nodes[from].op == VQ_OP_SPLIT) {
    uint32_t whole = graph->nodes[from].inputs[0];
    if (readers (graph, whole) != 1)
      return -1;
    from = producer (graph, whole);
  }
  if (from < 0 || graph->nodes[from].op != VQ_OP_CONV2D ||
      graph->nodes[from].act != VQ_ACT_NONE || plan->fused_activation[from] >= 0)
    return -1;
  return from;
}

/* Greedy placement: roots by decreasing size, each at the lowest offset that
 * does not overlap a placed root alive at the same time. */
static void
assign_offsets (const vq_graph *graph, vq_vk_plan *plan, VkDeviceSize alignment, bool reuse)
{
  uint32_t n = graph->n_values;
  int32_t *first = g_new (int32_t, n), *last = g_new (int32_t, n);
  uint32_t *order = g_new (uint32_t, n), n_roots = 0;

  for (uint32_t i = 0; i < n; i++) {
    first[i] = G_MAXINT32;
    last[i] = -1;
  }
  for (uint32_t i = 0; i < graph->n_inputs; i++)
    first[plan->values[graph->inputs[i]].root] = -1;
  for (uint32_t t = 0; t < graph->n_nodes; t++) {
    const vq_node *node = &graph->nodes[t];
    for (uint32_t k = 0; k < node->n_outputs; k++) {
      int32_t r = plan->values[node->outputs[k]].root;
      first[r] = MIN (first[r], (int32_t) t);
      last[r] = MAX (last[r], (int32_t) t);
    }
    for (uint32_t k = 0; k < node->n_inputs; k++) {
      int32_t r = plan->values[node->inputs[k]].root;
      last[r] = MAX (last[r], (int32_t) t);
    }
    /* An add that resizes on the fly reads the resize's input. */
    if (plan->fused_resize[t] >= 0) {
      int32_t r = plan->values[graph->nodes[plan->fused_resize[t]].inputs[0]].root;
      last[r] = MAX (last[r], (int32_t) t);
    }
  }
  for (uint32_t i = 0; i < graph->n_outputs; i++)
    last[plan->values[graph->outputs[i]].root] = (int32_t) graph->n_nodes;

  for (uint32_t i = 0; i < n; i++)
    if (plan->values[i].root == (int32_t) i && last[i] >= 0)
      order[n_roots++] = i;
  /* Insertion sort by size, largest first (a few hundred roots at most). */
  for (uint32_t a = 1; a < n_roots; a++)
    for (uint32_t b = a; b > 0 && vq__vk_place_bytes (plan, order[b]) >
                                      vq__vk_place_bytes (plan, order[b - 1]);
         b--) {
      uint32_t tmp = order[b];
      order[b] = order[b - 1];
      order[b - 1] = tmp;
    }

  plan->arena_bytes = plan->kept_bytes = 0;
  for (uint32_t a = 0; a < n_roots; a++) {
    uint32_t r = order[a];
    VkDeviceSize size = (vq__vk_place_bytes (plan, r) + alignment - 1) / alignment *
                        alignment;
    VkDeviceSize offset = 0;
    plan->kept_bytes += size;
    if (!reuse) {
      offset = plan->kept_bytes - size;
    } else {
      /* Move past every conflicting placed root until nothing overlaps. */
      gboolean moved = TRUE;
      while (moved) {
        moved = FALSE;
        for (uint32_t b = 0; b < a; b++) {
          uint32_t o = order[b];
          VkDeviceSize o_size = (vq__vk_place_bytes (plan, o) + alignment - 1) /
                                alignment * alignment;
          gboolean alive = first[o] <= last[r] && first[r] <= last[o];
          if (alive && plan->offsets[o] < offset + size && offset < plan->offsets[o] + o_size) {
            offset = plan->offsets[o] + o_size;
            moved = TRUE;
          }
        }
      }
    }
    plan->offsets[r] = offset;
    plan->arena_bytes = MAX (plan->arena_bytes, offset + size);
  }
  g_free (first);
  g_free (last);
  g_free (order);
}

gboolean
vq__vk_plan_graph (const vq_graph *graph, uint32_t texel_bytes, VkDeviceSize alignment,
                   bool reuse, vq_vk_plan *plan, GError **error)
{
  bool *is_input = g_new0 (bool, graph->n_values);
  gboolean ok = TRUE;

  memset (plan, 0, sizeof *plan);
  plan->texel_bytes = texel_bytes;
  plan->values = g_new0 (vq_vk_place, graph->n_values);
  plan->offsets = g_new0 (VkDeviceSize, graph->n_values);
  for (uint32_t i = 0; i < graph->n_inputs; i++)
    is_input[graph->inputs[i]] = true;
  for (uint32_t i = 0; i < graph->n_values && ok; i++)
    ok = geometry (graph, i, &plan->values[i], error);
  for (uint32_t t = 0; t < graph->n_nodes && ok; t++)
    ok = place_node (graph, t, plan, is_input, error);
  g_free (is_input);
  if (!ok) {
    vq__vk_plan_clear (plan);
    return FALSE;
  }
  /* Fusions only where values need not all stay inspectable (reuse). A
   * fused activation's output is a view of its input, which the conv
   * overwrites with the activated values. */
  plan->fused_activation = g_new (int32_t, MAX (graph->n_nodes, 1));
  for (uint32_t t = 0; t < graph->n_nodes; t++)
    plan->fused_activation[t] = -1;
  for (uint32_t t = 0; t < graph->n_nodes && reuse; t++) {
    int32_t conv = fusable_activation (graph, plan, t);
    if (conv >= 0) {
      plan->fused_activation[conv] = (int32_t) t;
      plan->values[graph->nodes[t].outputs[0]].parent = (int32_t) graph->nodes[t].inputs[0];
    }
  }
  resolve (plan, graph->n_values);
  plan->fused_resize = g_new (int32_t, MAX (graph->n_nodes, 1));
  for (uint32_t t = 0; t < graph->n_nodes; t++)
    plan->fused_resize[t] = reuse ? fusable_resize (graph, t) : -1;
  assign_offsets (graph, plan, alignment, reuse);
  return TRUE;
}

void
vq__vk_plan_clear (vq_vk_plan *plan)
{
  g_free (plan->values);
  g_free (plan->offsets);
  g_free (plan->copies);
  g_free (plan->fused_resize);
  g_free (plan->fused_activation);
  memset (plan, 0, sizeof *plan);
}
