#!/usr/bin/env bash
# The main job: sets everything up, then detects the pedestrians in
# opencv-doc's vtest.avi with the default model and prints JSON Lines.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="${VQ_BUILD_DIR:-$root/build}"
"$root/pipelines/setup.sh"
"$build_dir/vqcore/tool/vq" detect --stats /usr/share/doc/opencv-doc/examples/data/vtest.avi "$@"
