// Package graphtest makes small random but valid convert.Models for tests
// of any package that consumes them (graph export, runtime, reference),
// mapped through convert's tensor table (convert.NewModel). It is test
// support: production code must not use it.
package graphtest

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/vimconvert/vimconvert/convert"
)

// Spec is the architecture of a synthetic model. Zero fields take small
// defaults; d_inner is 2*EmbedDim as in the official code, and the grid,
// seq_len and cls position are the Config's own methods.
type Spec struct {
	EmbedDim      int                 // default 8
	Depth         int                 // default 2
	DState        int                 // default 4
	DtRank        int                 // default ceil(EmbedDim/16)
	DConv         int                 // default 4
	PatchSize     int                 // default 4
	Stride        int                 // default PatchSize
	ImgSize       int                 // default 16
	ClsToken      convert.ClsToken    // default convert.ClsMiddle
	FinalPoolType string              // default "mean"
	NumClasses    int                 // default 5; use NoHead for num_classes 0
	NoHead        bool                // num_classes 0 (Identity head)
	Bimamba       convert.BimambaType // default convert.BimambaV2
	DivideOut     *bool               // default true
	Gamma         bool                // add layers.*.mixer.gamma
	LayerNorm     bool                // rms_norm=False: LayerNorm with weight and bias
	NoPosEmbed    bool                // if_abs_pos_embed=False
	Seed          uint64
}

// Config returns the full Config of s with defaults applied.
func (s Spec) Config() convert.Config {
	def := func(v, d int) int {
		if v == 0 {
			return d
		}
		return v
	}
	c := convert.Config{
		EmbedDim:      def(s.EmbedDim, 8),
		Depth:         def(s.Depth, 2),
		DState:        def(s.DState, 4),
		DConv:         def(s.DConv, 4),
		PatchSize:     def(s.PatchSize, 4),
		ImgSize:       def(s.ImgSize, 16),
		ClsToken:      s.ClsToken,
		FinalPoolType: s.FinalPoolType,
		NumClasses:    def(s.NumClasses, 5),
		BimambaType:   s.Bimamba,
		DivideOut:     true,
		NormEps:       1e-5,
		HasGamma:      s.Gamma,
		AbsPosEmbed:   !s.NoPosEmbed,
		InChans:       3,
		Norm:          convert.NormRMS,
	}
	if s.LayerNorm {
		c.Norm = convert.NormLayer
	}
	c.DInner = 2 * c.EmbedDim
	c.DtRank = def(s.DtRank, (c.EmbedDim+15)/16)
	c.Stride = def(s.Stride, c.PatchSize)
	if s.NoHead {
		c.NumClasses = 0
	}
	if c.ClsToken == "" {
		c.ClsToken = convert.ClsMiddle
	}
	if c.FinalPoolType == "" {
		c.FinalPoolType = "mean"
	}
	if c.BimambaType == "" {
		c.BimambaType = convert.BimambaV2
	}
	if s.DivideOut != nil {
		c.DivideOut = *s.DivideOut
	}
	return c
}

// Model returns a random model of spec s. Magnitudes follow the official
// initialisation plus noise like the fixtures (A = -exp(A_log) negative,
// D ≈ 1, softplus(dt bias) in ~[1e-3, 0.3], norm weights ≈ 1), so
// activations stay O(1) through the blocks.
func Model(s Spec) *convert.Model {
	return ModelOf(s.Config(), s.Seed)
}

// ModelOf is Model for a complete Config c (for example one with
// BimambaType none, which a Spec cannot ask for): the weights of c drawn
// from seed as Model draws them. It panics if c is not valid for
// convert.NewModel.
func ModelOf(c convert.Config, seed uint64) *convert.Model {
	r := rand.New(rand.NewPCG(seed, 0x5eed))
	D, Din, N, R, K := c.EmbedDim, c.DInner, c.DState, c.DtRank, c.DConv
	normal := func(name string, std, mean float64, shape ...int) *convert.Tensor {
		t := &convert.Tensor{Name: name, Shape: shape, DType: "float32"}
		t.Data = make([]float32, t.NumElements())
		for i := range t.Data {
			t.Data[i] = float32(mean + std*r.NormFloat64())
		}
		return t
	}
	aLog := func(name string) *convert.Tensor {
		t := normal(name, 0.25, 0, Din, N)
		for i := range t.Data {
			t.Data[i] += float32(math.Log(float64(i%N + 1))) // S4D-real init A = -[1..N]
		}
		return t
	}
	dtBias := func(name string) *convert.Tensor {
		t := normal(name, 0.5, 0, Din)
		for i := range t.Data {
			dt := math.Exp(math.Log(1e-3) + r.Float64()*(math.Log(1e-1)-math.Log(1e-3)))
			t.Data[i] += float32(dt + math.Log(-math.Expm1(-dt))) // inverse softplus
		}
		return t
	}
	fan := func(in int) float64 { return 1 / math.Sqrt(float64(in)) }
	mixer := func(p, suffix string) convert.Mixer {
		return convert.Mixer{
			ConvWeight: normal(p+"conv1d"+suffix+".weight", fan(K), 0, Din, 1, K),
			ConvBias:   normal(p+"conv1d"+suffix+".bias", 0.1, 0, Din),
			XProj:      normal(p+"x_proj"+suffix+".weight", fan(Din), 0, R+2*N, Din),
			DtProjW:    normal(p+"dt_proj"+suffix+".weight", fan(R), 0, Din, R),
			DtProjB:    dtBias(p + "dt_proj" + suffix + ".bias"),
			ALog:       aLog(p + "A" + suffix + "_log"),
			D:          normal(p+"D"+suffix, 0.25, 1, Din),
		}
	}
	m := &convert.Model{
		Config:      c,
		PatchWeight: normal("patch_embed.proj.weight", fan(c.InChans*c.PatchSize*c.PatchSize), 0, D, c.InChans, c.PatchSize, c.PatchSize),
		PatchBias:   normal("patch_embed.proj.bias", 0.02, 0, D),
		NormF:       normal("norm_f.weight", 0.1, 1, D),
	}
	if c.AbsPosEmbed {
		m.PosEmbed = normal("pos_embed", 0.02, 0, 1, c.SeqLen(), D)
	}
	if c.Norm == convert.NormLayer {
		m.NormFBias = normal("norm_f.bias", 0.02, 0, D)
	}
	switch c.ClsToken {
	case convert.ClsMiddle, convert.ClsHead:
		m.ClsToken = normal("cls_token", 0.02, 0, 1, 1, D)
	case convert.ClsDouble:
		m.ClsTokenHead = normal("cls_token_head", 0.02, 0, 1, 1, D)
		m.ClsTokenTail = normal("cls_token_tail", 0.02, 0, 1, 1, D)
	}
	for i := 0; i < c.Depth; i++ {
		p := fmt.Sprintf("layers.%d.mixer.", i)
		l := convert.Layer{
			NormWeight: normal(fmt.Sprintf("layers.%d.norm.weight", i), 0.1, 1, D),
			InProj:     normal(p+"in_proj.weight", fan(D), 0, 2*Din, D),
			OutProj:    normal(p+"out_proj.weight", fan(Din), 0, D, Din),
			Fwd:        mixer(p, ""),
		}
		switch c.BimambaType {
		case convert.BimambaV2:
			bwd := mixer(p, "_b")
			l.Bwd = &bwd
		case convert.BimambaV1:
			l.ABLog = aLog(p + "A_b_log")
		}
		if c.Norm == convert.NormLayer {
			l.NormBias = normal(fmt.Sprintf("layers.%d.norm.bias", i), 0.02, 0, D)
		}
		if c.HasGamma {
			l.Gamma = normal(p+"gamma", 0.1, 0.5, D)
		}
		m.Layers = append(m.Layers, l)
	}
	if c.NumClasses > 0 {
		m.HeadWeight = normal("head.weight", fan(D), 0, c.NumClasses, D)
		m.HeadBias = normal("head.bias", 0.02, 0, c.NumClasses)
	}
	// The tensors drawn above (in the order that keeps every seed's
	// values) are mapped by name through convert's table, which checks
	// every name and shape.
	named := map[string]*convert.Tensor{}
	for _, t := range Tensors(m) {
		named[t.Name] = t
	}
	out, err := convert.NewModel(c, named)
	if err != nil {
		panic(fmt.Sprintf("graphtest: config %+v: %v", c, err)) // a bad config, or a bug in the draws above
	}
	return out
}

// Tensors lists every tensor of m (the state dict it stands for) in the
// order of convert's tensor table.
func Tensors(m *convert.Model) []*convert.Tensor {
	var ts []*convert.Tensor
	add := func(s convert.TensorSpec, i int) {
		if t := *s.Slot(m, i); t != nil {
			ts = append(ts, t)
		}
	}
	for _, s := range convert.ModelTensors {
		add(s, 0)
	}
	for i := range m.Layers {
		for _, s := range convert.LayerTensors {
			add(s, i)
		}
	}
	return ts
}
