package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vimconvert/vimconvert/internal/progress"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/triton"
	"github.com/vimconvert/vimconvert/runtime"
)

func init() {
	register(command{
		name:       "convert",
		summary:    "convert a Vim or MambaOut checkpoint to ONNX (CKPT -o OUT.onnx)",
		runContext: runConvert,
	})
}

// convertFlags are the flags of `vimconvert convert`.
type convertFlags struct {
	output                     string
	load                       *convert.Options // --weights, --cls-token, --img-size, --stride
	opset                      int
	features, tokens, perLayer bool   // --features, --tokens, --per-layer
	scan, conv, dtype          string // --scan, --conv, --dtype

	tritonRepo string // --triton-repo and its options (convert_triton.go)
	triton     triton.Options
	dynamic    bool
	outIdx     string
	fmode      string
	feed       graph.ConvertOptions // --input-format, --crop-pct, --labels
}

func newConvertFlagSet(stderr io.Writer) (*flag.FlagSet, *convertFlags) {
	f := &convertFlags{}
	fs := newFlagSet("convert", stderr, `Usage: vimconvert convert CKPT.pth -o OUT.onnx [flags]
       vimconvert CKPT.pth -o OUT.onnx [flags]

Converts an official hustvl/Vim checkpoint (training checkpoint, {'model': sd}
or a bare state dict) to an ONNX model whose selective scans run in the
vimconvert ONNX Runtime plugin (or, with --scan linear-attention, in ONNX
Runtime's own contrib ops). An official yuweihao/MambaOut checkpoint (bare, or
timm's training checkpoint) is recognised by its tensor names and converted to
standard ONNX ops only, input height and width dynamic; the Vim-only flags are
refused for it.`)
	fs.StringVar(&f.output, "o", "", "output ONNX file (required)")
	fs.StringVar(&f.output, "output", "", "same as -o")
	f.load = addCheckpointFlags(fs)
	addTritonFlags(fs, f)
	fs.IntVar(&f.opset, "opset", graph.DefaultOpset, fmt.Sprintf("ONNX opset, %d to %d, or %d (standard LinearAttention + CausalConvWithState, no plugin; no runtime reads it yet)", graph.MinOpset, graph.MaxOpset, graph.OpsetLinearAttention))
	fs.BoolVar(&f.features, "features", false, "add the output 'features' [batch, D] (input of the head)")
	fs.BoolVar(&f.tokens, "tokens", false, "add the output 'tokens' [batch, L, D] (all tokens after the final norm)")
	fs.BoolVar(&f.perLayer, "per-layer", false, "add per-block outputs named like the fixture keys (for verify --per-layer)")
	fs.StringVar(&f.conv, "conv", string(graph.ConvONNX), "depthwise conv formulation: "+string(graph.ConvONNX)+" (ONNX Conv, runs anywhere), "+string(graph.ConvSlice)+" (Pad/Slice/Mul, no transposes) or "+string(graph.ConvPlugin)+" (fused bidirectional conv+SiLU op of the plugin, CPU only: ~12% faster on CPU, see BENCHMARKS.md)")
	fs.StringVar(&f.dtype, "dtype", string(graph.DTypeFloat32), fmt.Sprintf("weights and activations: %v (16-bit keeps the official fp32 islands; meant for GPUs)", graph.DTypes()))
	fs.BoolVar(&f.dynamic, "dynamic-size", false, "one model for every input height and width that fits the patch and stride (pos_embed resampled in the graph; README)")
	fs.StringVar(&f.outIdx, "out-indices", "", "add feature maps [batch, D, h, w] of these blocks for dense heads: a comma-separated list (negative counts from the end) or 'official' (the seg configs': last block of each quarter)")
	fs.StringVar(&f.fmode, "feature-mode", "", "stream of the feature maps: hidden (default; seg backbone), add (residual + hidden; det backbone) or add_norm")
	fs.StringVar(&f.scan, "scan", string(graph.ScanPlugin), "scan lowering: "+strings.Join(userScanLowerings(), ", ")+" (plugin: the vimconvert ORT plugin; linear-attention: ONNX Runtime ≥ 1.25 contrib ops, no plugin, slower; standard: only standard ONNX ops, opset 17, any runtime)")
	fs.StringVar((*string)(&f.feed.Build.InputFormat), "input-format", string(graph.InputFloatNCHW), fmt.Sprintf("input %v: float32 [B, 3, N, N] normalised, or uint8 [B, N, N, 3] RGB crops normalised in the graph", graph.InputFormats))
	fs.Float64Var(&f.feed.CropPct, "crop-pct", 0, "crop fraction recorded with the preprocessing: resize to int(N / crop-pct) (default: hustvl/Vim's 0.875)")
	fs.StringVar(&f.feed.LabelsFile, "labels", "", "class names to record, one per line (default: ImageNet-1k's for a 1000-class head)")
	return fs, f
}

// runConvert is `vimconvert convert`: flags, then graph.ConvertFile and a
// summary of what was written.
func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f, pos, err := parseCommand(newConvertFlagSet, args, stderr)
	if err != nil {
		return err
	}
	switch {
	case len(pos) == 0:
		return usageError(fs, "missing the checkpoint argument")
	case len(pos) > 1:
		return usageError(fs, "one checkpoint expected, got %d arguments: %s", len(pos), strings.Join(pos, " "))
	case f.output == "":
		return usageError(fs, "missing -o OUT.onnx")
	case !validWeights(f.load.Weights):
		return usageError(fs, "--weights %q: want model or model_ema", f.load.Weights)
	case !slices.Contains(userScanLowerings(), f.scan):
		return usageError(fs, "--scan %q: want one of %s%s", f.scan, strings.Join(userScanLowerings(), ", "), benchOnlyNote(f.scan))
	case !slices.Contains([]graph.DepthwiseConv{graph.ConvONNX, graph.ConvSlice, graph.ConvPlugin}, graph.DepthwiseConv(f.conv)):
		return usageError(fs, "--conv %q: want %s, %s or %s", f.conv, graph.ConvONNX, graph.ConvSlice, graph.ConvPlugin)
	case graph.DepthwiseConv(f.conv) == graph.ConvPlugin && graph.ScanLowering(f.scan) != graph.ScanPlugin:
		return usageError(fs, "--conv %s needs the plugin; it cannot be combined with --scan %s", graph.ConvPlugin, f.scan)
	}
	idx, ierr := convert.ParseOutIndices(f.outIdx, 0)
	if f.outIdx == "" || f.outIdx == "official" {
		idx, ierr = nil, nil
	}
	if _, merr := convert.ParseFeatureMode(f.fmode); ierr != nil || merr != nil {
		return usageError(fs, "%v", errors.Join(ierr, merr))
	}
	ckpt, isMO := pos[0], false
	if ok, err := mambaOut(fs, ckpt, f.load.Weights, func() error { isMO = true; return nil }); ok && err != nil {
		return err
	}
	if f.opset == graph.OpsetLinearAttention && !flagSet(fs, "scan") && !flagSet(fs, "conv") {
		f.scan, f.conv = string(graph.ScanONNXLinearAttention), string(graph.ConvCausalConvWithState)
	}
	if err := checkTriton(f, !isMO && graph.ScanLowering(f.scan) == graph.ScanPlugin); err != nil {
		return err
	}
	var warnings []string
	if isMO {
		res, err := graph.ConvertMambaOutFile(ckpt, f.output, graph.MambaOutConvertOptions{Load: mambaout.Options{Weights: f.load.Weights},
			Build: graph.MambaOutOptions{Opset: f.opset, Features: f.features, PerStage: f.perLayer}})
		if fmt.Fprint(stdout, res); err != nil {
			return err
		}
	} else if warnings, err = convertVim(ctx, f, ckpt, idx, stdout, stderr); err != nil {
		return err
	}
	if f.tritonRepo != "" {
		r, err := triton.WriteRepository(f.tritonRepo, f.output, runtime.DefaultPluginPath(), f.triton)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n%s", r.Summary(f.triton.ServerRepo))
	}
	printWarnings(stderr, warnings) // last: what a user must not miss
	return nil
}

// convertVim converts the Vim checkpoint ckpt as f says, prints the summary, returns the warnings.
func convertVim(ctx context.Context, f *convertFlags, ckpt string, idx []int, stdout, stderr io.Writer) ([]string, error) {
	opts := graph.ConvertOptions{Load: *f.load, CropPct: f.feed.CropPct, LabelsFile: f.feed.LabelsFile, Build: graph.Options{
		DynamicSize: f.dynamic, OutIndices: idx, OfficialOutIndices: f.outIdx == "official", FeatureMode: convert.FeatureMode(f.fmode),
		Opset: f.opset, Features: f.features, Tokens: f.tokens, PerLayer: f.perLayer, Scan: graph.ScanLowering(f.scan),
		DepthwiseConv: graph.DepthwiseConv(f.conv), DType: graph.DType(f.dtype), InputFormat: f.feed.Build.InputFormat,
	}}
	if progress.IsTerminal(stderr) {
		opts.Loading = func() { fmt.Fprintf(stderr, "loading %s ...\n", ckpt) }
		opts.Build.Progress = progress.Count(stderr, "building graph")
		opts.WriteProgress = progress.Bytes(stderr, "writing "+filepath.Base(f.output))
	}
	res, err := graph.ConvertFileContext(ctx, ckpt, f.output, opts)
	if err != nil {
		return nil, err
	}
	if res.WriteSummary(stdout, f.opset, f.scan, f.output) {
		fmt.Fprint(stdout, "\n"+runtime.PluginUsage("", f.output))
	} else {
		fmt.Fprintf(stdout, "\nThe model uses no %s custom ops: load it in ONNX Runtime as is.\n", graph.Domain)
	}
	return res.Info.Warnings, nil
}
