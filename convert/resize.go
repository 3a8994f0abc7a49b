package convert

import (
	"fmt"
	"math"
)

// bicubicA is the cubic convolution coefficient of PyTorch's bicubic
// interpolation (aten/src/ATen/native/UpSample.h, get_cubic_upsample_coefficients).
const bicubicA = -0.75

// Limits of ResizePosEmbed. MaxSeqLen (patch plus cls tokens) allows every
// official geometry with room to spare: 1248 px is 78×78 = 6085 tokens at
// stride 16 and 155×155 = 24026 at stride 8; 65,536 tokens is a 256×256
// grid (4096 px at stride 16). MaxPosEmbedValues keeps the resized
// pos_embed at most 256 MiB of float32, far below protobuf's 2 GiB message
// limit for the ONNX initializer (Vim-B's 768 channels reach 50M values at
// MaxSeqLen).
const (
	MaxSeqLen         = 1 << 16
	MaxPosEmbedValues = 1 << 26
)

// ResizePosEmbed adapts m to square input images of imgSize pixels; it is
// ResizePosEmbedHW(m, imgSize, imgSize).
func ResizePosEmbed(m *Model, imgSize int) error { return ResizePosEmbedHW(m, imgSize, imgSize) }

// CheckImageSide returns nil when a side of n pixels fits patch p and
// stride s ((n - p) % s == 0, n >= p), else an error naming the side
// (what: "height", "width", "img size") and the nearest sizes that fit.
func CheckImageSide(what string, n, p, s int) error {
	if p < 1 || s < 1 {
		return fmt.Errorf("model has patch size %d and stride %d", p, s)
	}
	if n < p {
		return fmt.Errorf("%s %d is smaller than the patch size %d (smallest: %d)", what, n, p, p)
	}
	if r := (n - p) % s; r != 0 {
		if n-r < p {
			return fmt.Errorf("%s %d does not fit patch %d and stride %d (try %d)", what, n, p, s, n-r+s)
		}
		return fmt.Errorf("%s %d does not fit patch %d and stride %d: (%d - %d) is not a multiple of %d (try %d or %d)",
			what, n, p, s, n, p, s, n-r, n-r+s)
	}
	return nil
}

// ResizePosEmbedHW adapts m to input images of h×w pixels (height, width):
// it resamples the patch rows of pos_embed bicubically to the new patch grid
// and sets m.Config.ImgSize = h and ImgWidth (0 when h == w) so that the
// grid, token count and cls position follow. Patch size and stride are
// unchanged; each side n gives (n - patch)/stride + 1 patches and must
// make that integral (CheckImageSide). The resampling is
// torch.nn.functional.interpolate(mode="bicubic", align_corners=False)
// without antialiasing, on the patch rows in row-major grid order,
// computed in float64.
//
// The cls tokens keep their own pos_embed rows and positions:
//   - middle (every released model): the cls row is row M//2 of the old
//     pos_embed (M = old patch count, MM 399-403, fixtures/README.md item 14);
//     it is taken out, the M patch rows are resized, and it is put back at
//     row M'//2 of the new sequence, where the model inserts the cls token;
//   - head: row 0; double: row 0 and the last row; none: every row is a patch.
//
// This differs from the official fine-tune code (vim/main.py 327-344 and
// utils.interpolate_pos_embed), which always treats row 0 as the cls row: for
// a middle-cls model it resizes a grid made of the cls row plus the patches
// shifted by one from M//2 on, and gives the cls token patch 0's row.
//
// A model without pos_embed only gets the new geometry. Resizing to the
// current size is a no-op. The new sequence may hold at most MaxSeqLen
// tokens and pos_embed at most MaxPosEmbedValues values.
func ResizePosEmbedHW(m *Model, h, w int) error {
	if m == nil {
		return fmt.Errorf("resize pos_embed: nil model")
	}
	c := &m.Config
	p, s := c.PatchSize, c.Stride
	what := "img size"
	if h != w {
		what = "height"
	}
	if err := CheckImageSide(what, h, p, s); err != nil {
		return fmt.Errorf("resize pos_embed: %w", err)
	}
	if err := CheckImageSide("width", w, p, s); err != nil {
		return fmt.Errorf("resize pos_embed: %w", err)
	}
	newGH, newGW := c.GridLen(h), c.GridLen(w)
	oldGH, oldGW := c.GridHW()
	if newGH == oldGH && newGW == oldGW && h == c.ImgSize && w == c.Width() {
		return nil
	}
	if newGH > MaxSeqLen/newGW {
		return fmt.Errorf("resize pos_embed: img size %d×%d with patch %d and stride %d gives a %d×%d grid, more than the %d tokens supported (the largest official setting, 1248 at stride 8, is 155×155)",
			h, w, p, s, newGH, newGW, MaxSeqLen)
	}
	nCls, ok := c.ClsToken.Count()
	if !ok {
		return fmt.Errorf("resize pos_embed: unknown cls token placement %q", c.ClsToken)
	}
	newM := newGH * newGW
	newL := newM + nCls
	if newL > MaxSeqLen {
		return fmt.Errorf("resize pos_embed: %d patches + %d cls tokens exceed the %d tokens supported", newM, nCls, MaxSeqLen)
	}
	if pe := m.PosEmbed; pe != nil {
		nt, err := resizePosEmbedRows(pe, c, newGH, newGW)
		if err != nil {
			return err
		}
		m.PosEmbed = nt
	}
	c.ImgSize, c.ImgWidth = h, 0 // the grid, token count and cls position follow
	if w != h {
		c.ImgWidth = w
	}
	return nil
}

// resizePosEmbedRows returns pe [1, L, D] resampled to a newGH×newGW
// patch grid, the cls rows kept where c's placement puts them.
func resizePosEmbedRows(pe *Tensor, c *Config, newGH, newGW int) (*Tensor, error) {
	oldM, oldL := c.NumPatches(), c.SeqLen()
	newM := newGH * newGW
	newL := newM + c.NumClsTokens()
	if len(pe.Shape) != 3 || pe.Shape[0] != 1 || pe.Shape[1] != oldL || len(pe.Data) != pe.NumElements() {
		return nil, fmt.Errorf("resize pos_embed: shape %v (%d values), want [1, %d, D]", pe.Shape, len(pe.Data), oldL)
	}
	d := pe.Shape[2]
	if d > MaxPosEmbedValues/newL {
		return nil, fmt.Errorf("resize pos_embed: [1, %d, %d] would hold more than %d values", newL, d, MaxPosEmbedValues)
	}
	src := make([]float64, len(pe.Data))
	if pe.F64 != nil && len(pe.F64) == len(pe.Data) {
		copy(src, pe.F64)
	} else {
		for i, v := range pe.Data {
			src[i] = float64(v)
		}
	}
	row := func(i int) []float64 { return src[i*d : (i+1)*d] }
	// Split [oldL, D] into cls rows and the patch rows in grid order.
	var clsRows [][]float64
	patches := make([]float64, 0, oldM*d)
	switch c.ClsToken {
	case ClsMiddle:
		// [patches 0..M/2-1 | cls | patches M/2..M-1]
		pos := oldM / 2
		clsRows = [][]float64{row(pos)}
		patches = append(append(patches, src[:pos*d]...), src[(pos+1)*d:oldL*d]...)
	case ClsHead:
		clsRows = [][]float64{row(0)}
		patches = append(patches, src[d:oldL*d]...)
	case ClsDouble:
		clsRows = [][]float64{row(0), row(oldL - 1)}
		patches = append(patches, src[d:(oldL-1)*d]...)
	case ClsNone:
		patches = append(patches, src...)
	}
	gh, gw := c.GridHW()
	resized := BicubicResize(patches, gh, gw, d, newGH, newGW) // [gh·gw, D] -> [newGH·newGW, D]
	out := make([]float64, 0, newL*d)
	switch c.ClsToken {
	case ClsMiddle:
		pos := newM / 2
		out = append(append(append(out, resized[:pos*d]...), clsRows[0]...), resized[pos*d:]...)
	case ClsHead:
		out = append(append(out, clsRows[0]...), resized...)
	case ClsDouble:
		out = append(append(append(out, clsRows[0]...), resized...), clsRows[1]...)
	case ClsNone:
		out = resized
	}
	nt := &Tensor{Name: pe.Name, Shape: []int{1, newL, d}, DType: pe.DType, Data: make([]float32, len(out))}
	for i, v := range out {
		nt.Data[i] = float32(v)
	}
	if pe.F64 != nil {
		nt.F64 = out
	}
	return nt, nil
}

// BicubicResize resamples a row-major grid src [inH, inW, C] (channels last)
// to [outH, outW, C] exactly like torch.nn.functional.interpolate(x,
// size=(outH, outW), mode="bicubic", align_corners=False) on the same data
// in [1, C, inH, inW] layout: cubic convolution with a = -0.75, source
// coordinate (dst + 0.5)·in/out - 0.5, neighbours clamped at the borders,
// no antialiasing. Separable (rows, then columns), accumulated in float64.
func BicubicResize(src []float64, inH, inW, ch, outH, outW int) []float64 {
	// Horizontal pass: [inH, inW, C] -> [inH, outW, C].
	tmp := make([]float64, inH*outW*ch)
	for x := 0; x < outW; x++ {
		idx, w := cubicTaps(x, inW, outW)
		for y := 0; y < inH; y++ {
			dst := tmp[(y*outW+x)*ch : (y*outW+x+1)*ch]
			for k := 0; k < 4; k++ {
				s := src[(y*inW+idx[k])*ch : (y*inW+idx[k]+1)*ch]
				for c := range dst {
					dst[c] += w[k] * s[c]
				}
			}
		}
	}
	// Vertical pass: [inH, outW, C] -> [outH, outW, C].
	out := make([]float64, outH*outW*ch)
	for y := 0; y < outH; y++ {
		idx, w := cubicTaps(y, inH, outH)
		for k := 0; k < 4; k++ {
			srcRow := tmp[idx[k]*outW*ch : (idx[k]+1)*outW*ch]
			dstRow := out[y*outW*ch : (y+1)*outW*ch]
			for i := range dstRow {
				dstRow[i] += w[k] * srcRow[i]
			}
		}
	}
	return out
}

// cubicTaps returns the four clamped source indices and weights of output
// index dst when resizing in -> out samples (align_corners=False).
func cubicTaps(dst, in, out int) (idx [4]int, w [4]float64) {
	scale := float64(in) / float64(out)
	// area_pixel_compute_source_index with cubic=true: no clamp at 0.
	src := scale*(float64(dst)+0.5) - 0.5
	i0 := math.Floor(src)
	t := src - i0
	w = [4]float64{
		cubicFar(t + 1),
		cubicNear(t),
		cubicNear(1 - t),
		cubicFar(2 - t),
	}
	for k := 0; k < 4; k++ {
		idx[k] = min(max(int(i0)-1+k, 0), in-1)
	}
	return idx, w
}

// cubicNear is the cubic convolution kernel for |x| <= 1.
func cubicNear(x float64) float64 {
	const a = bicubicA
	return ((a+2)*x-(a+3))*x*x + 1
}

// cubicFar is the cubic convolution kernel for 1 < |x| < 2.
func cubicFar(x float64) float64 {
	const a = bicubicA
	return ((a*x-5*a)*x+8*a)*x - 4*a
}

// CheckInputSize returns nil when an input of h×w pixels fits c's patch
// size and stride on both sides and gives at most MaxSeqLen tokens (what
// a dynamic-size model accepts), else an error naming the side and the
// nearest sizes that fit.
func (c Config) CheckInputSize(h, w int) error {
	if err := CheckImageSide("height", h, c.PatchSize, c.Stride); err != nil {
		return err
	}
	if err := CheckImageSide("width", w, c.PatchSize, c.Stride); err != nil {
		return err
	}
	if gh, gw := c.GridLen(h), c.GridLen(w); gh > (MaxSeqLen-c.NumClsTokens())/gw {
		return fmt.Errorf("input %d×%d gives a %d×%d patch grid, more than the %d tokens supported", h, w, gh, gw, MaxSeqLen)
	}
	return nil
}

// ChannelsLastHint returns, for an input shape that looks channels-last
// (4-D [B, H, W, cin] whose axis 1 is not cin), the sentence telling how
// to make it [B, cin, H, W]; else "". Callers append it to their shape
// error, so an NHWC array is not blamed on the image size.
func ChannelsLastHint(shape []int, cin int) string {
	if len(shape) != 4 || shape[1] == cin || shape[3] != cin {
		return ""
	}
	return fmt.Sprintf("; this looks channels-last (NHWC [B, H, W, %d]): the model takes NCHW, np.transpose(x, (0, 3, 1, 2)) or x.permute(0, 3, 1, 2)", cin)
}
