/* vqschedule.c — the interval / late-frame rules of vqdetect. */
#include "vqschedule.h"

#include <string.h>

void
vq__schedule_invalidate (vq__schedule *schedule)
{
  schedule->have_results = FALSE;
  schedule->since_inference = 0;
}

void
vq__schedule_reset (vq__schedule *schedule)
{
  memset (schedule, 0, sizeof *schedule);
}

vq__frame_decision
vq__schedule_next (vq__schedule *schedule, guint interval, gboolean late)
{
  schedule->frame_number++;
  if (interval < 1)
    interval = 1;

  /* Without results there is nothing to carry: always infer. */
  if (!schedule->have_results)
    return VQ__FRAME_INFER;

  /* since_inference counts the frames after the inferred one, so with
   * interval N the frames 0, N, 2N, ... run the detector. A smaller
   * interval set at run time takes effect at once. */
  if (schedule->since_inference + 1 < interval) {
    schedule->since_inference++;
    schedule->frames_skipped++;
    return VQ__FRAME_SKIP_INTERVAL;
  }
  if (late) {
    /* Keep the interval phase: the next frame gets the chance. */
    schedule->since_inference++;
    schedule->frames_late++;
    return VQ__FRAME_SKIP_LATE;
  }
  return VQ__FRAME_INFER;
}

void
vq__schedule_mark_inferred (vq__schedule *schedule)
{
  schedule->have_results = TRUE;
  schedule->since_inference = 0;
  schedule->frames_inferred++;
  schedule->results_frame = schedule->frame_number;
}

guint64
vq__schedule_results_age (const vq__schedule *schedule)
{
  if (!schedule->have_results)
    return 0;
  return schedule->frame_number - schedule->results_frame;
}
