package graph

import (
	"math"
	"math/rand/v2"

	"github.com/vimconvert/vimconvert/internal/benchgraph"
	"github.com/vimconvert/vimconvert/runtime"
)

// RandomScanInputs is randomScanInputs for the external tests (package
// graph_test); the internal ones call it directly.
var RandomScanInputs = randomScanInputs

// randomScanInputs returns inputs for a scan-only model (benchgraph.ScanOnly)
// with the fixtures' magnitudes: A = -exp(N(0,1)·0.5) in about [-4, -0.2], delta raw N(0, 0.5),
// delta_bias such that softplus(bias) spans 1e-3 .. 0.3, u/B/C/z N(0,1).
func randomScanInputs(batch, L, din, n int, seed uint64) map[string]*runtime.Tensor {
	r := rand.New(rand.NewPCG(seed, 7))
	in := map[string]*runtime.Tensor{}
	for _, name := range benchgraph.ScanInputNames {
		shape := benchgraph.ScanInputShape(name, int64(batch), int64(L), int64(din), int64(n))
		size := int64(1)
		for _, d := range shape {
			size *= d
		}
		data := make([]float32, size)
		for i := range data {
			g := r.NormFloat64()
			switch name {
			case "A_f", "A_b":
				data[i] = float32(-math.Exp(0.5 * g))
			case "delta_f", "delta_b":
				data[i] = float32(0.5 * g)
			case "delta_bias_f", "delta_bias_b":
				// softplus^-1 of a log-uniform dt in [1e-3, 0.3]
				dt := math.Exp(math.Log(1e-3) + r.Float64()*(math.Log(0.3)-math.Log(1e-3)))
				data[i] = float32(math.Log(math.Expm1(dt)))
			case "D_f", "D_b":
				data[i] = float32(1 + 0.25*g)
			default:
				data[i] = float32(g)
			}
		}
		in[name] = &runtime.Tensor{Shape: shape, Data: data}
	}
	return in
}
