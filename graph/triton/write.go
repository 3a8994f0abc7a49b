package triton

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"golang.org/x/sys/unix"

	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/triton/third_party/tritonpb"
	"github.com/vimconvert/vimconvert/internal/cleanup"
)

// Repository is the model entry WriteRepository wrote.
type Repository struct {
	// ModelDir is DIR/NAME; ConfigPath, ModelPath and PluginPath are the
	// files in it (PluginPath "" when the model needs no plugin).
	ModelDir   string
	ConfigPath string
	ModelPath  string
	PluginPath string
	// PluginServerPath is the op_library_filename in the config ("" when
	// the model needs no plugin).
	PluginServerPath string
	// Config is the configuration written to ConfigPath.
	Config *tritonpb.ModelConfig
}

// Summary tells, in a few lines, what was written, where the config points
// for the plugin and how to serve the repository dir (the folder holding
// ModelDir) with Triton's container, mounted at serverRepo ("" = /models).
func (r *Repository) Summary(serverRepo string) string {
	if serverRepo == "" {
		serverRepo = DefaultServerRepo
	}
	dir := filepath.Dir(r.ModelDir)
	if abs, err := filepath.Abs(dir); err == nil {
		dir = abs
	}
	s := fmt.Sprintf("Triton model repository entry %s:\n  %s\n  %s\n", r.ModelDir, r.ConfigPath, r.ModelPath)
	if r.PluginPath != "" {
		s += fmt.Sprintf("  %s (config: op_library_filename %q, valid with %s mounted at %s)\n",
			r.PluginPath, r.PluginServerPath, dir, serverRepo)
	}
	return s + fmt.Sprintf("Serve it with Triton's container (README: Serving with Triton), e.g.\n"+
		"  docker run --rm -p8000:8000 -p8001:8001 -p8002:8002 -v %s:%s nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=%s\n",
		dir, serverRepo, serverRepo)
}

// ErrExists is returned (wrapped) when DIR/NAME already exists: the writer
// never mixes a new model with an old entry's files.
var ErrExists = errors.New("triton: model directory already exists")

// CheckTarget reports, before anything is converted, whether an entry with
// options o for the model to be written at modelPath (ONNX opset opset, 0 =
// the default) can be written to the repository dir: the options are
// valid, the opset is one ONNX Runtime runs (CheckOpset), DIR/NAME does not
// exist yet, DIR (or, when missing, its nearest existing ancestor) is
// writable and, when usesPlugin (the model will import the plugin's
// domain), the plugin to copy from pluginPath is a file.
func CheckTarget(dir, modelPath string, o Options, opset int, usesPlugin bool, pluginPath string) error {
	o = o.named(modelPath)
	if _, err := o.validate(); err != nil {
		return err
	}
	if err := CheckOpset(int64(opset)); err != nil {
		return err
	}
	if usesPlugin {
		if fi, err := os.Stat(pluginPath); err != nil || fi.IsDir() {
			return fmt.Errorf("triton: the plugin %s to copy into the repository is not a file (run `make plugin`)", pluginPath)
		}
	}
	if dir == "" {
		return fmt.Errorf("triton: no repository directory")
	}
	final := filepath.Join(dir, o.Name)
	if _, err := os.Lstat(final); err == nil {
		return fmt.Errorf("%w: %s (remove it or pick another name)", ErrExists, final)
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return fmt.Errorf("triton: repository %s is not a directory", dir)
	}
	// The entry is assembled in dir (created when missing, so its nearest
	// existing ancestor must take it): refuse a read-only one now, before
	// the model is converted and written.
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			if err := unix.Access(d, unix.W_OK|unix.X_OK); err != nil {
				return fmt.Errorf("triton: repository %s: %s is not writable: %w", dir, d, err)
			}
			break
		}
		if filepath.Dir(d) == d {
			break
		}
	}
	return nil
}

// WriteRepository writes the entry o.Name of the model repository dir (created
// when missing): config.pbtxt, 1/model.onnx (a copy of the ONNX file at
// modelPath) and, when the model imports the plugin's domain, a copy of the
// plugin at pluginPath beside config.pbtxt. The entry is assembled in a
// temporary folder inside dir and renamed into place, so an error leaves no
// partial entry behind. That folder (dir/.vimconvert-triton-PID-RAND,
// hidden from a server polling the repository) is registered with
// internal/cleanup: an interrupt (cleanup.Notify) removes
// it, and what a SIGKILL strands is removed by the next write into dir.
func WriteRepository(dir, modelPath, pluginPath string, o Options) (*Repository, error) {
	o = o.named(modelPath)
	mp, err := onnxfile.ReadFile(modelPath)
	if err != nil {
		return nil, fmt.Errorf("triton: %w", err)
	}
	cfg, err := Config(mp, o)
	if err != nil {
		return nil, err
	}
	text, err := MarshalConfig(cfg)
	if err != nil {
		return nil, err
	}
	usesPlugin := cfg.GetModelOperations() != nil
	if err := CheckTarget(dir, modelPath, o, 0, usesPlugin, pluginPath); err != nil {
		return nil, err
	}
	final := filepath.Join(dir, o.Name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("triton: repository %s: %w", dir, err)
	}
	tmp, err := cleanup.MkdirHiddenTemp(dir, "triton")
	if err != nil {
		return nil, fmt.Errorf("triton: repository %s: %w", dir, err)
	}
	done := false
	defer func() {
		if !done {
			cleanup.Remove(tmp)
		}
	}()
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, fmt.Errorf("triton: %w", err)
	}
	if err := fillEntry(tmp, text, modelPath, pluginPath, usesPlugin); err != nil {
		return nil, err
	}
	if err := cleanup.Rename(tmp, final); err != nil {
		return nil, fmt.Errorf("triton: moving the entry into place: %w", err)
	}
	done = true
	r := &Repository{
		ModelDir:   final,
		ConfigPath: filepath.Join(final, ConfigFile),
		ModelPath:  filepath.Join(final, VersionDir, ModelFile),
		Config:     cfg,
	}
	if usesPlugin {
		r.PluginPath = filepath.Join(final, PluginFile)
		r.PluginServerPath = cfg.GetModelOperations().GetOpLibraryFilename()[0]
	}
	return r, nil
}

// fillEntry writes the entry's files into the (temporary) model directory md.
func fillEntry(md string, config []byte, modelPath, pluginPath string, usesPlugin bool) error {
	if err := os.WriteFile(filepath.Join(md, ConfigFile), config, 0o644); err != nil {
		return fmt.Errorf("triton: writing %s: %w", ConfigFile, err)
	}
	if err := os.Mkdir(filepath.Join(md, VersionDir), 0o755); err != nil {
		return fmt.Errorf("triton: %w", err)
	}
	if err := copyFile(modelPath, filepath.Join(md, VersionDir, ModelFile), 0o644); err != nil {
		return fmt.Errorf("triton: writing %s: %w", ModelFile, err)
	}
	if usesPlugin {
		if err := copyFile(pluginPath, filepath.Join(md, PluginFile), 0o755); err != nil {
			return fmt.Errorf("triton: copying the plugin: %w", err)
		}
	}
	return nil
}

func copyFile(src, dst string, mode os.FileMode) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY|os.O_CREATE|os.O_EXCL, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
