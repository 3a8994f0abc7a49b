package graph

import (
	"fmt"
	"math"

	"github.com/vimconvert/vimconvert/convert"
)

// This file emits the dense-task backbone outputs (Options.OutIndices):
// for each chosen block a feature map [batch, D, rows, cols] of its patch
// tokens, named convert.FeatureMapName(i), with the token stream chosen by
// Options.FeatureMode (convert.FeatureMode documents the official code
// each mode follows).

// MetaFeatureMode is the metadata key recording Options.FeatureMode (as
// a convert.FeatureMode, "hidden" when unset) on a model with feature-map
// outputs, so that a reader can recompute them (verify.CheckFile).
const MetaFeatureMode = "vimconvert.feature_mode"

// featureMaps holds what the feature-map outputs of one model share.
type featureMaps struct {
	mode   convert.FeatureMode
	want   map[int]bool
	conv   string // patch-embed conv output [B, D, rows, cols]
	grid   string // its shape, read at run time: the Reshape target
	clsPos string // dynamic size: 1-D [1] value of the middle cls position
}

// outIndices returns the blocks of opts' feature maps for m, checked and
// sorted (negative indices count from the end; OfficialOutIndices gives
// convert.DefaultOutIndices), or nil without any.
func outIndices(m *convert.Model, opts Options) ([]int, error) {
	idx := opts.OutIndices
	if opts.OfficialOutIndices {
		if len(idx) > 0 {
			return nil, fmt.Errorf("graph: out indices %v and the official ones both given", idx)
		}
		idx = convert.DefaultOutIndices(len(m.Layers))
	}
	if len(idx) == 0 {
		if opts.FeatureMode != "" {
			return nil, fmt.Errorf("graph: feature mode %q without out indices", opts.FeatureMode)
		}
		return nil, nil
	}
	if _, err := convert.ParseFeatureMode(string(opts.FeatureMode)); err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	out, err := convert.NormalizeOutIndices(idx, len(m.Layers))
	if err != nil {
		return nil, fmt.Errorf("graph: %w", err)
	}
	return out, nil
}

// newFeatureMaps returns the feature-map state for the blocks idx
// (checked by outIndices), or nil without any.
func newFeatureMaps(b *builder, opts Options, idx []int, conv string) *featureMaps {
	if len(idx) == 0 {
		return nil
	}
	mode, _ := convert.ParseFeatureMode(string(opts.FeatureMode))
	f := &featureMaps{mode: mode, want: map[int]bool{}, conv: conv}
	for _, i := range idx {
		f.want[i] = true
	}
	f.grid = b.shapeOf("feature_map/shape", conv, 0, 4) // [B, D, rows, cols]
	if opts.DynamicSize {
		f.clsPos = dynClsPos1D
	}
	return f
}

// emit adds block i's feature map output when i is chosen: the stream
// (hidden [B, L, D], or residual + hidden, optionally normed by norm_f)
// without its cls tokens, transposed and reshaped to the patch grid.
func (f *featureMaps) emit(b *builder, m *convert.Model, i int, residual, hidden string) {
	if f == nil || !f.want[i] {
		return
	}
	c := m.Config
	D := int64(c.EmbedDim)
	name := convert.FeatureMapName(i)
	sh := b.shape(hidden) // [B, L, D]
	stream := hidden
	if f.mode != convert.FeatureHidden {
		stream = b.op1("Add", name+"/add_residual", []string{residual, hidden}, sh)
		if f.mode == convert.FeatureAddNorm {
			stream = b.norm(c, name+"/norm_f", stream, m.NormF, m.NormFBias)
		}
	}
	M := int64(c.NumPatches())
	gh, gw := c.GridHW()
	GH, GW := int64(gh), int64(gw)
	if sh[1] == Tokens {
		M, GH, GW = Patches, GridRows, GridCols
	}
	patches := f.removeCls(b, c, name, stream, M)
	t := b.op1("Transpose", name+"/to_channels", []string{patches}, []int64{Batch, D, M}, attrInts("perm", 0, 2, 1)) // [B, M, D] -> [B, D, M]
	out := b.op1("Reshape", name+"/to_grid", []string{t, f.grid}, []int64{Batch, D, GH, GW})                         // [B, D, M] -> [B, D, rows, cols]
	b.output(name, out)
}

// removeCls returns x [B, L, D] without its cls tokens: [B, M, D] in
// row-major patch order (the inverse of the cls insertion, MM 385-412).
func (f *featureMaps) removeCls(b *builder, c convert.Config, name, x string, M int64) string {
	D := int64(c.EmbedDim)
	slice := func(suffix, from, to string, n int64) string {
		return b.op1("Slice", name+"/"+suffix, []string{x, from, to, b.constI64(false, 1)}, []int64{Batch, n, D})
	}
	end := b.constI64(false, math.MaxInt64)
	switch c.ClsToken {
	case convert.ClsHead:
		return slice("patches", b.constI64(false, 1), end, M)
	case convert.ClsDouble:
		return slice("patches", b.constI64(false, 1), b.constI64(false, -1), M)
	case convert.ClsMiddle:
		p := int64(c.ClsTokenPosition())
		pos, next := b.constI64(false, p), b.constI64(false, p+1)
		nBefore, nAfter := p, M-p
		if f.clsPos != "" {
			pos, nBefore, nAfter = f.clsPos, Unnamed, Unnamed
			if _, ok := b.values["feature_map/cls_next"]; !ok {
				b.op1("Add", "feature_map/cls_next", []string{pos, b.constI64(false, 1)}, []int64{1})
			}
			next = "feature_map/cls_next"
		}
		before := slice("before_cls", b.constI64(false, 0), pos, nBefore)
		after := slice("after_cls", next, end, nAfter)
		return b.op1("Concat", name+"/patches", []string{before, after}, []int64{Batch, M, D}, attrInt("axis", 1))
	}
	return x
}

// initializerOnce is initializer for a tensor that more than one node
// reads (norm_f in the final norm and in FeatureAddNorm maps): the second
// call returns the existing initializer.
func (b *builder) initializerOnce(t *convert.Tensor) string {
	if t != nil {
		if _, ok := b.values[t.Name]; ok && b.isIO[t.Name] {
			return t.Name
		}
	}
	return b.initializer(t)
}
