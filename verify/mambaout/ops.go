package mambaout

import (
	"math"
	"runtime"
	"sync"

	"gonum.org/v1/gonum/blas"
	"gonum.org/v1/gonum/blas/gonum"

	"github.com/vimconvert/vimconvert/convert"
)

// This file holds the numeric kernels of the reference. Activations are
// NHWC, as in the official code between layers: a tensor [B, H, W, C] is a
// matrix of B*H*W rows (pixels) and C columns.

// float is the element type of a reference run: float32 mirrors the
// official fp32 run, float64 its model.double() run.
type float interface{ ~float32 | ~float64 }

var blasImpl gonum.Implementation

// linear computes out[m×n] = a[m×k] · w[n×k]ᵀ + bias[n], nn.Linear with
// the official [out, in] weight. gonum parallelises large products.
func linear[T float](out, a, w, bias []T, m, n, k int) {
	switch o := any(out).(type) {
	case []float32:
		blasImpl.Sgemm(blas.NoTrans, blas.Trans, m, n, k, 1, any(a).([]float32), k, any(w).([]float32), k, 0, o, n)
	case []float64:
		blasImpl.Dgemm(blas.NoTrans, blas.Trans, m, n, k, 1, any(a).([]float64), k, any(w).([]float64), k, 0, o, n)
	}
	for r := 0; r < m; r++ {
		row := out[r*n : (r+1)*n]
		for c, b := range bias {
			row[c] += b
		}
	}
}

// parallelRows runs fn over [0, n) split into contiguous chunks, one per
// worker (GOMAXPROCS when workers ≤ 0).
func parallelRows(n, workers int, fn func(lo, hi int)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	workers = max(1, min(workers, n))
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		lo, hi := n*w/workers, n*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			fn(lo, hi)
		}()
	}
	wg.Wait()
}

// layerNormRows normalises each row of x [rows, d] in place: nn.LayerNorm
// over the channels, (x - mean) / sqrt(var + eps) * w + b with the biased
// variance. Moments are accumulated in float64.
func layerNormRows[T float](x, w, b []T, rows, d int, eps float64) {
	for r := 0; r < rows; r++ {
		row := x[r*d : (r+1)*d]
		var mean float64
		for _, v := range row {
			mean += float64(v)
		}
		mean /= float64(d)
		var vr float64
		for _, v := range row {
			dv := float64(v) - mean
			vr += dv * dv
		}
		vr /= float64(d)
		inv := 1 / math.Sqrt(vr+eps)
		for c, v := range row {
			row[c] = T((float64(v)-mean)*inv)*w[c] + b[c]
		}
	}
}

// gelu is the exact GELU of nn.GELU(): x/2 · (1 + erf(x/√2)).
func gelu[T float](x T) T {
	v := float64(x)
	return T(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
}

// conv2dNHWC is nn.Conv2d(cin, cout, k, stride, padding) on an NHWC input
// x [B, H, W, cin] with the official weight w [cout, cin, k, k], computed as
// im2col + one matrix product. It returns [B, OH, OW, cout].
func conv2dNHWC[T float](x []T, bsz, h, wd, cin int, w, bias []T, cout, k, stride, pad, workers int) (out []T, oh, ow int) {
	oh, ow = (h+2*pad-k)/stride+1, (wd+2*pad-k)/stride+1
	kk := k * k * cin
	// weight [cout, cin, k, k] -> [cout, k, k, cin], the im2col column order
	wp := make([]T, cout*kk)
	for o := 0; o < cout; o++ {
		for ci := 0; ci < cin; ci++ {
			for t := 0; t < k*k; t++ {
				wp[o*kk+t*cin+ci] = w[(o*cin+ci)*k*k+t]
			}
		}
	}
	rows := bsz * oh * ow
	cols := make([]T, rows*kk) // [B*OH*OW, k*k*cin], zero = padding
	parallelRows(rows, workers, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bi, oy, ox := r/(oh*ow), (r/ow)%oh, r%ow
			for ky := 0; ky < k; ky++ {
				iy := oy*stride - pad + ky
				if iy < 0 || iy >= h {
					continue
				}
				for kx := 0; kx < k; kx++ {
					ix := ox*stride - pad + kx
					if ix < 0 || ix >= wd {
						continue
					}
					src := ((bi*h+iy)*wd + ix) * cin
					copy(cols[r*kk+(ky*k+kx)*cin:][:cin], x[src:src+cin])
				}
			}
		}
	})
	out = make([]T, rows*cout)
	linear(out, cols, wp, bias, rows, cout, kk)
	return out, oh, ow
}

// depthwiseConvNHWC is nn.Conv2d(c, c, k, padding=k/2, groups=c) on an
// NHWC input x [B, H, W, c] whose rows have stride ld (a column slice of a
// wider matrix starting at x[0]), official weight w [c, 1, k, k]. It
// returns [B, H, W, c].
func depthwiseConvNHWC[T float](x []T, ld, bsz, h, wd, c int, w, bias []T, k, workers int) []T {
	// taps [k*k, c]: channel-contiguous for the inner loop
	taps := make([]T, k*k*c)
	for ch := 0; ch < c; ch++ {
		for t := 0; t < k*k; t++ {
			taps[t*c+ch] = w[ch*k*k+t]
		}
	}
	pad := k / 2
	out := make([]T, bsz*h*wd*c)
	parallelRows(bsz*h, workers, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bi, y := r/h, r%h
			for xx := 0; xx < wd; xx++ {
				o := out[((bi*h+y)*wd+xx)*c:][:c]
				copy(o, bias)
				for ky := 0; ky < k; ky++ {
					iy := y - pad + ky
					if iy < 0 || iy >= h {
						continue
					}
					for kx := 0; kx < k; kx++ {
						ix := xx - pad + kx
						if ix < 0 || ix >= wd {
							continue
						}
						in := x[((bi*h+iy)*wd+ix)*ld:][:c]
						tp := taps[(ky*k+kx)*c:][:c]
						for ch := range o {
							o[ch] += in[ch] * tp[ch]
						}
					}
				}
			}
		}
	})
	return out
}

// param returns a checkpoint tensor as []T: the exact float64 values of a
// float64 storage for T = float64, else its float32 data (widened).
func param[T float](t *convert.Tensor) []T {
	var zero T
	if _, is64 := any(zero).(float64); is64 && t.F64 != nil {
		return any(append([]float64(nil), t.F64...)).([]T)
	}
	out := make([]T, len(t.Data))
	for i, v := range t.Data {
		out[i] = T(v)
	}
	return out
}
