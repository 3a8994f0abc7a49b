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
		if useAVX2 && k%8 == 0 {
			linearF32AVX2(o, any(a).([]float32), lda, any(w).([]float32), m, n, k)
			return
		}
		if useAVX2 && k < 64 {
			// Small k (dt_proj: k = dt_rank = 12): zero-pad k to a multiple
			// of 8; the added products are exact zeros.
			kp := (k + 7) &^ 7
			ap, wp := make([]float32, m*kp), make([]float32, n*kp)
			af, wf := any(a).([]float32), any(w).([]float32)
			for i := 0; i < m; i++ {
				copy(ap[i*kp:i*kp+k], af[i*lda:i*lda+k])
			}
			for j := 0; j < n; j++ {
				copy(wp[j*kp:j*kp+k], wf[j*k:j*k+k])
			}
			linearF32AVX2(o, ap, kp, wp, m, n, kp)
			return
		}
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

// linearF32AVX2 is linear for float32 with the AVX2/FMA dot kernels:
// 4×3 output blocks, edge rows and columns by single dot products, row
// blocks spread over GOMAXPROCS goroutines. k must be a multiple of 8.
func linearF32AVX2(out, a []float32, lda int, w []float32, m, n, k int) {
	const rowsPerTask = 16
	_ = a[(m-1)*lda+k-1] // bounds: the kernels index without checks
	_ = w[n*k-1]
	_ = out[m*n-1]
	n3 := n - n%3
	tasks := (m + rowsPerTask - 1) / rowsPerTask
	parallelFor(tasks, 0, func(task int) {
		r0, r1 := task*rowsPerTask, min(m, (task+1)*rowsPerTask)
		r := r0
		for ; r+4 <= r1; r += 4 {
			for c := 0; c < n3; c += 3 {
				dot4x3F32AVX2(&a[r*lda], lda, &w[c*k], k, k, &out[r*n+c], n)
			}
			for c := n3; c < n; c++ {
				for i := r; i < r+4; i++ {
					out[i*n+c] = dotF32AVX2(&a[i*lda], &w[c*k], k)
				}
			}
		}
		for ; r < r1; r++ {
			for c := 0; c < n; c++ {
				out[r*n+c] = dotF32AVX2(&a[r*lda], &w[c*k], k)
			}
		}
	})
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
// -torch.exp(self.A_log.float())), with torch's own float32 exp (see
// torchExpF32) so that A matches the official A bit for bit.
func negExpF32(aLog float32) float32 {
	return -torchExpF32(aLog)
}

// torchExpF32 is the float32 exp of PyTorch's CPU kernels on x86-64
// (Vectorized<float>::exp = SLEEF expf_u10 with FMA, the AVX2 and AVX-512
// builds alike). It is not correctly rounded: about one A in ten differs by
// one ulp from the correctly rounded exp, enough to move float64 logits by
// ~1e-9. The algorithm (public SLEEF): q = rint(x/ln2), s = x - q·ln2 in
// two FMA steps, e^s by a degree-6 polynomial in FMA form, then ·2^q.
func torchExpF32(d float32) float32 {
	const (
		rLn2 = float32(1.442695040888963407359924681001892137426645954152985934135449406931)
		l2u  = float32(0.693145751953125)
		l2l  = float32(1.428606765330187045e-06)
	)
	if d != d {
		return d
	}
	q := int32(math.RoundToEven(float64(float32(d * rLn2))))
	qf := float32(q)
	s := fmaF32(qf, -l2u, d)
	s = fmaF32(qf, -l2l, s)
	u := float32(0.000198527617612853646278381)
	u = fmaF32(u, s, 0.00139304355252534151077271)
	u = fmaF32(u, s, 0.00833336077630519866943359)
	u = fmaF32(u, s, 0.0416664853692054748535156)
	u = fmaF32(u, s, 0.166666671633720397949219)
	u = fmaF32(u, s, 0.5)
	u = 1 + fmaF32(float32(s*s), u, s)
	// u·2^q as u·2^(q>>1)·2^(q-(q>>1)), each factor a normal float32.
	u = u * pow2F32(q>>1) * pow2F32(q-(q>>1))
	if d < -104 {
		return 0
	}
	if d > 100 {
		return float32(math.Inf(1))
	}
	return u
}

// fmaF32 is a·b + c rounded once to float32 (a·b is exact in float64, so
// only a float64 → float32 double rounding could differ, at ties).
func fmaF32(a, b, c float32) float32 {
	return float32(math.FMA(float64(a), float64(b), float64(c)))
}

// pow2F32 returns 2^q for q in the normal float32 exponent range.
func pow2F32(q int32) float32 {
	return math.Float32frombits(uint32(q+127) << 23)
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
