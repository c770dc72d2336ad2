/* vqdetectorpool.c — one vq_detector per (model file, backend, device, fit),
 * shared by reference count. */
#include "vqdetectorpool.h"

#include <glib/gstdio.h>

#include "vqcore/error.h"

struct vq__pooled_detector {
  gint refcount;   /* guarded by pool_lock */
  char *key;       /* NULL when not shared (not in the table) */
  GMutex run_lock; /* one inference at a time: engines keep per-run state */
  vq_detector *detector;
};

static GMutex pool_lock;
static GHashTable *pool; /* key -> vq__pooled_detector (borrowed) */

/* The key identifies the file itself, not its name: a model replaced on
 * disk (new inode or mtime) is loaded afresh instead of reusing stale
 * weights, while two spellings of one path share. */
static char *
make_key (const vq_detector_options *options)
{
  GStatBuf st;

  if (g_stat (options->model_path, &st) != 0)
    return NULL;
  return g_strdup_printf ("%llu:%llu:%lld:%lld|%d|%s|%d|%d",
                          (unsigned long long) st.st_dev,
                          (unsigned long long) st.st_ino,
                          (long long) st.st_size, (long long) st.st_mtime,
                          (int) options->engine.backend,
                          options->engine.device ? options->engine.device : "",
                          (int) options->engine.precision, (int) options->fit);
}

vq__pooled_detector *
vq__detector_pool_acquire (const vq_detector_options *options, gboolean share,
                           GError **error)
{
  vq__pooled_detector *pooled;
  vq_detector *detector;
  char *key = share ? make_key (options) : NULL;

  g_mutex_lock (&pool_lock);
  if (key != NULL && pool != NULL) {
    pooled = g_hash_table_lookup (pool, key);
    if (pooled != NULL) {
      pooled->refcount++;
      g_mutex_unlock (&pool_lock);
      g_free (key);
      return pooled;
    }
  }
  g_mutex_unlock (&pool_lock);

  /* Load outside the pool lock: loading can take a while and other
   * elements must be able to start and stop meanwhile. Two elements racing
   * for the same key each load; the second one then shares the first. */
  detector = vq_detector_new (options, error);
  if (detector == NULL) {
    g_free (key);
    return NULL;
  }

  g_mutex_lock (&pool_lock);
  if (key != NULL && pool != NULL) {
    pooled = g_hash_table_lookup (pool, key);
    if (pooled != NULL) {
      pooled->refcount++;
      g_mutex_unlock (&pool_lock);
      vq_detector_free (detector);
      g_free (key);
      return pooled;
    }
  }
  pooled = g_new0 (vq__pooled_detector, 1);
  pooled->refcount = 1;
  pooled->detector = detector;
  g_mutex_init (&pooled->run_lock);
  if (key != NULL) {
    if (pool == NULL)
      pool = g_hash_table_new (g_str_hash, g_str_equal);
    pooled->key = key;
    g_hash_table_insert (pool, key, pooled);
  }
  g_mutex_unlock (&pool_lock);
  return pooled;
}

vq__pooled_detector *
vq__pooled_detector_ref (vq__pooled_detector *pooled)
{
  g_mutex_lock (&pool_lock);
  pooled->refcount++;
  g_mutex_unlock (&pool_lock);
  return pooled;
}

void
vq__pooled_detector_unref (vq__pooled_detector *pooled)
{
  if (pooled == NULL)
    return;
  g_mutex_lock (&pool_lock);
  if (--pooled->refcount > 0) {
    g_mutex_unlock (&pool_lock);
    return;
  }
  if (pooled->key != NULL) {
    g_hash_table_remove (pool, pooled->key);
    /* An empty table is freed so a process that stops all pipelines ends
     * with nothing allocated (leak checkers stay quiet). */
    if (g_hash_table_size (pool) == 0) {
      g_hash_table_unref (pool);
      pool = NULL;
    }
  }
  g_mutex_unlock (&pool_lock);

  vq_detector_free (pooled->detector);
  g_mutex_clear (&pooled->run_lock);
  g_free (pooled->key);
  g_free (pooled);
}

const vq_detector *
vq__pooled_detector_peek (const vq__pooled_detector *pooled)
{
  return pooled->detector;
}

gboolean
vq__pooled_detector_run (vq__pooled_detector *pooled, const vq_decode_options *decode,
                         const vq_frame *frame, GArray *detections, GError **error)
{
  gboolean ok;

  g_mutex_lock (&pooled->run_lock);
  /* Each sharing element may use its own thresholds. */
  vq_detector_set_decode_options (pooled->detector, decode);
  ok = vq_detector_run (pooled->detector, frame, detections, error);
  g_mutex_unlock (&pooled->run_lock);
  return ok;
}

guint
vq__pooled_detector_users (vq__pooled_detector *pooled)
{
  guint users;

  g_mutex_lock (&pool_lock);
  users = (guint) pooled->refcount;
  g_mutex_unlock (&pool_lock);
  return users;
}
