package bench

import (
	"os"
	"testing"

	"github.com/vimconvert/vimconvert/convert/arch"
	"github.com/vimconvert/vimconvert/graph"
	"github.com/vimconvert/vimconvert/graph/graphtest"
	"github.com/vimconvert/vimconvert/graph/onnxfile"
	"github.com/vimconvert/vimconvert/internal/modeltest"
	"github.com/vimconvert/vimconvert/internal/repo"
)

// TestSourceReadsOnce checks that a model given to bench is read once, by
// ReadSource: with the file gone afterwards, a MambaOut model is still
// prepared for Compare (architecture, parameters) and a Vim model is
// still read back, from what ReadSource kept.
func TestSourceReadsOnce(t *testing.T) {
	mp, moPath := modeltest.MambaOutFile(t, repo.Fixture("mambaout_synthetic", "bare.pth"))
	mo := ReadSource(moPath, "")
	if !mo.MambaOut || mo.Err() != nil {
		t.Fatalf("ReadSource(MambaOut model) = MambaOut %v, err %v; want true, nil", mo.MambaOut, mo.Err())
	}
	if err := os.Remove(moPath); err != nil {
		t.Fatal(err)
	}
	s, err := loadCompareSource(mo, "", t.TempDir(), "m0", []string{moPath})
	if err != nil {
		t.Fatalf("MambaOut model read again after ReadSource: %v", err)
	}
	if s.arch != arch.MambaOut || s.onnx != moPath || s.params != onnxfile.ParamCount(mp) {
		t.Errorf("MambaOut source = arch %q, onnx %q, params %d; want %q, %q, %d", s.arch, s.onnx, s.params, arch.MambaOut, moPath, onnxfile.ParamCount(mp))
	}

	vm := graphtest.Model(graphtest.Spec{Seed: 3})
	vimPath := modeltest.File(t, vm, graph.Options{})
	vim := ReadSource(vimPath, "")
	if vim.MambaOut || vim.Err() != nil {
		t.Fatalf("ReadSource(Vim model) = MambaOut %v, err %v; want false, nil", vim.MambaOut, vim.Err())
	}
	if err := os.Remove(vimPath); err != nil {
		t.Fatal(err)
	}
	got, err := vim.Model("")
	if err != nil {
		t.Fatalf("Vim model read again after ReadSource: %v", err)
	}
	if got.Config.EmbedDim != vm.Config.EmbedDim || len(got.Layers) != len(vm.Layers) {
		t.Errorf("Vim model read back: dim %d, %d layers; want %d, %d", got.Config.EmbedDim, len(got.Layers), vm.Config.EmbedDim, len(vm.Layers))
	}

	missing := ReadSource(vimPath, "")
	if missing.MambaOut || missing.Err() == nil {
		t.Errorf("ReadSource(missing file) = MambaOut %v, err %v; want false and an error", missing.MambaOut, missing.Err())
	}
	if _, err := missing.Model(""); err == nil {
		t.Error("Model of a missing file: no error")
	}
}
