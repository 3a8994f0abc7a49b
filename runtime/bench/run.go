package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/internal/cleanup"
)

// Options describes one benchmark: every batch size × thread count × image
// size of Batches, Threads and ImgSizes, with the wanted Variants.
type Options struct {
	// Source is the benchmarked file: a checkpoint, or an .onnx file
	// exported by vimconvert (its weights are read back for the other
	// variants). Model is Source loaded (see LoadModel).
	Source string
	Model  *convert.Model
	// Weights is the weight set of a training checkpoint (convert.WeightsModel
	// or convert.WeightsEMA) used by the reference variant.
	Weights string
	// Batches, Threads and ImgSizes are the grid; an empty ImgSizes means
	// the model's own size. Each size resamples pos_embed bicubically.
	Batches, Threads, ImgSizes []int
	// Variants is the set of AllVariants to measure.
	Variants map[string]bool
	// Warmup untimed runs, then Runs timed runs per measurement, stopping
	// after MaxSeconds of timed runs (at least 3 runs); every measurement
	// is repeated Rounds times, interleaved, and the runs pooled.
	Warmup, Runs, Rounds int
	MaxSeconds           float64
	// Dir receives the generated models; "" = a temporary directory
	// ($TMPDIR/vimconvert-bench-PID-RAND) removed when Run returns, also
	// on an interrupt (internal/cleanup).
	Dir string
	// Worker is the command that runs one measurement in its own process:
	// the JSON spec is appended as its last argument, and it must call
	// RunWorker with it (`vimconvert bench --internal-worker SPEC`).
	Worker []string
	// Log receives notes (what the plugin variant is); Progress, when
	// set, is called before and after each measurement.
	Log      io.Writer
	Progress func(format string, a ...any)
}

// Run measures every wanted variant over the grid of opts and returns one
// Record per image size × batch × threads, in that nesting order. A failed
// measurement is recorded in the record's Errors (see Failure), not
// returned: the other measurements still run.
func Run(opts Options) ([]Record, error) {
	return RunContext(context.Background(), opts)
}

// RunContext is Run that stops when ctx is done: the running worker is
// killed, the temporary models are removed and ctx's error is returned.
func RunContext(ctx context.Context, opts Options) ([]Record, error) {
	if err := opts.check(); err != nil {
		return nil, err
	}
	if opts.Log == nil {
		opts.Log = io.Discard
	}
	if opts.Progress == nil {
		opts.Progress = func(string, ...any) {}
	}
	base := opts.Model
	sizes := opts.ImgSizes
	if len(sizes) == 0 {
		sizes = []int{base.Config.ImgSize}
	}
	// A given .onnx file is timed as the plugin variant only when it is
	// what bench would build as that variant; otherwise (another scan
	// lowering, the fused conv, extra outputs) the plugin variant is built
	// from its weights like the others.
	givenIsPlugin, pluginNote, err := opts.pluginVariantOfSource()
	if err != nil {
		return nil, err
	}
	dir, done, err := modelDir(opts.Dir)
	if err != nil {
		return nil, err
	}
	defer done()
	var records []Record
	for si, size := range sizes {
		m := *base // shallow copy: ResizePosEmbed replaces pos_embed and the config only
		if err := convert.ResizePosEmbed(&m, size); err != nil {
			return nil, fmt.Errorf("image size %d: %w", size, err)
		}
		timeGiven := givenIsPlugin && size == base.Config.ImgSize
		build := opts.Variants
		if timeGiven {
			build = maps.Clone(opts.Variants)
			delete(build, VariantPlugin) // time the given file itself
		}
		models, err := buildBenchModels(&m, dir, fmt.Sprintf("img%d", size), build, opts.Source)
		if err != nil {
			return nil, err
		}
		if timeGiven {
			models[VariantPlugin] = opts.Source
		}
		for _, b := range opts.Batches {
			for _, t := range opts.Threads {
				rec, err := opts.measureRecord(ctx, m.Config, size, b, t, models)
				if err != nil {
					return nil, err
				}
				if opts.Dir == "" && rec.PluginModel != "" && rec.PluginModel != opts.Source {
					rec.PluginModel = ModelNotKept
				}
				if opts.Variants[VariantPlugin] && onnxfile.IsModelPath(opts.Source) && !givenIsPlugin {
					rec.PluginNote = fmt.Sprintf("%s %s: timed a plugin model built from its weights", opts.Source, pluginNote)
				}
				if first := findRecord(records, sizes[0], b, t); si > 0 && first != nil {
					rec.fillFirstSizeRatios(first)
				}
				records = append(records, rec)
			}
		}
	}
	return records, nil
}

// check refuses options Run cannot measure.
func (o *Options) check() error {
	switch {
	case o.Model == nil:
		return errors.New("bench: no model (load Source with LoadModel)")
	case len(o.Batches) == 0 || len(o.Threads) == 0:
		return errors.New("bench: no batch size or thread count")
	case len(o.Variants) == 0:
		return errors.New("bench: no variant to measure")
	case o.Runs < 1 || o.Warmup < 0 || o.Rounds < 1:
		return fmt.Errorf("bench: runs %d and rounds %d must be ≥ 1 and warm-up %d ≥ 0", o.Runs, o.Rounds, o.Warmup)
	case len(o.Worker) == 0:
		return errors.New("bench: no worker command")
	}
	for v := range o.Variants {
		if !isVariant(v) {
			return fmt.Errorf("bench: unknown variant %q (have %s)", v, strings.Join(AllVariants, ", "))
		}
	}
	for _, b := range append(append([]int(nil), o.Batches...), o.Threads...) {
		if b < 1 {
			return fmt.Errorf("bench: batch sizes and thread counts must be positive, got %d", b)
		}
	}
	return nil
}

// isVariant reports whether v is one of AllVariants.
func isVariant(v string) bool {
	for _, a := range AllVariants {
		if a == v {
			return true
		}
	}
	return false
}

// pluginVariantOfSource reports whether Source is timed as the plugin
// variant itself, and why not (also written to Log).
func (o *Options) pluginVariantOfSource() (bool, string, error) {
	if !onnxfile.IsModelPath(o.Source) || !o.Variants[VariantPlugin] {
		return false, "", nil
	}
	is, note, err := isPluginVariant(o.Source, o.Model)
	if err != nil {
		return false, "", err
	}
	if !is {
		fmt.Fprintf(o.Log, "bench: %s %s: the plugin variant is a model built from its weights (plugin scan, default outputs)\n", o.Source, note)
	}
	return is, note, nil
}

// measureRecord runs every job of one image size × batch × threads,
// Rounds times interleaved, and returns the filled record; the error is
// ctx's when it is done.
func (o *Options) measureRecord(ctx context.Context, c convert.Config, size, b, t int, models map[string]string) (Record, error) {
	rec := Record{Model: o.Source, ImgSize: size, Tokens: c.SeqLen(), Depth: c.Depth, DInner: c.DInner, DState: c.DState, Batch: b, Threads: t,
		Stats: map[string]Stats{}, Errors: map[string]string{}}
	if o.Variants[VariantPlugin] {
		rec.PluginModel = models[VariantPlugin]
	}
	common := workerSpec{ImgSize: size, Batch: b, Threads: t, Warmup: o.Warmup, Runs: o.Runs, MaxSeconds: o.MaxSeconds,
		L: c.SeqLen(), DInner: c.DInner, DState: c.DState}
	jobs := benchJobs(common, models, o.Source, o.Weights, o.Variants)
	pooled := map[string]*workerResult{}
	for round := 1; round <= o.Rounds; round++ {
		for _, j := range jobs {
			if rec.Errors[j.name] != "" {
				continue
			}
			o.Progress("bench: img %d batch %d threads %d round %d/%d: %s ...", size, b, t, round, o.Rounds, j.name)
			res, err := runWorker(ctx, o.Worker, j.spec)
			if ctx.Err() != nil {
				return rec, ctx.Err()
			}
			if err != nil {
				rec.Errors[j.name] = err.Error()
				o.Progress("bench:   %s failed: %v", j.name, err)
				continue
			}
			pooled[j.name] = pooled[j.name].pool(res)
		}
	}
	for name, res := range pooled {
		if rec.Errors[name] == "" {
			rec.Stats[name] = summarize(res)
		}
	}
	rec.fill()
	if len(rec.Errors) == 0 {
		rec.Errors = nil
	}
	return rec, nil
}

// modelDir returns the directory that receives the generated models: dir
// (created if need be), or for "" a temporary one (internal/cleanup, so
// that an interrupt removes it too) that done removes.
func modelDir(dir string) (path string, done func(), err error) {
	if dir != "" {
		return dir, func() {}, os.MkdirAll(dir, 0o755)
	}
	if dir, err = cleanup.MkdirTemp("", "bench"); err != nil {
		return "", nil, err
	}
	return dir, func() { cleanup.Remove(dir) }, nil
}

// fillFirstSizeRatios sets the ratios of r to the record of the first image
// size with the same batch and threads.
func (r *Record) fillFirstSizeRatios(first *Record) {
	if first.PluginUSPerToken > 0 && r.PluginUSPerToken > 0 {
		r.PluginUSPerTokenOverFirstSize = r.PluginUSPerToken / first.PluginUSPerToken
	}
	if first.PeakRSSMB > 0 && r.PeakRSSMB > 0 {
		r.PeakRSSMBOverFirstSize = r.PeakRSSMB / first.PeakRSSMB
	}
}

// Failure returns the first failed measurement of records as an error
// naming its image size, batch, threads and variant, or nil.
func Failure(records []Record) error {
	for _, r := range records {
		for name, e := range r.Errors {
			return fmt.Errorf("img %d batch %d threads %d: %s: %s", r.ImgSize, r.Batch, r.Threads, name, e)
		}
	}
	return nil
}
