package runtime

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/vimconvert/vimconvert/graph/onnxfile"
)

// ORTVersion is the ONNX Runtime release the bindings are built for
// (onnxruntime_go v1.36.0 asks for C API 29). `make setup` fetches it.
const ORTVersion = "1.29.0"

// Environment variables that override the default file locations.
const (
	EnvLibrary = "ONNXRUNTIME_SHARED_LIBRARY_PATH" // path of libonnxruntime.so.1
	EnvPlugin  = "VIMCONVERT_PLUGIN"               // path of libvimconvert_ops.so
	// EnvDisableTelemetry, when unset, is set to "1" by Init before ONNX
	// Runtime's environment is created: without it ORT leaves $TMPDIR/.ses
	// and an empty mat-debug-PID.log per process. Set it to "0" to keep
	// ORT's default.
	EnvDisableTelemetry = "ORT_DISABLE_TELEMETRY"
)

// Errors callers can branch on with errors.Is.
var (
	// ErrLibraryMissing: the ONNX Runtime shared library does not exist.
	ErrLibraryMissing = errors.New("ONNX Runtime library not found")
	// ErrPluginMissing: the vimconvert custom-op plugin does not exist.
	ErrPluginMissing = errors.New("vimconvert plugin not found")
	// ErrModelMissing: the .onnx file does not exist (the same error as
	// onnxfile.ErrModelMissing, whose reader runtime uses).
	ErrModelMissing = onnxfile.ErrModelMissing
	// ErrOtherLibrary: Init was asked for a different library than the one
	// already loaded in this process (ONNX Runtime cannot be loaded twice).
	ErrOtherLibrary = errors.New("a different ONNX Runtime library is already loaded")
)

// Options configures a Session. The zero value uses DefaultLibraryPath,
// DefaultPluginPath and ONNX Runtime's default thread counts.
type Options struct {
	// LibraryPath is the libonnxruntime.so.1 to load; "" = DefaultLibraryPath().
	// Only one library can be loaded per process (see Init).
	LibraryPath string
	// PluginPath is the custom-op plugin to register; "" = DefaultPluginPath().
	// Set NoPlugin to run a model without custom ops.
	PluginPath string
	// NoPlugin skips registering the plugin (for models without custom ops).
	NoPlugin bool
	// IntraOpThreads and InterOpThreads set ORT's thread pools; 0 = ORT default.
	IntraOpThreads int
	InterOpThreads int
}

// LibraryRelPath is where the ONNX Runtime library lies relative to an
// installation root (a vimconvert checkout after `make setup`).
var LibraryRelPath = []string{"third_party", "onnxruntime", ORTVersion, "libonnxruntime.so.1"}

// PluginRelPath is where the plugin lies relative to an installation root
// (a vimconvert checkout after `make plugin`).
var PluginRelPath = []string{"build", "libvimconvert_ops.so"}

// DefaultLibraryPath returns $ONNXRUNTIME_SHARED_LIBRARY_PATH when set, else
// the first that exists of LibraryRelPath (a checkout, bin/../third_party/...)
// and BundleLibraryRelPath (a release bundle, bin/../lib/) under the
// executable's parent directory (ExeRelativeFile), else the checkout path.
// The returned file may not exist; Init reports that clearly. A program
// elsewhere sets the variable or Options.LibraryPath.
func DefaultLibraryPath() string {
	if p := os.Getenv(EnvLibrary); p != "" {
		return p
	}
	return ExeRelativeFile(LibraryRelPath, BundleLibraryRelPath)
}

// DefaultPluginPath returns $VIMCONVERT_PLUGIN when set, else the first that
// exists of PluginRelPath and BundlePluginRelPath under the executable's
// parent directory, else the checkout path (the bundle path in a release
// bundle). The returned file may not exist; NewSession reports it, with
// PluginAdvice. A program elsewhere sets the variable or
// Options.PluginPath.
func DefaultPluginPath() string {
	if p := os.Getenv(EnvPlugin); p != "" {
		return p
	}
	root := exeRoot()
	return firstFile(root, pluginCandidates(root)...)
}

var (
	initMu     sync.Mutex
	loadedPath string // absolute path of the library loaded by Init
)

// Init loads the ONNX Runtime shared library at libPath ("" =
// DefaultLibraryPath()) and creates the process-wide ORT environment. It is
// idempotent: calling it again with the same library (or "") is a no-op.
// Asking for a different library once one is loaded returns ErrOtherLibrary.
// The environment lives until the process exits.
func Init(libPath string) error {
	initMu.Lock()
	defer initMu.Unlock()
	if libPath == "" {
		if loadedPath != "" {
			return nil
		}
		libPath = DefaultLibraryPath()
	}
	if libPath == "" {
		return fmt.Errorf("%w: no path (set %s or run `make setup` in the checkout)", ErrLibraryMissing, EnvLibrary)
	}
	abs, err := filepath.Abs(libPath)
	if err != nil {
		return fmt.Errorf("runtime: library path %q: %w", libPath, err)
	}
	if real, err := filepath.EvalSymlinks(abs); err == nil {
		abs = real
	}
	if _, err := os.Stat(abs); err != nil {
		return fmt.Errorf("%w at %s (run `make setup` to fetch ONNX Runtime %s, or set %s): %w",
			ErrLibraryMissing, abs, ORTVersion, EnvLibrary, err)
	}
	if loadedPath != "" {
		if abs == loadedPath {
			return nil
		}
		return fmt.Errorf("%w: loaded %s, asked for %s", ErrOtherLibrary, loadedPath, abs)
	}
	// ORT's telemetry client, started with the environment, writes
	// $TMPDIR/.ses and mat-debug-PID.log; this variable, read when the
	// environment is created, turns it off. A user's own setting wins.
	if _, set := os.LookupEnv(EnvDisableTelemetry); !set {
		os.Setenv(EnvDisableTelemetry, "1")
	}
	ort.SetSharedLibraryPath(abs)
	if err := ort.InitializeEnvironment(ort.WithLogLevelError()); err != nil {
		msg := err.Error()
		if strings.Contains(msg, "ORT API base: 2") {
			return fmt.Errorf("runtime: %s is too old: the Go bindings need ONNX Runtime %s (C API 29): %w", abs, ORTVersion, err)
		}
		return fmt.Errorf("runtime: initialising ONNX Runtime from %s: %w", abs, err)
	}
	loadedPath = abs
	return nil
}

// LoadedLibrary returns the absolute path of the library Init loaded, or "".
func LoadedLibrary() string {
	initMu.Lock()
	defer initMu.Unlock()
	return loadedPath
}

// Version returns the loaded ONNX Runtime's version string ("" before Init):
// the one the library itself reports (OrtGetApiBase()->GetVersionString),
// which differs from ORTVersion when another release is loaded.
func Version() string {
	if LoadedLibrary() == "" {
		return ""
	}
	return ort.GetVersion()
}

// LoadVersion returns the version of the ONNX Runtime library this process
// uses, loading DefaultLibraryPath first (Init("")) when none is loaded:
// the library that child processes started with the same environment
// (bench workers) load too.
func LoadVersion() (string, error) {
	if err := Init(""); err != nil {
		return "", err
	}
	return Version(), nil
}
