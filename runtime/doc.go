// Package runtime runs exported vimconvert ONNX models in ONNX Runtime
// (through github.com/yalue/onnxruntime_go) with the vimconvert custom-op
// plugin registered.
package runtime
