#!/usr/bin/env bash
# File -> JSON Lines: one object per frame with the detections and the
# element's telemetry (see detect_json.py, which embeds the pipeline).
#
#   pipelines/json.sh [INPUT] [detect_json.py options]
set -euo pipefail
source "$(dirname "$0")/env.sh"
exec /usr/bin/python3 "$root/pipelines/detect_json.py" "$@"
