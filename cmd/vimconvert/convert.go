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
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/graph/triton"
	"github.com/vimconvert/vimconvert/runtime"
)

func init() {
	register(command{
		name:       "convert",
		summary:    "convert a Vim checkpoint to ONNX (CKPT -o OUT.onnx)",
		runContext: runConvert,
	})
}

// convertFlags are the flags of `vimconvert convert`.
type convertFlags struct {
	output   string
	load     *convert.Options // --weights, --cls-token, --img-size, --stride
	opset    int
	features bool
	tokens   bool
	perLayer bool
	scan     string
	conv     string
	dtype    string

	tritonRepo string // --triton-repo and its options (convert_triton.go)
	triton     triton.Options
	dynamic    bool
	outIdx     string
	fmode      string
}

func newConvertFlagSet(stderr io.Writer) (*flag.FlagSet, *convertFlags) {
	f := &convertFlags{}
	fs := newFlagSet("convert", stderr, `Usage: vimconvert convert CKPT.pth -o OUT.onnx [flags]
       vimconvert CKPT.pth -o OUT.onnx [flags]

Converts an official hustvl/Vim checkpoint (training checkpoint, {'model': sd}
or a bare state dict) to an ONNX model whose selective scans run in the
vimconvert ONNX Runtime plugin (or, with --scan linear-attention, in ONNX
Runtime's own contrib ops).`)
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
	return fs, f
}

// runConvert is `vimconvert convert`: flags, then graph.ConvertFile and a
// summary of what was written.
func runConvert(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs, f := newConvertFlagSet(stderr)
	pos, err := parseArgs(fs, args)
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
	ckpt := pos[0]
	if ok, err := mambaOut(fs, ckpt, f.load.Weights, func() error {
		res, err := graph.ConvertMambaOutFile(ckpt, f.output, graph.MambaOutConvertOptions{Load: mambaout.Options{Weights: f.load.Weights},
			Build: graph.MambaOutOptions{Opset: f.opset, Features: f.features, PerStage: f.perLayer}})
		fmt.Fprint(stdout, res)
		return err
	}); ok {
		return err
	}
	if f.opset == graph.OpsetLinearAttention && !flagSet(fs, "scan") && !flagSet(fs, "conv") {
		f.scan, f.conv = string(graph.ScanONNXLinearAttention), string(graph.ConvCausalConvWithState)
	}
	if err := checkTriton(f, graph.ScanLowering(f.scan) == graph.ScanPlugin); err != nil {
		return err
	}
	opts := graph.ConvertOptions{Load: *f.load, Build: graph.Options{
		DynamicSize: f.dynamic, OutIndices: idx, OfficialOutIndices: f.outIdx == "official", FeatureMode: convert.FeatureMode(f.fmode),
		Opset:         f.opset,
		Features:      f.features,
		Tokens:        f.tokens,
		PerLayer:      f.perLayer,
		Scan:          graph.ScanLowering(f.scan),
		DepthwiseConv: graph.DepthwiseConv(f.conv),
		DType:         graph.DType(f.dtype),
	}}
	if progress.IsTerminal(stderr) {
		opts.Loading = func() { fmt.Fprintf(stderr, "loading %s ...\n", ckpt) }
		opts.Build.Progress = progress.Count(stderr, "building graph")
		opts.WriteProgress = progress.Bytes(stderr, "writing "+filepath.Base(f.output))
	}
	res, err := graph.ConvertFileContext(ctx, ckpt, f.output, opts)
	if err != nil {
		return err
	}
	printSummary(stdout, f, res.Model, res.Info, res.ONNX, res.Size)
	if f.tritonRepo != "" {
		r, err := triton.WriteRepository(f.tritonRepo, f.output, runtime.DefaultPluginPath(), f.triton)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "\n%s", r.Summary(f.triton.ServerRepo))
	}
	printWarnings(stderr, res.Info.Warnings) // last: what a user must not miss
	return nil
}

// printSummary tells what was written and how to run it.
func printSummary(w io.Writer, f *convertFlags, m *convert.Model, info *convert.Info, model *onnxpb.ModelProto, size int64) {
	c := m.Config
	var params int64
	for _, t := range model.GetGraph().GetInitializer() {
		n := int64(1)
		for _, d := range t.GetDims() {
			n *= d
		}
		params += n
	}
	fmt.Fprintf(w, "converted %s (%s checkpoint, %q weights)\n", info.Path, info.Layout, info.Weights)
	variant := info.Variant
	if variant == "" {
		variant = "custom (" + info.VariantNote + ")"
	}
	fmt.Fprintf(w, "  variant:  %s\n", variant)
	fmt.Fprintf(w, "  config:   %s\n", configSummary(c))
	fmt.Fprintf(w, "  params:   %d (%.2fM)\n", params, float64(params)/1e6)
	for _, n := range info.Assumed {
		fmt.Fprintf(w, "  assumed:  %s\n", n)
	}
	for _, v := range model.GetGraph().GetInput() {
		fmt.Fprintf(w, "  input:    %s %s float32\n", v.GetName(), shapeString(v))
	}
	for _, v := range model.GetGraph().GetOutput() {
		fmt.Fprintf(w, "  output:   %s %s float32\n", v.GetName(), shapeString(v))
	}
	var domains []string
	usesPlugin := false
	for _, o := range model.GetOpsetImport() {
		if d := o.GetDomain(); d != "" {
			domains = append(domains, fmt.Sprintf("%s v%d", d, o.GetVersion()))
			usesPlugin = usesPlugin || d == graph.Domain
		}
	}
	opset := fmt.Sprintf("%d (IR %d)", f.opset, model.GetIrVersion())
	if len(domains) > 0 {
		opset += " + " + strings.Join(domains, ", ")
	}
	fmt.Fprintf(w, "  opset:    %s\n", opset)
	fmt.Fprintf(w, "  scan:     %s\n", f.scan)
	fmt.Fprintf(w, "wrote %s (%s)\n", f.output, humanBytes(size))
	if !usesPlugin {
		fmt.Fprintf(w, "\nThe model uses no %s custom ops: load it in ONNX Runtime as is.\n", graph.Domain)
		return
	}
	fmt.Fprintln(w)

	fmt.Fprint(w, runtime.PluginUsage("", f.output))
}

func configSummary(c convert.Config) string {
	return fmt.Sprintf("Vim d%d depth %d, patch %d stride %d at %d×%d (%d tokens, cls %s), bimamba %s, %d classes",
		c.EmbedDim, c.Depth, c.PatchSize, c.Stride, c.ImgSize, c.Width(), c.SeqLen(), c.ClsToken, c.BimambaType, c.NumClasses)
}

func shapeString(v *onnxpb.ValueInfoProto) string {
	var dims []string
	for _, d := range v.GetType().GetTensorType().GetShape().GetDim() {
		if p := d.GetDimParam(); p != "" {
			dims = append(dims, p)
		} else {
			dims = append(dims, fmt.Sprint(d.GetDimValue()))
		}
	}
	return "[" + strings.Join(dims, ", ") + "]"
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}
