package verify

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestLinearFloat32 checks the float32 product (AVX2 kernels where
// available, gonum otherwise) against a float64 sum, for shapes that
// exercise full 4×3 blocks, edge rows/columns and a row stride > k.
func TestLinearFloat32(t *testing.T) {
	rng := rand.New(rand.NewPCG(5, 6))
	for _, tc := range []struct {
		m, n, k, lda int
		reason       string
	}{
		{197, 768, 192, 192, "in_proj of Vim-T"},
		{197, 44, 384, 384, "x_proj: 44 = 14·3 + 2 edge columns"},
		{1, 1000, 192, 192, "head, one row"},
		{7, 5, 8, 8, "tiny, k one vector"},
		{6, 4, 16, 40, "row stride larger than k"},
		{5, 3, 12, 44, "k not a multiple of 8 (gonum path)"},
	} {
		a := make([]float32, (tc.m-1)*tc.lda+tc.k)
		w := make([]float32, tc.n*tc.k)
		for i := range a {
			a[i] = float32(rng.NormFloat64())
		}
		for i := range w {
			w[i] = float32(rng.NormFloat64())
		}
		out := make([]float32, tc.m*tc.n)
		linear(out, a, tc.lda, w, tc.m, tc.n, tc.k)
		for i := 0; i < tc.m; i++ {
			for j := 0; j < tc.n; j++ {
				var s, mag float64
				for p := 0; p < tc.k; p++ {
					v := float64(a[i*tc.lda+p]) * float64(w[j*tc.k+p])
					s += v
					mag += math.Abs(v)
				}
				if d := math.Abs(float64(out[i*tc.n+j]) - s); d > 1e-6*mag {
					t.Fatalf("%s: out[%d,%d] = %v, want %v (|Δ| %g)", tc.reason, i, j, out[i*tc.n+j], s, d)
				}
			}
		}
	}
}
