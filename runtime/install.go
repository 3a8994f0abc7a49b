package runtime

import (
	"fmt"
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

// isCheckout reports whether root is a vimconvert checkout that can build
// the plugin: its Makefile and the plugin's sources (ops/Makefile).
func isCheckout(root string) bool {
	for _, rel := range [][]string{{"Makefile"}, {"ops", "Makefile"}} {
		fi, err := os.Stat(filepath.Join(append([]string{root}, rel...)...))
		if root == "" || err != nil || !fi.Mode().IsRegular() {
			return false
		}
	}
	return true
}

// pluginCandidates is where DefaultPluginPath looks under root, in order:
// a checkout's build/ first, except in a release bundle that is no
// checkout, whose lib/ comes first (so that a bundle missing its plugin
// is told so, not sent to a build/ folder it never had).
func pluginCandidates(root string) [][]string {
	if isBundle(root) && !isCheckout(root) {
		return [][]string{BundlePluginRelPath, PluginRelPath}
	}
	return [][]string{PluginRelPath, BundlePluginRelPath}
}

// pluginAdvice says where the plugin comes from for the installation at
// root (the executable's parent folder), decided by what exists there: a
// checkout builds it with 'make plugin', a release bundle ships it in
// lib/, anything else is pointed at both and at EnvPlugin. found says
// whether the plugin file is there.
func pluginAdvice(root string, found bool) string {
	bundled := filepath.Join(BundlePluginRelPath...)
	switch {
	case isCheckout(root) && found:
		return fmt.Sprintf("built by 'make plugin' in the checkout %s; %s overrides the path", root, EnvPlugin)
	case isCheckout(root):
		return fmt.Sprintf("build it with 'make plugin' in the checkout %s, or set %s", root, EnvPlugin)
	case isBundle(root) && found:
		return fmt.Sprintf("shipped in the release bundle %s as %s; %s overrides the path", root, bundled, EnvPlugin)
	case isBundle(root):
		return fmt.Sprintf("the release bundle %s lacks its %s: extract the bundle again (or copy the plugin there from one), or set %s", root, bundled, EnvPlugin)
	}
	return fmt.Sprintf("set %s to it: %s of a release bundle, or %s of a checkout after 'make plugin'", EnvPlugin, bundled, filepath.Join(PluginRelPath...))
}

// PluginAdvice says, for a message about the plugin file plugin (found:
// whether it exists), where the plugin comes from, decided by what exists
// around it: a checkout's build/ plugin is built with 'make plugin' there,
// a release bundle's lib/ plugin ships with the bundle; another path that
// $VIMCONVERT_PLUGIN names is the variable's; otherwise the running
// executable's installation (checkout, bundle, or neither) decides.
func PluginAdvice(plugin string, found bool) string {
	if abs, err := filepath.Abs(plugin); plugin != "" && err == nil {
		root := filepath.Dir(filepath.Dir(abs))
		if abs == filepath.Join(append([]string{root}, PluginRelPath...)...) && isCheckout(root) ||
			abs == filepath.Join(append([]string{root}, BundlePluginRelPath...)...) && isBundle(root) {
			return pluginAdvice(root, found)
		}
	}
	if p := os.Getenv(EnvPlugin); p != "" && p == plugin {
		if found {
			return fmt.Sprintf("the path %s names", EnvPlugin)
		}
		return fmt.Sprintf("%s names no plugin: correct it, or unset it to use the installation's", EnvPlugin)
	}
	return pluginAdvice(exeRoot(), found)
}
