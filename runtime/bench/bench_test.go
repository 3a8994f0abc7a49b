package bench

import (
	"encoding/json"
	"math"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
)

// TestIsPluginVariant checks which given .onnx files bench times as its
// plugin variant: only the model it would build itself.
func TestIsPluginVariant(t *testing.T) {
	m := graphtest.Model(graphtest.Spec{Seed: 5})
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
	floor := struct {
		reason string
		opts   graph.Options
		want   bool
		why    string
	}{"the no-scan floor is not the plugin model", graph.Options{}, false, "scan lowering"}
	for _, tc := range append(cases, floor) {
		mp, err := graph.Build(m, tc.opts)
		if tc.reason == floor.reason {
			mp, err = benchgraph.NoScanFloorModel(m)
		}
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		p := filepath.Join(t.TempDir(), "m.onnx")
		if err := graph.WriteFile(mp, p); err != nil {
			t.Fatal(err)
		}
		got, why, err := isPluginVariant(p, m)
		if err != nil || got != tc.want || !strings.Contains(why, tc.why) || (tc.want && why != "") {
			t.Errorf("%s: isPluginVariant = %v, %q, %v; want %v, %q", tc.reason, got, why, err, tc.want, tc.why)
		}
	}
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
