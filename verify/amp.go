package verify

import (
	"fmt"
	"math"

	"github.com/x448/float16"

	"github.com/vimconvert/vimconvert/convert"
)

// AMP selects an emulation of the official mixed-precision path
// (torch.autocast on CUDA with mamba_ssm's kernels) for Options.AMP:
// AMPNone, AMPFloat16 or AMPBFloat16.
//
// The emulation is the float32 forward pass with values rounded to the
// 16-bit type (nearest, ties to even) exactly where the official AMP path
// holds them in 16 bits, read from the official code:
//   - weights cast by autocast or by mamba_inner_fn (SSI 174-176): patch
//     conv, in_proj, x_proj, dt_proj, out_proj and head weights, patch and
//     head biases; the conv1d weight and bias, A_log, D, delta_bias and
//     the norm weights stay float32;
//   - the image entering the patch conv, the conv output and the output
//     after its bias add (cuDNN adds the bias in a second kernel); the cls
//     cat and pos_embed add promote to float32;
//   - every norm output (rms_norm_fn writes y in the dtype of its input,
//     the bf16 mixer output; block 0's float32 output is cast by in_proj),
//     while the residual stream and the norms compute in float32;
//   - xz = in_proj output, SiLU(conv1d) (causal_conv1d_fwd computes in
//     float32 and rounds its output once), x_proj output (dt, B and C),
//     dt_proj output (delta before bias and softplus);
//   - each direction's gated scan output out_z (selective_scan_fwd
//     computes in float32 and rounds once), their sum out + out_b.flip
//     (a 16-bit add) and its /2 (MS 240-243);
//   - the out_proj output (the block's hidden_states; gamma promotes back
//     to float32) and the head output.
//
// Products accumulate in float32 (a 16-bit GEMM with float32
// accumulation: products of 16-bit values are exact in float32).
type AMP string

// Mixed-precision emulations (Options.AMP).
const (
	// AMPNone is the plain float32 or float64 forward pass.
	AMPNone AMP = ""
	// AMPFloat16 emulates autocast with dtype=torch.float16.
	AMPFloat16 AMP = "float16"
	// AMPBFloat16 emulates autocast with dtype=torch.bfloat16.
	AMPBFloat16 AMP = "bfloat16"
)

// rounder rounds one float32 value to a 16-bit type and back; nil rounds
// nothing.
type rounder func(float32) float32

// rounding returns a's rounder (nil for AMPNone) or an error for an
// unknown value.
func (a AMP) rounding() (rounder, error) {
	switch a {
	case AMPNone:
		return nil, nil
	case AMPFloat16:
		return func(v float32) float32 { return float16.Fromfloat32(v).Float32() }, nil
	case AMPBFloat16:
		return roundBFloat16, nil
	}
	return nil, fmt.Errorf("verify: unknown AMP emulation %q (want %q or %q)", a, AMPFloat16, AMPBFloat16)
}

// roundBFloat16 rounds v to the nearest bfloat16 (ties to even) and
// widens it back; NaN stays NaN.
func roundBFloat16(v float32) float32 {
	x := math.Float32bits(v)
	if x&0x7fffffff > 0x7f800000 {
		return v
	}
	x += 0x7fff + (x>>16)&1
	return math.Float32frombits(x &^ 0xffff)
}

// roundAll rounds every value of x through r in place; nothing when r is
// nil.
func roundAll[T Float](r rounder, x []T) {
	if r == nil {
		return
	}
	for i, v := range x {
		x[i] = T(r(float32(v)))
	}
}

// ampModel returns a copy of m whose weights that the official AMP path
// casts to 16 bits are rounded through r (see AMP); m is not modified and
// the copy shares every other tensor with it.
func ampModel(m *convert.Model, r rounder) *convert.Model {
	rt := func(t *convert.Tensor) *convert.Tensor {
		if t == nil {
			return nil
		}
		c := *t
		c.Data = append([]float32(nil), t.Data...)
		c.F64 = nil
		roundAll(r, c.Data)
		return &c
	}
	mixer := func(mx convert.Mixer) convert.Mixer {
		mx.XProj, mx.DtProjW = rt(mx.XProj), rt(mx.DtProjW)
		return mx
	}
	c := *m
	c.PatchWeight, c.PatchBias = rt(m.PatchWeight), rt(m.PatchBias)
	c.HeadWeight, c.HeadBias = rt(m.HeadWeight), rt(m.HeadBias)
	c.Layers = make([]convert.Layer, len(m.Layers))
	for i, l := range m.Layers {
		l.InProj, l.OutProj = rt(l.InProj), rt(l.OutProj)
		l.Fwd = mixer(l.Fwd)
		if l.Bwd != nil {
			bwd := mixer(*l.Bwd)
			l.Bwd = &bwd
		}
		c.Layers[i] = l
	}
	return &c
}
