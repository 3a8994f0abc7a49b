package graph_test

import (
	"fmt"
	"math"
	"slices"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// checkStandardOnly fails the test when any node of mp (Scan bodies
// included) is outside the default ONNX domain, or when the model imports
// anything but the default domain at graph.DefaultOpset.
func checkStandardOnly(t *testing.T, mp *onnxpb.ModelProto) {
	t.Helper()
	for _, o := range mp.GetOpsetImport() {
		if d := o.GetDomain(); (d != "" && d != "ai.onnx") || o.GetVersion() != graph.DefaultOpset {
			t.Errorf("opset import %q version %d: want only the default domain at %d", d, o.GetVersion(), graph.DefaultOpset)
		}
	}
	scans := 0
	var walk func(g *onnxpb.GraphProto)
	walk = func(g *onnxpb.GraphProto) {
		for _, n := range g.GetNode() {
			if d := n.GetDomain(); d != "" && d != "ai.onnx" {
				t.Errorf("node %s: op %s::%s is not a standard ONNX op", n.GetName(), d, n.GetOpType())
			}
			if n.GetOpType() == "Scan" {
				scans++
			}
			for _, a := range n.GetAttribute() {
				if a.GetG() != nil {
					walk(a.GetG())
				}
			}
		}
	}
	walk(mp.GetGraph())
	if scans == 0 {
		t.Errorf("no Scan node: the standard lowering was not used")
	}
}

// TestScanOnlyStandardMatchesReference runs the standard-op lowering of one
// bidirectional scan in ONNX Runtime without the plugin and compares it with
// the float64 reference scan.
func TestScanOnlyStandardMatchesReference(t *testing.T) {
	cases := append(slices.Clone(scanOnlyShapes), scanOnlyShape{"two tokens, batch 3, 8 states", 3, 2, 8, 8})
	for _, c := range cases {
		t.Run(c.reason, func(t *testing.T) {
			in, want, mp := scanOnlyCase(t, c.batch, c.L, c.din, c.n, graph.ScanStandard)
			checkStandardOnly(t, mp)
			out, err := ortSessionNoPlugin(t, writeModel(t, mp, "std.onnx")).Run(in)
			if err != nil {
				t.Fatal(err)
			}
			got := out[benchgraph.OutputName]
			if len(got.Data) != len(want) {
				t.Fatalf("output has %d values, want %d", len(got.Data), len(want))
			}
			var d float64
			for i, w := range want {
				d = max(d, math.Abs(float64(got.Data[i])-w))
				if math.IsNaN(float64(got.Data[i])) {
					d = math.Inf(1)
				}
			}
			t.Logf("standard lowering vs float64 reference: max|d| = %.3g", d)
			if d > 1e-5 {
				t.Errorf("standard lowering: max|d| = %.3g > 1e-5", d)
			}
		})
	}
}

// TestStandardFixtureParityORT exports every official fixture with the
// standard-op lowering, checks that only ai.onnx ops are used, passes
// onnx.checker (opset 17) and meets the official logits and features to 1e-4
// in ONNX Runtime without the plugin.
func TestStandardFixtureParityORT(t *testing.T) {
	fixtures := []struct {
		reason, dir string
		shared      bool
	}{
		{"Vim-T config at depth 2, training checkpoint, batch 2", "vim_t_d2", false},
		{"stride-8 layout: 730 tokens, cls at 364, batch 1", "vim_t_stride8_d2", false},
		{"full official Vim-T, depth 24, batch 2", "vim_t", true},
	}
	for _, fx := range fixtures {
		t.Run(fx.dir, func(t *testing.T) {
			dir := repo.Fixture(fx.dir)
			if fx.shared {
				if testing.Short() || repo.SharedFixture(fx.dir, "checkpoint.pth") == "" {
					t.Skip("../shared/fixtures/" + fx.dir + " not present, or -short")
				}
				dir = repo.SharedFixture(fx.dir, "")
			}
			g := loadGolden(t, dir)
			mp, err := graph.Build(g.model, graph.Options{Scan: graph.ScanStandard, Features: true})
			if err != nil {
				t.Fatal(err)
			}
			checkStandardOnly(t, mp)
			checkGoldenModel(t, "standard scan", mp, "vim_std.onnx", g)
		})
	}
}

// TestStandardVariantsMatchReferenceORT runs the synthetic variants the
// fixtures do not cover (v1, none, cls placements, no /2) with the
// standard-op lowering against the float64 Go reference.
func TestStandardVariantsMatchReferenceORT(t *testing.T) {
	f := false
	tests := []struct {
		reason string
		spec   graphtest.Spec
		opts   graph.Options
	}{
		{"v2, middle cls", graphtest.Spec{}, graph.Options{}},
		{"v2 without /2", graphtest.Spec{DivideOut: &f}, graph.Options{}},
		{"v1: backward scan on the causal conv output with A_b", graphtest.Spec{Bimamba: convert.BimambaV1}, graph.Options{}},
		{"none: forward-only Mamba (G = 1)", graphtest.Spec{Bimamba: convert.BimambaNone}, graph.Options{}},
		{"head cls token", graphtest.Spec{ClsToken: convert.ClsHead}, graph.Options{}},
		{"double cls token", graphtest.Spec{ClsToken: convert.ClsDouble}, graph.Options{}},
		{"no cls, mean pool, tokens output", graphtest.Spec{ClsToken: convert.ClsNone}, graph.Options{Tokens: true}},
		{"wider model, depth 3, 8 states", graphtest.Spec{EmbedDim: 24, Depth: 3, DState: 8}, graph.Options{}},
		{"Identity head: features", graphtest.Spec{NoHead: true}, graph.Options{Features: true}},
	}
	for i, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			m, x, ref := variantCase(t, tc.spec, uint64(300+i), uint64(i), 11)
			tc.opts.Scan = graph.ScanStandard
			mp, err := graph.Build(m, tc.opts)
			if err != nil {
				t.Fatal(err)
			}
			checkStandardOnly(t, mp)
			s := ortSessionNoPlugin(t, writeModel(t, mp, "model.onnx"))
			checkAgainstReference(t, "standard scan vs float64 reference", s, m.Config, x, ref)
		})
	}
}

// TestStandardOpsetsRunORT checks that the standard-op lowering loads and
// meets the official logits at every opset Build accepts (the Scan,
// Squeeze/Unsqueeze and Pad signatures differ between opsets).
func TestStandardOpsetsRunORT(t *testing.T) {
	g := loadGolden(t, repo.Fixture("vim_t_d2"))
	for opset := graph.MinOpset; opset <= graph.MaxOpset; opset++ {
		t.Run(fmt.Sprint("opset", opset), func(t *testing.T) {
			mp, err := graph.Build(g.model, graph.Options{Scan: graph.ScanStandard, Opset: opset})
			if err != nil {
				t.Fatal(err)
			}
			out := runInput(t, ortSessionNoPlugin(t, writeModel(t, mp, "std.onnx")), g.x)
			checkExpected(t, fmt.Sprint("standard scan, opset ", opset), graph.LogitsName, out, g.exp)
		})
	}
}
