package bench

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/arch"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
)

// CompareRecord is one model, end to end, at one image size × batch ×
// threads of Compare: a Vim model with the plugin (the plugin variant of
// Run), a MambaOut model as exported (standard ONNX ops).
type CompareRecord struct {
	Model        string   `json:"model"`        // the source as given
	Architecture string   `json:"architecture"` // arch.Vim or arch.MambaOut
	Params       int64    `json:"params"`       // initializer elements of the timed model at the first size
	ImgSize      int      `json:"img_size"`
	Batch        int      `json:"batch"`
	Threads      int      `json:"threads"`
	Stats        Stats    `json:"stats"`
	MedianMS     OptFloat `json:"median_ms"`
	PeakRSSMB    OptFloat `json:"peak_rss_mb"`
	// OverFirstModel is MedianMS over that of the first source at the same
	// size, batch and threads.
	OverFirstModel OptFloat `json:"ms_over_first_model"`
	TimedModel     string   `json:"timed_model"` // the ONNX file timed
	// ImgSizeNote says where ImgSize came from when it was not asked for
	// (no --img-size) and is not the default: the evaluation size a
	// MambaOut training checkpoint's args (or the model exported from one)
	// record. PrintCompare lists it under "assumed".
	ImgSizeNote string `json:"img_size_note,omitempty"`
	Error       string `json:"error,omitempty"`
}

// compareSource is one model of Compare, ready to be timed at any size.
type compareSource struct {
	path, arch string
	params     int64
	vim        *convert.Model // Vim: rebuilt with the plugin at each size
	onnx       string         // MambaOut: one model of dynamic H and W
	evalSize   int            // MambaOut: the evaluation size its recipe records
}

// Compare times every source (a checkpoint or an ONNX file exported by
// vimconvert, Vim or MambaOut, as ReadSources read it: a file is not read
// again) end to end, side by side: for each image
// size × batch × threads of opts (ImgSizes empty: the first source's own
// size: a Vim model's, a MambaOut model's evaluation size, 224 or what a
// training checkpoint's args record, said in each record's ImgSizeNote
// and to Progress), each model in its own worker process, Rounds
// times interleaved. A Vim model is the plugin variant of Run, its
// pos_embed resampled to each size; a MambaOut model runs at any size as
// exported. Only the grid, Warmup, Runs, Rounds, MaxSeconds, Weights, Dir,
// Worker and Progress of opts are used. A failed measurement is recorded
// in its record's Error (see CompareFailure), not returned.
func Compare(sources []*Source, opts Options) ([]CompareRecord, error) {
	if len(sources) == 0 {
		return nil, errors.New("bench: no model to compare")
	}
	opts.Model, opts.Variants = &convert.Model{}, map[string]bool{VariantPlugin: true}
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Progress == nil {
		opts.Progress = func(string, ...any) {}
	}
	dir, done, err := modelDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	defer done()
	srcs := make([]*compareSource, len(sources))
	inputs := make([]string, len(sources)) // never overwritten by a generated model
	for i, src := range sources {
		inputs[i] = src.Path
	}
	for i, src := range sources {
		s, err := loadCompareSource(src, opts.Weights, dir, fmt.Sprintf("m%d", i), inputs)
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", src.Path, err)
		}
		srcs[i] = s
	}
	sizes, note := opts.ImgSizes, ""
	if len(sizes) == 0 {
		sizes, note = srcs[0].ownSize()
		if note != "" {
			opts.Progress("bench: assumed: %s", note)
		}
	}
	var records []CompareRecord
	for si, size := range sizes {
		paths := make([]string, len(srcs))
		for i, s := range srcs {
			var err error
			if paths[i], err = s.modelAt(size, dir, fmt.Sprintf("m%d", i), inputs, si == 0); err != nil {
				return nil, fmt.Errorf("bench: %s at image size %d: %w", s.path, size, err)
			}
		}
		for _, b := range opts.Batches {
			for _, t := range opts.Threads {
				for _, r := range opts.compareGroup(srcs, paths, size, b, t) {
					r.ImgSizeNote = note
					records = append(records, r)
				}
			}
		}
	}
	return records, nil
}

// loadCompareSource prepares one source read by ReadSource: for MambaOut
// the ONNX model to time (a checkpoint is exported into dir first), for
// Vim the model, from what src read.
func loadCompareSource(src *Source, weights, dir, tag string, inputs []string) (*compareSource, error) {
	path := src.Path
	s := &compareSource{path: path}
	if src.err != nil {
		return nil, src.err
	}
	if src.MambaOut && src.model != nil {
		var pre mambaout.Preprocess // absent: the default size
		if js, ok := onnxfile.Metadata(src.model)[graph.MetaPreprocess]; ok {
			if err := json.Unmarshal([]byte(js), &pre); err != nil {
				return nil, fmt.Errorf("metadata %s: %w", graph.MetaPreprocess, err)
			}
		}
		s.arch, s.onnx, s.params, s.evalSize = arch.MambaOut, path, onnxfile.ParamCount(src.model), pre.InputSize
		return s, nil
	}
	if src.MambaOut {
		m, _, err := mambaout.Load(path, mambaout.Options{Weights: convert.Weights(weights)})
		if err != nil {
			return nil, err
		}
		mp, err := graph.BuildMambaOut(m, graph.MambaOutOptions{})
		if err != nil {
			return nil, err
		}
		s.arch, s.onnx, s.params, s.evalSize = arch.MambaOut, filepath.Join(dir, tag+"_mambaout.onnx"), onnxfile.ParamCount(mp), m.Preprocess.InputSize
		if err := graph.CheckOutput(s.onnx, "model.onnx", inputs...); err != nil {
			return nil, err
		}
		return s, graph.WriteFile(mp, s.onnx)
	}
	m, err := src.Model(weights)
	if err != nil {
		return nil, err
	}
	s.arch, s.vim = arch.Vim, m
	return s, nil
}

// ownSize is the image size to time s at when none is asked for: a Vim
// model's own, a MambaOut model's evaluation size (the released models'
// 224, or what a training checkpoint's args record, then with a note
// saying so).
func (s *compareSource) ownSize() ([]int, string) {
	def := mambaout.EvalPreprocess.InputSize
	switch {
	case s.vim != nil:
		return []int{s.vim.Config.ImgSize}, ""
	case s.evalSize > 0 && s.evalSize != def:
		what := "the training checkpoint's args record"
		if onnxfile.IsModelPath(s.path) {
			what = "the model records (from its training checkpoint's args)"
		}
		return []int{s.evalSize}, fmt.Sprintf("image size %d: the evaluation size %s (the released models: %d; --img-size to time others)", s.evalSize, what, def)
	}
	return []int{def}, ""
}

// modelAt returns the ONNX file of s to time at image size: the MambaOut
// model itself, or the Vim model resized and built with the plugin (its
// parameters counted when first is set).
func (s *compareSource) modelAt(size int, dir, tag string, inputs []string, first bool) (string, error) {
	if s.vim == nil {
		return s.onnx, nil
	}
	m := *s.vim // shallow copy: ResizePosEmbed replaces pos_embed and the config only
	if err := convert.ResizePosEmbed(&m, size); err != nil {
		return "", err
	}
	models, err := buildBenchModels(&m, dir, fmt.Sprintf("%s_img%d", tag, size), map[string]bool{VariantPlugin: true}, inputs...)
	if err != nil {
		return "", err
	}
	p := models[VariantPlugin]
	if first {
		mp, err := onnxfile.ReadFile(p)
		if err != nil {
			return "", err
		}
		s.params = onnxfile.ParamCount(mp)
	}
	return p, nil
}

// compareGroup times every source at one size × batch × threads, Rounds
// times interleaved, and returns their records in source order.
func (o *Options) compareGroup(srcs []*compareSource, paths []string, size, b, t int) []CompareRecord {
	recs := make([]CompareRecord, len(srcs))
	pooled := make([]*workerResult, len(srcs))
	for round := 1; round <= o.Rounds; round++ {
		for i, s := range srcs {
			if recs[i].Error != "" {
				continue
			}
			o.Progress("bench: img %d batch %d threads %d round %d/%d: %s (%s) ...", size, b, t, round, o.Rounds, s.path, s.arch)
			spec := workerSpec{Kind: "onnx", Model: paths[i], Plugin: s.vim != nil, Inputs: inputsImage,
				ImgSize: size, Batch: b, Threads: t, Warmup: o.Warmup, Runs: o.Runs, MaxSeconds: o.MaxSeconds}
			res, err := runWorker(context.Background(), o.Worker, spec) // workers are registered with internal/cleanup: an interrupt stops them
			if err != nil {
				recs[i].Error = err.Error()
				o.Progress("bench:   %s failed: %v", s.path, err)
				continue
			}
			pooled[i] = pooled[i].pool(res)
		}
	}
	for i, s := range srcs {
		r := &recs[i]
		r.Model, r.Architecture, r.Params, r.ImgSize, r.Batch, r.Threads, r.TimedModel = s.path, s.arch, s.params, size, b, t, paths[i]
		if r.Error == "" && pooled[i] != nil {
			r.Stats = summarize(pooled[i])
			r.MedianMS, r.PeakRSSMB = OptFloat(r.Stats.MedianMS), OptFloat(r.Stats.PeakRSSMB)
		}
		if recs[0].MedianMS > 0 && r.MedianMS > 0 {
			r.OverFirstModel = r.MedianMS / recs[0].MedianMS
		}
	}
	return recs
}

// CompareFailure returns the first failed measurement of records as an
// error naming the model, image size, batch and threads, or nil.
func CompareFailure(records []CompareRecord) error {
	for _, r := range records {
		if r.Error != "" {
			return fmt.Errorf("%s at img %d batch %d threads %d: %s", r.Model, r.ImgSize, r.Batch, r.Threads, r.Error)
		}
	}
	return nil
}

// CompareReport is the JSON `vimconvert bench A B ...` prints.
type CompareReport struct {
	Machine Machine         `json:"machine"`
	Warmup  int             `json:"warmup"`
	Runs    int             `json:"runs"`
	Results []CompareRecord `json:"results"`
}

// PrintCompare writes the records as an aligned text table headed by the
// machine line (and, when the image size was assumed, an "assumed:" line
// with its ImgSizeNote), or with asJSON as one indented CompareReport.
func PrintCompare(w io.Writer, rs []CompareRecord, mi Machine, opts Options, asJSON bool) error {
	if asJSON {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(CompareReport{Machine: mi, Warmup: opts.Warmup, Runs: opts.Runs, Results: rs})
	}
	fmt.Fprintf(w, "machine: %s, %d cores, ONNX Runtime %s, %s, load %s (%s)\n",
		mi.CPU, mi.Cores, mi.ORTVersion, mi.GoVersion, mi.LoadAvg, time.Now().UTC().Format(time.RFC3339))
	if len(rs) > 0 && rs[0].ImgSizeNote != "" {
		fmt.Fprintf(w, "assumed: %s\n", rs[0].ImgSizeNote)
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "img\tbatch\tthreads\tmodel\tarch\tparams\tmedian ms\tp10-p90 ms\tCPU ms\truns\tvs first\tpeak RSS MB\t")
	for _, r := range rs {
		if r.Error != "" {
			fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%.2fM\tfailed: %s\t\t\t\t\t\t\n", r.ImgSize, r.Batch, r.Threads, r.Model, r.Architecture, float64(r.Params)/1e6, r.Error)
			continue
		}
		fmt.Fprintf(tw, "%d\t%d\t%d\t%s\t%s\t%.2fM\t%.1f\t%.1f-%.1f\t%.1f\t%d\t%.2fx\t%.0f\t\n", r.ImgSize, r.Batch, r.Threads, r.Model, r.Architecture,
			float64(r.Params)/1e6, r.Stats.MedianMS, r.Stats.P10MS, r.Stats.P90MS, r.Stats.CPUMedianMS, r.Stats.Runs, float64(r.OverFirstModel), r.Stats.PeakRSSMB)
	}
	return tw.Flush()
}
