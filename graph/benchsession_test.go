package graph_test

import (
	"testing"
	"time"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime"
)

// benchSessionRun times Run of the model at path on one 224×224 image x
// (x [1, 3, 224, 224]) after one warm-up run, and reports the session
// creation time as the metric session-ms. It skips b when ORT cannot
// create the session.
func benchSessionRun(b *testing.B, path string, opts runtime.Options, x []float32) {
	b.Helper()
	t0 := time.Now()
	s, err := runtime.NewSession(path, opts)
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
}
