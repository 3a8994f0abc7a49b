package convert

import (
	"slices"
	"strings"
	"testing"
)

// tinyConfig is a valid 2×2-grid configuration (img 4, patch 2).
func tinyConfig(cls ClsToken, bim BimambaType) Config {
	return Config{EmbedDim: 2, Depth: 1, DState: 1, DInner: 4, DtRank: 1, DConv: 2, PatchSize: 2, Stride: 2, ImgSize: 4,
		AbsPosEmbed: true, ClsToken: cls, InChans: 3, Norm: NormRMS, NumClasses: 3, BimambaType: bim, DivideOut: true, NormEps: 1e-5}
}

// tinyTensors returns zero tensors with every name and shape c has.
func tinyTensors(c Config) map[string]*Tensor {
	out := map[string]*Tensor{}
	_ = EachTensor(&c, func(key string, s TensorSpec, _ int) error {
		t := &Tensor{Name: key, Shape: s.Shape(&c), DType: "float32"}
		t.Data = make([]float32, t.NumElements())
		out[key] = t
		return nil
	})
	return out
}

func TestTokenSources(t *testing.T) {
	tests := []struct {
		cls    ClsToken
		want   []int
		reason string
	}{
		{ClsMiddle, []int{0, 1, TokenClsHead, 2, 3}, "middle: cls at M//2 = 2, before patch 2 (MM 399-403)"},
		{ClsHead, []int{TokenClsHead, 0, 1, 2, 3}, "head: cls first"},
		{ClsDouble, []int{TokenClsHead, 0, 1, 2, 3, TokenClsTail}, "double: head at 0, tail at L-1"},
		{ClsNone, []int{0, 1, 2, 3}, "no cls: patches only"},
	}
	for _, tc := range tests {
		c := tinyConfig(tc.cls, BimambaV2)
		if got := c.TokenSources(); !slices.Equal(got, tc.want) {
			t.Errorf("%s: TokenSources = %v, want %v", tc.reason, got, tc.want)
		}
	}
}

func TestParseEnums(t *testing.T) {
	tests := []struct {
		err    error
		want   string
		reason string
	}{
		{func() error { _, err := ParseClsToken("tail"); return err }(), "unknown cls token placement", "typo in a placement"},
		{func() error { _, err := ParseBimambaType("v3"); return err }(), "unknown bimamba type", "no such mixer"},
		{func() error { _, err := ParseNorm("batchnorm"); return err }(), "unknown norm", "no such norm"},
		{func() error { _, err := ParseWeights("best"); return err }(), "unknown weight set", "typo in a weight set"},
	}
	for _, tc := range tests {
		if tc.err == nil || !strings.Contains(tc.err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want %q", tc.reason, tc.err, tc.want)
		}
	}
	if w, err := ParseWeights(""); w != WeightsModel || err != nil {
		t.Errorf(`ParseWeights("") = %q, %v; want the default model`, w, err)
	}
}

// TestNewModel checks the table maps a complete state dict and that one
// error lists every missing, unexpected and mis-shaped tensor.
func TestNewModel(t *testing.T) {
	for _, bim := range []BimambaType{BimambaV2, BimambaV1, BimambaNone} {
		c := tinyConfig(ClsDouble, bim)
		m, err := NewModel(c, tinyTensors(c))
		if err != nil {
			t.Fatalf("bimamba %s: %v", bim, err)
		}
		if err := m.Validate(); err != nil {
			t.Errorf("bimamba %s: NewModel's model does not validate: %v", bim, err)
		}
	}
	c := tinyConfig(ClsMiddle, BimambaV2)
	ts := tinyTensors(c)
	delete(ts, "norm_f.weight")
	ts["layers.0.mixer.extra"] = &Tensor{Name: "layers.0.mixer.extra", Shape: []int{1}, Data: []float32{0}}
	ts["pos_embed"].Shape = []int{1, 4, 2}
	_, err := NewModel(c, ts)
	for _, want := range []string{"missing 1: norm_f.weight", "unexpected 1: layers.0.mixer.extra", "wrong shape 1: pos_embed [1 4 2] (want [1 5 2])"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("NewModel error %v does not say %q", err, want)
		}
	}
	bad := tinyConfig("left", BimambaV2)
	if _, err := NewModel(bad, nil); err == nil || !strings.Contains(err.Error(), `cls_token "left"`) {
		t.Errorf("unknown placement: err = %v", err)
	}
}
