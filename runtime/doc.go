// Package runtime runs exported vimconvert ONNX models in ONNX Runtime
// (through github.com/yalue/onnxruntime_go) with the vimconvert custom-op
// plugin registered.
//
// The library and the plugin come from Options (LibraryPath, PluginPath) or
// the environment variables EnvLibrary and EnvPlugin, else from beside the
// executable (bin/../). The package does not look for a source checkout:
// that is the vimconvert command's business (internal/ortenv). It runs
// models; it does not build or compare them.
package runtime
