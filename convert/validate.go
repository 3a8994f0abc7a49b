package convert

import (
	"fmt"
	"slices"
)

// Validate checks that c is a configuration a Vim model can have: every
// size positive, a patch grid, known enumerations, a positive norm eps and
// a readout the model defines. The error names the first problem.
func (c Config) Validate() error {
	for _, f := range []struct {
		name string
		v    int
	}{
		{"embed_dim", c.EmbedDim}, {"depth", c.Depth}, {"d_state", c.DState}, {"d_inner", c.DInner},
		{"dt_rank", c.DtRank}, {"d_conv", c.DConv}, {"patch_size", c.PatchSize}, {"stride", c.Stride},
		{"img_size", c.ImgSize}, {"in_chans", c.InChans},
	} {
		if f.v < 1 {
			return fmt.Errorf("config %s = %d, want ≥ 1", f.name, f.v)
		}
	}
	if c.ImgSize < c.PatchSize || c.Width() < c.PatchSize {
		return fmt.Errorf("config img_size %d×%d smaller than patch_size %d", c.ImgSize, c.Width(), c.PatchSize)
	}
	if gh, gw := c.GridHW(); gh > MaxSeqLen/gw {
		return fmt.Errorf("config img_size %d×%d with patch %d and stride %d gives a %d×%d grid, more than the %d tokens supported",
			c.ImgSize, c.Width(), c.PatchSize, c.Stride, gh, gw, MaxSeqLen)
	}
	ncls, ok := c.ClsToken.Count()
	if !ok {
		return fmt.Errorf("config cls_token %q (want middle, head, double or none)", c.ClsToken)
	}
	if _, err := ParseBimambaType(string(c.BimambaType)); err != nil {
		return fmt.Errorf("config bimamba_type %q (want v2, v1 or none)", c.BimambaType)
	}
	if _, err := ParseNorm(string(c.Norm)); err != nil {
		return fmt.Errorf("config norm %q (want %s or %s)", c.Norm, NormRMS, NormLayer)
	}
	if !(c.NormEps > 0) {
		return fmt.Errorf("config norm_eps %v, want > 0 (1e-5 in every official config)", c.NormEps)
	}
	if c.NumClasses < 0 {
		return fmt.Errorf("config num_classes %d, want ≥ 0 (0: Identity head)", c.NumClasses)
	}
	switch pt := c.PoolType(); pt {
	case "mean", "none":
	case "max", "all":
		if ncls > 0 {
			// With a cls token forward_features returns [B, D]; the
			// official forward would then take head(x).max(dim=1) over
			// the classes ("max") or return plain logits ("all").
			// Neither is a configuration anyone trains: refused.
			return fmt.Errorf("config final_pool_type %q together with a cls token is not supported", pt)
		}
	default:
		return fmt.Errorf("config final_pool_type %q (want mean, none, max or all)", pt)
	}
	return nil
}

// PoolType returns the readout without a cls token: FinalPoolType, or
// "mean" (the default of every registry name) when it is "".
func (c Config) PoolType() string {
	if c.FinalPoolType == "" {
		return "mean"
	}
	return c.FinalPoolType
}

// Validate checks that m is complete and consistent: a valid Config, one
// Layer per block (with backward parameters exactly for bimamba v2), every
// tensor of the table present with the shape the Config implies, as many
// values and its state-dict name (or none), and no tensor the Config does
// not have.
func (m *Model) Validate() error {
	if m == nil {
		return fmt.Errorf("nil model")
	}
	c := &m.Config
	if err := c.Validate(); err != nil {
		return err
	}
	if len(m.Layers) != c.Depth {
		return fmt.Errorf("config depth %d but %d layers", c.Depth, len(m.Layers))
	}
	for i := range m.Layers {
		switch bwd := m.Layers[i].Bwd != nil; {
		case c.BimambaType == BimambaV2 && !bwd:
			return fmt.Errorf("layer %d (layers.%d.mixer): bimamba v2 needs the backward parameters (conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b)", i, i)
		case c.BimambaType != BimambaV2 && bwd:
			return fmt.Errorf("layer %d (layers.%d.mixer): backward parameters present but bimamba is %s", i, i, c.BimambaType)
		}
	}
	if pe := m.PosEmbed; pe != nil && c.AbsPosEmbed && len(pe.Shape) == 3 && pe.Shape[1] != c.SeqLen() {
		return fmt.Errorf("pos_embed has %d rows, but grid_size %d (img_size %d, patch %d, stride %d) and %d cls tokens give seq_len %d",
			pe.Shape[1], c.GridSize(), c.ImgSize, c.PatchSize, c.Stride, c.NumClsTokens(), c.SeqLen())
	}
	if err := m.checkAbsent(); err != nil {
		return err
	}
	return EachTensor(c, func(key string, s TensorSpec, i int) error {
		return checkTensor(*s.Slot(m, i), key, s.Shape(c))
	})
}

// checkAbsent refuses tensors that the table does not give m's Config.
func (m *Model) checkAbsent() error {
	c := &m.Config
	absent := func(s TensorSpec, i int) error {
		if s.Present(c) {
			return nil
		}
		if t := *s.Slot(m, i); t != nil {
			key := s.Key(i)
			switch {
			case c.Norm != NormLayer && (key == "norm_f.bias" || s.Name == "layers.{i}.norm.bias"):
				return fmt.Errorf("%s present but norm is RMSNorm", key)
			case key == "head.weight" || key == "head.bias":
				return fmt.Errorf("num_classes 0 but the model has %s %v", key, t.Shape)
			}
			return fmt.Errorf("%s present, but the config (bimamba %s, cls %s, abs_pos_embed %t, layer scale %t) has no such tensor",
				key, c.BimambaType, c.ClsToken, c.AbsPosEmbed, c.HasGamma)
		}
		return nil
	}
	for _, s := range ModelTensors {
		if err := absent(s, 0); err != nil {
			return err
		}
	}
	for i := range m.Layers {
		for _, s := range LayerTensors {
			if err := absent(s, i); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkTensor checks one tensor of the table against its expected shape.
func checkTensor(t *Tensor, key string, shape []int) error {
	if t == nil {
		return fmt.Errorf("%s is missing", key)
	}
	if !slices.Equal(t.Shape, shape) {
		return fmt.Errorf("%s has shape %v, want %v", key, t.Shape, shape)
	}
	if len(t.Data) != t.NumElements() {
		return fmt.Errorf("%s has %d values for shape %v", key, len(t.Data), t.Shape)
	}
	if t.Name != key && t.Name != "" {
		return fmt.Errorf("%s is named %q", key, t.Name)
	}
	return nil
}
