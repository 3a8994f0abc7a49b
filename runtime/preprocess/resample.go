package preprocess

import "math"

// PIL's 8-bit resampling (libImaging/Resample.c, Pillow 9.4), written here for the one
// filter a Recipe uses. Coefficients are computed in float64 exactly as PIL computes
// them (same operations in the same order, no fused multiply-add), then rounded to
// fixed point with precisionBits fraction bits; each pass rounds and clips to 8 bits.

// precisionBits is PIL's PRECISION_BITS (32 - 8 - 2): 8 bits of result and 2 of
// headroom for the filter's negative lobes in a 32-bit accumulator.
const precisionBits = 22

// bicubicSupport is the radius of PIL's bicubic filter before scaling.
const bicubicSupport = 2.0

// bicubic is PIL's bicubic_filter, cubic convolution with a = -0.5. The explicit
// float64 conversions keep the compiler from fusing multiply-adds, so every operation
// rounds as in PIL's C (x86-64 baseline, no FMA).
func bicubic(x float64) float64 {
	const a = -0.5
	if x < 0 {
		x = -x
	}
	if x < 1 {
		// ((a + 2) x - (a + 3)) x x + 1
		return float64(float64(float64(float64((a+2)*x)-(a+3))*x)*x) + 1
	}
	if x < 2 {
		// (((x - 5) x + 8) x - 4) a
		return float64(float64(float64(float64(float64(x-5)*x)+8)*x)-4) * a
	}
	return 0
}

// taps are the fixed-point filter weights of a run of consecutive outputs of one pass:
// output i (counted from the first requested one) reads inputs start[i] .. start[i]+n[i]-1
// with weights k[i*ksize : i*ksize+n[i]].
type taps struct {
	ksize    int
	start, n []int
	k        []int32
}

// bicubicTaps computes PIL's precompute_coeffs + normalize_coeffs_8bpc for outputs
// first .. first+count-1 of a resize of inSize samples to outSize, over the whole input
// (PIL's default box). Each output's weights depend only on its own index, so
// computing a window gives the same numbers as PIL computing them all.
func bicubicTaps(inSize, outSize, first, count int) taps {
	// PIL passes the box as C floats: in1 = (float)inSize, in0 = 0.
	in1 := float64(float32(inSize))
	scale := in1 / float64(outSize)
	filterscale := max(scale, 1.0)
	support := bicubicSupport * filterscale
	ksize := int(math.Ceil(support))*2 + 1
	t := taps{ksize: ksize, start: make([]int, count), n: make([]int, count), k: make([]int32, count*ksize)}
	w := make([]float64, ksize)
	ss := 1.0 / filterscale
	for i := 0; i < count; i++ {
		center := float64(float64(first+i)+0.5) * scale
		xmin := max(int(center-support+0.5), 0)
		xmax := min(int(center+support+0.5), inSize) - xmin
		ww := 0.0
		for x := 0; x < xmax; x++ {
			w[x] = bicubic(float64(float64(x+xmin)-center+0.5) * ss)
			ww += w[x]
		}
		for x := 0; x < xmax; x++ {
			if ww != 0 {
				w[x] /= ww
			}
			if w[x] < 0 {
				t.k[i*ksize+x] = int32(-0.5 + float64(w[x]*(1<<precisionBits)))
			} else {
				t.k[i*ksize+x] = int32(0.5 + float64(w[x]*(1<<precisionBits)))
			}
		}
		t.start[i], t.n[i] = xmin, max(xmax, 0)
	}
	return t
}

// clipFixed is PIL's clip8: the accumulator shifted down to 8 bits, clamped.
func clipFixed(ss int32) uint8 {
	v := ss >> precisionBits
	if v < 0 {
		return 0
	}
	if v > 255 {
		return 255
	}
	return uint8(v)
}

// resizeCropWindow returns the crop x crop window at (left, top) of PIL's bicubic
// resize of img to outW x outH, computing only the pixels the window needs: PIL's
// horizontal pass (when the width changes) over the source rows the window's vertical
// taps read, then its vertical pass (when the height changes).
func resizeCropWindow(img *RGB8, outW, outH, left, top, crop int) *RGB8 {
	needH, needV := outW != img.Width, outH != img.Height
	// Source rows the vertical pass reads: [rowFirst, rowEnd).
	var vt taps
	rowFirst, rowEnd := top, top+crop
	if needV {
		vt = bicubicTaps(img.Height, outH, top, crop)
		rowFirst, rowEnd = vt.start[0], vt.start[crop-1]+vt.n[crop-1]
		for i := range vt.start {
			rowFirst = min(rowFirst, vt.start[i])
			rowEnd = max(rowEnd, vt.start[i]+vt.n[i])
		}
	}
	// tmp: [rowEnd-rowFirst, crop, 3], the horizontally resized (or cut) source rows.
	tmp := newRGB8(crop, rowEnd-rowFirst)
	if needH {
		horizontalPass(tmp, img, rowFirst, bicubicTaps(img.Width, outW, left, crop))
	} else {
		for y := rowFirst; y < rowEnd; y++ {
			copy(tmp.Pix[3*crop*(y-rowFirst):3*crop*(y-rowFirst+1)], img.Pix[3*(y*img.Width+left):])
		}
	}
	if !needV {
		return tmp
	}
	out := newRGB8(crop, crop)
	verticalPass(out, tmp, rowFirst, vt)
	return out
}

// horizontalPass fills dst row y from source row rowFirst+y (ImagingResampleHorizontal_8bpc).
func horizontalPass(dst, src *RGB8, rowFirst int, t taps) {
	const half = int32(1 << (precisionBits - 1))
	for y := 0; y < dst.Height; y++ {
		in := src.Pix[3*src.Width*(rowFirst+y) : 3*src.Width*(rowFirst+y+1)]
		o := dst.Pix[3*dst.Width*y : 3*dst.Width*(y+1)]
		for xx := 0; xx < dst.Width; xx++ {
			k := t.k[xx*t.ksize : xx*t.ksize+t.n[xx]]
			p := in[3*t.start[xx] : 3*(t.start[xx]+len(k))] // [len(k), 3] source pixels
			s0, s1, s2 := half, half, half
			for x, kx := range k {
				q := p[3*x : 3*x+3 : 3*x+3]
				s0 += int32(q[0]) * kx
				s1 += int32(q[1]) * kx
				s2 += int32(q[2]) * kx
			}
			q := o[3*xx : 3*xx+3 : 3*xx+3]
			q[0], q[1], q[2] = clipFixed(s0), clipFixed(s1), clipFixed(s2)
		}
	}
}

// verticalPass fills dst row yy from src rows t.start[yy]-rowFirst ...
// (ImagingResampleVertical_8bpc). The sums run row by row over a whole output row at
// once: integer sums, so the order does not change the result.
func verticalPass(dst, src *RGB8, rowFirst int, t taps) {
	stride := 3 * src.Width
	acc := make([]int32, 3*dst.Width)
	for yy := 0; yy < dst.Height; yy++ {
		for i := range acc {
			acc[i] = 1 << (precisionBits - 1)
		}
		k := t.k[yy*t.ksize : yy*t.ksize+t.n[yy]]
		base := (t.start[yy] - rowFirst) * stride
		for y, ky := range k {
			row := src.Pix[base+y*stride : base+y*stride+len(acc)]
			for i, v := range row {
				acc[i] += int32(v) * ky
			}
		}
		o := dst.Pix[3*dst.Width*yy : 3*dst.Width*(yy+1)]
		for i, s := range acc {
			o[i] = clipFixed(s)
		}
	}
}
