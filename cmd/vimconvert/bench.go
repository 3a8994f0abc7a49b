package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	goruntime "runtime"
	"strconv"
	"strings"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/bench"
)

func init() {
	register(command{
		name:    "bench",
		summary: "time the plugin model against its no-scan floor, LinearAttention and the Go reference",
		run:     runBench,
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
	fs.StringVar(&f.keep, "keep", "", "keep the generated ONNX models in this directory")
	return fs, f
}

func parseIntList(name, s string) ([]int, error) {
	var out []int
	for _, p := range strings.Split(s, ",") {
		p = strings.TrimSpace(p)
		if p == "" {
			continue
		}
		v, err := strconv.Atoi(p)
		if err != nil || v < 1 {
			return nil, fmt.Errorf("--%s: %q is not a positive integer", name, p)
		}
		out = append(out, v)
	}
	if len(out) == 0 && name != "img-size" {
		return nil, fmt.Errorf("--%s: empty list", name)
	}
	return out, nil
}

// runBench is `vimconvert bench`: flags, then bench.Run, printed as a table
// or JSON (or, started as its own worker, bench.RunWorker).
func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == bench.WorkerFlag {
		return bench.RunWorker(args[1:], stdout)
	}
	fs, f := newBenchFlagSet(stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) > 1 || len(pos) == 1 && bench.IsMambaOut(pos[0], f.weights) {
		return benchModels(fs, f, pos, stdout, stderr)
	}
	if len(pos) != 1 {
		return usageError(fs, "want one MODEL.onnx or CKPT.pth argument, got %d", len(pos))
	}
	opts, err := f.options(fs)
	if err != nil {
		return err
	}
	opts.Source = pos[0]
	if _, err := os.Stat(opts.Source); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	if opts.Model, err = bench.LoadModel(opts.Source, f.weights); err != nil {
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
		if !f.json || isTerminal(stderr) {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	records, err := bench.Run(opts)
	if err != nil {
		return err
	}
	if f.json {
		rep := bench.Report{Record: records[0], Machine: bench.MachineInfo(), Warmup: f.warmup, Runs: f.runs, Results: records}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		bench.PrintTable(stdout, records, bench.MachineInfo())
	}
	// A failed measurement is in the output (JSON "errors") and fails the command.
	return bench.Failure(records)
}

// options checks the flags (not the model) and returns the bench options
// they give.
func (f *benchFlags) options(fs *flag.FlagSet) (bench.Options, error) {
	o := bench.Options{Weights: f.weights, Warmup: f.warmup, Runs: f.runs, Rounds: f.rounds, MaxSeconds: f.maxSeconds, Dir: f.keep,
		Variants: map[string]bool{}}
	var err error
	if o.Batches, err = parseIntList("batch", f.batches); err != nil {
		return o, usageError(fs, "%v", err)
	}
	if o.Threads, err = parseIntList("threads", f.threads); err != nil {
		return o, usageError(fs, "%v", err)
	}
	for _, b := range o.Batches {
		if err := checkBatch(b); err != nil {
			return o, usageError(fs, "%v", err)
		}
	}
	for _, t := range o.Threads {
		if err := checkThreads(t); err != nil {
			return o, usageError(fs, "%v", err)
		}
	}
	if o.ImgSizes, err = parseIntList("img-size", f.imgSizes); err != nil {
		return o, usageError(fs, "%v", err)
	}
	for _, v := range strings.Split(f.variants, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		known := false
		for _, a := range bench.AllVariants {
			known = known || a == v
		}
		if !known {
			return o, usageError(fs, "--variants: unknown %q (have %s)", v, strings.Join(bench.AllVariants, ", "))
		}
		o.Variants[v] = true
	}
	switch {
	case len(o.Variants) == 0:
		return o, usageError(fs, "--variants: nothing to measure")
	case f.runs < 1 || f.warmup < 0 || f.rounds < 1:
		return o, usageError(fs, "--runs and --rounds must be ≥ 1 and --warmup ≥ 0")
	case !validWeights(f.weights):
		return o, usageError(fs, "--weights %q: want model or model_ema", f.weights)
	}
	return o, nil
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

// checkThreads refuses a thread count above runtime.MaxThreads.
func checkThreads(t int) error {
	if t > runtime.MaxThreads() {
		return fmt.Errorf("--threads %d: want at most %d (max(64, 4 × %d CPUs))", t, runtime.MaxThreads(), goruntime.NumCPU())
	}
	return nil
}

// checkBatch refuses a batch size above runtime.MaxBatch.
func checkBatch(b int) error {
	if b > runtime.MaxBatch {
		return fmt.Errorf("--batch %d: want at most %d", b, runtime.MaxBatch)
	}
	return nil
}
