#!/usr/bin/env bash
# Produces the size/accuracy trade-off table of tests/vq/RESULTS.md: for each
# budget, the Hessian method and plain weight k-means with the very same
# per-layer settings (same seed and calibration give the same allocation, so
# the sizes are equal), each evaluated against the float model on held-out
# frames (vtest.avi frames 0-399, every 10th, and opencv-doc images that are
# not in the calibration set).
#   usage: tests/vq/tradeoff.sh [BUILD_DIR] [BUDGET...]   (default 4 3 2.2 1.5)
# VQ_TRADEOFF_ARGS adds compress options to every run (e.g. "--share auto");
# VQ_TRADEOFF_METHODS picks the methods (default "hessian kmeans").
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${1:-$root/build}; shift || true
budgets=${*:-4 3 2.2 1.5}
vq=$build/vqcore/tool/vq
data=/usr/share/doc/opencv-doc/examples/data
cache=${XDG_CACHE_HOME:-$HOME/.cache}/vqdetect
out=${VQ_TRADEOFF_DIR:-/tmp/vq-tradeoff}
read -r -a extra <<< "${VQ_TRADEOFF_ARGS:-}"
methods=${VQ_TRADEOFF_METHODS:-hessian kmeans}
mkdir -p "$out"

calib=(--calib "$data/vtest.avi" --calib-start 400 --calib-every 12
       --calib "$data/aero1.jpg" --calib "$data/apple.jpg" --calib "$data/building.jpg"
       --calib "$data/leuvenA.jpg" --calib "$data/board.jpg" --calib "$data/orange.jpg"
       --calib "$data/Blender_Suzanne1.jpg" --calib "$data/rubberwhale1.png")
held_out=("$data/vtest.avi" --every 10 --max 40 "$data/messi5.jpg" "$data/basketball1.png"
          "$data/basketball2.png" "$data/fruits.jpg" "$data/home.jpg"
          "$data/licenseplate_motion.jpg" "$data/squirrel_cls.jpg" "$data/HappyFish.jpg"
          "$data/baboon.jpg" "$data/aero3.jpg" "$data/stuff.jpg")

fp32=$(stat -c %s "$cache/nanodet-float.vqm")
echo "| budget | method | bits/weight | model bytes | vs fp32 | vs fp16 | mAP@0.5 | precision | recall | time |"
echo "|---|---|---|---|---|---|---|---|---|---|"
for b in $budgets; do
  for method in $methods; do
    model=$out/nanodet-$method-$b.vqm
    start=$(date +%s)
    "$vq" compress "$cache/nanodet-float.vqm" -o "$model" --bits "$b" --method "$method" \
      "${calib[@]}" ${extra[@]+"${extra[@]}"} --no-measure -q > "$out/compress-$method-$b.txt"
    seconds=$(( $(date +%s) - start ))
    "$vq" eval "$cache/nanodet-float.vqm" "$model" "${held_out[@]}" > "$out/eval-$method-$b.json"
    python3 - "$out/eval-$method-$b.json" "$b" "$method" "$fp32" "$seconds" <<'PY'
import json, sys
r = json.load(open(sys.argv[1]))
b, method, fp32, seconds = sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5]
size = r["candidate"]["bytes"]
print(f"| {b} | {method} | {r['candidate']['bits_per_weight']:.3f} | {size} | "
      f"{fp32 / size:.1f}x | {fp32 / 2 / size:.1f}x | {r['map']:.3f} | {r['precision']:.3f} | "
      f"{r['recall']:.3f} | {seconds} s |")
PY
  done
done
