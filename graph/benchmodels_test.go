package graph_test

import (
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/convert/mambaout"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/fixturetest"
)

// benchModelsEnv names the directory TestWriteBenchModels writes into.
const benchModelsEnv = "VIMCONVERT_BENCH_MODELS"

// TestWriteBenchModels writes the random-weight models of BENCHMARKS.md's
// Vim against MambaOut comparison (the sizes that have no fixture
// checkpoint) into $VIMCONVERT_BENCH_MODELS, and is skipped without it:
//
//	VIMCONVERT_BENCH_MODELS=/tmp/bm go test ./graph -run TestWriteBenchModels -count=1
//
// vim_t.onnx and vim_s.onnx are the official registry's Vim-T and Vim-S
// (depth 24, d_state 16, patch and stride 16, middle cls, 224) with
// graphtest's seeded weights; mambaout_femto.onnx and mambaout_tiny.onnx
// are the registered MambaOut variants with seeded N(0, 0.05²) weights.
// Each file's parameter count is checked against the published size of
// its model (Vim paper: 7M and 26M; MambaOut README: 7.3M and 26.5M).
func TestWriteBenchModels(t *testing.T) {
	dir := os.Getenv(benchModelsEnv)
	if dir == "" {
		t.Skipf("set %s=DIR to write the benchmark models", benchModelsEnv)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	write := func(name string, published, tol float64, build func() (*onnxpb.ModelProto, error)) {
		mp, err := build()
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if n := float64(onnxfile.ParamCount(mp)); math.Abs(n-published) > tol*published {
			t.Errorf("%s: %.0f parameters, want %.1fM within %.0f %%", name, n, published/1e6, 100*tol)
		}
		p := filepath.Join(dir, name+".onnx")
		if err := graph.WriteFile(mp, p); err != nil {
			t.Fatal(err)
		}
		t.Logf("wrote %s", p)
	}
	for i, v := range []struct {
		name      string
		dim       int
		published float64
	}{{"vim_t", 192, 7e6}, {"vim_s", 384, 26e6}} {
		write(v.name, v.published, 0.05, func() (*onnxpb.ModelProto, error) {
			m := graphtest.Model(graphtest.Spec{EmbedDim: v.dim, Depth: 24, DState: 16, PatchSize: 16, ImgSize: 224,
				ClsToken: convert.ClsMiddle, NumClasses: 1000, Seed: uint64(i + 1)})
			return graph.Build(m, graph.Options{})
		})
	}
	for i, v := range []struct {
		variant   int
		published float64
	}{{0, 7.3e6}, {2, 26.5e6}} {
		vr := mambaout.Variants[v.variant]
		write(vr.Name, v.published, 0.01, func() (*onnxpb.ModelProto, error) {
			m := fixturetest.RandomMambaOut(t, vr.Config(1000), rand.New(rand.NewPCG(uint64(i+1), 17)))
			return graph.BuildMambaOut(m, graph.MambaOutOptions{})
		})
	}
}
