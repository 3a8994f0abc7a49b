#!/usr/bin/env bash
# Writes the release bundle OUTDIR/vimconvert-VERSION-linux-ARCH.tar.gz
# (OUTDIR: first argument, default dist/). Run through `make dist`, which builds
# the plugin and fetches ONNX Runtime first. Layout of the bundle (one folder):
#   bin/vimconvert                 built with rpath $ORIGIN/../lib
#   lib/libonnxruntime.so.1        the ONNX Runtime the tests run with (ORT_VERSION)
#   lib/libvimconvert_ops.so       the custom-op plugin
#   lib/<JPEG library>             only when bin/vimconvert links one (image commands)
#   share/vimconvert/imagenet1k.txt  ImageNet labels, when the checkout has them
#   licenses/                      ONNX Runtime, Go, every Go module linked in, libjpeg-turbo when bundled
#   README.md
# vimconvert finds lib/ from its own path (runtime.ExeRelativeFile): no
# environment variables are needed wherever the folder is extracted.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
outdir=${1:-dist}
ORT_VERSION=${ORT_VERSION:-1.29.0}
GO=${GO:-go}
die() { echo "make-dist: $*" >&2; exit 1; }

version=$(sed -n 's/^const ProducerVersion = "\([^"]*\)"$/\1/p' graph/graph.go)
[ -n "$version" ] || die "no ProducerVersion in graph/graph.go"
case "$(uname -m)" in
  x86_64) arch=amd64 ;;
  aarch64) arch=arm64 ;;
  *) die "unsupported architecture $(uname -m)" ;;
esac
ort_lib=third_party/onnxruntime/$ORT_VERSION/libonnxruntime.so.1
plugin=build/libvimconvert_ops.so
[ -s "$ort_lib" ] || die "$ort_lib missing: run \`make setup\` (or \`make dist\`)"
[ -s "$plugin" ] || die "$plugin missing: run \`make plugin\` (or \`make dist\`)"

name=vimconvert-$version-linux-$arch
mkdir -p "$outdir"
outdir=$(cd "$outdir" && pwd)
# Stage folders are named .stage-PID-XXXXXX. One whose make-dist.sh died
# without its EXIT trap (a SIGKILL) is removed here: its PID runs no process
# (kill -0 fails and /proc has no such entry; a process of another user,
# which kill -0 may not signal, keeps its folder).
for old in "$outdir"/.stage-*; do
  [ -d "$old" ] || continue
  pid=${old##*/.stage-}
  pid=${pid%%-*}
  case $pid in '' | *[!0-9]*) continue ;; esac
  if ! kill -0 "$pid" 2>/dev/null && [ ! -e "/proc/$pid" ]; then
    rm -rf "$old"
  fi
done
stage=$(mktemp -d "$outdir/.stage-$$-XXXXXX")
trap 'rm -rf "$stage"' EXIT
b=$stage/$name
mkdir -p "$b/bin" "$b/lib" "$b/licenses"

# The binary: external linking so that the rpath reaches the ELF file (the
# compiled packages are shared with `make`'s build, only the link differs).
CGO_ENABLED=1 $GO build \
  -ldflags "-linkmode=external -extldflags '-Wl,-rpath,\$ORIGIN/../lib'" \
  -o "$b/bin/vimconvert" ./cmd/vimconvert
cp "$ort_lib" "$b/lib/libonnxruntime.so.1"
cp "$plugin" "$b/lib/libvimconvert_ops.so"

# A JPEG library the binary links (libjpeg-turbo through cgo), with its licence.
jpeg=$(ldd "$b/bin/vimconvert" | awk '/libjpeg|libturbojpeg/ {print $3}')
for lib in $jpeg; do
  cp -L "$lib" "$b/lib/$(basename "$lib")"
  pkg=$(dpkg -S "$(readlink -f "$lib")" 2>/dev/null | head -1 | cut -d: -f1 || true)
  if [ -n "$pkg" ] && [ -f "/usr/share/doc/$pkg/copyright" ]; then
    cp "/usr/share/doc/$pkg/copyright" "$b/licenses/libjpeg-turbo-copyright"
  else
    die "bundling $lib but found no licence for it"
  fi
done

# ImageNet labels (torchvision's class list, also embedded in runtime/preprocess),
# when the checkout has them.
labels=runtime/preprocess/imagenet1k.txt
if [ -f "$labels" ]; then
  mkdir -p "$b/share/vimconvert"
  install -m 644 "$labels" "$b/share/vimconvert/"
fi

# Licences: ONNX Runtime, Go (its runtime is linked in), every Go module linked in.
cp ops/include/onnxruntime/LICENSE "$b/licenses/onnxruntime-LICENSE"
install -m 644 "$($GO env GOROOT)/LICENSE" "$b/licenses/go-LICENSE"
$GO list -deps -f '{{with .Module}}{{if not .Main}}{{.Path}} {{.Dir}}{{end}}{{end}}' ./cmd/vimconvert | sort -u |
while read -r mod dir; do
  found=
  for f in "$dir"/LICENSE* "$dir"/LICENCE* "$dir"/COPYING*; do
    [ -f "$f" ] || continue
    install -m 644 "$f" "$b/licenses/$(echo "$mod" | tr '/' '_')-$(basename "$f")"
    found=1
  done
  [ -n "$found" ] || die "Go module $mod has no licence file in $dir"
done
cat > "$b/licenses/README" <<NOTE
Licences of what this bundle contains besides vimconvert itself:
onnxruntime-LICENSE (lib/libonnxruntime.so.1, ONNX Runtime $ORT_VERSION, MIT; its
third-party notices: https://github.com/microsoft/onnxruntime/blob/v$ORT_VERSION/ThirdPartyNotices.txt),
go-LICENSE (the Go runtime and standard library in bin/vimconvert), one file per
Go module linked into bin/vimconvert (module path with / as _), and
libjpeg-turbo-copyright when lib/ holds a JPEG library.
NOTE
cp README.md "$b/README.md"

# Written inside the staging folder (removed on exit, an interrupt or an
# error included) and renamed into place: OUTDIR never holds a partial file.
tarball=$outdir/$name.tar.gz
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$stage" -czf "$stage/$name.tar.gz" "$name"
mv "$stage/$name.tar.gz" "$tarball"
echo "$tarball"
