package verify

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/vimconvert/vimconvert/convert"
)

// synthConfig returns a complete Config for a random model.
func synthConfig(d, depth, imgSize, patch, stride, numClasses int, cls convert.ClsToken, bimamba convert.BimambaType) convert.Config {
	return convert.Config{
		EmbedDim: d, Depth: depth, DState: 16, DInner: 2 * d, DtRank: (d + 15) / 16, DConv: 4,
		PatchSize: patch, Stride: stride, ImgSize: imgSize,
		ClsToken: cls, FinalPoolType: "mean",
		NumClasses: numClasses, BimambaType: bimamba, DivideOut: true, NormEps: 1e-5,
		AbsPosEmbed: true, InChans: 3, Norm: convert.NormRMS,
	}
}

// tinyConfig is a small model (D 8, 3×3 patches, 2 blocks) for fast tests.
func tinyConfig(cls convert.ClsToken, bimamba convert.BimambaType) convert.Config {
	c := synthConfig(8, 2, 12, 4, 4, 5, cls, bimamba)
	c.DState = 4
	return c
}

// synthModel builds a model with random but well-scaled weights, shaped
// like the official initialisation plus the fixtures' perturbation.
func synthModel(seed uint64, cfg convert.Config) *convert.Model {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	d, di, n, r := cfg.EmbedDim, cfg.DInner, cfg.DState, cfg.DtRank
	tensor := func(name string, shape []int, f func(i int) float64) *convert.Tensor {
		t := &convert.Tensor{Name: name, Shape: shape, DType: "float32"}
		t.Data = make([]float32, t.NumElements())
		for i := range t.Data {
			t.Data[i] = float32(f(i))
		}
		return t
	}
	normal := func(std float64) func(int) float64 {
		return func(int) float64 { return rng.NormFloat64() * std }
	}
	around := func(mean, std float64) func(int) float64 {
		return func(int) float64 { return mean + rng.NormFloat64()*std }
	}
	mixer := func(pre, sfx string) convert.Mixer {
		alog := "A_log"
		if sfx != "" {
			alog = "A_b_log"
		}
		return convert.Mixer{
			ConvWeight: tensor(pre+"conv1d"+sfx+".weight", []int{di, 1, cfg.DConv}, normal(0.5)),
			ConvBias:   tensor(pre+"conv1d"+sfx+".bias", []int{di}, normal(0.2)),
			XProj:      tensor(pre+"x_proj"+sfx+".weight", []int{r + 2*n, di}, normal(1/math.Sqrt(float64(di)))),
			DtProjW:    tensor(pre+"dt_proj"+sfx+".weight", []int{di, r}, normal(1/math.Sqrt(float64(r)))),
			// softplus(bias) spread over roughly [1e-3, 0.3]
			DtProjB: tensor(pre+"dt_proj"+sfx+".bias", []int{di}, around(-4, 1.5)),
			// A_log = log(1..n) + noise, so A = -exp(A_log) ≈ -(1..n)
			ALog: tensor(pre+alog, []int{di, n}, func(i int) float64 { return math.Log(float64(i%n+1)) + rng.NormFloat64()*0.25 }),
			D:    tensor(pre+"D"+sfx, []int{di}, around(1, 0.25)),
		}
	}
	m := &convert.Model{Config: cfg}
	m.PatchWeight = tensor("patch_embed.proj.weight", []int{d, 3, cfg.PatchSize, cfg.PatchSize},
		normal(1/math.Sqrt(float64(3*cfg.PatchSize*cfg.PatchSize))))
	m.PatchBias = tensor("patch_embed.proj.bias", []int{d}, normal(0.1))
	m.PosEmbed = tensor("pos_embed", []int{1, cfg.SeqLen(), d}, normal(0.1))
	switch cfg.ClsToken {
	case convert.ClsMiddle, convert.ClsHead:
		m.ClsToken = tensor("cls_token", []int{1, 1, d}, normal(1))
	case convert.ClsDouble:
		m.ClsTokenHead = tensor("cls_token_head", []int{1, 1, d}, normal(1))
		m.ClsTokenTail = tensor("cls_token_tail", []int{1, 1, d}, normal(1))
	}
	for i := 0; i < cfg.Depth; i++ {
		pre := fmt.Sprintf("layers.%d.mixer.", i)
		ly := convert.Layer{
			NormWeight: tensor(fmt.Sprintf("layers.%d.norm.weight", i), []int{d}, around(1, 0.1)),
			InProj:     tensor(pre+"in_proj.weight", []int{2 * di, d}, normal(1/math.Sqrt(float64(d)))),
			OutProj:    tensor(pre+"out_proj.weight", []int{d, di}, normal(0.5/math.Sqrt(float64(di)))),
			Fwd:        mixer(pre, ""),
		}
		switch cfg.BimambaType {
		case convert.BimambaV2:
			b := mixer(pre, "_b")
			ly.Bwd = &b
		case convert.BimambaV1:
			ly.ABLog = tensor(pre+"A_b_log", []int{di, n}, func(i int) float64 { return math.Log(float64(i%n+1)) + rng.NormFloat64()*0.25 })
		}
		if cfg.Norm == convert.NormLayer {
			ly.NormBias = tensor(fmt.Sprintf("layers.%d.norm.bias", i), []int{d}, normal(0.1))
		}
		if cfg.HasGamma {
			ly.Gamma = tensor(pre+"gamma", []int{d}, around(0.5, 0.1))
		}
		m.Layers = append(m.Layers, ly)
	}
	m.NormF = tensor("norm_f.weight", []int{d}, around(1, 0.1))
	if cfg.Norm == convert.NormLayer {
		m.NormFBias = tensor("norm_f.bias", []int{d}, normal(0.1))
	}
	if cfg.NumClasses > 0 {
		m.HeadWeight = tensor("head.weight", []int{cfg.NumClasses, d}, normal(1/math.Sqrt(float64(d))))
		m.HeadBias = tensor("head.bias", []int{cfg.NumClasses}, normal(0.02))
	}
	return m
}

// synthInput returns a N(0,1) image batch [b, 3, size, size].
func synthInput(seed uint64, b, size int) ([]float32, [4]int) {
	rng := rand.New(rand.NewPCG(seed, 0x1a9e))
	shape := [4]int{b, 3, size, size}
	x := make([]float32, b*3*size*size)
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	return x, shape
}
