package graph_test

import (
	"os"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/convert"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/internal/modeltest"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
)

// dtypeParityTol is the bound for a 16-bit model's logits against
// the official float32 logits (not the fp32 parityTol: a 16-bit model
// rounds every projection to 11 or 8 significant bits).
const dtypeParityTol = 1e-2

// checkDTypeParity compares 16-bit logits with the official fp32 ones:
// max |Δ| ≤ dtypeParityTol, and the same top-1 for every image whose
// official top-1 margin (best minus second best) exceeds dtypeParityTol.
func checkDTypeParity(t *testing.T, label string, got *runtime.Tensor, want *convert.Tensor) {
	t.Helper()
	d := maxAbsDiff(t, "logits", got, want.Data, want.Shape)
	t.Logf("%s: logits max|d| = %.3g (bound %g)", label, d, dtypeParityTol)
	if d > dtypeParityTol {
		t.Errorf("%s: logits max|d| = %.3g > %g", label, d, dtypeParityTol)
	}
	nc := want.Shape[1]
	for i := range want.Shape[0] {
		w := want.Data[i*nc : (i+1)*nc]
		g := got.Data[i*nc : (i+1)*nc]
		best, second := top2(w)
		if w[best]-w[second] <= dtypeParityTol {
			t.Logf("%s: image %d: official top-1 margin %.3g ≤ %g, top-1 not compared", label, i, w[best]-w[second], dtypeParityTol)
			continue
		}
		if gb, _ := top2(g); gb != best {
			t.Errorf("%s: image %d: top-1 %d, official %d (margin %.3g)", label, i, gb, best, w[best]-w[second])
		}
	}
}

// top2 returns the indices of the largest and second largest values.
func top2(v []float32) (best, second int) {
	best, second = 0, -1
	for i := 1; i < len(v); i++ {
		switch {
		case v[i] > v[best]:
			best, second = i, best
		case second < 0 || v[i] > v[second]:
			second = i
		}
	}
	return best, second
}

// TestDTypeParityORT builds 16-bit models of the bundled depth-2 fixture
// and of the full-depth Vim-T (when ../shared/fixtures has it) and compares
// their logits with the official float32 logits.
func TestDTypeParityORT(t *testing.T) {
	fixtures := []struct {
		reason string
		dir    string
		dtypes []graph.DType
	}{
		{"Vim-T config at depth 2, batch 2", repo.Fixture("vim_t_d2"), []graph.DType{graph.DTypeFloat16, graph.DTypeBFloat16}},
		// bfloat16 at full depth misses the 1e-2 bound (0.0133 measured,
		// top-1 equal): not claimed, README "16-bit models" says so. The
		// official AMP bfloat16 path itself is 0.0189 from these logits
		// (verify.TestAMPEmulation), so no faithful bfloat16 export meets it.
		{"official Vim-T, 24 blocks", sharedDir("vim_t"), []graph.DType{graph.DTypeFloat16}},
	}
	for _, fx := range fixtures {
		for _, dt := range fx.dtypes {
			t.Run(fx.reason+"/"+string(dt), func(t *testing.T) {
				if fx.dir == "" {
					t.Skip("../shared/fixtures/vim_t not present (full golden set)")
				}
				if testing.Short() && fx.dir != repo.Fixture("vim_t_d2") {
					t.Skip("-short")
				}
				g := loadGolden(t, fx.dir)
				path := modeltest.File(t, g.model, graph.Options{DType: dt})
				s := ortSession(t, path)
				out := runInput(t, s, g.x)
				checkDTypeParity(t, string(dt), out[graph.LogitsName], g.exp[graph.LogitsName])
			})
		}
	}
}

// sharedDir is the directory of a ../shared/fixtures set, "" when absent.
func sharedDir(name string) string {
	ckpt := repo.SharedFixture(name, "checkpoint.pth")
	if ckpt == "" {
		return ""
	}
	if _, err := os.Stat(ckpt); err != nil {
		return ""
	}
	return ckpt[:len(ckpt)-len("/checkpoint.pth")]
}

// TestReadModelRefuses16Bit: a 16-bit model's weights are rounded, so
// ReadModel refuses it by its metadata with a message naming the dtype
// instead of listing every 16-bit initializer as unreadable.
func TestReadModelRefuses16Bit(t *testing.T) {
	g := loadGolden(t, repo.Fixture("vim_t_d2"))
	for _, dt := range []graph.DType{graph.DTypeFloat16, graph.DTypeBFloat16} {
		path := modeltest.File(t, g.model, graph.Options{DType: dt})
		_, err := graph.ReadModel(path)
		if err == nil || !strings.Contains(err.Error(), "is a "+string(dt)+" model") {
			t.Errorf("%s: ReadModel error %v, want one naming the dtype", dt, err)
		}
	}
	if _, err := graph.ReadModel(modeltest.File(t, g.model, graph.Options{})); err != nil {
		t.Errorf("float32 model: %v", err)
	}
}
