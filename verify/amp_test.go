package verify

import (
	"math"
	"slices"
	"testing"

	"github.com/vimconvert/vimconvert/internal/fixturetest"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestRoundBFloat16 checks the bfloat16 rounding of the AMP emulation:
// nearest, ties to even, NaN kept.
func TestRoundBFloat16(t *testing.T) {
	ulp := float32(1.0 / 128) // bfloat16 spacing in [1, 2)
	for _, c := range []struct{ in, want float32 }{
		{1, 1},
		{1 + ulp/2, 1},                      // tie, 1 is even
		{1 + ulp + ulp/2, 1 + 2*ulp},        // tie, 1+2ulp is even
		{1 + ulp/2 + ulp/64, 1 + ulp},       // above the tie
		{-(1 + ulp/2 + ulp/64), -(1 + ulp)}, // sign kept
		{3.14159265, 3.140625},              // 0x4049
		{float32(math.Inf(1)), float32(math.Inf(1))},
	} {
		if got := roundBFloat16(c.in); got != c.want {
			t.Errorf("roundBFloat16(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if v := roundBFloat16(float32(math.NaN())); v == v {
		t.Errorf("roundBFloat16(NaN) = %v, want NaN", v)
	}
}

// representable reports whether every value of x is a value of the
// 16-bit type a rounds to.
func representable(a AMP, x []float64) bool {
	r, _ := a.rounding()
	for _, v := range x {
		if float64(r(float32(v))) != v {
			return false
		}
	}
	return true
}

// TestAMPEmulation runs the official mixed-precision emulation on the
// depth-2 fixture and on the full Vim-T (when ../shared/fixtures has it):
// the block outputs are 16-bit values while the residual stream is not,
// the model is left unchanged, and the logits are compared with the
// official float32 ones. The float16 path meets the 16-bit bound of the
// README (1e-2) and keeps top-1 wherever the official margin exceeds it.
// bfloat16 is reported: at full depth the official AMP bfloat16 path
// itself is farther than 1e-2 from the float32 logits (README, 16-bit
// models).
func TestAMPEmulation(t *testing.T) {
	dirs := []string{repo.Fixture("vim_t_d2")}
	if !testing.Short() {
		if d := repo.SharedFixture("vim_t"); d != "" {
			dirs = append(dirs, d)
		}
	}
	for _, dir := range dirs {
		m := fixturetest.Vim(t, dir)
		x := fixturetest.Input(t, dir)
		want := fixturetest.Expected(t, dir)["logits"]
		inProj := slices.Clone(m.Layers[0].InProj.Data)
		for _, a := range []AMP{AMPFloat16, AMPBFloat16} {
			r, err := Forward(m, x.Data, [4]int(x.Shape), Options{AMP: a, Intermediates: true})
			if err != nil {
				t.Fatal(err)
			}
			last := len(m.Layers) - 1
			if !representable(a, r.Intermediates[KeyHidden(last)].Data) {
				t.Errorf("%s %s: block %d's output holds values that are not %s", dir, a, last, a)
			}
			if representable(a, r.Intermediates[KeyResidual(last)].Data) {
				t.Errorf("%s %s: block %d's residual stream is all %s values, want float32 (residual_in_fp32)", dir, a, last, a)
			}
			if !representable(a, r.Logits.Data) {
				t.Errorf("%s %s: logits are not %s values", dir, a, a)
			}
			rep := Compare(want.Data, r.Logits.Data, want.Shape)
			d, fullDepth := rep.MaxAbs, len(m.Layers) == 24
			t.Logf("%s: %s AMP emulation: logits max|Δ| = %.3g against the official float32 logits, top-1 %d/%d", dir, a, d, rep.Top1Agree, rep.Top1Rows)
			if !rep.Top1Within(1e-2) {
				t.Errorf("%s: %s AMP emulation changes a top-1 whose official margin exceeds 1e-2", dir, a)
			}
			switch {
			case a == AMPFloat16 && d > 1e-2:
				t.Errorf("%s: float16 AMP emulation: logits max|Δ| %.3g > 1e-2", dir, d)
			case a == AMPBFloat16 && !fullDepth && d > 1e-2:
				t.Errorf("%s: bfloat16 AMP emulation at depth %d: logits max|Δ| %.3g > 1e-2", dir, len(m.Layers), d)
			case a == AMPBFloat16 && fullDepth && (d < 0.012 || d > 0.03):
				// README and BENCHMARKS quote 0.0189: the official bfloat16
				// path itself misses issue 13's 1e-2 on the full Vim-T.
				t.Errorf("%s: bfloat16 AMP emulation at full depth: logits max|Δ| %.3g, documented 0.0189 (band 0.012-0.03)", dir, d)
			}
		}
		if !slices.Equal(inProj, m.Layers[0].InProj.Data) {
			t.Errorf("%s: the AMP emulation modified the model's weights", dir)
		}
	}
}

// TestAMPOptions: the emulation needs float32 and a known type.
func TestAMPOptions(t *testing.T) {
	m := fixturetest.Vim(t, repo.Fixture("vim_t_d2"))
	x := fixturetest.Input(t, repo.Fixture("vim_t_d2"))
	if _, err := Forward(m, x.Data, [4]int(x.Shape), Options{AMP: AMPBFloat16, Precision: Float64}); err == nil {
		t.Error("AMP with Precision Float64: no error")
	}
	if _, err := Forward(m, x.Data, [4]int(x.Shape), Options{AMP: "int8"}); err == nil {
		t.Error("unknown AMP: no error")
	}
}
