#!/usr/bin/env bash
# Installs the system packages the build and tests need (Debian), if missing:
# gcc/make for the plugin, npm to fetch ONNX Runtime, python3-onnx for onnx.checker,
# libjpeg62-turbo-dev for runtime/preprocess (cgo: JPEG decoded by the libjpeg PIL uses),
# valgrind for the plugin's leak test (ops/leak_test.go; about 12 s, skipped without it).
set -euo pipefail
need=()
command -v gcc >/dev/null || need+=(gcc)
command -v make >/dev/null || need+=(make)
command -v npm >/dev/null || need+=(npm)
/usr/bin/python3 -c 'import onnx' 2>/dev/null || need+=(python3-onnx)
command -v valgrind >/dev/null || need+=(valgrind)
dpkg-query -W -f='${Status}' libjpeg62-turbo-dev 2>/dev/null | grep -q 'install ok installed' || need+=(libjpeg62-turbo-dev)
if [ ${#need[@]} -gt 0 ]; then
  sudo=""; [ "$(id -u)" = 0 ] || sudo=sudo
  echo "installing: ${need[*]}" >&2
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "${need[@]}" >/dev/null
fi
