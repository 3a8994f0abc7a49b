// Package verify is the independent half of vimconvert's parity checks: a
// pure-Go forward pass of the official Vision Mamba (hustvl/Vim
// VisionMamba.forward), written from the official semantics and sharing
// nothing with the ONNX graph or ONNX Runtime, plus the comparison report
// and CheckFile, which holds an exported model against its checkpoint.
// What a Vim model is (its tensors, shapes and geometry) it takes from
// convert. The forward pass (Forward, SelectiveScan and their helpers) must
// not use graph or runtime, or compute anything the way the export does;
// only CheckFile's orchestration (run.go, provenance.go, expected.go) runs
// the exported model through them. The reference is loaded as the model
// was converted (cls placement from its metadata), so it shares the
// converter's guesses; FileOptions.Expected holds both to outputs produced
// elsewhere (the official code), which share none.
//
// Forward runs a model loaded by convert/ in float32 (mirroring the
// official fp32 run) or float64 (mirroring model.double(), where
// A = -exp(A_log) is still evaluated in float32) and can return every
// per-block intermediate under the key names of the golden fixtures.
// With Options.AMP it emulates the official mixed-precision path instead:
// float32 with values rounded to float16 or bfloat16 where torch.autocast
// and mamba_ssm's kernels hold them in 16 bits (AMP).
// SelectiveScan is the official selective_scan_ref on its own.
//
// Supported: patch embedding with any stride and channel count, cls token
// middle / head / double / none, absolute pos_embed (or none), RMSNorm or
// LayerNorm (rms_norm=False), bimamba v2, v1 and none,
// if_divide_out, layer scale (gamma), final_pool_type none / mean / max /
// all without a cls token, and a head or Identity. Refused with an error
// (CheckModel): final_pool_type "max" or "all" together with a cls token
// (the official forward would then take a max over the classes).
//
// Accuracy against the golden fixtures: float32 logits within 2e-6 of the
// official fp32 run, float64 logits within 4e-15 of the official float64
// run (A uses torch's own float32 exp, so it is bit-identical).
//
// Speed: the float64 path and every non-amd64 build are plain Go (gonum
// for the products). On amd64 CPUs with AVX2 and FMA the float32 path runs
// the scan step, softplus, SiLU and the matrix products in small assembly
// kernels; their results are tested against the Go path. Memory is linear
// in the sequence length: the scan keeps only the [d_inner, d_state] state.
package verify

import (
	"errors"
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/verify/internal/linalg"
)

// Precision selects the arithmetic of a reference run.
type Precision int

const (
	// Float32 computes in float32, like the official fp32 model.
	Float32 Precision = iota
	// Float64 computes in float64, like the official model.double() run.
	Float64
)

// String returns "float32" or "float64".
func (p Precision) String() string {
	switch p {
	case Float32:
		return "float32"
	case Float64:
		return "float64"
	}
	return fmt.Sprintf("Precision(%d)", int(p))
}

// ParsePrecision maps "float32"/"fp32" and "float64"/"fp64" to a Precision.
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "float32", "fp32":
		return Float32, nil
	case "float64", "fp64":
		return Float64, nil
	}
	return 0, fmt.Errorf("unknown precision %q (want float32 or float64)", s)
}

// Options configures Forward.
type Options struct {
	Precision Precision
	// Intermediates keeps every per-layer tensor in Result.Intermediates.
	Intermediates bool
	// Workers bounds the goroutines of the element-wise stages (conv,
	// scan, im2col); ≤ 0 means GOMAXPROCS. Matrix products use gonum's own
	// GOMAXPROCS-wide parallelism.
	Workers int
	// AMP, when set, emulates the official mixed-precision path in that
	// 16-bit type (see AMP); it needs Precision Float32.
	AMP AMP
}

// Tensor is a dense row-major result tensor. Values of a float32 run are
// stored exactly (every float32 is a float64).
type Tensor struct {
	Shape []int
	Data  []float64
}

// Float32 returns the data rounded to float32.
func (t *Tensor) Float32() []float32 {
	out := make([]float32, len(t.Data))
	for i, v := range t.Data {
		out[i] = float32(v)
	}
	return out
}

// Intermediate key names, identical to the keys of fixtures/*/expected.pth.
const (
	KeyPatchEmbed  = "patch_embed_out"     // [B, NumPatches, D] conv output, row-major patches
	KeyEmbedTokens = "embed_tokens"        // [B, L, D] tokens with cls inserted, plus pos_embed
	KeyFinalNormed = "final_hidden_normed" // [B, L, D] norm_f(residual + hidden) over all tokens
	KeyFeatures    = "features"            // head input
	KeyLogits      = "logits"              // head output
)

// KeyHidden is layers.{i}.hidden_states: block i's mixer output, not yet
// added to the residual stream, [B, L, D].
func KeyHidden(i int) string { return fmt.Sprintf("layers.%d.hidden_states", i) }

// KeyResidual is layers.{i}.residual: the residual stream entering block
// i's norm (block 0: the embedded tokens), [B, L, D].
func KeyResidual(i int) string { return fmt.Sprintf("layers.%d.residual", i) }

// Result is the output of Forward.
type Result struct {
	// Logits is the model output: [B, NumClasses]; [B, L, NumClasses] for
	// final_pool_type "all"; the features themselves when the head is
	// Identity (num_classes 0).
	Logits *Tensor
	// Features is forward_features(x), the head input: [B, D], or
	// [B, L, D] for final_pool_type "max" and "all".
	Features *Tensor
	// Intermediates holds, with Options.Intermediates, every tensor under
	// its fixture key (KeyPatchEmbed, KeyEmbedTokens, KeyHidden(i),
	// KeyResidual(i), KeyFinalNormed, KeyFeatures, KeyLogits).
	Intermediates map[string]*Tensor
}

// ErrInput is wrapped by errors about the input image batch.
var ErrInput = errors.New("verify: bad input")

// ErrModel is wrapped by errors about an inconsistent or unsupported model.
var ErrModel = errors.New("verify: unsupported or inconsistent model")

// Forward runs VisionMamba.forward (models_mamba.py forward_features and
// forward) on x, a float32 NCHW image batch of the given shape
// [B, C, H, W] with H = Config.ImgSize and W = Config.Width() (the official
// model asserts the size and does not interpolate pos_embed; resize a model
// to another H×W with convert.ResizePosEmbedHW first). The model is not modified.
//
// The computation follows the official code step by step:
// patch embed conv → cls token insertion → + pos_embed → per block fused
// add + RMSNorm (LayerNorm for rms_norm=False; residual kept, block 0:
// residual = tokens) → mixer → final add + norm → readout → head. See
// mixer for the Mamba mixer.
func Forward(m *convert.Model, x []float32, shape [4]int, opts Options) (*Result, error) {
	if err := CheckModel(m); err != nil {
		return nil, err
	}
	if err := checkInput(m, x, shape); err != nil {
		return nil, err
	}
	r, err := opts.AMP.rounding()
	if err != nil {
		return nil, err
	}
	if r != nil {
		if opts.Precision != Float32 {
			return nil, fmt.Errorf("verify: the %s AMP emulation computes in float32, not %v", opts.AMP, opts.Precision)
		}
		m = ampModel(m, r)
	}
	switch opts.Precision {
	case Float32:
		return forward[float32](m, x, shape, opts, r), nil
	case Float64:
		return forward[float64](m, x, shape, opts, nil), nil
	}
	return nil, fmt.Errorf("verify: unknown precision %v", opts.Precision)
}

func checkInput(m *convert.Model, x []float32, shape [4]int) error {
	cfg := &m.Config
	cin := m.PatchWeight.Shape[1]
	if shape[0] < 1 {
		return fmt.Errorf("%w: batch size %d, want ≥ 1", ErrInput, shape[0])
	}
	if hint := convert.ChannelsLastHint(shape[:], cin); hint != "" {
		return fmt.Errorf("%w: input shape %v, the model takes [B, %d, %d, %d]%s", ErrInput, shape, cin, cfg.ImgSize, cfg.Width(), hint)
	}
	if shape[1] != cin || shape[2] != cfg.ImgSize || shape[3] != cfg.Width() {
		size := fmt.Sprint(cfg.ImgSize)
		if !cfg.Square() {
			size = fmt.Sprintf("%d×%d", cfg.ImgSize, cfg.Width())
		}
		return fmt.Errorf("%w: input shape %v, the model takes [B, %d, %d, %d]: its pos_embed is for img_size %s (loading the checkpoint at another img_size resamples it)",
			ErrInput, shape, cin, cfg.ImgSize, cfg.Width(), size)
	}
	if n := shape[0] * shape[1] * shape[2] * shape[3]; len(x) != n {
		return fmt.Errorf("%w: shape %v needs %d values, got %d", ErrInput, shape, n, len(x))
	}
	return nil
}

func forward[T Float](m *convert.Model, x []float32, shape [4]int, opts Options, r rounder) *Result {
	cfg := &m.Config
	bt, d, l := shape[0], cfg.EmbedDim, cfg.SeqLen()
	res := &Result{}
	if opts.Intermediates {
		res.Intermediates = map[string]*Tensor{}
	}
	keep := func(key string, data []T, shape ...int) *Tensor {
		t := &Tensor{Shape: shape, Data: make([]float64, len(data))}
		for i, v := range data {
			t.Data[i] = float64(v)
		}
		if res.Intermediates != nil {
			res.Intermediates[key] = t
		}
		return t
	}

	// Patch embedding (MM 39-63): Conv2d(kernel P, stride S), then
	// flatten(2).transpose(1, 2): [B, C, H, W] -> [B, NumPatches, D].
	patches := patchEmbed[T](m, x, shape, opts.Workers, r)
	if opts.Intermediates {
		keep(KeyPatchEmbed, patches, bt, cfg.NumPatches(), d)
	}

	// Cls token(s) inserted before the pos_embed add (MM 385-422):
	// [B, NumPatches, D] -> [B, L, D].
	tokens := embedTokens(m, patches, bt)
	if opts.Intermediates {
		keep(KeyEmbedTokens, tokens, bt, l, d)
	}

	// Blocks (MM 66-136, 486-520) and norm_f: [B, L, D] -> [B, L, D].
	keepBlock := keep
	if !opts.Intermediates {
		keepBlock = nil // the per-block streams are not converted at all
	}
	normed := runBlocks(m, tokens, bt, opts.Workers, r, keepBlock)
	if opts.Intermediates {
		keep(KeyFinalNormed, normed, bt, l, d)
	}

	// Readout (MM 522-539) and head (MM 541-551).
	feat, featShape := readout(cfg, normed, bt)
	roundAll(r, feat) // a 16-bit mean in AMP; a gathered token is already rounded
	res.Features = keep(KeyFeatures, feat, featShape...)
	logits, logitShape := applyHead(m, cfg, feat, featShape)
	roundAll(r, logits)
	res.Logits = keep(KeyLogits, logits, logitShape...)
	return res
}

// embedTokens inserts the cls token(s) among the patch tokens where the
// placement puts them and adds pos_embed (MM 385-422):
// patches [B, NumPatches, D] -> tokens [B, L, D].
func embedTokens[T Float](m *convert.Model, patches []T, bt int) []T {
	cfg := &m.Config
	d, l := cfg.EmbedDim, cfg.SeqLen()
	tokens := make([]T, bt*l*d)
	src := cfg.TokenSources()
	var pos []T
	if m.PosEmbed != nil {
		pos = linalg.ToT[T](m.PosEmbed.Data) // [1, L, D]
	}
	var head, tail []T
	switch cfg.ClsToken {
	case convert.ClsMiddle, convert.ClsHead:
		head = linalg.ToT[T](m.ClsToken.Data)
	case convert.ClsDouble:
		head, tail = linalg.ToT[T](m.ClsTokenHead.Data), linalg.ToT[T](m.ClsTokenTail.Data)
	}
	for b := 0; b < bt; b++ {
		for t, s := range src {
			row := tokens[(b*l+t)*d : (b*l+t+1)*d]
			switch s {
			case convert.TokenClsHead:
				copy(row, head)
			case convert.TokenClsTail:
				copy(row, tail)
			default:
				copy(row, patches[(b*cfg.NumPatches()+s)*d:])
			}
			if pos != nil {
				for j := range row {
					row[j] += pos[t*d+j]
				}
			}
		}
	}
	return tokens
}

// runBlocks runs the blocks (Add -> norm -> mixer) and norm_f over tokens
// [B, L, D] and returns norm_f's output [B, L, D]; keep records the
// residual and hidden stream of each block when it is not nil. r rounds
// the 16-bit values of an AMP emulation (nil: none).
func runBlocks[T Float](m *convert.Model, tokens []T, bt, workers int, r rounder, keep func(key string, data []T, shape ...int) *Tensor) []T {
	cfg := &m.Config
	d, l := cfg.EmbedDim, cfg.SeqLen()
	// Blocks (MM 66-136, 486-520): Add -> norm -> mixer. Block 0's
	// residual is the token sequence; later ones add the previous mixer
	// output. The residual stream is float32 in an fp32 run
	// (residual_in_fp32) and float64 in the float64 run.
	dm := mixerDims{
		batch: bt, length: l, model: d, inner: cfg.DInner,
		dtRank: cfg.DtRank, dstate: cfg.DState, dcv: cfg.DConv,
		bimamba: cfg.BimambaType, divideOut: cfg.DivideOut, workers: workers, round: r,
	}
	rows := bt * l
	layerNorm := cfg.Norm == convert.NormLayer
	hidden := tokens
	var residual []T
	normed := make([]T, rows*d)
	for i := range m.Layers {
		p := newLayerParams[T](&m.Layers[i])
		if residual == nil {
			residual = tokens
		} else {
			next := make([]T, rows*d)
			for j := range next {
				next[j] = residual[j] + hidden[j]
			}
			residual = next
		}
		linalg.NormRows(normed, residual, p.norm, p.normBias, rows, d, cfg.NormEps, layerNorm)
		roundAll(r, normed)
		hidden = mixer(normed, &p, dm, nil)
		if keep != nil {
			keep(KeyResidual(i), residual, bt, l, d)
			keep(KeyHidden(i), hidden, bt, l, d)
		}
	}
	// norm_f(residual + hidden), prenorm=False (MM 503-520); with no
	// blocks the residual is None and norm_f sees the tokens.
	final := hidden
	if residual != nil {
		final = make([]T, rows*d)
		for j := range final {
			final[j] = residual[j] + hidden[j]
		}
	}
	var normFBias []T
	if m.NormFBias != nil {
		normFBias = linalg.ToT[T](m.NormFBias.Data)
	}
	linalg.NormRows(normed, final, linalg.ToT[T](m.NormF.Data), normFBias, rows, d, cfg.NormEps, layerNorm)
	roundAll(r, normed)
	return normed
}

// patchEmbed computes the patch-embedding Conv2d as im2col + one matrix
// product: [B, C, H, W] -> cols [B·NumPatches, C·P·P] -> [B·NumPatches, D].
// Patches are in row-major grid order (flatten(2).transpose(1, 2), MM 61).
// r rounds the image, the conv output and the biased output of an AMP
// emulation (nil: none).
func patchEmbed[T Float](m *convert.Model, x []float32, shape [4]int, workers int, r rounder) []T {
	cfg := &m.Config
	bt, cin, h, w := shape[0], shape[1], shape[2], shape[3]
	p, s, d := cfg.PatchSize, cfg.Stride, cfg.EmbedDim
	gh, gw := cfg.GridHW()
	k := cin * p * p
	np := gh * gw
	cols := make([]T, bt*np*k)
	linalg.ParallelFor(bt*gh, workers, func(i int) {
		b, gy := i/gh, i%gh
		for gx := 0; gx < gw; gx++ {
			row := cols[((b*gh+gy)*gw+gx)*k:]
			for c := 0; c < cin; c++ {
				for ky := 0; ky < p; ky++ {
					in := x[((b*cin+c)*h+gy*s+ky)*w+gx*s:]
					dst := row[(c*p+ky)*p : (c*p+ky+1)*p]
					for kx := range dst {
						dst[kx] = T(in[kx])
					}
				}
			}
		}
	})
	roundAll(r, cols)
	out := make([]T, bt*np*d)
	// weight [D, C, P, P] is [D, C·P·P] row-major.
	linalg.Linear(out, cols, k, linalg.ToT[T](m.PatchWeight.Data), bt*np, d, k)
	roundAll(r, out)
	linalg.AddBias(out, linalg.ToT[T](m.PatchBias.Data), bt*np, d)
	roundAll(r, out)
	return out
}

// readout implements forward_features' return (MM 522-539) on the normed
// tokens [B, L, D]: the cls token(s) when present, else by FinalPoolType.
func readout[T Float](cfg *convert.Config, hidden []T, bt int) ([]T, []int) {
	l, d := cfg.SeqLen(), cfg.EmbedDim
	feat := make([]T, bt*d)
	tok := func(b, t int) []T { return hidden[(b*l+t)*d : (b*l+t+1)*d] }
	switch cfg.ClsToken {
	case convert.ClsMiddle, convert.ClsHead:
		pos := cfg.ClsTokenPosition()
		for b := 0; b < bt; b++ {
			copy(feat[b*d:], tok(b, pos))
		}
		return feat, []int{bt, d}
	case convert.ClsDouble:
		// (hidden[:, 0] + hidden[:, -1]) / 2 (MM 524-525)
		for b := 0; b < bt; b++ {
			h0, h1 := tok(b, 0), tok(b, l-1)
			for j := 0; j < d; j++ {
				feat[b*d+j] = (h0[j] + h1[j]) / 2
			}
		}
		return feat, []int{bt, d}
	}
	switch cfg.PoolType() {
	case "none": // last token (MM 535)
		for b := 0; b < bt; b++ {
			copy(feat[b*d:], tok(b, l-1))
		}
	case "mean": // hidden.mean(dim=1) (MM 537)
		for b := 0; b < bt; b++ {
			for j := 0; j < d; j++ {
				var s float64
				for t := 0; t < l; t++ {
					s += float64(hidden[(b*l+t)*d+j])
				}
				feat[b*d+j] = T(s / float64(l))
			}
		}
	default: // "max", "all": every token goes to the head (MM 538-539)
		return hidden, []int{bt, l, d}
	}
	return feat, []int{bt, d}
}

// applyHead applies head = Linear(D, NumClasses) with bias (no softmax,
// MM 541-551) to the features; for final_pool_type "max" the per-token
// logits are reduced by a max over tokens. An absent head is Identity.
func applyHead[T Float](m *convert.Model, cfg *convert.Config, feat []T, fshape []int) ([]T, []int) {
	d := cfg.EmbedDim
	rows := len(feat) / d
	logits, nc := feat, d
	if m.HeadWeight != nil {
		nc = m.HeadWeight.Shape[0]
		logits = make([]T, rows*nc)
		linalg.Linear(logits, feat, d, linalg.ToT[T](m.HeadWeight.Data), rows, nc, d)
		if m.HeadBias != nil {
			linalg.AddBias(logits, linalg.ToT[T](m.HeadBias.Data), rows, nc)
		}
	}
	if len(fshape) == 2 {
		return logits, []int{fshape[0], nc}
	}
	bt, l := fshape[0], fshape[1]
	if cfg.PoolType() == "max" {
		// x.max(dim=1)[0]: [B, L, NC] -> [B, NC]
		out := make([]T, bt*nc)
		for b := 0; b < bt; b++ {
			o := out[b*nc : (b+1)*nc]
			copy(o, logits[b*l*nc:])
			for t := 1; t < l; t++ {
				for j, v := range logits[(b*l+t)*nc : (b*l+t+1)*nc] {
					if v > o[j] {
						o[j] = v
					}
				}
			}
		}
		return out, []int{bt, nc}
	}
	return logits, []int{bt, l, nc}
}
