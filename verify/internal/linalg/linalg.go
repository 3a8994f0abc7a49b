// Package linalg holds the numeric kernels shared by the pure-Go
// references of package verify (Vim) and verify/mambaout (MambaOut): the
// nn.Linear product (AVX2/FMA dot kernels for float32 where the CPU has
// them, gonum otherwise), the bias add, a parallel loop and the float32 to
// T widening. It knows no model.
package linalg

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

// Linear computes out[m×n] = a[m×k] · w[n×k]ᵀ, the nn.Linear product
// without bias. Row r of a starts at a[r*lda] (lda ≥ k), so a column slice
// of a wider matrix can be passed directly. gonum parallelises large
// products over GOMAXPROCS goroutines.
func Linear[T Float](out, a []T, lda int, w []T, m, n, k int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		clear(out[:m*n])
		return
	}
	switch o := any(out).(type) {
	case []float32:
		if UseAVX2 && k%8 == 0 {
			linearF32AVX2(o, any(a).([]float32), lda, any(w).([]float32), m, n, k)
			return
		}
		if UseAVX2 && k < 64 {
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

// linearF32AVX2 is Linear for float32 with the AVX2/FMA dot kernels:
// 4×3 output blocks, edge rows and columns by single dot products, row
// blocks spread over GOMAXPROCS goroutines. k must be a multiple of 8.
func linearF32AVX2(out, a []float32, lda int, w []float32, m, n, k int) {
	const rowsPerTask = 16
	_ = a[(m-1)*lda+k-1] // bounds: the kernels index without checks
	_ = w[n*k-1]
	_ = out[m*n-1]
	n3 := n - n%3
	tasks := (m + rowsPerTask - 1) / rowsPerTask
	ParallelFor(tasks, 0, func(task int) {
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

// AddBias adds bias[n] to every row of out[m×n].
func AddBias[T Float](out []T, bias []T, m, n int) {
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

// ParallelFor runs fn(i) for i in [0, n) on up to workers goroutines
// (GOMAXPROCS when workers ≤ 0) and returns when all calls are done.
func ParallelFor(n, workers int, fn func(i int)) {
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

// ToT returns the float32 data as []T: the same slice for T = float32
// (callers must not modify it), a widened copy otherwise.
func ToT[T Float](d []float32) []T {
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

// NormRows normalises every row of x [rows, d] into out (which may be x
// itself), as RMSNorm or, with layerNorm, as nn.LayerNorm (b may be nil).
//
// RMSNorm (every official Vim config, LN 118-119, 266-278; weight, no bias):
//
//	y = x · 1/sqrt(mean(x²) + eps) · w
//
// LayerNorm (Vim with rms_norm=False, F.layer_norm; MambaOut): with the
// biased variance,
//
//	y = (x - mean(x)) · 1/sqrt(var(x) + eps) · w + b
//
// Moments are accumulated in float64.
func NormRows[T Float](out, x, w, b []T, rows, d int, eps float64, layerNorm bool) {
	for r := 0; r < rows; r++ {
		xr := x[r*d : (r+1)*d]
		or := out[r*d : (r+1)*d]
		if !layerNorm {
			var ss float64
			for _, v := range xr {
				ss += float64(v) * float64(v)
			}
			rstd := T(1 / math.Sqrt(ss/float64(d)+eps))
			for j, v := range xr {
				or[j] = (v * rstd) * w[j]
			}
			continue
		}
		var sum float64
		for _, v := range xr {
			sum += float64(v)
		}
		mean := sum / float64(d)
		var ss float64
		for _, v := range xr {
			dv := float64(v) - mean
			ss += dv * dv
		}
		rstd := T(1 / math.Sqrt(ss/float64(d)+eps))
		mt := T(mean)
		for j, v := range xr {
			y := ((v - mt) * rstd) * w[j]
			if b != nil {
				y += b[j]
			}
			or[j] = y
		}
	}
}
