// Package ortenv points package runtime at the checkout's ONNX Runtime
// library and plugin, for the vimconvert command and the tests run in the
// checkout. Library code must not use it: a program outside the checkout
// passes runtime.Options paths or sets the documented environment variables.
package ortenv

import (
	"os"

	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
)

// UseCheckout sets runtime.EnvLibrary and runtime.EnvPlugin, each only when
// unset and only inside a checkout (found by repo.Root), to its
// third_party/onnxruntime library and build/ plugin, so that runtime's
// defaults (and processes started from this one) use them; a file not
// built yet is then reported at that path.
func UseCheckout() {
	setIfUnset(runtime.EnvLibrary, repo.Path(runtime.LibraryRelPath...))
	setIfUnset(runtime.EnvPlugin, repo.Path(runtime.PluginRelPath...))
}

// setIfUnset sets key to path when key is unset and path is not "".
func setIfUnset(key, path string) {
	if os.Getenv(key) == "" && path != "" {
		os.Setenv(key, path)
	}
}
