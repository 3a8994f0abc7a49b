package verify

import (
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
