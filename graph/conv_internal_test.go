package graph

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/runtime"
)

// TestDepthwiseConvFormulationsORT runs chains of causal and anti-causal
// depthwise convs, in both formulations, through ONNX Runtime and compares
// them with a direct loop over the official definitions: causal out[t] =
// b + Σ_k w[k]·x[t-(K-1)+k]; anti-causal (bimamba-v2 conv1d_b seen in the
// original order) out[t] = b + Σ_k w[k]·x[t+(K-1)-k].
func TestDepthwiseConvFormulationsORT(t *testing.T) {
	const L, D, K = 9, 5, 4
	r := rand.New(rand.NewPCG(3, 4))
	rnd := func(name string, shape ...int) *convert.Tensor {
		tt := &convert.Tensor{Name: name, Shape: shape}
		tt.Data = make([]float32, tt.NumElements())
		for i := range tt.Data {
			tt.Data[i] = float32(r.NormFloat64() * 0.3)
		}
		return tt
	}
	xd := make([]float32, L*D)
	for i := range xd {
		xd[i] = float32(r.NormFloat64())
	}
	type layer struct {
		w, b *convert.Tensor
		anti bool
	}
	ref := func(x []float32, ls []layer) []float32 {
		for _, l := range ls {
			y := make([]float32, L*D)
			for tt := 0; tt < L; tt++ {
				for d := 0; d < D; d++ {
					acc := float64(l.b.Data[d])
					for k := 0; k < K; k++ {
						var src int
						if l.anti {
							src = tt + (K - 1 - k) // w[k] * x[t+K-1-k]
						} else {
							src = tt - (K - 1) + k
						}
						if src >= 0 && src < L {
							acc += float64(l.w.Data[d*K+k]) * float64(x[src*D+d])
						}
					}
					y[tt*D+d] = float32(acc)
				}
			}
			x = y
		}
		return x
	}
	patterns := []struct {
		reason string
		anti   []bool
	}{
		{"causal", []bool{false}},
		{"anti-causal", []bool{true}},
		{"causal then anti-causal", []bool{false, true}},
		{"anti-causal twice", []bool{true, true}},
		{"mixed chain of five", []bool{false, false, true, true, false}},
	}
	for _, pc := range patterns {
		pattern := pc.anti
		ls := []layer{}
		for i, a := range pattern {
			ls = append(ls, layer{rnd(fmt.Sprint("w", i), D, 1, K), rnd(fmt.Sprint("b", i), D), a})
		}
		want := ref(xd, ls)
		for _, mode := range []DepthwiseConv{ConvSlice, ConvONNX} {
			b := newBuilder(17)
			x := b.input("x", []int64{Batch, L, D})
			for i, l := range ls {
				x = b.depthwiseConv1d(mode, "c"+itoa(int64(i)), x, b.initializer(l.w), b.initializer(l.b), l.anti)
			}
			b.output("y", x)
			g, err := b.finish("m", "")
			if err != nil {
				t.Fatal(err)
			}
			mp := &onnxpb.ModelProto{IrVersion: proto.Int64(8), Graph: g,
				OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(17)}}}
			p := filepath.Join(t.TempDir(), "m.onnx")
			if err := WriteFile(mp, p); err != nil {
				t.Fatal(err)
			}
			s, err := runtime.NewSession(p, runtime.Options{NoPlugin: true})
			if errors.Is(err, runtime.ErrLibraryMissing) {
				t.Skipf("ONNX Runtime library absent: %v", err)
			}
			if err != nil {
				t.Fatal(err)
			}
			o, err := s.Run(map[string]*runtime.Tensor{"x": {Shape: []int64{1, L, D}, Data: xd}})
			if err != nil {
				t.Fatal(err)
			}
			var d float64
			for i := range want {
				d = max(d, float64(abs32(want[i]-o["y"].Data[i])))
			}
			s.Destroy()
			if d > 1e-6 {
				t.Errorf("%s, %s formulation: max|d| = %.3g vs the direct loop", pc.reason, mode, d)
			}
		}
	}
}

func abs32(v float32) float32 {
	if v < 0 {
		return -v
	}
	return v
}
