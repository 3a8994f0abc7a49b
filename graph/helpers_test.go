package graph_test

import (
	"errors"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/onnxpb"
	"github.com/vimconvert/vimconvert/internal/fixturetest"
	"github.com/vimconvert/vimconvert/internal/ortenv"
	"github.com/vimconvert/vimconvert/runtime"
)

// TestMain points runtime at the checkout's ONNX Runtime and plugin (the
// environment variables win).
func TestMain(m *testing.M) {
	ortenv.UseCheckout()
	os.Exit(m.Run())
}

// parityTol is the project's fp32 logits tolerance against the official
// PyTorch outputs (fixtures/README.md).
const parityTol = 1e-4

// ortSession opens path in ONNX Runtime with the vimconvert plugin. It skips
// the test only when the ORT library or the plugin is truly absent.
func ortSession(t *testing.T, path string) *runtime.Session {
	t.Helper()
	plugin := runtime.DefaultPluginPath()
	if _, err := os.Stat(plugin); err != nil {
		t.Skipf("vimconvert plugin not built (%s): run `make plugin`", plugin)
	}
	return openSession(t, path, runtime.Options{PluginPath: plugin})
}

// ortSessionNoPlugin opens path in ONNX Runtime without the vimconvert
// plugin; it skips only when the ORT library is absent.
func ortSessionNoPlugin(t *testing.T, path string) *runtime.Session {
	t.Helper()
	return openSession(t, path, runtime.Options{NoPlugin: true})
}

func openSession(t *testing.T, path string, opts runtime.Options) *runtime.Session {
	t.Helper()
	s, err := runtime.NewSession(path, opts)
	if errors.Is(err, runtime.ErrLibraryMissing) {
		t.Skipf("ONNX Runtime library absent: %v", err)
	}
	if err != nil {
		t.Fatalf("NewSession(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Destroy() })
	return s
}

// writeModel writes mp as name in a fresh temp dir and returns the path.
func writeModel(tb testing.TB, mp *onnxpb.ModelProto, name string) string {
	tb.Helper()
	p := filepath.Join(tb.TempDir(), name)
	if err := graph.WriteFile(mp, p); err != nil {
		tb.Fatal(err)
	}
	return p
}

// golden is one fixture directory: the checkpoint (loaded with default
// options), the input batch x [B, 3, H, W] of input.pth and the official
// outputs of expected.pth.
type golden struct {
	model *convert.Model
	x     *convert.Tensor
	exp   map[string]*convert.Tensor
}

// loadGolden reads checkpoint.pth, input.pth and expected.pth of dir.
func loadGolden(t *testing.T, dir string) golden {
	t.Helper()
	return golden{model: fixturetest.Vim(t, dir), x: fixturetest.Input(t, dir), exp: fixturetest.Expected(t, dir)}
}

// runInput runs s on x as the model input and returns every output.
func runInput(t *testing.T, s *runtime.Session, x *convert.Tensor) map[string]*runtime.Tensor {
	t.Helper()
	out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: toI64(x.Shape), Data: x.Data}})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// maxAbsDiff is max |got - want| (+Inf on NaN); a shape mismatch fails the
// test.
func maxAbsDiff(t *testing.T, name string, got *runtime.Tensor, want []float32, wantShape []int) float64 {
	t.Helper()
	if len(got.Shape) != len(wantShape) {
		t.Fatalf("%s: shape %v, want %v", name, got.Shape, wantShape)
	}
	for i := range wantShape {
		if got.Shape[i] != int64(wantShape[i]) {
			t.Fatalf("%s: shape %v, want %v", name, got.Shape, wantShape)
		}
	}
	var d float64
	for i, w := range want {
		e := math.Abs(float64(got.Data[i]) - float64(w))
		if math.IsNaN(e) {
			return math.Inf(1)
		}
		d = max(d, e)
	}
	return d
}

// checkParity logs max |got - want| of output name (label says which run)
// and fails the test when it exceeds parityTol.
func checkParity(t *testing.T, label, name string, got *runtime.Tensor, want []float32, wantShape []int) {
	t.Helper()
	d := maxAbsDiff(t, name, got, want, wantShape)
	t.Logf("%s: %-24s max|d| = %.3g", label, name, d)
	if d > parityTol {
		t.Errorf("%s: %s: max|d| = %.3g > %g", label, name, d, parityTol)
	}
}

// checkExpected compares output name with the official tensor of the same
// name (checkParity).
func checkExpected(t *testing.T, label, name string, out map[string]*runtime.Tensor, exp map[string]*convert.Tensor) {
	t.Helper()
	e, ok := exp[name]
	if !ok {
		t.Fatalf("%s: no expected tensor %s", label, name)
	}
	got, ok := out[name]
	if !ok {
		t.Fatalf("%s: model has no output %s", label, name)
	}
	checkParity(t, label, name, got, e.Data, e.Shape)
}
