#!/usr/bin/env bash
# The demo: detects the pedestrians in a video (default: opencv-doc's
# vtest.avi), draws the boxes and writes an H.264 MP4, then prints where the
# file is and how fast it ran.
#
#   pipelines/demo.sh [INPUT] [OUTPUT.mp4]   (default output: $VQ_BUILD_DIR/vtest-detected.mp4)
#
# Expects a build in $VQ_BUILD_DIR (default ./build) and the default model
# in ~/.cache/vqdetect (pipelines/setup.sh does both). Extra vqdetect
# properties can be passed in $VQDETECT_PROPS, e.g. "interval=2 backend=cpu".
set -euo pipefail
source "$(dirname "$0")/env.sh"

input="${1:-$vtest}"
output="$(realpath -m "${2:-$build_dir/vtest-detected.mp4}")"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# Word splitting of the extra properties is intended.
read -r -a props <<< "${VQDETECT_PROPS:-}"

start=$(date +%s%N)
# -m prints the per-frame vqdetect messages, which are counted below.
if ! gst-launch-1.0 -e -m filesrc location="$input" ! decodebin ! videoconvert ! vqdetect "${props[@]}" ! vqoverlay ! videoconvert ! x264enc speed-preset=veryfast ! mp4mux ! filesink location="$output" >"$log" 2>&1; then
  cat "$log" >&2
  echo "demo: the pipeline failed (log above)" >&2
  exit 1
fi
end=$(date +%s%N)

frames=$(grep -c 'vqdetect, timestamp=' "$log" || true)
inferred=$(grep -c 'inferred=(boolean)true' "$log" || true)
detections=$(grep -o 'num-detections=(uint)[0-9]*' "$log" | awk -F')' '{ n += $2 } END { print n + 0 }')
backend=$(grep -o -m 1 'backend=(string)[^,]*' "$log" | cut -d')' -f2 || true)
awk -v f="$frames" -v i="$inferred" -v d="$detections" -v s="$start" -v e="$end" \
    -v o="$output" -v b="$backend" 'BEGIN {
  secs = (e - s) / 1e9
  printf "demo: wrote %s\n", o
  printf "demo: %d frames (%d inferred) with %d detections in %.1f s = %.2f frames/s (decode + detect on %s + draw + encode)\n",
         f, i, d, secs, f / secs, b
}'
