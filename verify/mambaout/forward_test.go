package mambaout_test

import (
	"errors"
	"slices"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	mo "github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/internal/fixturetest"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/verify"
	ref "github.com/vimconvert/vimconvert/verify/mambaout"
)

// parityTol is MambaOut's fp32 logits tolerance against the official
// outputs: the tanh GELU approximation is 3.8e-5 off, so 1e-4 would not
// catch it (fixtures/mambaout/README.md).
const parityTol = 1e-5

// fp64RelTol bounds the float64 reference against logits_fp64.
const fp64RelTol = 1e-9

func shape4(t *testing.T, x *convert.Tensor) [4]int {
	t.Helper()
	if len(x.Shape) != 4 {
		t.Fatalf("input shape %v, want 4 dimensions", x.Shape)
	}
	return [4]int{x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3]}
}

// expected64 returns the float64 values of an expected tensor.
func expected64(t *testing.T, exp map[string]*convert.Tensor, key string) []float64 {
	t.Helper()
	e := exp[key]
	if e == nil || e.F64 == nil {
		t.Fatalf("expected.pth has no float64 tensor %s", key)
	}
	return e.F64
}

// TestParityFixtures runs the float32 and float64 references on every
// MambaOut fixture: logits and features within parityTol of the official
// fp32 run with identical top-1, the float64 run within fp64RelTol
// (relative) of the official fp64 run, and on the fixture that has them
// every per-stage intermediate within stageTol.
func TestParityFixtures(t *testing.T) {
	for _, name := range []string{"mambaout_femto_d1121", "mambaout_femto"} {
		t.Run(name, func(t *testing.T) {
			f := fixturetest.LoadMambaOut(t, name)
			shape := shape4(t, f.X)
			r32, err := ref.Forward(f.Model, f.X.Data, shape, ref.Options{Intermediates: true})
			if err != nil {
				t.Fatal(err)
			}
			for _, key := range []string{"logits", "features"} {
				var got *verify.Tensor
				if key == "logits" {
					got = r32.Logits
				} else {
					got = r32.Features
				}
				rep := verify.Compare(f.Exp[key].Data, got.Data, f.Exp[key].Shape)
				t.Logf("float32 %s: max|d| %.3g, top-1 ok %v", key, rep.MaxAbs, rep.Top1OK())
				if !rep.Pass(parityTol) {
					t.Errorf("float32 %s: %s", key, rep)
				}
			}
			for key, e := range f.Exp {
				got, ok := r32.Intermediates[key]
				if !ok {
					continue // logits/features above, fp64 below
				}
				rep := verify.Compare(e.Data, got.Data, e.Shape)
				tol := stageTol(e.Data)
				t.Logf("float32 %-20s max|d| %.3g (tolerance %.3g)", key, rep.MaxAbs, tol)
				if rep.MaxAbs > tol || !slices.Equal(got.Shape, e.Shape) {
					t.Errorf("float32 %s: shape %v (want %v), max|d| %.3g > %.3g", key, got.Shape, e.Shape, rep.MaxAbs, tol)
				}
			}
			if name == "mambaout_femto_d1121" && len(r32.Intermediates) != 8 {
				t.Errorf("%d intermediates, want 8 (4 downsampling layers, 4 stages)", len(r32.Intermediates))
			}
			r64, err := ref.Forward(f.Model, f.X.Data, shape, ref.Options{Precision: verify.Float64})
			if err != nil {
				t.Fatal(err)
			}
			want := expected64(t, f.Exp, "logits_fp64")
			rel := maxRelToScale(want, r64.Logits.Data)
			t.Logf("float64 logits: max|d|/max|e| %.3g", rel)
			if rel > fp64RelTol {
				t.Errorf("float64 logits: max|d|/max|e| = %.3g > %g", rel, fp64RelTol)
			}
		})
	}
}

// stageTol is the tolerance of a per-stage intermediate: parityTol
// relative to the tensor's scale. The official fp32 intermediates are
// themselves up to 9.3e-6 off their exact (float64) values at a scale of
// about 5 (downsample_layers.3 of mambaout_femto_d1121), so an absolute
// 1e-5 would sit on the reference data's own rounding noise.
func stageTol(want []float32) float64 {
	s := 1.0
	for _, v := range want {
		s = max(s, abs(float64(v)))
	}
	return parityTol * s
}

// maxRelToScale is max|got - want| / max|want|.
func maxRelToScale(want, got []float64) float64 {
	var d, s float64
	for i, w := range want {
		d = max(d, abs(got[i]-w))
		s = max(s, abs(w))
	}
	return d / s
}

func abs(v float64) float64 {
	if v < 0 {
		return -v
	}
	return v
}

// TestForwardBadInput checks that a bad input batch or an inconsistent
// model is an error wrapping verify.ErrInput / verify.ErrModel, not a panic.
func TestForwardBadInput(t *testing.T) {
	f := fixturetest.LoadMambaOut(t, "mambaout_femto_d1121")
	x := f.X.Data
	broken := *f.Model
	broken.Stages = append([][]mo.Block(nil), f.Model.Stages...)
	broken.Stages[1] = append([]mo.Block(nil), f.Model.Stages[1]...)
	broken.Stages[1][0].FC2W = nil
	tests := []struct {
		reason string
		model  *mo.Model
		x      []float32
		shape  [4]int
		want   error
	}{
		{"two channels for an RGB model", f.Model, x[:2*2*224*224], [4]int{2, 2, 224, 224}, verify.ErrInput},
		{"fewer values than the shape needs", f.Model, x[:10], [4]int{2, 3, 224, 224}, verify.ErrInput},
		{"a zero dimension", f.Model, nil, [4]int{2, 3, 0, 224}, verify.ErrInput},
		{"a tensor of the model is unset", &broken, x, [4]int{2, 3, 224, 224}, verify.ErrModel},
		{"no model", nil, x, [4]int{2, 3, 224, 224}, verify.ErrModel},
	}
	for _, tc := range tests {
		_, err := ref.Forward(tc.model, tc.x, tc.shape, ref.Options{})
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.reason, err, tc.want)
		} else {
			t.Logf("%s: %v", tc.reason, err)
		}
	}
}

// TestFloat32MatchesFloat64 runs the bundled toy checkpoint in both
// precisions at a non-square size: the float32 run must stay within
// float32 rounding of the float64 one (the shared fixtures check both
// against the official runs; this runs without them).
func TestFloat32MatchesFloat64(t *testing.T) {
	m, _, err := mo.Load(repo.Fixture("mambaout_synthetic", "bare.pth"), mo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	shape := [4]int{2, 3, 72, 40}
	x := make([]float32, shape[0]*shape[1]*shape[2]*shape[3])
	for i := range x {
		x[i] = float32((i*7919)%201-100) / 50
	}
	r32, err := ref.Forward(m, x, shape, ref.Options{Intermediates: true})
	if err != nil {
		t.Fatal(err)
	}
	r64, err := ref.Forward(m, x, shape, ref.Options{Precision: verify.Float64, Intermediates: true})
	if err != nil {
		t.Fatal(err)
	}
	rep := verify.Compare(r64.Logits.Data, r32.Logits.Data, r64.Logits.Shape)
	t.Logf("float32 vs float64 logits: max|d| %.3g", rep.MaxAbs)
	if !rep.Pass(1e-5) || !rep.Top1OK() {
		t.Errorf("float32 vs float64: %s", rep)
	}
	// 72x40 -> 36x20 (stem conv1) -> 18x10 -> 9x5 -> 5x3 -> 3x2
	for i, hw := range [][2]int{{18, 10}, {9, 5}, {5, 3}, {3, 2}} {
		got := r32.Intermediates[ref.KeyStage(i)].Shape
		if got[1] != hw[0] || got[2] != hw[1] {
			t.Errorf("stage %d: shape %v, want spatial %v (ceil(H/2) per stride-2 conv)", i, got, hw)
		}
	}
}
