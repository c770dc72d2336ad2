/* A minimal parallel-for over independent tasks. The quantizer's heavy steps
 * (Hessian accumulation, assignment, refit) are coarse enough that starting
 * threads per call costs nothing measurable, so no pool is kept. Tasks are
 * claimed from an atomic counter; determinism comes from every task writing
 * its own outputs, never from the schedule. */
#include "vq_private.h"

typedef struct {
  vq__task_func func;
  void *context;
  int64_t n_tasks;
  gint next; /* next task to claim */
} parallel_job;

typedef struct {
  parallel_job *job;
  int thread_index;
} parallel_worker;

static gpointer
parallel_worker_main (gpointer data)
{
  parallel_worker *worker = data;
  parallel_job *job = worker->job;
  for (;;) {
    int64_t task = g_atomic_int_add (&job->next, 1);
    if (task >= job->n_tasks)
      break;
    job->func (job->context, task, worker->thread_index);
  }
  return NULL;
}

int
vq__thread_count (int requested)
{
  if (requested > 0)
    return requested;
  int n = (int) g_get_num_processors ();
  return n > 0 ? n : 1;
}

void
vq__parallel_for (int64_t n_tasks, int n_threads, vq__task_func func, void *context)
{
  if (n_tasks <= 0)
    return;
  g_return_if_fail (n_tasks < G_MAXINT);
  int threads = vq__thread_count (n_threads);
  if (threads > n_tasks)
    threads = (int) n_tasks;
  parallel_job job = { func, context, n_tasks, 0 };
  if (threads <= 1) {
    for (int64_t t = 0; t < n_tasks; t++)
      func (context, t, 0);
    return;
  }
  parallel_worker *workers = g_new (parallel_worker, threads);
  GThread **handles = g_new (GThread *, threads);
  for (int i = 0; i < threads; i++) {
    workers[i].job = &job;
    workers[i].thread_index = i;
  }
  for (int i = 1; i < threads; i++)
    handles[i] = g_thread_new ("vq-quantize", parallel_worker_main, &workers[i]);
  parallel_worker_main (&workers[0]);
  for (int i = 1; i < threads; i++)
    g_thread_join (handles[i]);
  g_free (handles);
  g_free (workers);
}
