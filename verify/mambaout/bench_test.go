package mambaout_test

import (
	"math/rand/v2"
	"testing"

	mo "github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/internal/fixturetest"
	"github.com/vimconvert/vimconvert/verify"
	ref "github.com/vimconvert/vimconvert/verify/mambaout"
)

// BenchmarkForwardFemto times the Go reference on one 224×224 image with
// mambaout_femto shapes (random weights), in float32 and float64.
//
//	go test ./verify/mambaout -run '^$' -bench ForwardFemto -benchtime 5x
func BenchmarkForwardFemto(b *testing.B) {
	c := mo.Variants[0].Config(1000)
	r := rand.New(rand.NewPCG(5, 6))
	m := fixturetest.RandomMambaOut(b, c, r)
	x := fixturetest.RandomImage(r, 3*224*224)
	for _, p := range []verify.Precision{verify.Float32, verify.Float64} {
		b.Run(p.String(), func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				if _, err := ref.Forward(m, x, [4]int{1, 3, 224, 224}, ref.Options{Precision: p}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
