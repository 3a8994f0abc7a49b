package graph_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
)

func TestModelFromONNXRoundTrip(t *testing.T) {
	cases := []struct {
		reason string
		spec   graphtest.Spec
	}{
		{"v2, middle cls", graphtest.Spec{Seed: 1}},
		{"v1, head cls, layer scale", graphtest.Spec{Seed: 2, Bimamba: convert.BimambaV1, ClsToken: convert.ClsHead, Gamma: true}},
		{"double cls, LayerNorm, no pos_embed", graphtest.Spec{Seed: 3, ClsToken: convert.ClsDouble, LayerNorm: true, NoPosEmbed: true}},
		{"no cls, Identity head", graphtest.Spec{Seed: 4, ClsToken: convert.ClsNone, NoHead: true}},
	}
	for _, tc := range cases {
		m := graphtest.Model(tc.spec)
		mp, err := graph.Build(m, graph.Options{})
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		p := filepath.Join(t.TempDir(), "m.onnx")
		if err := graph.WriteFile(mp, p); err != nil {
			t.Fatal(err)
		}
		got, err := graph.ReadModel(p)
		if err != nil {
			t.Fatalf("%s: %v", tc.reason, err)
		}
		if got.Config != m.Config {
			t.Errorf("%s: config %+v, want %+v", tc.reason, got.Config, m.Config)
		}
		want := graphtest.Tensors(m)
		have := map[string]*convert.Tensor{}
		for _, tt := range graphtest.Tensors(got) {
			have[tt.Name] = tt
		}
		if len(have) != len(want) {
			t.Errorf("%s: %d tensors read back, want %d", tc.reason, len(have), len(want))
		}
		for _, w := range want {
			h := have[w.Name]
			if h == nil {
				t.Errorf("%s: %s not read back", tc.reason, w.Name)
				continue
			}
			for i := range w.Data {
				if h.Data[i] != w.Data[i] {
					t.Errorf("%s: %s[%d] = %g, want %g", tc.reason, w.Name, i, h.Data[i], w.Data[i])
					break
				}
			}
		}
	}
}

func TestModelFromONNXRejects(t *testing.T) {
	dir := t.TempDir()
	garbage := filepath.Join(dir, "garbage.onnx")
	if err := os.WriteFile(garbage, []byte("not a protobuf \xff\xff\xff"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A valid ONNX model without vimconvert metadata.
	mp, err := benchgraph.ScanOnly(4, 8, 4, string(graph.ScanPlugin))
	if err != nil {
		t.Fatal(err)
	}
	foreign := filepath.Join(dir, "foreign.onnx")
	if err := graph.WriteFile(mp, foreign); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		reason, path, want string
	}{
		{"missing file", filepath.Join(dir, "nope.onnx"), "no such file"},
		{"not protobuf", garbage, "not an ONNX model"},
		{"not exported by vimconvert", foreign, "no vimconvert.config metadata"},
	}
	for _, tc := range cases {
		if _, err := graph.ReadModel(tc.path); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.reason, err, tc.want)
		}
	}
}
