// Package mambaout is the pure-Go reference forward pass of MambaOut
// (yuweihao/MambaOut models/mambaout.py at 9f2f234), in float32 or float64,
// against which converted ONNX models are checked. It follows the official
// code step by step and keeps the activations NHWC, as the official code
// does between layers, so its per-stage intermediates have the official
// layout and the fixture key names.
package mambaout

import (
	"errors"
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
	mo "github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/verify"
	"github.com/vimconvert/vimconvert/verify/internal/linalg"
)

// Options configures Forward.
type Options struct {
	Precision verify.Precision
	// Intermediates keeps the output of every downsampling layer and stage
	// in Result.Intermediates.
	Intermediates bool
	// Workers bounds the goroutines of the convolutions; ≤ 0 means
	// GOMAXPROCS. Matrix products use gonum's own parallelism.
	Workers int
}

// Result is the output of Forward.
type Result struct {
	Logits   *verify.Tensor // [B, NumClasses]
	Features *verify.Tensor // [B, Dims[-1]]: forward_features, the head input
	// Intermediates holds, with Options.Intermediates, KeyDownsample(i)
	// and KeyStage(i) for every stage, each [B, H, W, C] (NHWC).
	Intermediates map[string]*verify.Tensor
}

// KeyDownsample is the fixture key of downsample_layers.{i}'s output.
func KeyDownsample(i int) string { return fmt.Sprintf("downsample_layers.%d", i) }

// KeyStage is the fixture key of stages.{i}'s output.
func KeyStage(i int) string { return fmt.Sprintf("stages.%d", i) }

// Forward runs MambaOut.forward (forward_features 247-251 and the head) on
// x, a float32 NCHW batch of shape [B, C, H, W]. Any H, W ≥ 1 works: the
// network is fully convolutional (stride-2 convs with padding 1 give
// ceil(H/2) at each of the four downsamplings). The model is not modified.
func Forward(m *mo.Model, x []float32, shape [4]int, opts Options) (*Result, error) {
	if m == nil {
		return nil, fmt.Errorf("%w: nil model", verify.ErrModel)
	}
	if err := m.Check(); err != nil {
		return nil, fmt.Errorf("%w: %v", verify.ErrModel, err)
	}
	for i, d := range shape {
		if d < 1 {
			return nil, fmt.Errorf("%w: input shape %v: dimension %d is %d", verify.ErrInput, shape, i, d)
		}
	}
	if shape[1] != m.Config.InChans {
		return nil, fmt.Errorf("%w: input has %d channels, the model takes %d (shape %v)%s", verify.ErrInput, shape[1], m.Config.InChans, shape, convert.ChannelsLastHint(shape[:], m.Config.InChans))
	}
	if n := shape[0] * shape[1] * shape[2] * shape[3]; len(x) != n {
		return nil, fmt.Errorf("%w: input shape %v needs %d values, got %d", verify.ErrInput, shape, n, len(x))
	}
	switch opts.Precision {
	case verify.Float32:
		return forward[float32](m, x, shape, opts), nil
	case verify.Float64:
		return forward[float64](m, x, shape, opts), nil
	}
	return nil, errors.New("verify/mambaout: unknown precision " + opts.Precision.String())
}

// act is an NHWC activation: B*H*W rows of C channels.
type act[T verify.Float] struct {
	data       []T
	b, h, w, c int
}

func (a act[T]) rows() int { return a.b * a.h * a.w }

func (a act[T]) tensor() *verify.Tensor {
	return toTensor(a.data, []int{a.b, a.h, a.w, a.c})
}

func toTensor[T verify.Float](d []T, shape []int) *verify.Tensor {
	out := &verify.Tensor{Shape: shape, Data: make([]float64, len(d))}
	for i, v := range d {
		out.Data[i] = float64(v)
	}
	return out
}

func forward[T verify.Float](m *mo.Model, x []float32, shape [4]int, opts Options) *Result {
	c := &m.Config
	res := &Result{}
	if opts.Intermediates {
		res.Intermediates = map[string]*verify.Tensor{}
	}
	// [B, C, H, W] -> [B, H, W, C]
	b, ch, h, w := shape[0], shape[1], shape[2], shape[3]
	in := act[T]{data: make([]T, len(x)), b: b, h: h, w: w, c: ch}
	for bi := 0; bi < b; bi++ {
		for ci := 0; ci < ch; ci++ {
			for p := 0; p < h*w; p++ {
				in.data[(bi*h*w+p)*ch+ci] = T(x[(bi*ch+ci)*h*w+p])
			}
		}
	}
	cur := stem(m, in, opts.Workers)
	for i := 0; i < c.NumStages(); i++ {
		if i > 0 {
			d := &m.Downsamples[i-1]
			cur = convNorm(cur, d.ConvW, d.ConvB, d.NormW, d.NormB, c.NormEps, opts.Workers)
		}
		if opts.Intermediates {
			res.Intermediates[KeyDownsample(i)] = cur.tensor()
		}
		for j := range m.Stages[i] {
			cur = gatedCNNBlock(&m.Stages[i][j], c.Hidden[i], c.ConvChannels[i], c.KernelSize, cur, c.NormEps, opts.Workers)
		}
		if opts.Intermediates {
			res.Intermediates[KeyStage(i)] = cur.tensor()
		}
	}
	feat := meanPool(cur)
	linalg.NormRows(feat, feat, param[T](m.NormW), param[T](m.NormB), cur.b, cur.c, c.NormEps, true)
	res.Features = toTensor(feat, []int{cur.b, cur.c})
	res.Logits = toTensor(head(m, feat, cur.b), []int{cur.b, c.NumClasses})
	return res
}

// stem is StemLayer.forward (41-75): conv1, norm1, GELU, conv2, norm2.
func stem[T verify.Float](m *mo.Model, x act[T], workers int) act[T] {
	s := &m.Stem
	eps := m.Config.NormEps
	y := convNorm(x, s.Conv1W, s.Conv1B, s.Norm1W, s.Norm1B, eps, workers)
	for i, v := range y.data {
		y.data[i] = gelu(v)
	}
	return convNorm(y, s.Conv2W, s.Conv2B, s.Norm2W, s.Norm2B, eps, workers)
}
