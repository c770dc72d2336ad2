/* vqdetectorpool.h — detectors shared between vqdetect elements.
 *
 * Elements that open the same model file (same inode, size and mtime) with
 * the same backend, device and resize mode share one vq_detector: the
 * weights are loaded once per process, however many pipelines run, and a
 * mutex serialises inference on it. Plain GLib, no GStreamer.
 */
#ifndef VQ_DETECTOR_POOL_H
#define VQ_DETECTOR_POOL_H

#include <glib.h>

#include "vqcore/detector.h"

G_BEGIN_DECLS

typedef struct vq__pooled_detector vq__pooled_detector;

/* Returns a detector for `options` (model_path must be set), loading it
 * unless a matching one is alive and `share` is TRUE. The caller owns one
 * reference. On failure NULL with the loader's error. */
vq__pooled_detector *vq__detector_pool_acquire (const vq_detector_options *options,
                                                gboolean share, GError **error);
vq__pooled_detector *vq__pooled_detector_ref (vq__pooled_detector *pooled);
/* Drops a reference; the last one frees the detector and its model. */
void vq__pooled_detector_unref (vq__pooled_detector *pooled);

/* The detector, for read-only calls that need no lock (labels, model). */
const vq_detector *vq__pooled_detector_peek (const vq__pooled_detector *pooled);

/* Runs the detector under its lock with this caller's decode options. */
gboolean vq__pooled_detector_run (vq__pooled_detector *pooled,
                                  const vq_decode_options *decode,
                                  const vq_frame *frame, GArray *detections,
                                  GError **error);

/* How many elements use it (for tests of sharing). */
guint vq__pooled_detector_users (vq__pooled_detector *pooled);

G_END_DECLS

#endif /* VQ_DETECTOR_POOL_H */
