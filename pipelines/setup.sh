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
# Always re-convert: it takes about a second, and a stale .vqm written by an
# older build must never be picked up.
"$build_dir/vqcore/tool/vq" convert "$cache_dir/nanodet.json" -o "$cache_dir/nanodet.vqm" >&2
