package verify

import (
	"fmt"
	"slices"

	"github.com/vimconvert/vimconvert/convert"
)

// CheckModel verifies that m is complete and self-consistent (every tensor
// present with the shape its Config implies) and that Forward supports its
// configuration. Forward calls it first, so a bad model is an error, never
// a panic. Errors wrap ErrModel.
func CheckModel(m *convert.Model) error {
	if m == nil {
		return fmt.Errorf("%w: nil model", ErrModel)
	}
	c := &m.Config
	for _, f := range []struct {
		name string
		v    int
	}{
		{"embed_dim", c.EmbedDim}, {"d_state", c.DState}, {"d_inner", c.DInner}, {"dt_rank", c.DtRank},
		{"d_conv", c.DConv}, {"patch_size", c.PatchSize}, {"stride", c.Stride}, {"img_size", c.ImgSize},
		{"grid_size", c.GridSize}, {"num_patches", c.NumPatches}, {"seq_len", c.SeqLen},
	} {
		if f.v < 1 {
			return fmt.Errorf("%w: config %s = %d, want ≥ 1", ErrModel, f.name, f.v)
		}
	}
	if c.Depth != len(m.Layers) {
		return fmt.Errorf("%w: config depth %d but %d layers", ErrModel, c.Depth, len(m.Layers))
	}
	if c.ImgSize < c.PatchSize {
		return fmt.Errorf("%w: img_size %d smaller than patch_size %d", ErrModel, c.ImgSize, c.PatchSize)
	}
	if g := (c.ImgSize-c.PatchSize)/c.Stride + 1; c.GridSize != g {
		return fmt.Errorf("%w: grid_size %d, but (img_size %d - patch %d)/stride %d + 1 = %d",
			ErrModel, c.GridSize, c.ImgSize, c.PatchSize, c.Stride, g)
	}
	if c.NumPatches != c.GridSize*c.GridSize {
		return fmt.Errorf("%w: num_patches %d, want grid_size² = %d", ErrModel, c.NumPatches, c.GridSize*c.GridSize)
	}
	if !(c.NormEps > 0) {
		return fmt.Errorf("%w: norm_eps %v, want > 0 (1e-5 in every official config)", ErrModel, c.NormEps)
	}
	var ncls, pos int
	switch c.ClsToken {
	case convert.ClsMiddle:
		ncls, pos = 1, c.NumPatches/2
	case convert.ClsHead:
		ncls, pos = 1, 0
	case convert.ClsDouble:
		ncls, pos = 2, 0
	case convert.ClsNone:
		ncls, pos = 0, -1
	default:
		return fmt.Errorf("%w: cls_token %q (want middle, head, double or none)", ErrModel, c.ClsToken)
	}
	if c.SeqLen != c.NumPatches+ncls {
		return fmt.Errorf("%w: seq_len %d, want num_patches %d + %d cls tokens", ErrModel, c.SeqLen, c.NumPatches, ncls)
	}
	if c.ClsTokenPosition != pos && !(ncls == 0 && c.ClsTokenPosition < 0) {
		return fmt.Errorf("%w: cls_token_position %d, but cls_token %q puts it at %d", ErrModel, c.ClsTokenPosition, c.ClsToken, pos)
	}
	switch pt := poolType(c); pt {
	case "mean", "none":
	case "max", "all":
		if ncls > 0 {
			// With a cls token forward_features returns [B, D]; the official
			// forward would then take head(x).max(dim=1) over the classes
			// ("max") or return plain logits ("all"). Neither is a
			// configuration anyone trains; refuse rather than guess.
			return fmt.Errorf("%w: final_pool_type %q together with a cls token is not supported", ErrModel, pt)
		}
	default:
		return fmt.Errorf("%w: final_pool_type %q (want mean, none, max or all)", ErrModel, pt)
	}
	switch c.BimambaType {
	case convert.BimambaV2, convert.BimambaV1, convert.BimambaNone:
	default:
		return fmt.Errorf("%w: bimamba_type %q (want v2, v1 or none)", ErrModel, c.BimambaType)
	}
	layerNorm := false
	switch c.Norm {
	case "", convert.NormRMS:
	case convert.NormLayer:
		layerNorm = true
	default:
		return fmt.Errorf("%w: norm %q (want %s or %s)", ErrModel, c.Norm, convert.NormRMS, convert.NormLayer)
	}
	if c.AbsPosEmbed && m.PosEmbed == nil {
		return fmt.Errorf("%w: config has abs_pos_embed but pos_embed is missing", ErrModel)
	}

	d, di, n := c.EmbedDim, c.DInner, c.DState
	if m.PatchWeight == nil || len(m.PatchWeight.Shape) != 4 {
		return fmt.Errorf("%w: patch_embed.proj.weight missing or not 4-D", ErrModel)
	}
	cin := m.PatchWeight.Shape[1]
	if c.InChans > 0 && cin != c.InChans {
		return fmt.Errorf("%w: patch_embed.proj.weight has %d input channels, config in_chans %d", ErrModel, cin, c.InChans)
	}
	checks := []tensorCheck{
		{m.PatchWeight, "patch_embed.proj.weight", []int{d, cin, c.PatchSize, c.PatchSize}, false},
		{m.PatchBias, "patch_embed.proj.bias", []int{d}, false},
		{m.PosEmbed, "pos_embed", []int{1, c.SeqLen, d}, true},
		{m.NormF, "norm_f.weight", []int{d}, false},
		{m.NormFBias, "norm_f.bias", []int{d}, true},
	}
	switch c.ClsToken {
	case convert.ClsMiddle, convert.ClsHead:
		checks = append(checks, tensorCheck{m.ClsToken, "cls_token", []int{1, 1, d}, false})
	case convert.ClsDouble:
		checks = append(checks,
			tensorCheck{m.ClsTokenHead, "cls_token_head", []int{1, 1, d}, false},
			tensorCheck{m.ClsTokenTail, "cls_token_tail", []int{1, 1, d}, false})
	}
	if m.HeadWeight != nil {
		nc := m.HeadWeight.Shape
		if len(nc) != 2 || nc[0] < 1 {
			return fmt.Errorf("%w: head.weight has shape %v, want [num_classes, %d]", ErrModel, nc, d)
		}
		checks = append(checks,
			tensorCheck{m.HeadWeight, "head.weight", []int{nc[0], d}, false},
			tensorCheck{m.HeadBias, "head.bias", []int{nc[0]}, true})
	}
	if !layerNorm {
		// RMSNorm has no bias (LN 964); a bias here means a mislabelled model.
		if m.NormFBias != nil {
			return fmt.Errorf("%w: norm_f.bias present but norm is RMSNorm", ErrModel)
		}
		for i := range m.Layers {
			if m.Layers[i].NormBias != nil {
				return fmt.Errorf("%w: layers.%d.norm.bias present but norm is RMSNorm", ErrModel, i)
			}
		}
	}
	for _, ck := range checks {
		if err := checkTensor(ck.t, ck.name, ck.shape, ck.optional); err != nil {
			return err
		}
	}
	for i := range m.Layers {
		ly := &m.Layers[i]
		pre := fmt.Sprintf("layers.%d.", i)
		ts := []tensorCheck{
			{ly.NormWeight, "norm.weight", []int{d}, false},
			{ly.NormBias, "norm.bias", []int{d}, true},
			{ly.InProj, "mixer.in_proj.weight", []int{2 * di, d}, false},
			{ly.OutProj, "mixer.out_proj.weight", []int{d, di}, false},
			{ly.Gamma, "mixer.gamma", []int{d}, true},
		}
		for _, ck := range ts {
			if err := checkTensor(ck.t, pre+ck.name, ck.shape, ck.optional); err != nil {
				return err
			}
		}
		if err := checkMixer(&ly.Fwd, pre+"mixer.", "", c); err != nil {
			return err
		}
		switch c.BimambaType {
		case convert.BimambaV2:
			if ly.Bwd == nil {
				return fmt.Errorf("%w: %smixer: bimamba v2 needs the backward parameters (conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b)", ErrModel, pre)
			}
			if err := checkMixer(ly.Bwd, pre+"mixer.", "_b", c); err != nil {
				return err
			}
		case convert.BimambaV1:
			if err := checkTensor(ly.ABLog, pre+"mixer.A_b_log", []int{di, n}, false); err != nil {
				return err
			}
		}
	}
	return nil
}

// tensorCheck is one expected tensor of a model.
type tensorCheck struct {
	t        *convert.Tensor
	name     string
	shape    []int
	optional bool
}

func checkMixer(mx *convert.Mixer, pre, sfx string, c *convert.Config) error {
	di, n, r := c.DInner, c.DState, c.DtRank
	alog := "A_log"
	if sfx != "" {
		alog = "A_b_log"
	}
	for _, ck := range []tensorCheck{
		{mx.ConvWeight, "conv1d" + sfx + ".weight", []int{di, 1, c.DConv}, false},
		{mx.ConvBias, "conv1d" + sfx + ".bias", []int{di}, true},
		{mx.XProj, "x_proj" + sfx + ".weight", []int{r + 2*n, di}, false},
		{mx.DtProjW, "dt_proj" + sfx + ".weight", []int{di, r}, false},
		{mx.DtProjB, "dt_proj" + sfx + ".bias", []int{di}, true},
		{mx.ALog, alog, []int{di, n}, false},
		{mx.D, "D" + sfx, []int{di}, false},
	} {
		if err := checkTensor(ck.t, pre+ck.name, ck.shape, ck.optional); err != nil {
			return err
		}
	}
	return nil
}

func checkTensor(t *convert.Tensor, name string, shape []int, optional bool) error {
	if t == nil {
		if optional {
			return nil
		}
		return fmt.Errorf("%w: %s is missing", ErrModel, name)
	}
	if !slices.Equal(t.Shape, shape) {
		return fmt.Errorf("%w: %s has shape %v, want %v", ErrModel, name, t.Shape, shape)
	}
	if len(t.Data) != t.NumElements() {
		return fmt.Errorf("%w: %s has %d values for shape %v", ErrModel, name, len(t.Data), t.Shape)
	}
	return nil
}
