package graph_test

import (
	"fmt"
	"math"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/modeltest"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

// backboneTol bounds ORT feature maps against the float64 Go reference
// (the bound).
const backboneTol = 1e-5

// diffRef is max |got - want| of an ORT output against a reference tensor,
// +Inf on NaN or a shape mismatch.
func diffRef(got *runtime.Tensor, want *verify.Tensor) float64 {
	if got == nil || fmt.Sprint(got.Shape) != fmt.Sprint(toI64(want.Shape)) {
		return math.Inf(1)
	}
	var d float64
	for i, v := range want.Data {
		e := math.Abs(float64(got.Data[i]) - v)
		if math.IsNaN(e) {
			return math.Inf(1)
		}
		d = max(d, e)
	}
	return d
}

// officialStream returns the official block-i stream of a fixture for a
// feature mode: hidden_states, residual + hidden_states, or (last block
// only) final_hidden_normed, as [B, L, D] float64.
func officialStream(t *testing.T, exp map[string]*convert.Tensor, i, depth int, mode convert.FeatureMode) (*verify.Tensor, bool) {
	t.Helper()
	h, r := exp[verify.KeyHidden(i)], exp[verify.KeyResidual(i)]
	if h == nil || r == nil {
		t.Fatalf("fixture lacks block %d intermediates", i)
	}
	out := &verify.Tensor{Shape: h.Shape, Data: make([]float64, len(h.Data))}
	switch mode {
	case convert.FeatureHidden:
		for j, v := range h.Data {
			out.Data[j] = float64(v)
		}
	case convert.FeatureAdd:
		for j, v := range h.Data {
			out.Data[j] = float64(v) + float64(r.Data[j])
		}
	case convert.FeatureAddNorm:
		if i != depth-1 {
			return nil, false // the official tensors have norm_f only after the last block
		}
		for j, v := range exp[verify.KeyFinalNormed].Data {
			out.Data[j] = float64(v)
		}
	}
	return out, true
}

// TestFeatureMapsOfficialORT checks the feature maps of every block of
// the fixtures, static and dynamic-size exports, against the official
// per-block intermediates at the native size (project tolerance against
// the official fp32 run).
func TestFeatureMapsOfficialORT(t *testing.T) {
	for _, fx := range []string{"vim_t_d2", "vim_t_stride8_d2"} {
		g := loadGolden(t, repo.Fixture(fx))
		depth := len(g.model.Layers)
		all := []int{0, depth - 1}
		for _, mode := range []convert.FeatureMode{convert.FeatureHidden, convert.FeatureAdd, convert.FeatureAddNorm} {
			for _, dyn := range []bool{false, true} {
				s := ortSession(t, modeltest.File(t, g.model, graph.Options{OutIndices: all, FeatureMode: mode, DynamicSize: dyn}))
				out := runInput(t, s, g.x)
				for _, i := range all {
					want, ok := officialStream(t, g.exp, i, depth, mode)
					if !ok {
						continue
					}
					d := diffRef(out[convert.FeatureMapName(i)], verify.PatchGrid(&g.model.Config, want))
					t.Logf("%s %s dynamic=%v block %d: max|d| = %.3g", fx, mode, dyn, i, d)
					if d > parityTol {
						t.Errorf("%s %s dynamic=%v block %d: feature map vs official max|d| = %.3g > %g", fx, mode, dyn, i, d, parityTol)
					}
				}
			}
		}
	}
}

// TestFeatureMapsReferenceORT checks a dynamic-size model's feature maps
// against the Go reference of the model resized to each size (224, 512,
// non-square), for each feature mode and each cls placement.
func TestFeatureMapsReferenceORT(t *testing.T) {
	tests := []struct {
		reason string
		m      *convert.Model
		sizes  [][2]int
	}{
		{"Vim-T d2 (middle cls)", loadGolden(t, repo.Fixture("vim_t_d2")).model, [][2]int{{224, 224}, {512, 512}, {192, 320}}},
		{"synthetic head cls", graphtest.Model(graphtest.Spec{ClsToken: convert.ClsHead, Depth: 3, Seed: 21}), [][2]int{{16, 16}, {12, 24}}},
		{"synthetic double cls", graphtest.Model(graphtest.Spec{ClsToken: convert.ClsDouble, Depth: 3, Seed: 22}), [][2]int{{16, 16}, {24, 8}}},
		{"synthetic no cls, LayerNorm", graphtest.Model(graphtest.Spec{ClsToken: convert.ClsNone, LayerNorm: true, Depth: 3, Seed: 23}), [][2]int{{20, 12}}},
	}
	for _, tc := range tests {
		idx := convert.DefaultOutIndices(len(tc.m.Layers))
		for _, mode := range []convert.FeatureMode{convert.FeatureHidden, convert.FeatureAdd, convert.FeatureAddNorm} {
			s := ortSession(t, modeltest.File(t, tc.m, graph.Options{OutIndices: idx, FeatureMode: mode, DynamicSize: true}))
			for k, hw := range tc.sizes {
				x := noise(uint64(30+k), 1, hw[0], hw[1])
				out := run(t, s, x)
				rm := resized(t, tc.m, hw[0], hw[1])
				ref, err := verify.Forward(rm, x.Data, [4]int{1, 3, hw[0], hw[1]}, verify.Options{Precision: verify.Float64, Intermediates: true})
				if err != nil {
					t.Fatal(err)
				}
				want, err := verify.FeatureMaps(rm, ref, idx, mode)
				if err != nil {
					t.Fatal(err)
				}
				for name, w := range want {
					d := diffRef(out[name], w)
					if d > backboneTol {
						t.Errorf("%s %s %dx%d: %s %v vs reference %v: max|d| = %.3g > %g", tc.reason, mode, hw[0], hw[1], name, shapeOf(out[name]), w.Shape, d, backboneTol)
					}
				}
				t.Logf("%s %s %dx%d: %d maps checked", tc.reason, mode, hw[0], hw[1], len(want))
			}
		}
	}
}

// TestOutIndicesRejects checks that Build refuses bad out indices and
// modes with an error, and the index parsing and defaults.
func TestOutIndicesRejects(t *testing.T) {
	m := graphtest.Model(graphtest.Spec{Depth: 2})
	for _, o := range []graph.Options{
		{OutIndices: []int{2}},
		{OutIndices: []int{-3}},
		{OutIndices: []int{0, 0}},
		{OutIndices: []int{1, -1}},
		{OutIndices: []int{0}, OfficialOutIndices: true},
		{OutIndices: []int{0}, FeatureMode: "sum"},
		{FeatureMode: convert.FeatureAdd},
	} {
		if _, err := graph.Build(m, o); err == nil {
			t.Errorf("Build(%+v) accepted", o)
		}
	}
	for _, o := range []graph.Options{{OutIndices: []int{-1}}, {OfficialOutIndices: true, FeatureMode: convert.FeatureAdd}} {
		mp, err := graph.Build(m, o)
		if err != nil {
			t.Fatalf("Build(%+v): %v", o, err)
		}
		var outs []string
		for _, v := range mp.GetGraph().GetOutput() {
			outs = append(outs, v.GetName())
		}
		want := map[bool]string{false: "[feature_map.1 logits]", true: "[feature_map.0 feature_map.1 logits]"}[o.OfficialOutIndices]
		if got := fmt.Sprint(outs); got != want {
			t.Errorf("Build(%+v) outputs %s, want %s", o, got, want)
		}
	}
	if got := fmt.Sprint(convert.DefaultOutIndices(24), convert.DefaultOutIndices(2), convert.DefaultOutIndices(1)); got != "[5 11 17 23] [0 1] [0]" {
		t.Errorf("default out indices %s", got)
	}
	if got, err := convert.ParseOutIndices("23, 5,-1", 25); err != nil || fmt.Sprint(got) != "[5 23 24]" {
		t.Errorf("ParseOutIndices = %v, %v", got, err)
	}
	for _, bad := range []string{"24", "a", "1,1", "-25", ""} {
		if _, err := convert.ParseOutIndices(bad, 24); err == nil {
			t.Errorf("ParseOutIndices(%q) accepted", bad)
		}
	}
}
