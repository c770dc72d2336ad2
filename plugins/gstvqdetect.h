/* gstvqdetect.h — object detection on raw video, results as metadata. */
#ifndef GST_VQ_DETECT_H
#define GST_VQ_DETECT_H

#include <gst/video/gstvideofilter.h>

G_BEGIN_DECLS

#define GST_TYPE_VQ_DETECT (gst_vq_detect_get_type ())
G_DECLARE_FINAL_TYPE (GstVqDetect, gst_vq_detect, GST, VQ_DETECT, GstVideoFilter)

#define GST_TYPE_VQ_DETECT_BACKEND (gst_vq_detect_backend_get_type ())
GType gst_vq_detect_backend_get_type (void);

#define GST_TYPE_VQ_DETECT_PRECISION (gst_vq_detect_precision_get_type ())
GType gst_vq_detect_precision_get_type (void);

#define GST_TYPE_VQ_DETECT_RESIZE (gst_vq_detect_resize_get_type ())
GType gst_vq_detect_resize_get_type (void);

GST_ELEMENT_REGISTER_DECLARE (vqdetect)

G_END_DECLS

#endif /* GST_VQ_DETECT_H */
