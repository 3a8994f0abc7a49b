package graph_test

import (
	"math/rand/v2"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/modeltest"
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
			m, x, ref := variantCase(t, tc.spec, uint64(100+i), uint64(i), 7)
			for _, conv := range []graph.DepthwiseConv{graph.ConvONNX, graph.ConvPlugin} {
				s := ortSession(t, modeltest.File(t, m, graph.Options{DepthwiseConv: conv}))
				checkAgainstReference(t, string(conv)+" conv vs float64 reference", s, m.Config, x, ref)
			}
		})
	}
}

// variantBatch is the batch size the synthetic variants run with.
const variantBatch = 2

// variantCase builds the synthetic model of spec (weights seeded with
// seed) and returns it with a batch [variantBatch, 3, img, img] of N(0,1)
// noise drawn from the PCG stream (inputSeed, stream) and verify.Forward's
// float64 outputs on it: the expectation a converted model is held to.
func variantCase(t *testing.T, spec graphtest.Spec, seed, inputSeed, stream uint64) (*convert.Model, []float32, *verify.Result) {
	t.Helper()
	spec.Seed = seed
	m := graphtest.Model(spec)
	img := m.Config.ImgSize
	r := rand.New(rand.NewPCG(inputSeed, stream))
	x := make([]float32, variantBatch*3*img*img)
	for j := range x {
		x[j] = float32(r.NormFloat64())
	}
	ref, err := verify.Forward(m, x, [4]int{variantBatch, 3, img, img}, verify.Options{Precision: verify.Float64})
	if err != nil {
		t.Fatalf("reference: %v", err)
	}
	return m, x, ref
}

// checkAgainstReference runs s on x [variantBatch, 3, img, img] and checks its
// logits (its features for a model without a head) against ref.
func checkAgainstReference(t *testing.T, label string, s *runtime.Session, c convert.Config, x []float32, ref *verify.Result) {
	t.Helper()
	out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {
		Shape: []int64{variantBatch, 3, int64(c.ImgSize), int64(c.ImgSize)}, Data: x}})
	if err != nil {
		t.Fatal(err)
	}
	name := graph.LogitsName
	if c.NumClasses == 0 {
		name = graph.FeaturesName
	}
	checkParity(t, label, name, out[name], ref.Logits.Float32(), ref.Logits.Shape)
}

// checkGoldenModel writes mp as file, checks it with the onnx checker, runs
// it without the plugin on the golden input and checks its logits and
// features against the golden outputs.
func checkGoldenModel(t *testing.T, label string, mp *onnxpb.ModelProto, file string, g golden) {
	t.Helper()
	path := writeModel(t, mp, file)
	onnxChecker(t, path)
	out := runInput(t, ortSessionNoPlugin(t, path), g.x)
	for _, name := range []string{graph.LogitsName, graph.FeaturesName} {
		checkExpected(t, label, name, out, g.exp)
	}
}
