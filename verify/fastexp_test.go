package verify

import (
	"math"
	"math/rand/v2"
	"testing"
)

func TestFastExpAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	worst := 0.0
	worst32 := 0
	check := func(x float64) {
		got, want := fastExp(x), math.Exp(x)
		if want == 0 || math.IsInf(want, 0) {
			if got != want {
				t.Fatalf("fastExp(%v) = %v, want %v", x, got, want)
			}
			return
		}
		if rel := math.Abs(got-want) / want; rel > worst {
			worst = rel
		}
		if float32(got) != float32(want) {
			worst32++
		}
	}
	for i := 0; i < 2_000_000; i++ {
		check((rng.Float64()*2 - 1) * 40) // dt·A lies in about [-40, 0]
	}
	for i := 0; i < 200_000; i++ {
		check((rng.Float64()*2 - 1) * 710)
	}
	for _, x := range []float64{0, -0, 1, -1, math.Ln2, -707.9, 708.9, -708, 709, -745.2, -800, 710, 1e-300, -1e-20} {
		check(x)
	}
	if worst > 6e-16 {
		t.Errorf("max relative error %.3g > 6e-16", worst)
	}
	if worst32 > 0 {
		t.Errorf("%d float32 roundings differ from math.Exp's", worst32)
	}
	if !math.IsNaN(fastExp(math.NaN())) || fastExp(math.Inf(-1)) != 0 || !math.IsInf(fastExp(math.Inf(1)), 1) {
		t.Error("special values")
	}
	t.Logf("max relative error %.3g", worst)
}

func BenchmarkFastExp(b *testing.B) {
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += fastExp(-float64(i&1023) * 0.01)
	}
	_ = s
}

func BenchmarkMathExp(b *testing.B) {
	s := 0.0
	for i := 0; i < b.N; i++ {
		s += math.Exp(-float64(i&1023) * 0.01)
	}
	_ = s
}

func TestTorchExpF32(t *testing.T) {
	for _, tc := range []struct {
		x, want float32
		reason  string
	}{
		{0, 1, "exp(0)"},
		{-200, 0, "underflow below -104"},
		{1, float32(math.E), "e (correctly rounded here)"},
	} {
		if got := torchExpF32(tc.x); got != tc.want {
			t.Errorf("%s: torchExpF32(%v) = %v, want %v", tc.reason, tc.x, got, tc.want)
		}
	}
	if !math.IsInf(float64(torchExpF32(200)), 1) || !math.IsNaN(float64(torchExpF32(float32(math.NaN())))) {
		t.Error("overflow / NaN")
	}
	// Within 1 ulp of the correctly rounded exp everywhere in range.
	for x := float32(-80); x < 80; x += 0.0137 {
		got, want := torchExpF32(x), float32(math.Exp(float64(x)))
		if math.Abs(float64(got-want)) > float64(want)*1.2e-7 {
			t.Fatalf("torchExpF32(%v) = %v, exp = %v", x, got, want)
		}
	}
}
