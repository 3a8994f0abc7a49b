package bench

import (
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/modeltest"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
)

// TestIsPluginVariant checks which given .onnx files bench times as its
// plugin variant: only the model it would build itself.
func TestIsPluginVariant(t *testing.T) {
	m := graphtest.Model(graphtest.Spec{Seed: 5})
	check := func(reason, p string, want bool, wantWhy string) {
		t.Helper()
		got, why, err := isPluginVariant(p, m)
		if err != nil || got != want || !strings.Contains(why, wantWhy) || (want && why != "") {
			t.Errorf("%s: isPluginVariant = %v, %q, %v; want %v, %q", reason, got, why, err, want, wantWhy)
		}
	}
	cases := []struct {
		reason string
		opts   graph.Options
		want   bool
		why    string
	}{
		{"the default export is the plugin variant", graph.Options{}, true, ""},
		{"explicit plugin scan and ONNX Conv", graph.Options{Scan: graph.ScanPlugin, DepthwiseConv: graph.ConvONNX}, true, ""},
		{"LinearAttention lowering is another variant", graph.Options{Scan: graph.ScanLinearAttention}, false, "scan lowering"},
		{"per-layer outputs cost time", graph.Options{PerLayer: true}, false, "has outputs"},
		{"a features output costs time", graph.Options{Features: true}, false, "has outputs"},
		{"the fused conv differs from the other variants' convs", graph.Options{DepthwiseConv: graph.ConvPlugin}, false, "depthwise conv"},
	}
	for _, tc := range cases {
		check(tc.reason, modeltest.File(t, m, tc.opts), tc.want, tc.why)
	}
	floor, err := benchgraph.NoScanFloorModel(m)
	if err != nil {
		t.Fatal(err)
	}
	check("the no-scan floor is not the plugin model", modeltest.Write(t, floor), false, "scan lowering")
}

// TestOptFloatJSON checks that an unmeasured value is null and a measured
// one a number, and that null reads back as 0.
func TestOptFloatJSON(t *testing.T) {
	cases := []struct {
		reason string
		v      OptFloat
		want   string
	}{
		{"not measured", 0, "null"},
		{"NaN has no JSON form", OptFloat(math.NaN()), "null"},
		{"a measurement", 1.25, "1.25"},
	}
	for _, tc := range cases {
		b, err := json.Marshal(tc.v)
		if err != nil || string(b) != tc.want {
			t.Errorf("%s: %s, %v; want %s", tc.reason, b, err, tc.want)
		}
	}
	var r Record
	if err := json.Unmarshal([]byte(`{"plugin_ms": null, "noscan_floor_ms": 2.5}`), &r); err != nil || r.PluginMS != 0 || r.NoScanFloorMS != 2.5 {
		t.Errorf("read back: %v, %+v", err, r)
	}
}

// TestPlainInput reads the image input of ONNX files: a fixed-size model
// gives its name and side; a dynamic-size one (no fixed side) is refused.
func TestPlainInput(t *testing.T) {
	m := graphtest.Model(graphtest.Spec{Seed: 3})
	tests := []struct {
		reason   string
		opts     graph.Options
		wantSize int
		wantErr  string
	}{
		{"a fixed 16×16 model", graph.Options{}, 16, ""},
		{"a dynamic-size model has no size to time", graph.Options{DynamicSize: true}, 0, "fixed S"},
	}
	for _, tc := range tests {
		p := modeltest.File(t, m, tc.opts)
		name, size, err := plainInput(p)
		switch {
		case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
			t.Errorf("%s: err = %v, want it to mention %q", tc.reason, err, tc.wantErr)
		case tc.wantErr == "" && (err != nil || name != graph.InputName || size != tc.wantSize):
			t.Errorf("%s: %q %d %v, want %q %d", tc.reason, name, size, err, graph.InputName, tc.wantSize)
		}
	}
}

// TestPlotSweep groups records into one line per model × threads (a plain
// model's files at several sizes are one line), writes an SVG naming every
// line, refuses an empty plot, and a report without plain models keeps its
// single-model keys (no "plain").
func TestPlotSweep(t *testing.T) {
	vim := []Record{
		{ImgSize: 224, Batch: 1, Threads: 1, PluginMS: 50, PeakRSSMB: 100},
		{ImgSize: 448, Batch: 1, Threads: 1, PluginMS: 200, PeakRSSMB: 150},
		{ImgSize: 224, Batch: 1, Threads: 2, PluginMS: 30, PeakRSSMB: 100},
		{ImgSize: 448, Batch: 1, Threads: 2}, // not measured: no point
	}
	plain := []PlainRecord{
		{Model: "/tmp/deit_t_448.onnx", ImgSize: 448, Batch: 1, Threads: 1, MedianMS: 900, PerImageMS: 900, PeakRSSMB: 400},
		{Model: "/tmp/deit_t_224.onnx", ImgSize: 224, Batch: 1, Threads: 1, MedianMS: 100, PerImageMS: 100, PeakRSSMB: 200},
		{Model: "/tmp/deit_t_224.onnx", ImgSize: 224, Batch: 1, Threads: 2, Error: "failed"},
	}
	lines := sweepLines(vim, plain)
	var got []string
	for _, l := range lines {
		got = append(got, l.label+":"+joinInts(l.size))
	}
	want := "Vim (plugin), 1 thread:224,448 Vim (plugin), 2 threads:224 deit_t, 1 thread:448,224"
	if strings.Join(got, " ") != want {
		t.Errorf("lines %q, want %q", strings.Join(got, " "), want)
	}
	p := filepath.Join(t.TempDir(), "sweep.svg")
	if err := PlotSweep(p, vim, plain); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"<svg", "Vim (plugin), 1 thread", "deit_t, 1 thread", "time per image", "peak memory"} {
		if !strings.Contains(string(b), s) {
			t.Errorf("plot lacks %q", s)
		}
	}
	if err := PlotSweep(p, nil, plain[2:]); err == nil {
		t.Error("PlotSweep with nothing measured: no error")
	}
	js, err := json.Marshal(Report{Record: vim[0], Results: vim})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(js), `"plain"`) {
		t.Errorf("a report without plain models has a plain key")
	}
}

// joinInts writes sizes as "a,b".
func joinInts(s []int) string {
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strconv.Itoa(v)
	}
	return strings.Join(out, ",")
}
