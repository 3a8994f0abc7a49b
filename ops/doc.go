// Package ops holds the vimconvert ONNX Runtime custom-op plugin: C sources
// (plugin.c, common/, cpu/, cuda/) built by ops/Makefile into
// build/libvimconvert_ops.so, which registers SelectiveScanBidirectional and
// SelectiveScan in the ai.vimconvert domain (see ops/README.md).
//
// The Go package itself has no API beyond TestedRuntimes; it exists for the
// tests in this folder, which load the plugin into ONNX Runtime and check it
// against the official scan fixtures.
package ops

// TestedRuntimes lists the ONNX Runtime versions (CPU builds of the npm
// package onnxruntime-node, fetched by scripts/fetch-onnxruntime.sh) the
// C-host compatibility tests run the plugin and exported models in. `make
// setup` fetches every one (Makefile ORT_VERSION and ORT_COMPAT_VERSIONS;
// TestMakefileFetchesTestedRuntimes keeps the two lists in step). 1.24.3 is
// the oldest kept: it predates com.microsoft.LinearAttention (ORT 1.25).
var TestedRuntimes = []string{"1.29.0", "1.24.3", "1.30.0", "1.31.1"}
