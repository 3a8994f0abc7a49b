package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
)

func init() {
	register(command{
		name:    "inspect",
		summary: "show the architecture inferred from a Vim checkpoint (CKPT [--json])",
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
	fs := newFlagSet("inspect", stderr, `Usage: vimconvert inspect [--json] [flags] CKPT.pth

Reads a Vim checkpoint (nothing in it is executed), infers the architecture
from tensor names and shapes, and prints it with every default assumed.`)
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
	m, info, err := convert.Load(pos[0], *f.load)
	if err != nil {
		return err
	}
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
	key := info.WeightsKey
	if key == "" {
		key = "bare state dict"
	} else {
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
	row("patches", "%d×%d = %d (patch %d, stride %d, img %d, %d channels)", c.GridSize(), c.GridSize(), c.NumPatches(), c.PatchSize, c.Stride, c.ImgSize, c.InChans)
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
