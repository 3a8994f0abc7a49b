package bench

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/vimconvert/vimconvert/graph/onnxfile"
)

// This file times plain ONNX models that vimconvert did not make (such as
// the DeiT-T of scripts/export_deit.py) beside the Vim records, each in
// its own worker process like every other measurement.

// PlainRecord is one plain ONNX model timed at one batch × threads, on
// random N(0, 1) images of the model's own fixed input size.
type PlainRecord struct {
	Model      string  `json:"model"`
	ImgSize    int     `json:"img_size"`
	Batch      int     `json:"batch"`
	Threads    int     `json:"threads"`
	MedianMS   float64 `json:"median_ms"`
	PerImageMS float64 `json:"per_image_ms"`
	PeakRSSMB  float64 `json:"peak_rss_mb"`
	Stats      Stats   `json:"stats"`
	Error      string  `json:"error,omitempty"`
}

// plainInput returns the image input of a plain ONNX model: its name and
// its square side, read from the declared shape [batch, 3, S, S].
func plainInput(path string) (name string, size int, err error) {
	mp, err := onnxfile.ReadFile(path)
	if err != nil {
		return "", 0, err
	}
	inits := map[string]bool{}
	for _, t := range mp.GetGraph().GetInitializer() {
		inits[t.GetName()] = true
	}
	var found []string
	for _, in := range mp.GetGraph().GetInput() {
		if inits[in.GetName()] {
			continue
		}
		found = append(found, in.GetName())
		dims := in.GetType().GetTensorType().GetShape().GetDim()
		if len(dims) == 4 && dims[1].GetDimValue() == 3 && dims[2].GetDimValue() > 0 && dims[2].GetDimValue() == dims[3].GetDimValue() {
			name, size = in.GetName(), int(dims[2].GetDimValue())
		}
	}
	if len(found) != 1 || name == "" {
		return "", 0, fmt.Errorf("bench: plain model %s: want one image input [batch, 3, S, S] with a fixed S, have inputs %v", path, found)
	}
	return name, size, nil
}

// RunPlain times every model of paths at every batch × threads of opts
// (Warmup, Runs, Rounds, MaxSeconds, Worker, Progress; Model, Variants and
// ImgSizes are not used), without the plugin. A failed measurement is in
// the record's Error, not returned; a model whose input cannot be read is
// an error before anything is timed.
func RunPlain(opts Options, paths []string) ([]PlainRecord, error) {
	if opts.Progress == nil {
		opts.Progress = func(string, ...any) {}
	}
	type input struct {
		name string
		size int
	}
	ins := make([]input, len(paths))
	for i, p := range paths {
		var err error
		if ins[i].name, ins[i].size, err = plainInput(p); err != nil {
			return nil, err
		}
	}
	var out []PlainRecord
	for i, p := range paths {
		for _, b := range opts.Batches {
			for _, t := range opts.Threads {
				spec := workerSpec{Kind: "onnx", Model: p, Inputs: inputsImage, InputName: ins[i].name, ImgSize: ins[i].size,
					Batch: b, Threads: t, Warmup: opts.Warmup, Runs: opts.Runs, MaxSeconds: opts.MaxSeconds}
				rec := PlainRecord{Model: p, ImgSize: ins[i].size, Batch: b, Threads: t}
				var pooled *workerResult
				for round := 1; round <= max(opts.Rounds, 1) && rec.Error == ""; round++ {
					opts.Progress("bench: plain %s batch %d threads %d round %d/%d ...", p, b, t, round, max(opts.Rounds, 1))
					res, err := runWorker(context.Background(), opts.Worker, spec) // workers are registered with internal/cleanup: an interrupt stops them
					if err != nil {
						rec.Error = err.Error()
						continue
					}
					pooled = pooled.pool(res)
				}
				if rec.Error == "" && pooled != nil {
					rec.Stats = summarize(pooled)
					rec.MedianMS, rec.PeakRSSMB = rec.Stats.MedianMS, rec.Stats.PeakRSSMB
					rec.PerImageMS = rec.MedianMS / float64(b)
				}
				out = append(out, rec)
			}
		}
	}
	return out, nil
}

// PlainFailure returns the first failed plain measurement as an error, or
// nil.
func PlainFailure(rs []PlainRecord) error {
	for _, r := range rs {
		if r.Error != "" {
			return fmt.Errorf("plain %s batch %d threads %d: %s", r.Model, r.Batch, r.Threads, r.Error)
		}
	}
	return nil
}

// PrintPlainTable prints the plain records beside the Vim plugin records of
// the same image size, batch and threads: time and peak RSS, and the
// ratios plain / Vim (speed) and Vim / plain - 1 (memory change).
func PrintPlainTable(w io.Writer, plain []PlainRecord, vim []Record) {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "model\timg\tbatch\tthreads\tms\tpeak RSS MB\tVim ms\tVim peak RSS MB\tmodel/Vim time\tVim memory vs model\t")
	for _, p := range plain {
		vms, vmem, ratio, mem := "-", "-", "-", "-"
		if v := findRecord(vim, p.ImgSize, p.Batch, p.Threads); v != nil && v.PluginMS > 0 && p.MedianMS > 0 {
			vms, vmem = fmt.Sprintf("%.1f", float64(v.PluginMS)), fmt.Sprintf("%.0f", float64(v.PeakRSSMB))
			ratio = fmt.Sprintf("%.2fx", p.MedianMS/float64(v.PluginMS))
			if v.PeakRSSMB > 0 && p.PeakRSSMB > 0 {
				mem = fmt.Sprintf("%+.1f%%", 100*(float64(v.PeakRSSMB)/p.PeakRSSMB-1))
			}
		}
		if p.Error != "" {
			fmt.Fprintf(tw, "%s\t%d\t%d\t%d\tfailed: %s\t\t\t\t\t\t\n", p.Model, p.ImgSize, p.Batch, p.Threads, p.Error)
			continue
		}
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%.1f\t%.0f\t%s\t%s\t%s\t%s\t\n", p.Model, p.ImgSize, p.Batch, p.Threads, p.MedianMS, p.PeakRSSMB, vms, vmem, ratio, mem)
	}
	tw.Flush()
}
