// Package e2e holds the end-to-end tests of vimconvert: every golden
// fixture converted to ONNX, checked by onnx.checker, run in ONNX Runtime
// with the plugin and compared with the official PyTorch outputs and the
// pure-Go reference; the C host program on an exported model; the CLI.
package e2e
