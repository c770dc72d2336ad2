#!/usr/bin/env bash
# Live detection from a camera (v4l2src), shown on screen. Without a camera
# it falls back to a live test pattern; without a display it prints the
# per-frame detection messages instead of showing the video.
#
#   pipelines/camera.sh [DEVICE]     (default: /dev/video0)
#   NUM_BUFFERS=100 pipelines/camera.sh   stops after 100 frames
set -euo pipefail
source "$(dirname "$0")/env.sh"

device="${1:-/dev/video0}"
num_buffers="${NUM_BUFFERS:--1}"
if [ -e "$device" ] && gst-inspect-1.0 v4l2src >/dev/null 2>&1; then
  src=(v4l2src device="$device" num-buffers="$num_buffers")
else
  echo "camera: no camera at $device, using a live test pattern" >&2
  src=(videotestsrc is-live=true pattern=ball num-buffers="$num_buffers" ! video/x-raw,width=640,height=480,framerate=15/1)
fi
if [ -n "${DISPLAY:-}${WAYLAND_DISPLAY:-}" ]; then
  sink=(vqoverlay ! videoconvert ! autovideosink)
  exec gst-launch-1.0 -e "${src[@]}" ! videoconvert ! vqdetect ! "${sink[@]}"
fi
# Headless: a live source must still be consumed in real time.
exec gst-launch-1.0 -e -m "${src[@]}" ! videoconvert ! vqdetect ! fakesink sync=true
