package mambaout_test

import (
	"math/rand/v2"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	mo "github.com/vimconvert/vimconvert/convert/mambaout"
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
	sd := map[string]*convert.Tensor{}
	for _, ts := range mo.Schema(&c) {
		t := &convert.Tensor{Name: ts.Name, Shape: ts.Shape, DType: "float32"}
		t.Data = make([]float32, t.NumElements())
		for i := range t.Data {
			t.Data[i] = float32(r.NormFloat64() * 0.05)
		}
		sd[ts.Name] = t
	}
	m, err := mo.FromStateDict(sd)
	if err != nil {
		b.Fatal(err)
	}
	x := make([]float32, 3*224*224)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
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
