#!/usr/bin/env bash
# The main job: sets everything up (packages, build, default model), then
# runs the demo pipeline on opencv-doc's vtest.avi (pedestrians):
#   filesrc ! decodebin ! videoconvert ! vqdetect ! vqoverlay ! x264enc ! mp4mux
# and prints where the annotated MP4 is and how fast it ran.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
"$root/pipelines/setup.sh"
exec "$root/pipelines/demo.sh" "$@"
