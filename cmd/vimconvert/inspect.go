package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
)

func init() {
	register(command{
		name:    "inspect",
		summary: "show the architecture inferred from a Vim checkpoint, or read back from a converted model (CKPT|MODEL.onnx [--json])",
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

Reads a Vim checkpoint (nothing in it is executed), infers the architecture
from tensor names and shapes, and prints it with every default assumed; a
guess that changes the outputs is also a "warning:" line on stderr. For a
model converted by vimconvert (.onnx), prints the same summary read back
from the model, with the checkpoint it came from (file, sha256, weight set).`)
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of text")
	f.load = addCheckpointFlags(fs)
	return fs, f
}

func runInspect(args []string, stdout, stderr io.Writer) error {
	fs, f := newInspectFlagSet(stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(fs, "want one checkpoint, got %d arguments", len(pos))
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
	printInspect(stdout, m.Config, info)
	return nil
}

// printInspect writes the human-readable report.
func printInspect(w io.Writer, c convert.Config, info *convert.Info) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, format string, a ...any) { fmt.Fprintf(tw, "%s\t%s\n", k, fmt.Sprintf(format, a...)) }
	row("checkpoint", "%s (%s format, %s layout)", info.Path, info.Format, info.Layout)
	if info.Variant != "" {
		row("variant", "%s", info.Variant)
	} else {
		row("variant", "%s", info.VariantNote)
	}
	if info.ArgsModel != "" {
		row("args.model", "%s", info.ArgsModel)
	}
	if info.Source != "" {
		row("source", "%s", info.Source)
	}
	key := info.WeightsKey
	switch {
	case info.Source != "":
		key = "of the source checkpoint"
	case key == "":
		key = "bare state dict"
	default:
		key = fmt.Sprintf("key %q", key)
	}
	row("weights", "%s (%s)", info.Weights, key)
	if info.StrippedPrefix != "" {
		row("prefix", "%q stripped from every key", info.StrippedPrefix)
	}
	var dts []string
	for d, n := range info.DTypes {
		dts = append(dts, fmt.Sprintf("%s×%d", d, n))
	}
	sort.Strings(dts)
	row("tensors", "%d, %s parameters, storage dtype %s (%s), loaded as float32", info.TensorCount, groupDigits(info.ParamCount), info.DType, strings.Join(dts, ", "))
	row("embed_dim", "%d", c.EmbedDim)
	row("depth", "%d", c.Depth)
	row("mixer", "d_inner %d, d_state %d, dt_rank %d, d_conv %d, bimamba %s, divide_out %v", c.DInner, c.DState, c.DtRank, c.DConv, c.BimambaType, c.DivideOut)
	row("norm", "%s, eps %g", c.Norm, c.NormEps)
	if c.HasGamma {
		row("layer scale", "yes (mixer.gamma)")
	}
	gh, gw := c.GridHW()
	row("patches", "%d×%d = %d (patch %d, stride %d, img %d×%d, %d channels)", gh, gw, c.NumPatches(), c.PatchSize, c.Stride, c.ImgSize, c.Width(), c.InChans)
	if !c.AbsPosEmbed {
		row("pos_embed", "none")
	}
	switch c.ClsToken {
	case convert.ClsNone:
		row("tokens", "%d, no cls token, readout %s over tokens", c.SeqLen(), c.FinalPoolType)
	case convert.ClsDouble:
		row("tokens", "%d, cls tokens at 0 and %d (double, readout = their mean)", c.SeqLen(), c.SeqLen()-1)
	default:
		row("tokens", "%d, cls token %s at %d", c.SeqLen(), c.ClsToken, c.ClsTokenPosition())
	}
	if c.NumClasses > 0 {
		row("head", "%d classes", c.NumClasses)
	} else {
		row("head", "none (num_classes 0: outputs features)")
	}
	tw.Flush()
	list := func(title string, items []string) {
		if len(items) == 0 {
			fmt.Fprintf(w, "%s: none\n", title)
			return
		}
		fmt.Fprintf(w, "%s:\n", title)
		for _, s := range items {
			fmt.Fprintf(w, "  - %s\n", s)
		}
	}
	list("ignored", info.Ignored)
	list("assumed", info.Assumed)
	list("warnings", info.Warnings)
}

// loadForInspect reads a checkpoint (convert.Load) or, for a .onnx file, a
// converted model back (graph.ReadModelInfo; the checkpoint flags do not
// apply to it).
func loadForInspect(fs *flag.FlagSet, path string, opts *convert.Options) (*convert.Model, *convert.Info, error) {
	if !strings.EqualFold(filepath.Ext(path), ".onnx") {
		return convert.Load(path, *opts)
	}
	set := ""
	fs.Visit(func(fl *flag.Flag) {
		if slices.Contains(checkpointFlagNames, fl.Name) {
			set = fl.Name
		}
	})
	if set != "" {
		return nil, nil, usageError(fs, "--%s applies to a checkpoint; a converted model fixes it", set)
	}
	m, info, p, err := graph.ReadModelInfo(path)
	if err == nil && p == nil {
		info.Source = "unknown: the model records no provenance (converted by an older vimconvert)"
	}
	return m, info, err
}

// printWarnings writes each warning as a "warning: " line.
func printWarnings(w io.Writer, warnings []string) {
	for _, s := range warnings {
		fmt.Fprintf(w, "warning: %s\n", s)
	}
}

// groupDigits writes n with thousands separators.
func groupDigits(n int64) string {
	s := fmt.Sprint(n)
	if n < 0 {
		return "-" + groupDigits(-n)
	}
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	return b.String()
}
