package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"slices"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/runtime"
)

func init() {
	register(command{
		name:    "bench",
		summary: "time the plugin model against its no-scan floor, LinearAttention and the Go reference",
		run:     runBench,
	})
}

// Variants measured by bench (--variants).
const (
	variantPlugin  = "plugin"           // the model with the plugin, end to end
	variantFloor   = "floor"            // same graph, scan replaced by one Sum (graph.ScanNoScanFloor)
	variantScan    = "scan"             // the plugin scan op alone on the model's shapes, plus one LinearAttention call and the LinearAttention-lowered scan on the same shapes
	variantLinAttn = "linear-attention" // the model with the scan lowered to com.microsoft.LinearAttention
	variantRef     = "reference"        // the pure-Go reference forward pass (float32)
)

var allVariants = []string{variantPlugin, variantFloor, variantScan, variantLinAttn, variantRef}

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
	fs.StringVar(&f.variants, "variants", strings.Join(allVariants, ","), "what to measure: "+strings.Join(allVariants, ", "))
	addWeightsFlag(fs, &f.weights, "")
	fs.IntVar(&f.warmup, "warmup", 2, "untimed runs before timing")
	fs.IntVar(&f.runs, "runs", 10, "timed runs per measurement")
	fs.Float64Var(&f.maxSeconds, "max-seconds", 20, "stop a measurement after this many seconds of timed runs (at least 3 runs)")
	fs.IntVar(&f.rounds, "rounds", 1, "repeat every measurement this many times, interleaved, and pool the runs (evens out changing load)")
	fs.BoolVar(&f.json, "json", false, "print one JSON object instead of a table")
	fs.StringVar(&f.keep, "keep", "", "keep the generated ONNX models in this directory")
	return fs, f
}

// benchStats summarises one measurement.
type benchStats struct {
	MedianMS float64 `json:"median_ms"`
	MinMS    float64 `json:"min_ms"`
	MaxMS    float64 `json:"max_ms"`
	P10MS    float64 `json:"p10_ms"`
	P90MS    float64 `json:"p90_ms"`
	// CPUMedianMS is the median process CPU time (user+system, all
	// threads) of a run: less sensitive than wall time to other load on the
	// machine, and equal to it for an idle single-threaded run.
	CPUMedianMS float64 `json:"cpu_median_ms"`
	Runs        int     `json:"runs"`
	PeakRSSMB   float64 `json:"peak_rss_mb"`
}

// benchRecord is one batch × threads × image size.
type benchRecord struct {
	Model   string `json:"model"`
	ImgSize int    `json:"img_size"`
	Tokens  int    `json:"tokens"`
	Depth   int    `json:"depth"`
	DInner  int    `json:"d_inner"`
	DState  int    `json:"d_state"`
	Batch   int    `json:"batch"`
	Threads int    `json:"threads"`

	PluginMS              optFloat `json:"plugin_ms"`
	NoScanFloorMS         optFloat `json:"noscan_floor_ms"`
	ScanOnlyMS            optFloat `json:"scan_only_ms"`             // plugin op, both directions of one block
	LinearAttentionCallMS optFloat `json:"linear_attention_call_ms"` // one LinearAttention call: one direction of one block
	LinearAttentionScanMS optFloat `json:"linear_attention_scan_ms"` // LinearAttention lowering of one block's bidirectional scan
	LinearAttentionMS     optFloat `json:"linear_attention_ms"`      // whole model, LinearAttention lowering
	ReferenceMS           optFloat `json:"reference_ms"`
	PeakRSSMB             optFloat `json:"peak_rss_mb"` // plugin variant's process

	PluginOverFloor                optFloat `json:"plugin_over_floor"`
	PluginOverFloorCPU             optFloat `json:"plugin_over_floor_cpu"` // same ratio of median process CPU times
	LinearAttentionOverPlugin      optFloat `json:"linear_attention_over_plugin"`
	LinearAttentionCallOverScanDir optFloat `json:"linear_attention_call_over_scan_direction"` // one LA call / (scan_only/2)
	LinearAttentionCallOverScan    optFloat `json:"linear_attention_call_over_scan"`           // one LA call / scan_only (both directions)
	LinearAttentionScanOverScan    optFloat `json:"linear_attention_scan_over_scan"`
	ReferenceOverPlugin            optFloat `json:"reference_over_plugin"`
	ScanShareOfPlugin              optFloat `json:"scan_share_of_plugin"`                // depth·scan_only / plugin
	ScanGUpdatesPerSecPerCore      optFloat `json:"scan_g_state_updates_per_s_per_core"` // batch·L·d_inner·N·2 / scan_only / threads
	PluginUSPerToken               optFloat `json:"plugin_us_per_token"`                 // plugin_ms / (batch·tokens)
	PluginUSPerTokenOverFirstSize  optFloat `json:"plugin_us_per_token_over_first_size"`
	PeakRSSMBOverFirstSize         optFloat `json:"peak_rss_over_first_size"`

	// PluginModel is the ONNX file timed as the plugin variant: the given
	// file itself, or one built from its weights (PluginNote says why).
	PluginModel string `json:"plugin_model,omitempty"`
	PluginNote  string `json:"plugin_note,omitempty"`

	Stats  map[string]benchStats `json:"stats"`
	Errors map[string]string     `json:"errors,omitempty"`
}

// optFloat is a measurement or ratio of a bench record; 0 means "not
// measured" and is written as JSON null, so that every key is always present
// (a stable key set) whichever variants were measured.
type optFloat float64

// MarshalJSON writes null for 0 (not measured) and for non-finite values.
func (v optFloat) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// benchReport is the --json object: the fields of the first record at top
// level (the only one when a single batch, thread count and size are given)
// plus every record in Results.
type benchReport struct {
	benchRecord
	Machine benchMachine  `json:"machine"`
	Warmup  int           `json:"warmup"`
	Runs    int           `json:"runs_requested"`
	Results []benchRecord `json:"results"`
}

type benchMachine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	ORTVersion string `json:"onnxruntime"`
	GoVersion  string `json:"go"`
	LoadAvg    string `json:"loadavg_at_start"`
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

func runBench(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == benchWorkerFlag {
		return runBenchWorker(args[1:], stdout)
	}
	fs, f := newBenchFlagSet(stderr)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		return usageError(fs, "want one MODEL.onnx or CKPT.pth argument, got %d", len(pos))
	}
	batches, err := parseIntList("batch", f.batches)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	threads, err := parseIntList("threads", f.threads)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	for _, b := range batches {
		if err := checkBatch(b); err != nil {
			return usageError(fs, "%v", err)
		}
	}
	for _, t := range threads {
		if err := checkThreads(t); err != nil {
			return usageError(fs, "%v", err)
		}
	}
	sizes, err := parseIntList("img-size", f.imgSizes)
	if err != nil {
		return usageError(fs, "%v", err)
	}
	want := map[string]bool{}
	for _, v := range strings.Split(f.variants, ",") {
		v = strings.TrimSpace(v)
		if v == "" {
			continue
		}
		known := false
		for _, a := range allVariants {
			known = known || a == v
		}
		if !known {
			return usageError(fs, "--variants: unknown %q (have %s)", v, strings.Join(allVariants, ", "))
		}
		want[v] = true
	}
	if len(want) == 0 {
		return usageError(fs, "--variants: nothing to measure")
	}
	if f.runs < 1 || f.warmup < 0 || f.rounds < 1 {
		return usageError(fs, "--runs and --rounds must be ≥ 1 and --warmup ≥ 0")
	}
	if !validWeights(f.weights) {
		return usageError(fs, "--weights %q: want model or model_ema", f.weights)
	}
	source := pos[0]
	if _, err := os.Stat(source); err != nil {
		return fmt.Errorf("model: %w", err)
	}
	isONNX := strings.HasSuffix(strings.ToLower(source), ".onnx")
	base, err := loadBenchModel(source, f.weights)
	if err != nil {
		return err
	}
	if len(sizes) == 0 {
		sizes = []int{base.Config.ImgSize}
	}
	// Every size (and its input) is checked before anything is timed.
	resized := make([]convert.Model, len(sizes))
	for i, size := range sizes {
		resized[i] = *base // shallow copy: ResizePosEmbed replaces pos_embed and the config only
		if err := convert.ResizePosEmbed(&resized[i], size); err != nil {
			return fmt.Errorf("--img-size %d: %w", size, err)
		}
		for _, b := range batches {
			if err := checkInputSize(b, max(base.Config.InChans, 1), size); err != nil {
				return usageError(fs, "--batch %d --img-size %d: %v", b, size, err)
			}
		}
	}
	// A given .onnx file is timed as the plugin variant only when it is
	// what bench would build as that variant; otherwise (another scan
	// lowering, the fused conv, extra outputs) the plugin variant is built
	// from its weights like the others.
	givenIsPlugin, pluginNote := false, ""
	if isONNX && want[variantPlugin] {
		givenIsPlugin, pluginNote, err = isPluginVariant(source, base)
		if err != nil {
			return err
		}
		if !givenIsPlugin {
			fmt.Fprintf(stderr, "bench: %s %s: the plugin variant is a model built from its weights (plugin scan, default outputs)\n", source, pluginNote)
		}
	}
	exe, err := os.Executable()
	if err != nil {
		return fmt.Errorf("bench: cannot re-execute itself: %w", err)
	}

	dir := f.keep
	if dir == "" {
		dir, err = os.MkdirTemp("", "vimconvert-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}

	progress := func(format string, a ...any) {
		if !f.json || isTerminal(stderr) {
			fmt.Fprintf(stderr, format+"\n", a...)
		}
	}
	var records []benchRecord
	for si, size := range sizes {
		m := &resized[si]
		c := m.Config
		build := want
		if givenIsPlugin && size == base.Config.ImgSize {
			build = maps.Clone(want)
			delete(build, variantPlugin) // time the given file itself
		}
		models, err := buildBenchModels(m, dir, fmt.Sprintf("img%d", size), build, source)
		if err != nil {
			return err
		}
		if givenIsPlugin && size == base.Config.ImgSize {
			models[variantPlugin] = source
		}
		for _, b := range batches {
			for _, t := range threads {
				rec := benchRecord{Model: source, ImgSize: size, Tokens: c.SeqLen(), Depth: c.Depth, DInner: c.DInner, DState: c.DState, Batch: b, Threads: t,
					Stats: map[string]benchStats{}, Errors: map[string]string{}}
				if want[variantPlugin] {
					rec.PluginModel = models[variantPlugin]
					if isONNX && !givenIsPlugin {
						rec.PluginNote = fmt.Sprintf("%s %s: timed a plugin model built from its weights", source, pluginNote)
					}
				}
				common := workerSpec{ImgSize: size, Batch: b, Threads: t, Warmup: f.warmup, Runs: f.runs, MaxSeconds: f.maxSeconds,
					L: c.SeqLen(), DInner: c.DInner, DState: c.DState}
				jobs := benchJobs(common, models, source, f.weights, want)
				pooled := map[string]*workerResult{}
				for round := 1; round <= f.rounds; round++ {
					for _, j := range jobs {
						if rec.Errors[j.name] != "" {
							continue
						}
						progress("bench: img %d batch %d threads %d round %d/%d: %s ...", size, b, t, round, f.rounds, j.name)
						res, err := runWorker(exe, j.spec)
						if err != nil {
							rec.Errors[j.name] = err.Error()
							progress("bench:   %s failed: %v", j.name, err)
							continue
						}
						if p := pooled[j.name]; p != nil {
							p.TimesMS = append(p.TimesMS, res.TimesMS...)
							p.CPUMS = append(p.CPUMS, res.CPUMS...)
							p.PeakRSSMB = max(p.PeakRSSMB, res.PeakRSSMB)
						} else {
							pooled[j.name] = res
						}
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
				if si > 0 {
					first := findRecord(records, sizes[0], b, t)
					if first != nil && first.PluginUSPerToken > 0 && rec.PluginUSPerToken > 0 {
						rec.PluginUSPerTokenOverFirstSize = rec.PluginUSPerToken / first.PluginUSPerToken
					}
					if first != nil && first.PeakRSSMB > 0 && rec.PeakRSSMB > 0 {
						rec.PeakRSSMBOverFirstSize = rec.PeakRSSMB / first.PeakRSSMB
					}
				}
				records = append(records, rec)
			}
		}
	}
	if f.json {
		rep := benchReport{benchRecord: records[0], Machine: machineInfo(), Warmup: f.warmup, Runs: f.runs, Results: records}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printBenchTable(stdout, records, machineInfo())
	}
	// A failed measurement is in the output (JSON "errors") and fails the command.
	for _, r := range records {
		for name, e := range r.Errors {
			return fmt.Errorf("img %d batch %d threads %d: %s: %s", r.ImgSize, r.Batch, r.Threads, name, e)
		}
	}
	return nil
}

func findRecord(rs []benchRecord, size, batch, threads int) *benchRecord {
	for i := range rs {
		if rs[i].ImgSize == size && rs[i].Batch == batch && rs[i].Threads == threads {
			return &rs[i]
		}
	}
	return nil
}

// Resource limits of bench and verify: ONNX Runtime makes one thread per
// --threads and the input is batch×C×H×W float32 (each further buffer of
// the model scales with it).
const (
	maxBatch       = 1024
	maxInputFloats = 1 << 28 // 1 GiB of float32 input
)

// maxThreads is the largest --threads accepted: max(64, 4 × CPUs).
func maxThreads() int { return max(64, 4*goruntime.NumCPU()) }

// checkThreads refuses a thread count above maxThreads.
func checkThreads(t int) error {
	if t > maxThreads() {
		return fmt.Errorf("--threads %d: want at most %d (max(64, 4 × %d CPUs))", t, maxThreads(), goruntime.NumCPU())
	}
	return nil
}

// checkBatch refuses a batch size above maxBatch.
func checkBatch(b int) error {
	if b > maxBatch {
		return fmt.Errorf("--batch %d: want at most %d", b, maxBatch)
	}
	return nil
}

// checkInputSize refuses an input batch of more than maxInputFloats values.
func checkInputSize(batch, chans, img int) error {
	if n := int64(batch) * int64(chans) * int64(img) * int64(img); n > maxInputFloats {
		return fmt.Errorf("an input of %d×%d×%d×%d = %d floats is over the limit of %d (2^28): use a smaller batch or image", batch, chans, img, img, n, maxInputFloats)
	}
	return nil
}

// isPluginVariant reports whether the vimconvert model at path (read back as
// m) is what bench builds as its plugin variant: the plugin scan, the ONNX
// Conv depthwise convs and only the default outputs. Otherwise the reason
// is returned ("has scan lowering linear-attention", ...).
func isPluginVariant(path string, m *convert.Model) (bool, string, error) {
	mp, err := readONNXModel(path)
	if err != nil {
		return false, "", err
	}
	meta := map[string]string{}
	for _, p := range mp.GetMetadataProps() {
		meta[p.GetKey()] = p.GetValue()
	}
	if s := meta[graph.MetaScan]; s != graph.ScanPlugin {
		return false, fmt.Sprintf("has scan lowering %q (metadata %s), not %q", s, graph.MetaScan, graph.ScanPlugin), nil
	}
	if c := meta[graph.MetaDepthwiseConv]; c != "" && c != graph.ConvONNX {
		return false, fmt.Sprintf("has depthwise conv %q (metadata %s); the other variants use %q", c, graph.MetaDepthwiseConv, graph.ConvONNX), nil
	}
	std, err := graph.Build(m, graph.Options{})
	if err != nil {
		return false, "", fmt.Errorf("bench: build the plugin model of %s: %w", path, err)
	}
	var have, want []string
	for _, o := range mp.GetGraph().GetOutput() {
		have = append(have, o.GetName())
	}
	for _, o := range std.GetGraph().GetOutput() {
		want = append(want, o.GetName())
	}
	if !slices.Equal(have, want) {
		return false, fmt.Sprintf("has outputs %v, not only %v", have, want), nil
	}
	return true, "", nil
}

// Stats keys of the scan sub-measurements.
const (
	statScanOnly = "scan_only"
	statLACall   = "linear_attention_call"
	statLAScan   = "linear_attention_scan"
)

// buildBenchModels writes the ONNX models the wanted variants need and
// returns their paths by variant / stats key. A model whose path is one of
// inputs (the benchmarked file, kept in --keep DIR under a generated name)
// is refused rather than overwritten.
func buildBenchModels(m *convert.Model, dir, tag string, want map[string]bool, inputs ...string) (map[string]string, error) {
	out := map[string]string{}
	c := m.Config
	write := func(key string, mp *onnxpb.ModelProto, err error) error {
		if err != nil {
			return fmt.Errorf("bench: build %s model: %w", key, err)
		}
		p := filepath.Join(dir, tag+"_"+strings.ReplaceAll(key, "-", "_")+".onnx")
		if err := checkOutput(p, "model.onnx", inputs...); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if err := graph.WriteFile(mp, p); err != nil {
			return err
		}
		out[key] = p
		return nil
	}
	type item struct {
		key, lowering string
	}
	for _, it := range []item{{variantPlugin, graph.ScanPlugin}, {variantFloor, graph.ScanNoScanFloor}, {variantLinAttn, graph.ScanLinearAttention}} {
		if !want[it.key] {
			continue
		}
		mp, err := graph.Build(m, graph.Options{Scan: it.lowering})
		if err := write(it.key, mp, err); err != nil {
			return nil, err
		}
	}
	if want[variantScan] {
		if c.BimambaType != convert.BimambaV2 {
			return nil, fmt.Errorf("bench: the scan-only measurement needs a bimamba v2 model (this one is %q); leave out --variants scan", c.BimambaType)
		}
		mp, err := graph.BuildScanOnly(c.SeqLen(), c.DInner, c.DState, graph.ScanPlugin)
		if err := write(statScanOnly, mp, err); err != nil {
			return nil, err
		}
		mp, err = graph.BuildScanOnly(c.SeqLen(), c.DInner, c.DState, graph.ScanLinearAttention)
		if err := write(statLAScan, mp, err); err != nil {
			return nil, err
		}
		mp, err = graph.BuildLinearAttentionCall(c.SeqLen(), c.DInner, c.DState)
		if err := write(statLACall, mp, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

type benchJob struct {
	name string
	spec workerSpec
}

// benchJobs lists the worker runs of one batch × threads × size, in a
// fixed order.
func benchJobs(common workerSpec, models map[string]string, source, weights string, want map[string]bool) []benchJob {
	var jobs []benchJob
	onnx := func(name string, plugin bool, inputs string) {
		s := common
		s.Kind, s.Model, s.Plugin, s.Inputs = "onnx", models[name], plugin, inputs
		jobs = append(jobs, benchJob{name, s})
	}
	if want[variantPlugin] {
		onnx(variantPlugin, true, inputsImage)
	}
	if want[variantFloor] {
		onnx(variantFloor, false, inputsImage)
	}
	if want[variantScan] {
		onnx(statScanOnly, true, inputsScan)
		onnx(statLACall, false, inputsLinAttn)
		onnx(statLAScan, false, inputsScan)
	}
	if want[variantLinAttn] {
		onnx(variantLinAttn, false, inputsImage)
	}
	if want[variantRef] {
		s := common
		s.Kind, s.Source, s.Weights = "reference", source, weights
		jobs = append(jobs, benchJob{variantRef, s})
	}
	return jobs
}

// runWorker re-executes exe as a bench worker for spec and returns its
// timings.
func runWorker(exe string, spec workerSpec) (*workerResult, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, "bench", benchWorkerFlag, string(js))
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("worker: %w: %s", err, strings.TrimSpace(errb.String()))
	}
	var res workerResult
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		return nil, fmt.Errorf("worker output %q: %w", out.String(), err)
	}
	if res.Error != "" {
		return nil, errors.New(res.Error)
	}
	if len(res.TimesMS) == 0 {
		return nil, errors.New("worker timed no run")
	}
	return &res, nil
}

// summarize turns the (pooled) timings of one measurement into stats.
func summarize(res *workerResult) benchStats {
	return benchStats{
		MedianMS: quantile(res.TimesMS, 0.5), MinMS: quantile(res.TimesMS, 0), MaxMS: quantile(res.TimesMS, 1),
		P10MS: quantile(res.TimesMS, 0.1), P90MS: quantile(res.TimesMS, 0.9),
		CPUMedianMS: quantile(res.CPUMS, 0.5), Runs: len(res.TimesMS), PeakRSSMB: res.PeakRSSMB,
	}
}

// fill copies the medians into the named fields and computes the ratios.
func (r *benchRecord) fill() {
	med := func(k string) optFloat { return optFloat(r.Stats[k].MedianMS) }
	r.PluginMS = med(variantPlugin)
	r.NoScanFloorMS = med(variantFloor)
	r.ScanOnlyMS = med(statScanOnly)
	r.LinearAttentionCallMS = med(statLACall)
	r.LinearAttentionScanMS = med(statLAScan)
	r.LinearAttentionMS = med(variantLinAttn)
	r.ReferenceMS = med(variantRef)
	r.PeakRSSMB = optFloat(r.Stats[variantPlugin].PeakRSSMB)
	ratio := func(a, b optFloat) optFloat {
		if a <= 0 || b <= 0 {
			return 0
		}
		return a / b
	}
	r.PluginOverFloor = ratio(r.PluginMS, r.NoScanFloorMS)
	r.PluginOverFloorCPU = ratio(optFloat(r.Stats[variantPlugin].CPUMedianMS), optFloat(r.Stats[variantFloor].CPUMedianMS))
	r.LinearAttentionOverPlugin = ratio(r.LinearAttentionMS, r.PluginMS)
	r.LinearAttentionCallOverScanDir = ratio(r.LinearAttentionCallMS, r.ScanOnlyMS/2)
	r.LinearAttentionCallOverScan = ratio(r.LinearAttentionCallMS, r.ScanOnlyMS)
	r.LinearAttentionScanOverScan = ratio(r.LinearAttentionScanMS, r.ScanOnlyMS)
	r.ReferenceOverPlugin = ratio(r.ReferenceMS, r.PluginMS)
	r.ScanShareOfPlugin = ratio(optFloat(r.Depth)*r.ScanOnlyMS, r.PluginMS)
	if r.ScanOnlyMS > 0 {
		// The plugin op does both directions: 2·batch·L·d_inner·N state updates.
		updates := 2 * float64(r.Batch) * float64(r.Tokens) * float64(r.DInner) * float64(r.DState)
		r.ScanGUpdatesPerSecPerCore = optFloat(updates / (float64(r.ScanOnlyMS) / 1000) / float64(r.Threads) / 1e9)
	}
	r.PluginUSPerToken = ratio(r.PluginMS*1000, optFloat(r.Batch*r.Tokens))
}

func machineInfo() benchMachine {
	m := benchMachine{Cores: goruntime.NumCPU(), GoVersion: goruntime.Version(), ORTVersion: runtime.ORTVersion}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.CPU = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

func printBenchTable(w io.Writer, rs []benchRecord, mi benchMachine) {
	fmt.Fprintf(w, "machine: %s, %d cores, ONNX Runtime %s, %s, load %s (%s)\n",
		mi.CPU, mi.Cores, mi.ORTVersion, mi.GoVersion, mi.LoadAvg, time.Now().UTC().Format(time.RFC3339))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "img\ttokens\tbatch\tthreads\tplugin ms\tfloor ms\tplugin/floor\tscan op ms\tG upd/s/core\tLA call ms\tLA call/scan dir\tLA model ms\tLA/plugin\treference ms\tref/plugin\tµs/token\tpeak RSS MB\t")
	f := func(v optFloat, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, float64(v))
	}
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%d\t%d\t%d\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t\n",
			r.ImgSize, r.Tokens, r.Batch, r.Threads,
			f(r.PluginMS, "%.2f"), f(r.NoScanFloorMS, "%.2f"), f(r.PluginOverFloor, "%.2fx"),
			f(r.ScanOnlyMS, "%.3f"), f(r.ScanGUpdatesPerSecPerCore, "%.2f"),
			f(r.LinearAttentionCallMS, "%.3f"), f(r.LinearAttentionCallOverScanDir, "%.1fx"),
			f(r.LinearAttentionMS, "%.1f"), f(r.LinearAttentionOverPlugin, "%.1fx"),
			f(r.ReferenceMS, "%.1f"), f(r.ReferenceOverPlugin, "%.1fx"),
			f(r.PluginUSPerToken, "%.2f"), f(r.PeakRSSMB, "%.0f"))
	}
	tw.Flush()
}
