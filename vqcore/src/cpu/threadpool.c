/* Persistent workers that sleep on a condition variable between jobs. A job
 * is one parallel_for call: chunks are claimed with an atomic counter, so a
 * slow thread never holds up the others, and the calling thread works too
 * instead of just waiting. */
#include "threadpool.h"

#include <stdatomic.h>

#include "vqcore/error.h"

struct vq__threadpool {
  int size; /* threads including the caller */
  GThread **workers;

  GMutex lock;
  GCond wake;      /* signalled when a new job starts or on shutdown */
  GCond done;      /* signalled when the last worker leaves a job */
  uint64_t generation; /* incremented per job, under lock */
  int busy;            /* workers still inside the current job, under lock */
  gboolean quit;

  /* The current job; written before `generation` is bumped. */
  vq__range_func func;
  void *context;
  int64_t n;
  int64_t grain;
  atomic_int_fast64_t next_chunk;
};

typedef struct {
  vq__threadpool *pool;
  int index;
} worker_start;

static void
run_chunks (vq__threadpool *pool, int thread_index)
{
  int64_t n_chunks = (pool->n + pool->grain - 1) / pool->grain;
  for (;;) {
    int64_t chunk = atomic_fetch_add (&pool->next_chunk, 1);
    if (chunk >= n_chunks)
      break;
    int64_t begin = chunk * pool->grain;
    int64_t end = MIN (begin + pool->grain, pool->n);
    pool->func (pool->context, begin, end, thread_index);
  }
}

static gpointer
worker_main (gpointer data)
{
  worker_start *start = data;
  vq__threadpool *pool = start->pool;
  int index = start->index;
  g_free (start);

  uint64_t seen = 0;
  g_mutex_lock (&pool->lock);
  for (;;) {
    while (!pool->quit && pool->generation == seen)
      g_cond_wait (&pool->wake, &pool->lock);
    if (pool->quit)
      break;
    seen = pool->generation;
    g_mutex_unlock (&pool->lock);

    run_chunks (pool, index);

    g_mutex_lock (&pool->lock);
    if (--pool->busy == 0)
      g_cond_signal (&pool->done);
  }
  g_mutex_unlock (&pool->lock);
  return NULL;
}

vq__threadpool *
vq__threadpool_new (int n_threads, GError **error)
{
  if (n_threads <= 0)
    n_threads = (int) g_get_num_processors ();
  n_threads = CLAMP (n_threads, 1, 256);

  vq__threadpool *pool = g_new0 (vq__threadpool, 1);
  pool->size = 1;
  g_mutex_init (&pool->lock);
  g_cond_init (&pool->wake);
  g_cond_init (&pool->done);
  atomic_init (&pool->next_chunk, 0);
  pool->workers = g_new0 (GThread *, n_threads);

  for (int i = 1; i < n_threads; i++) {
    worker_start *start = g_new (worker_start, 1);
    start->pool = pool;
    start->index = i;
    GError *local = NULL;
    pool->workers[i] = g_thread_try_new ("vq-cpu", worker_main, start, &local);
    if (pool->workers[i] == NULL) {
      g_free (start);
      g_set_error (error, VQ_ERROR, VQ_ERROR_BACKEND,
                   "could not start CPU worker thread %d of %d: %s", i, n_threads,
                   local->message);
      g_error_free (local);
      vq__threadpool_free (pool);
      return NULL;
    }
    pool->size++;
  }
  return pool;
}

void
vq__threadpool_free (vq__threadpool *pool)
{
  if (pool == NULL)
    return;
  g_mutex_lock (&pool->lock);
  pool->quit = TRUE;
  g_cond_broadcast (&pool->wake);
  g_mutex_unlock (&pool->lock);
  for (int i = 1; i < pool->size; i++)
    g_thread_join (pool->workers[i]);
  g_free (pool->workers);
  g_mutex_clear (&pool->lock);
  g_cond_clear (&pool->wake);
  g_cond_clear (&pool->done);
  g_free (pool);
}

int
vq__threadpool_size (const vq__threadpool *pool)
{
  return pool->size;
}

void
vq__threadpool_parallel_for (vq__threadpool *pool, int64_t n, int64_t grain,
                             vq__range_func func, void *context)
{
  if (n <= 0)
    return;
  if (grain <= 0)
    grain = (n + pool->size - 1) / pool->size;
  /* Not worth waking anyone for a single chunk, nor with no one to wake. */
  if (pool->size == 1 || grain >= n) {
    for (int64_t begin = 0; begin < n; begin += grain)
      func (context, begin, MIN (begin + grain, n), 0);
    return;
  }

  g_mutex_lock (&pool->lock);
  pool->func = func;
  pool->context = context;
  pool->n = n;
  pool->grain = grain;
  atomic_store (&pool->next_chunk, 0);
  pool->busy = pool->size - 1;
  pool->generation++;
  g_cond_broadcast (&pool->wake);
  g_mutex_unlock (&pool->lock);

  run_chunks (pool, 0);

  g_mutex_lock (&pool->lock);
  while (pool->busy > 0)
    g_cond_wait (&pool->done, &pool->lock);
  g_mutex_unlock (&pool->lock);
}
