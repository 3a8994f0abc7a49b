package convert

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// This file is the one owner of what a Vim model is made of: the
// enumerated options, the geometry derived from the stored sizes, the
// tensor table (official state-dict name, Model slot, shape, presence) and
// the model's consistency check. Loading, the ONNX export and read-back,
// the Go reference and the test model builder all read it.

// ClsToken is a cls token placement (models_mamba.py use_middle_cls_token
// and use_double_cls_token). Middle is what every released checkpoint
// uses; the weights cannot tell it from head.
type ClsToken string

// Cls token placements.
const (
	ClsMiddle ClsToken = "middle" // one token inserted at M//2 (use_middle_cls_token=True)
	ClsHead   ClsToken = "head"   // one token at index 0
	ClsDouble ClsToken = "double" // cls_token_head at 0 and cls_token_tail at the end
	ClsNone   ClsToken = "none"   // no cls token; readout by FinalPoolType
)

// ParseClsToken returns the placement named s ("" stays "": infer it from
// the weights), or an error listing the valid names.
func ParseClsToken(s string) (ClsToken, error) {
	switch c := ClsToken(s); c {
	case "", ClsMiddle, ClsHead, ClsDouble, ClsNone:
		return c, nil
	}
	return "", fmt.Errorf("unknown cls token placement %q (want middle, head, double or none)", s)
}

// Count returns how many cls tokens the placement adds to the sequence;
// ok is false for an unknown placement.
func (c ClsToken) Count() (n int, ok bool) {
	switch c {
	case ClsMiddle, ClsHead:
		return 1, true
	case ClsDouble:
		return 2, true
	case ClsNone:
		return 0, true
	}
	return 0, false
}

// BimambaType is the mixer variant (mamba_simple.py bimamba_type).
type BimambaType string

// Bimamba mixer types.
const (
	BimambaV2   BimambaType = "v2"   // two full inner paths (conv1d_b, x_proj_b, dt_proj_b, A_b_log, D_b)
	BimambaV1   BimambaType = "v1"   // shared conv/x_proj/dt_proj, A_b_log only, no /2
	BimambaNone BimambaType = "none" // forward-only Mamba
)

// ParseBimambaType returns the mixer variant named s, or an error.
func ParseBimambaType(s string) (BimambaType, error) {
	switch b := BimambaType(s); b {
	case BimambaV2, BimambaV1, BimambaNone:
		return b, nil
	}
	return "", fmt.Errorf("unknown bimamba type %q (want v2, v1 or none)", s)
}

// Norm is the normalization of the blocks and norm_f (VisionMamba
// rms_norm=True/False).
type Norm string

// Norm types.
const (
	NormRMS   Norm = "rmsnorm"   // weight only; every official config
	NormLayer Norm = "layernorm" // weight and bias
)

// ParseNorm returns the norm named s, or an error.
func ParseNorm(s string) (Norm, error) {
	switch n := Norm(s); n {
	case NormRMS, NormLayer:
		return n, nil
	}
	return "", fmt.Errorf("unknown norm %q (want rmsnorm or layernorm)", s)
}

// Weights names a weight set of a checkpoint.
type Weights string

// Weight sets a checkpoint may hold.
const (
	WeightsModel Weights = "model"     // the trained weights (default)
	WeightsEMA   Weights = "model_ema" // the EMA copy of a training checkpoint
)

// ParseWeights returns the weight set named s ("" is WeightsModel), or an
// error.
func ParseWeights(s string) (Weights, error) {
	switch w := Weights(s); w {
	case "":
		return WeightsModel, nil
	case WeightsModel, WeightsEMA:
		return w, nil
	}
	return "", fmt.Errorf("unknown weight set %q (want %s or %s)", s, WeightsModel, WeightsEMA)
}

// Width returns the input width: ImgWidth for a non-square model, else
// ImgSize.
func (c Config) Width() int {
	if c.ImgWidth > 0 {
		return c.ImgWidth
	}
	return c.ImgSize
}

// Square reports whether the input is square (ImgWidth unset or equal to
// ImgSize).
func (c Config) Square() bool { return c.Width() == c.ImgSize }

// GridLen returns the patches along one side of n pixels,
// (n-PatchSize)/Stride + 1 (models_mamba.py PatchEmbed), or 0 when the
// sizes make no grid.
func (c Config) GridLen(n int) int {
	if c.PatchSize < 1 || c.Stride < 1 || n < c.PatchSize {
		return 0
	}
	return (n-c.PatchSize)/c.Stride + 1
}

// GridHW returns the patch grid rows (from ImgSize) and columns (from
// Width).
func (c Config) GridHW() (rows, cols int) { return c.GridLen(c.ImgSize), c.GridLen(c.Width()) }

// GridSize returns the patch grid rows, (ImgSize-PatchSize)/Stride + 1:
// the patches per side of a square model (GridHW gives both sides of any
// model), or 0 when the sizes make no grid.
func (c Config) GridSize() int { return c.GridLen(c.ImgSize) }

// NumPatches returns the patch count, rows × columns of the grid.
func (c Config) NumPatches() int {
	h, w := c.GridHW()
	return h * w
}

// NumClsTokens returns how many cls tokens the sequence holds (0 for an
// unknown placement).
func (c Config) NumClsTokens() int {
	n, _ := c.ClsToken.Count()
	return n
}

// SeqLen returns the token count: NumPatches plus the cls tokens.
func (c Config) SeqLen() int { return c.NumPatches() + c.NumClsTokens() }

// ClsTokenPosition returns the index of the (first) cls token: M//2 for
// middle (models_mamba.py 399-403), 0 for head and double, -1 without.
func (c Config) ClsTokenPosition() int {
	switch c.ClsToken {
	case ClsMiddle:
		return c.NumPatches() / 2
	case ClsHead, ClsDouble:
		return 0
	}
	return -1
}

// Token sources other than a patch index (see TokenSources).
const (
	TokenClsHead = -1 // the cls token (middle/head) or cls_token_head (double)
	TokenClsTail = -2 // cls_token_tail (double)
)

// TokenSources returns, for each of the SeqLen tokens, where it comes
// from: a patch index (row-major grid order) or TokenClsHead/TokenClsTail
// (models_mamba.py 385-412). Middle puts the cls token at M//2 before
// patches M//2.., head at 0, double one at 0 and one at the end.
func (c Config) TokenSources() []int {
	src := make([]int, c.SeqLen())
	pos := c.ClsTokenPosition()
	for t := range src {
		switch {
		case c.ClsToken == ClsNone || pos < 0:
			src[t] = t
		case t == pos:
			src[t] = TokenClsHead
		case c.ClsToken == ClsDouble && t == len(src)-1:
			src[t] = TokenClsTail
		case t < pos:
			src[t] = t
		default:
			src[t] = t - 1
		}
	}
	return src
}

// configDerived holds the derived keys of Config's JSON.
type configDerived struct {
	GridSize         int  `json:"grid_size"`
	GridWidth        *int `json:"grid_width"`
	NumPatches       int  `json:"num_patches"`
	SeqLen           int  `json:"seq_len"`
	ClsTokenPosition *int `json:"cls_token_position"`
}

// configFields is Config with its own field tags and no methods.
type configFields Config

// MarshalJSON writes the stored fields plus the derived grid_size,
// num_patches, seq_len and cls_token_position (null without a cls token),
// in the key order the ONNX metadata has always held. A non-square model
// adds img_width after img_size and grid_width after grid_size.
func (c Config) MarshalJSON() ([]byte, error) {
	var pos any
	if p := c.ClsTokenPosition(); p >= 0 {
		pos = p
	}
	kv := []struct {
		k string
		v any
	}{
		{"embed_dim", c.EmbedDim}, {"depth", c.Depth}, {"d_state", c.DState}, {"d_inner", c.DInner},
		{"dt_rank", c.DtRank}, {"d_conv", c.DConv}, {"patch_size", c.PatchSize}, {"stride", c.Stride},
		{"img_size", c.ImgSize}, {"grid_size", c.GridSize()}, {"num_patches", c.NumPatches()},
		{"abs_pos_embed", c.AbsPosEmbed}, {"seq_len", c.SeqLen()}, {"cls_token", c.ClsToken},
		{"final_pool_type", c.FinalPoolType}, {"in_chans", c.InChans}, {"norm", c.Norm},
		{"num_classes", c.NumClasses}, {"bimamba_type", c.BimambaType}, {"if_divide_out", c.DivideOut},
		{"norm_eps", c.NormEps}, {"has_layer_scale", c.HasGamma}, {"cls_token_position", pos},
	}
	if !c.Square() {
		// Non-square: img_size is the height and grid_size the rows; the
		// width keys follow them (a square model's JSON has neither).
		_, gw := c.GridHW()
		kv = slices.Insert(kv, 9, struct {
			k string
			v any
		}{"img_width", c.Width()})
		kv = slices.Insert(kv, 11, struct {
			k string
			v any
		}{"grid_width", gw})
	}
	var b bytes.Buffer
	b.WriteByte('{')
	for i, e := range kv {
		v, err := json.Marshal(e.v)
		if err != nil {
			return nil, err
		}
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, "%q:%s", e.k, v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// UnmarshalJSON reads what MarshalJSON writes. The derived keys must agree
// with the stored sizes: a disagreement is an error naming both.
func (c *Config) UnmarshalJSON(b []byte) error {
	var f configFields
	var d configDerived
	if err := json.Unmarshal(b, &f); err != nil {
		return err
	}
	if err := json.Unmarshal(b, &d); err != nil {
		return err
	}
	*c = Config(f)
	pos := -1
	if d.ClsTokenPosition != nil {
		pos = *d.ClsTokenPosition
	}
	_, gw := c.GridHW()
	if d.GridWidth != nil && *d.GridWidth != gw {
		return fmt.Errorf("config: grid_width %d, but width %d, patch %d, stride %d give %d", *d.GridWidth, c.Width(), c.PatchSize, c.Stride, gw)
	}
	if d.GridSize != c.GridSize() || d.NumPatches != c.NumPatches() || d.SeqLen != c.SeqLen() || pos != c.ClsTokenPosition() {
		return fmt.Errorf("config: grid_size %d, num_patches %d, seq_len %d, cls_token_position %d, but img %d patch %d stride %d cls %q give %d, %d, %d, %d",
			d.GridSize, d.NumPatches, d.SeqLen, pos, c.ImgSize, c.PatchSize, c.Stride, c.ClsToken,
			c.GridSize(), c.NumPatches(), c.SeqLen(), c.ClsTokenPosition())
	}
	return nil
}

// TensorSpec is one row of the tensor table: an official state-dict name
// ("{i}" stands for the layer index in LayerTensors), the Model slot it
// fills, its shape and whether a configuration has it.
type TensorSpec struct {
	Name    string
	Slot    func(m *Model, layer int) **Tensor
	Shape   func(c *Config) []int
	Present func(c *Config) bool
}

// Key returns the state-dict name of the spec for layer i.
func (s TensorSpec) Key(i int) string {
	return strings.ReplaceAll(s.Name, "{i}", strconv.Itoa(i))
}

func always(*Config) bool { return true }
func isV2(c *Config) bool { return c.BimambaType == BimambaV2 }
func hasOneCls(c *Config) bool {
	return c.ClsToken == ClsMiddle || c.ClsToken == ClsHead
}
func hasTwoCls(c *Config) bool  { return c.ClsToken == ClsDouble }
func layerNorm(c *Config) bool  { return c.Norm == NormLayer }
func hasHead(c *Config) bool    { return c.NumClasses > 0 }
func dimD(c *Config) []int      { return []int{c.EmbedDim} }
func dim1x1D(c *Config) []int   { return []int{1, 1, c.EmbedDim} }
func dimDI(c *Config) []int     { return []int{c.DInner} }
func dimA(c *Config) []int      { return []int{c.DInner, c.DState} }
func dimConvW(c *Config) []int  { return []int{c.DInner, 1, c.DConv} }
func dimXProj(c *Config) []int  { return []int{c.DtRank + 2*c.DState, c.DInner} }
func dimDtProj(c *Config) []int { return []int{c.DInner, c.DtRank} }
func dimClasses(c *Config) []int {
	return []int{c.NumClasses}
}

// ModelTensors are the tensors outside the layers (models_mamba.py
// VisionMamba.__init__).
var ModelTensors = []TensorSpec{
	{"patch_embed.proj.weight", func(m *Model, _ int) **Tensor { return &m.PatchWeight },
		func(c *Config) []int { return []int{c.EmbedDim, c.InChans, c.PatchSize, c.PatchSize} }, always},
	{"patch_embed.proj.bias", func(m *Model, _ int) **Tensor { return &m.PatchBias }, dimD, always},
	{"pos_embed", func(m *Model, _ int) **Tensor { return &m.PosEmbed },
		func(c *Config) []int { return []int{1, c.SeqLen(), c.EmbedDim} }, func(c *Config) bool { return c.AbsPosEmbed }},
	{"cls_token", func(m *Model, _ int) **Tensor { return &m.ClsToken }, dim1x1D, hasOneCls},
	{"cls_token_head", func(m *Model, _ int) **Tensor { return &m.ClsTokenHead }, dim1x1D, hasTwoCls},
	{"cls_token_tail", func(m *Model, _ int) **Tensor { return &m.ClsTokenTail }, dim1x1D, hasTwoCls},
	{"norm_f.weight", func(m *Model, _ int) **Tensor { return &m.NormF }, dimD, always},
	{"norm_f.bias", func(m *Model, _ int) **Tensor { return &m.NormFBias }, dimD, layerNorm},
	{"head.weight", func(m *Model, _ int) **Tensor { return &m.HeadWeight },
		func(c *Config) []int { return []int{c.NumClasses, c.EmbedDim} }, hasHead},
	{"head.bias", func(m *Model, _ int) **Tensor { return &m.HeadBias }, dimClasses, hasHead},
}

// LayerTensors are the tensors of block {i} (models_mamba.py Block and
// mamba_simple.py Mamba with bimamba_type none/v1/v2). A backward (v2)
// Slot fills Layer.Bwd, which NewModel allocates for v2.
var LayerTensors = []TensorSpec{
	{"layers.{i}.norm.weight", func(m *Model, i int) **Tensor { return &m.Layers[i].NormWeight }, dimD, always},
	{"layers.{i}.norm.bias", func(m *Model, i int) **Tensor { return &m.Layers[i].NormBias }, dimD, layerNorm},
	{"layers.{i}.mixer.in_proj.weight", func(m *Model, i int) **Tensor { return &m.Layers[i].InProj },
		func(c *Config) []int { return []int{2 * c.DInner, c.EmbedDim} }, always},
	{"layers.{i}.mixer.out_proj.weight", func(m *Model, i int) **Tensor { return &m.Layers[i].OutProj },
		func(c *Config) []int { return []int{c.EmbedDim, c.DInner} }, always},
	{"layers.{i}.mixer.gamma", func(m *Model, i int) **Tensor { return &m.Layers[i].Gamma }, dimD,
		func(c *Config) bool { return c.HasGamma }},
	// forward direction (every bimamba type)
	{"layers.{i}.mixer.conv1d.weight", func(m *Model, i int) **Tensor { return &m.Layers[i].Fwd.ConvWeight }, dimConvW, always},
	{"layers.{i}.mixer.conv1d.bias", func(m *Model, i int) **Tensor { return &m.Layers[i].Fwd.ConvBias }, dimDI, always},
	{"layers.{i}.mixer.x_proj.weight", func(m *Model, i int) **Tensor { return &m.Layers[i].Fwd.XProj }, dimXProj, always},
	{"layers.{i}.mixer.dt_proj.weight", func(m *Model, i int) **Tensor { return &m.Layers[i].Fwd.DtProjW }, dimDtProj, always},
	{"layers.{i}.mixer.dt_proj.bias", func(m *Model, i int) **Tensor { return &m.Layers[i].Fwd.DtProjB }, dimDI, always},
	{"layers.{i}.mixer.A_log", func(m *Model, i int) **Tensor { return &m.Layers[i].Fwd.ALog }, dimA, always},
	{"layers.{i}.mixer.D", func(m *Model, i int) **Tensor { return &m.Layers[i].Fwd.D }, dimDI, always},
	// bimamba v1: only a second A
	{"layers.{i}.mixer.A_b_log", func(m *Model, i int) **Tensor { return &m.Layers[i].ABLog }, dimA,
		func(c *Config) bool { return c.BimambaType == BimambaV1 }},
	// bimamba v2: a full second inner path
	{"layers.{i}.mixer.conv1d_b.weight", func(m *Model, i int) **Tensor { return &bwd(m, i).ConvWeight }, dimConvW, isV2},
	{"layers.{i}.mixer.conv1d_b.bias", func(m *Model, i int) **Tensor { return &bwd(m, i).ConvBias }, dimDI, isV2},
	{"layers.{i}.mixer.x_proj_b.weight", func(m *Model, i int) **Tensor { return &bwd(m, i).XProj }, dimXProj, isV2},
	{"layers.{i}.mixer.dt_proj_b.weight", func(m *Model, i int) **Tensor { return &bwd(m, i).DtProjW }, dimDtProj, isV2},
	{"layers.{i}.mixer.dt_proj_b.bias", func(m *Model, i int) **Tensor { return &bwd(m, i).DtProjB }, dimDI, isV2},
	{"layers.{i}.mixer.A_b_log", func(m *Model, i int) **Tensor { return &bwd(m, i).ALog }, dimA, isV2},
	{"layers.{i}.mixer.D_b", func(m *Model, i int) **Tensor { return &bwd(m, i).D }, dimDI, isV2},
}

// bwd returns layer i's backward mixer; for a layer without one it is a
// fresh empty Mixer, so a backward Slot reads nil and a write is dropped.
func bwd(m *Model, i int) *Mixer {
	if b := m.Layers[i].Bwd; b != nil {
		return b
	}
	return &Mixer{}
}

// EachTensor calls fn for every tensor c has, in table order (model
// tensors, then each layer's), with its state-dict name and the spec.
// It stops at the first error fn returns.
func EachTensor(c *Config, fn func(key string, s TensorSpec, layer int) error) error {
	for _, s := range ModelTensors {
		if s.Present(c) {
			if err := fn(s.Name, s, 0); err != nil {
				return err
			}
		}
	}
	for i := 0; i < c.Depth; i++ {
		for _, s := range LayerTensors {
			if s.Present(c) {
				if err := fn(s.Key(i), s, i); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// emptyModel returns a Model with c's layers allocated (and their
// backward mixers for bimamba v2) and no tensors.
func emptyModel(c Config) *Model {
	m := &Model{Config: c, Layers: make([]Layer, c.Depth)}
	if c.BimambaType == BimambaV2 {
		for i := range m.Layers {
			m.Layers[i].Bwd = &Mixer{}
		}
	}
	return m
}

// NewModel maps named tensors (official state-dict names, no "module."
// prefix) to a Model of configuration c through the tensor table. Every
// tensor must be used exactly once: missing, unexpected and mis-shaped
// tensors are reported together in one error. The result is then checked
// by Validate.
func NewModel(c Config, tensors map[string]*Tensor) (*Model, error) {
	if err := c.Validate(); err != nil {
		return nil, err
	}
	m := emptyModel(c)
	used := make(map[string]bool, len(tensors))
	var missing, badShape []string
	_ = EachTensor(&c, func(key string, s TensorSpec, i int) error {
		t, ok := tensors[key]
		if !ok {
			missing = append(missing, key)
			return nil
		}
		used[key] = true
		if want := s.Shape(&c); !slices.Equal(t.Shape, want) {
			badShape = append(badShape, fmt.Sprintf("%s %v (want %v)", key, t.Shape, want))
			return nil
		}
		*s.Slot(m, i) = t
		return nil
	})
	var unexpected []string
	for k := range tensors {
		if !used[k] {
			unexpected = append(unexpected, k)
		}
	}
	if len(missing)+len(unexpected)+len(badShape) > 0 {
		return nil, mappingError(c, missing, unexpected, badShape)
	}
	if err := m.Validate(); err != nil {
		return nil, err
	}
	return m, nil
}

// mappingError lists what NewModel could not map, in one sentence, and
// names the official option behind unexpected tensors vimconvert knows
// but does not implement (unsupportedFeature).
func mappingError(c Config, missing, unexpected, badShape []string) error {
	err := fmt.Errorf("state dict does not match a %s Vim (embed_dim %d, depth %d, bimamba %s, cls %s): %s",
		c.Norm, c.EmbedDim, c.Depth, c.BimambaType, c.ClsToken, MismatchSummary(missing, unexpected, badShape))
	if f := unsupportedFeature(unexpected); f != "" {
		return fmt.Errorf("%w; %s", err, f)
	}
	return err
}

// unsupportedFeature names the official VisionMamba option that adds the
// given unexpected tensors, when vimconvert does not implement it, or "".
func unsupportedFeature(unexpected []string) string {
	var found []string
	for _, f := range []struct{ suffix, what string }{
		{"rope.freqs_cos", "the rotary position embedding of if_rope=True (rope.freqs_cos/freqs_sin) is not supported"},
		{"mixer.in_proj.bias", "biased in_proj/out_proj (ssm_cfg bias=True) are not supported"},
	} {
		for _, k := range unexpected {
			if strings.HasSuffix(k, f.suffix) {
				found = append(found, f.what)
				break
			}
		}
	}
	return strings.Join(found, "; ")
}

// listSome joins up to 20 names.
func listSome(s []string) string {
	if len(s) > 20 {
		return strings.Join(s[:20], ", ") + fmt.Sprintf(", ... (%d more)", len(s)-20)
	}
	return strings.Join(s, ", ")
}
