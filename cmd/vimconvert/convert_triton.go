package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/vimconvert/vimconvert/graph/triton"
	"github.com/vimconvert/vimconvert/runtime"
)

// tritonFlags are convert's Triton model repository flags.
type tritonFlags struct {
	repo string
	opts triton.Options
}

// tritonOnly are the flags that mean something only with --triton-repo.
var tritonOnly = []string{"name", "max-batch", "instances", "instance-count", "triton-server-repo"}

func addTritonFlags(fs *flag.FlagSet) *tritonFlags {
	f := &tritonFlags{}
	fs.StringVar(&f.repo, "triton-repo", "", "also write a Triton model repository entry DIR/NAME (config.pbtxt, 1/model.onnx, the plugin)")
	fs.StringVar(&f.opts.Name, "name", "", "with --triton-repo: the model's name (default: the -o file name without .onnx)")
	fs.IntVar(&f.opts.MaxBatch, "max-batch", 8, "with --triton-repo: max_batch_size (0: no batching by Triton; > 0: dynamic batching)")
	fs.Var(&f.opts.Instances, "instances", "with --triton-repo: where instances run, cpu or gpu")
	fs.IntVar(&f.opts.InstanceCount, "instance-count", 1, "with --triton-repo: number of instances")
	fs.StringVar(&f.opts.ServerRepo, "triton-server-repo", triton.DefaultServerRepo, "with --triton-repo: the repository's absolute path inside the server (the config names the plugin under it)")
	return f
}

// prepare refuses bad Triton flags, an existing entry and a missing plugin
// before anything is converted; it reports whether an entry is to be written.
func (f *tritonFlags) prepare(fs *flag.FlagSet, output string, usesPlugin bool) (bool, error) {
	if f.repo == "" {
		var stray []string
		fs.Visit(func(fl *flag.Flag) {
			if slices.Contains(tritonOnly, fl.Name) {
				stray = append(stray, "--"+fl.Name)
			}
		})
		if len(stray) > 0 {
			return false, fmt.Errorf("%s: only with --triton-repo", strings.Join(stray, ", "))
		}
		return false, nil
	}
	if f.opts.Name == "" {
		f.opts.Name = triton.NameFromModelPath(output)
	}
	if f.opts.InstanceCount < 1 {
		return false, fmt.Errorf("--instance-count %d: want at least 1", f.opts.InstanceCount)
	}
	if err := triton.CheckTarget(f.repo, f.opts); err != nil {
		return false, err
	}
	if p := runtime.DefaultPluginPath(); usesPlugin {
		if fi, err := os.Stat(p); err != nil || fi.IsDir() {
			return false, fmt.Errorf("--triton-repo: the plugin %q to copy into the repository does not exist (run `make plugin` or set %s)", p, runtime.EnvPlugin)
		}
	}
	return true, nil
}

// write writes the entry of the converted model at output.
func (f *tritonFlags) write(w io.Writer, output string) error {
	r, err := triton.WriteRepository(f.repo, output, runtime.DefaultPluginPath(), f.opts)
	if err != nil {
		return err
	}
	fmt.Fprintf(w, "\n%s", r.Summary(f.opts.ServerRepo))
	return nil
}
