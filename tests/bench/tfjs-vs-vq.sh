#!/bin/sh
# tfjs-vs-vq.sh — NanoDet on TensorFlow.js (WASM backend, the model's native
# runtime) and on vqdetect (`vq bench`), same model file, same machine, one
# run, and the speed ratio.
#
#   tests/bench/tfjs-vs-vq.sh [-n RUNS] [-b auto|cpu|vulkan] [-d DEVICE]
#                             [-B BUILD_DIR] [-m MODEL.json] [-t wasm|cpu]
#
# Figures per frame:
#   TF.js  mean wall ms of RUNS graph executions after a warm-up
#          (tests/reference/tfjs_reference.mjs --repeat), and CPU ms: the CPU
#          time of a RUNS+1-run process minus a 1-run process, over RUNS
#          (model loading and warm-up cancel out).
#   vq     median wall ms and median CPU ms (all threads) of the graph alone
#          ("graph": what TF.js's figure covers) and of the whole per-frame
#          path (preprocess -> graph -> decode -> NMS).
# On a shared machine wall-clock figures include the neighbours' load (the
# load average is printed); CPU ms do not, and their ratio is the fairer one.
set -eu

runs=20
backend=vulkan
device=
tfjs_backend=wasm
src_dir=$(cd "$(dirname "$0")/../.." && pwd)
build_dir=${VQ_BUILD_DIR:-$src_dir/build}
model=${XDG_CACHE_HOME:-$HOME/.cache}/vqdetect/nanodet.json

while getopts n:b:d:B:m:t:h opt; do
  case $opt in
    n) runs=$OPTARG ;;
    b) backend=$OPTARG ;;
    d) device=$OPTARG ;;
    B) build_dir=$OPTARG ;;
    m) model=$OPTARG ;;
    t) tfjs_backend=$OPTARG ;;
    *) sed -n '2,20p' "$0"; exit 2 ;;
  esac
done

vq=$build_dir/vqcore/tool/vq
reference=$src_dir/tests/reference/tfjs_reference.mjs
for f in "$vq" "$model" "$reference"; do
  [ -e "$f" ] || { echo "tfjs-vs-vq: $f not found" >&2; exit 1; }
done
[ -d "$src_dir/tests/reference/node_modules/@tensorflow/tfjs-core" ] || {
  echo "tfjs-vs-vq: run 'npm ci' in tests/reference first" >&2; exit 1; }
command -v node >/dev/null || { echo "tfjs-vs-vq: node not found" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The input tensor [1, 3, 416, 416]: deterministic values in [-2, 2) (the
# range of the normalised frame); timings do not depend on them.
python3 - "$work/input.f32" <<'PY'
import array, sys
n = 3 * 416 * 416
state = 12345
values = array.array('f', [0.0]) * n
for i in range(n):
    state = (state * 1103515245 + 12345) & 0x7fffffff
    values[i] = state / 2**31 * 4.0 - 2.0
with open(sys.argv[1], 'wb') as f:
    values.tofile(f)
PY

cpu_seconds () { # command... -> prints user+sys seconds of the command
  # TF.js logs a hint per run on stderr; show it only when the run fails.
  /usr/bin/time -f '%U %S' -o "$work/time" "$@" >/dev/null 2>"$work/stderr" || {
    cat "$work/stderr" >&2; exit 1; }
  tail -n 1 "$work/time" | awk '{ print $1 + $2 }'
}

echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) CPUs"
echo "model: $model"

set -- --model "$model" --backend "$backend" --iterations "$runs" --json
[ -n "$device" ] && set -- "$@" --device "$device"
"$vq" bench "$@" > "$work/vq.json"

cpu_1=$(cpu_seconds node "$reference" "$model" "$work/input.f32" "$work/t1" \
  --backend "$tfjs_backend" --repeat 1)
cpu_n=$(cpu_seconds node "$reference" "$model" "$work/input.f32" "$work/tn" \
  --backend "$tfjs_backend" --repeat $((runs + 1)))

python3 - "$work/vq.json" "$work/tn/outputs.json" "$cpu_1" "$cpu_n" "$runs" "$tfjs_backend" <<'PY'
import json, sys
vq = json.load(open(sys.argv[1]))
tf = json.load(open(sys.argv[2]))
cpu_1, cpu_n, runs = float(sys.argv[3]), float(sys.argv[4]), int(sys.argv[5])
# The N+1-run process did N more graph runs than the 1-run one (its warm-up
# run matches the 1-run process's only run).
tf_cpu = max(cpu_n - cpu_1, 0.0) * 1000.0 / runs
tf_ms = tf['ms_per_run']
g, r = vq['graph'], vq['real']
print(f"vq device: {vq['backend']}, {vq['device']}; {runs} runs each")
print(f"{'':34} {'wall ms':>9} {'CPU ms':>9}")
print(f"{'TF.js ' + sys.argv[6] + ' (graph, mean)':34} {tf_ms:9.2f} {tf_cpu:9.2f}")
print(f"{'vq graph (median)':34} {g['median_ms']:9.2f} {g['cpu_ms']:9.2f}")
print(f"{'vq frame -> detections (median)':34} {r['median_ms']:9.2f} {r['cpu_ms']:9.2f}")
print(f"speed-up TF.js/vq graph:  wall {tf_ms / g['median_ms']:5.2f}x   CPU {tf_cpu / g['cpu_ms']:5.2f}x")
print(f"speed-up TF.js/vq frame:  wall {tf_ms / r['median_ms']:5.2f}x   CPU {tf_cpu / r['cpu_ms']:5.2f}x")
PY
