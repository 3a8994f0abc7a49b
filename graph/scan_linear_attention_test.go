package graph_test

import (
	"math"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/benchgraph"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

func countOps(mp *onnxpb.ModelProto) map[string]int {
	n := map[string]int{}
	for _, nd := range mp.GetGraph().GetNode() {
		n[nd.GetDomain()+"::"+nd.GetOpType()]++
	}
	return n
}

// referenceBidirectional computes the bidirectional scan of the inputs with
// verify.SelectiveScan in float64: ((y_f + y_b)/2)·SiLU(z) in [B, L, Din].
func referenceBidirectional(t *testing.T, in map[string]*runtime.Tensor, batch, L, din, n int) []float64 {
	t.Helper()
	// [B, L, X] -> [B, X, L] in float64
	toCM := func(name string, x int) []float64 {
		src := in[name].Data
		out := make([]float64, len(src))
		for b := 0; b < batch; b++ {
			for l := 0; l < L; l++ {
				for c := 0; c < x; c++ {
					out[(b*x+c)*L+l] = float64(src[(b*L+l)*x+c])
				}
			}
		}
		return out
	}
	f64 := func(name string) []float64 {
		out := make([]float64, len(in[name].Data))
		for i, v := range in[name].Data {
			out[i] = float64(v)
		}
		return out
	}
	run := func(sfx string, reverse bool) []float64 {
		y, _, err := verify.SelectiveScan(verify.ScanInput[float64]{
			Batch: batch, Dim: din, DState: n, Len: L,
			U: toCM("u_"+sfx, din), Delta: toCM("delta_"+sfx, din), A: f64("A_" + sfx),
			B: toCM("B_"+sfx, n), C: toCM("C_"+sfx, n), D: f64("D_" + sfx), DeltaBias: f64("delta_bias_" + sfx),
			Reverse: reverse,
		})
		if err != nil {
			t.Fatal(err)
		}
		return y // [B, Din, L]
	}
	yf, yb := run("f", false), run("b", true)
	z := in["z"].Data
	out := make([]float64, batch*L*din)
	for b := 0; b < batch; b++ {
		for l := 0; l < L; l++ {
			for c := 0; c < din; c++ {
				zz := float64(z[(b*L+l)*din+c])
				silu := zz / (1 + math.Exp(-zz))
				out[(b*L+l)*din+c] = (yf[(b*din+c)*L+l] + yb[(b*din+c)*L+l]) / 2 * silu
			}
		}
	}
	return out
}

// TestScanOnlyLinearAttentionMatchesReference runs the LinearAttention
// lowering of one bidirectional scan in a stock ONNX Runtime (no plugin) and
// compares it with the float64 reference scan; the plugin lowering of the
// same model must agree too (when the plugin is built).
func TestScanOnlyLinearAttentionMatchesReference(t *testing.T) {
	for _, c := range scanOnlyShapes {
		t.Run(c.reason, func(t *testing.T) {
			in, want, mp := scanOnlyCase(t, c.batch, c.L, c.din, c.n, graph.ScanLinearAttention)
			ops := countOps(mp)
			if ops["com.microsoft::LinearAttention"] != 2 || ops[graph.Domain+"::"+graph.OpScanBidirectional] != 0 {
				t.Fatalf("linear-attention scan model ops = %v, want 2 LinearAttention and no plugin op", ops)
			}
			s := ortSessionNoPlugin(t, writeModel(t, mp, "la.onnx"))
			out, err := s.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			got := out[benchgraph.OutputName]
			var d float64
			for i, w := range want {
				d = max(d, math.Abs(float64(got.Data[i])-w))
			}
			t.Logf("LinearAttention lowering vs float64 reference: max|d| = %.3g", d)
			if d > 1e-5 || math.IsNaN(d) {
				t.Errorf("LinearAttention lowering: max|d| = %.3g > 1e-5", d)
			}

			mpp, err := benchgraph.ScanOnly(c.L, c.din, c.n, string(graph.ScanPlugin))
			if err != nil {
				t.Fatal(err)
			}
			ps := ortSession(t, writeModel(t, mpp, "plugin.onnx"))
			pout, err := ps.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			d = 0
			for i, w := range want {
				d = max(d, math.Abs(float64(pout[benchgraph.OutputName].Data[i])-w))
			}
			t.Logf("plugin vs float64 reference: max|d| = %.3g", d)
			if d > 1e-5 || math.IsNaN(d) {
				t.Errorf("plugin: max|d| = %.3g > 1e-5", d)
			}
		})
	}
}

// TestLinearAttentionFixtureParityORT exports the depth-2 Vim-T fixture with
// the LinearAttention lowering and runs it in ONNX Runtime WITHOUT the
// plugin: logits must meet the official ones to 1e-4.
func TestLinearAttentionFixtureParityORT(t *testing.T) {
	g := loadGolden(t, repo.Fixture("vim_t_d2"))
	m := g.model
	mp, err := graph.Build(m, graph.Options{Scan: graph.ScanLinearAttention, Features: true})
	if err != nil {
		t.Fatal(err)
	}
	imports := map[string]int64{}
	for _, o := range mp.GetOpsetImport() {
		imports[o.GetDomain()] = o.GetVersion()
	}
	if _, plug := imports[graph.Domain]; plug || imports[graph.MicrosoftDomain] != graph.MicrosoftDomainVersion {
		t.Errorf("opset imports %v: want %s version %d and no %s", imports, graph.MicrosoftDomain, graph.MicrosoftDomainVersion, graph.Domain)
	}
	ops := countOps(mp)
	if got := ops["com.microsoft::LinearAttention"]; got != 2*len(m.Layers) {
		t.Fatalf("%d LinearAttention nodes, want %d (two per block)", got, 2*len(m.Layers))
	}
	for k := range ops {
		if len(k) > len(graph.Domain) && k[:len(graph.Domain)] == graph.Domain {
			t.Fatalf("linear-attention export still has plugin op %s", k)
		}
	}
	// onnx 1.12 has no schema for com.microsoft.LinearAttention: the checker
	// accepts the node unchecked and checks everything else.
	checkGoldenModel(t, "linear-attention", mp, "vim_la.onnx", g)
}

// TestNoScanFloorModel checks that the no-scan floor differs from the plugin
// export only in the scan nodes (one Sum per block instead of one plugin
// op) and that it runs without the plugin.
func TestNoScanFloorModel(t *testing.T) {
	dir := repo.Fixture("vim_t_d2")
	m, _, err := convert.Load(filepath.Join(dir, "checkpoint.pth"), convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plug, err := graph.Build(m, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	floor, err := benchgraph.NoScanFloorModel(m)
	if err != nil {
		t.Fatal(err)
	}
	po, fo := countOps(plug), countOps(floor)
	scanKey := graph.Domain + "::" + graph.OpScanBidirectional
	if po[scanKey] != len(m.Layers) || fo[scanKey] != 0 {
		t.Fatalf("plugin ops %d, floor ops %d; want %d and 0", po[scanKey], fo[scanKey], len(m.Layers))
	}
	if fo["::Sum"] != po["::Sum"]+len(m.Layers) {
		t.Fatalf("floor has %d Sum nodes, want %d", fo["::Sum"], po["::Sum"]+len(m.Layers))
	}
	delete(po, scanKey)
	fo["::Sum"] -= len(m.Layers)
	for k, v := range po {
		if fo[k] != v {
			t.Errorf("op %s: %d in the plugin export, %d in the floor", k, v, fo[k])
		}
	}
	if len(plug.GetGraph().GetInitializer()) != len(floor.GetGraph().GetInitializer()) {
		t.Errorf("initializers differ: %d vs %d", len(plug.GetGraph().GetInitializer()), len(floor.GetGraph().GetInitializer()))
	}
	s := ortSessionNoPlugin(t, writeModel(t, floor, "floor.onnx"))
	x := make([]float32, 1*3*224*224)
	out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: []int64{1, 3, 224, 224}, Data: x}})
	if err != nil {
		t.Fatal(err)
	}
	if got := out[graph.LogitsName].Shape; len(got) != 2 || got[1] != int64(m.Config.NumClasses) {
		t.Errorf("floor logits shape %v", got)
	}
}

func TestScanModelsReject(t *testing.T) {
	cases := []struct {
		reason    string
		L, din, n int
		lowering  string
	}{
		{"unknown lowering", 4, 8, 4, "nope"},
		{"zero tokens", 0, 8, 4, string(graph.ScanPlugin)},
		{"zero channels", 4, 0, 4, string(graph.ScanLinearAttention)},
	}
	for _, c := range cases {
		if _, err := benchgraph.ScanOnly(c.L, c.din, c.n, c.lowering); err == nil {
			t.Errorf("%s: ScanOnly accepted it", c.reason)
		}
	}
	if _, err := benchgraph.LinearAttentionCall(4, 0, 16); err == nil {
		t.Error("LinearAttentionCall accepted d_inner 0")
	}
}

// scanOnlyShape is one scan-only case: [batch, L, din] with n states.
type scanOnlyShape struct {
	reason           string
	batch, L, din, n int
}

// scanOnlyShapes are the cases every scan-only lowering test runs.
var scanOnlyShapes = []scanOnlyShape{
	{"small odd sizes, batch 2", 2, 37, 24, 16},
	{"single token", 1, 1, 8, 16},
	{"Vim-T shapes (197 tokens, d_inner 384)", 1, 197, 384, 16},
}

// scanOnlyCase returns random scan inputs (graph.RandomScanInputs) for one
// [batch, L, din] × n states case, their float64 bidirectional reference
// and the scan-only model of lowering.
func scanOnlyCase(t *testing.T, batch, L, din, n int, lowering graph.ScanLowering) (map[string]*runtime.Tensor, []float64, *onnxpb.ModelProto) {
	t.Helper()
	in := graph.RandomScanInputs(batch, L, din, n, uint64(L*1000+din))
	want := referenceBidirectional(t, in, batch, L, din, n)
	mp, err := benchgraph.ScanOnly(L, din, n, string(lowering))
	if err != nil {
		t.Fatal(err)
	}
	return in, want, mp
}
