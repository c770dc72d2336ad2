/* gstvqoverlay.h — draws GstVideoRegionOfInterestMeta boxes in place. */
#ifndef GST_VQ_OVERLAY_H
#define GST_VQ_OVERLAY_H

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_VQ_OVERLAY (gst_vq_overlay_get_type ())
G_DECLARE_FINAL_TYPE (GstVqOverlay, gst_vq_overlay, GST, VQ_OVERLAY, GstVideoFilter)

GST_ELEMENT_REGISTER_DECLARE (vqoverlay)

G_END_DECLS

#endif /* GST_VQ_OVERLAY_H */
