package e2e

import (
	"maps"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/runtime"
	"github.com/vimconvert/vimconvert/verify"
)

// TestFixtureParity is the "done when": for every fixture, convert
// the official checkpoint, check the model with onnx.checker, run it in ORT
// with the plugin, and require max |Δ| <= 1e-4 and identical top-1 against
// the official logits (fp32 and fp64) and against the pure-Go reference.
func TestFixtureParity(t *testing.T) {
	requireRuntime(t)
	for _, fx := range fixtures() {
		t.Run(fx.name, func(t *testing.T) {
			if fx.dir == "" {
				t.Skipf("fixture %s absent: it lives in ../shared/fixtures (full-depth golden set), not in the bundled fixtures/", fx.name)
			}
			start := time.Now()
			m, path := exportModel(t, filepath.Join(fx.dir, "checkpoint.pth"), convert.Options{}, graph.Options{Features: true})
			t.Logf("load + build + write: %v", time.Since(start).Round(time.Millisecond))
			checkONNX(t, path)

			x := loadTensors(t, filepath.Join(fx.dir, "input.pth"))["x"]
			exp := loadTensors(t, filepath.Join(fx.dir, "expected.pth"))
			if x == nil || exp["logits"] == nil || exp["features"] == nil {
				t.Fatalf("fixture %s lacks x, logits or features", fx.name)
			}

			start = time.Now()
			sess, err := runtime.NewSession(path, runtime.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer sess.Destroy()
			created := time.Since(start)
			in := map[string]*runtime.Tensor{graph.InputName: {Shape: int64s(x.Shape), Data: x.Data}}
			if _, err := sess.Run(in); err != nil { // warm-up
				t.Fatal(err)
			}
			start = time.Now()
			got, err := sess.Run(in)
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("ORT %s + plugin: session %v, run %v (batch %d)", runtime.Version(), created.Round(time.Millisecond),
				time.Since(start).Round(100*time.Microsecond), x.Shape[0])

			logits, feats := got[graph.LogitsName], got[graph.FeaturesName]
			if logits == nil || feats == nil {
				t.Fatalf("outputs %v lack logits or features", sess.OutputNames())
			}
			r := expectParity(t, "ORT logits vs official fp32", exp["logits"].Data, logits.Data, exp["logits"].Shape, true)
			t.Logf("ORT vs official logits: max |Δ| %.3g, max rel %.3g, top-1 %d/%d", r.MaxAbs, r.MaxRel, r.Top1Agree, r.Top1Rows)
			if f64 := exp["logits_fp64"]; f64 != nil && f64.F64 != nil {
				r := expectParity(t, "ORT logits vs official fp64", f64.F64, logits.Data, f64.Shape, true)
				t.Logf("ORT vs official fp64 logits: max |Δ| %.3g", r.MaxAbs)
			}
			r = expectParity(t, "ORT features vs official", exp["features"].Data, feats.Data, exp["features"].Shape, false)
			t.Logf("ORT vs official features: max |Δ| %.3g", r.MaxAbs)

			start = time.Now()
			ref, err := verify.Forward(m, x.Data, [4]int(x.Shape), verify.Options{})
			if err != nil {
				t.Fatal(err)
			}
			t.Logf("Go reference (float32): %v", time.Since(start).Round(time.Millisecond))
			r = expectParity(t, "ORT logits vs Go reference", ref.Logits.Data, logits.Data, ref.Logits.Shape, true)
			t.Logf("ORT vs Go reference logits: max |Δ| %.3g", r.MaxAbs)
			r = expectParity(t, "Go reference logits vs official", exp["logits"].Data, ref.Logits.Data, exp["logits"].Shape, true)
			t.Logf("Go reference vs official logits: max |Δ| %.3g", r.MaxAbs)
		})
	}
}

// TestEMAWeights converts the model_ema weight set of the training
// checkpoint and compares with the official logits of those weights, which
// differ from the main weights' logits by more than 1 (so picking the wrong
// set cannot pass).
func TestEMAWeights(t *testing.T) {
	requireRuntime(t)
	fx := fixtures()[0]
	exp := loadTensors(t, filepath.Join(fx.dir, "expected.pth"))
	x := loadTensors(t, filepath.Join(fx.dir, "input.pth"))["x"]
	want := exp["logits_model_ema"]
	if want == nil {
		t.Fatal("vim_t_d2 expected.pth lacks logits_model_ema")
	}
	if r := verify.Compare(exp["logits"].Data, want.Data, want.Shape); r.MaxAbs < 0.5 {
		t.Fatalf("model and model_ema logits differ by only %g: the test could not tell the sets apart", r.MaxAbs)
	}
	_, path := exportModel(t, filepath.Join(fx.dir, "checkpoint.pth"), convert.Options{Weights: convert.WeightsEMA}, graph.Options{})
	got := runOnce(t, path, x)
	r := expectParity(t, "ORT model_ema logits vs official", want.Data, got[graph.LogitsName].Data, want.Shape, true)
	t.Logf("model_ema: max |Δ| %.3g", r.MaxAbs)
}

// TestPerLayerIntermediates runs the per-layer export of each small fixture
// and compares every intermediate with the official one, so a mismatch is
// located in the block where it starts.
func TestPerLayerIntermediates(t *testing.T) {
	requireRuntime(t)
	for _, fx := range fixtures()[:2] {
		t.Run(fx.name, func(t *testing.T) {
			m, path := exportModel(t, filepath.Join(fx.dir, "checkpoint.pth"), convert.Options{}, graph.Options{PerLayer: true})
			x := loadTensors(t, filepath.Join(fx.dir, "input.pth"))["x"]
			exp := loadTensors(t, filepath.Join(fx.dir, "expected.pth"))
			got := runOnce(t, path, x)
			keys := []string{verify.KeyPatchEmbed, verify.KeyEmbedTokens}
			for i := range m.Layers {
				keys = append(keys, verify.KeyResidual(i), verify.KeyHidden(i))
			}
			keys = append(keys, verify.KeyFinalNormed)
			compared := 0
			for _, k := range keys {
				want, ok := exp[k]
				if !ok {
					continue // stride-8 fixture has no patch_embed_out
				}
				g, ok := got[k]
				if !ok {
					t.Errorf("ONNX per-layer model lacks output %s (has %v)", k, slices.Sorted(maps.Keys(got)))
					continue
				}
				r := verify.Compare(want.Data, g.Data, want.Shape)
				if len(g.Shape) != len(want.Shape) || !r.Pass(parityTol) {
					t.Errorf("%s: shape %v vs official %v, max |Δ| %.3g (first divergence?)\n%s", k, g.Shape, want.Shape, r.MaxAbs, r)
				}
				compared++
			}
			if want := 2*len(m.Layers) + 2; compared < want {
				t.Errorf("compared %d intermediates, want at least %d", compared, want)
			}
		})
	}
}

// runOnce runs the model at path (with the plugin) on the input batch x and
// returns its outputs by name.
func runOnce(t *testing.T, path string, x *convert.Tensor) map[string]*runtime.Tensor {
	t.Helper()
	sess, err := runtime.NewSession(path, runtime.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Destroy()
	got, err := sess.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: int64s(x.Shape), Data: x.Data}})
	if err != nil {
		t.Fatal(err)
	}
	return got
}
