package graph_test

import (
	"math/rand/v2"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

// TestVariantsMatchReferenceORT runs synthetic models of every variant the
// fixtures do not cover through ONNX Runtime + plugin and compares them with
// the independent pure-Go reference (verify.Forward, float64).
func TestVariantsMatchReferenceORT(t *testing.T) {
	f := false
	tests := []struct {
		reason string
		spec   graphtest.Spec
	}{
		{"v2, middle cls (baseline)", graphtest.Spec{}},
		{"v2 with stride < patch (overlapping patches)", graphtest.Spec{Stride: 2, ImgSize: 12}},
		{"v2 without /2", graphtest.Spec{DivideOut: &f}},
		{"v1: backward scan on the causal conv output with A_b, no /2", graphtest.Spec{Bimamba: convert.BimambaV1}},
		{"none: forward-only Mamba", graphtest.Spec{Bimamba: convert.BimambaNone}},
		{"head cls token", graphtest.Spec{ClsToken: convert.ClsHead}},
		{"double cls token: mean of head and tail", graphtest.Spec{ClsToken: convert.ClsDouble}},
		{"no cls, mean pool", graphtest.Spec{ClsToken: convert.ClsNone}},
		{"no cls, last token", graphtest.Spec{ClsToken: convert.ClsNone, FinalPoolType: "none"}},
		{"no cls, max over per-token logits", graphtest.Spec{ClsToken: convert.ClsNone, FinalPoolType: "max"}},
		{"no cls, per-token logits", graphtest.Spec{ClsToken: convert.ClsNone, FinalPoolType: "all"}},
		{"layer scale gamma", graphtest.Spec{Gamma: true}},
		{"no pos_embed", graphtest.Spec{NoPosEmbed: true}},
		{"Identity head", graphtest.Spec{NoHead: true}},
		{"wider model, depth 3", graphtest.Spec{EmbedDim: 24, Depth: 3, DState: 8}},
	}
	for i, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			tc.spec.Seed = uint64(100 + i)
			m := graphtest.Model(tc.spec)
			c := m.Config
			const batch = 2
			r := rand.New(rand.NewPCG(uint64(i), 7))
			x := make([]float32, batch*3*c.ImgSize*c.ImgSize)
			for j := range x {
				x[j] = float32(r.NormFloat64())
			}
			ref, err := verify.Forward(m, x, [4]int{batch, 3, c.ImgSize, c.ImgSize}, verify.Options{Precision: verify.Float64})
			if err != nil {
				t.Fatalf("reference: %v", err)
			}
			for _, conv := range []graph.DepthwiseConv{graph.ConvONNX, graph.ConvPlugin} {
				s := ortSession(t, buildModelFile(t, m, graph.Options{DepthwiseConv: conv}))
				out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {
					Shape: []int64{batch, 3, int64(c.ImgSize), int64(c.ImgSize)}, Data: x}})
				if err != nil {
					t.Fatal(err)
				}
				name := graph.LogitsName
				if c.NumClasses == 0 {
					name = graph.FeaturesName
				}
				checkParity(t, string(conv)+" conv vs float64 reference", name, out[name], ref.Logits.Float32(), ref.Logits.Shape)
			}
		})
	}
}
