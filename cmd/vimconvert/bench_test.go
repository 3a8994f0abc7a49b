package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/modeltest"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/ortenv"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/runtime/bench"
)

// TestMain lets `bench` re-execute the test binary as its worker: a worker
// is started as `<exe> bench --internal-worker SPEC`.
func TestMain(m *testing.M) {
	if len(os.Args) > 2 && os.Args[1] == "bench" && os.Args[2] == bench.WorkerFlag {
		os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
	}
	ortenv.UseCheckout()
	os.Exit(m.Run())
}

// needORT skips when ONNX Runtime or the plugin is truly absent.
func needORT(t *testing.T) {
	t.Helper()
	if err := runtime.Init(""); errors.Is(err, runtime.ErrLibraryMissing) {
		t.Skipf("ONNX Runtime library absent: %v", err)
	} else if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(runtime.DefaultPluginPath()); err != nil {
		t.Skipf("vimconvert plugin not built (%s): run `make plugin`", runtime.DefaultPluginPath())
	}
}

// tinyONNX exports a tiny synthetic Vim (16×16 images, 4×4 patches: 17 tokens).
func tinyONNX(t *testing.T) (*convert.Model, string) {
	t.Helper()
	m := graphtest.Model(graphtest.Spec{Seed: 3})
	return m, modeltest.File(t, m, graph.Options{})
}

func TestBenchFlagErrors(t *testing.T) {
	_, p := tinyONNX(t)
	cases := []refusal{
		{"no model", nil, 2, "want one MODEL.onnx"},
		{"bad batch", []string{p, "--batch", "1,x"}, 2, `"x" is not a positive integer`},
		{"zero threads", []string{p, "--threads", "0"}, 2, `"0" is not a positive integer`},
		{"unknown variant", []string{p, "--variants", "plugin,gpu"}, 2, `unknown "gpu"`},
		{"bad weights", []string{p, "--weights", "ema"}, 2, "want model or model_ema"},
		{"zero runs", []string{p, "--runs", "0"}, 2, "--runs and --rounds must be"},
		{"ORT makes one thread per --threads: 100000 would exhaust memory", []string{p, "--threads", "1,100000"}, 2, "--threads 100000: want at most"},
		{"just above the thread cap", []string{p, "--threads", fmt.Sprint(runtime.MaxThreads() + 1)}, 2, fmt.Sprintf("want at most %d", runtime.MaxThreads())},
		{"batch above 1024", []string{p, "--batch", "1025"}, 2, "--batch 1025: want at most 1024"},
		{"batch × image over 2^28 input floats", []string{p, "--batch", "1024", "--img-size", "16,300"}, 2, "over the limit of 268435456"},
	}
	checkRefusals(t, "bench", cases)
	// An image size that does not fit the patch grid fails before
	// anything is measured, wherever it is in the list.
	var out, errb bytes.Buffer
	if code := run([]string{"bench", p, "--img-size", "16,24,18", "--variants", "plugin"}, &out, &errb); code != 1 ||
		!strings.Contains(errb.String(), "--img-size 18") || strings.Contains(errb.String(), "round") {
		t.Errorf("img-size 16,24,18: exit %d, stderr %q (want the error on 18 before any timing)", code, errb.String())
	}
}

// TestBenchJSONTinyModel runs every variant once on a tiny model at two
// image sizes, two batch sizes and one thread, and checks the JSON report.
func TestBenchJSONTinyModel(t *testing.T) {
	needORT(t)
	m, p := tinyONNX(t)
	var out, errb bytes.Buffer
	args := []string{"bench", p, "--json", "--runs", "1", "--warmup", "0", "--batch", "1,2", "--threads", "1", "--img-size", "16,24"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	var top map[string]any
	if err := json.Unmarshal(out.Bytes(), &top); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	for _, k := range []string{"model", "batch", "threads", "plugin_ms", "noscan_floor_ms", "scan_only_ms",
		"linear_attention_ms", "standard_ms", "reference_ms", "peak_rss_mb", "plugin_over_floor", "linear_attention_over_plugin"} {
		if _, ok := top[k]; !ok {
			t.Errorf("top-level key %q missing", k)
		}
	}
	var rep bench.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if len(rep.Results) != 4 {
		t.Fatalf("%d results, want 4 (2 sizes × 2 batches)", len(rep.Results))
	}
	wantTokens := map[int]int{16: m.Config.SeqLen(), 24: 6*6 + 1} // (24-4)/4+1 = 6 per side, middle cls
	for _, r := range rep.Results {
		if len(r.Errors) > 0 {
			t.Errorf("img %d batch %d: errors %v", r.ImgSize, r.Batch, r.Errors)
		}
		if r.Tokens != wantTokens[r.ImgSize] {
			t.Errorf("img %d: %d tokens, want %d", r.ImgSize, r.Tokens, wantTokens[r.ImgSize])
		}
		for name, v := range map[string]bench.OptFloat{"plugin": r.PluginMS, "floor": r.NoScanFloorMS, "scan": r.ScanOnlyMS,
			"la call": r.LinearAttentionCallMS, "la scan": r.LinearAttentionScanMS, "la": r.LinearAttentionMS,
			"reference": r.ReferenceMS, "rss": r.PeakRSSMB, "standard": r.StandardMS, "standard rss": r.StandardPeakRSSMB} {
			if !(v > 0) || math.IsInf(float64(v), 0) {
				t.Errorf("img %d batch %d: %s = %g, want > 0", r.ImgSize, r.Batch, name, v)
			}
		}
		if math.Abs(float64(r.PluginOverFloor-r.PluginMS/r.NoScanFloorMS)) > 1e-9 ||
			math.Abs(float64(r.LinearAttentionOverPlugin-r.LinearAttentionMS/r.PluginMS)) > 1e-9 ||
			math.Abs(float64(r.StandardOverPlugin-r.StandardMS/r.PluginMS)) > 1e-9 {
			t.Errorf("ratios inconsistent with the times: %+v", r)
		}
		wantUpd := 2 * float64(r.Batch*r.Tokens*r.DInner*r.DState) / (float64(r.ScanOnlyMS) / 1000) / 1e9
		if math.Abs(float64(r.ScanGUpdatesPerSecPerCore)-wantUpd) > 1e-9*wantUpd {
			t.Errorf("G updates/s %g, want %g", r.ScanGUpdatesPerSecPerCore, wantUpd)
		}
		if r.ImgSize == 24 && !(r.PluginUSPerTokenOverFirstSize > 0) {
			t.Errorf("img 24: no per-token ratio to the first size")
		}
		st := r.Stats[bench.VariantPlugin]
		if st.Runs != 1 || st.MinMS > st.MedianMS || st.MedianMS > st.MaxMS {
			t.Errorf("plugin stats %+v", st)
		}
	}
	if rep.Results[0].Model != p || rep.Batch != 1 || rep.ImgSize != 16 {
		t.Errorf("top-level record is not the first result: %+v", rep.Record)
	}
}

// TestBenchTableCheckpoint runs the text table on a checkpoint (converted on
// the fly) with a subset of the variants.
func TestBenchTableCheckpoint(t *testing.T) {
	needORT(t)
	ckpt := filepath.Join("..", "..", "fixtures", "vim_t_d2", "checkpoint.pth")
	if _, err := os.Stat(ckpt); err != nil {
		t.Fatalf("bundled fixture missing: %v", err)
	}
	var out, errb bytes.Buffer
	args := []string{"bench", ckpt, "--runs", "1", "--warmup", "0", "--variants", "plugin,floor"}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("exit %d: %s", code, errb.String())
	}
	s := out.String()
	if !strings.Contains(s, "plugin/floor") || !strings.Contains(s, " 197 ") {
		t.Errorf("table does not show the ratio or the 197 tokens:\n%s", s)
	}
}

// TestBenchRebuildsPluginVariant converts the bundled vim_t_d2 checkpoint
// with the LinearAttention lowering and checks that bench does not time that
// file as the plugin variant: it builds one from its weights and says so, and
// the JSON keeps every key (null for what was not measured).
func TestBenchRebuildsPluginVariant(t *testing.T) {
	needORT(t)
	ckpt := filepath.Join("..", "..", "fixtures", "vim_t_d2", "checkpoint.pth")
	la := filepath.Join(t.TempDir(), "la.onnx")
	var out, errb bytes.Buffer
	if code := run([]string{"convert", ckpt, "--scan", string(graph.ScanLinearAttention), "-o", la}, &out, &errb); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	keep := t.TempDir()
	args := []string{"bench", la, "--json", "--runs", "1", "--warmup", "0", "--variants", "plugin", "--keep", keep}
	if code := run(args, &out, &errb); code != 0 {
		t.Fatalf("bench: exit %d: %s", code, errb.String())
	}
	if !strings.Contains(errb.String(), `has scan lowering "linear-attention"`) {
		t.Errorf("stderr does not say the plugin variant was rebuilt: %q", errb.String())
	}
	var top map[string]any
	if err := json.Unmarshal(out.Bytes(), &top); err != nil {
		t.Fatalf("output is not one JSON object: %v\n%s", err, out.String())
	}
	if pm, _ := top["plugin_model"].(string); pm == "" || pm == la || filepath.Dir(pm) != keep {
		t.Errorf("plugin_model %q: want a model built in %s, not the given %s", pm, keep, la)
	}
	if note, _ := top["plugin_note"].(string); !strings.Contains(note, "built from its weights") {
		t.Errorf("plugin_note %q does not say what was timed", note)
	}
	if v, ok := top["plugin_ms"].(float64); !ok || !(v > 0) {
		t.Errorf("plugin_ms = %v, want > 0", top["plugin_ms"])
	}
	for _, k := range []string{"model", "batch", "threads", "plugin_ms", "noscan_floor_ms", "scan_only_ms",
		"linear_attention_ms", "standard_ms", "reference_ms", "peak_rss_mb", "plugin_over_floor", "linear_attention_over_plugin"} {
		if _, ok := top[k]; !ok {
			t.Errorf("key %q missing with --variants plugin", k)
		}
	}
	for _, k := range []string{"noscan_floor_ms", "scan_only_ms", "linear_attention_ms", "standard_ms", "reference_ms", "plugin_over_floor", "linear_attention_over_plugin"} {
		if v, ok := top[k]; ok && v != nil {
			t.Errorf("%s = %v, want null (not measured)", k, v)
		}
	}

	// The plugin export itself is timed as it is.
	plain := filepath.Join(t.TempDir(), "plugin.onnx")
	out.Reset()
	errb.Reset()
	if code := run([]string{"convert", ckpt, "-o", plain}, &out, &errb); code != 0 {
		t.Fatalf("convert: exit %d: %s", code, errb.String())
	}
	out.Reset()
	errb.Reset()
	if code := run([]string{"bench", plain, "--json", "--runs", "1", "--warmup", "0", "--variants", "plugin"}, &out, &errb); code != 0 {
		t.Fatalf("bench: exit %d: %s", code, errb.String())
	}
	var rep bench.Report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatal(err)
	}
	if rep.PluginModel != plain || rep.PluginNote != "" {
		t.Errorf("plugin export: plugin_model %q note %q, want the given file and no note", rep.PluginModel, rep.PluginNote)
	}
}

// TestBenchPlotRefusedBeforeTiming: a --plot path that is one of the
// benchmarked files (a model, a second model of bench A B, a --plain
// model), a directory, or in a missing folder is refused before anything
// is measured, and the file is left as it was (a plot written over the
// model used to replace it with an SVG after the timing).
func TestBenchPlotRefusedBeforeTiming(t *testing.T) {
	_, p := tinyONNX(t)
	orig, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	p2 := filepath.Join(dir, "second.onnx")
	if err := os.WriteFile(p2, orig, 0o644); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name, want string
		args       []string
	}{
		{"the model", "is the input", []string{p, "--variants", "plugin", "--plot", p}},
		{"a --plain model", "is the input", []string{p, "--variants", "plugin", "--plain", p2, "--plot", p2}},
		{"the second model of bench A B", "is the input", []string{p, p2, "--plot", p2}},
		{"a directory", "is a directory", []string{p, "--variants", "plugin", "--plot", dir}},
		{"a missing folder", "output directory", []string{p, "--variants", "plugin", "--plot", filepath.Join(dir, "nope", "s.svg")}},
	}
	for _, tc := range cases {
		var out, errb bytes.Buffer
		code := run(append([]string{"bench", "--max-seconds", "0.1"}, tc.args...), &out, &errb)
		if code != 1 || !strings.Contains(errb.String(), "--plot") || !strings.Contains(errb.String(), tc.want) || out.Len() > 0 {
			t.Errorf("%s: exit %d, stdout %q, stderr %q (want exit 1 naming --plot: %q, before any timing)", tc.name, code, out.String(), errb.String(), tc.want)
		}
	}
	for _, f := range []string{p, p2} {
		if b, err := os.ReadFile(f); err != nil || !bytes.Equal(b, orig) {
			t.Errorf("%s changed by bench --plot (err %v)", f, err)
		}
	}
}
