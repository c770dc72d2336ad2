#!/usr/bin/env bash
# The test command: sets up the machine (packages, build, model), then runs
# the whole suite in the release build, again under AddressSanitizer and
# UBSan, and fuzzes the model loader for a while.
#   VQ_FUZZ_SECONDS  fuzzing time (default 60; 0 skips it)
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
build_dir="${VQ_BUILD_DIR:-$root/build}"
asan_dir="${VQ_ASAN_BUILD_DIR:-$root/build-asan}"
fuzz_seconds="${VQ_FUZZ_SECONDS:-60}"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp/vqdetect-runtime-$(id -u)}"
mkdir -p "$XDG_RUNTIME_DIR" && chmod 700 "$XDG_RUNTIME_DIR"

VQ_EXTRA_PACKAGES="clang libclang-rt-14-dev valgrind gstreamer1.0-plugins-bad" \
  "$root/pipelines/setup.sh"

# The independent reference (TF.js) for the importer tests.
if [ -f tests/reference/package-lock.json ] \
   && ! cmp -s tests/reference/package-lock.json tests/reference/node_modules/.package-lock.json; then
  npm ci --prefix tests/reference --no-audit --no-fund >&2
fi

summary() {
  python3 - "$@" <<'PY'
import json, sys
passed = failed = skipped = 0
for path in sys.argv[1:]:
    for line in open(path):
        result = json.loads(line).get("result")
        if result in ("OK", "EXPECTEDFAIL"):
            passed += 1
        elif result == "SKIP":
            skipped += 1
        else:
            failed += 1
print(f"{passed} passed, {failed} failed, {skipped} skipped")
PY
}

status=0
echo "== tests (release build: $build_dir)"
meson test -C "$build_dir" --print-errorlogs --num-processes 2 || status=1

echo "== tests under AddressSanitizer + UBSan ($asan_dir)"
if [ ! -f "$asan_dir/build.ninja" ]; then
  meson setup "$asan_dir" "$root" --buildtype=debugoptimized \
    -Db_sanitize=address,undefined -Db_lundef=false >&2
fi
ninja -C "$asan_dir" >&2
ASAN_OPTIONS="detect_leaks=1:abort_on_error=1" UBSAN_OPTIONS="halt_on_error=1:print_stacktrace=1" \
  meson test -C "$asan_dir" --print-errorlogs --num-processes 2 --timeout-multiplier 4 \
  --no-suite slow-under-asan || status=1

if [ "$fuzz_seconds" != 0 ] && [ -x tests/fuzz/run-fuzz.sh ]; then
  echo "== fuzzing the model loader for ${fuzz_seconds}s"
  tests/fuzz/run-fuzz.sh "$fuzz_seconds" || status=1
fi

summary "$build_dir/meson-logs/testlog.json" "$asan_dir/meson-logs/testlog.json"
exit $status
