package verify

import (
	"fmt"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify/internal/linalg"
)

// FeatureMaps returns the backbone feature maps of blocks indices
// (convert.FeatureMode, convert.FeatureMapName) from a Forward result run
// with Options.Intermediates: each [B, D, rows, cols], the patch tokens of
// the block's stream (cls tokens removed, row-major grid restored). For
// convert.FeatureAddNorm, norm_f is applied here in float64 to the
// result's residual + hidden.
func FeatureMaps(m *convert.Model, r *Result, indices []int, mode convert.FeatureMode) (map[string]*Tensor, error) {
	if r == nil || r.Intermediates == nil {
		return nil, fmt.Errorf("%w: feature maps need a Forward run with Intermediates", ErrModel)
	}
	cfg := &m.Config
	out := map[string]*Tensor{}
	for _, i := range indices {
		h, okH := r.Intermediates[KeyHidden(i)]
		res, okR := r.Intermediates[KeyResidual(i)]
		if !okH || !okR {
			return nil, fmt.Errorf("%w: block %d is outside the model's %d blocks", ErrModel, i, len(m.Layers))
		}
		stream := h.Data // [B, L, D]
		switch mode {
		case convert.FeatureHidden:
		case convert.FeatureAdd, convert.FeatureAddNorm:
			stream = make([]float64, len(h.Data))
			for j := range stream {
				stream[j] = res.Data[j] + h.Data[j]
			}
			if mode == convert.FeatureAddNorm {
				var bias []float64
				if m.NormFBias != nil {
					bias = linalg.ToT[float64](m.NormFBias.Data)
				}
				normed := make([]float64, len(stream))
				linalg.NormRows(normed, stream, linalg.ToT[float64](m.NormF.Data), bias, len(stream)/cfg.EmbedDim, cfg.EmbedDim,
					cfg.NormEps, cfg.Norm == convert.NormLayer)
				stream = normed
			}
		default:
			return nil, fmt.Errorf("%w: unknown feature mode %q", ErrModel, mode)
		}
		out[convert.FeatureMapName(i)] = PatchGrid(cfg, &Tensor{Shape: h.Shape, Data: stream})
	}
	return out, nil
}

// PatchGrid turns a token stream [B, L, D] of a model of configuration
// cfg into the feature map of its patch tokens [B, D, rows, cols]: the cls
// tokens removed (convert.Config.PatchTokens), the row-major grid
// restored.
func PatchGrid(cfg *convert.Config, tokens *Tensor) *Tensor {
	bt, l, d := tokens.Shape[0], tokens.Shape[1], tokens.Shape[2]
	gh, gw := cfg.GridHW()
	idx := cfg.PatchTokens()
	np := len(idx)
	out := &Tensor{Shape: []int{bt, d, gh, gw}, Data: make([]float64, bt*d*np)}
	for b := 0; b < bt; b++ {
		for p, t := range idx {
			row := tokens.Data[(b*l+t)*d : (b*l+t+1)*d]
			for c, v := range row {
				out.Data[(b*d+c)*np+p] = v // [B, L, D] -> [B, D, rows·cols]
			}
		}
	}
	return out
}

// featureMapBlocks returns the blocks whose feature maps (graph
// --out-indices outputs, convert.FeatureMapName) the checked model has.
func (fc *fileCheck) featureMapBlocks() []int {
	var idx []int
	for i := range fc.m.Layers {
		for _, o := range fc.mp.GetGraph().GetOutput() {
			if o.GetName() == convert.FeatureMapName(i) {
				idx = append(idx, i)
			}
		}
	}
	return idx
}

// compareFeatureMaps compares every feature-map output of the model with
// the reference's (FeatureMaps, in the mode its metadata records) against
// Tol, adding each to the report's outputs.
func (fc *fileCheck) compareFeatureMaps(got map[string]*runtime.Tensor, ref *Result) error {
	idx := fc.featureMapBlocks()
	if len(idx) == 0 {
		return nil
	}
	mode, err := convert.ParseFeatureMode(onnxfile.Metadata(fc.mp)[graph.MetaFeatureMode])
	if err != nil {
		return fmt.Errorf("%s: metadata %s: %w", fc.onnxPath, graph.MetaFeatureMode, err)
	}
	want, err := FeatureMaps(fc.m, ref, idx, mode)
	if err != nil {
		return err
	}
	for _, i := range idx {
		name := convert.FeatureMapName(i)
		r, _ := CompareOutput(got, name, want[name])
		r = r.WithoutTop1() // no classes in a feature map
		fc.res.Outputs = append(fc.res.Outputs, Named{name, r})
		if !r.Pass(fc.opts.Tol) {
			fc.res.Failures = append(fc.res.Failures, fmt.Sprintf("%s max |Δ| %.3g > tol %g", name, r.MaxAbs, fc.opts.Tol))
		}
	}
	return nil
}
