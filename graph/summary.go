package graph

import (
	"fmt"
	"io"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// WriteSummary writes what `vimconvert convert` prints about the model it
// wrote to output (opset and scan as asked): source, variant, config,
// parameters, assumptions, inputs and outputs, opsets and size. It reports
// whether the model uses the plugin's custom ops (Domain), for which a
// host must register the plugin.
func (r *Converted) WriteSummary(w io.Writer, opset int, scan, output string) (usesPlugin bool) {
	c, info, model, size := r.Model.Config, r.Info, r.ONNX, r.Size
	params := onnxfile.ParamCount(model)
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
	for _, o := range model.GetOpsetImport() {
		if d := o.GetDomain(); d != "" {
			domains = append(domains, fmt.Sprintf("%s v%d", d, o.GetVersion()))
			usesPlugin = usesPlugin || d == Domain
		}
	}
	opsets := fmt.Sprintf("%d (IR %d)", opset, model.GetIrVersion())
	if len(domains) > 0 {
		opsets += " + " + strings.Join(domains, ", ")
	}
	fmt.Fprintf(w, "  opset:    %s\n", opsets)
	fmt.Fprintf(w, "  scan:     %s\n", scan)
	fmt.Fprintf(w, "wrote %s (%s)\n", output, humanBytes(size))
	return usesPlugin
}

// configSummary is the one-line description of c in the summary.
func configSummary(c convert.Config) string {
	return fmt.Sprintf("Vim d%d depth %d, patch %d stride %d at %d×%d (%d tokens, cls %s), bimamba %s, %d classes",
		c.EmbedDim, c.Depth, c.PatchSize, c.Stride, c.ImgSize, c.Width(), c.SeqLen(), c.ClsToken, c.BimambaType, c.NumClasses)
}

// shapeString writes v's tensor shape with symbolic dims by name.
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

// humanBytes writes a byte count in B, KiB, MiB or GiB.
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
