package graph_test

import (
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
)

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
	s, err := runtime.NewSession(path, runtime.Options{PluginPath: plugin})
	if errors.Is(err, runtime.ErrLibraryMissing) {
		t.Skipf("ONNX Runtime library absent: %v", err)
	}
	if err != nil {
		t.Fatalf("NewSession(%s): %v", path, err)
	}
	t.Cleanup(func() { s.Destroy() })
	return s
}

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

// TestFullVimTinyParityORT converts the full-depth official Vim-tiny
// fixture (24 blocks) from ../shared/fixtures, which is too large to be
// bundled in fixtures/, and compares logits and features.
func TestFullVimTinyParityORT(t *testing.T) {
	ckpt := repo.SharedFixture("vim_t", "checkpoint.pth")
	if ckpt == "" || testing.Short() {
		t.Skip("../shared/fixtures/vim_t not present (full golden set), or -short")
	}
	dir := filepath.Dir(ckpt)
	m, _, err := convert.Load(ckpt, convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := convert.ReadTensorFile(filepath.Join(dir, "input.pth"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := convert.ReadTensorFile(filepath.Join(dir, "expected.pth"))
	if err != nil {
		t.Fatal(err)
	}
	mp, err := graph.Build(m, graph.Options{Features: true})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := graph.WriteFile(mp, p); err != nil {
		t.Fatal(err)
	}
	s := ortSession(t, p)
	x := in["x"]
	out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: toI64(x.Shape), Data: x.Data}})
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{graph.LogitsName, graph.FeaturesName} {
		e := exp[name]
		d := maxAbsDiff(t, name, out[name], e.Data, e.Shape)
		t.Logf("Vim-T depth 24: %s max|d| = %.3g", name, d)
		if d > parityTol {
			t.Errorf("%s: max|d| = %.3g > %g", name, d, parityTol)
		}
	}
}

// TestFixtureParityORT converts each bundled fixture checkpoint, runs it in
// ONNX Runtime with the plugin and compares logits, features and every
// per-layer intermediate with the official PyTorch outputs.
func TestFixtureParityORT(t *testing.T) {
	fixtures := []struct {
		reason string
		dir    string
	}{
		{"Vim-T config at depth 2, training checkpoint, batch 2", "vim_t_d2"},
		{"stride-8 layout: 730 tokens, cls at 364, batch 1", "vim_t_stride8_d2"},
	}
	for _, fx := range fixtures {
		t.Run(fx.dir, func(t *testing.T) {
			dir := repo.Fixture(fx.dir)
			m, _, err := convert.Load(filepath.Join(dir, "checkpoint.pth"), convert.Options{})
			if err != nil {
				t.Fatal(err)
			}
			in, err := convert.ReadTensorFile(filepath.Join(dir, "input.pth"))
			if err != nil {
				t.Fatal(err)
			}
			exp, err := convert.ReadTensorFile(filepath.Join(dir, "expected.pth"))
			if err != nil {
				t.Fatal(err)
			}
			for _, conv := range []string{graph.ConvSlice, graph.ConvONNX} {
				t.Run(conv, func(t *testing.T) {
					mp, err := graph.Build(m, graph.Options{PerLayer: true, Features: true, Tokens: true, DepthwiseConv: conv})
					if err != nil {
						t.Fatal(err)
					}
					p := filepath.Join(t.TempDir(), "model.onnx")
					if err := graph.WriteFile(mp, p); err != nil {
						t.Fatal(err)
					}
					s := ortSession(t, p)
					x := in["x"]
					out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: toI64(x.Shape), Data: x.Data}})
					if err != nil {
						t.Fatal(err)
					}
					compared := 0
					for _, name := range s.OutputNames() {
						key := name
						if name == graph.TokensName {
							key = "final_hidden_normed"
						}
						e, ok := exp[key]
						if !ok {
							if key == "patch_embed_out" {
								continue // not saved for every fixture (fixtures/README.md)
							}
							t.Errorf("output %s has no expected tensor %s", name, key)
							continue
						}
						compared++
						d := maxAbsDiff(t, name, out[name], e.Data, e.Shape)
						t.Logf("%-24s max|d| = %.3g", name, d)
						if d > parityTol {
							t.Errorf("%s: max|d| = %.3g > %g", name, d, parityTol)
						}
					}
					// logits, features, tokens, embed_tokens, final_hidden_normed, 2 per
					// layer and patch_embed_out where the fixture has it
					want := 5 + 2*len(m.Layers)
					if _, ok := exp["patch_embed_out"]; ok {
						want++
					}
					if compared != want {
						t.Errorf("compared %d outputs, want %d", compared, want)
					}
				})
			}
		})
	}
}

// TestDynamicBatchORT runs batch 1 and batch 3 through one session: each
// row must match the official logits of the same image.
func TestDynamicBatchORT(t *testing.T) {
	dir := repo.Fixture("vim_t_d2")
	m, _, err := convert.Load(filepath.Join(dir, "checkpoint.pth"), convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, err := convert.ReadTensorFile(filepath.Join(dir, "input.pth"))
	if err != nil {
		t.Fatal(err)
	}
	exp, err := convert.ReadTensorFile(filepath.Join(dir, "expected.pth"))
	if err != nil {
		t.Fatal(err)
	}
	mp, err := graph.Build(m, graph.Options{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "model.onnx")
	if err := graph.WriteFile(mp, p); err != nil {
		t.Fatal(err)
	}
	s := ortSession(t, p)
	x := in["x"]
	img := x.NumElements() / x.Shape[0]
	nc := exp["logits"].Shape[1]
	tests := []struct {
		reason string
		images []int // indices into the fixture batch
	}{
		{"batch 1 (second image alone)", []int{1}},
		{"batch 3 (images 1, 0, 1)", []int{1, 0, 1}},
	}
	for _, tc := range tests {
		t.Run(tc.reason, func(t *testing.T) {
			var data, want []float32
			for _, i := range tc.images {
				data = append(data, x.Data[i*img:(i+1)*img]...)
				want = append(want, exp["logits"].Data[i*nc:(i+1)*nc]...)
			}
			shape := []int64{int64(len(tc.images)), int64(x.Shape[1]), int64(x.Shape[2]), int64(x.Shape[3])}
			out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: shape, Data: data}})
			if err != nil {
				t.Fatal(err)
			}
			d := maxAbsDiff(t, "logits", out[graph.LogitsName], want, []int{len(tc.images), nc})
			t.Logf("batch %d: logits max|d| = %.3g", len(tc.images), d)
			if d > parityTol {
				t.Errorf("batch %d: logits max|d| = %.3g > %g", len(tc.images), d, parityTol)
			}
		})
	}
}

// TestOpsetsRunORT checks that every opset Build accepts also loads and
// gives the same logits in ONNX Runtime.
func TestOpsetsRunORT(t *testing.T) {
	dir := repo.Fixture("vim_t_d2")
	m, _, err := convert.Load(filepath.Join(dir, "checkpoint.pth"), convert.Options{})
	if err != nil {
		t.Fatal(err)
	}
	in, _ := convert.ReadTensorFile(filepath.Join(dir, "input.pth"))
	exp, _ := convert.ReadTensorFile(filepath.Join(dir, "expected.pth"))
	if in == nil || exp == nil {
		t.Fatal("cannot read the vim_t_d2 input/expected tensors")
	}
	x := in["x"]
	for opset := graph.MinOpset; opset <= graph.MaxOpset; opset++ {
		t.Run(fmt.Sprint("opset", opset), func(t *testing.T) {
			mp, err := graph.Build(m, graph.Options{Opset: opset})
			if err != nil {
				t.Fatal(err)
			}
			p := filepath.Join(t.TempDir(), "model.onnx")
			if err := graph.WriteFile(mp, p); err != nil {
				t.Fatal(err)
			}
			s := ortSession(t, p)
			out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: toI64(x.Shape), Data: x.Data}})
			if err != nil {
				t.Fatal(err)
			}
			e := exp["logits"]
			if d := maxAbsDiff(t, "logits", out[graph.LogitsName], e.Data, e.Shape); d > parityTol {
				t.Errorf("opset %d: logits max|d| = %.3g > %g", opset, d, parityTol)
			}
		})
	}
}
