package graph_test

import (
	"fmt"
	"math/rand/v2"
	"syscall"
	"testing"

	"github.com/vimconvert/vimconvert/internal/modeltest"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/internal/fixturetest"
	"github.com/vimconvert/vimconvert/runtime"
)

// BenchmarkDynamicSizeORT times batch-1 Vim-tiny shapes (depth 24, random
// weights) in ONNX Runtime + plugin with one intra-op thread, the static
// export of each size beside the one dynamic-size model run at that size:
// the price of reading the grid from the input and resampling pos_embed in
// the graph (once per run). Besides ns/op it reports the process CPU time
// per run (cpu-ms/op), which other load on the machine disturbs less:
//
//	go test ./graph -run '^$' -bench DynamicSizeORT -benchtime 20x -count 3
func BenchmarkDynamicSizeORT(b *testing.B) {
	m := graphtest.Model(vimTinySpec)
	dyn := benchSession(b, m, graph.Options{DynamicSize: true})
	for _, size := range []int{224, 448} {
		x := fixturetest.RandomImage(rand.New(rand.NewPCG(1, 2)), 3*size*size)
		in := map[string]*runtime.Tensor{graph.InputName: {Shape: []int64{1, 3, int64(size), int64(size)}, Data: x}}
		static := benchSession(b, resizedB(b, m, size), graph.Options{})
		for _, v := range []struct {
			name string
			s    *runtime.Session
		}{{"static", static}, {"dynamic", dyn}} {
			b.Run(fmt.Sprintf("%d/%s", size, v.name), func(b *testing.B) {
				if _, err := v.s.Run(in); err != nil { // warm-up
					b.Fatal(err)
				}
				b.ResetTimer()
				c0 := cpuMS()
				for i := 0; i < b.N; i++ {
					if _, err := v.s.Run(in); err != nil {
						b.Fatal(err)
					}
				}
				b.ReportMetric((cpuMS()-c0)/float64(b.N), "cpu-ms/op")
			})
		}
	}
}

func benchSession(b *testing.B, m *convert.Model, opts graph.Options) *runtime.Session {
	b.Helper()
	p := modeltest.File(b, m, opts)
	s, err := runtime.NewSession(p, runtime.Options{PluginPath: runtime.DefaultPluginPath(), IntraOpThreads: 1, InterOpThreads: 1})
	if err != nil {
		b.Skipf("session: %v", err)
	}
	b.Cleanup(func() { s.Destroy() })
	return s
}

// resizedB is resized for a benchmark: a copy of m adapted to size×size.
func resizedB(b *testing.B, m *convert.Model, size int) *convert.Model {
	b.Helper()
	c := *m
	if err := convert.ResizePosEmbed(&c, size); err != nil {
		b.Fatal(err)
	}
	return &c
}

// cpuMS is this process's user + system CPU time in ms (every thread).
func cpuMS() float64 {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e6
}
