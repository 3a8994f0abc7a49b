// Package bench is the benchmark harness of vimconvert: it times a model
// with the plugin against its no-scan floor, the scan op alone, the
// LinearAttention lowering and the pure-Go reference, each measurement in
// its own process (so that each peak RSS is its own), and reports medians,
// spreads and ratios (Record, PrintTable). It is the library behind
// `vimconvert bench`; it does not parse flags, and its results are
// measurements of the machine it runs on, never constants of the API.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
	"github.com/vimconvert/vimconvert/internal/cleanup"
)

// Variants measured by Run (Options.Variants).
const (
	VariantPlugin          = "plugin"           // the model with the plugin, end to end
	VariantFloor           = "floor"            // same graph, scan replaced by one Sum (graph.ScanNoScanFloor)
	VariantScan            = "scan"             // the plugin scan op alone on the model's shapes, plus one LinearAttention call and the LinearAttention-lowered scan on the same shapes
	VariantLinearAttention = "linear-attention" // the model with the scan lowered to com.microsoft.LinearAttention
	VariantStandard        = "standard"         // the model with the scan lowered to standard ONNX ops only (graph.ScanStandard)
	VariantReference       = "reference"        // the pure-Go reference forward pass (float32)
	VariantFloat16         = "float16"          // the plugin model built with graph.DTypeFloat16
	VariantBFloat16        = "bfloat16"         // the plugin model built with graph.DTypeBFloat16
)

// AllVariants lists every variant, in the order they are measured.
var AllVariants = []string{VariantPlugin, VariantFloor, VariantScan, VariantLinearAttention, VariantStandard, VariantReference, VariantFloat16, VariantBFloat16}

// Stats summarises one measurement.
type Stats struct {
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

// Record is one batch × threads × image size.
type Record struct {
	Model   string `json:"model"`
	ImgSize int    `json:"img_size"`
	Tokens  int    `json:"tokens"`
	Depth   int    `json:"depth"`
	DInner  int    `json:"d_inner"`
	DState  int    `json:"d_state"`
	Batch   int    `json:"batch"`
	Threads int    `json:"threads"`

	PluginMS              OptFloat `json:"plugin_ms"`
	NoScanFloorMS         OptFloat `json:"noscan_floor_ms"`
	ScanOnlyMS            OptFloat `json:"scan_only_ms"`             // plugin op, both directions of one block
	LinearAttentionCallMS OptFloat `json:"linear_attention_call_ms"` // one LinearAttention call: one direction of one block
	LinearAttentionScanMS OptFloat `json:"linear_attention_scan_ms"` // LinearAttention lowering of one block's bidirectional scan
	LinearAttentionMS     OptFloat `json:"linear_attention_ms"`      // whole model, LinearAttention lowering
	StandardMS            OptFloat `json:"standard_ms"`              // whole model, standard-ops lowering
	StandardPeakRSSMB     OptFloat `json:"standard_peak_rss_mb"`     // standard variant's process
	ReferenceMS           OptFloat `json:"reference_ms"`
	Float16MS             OptFloat `json:"float16_ms"`  // whole model, graph.DTypeFloat16, plugin
	BFloat16MS            OptFloat `json:"bfloat16_ms"` // whole model, graph.DTypeBFloat16, plugin
	PeakRSSMB             OptFloat `json:"peak_rss_mb"` // plugin variant's process

	PluginOverFloor                OptFloat `json:"plugin_over_floor"`
	PluginOverFloorCPU             OptFloat `json:"plugin_over_floor_cpu"` // same ratio of median process CPU times
	LinearAttentionOverPlugin      OptFloat `json:"linear_attention_over_plugin"`
	StandardOverPlugin             OptFloat `json:"standard_over_plugin"`
	StandardOverLinearAttention    OptFloat `json:"standard_over_linear_attention"`
	LinearAttentionCallOverScanDir OptFloat `json:"linear_attention_call_over_scan_direction"` // one LA call / (scan_only/2)
	LinearAttentionCallOverScan    OptFloat `json:"linear_attention_call_over_scan"`           // one LA call / scan_only (both directions)
	LinearAttentionScanOverScan    OptFloat `json:"linear_attention_scan_over_scan"`
	ReferenceOverPlugin            OptFloat `json:"reference_over_plugin"`
	Float16OverPlugin              OptFloat `json:"float16_over_plugin"`
	BFloat16OverPlugin             OptFloat `json:"bfloat16_over_plugin"`
	ScanShareOfPlugin              OptFloat `json:"scan_share_of_plugin"`                // depth·scan_only / plugin
	ScanGUpdatesPerSecPerCore      OptFloat `json:"scan_g_state_updates_per_s_per_core"` // batch·L·d_inner·N·2 / scan_only / threads
	PluginUSPerToken               OptFloat `json:"plugin_us_per_token"`                 // plugin_ms / (batch·tokens)
	PluginUSPerTokenOverFirstSize  OptFloat `json:"plugin_us_per_token_over_first_size"`
	PeakRSSMBOverFirstSize         OptFloat `json:"peak_rss_over_first_size"`

	// PluginModel is the ONNX file timed as the plugin variant: the given
	// file itself, or one built from its weights (PluginNote says why) in
	// Options.Dir; ModelNotKept when it was built in the temporary
	// directory that Run removes.
	PluginModel string `json:"plugin_model,omitempty"`
	PluginNote  string `json:"plugin_note,omitempty"`

	Stats  map[string]Stats  `json:"stats"`
	Errors map[string]string `json:"errors,omitempty"`
}

// OptFloat is a measurement or ratio of a bench record; 0 means "not
// measured" and is written as JSON null, so that every key is always present
// (a stable key set) whichever variants were measured.
type OptFloat float64

// MarshalJSON writes null for 0 (not measured) and for non-finite values.
func (v OptFloat) MarshalJSON() ([]byte, error) {
	f := float64(v)
	if f == 0 || math.IsNaN(f) || math.IsInf(f, 0) {
		return []byte("null"), nil
	}
	return strconv.AppendFloat(nil, f, 'g', -1, 64), nil
}

// Report is the JSON form of a run: the fields of the first record at top
// level (the only one when a single batch, thread count and size are given)
// plus every record in Results.
type Report struct {
	Record
	Machine Machine  `json:"machine"`
	Warmup  int      `json:"warmup"`
	Runs    int      `json:"runs_requested"`
	Results []Record `json:"results"`
	// Plain holds the plain ONNX models timed beside (RunPlain); absent
	// when none were given, so a single-model report keeps its keys.
	Plain []PlainRecord `json:"plain,omitempty"`
}

// Machine describes where a run was measured.
type Machine struct {
	CPU        string `json:"cpu"`
	Cores      int    `json:"cores"`
	ORTVersion string `json:"onnxruntime"` // of the library loaded (MachineInfo)
	GoVersion  string `json:"go"`
	LoadAvg    string `json:"loadavg_at_start"`
}

// findRecord returns the record of size, batch and threads in rs, or nil.
func findRecord(rs []Record, size, batch, threads int) *Record {
	for i := range rs {
		if rs[i].ImgSize == size && rs[i].Batch == batch && rs[i].Threads == threads {
			return &rs[i]
		}
	}
	return nil
}

// isPluginVariant reports whether the vimconvert model at path (read back as
// m) is what bench builds as its plugin variant: the plugin scan, the ONNX
// Conv depthwise convs and only the default outputs. Otherwise the reason
// is returned ("has scan lowering linear-attention", ...).
func isPluginVariant(path string, m *convert.Model) (bool, string, error) {
	mp, err := onnxfile.ReadFile(path)
	if err != nil {
		return false, "", err
	}
	meta := onnxfile.Metadata(mp)
	if s := meta[graph.MetaScan]; s != string(graph.ScanPlugin) {
		return false, fmt.Sprintf("has scan lowering %q (metadata %s), not %q", s, graph.MetaScan, graph.ScanPlugin), nil
	}
	if c := meta[graph.MetaDepthwiseConv]; c != "" && c != string(graph.ConvONNX) {
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
// inputs (the benchmarked file, kept in Options.Dir under a generated name)
// is refused rather than overwritten.
func buildBenchModels(m *convert.Model, dir, tag string, want map[string]bool, inputs ...string) (map[string]string, error) {
	out := map[string]string{}
	c := m.Config
	write := func(key string, mp *onnxpb.ModelProto, err error) error {
		if err != nil {
			return fmt.Errorf("bench: build %s model: %w", key, err)
		}
		p := filepath.Join(dir, tag+"_"+strings.ReplaceAll(key, "-", "_")+".onnx")
		if err := graph.CheckOutput(p, "model.onnx", inputs...); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
		if err := graph.WriteFile(mp, p); err != nil {
			return err
		}
		out[key] = p
		return nil
	}
	builds := []struct {
		key   string
		build func(*convert.Model) (*onnxpb.ModelProto, error)
	}{
		{VariantPlugin, func(m *convert.Model) (*onnxpb.ModelProto, error) { return graph.Build(m, graph.Options{}) }},
		{VariantFloor, benchgraph.NoScanFloorModel},
		{VariantLinearAttention, func(m *convert.Model) (*onnxpb.ModelProto, error) {
			return graph.Build(m, graph.Options{Scan: graph.ScanLinearAttention})
		}},
		{VariantStandard, func(m *convert.Model) (*onnxpb.ModelProto, error) {
			return graph.Build(m, graph.Options{Scan: graph.ScanStandard})
		}},
		{VariantFloat16, func(m *convert.Model) (*onnxpb.ModelProto, error) {
			return graph.Build(m, graph.Options{DType: graph.DTypeFloat16})
		}},
		{VariantBFloat16, func(m *convert.Model) (*onnxpb.ModelProto, error) {
			return graph.Build(m, graph.Options{DType: graph.DTypeBFloat16})
		}},
	}
	for _, it := range builds {
		if !want[it.key] {
			continue
		}
		mp, err := it.build(m)
		if err := write(it.key, mp, err); err != nil {
			return nil, err
		}
	}
	if want[VariantScan] {
		if c.BimambaType != convert.BimambaV2 {
			return nil, fmt.Errorf("bench: the scan-only measurement needs a bimamba v2 model (this one is %q); leave out --variants scan", c.BimambaType)
		}
		mp, err := benchgraph.ScanOnly(c.SeqLen(), c.DInner, c.DState, string(graph.ScanPlugin))
		if err := write(statScanOnly, mp, err); err != nil {
			return nil, err
		}
		mp, err = benchgraph.ScanOnly(c.SeqLen(), c.DInner, c.DState, string(graph.ScanLinearAttention))
		if err := write(statLAScan, mp, err); err != nil {
			return nil, err
		}
		mp, err = benchgraph.LinearAttentionCall(c.SeqLen(), c.DInner, c.DState)
		if err := write(statLACall, mp, err); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// benchJob is one worker run: the stats key it fills and its spec.
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
	if want[VariantPlugin] {
		onnx(VariantPlugin, true, inputsImage)
	}
	if want[VariantFloor] {
		onnx(VariantFloor, false, inputsImage)
	}
	if want[VariantScan] {
		onnx(statScanOnly, true, inputsScan)
		onnx(statLACall, false, inputsLinAttn)
		onnx(statLAScan, false, inputsScan)
	}
	if want[VariantLinearAttention] {
		onnx(VariantLinearAttention, false, inputsImage)
	}
	if want[VariantStandard] {
		onnx(VariantStandard, false, inputsImage)
	}
	for _, v := range []string{VariantFloat16, VariantBFloat16} {
		if want[v] {
			onnx(v, true, inputsImage)
		}
	}
	if want[VariantReference] {
		s := common
		s.Kind, s.Source, s.Weights = "reference", source, weights
		jobs = append(jobs, benchJob{VariantReference, s})
	}
	return jobs
}

// ModelNotKept stands in Record.PluginModel for a model that Run built
// in its temporary directory and removed (Options.Dir keeps them).
const ModelNotKept = "not kept"

// runWorker runs the worker command for spec (its JSON appended as the
// last argument) and returns its timings. The worker is killed when ctx is
// done, and is registered with internal/cleanup so that an interrupt
// kills it too.
func runWorker(ctx context.Context, worker []string, spec workerSpec) (*workerResult, error) {
	js, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, worker[0], append(worker[1:], string(js))...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = time.Second // a killed worker's children must not hold Wait on its pipes
	if err := cleanup.Start(cmd); err != nil {
		return nil, fmt.Errorf("worker: %w", err)
	}
	err = cmd.Wait()
	cleanup.Forget(cmd)
	if ctx.Err() != nil {
		return nil, ctx.Err()
	}
	if err != nil {
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
func summarize(res *workerResult) Stats {
	return Stats{
		MedianMS: quantile(res.TimesMS, 0.5), MinMS: quantile(res.TimesMS, 0), MaxMS: quantile(res.TimesMS, 1),
		P10MS: quantile(res.TimesMS, 0.1), P90MS: quantile(res.TimesMS, 0.9),
		CPUMedianMS: quantile(res.CPUMS, 0.5), Runs: len(res.TimesMS), PeakRSSMB: res.PeakRSSMB,
	}
}

// fill copies the medians into the named fields and computes the ratios.
func (r *Record) fill() {
	med := func(k string) OptFloat { return OptFloat(r.Stats[k].MedianMS) }
	r.PluginMS = med(VariantPlugin)
	r.NoScanFloorMS = med(VariantFloor)
	r.ScanOnlyMS = med(statScanOnly)
	r.LinearAttentionCallMS = med(statLACall)
	r.LinearAttentionScanMS = med(statLAScan)
	r.LinearAttentionMS = med(VariantLinearAttention)
	r.StandardMS = med(VariantStandard)
	r.StandardPeakRSSMB = OptFloat(r.Stats[VariantStandard].PeakRSSMB)
	r.ReferenceMS = med(VariantReference)
	r.Float16MS = med(VariantFloat16)
	r.BFloat16MS = med(VariantBFloat16)
	r.PeakRSSMB = OptFloat(r.Stats[VariantPlugin].PeakRSSMB)
	ratio := func(a, b OptFloat) OptFloat {
		if a <= 0 || b <= 0 {
			return 0
		}
		return a / b
	}
	r.PluginOverFloor = ratio(r.PluginMS, r.NoScanFloorMS)
	r.PluginOverFloorCPU = ratio(OptFloat(r.Stats[VariantPlugin].CPUMedianMS), OptFloat(r.Stats[VariantFloor].CPUMedianMS))
	r.LinearAttentionOverPlugin = ratio(r.LinearAttentionMS, r.PluginMS)
	r.StandardOverPlugin = ratio(r.StandardMS, r.PluginMS)
	r.Float16OverPlugin = ratio(r.Float16MS, r.PluginMS)
	r.BFloat16OverPlugin = ratio(r.BFloat16MS, r.PluginMS)
	r.StandardOverLinearAttention = ratio(r.StandardMS, r.LinearAttentionMS)
	r.LinearAttentionCallOverScanDir = ratio(r.LinearAttentionCallMS, r.ScanOnlyMS/2)
	r.LinearAttentionCallOverScan = ratio(r.LinearAttentionCallMS, r.ScanOnlyMS)
	r.LinearAttentionScanOverScan = ratio(r.LinearAttentionScanMS, r.ScanOnlyMS)
	r.ReferenceOverPlugin = ratio(r.ReferenceMS, r.PluginMS)
	r.ScanShareOfPlugin = ratio(OptFloat(r.Depth)*r.ScanOnlyMS, r.PluginMS)
	if r.ScanOnlyMS > 0 {
		// The plugin op does both directions: 2·batch·L·d_inner·N state updates.
		updates := 2 * float64(r.Batch) * float64(r.Tokens) * float64(r.DInner) * float64(r.DState)
		r.ScanGUpdatesPerSecPerCore = OptFloat(updates / (float64(r.ScanOnlyMS) / 1000) / float64(r.Threads) / 1e9)
	}
	r.PluginUSPerToken = ratio(r.PluginMS*1000, OptFloat(r.Batch*r.Tokens))
}
