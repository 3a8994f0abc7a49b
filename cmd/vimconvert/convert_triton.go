package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vimconvert/vimconvert/graph/triton"
	"github.com/vimconvert/vimconvert/runtime"
)

// tritonFlags are convert's Triton model repository flags.
type tritonFlags struct {
	repo      string
	name      string
	maxBatch  int
	instances string
	count     int
	server    string
}

func addTritonFlags(fs *flag.FlagSet) *tritonFlags {
	f := &tritonFlags{}
	fs.StringVar(&f.repo, "triton-repo", "", "also write a Triton model repository entry DIR/NAME (config.pbtxt, 1/model.onnx, the plugin)")
	fs.StringVar(&f.name, "name", "", "with --triton-repo: the model's name (default: the -o file name without .onnx)")
	fs.IntVar(&f.maxBatch, "max-batch", 8, "with --triton-repo: max_batch_size (0 = no batching by Triton; > 0 enables dynamic batching)")
	fs.StringVar(&f.instances, "instances", "cpu", "with --triton-repo: where instances run, cpu or gpu")
	fs.IntVar(&f.count, "instance-count", 1, "with --triton-repo: number of instances")
	fs.StringVar(&f.server, "triton-server-repo", triton.DefaultServerRepo, "with --triton-repo: the repository's absolute path inside the server, where the config points for the plugin")
	return f
}

// tritonOnly are the flags that mean something only with --triton-repo.
var tritonOnly = []string{"name", "max-batch", "instances", "instance-count", "triton-server-repo"}

// prepare checks the Triton flags before anything is converted and returns
// the options of the entry to write, nil without --triton-repo. usesPlugin
// says whether the model will import the plugin's domain.
func (f *tritonFlags) prepare(fs *flag.FlagSet, output string, usesPlugin bool) (*triton.Options, error) {
	if f.repo == "" {
		var stray []string
		fs.Visit(func(fl *flag.Flag) {
			if slices.Contains(tritonOnly, fl.Name) {
				stray = append(stray, "--"+fl.Name)
			}
		})
		if len(stray) > 0 {
			return nil, fmt.Errorf("%s: only with --triton-repo", strings.Join(stray, ", "))
		}
		return nil, nil
	}
	o, err := f.options(output)
	if err != nil {
		return nil, err
	}
	if usesPlugin {
		if err := f.requirePlugin(); err != nil {
			return nil, err
		}
	}
	return &o, nil
}

// options turns the flags into triton.Options for the model written to
// output; it refuses bad values before anything is converted.
func (f *tritonFlags) options(output string) (triton.Options, error) {
	kind, err := triton.ParseInstanceKind(f.instances)
	if err != nil {
		return triton.Options{}, fmt.Errorf("--instances: %w", err)
	}
	name := f.name
	if name == "" {
		name = strings.TrimSuffix(filepath.Base(output), ".onnx")
	}
	if f.count < 1 {
		return triton.Options{}, fmt.Errorf("--instance-count %d: want at least 1", f.count)
	}
	if f.server == "" {
		f.server = triton.DefaultServerRepo
	}
	o := triton.Options{Name: name, MaxBatch: f.maxBatch, Instances: kind, InstanceCount: f.count, ServerRepo: f.server}
	if err := triton.CheckTarget(f.repo, o); err != nil {
		return triton.Options{}, err
	}
	return o, nil
}

// requirePlugin refuses, before converting, a repository for a plugin model
// when the plugin to copy into it does not exist.
func (f *tritonFlags) requirePlugin() error {
	p := runtime.DefaultPluginPath()
	if fi, err := os.Stat(p); err != nil || fi.IsDir() {
		return fmt.Errorf("--triton-repo: the plugin %q to copy into the repository does not exist (run `make plugin` or set %s)", p, runtime.EnvPlugin)
	}
	return nil
}

// writeTriton writes the repository entry of the converted model at output
// and says where the plugin went and how to serve it.
func writeTriton(w io.Writer, f *tritonFlags, o triton.Options, output string) error {
	r, err := triton.WriteRepository(f.repo, output, runtime.DefaultPluginPath(), o)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\nTriton model repository entry %s:\n  %s\n  %s\n", r.ModelDir, r.ConfigPath, r.ModelPath)
	if r.PluginPath != "" {
		fmt.Fprintf(w, "  %s (config: op_library_filename %q, valid when %s is mounted at %s)\n",
			r.PluginPath, r.PluginServerPath, f.repo, o.ServerRepo)
	}
	fmt.Fprintf(w, "Serve it with Triton's container, e.g. (README: Serving with Triton):\n  docker run --rm -p8000:8000 -p8001:8001 -p8002:8002 -v %s:%s nvcr.io/nvidia/tritonserver:<yy.mm>-py3 tritonserver --model-repository=%s\n",
		absPath(f.repo), o.ServerRepo, o.ServerRepo)
	return nil
}

func absPath(p string) string {
	if a, err := filepath.Abs(p); err == nil {
		return a
	}
	return p
}
