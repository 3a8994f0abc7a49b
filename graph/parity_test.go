package graph_test

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/modeltest"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
)

// TestFullVimTinyParityORT converts the full-depth official Vim-tiny
// fixture (24 blocks) from ../shared/fixtures, which is too large to be
// bundled in fixtures/, and compares logits and features.
func TestFullVimTinyParityORT(t *testing.T) {
	ckpt := repo.SharedFixture("vim_t", "checkpoint.pth")
	if ckpt == "" || testing.Short() {
		t.Skip("../shared/fixtures/vim_t not present (full golden set), or -short")
	}
	g := loadGolden(t, filepath.Dir(ckpt))
	s := ortSession(t, modeltest.File(t, g.model, graph.Options{Features: true}))
	out := runInput(t, s, g.x)
	for _, name := range []string{graph.LogitsName, graph.FeaturesName} {
		checkExpected(t, "Vim-T depth 24", name, out, g.exp)
	}
}

// extraFixturesEnv names the directory of further golden fixture sets
// (scripts/make-vim-fixtures.py: full-depth Vim-S, Vim-B and the stride-8
// models), too large for fixtures/ or ../shared/fixtures.
const extraFixturesEnv = "VIMCONVERT_EXTRA_FIXTURES"

// TestExtraFixtureParityORT runs the full-depth parity of
// TestFullVimTinyParityORT, the standard-op scan lowering and the float16
// export (issue 13's 1e-2 bound) on every fixture directory under
// $VIMCONVERT_EXTRA_FIXTURES.
func TestExtraFixtureParityORT(t *testing.T) {
	root := os.Getenv(extraFixturesEnv)
	if root == "" || testing.Short() {
		t.Skip(extraFixturesEnv + " not set (fixtures of scripts/make-vim-fixtures.py, see fixtures/README.md), or -short")
	}
	dirs, err := filepath.Glob(filepath.Join(root, "*", "checkpoint.pth"))
	if err != nil || len(dirs) == 0 {
		t.Fatalf("%s=%s holds no */checkpoint.pth (%v)", extraFixturesEnv, root, err)
	}
	for _, ckpt := range dirs {
		dir := filepath.Dir(ckpt)
		t.Run(filepath.Base(dir), func(t *testing.T) {
			g := loadGolden(t, dir)
			label := fmt.Sprintf("%s (depth %d, D %d)", filepath.Base(dir), len(g.model.Layers), g.model.Config.EmbedDim)
			s := ortSession(t, modeltest.File(t, g.model, graph.Options{Features: true}))
			out := runInput(t, s, g.x)
			for _, name := range []string{graph.LogitsName, graph.FeaturesName} {
				checkExpected(t, label+" plugin", name, out, g.exp)
			}
			mp, err := graph.Build(g.model, graph.Options{Scan: graph.ScanStandard, Features: true})
			if err != nil {
				t.Fatal(err)
			}
			checkGoldenModel(t, label+" standard scan", mp, "vim_std.onnx", g)
			// float16 within issue 13's 1e-2 (bfloat16 is not: README
			// "16-bit models" gives its figures on these fixtures).
			s16 := ortSession(t, modeltest.File(t, g.model, graph.Options{DType: graph.DTypeFloat16}))
			checkDTypeParity(t, label+" float16", runInput(t, s16, g.x)[graph.LogitsName], g.exp[graph.LogitsName])
		})
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
			g := loadGolden(t, repo.Fixture(fx.dir))
			for _, conv := range []graph.DepthwiseConv{graph.ConvSlice, graph.ConvONNX, graph.ConvPlugin} {
				t.Run(string(conv), func(t *testing.T) {
					s := ortSession(t, modeltest.File(t, g.model, graph.Options{PerLayer: true, Features: true, Tokens: true, DepthwiseConv: conv}))
					out := runInput(t, s, g.x)
					compared := 0
					for _, name := range s.OutputNames() {
						key := name
						if name == graph.TokensName {
							key = "final_hidden_normed"
						}
						e, ok := g.exp[key]
						if !ok {
							if key == "patch_embed_out" {
								continue // not saved for every fixture (fixtures/README.md)
							}
							t.Errorf("output %s has no expected tensor %s", name, key)
							continue
						}
						compared++
						checkParity(t, fx.dir+"/"+string(conv), name, out[name], e.Data, e.Shape)
					}
					// logits, features, tokens, embed_tokens, final_hidden_normed, 2 per
					// layer and patch_embed_out where the fixture has it
					want := 5 + 2*len(g.model.Layers)
					if _, ok := g.exp["patch_embed_out"]; ok {
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
	g := loadGolden(t, repo.Fixture("vim_t_d2"))
	s := ortSession(t, modeltest.File(t, g.model, graph.Options{}))
	x := g.x
	img := x.NumElements() / x.Shape[0]
	nc := g.exp["logits"].Shape[1]
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
				want = append(want, g.exp["logits"].Data[i*nc:(i+1)*nc]...)
			}
			shape := []int64{int64(len(tc.images)), int64(x.Shape[1]), int64(x.Shape[2]), int64(x.Shape[3])}
			out, err := s.Run(map[string]*runtime.Tensor{graph.InputName: {Shape: shape, Data: data}})
			if err != nil {
				t.Fatal(err)
			}
			checkParity(t, fmt.Sprintf("batch %d", len(tc.images)), graph.LogitsName, out[graph.LogitsName], want, []int{len(tc.images), nc})
		})
	}
}

// TestOpsetsRunORT checks that every opset Build accepts also loads and
// gives the same logits in ONNX Runtime.
func TestOpsetsRunORT(t *testing.T) {
	g := loadGolden(t, repo.Fixture("vim_t_d2"))
	for opset := graph.MinOpset; opset <= graph.MaxOpset; opset++ {
		t.Run(fmt.Sprint("opset", opset), func(t *testing.T) {
			s := ortSession(t, modeltest.File(t, g.model, graph.Options{Opset: opset}))
			out := runInput(t, s, g.x)
			checkExpected(t, fmt.Sprint("opset ", opset), graph.LogitsName, out, g.exp)
		})
	}
}
