package runtime

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/cpu"
)

func TestDescribe(t *testing.T) {
	requireORT(t)
	plugin := DefaultPluginPath()
	if _, err := os.Stat(plugin); err != nil {
		t.Skipf("plugin not built (%s): run `make plugin`", plugin)
	}
	a := Describe(Options{})
	if a.ORTError != nil || a.PluginError != nil {
		t.Fatalf("Describe: ORT error %v, plugin error %v", a.ORTError, a.PluginError)
	}
	if a.ORTVersion != ORTVersion {
		t.Errorf("ORTVersion %q, want the loaded %s", a.ORTVersion, ORTVersion)
	}
	if a.ORTLibrary != LoadedLibrary() || !filepath.IsAbs(a.Plugin) {
		t.Errorf("paths: library %q (loaded %q), plugin %q (want absolute)", a.ORTLibrary, LoadedLibrary(), a.Plugin)
	}
	if a.GoVersion == "" || a.ORTWanted != ORTVersion {
		t.Errorf("build facts missing: %+v", a)
	}

	var text strings.Builder
	if err := a.Report(&text, "9.9.9"); err != nil || !strings.HasPrefix(text.String(), "vimconvert 9.9.9\n") ||
		!strings.Contains(text.String(), "onnxruntime "+ORTVersion+"\n  library   "+a.ORTLibrary) {
		t.Errorf("Report: %v\n%s", err, text.String())
	}
	missing := Describe(Options{PluginPath: filepath.Join(t.TempDir(), "none.so")})
	if !errors.Is(missing.PluginError, ErrPluginMissing) {
		t.Errorf("missing plugin: PluginError %v, want ErrPluginMissing", missing.PluginError)
	}
	text.Reset()
	if err := missing.Report(&text, "x"); !errors.Is(err, ErrPluginMissing) || !strings.Contains(text.String(), "not registered") {
		t.Errorf("missing plugin: Report = %v\n%s", err, text.String())
	}
	notPlugin := filepath.Join(t.TempDir(), "libnot.so")
	os.WriteFile(notPlugin, []byte("not an ELF file"), 0o755)
	if bad := Describe(Options{PluginPath: notPlugin}); bad.PluginError == nil {
		t.Error("a file that is no shared library registered as the plugin")
	}
}

func TestPluginISA(t *testing.T) {
	best := "generic"
	if isX86 && cpu.X86.HasAVX2 && cpu.X86.HasFMA {
		best = "avx2"
		if cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ {
			best = "avx512"
		}
	}
	tests := []struct {
		reason string
		env    string
		want   string
	}{
		{"no override: the best variant of this CPU", "", best},
		{"generic can always be forced", "generic", "generic"},
		{"an unknown name falls back to the best", "sse9", best},
		{"forcing the best is the best", best, best},
	}
	for _, tc := range tests {
		t.Setenv(EnvPluginISA, tc.env)
		if got := PluginISA(); got != tc.want {
			t.Errorf("%s: %s=%q gives %q, want %q", tc.reason, EnvPluginISA, tc.env, got, tc.want)
		}
	}
}

// The lookup is tested under a temporary root: files beside the test binary
// would be seen by the other packages' tests running from the same $WORK.
func TestExeRelativeFile(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "lib", "adir"), 0o755)
	os.WriteFile(filepath.Join(root, "lib", "second"), nil, 0o644)
	tests := []struct {
		reason     string
		root       string
		candidates [][]string
		want       string
	}{
		{"the first existing candidate wins", root, [][]string{{"lib", "first"}, {"lib", "second"}}, filepath.Join(root, "lib", "second")},
		{"a directory is no candidate file", root, [][]string{{"lib", "adir"}, {"lib", "second"}}, filepath.Join(root, "lib", "second")},
		{"none exists: the first, for the error message", root, [][]string{{"lib", "first"}, {"lib", "third"}}, filepath.Join(root, "lib", "first")},
		{"no candidates", root, nil, ""},
		{"executable unknown", "", [][]string{{"lib", "second"}}, ""},
	}
	for _, tc := range tests {
		if got := firstFile(tc.root, tc.candidates...); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.reason, got, tc.want)
		}
	}
	if got, want := ExeRelativeFile([]string{"x"}), filepath.Join(exeRoot(), "x"); got != want {
		t.Errorf("ExeRelativeFile = %q, want %q under the executable's parent directory", got, want)
	}
}

// A root whose lib/ holds ONNX Runtime (a release bundle) is a bundle, and
// the default lookup order finds its library and plugin.
func TestBundleLayout(t *testing.T) {
	root := t.TempDir()
	lib := filepath.Join(root, "lib")
	os.Mkdir(lib, 0o755)
	if isBundle(root) {
		t.Error("a root with an empty lib/ counts as a bundle")
	}
	for _, name := range []string{"libonnxruntime.so.1", "libvimconvert_ops.so"} {
		if err := os.WriteFile(filepath.Join(lib, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !isBundle(root) {
		t.Error("a root with lib/libonnxruntime.so.1 is not a bundle")
	}
	// The order DefaultLibraryPath and DefaultPluginPath use.
	if got := firstFile(root, LibraryRelPath, BundleLibraryRelPath); got != filepath.Join(lib, "libonnxruntime.so.1") {
		t.Errorf("library in a bundle = %q", got)
	}
	if got := firstFile(root, PluginRelPath, BundlePluginRelPath); got != filepath.Join(lib, "libvimconvert_ops.so") {
		t.Errorf("plugin in a bundle = %q", got)
	}
	if InBundle() {
		t.Error("the test binary is not in a bundle")
	}
}
