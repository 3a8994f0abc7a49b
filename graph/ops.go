package graph

import (
	"strconv"

	"github.com/vimconvert/vimconvert/graph/onnxpb"
)

// This file holds the op builders. Each one documents the official PyTorch
// behaviour it reproduces; line numbers refer to hustvl/Vim commit dd0358a:
// MS = mamba-1p1p1/mamba_ssm/modules/mamba_simple.py,
// SSI = mamba-1p1p1/mamba_ssm/ops/selective_scan_interface.py,
// LN = mamba-1p1p1/mamba_ssm/ops/triton/layer_norm.py,
// MM = vim/models_mamba.py (see fixtures/README.md).

// batchOf returns shape with its first dimension replaced by Batch.
func batchOf(dims ...int64) []int64 { return append([]int64{Batch}, dims...) }

// rmsNorm emits y = x / sqrt(mean(x², axis=-1) + eps) * w as
// Pow → ReduceMean → Add → Sqrt → Div → Mul, the pattern ONNX Runtime fuses
// into its SimplifiedLayerNormalization kernel.
//
// Reproduces RMSNorm / rms_norm_fn (LN 953-980, formula LN 118-119 and
// 266-278): weight only, no bias, eps = norm_epsilon = 1e-5 (MM 242,
// 166-168), computed in float32 (residual_in_fp32, LN 231, 258-261).
func (b *builder) rmsNorm(prefix, x, weight string, eps float64) string {
	shape := b.shape(x)
	red := append(append([]int64(nil), shape[:len(shape)-1]...), 1)
	sq := b.op1("Pow", prefix+"/pow", []string{x, b.constF32(nil, 2)}, shape)
	ms := b.reduce("ReduceMean", prefix+"/mean_square", sq, []int64{-1}, true, red)
	ve := b.op1("Add", prefix+"/add_eps", []string{ms, b.constF32(nil, float32(eps))}, red)
	rms := b.op1("Sqrt", prefix+"/rms", []string{ve}, red)
	n := b.op1("Div", prefix+"/normalize", []string{x, rms}, shape)
	return b.op1("Mul", prefix+"/scale", []string{n, weight}, shape)
}

// layerNorm emits LayerNormalization over the last axis with weight and
// bias: the rms_norm=False variant of VisionMamba (nn.LayerNorm with
// eps = norm_epsilon, MM 166-168; fused layer_norm_fn, LN 231-278). No
// released Vim uses it.
func (b *builder) layerNorm(prefix, x, weight, bias string, eps float64) string {
	return b.op1("LayerNormalization", prefix, []string{x, weight, bias}, b.shape(x),
		attrInt("axis", -1), attrFloat("epsilon", float32(eps)))
}

// reduce emits a Reduce* op over axes. The axes are an attribute up to
// opset 17 and an input from opset 18 on.
func (b *builder) reduce(op, name, x string, axes []int64, keepdims bool, outShape []int64) string {
	keep := int64(0)
	if keepdims {
		keep = 1
	}
	if b.opset >= 18 {
		return b.op1(op, name, []string{x, b.constI64(false, axes...)}, outShape, attrInt("keepdims", keep))
	}
	return b.op1(op, name, []string{x}, outShape, attrInts("axes", axes...), attrInt("keepdims", keep))
}

// linear emits y = x · Wᵀ for a bias-free nn.Linear whose official weight W
// has shape [out, in]: MatMul(x, Transpose(W)).
//
// The Transpose reads the official initializer unchanged, so the file keeps
// the state-dict tensor as-is; ONNX Runtime constant-folds it at session
// creation, leaving a MatMul with a constant (pre-packed) [in, out] matrix.
// Storing a derived "<name>.T" initializer instead was measured to make no
// difference beyond run-to-run noise (graph's BenchmarkVimTinyORT), so the
// official layout is kept. Also used for dt_proj
// (weight only, SSI 187) and the per-token head. Used for in_proj (MS 184-190), x_proj (SSI 185-187) and out_proj
// (MS 245-246), all bias=False (MS 47, 89).
func (b *builder) linear(name, x, weight string) string {
	ws := b.shape(weight) // [out, in]
	xs := b.shape(x)      // [..., in]
	wt := b.op1("Transpose", name+"/weight_T", []string{weight}, []int64{ws[1], ws[0]}, attrInts("perm", 1, 0))
	out := append(append([]int64(nil), xs[:len(xs)-1]...), ws[0])
	return b.op1("MatMul", name, []string{x, wt}, out) // [..., in] · [in, out] -> [..., out]
}

// silu emits x·sigmoid(x) (F.silu after the causal conv, SSI 182 /
// causal_conv1d_ref activation="silu"; the gate SiLU(z) is inside the scan op).
func (b *builder) silu(name, x string) string {
	s := b.shape(x)
	sig := b.op1("Sigmoid", name+"/sigmoid", []string{x}, s)
	return b.op1("Mul", name, []string{x, sig}, s)
}

// split cuts x along axis into pieces of the given sizes, named
// prefix/<names[i]>. The sizes are an input (opsets 13+).
func (b *builder) split(name, x string, axis int, sizes []int64, names []string) []string {
	s := b.shape(x)
	outs := make([]string, len(sizes))
	shapes := make([][]int64, len(sizes))
	for i, n := range sizes {
		outs[i] = name + "/" + names[i]
		sh := append([]int64(nil), s...)
		sh[axis] = n
		shapes[i] = sh
	}
	b.node("Split", name, []string{x, b.constI64(false, sizes...)}, outs, shapes, attrInt("axis", int64(axis)))
	return outs
}

// DepthwiseConv names a formulation of the depthwise convs
// (Options.DepthwiseConv): ConvONNX, ConvSlice or ConvPlugin.
type DepthwiseConv string

// Depthwise-conv formulations (Options.DepthwiseConv).
//
// ConvONNX and ConvSlice are exact reformulations (they agree to 2e-7 and
// both meet the fixtures to < 1e-6 in the logits). ConvONNX is the default:
// it is the faster of the two on CPU (BENCHMARKS.md has the measurements)
// and 3 nodes per conv instead of 13, which reads better in Netron and
// launches fewer kernels on GPUs.
const (
	// ConvONNX uses the ONNX Conv op (group = D) between two transposes
	// [B, L, D] -> [B, D, L] -> [B, L, D] (default).
	ConvONNX DepthwiseConv = "conv"
	// ConvSlice computes the depthwise conv in token-major [B, L, D]
	// layout as Pad + K × (Slice · tap) + bias: no transposes.
	ConvSlice DepthwiseConv = "slice"
)

// depthwiseConv1d emits the depthwise conv of a mamba mixer on x [B, L, D]
// with the official weight [D, 1, K] and bias [D], in token-major layout.
//
// Causal (anti = false) reproduces nn.Conv1d(groups=d_inner, padding=K-1)
// followed by keeping the FIRST L outputs (MS 75-83, SSI 182 ->
// causal_conv1d_ref 158-162): out[t] = bias + Σ_k w[k]·x[t-(K-1)+k], x zero
// before t = 0 (left padding K-1).
//
// Anti-causal (anti = true) is the bimamba-v2 backward conv1d_b expressed in
// the ORIGINAL token order. The official code runs the causal conv on
// xz.flip([-1]) (MS 229) and flips the result back (MS 243-245); with
// s = L-1-t that is out[t] = bias + Σ_j w[K-1-j]·x[t+j], x zero after
// t = L-1 (right padding K-1, kernel taps reversed).
func (b *builder) depthwiseConv1d(mode DepthwiseConv, name, x, weight, bias string, anti bool) string {
	if mode == ConvONNX {
		return b.depthwiseConvONNX(name, x, weight, bias, anti)
	}
	xs := b.shape(x) // [B, L, D]
	L, D := xs[1], xs[2]
	ws := b.shape(weight) // [D, 1, K]
	K := ws[2]
	// Taps as [K, D] rows: official [D, 1, K] -> [D, K] -> [K, D] (folded by ORT).
	w2 := b.op1("Reshape", name+"/weight_DK", []string{weight, b.constI64(false, D, K)}, []int64{D, K})
	taps := b.op1("Transpose", name+"/weight_KD", []string{w2}, []int64{K, D}, attrInts("perm", 1, 0))
	pads := []int64{0, K - 1, 0, 0, 0, 0} // causal: K-1 zeros before t = 0
	if anti {
		pads = []int64{0, 0, 0, 0, K - 1, 0} // anti-causal: K-1 zeros after t = L-1
	}
	// [B, L, D] -> [B, L+K-1, D]
	xp := b.op1("Pad", name+"/pad", []string{x, b.constI64(false, pads...)}, []int64{Batch, L + K - 1, D})
	acc := bias
	for j := int64(0); j < K; j++ {
		// Window j: xp[:, j:j+L, :] is x shifted by j-(K-1) (causal) or j (anti).
		tapIdx := j
		if anti {
			tapIdx = K - 1 - j
		}
		win := b.op1("Slice", name+"/window"+itoa(j),
			[]string{xp, b.constI64(false, j), b.constI64(false, j+L), b.constI64(false, 1)}, []int64{Batch, L, D})
		tap := b.op1("Gather", name+"/tap"+itoa(j), []string{taps, b.constI64(true, tapIdx)}, []int64{D}, attrInt("axis", 0))
		prod := b.op1("Mul", name+"/mul"+itoa(j), []string{win, tap}, []int64{Batch, L, D})
		acc = b.op1("Add", name+"/acc"+itoa(j), []string{acc, prod}, []int64{Batch, L, D})
	}
	return acc
}

// depthwiseConvONNX is depthwiseConv1d with the ONNX Conv op. The
// anti-causal kernel is the official weight with its taps reversed by a
// Slice with step -1 (folded by ORT).
func (b *builder) depthwiseConvONNX(name, x, weight, bias string, anti bool) string {
	xs := b.shape(x) // [B, L, D]
	L, D := xs[1], xs[2]
	ws := b.shape(weight) // [D, 1, K]
	K := ws[2]
	w := weight
	pads := []int64{K - 1, 0}
	if anti {
		// [D, 1, K] -> [D, 1, K] with taps reversed: w_rev[k] = w[K-1-k].
		w = b.op1("Slice", name+"/weight_reversed",
			[]string{weight, b.constI64(false, -1), b.constI64(false, -K-1), b.constI64(false, 2), b.constI64(false, -1)}, ws)
		pads = []int64{0, K - 1}
	}
	xt := b.op1("Transpose", name+"/to_BDL", []string{x}, []int64{Batch, D, L}, attrInts("perm", 0, 2, 1)) // [B, L, D] -> [B, D, L]
	c := b.op1("Conv", name+"/conv", []string{xt, w, bias}, []int64{Batch, D, L},
		attrInt("group", D), attrInts("kernel_shape", K), attrInts("pads", pads...))
	return b.op1("Transpose", name, []string{c}, []int64{Batch, L, D}, attrInts("perm", 0, 2, 1)) // [B, D, L] -> [B, L, D]
}

// gatherToken emits x[:, pos, :] for x [B, L, D] -> [B, D]
// (the readout hidden_states[:, token_position, :], MM 522-532).
func (b *builder) gatherToken(name, x string, pos int64) string {
	s := b.shape(x)
	return b.op1("Gather", name, []string{x, b.constI64(true, pos)}, []int64{s[0], s[2]}, attrInt("axis", 1))
}

// negExp emits A = -exp(A_log) from the official A_log initializer in
// float32 (MS 192 and 214: `A = -torch.exp(self.A_log.float())`). ORT folds
// it into a constant at session creation.
func (b *builder) negExp(name, aLog string) string {
	s := b.shape(aLog)
	e := b.op1("Exp", name+"/exp", []string{aLog}, s)
	return b.op1("Neg", name, []string{e}, s)
}

// shapeBatch returns a 1-D int64 value [batch] read from x at run time.
func (b *builder) shapeBatch(name, x string) string {
	b.addNode("", "Shape", name, []string{x}, []string{name}, onnxpb.TensorProto_INT64, [][]int64{{1}},
		[]*onnxpb.AttributeProto{attrInt("start", 0), attrInt("end", 1)})
	return name
}

func itoa(i int64) string { return strconv.FormatInt(i, 10) }
