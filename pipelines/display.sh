#!/usr/bin/env bash
# Detects objects in a video file and shows it with the boxes drawn.
#
#   pipelines/display.sh [INPUT]     (default: opencv-doc's vtest.avi)
set -euo pipefail
source "$(dirname "$0")/env.sh"

input="${1:-$vtest}"
exec gst-launch-1.0 filesrc location="$input" ! decodebin ! videoconvert ! vqdetect ! vqoverlay ! videoconvert ! autovideosink
