package runtime

import (
	"os"
	"path/filepath"
)

// Where a release bundle (scripts/make-dist.sh) keeps its files, relative
// to its root: bin/vimconvert, lib/ with the ONNX Runtime library, the
// plugin and the libraries the binary links, share/vimconvert/ with data
// files, licenses/.
var (
	// BundleLibraryRelPath is the ONNX Runtime library in a bundle.
	BundleLibraryRelPath = []string{"lib", "libonnxruntime.so.1"}
	// BundlePluginRelPath is the plugin in a bundle.
	BundlePluginRelPath = []string{"lib", "libvimconvert_ops.so"}
)

// ExeRelativeFile looks for files relative to the installation root, the
// parent of the running executable's directory (symlinks resolved): for
// bin/vimconvert in a bundle or in a checkout, the bundle or the checkout.
// It returns the first candidate that exists as a regular file, else the
// first candidate (for an error message naming where it was looked for),
// or "" when the executable's path is unknown or no candidate is given.
// This is the one place that knows executable-relative lookup.
func ExeRelativeFile(candidates ...[]string) string {
	return firstFile(exeRoot(), candidates...)
}

// InBundle reports whether the running executable sits in a release bundle
// (its root holds BundleLibraryRelPath), whose files then take precedence
// over any checkout the working directory lies in.
func InBundle() bool {
	return isBundle(exeRoot())
}

// exeRoot is the parent of the running executable's directory, "" when
// the executable's path is unknown.
func exeRoot() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	return filepath.Dir(filepath.Dir(exe))
}

// firstFile is ExeRelativeFile under root.
func firstFile(root string, candidates ...[]string) string {
	if root == "" || len(candidates) == 0 {
		return ""
	}
	paths := make([]string, len(candidates))
	for i, rel := range candidates {
		paths[i] = filepath.Join(append([]string{root}, rel...)...)
		if fi, err := os.Stat(paths[i]); err == nil && fi.Mode().IsRegular() {
			return paths[i]
		}
	}
	return paths[0]
}

// isBundle is InBundle for the installation root root.
func isBundle(root string) bool {
	if root == "" {
		return false
	}
	fi, err := os.Stat(filepath.Join(append([]string{root}, BundleLibraryRelPath...)...))
	return err == nil && fi.Mode().IsRegular()
}
