package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime"
)

func init() {
	register(command{
		name:    "version",
		summary: "print the version, the ONNX Runtime it loads and the plugin it registers",
		run:     runVersion,
	})
}

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr, `Usage: vimconvert version

Prints vimconvert's version and build, the ONNX Runtime library it loads with
the version that library reports, and the plugin it registers with the CPU
kernel variant the plugin picks here. Exits 1 when either does not load.`)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError(fs, "takes no arguments, got %d", len(pos))
	}
	a := runtime.Describe(runtime.Options{})
	fmt.Fprint(stdout, a.Text(graph.ProducerVersion))
	if a.ORTError != nil || a.PluginError != nil {
		return errors.New("ONNX Runtime or the plugin did not load (see above)")
	}
	return nil
}
