package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/internal/progress"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/bench"
)

func init() {
	register(command{
		name:       "bench",
		summary:    "time the plugin model against its no-scan floor, LinearAttention and the Go reference",
		runContext: runBench,
	})
}

// benchFlags are the flags of `vimconvert bench`.
type benchFlags struct {
	batches    string
	threads    string
	imgSizes   string
	variants   string
	weights    string
	warmup     int
	runs       int
	maxSeconds float64
	rounds     int
	json       bool
	keep       string
	plain      string
	plot       string
}

func newBenchFlagSet(stderr io.Writer) (*flag.FlagSet, *benchFlags) {
	f := &benchFlags{}
	fs := newFlagSet("bench", stderr, `Usage: vimconvert bench MODEL.onnx|CKPT.pth [flags]
       vimconvert bench A B ... [flags]  (Vim or MambaOut: each end to end, side by side)

Times, in one run and side by side, for every batch size × thread count ×
image size:
  plugin            the model with the vimconvert plugin, end to end
  floor             the same graph with each scan replaced by one Sum of its
                    inputs (what the model would cost with a free scan)
  scan              the plugin's scan op alone on one block's shapes, one
                    com.microsoft.LinearAttention call (one direction) and the
                    LinearAttention lowering of the bidirectional scan
  linear-attention  the model with the scan lowered to LinearAttention
                    (stock ONNX Runtime, no plugin)
  standard          the model with the scan lowered to standard ONNX ops only
                    (one ONNX Scan per block; any opset-17 runtime)
  reference         the pure-Go reference forward pass (float32)
Each is measured in its own process (warm-up, then timed runs: median and
spread, peak RSS). A checkpoint is converted on the fly; an ONNX file must
come from vimconvert (its weights are read back for the other variants). The
given file is timed as the plugin variant only when it is one (plugin scan,
ONNX Conv depthwise convs, default outputs); otherwise a plugin model is built
from its weights, as stderr and the JSON "plugin_note" say.
Limits: --threads at most max(64, 4 × CPUs), --batch at most 1024 and
batch×3×H×W at most 2^28 input floats. In --json every measurement and ratio
key is always present: null when not measured.`)
	fs.StringVar(&f.batches, "batch", "1", "comma-separated batch sizes (each at most 1024)")
	fs.StringVar(&f.threads, "threads", "1", "comma-separated thread counts (ONNX Runtime intra-op threads; reference goroutines)")
	fs.StringVar(&f.imgSizes, "img-size", "", "comma-separated image sizes; the position embedding is resampled bicubically to each (default: the model's own)")
	fs.StringVar(&f.variants, "variants", strings.Join(bench.AllVariants, ","), "what to measure: "+strings.Join(bench.AllVariants, ", "))
	addWeightsFlag(fs, &f.weights, "")
	fs.IntVar(&f.warmup, "warmup", 2, "untimed runs before timing")
	fs.IntVar(&f.runs, "runs", 10, "timed runs per measurement")
	fs.Float64Var(&f.maxSeconds, "max-seconds", 20, "stop a measurement after this many seconds of timed runs (at least 3 runs)")
	fs.IntVar(&f.rounds, "rounds", 1, "repeat every measurement this many times, interleaved, and pool the runs (evens out changing load)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of a table")
	fs.StringVar(&f.keep, "keep", "", "keep the generated ONNX models in this directory (without it they are removed and --json says plugin_model \"not kept\")")
	fs.StringVar(&f.plain, "plain", "", "comma-separated plain ONNX models (not made by vimconvert, e.g. scripts/export_deit.py's) to time beside, each at its own input size, without the plugin")
	fs.StringVar(&f.plot, "plot", "", "write an SVG plot of time per image and peak RSS against image size (Vim plugin and --plain models, or every model of bench A B ...) to this file")
	return fs, f
}

// runBench is `vimconvert bench`: flags, then bench.Run, printed as a table
// or JSON (or, started as its own worker, bench.RunWorker).
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == bench.WorkerFlag {
		return bench.RunWorker(args[1:], stdout)
	}
	fs, f, pos, err := parseCommand(newBenchFlagSet, args, stderr)
	if err != nil {
		return err
	}
	srcs := bench.ReadSources(pos, f.weights) // each file read once, here
	if len(srcs) > 1 || len(srcs) == 1 && srcs[0].MambaOut {
		return benchModels(fs, f, srcs, pos, stdout, stderr)
	}
	if len(pos) != 1 {
		return usageError(fs, "want one MODEL.onnx or CKPT.pth argument, got %d", len(pos))
	}
	opts, err := f.options(fs, pos)
	if err != nil {
		return err
	}
	opts.Source = pos[0]
	if _, err := os.Stat(opts.Source); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if opts.Model, err = srcs[0].Model(f.weights); err != nil {
		return err
	}
	if err := checkBenchSizes(fs, opts); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: cannot re-execute itself: %w", err)
	}
	opts.Worker = []string{exe, "bench", bench.WorkerFlag}
	opts.Log = stderr
	opts.Progress = func(format string, a ...any) {
		if !f.json || progress.IsTerminal(stderr) {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	mi := bench.MachineInfo() // its load average is the one at the start
	records, err := bench.RunContext(ctx, opts)
	if err != nil {
		return err
	}
	var plain []bench.PlainRecord
	if f.plain != "" {
		if plain, err = bench.RunPlain(opts, strings.Split(f.plain, ",")); err != nil {
			return err
		}
	}
	if f.json {
		rep := bench.Report{Record: records[0], Machine: mi, Warmup: f.warmup, Runs: f.runs, Results: records, Plain: plain}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		bench.PrintTable(stdout, records, mi)
		if len(plain) > 0 {
			fmt.Fprintln(stdout)
			bench.PrintPlainTable(stdout, plain, records)
		}
	}
	if f.plot != "" { // after the table: a plot that cannot be written loses no measurement
		err = errors.Join(err, bench.PlotSweep(f.plot, records, plain))
	}
	// A failed measurement is in the output (JSON "errors") and fails the command.
	return errors.Join(err, bench.Failure(records), bench.PlainFailure(plain))
}

// options checks the flags (not the model; --plot against the models in
// pos and --plain) and returns the bench options they give.
func (f *benchFlags) options(fs *flag.FlagSet, pos []string) (bench.Options, error) {
	o := bench.Options{Weights: f.weights, Warmup: f.warmup, Runs: f.runs, Rounds: f.rounds, MaxSeconds: f.maxSeconds, Dir: f.keep}
	var errs [4]error
	o.Batches, errs[0] = bench.ParseList("batch", f.batches, false)
	o.Threads, errs[1] = bench.ParseList("threads", f.threads, false)
	o.ImgSizes, errs[2] = bench.ParseList("img-size", f.imgSizes, true)
	o.Variants, errs[3] = bench.ParseVariants(f.variants)
	if err := cmp.Or(errs[0], errs[1], errs[2], errs[3], o.Check()); err != nil {
		return o, usageError(fs, "%v", err)
	}
	return o, bench.CheckPlot(f.plot, append(slices.Clone(pos), strings.Split(f.plain, ",")...)...)
}

// checkBenchSizes checks, before anything is timed, that the model resizes
// to every --img-size and that each batch of each size is within the input
// limit.
func checkBenchSizes(fs *flag.FlagSet, o bench.Options) error {
	base := o.Model
	for _, size := range o.ImgSizes {
		m := *base // shallow copy: ResizePosEmbed replaces pos_embed and the config only
		if err := convert.ResizePosEmbed(&m, size); err != nil {
			return fmt.Errorf("--img-size %d: %w", size, err)
		}
		for _, b := range o.Batches {
			if err := runtime.CheckInputSize(b, max(base.Config.InChans, 1), size); err != nil {
				return usageError(fs, "--batch %d --img-size %d: %v", b, size, err)
			}
		}
	}
	return nil
}
