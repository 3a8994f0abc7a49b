package main

import (
	"flag"
	"fmt"

	"github.com/vimconvert/vimconvert/graph/triton"
	"github.com/vimconvert/vimconvert/runtime"
)

var tritonDefaults = triton.Options{MaxBatch: 8} // checkTriton refuses them changed without --triton-repo

func addTritonFlags(fs *flag.FlagSet, f *convertFlags) {
	fs.StringVar(&f.tritonRepo, "triton-repo", "", "also write a Triton model repository entry DIR/NAME (config.pbtxt, 1/model.onnx, the plugin) for DIR mounted at /models in the server")
	fs.StringVar(&f.triton.Name, "name", "", "with --triton-repo: the model's name (default: the -o file name without .onnx)")
	fs.IntVar(&f.triton.MaxBatch, "max-batch", tritonDefaults.MaxBatch, "with --triton-repo: max_batch_size (0: no batching by Triton; > 0: dynamic batching)")
	fs.Var(&f.triton.Instances, "instances", "with --triton-repo: where instances run, cpu or gpu")
}

func checkTriton(f *convertFlags, usesPlugin bool) error {
	if f.tritonRepo == "" && f.triton != tritonDefaults {
		return fmt.Errorf("--name, --max-batch and --instances apply only with --triton-repo")
	} else if f.tritonRepo == "" {
		return nil
	}
	return triton.CheckTarget(f.tritonRepo, f.output, f.triton, f.opset, usesPlugin, runtime.DefaultPluginPath())
}
