package verify

import (
	"math/rand/v2"

	"github.com/vimconvert/vimconvert/convert"
)

// NoiseInput returns a FileOptions.Input function giving N(0,1) noise of
// shape [batch, channels, ImgSize, ImgSize] drawn from the PCG stream
// (seed, stream), described as "N(0,1) noise". It suits models of a fixed
// square input size (Vim); for another size, write the function.
func NoiseInput(batch int, seed, stream uint64) func(c convert.Config, channels int) ([]float32, [4]int, string, error) {
	return func(c convert.Config, channels int) ([]float32, [4]int, string, error) {
		shape := [4]int{batch, channels, c.ImgSize, c.ImgSize}
		rng := rand.New(rand.NewPCG(seed, stream))
		x := make([]float32, shape[0]*shape[1]*shape[2]*shape[3])
		for i := range x {
			x[i] = float32(rng.NormFloat64())
		}
		return x, shape, "N(0,1) noise", nil
	}
}
