#!/bin/sh
# Fuzzes the .vqm loader for SECONDS (default 60): configures a separate
# clang build directory with -Dfuzzing=true, builds the libFuzzer target and
# the seed generator, writes the seed corpus and runs the fuzzer. Exits
# non-zero when the fuzzer finds a crash, leak or sanitizer report; the
# reproducer is left in BUILD/fuzz-artifacts/.
#
#   tests/fuzz/run-fuzz.sh 60
#   VQ_FUZZ_BUILD_DIR=/tmp/bf tests/fuzz/run-fuzz.sh 300
set -eu

seconds=${1:-60}
root=$(cd "$(dirname "$0")/../.." && pwd)
build=${VQ_FUZZ_BUILD_DIR:-"$root/build-fuzz"}

if [ ! -f "$build/build.ninja" ]; then
  CC=clang meson setup "$build" "$root" -Dfuzzing=true
fi
ninja -C "$build" tests/fuzz/fuzz_vqm_load tests/fuzz/vqm_make_seed

corpus="$build/fuzz-corpus"
artifacts="$build/fuzz-artifacts"
mkdir -p "$corpus" "$artifacts"
"$build/tests/fuzz/vqm_make_seed" "$corpus"

# Leaks count as failures; sanitizer reports abort the run.
export ASAN_OPTIONS="${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=1}"
export UBSAN_OPTIONS="${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}"
exec "$build/tests/fuzz/fuzz_vqm_load" \
  -max_total_time="$seconds" \
  -max_len=16384 \
  -timeout=10 \
  -print_final_stats=1 \
  -artifact_prefix="$artifacts/" \
  "$corpus"
