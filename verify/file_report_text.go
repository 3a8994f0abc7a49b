package verify

import (
	"fmt"
	"io"
)

// WriteText writes the report as `vimconvert verify` prints it: the two
// sides, each output's comparison, the per-layer table, the comparisons
// with the expected outputs and the verdict.
func (r *FileReport) WriteText(w io.Writer) {
	fmt.Fprintf(w, "checkpoint %s (%s weights) vs %s\n", r.Checkpoint, r.Weights, r.Model)
	fmt.Fprintf(w, "input      %s %v\n", r.Input, r.InputShape)
	plugin := "+ plugin"
	if !r.Plugin {
		plugin = "(no plugin ops)"
	}
	fmt.Fprintf(w, "onnx       onnxruntime %s %s: session %.0f ms, run %.1f ms\n", r.ORTVersion, plugin, r.SessionMS, r.RunMS)
	if p := r.Provenance; p != nil {
		fmt.Fprintf(w, "source     %s (sha256 %s, %s weights), vimconvert %s\n", p.SourceFile, p.SourceSHA256, p.Weights, p.Version)
	}
	fmt.Fprintf(w, "reference  pure Go, %s: %.1f ms\n", r.Precision, r.ReferenceMS)
	for _, n := range r.Notes {
		fmt.Fprintf(w, "note       %s\n", n)
	}
	for _, o := range r.Outputs {
		fmt.Fprintf(w, "\n%s (reference = expected, onnx = actual): %s", o.Name, o.Report.String())
	}
	if len(r.Layers) > 0 {
		fmt.Fprintf(w, "\nper layer:\n  %-28s %10s %10s %14s\n", "tensor", "max |Δ|", "max rel", "cosine")
		for _, l := range r.Layers {
			mark := ""
			if l.Name == r.FirstDivergence {
				mark = "  <- divergence starts here"
			}
			if l.Report.Mismatch != "" {
				fmt.Fprintf(w, "  %-28s cannot compare: %s%s\n", l.Name, l.Report.Mismatch, mark)
				continue
			}
			fmt.Fprintf(w, "  %-28s %10.3g %10.3g %14.10f%s\n", l.Name, l.Report.MaxAbs, l.Report.MaxRel, l.Report.Cosine, mark)
		}
		if r.FirstDivergence == "" {
			fmt.Fprintf(w, "  every intermediate within %g\n", r.Tol)
		}
	}
	for _, o := range r.ExpectedOutputs {
		fmt.Fprintf(w, "\n%s vs expected %s: %s", o.Name, r.Expected, o.Report.String())
	}
	fmt.Fprintf(w, "\n%s", r.Verdict())
}
