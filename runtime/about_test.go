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

// TestPluginAdvice checks that the advice about the plugin follows what
// the installation root holds: a checkout (Makefile, ops/Makefile) builds
// it with 'make plugin'; a release bundle ships it in lib/ and is never
// sent to 'make plugin' or a build/ folder it does not have (a bundle's
// binary used to print "build it with 'make plugin' in the checkout");
// anything else is told both and the variable.
func TestPluginAdvice(t *testing.T) {
	mk := func(files ...string) string {
		root := t.TempDir()
		for _, f := range files {
			p := filepath.Join(root, f)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		return root
	}
	bundle := []string{"bin/vimconvert", "lib/libonnxruntime.so.1"}
	cases := []struct {
		reason      string
		root        string
		found       bool
		want, avoid []string
		plugin      string // where DefaultPluginPath looks first, relative to root
	}{
		{"a checkout with the plugin built", mk("Makefile", "ops/Makefile", "build/libvimconvert_ops.so"), true,
			[]string{"built by 'make plugin' in the checkout"}, []string{"bundle"}, "build/libvimconvert_ops.so"},
		{"a checkout without it", mk("Makefile", "ops/Makefile"), false,
			[]string{"build it with 'make plugin' in the checkout", EnvPlugin}, []string{"bundle"}, "build/libvimconvert_ops.so"},
		{"a bundle with its plugin", mk(append(bundle, "lib/libvimconvert_ops.so")...), true,
			[]string{"shipped in the release bundle", "lib/libvimconvert_ops.so"}, []string{"make plugin", "checkout"}, "lib/libvimconvert_ops.so"},
		{"a bundle missing its plugin", mk(bundle...), false,
			[]string{"lacks its lib/libvimconvert_ops.so", "extract the bundle again", EnvPlugin}, []string{"make plugin", "checkout"}, "lib/libvimconvert_ops.so"},
		{"neither (a binary copied elsewhere)", mk("bin/vimconvert"), false,
			[]string{EnvPlugin, "lib/libvimconvert_ops.so of a release bundle", "build/libvimconvert_ops.so of a checkout after 'make plugin'"}, nil, "build/libvimconvert_ops.so"},
	}
	for _, tc := range cases {
		got := pluginAdvice(tc.root, tc.found)
		for _, w := range tc.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", tc.reason, got, w)
			}
		}
		for _, a := range tc.avoid {
			if strings.Contains(got, a) {
				t.Errorf("%s: %q says %q", tc.reason, got, a)
			}
		}
		if p, want := firstFile(tc.root, pluginCandidates(tc.root)...), filepath.Join(tc.root, tc.plugin); p != want {
			t.Errorf("%s: plugin looked for at %s, want %s", tc.reason, p, want)
		}
	}
	// The plugin's own surroundings decide first: the checkout path that
	// internal/ortenv puts into the variable is still a checkout's.
	checkout := cases[1].root
	t.Setenv(EnvPlugin, filepath.Join(checkout, "build", "libvimconvert_ops.so"))
	if got := PluginAdvice(os.Getenv(EnvPlugin), false); !strings.Contains(got, "build it with 'make plugin' in the checkout "+checkout) {
		t.Errorf("a checkout's missing plugin named by %s: %q, want 'make plugin' in that checkout", EnvPlugin, got)
	}
	bundleRoot := cases[3].root
	if got := PluginAdvice(filepath.Join(bundleRoot, "lib", "libvimconvert_ops.so"), false); !strings.Contains(got, "the release bundle "+bundleRoot+" lacks") {
		t.Errorf("a bundle's missing plugin: %q, want that bundle named", got)
	}
	t.Setenv(EnvPlugin, "/nowhere/plugin.so")
	if got := PluginAdvice("/nowhere/plugin.so", false); !strings.Contains(got, EnvPlugin+" names no plugin") {
		t.Errorf("a missing plugin that %s names: %q, want the variable blamed", EnvPlugin, got)
	}
	if got := PluginAdvice("/elsewhere/plugin.so", false); strings.Contains(got, "names no plugin") {
		t.Errorf("a path other than %s's: %q blames the variable", EnvPlugin, got)
	}
}
