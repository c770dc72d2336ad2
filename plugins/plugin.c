/* plugin.c — registers the vqdetect plugin's elements. */
#ifdef HAVE_CONFIG_H
#include "config.h"
#endif

#include <gst/gst.h>

#include "gstvqdetect.h"
#include "gstvqoverlay.h"

static gboolean
plugin_init (GstPlugin *plugin)
{
  gboolean ret = FALSE;

  ret |= GST_ELEMENT_REGISTER (vqdetect, plugin);
  ret |= GST_ELEMENT_REGISTER (vqoverlay, plugin);
  return ret;
}

#ifndef PACKAGE
#define PACKAGE "vqdetect"
#endif

GST_PLUGIN_DEFINE (GST_VERSION_MAJOR, GST_VERSION_MINOR, vqdetect,
                   "Object detection with vector-quantized models on CPU and Vulkan",
                   plugin_init, VQ_VERSION, "MIT", "vqdetect", "https://github.com/vqdetect/vqdetect")
