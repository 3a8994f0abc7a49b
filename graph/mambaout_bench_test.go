package graph_test

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/fixturetest"
	"github.com/vimconvert/vimconvert/runtime"
)

// BenchmarkMambaOutORT times one batch-1 mambaout_femto forward pass at
// 224×224 in ONNX Runtime (no plugin) for each graph layout, on 1 and 2
// intra-op threads. It uses random weights with femto shapes.
//
//	go test ./graph -run '^$' -bench MambaOutORT -benchtime 20x -count 3
func BenchmarkMambaOutORT(b *testing.B) {
	m := fixturetest.RandomMambaOut(b, mambaout.Variants[0].Config(1000), rand.New(rand.NewPCG(3, 4)))
	x := fixturetest.RandomImage(rand.New(rand.NewPCG(1, 2)), 3*224*224)
	for _, layout := range graph.MambaOutLayouts {
		mp, err := graph.BuildMambaOut(m, graph.MambaOutOptions{Layout: layout})
		if err != nil {
			b.Fatal(err)
		}
		p := writeModel(b, mp, layout+".onnx")
		for _, threads := range []int{1, 2} {
			b.Run(fmt.Sprintf("%s/threads=%d", layout, threads), func(b *testing.B) {
				benchSessionRun(b, p, runtime.Options{NoPlugin: true, IntraOpThreads: threads, InterOpThreads: 1}, x)
			})
		}
	}
}
