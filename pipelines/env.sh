# Sourced by the pipeline scripts: use the plugin from the build tree
# ($VQ_BUILD_DIR, default ./build) unless it is installed, and check that
# GStreamer finds it before running anything.
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build_dir="${VQ_BUILD_DIR:-$root/build}"
if [ -d "$build_dir/plugins" ]; then
  export GST_PLUGIN_PATH="$build_dir/plugins${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
fi
vtest=/usr/share/doc/opencv-doc/examples/data/vtest.avi
if ! gst-inspect-1.0 vqdetect >/dev/null 2>&1; then
  echo "error: GStreamer cannot find the vqdetect element (looked in $build_dir/plugins" \
       "and the system plugin path); run pipelines/setup.sh first" >&2
  exit 1
fi
