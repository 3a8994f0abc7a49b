package runtime

import (
	"fmt"
	"os"
	"path/filepath"

	"github.com/vimconvert/vimconvert/ops"
)

// PluginUsage returns how a host program registers the plugin at
// pluginPath ("" means DefaultPluginPath) before it opens modelPath: the
// lines for Go, C/C++ and Python that a model using the plugin's custom
// ops (domain ops.Domain) needs. The plugin path is made absolute, and
// the text says when no file is there and where the plugin comes from
// (PluginAdvice: a checkout's 'make plugin' or a release bundle's lib/).
func PluginUsage(pluginPath, modelPath string) string {
	if pluginPath == "" {
		pluginPath = DefaultPluginPath()
	}
	if pluginPath == "" {
		pluginPath = filepath.Join("build", "libvimconvert_ops.so")
	}
	given := pluginPath // before Abs: compared with $VIMCONVERT_PLUGIN
	if abs, err := filepath.Abs(pluginPath); err == nil {
		pluginPath = abs
	}
	missing := ""
	_, err := os.Stat(pluginPath)
	if err != nil {
		missing = " (not found)"
	}
	return fmt.Sprintf(`The model uses custom ops of domain %s (selective scan); register the
plugin %s%s before creating a session
(%s):
  Go:          opts, _ := ort.NewSessionOptions(); opts.RegisterCustomOpsLibrary(%q)
               (github.com/yalue/onnxruntime_go), or runtime.NewSession from this module
  C/C++:       api->RegisterCustomOpsLibrary_V2(session_options, "%s");
               (C++: session_options.RegisterCustomOpsLibrary("%s"))
  Python:      so = onnxruntime.SessionOptions(); so.register_custom_ops_library(%q)
               onnxruntime.InferenceSession(%q, so)
`, ops.Domain, pluginPath, missing, PluginAdvice(given, err == nil), pluginPath, pluginPath, pluginPath, pluginPath, modelPath)
}
