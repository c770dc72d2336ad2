/* Lifetime-based arena planning (see memplan.h): a first-fit allocator
 * replayed over the node order. The greedy choice is not optimal, but for
 * chain-like detector graphs it comes close to the peak live size. */
#include "memplan.h"

#define ALIGN_FLOATS 16 /* 64 bytes: a cache line, an AVX-512 register */

typedef struct {
  size_t offset, size;
} block;

static size_t
value_floats (const vq_graph *graph, uint32_t v)
{
  size_t n = (size_t) vq_shape_numel (&graph->values[v].shape);
  /* At least one line, so that live blocks never share an offset. */
  return MAX (n + ALIGN_FLOATS - 1, ALIGN_FLOATS) / ALIGN_FLOATS * ALIGN_FLOATS;
}

/* Lowest offset where `size` floats fit between the live blocks (sorted by
 * offset); inserts the new block. */
static size_t
first_fit (GArray *live, size_t size)
{
  size_t candidate = 0;
  guint at = 0;
  for (; at < live->len; at++) {
    const block *b = &g_array_index (live, block, at);
    if (candidate + size <= b->offset)
      break;
    candidate = MAX (candidate, b->offset + b->size);
  }
  block fresh = { candidate, size };
  g_array_insert_val (live, at, fresh);
  return candidate;
}

static void
release (GArray *live, size_t offset)
{
  for (guint i = 0; i < live->len; i++)
    if (g_array_index (live, block, i).offset == offset) {
      g_array_remove_index (live, i);
      return;
    }
}

size_t
vq__memplan (const vq_graph *graph, gboolean reuse, size_t *offsets, gboolean *kept)
{
  uint32_t n_values = graph->n_values;
  int64_t end = graph->n_nodes; /* "after the last node" */

  if (!reuse) {
    size_t total = 0;
    for (uint32_t v = 0; v < n_values; v++) {
      offsets[v] = total;
      kept[v] = TRUE;
      total += value_floats (graph, v);
    }
    return total;
  }

  /* first[v]: the node writing v (-1: there before the first node);
   * last[v]: the last node reading it (end: needed after the run). */
  int64_t *first = g_new (int64_t, n_values);
  int64_t *last = g_new (int64_t, n_values);
  for (uint32_t v = 0; v < n_values; v++)
    first[v] = -1;
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    for (uint32_t k = 0; k < graph->nodes[i].n_outputs; k++)
      first[graph->nodes[i].outputs[k]] = i;
  for (uint32_t v = 0; v < n_values; v++)
    last[v] = first[v] < 0 ? end : first[v];
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    for (uint32_t k = 0; k < graph->nodes[i].n_inputs; k++) {
      uint32_t v = graph->nodes[i].inputs[k];
      last[v] = MAX (last[v], (int64_t) i);
    }
  for (uint32_t k = 0; k < graph->n_outputs; k++)
    last[graph->outputs[k]] = end;
  for (uint32_t k = 0; k < graph->n_inputs; k++)
    last[graph->inputs[k]] = end;

  GArray *live = g_array_new (FALSE, FALSE, sizeof (block));
  size_t total = 0;
  for (uint32_t v = 0; v < n_values; v++)
    if (first[v] < 0) {
      offsets[v] = first_fit (live, value_floats (graph, v));
      total = MAX (total, offsets[v] + value_floats (graph, v));
    }
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    /* Outputs are placed while the inputs are still live, so a node never
     * writes over what it reads. */
    for (uint32_t k = 0; k < node->n_outputs; k++) {
      uint32_t v = node->outputs[k];
      offsets[v] = first_fit (live, value_floats (graph, v));
      total = MAX (total, offsets[v] + value_floats (graph, v));
    }
    for (uint32_t k = 0; k < node->n_inputs; k++) {
      uint32_t v = node->inputs[k];
      if (last[v] == i) {
        release (live, offsets[v]);
        last[v] = -2; /* released; a value read twice by this node is freed once */
      }
    }
    for (uint32_t k = 0; k < node->n_outputs; k++) {
      uint32_t v = node->outputs[k];
      if (last[v] == i) {
        release (live, offsets[v]);
        last[v] = -2;
      }
    }
  }
  for (uint32_t v = 0; v < n_values; v++)
    kept[v] = last[v] == end;
  g_array_free (live, TRUE);
  g_free (first);
  g_free (last);
  return total;
}
