package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"slices"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
)

func init() {
	register(command{
		name:    "inspect",
		summary: "show the architecture inferred from a Vim or MambaOut checkpoint, or read back from a converted model (CKPT|MODEL.onnx [--json])",
		run:     runInspect,
	})
}

// inspectFlags are the flags of `vimconvert inspect`.
type inspectFlags struct {
	json bool
	load *convert.Options // --weights, --cls-token, --img-size, --stride
}

func newInspectFlagSet(stderr io.Writer) (*flag.FlagSet, *inspectFlags) {
	f := &inspectFlags{}
	fs := newFlagSet("inspect", stderr, `Usage: vimconvert inspect [--json] [flags] CKPT.pth|MODEL.onnx

Reads a Vim or MambaOut checkpoint (nothing in it is executed), infers the architecture
from tensor names and shapes, and prints it with every default assumed; a
guess that changes the outputs is also a "warning:" line on stderr. For a
model converted by vimconvert (.onnx), prints the same summary read back
from the model, with the checkpoint it came from (file, sha256, weight set).`)
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of text")
	f.load = addCheckpointFlags(fs)
	return fs, f
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs, f, pos, err := parseCommand(newInspectFlagSet, args, stderr)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(fs, "want one checkpoint, got %d arguments", len(pos))
	}
	if graph.IsMambaOutModel(pos[0]) {
		if err := refuseCheckpointFlags(fs); err != nil {
			return err
		}
		s, err := graph.MambaOutReport(pos[0], f.json)
		fmt.Fprint(stdout, s)
		return err
	}
	if ok, err := mambaOut(fs, pos[0], f.load.Weights, func() error {
		s, err := mambaout.InspectReport(pos[0], mambaout.Options{Weights: f.load.Weights}, f.json)
		fmt.Fprint(stdout, s)
		return err
	}); ok {
		return err
	}
	m, info, err := loadForInspect(fs, pos[0], f.load)
	if err != nil {
		return err
	}
	printWarnings(stderr, info.Warnings)
	if f.json {
		obj, err := inspectObject(m.Config, info)
		if err != nil {
			return err
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(obj)
	}
	convert.WriteSummary(stdout, m.Config, info)
	return nil
}

// loadForInspect reads a checkpoint (convert.Load) or, for a .onnx file, a
// converted model back (graph.ReadModelInfo; the checkpoint flags do not
// apply to it).
func loadForInspect(fs *flag.FlagSet, path string, opts *convert.Options) (*convert.Model, *convert.Info, error) {
	if !onnxfile.IsModelPath(path) {
		return convert.Load(path, *opts)
	}
	if err := refuseCheckpointFlags(fs); err != nil {
		return nil, nil, err
	}
	m, info, p, err := graph.ReadModelInfo(path)
	if err == nil && p == nil {
		info.Source = graph.NoProvenanceSource
	}
	return m, info, err
}

// refuseCheckpointFlags refuses a checkpoint flag set on fs for a
// converted model, which fixes what the flag would choose.
func refuseCheckpointFlags(fs *flag.FlagSet) error {
	set := ""
	fs.Visit(func(fl *flag.Flag) {
		if slices.Contains(checkpointFlagNames, fl.Name) {
			set = fl.Name
		}
	})
	if set != "" {
		return usageError(fs, "--%s applies to a checkpoint; a converted model fixes it", set)
	}
	return nil
}

// printWarnings writes each warning as a "warning: " line.
func printWarnings(w io.Writer, warnings []string) {
	for _, s := range warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}
