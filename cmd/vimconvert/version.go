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

// errVersionIncomplete: ONNX Runtime or the plugin did not load (already
// printed on stdout).
var errVersionIncomplete = errors.New("ONNX Runtime or the plugin did not load (see above)")

func runVersion(args []string, stdout, stderr io.Writer) error {
	fs := newFlagSet("version", stderr, `Usage: vimconvert version

Prints vimconvert's version and build, the ONNX Runtime library it loads and
the version that library reports, and the plugin it registers with the CPU
kernel variant the plugin picks on this machine. Exits non-zero when ONNX
Runtime or the plugin does not load.`)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageError(fs, "takes no arguments, got %d", len(pos))
	}
	a := runtime.Describe(runtime.Options{})
	fmt.Fprintf(stdout, "vimconvert %s\n", graph.ProducerVersion)
	if a.Module != "" {
		fmt.Fprintf(stdout, "  module    %s\n", a.Module)
	}
	if a.Commit != "" {
		fmt.Fprintf(stdout, "  commit    %s\n", a.Commit)
	}
	fmt.Fprintf(stdout, "  go        %s\n", a.GoVersion)
	if a.ORTError != nil {
		fmt.Fprintf(stdout, "onnxruntime: not loaded (bindings need %s): %v\n", a.ORTWanted, a.ORTError)
	} else {
		fmt.Fprintf(stdout, "onnxruntime %s\n  library   %s\n", a.ORTVersion, a.ORTLibrary)
	}
	fmt.Fprintf(stdout, "plugin %s\n", a.Plugin)
	if a.PluginError != nil {
		fmt.Fprintf(stdout, "  not registered: %v\n", a.PluginError)
	} else {
		fmt.Fprintf(stdout, "  registered in onnxruntime %s\n", a.ORTVersion)
	}
	fmt.Fprintf(stdout, "  cpu isa   %s (the plugin's rule for this CPU and $%s; the plugin does not report its choice)\n",
		a.PluginISA, runtime.EnvPluginISA)
	if a.ORTError != nil || a.PluginError != nil {
		return errVersionIncomplete
	}
	return nil
}
