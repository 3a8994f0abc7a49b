// Package ops holds the vimconvert ONNX Runtime custom-op plugin: C sources
// (plugin.c, common/, cpu/, cuda/) built by ops/Makefile into
// build/libvimconvert_ops.so, which registers SelectiveScanBidirectional and
// SelectiveScan in the ai.vimconvert domain (see ops/README.md).
//
// The Go package itself has no API; it exists for the tests in this folder,
// which load the plugin into ONNX Runtime and check it against the official
// scan fixtures.
package ops
