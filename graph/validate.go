package graph

import (
	"fmt"
	"slices"

	"github.com/vimconvert/vimconvert/convert"
)

// Validate checks that m is a model Build can export: a consistent Config
// and every tensor present with the shape the Config implies. The error names
// the first problem found.
func Validate(m *convert.Model) error {
	c := m.Config
	if c.EmbedDim <= 0 || c.Depth <= 0 || c.DState <= 0 || c.DInner <= 0 || c.DtRank <= 0 || c.DConv <= 0 {
		return fmt.Errorf("graph: config has a non-positive dimension: embed_dim %d depth %d d_state %d d_inner %d dt_rank %d d_conv %d",
			c.EmbedDim, c.Depth, c.DState, c.DInner, c.DtRank, c.DConv)
	}
	if c.PatchSize <= 0 || c.Stride <= 0 || c.ImgSize < c.PatchSize {
		return fmt.Errorf("graph: config: patch %d, stride %d, img_size %d do not make a patch grid", c.PatchSize, c.Stride, c.ImgSize)
	}
	if g := (c.ImgSize-c.PatchSize)/c.Stride + 1; c.GridSize != g || c.NumPatches != g*g {
		return fmt.Errorf("graph: config: grid %d / %d patches, but img %d patch %d stride %d give %d×%d (MM 48)",
			c.GridSize, c.NumPatches, c.ImgSize, c.PatchSize, c.Stride, g, g)
	}
	nCls := map[string]int{convert.ClsMiddle: 1, convert.ClsHead: 1, convert.ClsDouble: 2, convert.ClsNone: 0}
	n, ok := nCls[c.ClsToken]
	if !ok {
		return fmt.Errorf("graph: config: unknown cls token placement %q", c.ClsToken)
	}
	if c.SeqLen != c.NumPatches+n {
		return fmt.Errorf("graph: config: seq_len %d != %d patches + %d cls tokens", c.SeqLen, c.NumPatches, n)
	}
	wantPos := map[string]int{convert.ClsMiddle: c.NumPatches / 2, convert.ClsHead: 0, convert.ClsDouble: 0, convert.ClsNone: -1}[c.ClsToken]
	if c.ClsToken != convert.ClsNone && c.ClsTokenPosition != wantPos {
		return fmt.Errorf("graph: config: cls token position %d, want %d for %q (MM 399-412)", c.ClsTokenPosition, wantPos, c.ClsToken)
	}
	if c.NormEps <= 0 {
		return fmt.Errorf("graph: config: norm eps %g must be positive", c.NormEps)
	}
	if c.NumClasses < 0 {
		return fmt.Errorf("graph: config: num_classes %d", c.NumClasses)
	}
	if len(m.Layers) != c.Depth {
		return fmt.Errorf("graph: config depth %d but %d layers", c.Depth, len(m.Layers))
	}

	switch c.Norm {
	case "", convert.NormRMS, convert.NormLayer:
	default:
		return fmt.Errorf("graph: config: unknown norm %q", c.Norm)
	}
	layerNorm := c.Norm == convert.NormLayer
	chans := c.InChans
	if chans == 0 {
		chans = 3
	}
	D, Din, N, R, K := c.EmbedDim, c.DInner, c.DState, c.DtRank, c.DConv
	check := func(what string, t *convert.Tensor, shape ...int) error {
		if t == nil {
			return fmt.Errorf("graph: missing tensor %s", what)
		}
		if !slices.Equal(t.Shape, shape) {
			return fmt.Errorf("graph: tensor %s (%s) has shape %v, want %v", what, t.Name, t.Shape, shape)
		}
		if len(t.Data) != t.NumElements() {
			return fmt.Errorf("graph: tensor %s (%s) has %d values for shape %v", what, t.Name, len(t.Data), t.Shape)
		}
		if t.Name == "" {
			return fmt.Errorf("graph: tensor %s has no name", what)
		}
		return nil
	}
	type req struct {
		what  string
		t     *convert.Tensor
		shape []int
	}
	reqs := []req{
		{"patch_embed.proj.weight", m.PatchWeight, []int{D, chans, c.PatchSize, c.PatchSize}},
		{"patch_embed.proj.bias", m.PatchBias, []int{D}},
		{"norm_f.weight", m.NormF, []int{D}},
	}
	if m.PosEmbed != nil {
		reqs = append(reqs, req{"pos_embed", m.PosEmbed, []int{1, c.SeqLen, D}})
	}
	if layerNorm {
		reqs = append(reqs, req{"norm_f.bias", m.NormFBias, []int{D}})
	} else if m.NormFBias != nil {
		return fmt.Errorf("graph: RMSNorm model has a norm_f.bias")
	}
	switch c.ClsToken {
	case convert.ClsMiddle, convert.ClsHead:
		reqs = append(reqs, req{"cls_token", m.ClsToken, []int{1, 1, D}})
	case convert.ClsDouble:
		reqs = append(reqs, req{"cls_token_head", m.ClsTokenHead, []int{1, 1, D}}, req{"cls_token_tail", m.ClsTokenTail, []int{1, 1, D}})
	}
	if c.NumClasses > 0 {
		reqs = append(reqs, req{"head.weight", m.HeadWeight, []int{c.NumClasses, D}}, req{"head.bias", m.HeadBias, []int{c.NumClasses}})
	} else if m.HeadWeight != nil {
		return fmt.Errorf("graph: num_classes 0 but the model has a head weight %v", m.HeadWeight.Shape)
	}
	mixer := func(p string, mx *convert.Mixer) []req {
		return []req{
			{p + "conv1d.weight", mx.ConvWeight, []int{Din, 1, K}},
			{p + "conv1d.bias", mx.ConvBias, []int{Din}},
			{p + "x_proj.weight", mx.XProj, []int{R + 2*N, Din}},
			{p + "dt_proj.weight", mx.DtProjW, []int{Din, R}},
			{p + "dt_proj.bias", mx.DtProjB, []int{Din}},
			{p + "A_log", mx.ALog, []int{Din, N}},
			{p + "D", mx.D, []int{Din}},
		}
	}
	for i := range m.Layers {
		l := &m.Layers[i]
		p := fmt.Sprintf("layers.%d.", i)
		reqs = append(reqs,
			req{p + "norm.weight", l.NormWeight, []int{D}},
			req{p + "mixer.in_proj.weight", l.InProj, []int{2 * Din, D}},
			req{p + "mixer.out_proj.weight", l.OutProj, []int{D, Din}})
		if layerNorm {
			reqs = append(reqs, req{p + "norm.bias", l.NormBias, []int{D}})
		} else if l.NormBias != nil {
			return fmt.Errorf("graph: RMSNorm model has a layers.%d.norm.bias", i)
		}
		reqs = append(reqs, mixer(p+"mixer.", &l.Fwd)...)
		switch c.BimambaType {
		case convert.BimambaV2:
			if l.Bwd == nil {
				return fmt.Errorf("graph: layer %d: bimamba v2 without backward parameters (conv1d_b, x_proj_b, ...)", i)
			}
			reqs = append(reqs, mixer(p+"mixer.(backward) ", l.Bwd)...)
		case convert.BimambaV1:
			reqs = append(reqs, req{p + "mixer.A_b_log", l.ABLog, []int{Din, N}})
		case convert.BimambaNone:
		default:
			return fmt.Errorf("graph: config: unknown bimamba type %q", c.BimambaType)
		}
		if l.Gamma != nil {
			reqs = append(reqs, req{p + "mixer.gamma", l.Gamma, []int{D}})
		}
	}
	for _, r := range reqs {
		if err := check(r.what, r.t, r.shape...); err != nil {
			return err
		}
	}
	return nil
}
