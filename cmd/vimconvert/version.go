package main

import (
	"io"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime"
)

func init() {
	register(command{name: "version", summary: "print the version, the ONNX Runtime it loads and the plugin it registers", run: runVersion})
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr, "Usage: vimconvert version (exits 1 when ONNX Runtime or the plugin does not load)")
	if pos, err := parseArgs(fs, args); err != nil {
		return err
	} else if len(pos) != 0 {
		return usageError(fs, "takes no arguments, got %d", len(pos))
	}
	return runtime.Describe(runtime.Options{}).Report(stdout, graph.ProducerVersion)
}
