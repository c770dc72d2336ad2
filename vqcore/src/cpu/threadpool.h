/* A small pool of persistent worker threads for the CPU engine.
 *
 * vq__threadpool_parallel_for() splits [0, n) into chunks of `grain`
 * indices and hands them out to the calling thread and the workers. Which
 * thread computes which chunk varies from run to run, so callers must make
 * every index's result independent of that (split over output rows or
 * channels, never over a reduction); then results are bit-identical for any
 * thread count. `thread_index` (0 .. size-1) selects per-thread scratch.
 */
#ifndef VQ_CPU_THREADPOOL_H
#define VQ_CPU_THREADPOOL_H

#include <stdint.h>

#include <glib.h>

typedef struct vq__threadpool vq__threadpool;

typedef void (*vq__range_func) (void *context, int64_t begin, int64_t end, int thread_index);

/* Starts n_threads - 1 workers (the caller is the n-th); n_threads <= 0
 * means one per processor. */
vq__threadpool *vq__threadpool_new (int n_threads, GError **error);
void vq__threadpool_free (vq__threadpool *pool);
int vq__threadpool_size (const vq__threadpool *pool);

/* Calls func on consecutive sub-ranges of [0, n) of at most `grain` indices
 * (grain <= 0: split evenly over the threads) and returns when all are done.
 * Not reentrant: func must not call parallel_for on the same pool. */
void vq__threadpool_parallel_for (vq__threadpool *pool, int64_t n, int64_t grain,
                                  vq__range_func func, void *context);

#endif
