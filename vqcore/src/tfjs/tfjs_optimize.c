/* Clean-up passes over the imported graph: drop nodes nobody reads, fuse a
 * standalone activation into the conv or add before it when that node's
 * output has no other reader, and renumber values so that none is left
 * unused. The import itself fuses eagerly; these passes catch what only
 * becomes fusable later (e.g. x * sigmoid(x) rewritten as SiLU leaves the
 * sigmoid dead and the conv with a single reader). */
#include "tfjs_private.h"

#include <string.h>

static uint32_t *
count_reads (const vq_graph *graph)
{
  uint32_t *reads = g_new0 (uint32_t, graph->n_values + 1);
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    for (uint32_t k = 0; k < graph->nodes[i].n_inputs; k++)
      reads[graph->nodes[i].inputs[k]]++;
  for (uint32_t o = 0; o < graph->n_outputs; o++)
    reads[graph->outputs[o]]++;
  return reads;
}

static void
remove_node (vq_graph *graph, uint32_t index)
{
  g_free (graph->nodes[index].name);
  memmove (&graph->nodes[index], &graph->nodes[index + 1],
           sizeof (vq_node) * (graph->n_nodes - index - 1));
  graph->n_nodes--;
}

/* Removes nodes whose outputs nothing reads, last to first so that a
 * chain of dead nodes goes in one sweep. */
static void
remove_dead_nodes (vq_graph *graph)
{
  uint32_t *reads = count_reads (graph);
  for (uint32_t i = graph->n_nodes; i-- > 0;) {
    const vq_node *node = &graph->nodes[i];
    gboolean used = FALSE;
    for (uint32_t k = 0; k < node->n_outputs; k++)
      used = used || reads[node->outputs[k]] > 0;
    if (used)
      continue;
    for (uint32_t k = 0; k < node->n_inputs; k++)
      reads[node->inputs[k]]--;
    remove_node (graph, i);
  }
  g_free (reads);
}

static void
fuse_activations (vq_graph *graph)
{
  uint32_t *reads = count_reads (graph);
  int32_t *producer = g_new (int32_t, graph->n_values + 1);
  for (uint32_t v = 0; v < graph->n_values; v++)
    producer[v] = -1;
  for (uint32_t i = 0; i < graph->n_nodes; i++)
    for (uint32_t k = 0; k < graph->nodes[i].n_outputs; k++)
      producer[graph->nodes[i].outputs[k]] = (int32_t) i;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    vq_node *a = &graph->nodes[i];
    if (a->op != VQ_OP_ACTIVATION || reads[a->inputs[0]] != 1 || producer[a->inputs[0]] < 0)
      continue;
    vq_node *p = &graph->nodes[producer[a->inputs[0]]];
    if ((p->op != VQ_OP_CONV2D && p->op != VQ_OP_ADD) || p->act != VQ_ACT_NONE)
      continue;
    /* The producer now writes the activation's output; readers of that
     * value all come after the activation, hence after the producer. */
    p->act = a->act;
    p->act_alpha = a->act_alpha;
    producer[a->outputs[0]] = producer[a->inputs[0]];
    producer[a->inputs[0]] = -1;
    p->outputs[0] = a->outputs[0];
    remove_node (graph, i);
    i--;
  }
  g_free (producer);
  g_free (reads);
}

/* Renumbers values, dropping those no node writes or reads and that are
 * not graph inputs. */
static void
compact_values (vq_graph *graph)
{
  gboolean *used = g_new0 (gboolean, graph->n_values + 1);
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    const vq_node *node = &graph->nodes[i];
    for (uint32_t k = 0; k < node->n_inputs; k++)
      used[node->inputs[k]] = TRUE;
    for (uint32_t k = 0; k < node->n_outputs; k++)
      used[node->outputs[k]] = TRUE;
  }
  for (uint32_t k = 0; k < graph->n_inputs; k++)
    used[graph->inputs[k]] = TRUE;
  for (uint32_t k = 0; k < graph->n_outputs; k++)
    used[graph->outputs[k]] = TRUE;
  uint32_t *map = g_new (uint32_t, graph->n_values + 1);
  uint32_t n = 0;
  for (uint32_t v = 0; v < graph->n_values; v++) {
    if (!used[v]) {
      g_free (graph->values[v].name);
      continue;
    }
    map[v] = n;
    graph->values[n++] = graph->values[v];
  }
  graph->n_values = n;
  for (uint32_t i = 0; i < graph->n_nodes; i++) {
    vq_node *node = &graph->nodes[i];
    for (uint32_t k = 0; k < node->n_inputs; k++)
      node->inputs[k] = map[node->inputs[k]];
    for (uint32_t k = 0; k < node->n_outputs; k++)
      node->outputs[k] = map[node->outputs[k]];
  }
  for (uint32_t k = 0; k < graph->n_inputs; k++)
    graph->inputs[k] = map[graph->inputs[k]];
  for (uint32_t k = 0; k < graph->n_outputs; k++)
    graph->outputs[k] = map[graph->outputs[k]];
  g_free (map);
  g_free (used);
}

void
vq__tfjs_optimize (vq_graph *graph)
{
  remove_dead_nodes (graph);
  fuse_activations (graph);
  compact_values (graph);
}
