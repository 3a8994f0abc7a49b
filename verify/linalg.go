package verify

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"
)

// Float is the element type of a reference computation: float32 mirrors
// the official fp32 run, float64 the official model.double() run.
type Float interface {
	~float32 | ~float64
}

var blasImpl gonum.Implementation

// linear computes out[m×n] = a[m×k] · w[n×k]ᵀ, the nn.Linear product
// without bias. Row r of a starts at a[r*lda] (lda ≥ k), so a column slice
// of a wider matrix can be passed directly. gonum parallelises large
// products over GOMAXPROCS goroutines.
func linear[T Float](out, a []T, lda int, w []T, m, n, k int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(out[:m*n])
		return
	}
	switch o := any(out).(type) {
	case []float32:
		blasImpl.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, any(a).([]float32), lda, any(w).([]float32), k, 0, o, n)
	case []float64:
		blasImpl.Dgemm(blas.NoTrans, blas.Trans, m, n, k, 1, any(a).([]float64), lda, any(w).([]float64), k, 0, o, n)
	default:
		// Named float types (~float32, ~float64): plain loop.
		for i := 0; i < m; i++ {
			ar := a[i*lda : i*lda+k]
			for j := 0; j < n; j++ {
				wr := w[j*k : j*k+k]
				var s T
				for p, v := range ar {
					s += v * wr[p]
				}
				out[i*n+j] = s
			}
		}
	}
}

// addBias adds bias[n] to every row of out[m×n].
func addBias[T Float](out []T, bias []T, m, n int) {
	if bias == nil {
		return
	}
	for i := 0; i < m; i++ {
		row := out[i*n : i*n+n]
		for j, b := range bias {
			row[j] += b
		}
	}
}

// expf returns e^x computed in float64 (fastExp) and rounded to T.
func expf[T Float](x T) T {
	return T(fastExp(float64(x)))
}

// silu returns x·sigmoid(x) = x / (1 + e^-x) (torch.nn.functional.silu).
func silu[T Float](x T) T {
	v := float64(x)
	return T(v / (1 + fastExp(-v)))
}

// softplus returns log(1 + e^x), or x itself above the threshold 20, as
// torch.nn.functional.softplus(x, beta=1, threshold=20) (SSI 109-112).
func softplus[T Float](x T) T {
	if x > 20 {
		return x
	}
	return T(math.Log1p(fastExp(float64(x))))
}

// negExpF32 returns A = -exp(A_log) evaluated in float32, as the official
// Mamba.forward does even for a float64 model (MS 192, 214:
// -torch.exp(self.A_log.float())).
func negExpF32(aLog float32) float32 {
	return -float32(math.Exp(float64(aLog)))
}

// parallelFor runs fn(i) for i in [0, n) on up to workers goroutines
// (GOMAXPROCS when workers ≤ 0) and returns when all calls are done.
func parallelFor(n, workers int, fn func(i int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = min(workers, n)
	if workers <= 1 {
		for i := 0; i < n; i++ {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				fn(i)
			}
		}()
	}
	wg.Wait()
}

// toT returns the float32 data as []T: the same slice for T = float32
// (callers must not modify it), a widened copy otherwise.
func toT[T Float](d []float32) []T {
	if d == nil {
		return nil
	}
	if s, ok := any(d).([]T); ok {
		return s
	}
	out := make([]T, len(d))
	for i, v := range d {
		out[i] = T(v)
	}
	return out
}
