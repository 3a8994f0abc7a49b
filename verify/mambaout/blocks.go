package mambaout

import (
	"github.com/vimconvert/vimconvert/convert"
	mo "github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/verify"
	"github.com/vimconvert/vimconvert/verify/internal/linalg"
)

// convNorm is a 3x3 stride-2 padding-1 conv followed by a LayerNorm over
// the channels: DownsampleLayer.forward (78-94), and each half of the stem
// (permute to NCHW, conv, permute back, norm).
func convNorm[T verify.Float](x act[T], w, bias, nw, nb *convert.Tensor, eps float64, workers int) act[T] {
	cout := w.Shape[0]
	out, oh, ow := conv2dNHWC(x.data, x.b, x.h, x.w, x.c, param[T](w), param[T](bias), cout, 3, 2, 1, workers)
	y := act[T]{data: out, b: x.b, h: oh, w: ow, c: cout}
	linalg.NormRows(y.data, y.data, param[T](nw), param[T](nb), y.rows(), cout, eps, true)
	return y
}

// gatedCNNBlock is GatedCNNBlock.forward (119-152):
//
//	g, i, c = split(fc1(norm(x)), (hidden, hidden - convCh, convCh))
//	c = depthwise_conv(c)   (NCHW in the official code; NHWC here)
//	return fc2(gelu(g) * cat(i, c)) + x
func gatedCNNBlock[T verify.Float](blk *mo.Block, hidden, convCh, k int, x act[T], eps float64, workers int) act[T] {
	n, dim := x.rows(), x.c
	normed := make([]T, len(x.data))
	linalg.NormRows(normed, x.data, param[T](blk.NormW), param[T](blk.NormB), n, dim, eps, true)
	h := make([]T, n*2*hidden) // [N, 2*hidden] = [g | i | c]
	linear(h, normed, param[T](blk.FC1W), param[T](blk.FC1B), n, 2*hidden, dim)
	// c: columns [2*hidden - convCh, 2*hidden) of h, row stride 2*hidden
	conv := depthwiseConvNHWC(h[2*hidden-convCh:], 2*hidden, x.b, x.h, x.w, convCh, param[T](blk.ConvW), param[T](blk.ConvB), k, workers)
	gated := make([]T, n*hidden) // gelu(g) * cat(i, c), [N, hidden]
	keep := hidden - convCh
	for r := 0; r < n; r++ {
		g := h[r*2*hidden:][:hidden]
		iv := h[r*2*hidden+hidden:][:keep]
		cv := conv[r*convCh:][:convCh]
		o := gated[r*hidden:][:hidden]
		for t := 0; t < keep; t++ {
			o[t] = gelu(g[t]) * iv[t]
		}
		for t := 0; t < convCh; t++ {
			o[keep+t] = gelu(g[keep+t]) * cv[t]
		}
	}
	out := make([]T, n*dim)
	linear(out, gated, param[T](blk.FC2W), param[T](blk.FC2B), n, dim, hidden)
	for i, v := range x.data {
		out[i] += v // shortcut: the block input before the norm
	}
	return act[T]{data: out, b: x.b, h: x.h, w: x.w, c: dim}
}

// meanPool is x.mean([1, 2]): [B, H, W, C] -> [B, C].
func meanPool[T verify.Float](x act[T]) []T {
	out := make([]T, x.b*x.c)
	hw := x.h * x.w
	for bi := 0; bi < x.b; bi++ {
		o := out[bi*x.c:][:x.c]
		for p := 0; p < hw; p++ {
			row := x.data[(bi*hw+p)*x.c:][:x.c]
			for ch, v := range row {
				o[ch] += v
			}
		}
		for ch := range o {
			o[ch] /= T(hw)
		}
	}
	return out
}

// head is MlpHead.forward (97-116): fc1, GELU, norm, fc2 on [B, C].
func head[T verify.Float](m *mo.Model, feat []T, b int) []T {
	c := &m.Config
	in := c.Dims[c.NumStages()-1]
	h := make([]T, b*c.HeadHidden)
	linear(h, feat, param[T](m.HeadFC1W), param[T](m.HeadFC1B), b, c.HeadHidden, in)
	for i, v := range h {
		h[i] = gelu(v)
	}
	linalg.NormRows(h, h, param[T](m.HeadNormW), param[T](m.HeadNormB), b, c.HeadHidden, c.NormEps, true)
	out := make([]T, b*c.NumClasses)
	linear(out, h, param[T](m.HeadFC2W), param[T](m.HeadFC2B), b, c.NumClasses, c.HeadHidden)
	return out
}
