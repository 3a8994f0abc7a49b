package graph_test

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime"
)

// randomMambaOut returns a model of configuration c with N(0, 0.05)
// weights (norm weights around 1): the cost does not depend on them.
func randomMambaOut(tb testing.TB, c mambaout.Config) *mambaout.Model {
	tb.Helper()
	r := rand.New(rand.NewPCG(3, 4))
	sd := map[string]*convert.Tensor{}
	for _, ts := range mambaout.Schema(&c) {
		t := &convert.Tensor{Name: ts.Name, Shape: ts.Shape, DType: "float32"}
		t.Data = make([]float32, t.NumElements())
		for i := range t.Data {
			t.Data[i] = float32(r.NormFloat64() * 0.05)
		}
		sd[ts.Name] = t
	}
	m, err := mambaout.FromStateDict(sd)
	if err != nil {
		tb.Fatal(err)
	}
	return m
}

// BenchmarkMambaOutORT times one batch-1 mambaout_femto forward pass at
// 224×224 in ONNX Runtime (no plugin) for each graph layout, on 1 and 2
// intra-op threads. It uses random weights with femto shapes.
//
//	go test ./graph -run '^$' -bench MambaOutORT -benchtime 20x -count 3
func BenchmarkMambaOutORT(b *testing.B) {
	m := randomMambaOut(b, mambaout.Variants[0].Config(1000))
	r := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, 3*224*224)
	for i := range x {
		x[i] = float32(r.NormFloat64())
	}
	for _, layout := range graph.MambaOutLayouts {
		mp, err := graph.BuildMambaOut(m, graph.MambaOutOptions{Layout: layout})
		if err != nil {
			b.Fatal(err)
		}
		p := filepath.Join(b.TempDir(), layout+".onnx")
		if err := graph.WriteFile(mp, p); err != nil {
			b.Fatal(err)
		}
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", layout, threads), func(b *testing.B) {
				t0 := time.Now()
				s, err := runtime.NewSession(p, runtime.Options{NoPlugin: true, IntraOpThreads: threads, InterOpThreads: 1})
				if err != nil {
					b.Skipf("session: %v", err)
				}
				defer s.Destroy()
				sessionMS := float64(time.Since(t0).Microseconds()) / 1e3
				in := map[string]*runtime.Tensor{graph.InputName: {Shape: []int64{1, 3, 224, 224}, Data: x}}
				if _, err := s.Run(in); err != nil { // warm-up
					b.Fatal(err)
				}
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if _, err := s.Run(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric(sessionMS, "session-ms")
			})
		}
	}
}
