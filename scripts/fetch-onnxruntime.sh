#!/usr/bin/env bash
# Fetches libonnxruntime.so.1 (CPU build) from the npm package onnxruntime-node,
# without running the package's install script. Usage: fetch-onnxruntime.sh [VERSION]
# Result: third_party/onnxruntime/$VERSION/libonnxruntime.so.1
set -euo pipefail
version=${1:-1.29.0}
root=$(cd "$(dirname "$0")/.." && pwd)
dest="$root/third_party/onnxruntime/$version"
lib="$dest/libonnxruntime.so.1"
if [ -s "$lib" ]; then exit 0; fi
case "$(uname -m)" in
  x86_64) arch=x64 ;;
  aarch64) arch=arm64 ;;
  *) echo "fetch-onnxruntime: unsupported architecture $(uname -m)" >&2; exit 1 ;;
esac
command -v npm >/dev/null || { echo "fetch-onnxruntime: npm is required (apt-get install npm)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
echo "fetching onnxruntime-node@$version (npm pack, no install script)..." >&2
(cd "$tmp" && npm pack --silent "onnxruntime-node@$version" >/dev/null)
tar -xzf "$tmp"/onnxruntime-node-"$version".tgz -C "$tmp" "package/bin/napi-v6/linux/$arch/libonnxruntime.so.1"
mkdir -p "$dest"
mv "$tmp/package/bin/napi-v6/linux/$arch/libonnxruntime.so.1" "$lib.tmp"
mv "$lib.tmp" "$lib"
echo "onnxruntime $version -> $lib" >&2
