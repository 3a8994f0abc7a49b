package mambaout

import (
	"math"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/verify"
	"github.com/vimconvert/vimconvert/verify/internal/linalg"
)

// This file holds the numeric kernels of the reference. Activations are
// NHWC, as in the official code between layers: a tensor [B, H, W, C] is a
// matrix of B*H*W rows (pixels) and C columns. The element type T is
// verify.Float: float32 mirrors the official fp32 run, float64 its
// model.double() run.

// linear computes out[m×n] = a[m×k] · w[n×k]ᵀ + bias[n], nn.Linear with
// the official [out, in] weight, with verify's product (linalg.Linear).
func linear[T verify.Float](out, a, w, bias []T, m, n, k int) {
	linalg.Linear(out, a, k, w, m, n, k)
	linalg.AddBias(out, bias, m, n)
}

// gelu is the exact GELU of nn.GELU(): x/2 · (1 + erf(x/√2)).
func gelu[T verify.Float](x T) T {
	v := float64(x)
	return T(0.5 * v * (1 + math.Erf(v/math.Sqrt2)))
}

// conv2dNHWC is nn.Conv2d(cin, cout, k, stride, padding) on an NHWC input
// x [B, H, W, cin] with the official weight w [cout, cin, k, k], computed as
// im2col + one matrix product. It returns [B, OH, OW, cout].
func conv2dNHWC[T verify.Float](x []T, bsz, h, wd, cin int, w, bias []T, cout, k, stride, pad, workers int) (out []T, oh, ow int) {
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
	linalg.ParallelFor(rows, workers, func(r int) {
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
	})
	out = make([]T, rows*cout)
	linear(out, cols, wp, bias, rows, cout, kk)
	return out, oh, ow
}

// depthwiseConvNHWC is nn.Conv2d(c, c, k, padding=k/2, groups=c) on an
// NHWC input x [B, H, W, c] whose rows have stride ld (a column slice of a
// wider matrix starting at x[0]), official weight w [c, 1, k, k]. It
// returns [B, H, W, c].
func depthwiseConvNHWC[T verify.Float](x []T, ld, bsz, h, wd, c int, w, bias []T, k, workers int) []T {
	// taps [k*k, c]: channel-contiguous for the inner loop
	taps := make([]T, k*k*c)
	for ch := 0; ch < c; ch++ {
		for t := 0; t < k*k; t++ {
			taps[t*c+ch] = w[ch*k*k+t]
		}
	}
	pad := k / 2
	out := make([]T, bsz*h*wd*c)
	linalg.ParallelFor(bsz*h, workers, func(r int) {
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
	})
	return out
}

// param returns a checkpoint tensor as []T, to be read only: the exact
// float64 values of a float64 storage for T = float64, else its float32
// data (linalg.ToT: the tensor's own slice for T = float32).
func param[T verify.Float](t *convert.Tensor) []T {
	var zero T
	if _, is64 := any(zero).(float64); is64 && t.F64 != nil {
		return any(t.F64).([]T)
	}
	return linalg.ToT[T](t.Data)
}
