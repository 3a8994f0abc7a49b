package runtime

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	goruntime "runtime"
	"runtime/debug"
	"strings"

	ort "github.com/yalue/onnxruntime_go"
	"golang.org/x/sys/cpu"
)

// EnvPluginISA is the variable the plugin reads to force a CPU kernel
// variant (ops/README.md).
const EnvPluginISA = "VIMCONVERT_CPU_ISA"

// About is what the running vimconvert is built from and what it loads:
// the facts `vimconvert version` prints beside the release number
// (graph.ProducerVersion, which package runtime does not import: graph's
// tests use runtime).
type About struct {
	// Module is the main module's version from the Go build info: the tag
	// for `go install .../cmd/vimconvert@vX.Y.Z`, a pseudo-version or
	// "(devel)" for a local build; "" when the binary has no build info.
	Module string
	// Commit is the VCS revision the binary was built from, with
	// " (modified)" when the tree had changes; "" when unknown.
	Commit string
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
	// ORTWanted is the ONNX Runtime release the Go bindings are built for.
	ORTWanted string
	// ORTLibrary is the absolute path of the loaded ONNX Runtime library and
	// ORTVersion the version it reports; both "" when ORTError is set.
	ORTLibrary string
	ORTVersion string
	ORTError   error
	// Plugin is the custom-op plugin's path; PluginError says why it could
	// not be registered in the loaded ONNX Runtime (nil: it registered).
	Plugin      string
	PluginError error
	// PluginISA is the CPU kernel variant the plugin chooses on this machine
	// ("avx512", "avx2", "generic"), derived from the CPU's features and
	// $VIMCONVERT_CPU_ISA by the plugin's documented rule: the plugin itself
	// does not report its choice.
	PluginISA string
}

// Describe gathers the About facts. It loads ONNX Runtime (Init with
// opts.LibraryPath) and registers the plugin (opts.PluginPath or
// DefaultPluginPath) in a throw-away SessionOptions to prove that both load;
// failures are recorded in ORTError / PluginError, not returned, so that the
// build facts are always available.
func Describe(opts Options) About {
	a := About{ORTWanted: ORTVersion, PluginISA: PluginISA()}
	if bi, ok := debug.ReadBuildInfo(); ok {
		a.Module = bi.Main.Version
		a.GoVersion = bi.GoVersion
		a.Commit = vcsRevision(bi)
	}
	a.Plugin = opts.PluginPath
	if a.Plugin == "" {
		a.Plugin = DefaultPluginPath()
	}
	if abs, err := filepath.Abs(a.Plugin); err == nil && a.Plugin != "" {
		a.Plugin = abs
	}
	if err := Init(opts.LibraryPath); err != nil {
		a.ORTError = err
		a.PluginError = fmt.Errorf("not tried: no ONNX Runtime loaded")
		return a
	}
	a.ORTLibrary = LoadedLibrary()
	a.ORTVersion = Version()
	a.PluginError = tryPlugin(a.Plugin)
	return a
}

// Text is the report `vimconvert version` prints for release (the
// vimconvert version): build, ONNX Runtime, plugin, one fact per line.
func (a About) Text(release string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "vimconvert %s\n", release)
	if a.Module != "" {
		fmt.Fprintf(&b, "  module    %s\n", a.Module)
	}
	if a.Commit != "" {
		fmt.Fprintf(&b, "  commit    %s\n", a.Commit)
	}
	fmt.Fprintf(&b, "  go        %s\n", a.GoVersion)
	if a.ORTError != nil {
		fmt.Fprintf(&b, "onnxruntime: not loaded (the bindings need %s): %v\n", a.ORTWanted, a.ORTError)
	} else {
		fmt.Fprintf(&b, "onnxruntime %s\n  library   %s\n", a.ORTVersion, a.ORTLibrary)
	}
	fmt.Fprintf(&b, "plugin %s\n", a.Plugin)
	if a.PluginError != nil {
		fmt.Fprintf(&b, "  not registered: %v\n", a.PluginError)
	} else {
		fmt.Fprintf(&b, "  registered in onnxruntime %s\n", a.ORTVersion)
	}
	fmt.Fprintf(&b, "  cpu isa   %s (the plugin's rule for this CPU and $%s; the plugin does not report its choice)\n",
		a.PluginISA, EnvPluginISA)
	return b.String()
}

// Report writes Text(release) to w and returns a.Err(): nil when ONNX
// Runtime loaded and the plugin registered.
func (a About) Report(w io.Writer, release string) error {
	if _, err := io.WriteString(w, a.Text(release)); err != nil {
		return err
	}
	return a.Err()
}

// Err is nil when ONNX Runtime loaded and the plugin registered, else an
// error saying which did not.
func (a About) Err() error {
	switch {
	case a.ORTError != nil:
		return fmt.Errorf("ONNX Runtime did not load: %w", a.ORTError)
	case a.PluginError != nil:
		return fmt.Errorf("the plugin did not register: %w", a.PluginError)
	}
	return nil
}

// tryPlugin registers the plugin at path in a new SessionOptions.
func tryPlugin(path string) error {
	if path == "" {
		return fmt.Errorf("%w: no path (set %s)", ErrPluginMissing, EnvPlugin)
	}
	if fi, err := os.Stat(path); err != nil || fi.IsDir() {
		return fmt.Errorf("%w at %s (set %s)", ErrPluginMissing, path, EnvPlugin)
	}
	so, err := ort.NewSessionOptions()
	if err != nil {
		return fmt.Errorf("runtime: session options: %w", err)
	}
	defer so.Destroy()
	if err := so.RegisterCustomOpsLibrary(path); err != nil {
		return fmt.Errorf("runtime: registering plugin %s: %w", path, err)
	}
	return nil
}

func vcsRevision(bi *debug.BuildInfo) string {
	rev, modified := "", false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if rev != "" && modified {
		rev += " (modified)"
	}
	return rev
}

// pluginISAs are the plugin's CPU kernel variants, best first, each with
// the CPU features it needs (ops/cpu/scan_cpu.c: vc_isas).
var pluginISAs = []struct {
	name      string
	supported func() bool
}{
	{"avx512", func() bool {
		return cpu.X86.HasAVX512F && cpu.X86.HasAVX512VL && cpu.X86.HasAVX512DQ && cpu.X86.HasAVX2 && cpu.X86.HasFMA
	}},
	{"avx2", func() bool { return cpu.X86.HasAVX2 && cpu.X86.HasFMA }},
	{"generic", func() bool { return true }},
}

// PluginISA returns the CPU kernel variant the plugin picks here: the one
// named by $VIMCONVERT_CPU_ISA when this CPU supports it, else the best the
// CPU supports (the x86 variants exist on amd64 builds only).
func PluginISA() string {
	usable := func(i int) bool {
		return pluginISAs[i].name == "generic" || (isX86 && pluginISAs[i].supported())
	}
	if want := os.Getenv(EnvPluginISA); want != "" {
		for i, v := range pluginISAs {
			if v.name == want && usable(i) {
				return v.name
			}
		}
	}
	for i, v := range pluginISAs {
		if usable(i) {
			return v.name
		}
	}
	return "generic"
}

// isX86 is true on amd64 builds, where the plugin has its AVX2 and AVX-512
// kernels.
var isX86 = goruntime.GOARCH == "amd64"
