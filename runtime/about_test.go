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

func TestExeRelativeFile(t *testing.T) {
	exe, err := os.Executable()
	if err != nil {
		t.Skip("executable path unknown:", err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	root := filepath.Dir(filepath.Dir(exe))
	dir, err := os.MkdirTemp(root, "exerel-")
	if err != nil {
		t.Skipf("cannot write beside the test binary: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	name := filepath.Base(dir)
	if err := os.WriteFile(filepath.Join(dir, "second"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	os.Mkdir(filepath.Join(dir, "adir"), 0o755)
	tests := []struct {
		reason     string
		candidates [][]string
		want       string
	}{
		{"the first existing candidate wins", [][]string{{name, "first"}, {name, "second"}}, filepath.Join(dir, "second")},
		{"a directory is no candidate file", [][]string{{name, "adir"}, {name, "second"}}, filepath.Join(dir, "second")},
		{"none exists: the first, for the error message", [][]string{{name, "first"}, {name, "third"}}, filepath.Join(dir, "first")},
		{"no candidates", nil, ""},
	}
	for _, tc := range tests {
		if got := ExeRelativeFile(tc.candidates...); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.reason, got, tc.want)
		}
	}
	if InBundle() {
		t.Error("the test binary is not in a bundle")
	}
}

// An executable whose parent directory holds lib/ with ONNX Runtime and the
// plugin (a release bundle) gets them by default and counts as in a bundle.
func TestDefaultPathsInBundle(t *testing.T) {
	t.Setenv(EnvLibrary, "")
	t.Setenv(EnvPlugin, "")
	exe, err := os.Executable()
	if err != nil {
		t.Skip(err)
	}
	if real, err := filepath.EvalSymlinks(exe); err == nil {
		exe = real
	}
	lib := filepath.Join(filepath.Dir(filepath.Dir(exe)), "lib")
	if _, err := os.Stat(lib); err == nil {
		t.Skipf("%s exists already: not touching it", lib)
	}
	if err := os.Mkdir(lib, 0o755); err != nil {
		t.Skipf("cannot write beside the test binary: %v", err)
	}
	t.Cleanup(func() { os.RemoveAll(lib) })
	if InBundle() {
		t.Error("InBundle with an empty lib/")
	}
	for _, name := range []string{"libonnxruntime.so.1", "libvimconvert_ops.so"} {
		if err := os.WriteFile(filepath.Join(lib, name), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if !InBundle() {
		t.Error("not InBundle with lib/libonnxruntime.so.1 beside bin/")
	}
	if got := DefaultLibraryPath(); got != filepath.Join(lib, "libonnxruntime.so.1") {
		t.Errorf("DefaultLibraryPath in a bundle = %q", got)
	}
	if got := DefaultPluginPath(); got != filepath.Join(lib, "libvimconvert_ops.so") {
		t.Errorf("DefaultPluginPath in a bundle = %q", got)
	}
}
