package main

import (
	"errors"
	"flag"
	"fmt"
	"io"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
)

// parseCommand builds a command's flag set and flags with newFlags (usage
// going to stderr) and parses args into them (see parseArgs), returning the
// flag set, the flags and the positional arguments.
func parseCommand[F any](newFlags func(io.Writer) (*flag.FlagSet, F), args []string, stderr io.Writer) (*flag.FlagSet, F, []string, error) {
	fs, f := newFlags(stderr)
	pos, err := parseArgs(fs, args)
	return fs, f, pos, err
}

// parseArgs parses flags that may come before or after positional arguments
// ("CKPT -o OUT" and "-o OUT CKPT" both work; "--" ends the flags) and
// returns the positional arguments. A bad flag (already reported on
// fs.Output() with the usage) gives errUsage; -h gives flag.ErrHelp.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, errUsage
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

// usageError prints "vimconvert NAME: message", a blank line and the
// command's usage on fs.Output(), and returns errUsage (exit status 2).
func usageError(fs *flag.FlagSet, format string, a ...any) error {
	fmt.Fprintf(fs.Output(), "vimconvert "+fs.Name()+": "+format+"\n\n", a...)
	fs.Usage()
	return errUsage
}

// checkpointFlagNames are the flags registered by addCheckpointFlags.
var checkpointFlagNames = []string{"weights", "cls-token", "img-size", "stride", "kwargs"}

// addCheckpointFlags registers the flags that pick what convert.Load reads
// from a checkpoint (--weights, --cls-token, --img-size, --stride, --kwargs) on fs and
// returns the convert.Options they fill in when fs is parsed.
func addCheckpointFlags(fs *flag.FlagSet) *convert.Options {
	o := &convert.Options{}
	addWeightsFlag(fs, (*string)(&o.Weights), "")
	fs.StringVar((*string)(&o.ClsToken), "cls-token", "", "cls token placement: middle, head, double or none, checked against the weights (default: inferred; middle for a single cls_token, as in every released model)")
	fs.Func("img-size", "input image size N or HxW (default: the checkpoint's own, inferred from pos_embed); the stride stays the checkpoint's (--stride overrides): a size giving another grid resamples pos_embed bicubically, a size that does not fit the stride is refused with the nearest ones", func(s string) (err error) {
		o.ImgSize, o.ImgWidth, err = convert.ParseImageSize(s)
		return err
	})
	fs.IntVar(&o.Stride, "stride", 0, "patch stride, checked against the weights (default: inferred from pos_embed; 8 for the stride-8 models)")
	fs.Func("kwargs", "official VisionMamba arguments the weights cannot show, NAME=VALUE,...: final_pool_type (readout without cls token), if_divide_out, norm_epsilon (default: the registry's); see README", func(s string) error { return convert.ParseKwargs(s, o) })
	return o
}

// addWeightsFlag registers --weights (the weight set of a training
// checkpoint) into p; note, when not empty, is appended to the help text.
func addWeightsFlag(fs *flag.FlagSet, p *string, note string) {
	help := "weight set of a training checkpoint: model or model_ema"
	if note != "" {
		help += " (" + note + ")"
	}
	fs.StringVar(p, "weights", string(convert.WeightsModel), help)
}

// validWeights reports whether w names a weight set (model or model_ema).
func validWeights[W ~string](w W) bool {
	return convert.Weights(w) == convert.WeightsModel || convert.Weights(w) == convert.WeightsEMA
}

// userScanLowerings lists the lowerings `convert --scan` accepts, in
// graph.ScanLowerings order (the benchmark-only no-scan floor is not one,
// nor the opset-27 one, which --opset 27 selects).
func userScanLowerings() []string {
	var out []string
	for _, s := range graph.ScanLowerings() {
		if s == graph.ScanONNXLinearAttention {
			continue
		}
		out = append(out, string(s))
	}
	return out
}

// benchOnlyNote explains, for the benchmark-only lowering, why convert
// refuses it; it is "" for any other name.
func benchOnlyNote(scan string) string {
	if scan != benchgraph.NoScanFloor {
		return ""
	}
	return fmt.Sprintf(" (%s is benchmark-only: it replaces the scan by a cheap stand-in, so the model's outputs are meaningless; 'vimconvert bench' times it as its floor variant)", scan)
}

// newFlagSet makes the flag set of command name: errors and help go to
// stderr, and -h prints usage (the synopsis and description, without a
// trailing newline) followed by the flags.
func newFlagSet(name string, stderr io.Writer, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), "%s\n\nFlags:\n", usage)
		fs.PrintDefaults()
	}
	return fs
}
