/* vqschedule.h — which frames vqdetect runs inference on, and the
 * per-frame telemetry it reports. Plain GLib so the rules are unit-tested
 * without a pipeline. */
#ifndef VQ_SCHEDULE_H
#define VQ_SCHEDULE_H

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VQ__FRAME_INFER = 0,     /* run the detector on this frame */
  VQ__FRAME_SKIP_INTERVAL, /* carry the last results: not an Nth frame */
  VQ__FRAME_SKIP_LATE,     /* carry the last results: downstream says we are late */
} vq__frame_decision;

typedef struct {
  guint64 frame_number;     /* frames seen since the last reset, the current one included */
  guint64 frames_inferred;  /* frames the detector ran on */
  guint64 frames_skipped;   /* frames that carried earlier results (interval) */
  guint64 frames_late;      /* frames that carried earlier results (QoS) */
  guint64 results_frame;    /* frame_number of the frame the current results come from */
  gboolean have_results;    /* FALSE until the first inference after a reset */
  guint since_inference;    /* frames since the last inference */
} vq__schedule;

/* Forgets the results (after a flush or a resolution change the old boxes
 * no longer match the picture) but keeps the counters running. */
void vq__schedule_invalidate (vq__schedule *schedule);

/* Clears everything, counters included (element start). */
void vq__schedule_reset (vq__schedule *schedule);

/* Decides for the next frame and counts it. `interval` >= 1: infer on
 * every interval-th frame, counted from the last inference. `late`: the
 * frame is already behind the clock; it skips inference only when earlier
 * results exist to carry, so a slow detector still produces results. */
vq__frame_decision vq__schedule_next (vq__schedule *schedule, guint interval, gboolean late);

/* Call after the detector ran on the current frame. */
void vq__schedule_mark_inferred (vq__schedule *schedule);

/* How many frames old the carried results are (0 on inferred frames). */
guint64 vq__schedule_results_age (const vq__schedule *schedule);

G_END_DECLS

#endif /* VQ_SCHEDULE_H */
