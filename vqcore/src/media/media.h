/* vqcore/src/media/media.h — decodes video and image files with FFmpeg
 * (libavformat/libavcodec, libswscale for conversion) into vq_frames.
 *
 * Kept out of libvqcore on purpose: the GStreamer element decodes with
 * GStreamer, so only the `vq` tool and the tests link FFmpeg. */
#ifndef VQ_MEDIA_H
#define VQ_MEDIA_H

#include <glib.h>

#include "vqcore/image.h"

G_BEGIN_DECLS

typedef struct vq_media_reader vq_media_reader;

typedef struct {
  vq_frame frame;  /* valid until the next vq_media_reader_next() */
  int64_t index;   /* decoder frame number, from 0 */
  double pts;      /* presentation time in seconds (index / rate when unknown) */
} vq_media_frame;

/* Opens a video or image file and its first video stream. */
vq_media_reader *vq_media_reader_open (const char *path, GError **error);

/* Decodes the next frame. Returns 1 with `out` filled, 0 at the end of the
 * stream, -1 with `error` set when the file is corrupt or truncated. Frames
 * come out in their decoded pixel format when vqcore reads it directly
 * (I420, NV12, RGB, BGR, ...), else converted to RGB. */
int vq_media_reader_next (vq_media_reader *reader, vq_media_frame *out, GError **error);

/* Frame rate of the stream (0 when unknown) and its frame count as the
 * container declares it (0 when unknown). */
double vq_media_reader_frame_rate (const vq_media_reader *reader);
int64_t vq_media_reader_declared_frames (const vq_media_reader *reader);
const char *vq_media_reader_codec_name (const vq_media_reader *reader);

void vq_media_reader_close (vq_media_reader *reader);

G_END_DECLS

#endif /* VQ_MEDIA_H */
