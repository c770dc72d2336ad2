/* gstvqcaps.h — the raw video both elements take. vqdetect reads these
 * formats (gstvqresults.c maps each to a vqcore pixel format) and
 * vqoverlay draws on exactly the same ones, so `vqdetect ! vqoverlay`
 * links without a videoconvert between them. */
#ifndef GST_VQ_CAPS_H
#define GST_VQ_CAPS_H

#include <gst/video/video.h>

#define VQ_GST_VIDEO_CAPS \
  GST_VIDEO_CAPS_MAKE ("{ RGB, BGR, RGBA, BGRA, RGBx, BGRx, NV12, I420 }")

/* An always-present pad of an in-place video filter over VQ_GST_VIDEO_CAPS. */
#define VQ_GST_VIDEO_PAD_TEMPLATE(name, direction) \
  GST_STATIC_PAD_TEMPLATE (name, direction, GST_PAD_ALWAYS, GST_STATIC_CAPS (VQ_GST_VIDEO_CAPS))

#endif /* GST_VQ_CAPS_H */
