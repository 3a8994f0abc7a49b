package e2e

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/internal/modeltest"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime"
)

// BenchmarkORT times session creation and one forward pass of exported
// fixture models in ORT with the plugin (CPU; ORT's default threads and one
// intra-op thread):
//
//	go test -run='^$' -bench=ORT -benchtime=20x ./e2e
func BenchmarkORT(b *testing.B) {
	lib := runtime.DefaultLibraryPath()
	if err := runtime.Init(lib); err != nil {
		b.Skipf("ONNX Runtime unavailable: %v", err)
	}
	for _, fx := range fixtures() {
		if fx.dir == "" {
			continue
		}
		m, _, err := convert.Load(filepath.Join(fx.dir, "checkpoint.pth"), convert.Options{})
		if err != nil {
			b.Fatal(err)
		}
		path := modeltest.File(b, m, graph.Options{})
		b.Run(fx.name+"/session", func(b *testing.B) {
			for b.Loop() {
				s, err := runtime.NewSession(path, runtime.Options{})
				if err != nil {
					b.Fatal(err)
				}
				s.Destroy()
			}
		})
		s, err := runtime.NewSession(path, runtime.Options{})
		if err != nil {
			b.Fatal(err)
		}
		s1, err := runtime.NewSession(path, runtime.Options{IntraOpThreads: 1})
		if err != nil {
			b.Fatal(err)
		}
		c := m.Config
		for _, batch := range []int{1, 2} {
			x := make([]float32, batch*3*c.ImgSize*c.ImgSize)
			for i := range x {
				x[i] = float32(i%17)/8 - 1
			}
			in := map[string]*runtime.Tensor{graph.InputName: {Shape: []int64{int64(batch), 3, int64(c.ImgSize), int64(c.ImgSize)}, Data: x}}
			if _, err := s.Run(in); err != nil { // warm-up
				b.Fatal(err)
			}
			b.Run(fmt.Sprintf("%s/run_b%d", fx.name, batch), func(b *testing.B) {
				for b.Loop() {
					if _, err := s.Run(in); err != nil {
						b.Fatal(err)
					}
				}
			})
			b.Run(fmt.Sprintf("%s/run_b%d_1thread", fx.name, batch), func(b *testing.B) {
				for b.Loop() {
					if _, err := s1.Run(in); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
		s.Destroy()
		s1.Destroy()
	}
}
