#!/usr/bin/env bash
# Prepares a Debian 12 machine for vqdetect, idempotently and quickly on a
# second run: installs the missing Debian packages, builds into ./build,
# fetches the default model and converts it to the cache directory.
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
build_dir="${VQ_BUILD_DIR:-$root/build}"
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/vqdetect"

packages=(
  # build
  gcc meson ninja-build pkg-config libglib2.0-dev libjson-glib-dev
  libavformat-dev libavcodec-dev libswscale-dev libavutil-dev openssl
  # GStreamer elements, their tests and the demo
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev gstreamer1.0-tools
  gstreamer1.0-plugins-base gstreamer1.0-plugins-good gstreamer1.0-plugins-ugly
  gstreamer1.0-libav python3-gst-1.0 python3-gi
  # Vulkan: shader compiler, loader, lavapipe, validation layer
  glslc libvulkan-dev mesa-vulkan-drivers vulkan-validationlayers vulkan-tools
  # real test media (vtest.avi, messi5.jpg, basketball1.png)
  opencv-doc
)
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)
if [ -n "${VQ_EXTRA_PACKAGES:-}" ]; then
  read -r -a extra <<< "$VQ_EXTRA_PACKAGES"
  packages+=("${extra[@]}")
fi

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  sudo_cmd=(); [ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
  "${sudo_cmd[@]}" apt-get update -q >&2
  DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -q --no-install-recommends \
    "${missing[@]}" >&2
fi

if [ ! -f "$build_dir/build.ninja" ]; then
  meson setup "$build_dir" "$root" --buildtype=release >&2
fi
ninja -C "$build_dir" >&2

"$root/pipelines/fetch-model.sh"
vq="$build_dir/vqcore/tool/vq"
# The float model: always re-converted (about a second), so a stale file
# written by an older build is never picked up.
"$vq" convert "$cache_dir/nanodet.json" -o "$cache_dir/nanodet-float.vqm" >&2

# The default model is the vector-quantized one (2.2 bits per weight; see
# tests/vq/RESULTS.md). Compressing takes a few minutes, so the result is
# kept while its inputs stay the same: the float model, the compressor's
# sources and this command line. Calibration uses vtest.avi frames from 400
# on and images that the evaluation (tests/vq) holds out.
data=/usr/share/doc/opencv-doc/examples/data
compress=(--bits 2.2 --calib "$data/vtest.avi" --calib-start 400 --calib-every 12)
for image in aero1.jpg apple.jpg building.jpg leuvenA.jpg board.jpg orange.jpg \
             Blender_Suzanne1.jpg rubberwhale1.png; do
  compress+=(--calib "$data/$image")
done
key=$( { sha256sum < "$cache_dir/nanodet-float.vqm"
         (cd "$root" && cat vqcore/src/vq/*.c vqcore/src/vq/*.h vqcore/tool/cmd_compress.c \
                            vqcore/src/cpu/*.c vqcore/src/format/*.c) | sha256sum
         echo "${compress[*]}"; } | sha256sum | cut -d' ' -f1)
if [ ! -f "$cache_dir/nanodet.vqm" ] || [ "$(cat "$cache_dir/nanodet.vqm.key" 2>/dev/null)" != "$key" ]; then
  echo "setup: compressing the default model (vq compress, a few minutes, once)" >&2
  "$vq" compress "$cache_dir/nanodet-float.vqm" -o "$cache_dir/nanodet.vqm.tmp" "${compress[@]}" >&2
  mv "$cache_dir/nanodet.vqm.tmp" "$cache_dir/nanodet.vqm"
  echo "$key" > "$cache_dir/nanodet.vqm.key"
fi
"$vq" info "$cache_dir/nanodet.vqm" | grep -E '^(Model|Path|Parameters|Bytes|Bits/weight)' >&2 || true
