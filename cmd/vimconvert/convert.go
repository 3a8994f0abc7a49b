package main

import (
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/schollz/progressbar/v3"
	"golang.org/x/term"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/runtime"
)

func init() {
	register(command{
		name:    "convert",
		summary: "convert a Vim checkpoint to ONNX (CKPT -o OUT.onnx)",
		run:     runConvert,
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
	feed     graph.ConvertOptions // --input-format, --crop-pct, --labels
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
	fs.IntVar(&f.opset, "opset", graph.DefaultOpset, fmt.Sprintf("ONNX opset, %d to %d", graph.MinOpset, graph.MaxOpset))
	fs.BoolVar(&f.features, "features", false, "add the output 'features' [batch, D] (input of the head)")
	fs.BoolVar(&f.tokens, "tokens", false, "add the output 'tokens' [batch, L, D] (all tokens after the final norm)")
	fs.BoolVar(&f.perLayer, "per-layer", false, "add per-block outputs named like the fixture keys (for verify --per-layer)")
	fs.StringVar(&f.conv, "conv", string(graph.ConvONNX), "depthwise conv formulation: "+string(graph.ConvONNX)+" (ONNX Conv, runs anywhere), "+string(graph.ConvSlice)+" (Pad/Slice/Mul, no transposes) or "+string(graph.ConvPlugin)+" (fused bidirectional conv+SiLU op of the plugin, CPU only: ~12% faster on CPU, see BENCHMARKS.md)")
	fs.StringVar(&f.scan, "scan", string(graph.ScanPlugin), "scan lowering: "+strings.Join(userScanLowerings(), ", ")+" (plugin: the vimconvert ORT plugin; linear-attention: ONNX Runtime ≥ 1.25 contrib ops, no plugin, slower)")
	fs.StringVar((*string)(&f.feed.Build.InputFormat), "input-format", string(graph.InputFloatNCHW), fmt.Sprintf("input %v: float32 [B, 3, N, N] normalised, or uint8 [B, N, N, 3] RGB crops normalised in the graph", graph.InputFormats))
	fs.Float64Var(&f.feed.CropPct, "crop-pct", 0, "crop fraction recorded with the preprocessing: resize to int(N / crop-pct) (default: hustvl/Vim's 0.875)")
	fs.StringVar(&f.feed.LabelsFile, "labels", "", "class names to record, one per line (default: ImageNet-1k's for a 1000-class head)")
	return fs, f
}

// runConvert is `vimconvert convert`: flags, then graph.ConvertFile and a
// summary of what was written.
func runConvert(args []string, stdout, stderr io.Writer) error {
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
	ckpt := pos[0]
	opts := graph.ConvertOptions{Load: *f.load, CropPct: f.feed.CropPct, LabelsFile: f.feed.LabelsFile, Build: graph.Options{
		Opset:         f.opset,
		Features:      f.features,
		Tokens:        f.tokens,
		PerLayer:      f.perLayer,
		Scan:          graph.ScanLowering(f.scan),
		DepthwiseConv: graph.DepthwiseConv(f.conv),
		InputFormat:   f.feed.Build.InputFormat,
	}}
	if isTerminal(stderr) {
		opts.Loading = func() { fmt.Fprintf(stderr, "loading %s ...\n", ckpt) }
		opts.Build.Progress = buildBar(stderr)
		opts.WriteProgress = writeBar(stderr, filepath.Base(f.output))
	}
	res, err := graph.ConvertFile(ckpt, f.output, opts)
	if err != nil {
		return err
	}
	printSummary(stdout, f, res.Model, res.Info, res.ONNX, res.Size)
	return nil
}

// buildBar returns a graph.Options.Progress that draws the blocks built on w.
func buildBar(w io.Writer) func(done, total int) {
	var bar *progressbar.ProgressBar
	return func(done, total int) {
		if bar == nil {
			bar = progressbar.NewOptions(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("building graph"),
				progressbar.OptionShowCount(),
				progressbar.OptionClearOnFinish())
		}
		_ = bar.Set(done)
		if done == total {
			_ = bar.Finish()
		}
	}
}

// writeBar returns a graph.WriteFileProgress callback that draws the bytes
// written to name on w.
func writeBar(w io.Writer, name string) func(written, total int64) {
	var wbar *progressbar.ProgressBar
	return func(written, total int64) {
		if wbar == nil {
			wbar = progressbar.NewOptions64(total,
				progressbar.OptionSetWriter(w),
				progressbar.OptionSetDescription("writing "+name),
				progressbar.OptionShowBytes(true),
				progressbar.OptionClearOnFinish())
		}
		_ = wbar.Set64(written)
		if written == total {
			_ = wbar.Finish()
		}
	}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
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

	plugin := runtime.DefaultPluginPath()
	if plugin == "" {
		plugin = "build/libvimconvert_ops.so"
	}
	if abs, err := filepath.Abs(plugin); err == nil {
		plugin = abs
	}
	missing := ""
	if _, err := os.Stat(plugin); err != nil {
		missing = " (not built yet)"
	}
	fmt.Fprintf(w, `The model uses custom ops of domain %s (selective scan); register the
plugin %s%s before creating a session
(build it with 'make plugin' in the checkout; the VIMCONVERT_PLUGIN environment variable overrides the path):
  Go:          opts, _ := ort.NewSessionOptions(); opts.RegisterCustomOpsLibrary(%q)
               (github.com/yalue/onnxruntime_go), or runtime.NewSession from this module
  C/C++:       api->RegisterCustomOpsLibrary_V2(session_options, "%s");
               (C++: session_options.RegisterCustomOpsLibrary("%s"))
  Python:      so = onnxruntime.SessionOptions(); so.register_custom_ops_library(%q)
               onnxruntime.InferenceSession(%q, so)
`, graph.Domain, plugin, missing, plugin, plugin, plugin, plugin, f.output)
}

func configSummary(c convert.Config) string {
	return fmt.Sprintf("Vim d%d depth %d, patch %d stride %d at %d×%d (%d tokens, cls %s), bimamba %s, %d classes",
		c.EmbedDim, c.Depth, c.PatchSize, c.Stride, c.ImgSize, c.ImgSize, c.SeqLen(), c.ClsToken, c.BimambaType, c.NumClasses)
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
