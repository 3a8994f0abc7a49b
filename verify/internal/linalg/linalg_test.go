package linalg

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
		Linear(out, a, tc.lda, w, tc.m, tc.n, tc.k)
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

// TestNormRows checks both norms against their definitions in float64,
// and that normalising in place (out = x, as verify/mambaout does) gives
// the same rows as into a fresh slice.
func TestNormRows(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, d, eps = 5, 24, 1e-6
	x, w, b := make([]float64, rows*d), make([]float64, d), make([]float64, d)
	for i := range x {
		x[i] = 3 + 2*rng.NormFloat64()
	}
	for i := range w {
		w[i], b[i] = rng.NormFloat64(), rng.NormFloat64()
	}
	for _, layerNorm := range []bool{false, true} {
		out := make([]float64, len(x))
		NormRows(out, x, w, b, rows, d, eps, layerNorm)
		inPlace := append([]float64(nil), x...)
		NormRows(inPlace, inPlace, w, b, rows, d, eps, layerNorm)
		for r := 0; r < rows; r++ {
			row := x[r*d : (r+1)*d]
			var mean, sq float64
			for _, v := range row {
				mean += v / d
			}
			for _, v := range row {
				if layerNorm {
					sq += (v - mean) * (v - mean) / d
				} else {
					sq += v * v / d
				}
			}
			for j, v := range row {
				want := v / math.Sqrt(sq+eps) * w[j]
				if layerNorm {
					want = (v-mean)/math.Sqrt(sq+eps)*w[j] + b[j]
				}
				i := r*d + j
				if math.Abs(out[i]-want) > 1e-12 || inPlace[i] != out[i] {
					t.Fatalf("layerNorm %v: row %d col %d = %v (in place %v), want %v", layerNorm, r, j, out[i], inPlace[i], want)
				}
			}
		}
	}
}
