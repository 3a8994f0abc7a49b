package main

import (
	"errors"
	"math/rand/v2"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vimconvert/vimconvert/internal/npy"
	"github.com/vimconvert/vimconvert/internal/repo"
	"github.com/vimconvert/vimconvert/runtime"
)

// TestDynamicSizeCLI converts with --dynamic-size and official out
// indices, then predicts and verifies (logits and feature maps) at a
// non-square size, and checks
// that sizes the stride does not fit are refused before ONNX Runtime with
// the nearest valid sizes, and that bad flag values are usage errors.
func TestDynamicSizeCLI(t *testing.T) {
	if err := runtime.Init(""); errors.Is(err, runtime.ErrLibraryMissing) {
		t.Skipf("ONNX Runtime library absent: %v", err)
	}
	dir := t.TempDir()
	ckpt := repo.Fixture("vim_t_d2", "checkpoint.pth")
	model := filepath.Join(dir, "dyn.onnx")
	if code, out, errOut := runCLI(t, "convert", ckpt, "-o", model, "--dynamic-size", "--out-indices", "official", "--feature-mode", "add"); code != 0 {
		t.Fatalf("convert: %d %s %s", code, out, errOut)
	} else if !strings.Contains(out, "pixel_values [batch, 3, height, width]") || !strings.Contains(out, "feature_map.1 [batch, 192, grid_rows, grid_cols]") {
		t.Errorf("convert summary lacks the dynamic input or feature maps:\n%s", out)
	}
	write := func(name string, h, w int) string {
		r := rand.New(rand.NewPCG(uint64(h), uint64(w)))
		x := make([]float32, 3*h*w)
		for i := range x {
			x[i] = float32(r.NormFloat64())
		}
		p := filepath.Join(dir, name)
		if err := npy.WriteFileFloat32(p, []int{1, 3, h, w}, x); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good, bad := write("x_192x320.npy", 192, 320), write("x_230x224.npy", 230, 224)
	if code, out, errOut := runCLI(t, "predict", "--model", model, "--input", good, "--output", filepath.Join(dir, "y.npy")); code != 0 || !strings.Contains(out, "logits [1 1000]") {
		t.Errorf("predict 192x320: %d %s %s", code, out, errOut)
	}
	if code, out, errOut := runCLI(t, "verify", ckpt, model, "--input", good); code != 0 || !strings.Contains(out, "PASS") || !strings.Contains(out, "resampled to that size") || !strings.Contains(out, "feature_map.1 (reference = expected") {
		t.Errorf("verify 192x320: %d %s %s", code, out, errOut)
	}
	const nearest = "height 230 does not fit patch 16 and stride 16: (230 - 16) is not a multiple of 16 (try 224 or 240)"
	for _, args := range [][]string{
		{"predict", "--model", model, "--input", bad, "--output", filepath.Join(dir, "y2.npy")},
		{"verify", ckpt, model, "--input", bad},
	} {
		if code, _, errOut := runCLI(t, args...); code != 1 || !strings.Contains(errOut, nearest) || strings.Contains(errOut, "onnxruntime_src") {
			t.Errorf("%s 230x224: exit %d, stderr %q, want %q", args[0], code, errOut, nearest)
		}
	}
	for _, args := range [][]string{
		{"convert", ckpt, "-o", filepath.Join(dir, "x.onnx"), "--out-indices", "1,a"},
		{"convert", ckpt, "-o", filepath.Join(dir, "x.onnx"), "--feature-mode", "sum", "--out-indices", "0"},
		{"convert", ckpt, "-o", filepath.Join(dir, "x.onnx"), "--img-size", "12x"},
	} {
		if code, _, errOut := runCLI(t, args...); code != 2 {
			t.Errorf("%v: exit %d (%s), want 2", args[4:], code, errOut)
		}
	}
}
