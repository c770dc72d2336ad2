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

/* Zero-copy concat: when everything before the concat axis has size 1,
 * each input is one contiguous block of the output, so an input can be
 * produced directly in its place (the concat kernel then skips it). An
 * input qualifies when a node produces it, it is no graph output, and it
 * is not already placed in another concat. Sets parent[v] and rel[v] (the
 * float offset of v inside its parent). */
static void
place_concat_inputs (const vq_graph *graph, const int64_t *first, uint32_t *parent, size_t *rel)
{
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    if (node->op != VQ_OP_CONCAT)
      continue;
    const vq_shape *out = &graph->values[node->outputs[0]].shape;
    int axis = node->p.axis.axis < 0 ? node->p.axis.axis + (int) out->rank : node->p.axis.axis;
    int64_t outer = 1;
    for (int d = 0; d < axis; d++)
      outer *= out->dims[d];
    if (outer != 1)
      continue;
    size_t offset = 0;
    for (uint32_t k = 0; k < node->n_inputs; k++) {
      uint32_t v = node->inputs[k];
      gboolean eligible = first[v] >= 0 && parent[v] == G_MAXUINT32;
      for (uint32_t j = 0; j < graph->n_outputs && eligible; j++)
        eligible = graph->outputs[j] != v;
      for (uint32_t j = 0; j < node->n_inputs && eligible; j++)
        eligible = j == k || node->inputs[j] != v;
      if (eligible) {
        parent[v] = node->outputs[0];
        rel[v] = offset;
      }
      offset += (size_t) vq_shape_numel (&graph->values[v].shape);
    }
  }
}

size_t
vq__memplan (const vq_graph *graph, gboolean reuse, size_t *offsets, gboolean *kept)
{
  uint32_t n_values = graph->n_values;
  int64_t end = graph->n_nodes; /* "after the last node" */

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

  /* Values placed inside concat outputs share their root's memory, which
   * lives from the first member's birth to the last member's last use. */
  uint32_t *parent = g_new (uint32_t, n_values);
  size_t *rel = g_new0 (size_t, n_values);
  uint32_t *root = g_new (uint32_t, n_values);
  for (uint32_t v = 0; v < n_values; v++)
    parent[v] = G_MAXUINT32;
  place_concat_inputs (graph, first, parent, rel);
  int64_t *root_first = g_new (int64_t, n_values);
  int64_t *root_last = g_new (int64_t, n_values);
  for (uint32_t v = 0; v < n_values; v++) {
    root_first[v] = G_MAXINT64;
    root_last[v] = -1;
  }
  for (uint32_t v = 0; v < n_values; v++) {
    uint32_t r = v;
    size_t offset = 0;
    while (parent[r] != G_MAXUINT32) {
      offset += rel[r];
      r = parent[r];
    }
    root[v] = r;
    rel[v] = offset; /* now relative to the root */
    root_first[r] = MIN (root_first[r], first[v]);
    root_last[r] = MAX (root_last[r], last[v]);
  }

  size_t total = 0;
  if (!reuse) {
    for (uint32_t v = 0; v < n_values; v++)
      if (root[v] == v) {
        offsets[v] = total;
        total += value_floats (graph, v);
      }
  } else {
    /* Replay the nodes: at node i, place the roots born there while the
     * node's inputs are still live (so a node never writes over what it
     * reads), then release the roots whose last use it is. */
    GArray *live = g_array_new (FALSE, FALSE, sizeof (block));
    for (int64_t i = -1; i < end; i++) {
      for (uint32_t v = 0; v < n_values; v++)
        if (root[v] == v && root_first[v] == i) {
          offsets[v] = first_fit (live, value_floats (graph, v));
          total = MAX (total, offsets[v] + value_floats (graph, v));
        }
      for (uint32_t v = 0; v < n_values; v++)
        if (root[v] == v && root_last[v] == i)
          release (live, offsets[v]);
    }
    g_array_free (live, TRUE);
  }
  for (uint32_t v = 0; v < n_values; v++) {
    offsets[v] = offsets[root[v]] + rel[v];
    kept[v] = !reuse || root_last[root[v]] == end;
  }

  g_free (first);
  g_free (last);
  g_free (parent);
  g_free (rel);
  g_free (root);
  g_free (root_first);
  g_free (root_last);
  return total;
}
